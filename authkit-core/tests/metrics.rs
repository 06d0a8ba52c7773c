//! The metrics flows record, read back through a Prometheus recorder
//! installed for the test's thread only.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use authkit_core::mail::{MailQueue, Mailer, Message, RetryPolicy};
use authkit_core::rate_limit::{Quota, RateAction, RateLimits};
use authkit_core::store::{MemoryStore, Store};
use authkit_core::{AuthConfig, AuthError, AuthResult, Credentials, Registration, RequestMeta};
use metrics_exporter_prometheus::PrometheusBuilder;

const PASSWORD: &str = "correct horse battery staple";

/// A mail server that is always down.
struct DownMailer;

#[async_trait]
impl Mailer for DownMailer {
    async fn send(&self, _message: Message) -> AuthResult<()> {
        Err(AuthError::internal_msg("connection refused"))
    }
}

/// Runs `flows` on a current-thread runtime with a recorder for this
/// thread, and answers the Prometheus text.
fn recorded(flows: impl std::future::Future<Output = ()>) -> String {
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(flows);
    });
    handle.render()
}

#[test]
fn logins_throttling_and_mail_failures_are_counted_without_identifiers() {
    let text = recorded(async {
        let mut limits = RateLimits::default();
        limits
            .set(
                RateAction::LoginPerEmail,
                Quota::new(3, Duration::from_secs(60)),
            )
            .unwrap();
        let config = AuthConfig::builder()
            .account(|a| a.require_email_verification(false))
            .rate_limits(limits)
            .build()
            .unwrap();
        let mailer = Arc::new(MailQueue::with_retry(
            Arc::new(DownMailer),
            8,
            RetryPolicy::NO_RETRY,
        ));
        let auth = authkit_core::Auth::builder(config, Store::new(MemoryStore::new()))
            .mailer(mailer.clone())
            .build()
            .await
            .unwrap();
        let meta = RequestMeta::default();
        auth.register(Registration::new("ann@example.com", PASSWORD), &meta)
            .await
            .unwrap();
        let login = |password: &'static str| {
            let (auth, meta) = (auth.clone(), meta.clone());
            async move {
                auth.login(Credentials::new("ann@example.com", password), &meta)
                    .await
            }
        };
        login(PASSWORD).await.unwrap();
        login("wrong password").await.unwrap_err();
        login("wrong password").await.unwrap_err();
        assert_eq!(login(PASSWORD).await.unwrap_err().code(), "rate_limited");
        // A mail to a dead server fails in the background, once.
        mailer
            .send(Message {
                to: "ann@example.com".into(),
                subject: "hello".into(),
                text: "hello".into(),
                html: "<p>hello</p>".into(),
            })
            .await
            .unwrap();
        mailer.flush().await.unwrap();
    });
    for expected in [
        "authkit_logins_total{outcome=\"success\"} 1",
        "authkit_logins_total{outcome=\"invalid_credentials\"} 2",
        "authkit_logins_total{outcome=\"rate_limited\"} 1",
        "authkit_rate_limited_total{action=\"login_per_email\"} 1",
        "authkit_mail_failures_total{reason=\"given_up\"} 1",
        "authkit_mail_queue_depth 0",
        "authkit_store_call_duration_seconds_count{operation=\"users.create_user\",outcome=\"ok\"} 1",
        "authkit_password_hash_queue_depth 0",
    ] {
        assert!(text.contains(expected), "{expected} missing from:\n{text}");
    }
    assert!(!text.contains("example.com"), "no identifiers in labels");
}
