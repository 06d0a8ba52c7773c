//! Column encodings shared by every backend: counters as BIGINT, hashes as
//! 32 bytes, roles and payloads as JSON text, and the checked conversions
//! back into domain types.

use authkit_core::email::{Email, Phone};
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
    }
}
