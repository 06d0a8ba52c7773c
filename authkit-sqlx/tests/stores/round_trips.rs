//! Round trips of the hot store operations on PostgreSQL, counted on the
//! wire: the store talks to the server through a local TCP relay that
//! counts how often the client speaks again after the server answered.

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use authkit_core::secret::{TokenHash, token256};
use authkit_core::session::{RotateOutcome, RotateRefresh, Session};
use authkit_core::store::Store;
use chrono::{Duration, SubsecRound, Utc};
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use uuid::Uuid;

use crate::databases;

/// Counts round trips between clients and one server.
#[derive(Default)]
struct Counter {
    round_trips: AtomicU64,
    /// The server spoke last: the client's next bytes start a round trip.
    answered: AtomicBool,
}

/// Relays one local port to `server`, counting round trips.
async fn relay(server: String) -> (u16, Arc<Counter>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let counter = Arc::new(Counter::default());
    let shared = counter.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let upstream = TcpStream::connect(&server).await.unwrap();
            let (client_read, client_write) = client.into_split();
            let (server_read, server_write) = upstream.into_split();
            tokio::spawn(pipe(client_read, server_write, shared.clone(), true));
            tokio::spawn(pipe(server_read, client_write, shared.clone(), false));
        }
    });
    (port, counter)
}

async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    counter: Arc<Counter>,
    from_client: bool,
) {
    let mut buf = vec![0; 64 * 1024];
    while let Ok(n) = from.read(&mut buf).await {
        if n == 0 {
            break;
        }
        if from_client {
            if counter.answered.swap(false, Ordering::SeqCst) {
                counter.round_trips.fetch_add(1, Ordering::SeqCst);
            }
        } else {
            counter.answered.store(true, Ordering::SeqCst);
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
}

/// Round trips `op` costs, after one warm-up run (statement preparation
/// is cached per connection, as in a long-running server).
///
/// Only the round trips while `op` runs count: on release the pool pings
/// the connection in a task of its own, which on this single-threaded
/// runtime cannot run before the count is read; [`settle`] then lets it
/// finish before the next measurement.
async fn round_trips<F, Fut>(counter: &Counter, pool: &PgPool, mut op: F) -> u64
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    op().await;
    settle(pool).await;
    let before = counter.round_trips.load(Ordering::SeqCst);
    op().await;
    let trips = counter.round_trips.load(Ordering::SeqCst) - before;
    settle(pool).await;
    trips
}

/// Waits until every connection is back in the pool.
async fn settle(pool: &PgPool) {
    while pool.num_idle() < pool.size() as usize {
        tokio::task::yield_now().await;
    }
}

fn session(now: chrono::DateTime<Utc>) -> Session {
    Session {
        id: Uuid::now_v7(),
        user_id: Uuid::now_v7(),
        ip: None,
        user_agent: None,
        created_at: now,
        last_seen_at: now,
        expires_at: now + Duration::days(1),
        revoked_at: None,
        revoke_reason: None,
    }
}

#[tokio::test]
async fn postgres_rotates_a_refresh_token_in_one_round_trip() {
    let Some(url) = databases::postgres_url() else {
        return;
    };
    let (store, _schema) = databases::fresh_postgres(&url).await;
    store.migrate().await.unwrap();
    let schema = sqlx::query_scalar::<_, String>("SELECT current_schema()")
        .fetch_one(store.pool())
        .await
        .unwrap();

    let options = PgConnectOptions::from_str(&url).unwrap();
    let (port, counter) = relay(format!("{}:{}", options.get_host(), options.get_port())).await;
    // One connection, and no liveness ping on checkout, so every round
    // trip counted is the operation's own.
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .test_before_acquire(false)
        .connect_with(
            options
                .host("127.0.0.1")
                .port(port)
                .options([("search_path", schema.as_str())]),
        )
        .await
        .unwrap();
    let store = Store::new(authkit_sqlx::PgStore::from_pool(pool.clone()));
    let pool = &pool;

    let store = &store;
    let baseline = round_trips(&counter, pool, move || async move {
        store.sessions.session(Uuid::now_v7()).await.unwrap();
    })
    .await;
    assert_eq!(baseline, 1, "a plain lookup is one round trip");

    let now = Utc::now().trunc_subsecs(6);
    let first = TokenHash::of_token(&token256());
    store
        .sessions
        .create_session(&session(now), &first)
        .await
        .unwrap();
    let current = &Mutex::new(first);
    let trips = round_trips(&counter, pool, move || async move {
        let presented = *current.lock().unwrap();
        let req = rotation(presented);
        let outcome = store.sessions.rotate_refresh(&req).await.unwrap();
        assert!(matches!(outcome, RotateOutcome::Rotated(_)), "{outcome:?}");
        *current.lock().unwrap() = req.replacement;
    })
    .await;
    assert_eq!(trips, 1, "refresh rotation is a single round trip");

    let trips = round_trips(&counter, pool, move || async move {
        let req = rotation(TokenHash::of_token(&token256()));
        let outcome = store.sessions.rotate_refresh(&req).await.unwrap();
        assert_eq!(outcome, RotateOutcome::Invalid);
    })
    .await;
    assert_eq!(trips, 1, "an unknown token costs one round trip too");

    // The statement is prepared now: reuse is one round trip as well.
    let replaced = *current.lock().unwrap();
    store
        .sessions
        .rotate_refresh(&rotation(replaced))
        .await
        .unwrap();
    settle(pool).await;
    let before = counter.round_trips.load(Ordering::SeqCst);
    let outcome = store
        .sessions
        .rotate_refresh(&rotation(replaced))
        .await
        .unwrap();
    let trips = counter.round_trips.load(Ordering::SeqCst) - before;
    assert!(matches!(outcome, RotateOutcome::Reused(_)), "{outcome:?}");
    assert_eq!(
        trips, 1,
        "reuse, revoking the session, is a single round trip"
    );
}

/// A rotation of `presented` now, with no grace period.
fn rotation(presented: TokenHash) -> RotateRefresh {
    RotateRefresh {
        presented,
        replacement: TokenHash::of_token(&token256()),
        now: Utc::now(),
        idle_timeout: Duration::hours(1),
        reuse_grace: Duration::zero(),
    }
}
