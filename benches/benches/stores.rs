//! SQL store hot paths: find a user by email, create a session, rotate a
//! refresh token, consume a one-time token, each beside the floor of one
//! round trip through the same pool (`SELECT 1`). SQLite (in memory and on
//! a file) always; PostgreSQL too when `AUTHKIT_TEST_POSTGRES_URL` is set.

// Benchmark setup may fail loudly; criterion's macros emit undocumented items.
#![allow(clippy::expect_used, missing_docs)]

use std::hint::black_box;

use authkit_core::email::Email;
use authkit_core::one_time::{OneTimeToken, Purpose};
use authkit_core::secret::{TokenHash, token256};
use authkit_core::session::{RotateRefresh, Session};
use authkit_core::store::Store;
use authkit_core::user::User;
use chrono::{Duration, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use uuid::Uuid;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn session(user_id: Uuid) -> Session {
    let now = Utc::now();
    Session {
        id: Uuid::now_v7(),
        user_id,
        ip: Some("203.0.113.7".into()),
        user_agent: Some("bench".into()),
        created_at: now,
        last_seen_at: now,
        expires_at: now + Duration::days(30),
        revoked_at: None,
        revoke_reason: None,
    }
}

/// Benches the store operations on `store`, and `floor` (one trivial
/// statement through the store's pool) as the baseline of the same run.
fn bench_store<F, Fut>(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    name: &str,
    store: &Store,
    floor: F,
) where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<(), sqlx::Error>>,
{
    let mut group = c.benchmark_group(format!("store/{name}"));
    group.sample_size(30);

    group.bench_function("round_trip_floor", |b| {
        b.iter(|| rt.block_on(floor()).expect("floor"))
    });

    let user = User::new(
        Email::parse("bench@example.com").expect("email"),
        Utc::now(),
    );
    rt.block_on(store.users.create_user(&user))
        .expect("create user");
    group.bench_function("user_by_email", |b| {
        b.iter(|| rt.block_on(store.users.user_by_email(black_box(&user.email))))
    });

    group.bench_function("create_session", |b| {
        b.iter(|| {
            let refresh = TokenHash::of_token(&token256());
            rt.block_on(store.sessions.create_session(&session(user.id), &refresh))
        })
    });

    let mut current = TokenHash::of_token(&token256());
    rt.block_on(store.sessions.create_session(&session(user.id), &current))
        .expect("session");
    group.bench_function("rotate_refresh", |b| {
        b.iter(|| {
            let req = RotateRefresh {
                presented: current,
                replacement: TokenHash::of_token(&token256()),
                now: Utc::now(),
                idle_timeout: Duration::days(1),
                reuse_grace: Duration::zero(),
            };
            let outcome = rt.block_on(store.sessions.rotate_refresh(&req));
            current = req.replacement;
            outcome
        })
    });

    group.bench_function("issue_and_consume_token", |b| {
        b.iter(|| {
            let now = Utc::now();
            let hash = TokenHash::of_token(&token256());
            let token = OneTimeToken {
                id: Uuid::now_v7(),
                purpose: Purpose::ResetPassword,
                subject: Uuid::now_v7().to_string(),
                hash,
                payload: serde_json::Value::Null,
                created_at: now,
                expires_at: now + Duration::hours(1),
                attempts: 0,
                max_attempts: 5,
                consumed_at: None,
            };
            rt.block_on(async {
                store.tokens.issue_token(&token).await?;
                store
                    .tokens
                    .consume_token(Purpose::ResetPassword, &hash, now)
                    .await
            })
        })
    });
    group.finish();
}

/// `SELECT 1` through `pool`: the cost of one round trip.
async fn select_one<'p, DB, E>(pool: E) -> Result<(), sqlx::Error>
where
    DB: sqlx::Database,
    E: sqlx::Executor<'p, Database = DB>,
    <DB as sqlx::Database>::Arguments: sqlx::IntoArguments<DB>,
{
    sqlx::query::<DB>("SELECT 1")
        .execute(pool)
        .await
        .map(|_| ())
}

fn stores(c: &mut Criterion) {
    let rt = runtime();
    let sqlite = |url: String| {
        rt.block_on(async {
            let backend = authkit_sqlx::SqliteStore::connect(&url)
                .await
                .expect("sqlite");
            backend.migrate().await.expect("migrate");
            let pool = backend.pool().clone();
            (Store::new(backend), pool)
        })
    };

    let (memory, pool) = sqlite("sqlite::memory:".into());
    bench_store(c, &rt, "sqlite_memory", &memory, || select_one(&pool));
    drop((memory, pool));

    let dir = std::env::temp_dir().join(format!("authkit-bench-{}", Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).expect("bench dir");
    let (file, pool) = sqlite(format!("sqlite://{}", dir.join("bench.db").display()));
    bench_store(c, &rt, "sqlite_file", &file, || select_one(&pool));
    drop((file, pool));
    let _ = std::fs::remove_dir_all(&dir);

    match std::env::var("AUTHKIT_TEST_POSTGRES_URL") {
        Ok(url) => {
            // A fresh schema keeps the bench's rows out of the database.
            let schema = format!("authkit_bench_{}", Uuid::now_v7().simple());
            let (store, pool) = rt.block_on(async {
                let admin = sqlx::PgPool::connect(&url).await.expect("postgres");
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                    .execute(&admin)
                    .await
                    .expect("schema");
                let options: sqlx::postgres::PgConnectOptions = url.parse().expect("url");
                let pool =
                    sqlx::PgPool::connect_with(options.options([("search_path", schema.as_str())]))
                        .await
                        .expect("pool");
                let store = authkit_sqlx::PgStore::from_pool(pool.clone());
                store.migrate().await.expect("migrate");
                (Store::new(store), pool)
            });
            bench_store(c, &rt, "postgres", &store, || select_one(&pool));
            drop((store, pool));
            rt.block_on(async {
                let admin = sqlx::PgPool::connect(&url).await.expect("postgres");
                sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                    .execute(&admin)
                    .await
                    .expect("drop schema");
            });
        }
        Err(_) => eprintln!("postgres benches skipped: AUTHKIT_TEST_POSTGRES_URL is not set"),
    }
}

criterion_group!(benches, stores);
criterion_main!(benches);
