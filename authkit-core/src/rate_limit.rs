//! Throttling. INTERFACE STUB — replaced by the real implementation.

use std::time::Duration;

use async_trait::async_trait;

use crate::error::AuthResult;

/// What is being throttled; each has its own quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateAction {
    /// Logins per client IP.
    LoginPerIp,
    /// Logins per email.
    LoginPerEmail,
    /// Registrations per client IP.
    RegisterPerIp,
    /// Password-reset requests per email.
    ResetPerEmail,
    /// Verification resends per email.
    ResendPerEmail,
    /// Code checks per challenge.
    CodePerChallenge,
    /// Code checks per account.
    CodePerAccount,
    /// Email lookups per client IP.
    LookupPerIp,
}

/// `burst` requests per `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Requests allowed in one period.
    pub burst: u32,
    /// The period.
    pub period: Duration,
}

/// Quotas per action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimits {}

impl Default for RateLimits {
    fn default() -> Self {
        unimplemented!()
    }
}

/// Decides whether a request may proceed.
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// `Ok` to proceed; `RateLimited { retry_after }` otherwise.
    async fn check(&self, action: RateAction, key: &str) -> AuthResult<()>;
}

/// In-process keyed GCRA limiter (governor).
pub struct GovernorLimiter {}

impl GovernorLimiter {
    /// A limiter enforcing `limits`.
    pub fn new(limits: RateLimits) -> Self {
        let _ = limits;
        unimplemented!()
    }
}

#[async_trait]
impl RateLimiter for GovernorLimiter {
    async fn check(&self, action: RateAction, key: &str) -> AuthResult<()> {
        let _ = (action, key);
        unimplemented!()
    }
}
