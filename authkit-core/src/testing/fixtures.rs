//! Records and helpers the checks build on.

use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use serde_json::json;
use tokio::sync::Barrier;
use uuid::Uuid;

use crate::audit::{AuditRecord, AuthEvent, RequestMeta};
use crate::email::Email;
use crate::one_time::{OneTimeToken, Purpose};
use crate::secret::{self, TokenHash};
use crate::session::{RotateRefresh, Session};
use crate::store::KeyRecord;
use crate::user::User;

/// Key for code hashes in the checks.
const CODE_KEY: &[u8] = b"conformance-code-key";

/// The current time in whole seconds, which every SQL column type keeps
/// exactly.
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

/// `n` seconds.
pub(crate) fn secs(n: i64) -> Duration {
    Duration::seconds(n)
}

/// A unique address, so checks never collide even on a shared database.
pub(crate) fn email() -> Email {
    Email::parse(&format!("user.{}@example.com", Uuid::now_v7().simple()))
        .expect("a generated address is valid")
}

/// A fresh account created at `now`, not yet stored.
pub(crate) fn user(now: DateTime<Utc>) -> User {
    User::new(email(), now)
}

/// The hash of a fresh random opaque token.
pub(crate) fn token_hash() -> TokenHash {
    TokenHash::of_token(&secret::token256())
}

/// The hash of `code` for (purpose, subject).
pub(crate) fn code_hash(purpose: Purpose, subject: &str, code: &str) -> TokenHash {
    TokenHash::of_code(CODE_KEY, purpose.as_str(), subject, code)
}

/// A session of `user_id` opened at `now`, valid for 30 days.
pub(crate) fn session(user_id: Uuid, now: DateTime<Utc>) -> Session {
    Session {
        id: Uuid::now_v7(),
        user_id,
        ip: Some("203.0.113.7".into()),
        user_agent: Some("Mozilla/5.0 (conformance) ünïcode".into()),
        created_at: now,
        last_seen_at: now,
        expires_at: now + Duration::days(30),
        revoked_at: None,
        revoke_reason: None,
    }
}

/// A rotation of `presented` at `now` to a fresh replacement, with a one-day
/// idle timeout and no grace.
pub(crate) fn rotation(presented: TokenHash, now: DateTime<Utc>) -> RotateRefresh {
    RotateRefresh {
        presented,
        replacement: token_hash(),
        now,
        idle_timeout: Duration::days(1),
        reuse_grace: Duration::zero(),
    }
}

/// A one-time token for (purpose, subject) issued at `now`, valid for an
/// hour, five attempts.
pub(crate) fn one_time(
    purpose: Purpose,
    subject: &str,
    hash: TokenHash,
    now: DateTime<Utc>,
) -> OneTimeToken {
    OneTimeToken {
        id: Uuid::now_v7(),
        purpose,
        subject: subject.into(),
        hash,
        payload: json!({ "pending": { "email": "new@example.com", "n": 1 } }),
        created_at: now,
        expires_at: now + Duration::hours(1),
        attempts: 0,
        max_attempts: 5,
        consumed_at: None,
    }
}

/// A unique subject.
pub(crate) fn new_subject() -> String {
    Uuid::now_v7().to_string()
}

/// An audit record of `event` at `at`.
pub(crate) fn audit(event: &AuthEvent, at: DateTime<Utc>) -> AuditRecord {
    AuditRecord::new(
        event,
        at,
        &RequestMeta::new(Some("198.51.100.4".into()), Some("agent/1.0".into())),
    )
}

/// An EdDSA key record named `kid`, created at `at`.
pub(crate) fn key(kid: &str, at: DateTime<Utc>) -> KeyRecord {
    KeyRecord {
        kid: kid.into(),
        algorithm: "EdDSA".into(),
        private_material: format!("-----BEGIN PRIVATE KEY-----\n{kid}\n-----END PRIVATE KEY-----"),
        created_at: at,
        retired_at: None,
    }
}

/// Runs `n` tasks made by `task`, released together, and returns their
/// results in task order.
pub(crate) async fn race<T, F>(n: usize, task: impl Fn(usize) -> F) -> Vec<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let start = Arc::new(Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let start = start.clone();
            let fut = task(i);
            tokio::spawn(async move {
                start.wait().await;
                fut.await
            })
        })
        .collect();
    let mut results = Vec::with_capacity(n);
    for handle in handles {
        results.push(handle.await.expect("a racing task panicked"));
    }
    results
}
