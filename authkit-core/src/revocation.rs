//! Revoked sessions, checked by [`Auth::authenticate`](crate::Auth::authenticate)
//! on every request without a store round trip.
//!
//! Access tokens are stateless JWTs: without this list a revoked session's
//! access token would keep working until it expires (up to the access-token
//! lifetime). Every flow that revokes sessions — logout, logout-all,
//! revoking a session, password change and reset, deactivation, refresh-token
//! reuse, a refresh that finds the account disabled — adds the session ids
//! here, and `authenticate` rejects their tokens with `token_invalid`.
//!
//! An entry only has to live as long as a token of that session can still
//! verify: the access-token lifetime plus the leeway, counted from the
//! revocation (a revoked session never gets a new token, since refresh
//! fails). So the list stays small: the sessions revoked in the last
//! quarter of an hour, by default.
//!
//! The default, [`MemoryRevocations`], holds this instance's revocations:
//! enough for one process. Behind several instances, use a shared feed
//! (`authkit-redis` provides one) so a revocation made on one instance is
//! seen by all within a bounded delay.

use std::collections::HashMap;
use std::fmt;
use std::sync::{PoisonError, RwLock};

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
