//! The SQLite store.

use std::str::FromStr;
use std::time::Duration;

use authkit_core::error::AuthResult;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    Sqlite, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{SqlSafeStr, SqlStr};

use crate::error::to_auth;
use crate::migrations::{self, Embedded};

/// SQLite migrations, oldest first. Shipped ones are never edited.
const MIGRATIONS: &[Embedded] = &[
    (
        1,
        "initial",
        include_str!("../migrations/sqlite/0001_initial.sql"),
    ),
    (2, "mfa", include_str!("../migrations/sqlite/0002_mfa.sql")),
    (
        3,
        "authz",
        include_str!("../migrations/sqlite/0003_authz.sql"),
    ),
    (
        4,
        "identities",
        include_str!("../migrations/sqlite/0004_identities.sql"),
    ),
];

/// How long a writer waits for the database lock before giving up with
/// `StoreUnavailable`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Every store trait on SQLite (bundled, 3.35 or later).
///
/// Every read-modify-write transaction starts with `BEGIN IMMEDIATE`, which
/// takes the database's write lock up front, so transitions are serialized
/// and never fail half-way with `SQLITE_BUSY`; a busy timeout makes
/// writers queue instead of failing.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// A store on an existing pool. Give it a busy timeout (sqlx's default
    /// is 5 s); for an in-memory database, a single connection that is
    /// never closed (every connection to `sqlite::memory:` is a database of
    /// its own).
    pub fn from_pool(pool: SqlitePool) -> Self {
        Self { pool }
    }

    /// Opens `url`: a file (`sqlite://path/to/auth.db`, created if missing,
    /// in WAL mode with `synchronous = NORMAL`) or memory (`sqlite::memory:`, one connection kept open
    /// for the life of the pool, data lost when the store is dropped).
    ///
    /// `synchronous = NORMAL` is SQLite's recommended setting for WAL: the
    /// database cannot be corrupted, an application crash loses nothing,
    /// and a power loss can roll back only the last commits before it (a
    /// rotated refresh token may then be refused and its user signs in
    /// again). It saves an fsync on every commit, which on most disks is
    /// most of the cost of a login or a refresh. For `FULL`, build the pool
    /// yourself and use [`from_pool`](Self::from_pool).
    ///
    /// # Errors
    /// `Internal` for a malformed URL; `StoreUnavailable` if the file
    /// cannot be opened.
    pub async fn connect(url: &str) -> AuthResult<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(to_auth)?
            .create_if_missing(true)
            .busy_timeout(BUSY_TIMEOUT);
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let pool = if in_memory {
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .acquire_timeout(BUSY_TIMEOUT)
                .connect_with(options)
                .await
        } else {
            SqlitePoolOptions::new()
                .acquire_timeout(BUSY_TIMEOUT)
                .connect_with(
                    options
                        .journal_mode(SqliteJournalMode::Wal)
                        .synchronous(SqliteSynchronous::Normal),
                )
                .await
        }
        .map_err(to_auth)?;
        Ok(Self::from_pool(pool))
    }

    /// The pool, to share with the host application.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The embedded migrations, for hosts that run them with their own
    /// tooling. They record into
    /// [`MIGRATIONS_TABLE`](crate::MIGRATIONS_TABLE).
    pub fn migrator() -> Migrator {
        migrations::migrator(MIGRATIONS)
    }

    /// Applies the pending embedded migrations (idempotent).
    ///
    /// # Errors
    /// `Internal` if a migration fails or an applied one was changed.
    pub async fn migrate(&self) -> AuthResult<()> {
        migrations::run(&Self::migrator(), &self.pool).await
    }

    fn sql(text: &'static str) -> SqlStr {
        text.into_sql_str()
    }

    /// SQLite has no row locks: `BEGIN IMMEDIATE` already holds the
    /// database's write lock.
    /// A time that may lie past 2038 (an indefinite admin lock), as bound
    /// (as is: only MySQL needs a conversion).
    fn far_time(t: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
        t
    }

    fn locked(text: &'static str) -> SqlStr {
        text.into_sql_str()
    }

    async fn begin(&self) -> Result<sqlx::Transaction<'static, Sqlite>, sqlx::Error> {
        self.pool.begin_with("BEGIN IMMEDIATE").await
    }

    const INSERT_AUDIT: &'static str = "INSERT INTO authkit_audit_log \
        (id, at, event, user_id, ip, user_agent, data) VALUES (?, ?, ?, ?, ?, ?, ?)";

    const SELECT_AUDIT: &'static str =
        "SELECT id, at, event, user_id, ip, user_agent, data FROM authkit_audit_log";

    /// Rotation is the portable transaction.
    const ROTATE_REFRESH_CALL: Option<&'static str> = None;
}

crate::sql_store::impl_store!(SqliteStore, Sqlite);
