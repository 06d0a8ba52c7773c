//! Migrations apply to a fresh database, are idempotent, live in their own
//! table, and refuse a changed history.

use authkit_core::email::Email;
use authkit_core::error::AuthError;
use authkit_core::store::Store;
use authkit_core::user::User;
use authkit_sqlx::{MIGRATIONS_TABLE, MySqlStore, PgStore, SqliteStore};
use chrono::{SubsecRound, Utc};
use sqlx::AssertSqlSafe;
use sqlx::migrate::Migrator;

use crate::databases;

const TABLES: [&str; 11] = [
    "authkit_users",
    "authkit_sessions",
    "authkit_refresh_tokens",
    "authkit_one_time_tokens",
    "authkit_audit_log",
    "authkit_signing_keys",
    "authkit_totp",
    "authkit_backup_codes",
    "authkit_mfa_failures",
    "authkit_known_devices",
    "authkit_identities",
];

fn count_sql(table: &str) -> AssertSqlSafe<String> {
    AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}"))
}

#[tokio::test]
async fn sqlite_migrates_a_fresh_database_once() {
    let (path, _file) = databases::sqlite_path();
    let url = format!("sqlite://{}", path.display());
    let store = SqliteStore::connect(&url).await.unwrap();
    for table in TABLES {
        assert!(
            sqlx::query(count_sql(table))
                .execute(store.pool())
                .await
                .is_err(),
            "{table} exists before migrating"
        );
    }
    store.migrate().await.unwrap();
    store.migrate().await.expect("migrating twice is a no-op");
    for table in TABLES {
        let rows: i64 = sqlx::query_scalar(count_sql(table))
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(rows, 0, "{table} exists and is empty");
    }
    let applied: i64 = sqlx::query_scalar(count_sql(MIGRATIONS_TABLE))
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(applied, SqliteStore::migrator().iter().count() as i64);

    // A second store on the same file sees the schema as up to date.
    let again = SqliteStore::connect(&url).await.unwrap();
    again.migrate().await.unwrap();
}

/// A database created by the first release upgrades in place: its data
/// stays and the MFA tables arrive.
#[tokio::test]
async fn a_first_release_database_upgrades_in_place() {
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    let first = SqliteStore::migrator().iter().next().unwrap().clone();
    assert_eq!(first.version, 1);
    let mut initial = Migrator::with_migrations(vec![first]);
    initial.dangerous_set_table_name(MIGRATIONS_TABLE);
    initial.run(store.pool()).await.unwrap();
    assert!(
        sqlx::query("SELECT COUNT(*) FROM authkit_totp")
            .execute(store.pool())
            .await
            .is_err(),
        "no MFA tables in the first release"
    );
    let pool = store.pool().clone();
    let store = Store::new(store);
    let user = User::new(
        Email::parse("old@example.com").unwrap(),
        Utc::now().trunc_subsecs(0),
    );
    // The first release's columns (the store writes today's).
    sqlx::query(OLD_ACCOUNT)
        .bind(user.id)
        .bind(user.email.as_str())
        .bind(user.is_active)
        .bind(user.must_change_password)
        .bind(0_i32)
        .bind(user.locked_until)
        .bind(r#"["END_USER"]"#)
        .bind(user.created_at)
        .bind(user.updated_at)
        .execute(&pool)
        .await
        .unwrap();

    SqliteStore::from_pool(pool).migrate().await.unwrap();
    assert_eq!(
        store.users.user_by_id(user.id).await.unwrap().as_ref(),
        Some(&user)
    );
    assert_eq!(store.mfa.totp(user.id).await.unwrap(), None);
    assert_eq!(store.mfa.backup_codes_remaining(user.id).await.unwrap(), 0);
    assert!(
        store
            .identities
            .identities_for_user(user.id)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_changed_applied_migration_is_refused() {
    let (path, _file) = databases::sqlite_path();
    let url = format!("sqlite://{}", path.display());
    let store = SqliteStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    sqlx::query(AssertSqlSafe(format!(
        "UPDATE {MIGRATIONS_TABLE} SET checksum = x'00'"
    )))
    .execute(store.pool())
    .await
    .unwrap();
    assert!(matches!(store.migrate().await, Err(AuthError::Internal(_))));
}

#[tokio::test]
async fn the_host_applications_migration_table_is_left_alone() {
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    sqlx::query("CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY)")
        .execute(store.pool())
        .await
        .unwrap();
    sqlx::query("INSERT INTO _sqlx_migrations (version) VALUES (1), (20240101)")
        .execute(store.pool())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let host: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(host, 2);
}

#[tokio::test]
async fn connect_picks_the_backend_and_migrates() {
    let store = authkit_sqlx::connect("sqlite::memory:").await.unwrap();
    assert!(store.keys.signing_keys().await.unwrap().is_empty());
}

#[tokio::test]
async fn postgres_migrates_a_fresh_schema_once() {
    let Some(url) = databases::postgres_url() else {
        return;
    };
    let (store, _schema) = databases::fresh_postgres(&url).await;
    store.migrate().await.unwrap();
    store.migrate().await.expect("migrating twice is a no-op");
    for table in TABLES {
        let rows: i64 = sqlx::query_scalar(count_sql(table))
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(rows, 0, "{table} exists and is empty");
    }
    let applied: i64 = sqlx::query_scalar(count_sql(MIGRATIONS_TABLE))
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(applied, PgStore::migrator().iter().count() as i64);
}

#[tokio::test]
async fn mysql_migrates_a_fresh_database_once() {
    let Some(url) = databases::mysql_url() else {
        return;
    };
    let (store, _database) = databases::fresh_mysql(&url).await;
    store.migrate().await.unwrap();
    store.migrate().await.expect("migrating twice is a no-op");
    for table in TABLES {
        let rows: i64 = sqlx::query_scalar(count_sql(table))
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(rows, 0, "{table} exists and is empty");
    }
    let applied: i64 = sqlx::query_scalar(count_sql(MIGRATIONS_TABLE))
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(applied, MySqlStore::migrator().iter().count() as i64);
}

/// A database from before the administrator's lock had its own columns:
/// two accounts, one with a lock still in force (which may have been an
/// administrator's), one whose lock has passed.
const OLD_ACCOUNT: &str = "INSERT INTO authkit_users (id, email, is_active, \
     must_change_password, failed_login_count, locked_until, roles, created_at, updated_at) \
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";

/// Every migration before the admin-lock one, then two accounts, then the
/// rest; checks that only the lock in force became an administrator's lock.
async fn admin_lock_upgrade<DB>(
    pool: &sqlx::Pool<DB>,
    migrator: &Migrator,
    numbered: bool,
    store: Store,
) where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    <DB as sqlx::Database>::Connection: sqlx::migrate::Migrate,
    for<'q> <DB as sqlx::Database>::Arguments: sqlx::IntoArguments<DB>,
    for<'q> uuid::Uuid: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> bool: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i32: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> chrono::DateTime<Utc>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let all: Vec<_> = migrator.iter().cloned().collect();
    let split = all
        .iter()
        .position(|m| m.description == "admin lock")
        .expect("an admin lock migration");
    let mut before = Migrator::with_migrations(all[..split].to_vec());
    before.dangerous_set_table_name(MIGRATIONS_TABLE);
    before.run(pool).await.unwrap();

    let now = Utc::now().trunc_subsecs(0);
    let sql = if numbered {
        let mut n = 0;
        OLD_ACCOUNT
            .chars()
            .map(|c| {
                if c == '?' {
                    n += 1;
                    format!("${n}")
                } else {
                    c.to_string()
                }
            })
            .collect()
    } else {
        OLD_ACCOUNT.to_owned()
    };
    let mut accounts = Vec::new();
    for (name, locked_until) in [
        ("held", now + chrono::Duration::days(3)),
        ("passed", now - chrono::Duration::days(3)),
    ] {
        let id = uuid::Uuid::now_v7();
        sqlx::query(AssertSqlSafe(sql.clone()))
            .bind(id)
            .bind(format!("{name}@example.com"))
            .bind(true)
            .bind(false)
            .bind(3_i32)
            .bind(locked_until)
            .bind(r#"["END_USER"]"#.to_owned())
            .bind(now - chrono::Duration::days(10))
            .bind(now - chrono::Duration::days(5))
            .execute(pool)
            .await
            .unwrap();
        accounts.push((id, locked_until));
    }

    migrator.run(pool).await.unwrap();
    let held = store
        .users
        .user_by_id(accounts[0].0)
        .await
        .unwrap()
        .unwrap();
    let lock = held.admin_lock.expect("a lock in force carries over");
    assert_eq!(lock.until, accounts[0].1);
    assert_eq!((lock.reason, lock.actor_id), (None, None));
    assert_eq!(lock.locked_at, now - chrono::Duration::days(5));
    assert_eq!(held.locked_until, Some(accounts[0].1));
    let passed = store
        .users
        .user_by_id(accounts[1].0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        passed.admin_lock, None,
        "a lock that passed stays a failure lock"
    );
    assert_eq!(passed.locked_until, Some(accounts[1].1));
}

#[tokio::test]
async fn sqlite_carries_a_lock_in_force_over_as_an_admin_lock() {
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    let pool = store.pool().clone();
    let migrator = SqliteStore::migrator();
    admin_lock_upgrade(&pool, &migrator, false, Store::new(store)).await;
}

#[tokio::test]
async fn postgres_carries_a_lock_in_force_over_as_an_admin_lock() {
    let Some(url) = databases::postgres_url() else {
        return;
    };
    let (store, _schema) = databases::fresh_postgres(&url).await;
    let pool = store.pool().clone();
    let migrator = PgStore::migrator();
    admin_lock_upgrade(&pool, &migrator, true, Store::new(store)).await;
}

#[tokio::test]
async fn mysql_carries_a_lock_in_force_over_as_an_admin_lock() {
    let Some(url) = databases::mysql_url() else {
        return;
    };
    let (store, _database) = databases::fresh_mysql(&url).await;
    let pool = store.pool().clone();
    let migrator = MySqlStore::migrator();
    admin_lock_upgrade(&pool, &migrator, false, Store::new(store)).await;
}
