//! How `SqliteStore::connect` opens a database file.

use authkit_sqlx::SqliteStore;
use sqlx::SqliteConnection;

use crate::databases;

/// A store on a fresh database file (removed with the guard).
async fn file_store() -> (SqliteStore, databases::TempDatabase) {
    let (path, file) = databases::sqlite_path();
    let store = SqliteStore::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    (store, file)
}

/// `connection` is in WAL mode with `synchronous = NORMAL`.
async fn assert_wal_with_normal_sync(connection: &mut SqliteConnection) {
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut *connection)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(&mut *connection)
        .await
        .unwrap();
    assert_eq!(sync, 1, "NORMAL");
}

/// A file is opened in WAL mode with `synchronous = NORMAL` on every
/// pooled connection (the documented durability trade-off).
#[tokio::test]
async fn a_file_uses_wal_with_normal_sync() {
    let (store, _file) = file_store().await;
    let mut connections = Vec::new();
    for _ in 0..3 {
        connections.push(store.pool().acquire().await.unwrap());
    }
    for connection in &mut connections {
        assert_wal_with_normal_sync(connection).await;
    }
}

/// A file writes through a pool of one connection (writers queue in
/// order, in-process) that uses the same pragmas, and reads through a
/// larger pool of their own.
#[tokio::test]
async fn a_file_writes_through_one_connection() {
    let (store, _file) = file_store().await;
    assert_eq!(store.writer().options().get_max_connections(), 1);
    assert!(store.pool().options().get_max_connections() > 1);
    let mut writer = store.writer().acquire().await.unwrap();
    assert_wal_with_normal_sync(&mut writer).await;
}

/// Reads are not held up by a write in progress: with the writer inside
/// an open `BEGIN IMMEDIATE`, the store still answers a read.
#[tokio::test]
async fn reads_run_beside_an_open_write() {
    use authkit_core::email::Email;
    use authkit_core::store::Store;
    use authkit_core::user::User;

    let (backend, _file) = file_store().await;
    backend.migrate().await.unwrap();
    let writer = backend.writer().clone();
    let store = Store::new(backend);
    let user = User::new(Email::parse("ann@example.com").unwrap(), chrono::Utc::now());
    store.users.create_user(&user).await.unwrap();

    let mut write = writer.begin_with("BEGIN IMMEDIATE").await.unwrap();
    sqlx::query("UPDATE authkit_users SET display_name = 'pending'")
        .execute(&mut *write)
        .await
        .unwrap();
    let read = store.users.user_by_id(user.id).await.unwrap().unwrap();
    assert_eq!(read.display_name, None, "the uncommitted write is not seen");
    write.rollback().await.unwrap();
}
