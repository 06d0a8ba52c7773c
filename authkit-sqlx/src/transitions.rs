//! The rules of the single-use and counter transitions, as plain functions
//! of the rows a backend has locked. Every backend reads the rows inside a
//! transaction, asks these functions what to do, and writes the answer
//! before committing, so the rules live in one place.

use authkit_core::one_time::OneTimeToken;
use authkit_core::session::RotateRefresh;
#[cfg(doc)]
use authkit_core::session::decide_rotation;
use authkit_core::store::{FailureState, LockoutPolicy};
use chrono::{DateTime, Duration, Utc};

/// The time limits of a rotation as instants, for a backend that applies
/// the rules of [`decide_rotation`] server-side (PostgreSQL's
/// `authkit_rotate_refresh`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RotationCutoffs {
    /// The session is idle unless `last_seen_at > live_after`.
    pub live_after: DateTime<Utc>,
    /// A rotated token is within the grace period when
    /// `rotated_at > grace_after`; `None` when there is no grace period.
    pub grace_after: Option<DateTime<Utc>>,
}

impl RotationCutoffs {
    /// `now - idle_timeout` and `now - reuse_grace`, the same comparisons
    /// as [`decide_rotation`] (`now - t < d` is `t > now - d`), clamped to the
    /// year 1 so that every database can store them.
    pub(crate) fn of(req: &RotateRefresh) -> Self {
        let before = |d: Duration| {
            req.now
                .checked_sub_signed(d)
                .filter(|t| *t > EARLIEST)
                .unwrap_or(EARLIEST)
        };
        Self {
            live_after: before(req.idle_timeout),
            grace_after: (req.reuse_grace > Duration::zero()).then(|| before(req.reuse_grace)),
        }
    }
}

/// 0001-01-01T00:00:00Z, before any instant a store holds.
const EARLIEST: DateTime<Utc> = match DateTime::from_timestamp(-62_135_596_800, 0) {
    Some(t) => t,
    None => DateTime::<Utc>::MIN_UTC,
};

/// The login-failure fields of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Failures {
    /// Consecutive failures within the window.
    pub count: u32,
    /// The last failure.
    pub last_at: Option<DateTime<Utc>>,
    /// End of the lock.
    pub locked_until: Option<DateTime<Utc>>,
}

/// The fields after one more failure at `now`, and what the caller sees.
pub(crate) fn failure(
    before: Failures,
    now: DateTime<Utc>,
    policy: LockoutPolicy,
) -> (Failures, FailureState) {
    let restart = before.last_at.is_none_or(|last| now - last > policy.window);
    let count = if restart {
        1
    } else {
        before.count.saturating_add(1)
    };
    let locked_until = if count >= policy.max_failures {
        Some(saturating_add(now, policy.lock_for))
    } else {
        before.locked_until
    };
    let after = Failures {
        count,
        last_at: Some(now),
        locked_until,
    };
    let state = FailureState {
        failures: count,
        locked_until: locked_until.filter(|until| *until > now),
    };
    (after, state)
}

/// `at + by`, saturating at the ends of the representable range.
fn saturating_add(at: DateTime<Utc>, by: Duration) -> DateTime<Utc> {
    at.checked_add_signed(by)
        .unwrap_or(if by < Duration::zero() {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        })
}

/// The MFA failure count after one more failure at `now`, given the stored
/// count and time of the previous failure: it restarts at 1 when that
/// failure is older than `window`.
pub(crate) fn mfa_failure(
    before: Option<(u32, DateTime<Utc>)>,
    now: DateTime<Utc>,
    window: Duration,
) -> u32 {
    match before {
        Some((count, last)) if now - last <= window => count.saturating_add(1),
        _ => 1,
    }
}

/// Unconsumed, unexpired and with attempts left.
pub(crate) fn is_live(token: &OneTimeToken, now: DateTime<Utc>) -> bool {
    token.consumed_at.is_none() && now < token.expires_at && token.attempts < token.max_attempts
}

#[cfg(test)]
mod tests {
    use super::*;
    use authkit_core::secret::TokenHash;
    use authkit_core::session::{RefreshState, Rotation, Session, decide_rotation};
    use uuid::Uuid;

    fn session(now: DateTime<Utc>) -> Session {
        Session {
            id: Uuid::now_v7(),
            user_id: Uuid::now_v7(),
            ip: None,
            user_agent: None,
            created_at: now,
            last_seen_at: now,
            expires_at: now + Duration::hours(1),
            revoked_at: None,
            revoke_reason: None,
        }
    }

    fn req(presented: TokenHash, now: DateTime<Utc>, grace: i64) -> RotateRefresh {
        RotateRefresh {
            presented,
            replacement: TokenHash::of_token("next"),
            now,
            idle_timeout: Duration::minutes(30),
            reuse_grace: Duration::seconds(grace),
        }
    }

    const FRESH: RefreshState = RefreshState {
        rotated_at: None,
        replaced_by: None,
    };

    #[test]
    fn cutoffs_match_the_rotation_rules() {
        let now = Utc::now();
        let t = TokenHash::of_token("a");
        let cutoffs = RotationCutoffs::of(&req(t, now, 10));
        assert_eq!(cutoffs.live_after, now - Duration::minutes(30));
        assert_eq!(cutoffs.grace_after, Some(now - Duration::seconds(10)));
        assert_eq!(RotationCutoffs::of(&req(t, now, 0)).grace_after, None);
        assert_eq!(RotationCutoffs::of(&req(t, now, -5)).grace_after, None);

        // An idle timeout at the boundary is idle, as in `decide_rotation`.
        let s = session(now);
        let at = req(t, now + Duration::minutes(30), 0);
        let cut = RotationCutoffs::of(&at);
        assert!(s.last_seen_at <= cut.live_after);
        assert_eq!(decide_rotation(&at, &s, FRESH, Some(t)), Rotation::Invalid);

        let mut huge = req(t, now, 0);
        huge.idle_timeout = Duration::MAX;
        huge.reuse_grace = Duration::MAX;
        let cut = RotationCutoffs::of(&huge);
        assert_eq!(
            (cut.live_after, cut.grace_after),
            (EARLIEST, Some(EARLIEST))
        );
    }

    #[test]
    fn failures_count_restart_and_lock() {
        let now = Utc::now();
        let policy = LockoutPolicy {
            max_failures: 2,
            window: Duration::minutes(10),
            lock_for: Duration::minutes(15),
        };
        let none = Failures {
            count: 0,
            last_at: None,
            locked_until: None,
        };
        let (one, state) = failure(none, now, policy);
        assert_eq!((state.failures, state.locked_until), (1, None));
        let (two, state) = failure(one, now + Duration::minutes(10), policy);
        let until = now + Duration::minutes(25);
        assert_eq!((state.failures, state.locked_until), (2, Some(until)));
        assert_eq!(two.locked_until, Some(until));
        let (restarted, state) = failure(two, now + Duration::minutes(21), policy);
        assert_eq!((state.failures, state.locked_until), (1, Some(until)));
        assert_eq!(restarted.locked_until, Some(until));
        let (_, state) = failure(restarted, until + Duration::minutes(11), policy);
        assert_eq!(state.failures, 1);
        assert_eq!(state.locked_until, None, "a past lock is not reported");
    }

    #[test]
    fn mfa_failures_count_within_the_window_and_restart_after_it() {
        let now = Utc::now();
        let window = Duration::minutes(15);
        assert_eq!(mfa_failure(None, now, window), 1);
        assert_eq!(mfa_failure(Some((3, now)), now, window), 4);
        assert_eq!(mfa_failure(Some((3, now - window)), now, window), 4);
        assert_eq!(
            mfa_failure(Some((3, now - window - Duration::seconds(1))), now, window),
            1
        );
        assert_eq!(mfa_failure(Some((u32::MAX, now)), now, window), u32::MAX);
    }

    #[test]
    fn extreme_durations_saturate() {
        let max = DateTime::<Utc>::MAX_UTC;
        assert_eq!(saturating_add(max - Duration::days(1), Duration::MAX), max);
        assert_eq!(
            saturating_add(DateTime::<Utc>::MIN_UTC, Duration::MIN),
            DateTime::<Utc>::MIN_UTC
        );
    }
}
