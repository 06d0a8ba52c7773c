//! Fresh, isolated test databases for every backend.

use std::path::PathBuf;
use std::str::FromStr;

use authkit_core::store::Store;
use authkit_sqlx::{MySqlStore, PgStore, SqliteStore};
use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection};
use uuid::Uuid;

/// The PostgreSQL test URL, or `None` (with the reason printed) when the
/// tests should skip. Panics under `CI=true` without a URL.
pub fn postgres_url() -> Option<String> {
    test_url("AUTHKIT_TEST_POSTGRES_URL")
}

/// The MySQL test URL, as [`postgres_url`].
pub fn mysql_url() -> Option<String> {
    test_url("AUTHKIT_TEST_MYSQL_URL")
}

fn test_url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|ci| ci == "true") => {
            panic!("{var} must be set when CI=true")
        }
        _ => {
            eprintln!("skipped: set {var} to run this test against a real server");
            None
        }
    }
}

/// A unique name for a test schema or database.
pub fn unique_name() -> String {
    format!("authkit_t_{}", Uuid::now_v7().simple())
}

/// A migrated in-memory SQLite store.
pub async fn sqlite_memory() -> Store {
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    store.migrate().await.unwrap();
    Store::new(store)
}

/// A path for a fresh SQLite file under the target directory's scratch
/// space (left there for inspection; `cargo clean` removes it).
pub fn sqlite_path() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("authkit-sqlx-tests");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("{}.db", unique_name()))
}

/// A migrated SQLite store on a fresh file.
pub async fn sqlite_file() -> Store {
    let url = format!("sqlite://{}", sqlite_path().display());
    let store = SqliteStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    Store::new(store)
}

/// A PostgreSQL store confined to a fresh schema (through the connections'
/// `search_path`), not yet migrated. The schema is left behind: test
/// databases are disposable.
pub async fn fresh_postgres(url: &str) -> PgStore {
    fresh_postgres_with(url, PgPoolOptions::new()).await
}

/// [`fresh_postgres`] with custom pool options.
pub async fn fresh_postgres_with(url: &str, pool: PgPoolOptions) -> PgStore {
    let schema = unique_name();
    let mut admin = sqlx::PgConnection::connect(url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at the test URL is unreachable: {e}"));
    sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut admin)
        .await
        .unwrap();
    admin.close().await.unwrap();
    let options = PgConnectOptions::from_str(url)
        .unwrap()
        .options([("search_path", schema.as_str())]);
    PgStore::from_pool(pool.connect_with(options).await.unwrap())
}

/// A migrated PostgreSQL store in a fresh schema.
pub async fn postgres(url: String) -> Store {
    let store = fresh_postgres(&url).await;
    store.migrate().await.unwrap();
    Store::new(store)
}

/// A MySQL store on a fresh database, not yet migrated. The database is
/// left behind: test servers are disposable.
pub async fn fresh_mysql(url: &str) -> MySqlStore {
    fresh_mysql_with(url, MySqlPoolOptions::new()).await
}

/// [`fresh_mysql`] with custom pool options.
pub async fn fresh_mysql_with(url: &str, pool: MySqlPoolOptions) -> MySqlStore {
    let database = unique_name();
    let mut admin = sqlx::MySqlConnection::connect(url)
        .await
        .unwrap_or_else(|e| panic!("MySQL at the test URL is unreachable: {e}"));
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {database}")))
        .execute(&mut admin)
        .await
        .unwrap();
    admin.close().await.unwrap();
    let options = MySqlConnectOptions::from_str(url)
        .unwrap()
        .database(&database);
    MySqlStore::from_pool(pool.connect_with(options).await.unwrap())
}

/// A migrated MySQL store on a fresh database.
pub async fn mysql(url: String) -> Store {
    let store = fresh_mysql(&url).await;
    store.migrate().await.unwrap();
    Store::new(store)
}
