//! The PostgreSQL store.

use std::time::Duration;

use authkit_core::error::AuthResult;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgPool, PgPoolOptions, Postgres};
use sqlx::{AssertSqlSafe, SqlSafeStr, SqlStr};

use crate::error::to_auth;
use crate::migrations::{self, Embedded};
use crate::sql_store::RotationPlan;

/// PostgreSQL migrations, oldest first. Shipped ones are never edited.
const MIGRATIONS: &[Embedded] = &[
    (
        1,
        "initial",
        include_str!("../migrations/postgres/0001_initial.sql"),
    ),
    (
        2,
        "mfa",
        include_str!("../migrations/postgres/0002_mfa.sql"),
    ),
    (
        3,
        "authz",
        include_str!("../migrations/postgres/0003_authz.sql"),
    ),
    (
        4,
        "identities",
        include_str!("../migrations/postgres/0004_identities.sql"),
    ),
    (
        5,
        "rotate refresh",
        include_str!("../migrations/postgres/0005_rotate_refresh.sql"),
    ),
    (
        6,
        "admin lock",
        include_str!("../migrations/postgres/0006_admin_lock.sql"),
    ),
];

/// Every store trait on PostgreSQL (12 or later).
///
/// Single-use transitions lock their rows with `SELECT ... FOR UPDATE` in a
/// transaction; refresh rotation, the hottest of them, is one call of a
/// function that does the same server-side (one round trip). The audit log
/// refuses `UPDATE`, `DELETE` and `TRUNCATE` through a trigger.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// A store on an existing pool (e.g. the host application's own). The
    /// pool's connections must see the authkit tables on their
    /// `search_path`.
    pub fn from_pool(pool: PgPool) -> Self {
        Self { pool }
    }

    /// Connects to `url` (`postgres://user:pass@host/db`) with a pool of
    /// default size and a 5-second acquire timeout.
    ///
    /// # Errors
    /// `StoreUnavailable` if the server cannot be reached; `Internal` for a
    /// malformed URL or a refused login.
    pub async fn connect(url: &str) -> AuthResult<Self> {
        let pool = PgPoolOptions::new()
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await
            .map_err(to_auth)?;
        Ok(Self::from_pool(pool))
    }

    /// The pool, to share with the host application.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The embedded migrations, for hosts that run them with their own
    /// tooling. They record into
    /// [`MIGRATIONS_TABLE`](crate::MIGRATIONS_TABLE).
    pub fn migrator() -> Migrator {
        migrations::migrator(MIGRATIONS)
    }

    /// Applies the pending embedded migrations (idempotent; concurrent
    /// callers wait on an advisory lock).
    ///
    /// # Errors
    /// `StoreUnavailable` if the server cannot be reached; `Store` if a
    /// migration fails, `Internal` if an applied one was changed.
    pub async fn migrate(&self) -> AuthResult<()> {
        migrations::run(&Self::migrator(), &self.pool).await
    }

    fn sql(text: &'static str) -> SqlStr {
        AssertSqlSafe(numbered(text)).into_sql_str()
    }

    /// A time that may lie past 2038 (an indefinite admin lock), as bound
    /// (as is: only MySQL needs a conversion).
    fn far_time(t: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
        t
    }

    fn locked(text: &'static str) -> SqlStr {
        AssertSqlSafe(numbered(text) + " FOR UPDATE").into_sql_str()
    }

    /// Writes share the pool: the server queues them on row locks.
    fn writer(&self) -> &PgPool {
        &self.pool
    }

    async fn begin(&self) -> Result<sqlx::Transaction<'static, Postgres>, sqlx::Error> {
        self.pool.begin().await
    }

    const INSERT_AUDIT: &'static str = "INSERT INTO authkit_audit_log \
        (id, at, event, user_id, ip, user_agent, data) \
        VALUES (?, ?, ?, ?, ?, ?, CAST(? AS JSONB))";

    const SELECT_AUDIT: &'static str = "SELECT id, at, event, user_id, ip, user_agent, \
        data::text AS data FROM authkit_audit_log";

    /// Rotation is one call of the `authkit_rotate_refresh` function
    /// (migration 5): one round trip instead of a transaction of five
    /// statements. That function is the SQL translation of
    /// [`decide_rotation`](authkit_core::session::decide_rotation), given
    /// its time limits as instants (`RotationCutoffs`); the conformance
    /// suite runs the rule's table of cases
    /// ([`ROTATION_CASES`](authkit_core::session::ROTATION_CASES)) against
    /// it.
    const ROTATION: RotationPlan = RotationPlan::Call(
        "SELECT outcome, id, user_id, ip, user_agent, created_at, last_seen_at, \
         expires_at, revoked_at, revoke_reason FROM authkit_rotate_refresh(?, ?, ?, ?, ?)",
    );
}

/// Rewrites `?` placeholders as PostgreSQL's `$1`, `$2`, ... (the shared
/// statements contain no other question mark).
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

crate::sql_store::impl_store!(PgStore, Postgres);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_order() {
        assert_eq!(
            numbered("UPDATE t SET a = ?, b = ? WHERE id = ?"),
            "UPDATE t SET a = $1, b = $2 WHERE id = $3"
        );
        assert_eq!(numbered("SELECT 1"), "SELECT 1");
        assert_eq!(
            numbered("VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        );
    }
}
