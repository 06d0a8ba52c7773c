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
use crate::sql_store::RotationPlan;

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
    (
        5,
        "admin lock",
        include_str!("../migrations/sqlite/0005_admin_lock.sql"),
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
    /// Reads, and writes when no separate writer was given.
    pool: SqlitePool,
    /// Every write; the same pool as `pool` unless built by `connect` on a
    /// file.
    writer: SqlitePool,
}

impl SqliteStore {
    /// A store on an existing pool, for reads and writes alike. Give it a
    /// busy timeout (sqlx's default is 5 s); for an in-memory database, a
    /// single connection that is never closed (every connection to
    /// `sqlite::memory:` is a database of its own).
    pub fn from_pool(pool: SqlitePool) -> Self {
        Self {
            writer: pool.clone(),
            pool,
        }
    }

    /// A store that reads through `pool` and writes through `writer`, both
    /// on the same database file. Give `writer` one connection: writers
    /// then wait their turn in the pool's queue, first come first served,
    /// instead of in SQLite's busy handler, which polls with sleeps of up
    /// to 100 ms and lets late writers overtake early ones.
    pub fn from_pools(pool: SqlitePool, writer: SqlitePool) -> Self {
        Self { pool, writer }
    }

    /// Opens `url`: a file (`sqlite://path/to/auth.db`, created if missing,
    /// in WAL mode with `synchronous = NORMAL`) or memory (`sqlite::memory:`, one connection kept open
    /// for the life of the pool, data lost when the store is dropped).
    ///
    /// A file gets two pools: one of several connections for reads, which
    /// WAL lets run beside a write, and one of a single connection for
    /// writes (see [`from_pools`](Self::from_pools)). SQLite admits one
    /// writer at a time anyway; queueing them in-process turns lock
    /// polling into a hand-over, which under concurrent refreshes or
    /// logins multiplies throughput and cuts the tail latency (see the
    /// benchmarks).
    ///
    /// The pools skip sqlx's ping before handing out a connection: a
    /// connection to a local file does not drop like a network one, and
    /// each ping is one more hand-over to the connection's thread.
    ///
    /// `synchronous = NORMAL` is SQLite's recommended setting for WAL: the
    /// database cannot be corrupted, an application crash loses nothing,
    /// and a power loss can roll back only the last commits before it (a
    /// rotated refresh token may then be refused and its user signs in
    /// again). It saves an fsync on every commit, which on most disks is
    /// most of the cost of a login or a refresh. For `FULL`, build the pools
    /// yourself and use [`from_pools`](Self::from_pools).
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
        if in_memory {
            let pool = SqlitePoolOptions::new()
                .test_before_acquire(false)
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .acquire_timeout(BUSY_TIMEOUT)
                .connect_with(options)
                .await
                .map_err(to_auth)?;
            return Ok(Self::from_pool(pool));
        }
        let options = options
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal);
        // The writer first: it creates the file and switches it to WAL
        // before any reader opens it.
        let writer = SqlitePoolOptions::new()
            .test_before_acquire(false)
            .max_connections(1)
            .acquire_timeout(BUSY_TIMEOUT)
            .connect_with(options.clone())
            .await
            .map_err(to_auth)?;
        let pool = SqlitePoolOptions::new()
            .test_before_acquire(false)
            .acquire_timeout(BUSY_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(to_auth)?;
        Ok(Self::from_pools(pool, writer))
    }

    /// The (reading) pool, to share with the host application.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The pool every write goes through (the same as [`pool`](Self::pool)
    /// unless two were given).
    pub fn writer(&self) -> &SqlitePool {
        &self.writer
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
    /// `Store` if a migration fails, `Internal` if an applied one was
    /// changed.
    pub async fn migrate(&self) -> AuthResult<()> {
        migrations::run(&Self::migrator(), &self.writer).await
    }

    fn sql(text: &'static str) -> SqlStr {
        text.into_sql_str()
    }

    /// A time that may lie past 2038 (an indefinite admin lock), as bound
    /// (as is: only MySQL needs a conversion).
    fn far_time(t: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
        t
    }

    /// SQLite has no row locks: `BEGIN IMMEDIATE` already holds the
    /// database's write lock.
    fn locked(text: &'static str) -> SqlStr {
        text.into_sql_str()
    }

    async fn begin(&self) -> Result<sqlx::Transaction<'static, Sqlite>, sqlx::Error> {
        self.writer.begin_with("BEGIN IMMEDIATE").await
    }

    const INSERT_AUDIT: &'static str = "INSERT INTO authkit_audit_log \
        (id, at, event, user_id, ip, user_agent, data) VALUES (?, ?, ?, ?, ?, ?, ?)";

    const SELECT_AUDIT: &'static str =
        "SELECT id, at, event, user_id, ip, user_agent, data FROM authkit_audit_log";

    /// `BEGIN IMMEDIATE` locks the whole database, so one joined read sees
    /// the session and its family as they stand, and one batch retires the
    /// token: four statements instead of eight.
    const ROTATION: RotationPlan = RotationPlan::Batch {
        read: concat!(
            "SELECT ",
            crate::sql_store::session_columns!(),
            ", t.rotated_at, t.replaced_by, \
             (SELECT c.hash FROM authkit_refresh_tokens c \
              WHERE c.session_id = t.session_id AND c.rotated_at IS NULL LIMIT 1) AS current \
             FROM authkit_refresh_tokens t JOIN authkit_sessions s ON s.id = t.session_id \
             WHERE t.hash = ?"
        ),
        retire: "UPDATE authkit_refresh_tokens SET rotated_at = ?1, replaced_by = ?2 \
                 WHERE hash = ?3; \
                 INSERT INTO authkit_refresh_tokens (hash, session_id) VALUES (?2, ?4); \
                 UPDATE authkit_sessions SET last_seen_at = ?1 WHERE id = ?4",
    };
}

crate::sql_store::impl_store!(SqliteStore, Sqlite);
