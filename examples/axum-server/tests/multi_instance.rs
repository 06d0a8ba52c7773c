//! Three `axum-server` processes on their own ports, sharing one PostgreSQL
//! schema (fresh per run, dropped at the end) and one Redis (a key prefix
//! per run), must behave as one service: a login rate limit, an account
//! lockout, refresh-token reuse detection, a session revocation, a profile
//! change (in `/me`, which each instance caches) and a signing-key rotation
//! made through one instance are each seen by every instance. The metrics each instance exposes are scraped too.
//!
//! Needs `AUTHKIT_TEST_POSTGRES_URL` and `AUTHKIT_TEST_REDIS_URL`; without
//! them it prints why it skips, except under `CI=true`, where it fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sqlx::Connection;
use tokio::time::Instant;

use support::{Instance, client, command, start};

const PASSWORD: &str = "correct horse battery staple";
/// How often instances poll the revocation feed: the documented bound on
/// how late a revocation made elsewhere is seen.
const REVOCATION_POLL_MS: u64 = 100;
/// Patience for anything that is meant to propagate within the bound.
const PATIENCE: Duration = Duration::from_secs(10);

/// The environment every process of the run shares.
fn environment(database_url: &str, redis_url: &str, prefix: &str) -> Vec<(String, String)> {
    // 32 bytes per secret, shared by the run's processes.
    let secret = |seed: &str| {
        URL_SAFE_NO_PAD.encode(&format!("{seed}-{prefix}-0123456789abcdef").as_bytes()[..32])
    };
    [
        ("AUTHKIT_DATABASE_URL", database_url.to_owned()),
        ("AUTHKIT_REDIS_URL", redis_url.to_owned()),
        ("AUTHKIT_REDIS_KEY_PREFIX", prefix.to_owned()),
        ("AUTHKIT_REDIS_ON_ERROR", "closed".to_owned()),
        (
            "AUTHKIT_REDIS_REVOCATION_POLL",
            format!("{REVOCATION_POLL_MS}ms"),
        ),
        ("AUTHKIT_SECRET_KEY", secret("secret")),
        ("AUTHKIT_MFA_ENCRYPTION_KEY", secret("mfa")),
        ("AUTHKIT_REQUIRE_EMAIL_VERIFICATION", "false".to_owned()),
        ("AUTHKIT_METRICS", "1".to_owned()),
        ("AUTHKIT_BIND", "127.0.0.1:0".to_owned()),
        // Rotation: keys reloaded every second, a new key signs after 3 s.
        ("AUTHKIT_KEY_RELOAD_INTERVAL", "1".to_owned()),
        ("AUTHKIT_KEY_ACTIVATION_DELAY", "3".to_owned()),
        ("AUTHKIT_LOCKOUT_MAX_FAILURES", "3".to_owned()),
        // Only the per-email login limit is under test; every request
        // comes from 127.0.0.1.
        ("AUTHKIT_RATE_LOGIN_PER_EMAIL", "6/1m".to_owned()),
        ("AUTHKIT_RATE_LOGIN_PER_IP", "off".to_owned()),
        ("AUTHKIT_RATE_REGISTER_PER_IP", "off".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// An answer, read in full.
struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Reply {
    fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
}

struct Cluster {
    client: reqwest::Client,
    instances: Vec<Instance>,
}

impl Cluster {
    async fn call(
        &self,
        instance: usize,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let url = format!("{}{path}", self.instances[instance].base);
        let mut request = self.client.request(method, url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(serde_json::to_vec(&body).unwrap());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Reply {
            status,
            headers,
            body,
        }
    }

    async fn post(&self, instance: usize, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.call(instance, reqwest::Method::POST, path, token, Some(body))
            .await
    }

    async fn get(&self, instance: usize, path: &str, token: Option<&str>) -> Reply {
        self.call(instance, reqwest::Method::GET, path, token, None)
            .await
    }

    async fn register(&self, instance: usize, email: &str) {
        let reply = self
            .post(
                instance,
                "/auth/register",
                None,
                json!({"email": email, "password": PASSWORD}),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
    }

    async fn login(&self, instance: usize, email: &str, password: &str) -> Reply {
        self.post(
            instance,
            "/auth/token",
            None,
            json!({"email": email, "password": password}),
        )
        .await
    }

    async fn tokens(&self, instance: usize, email: &str) -> Value {
        let reply = self.login(instance, email, PASSWORD).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body
    }

    /// `GET /auth/me` status on `instance`.
    async fn me(&self, instance: usize, access: &str) -> u16 {
        self.get(instance, "/auth/me", Some(access)).await.status
    }

    /// Polls until `GET /auth/me` on `instance` answers `status`, failing
    /// after [`PATIENCE`].
    async fn await_me(&self, instance: usize, access: &str, status: u16) -> Duration {
        let started = Instant::now();
        loop {
            if self.me(instance, access).await == status {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < PATIENCE,
                "instance {instance} never answered {status}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The `kid` in a JWT's header.
fn kid(jwt: &str) -> String {
    let header = jwt.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_behave_as_one_service() {
    let Some(postgres) = authkit_core::testing::service_url("AUTHKIT_TEST_POSTGRES_URL") else {
        return;
    };
    let Some(redis) = authkit_core::testing::service_url("AUTHKIT_TEST_REDIS_URL") else {
        return;
    };
    let run = uuid::Uuid::now_v7().simple().to_string();
    let schema = format!("authkit_mi_{run}");
    let mut admin = sqlx::PgConnection::connect(&postgres)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at the test URL is unreachable: {e}"));
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut admin)
        .await
        .unwrap();
    let separator = if postgres.contains('?') { '&' } else { '?' };
    let database_url = format!("{postgres}{separator}options=-c%20search_path%3D{schema}");
    let env = environment(&database_url, &redis, &format!("authkit-mi:{run}:"));

    // The scenarios run in their own task so that the schema is dropped
    // whatever they do; a failure is re-raised after.
    let outcome = tokio::spawn(scenarios(support::scratch("multi-instance"), env)).await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&mut admin)
        .await
        .unwrap();
    if let Err(err) = outcome {
        std::panic::resume_unwind(err.into_panic());
    }
}

async fn scenarios(dir: PathBuf, env: Vec<(String, String)>) {
    // The first instance migrates the schema; the others start after it.
    let first = start(&dir, &env);
    let second = start(&dir, &env);
    let third = start(&dir, &env);
    let cluster = Cluster {
        client: client(),
        instances: vec![first, second, third],
    };
    rate_limit_is_shared(&cluster).await;
    lockout_is_shared(&cluster).await;
    refresh_reuse_is_detected_everywhere(&cluster).await;
    revocation_reaches_every_instance(&cluster).await;
    profile_change_reaches_every_cached_me(&cluster).await;
    key_rotation_reaches_every_instance(&cluster, &dir, &env).await;
    metrics_are_exposed(&cluster).await;
}

/// Six logins per email per minute, counted across the instances.
async fn rate_limit_is_shared(cluster: &Cluster) {
    let email = "nobody@example.com";
    for attempt in 0..6 {
        let reply = cluster.login(attempt % 3, email, "wrong password").await;
        assert_eq!(
            (reply.status, reply.code()),
            (401, "invalid_credentials"),
            "attempt {attempt}"
        );
    }
    for instance in 0..3 {
        let reply = cluster.login(instance, email, "wrong password").await;
        assert_eq!((reply.status, reply.code()), (429, "rate_limited"));
        let retry_after: u64 = reply.headers["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=12).contains(&retry_after), "{retry_after}");
    }
}

/// Three failures, one per instance, lock the account on all of them.
async fn lockout_is_shared(cluster: &Cluster) {
    let email = "locked@example.com";
    cluster.register(0, email).await;
    for instance in 0..3 {
        let reply = cluster.login(instance, email, "wrong password").await;
        assert_eq!((reply.status, reply.code()), (401, "invalid_credentials"));
    }
    for instance in 0..3 {
        let reply = cluster.login(instance, email, PASSWORD).await;
        assert_eq!(
            (reply.status, reply.code()),
            (403, "account_locked"),
            "instance {instance}"
        );
    }
}

/// A token rotated on one instance and replayed on another is reuse: the
/// session dies everywhere, access tokens included.
async fn refresh_reuse_is_detected_everywhere(cluster: &Cluster) {
    let email = "reuse@example.com";
    cluster.register(1, email).await;
    let first = cluster.tokens(0, email).await;
    let refresh = |token: &Value| json!({"refresh_token": token["refresh_token"]});
    let second = cluster
        .post(1, "/auth/token/refresh", None, refresh(&first))
        .await;
    assert_eq!(second.status, 200, "{}", second.body);
    let second = second.body;
    let access = second["access_token"].as_str().unwrap();
    for instance in 0..3 {
        assert_eq!(cluster.me(instance, access).await, 200);
    }
    let replay = cluster
        .post(2, "/auth/token/refresh", None, refresh(&first))
        .await;
    assert_eq!(
        (replay.status, replay.code()),
        (401, "refresh_token_reused")
    );
    let next = cluster
        .post(0, "/auth/token/refresh", None, refresh(&second))
        .await;
    assert_eq!((next.status, next.code()), (401, "token_invalid"));
    for instance in 0..3 {
        let waited = cluster.await_me(instance, access, 401).await;
        assert!(waited < PATIENCE);
    }
}

/// A session revoked through one instance is refused by the others within
/// the revocation poll interval; other sessions are untouched.
async fn revocation_reaches_every_instance(cluster: &Cluster) {
    let email = "revoke@example.com";
    cluster.register(2, email).await;
    let phone = cluster.tokens(0, email).await;
    let laptop = cluster.tokens(1, email).await;
    let (phone_access, laptop_access) = (
        phone["access_token"].as_str().unwrap(),
        laptop["access_token"].as_str().unwrap(),
    );
    for instance in 0..3 {
        assert_eq!(cluster.me(instance, laptop_access).await, 200);
    }
    let path = format!("/auth/sessions/{}", laptop["session_id"].as_str().unwrap());
    let revoked = cluster
        .call(0, reqwest::Method::DELETE, &path, Some(phone_access), None)
        .await;
    assert_eq!(revoked.status, 204, "{}", revoked.body);
    // At once where it was revoked; within the bound elsewhere.
    assert_eq!(cluster.me(0, laptop_access).await, 401);
    for instance in 1..3 {
        let waited = cluster.await_me(instance, laptop_access, 401).await;
        eprintln!("revocation seen by instance {instance} after {waited:?}");
    }
    for instance in 0..3 {
        assert_eq!(cluster.me(instance, phone_access).await, 200);
    }
}

/// Every instance caches `/me`; a change made through one instance is
/// shown by the others within the poll interval, never a stale view after.
async fn profile_change_reaches_every_cached_me(cluster: &Cluster) {
    let email = "profile@example.com";
    cluster.register(1, email).await;
    let tokens = cluster.tokens(1, email).await;
    let access = tokens["access_token"].as_str().unwrap();
    let name = |reply: &Reply| reply.body["display_name"].clone();
    for instance in 0..3 {
        // Twice: the second answer comes from the instance's cache.
        for _ in 0..2 {
            let me = cluster.get(instance, "/auth/me", Some(access)).await;
            assert_eq!((me.status, name(&me)), (200, Value::Null), "{}", me.body);
        }
    }
    let patched = cluster
        .call(
            2,
            reqwest::Method::PATCH,
            "/auth/me",
            Some(access),
            Some(json!({"display_name": "Everywhere"})),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(
        name(&cluster.get(2, "/auth/me", Some(access)).await),
        "Everywhere"
    );
    for instance in 0..2 {
        let started = Instant::now();
        loop {
            if name(&cluster.get(instance, "/auth/me", Some(access)).await) == "Everywhere" {
                eprintln!(
                    "profile change seen by instance {instance} after {:?}",
                    started.elapsed()
                );
                break;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "instance {instance} kept a stale /me"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A key rotated by a one-off command against the shared store is
/// published by every instance after its reload, signs once active, and
/// its tokens verify on every instance; older tokens keep verifying.
async fn key_rotation_reaches_every_instance(
    cluster: &Cluster,
    dir: &Path,
    env: &[(String, String)],
) {
    let email = "rotate@example.com";
    cluster.register(0, email).await;
    let before = cluster.tokens(0, email).await;
    let old_access = before["access_token"].as_str().unwrap();
    let old_kid = kid(old_access);

    let status = command(dir, env)
        .arg("rotate-signing-key")
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "rotate-signing-key failed");

    // Every instance publishes the new key after its next reload.
    let started = Instant::now();
    let mut new_kid = None;
    for instance in 0..3 {
        loop {
            let jwks = cluster.get(instance, "/.well-known/jwks.json", None).await;
            let kids: Vec<String> = jwks.body["keys"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k["kid"].as_str().unwrap().to_owned())
                .collect();
            if let Some(fresh) = kids.iter().find(|k| **k != old_kid) {
                assert_eq!(new_kid.get_or_insert_with(|| fresh.clone()), fresh);
                assert!(kids.contains(&old_kid), "the old key still verifies");
                break;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "instance {instance} never published the key"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let new_kid = new_kid.unwrap();

    // Once active, instance 1 signs with it (refreshing, which is not
    // throttled, until it does); the others verify its tokens.
    let started = Instant::now();
    let mut after = before.clone();
    while kid(after["access_token"].as_str().unwrap()) != new_kid {
        assert!(started.elapsed() < PATIENCE, "the new key never signed");
        tokio::time::sleep(Duration::from_millis(200)).await;
        let body = json!({"refresh_token": after["refresh_token"]});
        let reply = cluster.post(1, "/auth/token/refresh", None, body).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        after = reply.body;
    }
    for instance in 0..3 {
        assert_eq!(
            cluster
                .me(instance, after["access_token"].as_str().unwrap())
                .await,
            200,
            "instance {instance} verifies the new key"
        );
        assert_eq!(
            cluster
                .me(instance, before["access_token"].as_str().unwrap())
                .await,
            200,
            "instance {instance} still verifies the old key"
        );
    }
}

/// Each instance serves its own counters at `/metrics`.
async fn metrics_are_exposed(cluster: &Cluster) {
    let scrape = |instance| async move {
        let reply = cluster.get(instance, "/metrics", None).await;
        assert_eq!(reply.status, 200);
        assert!(
            reply.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain")
        );
        reply.body.as_str().unwrap().to_owned()
    };
    let first = scrape(0).await;
    for expected in [
        "authkit_logins_total{outcome=\"invalid_credentials\"}",
        "authkit_logins_total{outcome=\"success\"}",
        "authkit_logins_total{outcome=\"rate_limited\"}",
        "authkit_rate_limited_total{action=\"login_per_email\"}",
        "authkit_sessions_revoked_total",
        "authkit_refreshes_total{outcome=\"token_invalid\"}",
        "authkit_password_hash_duration_seconds",
        "authkit_store_call_duration_seconds",
        "operation=\"users.user_by_email\"",
    ] {
        assert!(
            first.contains(expected),
            "{expected} missing from:\n{first}"
        );
    }
    let third = scrape(2).await;
    // The third failure (and the replay) happened on instance 2.
    for expected in [
        "authkit_refresh_reuse_detected_total 1",
        "authkit_lockouts_total 1",
        "authkit_refreshes_total{outcome=\"refresh_token_reused\"} 1",
    ] {
        assert!(
            third.contains(expected),
            "{expected} missing from:\n{third}"
        );
    }
    // No user identifiers in any label.
    for text in [&first, &third] {
        assert!(!text.contains("@example.com"));
    }
}
