//! The MySQL / MariaDB store.

use std::time::Duration;

use authkit_core::error::AuthResult;
use sqlx::migrate::Migrator;
use sqlx::mysql::{MySql, MySqlPool, MySqlPoolOptions};
use sqlx::{AssertSqlSafe, SqlSafeStr, SqlStr};

use crate::error::to_auth;
use crate::migrations::{self, Embedded};
use crate::sql_store::RotationPlan;

/// MySQL migrations, oldest first. Shipped ones are never edited.
const MIGRATIONS: &[Embedded] = &[
    (
        1,
        "initial",
        include_str!("../migrations/mysql/0001_initial.sql"),
    ),
    (2, "mfa", include_str!("../migrations/mysql/0002_mfa.sql")),
    (
        3,
        "authz",
        include_str!("../migrations/mysql/0003_authz.sql"),
    ),
    (
        4,
        "identities",
        include_str!("../migrations/mysql/0004_identities.sql"),
    ),
    (
        5,
        "admin lock",
        include_str!("../migrations/mysql/0005_admin_lock.sql"),
    ),
];

/// Every store trait on MySQL 8 or MariaDB 10.5 and later (InnoDB).
///
/// Single-use transitions lock their rows with `SELECT ... FOR UPDATE` in a
/// transaction; a transaction that loses a deadlock (error 1213) or a lock
/// wait (1205) runs again, a bounded number of times. Text columns compare
/// byte-wise (`utf8mb4_bin`), as the domain normalizes emails itself.
#[derive(Debug, Clone)]
pub struct MySqlStore {
    pool: MySqlPool,
}

impl MySqlStore {
    /// A store on an existing pool (e.g. the host application's own).
    pub fn from_pool(pool: MySqlPool) -> Self {
        Self { pool }
    }

    /// Connects to `url` (`mysql://user:pass@host/db`) with a pool of
    /// default size and a 5-second acquire timeout.
    ///
    /// # Errors
    /// `StoreUnavailable` if the server cannot be reached; `Internal` for a
    /// malformed URL or a refused login.
    pub async fn connect(url: &str) -> AuthResult<Self> {
        let pool = MySqlPoolOptions::new()
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await
            .map_err(to_auth)?;
        Ok(Self::from_pool(pool))
    }

    /// The pool, to share with the host application.
    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }

    /// The embedded migrations, for hosts that run them with their own
    /// tooling. They record into
    /// [`MIGRATIONS_TABLE`](crate::MIGRATIONS_TABLE).
    pub fn migrator() -> Migrator {
        migrations::migrator(MIGRATIONS)
    }

    /// Applies the pending embedded migrations (idempotent; concurrent
    /// callers wait on a named lock).
    ///
    /// # Errors
    /// `StoreUnavailable` if the server cannot be reached; `Store` if a
    /// migration fails, `Internal` if an applied one was changed.
    pub async fn migrate(&self) -> AuthResult<()> {
        migrations::run(&Self::migrator(), &self.pool).await
    }

    fn sql(text: &'static str) -> SqlStr {
        text.into_sql_str()
    }

    /// A time that may lie past 2038 (an indefinite admin lock), as bound:
    /// MySQL and MariaDB refuse a `TIMESTAMP`-typed parameter beyond
    /// 2038-01-19, so it travels as a `DATETIME`.
    fn far_time(t: chrono::DateTime<chrono::Utc>) -> chrono::NaiveDateTime {
        t.naive_utc()
    }

    fn locked(text: &'static str) -> SqlStr {
        AssertSqlSafe(format!("{text} FOR UPDATE")).into_sql_str()
    }

    /// Writes share the pool: the server queues them on row locks.
    fn writer(&self) -> &MySqlPool {
        &self.pool
    }

    /// A READ COMMITTED transaction: locking reads then lock only the rows
    /// they return (no gap locks), which keeps concurrent transitions from
    /// deadlocking on InnoDB's default REPEATABLE READ.
    async fn begin(&self) -> Result<sqlx::Transaction<'static, MySql>, sqlx::Error> {
        self.pool
            .begin_with("SET TRANSACTION ISOLATION LEVEL READ COMMITTED; START TRANSACTION")
            .await
    }

    const INSERT_AUDIT: &'static str = "INSERT INTO authkit_audit_log \
        (id, at, event, user_id, ip, user_agent, data) VALUES (?, ?, ?, ?, ?, ?, ?)";

    const SELECT_AUDIT: &'static str =
        "SELECT id, at, event, user_id, ip, user_agent, data FROM authkit_audit_log";

    /// Rotation is the portable transaction.
    const ROTATION: RotationPlan = RotationPlan::Transaction;
}

crate::sql_store::impl_store!(MySqlStore, MySql);
