//! Every flow that revokes sessions makes their access tokens fail at
//! `authenticate` at once (the in-process revocation list), not at expiry,
//! and keeps doing so after a restart.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use authkit_core::clock::{Clock, ManualClock};
use authkit_core::mail::MemoryMailer;
use authkit_core::rate_limit::NoLimiter;
use authkit_core::store::{MemoryStore, Store};
use authkit_core::{
    Auth, AuthConfig, AuthError, Credentials, LoginOutcome, Registration, RequestMeta, TokenPair,
};
use chrono::{Duration, Utc};

const PASSWORD: &str = "correct horse battery staple";
const NEW_PASSWORD: &str = "another horse, another staple";

struct Harness {
    auth: Auth,
    mailer: Arc<MemoryMailer>,
    clock: Arc<ManualClock>,
    store: Store,
}

async fn harness() -> Harness {
    let mailer = Arc::new(MemoryMailer::default());
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let store = Store::new(MemoryStore::new());
    let auth = service(&store, &mailer, &clock).await;
    Harness {
        auth,
        mailer,
        clock,
        store,
    }
}

/// A service over `store`: what a (re)started process builds.
async fn service(store: &Store, mailer: &Arc<MemoryMailer>, clock: &Arc<ManualClock>) -> Auth {
    let config = AuthConfig::builder()
        .account(|a| a.require_email_verification(false))
        .build()
        .unwrap();
    Auth::builder(config, store.clone())
        .mailer(mailer.clone())
        .clock(clock.clone())
        .rate_limiter(Arc::new(NoLimiter))
        .build()
        .await
        .unwrap()
}

fn meta() -> RequestMeta {
    RequestMeta::new(Some("203.0.113.7".into()), Some("tests/1.0".into()))
}

async fn login(h: &Harness, email: &str, password: &str) -> TokenPair {
    match h
        .auth
        .login(Credentials::new(email, password), &meta())
        .await
        .unwrap()
    {
        LoginOutcome::Tokens(pair) => pair,
        other => panic!("expected tokens, got {other:?}"),
    }
}

/// A registered account with two sessions (two devices).
async fn two_sessions(h: &Harness, email: &str) -> (TokenPair, TokenPair) {
    h.auth
        .register(Registration::new(email, PASSWORD), &meta())
        .await
        .unwrap();
    (
        login(h, email, PASSWORD).await,
        login(h, email, PASSWORD).await,
    )
}

fn accepted(h: &Harness, pair: &TokenPair) -> bool {
    match h.auth.authenticate(&pair.access_token) {
        Ok(_) => true,
        Err(AuthError::TokenInvalid) => false,
        Err(other) => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn logout_refuses_the_session_at_once() {
    let h = harness().await;
    let (phone, laptop) = two_sessions(&h, "ann@example.com").await;
    let principal = h.auth.authenticate(&phone.access_token).unwrap();
    h.auth.logout(&principal, None, &meta()).await.unwrap();
    assert!(!accepted(&h, &phone));
    assert!(accepted(&h, &laptop), "other sessions are untouched");

    // Logging out another of one's sessions by its refresh token.
    let principal = h.auth.authenticate(&laptop.access_token).unwrap();
    let tablet = login(&h, "ann@example.com", PASSWORD).await;
    h.auth
        .logout(&principal, Some(&tablet.refresh_token), &meta())
        .await
        .unwrap();
    assert!(!accepted(&h, &tablet));
    assert!(accepted(&h, &laptop));
}

#[tokio::test]
async fn logout_all_and_revocations_refuse_their_sessions() {
    let h = harness().await;
    let (phone, laptop) = two_sessions(&h, "bo@example.com").await;
    let principal = h.auth.authenticate(&phone.access_token).unwrap();
    h.auth
        .sessions()
        .revoke(&principal, laptop.session_id, &meta())
        .await
        .unwrap();
    assert!(!accepted(&h, &laptop));
    assert!(accepted(&h, &phone));

    let tablet = login(&h, "bo@example.com", PASSWORD).await;
    h.auth
        .sessions()
        .revoke_others(&principal, &meta())
        .await
        .unwrap();
    assert!(!accepted(&h, &tablet));
    assert!(accepted(&h, &phone), "the current session is kept");

    let watch = login(&h, "bo@example.com", PASSWORD).await;
    assert_eq!(
        h.auth
            .sessions()
            .revoke_all(&principal, &meta())
            .await
            .unwrap(),
        2
    );
    assert!(!accepted(&h, &phone));
    assert!(!accepted(&h, &watch));
    // A new login afterwards is a new session, unaffected.
    let fresh = login(&h, "bo@example.com", PASSWORD).await;
    assert!(accepted(&h, &fresh));
}

#[tokio::test]
async fn password_change_keeps_only_the_current_session() {
    let h = harness().await;
    let (phone, laptop) = two_sessions(&h, "cy@example.com").await;
    let principal = h.auth.authenticate(&phone.access_token).unwrap();
    h.auth
        .passwords()
        .change(&principal, PASSWORD, NEW_PASSWORD, &meta())
        .await
        .unwrap();
    assert!(accepted(&h, &phone));
    assert!(!accepted(&h, &laptop));
}

#[tokio::test]
async fn password_reset_and_deactivation_refuse_every_session() {
    let h = harness().await;
    let (phone, laptop) = two_sessions(&h, "di@example.com").await;
    h.auth
        .passwords()
        .request_reset("di@example.com", &meta())
        .await
        .unwrap();
    h.auth.background_idle().await;
    let mail = h.mailer.last_to("di@example.com").unwrap();
    let start = mail.text.find("?token=").unwrap() + "?token=".len();
    let token: String = mail.text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    h.auth
        .passwords()
        .confirm_reset(&token, NEW_PASSWORD, &meta())
        .await
        .unwrap();
    assert!(!accepted(&h, &phone));
    assert!(!accepted(&h, &laptop));

    let (one, two) = (
        login(&h, "di@example.com", NEW_PASSWORD).await,
        login(&h, "di@example.com", NEW_PASSWORD).await,
    );
    let principal = h.auth.authenticate(&one.access_token).unwrap();
    h.auth
        .account()
        .deactivate(&principal, NEW_PASSWORD, &meta())
        .await
        .unwrap();
    assert!(!accepted(&h, &one));
    assert!(!accepted(&h, &two));
}

#[tokio::test]
async fn refresh_token_reuse_refuses_the_session_at_once() {
    let h = harness().await;
    let (first, other) = two_sessions(&h, "ed@example.com").await;
    let second = h.auth.refresh(&first.refresh_token, &meta()).await.unwrap();
    assert!(accepted(&h, &second));
    assert!(matches!(
        h.auth.refresh(&first.refresh_token, &meta()).await,
        Err(AuthError::RefreshTokenReused)
    ));
    // Both access tokens of the stolen family die; the other session lives.
    assert!(!accepted(&h, &first));
    assert!(!accepted(&h, &second));
    assert!(accepted(&h, &other));
}

#[tokio::test]
async fn entries_outlive_every_token_of_the_session() {
    let h = harness().await;
    let (phone, _) = two_sessions(&h, "fi@example.com").await;
    let principal = h.auth.authenticate(&phone.access_token).unwrap();
    h.auth.logout(&principal, None, &meta()).await.unwrap();
    // Up to the token's expiry it is refused as revoked; after, as expired.
    h.clock.advance(Duration::minutes(14));
    assert!(!accepted(&h, &phone));
    h.clock.advance(Duration::minutes(2));
    assert_eq!(
        h.auth.authenticate(&phone.access_token).unwrap_err().code(),
        "token_expired"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_revocations_are_all_seen() {
    let h = Arc::new(harness().await);
    h.auth
        .register(Registration::new("gu@example.com", PASSWORD), &meta())
        .await
        .unwrap();
    let mut pairs = Vec::new();
    for _ in 0..8 {
        pairs.push(login(&h, "gu@example.com", PASSWORD).await);
    }
    let mut tasks = Vec::new();
    for pair in pairs.clone() {
        let h = h.clone();
        tasks.push(tokio::spawn(async move {
            let principal = h.auth.authenticate(&pair.access_token).unwrap();
            h.auth.logout(&principal, None, &meta()).await.unwrap();
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert!(pairs.iter().all(|pair| !accepted(&h, pair)));
}

#[tokio::test]
async fn revocations_survive_a_restart() {
    let h = harness().await;
    let (phone, laptop) = two_sessions(&h, "ho@example.com").await;
    let tablet = login(&h, "ho@example.com", PASSWORD).await;
    let principal = h.auth.authenticate(&phone.access_token).unwrap();
    h.auth.logout(&principal, None, &meta()).await.unwrap();
    h.auth
        .sessions()
        .revoke(&principal, laptop.session_id, &meta())
        .await
        .unwrap();
    // Revoked behind this process's back (another process, a SQL job):
    // its list never saw it, yet a restarted process refuses it.
    let (other, _) = two_sessions(&h, "io@example.com").await;
    let io = h.auth.authenticate(&other.access_token).unwrap();
    h.store
        .sessions
        .revoke_session(io.user_id, other.session_id, h.clock.now(), "sql")
        .await
        .unwrap();
    assert!(accepted(&h, &other), "this process was not told");

    h.clock.advance(Duration::minutes(5));
    let restarted = Harness {
        auth: service(&h.store, &h.mailer, &h.clock).await,
        mailer: h.mailer.clone(),
        clock: h.clock.clone(),
        store: h.store.clone(),
    };
    for (pair, what) in [(&phone, "logout"), (&laptop, "revoked"), (&other, "store")] {
        assert!(
            !accepted(&restarted, pair),
            "{what}: refused after a restart"
        );
    }
    assert!(accepted(&restarted, &tablet), "a live session still works");
    // Up to the token's expiry it is refused as revoked; after, as expired.
    h.clock.advance(Duration::minutes(9));
    assert!(!accepted(&restarted, &phone));
    h.clock.advance(Duration::minutes(2));
    assert_eq!(
        restarted
            .auth
            .authenticate(&phone.access_token)
            .unwrap_err()
            .code(),
        "token_expired"
    );
}
