//! No password, token or code ever reaches the logs, at any level.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use authkit_core::mail::MemoryMailer;
use authkit_core::rate_limit::NoLimiter;
use authkit_core::store::{MemoryStore, Store};
use authkit_core::{Auth, AuthConfig, Credentials, LoginOutcome, Registration, RequestMeta};

/// Collects everything every thread logs.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_never_hold_secrets() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .finish(),
    )
    .unwrap();

    let mailer = Arc::new(MemoryMailer::default());
    let auth = Auth::builder(AuthConfig::default(), Store::new(MemoryStore::new()))
        .mailer(mailer.clone())
        .rate_limiter(Arc::new(NoLimiter))
        .build()
        .await
        .unwrap();
    let meta = RequestMeta::new(Some("192.0.2.1".into()), None);
    let password = "log-secrecy passphrase 1";
    auth.register(Registration::new("logs@example.com", password), &meta)
        .await
        .unwrap();
    let mail = mailer.last_to("logs@example.com").unwrap();
    let start = mail.text.find("?token=").unwrap() + 7;
    let link: String = mail.text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    auth.email().verify(&link, &meta).await.unwrap();
    auth.login(
        Credentials::new("logs@example.com", "a wrong guess here"),
        &meta,
    )
    .await
    .unwrap_err();
    let LoginOutcome::Tokens(pair) = auth
        .login(Credentials::new("logs@example.com", password), &meta)
        .await
        .unwrap()
    else {
        panic!("tokens expected")
    };
    let next = auth.refresh(&pair.refresh_token, &meta).await.unwrap();
    // Reuse is logged as a warning: still no token in the line.
    auth.refresh(&pair.refresh_token, &meta).await.unwrap_err();
    auth.passwords()
        .request_reset("logs@example.com", &meta)
        .await
        .unwrap();
    // The reset is mailed in the background, which logs on other threads.
    auth.background_idle().await;
    let reset = mailer.last_to("logs@example.com").unwrap().text;
    let start = reset.find("?token=").unwrap() + 7;
    let reset_link: String = reset[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    assert_ne!(reset_link, link, "the reset mail was read");

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("refresh token reuse"), "logging was captured");
    for secret in [
        password,
        "a wrong guess here",
        &link,
        &reset_link,
        &pair.access_token,
        &pair.refresh_token,
        &next.refresh_token,
    ] {
        assert!(!logs.contains(secret), "a secret reached the logs");
    }
}
