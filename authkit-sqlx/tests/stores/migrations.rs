//! Migrations apply to a fresh database, are idempotent, live in their own
//! table, and refuse a changed history.

use authkit_core::error::AuthError;
use authkit_sqlx::{MIGRATIONS_TABLE, MySqlStore, PgStore, SqliteStore};
use sqlx::AssertSqlSafe;

use crate::databases;

const TABLES: [&str; 10] = [
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
];

fn count_sql(table: &str) -> AssertSqlSafe<String> {
    AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}"))
}

#[tokio::test]
async fn sqlite_migrates_a_fresh_database_once() {
    let url = format!("sqlite://{}", databases::sqlite_path().display());
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

#[tokio::test]
async fn a_changed_applied_migration_is_refused() {
    let url = format!("sqlite://{}", databases::sqlite_path().display());
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
    let store = databases::fresh_postgres(&url).await;
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
    let store = databases::fresh_mysql(&url).await;
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
