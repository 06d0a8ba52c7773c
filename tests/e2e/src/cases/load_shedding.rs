//! Load shedding: when every hash thread is busy and the line for them is
//! full, logins and registrations are refused at once with 503
//! `server_busy` and `Retry-After`, hashing nothing, while requests that
//! need no hash go on being served; and one client address holds only its
//! share of the line, so a flood from it leaves places for the others.

use std::sync::Arc;
use std::time::Duration;

use authkit_core::AuthConfig;
use authkit_core::api::ApiConfig;
use authkit_core::password::HashQueue;
use authkit_core::store::LockoutPolicy;
use http::Method;
use serde_json::json;
use tokio::task::JoinSet;

use crate::{Factory, Harness, Options, PASSWORD, Reply};

/// One hash thread and no line: while the test holds the thread, every
/// hash is refused; deterministic, no timing involved.
pub async fn busy_hash_threads_shed_logins_with_503(factory: &Factory) {
    let options = Options {
        auth: AuthConfig {
            hash_concurrency: 1,
            hash_queue: HashQueue {
                max_waiting: 0,
                max_per_client: 0,
                max_wait: Duration::from_secs(2),
            },
            // Two failed logins would lock: the four shed ones below must
            // not count.
            lockout: LockoutPolicy {
                max_failures: 2,
                ..AuthConfig::default().lockout
            },
            ..AuthConfig::default()
        },
        ..Options::default()
    };
    let h = Harness::start(factory, options).await;
    let pair = h.signed_in("amy@example.com").await;
    let token = pair["access_token"].as_str().unwrap();

    let held = h.auth.passwords().hasher().hold_threads().await.unwrap();
    let mut bodies = Vec::new();
    for email in ["amy@example.com", "nobody@example.com"] {
        for password in [PASSWORD, "a wrong password"] {
            let r = h
                .post("/token", json!({"email": email, "password": password}))
                .await;
            r.assert_problem(503, "server_busy");
            assert_eq!(r.header("retry-after"), Some("1"));
            bodies.push(r.body.clone());
        }
    }
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "known and unknown accounts are refused alike"
    );
    let r = h
        .post(
            "/register",
            json!({"email": "new@example.com", "password": PASSWORD}),
        )
        .await;
    r.assert_problem(503, "server_busy");
    assert_eq!(r.header("retry-after"), Some("1"));
    // No hash, no problem: the account's own routes are served.
    assert_eq!(h.get("/me", token).await.status, 200);
    // A shed login is no failed login: it does not count to the lockout.
    drop(held);
    h.login("amy@example.com", PASSWORD).await;
    let r = h
        .post(
            "/register",
            json!({"email": "new@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 201);
}

/// A login from `client` (a forwarded address the harness trusts).
async fn login_from(h: &Harness, client: &str, email: &str) -> Reply {
    let body = json!({"email": email, "password": PASSWORD}).to_string();
    h.send(
        Method::POST,
        "/token",
        &[
            ("content-type", "application/json"),
            ("x-forwarded-for", client),
        ],
        body,
    )
    .await
}

/// One hash thread, held busy; a line of four with two places per client
/// address. A flood of logins with random emails from one address gets
/// its two places and is shed beyond them, while a user behind another
/// address still gets a place and, once the thread is free, signs in.
/// Deterministic: a queued login cannot answer while the thread is held,
/// so the first answers to come back are the shed ones.
pub async fn a_flooding_client_is_shed_while_others_keep_their_place(factory: &Factory) {
    let options = Options {
        auth: AuthConfig {
            hash_concurrency: 1,
            hash_queue: HashQueue {
                max_waiting: 4,
                max_per_client: 2,
                max_wait: Duration::from_secs(60),
            },
            ..AuthConfig::default()
        },
        api: ApiConfig {
            trusted_proxies: "127.0.0.1/32".parse().unwrap(),
            ..ApiConfig::default()
        },
        ..Options::default()
    };
    let h = Arc::new(Harness::start(factory, options).await);
    h.verified_user("amy@example.com").await;

    let held = h.auth.passwords().hasher().hold_threads().await.unwrap();
    let mut flood = JoinSet::new();
    for i in 0..6 {
        let h = Arc::clone(&h);
        flood.spawn(async move {
            login_from(&h, "198.51.100.66", &format!("random{i}@example.com")).await
        });
    }
    // Two of the six wait in line; the other four are shed at once, though
    // the line has room for two more.
    for _ in 0..4 {
        let r = flood.join_next().await.unwrap().unwrap();
        r.assert_problem(503, "server_busy");
        assert_eq!(r.header("retry-after"), Some("1"));
    }
    // Amy, behind another address, still gets a place: two of her three
    // attempts wait (the line is now full), the third is shed.
    let mut amy = JoinSet::new();
    for _ in 0..3 {
        let h = Arc::clone(&h);
        amy.spawn(async move { login_from(&h, "203.0.113.5", "amy@example.com").await });
    }
    amy.join_next()
        .await
        .unwrap()
        .unwrap()
        .assert_problem(503, "server_busy");

    drop(held);
    for r in amy.join_all().await {
        assert_eq!(r.status, 200, "amy's waiting logins got their hash");
    }
    for r in flood.join_all().await {
        r.assert_problem(401, "invalid_credentials");
    }
    // Every place came back: the flooding address is served again.
    login_from(&h, "198.51.100.66", "nobody@example.com")
        .await
        .assert_problem(401, "invalid_credentials");
}
