//! Sessions and their refresh-token families.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{MemoryStore, lock};
use crate::error::{AuthError, AuthResult};
use crate::secret::TokenHash;
use crate::session::{
    self, REFRESH_REUSED, RefreshState, RotateOutcome, RotateRefresh, Session, decide_rotation,
};
use crate::store::SessionStore;

/// A session with its refresh-token family.
#[derive(Debug)]
struct Family {
    session: Session,
    /// The one token that rotates normally.
    current: TokenHash,
    /// Every token ever issued to the session, current included.
    issued: Vec<TokenHash>,
}

/// What the store knows about one refresh token.
#[derive(Debug, Clone, Copy)]
struct Refresh {
    session_id: Uuid,
    /// Set once the token has been rotated.
    rotated: Option<Rotation>,
}

/// When a token was rotated and into what.
#[derive(Debug, Clone, Copy)]
struct Rotation {
    at: DateTime<Utc>,
    replaced_by: TokenHash,
}

/// Sessions by id and by user, and refresh tokens by hash.
#[derive(Debug, Default)]
pub(crate) struct SessionTable {
    by_id: HashMap<Uuid, Family>,
    by_user: HashMap<Uuid, HashSet<Uuid>>,
    refresh: HashMap<TokenHash, Refresh>,
}

impl SessionTable {
    /// Drops a session, its refresh tokens and its index entry.
    fn remove(&mut self, id: Uuid) {
        let Some(family) = self.by_id.remove(&id) else {
            return;
        };
        for hash in &family.issued {
            self.refresh.remove(hash);
        }
        let user_id = family.session.user_id;
        if let Some(ids) = self.by_user.get_mut(&user_id) {
            ids.remove(&id);
            if ids.is_empty() {
                self.by_user.remove(&user_id);
            }
        }
    }

    /// The user's sessions that are not revoked and not expired at `now`.
    fn open_of_user(&self, user_id: Uuid, now: DateTime<Utc>) -> Vec<&Session> {
        self.by_user
            .get(&user_id)
            .into_iter()
            .flatten()
            .filter_map(|id| self.by_id.get(id))
            .map(|family| &family.session)
            .filter(|session| is_open(session, now))
            .collect()
    }
}

/// Not revoked and not past its absolute expiry.
fn is_open(session: &Session, now: DateTime<Utc>) -> bool {
    session.revoked_at.is_none() && now < session.expires_at
}

fn revoke(session: &mut Session, now: DateTime<Utc>, reason: &str) {
    session.revoked_at = Some(now);
    session.revoke_reason = Some(reason.to_owned());
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn create_session(&self, session: &Session, refresh: &TokenHash) -> AuthResult<()> {
        let mut table = lock(&self.sessions);
        if table.by_id.contains_key(&session.id) || table.refresh.contains_key(refresh) {
            return Err(AuthError::internal_msg(
                "duplicate session id or refresh token",
            ));
        }
        table.refresh.insert(
            *refresh,
            Refresh {
                session_id: session.id,
                rotated: None,
            },
        );
        table
            .by_user
            .entry(session.user_id)
            .or_default()
            .insert(session.id);
        table.by_id.insert(
            session.id,
            Family {
                session: session.clone(),
                current: *refresh,
                issued: vec![*refresh],
            },
        );
        Ok(())
    }

    async fn session(&self, id: Uuid) -> AuthResult<Option<Session>> {
        Ok(lock(&self.sessions)
            .by_id
            .get(&id)
            .map(|family| family.session.clone()))
    }

    async fn session_by_refresh(&self, refresh: &TokenHash) -> AuthResult<Option<Session>> {
        let table = lock(&self.sessions);
        Ok(table
            .refresh
            .get(refresh)
            .and_then(|token| table.by_id.get(&token.session_id))
            .map(|family| family.session.clone()))
    }

    async fn session_by_current_refresh(&self, refresh: &TokenHash) -> AuthResult<Option<Session>> {
        let table = lock(&self.sessions);
        Ok(table
            .refresh
            .get(refresh)
            .filter(|token| token.rotated.is_none())
            .and_then(|token| table.by_id.get(&token.session_id))
            .map(|family| family.session.clone()))
    }

    async fn rotate_refresh(&self, req: &RotateRefresh) -> AuthResult<RotateOutcome> {
        let mut guard = lock(&self.sessions);
        let table = &mut *guard;
        let Some(presented) = table.refresh.get(&req.presented).copied() else {
            return Ok(RotateOutcome::Invalid);
        };
        let Some(family) = table.by_id.get_mut(&presented.session_id) else {
            return Ok(RotateOutcome::Invalid);
        };
        let state = RefreshState {
            rotated_at: presented.rotated.map(|rotation| rotation.at),
            replaced_by: presented.rotated.map(|rotation| rotation.replaced_by),
        };
        let retiring = match decide_rotation(req, &family.session, state, Some(family.current)) {
            session::Rotation::Invalid => return Ok(RotateOutcome::Invalid),
            session::Rotation::Reuse => {
                revoke(&mut family.session, req.now, REFRESH_REUSED);
                return Ok(RotateOutcome::Reused(family.session.clone()));
            }
            session::Rotation::Retire(retiring) => retiring,
        };

        if table.refresh.contains_key(&req.replacement) {
            return Err(AuthError::internal_msg("duplicate refresh token"));
        }
        let rotation = Rotation {
            at: req.now,
            replaced_by: req.replacement,
        };
        table.refresh.insert(
            retiring,
            Refresh {
                session_id: presented.session_id,
                rotated: Some(rotation),
            },
        );
        table.refresh.insert(
            req.replacement,
            Refresh {
                session_id: presented.session_id,
                rotated: None,
            },
        );
        family.current = req.replacement;
        family.issued.push(req.replacement);
        family.session.last_seen_at = req.now;
        Ok(RotateOutcome::Rotated(family.session.clone()))
    }

    async fn sessions_for_user(
        &self,
        user_id: Uuid,
        now: DateTime<Utc>,
    ) -> AuthResult<Vec<Session>> {
        let table = lock(&self.sessions);
        let mut sessions: Vec<Session> = table
            .open_of_user(user_id, now)
            .into_iter()
            .cloned()
            .collect();
        sessions.sort_by_key(|s| std::cmp::Reverse((s.created_at, s.id)));
        Ok(sessions)
    }

    async fn revoke_session(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        now: DateTime<Utc>,
        reason: &str,
    ) -> AuthResult<bool> {
        let mut table = lock(&self.sessions);
        match table.by_id.get_mut(&session_id) {
            Some(family) if family.session.user_id == user_id && is_open(&family.session, now) => {
                revoke(&mut family.session, now, reason);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn revoke_user_sessions(
        &self,
        user_id: Uuid,
        keep: Option<Uuid>,
        now: DateTime<Utc>,
        reason: &str,
    ) -> AuthResult<u64> {
        let mut table = lock(&self.sessions);
        let revoking: Vec<Uuid> = table
            .open_of_user(user_id, now)
            .iter()
            .map(|session| session.id)
            .filter(|id| keep != Some(*id))
            .collect();
        for id in &revoking {
            if let Some(family) = table.by_id.get_mut(id) {
                revoke(&mut family.session, now, reason);
            }
        }
        Ok(revoking.len() as u64)
    }

    async fn revoked_sessions_since(&self, since: DateTime<Utc>) -> AuthResult<Vec<Uuid>> {
        Ok(lock(&self.sessions)
            .by_id
            .values()
            .map(|family| &family.session)
            .filter(|s| s.revoked_at.is_some_and(|at| at > since) && s.expires_at > since)
            .map(|s| s.id)
            .collect())
    }

    async fn purge_sessions(&self, before: DateTime<Utc>) -> AuthResult<u64> {
        let mut table = lock(&self.sessions);
        let dead: Vec<Uuid> = table
            .by_id
            .values()
            .map(|family| &family.session)
            .filter(|s| s.expires_at < before || s.revoked_at.is_some_and(|at| at < before))
            .map(|s| s.id)
            .collect();
        for id in &dead {
            table.remove(*id);
        }
        Ok(dead.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

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

    fn rotation(presented: TokenHash, replacement: TokenHash, now: DateTime<Utc>) -> RotateRefresh {
        RotateRefresh {
            presented,
            replacement,
            now,
            idle_timeout: Duration::hours(1),
            reuse_grace: Duration::zero(),
        }
    }

    #[tokio::test]
    async fn purging_drops_every_refresh_token_and_index_entry() {
        let store = MemoryStore::new();
        let now = Utc::now();
        let s = session(now);
        let (r1, r2) = (TokenHash::of_token("r1"), TokenHash::of_token("r2"));
        store.create_session(&s, &r1).await.unwrap();
        store.rotate_refresh(&rotation(r1, r2, now)).await.unwrap();

        assert_eq!(
            store
                .purge_sessions(s.expires_at + Duration::seconds(1))
                .await
                .unwrap(),
            1
        );
        let table = lock(&store.sessions);
        assert!(table.by_id.is_empty());
        assert!(
            table.refresh.is_empty(),
            "rotated and current tokens are dropped"
        );
        assert!(
            table.by_user.is_empty(),
            "the user index holds no empty entry"
        );
    }

    #[tokio::test]
    async fn hash_and_id_collisions_are_refused_without_changes() {
        let store = MemoryStore::new();
        let now = Utc::now();
        let s = session(now);
        let (r1, r2) = (TokenHash::of_token("r1"), TokenHash::of_token("r2"));
        store.create_session(&s, &r1).await.unwrap();

        let other = session(now);
        for (session, hash) in [(&s, r2), (&other, r1)] {
            assert!(matches!(
                store.create_session(session, &hash).await,
                Err(AuthError::Internal(_))
            ));
        }
        assert_eq!(store.session(other.id).await.unwrap(), None);

        // A replacement equal to a known token would fork the family.
        assert!(matches!(
            store.rotate_refresh(&rotation(r1, r1, now)).await,
            Err(AuthError::Internal(_))
        ));
        assert!(matches!(
            store.rotate_refresh(&rotation(r1, r2, now)).await.unwrap(),
            RotateOutcome::Rotated(_)
        ));
    }
}
