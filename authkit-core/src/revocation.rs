//! Revoked sessions, checked by [`Auth::authenticate`](crate::Auth::authenticate)
//! on every request without a store round trip.
//!
//! Access tokens are stateless JWTs: without this list a revoked session's
//! access token would keep working until it expires (up to the access-token
//! lifetime). Every flow that revokes sessions — logout, logout-all,
//! revoking a session, password change and reset, deactivation, an
//! administrator's lock, deactivation or session revocation, refresh-token
//! reuse, a refresh that finds the account disabled — adds the session ids
//! here, and `authenticate` rejects their tokens with `token_invalid`.
//!
//! The list survives a restart: at start-up
//! [`AuthBuilder::build`](crate::AuthBuilder::build) reads the sessions the
//! store shows revoked within the last access-token lifetime plus leeway
//! ([`SessionStore::revoked_sessions_since`](crate::store::SessionStore::revoked_sessions_since))
//! and [`revoke`](RevocationList::revoke)s them again.
//!
//! An entry only has to live as long as a token of that session can still
//! verify: the access-token lifetime plus the leeway, counted from the
//! revocation (a revoked session never gets a new token, since refresh
//! fails). So the list stays small: the sessions revoked in the last
//! quarter of an hour, by default.
//!
//! The same list carries **account changes**: `/me` answers from an
//! in-process cache, and every write through authkit that changes what
//! `/me` shows (profile, roles, MFA state) records the account here, so a
//! cached view read before the change is never served after it.
//!
//! The default, [`MemoryRevocations`], holds this instance's revocations
//! and changes: enough for one process. Behind several instances, use a
//! shared feed (`authkit-redis` provides one) so a revocation or change
//! made on one instance is seen by all within a bounded delay.

use std::collections::HashMap;
use std::fmt;
use std::sync::{PoisonError, RwLock};
use std::time::Instant;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::{AuthError, AuthResult};

/// The revoked sessions an instance knows of.
///
/// [`check`](Self::check) runs on every authenticated request, so it must
/// answer from memory; [`revoke`](Self::revoke) runs when this instance
/// revokes sessions and may talk to a shared backend.
#[async_trait]
pub trait RevocationList: Send + Sync {
    /// `Ok` when `session_id` is not known to be revoked at `now`;
    /// `TokenInvalid` when it is; `StoreUnavailable` when the list cannot
    /// vouch for being current and is configured to fail closed.
    ///
    /// # Errors
    /// As above.
    fn check(&self, session_id: Uuid, now: DateTime<Utc>) -> AuthResult<()>;

    /// Records sessions this instance revoked, to be refused until `until`
    /// (after which no access token of theirs verifies anyway). Takes
    /// effect locally before returning; a shared implementation also
    /// publishes them, retrying in the background if its backend is down.
    async fn revoke(&self, session_ids: &[Uuid], until: DateTime<Utc>);

    /// Records that these accounts changed (on this instance), so views of
    /// them read before now are stale; a shared implementation also
    /// publishes the change. Remembered until `until`, after which no
    /// cached view from before it is served anyway. The default records
    /// nothing.
    async fn accounts_changed(&self, user_ids: &[Uuid], until: DateTime<Utc>) {
        let _ = (user_ids, until);
    }

    /// Whether `user_id` changed at or after `since`, as far as this
    /// instance knows. Runs on every cached `/me`, so it must answer from
    /// memory. The default answers `true` (a list that does not track
    /// changes cannot vouch for a cached view, so none is served).
    fn account_changed_since(&self, user_id: Uuid, since: Instant) -> bool {
        let _ = (user_id, since);
        true
    }
}

/// In-process revocation list: a map of session id to the time its entry
/// may be forgotten.
///
/// Checks take a read lock and one hash lookup (nothing at all while the
/// list is empty). Expired entries are swept on insertion once the map has
/// doubled since the last sweep, so memory follows the revocation rate, not
/// the uptime. Shared backends reuse it as their local copy.
#[derive(Default)]
pub struct MemoryRevocations {
    state: RwLock<State>,
}

#[derive(Default)]
struct State {
    entries: HashMap<Uuid, DateTime<Utc>>,
    sweep_at: usize,
    /// Account id -> when this instance learnt of its latest change, and
    /// when that may be forgotten.
    changes: HashMap<Uuid, (Instant, DateTime<Utc>)>,
    changes_sweep_at: usize,
}

/// The fewest entries before sweeps start.
const SWEEP_MIN: usize = 1024;

impl MemoryRevocations {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `session_id` is revoked at `now`.
    pub fn is_revoked(&self, session_id: Uuid, now: DateTime<Utc>) -> bool {
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        state
            .entries
            .get(&session_id)
            .is_some_and(|until| *until > now)
    }

    /// Adds `session_ids`, refused until `until` (an existing entry keeps
    /// the later of the two times).
    pub fn insert(&self, session_ids: impl IntoIterator<Item = Uuid>, until: DateTime<Utc>) {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        for id in session_ids {
            let entry = state.entries.entry(id).or_insert(until);
            if *entry < until {
                *entry = until;
            }
        }
        if state.entries.len() >= state.sweep_at.max(SWEEP_MIN) {
            let now = Utc::now();
            state.entries.retain(|_, until| *until > now);
            state.entries.shrink_to_fit();
            state.sweep_at = state.entries.len() * 2;
        }
    }

    /// Records that `user_ids` changed now (see
    /// [`RevocationList::accounts_changed`]); shared backends call this for
    /// the changes they read from other instances.
    pub fn record_changes(&self, user_ids: impl IntoIterator<Item = Uuid>, until: DateTime<Utc>) {
        let at = Instant::now();
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        for id in user_ids {
            let entry = state.changes.entry(id).or_insert((at, until));
            *entry = (at, entry.1.max(until));
        }
        if state.changes.len() >= state.changes_sweep_at.max(SWEEP_MIN) {
            let now = Utc::now();
            state.changes.retain(|_, (_, until)| *until > now);
            state.changes.shrink_to_fit();
            state.changes_sweep_at = state.changes.len() * 2;
        }
    }

    /// Whether `user_id` was recorded as changed at or after `since`.
    pub fn changed_since(&self, user_id: Uuid, since: Instant) -> bool {
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        state
            .changes
            .get(&user_id)
            .is_some_and(|(at, _)| *at >= since)
    }

    /// Entries held, expired or not (for tests and metrics).
    pub fn len(&self) -> usize {
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        state.entries.len()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Debug for MemoryRevocations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryRevocations")
            .field("entries", &self.len())
            .finish()
    }
}

#[async_trait]
impl RevocationList for MemoryRevocations {
    fn check(&self, session_id: Uuid, now: DateTime<Utc>) -> AuthResult<()> {
        if self.is_revoked(session_id, now) {
            Err(AuthError::TokenInvalid)
        } else {
            Ok(())
        }
    }

    async fn revoke(&self, session_ids: &[Uuid], until: DateTime<Utc>) {
        self.insert(session_ids.iter().copied(), until);
    }

    async fn accounts_changed(&self, user_ids: &[Uuid], until: DateTime<Utc>) {
        self.record_changes(user_ids.iter().copied(), until);
    }

    fn account_changed_since(&self, user_id: Uuid, since: Instant) -> bool {
        self.changed_since(user_id, since)
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    #[tokio::test]
    async fn revoked_sessions_are_refused_until_their_entry_expires() {
        let list = MemoryRevocations::new();
        let now = Utc::now();
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        list.check(a, now).unwrap();
        list.revoke(&[a], now + Duration::minutes(15)).await;
        assert_eq!(list.check(a, now).unwrap_err().code(), "token_invalid");
        list.check(b, now).unwrap();
        // Past the entry's end, no token of the session can verify anyway.
        list.check(a, now + Duration::minutes(15)).unwrap();
        // A later revocation of the same session extends, never shortens.
        list.revoke(&[a], now + Duration::minutes(1)).await;
        assert!(list.is_revoked(a, now + Duration::minutes(10)));
        assert_eq!(list.len(), 1);
    }

    #[test]
    fn expired_entries_are_swept_as_the_list_grows() {
        let list = MemoryRevocations::new();
        let past = Utc::now() - Duration::seconds(1);
        list.insert((0..SWEEP_MIN - 1).map(|_| Uuid::now_v7()), past);
        assert_eq!(list.len(), SWEEP_MIN - 1);
        let live = Uuid::now_v7();
        list.insert([live], Utc::now() + Duration::minutes(5));
        assert_eq!(list.len(), 1, "the expired entries were dropped");
        assert!(list.is_revoked(live, Utc::now()));
    }

    #[tokio::test]
    async fn a_change_makes_earlier_reads_stale_and_later_ones_fresh() {
        let list = MemoryRevocations::new();
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let before = Instant::now();
        assert!(!list.account_changed_since(a, before));
        list.accounts_changed(&[a], Utc::now() + Duration::seconds(30))
            .await;
        assert!(
            list.account_changed_since(a, before),
            "read before the change"
        );
        assert!(!list.account_changed_since(b, before), "another account");
        let after = Instant::now();
        assert!(
            !list.account_changed_since(a, after),
            "read after the change"
        );
    }

    #[test]
    fn forgotten_changes_are_swept_as_the_map_grows() {
        let list = MemoryRevocations::new();
        let past = Utc::now() - Duration::seconds(1);
        list.record_changes((0..SWEEP_MIN - 1).map(|_| Uuid::now_v7()), past);
        let live = Uuid::now_v7();
        let since = Instant::now();
        list.record_changes([live], Utc::now() + Duration::minutes(1));
        let state = list.state.read().unwrap();
        assert_eq!(state.changes.len(), 1, "the expired changes were dropped");
        drop(state);
        assert!(list.changed_since(live, since));
    }

    #[test]
    fn a_list_that_does_not_track_changes_vouches_for_nothing() {
        struct Bare;
        #[async_trait]
        impl RevocationList for Bare {
            fn check(&self, _: Uuid, _: DateTime<Utc>) -> AuthResult<()> {
                Ok(())
            }
            async fn revoke(&self, _: &[Uuid], _: DateTime<Utc>) {}
        }
        assert!(Bare.account_changed_since(Uuid::now_v7(), Instant::now()));
    }

    #[test]
    fn concurrent_inserts_and_checks_agree() {
        let list = MemoryRevocations::new();
        let until = Utc::now() + Duration::minutes(5);
        let ids: Vec<Uuid> = (0..64).map(|_| Uuid::now_v7()).collect();
        std::thread::scope(|scope| {
            for chunk in ids.chunks(8) {
                let list = &list;
                scope.spawn(move || list.insert(chunk.iter().copied(), until));
            }
        });
        let now = Utc::now();
        assert!(ids.iter().all(|id| list.is_revoked(*id, now)));
    }
}
