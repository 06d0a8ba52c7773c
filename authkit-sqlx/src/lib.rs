//! PostgreSQL, SQLite and MySQL stores for authkit, with embedded
//! migrations.
//!
//! Each backend implements every `authkit_core::store` trait and passes the
//! same conformance suite as the in-memory store.
//!
//! # Picking a backend
//!
//! One cargo feature per backend, so you compile only the driver you use:
//!
//! | feature | store | URL |
//! | --- | --- | --- |
//! | `sqlite` (default) | [`SqliteStore`] | `sqlite://auth.db`, `sqlite::memory:` |
//! | `postgres` | [`PgStore`] | `postgres://user:pass@host/db` |
//! | `mysql` | [`MySqlStore`] (MySQL 8, MariaDB 10.5+) | `mysql://user:pass@host/db` |
//!
//! ```toml
//! authkit-sqlx = { version = "0.1", default-features = false, features = ["postgres"] }
//! ```
//!
//! # Encrypted connections (`tls`)
//!
//! The `tls` feature lets PostgreSQL and MySQL connections use TLS
//! (rustls on ring, Mozilla's root certificates; no OpenSSL, cmake or
//! nasm needed). Ask for it in the URL, as with `psql` and `mysql`:
//!
//! | backend | URL parameter | values |
//! | --- | --- | --- |
//! | PostgreSQL | `sslmode` | `disable`, `prefer` (the default: TLS when offered), `require`, `verify-ca`, `verify-full` |
//! | PostgreSQL | `sslrootcert` | PEM file of a private CA |
//! | MySQL | `ssl-mode` | `DISABLED`, `PREFERRED` (the default), `REQUIRED`, `VERIFY_CA`, `VERIFY_IDENTITY` |
//! | MySQL | `ssl-ca` | PEM file of a private CA |
//!
//! ```text
//! postgres://auth:secret@db.internal/auth?sslmode=verify-full&sslrootcert=/etc/ssl/db-ca.pem
//! mysql://auth:secret@db.internal/auth?ssl-mode=VERIFY_IDENTITY&ssl-ca=/etc/ssl/db-ca.pem
//! ```
//!
//! Use `verify-full` / `VERIFY_IDENTITY` over an untrusted network: the
//! weaker modes encrypt but do not prove who answers. Without the feature
//! a URL that requires TLS fails to connect (`prefer` falls back to plain
//! TCP).
//!
//! ```toml
//! authkit-sqlx = { version = "0.1", default-features = false, features = ["postgres", "tls"] }
//! ```
//!
//! When the backend is only known at run time (a `DATABASE_URL`),
//! [`connect`] picks it from the URL scheme, applies the migrations and
//! returns the [`Store`] that `authkit_core::Auth` takes:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), authkit_core::error::AuthError> {
//! use authkit_core::email::Email;
//! use authkit_core::user::User;
//!
//! let store = authkit_sqlx::connect("sqlite::memory:").await?;
//! let user = User::new(Email::parse("ann@example.com")?, chrono::Utc::now());
//! store.users.create_user(&user).await?;
//! assert_eq!(store.users.user_by_email(&user.email).await?, Some(user));
//! # Ok(())
//! # }
//! ```
//!
//! # Migrations
//!
//! The schema ships inside the crate (one migration folder per backend)
//! and is applied by `migrate()` on each store, or by [`connect`].
//! Applying is idempotent and safe from several instances at once
//! (PostgreSQL and MySQL take a lock). authkit records its migrations in
//! its own table, [`MIGRATIONS_TABLE`], so they never clash with the host
//! application's sqlx migrations on the same database. Hosts that run
//! migrations from their own tooling get the migrator from
//! `PgStore::migrator()` (and its siblings). Upgrades add new migrations;
//! shipped ones are never edited.
//!
//! The `admin lock` migration (PostgreSQL 6, SQLite and MySQL 5) gives the
//! administrator's lock its own columns beside the failure lock. One
//! column held both before, so a lock still in force when it runs is
//! carried over as an administrator's lock (no actor, no reason): it ends
//! when it was due to end or at an unlock, and a password reset no longer
//! lifts it.
//!
//! # Tables
//!
//! | table | holds |
//! | --- | --- |
//! | `authkit_users` | accounts, with their login-failure counters and administrator lock |
//! | `authkit_sessions`, `authkit_refresh_tokens` | sessions and their refresh-token families |
//! | `authkit_one_time_tokens` | magic links, resets, verification codes |
//! | `authkit_audit_log` | the append-only audit trail |
//! | `authkit_signing_keys` | JWT signing keys |
//! | `authkit_totp` | TOTP enrolments (secret encrypted, last accepted step) |
//! | `authkit_backup_codes` | hashed backup codes and when each was used |
//! | `authkit_mfa_failures` | failed second-factor attempts per account |
//! | `authkit_known_devices` | device fingerprints each account signed in from |
//! | `authkit_orgs` | organisations (unique slug) |
//! | `authkit_org_members` | memberships and their organisation role |
//! | `authkit_org_invites` | invitations (token as its hash), open until accepted, withdrawn or superseded |
//! | `authkit_identities` | social / OpenID Connect identities: (provider, subject) → account |
//!
//! # Sharing a pool with the host application
//!
//! Build the pool once, hand a clone to the store with `from_pool`, and
//! keep using it for your own tables:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use authkit_core::store::Store;
//! use authkit_sqlx::SqliteStore;
//! use sqlx::sqlite::SqlitePoolOptions;
//!
//! let pool = SqlitePoolOptions::new()
//!     .max_connections(1)
//!     .idle_timeout(None)
//!     .max_lifetime(None)
//!     .connect("sqlite::memory:")
//!     .await?;
//! let backend = SqliteStore::from_pool(pool.clone());
//! backend.migrate().await?;
//! let store = Store::new(backend);
//!
//! sqlx::query("CREATE TABLE notes (body TEXT)").execute(&pool).await?;
//! # let _ = store;
//! # Ok(())
//! # }
//! ```
//!
//! # Errors
//!
//! A database that cannot be reached, or a pool that times out, surfaces as
//! `AuthError::StoreUnavailable` (HTTP 503 `store_unavailable`, no detail
//! shown to clients); the pool reconnects by itself once the database is
//! back. Unique emails surface as `AuthError::EmailTaken`; other driver
//! failures (a constraint, a row that does not decode, a failed migration)
//! as `AuthError::Store` (HTTP 500 `internal`), and a malformed URL as
//! `AuthError::Internal`. Either way the [`sqlx::Error`] is kept whole as the
//! error's `source()`, for the host to log or downcast:
//!
//! ```
//! use std::error::Error as _;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let err = authkit_sqlx::SqliteStore::connect("sqlite:auth.db?mode=sideways").await.unwrap_err();
//! let driver = err.source().and_then(|s| s.downcast_ref::<sqlx::Error>());
//! assert!(matches!(driver, Some(sqlx::Error::Configuration(_))));
//! # }
//! ```
//!
//! # Guarantees
//!
//! - Every single-use transition (consuming a token, checking a code,
//!   rotating a refresh token, counting a failed login) is one transaction
//!   that locks its rows (`FOR UPDATE`, or `BEGIN IMMEDIATE` on SQLite):
//!   of N concurrent callers exactly one wins. Deadlocks and busy errors
//!   rerun the transaction a bounded number of times.
//! - On PostgreSQL, refresh rotation (the call behind every token refresh)
//!   is a single round trip: one call of the `authkit_rotate_refresh`
//!   function, which runs the same locked transaction server-side.
//! - Confirming a TOTP enrolment, accepting a TOTP time step (replay
//!   protection) and spending a backup code are each one conditional
//!   `UPDATE`: of N concurrent callers exactly one wins. Replacing the
//!   backup codes, counting an MFA failure and remembering a device are one
//!   transaction each, serialized per account.
//! - Membership changes (role change, removal, accepting an invitation)
//!   are one transaction each that first locks the organisation's row, so
//!   they serialize per organisation: concurrent demotions of the last two
//!   owners leave one, and concurrent acceptances of one invitation make
//!   one membership.
//! - A (provider, subject) identity belongs to one account, and an account
//!   has one identity per provider (two unique keys: of N concurrent links
//!   exactly one wins). Unlinking while keeping the last identity is one
//!   transaction serialized per account.
//! - At most one unconsumed one-time token exists per (purpose, subject),
//!   enforced by a unique index.
//! - Several accounts may share one verified phone number (the core's
//!   phone lookup returns a list); emails are unique.
//! - The audit log has no update or delete path; on PostgreSQL and SQLite a
//!   trigger refuses `UPDATE` and `DELETE` on the table.
//! - Ids are UUIDs (`uuid`, 16-byte `BLOB`, `BINARY(16)`), times UTC
//!   (`TIMESTAMPTZ`, RFC 3339 text, `DATETIME(6)`), secrets only as 32-byte
//!   hashes (TOTP secrets encrypted by the core before they reach the
//!   store).
//!
//! # Testing your own store
//!
//! The conformance suite these stores pass is public: enable
//! `authkit-core`'s `testing` feature in your dev-dependencies and invoke
//! `authkit_core::store_conformance_tests!` (and, for each feature store
//! trait you implement, `mfa_store_conformance_tests!`,
//! `identity_store_conformance_tests!`, `org_store_conformance_tests!`,
//! `user_admin_store_conformance_tests!`) with a factory that returns a
//! fresh, empty store:
//!
//! ```
//! authkit_core::store_conformance_tests!(async {
//!     let backend = authkit_sqlx::SqliteStore::connect("sqlite::memory:").await.unwrap();
//!     backend.migrate().await.unwrap();
//!     authkit_core::store::Store::new(backend)
//! });
//! ```
//!
//! To clean up after each check, return a `(Store, guard)` pair instead;
//! the guard is dropped when the check is over, passed or failed (see
//! `authkit_core::testing::Fixture`).
//!
//! This crate's own tests do exactly that for every backend; PostgreSQL
//! and MySQL run when `AUTHKIT_TEST_POSTGRES_URL` / `AUTHKIT_TEST_MYSQL_URL`
//! are set, each test in a fresh schema or database that is dropped when
//! the test ends (and swept by a later run if the process was killed).

// Without a backend feature only `connect` (which then refuses every URL)
// remains; the shared machinery is unused but kept compiling.
#![cfg_attr(
    not(any(feature = "postgres", feature = "sqlite", feature = "mysql")),
    allow(dead_code, unused_imports, unused_macros)
)]

mod columns;
mod error;
mod identity_store;
mod mfa_store;
mod migrations;
mod org_store;
mod sql_store;
mod transitions;

#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;

use authkit_core::error::{AuthError, AuthResult};
use authkit_core::store::Store;

pub use migrations::MIGRATIONS_TABLE;
#[cfg(feature = "mysql")]
pub use mysql::MySqlStore;
#[cfg(feature = "postgres")]
pub use postgres::PgStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

/// The backend a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Postgres,
    Sqlite,
    MySql,
}

impl Backend {
    fn of_url(url: &str) -> Option<Self> {
        let scheme = url.split_once(':')?.0.to_ascii_lowercase();
        match scheme.as_str() {
            "postgres" | "postgresql" => Some(Self::Postgres),
            "sqlite" => Some(Self::Sqlite),
            "mysql" | "mariadb" => Some(Self::MySql),
            _ => None,
        }
    }
}

/// Connects to the database `url` names (`postgres://`, `postgresql://`,
/// `sqlite:`, `mysql://`, `mariadb://`), applies the pending migrations and
/// returns the bundle of stores.
///
/// # Errors
/// `StoreUnavailable` if the database cannot be reached; `Internal` for an
/// unknown scheme, a scheme whose feature is not enabled, a malformed URL
/// or a changed migration; `Store` for a failed migration.
pub async fn connect(url: &str) -> AuthResult<Store> {
    match Backend::of_url(url) {
        #[cfg(feature = "postgres")]
        Some(Backend::Postgres) => {
            let store = PgStore::connect(url).await?;
            store.migrate().await?;
            Ok(Store::new(store))
        }
        #[cfg(feature = "sqlite")]
        Some(Backend::Sqlite) => {
            let store = SqliteStore::connect(url).await?;
            store.migrate().await?;
            Ok(Store::new(store))
        }
        #[cfg(feature = "mysql")]
        Some(Backend::MySql) => {
            let store = MySqlStore::connect(url).await?;
            store.migrate().await?;
            Ok(Store::new(store))
        }
        #[allow(unreachable_patterns)]
        Some(backend) => Err(AuthError::internal_msg(format!(
            "authkit-sqlx was built without the {backend:?} backend; enable its cargo feature"
        ))),
        None => Err(AuthError::internal_msg(
            "unsupported database URL: expected postgres://, sqlite: or mysql://",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_their_backend() {
        for (url, backend) in [
            ("postgres://u@h/db", Backend::Postgres),
            ("PostgreSQL://u@h/db", Backend::Postgres),
            ("sqlite::memory:", Backend::Sqlite),
            ("sqlite://auth.db", Backend::Sqlite),
            ("mysql://root@h/db", Backend::MySql),
            ("mariadb://root@h/db", Backend::MySql),
        ] {
            assert_eq!(Backend::of_url(url), Some(backend), "{url}");
        }
        for url in ["", "auth.db", "redis://h", "http://x", "ünï://x"] {
            assert_eq!(Backend::of_url(url), None, "{url:?}");
        }
    }

    #[tokio::test]
    async fn unknown_schemes_are_refused() {
        for url in ["", "redis://127.0.0.1", "no scheme at all"] {
            assert!(
                matches!(connect(url).await, Err(AuthError::Internal(_))),
                "{url:?}"
            );
        }
    }
}
