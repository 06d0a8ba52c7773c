//! Column encodings shared by every backend: counters and TOTP steps as
//! BIGINT, hashes as 32 bytes, roles and payloads as JSON text, and the
//! checked conversions back into domain types.

use authkit_core::email::{Email, Phone};
use authkit_core::mfa::{TotpAlgorithm, TotpParams};
use authkit_core::one_time::Purpose;
use authkit_core::secret::TokenHash;

use crate::error::corrupt;

/// A counter as stored.
pub(crate) fn count_to_db(n: u32) -> i64 {
    i64::from(n)
}

/// A stored counter; negative or oversized values are corrupt.
pub(crate) fn count_from_db(column: &str, n: i64) -> Result<u32, sqlx::Error> {
    u32::try_from(n).map_err(|e| corrupt(column, e))
}

/// A stored 32-byte hash.
pub(crate) fn hash_from_db(column: &str, bytes: &[u8]) -> Result<TokenHash, sqlx::Error> {
    <[u8; 32]>::try_from(bytes)
        .map(TokenHash)
        .map_err(|_| corrupt(column, format!("expected 32 bytes, got {}", bytes.len())))
}

/// Roles as a JSON array of strings.
pub(crate) fn roles_to_db(roles: &[String]) -> String {
    serde_json::Value::from(roles).to_string()
}

/// Stored roles.
pub(crate) fn roles_from_db(text: &str) -> Result<Vec<String>, sqlx::Error> {
    serde_json::from_str(text).map_err(|e| corrupt("roles", e))
}

/// A stored JSON document.
pub(crate) fn json_from_db(column: &str, text: &str) -> Result<serde_json::Value, sqlx::Error> {
    serde_json::from_str(text).map_err(|e| corrupt(column, e))
}

/// A stored (already normalized) email.
pub(crate) fn email_from_db(text: &str) -> Result<Email, sqlx::Error> {
    Email::parse(text).map_err(|e| corrupt("email", e))
}

/// A stored E.164 phone number.
pub(crate) fn phone_from_db(text: Option<String>) -> Result<Option<Phone>, sqlx::Error> {
    text.map(|t| Phone::parse(&t).map_err(|e| corrupt("phone", e)))
        .transpose()
}

/// A stored purpose name.
pub(crate) fn purpose_from_db(text: &str) -> Result<Purpose, sqlx::Error> {
    Purpose::parse(text).ok_or_else(|| corrupt("purpose", format!("unknown purpose {text:?}")))
}

/// A TOTP time step as stored. Steps of real clocks are far below
/// `i64::MAX`; a larger one saturates (it still orders after every real
/// step).
pub(crate) fn step_to_db(step: u64) -> i64 {
    i64::try_from(step).unwrap_or(i64::MAX)
}

/// A stored TOTP time step; negative values are corrupt.
pub(crate) fn step_from_db(step: Option<i64>) -> Result<Option<u64>, sqlx::Error> {
    step.map(|s| u64::try_from(s).map_err(|e| corrupt("last_step", e)))
        .transpose()
}

/// Stored TOTP parameters: the algorithm's name, digits and period.
pub(crate) fn totp_params_from_db(
    algorithm: &str,
    digits: i64,
    period: i64,
) -> Result<TotpParams, sqlx::Error> {
    Ok(TotpParams {
        algorithm: algorithm
            .parse::<TotpAlgorithm>()
            .map_err(|_| corrupt("algorithm", format!("unknown algorithm {algorithm:?}")))?,
        digits: u8::try_from(digits).map_err(|e| corrupt("digits", e))?,
        period: u32::try_from(period).map_err(|e| corrupt("period", e))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip() {
        assert_eq!(count_from_db("n", count_to_db(u32::MAX)).unwrap(), u32::MAX);
        let roles = vec!["END_USER".to_owned(), "ünï \"q\"".to_owned()];
        assert_eq!(roles_from_db(&roles_to_db(&roles)).unwrap(), roles);
        let hash = TokenHash::of_token("t");
        assert_eq!(hash_from_db("h", &hash.0).unwrap(), hash);
        assert_eq!(
            purpose_from_db(Purpose::MagicLink.as_str()).unwrap(),
            Purpose::MagicLink
        );
        assert_eq!(phone_from_db(None).unwrap(), None);
        assert_eq!(step_from_db(None).unwrap(), None);
        for step in [0, 1, 60_000_000_000, i64::MAX as u64] {
            assert_eq!(step_from_db(Some(step_to_db(step))).unwrap(), Some(step));
        }
        assert_eq!(step_to_db(u64::MAX), i64::MAX, "saturates");
        for algorithm in [
            TotpAlgorithm::Sha1,
            TotpAlgorithm::Sha256,
            TotpAlgorithm::Sha512,
        ] {
            let params = TotpParams {
                algorithm,
                digits: 8,
                period: 300,
            };
            assert_eq!(
                totp_params_from_db(algorithm.as_str(), 8, 300).unwrap(),
                params
            );
        }
    }

    #[test]
    fn corrupt_values_are_decode_errors() {
        assert!(count_from_db("n", -1).is_err());
        assert!(count_from_db("n", i64::MAX).is_err());
        assert!(hash_from_db("h", &[0; 31]).is_err());
        assert!(hash_from_db("h", &[]).is_err());
        assert!(roles_from_db("{").is_err());
        assert!(roles_from_db("[1]").is_err());
        assert!(json_from_db("data", "").is_err());
        assert!(email_from_db("not an email").is_err());
        assert!(phone_from_db(Some("12".into())).is_err());
        assert!(purpose_from_db("nope").is_err());
        assert!(step_from_db(Some(-1)).is_err());
        assert!(totp_params_from_db("MD5", 6, 30).is_err());
        assert!(totp_params_from_db("", 6, 30).is_err());
        assert!(totp_params_from_db("SHA1", 256, 30).is_err());
        assert!(totp_params_from_db("SHA1", -6, 30).is_err());
        assert!(totp_params_from_db("SHA1", 6, -30).is_err());
        assert!(totp_params_from_db("SHA1", 6, i64::MAX).is_err());
    }
}
