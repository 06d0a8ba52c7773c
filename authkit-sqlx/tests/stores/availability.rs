//! An unreachable database is `StoreUnavailable`, quickly; a pool whose
//! connections were killed recovers without a restart.

use std::time::Duration;

use authkit_core::api::status_and_title;
use authkit_core::error::AuthError;
use authkit_core::store::Store;
use authkit_sqlx::{MySqlStore, PgStore};
use sqlx::AssertSqlSafe;
use sqlx::mysql::MySqlPoolOptions;
use sqlx::postgres::PgPoolOptions;
use uuid::Uuid;

use crate::databases;

/// A local port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// `StoreUnavailable`, with the driver's error kept as its source.
fn unavailable<T: std::fmt::Debug>(result: Result<T, AuthError>) -> bool {
    matches!(&result, Err(err @ AuthError::StoreUnavailable(_))
        if std::error::Error::source(err).is_some_and(|s| s.is::<sqlx::Error>()))
}

#[tokio::test]
async fn connecting_to_a_closed_port_is_unavailable() {
    // `connect` keeps retrying for its 5-second acquire timeout: run both
    // backends at once.
    let port = closed_port();
    let pg = format!("postgres://postgres@127.0.0.1:{port}/test");
    let my = format!("mysql://root@127.0.0.1:{port}/test");
    let (pg, my) = tokio::join!(authkit_sqlx::connect(&pg), authkit_sqlx::connect(&my));
    assert!(unavailable(pg));
    assert!(unavailable(my));
}

#[tokio::test]
async fn calls_on_a_pool_that_cannot_connect_are_unavailable() {
    let port = closed_port();
    let pg = PgPoolOptions::new()
        .acquire_timeout(Duration::from_millis(300))
        .connect_lazy(&format!("postgres://postgres@127.0.0.1:{port}/test"))
        .unwrap();
    let my = MySqlPoolOptions::new()
        .acquire_timeout(Duration::from_millis(300))
        .connect_lazy(&format!("mysql://root@127.0.0.1:{port}/test"))
        .unwrap();
    for store in [
        Store::new(PgStore::from_pool(pg)),
        Store::new(MySqlStore::from_pool(my)),
    ] {
        assert!(unavailable(store.users.user_by_id(Uuid::now_v7()).await));
        assert!(unavailable(
            store.sessions.purge_sessions(chrono::Utc::now()).await
        ));
        let err = store.keys.signing_keys().await.unwrap_err();
        assert_eq!(
            (status_and_title(&err).0.as_u16(), err.code()),
            (503, "store_unavailable")
        );
    }
}

#[tokio::test]
async fn a_malformed_url_is_internal() {
    assert!(matches!(
        PgStore::connect("postgres://[::1").await,
        Err(AuthError::Internal(_))
    ));
}

#[tokio::test]
async fn postgres_pool_recovers_after_its_connections_are_killed() {
    let Some(url) = databases::postgres_url() else {
        return;
    };
    let (store, _schema) =
        databases::fresh_postgres_with(&url, PgPoolOptions::new().max_connections(1)).await;
    store.migrate().await.unwrap();
    let backend = store.clone();
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(backend.pool())
        .await
        .unwrap();

    let admin = PgStore::connect(&url).await.unwrap();
    let killed: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .fetch_one(admin.pool())
        .await
        .unwrap();
    assert!(killed, "the store's connection was terminated");

    let store = Store::new(store);
    assert_eq!(store.users.user_by_id(Uuid::now_v7()).await.unwrap(), None);
    let new_pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(backend.pool())
        .await
        .unwrap();
    assert_ne!(new_pid, pid, "the pool reconnected");
}

#[tokio::test]
async fn mysql_pool_recovers_after_its_connections_are_killed() {
    let Some(url) = databases::mysql_url() else {
        return;
    };
    let (store, _database) =
        databases::fresh_mysql_with(&url, MySqlPoolOptions::new().max_connections(1)).await;
    store.migrate().await.unwrap();
    let backend = store.clone();
    let id: u64 = sqlx::query_scalar("SELECT CONNECTION_ID()")
        .fetch_one(backend.pool())
        .await
        .unwrap();

    let admin = MySqlStore::connect(&url).await.unwrap();
    sqlx::query(AssertSqlSafe(format!("KILL {id}")))
        .execute(admin.pool())
        .await
        .unwrap();

    let store = Store::new(store);
    assert_eq!(store.users.user_by_id(Uuid::now_v7()).await.unwrap(), None);
    let new_id: u64 = sqlx::query_scalar("SELECT CONNECTION_ID()")
        .fetch_one(backend.pool())
        .await
        .unwrap();
    assert_ne!(new_id, id, "the pool reconnected");
}
