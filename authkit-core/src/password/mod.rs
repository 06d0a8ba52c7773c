//! Passwords: argon2id hashing on a bounded blocking pool, verification of
//! imported Django hashes, and the password policy.
//!
//! INTERFACE STUB — replaced by the real implementation.

mod policy;

pub use policy::PasswordPolicy;

use crate::error::AuthResult;

/// argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    /// Memory in KiB (OWASP: 19456).
    pub memory_kib: u32,
    /// Iterations (OWASP: 2).
    pub iterations: u32,
    /// Lanes (OWASP: 1).
    pub parallelism: u32,
}

impl Default for HashParams {
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// Outcome of a password verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verification {
    /// The password matched.
    pub valid: bool,
    /// The stored hash is legacy or uses other parameters: store a new one.
    pub needs_rehash: bool,
}

/// Hashes and verifies passwords off the async runtime.
#[derive(Debug, Clone)]
pub struct PasswordHasher {}

impl PasswordHasher {
    /// A hasher with `params`, running at most `max_concurrent` hashes at once.
    pub fn new(params: HashParams, max_concurrent: usize) -> AuthResult<Self> {
        let _ = (params, max_concurrent);
        unimplemented!()
    }
    /// Hashes a new password (NFKC-normalized) to an argon2id PHC string.
    pub async fn hash(&self, password: &str) -> AuthResult<String> {
        let _ = password;
        unimplemented!()
    }
    /// Verifies `password` against `stored`; with `None` verifies against a
    /// dummy hash so unknown accounts cost the same.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> AuthResult<Verification> {
        let _ = (password, stored);
        unimplemented!()
    }
}
