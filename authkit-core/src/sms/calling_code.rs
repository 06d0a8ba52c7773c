//! Country calling codes (ITU-T E.164), for the allow-list of countries
//! SMS may be sent to.
//!
//! Calling codes form a prefix-free code (no assigned code is the start of
//! another), so the code of a number in E.164 form is the one assigned
//! code among its first one, two or three digits. That needs only the list
//! of assigned codes below, not the per-country numbering plans a full
//! phone library carries (`phonenumber`, a port of libphonenumber, compiles
//! megabytes of metadata and regexes for validation authkit does not do).
//! Source: ITU-T E.164 "List of ITU-T Recommendation E.164 assigned country
//! codes" (Operational Bulletin annex, as amended to 2024), including the
//! non-geographic codes (international freephone +800, satellite +870,
//! +881, international networks +882/+883, premium rate +979 …), which are
//! a favourite of SMS pumping and are only ever allowed by naming them.

use std::fmt;
use std::str::FromStr;

use crate::email::Phone;

/// Every assigned country calling code, ascending.
const ASSIGNED: &[u16] = &[
    1, 7, 20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49, 51, 52, 53, 54,
    55, 56, 57, 58, 60, 61, 62, 63, 64, 65, 66, 81, 82, 84, 86, 90, 91, 92, 93, 94, 95, 98, 211,
    212, 213, 216, 218, 220, 221, 222, 223, 224, 225, 226, 227, 228, 229, 230, 231, 232, 233, 234,
    235, 236, 237, 238, 239, 240, 241, 242, 243, 244, 245, 246, 247, 248, 249, 250, 251, 252, 253,
    254, 255, 256, 257, 258, 260, 261, 262, 263, 264, 265, 266, 267, 268, 269, 290, 291, 297, 298,
    299, 350, 351, 352, 353, 354, 355, 356, 357, 358, 359, 370, 371, 372, 373, 374, 375, 376, 377,
    378, 379, 380, 381, 382, 383, 385, 386, 387, 388, 389, 420, 421, 423, 500, 501, 502, 503, 504,
    505, 506, 507, 508, 509, 590, 591, 592, 593, 594, 595, 596, 597, 598, 599, 670, 672, 673, 674,
    675, 676, 677, 678, 679, 680, 681, 682, 683, 685, 686, 687, 688, 689, 690, 691, 692, 800, 808,
    850, 852, 853, 855, 856, 870, 878, 880, 881, 882, 883, 886, 888, 960, 961, 962, 963, 964, 965,
    966, 967, 968, 970, 971, 972, 973, 974, 975, 976, 977, 979, 992, 993, 994, 995, 996, 998,
];

/// An assigned country calling code, such as 1 (North America), 44 (UK)
/// or 881 (global satellite).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallingCode(u16);

impl CallingCode {
    /// The code of `phone`, or `None` when its first digits are no assigned
    /// code (spare or reserved ranges such as +28x or +99x).
    pub fn of(phone: &Phone) -> Option<Self> {
        let digits = phone.as_str().strip_prefix('+')?;
        (1..=3).find_map(|len| {
            let code = digits.get(..len)?.parse::<u16>().ok()?;
            ASSIGNED.binary_search(&code).is_ok().then_some(Self(code))
        })
    }

    /// The code as a number (`44`).
    pub fn get(self) -> u16 {
        self.0
    }
}

impl fmt::Display for CallingCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "+{}", self.0)
    }
}

/// Not an assigned country calling code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an assigned country calling code")]
pub struct UnknownCallingCode(pub String);

impl FromStr for CallingCode {
    type Err = UnknownCallingCode;

    /// `44` or `+44`.
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let trimmed = raw.trim();
        let digits = trimmed.strip_prefix('+').unwrap_or(trimmed);
        digits
            .parse::<u16>()
            .ok()
            .filter(|code| digits.len() <= 3 && ASSIGNED.binary_search(code).is_ok())
            .map(Self)
            .ok_or_else(|| UnknownCallingCode(raw.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code_of(number: &str) -> Option<u16> {
        CallingCode::of(&Phone::parse(number).unwrap()).map(CallingCode::get)
    }

    #[test]
    fn the_table_is_sorted_and_prefix_free() {
        assert!(ASSIGNED.windows(2).all(|w| w[0] < w[1]));
        for &code in ASSIGNED {
            let text = code.to_string();
            for len in 1..text.len() {
                let prefix: u16 = text[..len].parse().unwrap();
                assert!(
                    ASSIGNED.binary_search(&prefix).is_err(),
                    "{prefix} is a prefix of {code}"
                );
            }
        }
    }

    #[test]
    fn numbers_map_to_their_country_code() {
        let cases = [
            ("+14155550123", Some(1)),
            ("+74951234567", Some(7)),
            ("+77012345678", Some(7)),
            ("+442079460000", Some(44)),
            ("+4915123456789", Some(49)),
            ("+33612345678", Some(33)),
            ("+35312345678", Some(353)),
            ("+380441234567", Some(380)),
            ("+8613812345678", Some(86)),
            ("+85212345678", Some(852)),
            ("+88216123456", Some(882)),
            ("+8816123456789", Some(881)),
            ("+97912345678", Some(979)),
            ("+2348012345678", Some(234)),
            ("+2112345678", Some(211)),
            ("+6799123456", Some(679)),
            // Spare and reserved ranges.
            ("+2801234567", None),
            ("+42212345678", None),
            ("+8091234567", None),
            ("+99912345678", None),
            ("+38412345678", None),
        ];
        for (number, expected) in cases {
            assert_eq!(code_of(number), expected, "{number}");
        }
    }

    #[test]
    fn codes_parse_with_or_without_plus() {
        assert_eq!("44".parse::<CallingCode>().unwrap().get(), 44);
        assert_eq!(" +1 ".parse::<CallingCode>().unwrap().get(), 1);
        assert_eq!("+882".parse::<CallingCode>().unwrap().to_string(), "+882");
        for bad in [
            "", "+", "0", "28", "999", "0044", "4a", "+-1", "1234", "65536",
        ] {
            assert!(bad.parse::<CallingCode>().is_err(), "{bad:?}");
        }
    }
}
