//! The embedded migrations: one folder per backend, applied by sqlx's
//! migrator and recorded in their own table, so they never mix with the
//! host application's migrations on a shared database.

use authkit_core::error::{AuthError, AuthResult, Cause};
use sqlx::SqlSafeStr;
use sqlx::migrate::{MigrateError, Migration, MigrationType, Migrator};

use crate::error::{ErrorClass, classify, to_auth};

/// The table that records which authkit migrations ran.
pub const MIGRATIONS_TABLE: &str = "_authkit_migrations";

/// One embedded migration: version, description, SQL.
pub(crate) type Embedded = (i64, &'static str, &'static str);

/// A migrator over `migrations`, recording into [`MIGRATIONS_TABLE`].
pub(crate) fn migrator(migrations: &[Embedded]) -> Migrator {
    let migrations = migrations
        .iter()
        .map(|&(version, description, sql)| {
            Migration::new(
                version,
                description.into(),
                MigrationType::Simple,
                sql.into_sql_str(),
                false,
            )
        })
        .collect();
    let mut migrator = Migrator::with_migrations(migrations);
    migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
    migrator
}

/// Maps a migration failure: an unreachable database is `StoreUnavailable`,
/// a failed statement `Store` (naming the migration), a changed or unknown
/// migration `Internal`; the driver's or migrator's error is the source.
pub(crate) fn migrate_error(err: MigrateError) -> AuthError {
    match err {
        MigrateError::Execute(err) => to_auth(err),
        MigrateError::ExecuteMigration(err, version) => match classify(&err) {
            ErrorClass::Unavailable | ErrorClass::Transient => to_auth(err),
            ErrorClass::UniqueViolation | ErrorClass::Other => AuthError::Store(
                Cause::new(format!("authkit migration {version} failed")).with_source(err),
            ),
        },
        other => AuthError::internal_with("authkit migrations", other),
    }
}

/// Runs `migrator` against `pool`.
pub(crate) async fn run<'a, A>(migrator: &Migrator, pool: A) -> AuthResult<()>
where
    A: sqlx::Acquire<'a>,
    <A::Connection as std::ops::Deref>::Target: sqlx::migrate::Migrate,
{
    migrator.run(pool).await.map_err(migrate_error)
}
