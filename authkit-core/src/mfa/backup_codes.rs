//! Backup (recovery) codes: shown once, stored as keyed hashes, single use.

use rand::Rng;
use rand::rngs::OsRng;

/// How many codes a set holds.
pub const BACKUP_CODE_COUNT: usize = 10;

/// Characters of a code: Crockford's base32 in lower case, i.e. digits and
/// letters without `i l o u` (32 symbols, 5 bits each). Typed `i`/`l` read
/// as `1` and `o` as `0`.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// Symbols per code: 10 × 5 = 50 bits.
const SYMBOLS: usize = 10;

/// A fresh set of [`BACKUP_CODE_COUNT`] codes from the OS CSPRNG, each 50
/// bits, shown as `xxxxx-xxxxx`.
pub fn generate_backup_codes() -> Vec<String> {
    (0..BACKUP_CODE_COUNT).map(|_| generate_one()).collect()
}

fn generate_one() -> String {
    let mut code = String::with_capacity(SYMBOLS + 1);
    for i in 0..SYMBOLS {
        if i == SYMBOLS / 2 {
            code.push('-');
        }
        code.push(char::from(ALPHABET[OsRng.gen_range(0..ALPHABET.len())]));
    }
    code
}

/// The canonical form of a typed code (lower case, without spaces and
/// dashes), or `None` when it cannot be a backup code.
pub fn normalize_backup_code(typed: &str) -> Option<String> {
    if typed.len() > 64 {
        return None;
    }
    let code: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| match c.to_ascii_lowercase() {
            'i' | 'l' => '1',
            'o' => '0',
            c => c,
        })
        .collect();
    (code.len() == SYMBOLS && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn a_set_has_ten_distinct_well_formed_codes() {
        let codes = generate_backup_codes();
        assert_eq!(codes.len(), 10);
        assert_eq!(codes.iter().collect::<HashSet<_>>().len(), 10);
        for code in &codes {
            assert_eq!(code.len(), 11);
            assert_eq!(&code[5..6], "-");
            assert_eq!(normalize_backup_code(code).unwrap().len(), 10);
        }
        // 32 symbols = 5 bits each; 10 symbols = 50 bits.
        assert_eq!(ALPHABET.len(), 32);
        assert_eq!(ALPHABET.iter().collect::<HashSet<_>>().len(), 32);
    }

    #[test]
    fn typed_codes_are_normalized_or_refused() {
        assert_eq!(
            normalize_backup_code(" ABCDE-fghjk ").as_deref(),
            Some("abcdefghjk")
        );
        assert_eq!(
            normalize_backup_code("abcde fghjk").as_deref(),
            Some("abcdefghjk")
        );
        assert_eq!(
            normalize_backup_code("OIL23-45678").as_deref(),
            Some("0112345678"),
            "look-alikes read as digits"
        );
        for bad in [
            "",
            "abcde-fghj",
            "abcde-fghjkm",
            "abcde-fghju",
            "abcde-fghjé",
            "123456",
            &"a".repeat(1000),
        ] {
            assert_eq!(normalize_backup_code(bad), None, "{bad}");
        }
    }
}
