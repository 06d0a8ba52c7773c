//! The password policy: Django's validators, each failure reported with its
//! own code.

use std::collections::HashSet;
use std::sync::LazyLock;

use zeroize::Zeroizing;

use super::{hasher::normalize, similarity};
use crate::error::{AuthError, AuthResult, FieldError};

/// The embedded common-password list: lowercase, one per line.
static COMMON_PASSWORDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("common-passwords.txt")
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect()
});

/// Lowest similarity threshold honoured (Django's floor): anything lower
/// would reject nearly every password.
const MIN_SIMILARITY: f64 = 0.1;

/// The field every policy error is reported on.
const FIELD: &str = "password";

/// Rules a new password must pass.
///
/// Rules are checked on the NFKC form of the password, the form that gets
/// hashed, and lengths count its code points. There are no composition
/// rules (NIST 800-63B).
#[derive(Debug, Clone, PartialEq)]
pub struct PasswordPolicy {
    /// Minimum length in code points.
    pub min_length: usize,
    /// Maximum length in code points (checked before hashing). A longer
    /// password gets only `password_too_long`: no other rule is run on it.
    pub max_length: usize,
    /// Reject passwords on the embedded list of about 20,000 common
    /// passwords, ignoring case and surrounding whitespace
    /// (`password_too_common`).
    pub reject_common: bool,
    /// Reject passwords made only of digits (`password_entirely_numeric`).
    pub reject_numeric: bool,
    /// Reject passwords this similar or more (0 to 1) to the `context`
    /// strings or their parts, using Django's measure
    /// (`password_too_similar`); `None` turns the rule off. Values below 0.1
    /// count as 0.1.
    pub max_similarity: Option<f64>,
}

impl Default for PasswordPolicy {
    /// Django's defaults: 8 to 256 characters, common, numeric and
    /// similarity (0.7) checks on.
    fn default() -> Self {
        Self {
            min_length: 8,
            max_length: 256,
            reject_common: true,
            reject_numeric: true,
            max_similarity: Some(0.7),
        }
    }
}

impl PasswordPolicy {
    /// NIST 800-63B-4 preset (15 minimum).
    pub fn nist() -> Self {
        Self {
            min_length: 15,
            ..Self::default()
        }
    }

    /// Checks `password`; `context` holds the email, display name... that it
    /// must not resemble. Err is `PasswordTooWeak` with one entry per rule.
    pub fn validate(&self, password: &str, context: &[&str]) -> AuthResult<()> {
        let errors = self.check(password, context);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(AuthError::PasswordTooWeak(errors))
        }
    }

    /// Every rule `password` fails, as `password` field errors in a stable
    /// order (length, common, numeric, similar); empty when it passes.
    pub fn check(&self, password: &str, context: &[&str]) -> Vec<FieldError> {
        // Bound the work first: normalization and the other rules only ever
        // see passwords of a sane size.
        if password.chars().count() > self.max_length {
            return vec![self.too_long()];
        }
        let password = normalize(password);
        let length = password.chars().count();
        if length > self.max_length {
            return vec![self.too_long()];
        }
        let mut errors = Vec::new();
        if length < self.min_length {
            errors.push(FieldError::new(
                FIELD,
                "password_too_short",
                format!(
                    "The password must contain at least {} characters.",
                    self.min_length
                ),
            ));
        }
        if self.reject_common && is_common(&password) {
            errors.push(FieldError::new(
                FIELD,
                "password_too_common",
                "This password is too common.",
            ));
        }
        if self.reject_numeric && !password.is_empty() && password.chars().all(char::is_numeric) {
            errors.push(FieldError::new(
                FIELD,
                "password_entirely_numeric",
                "The password cannot be entirely numeric.",
            ));
        }
        if let Some(max_similarity) = self.max_similarity
            && similarity::too_similar(&password, context, max_similarity.max(MIN_SIMILARITY))
        {
            errors.push(FieldError::new(
                FIELD,
                "password_too_similar",
                "The password is too similar to your personal information.",
            ));
        }
        errors
    }

    fn too_long(&self) -> FieldError {
        FieldError::new(
            FIELD,
            "password_too_long",
            format!(
                "The password must contain at most {} characters.",
                self.max_length
            ),
        )
    }
}

/// Whether `password` is on the common-password list, ignoring case and
/// surrounding whitespace.
fn is_common(password: &str) -> bool {
    let key = Zeroizing::new(password.trim().to_lowercase());
    COMMON_PASSWORDS.contains(key.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTEXT: [&str; 2] = ["john.doe@example.com", "John Doe"];

    fn codes(policy: &PasswordPolicy, password: &str) -> Vec<String> {
        policy
            .check(password, &CONTEXT)
            .into_iter()
            .inspect(|error| {
                assert_eq!(error.field, "password");
                assert!(!error.message.is_empty());
            })
            .map(|error| error.code)
            .collect()
    }

    #[test]
    fn a_good_password_passes() {
        let policy = PasswordPolicy::default();
        for password in [
            "correct horse battery staple",
            "tr0ub4dor&3",
            "🔑🦀🎉🌈🍕🚀🎸🐙",
        ] {
            assert_eq!(codes(&policy, password), Vec::<String>::new(), "{password}");
            assert!(policy.validate(password, &CONTEXT).is_ok());
        }
    }

    #[test]
    fn too_short() {
        let policy = PasswordPolicy::default();
        assert_eq!(codes(&policy, "xq7!vmz"), ["password_too_short"]);
        assert_eq!(codes(&policy, "xq7!vmzk"), Vec::<String>::new());
        let message = &policy.check("xq7", &[])[0].message;
        assert!(message.contains('8'), "{message}");
    }

    #[test]
    fn too_long_is_the_only_error_and_checked_first() {
        let policy = PasswordPolicy::default();
        let at_limit: String = "xq7!vmzk".repeat(32);
        assert_eq!(at_limit.chars().count(), 256);
        assert_eq!(codes(&policy, &at_limit), Vec::<String>::new());
        // 257 characters that would also be numeric and similar.
        let numeric = "1".repeat(257);
        let similar = "john.doe".repeat(33);
        for password in [
            format!("{at_limit}x"),
            numeric,
            similar,
            "a".repeat(1_000_000),
        ] {
            let errors = policy.check(&password, &["1111111111", "john.doe"]);
            assert_eq!(errors.len(), 1);
            assert_eq!(errors[0].code, "password_too_long");
            assert!(errors[0].message.contains("256"));
        }
        // 256 code points that NFKC expands past the limit.
        let expanding = "\u{fdfa}".repeat(256);
        assert_eq!(codes(&policy, &expanding), ["password_too_long"]);
    }

    #[test]
    fn too_common_ignores_case_and_surrounding_space() {
        let policy = PasswordPolicy::default();
        for password in ["sunshine", "SunShine", " iloveyou ", "qwertyuiop"] {
            assert_eq!(
                codes(&policy, password),
                ["password_too_common"],
                "{password}"
            );
        }
        // Full-width letters are hashed as "password", so they are as common.
        let full_width = "\u{ff50}\u{ff41}\u{ff53}\u{ff53}\u{ff57}\u{ff4f}\u{ff52}\u{ff44}";
        assert_eq!(codes(&policy, full_width), ["password_too_common"]);
    }

    #[test]
    fn entirely_numeric() {
        let policy = PasswordPolicy::default();
        assert_eq!(codes(&policy, "73920584613"), ["password_entirely_numeric"]);
        // Full-width and Arabic-Indic digits are digits too.
        assert_eq!(
            codes(&policy, "\u{ff17}\u{ff13}\u{ff19}\u{ff12}0584613"),
            ["password_entirely_numeric"]
        );
        assert_eq!(
            codes(
                &policy,
                "\u{667}\u{663}\u{669}\u{662}\u{660}\u{665}\u{668}\u{664}"
            ),
            ["password_entirely_numeric"]
        );
        assert_eq!(codes(&policy, "73920584613a"), Vec::<String>::new());
    }

    #[test]
    fn too_similar_to_the_context() {
        let policy = PasswordPolicy::default();
        for password in ["John.Doe1986", "johndoe@example", "EXAMPLE.COM"] {
            assert_eq!(
                codes(&policy, password),
                ["password_too_similar"],
                "{password}"
            );
        }
        assert!(policy.check("John.Doe1986", &[]).is_empty());
    }

    #[test]
    fn every_failed_rule_is_reported() {
        let policy = PasswordPolicy::default();
        assert_eq!(
            codes(&policy, "123456"),
            [
                "password_too_short",
                "password_too_common",
                "password_entirely_numeric"
            ]
        );
        let Err(AuthError::PasswordTooWeak(errors)) = policy.validate("123456", &["123456@x.io"])
        else {
            panic!("expected PasswordTooWeak");
        };
        let codes: Vec<_> = errors.iter().map(|e| e.code.as_str()).collect();
        assert_eq!(
            codes,
            [
                "password_too_short",
                "password_too_common",
                "password_entirely_numeric",
                "password_too_similar"
            ]
        );
        assert_eq!(
            policy.check("", &CONTEXT)[0].code,
            "password_too_short",
            "empty password"
        );
        assert_eq!(policy.check("", &CONTEXT).len(), 1);
    }

    #[test]
    fn rules_can_be_turned_off() {
        let policy = PasswordPolicy {
            reject_common: false,
            reject_numeric: false,
            max_similarity: None,
            ..PasswordPolicy::default()
        };
        for password in ["sunshine", "73920584613", "John.Doe1986"] {
            assert!(policy.validate(password, &CONTEXT).is_ok(), "{password}");
        }
        assert_eq!(codes(&policy, "12345"), ["password_too_short"]);
    }

    #[test]
    fn similarity_threshold_is_clamped_and_tunable() {
        let strict = PasswordPolicy {
            max_similarity: Some(0.3),
            ..PasswordPolicy::default()
        };
        assert_eq!(codes(&strict, "doe-family-1"), ["password_too_similar"]);
        assert!(
            PasswordPolicy::default()
                .check("doe-family-1", &CONTEXT)
                .is_empty()
        );
        for absurd in [0.0, -1.0, f64::NAN] {
            let policy = PasswordPolicy {
                max_similarity: Some(absurd),
                ..PasswordPolicy::default()
            };
            assert!(policy.check("yq7!vz8k", &CONTEXT).is_empty(), "{absurd}");
        }
    }

    #[test]
    fn lengths_count_code_points() {
        let policy = PasswordPolicy::default();
        assert!(policy.check("🔑🦀🎉🌈🍕🚀🎸🐙", &[]).is_empty());
        assert_eq!(codes(&policy, "🔑🦀🎉🌈🍕🚀🎸"), ["password_too_short"]);
        assert_eq!(codes(&policy, "äöüßéèñç"), Vec::<String>::new());
        assert_eq!(codes(&policy, "äöüßéèñ"), ["password_too_short"]);
        // Decomposed accents count once they are composed.
        assert_eq!(
            codes(&policy, "a\u{308}o\u{308}u\u{308}e\u{301}"),
            ["password_too_short"]
        );
    }

    #[test]
    fn nist_preset_needs_fifteen() {
        let policy = PasswordPolicy::nist();
        assert_eq!(policy.min_length, 15);
        assert_eq!(policy.max_length, 256);
        assert_eq!(codes(&policy, "xq7!vmzk-plum-4"), Vec::<String>::new());
        assert_eq!(codes(&policy, "xq7!vmzk-plum-"), ["password_too_short"]);
    }

    #[test]
    fn common_list_is_large_and_normalized() {
        assert!(
            COMMON_PASSWORDS.len() >= 20_000,
            "{}",
            COMMON_PASSWORDS.len()
        );
        for entry in COMMON_PASSWORDS.iter() {
            assert_eq!(*entry, entry.trim().to_lowercase(), "{entry:?}");
        }
        for known in ["123456", "password", "qwerty", "iloveyou", "dragon"] {
            assert!(is_common(known), "{known}");
        }
        assert!(!is_common("correct horse battery staple"));
    }
}
