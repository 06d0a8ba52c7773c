//! Time-based one-time passwords (RFC 6238) over `totp-rs`: secrets,
//! parameters, codes per time step, and `otpauth://` enrolment URIs.

use std::fmt;
use std::str::FromStr;

use rand::RngCore;
use rand::rngs::OsRng;
use serde::{Deserialize, Serialize};
use totp_rs::{Algorithm, Builder, Totp};
use zeroize::Zeroizing;

use crate::error::{AuthError, AuthResult};
use crate::secret::ct_eq;

/// Bytes of a new TOTP secret: 160 bits, as RFC 4226 recommends.
const SECRET_BYTES: usize = 20;

/// The HMAC a TOTP uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TotpAlgorithm {
    /// HMAC-SHA1: the default, and the only one every authenticator app
    /// supports.
    #[default]
    #[serde(rename = "SHA1")]
    Sha1,
    /// HMAC-SHA256.
    #[serde(rename = "SHA256")]
    Sha256,
    /// HMAC-SHA512.
    #[serde(rename = "SHA512")]
    Sha512,
}

impl TotpAlgorithm {
    /// The name used in `otpauth://` URIs and stored records.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
            Self::Sha512 => "SHA512",
        }
    }

    fn hmac(self) -> Algorithm {
        match self {
            Self::Sha1 => Algorithm::SHA1,
            Self::Sha256 => Algorithm::SHA256,
            Self::Sha512 => Algorithm::SHA512,
        }
    }
}

impl fmt::Display for TotpAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TotpAlgorithm {
    type Err = AuthError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().replace('-', "").as_str() {
            "SHA1" => Ok(Self::Sha1),
            "SHA256" => Ok(Self::Sha256),
            "SHA512" => Ok(Self::Sha512),
            _ => Err(AuthError::internal_msg("unknown TOTP algorithm")),
        }
    }
}

/// How codes are computed: algorithm, digits and step length. Stored with
/// each enrolment, so changing the configuration only affects new ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TotpParams {
    /// HMAC algorithm (default SHA1).
    pub algorithm: TotpAlgorithm,
    /// Code length, 6 to 8 (default 6).
    pub digits: u8,
    /// Step length in seconds, 15 to 300 (default 30).
    pub period: u32,
}

impl Default for TotpParams {
    fn default() -> Self {
        Self {
            algorithm: TotpAlgorithm::Sha1,
            digits: 6,
            period: 30,
        }
    }
}

impl TotpParams {
    /// Whether the digits and period are in range.
    pub fn is_valid(&self) -> bool {
        (6..=8).contains(&self.digits) && (15..=300).contains(&self.period)
    }

    /// The time step containing Unix time `unix_secs` (negative times are
    /// step 0).
    pub fn step_at(&self, unix_secs: i64) -> u64 {
        u64::try_from(unix_secs).unwrap_or(0) / u64::from(self.period.max(1))
    }
}

/// A TOTP shared secret. Zeroed on drop; `Debug` shows nothing.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Zeroizing<Vec<u8>>);

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

impl TotpSecret {
    /// A new 160-bit secret from the OS CSPRNG.
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new(vec![0u8; SECRET_BYTES]);
        OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// A secret from raw bytes (at least 128 bits to be usable).
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// RFC 4648 base32 without padding, as typed into authenticator apps.
    pub fn to_base32(&self) -> String {
        base32::encode(base32::Alphabet::Rfc4648 { padding: false }, &self.0)
    }

    fn totp(&self, params: TotpParams) -> AuthResult<Totp> {
        if !params.is_valid() {
            return Err(AuthError::internal_msg("TOTP parameters out of range"));
        }
        Builder::new()
            .with_algorithm(params.algorithm.hmac())
            .with_digits(params.digits)
            .with_step_duration(u64::from(params.period))
            .with_skew(0)
            .with_secret(self.0.to_vec())
            .build()
            .map_err(|e| AuthError::internal_with("TOTP", e))
    }

    /// The code of time step `step`, which is the HOTP counter of RFC 4226
    /// (codes are HOTP values of the step number).
    ///
    /// # Errors
    /// `Internal` for parameters out of range or a secret under 128 bits.
    pub fn code_at_step(&self, params: TotpParams, step: u64) -> AuthResult<String> {
        let totp = self.totp(params)?;
        let time = step
            .checked_mul(u64::from(params.period))
            .ok_or_else(|| AuthError::internal_msg("TOTP step out of range"))?;
        Ok(totp.generate(time).to_string())
    }

    /// The latest step among T−1, T and T+1 (T = the step of `unix_secs`)
    /// whose code is `code`; `None` when no step in that window matches or
    /// the code is malformed. Spaces in the code are ignored; the
    /// comparison is constant-time.
    ///
    /// # Errors
    /// `Internal` for parameters out of range or a secret under 128 bits.
    pub fn matching_step(
        &self,
        params: TotpParams,
        code: &str,
        unix_secs: i64,
    ) -> AuthResult<Option<u64>> {
        let typed: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        if typed.len() != usize::from(params.digits) || !typed.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(None);
        }
        let now = params.step_at(unix_secs);
        let mut found = None;
        for step in [now.saturating_sub(1), now, now.saturating_add(1)] {
            // Every step is computed, match or not, so the time taken does
            // not tell which one matched.
            let expected = self.code_at_step(params, step)?;
            if ct_eq(expected.as_bytes(), typed.as_bytes()) {
                found = Some(step);
            }
        }
        Ok(found)
    }
}

/// The `otpauth://totp/...` URI that enrols `secret` in an authenticator
/// app: label `issuer:account`, with the issuer repeated as a parameter and
/// the non-default parameters spelled out.
pub fn otpauth_uri(issuer: &str, account: &str, secret: &TotpSecret, params: TotpParams) -> String {
    let issuer = percent_encode(issuer);
    format!(
        "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}&algorithm={algorithm}&digits={digits}&period={period}",
        account = percent_encode(account),
        secret = secret.to_base32(),
        algorithm = params.algorithm,
        digits = params.digits,
        period = params.period,
    )
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_160_random_bits_in_base32() {
        let a = TotpSecret::generate();
        let b = TotpSecret::generate();
        assert_ne!(a, b);
        assert_eq!(a.as_bytes().len(), 20);
        assert_eq!(a.to_base32().len(), 32);
        assert!(
            a.to_base32()
                .chars()
                .all(|c| c.is_ascii_uppercase() || ('2'..='7').contains(&c))
        );
        assert_eq!(format!("{a:?}"), "TotpSecret(<redacted>)");
    }

    #[test]
    fn only_the_window_around_now_matches() {
        let secret = TotpSecret::generate();
        let p = TotpParams::default();
        let now = 1_700_000_015_i64;
        let t = p.step_at(now);
        for (offset, accepted) in [(-2i64, false), (-1, true), (0, true), (1, true), (2, false)] {
            let step = t.checked_add_signed(offset).unwrap();
            let code = secret.code_at_step(p, step).unwrap();
            let found = secret.matching_step(p, &code, now).unwrap();
            if accepted {
                assert_eq!(found, Some(step), "offset {offset}");
            } else {
                // A far step's code only matches by a one-in-a-million
                // coincidence with a step in the window.
                assert_ne!(found, Some(step), "offset {offset}");
            }
        }
    }

    #[test]
    fn malformed_codes_match_nothing() {
        let secret = TotpSecret::generate();
        let p = TotpParams::default();
        let code = secret.code_at_step(p, p.step_at(1_000_000)).unwrap();
        assert_eq!(
            secret
                .matching_step(p, &format!("{} {}", &code[..3], &code[3..]), 1_000_000)
                .unwrap(),
            Some(p.step_at(1_000_000)),
            "spaces are ignored"
        );
        for bad in [
            "",
            "12345",
            "1234567",
            "12a456",
            "+12345",
            "１２３４５６",
            "ééé",
        ] {
            assert_eq!(
                secret.matching_step(p, bad, 1_000_000).unwrap(),
                None,
                "{bad}"
            );
        }
        assert_eq!(
            secret
                .matching_step(p, &"9".repeat(100_000), 1_000_000)
                .unwrap(),
            None
        );
    }

    #[test]
    fn out_of_range_parameters_and_short_secrets_are_errors() {
        let secret = TotpSecret::generate();
        for p in [
            TotpParams {
                digits: 5,
                ..TotpParams::default()
            },
            TotpParams {
                digits: 9,
                ..TotpParams::default()
            },
            TotpParams {
                period: 0,
                ..TotpParams::default()
            },
        ] {
            assert!(secret.code_at_step(p, 1).is_err(), "{p:?}");
        }
        let short = TotpSecret::from_bytes(vec![1; 10]);
        assert!(short.code_at_step(TotpParams::default(), 1).is_err());
        assert!(
            secret
                .code_at_step(TotpParams::default(), u64::MAX)
                .is_err()
        );
    }

    #[test]
    fn uris_encode_labels_and_carry_every_parameter() {
        let secret = TotpSecret::from_bytes(b"12345678901234567890".to_vec());
        let uri = otpauth_uri(
            "Acme Inc",
            "ann+x@example.com",
            &secret,
            TotpParams::default(),
        );
        assert_eq!(
            uri,
            "otpauth://totp/Acme%20Inc:ann%2Bx%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=Acme%20Inc&algorithm=SHA1&digits=6&period=30"
        );
        assert_eq!(percent_encode("ü:/?&"), "%C3%BC%3A%2F%3F%26");
    }

    #[test]
    fn algorithms_parse_and_print() {
        for alg in [
            TotpAlgorithm::Sha1,
            TotpAlgorithm::Sha256,
            TotpAlgorithm::Sha512,
        ] {
            assert_eq!(alg.as_str().parse::<TotpAlgorithm>().unwrap(), alg);
        }
        assert_eq!(
            "sha-256".parse::<TotpAlgorithm>().unwrap(),
            TotpAlgorithm::Sha256
        );
        assert!("md5".parse::<TotpAlgorithm>().is_err());
    }
}
