//! Fresh, isolated test databases for every backend.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Once;
use std::time::{Duration, SystemTime};

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
    authkit_core::testing::service_url(var)
}

/// Prefix of every test schema and database; the rest is a UUID v7, so the
/// name tells when it was created.
const PREFIX: &str = "authkit_t_";

/// Leftovers older than this are swept: no test run lasts that long.
const STALE_AFTER: Duration = Duration::from_secs(60 * 60);

/// A unique name for a test schema or database.
pub fn unique_name() -> String {
    format!("{PREFIX}{}", Uuid::now_v7().simple())
}

/// When a name from [`unique_name`] was made, as seconds since the epoch.
fn created_secs(name: &str) -> Option<u64> {
    let id = Uuid::parse_str(name.strip_prefix(PREFIX)?).ok()?;
    Some(id.get_timestamp()?.to_unix().0)
}

/// Whether `name` is a test schema or database left over by a run that
/// could not clean up (killed, or its server went away).
fn is_stale(name: &str) -> bool {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    created_secs(name).is_some_and(|at| now.saturating_sub(at) > STALE_AFTER.as_secs())
}

/// Which server a [`Disposable`] lives on.
#[derive(Debug, Clone, Copy)]
enum Server {
    Postgres,
    MySql,
}

/// A test schema (PostgreSQL) or database (MySQL), dropped when this guard
/// is: at the end of the test, whether it passed or panicked. A run that is
/// killed leaves its names behind; the first test of a later run sweeps
/// names older than [`STALE_AFTER`].
#[derive(Debug)]
pub struct Disposable {
    server: Server,
    url: String,
    name: String,
}

impl Drop for Disposable {
    fn drop(&mut self) {
        if let Err(err) = drop_names(self.server, &self.url, vec![self.name.clone()]) {
            eprintln!("could not drop {}: {err}; a later run sweeps it", self.name);
        }
    }
}

/// Drops `names` on the server at `url`, blocking. It runs on a thread of
/// its own with its own runtime, since it is called from `Drop`, possibly
/// inside the test's runtime or while a panic unwinds.
fn drop_names(server: Server, url: &str, names: Vec<String>) -> Result<(), String> {
    let url = url.to_owned();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async move {
            match server {
                Server::Postgres => {
                    let mut admin = sqlx::PgConnection::connect(&url).await?;
                    // A connection the test left in a transaction holds
                    // locks until it closes: give up rather than hang.
                    sqlx::query("SET lock_timeout = '10s'")
                        .execute(&mut admin)
                        .await?;
                    for name in names {
                        sqlx::query(AssertSqlSafe(format!(
                            "DROP SCHEMA IF EXISTS {name} CASCADE"
                        )))
                        .execute(&mut admin)
                        .await?;
                    }
                    admin.close().await
                }
                Server::MySql => {
                    let mut admin = sqlx::MySqlConnection::connect(&url).await?;
                    sqlx::query("SET SESSION lock_wait_timeout = 10")
                        .execute(&mut admin)
                        .await?;
                    for name in names {
                        sqlx::query(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name}")))
                            .execute(&mut admin)
                            .await?;
                    }
                    admin.close().await
                }
            }
        })
        .map_err(|e: sqlx::Error| e.to_string())
    })
    .join()
    .map_err(|_| "cleanup thread panicked".to_owned())?
}

/// Once per test process and server, drops test schemas or databases that
/// earlier runs left behind (see [`Disposable`]).
fn sweep_once(server: Server, url: &str) {
    static POSTGRES: Once = Once::new();
    static MYSQL: Once = Once::new();
    let once = match server {
        Server::Postgres => &POSTGRES,
        Server::MySql => &MYSQL,
    };
    once.call_once(|| {
        let stale = match list_names(server, url) {
            Ok(names) => names.into_iter().filter(|n| is_stale(n)).collect(),
            Err(err) => {
                eprintln!("could not list old test schemas: {err}");
                return;
            }
        };
        if let Err(err) = drop_names(server, url, stale) {
            eprintln!("could not sweep old test schemas: {err}");
        }
    });
}

/// Every test schema (PostgreSQL) or database (MySQL) on the server.
fn list_names(server: Server, url: &str) -> Result<Vec<String>, String> {
    let url = url.to_owned();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async move {
            let pattern = format!("{}%", PREFIX.replace('_', "\\_"));
            match server {
                Server::Postgres => {
                    let mut admin = sqlx::PgConnection::connect(&url).await?;
                    sqlx::query_scalar(
                        "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE $1",
                    )
                    .bind(pattern)
                    .fetch_all(&mut admin)
                    .await
                }
                Server::MySql => {
                    let mut admin = sqlx::MySqlConnection::connect(&url).await?;
                    sqlx::query_scalar(
                        "SELECT CAST(schema_name AS CHAR) FROM information_schema.schemata \
                         WHERE schema_name LIKE ?",
                    )
                    .bind(pattern)
                    .fetch_all(&mut admin)
                    .await
                }
            }
        })
        .map_err(|e: sqlx::Error| e.to_string())
    })
    .join()
    .map_err(|_| "listing thread panicked".to_owned())?
}

/// A SQLite file, removed (with its journal files) when this guard is.
#[derive(Debug)]
pub struct TempDatabase(PathBuf);

impl Drop for TempDatabase {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut path = self.0.clone().into_os_string();
            path.push(suffix);
            let _ = std::fs::remove_file(path);
        }
    }
}

/// A migrated in-memory SQLite store.
pub async fn sqlite_memory() -> Store {
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    store.migrate().await.unwrap();
    Store::new(store)
}

/// A fresh SQLite file under the target directory's scratch space, removed
/// when the guard is dropped.
pub fn sqlite_path() -> (PathBuf, TempDatabase) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("authkit-sqlx-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}.db", unique_name()));
    (path.clone(), TempDatabase(path))
}

/// A migrated SQLite store on a fresh file.
pub async fn sqlite_file() -> (Store, TempDatabase) {
    let (path, guard) = sqlite_path();
    let store = SqliteStore::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    (Store::new(store), guard)
}

/// A PostgreSQL store confined to a fresh schema (through the connections'
/// `search_path`), not yet migrated; the schema goes when the guard does.
pub async fn fresh_postgres(url: &str) -> (PgStore, Disposable) {
    fresh_postgres_with(url, PgPoolOptions::new()).await
}

/// [`fresh_postgres`] with custom pool options.
pub async fn fresh_postgres_with(url: &str, pool: PgPoolOptions) -> (PgStore, Disposable) {
    sweep_once(Server::Postgres, url);
    let schema = unique_name();
    let mut admin = sqlx::PgConnection::connect(url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at the test URL is unreachable: {e}"));
    sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut admin)
        .await
        .unwrap();
    admin.close().await.unwrap();
    let guard = Disposable {
        server: Server::Postgres,
        url: url.to_owned(),
        name: schema.clone(),
    };
    let options = PgConnectOptions::from_str(url)
        .unwrap()
        .options([("search_path", schema.as_str())]);
    let store = PgStore::from_pool(pool.connect_with(options).await.unwrap());
    (store, guard)
}

/// A migrated PostgreSQL store in a fresh schema.
pub async fn postgres(url: String) -> (Store, Disposable) {
    let (store, guard) = fresh_postgres(&url).await;
    store.migrate().await.unwrap();
    (Store::new(store), guard)
}

/// A MySQL store on a fresh database, not yet migrated; the database goes
/// when the guard does.
pub async fn fresh_mysql(url: &str) -> (MySqlStore, Disposable) {
    fresh_mysql_with(url, MySqlPoolOptions::new()).await
}

/// [`fresh_mysql`] with custom pool options.
pub async fn fresh_mysql_with(url: &str, pool: MySqlPoolOptions) -> (MySqlStore, Disposable) {
    sweep_once(Server::MySql, url);
    let database = unique_name();
    let mut admin = sqlx::MySqlConnection::connect(url)
        .await
        .unwrap_or_else(|e| panic!("MySQL at the test URL is unreachable: {e}"));
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {database}")))
        .execute(&mut admin)
        .await
        .unwrap();
    admin.close().await.unwrap();
    let guard = Disposable {
        server: Server::MySql,
        url: url.to_owned(),
        name: database.clone(),
    };
    let options = MySqlConnectOptions::from_str(url)
        .unwrap()
        .database(&database);
    let store = MySqlStore::from_pool(pool.connect_with(options).await.unwrap());
    (store, guard)
}

/// A migrated MySQL store on a fresh database.
pub async fn mysql(url: String) -> (Store, Disposable) {
    let (store, guard) = fresh_mysql(&url).await;
    store.migrate().await.unwrap();
    (Store::new(store), guard)
}

#[test]
fn test_names_carry_their_age() {
    let name = unique_name();
    assert!(!is_stale(&name), "a new name is fresh");
    let old = Uuid::new_v7(uuid::Timestamp::from_unix(
        uuid::NoContext,
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            - STALE_AFTER.as_secs()
            - 60,
        0,
    ));
    assert!(is_stale(&format!("{PREFIX}{}", old.simple())));
    assert!(!is_stale("authkit_t_not_a_uuid"), "foreign names are kept");
    assert!(!is_stale("public"));
}
