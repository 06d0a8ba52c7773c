//! The Redis limiter and revocation feed against a real Redis
//! (`AUTHKIT_TEST_REDIS_URL`, each test under its own key prefix), and
//! their failure modes against a closed port (always run).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use authkit_core::api::status_and_title;
use authkit_core::mail::MemoryMailer;
use authkit_core::rate_limit::{GovernorLimiter, Quota, RateAction, RateLimiter, RateLimits};
use authkit_core::revocation::RevocationList;
use authkit_core::store::{MemoryStore, Store};
use authkit_core::{
    Auth, AuthConfig, AuthError, AuthResult, Credentials, LoginOutcome, Principal, ProfileUpdate,
    Registration, RequestMeta, TokenPair,
};
use authkit_redis::{FailureMode, RedisLimiter, RedisRevocations, RedisSettings};
use chrono::Utc;
use uuid::Uuid;

/// Settings for the test Redis under a fresh key prefix, or `None` to skip.
fn settings() -> Option<RedisSettings> {
    let url = authkit_core::testing::service_url("AUTHKIT_TEST_REDIS_URL")?;
    let mut settings = RedisSettings::new(url);
    settings.key_prefix = format!("authkit-test:{}:", Uuid::now_v7().simple());
    settings.revocation_poll = Duration::from_millis(50);
    Some(settings)
}

/// Settings pointing at a port where nothing listens.
fn unreachable(mode: FailureMode) -> RedisSettings {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut settings = RedisSettings::new(format!("redis://127.0.0.1:{port}"));
    settings.on_error = mode;
    settings.timeout = Duration::from_millis(200);
    settings.revocation_poll = Duration::from_millis(50);
    settings.revocation_max_staleness = Duration::from_millis(100);
    settings
}

fn limiter(settings: &RedisSettings, limits: RateLimits) -> RedisLimiter {
    RedisLimiter::new(settings.connect().unwrap(), settings, limits)
}

fn retry_after(result: AuthResult<()>) -> Duration {
    match result {
        Err(AuthError::RateLimited { retry_after }) => retry_after,
        other => panic!("expected rate_limited, got {other:?}"),
    }
}

#[tokio::test]
async fn the_burst_is_shared_by_every_instance() {
    let Some(settings) = settings() else { return };
    // Two limiters on two connections: two instances.
    let a = limiter(&settings, RateLimits::default());
    let b = limiter(&settings, RateLimits::default());
    let action = RateAction::LoginPerEmail; // 10 per minute
    for i in 0..10 {
        let instance = if i % 2 == 0 { &a } else { &b };
        instance.check(action, "ann@example.com").await.unwrap();
    }
    for instance in [&a, &b] {
        let wait = retry_after(instance.check(action, "ann@example.com").await);
        assert!(
            wait == Duration::from_secs(6) || wait == Duration::from_secs(5),
            "one request comes back every 6 s: {wait:?}"
        );
    }
    // Other keys and other actions have their own budgets.
    a.check(action, "bob@example.com").await.unwrap();
    b.check(RateAction::ResetPerEmail, "ann@example.com")
        .await
        .unwrap();
    let huge = "x".repeat(1 << 20);
    a.check(action, &huge).await.unwrap();
}

#[tokio::test]
async fn retry_after_matches_the_in_process_limiter() {
    let Some(settings) = settings() else { return };
    // 3 per 3 s: a request comes back every second; both limiters answer
    // the same Retry-After for the same state.
    let mut limits = RateLimits::disabled();
    limits
        .set(
            RateAction::LookupPerIp,
            Quota::new(3, Duration::from_secs(3)),
        )
        .unwrap();
    let redis = limiter(&settings, limits.clone());
    let governor = GovernorLimiter::new(limits);
    for limiter in [&redis as &dyn RateLimiter, &governor] {
        for _ in 0..3 {
            limiter.check(RateAction::LookupPerIp, "ip").await.unwrap();
        }
        let wait = retry_after(limiter.check(RateAction::LookupPerIp, "ip").await);
        assert_eq!(wait, Duration::from_secs(1));
        // Disabled actions never limit (and make no round trip).
        for _ in 0..50 {
            limiter.check(RateAction::LoginPerIp, "ip").await.unwrap();
        }
    }
}

#[tokio::test]
async fn a_budget_replenishes_on_redis_time() {
    let Some(settings) = settings() else { return };
    let mut limits = RateLimits::disabled();
    // 2 per 200 ms: one request back every 100 ms.
    limits
        .set(
            RateAction::CodePerChallenge,
            Quota::new(2, Duration::from_millis(200)),
        )
        .unwrap();
    let limiter = limiter(&settings, limits);
    let action = RateAction::CodePerChallenge;
    limiter.check(action, "c").await.unwrap();
    limiter.check(action, "c").await.unwrap();
    assert_eq!(
        retry_after(limiter.check(action, "c").await),
        Duration::from_secs(1),
        "sub-second waits round up to 1 s"
    );
    // Poll with a deadline rather than sleeping a guessed time.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while limiter.check(action, "c").await.is_err() {
        assert!(tokio::time::Instant::now() < deadline, "never replenished");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_checks_spend_exactly_the_burst() {
    let Some(settings) = settings() else { return };
    let limiter = Arc::new(limiter(&settings, RateLimits::default()));
    let allowed = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (limiter, allowed) = (limiter.clone(), allowed.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..20 {
                if limiter
                    .check(RateAction::LoginPerIp, "198.51.100.1")
                    .await
                    .is_ok()
                {
                    allowed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(
        allowed.load(Ordering::Relaxed),
        30,
        "the login-per-IP burst"
    );
}

#[tokio::test]
async fn an_unreachable_redis_fails_open_or_closed_as_configured() {
    let open = unreachable(FailureMode::Open);
    let limiter = limiter(&open, RateLimits::default());
    for _ in 0..20 {
        limiter
            .check(RateAction::LoginPerEmail, "ann@example.com")
            .await
            .unwrap();
    }
    let closed = unreachable(FailureMode::Closed);
    let limiter = self::limiter(&closed, RateLimits::default());
    let err = limiter
        .check(RateAction::LoginPerEmail, "ann@example.com")
        .await
        .unwrap_err();
    assert_eq!(err.code(), "store_unavailable");
    assert_eq!(status_and_title(&err).0, 503);
    let source = std::error::Error::source(&err);
    assert!(
        source.is_some_and(|s| s.is::<redis::RedisError>()),
        "{err:?}"
    );
    // A disabled action needs no Redis at all.
    let mut limits = RateLimits::default();
    limits.disable(RateAction::LoginPerEmail);
    let limiter = self::limiter(&closed, limits);
    limiter
        .check(RateAction::LoginPerEmail, "ann@example.com")
        .await
        .unwrap();
}

#[tokio::test]
async fn a_revocation_on_one_instance_reaches_the_others() {
    let Some(settings) = settings() else { return };
    let a = RedisRevocations::start(settings.connect().unwrap(), &settings).await;
    let b = RedisRevocations::start(settings.connect().unwrap(), &settings).await;
    let (session, other) = (Uuid::now_v7(), Uuid::now_v7());
    let until = Utc::now() + chrono::Duration::minutes(15);
    b.check(session, Utc::now()).unwrap();
    a.revoke(&[session], until).await;
    // Locally at once.
    assert_eq!(
        a.check(session, Utc::now()).unwrap_err().code(),
        "token_invalid"
    );
    // Elsewhere within the poll interval: wait with a deadline.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while b.check(session, Utc::now()).is_ok() {
        assert!(tokio::time::Instant::now() < deadline, "never propagated");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    b.check(other, Utc::now()).unwrap();
    // An instance started later reads it at start.
    let c = RedisRevocations::start(settings.connect().unwrap(), &settings).await;
    assert!(c.check(session, Utc::now()).is_err());
    // Past `until`, the entry is no longer needed: no token can verify.
    c.check(session, until).unwrap();
    // Expired entries are not loaded at all.
    let gone = Uuid::now_v7();
    a.revoke(&[gone], Utc::now() - chrono::Duration::seconds(1))
        .await;
    let d = RedisRevocations::start(settings.connect().unwrap(), &settings).await;
    assert!(d.check(session, Utc::now()).is_err());
    d.check(gone, Utc::now() - chrono::Duration::seconds(2))
        .unwrap();
}

#[tokio::test]
async fn an_account_change_on_one_instance_reaches_the_others() {
    let Some(settings) = settings() else { return };
    let a = RedisRevocations::start(settings.connect().unwrap(), &settings).await;
    let b = RedisRevocations::start(settings.connect().unwrap(), &settings).await;
    let (account, other) = (Uuid::now_v7(), Uuid::now_v7());
    let read_at = std::time::Instant::now();
    assert!(!b.account_changed_since(account, read_at));
    a.accounts_changed(&[account], Utc::now() + chrono::Duration::seconds(30))
        .await;
    assert!(a.account_changed_since(account, read_at), "locally at once");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !b.account_changed_since(account, read_at) {
        assert!(tokio::time::Instant::now() < deadline, "never propagated");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!b.account_changed_since(other, read_at));
    // A change is not a revocation, and the reverse.
    b.check(account, Utc::now()).unwrap();
    let session = Uuid::now_v7();
    a.revoke(&[session], Utc::now() + chrono::Duration::minutes(1))
        .await;
    assert!(b.sync().await);
    assert!(!b.account_changed_since(session, read_at));
}

#[tokio::test]
async fn a_feed_that_is_not_current_vouches_for_no_cached_view() {
    for mode in [FailureMode::Open, FailureMode::Closed] {
        let settings = unreachable(mode);
        let feed = RedisRevocations::start(settings.connect().unwrap(), &settings).await;
        assert!(
            feed.account_changed_since(Uuid::now_v7(), std::time::Instant::now()),
            "{mode:?}"
        );
    }
}

#[tokio::test]
async fn an_unreachable_revocation_feed_fails_open_or_closed() {
    let session = Uuid::now_v7();
    let open = unreachable(FailureMode::Open);
    let feed = RedisRevocations::start(open.connect().unwrap(), &open).await;
    feed.check(session, Utc::now()).unwrap();
    // Own revocations still apply while Redis is down.
    feed.revoke(&[session], Utc::now() + chrono::Duration::minutes(1))
        .await;
    assert_eq!(
        feed.check(session, Utc::now()).unwrap_err().code(),
        "token_invalid"
    );
    assert!(!feed.sync().await);

    let closed = unreachable(FailureMode::Closed);
    let feed = RedisRevocations::start(closed.connect().unwrap(), &closed).await;
    let err = feed.check(Uuid::now_v7(), Utc::now()).unwrap_err();
    assert_eq!(err.code(), "store_unavailable");
    assert_eq!(status_and_title(&err).0, 503);
}

/// An `Auth` per instance over one shared store, each with its own feed.
async fn instance(store: &Store, settings: &RedisSettings) -> Auth {
    let config = AuthConfig::builder()
        .account(|a| a.require_email_verification(false))
        .build()
        .unwrap();
    let feed = RedisRevocations::start(settings.connect().unwrap(), settings).await;
    Auth::builder(config, store.clone())
        .mailer(Arc::new(MemoryMailer::default()))
        .revocation_list(Arc::new(feed))
        .build()
        .await
        .unwrap()
}

/// Registers `email` on `a`, logs in there, and authenticates the access
/// token on `b`.
async fn signed_in(a: &Auth, b: &Auth, email: &str) -> (TokenPair, Principal) {
    let meta = RequestMeta::default();
    let password = "correct horse battery staple";
    a.register(Registration::new(email, password), &meta)
        .await
        .unwrap();
    let LoginOutcome::Tokens(pair) = a
        .login(Credentials::new(email, password), &meta)
        .await
        .unwrap()
    else {
        panic!("no MFA here")
    };
    let principal = b.authenticate(&pair.access_token).unwrap();
    (pair, principal)
}

#[tokio::test]
async fn logout_on_one_instance_rejects_the_token_on_another() {
    let Some(settings) = settings() else { return };
    let store = Store::new(MemoryStore::new());
    let a = instance(&store, &settings).await;
    let b = instance(&store, &settings).await;
    let meta = RequestMeta::default();
    let (pair, principal) = signed_in(&a, &b, "ada@example.com").await;
    a.logout(&principal, None, &meta).await.unwrap();
    assert_eq!(
        a.authenticate(&pair.access_token).unwrap_err().code(),
        "token_invalid"
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while b.authenticate(&pair.access_token).is_ok() {
        assert!(tokio::time::Instant::now() < deadline, "never propagated");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn me_on_one_instance_shows_a_change_made_on_another() {
    let Some(settings) = settings() else { return };
    let store = Store::new(MemoryStore::new());
    let a = instance(&store, &settings).await;
    let b = instance(&store, &settings).await;
    let meta = RequestMeta::default();
    let (_, principal) = signed_in(&a, &b, "grace@example.com").await;
    // B builds and caches the view.
    assert_eq!(b.me(&principal).await.unwrap().profile.display_name, None);
    assert_eq!(b.me(&principal).await.unwrap().profile.display_name, None);
    let update = ProfileUpdate {
        display_name: Some(Some("Grace".into())),
        ..ProfileUpdate::default()
    };
    a.account()
        .update_profile(&principal, update, &meta)
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while b
        .me(&principal)
        .await
        .unwrap()
        .profile
        .display_name
        .is_none()
    {
        assert!(tokio::time::Instant::now() < deadline, "never propagated");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
