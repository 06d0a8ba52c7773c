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
        Err(AuthError::Store(_))
    ));
    assert_eq!(
        store.sessions.session(other.id).await.unwrap(),
        None,
        "the failed session was rolled back with its token"
    );
}

/// A code set larger than one insert statement is stored whole, each
/// distinct code once; replacing it again leaves only the new set.
async fn large_backup_code_sets_are_replaced_whole(store: Store) {
    let now = Utc::now().trunc_subsecs(0);
    let account = user();
    store.users.create_user(&account).await.unwrap();
    let mut codes: Vec<_> = (0..1_200)
        .map(|i| TokenHash::of_token(&format!("code {i}")))
        .collect();
    codes.extend_from_within(..3);
    store
        .mfa
        .replace_backup_codes(account.id, &codes, now)
        .await
        .unwrap();
    assert_eq!(
        store.mfa.backup_codes_remaining(account.id).await.unwrap(),
        1_200,
        "duplicates are stored once"
    );
    assert!(
        store
            .mfa
            .consume_backup_code(account.id, &codes[1_199], now)
            .await
            .unwrap(),
        "a code from the second statement"
    );
    assert!(
        !store
            .mfa
            .consume_backup_code(account.id, &codes[1_199], now)
            .await
            .unwrap()
    );
    let fresh = [TokenHash::of_token("fresh")];
    store
        .mfa
        .replace_backup_codes(account.id, &fresh, now)
        .await
        .unwrap();
    assert_eq!(
        store.mfa.backup_codes_remaining(account.id).await.unwrap(),
        1
    );
}

/// MFA state of an account that has no `authkit_users` row (nothing to
/// lock) still follows the contract, concurrent first writes included.
async fn mfa_state_without_an_account_row(store: Store) {
    let now = Utc::now().trunc_subsecs(0);
    let id = Uuid::now_v7();
    let start = Arc::new(Barrier::new(20));
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (store, start) = (store.clone(), start.clone());
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            store
                .mfa
                .record_mfa_failure(id, now, Duration::minutes(15))
                .await
                .unwrap()
        }));
    }
    let mut counts = Vec::new();
    for task in tasks {
        counts.push(task.await.unwrap());
    }
    counts.sort_unstable();
    assert_eq!(counts, (1..=20).collect::<Vec<u32>>());
    let device = TokenHash::of_token("device");
    assert_eq!(
        store.mfa.remember_device(id, &device, now).await.unwrap(),
        authkit_core::store::DeviceSeen::First
    );
    assert_eq!(
        store.mfa.remember_device(id, &device, now).await.unwrap(),
        authkit_core::store::DeviceSeen::Known,
        "the same time again is still known"
    );
}

async fn all_rules(store: Store) {
    concurrent_issues_leave_one_live_token(store.clone()).await;
    large_backup_code_sets_are_replaced_whole(store.clone()).await;
    mfa_state_without_an_account_row(store.clone()).await;
    duplicate_ids_are_internal(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_memory_keeps_the_rules() {
    all_rules(databases::sqlite_memory().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_file_keeps_the_rules() {
    let (store, _file) = databases::sqlite_file().await;
    all_rules(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_keeps_the_rules() {
    let Some(url) = databases::postgres_url() else {
        return;
    };
    let (store, _schema) = databases::postgres(url).await;
    all_rules(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mysql_keeps_the_rules() {
    let Some(url) = databases::mysql_url() else {
        return;
    };
    let (store, _database) = databases::mysql(url).await;
    all_rules(store).await;
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
    let (store, _schema) = databases::fresh_postgres(&url).await;
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
async fn corrupt_rows_are_store_errors_keeping_the_decode_error() {
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
    assert!(is_decode_error(store.users.user_by_id(u.id).await));
    sqlx::query("UPDATE authkit_users SET roles = '[]', email = 'no at sign'")
        .execute(&pool)
        .await
        .unwrap();
    assert!(is_decode_error(store.users.user_by_id(u.id).await));
}

#[tokio::test]
async fn corrupt_mfa_rows_are_store_errors_keeping_the_decode_error() {
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    store.migrate().await.unwrap();
    let pool = store.pool().clone();
    let store = Store::new(store);
    let now = Utc::now().trunc_subsecs(0);
    let id = Uuid::now_v7();
    let record = authkit_core::store::TotpRecord {
        user_id: id,
        secret: b"ciphertext".to_vec(),
        params: authkit_core::mfa::TotpParams::default(),
        created_at: now,
        confirmed_at: None,
        last_step: None,
    };
    assert!(store.mfa.put_totp(&record).await.unwrap());
    assert_eq!(store.mfa.totp(id).await.unwrap(), Some(record));
    for sql in [
        "UPDATE authkit_totp SET algorithm = 'MD5'",
        "UPDATE authkit_totp SET algorithm = 'SHA1', digits = 300",
        "UPDATE authkit_totp SET digits = 6, period = -30",
        "UPDATE authkit_totp SET period = 30, last_step = -1",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
        assert!(is_decode_error(store.mfa.totp(id).await), "{sql}");
    }
}

/// A `Store` error whose source is the driver's decoding error.
fn is_decode_error<T>(result: Result<T, AuthError>) -> bool {
    matches!(&result, Err(err @ AuthError::Store(_))
        if std::error::Error::source(err)
            .and_then(|s| s.downcast_ref::<sqlx::Error>())
            .is_some_and(|e| matches!(e, sqlx::Error::ColumnDecode { .. })))
}
