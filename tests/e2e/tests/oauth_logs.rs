//! Social login never logs a secret: authorization codes, states, PKCE
//! verifiers, the browser-binding cookie, provider access and ID tokens,
//! our own tokens and the client secret stay out of every log line, on
//! success and on failure.
//!
//! Everything (the axum server, the fake provider, the client) runs on one
//! current-thread runtime, so the thread's captured logs hold every line
//! the request handling produced.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;

use authkit_core::api::{Api, ApiConfig};
use authkit_core::mail::MemoryMailer;
use authkit_core::social::OAuthConfig;
use authkit_core::store::{MemoryStore, Store};
use authkit_core::testing::CapturedLogs;
use authkit_core::{Auth, AuthConfig};
use authkit_e2e::fake_provider::{CLIENT_ID, CLIENT_SECRET, FakeProvider, FakeUser, Fault};

const COOKIE: &str = "__Host-authkit_oauth";

struct Flow {
    client: reqwest::Client,
    base: String,
    /// Secrets seen on the way: states, binding cookies, our tokens.
    seen: Vec<String>,
}

impl Flow {
    /// One sign-in with `provider`; answers the callback's status.
    async fn sign_in(&mut self, provider: &str) -> u16 {
        let start = self
            .client
            .get(format!("{}/oauth/{provider}/start", self.base))
            .send()
            .await
            .unwrap();
        assert_eq!(start.status(), 302);
        let binding = start
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|c| c.to_str().ok()?.strip_prefix(&format!("{COOKIE}=")))
            .map(|rest| rest.split(';').next().unwrap().to_owned())
            .next()
            .unwrap();
        let authorize = start.headers()["location"].to_str().unwrap().to_owned();
        let back = self.client.get(&authorize).send().await.unwrap();
        let back = url::Url::parse(back.headers()["location"].to_str().unwrap()).unwrap();
        let query = back.query().unwrap().to_owned();
        for (key, value) in back.query_pairs() {
            if key == "state" {
                self.seen.push(value.into_owned());
            }
        }
        self.seen.push(binding.clone());
        let callback = format!("{}/oauth/{provider}/callback?{query}", self.base);
        let r = self
            .client
            .get(&callback)
            .header("cookie", format!("{COOKIE}={binding}"))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body: serde_json::Value =
            serde_json::from_slice(&r.bytes().await.unwrap()).unwrap_or_default();
        for field in ["access_token", "refresh_token"] {
            if let Some(token) = body[field].as_str() {
                self.seen.push(token.to_owned());
            }
        }
        // Replaying the callback fails, and must not log the state either.
        let replay = self
            .client
            .get(&callback)
            .header("cookie", format!("{COOKIE}={binding}"))
            .send()
            .await
            .unwrap();
        assert_eq!(replay.status(), 400);
        status
    }
}

#[tokio::test(flavor = "current_thread")]
async fn codes_and_tokens_never_reach_the_logs() {
    let (logs, _guard) = CapturedLogs::start();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let fake = FakeProvider::start().await;
    let oauth = OAuthConfig::from_vars([
        ("AUTHKIT_GOOGLE_CLIENT_ID", CLIENT_ID),
        ("AUTHKIT_GOOGLE_CLIENT_SECRET", CLIENT_SECRET),
        ("AUTHKIT_GOOGLE_ISSUER", fake.base.as_str()),
        ("AUTHKIT_GITHUB_CLIENT_ID", CLIENT_ID),
        ("AUTHKIT_GITHUB_CLIENT_SECRET", CLIENT_SECRET),
        ("AUTHKIT_GITHUB_AUTHORIZE_URL", fake.base.as_str()),
        ("AUTHKIT_GITHUB_API_URL", fake.base.as_str()),
        ("AUTHKIT_OAUTH_HTTP_TIMEOUT", "1s"),
    ])
    .unwrap();
    let auth = Auth::builder(AuthConfig::default(), Store::new(MemoryStore::new()))
        .mailer(std::sync::Arc::new(MemoryMailer::default()))
        .oauth(oauth)
        .build()
        .await
        .unwrap();
    let api = Api::new(auth, ApiConfig::default()).unwrap();
    let app: axum::Router = axum::Router::new().nest("/auth", authkit_axum::router(api));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    let mut flow = Flow {
        client: reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        base: format!("http://{addr}/auth"),
        seen: vec![CLIENT_SECRET.to_owned()],
    };

    fake.sign_in_as(FakeUser::verified("log-1", "logs@example.com"));
    assert_eq!(flow.sign_in("google").await, 200);
    assert_eq!(flow.sign_in("google").await, 200, "returning user");
    fake.sign_in_as(FakeUser::verified("5005", "logs.github@example.com"));
    assert_eq!(flow.sign_in("github").await, 200);
    for fault in [
        Fault::WrongNonce,
        Fault::TokenServerError,
        Fault::ChallengeMismatch,
    ] {
        fake.fault(Some(fault));
        fake.sign_in_as(FakeUser::verified("log-2", "logs.failed@example.com"));
        assert_ne!(flow.sign_in("google").await, 200, "{fault:?}");
    }
    fake.behave();
    fake.sign_in_as(FakeUser::unverified("log-3", "logs@example.com"));
    assert_eq!(flow.sign_in("google").await, 409, "refused link");

    let mut secrets = flow.seen.clone();
    secrets.extend(fake.secrets());
    secrets.extend(
        fake.token_requests()
            .into_iter()
            .filter_map(|r| r.code_verifier),
    );
    assert!(secrets.len() > 20, "the flows produced secrets to look for");
    let lines = logs.lines();
    assert!(
        !logs.matching("social_sign_in").is_empty(),
        "the capture sees the service's logs: {lines:#?}"
    );
    assert!(
        !logs.matching("identity provider failed").is_empty(),
        "provider failures are logged (without secrets)"
    );
    for secret in &secrets {
        assert!(
            logs.matching(secret).is_empty(),
            "a secret reached the logs: {:#?}",
            logs.matching(secret)
        );
    }
}
