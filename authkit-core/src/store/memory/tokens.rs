//! One-time secrets, by (purpose, hash) and by (purpose, subject).

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{MemoryStore, lock};
use crate::error::{AuthError, AuthResult};
use crate::one_time::{CodeCheck, OneTimeToken, Purpose};
use crate::secret::TokenHash;
use crate::store::OneTimeTokenStore;

/// One-time tokens with their lookup indexes.
///
/// Issuing kills every older unconsumed token of its (purpose, subject), so
/// the newest issued token is the only one of its subject that can be live:
/// `newest` points at it.
#[derive(Debug, Default)]
pub(crate) struct TokenTable {
    by_id: HashMap<Uuid, OneTimeToken>,
    by_hash: HashMap<(Purpose, TokenHash), Uuid>,
    newest: HashMap<Purpose, HashMap<String, Uuid>>,
}

impl TokenTable {
    /// The newest token of (purpose, subject), if it is live at `now`.
    fn newest_live(
        &mut self,
        purpose: Purpose,
        subject: &str,
        now: DateTime<Utc>,
    ) -> Option<&mut OneTimeToken> {
        let id = self.newest.get(&purpose)?.get(subject)?;
        self.by_id.get_mut(id).filter(|token| is_live(token, now))
    }

    /// Drops a token and the index entries that still point at it.
    fn remove(&mut self, id: Uuid) {
        let Some(token) = self.by_id.remove(&id) else {
            return;
        };
        let key = (token.purpose, token.hash);
        if self.by_hash.get(&key) == Some(&id) {
            self.by_hash.remove(&key);
        }
        if let Some(subjects) = self.newest.get_mut(&token.purpose)
            && subjects.get(&token.subject) == Some(&id)
        {
            subjects.remove(&token.subject);
        }
    }
}

/// Unconsumed, unexpired and with attempts left.
fn is_live(token: &OneTimeToken, now: DateTime<Utc>) -> bool {
    token.consumed_at.is_none() && now < token.expires_at && token.attempts < token.max_attempts
}

#[async_trait]
impl OneTimeTokenStore for MemoryStore {
    async fn issue_token(&self, token: &OneTimeToken) -> AuthResult<()> {
        let mut guard = lock(&self.tokens);
        let table = &mut *guard;
        if table.by_id.contains_key(&token.id) {
            return Err(AuthError::internal_msg("duplicate one-time token id"));
        }
        let previous = table
            .newest
            .entry(token.purpose)
            .or_default()
            .insert(token.subject.clone(), token.id);
        if let Some(older) = previous.and_then(|id| table.by_id.get_mut(&id))
            && older.consumed_at.is_none()
        {
            older.consumed_at = Some(token.created_at);
        }
        table.by_hash.insert((token.purpose, token.hash), token.id);
        table.by_id.insert(token.id, token.clone());
        Ok(())
    }

    async fn consume_token(
        &self,
        purpose: Purpose,
        hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> AuthResult<Option<OneTimeToken>> {
        let mut guard = lock(&self.tokens);
        let table = &mut *guard;
        let token = table
            .by_hash
            .get(&(purpose, *hash))
            .and_then(|id| table.by_id.get_mut(id))
            .filter(|token| is_live(token, now));
        Ok(token.map(|token| {
            token.consumed_at = Some(now);
            token.clone()
        }))
    }

    async fn find_token(
        &self,
        purpose: Purpose,
        hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> AuthResult<Option<OneTimeToken>> {
        let table = lock(&self.tokens);
        Ok(table
            .by_hash
            .get(&(purpose, *hash))
            .and_then(|id| table.by_id.get(id))
            .filter(|token| is_live(token, now))
            .cloned())
    }

    async fn check_code(
        &self,
        purpose: Purpose,
        subject: &str,
        hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> AuthResult<CodeCheck> {
        let mut table = lock(&self.tokens);
        let Some(token) = table.newest_live(purpose, subject, now) else {
            return Ok(CodeCheck::Missing);
        };
        if token.hash.ct_eq(hash) {
            token.consumed_at = Some(now);
            return Ok(CodeCheck::Accepted(token.clone()));
        }
        token.attempts = token.attempts.saturating_add(1);
        Ok(CodeCheck::Rejected {
            attempts_left: token.max_attempts.saturating_sub(token.attempts),
        })
    }

    async fn peek_token(
        &self,
        purpose: Purpose,
        subject: &str,
        now: DateTime<Utc>,
    ) -> AuthResult<Option<OneTimeToken>> {
        let mut table = lock(&self.tokens);
        Ok(table.newest_live(purpose, subject, now).map(|t| t.clone()))
    }

    async fn purge_tokens(&self, before: DateTime<Utc>) -> AuthResult<u64> {
        let mut table = lock(&self.tokens);
        let dead: Vec<Uuid> = table
            .by_id
            .values()
            .filter(|t| t.expires_at < before || t.consumed_at.is_some_and(|at| at < before))
            .map(|t| t.id)
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

    fn code(subject: &str, hash: TokenHash, now: DateTime<Utc>) -> OneTimeToken {
        OneTimeToken {
            id: Uuid::now_v7(),
            purpose: Purpose::VerifyEmailCode,
            subject: subject.into(),
            hash,
            payload: serde_json::Value::Null,
            created_at: now,
            expires_at: now + Duration::minutes(10),
            attempts: 0,
            max_attempts: 5,
            consumed_at: None,
        }
    }

    #[tokio::test]
    async fn purging_a_superseded_token_keeps_its_successor_reachable() {
        // Two codes for one subject can hash alike (same digits drawn twice).
        let store = MemoryStore::new();
        let now = Utc::now();
        let hash = TokenHash::of_code(b"k", "verify_email_code", "u1", "123456");
        let first = code("u1", hash, now - Duration::hours(2));
        let second = code("u1", hash, now);
        store.issue_token(&first).await.unwrap();
        store.issue_token(&second).await.unwrap();

        assert_eq!(
            store.purge_tokens(now - Duration::hours(1)).await.unwrap(),
            1
        );
        let table = lock(&store.tokens);
        assert_eq!(table.by_id.len(), 1);
        assert_eq!(table.by_hash.get(&(second.purpose, hash)), Some(&second.id));
        assert_eq!(
            table.newest[&second.purpose].get("u1"),
            Some(&second.id),
            "the subject index still names the live token"
        );
    }

    #[tokio::test]
    async fn a_duplicate_id_is_refused() {
        let store = MemoryStore::new();
        let now = Utc::now();
        let token = code("u1", TokenHash::of_token("a"), now);
        store.issue_token(&token).await.unwrap();
        let clash = code("u2", TokenHash::of_token("b"), now);
        let clash = OneTimeToken {
            id: token.id,
            ..clash
        };
        assert!(matches!(
            store.issue_token(&clash).await,
            Err(AuthError::Internal(_))
        ));
        assert_eq!(
            store.peek_token(token.purpose, "u1", now).await.unwrap(),
            Some(token)
        );
    }
}
