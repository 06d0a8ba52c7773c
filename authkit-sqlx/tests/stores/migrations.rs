//! Migrations apply to a fresh database, are idempotent, live in their own
//! table, and refuse a changed history.

use authkit_core::email::Email;
use authkit_core::error::AuthError;
use authkit_core::store::Store;
use authkit_core::user::User;
use authkit_sqlx::{MIGRATIONS_TABLE, MySqlStore, PgStore, SqliteStore};
use chrono::{SubsecRound, Utc};
use sqlx::AssertSqlSafe;
use sqlx::migrate::Migrator;

use crate::databases;

const TABLES: [&str; 11] = [
    "authkit_users",
    "authkit_sessions",
    "authkit_refresh_tokens",
    "authkit_one_time_tokens",
    "authkit_audit_log",
    "authkit_signing_keys",
    "authkit_totp",
    "authkit_backup_codes",
    "authkit_mfa_failures",
    "authkit_known_devices",
    "authkit_identities",
];

fn count_sql(table: &str) -> AssertSqlSafe<String> {
    AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}"))
}

#[tokio::test]
async fn sqlite_migrates_a_fresh_database_once() {
    let (path, _file) = databases::sqlite_path();
    let url = format!("sqlite://{}", path.display());
    let store = SqliteStore::connect(&url).await.unwrap();
    for table in TABLES {
        assert!(
            sqlx::query(count_sql(table))
                .execute(store.pool())
                .await
                .is_err(),
            "{table} exists before migrating"
        );
    }
    store.migrate().await.unwrap();
    store.migrate().await.expect("migrating twice is a no-op");
    for table in TABLES {
        let rows: i64 = sqlx::query_scalar(count_sql(table))
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(rows, 0, "{table} exists and is empty");
    }
    let applied: i64 = sqlx::query_scalar(count_sql(MIGRATIONS_TABLE))
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(applied, SqliteStore::migrator().iter().count() as i64);

    // A second store on the same file sees the schema as up to date.
    let again = SqliteStore::connect(&url).await.unwrap();
    again.migrate().await.unwrap();
}

/// A database created by the first release upgrades in place: its data
/// stays and the MFA tables arrive.
#[tokio::test]
async fn a_first_release_database_upgrades_in_place() {
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    let first = SqliteStore::migrator().iter().next().unwrap().clone();
    assert_eq!(first.version, 1);
    let mut initial = Migrator::with_migrations(vec![first]);
    initial.dangerous_set_table_name(MIGRATIONS_TABLE);
    initial.run(store.pool()).await.unwrap();
    assert!(
        sqlx::query("SELECT COUNT(*) FROM authkit_totp")
            .execute(store.pool())
            .await
            .is_err(),
        "no MFA tables in the first release"
    );
    let pool = store.pool().clone();
    let store = Store::new(store);
    let user = User::new(
        Email::parse("old@example.com").unwrap(),
        Utc::now().trunc_subsecs(0),
    );
    store.users.create_user(&user).await.unwrap();

    SqliteStore::from_pool(pool).migrate().await.unwrap();
    assert_eq!(
        store.users.user_by_id(user.id).await.unwrap().as_ref(),
        Some(&user)
    );
    assert_eq!(store.mfa.totp(user.id).await.unwrap(), None);
    assert_eq!(store.mfa.backup_codes_remaining(user.id).await.unwrap(), 0);
    assert!(
        store
            .identities
            .identities_for_user(user.id)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_changed_applied_migration_is_refused() {
    let (path, _file) = databases::sqlite_path();
    let url = format!("sqlite://{}", path.display());
    let store = SqliteStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    sqlx::query(AssertSqlSafe(format!(
        "UPDATE {MIGRATIONS_TABLE} SET checksum = x'00'"
    )))
    .execute(store.pool())
    .await
    .unwrap();
    assert!(matches!(store.migrate().await, Err(AuthError::Internal(_))));
}

#[tokio::test]
async fn the_host_applications_migration_table_is_left_alone() {
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    sqlx::query("CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY)")
        .execute(store.pool())
        .await
        .unwrap();
    sqlx::query("INSERT INTO _sqlx_migrations (version) VALUES (1), (20240101)")
        .execute(store.pool())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let host: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(host, 2);
}

#[tokio::test]
async fn connect_picks_the_backend_and_migrates() {
    let store = authkit_sqlx::connect("sqlite::memory:").await.unwrap();
    assert!(store.keys.signing_keys().await.unwrap().is_empty());
}

#[tokio::test]
async fn postgres_migrates_a_fresh_schema_once() {
    let Some(url) = databases::postgres_url() else {
        return;
    };
    let (store, _schema) = databases::fresh_postgres(&url).await;
    store.migrate().await.unwrap();
    store.migrate().await.expect("migrating twice is a no-op");
    for table in TABLES {
        let rows: i64 = sqlx::query_scalar(count_sql(table))
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(rows, 0, "{table} exists and is empty");
    }
    let applied: i64 = sqlx::query_scalar(count_sql(MIGRATIONS_TABLE))
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(applied, PgStore::migrator().iter().count() as i64);
}

#[tokio::test]
async fn mysql_migrates_a_fresh_database_once() {
    let Some(url) = databases::mysql_url() else {
        return;
    };
    let (store, _database) = databases::fresh_mysql(&url).await;
    store.migrate().await.unwrap();
    store.migrate().await.expect("migrating twice is a no-op");
    for table in TABLES {
        let rows: i64 = sqlx::query_scalar(count_sql(table))
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(rows, 0, "{table} exists and is empty");
    }
    let applied: i64 = sqlx::query_scalar(count_sql(MIGRATIONS_TABLE))
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(applied, MySqlStore::migrator().iter().count() as i64);
}
