//! Load shedding: when every hash thread is busy and the line for them is
//! full, logins and registrations are refused at once with 503
//! `server_busy` and `Retry-After`, hashing nothing, while requests that
//! need no hash go on being served.

use std::time::Duration;

use authkit_core::AuthConfig;
use authkit_core::password::HashQueue;
use authkit_core::store::LockoutPolicy;
use serde_json::json;

use crate::{Factory, Harness, Options, PASSWORD};

/// One hash thread and no line: while the test holds the thread, every
/// hash is refused; deterministic, no timing involved.
pub async fn busy_hash_threads_shed_logins_with_503(factory: &Factory) {
    let options = Options {
        auth: AuthConfig {
            hash_concurrency: 1,
            hash_queue: HashQueue {
                max_waiting: 0,
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

    let held = h.auth.password_hasher().hold_threads().await.unwrap();
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
