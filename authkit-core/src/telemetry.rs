//! Metrics, recorded through the [`metrics`] facade.
//!
//! The library installs no recorder and ships no exporter: without one,
//! every call below is a no-op costing an atomic load. A host that wants
//! the figures installs a recorder at start-up (the example servers use
//! `metrics-exporter-prometheus` and serve `GET /metrics`).
//!
//! Labels never carry user identifiers (ids, emails, IPs, tokens): only
//! fixed vocabularies (outcome codes, MFA methods, throttled actions, store
//! operations), so the series count stays bounded.
//!
//! | name | type | labels | what |
//! | --- | --- | --- | --- |
//! | `authkit_logins_total` | counter | `outcome` | password logins: `success`, `mfa_required`, `mfa_enrollment_required`, or the error code (`invalid_credentials`, `account_locked`, `rate_limited`, …) |
//! | `authkit_refreshes_total` | counter | `outcome` | refresh-token rotations: `success` or the error code (`token_invalid`, `refresh_token_reused`, …) |
//! | `authkit_refresh_reuse_detected_total` | counter | | rotated refresh tokens presented again (the session is revoked) |
//! | `authkit_mfa_verifications_total` | counter | `method`, `outcome` | second-factor checks at login: `success` or the error code |
//! | `authkit_lockouts_total` | counter | | accounts locked by failed logins or failed MFA codes |
//! | `authkit_rate_limited_total` | counter | `action` | requests refused by the rate limiter, per [`RateAction`](crate::rate_limit::RateAction) |
//! | `authkit_sessions_revoked_total` | counter | | sessions added to the revocation list (logout, revocation, password change…) |
//! | `authkit_password_hash_queue_depth` | gauge | | hashes waiting for a slot of the hashing pool |
//! | `authkit_password_hash_shed_total` | counter | `reason` (`queue_full`, `deadline`) | hashes refused with `server_busy` instead of queued |
//! | `authkit_background_dropped_total` | counter | `task` (`password_reset`, …) | background work (reset and verification mail, notices) dropped because too much was already running |
//! | `authkit_password_hash_duration_seconds` | histogram | `op` (`hash`, `verify`) | time on the pool per hash |
//! | `authkit_store_call_duration_seconds` | histogram | `operation`, `outcome` (`ok`, `error`) | every store call, by trait method (`sessions.rotate_refresh`, …) |
//! | `authkit_mail_queue_depth` | gauge | | messages waiting in a [`MailQueue`](crate::mail::MailQueue) |
//! | `authkit_mail_failures_total` | counter | `reason` (`queue_full`, `retrying`, `given_up`) | failed mail deliveries |
//! | `authkit_sms_queue_depth` | gauge | | messages waiting in an [`SmsQueue`](crate::sms::SmsQueue) |
//! | `authkit_sms_failures_total` | counter | `reason` (`queue_full`, `failed`) | failed SMS deliveries |
//!
//! Shared backends (`authkit-redis`) add their own, documented there.

use std::time::Instant;

use metrics::{counter, gauge, histogram};

use crate::error::AuthResult;

/// Password logins by outcome.
pub const LOGINS: &str = "authkit_logins_total";
/// Refresh-token rotations by outcome.
pub const REFRESHES: &str = "authkit_refreshes_total";
/// Rotated refresh tokens presented again.
pub const REFRESH_REUSE: &str = "authkit_refresh_reuse_detected_total";
/// Second-factor checks at login by method and outcome.
pub const MFA_VERIFICATIONS: &str = "authkit_mfa_verifications_total";
/// Accounts locked.
pub const LOCKOUTS: &str = "authkit_lockouts_total";
/// Requests refused by the rate limiter, by action.
pub const RATE_LIMITED: &str = "authkit_rate_limited_total";
/// Sessions added to the revocation list.
pub const SESSIONS_REVOKED: &str = "authkit_sessions_revoked_total";
/// Hashes waiting for a slot.
pub const HASH_QUEUE_DEPTH: &str = "authkit_password_hash_queue_depth";
/// Hashes refused with `server_busy`, by reason.
pub const HASH_SHED: &str = "authkit_password_hash_shed_total";
/// Background work dropped because the bound was reached, by task.
pub const BACKGROUND_DROPPED: &str = "authkit_background_dropped_total";
/// Time per hash on the pool.
pub const HASH_DURATION: &str = "authkit_password_hash_duration_seconds";
/// Store call durations by operation.
pub const STORE_CALL_DURATION: &str = "authkit_store_call_duration_seconds";
/// Messages waiting in the mail queue.
pub const MAIL_QUEUE_DEPTH: &str = "authkit_mail_queue_depth";
/// Failed mail deliveries by reason.
pub const MAIL_FAILURES: &str = "authkit_mail_failures_total";
/// Messages waiting in the SMS queue.
pub const SMS_QUEUE_DEPTH: &str = "authkit_sms_queue_depth";
/// Failed SMS deliveries by reason.
pub const SMS_FAILURES: &str = "authkit_sms_failures_total";

/// `success`, or the error's stable code.
fn outcome<T>(result: &AuthResult<T>) -> &'static str {
    match result {
        Ok(_) => "success",
        Err(err) => err.code(),
    }
}

/// Counts a finished refresh, and a reuse detection.
pub(crate) fn refresh<T>(result: &AuthResult<T>) {
    counter!(REFRESHES, "outcome" => outcome(result)).increment(1);
}

/// Counts a login: `outcome` is `success`-like on success, else the code.
pub(crate) fn login<T>(result: &AuthResult<T>, success: impl FnOnce(&T) -> &'static str) {
    let outcome = match result {
        Ok(value) => success(value),
        Err(err) => err.code(),
    };
    counter!(LOGINS, "outcome" => outcome).increment(1);
}

/// Counts a second-factor check at login.
pub(crate) fn mfa_verification<T>(method: &'static str, result: &AuthResult<T>) {
    counter!(MFA_VERIFICATIONS, "method" => method, "outcome" => outcome(result)).increment(1);
}

/// Counts events that have a metric of their own.
pub(crate) fn event(name: &str) {
    match name {
        "account_locked" => counter!(LOCKOUTS).increment(1),
        "refresh_token_reused" => counter!(REFRESH_REUSE).increment(1),
        _ => {}
    }
}

/// Counts a throttled request.
pub(crate) fn rate_limited(action: &'static str) {
    counter!(RATE_LIMITED, "action" => action).increment(1);
}

/// Counts sessions put on the revocation list.
pub(crate) fn sessions_revoked(count: usize) {
    counter!(SESSIONS_REVOKED).increment(u64::try_from(count).unwrap_or(u64::MAX));
}

/// Records one store call that started at `started`.
pub(crate) fn store_call<T>(operation: &'static str, started: Instant, result: &AuthResult<T>) {
    let outcome = if result.is_ok() { "ok" } else { "error" };
    histogram!(STORE_CALL_DURATION, "operation" => operation, "outcome" => outcome)
        .record(started.elapsed().as_secs_f64());
}

/// Records one hash (`op` = `hash` or `verify`) that ran from `started`.
pub(crate) fn hash_duration(op: &'static str, started: Instant) {
    histogram!(HASH_DURATION, "op" => op).record(started.elapsed().as_secs_f64());
}

/// Counts a hash refused with `server_busy` (`queue_full` or `deadline`).
pub(crate) fn hash_shed(reason: &'static str) {
    counter!(HASH_SHED, "reason" => reason).increment(1);
}

/// Counts background work dropped at the bound.
pub(crate) fn background_dropped(task: &'static str) {
    counter!(BACKGROUND_DROPPED, "task" => task).increment(1);
}

/// A unit of a queue-depth gauge, given back when dropped (so a cancelled
/// or panicked wait still leaves the gauge right).
#[derive(Debug)]
pub(crate) struct Queued(&'static str);

impl Queued {
    /// Adds one to the gauge `name` until the returned value is dropped.
    pub(crate) fn enter(name: &'static str) -> Self {
        gauge!(name).increment(1.0);
        Self(name)
    }
}

impl Drop for Queued {
    fn drop(&mut self) {
        gauge!(self.0).decrement(1.0);
    }
}

/// Counts a failed delivery in `name` (`authkit_mail_failures_total` or
/// `authkit_sms_failures_total`).
pub(crate) fn delivery_failure(name: &'static str, reason: &'static str) {
    counter!(name, "reason" => reason).increment(1);
}
