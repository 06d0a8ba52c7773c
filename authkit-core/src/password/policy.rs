//! Password policy. INTERFACE STUB.

use crate::error::AuthResult;

/// Rules a new password must pass.
#[derive(Debug, Clone, PartialEq)]
pub struct PasswordPolicy {
    /// Minimum length in code points.
    pub min_length: usize,
    /// Maximum length in code points (checked before hashing).
    pub max_length: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_length: 8,
            max_length: 256,
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
        let _ = (password, context);
        unimplemented!()
    }
}
