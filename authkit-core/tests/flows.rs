//! End-to-end tests of the `Auth` service flows on the memory store.

// Test helpers outside #[test] functions unwrap freely too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use authkit_core::audit::{AuditQuery, AuthEvent};
use authkit_core::clock::{Clock as _, ManualClock};
use authkit_core::mail::{Mailer, MemoryMailer, Message};
use authkit_core::rate_limit::{
    GovernorLimiter, IpPrefixes, NoLimiter, Quota, RateAction, RateLimiter, RateLimits,
};
use authkit_core::store::{MemoryStore, Store, UserUpdate};
use authkit_core::{
    Auth, AuthConfig, AuthConfigBuilder, AuthError, Credentials, EventHook, LoginOutcome, NewAdmin,
    Principal, ProfileUpdate, Registration, RequestMeta, TokenPair, TokenTypeHint,
};
use chrono::{Duration, Utc};

const PASSWORD: &str = "correct horse battery staple";

struct Harness {
    auth: Auth,
    mailer: Arc<MemoryMailer>,
    clock: Arc<ManualClock>,
    store: Store,
}

fn meta() -> RequestMeta {
    RequestMeta::new(Some("203.0.113.7".into()), Some("tests/1.0".into()))
}

async fn harness_with(
    tweak: impl FnOnce(AuthConfigBuilder) -> AuthConfigBuilder,
    limiter: Arc<dyn RateLimiter>,
) -> Harness {
    let config = tweak(
        AuthConfig::builder()
            .public_url("https://app.example.com")
            .key_activation_delay(Duration::zero()),
    )
    .build()
    .unwrap();
    let store = Store::new(MemoryStore::new());
    let mailer = Arc::new(MemoryMailer::default());
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let auth = Auth::builder(config, store.clone())
        .mailer(mailer.clone())
        .clock(clock.clone())
        .rate_limiter(limiter)
        .build()
        .await
        .unwrap();
    Harness {
        auth,
        mailer,
        clock,
        store,
    }
}

async fn harness() -> Harness {
    harness_with(|b| b, Arc::new(NoLimiter)).await
}

/// The `token` query parameter of the first link in the last mail to `to`.
fn link_token(mailer: &MemoryMailer, to: &str) -> String {
    let mail = mailer.last_to(to).expect("a mail was sent");
    let start = mail.text.find("?token=").expect("a link") + "?token=".len();
    mail.text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

/// The first run of exactly six digits in the last mail to `to`.
fn mailed_code(mailer: &MemoryMailer, to: &str) -> String {
    let mail = mailer.last_to(to).expect("a mail was sent");
    let chars: Vec<char> = mail.text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() {
            let run: String = chars[i..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .collect();
            if run.len() == 6 {
                return run;
            }
            i += run.len();
        } else {
            i += 1;
        }
    }
    panic!("no code in {:?}", mail.text)
}

fn tokens(outcome: LoginOutcome) -> TokenPair {
    match outcome {
        LoginOutcome::Tokens(pair) => pair,
        other => panic!("expected tokens, got {other:?}"),
    }
}

/// Registers and verifies `email`, returning a first login.
async fn verified_user(h: &Harness, email: &str) -> TokenPair {
    h.auth
        .register(Registration::new(email, PASSWORD), &meta())
        .await
        .unwrap();
    let token = link_token(&h.mailer, email);
    h.auth.email().verify(&token, &meta()).await.unwrap();
    login(h, email, PASSWORD).await.unwrap()
}

async fn login(h: &Harness, email: &str, password: &str) -> Result<TokenPair, AuthError> {
    h.auth
        .login(Credentials::new(email, password), &meta())
        .await
        .map(tokens)
}

fn principal(h: &Harness, pair: &TokenPair) -> Principal {
    h.auth.authenticate(&pair.access_token).unwrap()
}

#[tokio::test]
async fn register_verify_login_me() {
    let h = harness().await;
    let registered = h
        .auth
        .register(
            Registration {
                email: "  Ada@Example.COM ".into(),
                password: PASSWORD.into(),
                display_name: Some(" Ada ".into()),
                phone: Some("+44 20 7946 0958".into()),
            },
            &meta(),
        )
        .await
        .unwrap();
    assert!(registered.verification_sent);
    assert_eq!(registered.user.email.as_str(), "ada@example.com");
    assert_eq!(registered.user.display_name.as_deref(), Some("Ada"));
    let stored = registered.user.password_hash.as_deref().unwrap();
    assert!(stored.starts_with("$argon2id$"));
    assert!(!stored.contains(PASSWORD));

    // The mail goes to the stored address with a link under the public URL.
    let mail = h.mailer.last_to("ada@example.com").unwrap();
    assert!(
        mail.text
            .contains("https://app.example.com/verify-email?token=")
    );

    let err = login(&h, "ada@example.com", PASSWORD).await.unwrap_err();
    assert!(matches!(err, AuthError::EmailNotVerified), "{err:?}");

    let token = link_token(&h.mailer, "ada@example.com");
    let user = h.auth.email().verify(&token, &meta()).await.unwrap();
    assert!(user.email_verified());
    // Single use.
    assert!(matches!(
        h.auth.email().verify(&token, &meta()).await,
        Err(AuthError::TokenInvalid)
    ));

    let pair = login(&h, "ADA@example.com", PASSWORD).await.unwrap();
    assert_eq!(pair.token_type, "Bearer");
    assert_eq!(pair.expires_in, 900);
    let p = principal(&h, &pair);
    assert_eq!(p.session_id, pair.session_id);
    let me = h.auth.me(&p).await.unwrap();
    assert_eq!(me.profile.email, "ada@example.com");
    assert!(me.profile.email_verified);
    assert_eq!(me.profile.phone.as_deref(), Some("+442079460958"));
    assert!(!me.profile.phone_verified);
    assert_eq!(me.roles[0].name, "END_USER");
}

#[tokio::test]
async fn registration_errors() {
    let h = harness().await;
    verified_user(&h, "bob@example.com").await;
    let dup = h
        .auth
        .register(Registration::new("BOB@example.com ", PASSWORD), &meta())
        .await;
    assert!(matches!(dup, Err(AuthError::EmailTaken)), "{dup:?}");

    let weak = h
        .auth
        .register(Registration::new("carol@example.com", "12345678"), &meta())
        .await
        .unwrap_err();
    assert_eq!(weak.code(), "password_too_weak");
    let codes: Vec<&str> = weak
        .field_errors()
        .iter()
        .map(|e| e.code.as_str())
        .collect();
    assert!(codes.contains(&"password_entirely_numeric"), "{codes:?}");

    let similar = h
        .auth
        .register(
            Registration::new("carolinesmith@example.com", "carolinesmith1"),
            &meta(),
        )
        .await
        .unwrap_err();
    assert!(
        similar
            .field_errors()
            .iter()
            .any(|e| e.code == "password_too_similar"),
        "{similar:?}"
    );

    let bad = h
        .auth
        .register(
            Registration {
                email: "not-an-email".into(),
                password: PASSWORD.into(),
                display_name: Some("x\u{0}".into()),
                phone: Some("12".into()),
            },
            &meta(),
        )
        .await
        .unwrap_err();
    let codes: Vec<&str> = bad.field_errors().iter().map(|e| e.code.as_str()).collect();
    assert_eq!(bad.code(), "validation_failed");
    assert_eq!(
        codes,
        vec!["email_invalid", "display_name_invalid", "phone_invalid"]
    );
    // Nothing was created by the refused attempts.
    assert!(
        h.store
            .users
            .user_by_email(&authkit_core::email::Email::parse("carol@example.com").unwrap())
            .await
            .unwrap()
            .is_none()
    );

    let closed = harness_with(
        |b| b.account(|a| a.allow_auto_registration(false)),
        Arc::new(NoLimiter),
    )
    .await;
    assert!(matches!(
        closed
            .auth
            .register(Registration::new("d@example.com", PASSWORD), &meta())
            .await,
        Err(AuthError::RegistrationClosed)
    ));
    assert!(matches!(
        closed
            .auth
            .signup()
            .start(Registration::new("d@example.com", PASSWORD), &meta())
            .await,
        Err(AuthError::RegistrationClosed)
    ));
}

#[tokio::test]
async fn verification_by_code_resend_and_supersede() {
    let h = harness().await;
    h.auth
        .register(Registration::new("eve@example.com", PASSWORD), &meta())
        .await
        .unwrap();
    let first_link = link_token(&h.mailer, "eve@example.com");
    let first_code = mailed_code(&h.mailer, "eve@example.com");

    // Resend for unknown or verified accounts discloses nothing and sends nothing.
    let before = h.mailer.count();
    h.auth
        .email()
        .resend("nobody@example.com", &meta())
        .await
        .unwrap();
    h.auth.background_idle().await;
    h.auth.email().resend("garbage", &meta()).await.unwrap();
    h.auth.background_idle().await;
    assert_eq!(h.mailer.count(), before);

    h.auth
        .email()
        .resend("eve@example.com", &meta())
        .await
        .unwrap();
    h.auth.background_idle().await;
    assert_eq!(h.mailer.count(), before + 1);
    // Newest only: the first link and code are dead.
    assert!(matches!(
        h.auth.email().verify(&first_link, &meta()).await,
        Err(AuthError::TokenInvalid)
    ));
    let code = mailed_code(&h.mailer, "eve@example.com");
    if code != first_code {
        assert!(
            h.auth
                .email()
                .verify_code("eve@example.com", &first_code, &meta())
                .await
                .is_err()
        );
    }
    // Unknown address and wrong code answer alike.
    assert!(matches!(
        h.auth
            .email()
            .verify_code("nobody@example.com", &code, &meta())
            .await,
        Err(AuthError::MfaInvalidCode)
    ));
    let wrong = if code == "000000" { "111111" } else { "000000" };
    assert!(matches!(
        h.auth
            .email()
            .verify_code("eve@example.com", wrong, &meta())
            .await,
        Err(AuthError::MfaInvalidCode)
    ));
    let user = h
        .auth
        .email()
        .verify_code("EVE@example.com", &code, &meta())
        .await
        .unwrap();
    assert!(user.email_verified());
}

#[tokio::test]
async fn verification_codes_die_after_max_attempts() {
    let h = harness().await;
    h.auth
        .register(Registration::new("fay@example.com", PASSWORD), &meta())
        .await
        .unwrap();
    let code = mailed_code(&h.mailer, "fay@example.com");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        assert!(matches!(
            h.auth
                .email()
                .verify_code("fay@example.com", wrong, &meta())
                .await,
            Err(AuthError::MfaInvalidCode)
        ));
    }
    // The code is dead now; the answer is the same as for a wrong code or
    // an unknown address.
    assert!(matches!(
        h.auth
            .email()
            .verify_code("fay@example.com", &code, &meta())
            .await,
        Err(AuthError::MfaInvalidCode)
    ));
    let user = h
        .store
        .users
        .user_by_email(&authkit_core::email::Email::parse("fay@example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(!user.email_verified());
}

#[tokio::test]
async fn verification_links_expire() {
    let h = harness().await;
    h.auth
        .register(Registration::new("gus@example.com", PASSWORD), &meta())
        .await
        .unwrap();
    let token = link_token(&h.mailer, "gus@example.com");
    h.clock.advance(Duration::hours(24) + Duration::seconds(1));
    assert!(matches!(
        h.auth.email().verify(&token, &meta()).await,
        Err(AuthError::TokenInvalid)
    ));
    for bad in ["", "x", &"a".repeat(10_000), "ünïcødé"] {
        assert!(matches!(
            h.auth.email().verify(bad, &meta()).await,
            Err(AuthError::TokenInvalid)
        ));
    }
}

#[tokio::test]
async fn registration_by_code() {
    let h = harness().await;
    let challenge = h
        .auth
        .signup()
        .start(Registration::new("hal@example.com", PASSWORD), &meta())
        .await
        .unwrap();
    assert_eq!(challenge.expires_in, 600);
    let code = mailed_code(&h.mailer, "hal@example.com");

    // A tampered id is refused before any lookup.
    let (id, mac) = challenge.challenge_id.split_once('.').unwrap();
    let other = uuid::Uuid::now_v7();
    for forged in [
        format!("{other}.{mac}"),
        format!("{id}.AAAA"),
        id.to_owned(),
        "garbage".to_owned(),
    ] {
        assert!(matches!(
            h.auth.signup().confirm(&forged, &code, &meta()).await,
            Err(AuthError::TokenInvalid)
        ));
    }
    let wrong = if code == "000000" { "111111" } else { "000000" };
    assert!(matches!(
        h.auth
            .signup()
            .confirm(&challenge.challenge_id, wrong, &meta())
            .await,
        Err(AuthError::MfaInvalidCode)
    ));

    // Concurrent confirmations: exactly one creates the account.
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let auth = h.auth.clone();
        let id = challenge.challenge_id.clone();
        let code = code.clone();
        tasks.push(tokio::spawn(async move {
            auth.signup().confirm(&id, &code, &meta()).await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        if t.await.unwrap().is_ok() {
            ok += 1;
        }
    }
    assert_eq!(ok, 1);
    // Already verified: login works at once.
    login(&h, "hal@example.com", PASSWORD).await.unwrap();

    // Registering a taken address by code reveals nothing until the code
    // (only the mailbox owner has it) is confirmed.
    let again = h
        .auth
        .signup()
        .start(Registration::new("hal@example.com", PASSWORD), &meta())
        .await
        .unwrap();
    let code = mailed_code(&h.mailer, "hal@example.com");
    assert!(matches!(
        h.auth
            .signup()
            .confirm(&again.challenge_id, &code, &meta())
            .await,
        Err(AuthError::EmailTaken)
    ));
}

#[tokio::test]
async fn login_failures_are_uniform_and_lock_the_account() {
    let h = harness().await;
    verified_user(&h, "ivy@example.com").await;
    let unknown = login(&h, "nobody@example.com", PASSWORD).await.unwrap_err();
    let wrong = login(&h, "ivy@example.com", "wrong password!")
        .await
        .unwrap_err();
    let garbage = login(&h, "not an email", PASSWORD).await.unwrap_err();
    for err in [&unknown, &wrong, &garbage] {
        assert!(matches!(err, AuthError::InvalidCredentials), "{err:?}");
    }
    assert_eq!(unknown.to_string(), wrong.to_string());

    // 9 more failures (10 in all) lock the account, even for the right password.
    for _ in 0..9 {
        login(&h, "ivy@example.com", "wrong password!")
            .await
            .unwrap_err();
    }
    let locked = login(&h, "ivy@example.com", PASSWORD).await.unwrap_err();
    assert!(
        matches!(locked, AuthError::AccountLocked { .. }),
        "{locked:?}"
    );
    let events = h
        .store
        .audit
        .audit_records(&AuditQuery {
            event: Some("account_locked".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(events.len(), 1);

    h.clock
        .advance(Duration::minutes(15) + Duration::seconds(1));
    login(&h, "ivy@example.com", PASSWORD).await.unwrap();
    // A success resets the count: 9 failures do not lock again.
    for _ in 0..9 {
        login(&h, "ivy@example.com", "wrong password!")
            .await
            .unwrap_err();
    }
    login(&h, "ivy@example.com", PASSWORD).await.unwrap();
}

#[tokio::test]
async fn refresh_rotates_and_detects_reuse() {
    let h = harness().await;
    let first = verified_user(&h, "jo@example.com").await;
    let second = h.auth.refresh(&first.refresh_token, &meta()).await.unwrap();
    assert_ne!(second.refresh_token, first.refresh_token);
    assert_eq!(second.session_id, first.session_id);
    principal(&h, &second);

    // Reuse of the rotated token kills the whole session.
    assert!(matches!(
        h.auth.refresh(&first.refresh_token, &meta()).await,
        Err(AuthError::RefreshTokenReused)
    ));
    assert!(matches!(
        h.auth.refresh(&second.refresh_token, &meta()).await,
        Err(AuthError::TokenInvalid)
    ));
    assert!(
        !h.auth
            .introspect(&second.access_token, None, &meta())
            .await
            .unwrap()
            .active
    );
    let reused = h
        .store
        .audit
        .audit_records(&AuditQuery {
            event: Some("refresh_token_reused".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(reused.len(), 1);

    for bad in ["", "nope", &"x".repeat(5000)] {
        assert!(matches!(
            h.auth.refresh(bad, &meta()).await,
            Err(AuthError::TokenInvalid)
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_refreshes_of_one_token_succeed_once() {
    let h = harness().await;
    let pair = verified_user(&h, "kim@example.com").await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let auth = h.auth.clone();
        let token = pair.refresh_token.clone();
        tasks.push(tokio::spawn(
            async move { auth.refresh(&token, &meta()).await },
        ));
    }
    let mut ok = 0;
    for t in tasks {
        if t.await.unwrap().is_ok() {
            ok += 1;
        }
    }
    assert_eq!(ok, 1);
}

#[tokio::test]
async fn sessions_expire_idle_and_absolute() {
    let h = harness_with(
        |b| {
            b.session_idle_timeout(Duration::hours(1))
                .session_ttl(Duration::hours(3))
        },
        Arc::new(NoLimiter),
    )
    .await;
    let pair = verified_user(&h, "lee@example.com").await;
    h.clock.advance(Duration::minutes(59));
    let pair = h.auth.refresh(&pair.refresh_token, &meta()).await.unwrap();
    h.clock.advance(Duration::minutes(61));
    assert!(matches!(
        h.auth.refresh(&pair.refresh_token, &meta()).await,
        Err(AuthError::TokenInvalid)
    ));

    let mut pair = login(&h, "lee@example.com", PASSWORD).await.unwrap();
    for _ in 0..5 {
        h.clock.advance(Duration::minutes(40));
        match h.auth.refresh(&pair.refresh_token, &meta()).await {
            Ok(next) => pair = next,
            Err(err) => {
                assert!(matches!(err, AuthError::TokenInvalid));
                return;
            }
        }
    }
    panic!("the session outlived its absolute lifetime");
}

#[tokio::test]
async fn logout_sessions_and_introspection() {
    let h = harness().await;
    let a = verified_user(&h, "max@example.com").await;
    let b = login(&h, "max@example.com", PASSWORD).await.unwrap();
    let c = login(&h, "max@example.com", PASSWORD).await.unwrap();
    let pa = principal(&h, &a);

    let listed = h.auth.sessions().list(&pa).await.unwrap();
    assert_eq!(listed.len(), 3);
    assert_eq!(listed.iter().filter(|s| s.current).count(), 1);
    assert_eq!(listed[0].ip.as_deref(), Some("203.0.113.7"));
    assert_eq!(listed[0].user_agent.as_deref(), Some("tests/1.0"));

    let intro = h
        .auth
        .introspect(&b.access_token, None, &meta())
        .await
        .unwrap();
    assert!(intro.active);
    assert_eq!(intro.sid, Some(b.session_id.to_string()));

    // Revoke b from a: b's access token is inactive at introspection at once.
    h.auth
        .sessions()
        .revoke(&pa, b.session_id, &meta())
        .await
        .unwrap();
    assert!(
        !h.auth
            .introspect(&b.access_token, None, &meta())
            .await
            .unwrap()
            .active
    );
    assert!(matches!(
        h.auth.sessions().revoke(&pa, b.session_id, &meta()).await,
        Err(AuthError::NotFound)
    ));

    // Someone else's session cannot be revoked.
    let other = verified_user(&h, "ned@example.com").await;
    assert!(matches!(
        h.auth
            .sessions()
            .revoke(&pa, other.session_id, &meta())
            .await,
        Err(AuthError::NotFound)
    ));
    // Nor logged out with its refresh token.
    assert!(matches!(
        h.auth
            .logout(&pa, Some(&other.refresh_token), &meta())
            .await,
        Err(AuthError::TokenInvalid)
    ));

    h.auth.logout(&pa, None, &meta()).await.unwrap();
    assert!(matches!(
        h.auth.refresh(&a.refresh_token, &meta()).await,
        Err(AuthError::TokenInvalid)
    ));
    let pc = principal(&h, &c);
    assert_eq!(h.auth.sessions().revoke_all(&pc, &meta()).await.unwrap(), 1);
    assert!(h.auth.refresh(&c.refresh_token, &meta()).await.is_err());
    assert!(h.auth.refresh(&other.refresh_token, &meta()).await.is_ok());

    let garbage = h.auth.introspect("garbage", None, &meta()).await.unwrap();
    assert_eq!(
        serde_json::to_value(&garbage).unwrap(),
        serde_json::json!({"active": false})
    );
}

#[tokio::test]
async fn password_change_revokes_other_sessions() {
    let h = harness().await;
    let a = verified_user(&h, "ola@example.com").await;
    let b = login(&h, "ola@example.com", PASSWORD).await.unwrap();
    let pa = principal(&h, &a);
    assert!(matches!(
        h.auth
            .passwords()
            .change(&pa, "wrong", "a brand new passphrase", &meta())
            .await,
        Err(AuthError::InvalidCredentials)
    ));
    assert!(matches!(
        h.auth
            .passwords()
            .change(&pa, PASSWORD, "password", &meta())
            .await,
        Err(AuthError::PasswordTooWeak(_))
    ));
    h.auth
        .passwords()
        .change(&pa, PASSWORD, "a brand new passphrase", &meta())
        .await
        .unwrap();
    assert!(h.auth.refresh(&b.refresh_token, &meta()).await.is_err());
    assert!(h.auth.refresh(&a.refresh_token, &meta()).await.is_ok());
    assert!(login(&h, "ola@example.com", PASSWORD).await.is_err());
    login(&h, "ola@example.com", "a brand new passphrase")
        .await
        .unwrap();
}

#[tokio::test]
async fn password_reset_flow() {
    let h = harness().await;
    let session = verified_user(&h, "pat@example.com").await;

    // Unknown and malformed addresses: same answer, no mail.
    let before = h.mailer.count();
    h.auth
        .passwords()
        .request_reset("nobody@example.com", &meta())
        .await
        .unwrap();
    h.auth.background_idle().await;
    h.auth
        .passwords()
        .request_reset("@@", &meta())
        .await
        .unwrap();
    h.auth.background_idle().await;
    assert_eq!(h.mailer.count(), before);

    h.auth
        .passwords()
        .request_reset(" PAT@example.com", &meta())
        .await
        .unwrap();
    h.auth.background_idle().await;
    let mail = h.mailer.last_to("pat@example.com").unwrap();
    assert!(
        mail.text
            .contains("https://app.example.com/reset-password?token=")
    );
    let token = link_token(&h.mailer, "pat@example.com");

    // A weak password does not spend the token.
    assert!(matches!(
        h.auth
            .passwords()
            .confirm_reset(&token, "123", &meta())
            .await,
        Err(AuthError::PasswordTooWeak(_))
    ));
    h.auth
        .passwords()
        .confirm_reset(&token, "a fresh reset passphrase", &meta())
        .await
        .unwrap();
    assert!(matches!(
        h.auth
            .passwords()
            .confirm_reset(&token, "another passphrase here", &meta())
            .await,
        Err(AuthError::TokenInvalid)
    ));
    // Every session is revoked.
    assert!(
        h.auth
            .refresh(&session.refresh_token, &meta())
            .await
            .is_err()
    );
    login(&h, "pat@example.com", "a fresh reset passphrase")
        .await
        .unwrap();

    // Expired after 30 minutes.
    h.auth
        .passwords()
        .request_reset("pat@example.com", &meta())
        .await
        .unwrap();
    h.auth.background_idle().await;
    let token = link_token(&h.mailer, "pat@example.com");
    h.clock.advance(Duration::minutes(31));
    assert!(matches!(
        h.auth
            .passwords()
            .confirm_reset(&token, "yet another passphrase", &meta())
            .await,
        Err(AuthError::TokenInvalid)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_reset_confirmations_succeed_once() {
    let h = harness().await;
    verified_user(&h, "quin@example.com").await;
    h.auth
        .passwords()
        .request_reset("quin@example.com", &meta())
        .await
        .unwrap();
    h.auth.background_idle().await;
    let token = link_token(&h.mailer, "quin@example.com");
    let mut tasks = Vec::new();
    for i in 0..50 {
        let auth = h.auth.clone();
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            auth.passwords()
                .confirm_reset(&token, &format!("parallel passphrase {i}"), &meta())
                .await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => ok += 1,
            Err(err) => assert!(matches!(err, AuthError::TokenInvalid), "{err:?}"),
        }
    }
    assert_eq!(ok, 1);
}

#[tokio::test]
async fn reset_proves_the_email_and_clears_a_lock() {
    let h = harness().await;
    h.auth
        .register(Registration::new("rae@example.com", PASSWORD), &meta())
        .await
        .unwrap();
    h.auth
        .passwords()
        .request_reset("rae@example.com", &meta())
        .await
        .unwrap();
    h.auth.background_idle().await;
    let token = link_token(&h.mailer, "rae@example.com");
    h.auth
        .passwords()
        .confirm_reset(&token, "proven by the inbox", &meta())
        .await
        .unwrap();
    login(&h, "rae@example.com", "proven by the inbox")
        .await
        .unwrap();
}

#[tokio::test]
async fn profile_update_deactivate_export() {
    let h = harness().await;
    let pair = verified_user(&h, "sam@example.com").await;
    let p = principal(&h, &pair);
    let update: ProfileUpdate = serde_json::from_str(
        r#"{"display_name": "Sam 🚀", "avatar_url": "https://img.example.com/s.png", "phone": "+14155550123"}"#,
    )
    .unwrap();
    let profile = h
        .auth
        .account()
        .update_profile(&p, update, &meta())
        .await
        .unwrap();
    assert_eq!(profile.display_name.as_deref(), Some("Sam 🚀"));
    assert_eq!(profile.phone.as_deref(), Some("+14155550123"));
    assert!(!profile.phone_verified);

    // null clears, absent keeps.
    let update: ProfileUpdate = serde_json::from_str(r#"{"avatar_url": null}"#).unwrap();
    let profile = h
        .auth
        .account()
        .update_profile(&p, update, &meta())
        .await
        .unwrap();
    assert_eq!(profile.avatar_url, None);
    assert_eq!(profile.display_name.as_deref(), Some("Sam 🚀"));

    let update: ProfileUpdate = serde_json::from_str(
        r#"{"avatar_url": "javascript:alert(1)", "phone": "abc", "display_name": "x\u0007"}"#,
    )
    .unwrap();
    let err = h
        .auth
        .account()
        .update_profile(&p, update, &meta())
        .await
        .unwrap_err();
    assert_eq!(err.field_errors().len(), 3);
    let me = h.auth.me(&p).await.unwrap();
    assert_eq!(me.profile.display_name.as_deref(), Some("Sam 🚀"));

    let export = h.auth.account().export(&p, &meta()).await.unwrap();
    assert_eq!(export.profile.email, "sam@example.com");
    assert_eq!(export.sessions.len(), 1);
    assert!(
        export
            .audit_events
            .iter()
            .any(|e| e.event == "login_succeeded")
    );
    let audit = h.auth.account().audit(&p, 1, 2).await.unwrap();
    assert_eq!(audit.items.len(), 2);
    assert_eq!(audit.next_page, Some(2));
    assert!(audit.items[0].at >= audit.items[1].at);

    assert!(matches!(
        h.auth.account().deactivate(&p, "wrong", &meta()).await,
        Err(AuthError::InvalidCredentials)
    ));
    h.auth
        .account()
        .deactivate(&p, PASSWORD, &meta())
        .await
        .unwrap();
    assert!(h.auth.refresh(&pair.refresh_token, &meta()).await.is_err());
    assert!(
        !h.auth
            .introspect(&pair.access_token, None, &meta())
            .await
            .unwrap()
            .active
    );
    assert!(matches!(
        login(&h, "sam@example.com", PASSWORD).await,
        Err(AuthError::AccountInactive)
    ));
    // A wrong password on an inactive account says nothing about its state.
    assert!(matches!(
        login(&h, "sam@example.com", "wrong password!").await,
        Err(AuthError::InvalidCredentials)
    ));
}

#[tokio::test]
async fn email_lookup_only_for_verified_phones() {
    let h = harness().await;
    let pair = verified_user(&h, "tia@example.com").await;
    let p = principal(&h, &pair);
    let update: ProfileUpdate = serde_json::from_str(r#"{"phone": "+14155550199"}"#).unwrap();
    h.auth
        .account()
        .update_profile(&p, update, &meta())
        .await
        .unwrap();
    assert!(
        h.auth
            .account()
            .lookup_email("+14155550199", &meta())
            .await
            .unwrap()
            .is_empty()
    );
    let user = h.store.users.user_by_id(p.user_id).await.unwrap().unwrap();
    let phone = user.phone.clone().unwrap();
    h.store
        .users
        .update_user(p.user_id, &UserUpdate::PhoneVerified(phone), Utc::now())
        .await
        .unwrap();
    assert_eq!(
        h.auth
            .account()
            .lookup_email("+1 415 555 0199", &meta())
            .await
            .unwrap(),
        vec!["t***@e***.com"]
    );
    assert!(
        h.auth
            .account()
            .lookup_email("+14155550000", &meta())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        h.auth.account().lookup_email("nope", &meta()).await,
        Err(AuthError::Validation(_))
    ));
}

#[tokio::test]
async fn forced_rotation_requires_a_new_password() {
    let h = harness_with(
        |b| b.account(|a| a.force_password_rotation(Some(Duration::days(90)))),
        Arc::new(NoLimiter),
    )
    .await;
    verified_user(&h, "uma@example.com").await;
    h.clock.advance(Duration::days(91));
    assert!(matches!(
        login(&h, "uma@example.com", PASSWORD).await,
        Err(AuthError::PasswordChangeRequired)
    ));
    // The change needs the right current password.
    assert!(
        h.auth
            .login_with_new_password(
                Credentials::new("uma@example.com", "wrong"),
                "rotated passphrase",
                &meta()
            )
            .await
            .is_err()
    );
    tokens(
        h.auth
            .login_with_new_password(
                Credentials::new("uma@example.com", PASSWORD),
                "rotated passphrase",
                &meta(),
            )
            .await
            .unwrap(),
    );
    login(&h, "uma@example.com", "rotated passphrase")
        .await
        .unwrap();
}

#[tokio::test]
async fn legacy_django_hashes_upgrade_on_login() {
    let h = harness().await;
    verified_user(&h, "val@example.com").await;
    let email = authkit_core::email::Email::parse("val@example.com").unwrap();
    let user = h.store.users.user_by_email(&email).await.unwrap().unwrap();
    // Django's PBKDF2PasswordHasher format: "django-era secret", salt
    // "authkitfixture", 10,000 iterations.
    let django = UserUpdate::Password {
        hash: "pbkdf2_sha256$10000$authkitfixture$2ZLA0QgylIdZRL+uLGfoLiqYznB3Fq4X6KrNIa+yMVk="
            .into(),
    };
    h.store
        .users
        .update_user(user.id, &django, Utc::now())
        .await
        .unwrap();
    login(&h, "val@example.com", "django-era secret")
        .await
        .unwrap();
    let user = h.store.users.user_by_email(&email).await.unwrap().unwrap();
    assert!(user.password_hash.unwrap().starts_with("$argon2id$"));
    login(&h, "val@example.com", "django-era secret")
        .await
        .unwrap();
}

#[tokio::test]
async fn imported_django_hashes_need_the_pbkdf2_floor() {
    use authkit_core::ImportedUser;
    let h = harness().await;
    // PBKDF2-HMAC-SHA256 of PASSWORD, salt "importsalt123", at the floor
    // (10,000 iterations) and one below.
    let at_floor = "pbkdf2_sha256$10000$importsalt123$ZMVFbcEY0QPNrjmIn8pcw2gC5S+WZa1gSgepoqr7nRI=";
    let below = "pbkdf2_sha256$9999$importsalt123$KrZ9IEVzp04YJH0HsjeabwaDTyRzWri2H9zb2E8dB7c=";

    let err = h
        .auth
        .admin()
        .import_user(ImportedUser::new("weak@example.com", below))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "validation_failed");
    let field = &err.field_errors()[0];
    assert_eq!(
        (field.field.as_str(), field.code.as_str()),
        ("password_hash", "password_hash_too_weak")
    );
    assert!(field.message.contains("9999"), "{}", field.message);
    let email = authkit_core::email::Email::parse("weak@example.com").unwrap();
    assert!(h.store.users.user_by_email(&email).await.unwrap().is_none());

    for garbage in [
        "",
        "md5$x$y",
        "pbkdf2_sha256$10000$salt$short",
        "bcrypt$$2b$12$x",
    ] {
        let err = h
            .auth
            .admin()
            .import_user(ImportedUser::new("junk@example.com", garbage))
            .await
            .unwrap_err();
        assert_eq!(
            err.field_errors()[0].code,
            "password_hash_invalid",
            "{garbage:?}"
        );
    }

    let mut input = ImportedUser::new("Old.Timer@Example.com", at_floor);
    input.email_verified = true;
    let user = h.auth.admin().import_user(input.clone()).await.unwrap();
    assert_eq!(user.email.as_str(), "old.timer@example.com");
    assert!(user.email_verified_at.is_some());
    assert!(matches!(
        h.auth.admin().import_user(input).await,
        Err(AuthError::EmailTaken)
    ));
    login(&h, "old.timer@example.com", PASSWORD).await.unwrap();
    let stored = h.store.users.user_by_email(&user.email).await.unwrap();
    assert!(
        stored
            .unwrap()
            .password_hash
            .unwrap()
            .starts_with("$argon2id$")
    );
    let events = h
        .store
        .audit
        .audit_records(&AuditQuery {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(events.iter().any(|r| r.event == "user_imported"));
}

#[tokio::test]
async fn audit_log_never_holds_secrets() {
    let h = harness().await;
    let pair = verified_user(&h, "wes@example.com").await;
    login(&h, "wes@example.com", "a wrong password")
        .await
        .unwrap_err();
    h.auth
        .passwords()
        .request_reset("wes@example.com", &meta())
        .await
        .unwrap();
    h.auth.background_idle().await;
    let reset = link_token(&h.mailer, "wes@example.com");
    let refreshed = h.auth.refresh(&pair.refresh_token, &meta()).await.unwrap();
    let records = h
        .store
        .audit
        .audit_records(&AuditQuery {
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(records.len() >= 5);
    let dump = serde_json::to_string(&records).unwrap();
    for secret in [
        PASSWORD,
        "a wrong password",
        &reset,
        &pair.refresh_token,
        &pair.access_token,
        &refreshed.refresh_token,
    ] {
        assert!(!dump.contains(secret), "audit log leaks a secret");
    }
    assert!(
        records
            .iter()
            .all(|r| r.ip.as_deref() == Some("203.0.113.7"))
    );
}

#[tokio::test]
async fn throttling_answers_rate_limited() {
    let h = harness_with(
        |b| b,
        Arc::new(authkit_core::rate_limit::GovernorLimiter::new(
            authkit_core::rate_limit::RateLimits::default(),
        )),
    )
    .await;
    verified_user(&h, "xia@example.com").await;
    let mut limited = None;
    for _ in 0..20 {
        if let Err(AuthError::RateLimited { retry_after }) =
            login(&h, "xia@example.com", "wrong password!").await
        {
            limited = Some(retry_after);
            break;
        }
    }
    let retry_after = limited.expect("login per email is limited");
    assert!(retry_after.as_secs() >= 1);
}

#[tokio::test]
async fn instances_sharing_a_store_share_keys() {
    let h = harness().await;
    let pair = verified_user(&h, "yan@example.com").await;
    let config = AuthConfig::builder()
        .key_activation_delay(Duration::zero())
        .build()
        .unwrap();
    let second = Auth::builder(config, h.store.clone())
        .mailer(Arc::new(MemoryMailer::default()))
        .rate_limiter(Arc::new(NoLimiter))
        .build()
        .await
        .unwrap();
    let p = second.authenticate(&pair.access_token).unwrap();
    assert_eq!(p.session_id, pair.session_id);
    assert_eq!(h.auth.keys().jwks(), second.keys().jwks());
}

#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

#[async_trait]
impl EventHook for Recorder {
    async fn on_event(&self, event: &AuthEvent, _meta: &RequestMeta) {
        self.0.lock().unwrap().push(event.name().to_owned());
    }
}

#[tokio::test]
async fn hooks_see_every_event() {
    let recorder = Arc::new(Recorder::default());
    let config = AuthConfig::builder().build().unwrap();
    let mailer = Arc::new(MemoryMailer::default());
    let auth = Auth::builder(config, Store::new(MemoryStore::new()))
        .mailer(mailer.clone())
        .rate_limiter(Arc::new(NoLimiter))
        .event_hook(recorder.clone())
        .build()
        .await
        .unwrap();
    auth.register(Registration::new("zed@example.com", PASSWORD), &meta())
        .await
        .unwrap();
    let seen = recorder.0.lock().unwrap().clone();
    assert_eq!(seen, vec!["user_registered", "verification_sent"]);
}

/// A mailer that fails: the flow reports it rather than pretending.
struct Broken;

#[async_trait]
impl Mailer for Broken {
    async fn send(&self, _message: Message) -> Result<(), AuthError> {
        Err(AuthError::internal_msg("smtp down"))
    }
}

#[tokio::test]
async fn mail_failures_surface_as_internal_errors() {
    let config = AuthConfig::builder().build().unwrap();
    let auth = Auth::builder(config, Store::new(MemoryStore::new()))
        .mailer(Arc::new(Broken))
        .rate_limiter(Arc::new(NoLimiter))
        .build()
        .await
        .unwrap();
    let err = auth
        .register(Registration::new("ann@example.com", PASSWORD), &meta())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "internal");
}

/// The `kid` header of a JWT.
fn kid_of(jwt: &str) -> String {
    use base64::Engine as _;
    let header = jwt.split('.').next().unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap();
    let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    value["kid"].as_str().unwrap().to_owned()
}

fn jwks_kids(auth: &Auth) -> Vec<String> {
    auth.keys().jwks()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn signing_keys_rotate_without_logging_anyone_out() {
    let h = harness().await;
    let pair = verified_user(&h, "rot@example.com").await;
    let old_kid = kid_of(&pair.access_token);
    h.clock.advance(Duration::minutes(1));
    let new_kid = h.auth.keys().rotate(&meta()).await.unwrap();
    assert_ne!(old_kid, new_kid);
    // Tokens of the old key keep verifying; new ones use the new key.
    h.auth.authenticate(&pair.access_token).unwrap();
    let fresh = h.auth.refresh(&pair.refresh_token, &meta()).await.unwrap();
    assert_eq!(kid_of(&fresh.access_token), new_kid);
    let kids = jwks_kids(&h.auth);
    assert!(kids.contains(&old_kid) && kids.contains(&new_kid));
    // Two rotations in one second still order strictly: the second key
    // signs one second later.
    let newer_kid = h.auth.keys().rotate(&meta()).await.unwrap();
    let pair = h.auth.refresh(&fresh.refresh_token, &meta()).await.unwrap();
    assert_eq!(kid_of(&pair.access_token), new_kid);
    h.clock.advance(Duration::seconds(1));
    h.auth.keys().reload().await.unwrap();
    let pair = h.auth.refresh(&pair.refresh_token, &meta()).await.unwrap();
    assert_eq!(kid_of(&pair.access_token), newer_kid);
    // Past the longest token lifetime the old keys are gone.
    h.clock.advance(Duration::minutes(16));
    h.auth.keys().reload().await.unwrap();
    assert_eq!(jwks_kids(&h.auth), vec![newer_kid]);
}

#[tokio::test]
async fn new_keys_are_published_before_they_sign() {
    let h = harness_with(
        |b| b.key_activation_delay(Duration::minutes(5)),
        Arc::new(NoLimiter),
    )
    .await;
    let pair = verified_user(&h, "pub@example.com").await;
    let old_kid = kid_of(&pair.access_token);
    let config = AuthConfig::builder()
        .key_activation_delay(Duration::minutes(5))
        .build()
        .unwrap();
    let other = Auth::builder(config, h.store.clone())
        .mailer(Arc::new(MemoryMailer::default()))
        .rate_limiter(Arc::new(NoLimiter))
        .clock(h.clock.clone())
        .build()
        .await
        .unwrap();

    h.clock.advance(Duration::minutes(1));
    let new_kid = h.auth.keys().rotate(&meta()).await.unwrap();
    assert!(jwks_kids(&h.auth).contains(&new_kid));
    // Not signing yet.
    let pair = h.auth.refresh(&pair.refresh_token, &meta()).await.unwrap();
    assert_eq!(kid_of(&pair.access_token), old_kid);
    // The other instance learns the key on its periodic reload.
    other.keys().reload().await.unwrap();
    assert!(jwks_kids(&other).contains(&new_kid));

    h.clock.advance(Duration::minutes(5));
    h.auth.keys().reload().await.unwrap();
    let pair = h.auth.refresh(&pair.refresh_token, &meta()).await.unwrap();
    assert_eq!(kid_of(&pair.access_token), new_kid);
    other.authenticate(&pair.access_token).unwrap();
}

#[tokio::test]
async fn mail_goes_to_the_stored_address_not_a_look_alike() {
    let h = harness().await;
    verified_user(&h, "ada@example.com").await;
    let before = h.mailer.count();
    // Cyrillic "а" and full-width letters are other addresses: no mail.
    for look_alike in [
        "ad\u{430}@example.com",
        "\u{ff41}da@example.com",
        "ada@examp1e.com",
    ] {
        h.auth
            .passwords()
            .request_reset(look_alike, &meta())
            .await
            .unwrap();
        h.auth.background_idle().await;
    }
    assert_eq!(h.mailer.count(), before);
    // A differently typed form of the same address mails the stored one.
    h.auth
        .passwords()
        .request_reset("  ADA@Example.Com ", &meta())
        .await
        .unwrap();
    h.auth.background_idle().await;
    let sent = h.mailer.messages();
    assert_eq!(sent.len(), before + 1);
    assert_eq!(sent[before].to, "ada@example.com");
}

#[tokio::test]
async fn lockout_counts_across_instances_sharing_a_store() {
    let h = harness().await;
    verified_user(&h, "lock@example.com").await;
    let config = AuthConfig::builder().build().unwrap();
    let other = Auth::builder(config, h.store.clone())
        .mailer(Arc::new(MemoryMailer::default()))
        .rate_limiter(Arc::new(NoLimiter))
        .clock(h.clock.clone())
        .build()
        .await
        .unwrap();
    for i in 0..10 {
        let auth = if i % 2 == 0 { &h.auth } else { &other };
        auth.login(
            Credentials::new("lock@example.com", "wrong password!"),
            &meta(),
        )
        .await
        .unwrap_err();
    }
    for auth in [&h.auth, &other] {
        assert!(matches!(
            auth.login(Credentials::new("lock@example.com", PASSWORD), &meta())
                .await,
            Err(AuthError::AccountLocked { .. })
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_verifications_of_one_link_succeed_once() {
    let h = harness().await;
    h.auth
        .register(Registration::new("par@example.com", PASSWORD), &meta())
        .await
        .unwrap();
    let token = link_token(&h.mailer, "par@example.com");
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let auth = h.auth.clone();
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            auth.email().verify(&token, &meta()).await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(err) => assert!(matches!(err, AuthError::TokenInvalid), "{err:?}"),
        }
    }
    assert_eq!(ok, 1);
}

#[tokio::test]
async fn a_new_code_does_not_reset_the_account_failure_budget() {
    let h = harness_with(
        |b| b,
        Arc::new(authkit_core::rate_limit::GovernorLimiter::new(
            authkit_core::rate_limit::RateLimits::default(),
        )),
    )
    .await;
    h.auth
        .register(Registration::new("budget@example.com", PASSWORD), &meta())
        .await
        .unwrap();
    let mut failures = 0;
    let mut limited = false;
    // Each code allows 5 guesses; resending issues a fresh code, but the
    // per-account budget (20 per hour) keeps counting.
    'outer: for _ in 0..5 {
        let code = mailed_code(&h.mailer, "budget@example.com");
        let wrong = if code == "000000" { "111111" } else { "000000" };
        for _ in 0..5 {
            match h
                .auth
                .email()
                .verify_code("budget@example.com", wrong, &meta())
                .await
            {
                Err(AuthError::MfaInvalidCode) => failures += 1,
                Err(AuthError::RateLimited { .. }) => {
                    limited = true;
                    break 'outer;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        h.auth
            .email()
            .resend("budget@example.com", &meta())
            .await
            .unwrap();
        h.auth.background_idle().await;
    }
    assert!(limited, "the account budget stopped the guessing");
    assert_eq!(failures, 20);
}

#[tokio::test]
async fn revoked_sessions_fail_introspection_at_once() {
    let h = harness().await;
    let a = verified_user(&h, "intro@example.com").await;
    let b = login(&h, "intro@example.com", PASSWORD).await.unwrap();
    let pa = principal(&h, &a);
    h.auth
        .passwords()
        .change(&pa, PASSWORD, "changed passphrase one", &meta())
        .await
        .unwrap();
    assert!(
        h.auth
            .introspect(&a.access_token, None, &meta())
            .await
            .unwrap()
            .active
    );
    assert!(
        !h.auth
            .introspect(&b.access_token, None, &meta())
            .await
            .unwrap()
            .active
    );

    h.auth
        .passwords()
        .request_reset("intro@example.com", &meta())
        .await
        .unwrap();
    h.auth.background_idle().await;
    let token = link_token(&h.mailer, "intro@example.com");
    h.auth
        .passwords()
        .confirm_reset(&token, "changed passphrase two", &meta())
        .await
        .unwrap();
    assert!(
        !h.auth
            .introspect(&a.access_token, None, &meta())
            .await
            .unwrap()
            .active
    );
}

/// Unknown accounts cost the same as known ones: one argon2id verification
/// each. Interleaved samples, so machine load hits both sides alike; the
/// medians must be within 50% of each other (a missing dummy verification
/// would make unknown accounts ~1000x faster).
#[tokio::test]
async fn unknown_and_known_accounts_take_the_same_time() {
    let h = harness().await;
    verified_user(&h, "timing@example.com").await;
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for i in 0..200 {
        // Stay under the lockout: failures further apart than the window
        // do not add up.
        h.clock.advance(Duration::minutes(16));
        let mut order = [
            ("timing@example.com", &mut known),
            ("nobody@example.com", &mut unknown),
        ];
        // Alternate which goes first, so warm-up effects cancel out.
        if i % 2 == 1 {
            order.reverse();
        }
        for (email, samples) in order {
            let password = format!("wrong password {i}");
            let started = std::time::Instant::now();
            let err = login(&h, email, &password).await.unwrap_err();
            samples.push(started.elapsed());
            assert!(matches!(err, AuthError::InvalidCredentials));
        }
    }
    known.sort();
    unknown.sort();
    let (k, u) = (known[100].as_secs_f64(), unknown[100].as_secs_f64());
    let ratio = k.max(u) / k.min(u);
    assert!(
        ratio < 1.5,
        "median known {k:.4}s vs unknown {u:.4}s (ratio {ratio:.2})"
    );
}

#[tokio::test]
async fn me_serializes_to_the_api_shape() {
    let h = harness().await;
    let pair = verified_user(&h, "shape@example.com").await;
    let me = h.auth.me(&principal(&h, &pair)).await.unwrap();
    let json = serde_json::to_value(&me).unwrap();
    for key in [
        "id",
        "email",
        "email_verified",
        "phone",
        "phone_verified",
        "display_name",
        "avatar_url",
        "roles",
        "permissions",
        "mfa",
        "created_at",
    ] {
        assert!(json.get(key).is_some(), "missing {key} in {json}");
    }
    assert_eq!(json["roles"][0]["name"], "END_USER");
    assert!(json["roles"][0]["permissions"].is_array());
    assert_eq!(json["mfa"]["enabled"], false);
    assert!(json.get("password_hash").is_none());
}

#[tokio::test]
async fn revoke_other_sessions_keeps_the_current_one() {
    let h = harness().await;
    let a = verified_user(&h, "keep@example.com").await;
    let b = login(&h, "keep@example.com", PASSWORD).await.unwrap();
    let c = login(&h, "keep@example.com", PASSWORD).await.unwrap();
    let pa = principal(&h, &a);
    assert_eq!(
        h.auth.sessions().revoke_others(&pa, &meta()).await.unwrap(),
        2
    );
    let left = h.auth.sessions().list(&pa).await.unwrap();
    assert_eq!(left.len(), 1);
    assert!(left[0].current);
    for gone in [&b, &c] {
        assert!(h.auth.refresh(&gone.refresh_token, &meta()).await.is_err());
    }
    assert!(h.auth.refresh(&a.refresh_token, &meta()).await.is_ok());
}

/// One-time tokens whose `issue_token` waits, while the gate is shut, until
/// it opens: a store write that takes as long as the test wants.
struct GatedTokens {
    inner: Arc<dyn authkit_core::store::OneTimeTokenStore>,
    open: tokio::sync::watch::Sender<bool>,
    waiting: tokio::sync::watch::Sender<usize>,
}

#[async_trait]
impl authkit_core::store::OneTimeTokenStore for GatedTokens {
    async fn issue_token(&self, token: &authkit_core::one_time::OneTimeToken) -> AuthResultOf<()> {
        let mut open = self.open.subscribe();
        if !*open.borrow() {
            self.waiting.send_modify(|n| *n += 1);
            open.wait_for(|open| *open).await.unwrap();
        }
        self.inner.issue_token(token).await
    }
    async fn consume_token(
        &self,
        purpose: Purpose,
        hash: &TokenHash,
        now: chrono::DateTime<Utc>,
    ) -> AuthResultOf<Option<authkit_core::one_time::OneTimeToken>> {
        self.inner.consume_token(purpose, hash, now).await
    }
    async fn find_token(
        &self,
        purpose: Purpose,
        hash: &TokenHash,
        now: chrono::DateTime<Utc>,
    ) -> AuthResultOf<Option<authkit_core::one_time::OneTimeToken>> {
        self.inner.find_token(purpose, hash, now).await
    }
    async fn check_code(
        &self,
        purpose: Purpose,
        subject: &str,
        hash: &TokenHash,
        now: chrono::DateTime<Utc>,
    ) -> AuthResultOf<authkit_core::one_time::CodeCheck> {
        self.inner.check_code(purpose, subject, hash, now).await
    }
    async fn peek_token(
        &self,
        purpose: Purpose,
        subject: &str,
        now: chrono::DateTime<Utc>,
    ) -> AuthResultOf<Option<authkit_core::one_time::OneTimeToken>> {
        self.inner.peek_token(purpose, subject, now).await
    }
    async fn purge_tokens(&self, before: chrono::DateTime<Utc>) -> AuthResultOf<u64> {
        self.inner.purge_tokens(before).await
    }
}

use authkit_core::AuthResult as AuthResultOf;
use authkit_core::one_time::Purpose;
use authkit_core::secret::TokenHash;

/// Reset requests and verification resends answer before the account's
/// store write: with that write stalled, known addresses answer at once,
/// like unknown ones, and the mail follows when the store does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_and_resend_answer_before_the_store_write() {
    let mut h = harness().await;
    verified_user(&h, "slow@example.com").await;
    h.auth
        .register(
            Registration::new("unverified@example.com", PASSWORD),
            &meta(),
        )
        .await
        .unwrap();
    let (open, _) = tokio::sync::watch::channel(false);
    let (waiting, mut waiters) = tokio::sync::watch::channel(0);
    let mut store = h.store.clone();
    store.tokens = Arc::new(GatedTokens {
        inner: h.store.tokens.clone(),
        open: open.clone(),
        waiting,
    });
    let auth = Auth::builder(
        AuthConfig::builder()
            .public_url("https://app.example.com")
            .key_activation_delay(Duration::zero())
            .build()
            .unwrap(),
        store,
    )
    .mailer(h.mailer.clone())
    .clock(h.clock.clone())
    .rate_limiter(Arc::new(NoLimiter))
    .build()
    .await
    .unwrap();
    h.auth = auth;
    let before = h.mailer.count();

    // Each call returns although its token write cannot finish; the guard
    // turns a regression into a failure instead of a hang.
    let answers = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        h.auth
            .passwords()
            .request_reset("slow@example.com", &meta())
            .await
            .unwrap();
        h.auth
            .passwords()
            .request_reset("nobody@example.com", &meta())
            .await
            .unwrap();
        h.auth
            .email()
            .resend("unverified@example.com", &meta())
            .await
            .unwrap();
    })
    .await;
    assert!(answers.is_ok(), "the answers waited for the store write");
    waiters.wait_for(|n| *n == 2).await.unwrap();
    assert_eq!(h.mailer.count(), before, "nothing mailed before the write");

    open.send_replace(true);
    h.auth.background_idle().await;
    let sent = h.mailer.messages();
    assert_eq!(
        sent.len(),
        before + 2,
        "one reset and one verification mail"
    );
    let token = link_token(&h.mailer, "slow@example.com");
    h.auth
        .passwords()
        .confirm_reset(&token, "the store caught up", &meta())
        .await
        .unwrap();
    assert!(
        h.mailer.last_to("unverified@example.com").is_some(),
        "the verification mail was resent"
    );
}

/// A failure in the background is logged, never answered: the request
/// succeeds like any other and later requests still work.
#[tokio::test]
async fn background_failures_do_not_reach_the_answer() {
    struct FailingMailer;
    #[async_trait]
    impl Mailer for FailingMailer {
        async fn send(&self, _: Message) -> AuthResultOf<()> {
            Err(AuthError::internal_msg("mail server down"))
        }
    }
    let config = AuthConfig::builder()
        .account(|a| a.require_email_verification(false))
        .build()
        .unwrap();
    let store = Store::new(MemoryStore::new());
    let auth = Auth::builder(config, store.clone())
        .mailer(Arc::new(FailingMailer))
        .rate_limiter(Arc::new(NoLimiter))
        .build()
        .await
        .unwrap();
    auth.register(Registration::new("down@example.com", PASSWORD), &meta())
        .await
        .unwrap();
    auth.passwords()
        .request_reset("down@example.com", &meta())
        .await
        .unwrap();
    auth.email()
        .resend("down@example.com", &meta())
        .await
        .unwrap();
    auth.background_idle().await;
    let records = store
        .audit
        .audit_records(&AuditQuery {
            event: Some("password_reset_requested".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(records.len(), 1, "the request was still audited");
}

#[tokio::test]
async fn me_shows_changes_made_through_auth_at_once() {
    let h = harness().await;
    let pair = verified_user(&h, "cached@example.com").await;
    let p = principal(&h, &pair);
    assert_eq!(h.auth.me(&p).await.unwrap().profile.display_name, None);
    let update = ProfileUpdate {
        display_name: Some(Some("Cached".into())),
        ..ProfileUpdate::default()
    };
    h.auth
        .account()
        .update_profile(&p, update, &meta())
        .await
        .unwrap();
    assert_eq!(
        h.auth.me(&p).await.unwrap().profile.display_name.as_deref(),
        Some("Cached")
    );
}

#[tokio::test]
async fn me_answers_from_its_cache_until_told_of_a_change_behind_its_back() {
    let h = harness().await;
    let pair = verified_user(&h, "behind@example.com").await;
    let p = principal(&h, &pair);
    assert_eq!(h.auth.me(&p).await.unwrap().profile.display_name, None);
    // A write straight to the store, not through `Auth`: the cached view
    // stays until the host says the account changed.
    h.store
        .users
        .update_user(p.user_id, &rename("Behind"), Utc::now())
        .await
        .unwrap();
    assert_eq!(h.auth.me(&p).await.unwrap().profile.display_name, None);
    h.auth.account().changed(p.user_id).await;
    assert_eq!(
        h.auth.me(&p).await.unwrap().profile.display_name.as_deref(),
        Some("Behind")
    );
}

#[tokio::test]
async fn without_the_cache_me_reads_the_store_every_time() {
    let h = harness_with(
        |b| b.account_cache_ttl(Duration::zero()),
        Arc::new(NoLimiter),
    )
    .await;
    let pair = verified_user(&h, "uncached@example.com").await;
    let p = principal(&h, &pair);
    assert_eq!(h.auth.me(&p).await.unwrap().profile.display_name, None);
    h.store
        .users
        .update_user(p.user_id, &rename("Direct"), Utc::now())
        .await
        .unwrap();
    assert_eq!(
        h.auth.me(&p).await.unwrap().profile.display_name.as_deref(),
        Some("Direct")
    );
}

/// An administrator (signed in) for the lock tests.
async fn admin(h: &Harness) -> Principal {
    h.auth
        .admin()
        .create_admin(NewAdmin::new("root@example.com", PASSWORD))
        .await
        .unwrap();
    let pair = login(h, "root@example.com", PASSWORD).await.unwrap();
    principal(h, &pair)
}

async fn user_id(h: &Harness, email: &str) -> uuid::Uuid {
    let email = authkit_core::email::Email::parse(email).unwrap();
    h.store
        .users
        .user_by_email(&email)
        .await
        .unwrap()
        .unwrap()
        .id
}

/// A refresh keeps the account it read for the next one, yet a failure
/// lockout recorded since leaves the session alive (someone who only
/// knows the address cannot sign its owner out), while an administrator's
/// lock ends it at once.
#[tokio::test]
async fn a_failure_lockout_keeps_sessions_and_an_admin_lock_ends_them() {
    let h = harness().await;
    let root = admin(&h).await;
    let first = verified_user(&h, "locked-out@example.com").await;
    let second = h.auth.refresh(&first.refresh_token, &meta()).await.unwrap();
    for _ in 0..10 {
        login(&h, "locked-out@example.com", "wrong password!")
            .await
            .unwrap_err();
    }
    assert!(matches!(
        login(&h, "locked-out@example.com", PASSWORD).await,
        Err(AuthError::AccountLocked { .. })
    ));
    let third = h
        .auth
        .refresh(&second.refresh_token, &meta())
        .await
        .expect("a failure lock leaves the session alive");
    principal(&h, &third);
    assert!(
        h.auth
            .introspect(&third.access_token, None, &meta())
            .await
            .unwrap()
            .active
    );

    let id = user_id(&h, "locked-out@example.com").await;
    h.auth
        .admin()
        .lock_user(&root, id, None, Some("stolen laptop"), &meta())
        .await
        .unwrap();
    assert!(matches!(
        h.auth.authenticate(&third.access_token),
        Err(AuthError::TokenInvalid)
    ));
    assert!(
        !h.auth
            .introspect(&third.access_token, None, &meta())
            .await
            .unwrap()
            .active
    );
    assert!(matches!(
        h.auth.refresh(&third.refresh_token, &meta()).await,
        Err(AuthError::TokenInvalid)
    ));
}

/// An administrator's lock survives a password reset: no reset mail is
/// sent while it holds, a reset with a link mailed before the lock sets
/// the password but leaves the lock (its reason and actor) in place, and
/// only an unlock lets the owner in again.
#[tokio::test]
async fn a_password_reset_keeps_an_admin_lock() {
    let h = harness().await;
    let root = admin(&h).await;
    verified_user(&h, "kept@example.com").await;
    let id = user_id(&h, "kept@example.com").await;
    h.auth
        .passwords()
        .request_reset("kept@example.com", &meta())
        .await
        .unwrap();
    h.auth.background_idle().await;
    let early_link = link_token(&h.mailer, "kept@example.com");

    let locked = h
        .auth
        .admin()
        .lock_user(&root, id, None, Some("  chargeback  "), &meta())
        .await
        .unwrap();
    let lock = locked.admin_lock.clone().unwrap();
    assert_eq!(lock.reason.as_deref(), Some("chargeback"));
    assert_eq!(lock.actor_id, Some(root.user_id));

    let mails = h.mailer.count();
    h.auth
        .passwords()
        .request_reset("kept@example.com", &meta())
        .await
        .expect("a locked account's reset request answers as any other");
    h.auth.background_idle().await;
    assert_eq!(h.mailer.count(), mails, "no reset mail while locked");

    h.auth
        .passwords()
        .confirm_reset(&early_link, "a brand new passphrase", &meta())
        .await
        .unwrap();
    assert!(matches!(
        login(&h, "kept@example.com", "a brand new passphrase").await,
        Err(AuthError::AccountLocked { .. })
    ));
    let after = h.auth.admin().user(&root, id).await.unwrap();
    assert_eq!(after.user.admin_lock, Some(lock), "the lock is unchanged");

    let unlocked = h
        .auth
        .admin()
        .unlock_user(&root, id, &meta())
        .await
        .unwrap();
    assert_eq!((unlocked.admin_lock, unlocked.locked_until), (None, None));
    login(&h, "kept@example.com", "a brand new passphrase")
        .await
        .unwrap();
}

/// A reset lifts a failure lock (that is what it is for): the link is
/// mailed to a failure-locked account and signs it in again.
#[tokio::test]
async fn a_password_reset_lifts_a_failure_lock() {
    let h = harness().await;
    verified_user(&h, "forgot@example.com").await;
    for _ in 0..10 {
        login(&h, "forgot@example.com", "wrong password!")
            .await
            .unwrap_err();
    }
    h.auth
        .passwords()
        .request_reset("forgot@example.com", &meta())
        .await
        .unwrap();
    h.auth.background_idle().await;
    let token = link_token(&h.mailer, "forgot@example.com");
    h.auth
        .passwords()
        .confirm_reset(&token, "remembered at last", &meta())
        .await
        .unwrap();
    login(&h, "forgot@example.com", "remembered at last")
        .await
        .unwrap();
}

/// While an account is locked (by failures or by an administrator), a
/// wrong password answers exactly as for an unknown address and does not
/// prolong the lock; only the right password learns `account_locked`.
#[tokio::test]
async fn while_locked_a_wrong_password_answers_as_for_an_unknown_address() {
    let h = harness().await;
    let root = admin(&h).await;
    verified_user(&h, "quiet@example.com").await;
    let id = user_id(&h, "quiet@example.com").await;
    for _ in 0..10 {
        login(&h, "quiet@example.com", "wrong password!")
            .await
            .unwrap_err();
    }
    let before = h.store.users.user_by_id(id).await.unwrap().unwrap();
    assert!(before.is_failure_locked(authkit_core::clock::Clock::now(&*h.clock)));

    let unknown = login(&h, "nobody@example.com", "wrong password!")
        .await
        .unwrap_err();
    h.clock.advance(Duration::minutes(1));
    let wrong = login(&h, "quiet@example.com", "wrong password!")
        .await
        .unwrap_err();
    assert!(matches!(wrong, AuthError::InvalidCredentials), "{wrong:?}");
    assert_eq!(wrong.to_string(), unknown.to_string());
    let after = h.store.users.user_by_id(id).await.unwrap().unwrap();
    assert_eq!(
        (after.failed_login_count, after.locked_until),
        (before.failed_login_count, before.locked_until),
        "guesses during the lock neither count nor prolong it"
    );
    match login(&h, "quiet@example.com", PASSWORD).await {
        Err(AuthError::AccountLocked { until }) => assert_eq!(until, before.locked_until),
        other => panic!("expected account_locked, got {other:?}"),
    }

    // The same under an administrator's lock, which reports its own end.
    h.clock.advance(Duration::minutes(20));
    login(&h, "quiet@example.com", PASSWORD).await.unwrap();
    let until = authkit_core::clock::Clock::now(&*h.clock) + Duration::days(1);
    h.auth
        .admin()
        .lock_user(&root, id, Some(until), None, &meta())
        .await
        .unwrap();
    let wrong = login(&h, "quiet@example.com", "wrong password!")
        .await
        .unwrap_err();
    assert_eq!(wrong.to_string(), unknown.to_string());
    match login(&h, "quiet@example.com", PASSWORD).await {
        Err(AuthError::AccountLocked { until: reported }) => assert_eq!(reported, Some(until)),
        other => panic!("expected account_locked, got {other:?}"),
    }
}

/// A lock's reason is bounded and printable.
#[tokio::test]
async fn an_admin_lock_reason_is_validated() {
    let h = harness().await;
    let root = admin(&h).await;
    verified_user(&h, "why@example.com").await;
    let id = user_id(&h, "why@example.com").await;
    let long = "x".repeat(authkit_core::MAX_LOCK_REASON + 1);
    for bad in [long.as_str(), "line\nbreak"] {
        let err = h
            .auth
            .admin()
            .lock_user(&root, id, None, Some(bad), &meta())
            .await
            .unwrap_err();
        assert_eq!(err.field_errors()[0].field, "reason", "{bad:?}");
    }
    assert!(
        h.store
            .users
            .user_by_id(id)
            .await
            .unwrap()
            .unwrap()
            .admin_lock
            .is_none(),
        "a refused lock sets nothing"
    );
}

/// A password change racing an administrator's deactivation keeps both:
/// the account ends up deactivated and with the new password (a change
/// wrote back the whole account as read before its hashing, undoing the
/// deactivation).
#[tokio::test]
async fn a_password_change_racing_a_deactivation_keeps_both() {
    let h = harness().await;
    let root = admin(&h).await;
    for round in 0..3 {
        let email = format!("racer{round}@example.com");
        let pair = verified_user(&h, &email).await;
        let owner = principal(&h, &pair);
        let new_password = format!("a fresh passphrase {round}");
        let meta = meta();
        let (changed, deactivated) = tokio::join!(
            h.auth
                .passwords()
                .change(&owner, PASSWORD, &new_password, &meta),
            h.auth.admin().deactivate_user(&root, owner.user_id, &meta),
        );
        changed.unwrap();
        deactivated.unwrap();
        let user = h
            .store
            .users
            .user_by_id(owner.user_id)
            .await
            .unwrap()
            .unwrap();
        assert!(!user.is_active, "the deactivation stays (round {round})");
        assert!(
            matches!(
                login(&h, &email, &new_password).await,
                Err(AuthError::AccountInactive)
            ),
            "the new password is set (round {round})"
        );
    }
}

/// A membership made between two refreshes is in the second one's claims.
#[tokio::test]
async fn a_refresh_carries_memberships_made_since_the_last() {
    let h = harness().await;
    let first = verified_user(&h, "member@example.com").await;
    let second = h.auth.refresh(&first.refresh_token, &meta()).await.unwrap();
    let p = principal(&h, &second);
    assert!(p.orgs.is_empty());
    h.auth
        .orgs()
        .create(&p, "Acme", "acme", &meta())
        .await
        .unwrap();
    let third = h
        .auth
        .refresh(&second.refresh_token, &meta())
        .await
        .unwrap();
    let orgs = principal(&h, &third).orgs;
    assert_eq!(orgs.len(), 1, "{orgs:?}");
    assert_eq!(
        (orgs[0].slug.as_str(), orgs[0].role.as_str()),
        ("acme", "OWNER")
    );
}

/// A display-name change, for writes straight to the store.
fn rename(name: &str) -> UserUpdate {
    UserUpdate::Profile {
        display_name: Some(Some(name.into())),
        avatar_url: None,
        phone: None,
    }
}

/// Gives the account the role `AUDITOR` straight in the store, unseen by
/// `Auth`.
async fn make_auditor_behind_the_back(h: &Harness, user_id: uuid::Uuid) {
    let auditor = UserUpdate::Roles(vec!["AUDITOR".into()]);
    h.store
        .users
        .update_user(user_id, &auditor, Utc::now())
        .await
        .unwrap();
}

/// What a refresh read is reused until a change is recorded: a write behind
/// authkit's back shows only after `account_changed` (or the TTL).
#[tokio::test]
async fn a_refresh_reuses_its_reads_until_told_of_a_change_behind_its_back() {
    let h = harness().await;
    let first = verified_user(&h, "claims@example.com").await;
    let second = h.auth.refresh(&first.refresh_token, &meta()).await.unwrap();
    let before = principal(&h, &second);
    let user_id = before.user_id;
    make_auditor_behind_the_back(&h, user_id).await;

    let third = h
        .auth
        .refresh(&second.refresh_token, &meta())
        .await
        .unwrap();
    assert_eq!(
        principal(&h, &third).roles,
        before.roles,
        "served from memory"
    );
    h.auth.account().changed(user_id).await;
    let fourth = h.auth.refresh(&third.refresh_token, &meta()).await.unwrap();
    assert_eq!(principal(&h, &fourth).roles, ["AUDITOR"]);
}

/// Without the cache every refresh reads the account.
#[tokio::test]
async fn without_the_cache_a_refresh_reads_the_account_every_time() {
    let h = harness_with(
        |b| b.account_cache_ttl(Duration::zero()),
        Arc::new(NoLimiter),
    )
    .await;
    let first = verified_user(&h, "uncached-claims@example.com").await;
    let second = h.auth.refresh(&first.refresh_token, &meta()).await.unwrap();
    make_auditor_behind_the_back(&h, principal(&h, &second).user_id).await;
    let third = h
        .auth
        .refresh(&second.refresh_token, &meta())
        .await
        .unwrap();
    assert_eq!(principal(&h, &third).roles, ["AUDITOR"]);
}

/// Calls the flow behind a per-IP `action` from `ip`; whether it was
/// throttled.
async fn throttled(h: &Harness, action: RateAction, ip: Option<&str>) -> bool {
    let meta = RequestMeta::new(ip.map(str::to_owned), None);
    let auth = &h.auth;
    let result = match action {
        RateAction::LoginPerIp => auth
            .login(Credentials::new("nobody@example.com", "wrong!"), &meta)
            .await
            .map(drop),
        RateAction::RegisterPerIp => auth
            .register(Registration::new("not an email", "x"), &meta)
            .await
            .map(drop),
        RateAction::ResetPerIp => auth.passwords().request_reset("a@example.com", &meta).await,
        RateAction::ResendPerIp => auth.email().resend("a@example.com", &meta).await,
        RateAction::LookupPerIp => auth
            .account()
            .lookup_email("+14155550123", &meta)
            .await
            .map(drop),
        RateAction::RefreshPerIp => auth.refresh("not a token", &meta).await.map(drop),
        RateAction::IntrospectPerIp => auth.introspect("not a token", None, &meta).await.map(drop),
        other => panic!("{other} is not a per-IP action"),
    };
    matches!(result, Err(AuthError::RateLimited { .. }))
}

const PER_IP: [RateAction; 7] = [
    RateAction::LoginPerIp,
    RateAction::RegisterPerIp,
    RateAction::ResetPerIp,
    RateAction::ResendPerIp,
    RateAction::LookupPerIp,
    RateAction::RefreshPerIp,
    RateAction::IntrospectPerIp,
];

/// A harness where every per-IP action allows one call per hour.
async fn one_per_ip(prefixes: IpPrefixes) -> Harness {
    let mut limits = RateLimits::disabled();
    for action in PER_IP {
        limits
            .set(action, Quota::new(1, std::time::Duration::from_secs(3600)))
            .unwrap();
    }
    limits.set_ip_prefixes(prefixes);
    let limiter = Arc::new(GovernorLimiter::new(limits.clone()));
    harness_with(move |b| b.rate_limits(limits), limiter).await
}

#[tokio::test]
async fn per_ip_limits_key_ipv6_by_64_and_share_one_key_for_unknown_clients() {
    let h = one_per_ip(IpPrefixes::default()).await;
    for action in PER_IP {
        // One /64 is one client, whatever the interface id.
        assert!(
            !throttled(&h, action, Some("2001:db8:1:2::1")).await,
            "{action}"
        );
        assert!(
            throttled(&h, action, Some("2001:db8:1:2:aaaa::9")).await,
            "{action}"
        );
        assert!(
            !throttled(&h, action, Some("2001:db8:1:3::1")).await,
            "{action}"
        );
        // IPv4 by address; a mapped address is the same client.
        assert!(
            !throttled(&h, action, Some("203.0.113.9")).await,
            "{action}"
        );
        assert!(
            throttled(&h, action, Some("::ffff:203.0.113.9")).await,
            "{action}"
        );
        assert!(
            !throttled(&h, action, Some("203.0.113.10")).await,
            "{action}"
        );
        // Unknown (or unreadable) addresses share one budget: never skipped.
        assert!(!throttled(&h, action, None).await, "{action}");
        assert!(throttled(&h, action, None).await, "{action}");
        assert!(
            throttled(&h, action, Some("not an address")).await,
            "{action}"
        );
    }
}

#[tokio::test]
async fn per_ip_prefixes_are_configurable() {
    let h = one_per_ip(IpPrefixes::new(24, 48).unwrap()).await;
    for action in PER_IP {
        assert!(
            !throttled(&h, action, Some("203.0.113.1")).await,
            "{action}"
        );
        assert!(
            throttled(&h, action, Some("203.0.113.200")).await,
            "{action}"
        );
        assert!(
            !throttled(&h, action, Some("203.0.114.1")).await,
            "{action}"
        );
        assert!(
            !throttled(&h, action, Some("2001:db8:1:2::1")).await,
            "{action}"
        );
        assert!(
            throttled(&h, action, Some("2001:db8:1:ffff::1")).await,
            "{action}"
        );
    }
}

#[tokio::test]
async fn refresh_tokens_are_introspected_without_being_consumed() {
    let h = harness().await;
    let pair = verified_user(&h, "rhea@example.com").await;
    let user_id = principal(&h, &pair).user_id;
    for hint in [
        None,
        Some(TokenTypeHint::RefreshToken),
        Some(TokenTypeHint::AccessToken),
    ] {
        let intro = h
            .auth
            .introspect(&pair.refresh_token, hint, &meta())
            .await
            .unwrap();
        assert!(intro.active, "{hint:?}");
        assert_eq!(intro.token_type.as_deref(), Some("refresh_token"));
        assert_eq!(intro.sub, Some(user_id.to_string()));
        assert_eq!(intro.sid, Some(pair.session_id.to_string()));
        assert_eq!(intro.iss.as_deref(), Some("authkit"));
        let exp = intro.exp.unwrap();
        assert!(exp > h.clock.now().timestamp(), "{exp}");
        assert!(intro.scope.is_none() && intro.roles.is_none() && intro.jti.is_none());
        // An access token is found whatever the hint, too.
        let access = h
            .auth
            .introspect(&pair.access_token, hint, &meta())
            .await
            .unwrap();
        assert_eq!(access.token_type.as_deref(), Some("Bearer"), "{hint:?}");
    }
    // Introspection consumed nothing: concurrent introspections all see it
    // active, and the token still rotates once.
    let all = futures_all(&h, &pair.refresh_token).await;
    assert!(all.iter().all(|active| *active));
    let next = h.auth.refresh(&pair.refresh_token, &meta()).await.unwrap();
    let intro = |token: String| {
        let auth = h.auth.clone();
        async move { auth.introspect(&token, None, &meta()).await.unwrap() }
    };
    assert!(!intro(pair.refresh_token.clone()).await.active, "rotated");
    assert!(intro(next.refresh_token.clone()).await.active);
    assert_eq!(
        serde_json::to_value(intro(pair.refresh_token.clone()).await).unwrap(),
        serde_json::json!({"active": false})
    );

    // Idle past the timeout, then a new login: the session's end shows.
    let other = login(&h, "rhea@example.com", PASSWORD).await.unwrap();
    h.auth
        .logout(&principal(&h, &other), None, &meta())
        .await
        .unwrap();
    assert!(!intro(other.refresh_token).await.active, "logged out");
    h.clock.advance(Duration::days(8));
    assert!(!intro(next.refresh_token).await.active, "idle too long");
    for garbage in ["", "x", &"y".repeat(10_000)] {
        assert!(!intro(garbage.to_owned()).await.active);
    }
}

/// 20 concurrent introspections of `token`: whether each saw it active.
async fn futures_all(h: &Harness, token: &str) -> Vec<bool> {
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let auth = h.auth.clone();
            let token = token.to_owned();
            tokio::spawn(
                async move { auth.introspect(&token, None, &meta()).await.unwrap().active },
            )
        })
        .collect();
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.unwrap());
    }
    out
}
