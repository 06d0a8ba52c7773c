//! Rules the schema enforces beyond the conformance suite: append-only
//! audit log, one live one-time token per subject under concurrent issues,
//! duplicate ids, corrupt rows.

use std::sync::Arc;

use authkit_core::audit::{AuditRecord, AuthEvent, RequestMeta};
use authkit_core::email::Email;
use authkit_core::error::AuthError;
use authkit_core::one_time::{OneTimeToken, Purpose};
use authkit_core::secret::{self, TokenHash};
use authkit_core::store::Store;
use authkit_core::user::User;
use authkit_sqlx::SqliteStore;
use chrono::{Duration, SubsecRound, Utc};
use tokio::sync::Barrier;
use uuid::Uuid;

use crate::databases;

fn user() -> User {
    let email = Email::parse(&format!("u.{}@example.com", Uuid::now_v7().simple())).unwrap();
    User::new(email, Utc::now().trunc_subsecs(0))
}

/// 20 concurrent issues for one subject leave exactly one live token.
async fn concurrent_issues_leave_one_live_token(store: Store) {
    let now = Utc::now().trunc_subsecs(0);
    let subject = Uuid::now_v7().to_string();
    let start = Arc::new(Barrier::new(20));
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (store, subject, start) = (store.clone(), subject.clone(), start.clone());
        tasks.push(tokio::spawn(async move {
            let hash = TokenHash::of_token(&secret::token256());
            let token = OneTimeToken {
                id: Uuid::now_v7(),
                purpose: Purpose::ResetPassword,
                subject,
                hash,
                payload: serde_json::Value::Null,
                created_at: now,
                expires_at: now + Duration::hours(1),
                attempts: 0,
                max_attempts: 1,
                consumed_at: None,
            };
            start.wait().await;
            store.tokens.issue_token(&token).await.unwrap();
            hash
        }));
    }
    let mut hashes = Vec::new();
    for task in tasks {
        hashes.push(task.await.unwrap());
    }
    let mut live = 0;
    for hash in hashes {
        if store
            .tokens
            .find_token(Purpose::ResetPassword, &hash, now)
            .await
            .unwrap()
            .is_some()
        {
            live += 1;
        }
    }
    assert_eq!(live, 1, "newest-only holds under concurrent issues");
}

/// A second account with an existing id is a bug (`Internal`), not
/// `EmailTaken`; a session or refresh token stored twice likewise.
async fn duplicate_ids_are_internal(store: Store) {
    let first = user();
    store.users.create_user(&first).await.unwrap();
    let clash = User {
        email: user().email,
        ..first.clone()
    };
    assert!(matches!(
        store.users.create_user(&clash).await,
        Err(AuthError::Internal(_))
    ));
    assert_eq!(store.users.user_by_email(&clash.email).await.unwrap(), None);

    let now = Utc::now().trunc_subsecs(0);
    let session = authkit_core::session::Session {
        id: Uuid::now_v7(),
        user_id: first.id,
        ip: None,
        user_agent: None,
        created_at: now,
        last_seen_at: now,
        expires_at: now + Duration::hours(1),
        revoked_at: None,
        revoke_reason: None,
    };
    let refresh = TokenHash::of_token("r");
    store
        .sessions
        .create_session(&session, &refresh)
        .await
        .unwrap();
    let other = authkit_core::session::Session {
        id: Uuid::now_v7(),
        ..session.clone()
    };
    assert!(matches!(
        store.sessions.create_session(&other, &refresh).await,
        Err(AuthError::Internal(_))
    ));
    assert_eq!(
        store.sessions.session(other.id).await.unwrap(),
        None,
        "the failed session was rolled back with its token"
    );
}

async fn all_rules(store: Store) {
    concurrent_issues_leave_one_live_token(store.clone()).await;
    duplicate_ids_are_internal(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_memory_keeps_the_rules() {
    all_rules(databases::sqlite_memory().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_file_keeps_the_rules() {
    all_rules(databases::sqlite_file().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_keeps_the_rules() {
    let Some(url) = databases::postgres_url() else {
        return;
    };
    all_rules(databases::postgres(url).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mysql_keeps_the_rules() {
    let Some(url) = databases::mysql_url() else {
        return;
    };
    all_rules(databases::mysql(url).await).await;
}

fn record() -> AuditRecord {
    AuditRecord::new(
        &AuthEvent::PasswordChanged {
            user_id: Uuid::now_v7(),
        },
        Utc::now().trunc_subsecs(0),
        &RequestMeta::default(),
    )
}

#[tokio::test]
async fn sqlite_refuses_audit_updates_and_deletes() {
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    store.migrate().await.unwrap();
    let pool = store.pool().clone();
    let store = Store::new(store);
    store.audit.append_audit(&record()).await.unwrap();
    for sql in [
        "UPDATE authkit_audit_log SET event = 'tampered'",
        "DELETE FROM authkit_audit_log",
    ] {
        let err = sqlx::query(sql).execute(&pool).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    assert_eq!(
        store
            .audit
            .audit_records(&Default::default())
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn postgres_refuses_audit_updates_deletes_and_truncates() {
    let Some(url) = databases::postgres_url() else {
        return;
    };
    let store = databases::fresh_postgres(&url).await;
    store.migrate().await.unwrap();
    let pool = store.pool().clone();
    let store = Store::new(store);
    store.audit.append_audit(&record()).await.unwrap();
    for sql in [
        "UPDATE authkit_audit_log SET event = 'tampered'",
        "DELETE FROM authkit_audit_log",
        "TRUNCATE authkit_audit_log",
    ] {
        let err = sqlx::query(sql).execute(&pool).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    assert_eq!(
        store
            .audit
            .audit_records(&Default::default())
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn corrupt_rows_are_internal_errors() {
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    store.migrate().await.unwrap();
    let pool = store.pool().clone();
    let store = Store::new(store);
    let u = user();
    store.users.create_user(&u).await.unwrap();
    sqlx::query("UPDATE authkit_users SET roles = 'not json'")
        .execute(&pool)
        .await
        .unwrap();
    assert!(matches!(
        store.users.user_by_id(u.id).await,
        Err(AuthError::Internal(_))
    ));
    sqlx::query("UPDATE authkit_users SET roles = '[]', email = 'no at sign'")
        .execute(&pool)
        .await
        .unwrap();
    assert!(matches!(
        store.users.user_by_id(u.id).await,
        Err(AuthError::Internal(_))
    ));
}
