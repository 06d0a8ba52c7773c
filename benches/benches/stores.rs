//! SQL store hot paths: find a user by email, create a session, rotate a
//! refresh token, consume a one-time token. SQLite (in memory and on a
//! file) always; PostgreSQL too when `AUTHKIT_TEST_POSTGRES_URL` is set.

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

fn bench_store(c: &mut Criterion, rt: &tokio::runtime::Runtime, name: &str, store: &Store) {
    let mut group = c.benchmark_group(format!("store/{name}"));
    group.sample_size(30);

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

fn stores(c: &mut Criterion) {
    let rt = runtime();
    let memory = rt
        .block_on(authkit_sqlx::connect("sqlite::memory:"))
        .expect("sqlite in memory");
    bench_store(c, &rt, "sqlite_memory", &memory);

    let dir = std::env::temp_dir().join(format!("authkit-bench-{}", Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).expect("bench dir");
    let url = format!("sqlite://{}", dir.join("bench.db").display());
    let file = rt
        .block_on(authkit_sqlx::connect(&url))
        .expect("sqlite file");
    bench_store(c, &rt, "sqlite_file", &file);
    drop(file);
    let _ = std::fs::remove_dir_all(&dir);

    match std::env::var("AUTHKIT_TEST_POSTGRES_URL") {
        Ok(url) => {
            // A fresh schema keeps the bench's rows out of the database.
            let schema = format!("authkit_bench_{}", Uuid::now_v7().simple());
            let store = rt.block_on(async {
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
                let store = authkit_sqlx::PgStore::from_pool(pool);
                store.migrate().await.expect("migrate");
                Store::new(store)
            });
            bench_store(c, &rt, "postgres", &store);
            drop(store);
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
