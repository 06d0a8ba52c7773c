//! A restarted single-instance server (SQLite file, no Redis) keeps
//! refusing the access tokens of sessions revoked before the restart: a
//! logout and an administrator's revocation are read back from the store
//! at start-up, so their still-unexpired tokens do not come back to life
//! on `/auth/me` or on the host's own routes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;

use serde_json::{Value, json};

use support::{Instance, client, command, start};

const PASSWORD: &str = "correct horse battery staple";

/// The environment of both runs: one SQLite file, fixed secrets.
fn environment(database: &Path) -> Vec<(String, String)> {
    [
        (
            "AUTHKIT_DATABASE_URL",
            format!("sqlite://{}", database.display()),
        ),
        (
            "AUTHKIT_SECRET_KEY",
            "cmVzdGFydC10ZXN0LXNlY3JldC0wMTIzNDU2Nzg5YWI".to_owned(),
        ),
        (
            "AUTHKIT_MFA_ENCRYPTION_KEY",
            "cmVzdGFydC10ZXN0LW1mYS1rZXktMDEyMzQ1Njc4OWE".to_owned(),
        ),
        ("AUTHKIT_REQUIRE_EMAIL_VERIFICATION", "false".to_owned()),
        ("AUTHKIT_BIND", "127.0.0.1:0".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

struct Client {
    http: reqwest::Client,
}

impl Client {
    /// Status and JSON body (`null` when there is none).
    async fn call(
        &self,
        server: &Instance,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", server.base));
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
        let bytes = response.bytes().await.unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    async fn login(&self, server: &Instance, email: &str) -> Value {
        let body = json!({"email": email, "password": PASSWORD});
        let (status, tokens) = self
            .call(
                server,
                reqwest::Method::POST,
                "/auth/token",
                None,
                Some(body),
            )
            .await;
        assert_eq!(status, 200, "{tokens}");
        tokens
    }

    /// The statuses of `/auth/me` and the host's `/api/hello` for `tokens`.
    async fn access(&self, server: &Instance, tokens: &Value) -> (u16, u16) {
        let token = tokens["access_token"].as_str();
        let (me, _) = self
            .call(server, reqwest::Method::GET, "/auth/me", token, None)
            .await;
        let (hello, _) = self
            .call(server, reqwest::Method::GET, "/api/hello", token, None)
            .await;
        (me, hello)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_tokens_stay_revoked_after_a_restart() {
    let dir = support::scratch("restart");
    let run = uuid::Uuid::now_v7().simple().to_string();
    let database = dir.join(format!("restart-{run}.db"));
    let env = environment(&database);
    let client = Client { http: client() };

    let created = command(&dir, &env)
        .args(["create-admin", "--email", "root@example.com"])
        .env("AUTHKIT_ADMIN_PASSWORD", PASSWORD)
        .status()
        .unwrap();
    assert!(created.success(), "create-admin failed");
    let first = start(&dir, &env);
    let root = client.login(&first, "root@example.com").await;
    let root_token = root["access_token"].as_str();
    let register = json!({"email": "ann@example.com", "password": PASSWORD});
    let (status, registered) = client
        .call(
            &first,
            reqwest::Method::POST,
            "/auth/register",
            None,
            Some(register),
        )
        .await;
    assert_eq!(status, 201, "{registered}");
    let ann = registered["user"]["id"].as_str().unwrap().to_owned();
    let phone = client.login(&first, "ann@example.com").await;
    let laptop = client.login(&first, "ann@example.com").await;
    let tablet = client.login(&first, "ann@example.com").await;
    for tokens in [&phone, &laptop, &tablet] {
        assert_eq!(client.access(&first, tokens).await, (200, 200));
    }

    // A logout and an administrator's revocation of one session each.
    let (status, _) = client
        .call(
            &first,
            reqwest::Method::POST,
            "/auth/logout",
            phone["access_token"].as_str(),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let revoke = format!(
        "/auth/admin/users/{ann}/sessions/{}",
        laptop["session_id"].as_str().unwrap()
    );
    let (status, _) = client
        .call(&first, reqwest::Method::DELETE, &revoke, root_token, None)
        .await;
    assert_eq!(status, 204);
    for tokens in [&phone, &laptop] {
        assert_eq!(client.access(&first, tokens).await, (401, 401));
    }

    first.kill();
    let second = start(&dir, &env);
    for (tokens, what) in [(&phone, "logged out"), (&laptop, "revoked by an admin")] {
        assert_eq!(
            client.access(&second, tokens).await,
            (401, 401),
            "{what}: refused after the restart"
        );
    }
    assert_eq!(
        client.access(&second, &tablet).await,
        (200, 200),
        "a live session's token still works"
    );
    drop(second);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", database.display()));
    }
}
