//! What a component does when a Redis call fails: count it, warn (without
//! flooding the log), and fail open or closed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use authkit_core::AuthError;
use authkit_core::error::Cause;

use crate::REDIS_ERRORS;
use crate::settings::FailureMode;

/// The least time between two warnings of one component, in ms.
const WARN_EVERY_MS: u64 = 10_000;

/// Failure bookkeeping for one component.
#[derive(Debug)]
pub(crate) struct Outage {
    mode: FailureMode,
    started: Instant,
    /// Milliseconds after `started` of the last warning, plus one (0 =
    /// never warned).
    last_warned: AtomicU64,
}

impl Outage {
    pub(crate) fn new(mode: FailureMode) -> Self {
        Self {
            mode,
            started: Instant::now(),
            last_warned: AtomicU64::new(0),
        }
    }

    pub(crate) fn mode(&self) -> FailureMode {
        self.mode
    }

    /// Counts a failed `op` and logs it, at most once per [`WARN_EVERY_MS`].
    pub(crate) fn record(&self, op: &'static str, err: &redis::RedisError) {
        metrics::counter!(REDIS_ERRORS, "op" => op).increment(1);
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX) + 1;
        let last = self.last_warned.load(Ordering::Relaxed);
        let due = last == 0 || now.saturating_sub(last) >= WARN_EVERY_MS;
        if due
            && self
                .last_warned
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(
                op,
                error = %err,
                on_error = %self.mode,
                "redis unavailable; failing {}",
                self.mode
            );
        }
    }

    /// The error a closed component answers with when it has no recent
    /// Redis answer to go on (and so no Redis error at hand to keep).
    pub(crate) fn unavailable() -> AuthError {
        AuthError::StoreUnavailable(Cause::new("redis unavailable"))
    }
}
