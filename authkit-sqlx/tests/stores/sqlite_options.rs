//! How `SqliteStore::connect` opens a database file.

use authkit_sqlx::SqliteStore;

use crate::databases;

/// A file is opened in WAL mode with `synchronous = NORMAL` on every
/// pooled connection (the documented durability trade-off).
#[tokio::test]
async fn a_file_uses_wal_with_normal_sync() {
    let (path, _file) = databases::sqlite_path();
    let url = format!("sqlite://{}", path.display());
    let store = SqliteStore::connect(&url).await.unwrap();
    let mut connections = Vec::new();
    for _ in 0..3 {
        connections.push(store.pool().acquire().await.unwrap());
    }
    for connection in &mut connections {
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut **connection)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&mut **connection)
            .await
            .unwrap();
        assert_eq!(sync, 1, "NORMAL");
    }
}
