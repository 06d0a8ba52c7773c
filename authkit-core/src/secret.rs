//! Opaque secrets: generation from the OS CSPRNG, and the hashes stores keep
//! instead of the secrets themselves.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// SHA-256 (or HMAC-SHA256) digest of a secret, the only form a store keeps.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenHash(pub [u8; 32]);

impl TokenHash {
    /// SHA-256 of a high-entropy opaque token (refresh, reset, verify...).
    /// Plain SHA-256 is enough: 256 random bits cannot be brute-forced.
    pub fn of_token(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }

    /// Keyed hash of a low-entropy code (6 digits), bound to its purpose and
    /// subject, so a leaked table cannot be brute-forced offline without
    /// the server key.
    pub fn of_code(key: &[u8], purpose: &str, subject: &str, code: &str) -> Self {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable_hmac_key());
        for part in [purpose, subject, code] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        Self(mac.finalize().into_bytes().into())
    }

    /// Constant-time equality.
    pub fn ct_eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }

    /// Lower-case hex form (for SQL columns and logs of hashes).
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses the hex form.
    pub fn from_hex(s: &str) -> Option<Self> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).ok()?;
        Some(Self(out))
    }
}

// HMAC accepts keys of any length, so construction cannot fail.
fn unreachable_hmac_key() -> Hmac<Sha256> {
    <Hmac<Sha256> as Mac>::new_from_slice(&[0u8; 32]).unwrap_or_else(|_| unreachable!())
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({}…)", &self.to_hex()[..8])
    }
}

/// A new opaque token: `bytes` random bytes from the OS CSPRNG, base64url.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// A 256-bit opaque token (refresh tokens, links).
pub fn token256() -> String {
    random_token(32)
}

/// A uniformly random numeric code of `digits` digits (e.g. 6), zero-padded.
pub fn numeric_code(digits: u32) -> String {
    let bound = 10u64.pow(digits.min(18));
    // Rejection sampling keeps every code equally likely.
    let zone = u64::MAX - (u64::MAX % bound);
    let value = loop {
        let v = OsRng.next_u64();
        if v < zone {
            break v % bound;
        }
    };
    format!("{value:0width$}", width = digits as usize)
}

/// HMAC-SHA256 of `data` under `key`.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable_hmac_key());
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Constant-time comparison of two byte strings.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_url_safe() {
        let a = token256();
        let b = token256();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
    }

    #[test]
    fn codes_have_the_requested_digits() {
        for _ in 0..200 {
            let c = numeric_code(6);
            assert_eq!(c.len(), 6);
            assert!(c.chars().all(|c| c.is_ascii_digit()));
        }
    }

    #[test]
    fn code_hashes_are_bound_to_key_purpose_and_subject() {
        let h = TokenHash::of_code(b"k1", "verify_email", "u1", "123456");
        assert!(h.ct_eq(&TokenHash::of_code(b"k1", "verify_email", "u1", "123456")));
        assert_ne!(h, TokenHash::of_code(b"k2", "verify_email", "u1", "123456"));
        assert_ne!(h, TokenHash::of_code(b"k1", "reset", "u1", "123456"));
        assert_ne!(h, TokenHash::of_code(b"k1", "verify_email", "u2", "123456"));
        // Length prefixes stop "ab"+"c" colliding with "a"+"bc".
        assert_ne!(
            TokenHash::of_code(b"k", "ab", "c", "1"),
            TokenHash::of_code(b"k", "a", "bc", "1")
        );
    }

    #[test]
    fn hex_round_trips_and_debug_hides_most_of_the_hash() {
        let h = TokenHash::of_token("secret");
        assert_eq!(TokenHash::from_hex(&h.to_hex()), Some(h));
        assert!(TokenHash::from_hex("zz").is_none());
        assert!(format!("{h:?}").len() < 24);
    }
}
