//! Email addresses and phone numbers, normalized once at the edge of the domain.

use std::fmt;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use crate::error::AuthError;

/// Longest address accepted (RFC 5321 path limit).
const MAX_EMAIL_LEN: usize = 254;
/// Longest local part accepted (RFC 5321).
const MAX_LOCAL_LEN: usize = 64;

/// A validated, normalized email address.
///
/// Normalization trims surrounding whitespace, applies Unicode NFC and
/// lower-cases both the local part and the domain, so `" Ann@Example.COM"`
/// and `"ann@example.com"` are one account. Comparison and storage always use
/// the normalized form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// Validates and normalizes `raw`.
    ///
    /// # Errors
    /// [`AuthError::Validation`] with code `email_invalid` when `raw` is not a
    /// plausible address (one `@`, non-empty local part, a dotted domain, no
    /// whitespace or control characters, within the RFC 5321 lengths).
    pub fn parse(raw: &str) -> Result<Self, AuthError> {
        let normalized: String = raw.trim().nfc().collect::<String>().to_lowercase();
        if Self::is_plausible(&normalized) {
            Ok(Self(normalized))
        } else {
            Err(AuthError::invalid_field(
                "email",
                "email_invalid",
                "Enter a valid email address.",
            ))
        }
    }

    fn is_plausible(s: &str) -> bool {
        if s.is_empty() || s.len() > MAX_EMAIL_LEN {
            return false;
        }
        if s.chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | ','))
        {
            return false;
        }
        let Some((local, domain)) = s.rsplit_once('@') else {
            return false;
        };
        if local.is_empty() || local.len() > MAX_LOCAL_LEN || local.contains('@') {
            return false;
        }
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return false;
        }
        let labels: Vec<&str> = domain.split('.').collect();
        labels.len() >= 2
            && labels.iter().all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            })
    }

    /// The normalized address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The domain part (after the `@`).
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, d)| d)
    }

    /// A masked form for disclosure to someone who has not proven ownership,
    /// e.g. `j***@e***.com`.
    pub fn masked(&self) -> String {
        let (local, domain) = self.0.rsplit_once('@').unwrap_or((&self.0, ""));
        let (host, tld) = domain.rsplit_once('.').unwrap_or((domain, ""));
        let first = |s: &str| s.chars().next().map(String::from).unwrap_or_default();
        format!("{}***@{}***.{}", first(local), first(host), tld)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Email::parse(&raw).map_err(|_| serde::de::Error::custom("invalid email address"))
    }
}

/// A validated phone number in E.164 form (`+` then 8 to 15 digits).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Phone(String);

impl Phone {
    /// Validates `raw`, dropping spaces, dashes, dots and parentheses.
    ///
    /// # Errors
    /// [`AuthError::Validation`] with code `phone_invalid` unless the result
    /// is `+` followed by 8 to 15 digits, the first not zero.
    pub fn parse(raw: &str) -> Result<Self, AuthError> {
        let compact: String = raw
            .trim()
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
            .collect();
        let digits = compact.strip_prefix('+').unwrap_or("");
        let valid = (8..=15).contains(&digits.len())
            && digits.chars().all(|c| c.is_ascii_digit())
            && !digits.starts_with('0');
        if valid {
            Ok(Self(compact))
        } else {
            Err(AuthError::invalid_field(
                "phone",
                "phone_invalid",
                "Enter the phone number in international format, e.g. +14155550123.",
            ))
        }
    }

    /// The E.164 string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Phone {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Phone::parse(&raw).map_err(|_| serde::de::Error::custom("invalid phone number"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        let e = Email::parse("  Ann.Lee@Example.COM \n").unwrap();
        assert_eq!(e.as_str(), "ann.lee@example.com");
        assert_eq!(e.domain(), "example.com");
    }

    #[test]
    fn unicode_emails_are_nfc_normalized() {
        let composed = Email::parse("jos\u{e9}@example.com").unwrap();
        let decomposed = Email::parse("jose\u{301}@example.com").unwrap();
        assert_eq!(composed, decomposed);
        assert_eq!(
            Email::parse("ÄRGER@bücher.de").unwrap().as_str(),
            "ärger@bücher.de"
        );
    }

    #[test]
    fn implausible_emails_are_refused() {
        for bad in [
            "",
            "plain",
            "@example.com",
            "ann@",
            "ann@localhost",
            "ann@@example.com",
            "ann smith@example.com",
            "ann@exa mple.com",
            "ann@-example.com",
            "ann@example..com",
            ".ann@example.com",
            "ann..lee@example.com",
            "ann@example.com\u{0}",
            "<ann@example.com>",
        ] {
            let err = Email::parse(bad).unwrap_err();
            assert_eq!(err.field_errors()[0].code, "email_invalid", "{bad:?}");
        }
        let long_local = format!("{}@example.com", "a".repeat(65));
        assert!(Email::parse(&long_local).is_err());
        let long = format!("a@{}.com", "b".repeat(260));
        assert!(Email::parse(&long).is_err());
    }

    #[test]
    fn masking_hides_all_but_the_first_letters() {
        let e = Email::parse("jane@example.com").unwrap();
        assert_eq!(e.masked(), "j***@e***.com");
    }

    #[test]
    fn email_deserializes_normalized_and_rejects_garbage() {
        let e: Email = serde_json::from_str("\"A@B.CO\"").unwrap();
        assert_eq!(e.as_str(), "a@b.co");
        assert!(serde_json::from_str::<Email>("\"nope\"").is_err());
    }

    #[test]
    fn phones_are_e164() {
        assert_eq!(
            Phone::parse("+1 (415) 555-0123").unwrap().as_str(),
            "+14155550123"
        );
        for bad in [
            "4155550123",
            "+0123456789",
            "+12",
            "+1415555012345678",
            "+1415abc0123",
            "",
        ] {
            assert!(Phone::parse(bad).is_err(), "{bad:?}");
        }
    }
}
