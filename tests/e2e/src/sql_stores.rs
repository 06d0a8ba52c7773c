//! Fresh SQL stores for the cases that run on every backend: SQLite in
//! memory always; PostgreSQL (a new schema) and MySQL (a new database)
//! when `AUTHKIT_TEST_POSTGRES_URL` / `AUTHKIT_TEST_MYSQL_URL` are set.
//! Without a URL the backend is skipped with a printed reason, except under
//! `CI=true`, where a missing URL fails.

use std::str::FromStr;

use authkit_core::store::Store;
use authkit_sqlx::{MySqlStore, PgStore, SqliteStore};
use sqlx::{AssertSqlSafe, Connection};

/// Every available backend, by name, each migrated and empty.
pub async fn stores() -> Vec<(&'static str, Store)> {
    let sqlite = SqliteStore::connect("sqlite::memory:").await.unwrap();
    sqlite.migrate().await.unwrap();
    let mut stores = vec![("sqlite", Store::new(sqlite))];
    if let Some(url) = test_url("AUTHKIT_TEST_POSTGRES_URL") {
        let schema = unique_name();
        let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&mut admin)
            .await
            .unwrap();
        admin.close().await.unwrap();
        let options = sqlx::postgres::PgConnectOptions::from_str(&url)
            .unwrap()
            .options([("search_path", schema.as_str())]);
        let pool = sqlx::postgres::PgPoolOptions::new()
            .connect_with(options)
            .await
            .unwrap();
        let store = PgStore::from_pool(pool);
        store.migrate().await.unwrap();
        stores.push(("postgres", Store::new(store)));
    }
    if let Some(url) = test_url("AUTHKIT_TEST_MYSQL_URL") {
        let database = unique_name();
        let mut admin = sqlx::MySqlConnection::connect(&url).await.unwrap();
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {database}")))
            .execute(&mut admin)
            .await
            .unwrap();
        admin.close().await.unwrap();
        let options = sqlx::mysql::MySqlConnectOptions::from_str(&url)
            .unwrap()
            .database(&database);
        let pool = sqlx::mysql::MySqlPoolOptions::new()
            .connect_with(options)
            .await
            .unwrap();
        let store = MySqlStore::from_pool(pool);
        store.migrate().await.unwrap();
        stores.push(("mysql", Store::new(store)));
    }
    stores
}

fn unique_name() -> String {
    format!("authkit_e2e_{}", uuid::Uuid::now_v7().simple())
}

fn test_url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|ci| ci == "true") => {
            panic!("{var} must be set when CI=true")
        }
        _ => {
            eprintln!("skipped a backend: set {var} to run against a real server");
            None
        }
    }
}
