//! End-to-end tests of the multi-factor flows on the memory store: TOTP
//! against the RFC vectors and a third-party parser, replay and window
//! rules, backup codes, email and SMS codes, the failure budget, attempt
//! binding, enrolment demanded by roles, phone verification, notices.

// Test helpers outside #[test] functions unwrap freely too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use authkit_core::audit::AuditQuery;
use authkit_core::clock::ManualClock;
use authkit_core::mail::MemoryMailer;
use authkit_core::mfa::{MfaMethod, TotpAlgorithm, TotpParams, TotpSecret};
use authkit_core::rate_limit::NoLimiter;
use authkit_core::sms::MemorySms;
use authkit_core::store::{MemoryStore, Store, UserUpdate};
use authkit_core::{
    Auth, AuthConfig, AuthConfigBuilder, AuthError, Credentials, LoginOutcome, MfaChallenge,
    Principal, Registration, RequestMeta, TokenPair, TotpDisable,
};
use chrono::{DateTime, Duration, TimeZone, Utc};
use hmac::{Hmac, Mac};

const PASSWORD: &str = "correct horse battery staple";

struct Harness {
    auth: Auth,
    mailer: Arc<MemoryMailer>,
    sms: Arc<MemorySms>,
    clock: Arc<ManualClock>,
    store: Store,
}

fn meta() -> RequestMeta {
    RequestMeta::new(Some("203.0.113.7".into()), Some("tests/1.0".into()))
}

async fn harness_with(tweak: impl FnOnce(AuthConfigBuilder) -> AuthConfigBuilder) -> Harness {
    let config = tweak(
        AuthConfig::builder()
            .public_url("https://app.example.com")
            .app_name("Acme")
            .mfa(|m| m.enabled(true).encryption_key(vec![42u8; 32]))
            .key_activation_delay(Duration::zero()),
    )
    .build()
    .unwrap();
    let store = Store::new(MemoryStore::new());
    let mailer = Arc::new(MemoryMailer::default());
    let sms = Arc::new(MemorySms::default());
    // A fixed instant a little into a 30-second step.
    let clock = Arc::new(ManualClock::new(
        Utc.timestamp_opt(1_800_000_005, 0).unwrap(),
    ));
    let auth = Auth::builder(config, store.clone())
        .mailer(mailer.clone())
        .sms_sender(sms.clone())
        .clock(clock.clone())
        .rate_limiter(Arc::new(NoLimiter))
        .build()
        .await
        .unwrap();
    Harness {
        auth,
        mailer,
        sms,
        clock,
        store,
    }
}

async fn harness() -> Harness {
    harness_with(|b| b).await
}

fn link_token(mailer: &MemoryMailer, to: &str) -> String {
    let mail = mailer.last_to(to).expect("a mail was sent");
    let start = mail.text.find("?token=").expect("a link") + "?token=".len();
    mail.text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

/// The first run of exactly six digits in `text`.
fn six_digits(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|run| run.len() == 6)
        .unwrap_or_else(|| panic!("no code in {text:?}"))
        .to_owned()
}

async fn login(h: &Harness, email: &str) -> Result<LoginOutcome, AuthError> {
    h.auth
        .login(Credentials::new(email, PASSWORD), &meta())
        .await
}

fn tokens(outcome: LoginOutcome) -> TokenPair {
    match outcome {
        LoginOutcome::Tokens(pair) => pair,
        other => panic!("expected tokens, got {other:?}"),
    }
}

fn challenge(outcome: LoginOutcome) -> MfaChallenge {
    match outcome {
        LoginOutcome::MfaRequired(challenge) => challenge,
        other => panic!("expected an MFA challenge, got {other:?}"),
    }
}

/// Registers and verifies `email`; returns a first session.
async fn verified_user(h: &Harness, email: &str) -> TokenPair {
    h.auth
        .register(Registration::new(email, PASSWORD), &meta())
        .await
        .unwrap();
    let token = link_token(&h.mailer, email);
    h.auth.email().verify(&token, &meta()).await.unwrap();
    tokens(login(h, email).await.unwrap())
}

fn principal(h: &Harness, pair: &TokenPair) -> Principal {
    h.auth.authenticate(&pair.access_token).unwrap()
}

/// The code a third-party implementation computes from `uri` at `at`.
fn app_code(uri: &str, at: DateTime<Utc>) -> String {
    totp_rs::Totp::from_url(uri)
        .unwrap()
        .generate(u64::try_from(at.timestamp()).unwrap())
        .to_string()
}

/// Enrols TOTP for the session's account; returns the URI and the backup
/// codes, with the clock moved to the next step.
async fn enrol(h: &Harness, pair: &TokenPair) -> (String, Vec<String>) {
    let p = principal(h, pair);
    let setup = h.auth.mfa().totp_setup(&p, &meta()).await.unwrap();
    let code = app_code(&setup.otpauth_uri, h.clock.now_utc());
    let backup = h.auth.mfa().totp_enable(&p, &code, &meta()).await.unwrap();
    h.clock.advance(Duration::seconds(30));
    (setup.otpauth_uri, backup)
}

trait Now {
    fn now_utc(&self) -> DateTime<Utc>;
}

impl Now for ManualClock {
    fn now_utc(&self) -> DateTime<Utc> {
        authkit_core::clock::Clock::now(self)
    }
}

/// Registers, verifies, enrols; returns the URI and backup codes.
async fn mfa_user(h: &Harness, email: &str) -> (String, Vec<String>) {
    let pair = verified_user(h, email).await;
    enrol(h, &pair).await
}

// ---------------------------------------------------------------- vectors

/// RFC 6238 Appendix B: (time, SHA1, SHA256, SHA512) with 8 digits.
const RFC6238: [(i64, &str, &str, &str); 6] = [
    (59, "94287082", "46119246", "90693936"),
    (1_111_111_109, "07081804", "68084774", "25091201"),
    (1_111_111_111, "14050471", "67062674", "99943326"),
    (1_234_567_890, "89005924", "91819424", "93441116"),
    (2_000_000_000, "69279037", "90698825", "38618901"),
    (20_000_000_000, "65353130", "77737706", "47863826"),
];

fn rfc_seed(len: usize) -> Vec<u8> {
    b"1234567890".iter().copied().cycle().take(len).collect()
}

#[test]
fn rfc6238_appendix_b_vectors() {
    for (algorithm, seed_len, column) in [
        (TotpAlgorithm::Sha1, 20, 1),
        (TotpAlgorithm::Sha256, 32, 2),
        (TotpAlgorithm::Sha512, 64, 3),
    ] {
        let secret = TotpSecret::from_bytes(rfc_seed(seed_len));
        let params = TotpParams {
            algorithm,
            digits: 8,
            period: 30,
        };
        for row in RFC6238 {
            let expected = [row.1, row.2, row.3][column - 1];
            let step = params.step_at(row.0);
            assert_eq!(
                secret.code_at_step(params, step).unwrap(),
                expected,
                "{algorithm} at {}",
                row.0
            );
            assert_eq!(
                secret.matching_step(params, expected, row.0).unwrap(),
                Some(step),
                "{algorithm} at {} is accepted",
                row.0
            );
        }
    }
}

#[test]
fn rfc4226_appendix_d_hotp_values() {
    let expected = [
        "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871",
        "520489",
    ];
    let secret = TotpSecret::from_bytes(rfc_seed(20));
    for (counter, code) in expected.iter().enumerate() {
        assert_eq!(
            secret
                .code_at_step(TotpParams::default(), counter as u64)
                .unwrap(),
            *code,
            "counter {counter}"
        );
    }
}

/// RFC 6238 computed here with plain HMAC-SHA1, independent of totp-rs.
fn independent_totp(secret: &[u8], unix: i64) -> String {
    let counter = (unix / 30) as u64;
    let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(secret).unwrap();
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let value = u32::from_be_bytes(digest[offset..offset + 4].try_into().unwrap()) & 0x7fff_ffff;
    format!("{:06}", value % 1_000_000)
}

#[tokio::test]
async fn the_otpauth_uri_is_read_by_a_third_party_and_its_codes_are_accepted() {
    let h = harness().await;
    let pair = verified_user(&h, "uri@example.com").await;
    let p = principal(&h, &pair);
    let setup = h.auth.mfa().totp_setup(&p, &meta()).await.unwrap();
    assert!(
        setup
            .otpauth_uri
            .starts_with("otpauth://totp/Acme:uri%40example.com?")
    );
    assert!(setup.qr_svg.contains("<svg"));
    assert!(!setup.qr_png_base64.is_empty());

    let parsed = totp_rs::Totp::from_url(&setup.otpauth_uri).unwrap();
    assert_eq!(parsed.issuer(), Some("Acme"));
    assert_eq!(parsed.account_name(), "uri@example.com");
    assert_eq!(parsed.digits(), 6);
    assert_eq!(parsed.step(), 30);
    let raw = base32::decode(base32::Alphabet::Rfc4648 { padding: false }, &setup.secret).unwrap();
    assert_eq!(raw.len(), 20, "160-bit secret");
    assert_eq!(parsed.secret().as_bytes(), raw.as_slice());

    let now = h.clock.now_utc();
    let code = app_code(&setup.otpauth_uri, now);
    assert_eq!(code, independent_totp(&raw, now.timestamp()));
    let backup = h.auth.mfa().totp_enable(&p, &code, &meta()).await.unwrap();
    assert_eq!(backup.len(), 10);

    h.clock.advance(Duration::seconds(30));
    let c = challenge(login(&h, "uri@example.com").await.unwrap());
    let later = independent_totp(&raw, h.clock.now_utc().timestamp());
    h.auth
        .mfa()
        .verify(&c.mfa_token, MfaMethod::Totp, &later, &meta())
        .await
        .unwrap();
}

// ----------------------------------------------------------------- TOTP

#[tokio::test]
async fn login_with_totp_and_the_me_summary() {
    let h = harness().await;
    let (uri, _) = mfa_user(&h, "ann@example.com").await;
    let c = challenge(login(&h, "ann@example.com").await.unwrap());
    assert_eq!(
        c.methods,
        vec![MfaMethod::Totp, MfaMethod::BackupCode, MfaMethod::Email],
        "no SMS without a verified phone"
    );
    let json = serde_json::to_value(&c).unwrap();
    assert_eq!(json["mfa_required"], true);
    assert_eq!(json["methods"][1], "backup_code");
    assert!(!format!("{c:?}").contains(&c.mfa_token));

    let pair = h
        .auth
        .mfa()
        .verify(
            &c.mfa_token,
            MfaMethod::Totp,
            &app_code(&uri, h.clock.now_utc()),
            &meta(),
        )
        .await
        .unwrap();
    let me = h.auth.me(&principal(&h, &pair)).await.unwrap();
    assert!(me.mfa.enabled);
    assert_eq!(me.mfa.methods, vec!["totp", "backup_code", "email"]);
    assert_eq!(me.mfa.backup_codes_remaining, 10);
    let json = serde_json::to_value(&me).unwrap();
    assert_eq!(json["mfa"]["backup_codes_remaining"], 10);

    // The mfa_token is spent.
    assert!(matches!(
        h.auth
            .mfa()
            .verify(&c.mfa_token, MfaMethod::BackupCode, "x", &meta())
            .await,
        Err(AuthError::TokenInvalid)
    ));
}

#[tokio::test]
async fn a_replayed_code_is_refused() {
    let h = harness().await;
    let (uri, _) = mfa_user(&h, "replay@example.com").await;
    let code = app_code(&uri, h.clock.now_utc());
    let c = challenge(login(&h, "replay@example.com").await.unwrap());
    h.auth
        .mfa()
        .verify(&c.mfa_token, MfaMethod::Totp, &code, &meta())
        .await
        .unwrap();
    let c = challenge(login(&h, "replay@example.com").await.unwrap());
    assert!(matches!(
        h.auth
            .mfa()
            .verify(&c.mfa_token, MfaMethod::Totp, &code, &meta())
            .await,
        Err(AuthError::MfaInvalidCode)
    ));
    // Nor is the previous step's code, though inside the window.
    let earlier = app_code(&uri, h.clock.now_utc() - Duration::seconds(30));
    assert!(matches!(
        h.auth
            .mfa()
            .verify(&c.mfa_token, MfaMethod::Totp, &earlier, &meta())
            .await,
        Err(AuthError::MfaInvalidCode)
    ));
    // The next step's code is fine.
    let next = app_code(&uri, h.clock.now_utc() + Duration::seconds(30));
    h.auth
        .mfa()
        .verify(&c.mfa_token, MfaMethod::Totp, &next, &meta())
        .await
        .unwrap();
}

#[tokio::test]
async fn codes_outside_the_window_are_refused() {
    let h = harness().await;
    let (uri, _) = mfa_user(&h, "window@example.com").await;
    h.clock.advance(Duration::minutes(10));
    let now = h.clock.now_utc();
    let c = challenge(login(&h, "window@example.com").await.unwrap());
    for offset in [-90, -60, 60, 90] {
        let code = app_code(&uri, now + Duration::seconds(offset));
        if code == app_code(&uri, now)
            || code == app_code(&uri, now - Duration::seconds(30))
            || code == app_code(&uri, now + Duration::seconds(30))
        {
            continue; // a one-in-a-million coincidence with a valid step
        }
        assert!(
            matches!(
                h.auth
                    .mfa()
                    .verify(&c.mfa_token, MfaMethod::Totp, &code, &meta())
                    .await,
                Err(AuthError::MfaInvalidCode)
            ),
            "offset {offset}s"
        );
    }
    let code = app_code(&uri, now - Duration::seconds(30));
    h.auth
        .mfa()
        .verify(&c.mfa_token, MfaMethod::Totp, &code, &meta())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_verifications_of_one_code_succeed_once() {
    let h = harness_with(|b| b.mfa(|m| m.max_failures(100u32))).await;
    let (uri, _) = mfa_user(&h, "race@example.com").await;
    let c = challenge(login(&h, "race@example.com").await.unwrap());
    let code = app_code(&uri, h.clock.now_utc());
    let barrier = Arc::new(tokio::sync::Barrier::new(50));
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (auth, token, code, barrier) = (
                h.auth.clone(),
                c.mfa_token.clone(),
                code.clone(),
                barrier.clone(),
            );
            tokio::spawn(async move {
                barrier.wait().await;
                auth.mfa()
                    .verify(&token, MfaMethod::Totp, &code, &meta())
                    .await
            })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => ok += 1,
            Err(AuthError::MfaInvalidCode | AuthError::TokenInvalid) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(ok, 1);
}

// --------------------------------------------------------- backup codes

#[tokio::test]
async fn backup_codes_work_once_and_regenerating_kills_the_old_set() {
    let h = harness().await;
    let (uri, backup) = mfa_user(&h, "backup@example.com").await;
    assert!(
        backup
            .iter()
            .all(|c| c.len() == 11 && c.as_bytes()[5] == b'-')
    );

    let c = challenge(login(&h, "backup@example.com").await.unwrap());
    let typed = backup[0].to_uppercase().replace('-', " ");
    let pair = h
        .auth
        .mfa()
        .verify(&c.mfa_token, MfaMethod::BackupCode, &typed, &meta())
        .await
        .unwrap();
    let p = principal(&h, &pair);
    assert_eq!(h.auth.me(&p).await.unwrap().mfa.backup_codes_remaining, 9);

    let c = challenge(login(&h, "backup@example.com").await.unwrap());
    assert!(matches!(
        h.auth
            .mfa()
            .verify(&c.mfa_token, MfaMethod::BackupCode, &backup[0], &meta())
            .await,
        Err(AuthError::MfaInvalidCode)
    ));
    let fresh = h
        .auth
        .mfa()
        .regenerate_backup_codes(&p, &meta())
        .await
        .unwrap();
    assert_eq!(fresh.len(), 10);
    assert!(fresh.iter().all(|code| !backup.contains(code)));
    assert!(matches!(
        h.auth
            .mfa()
            .verify(&c.mfa_token, MfaMethod::BackupCode, &backup[1], &meta())
            .await,
        Err(AuthError::MfaInvalidCode)
    ));
    h.auth
        .mfa()
        .verify(&c.mfa_token, MfaMethod::BackupCode, &fresh[1], &meta())
        .await
        .unwrap();
    let c = challenge(login(&h, "backup@example.com").await.unwrap());
    h.auth
        .mfa()
        .verify(
            &c.mfa_token,
            MfaMethod::Totp,
            &app_code(&uri, h.clock.now_utc()),
            &meta(),
        )
        .await
        .unwrap();
    let subjects: Vec<_> = h.mailer.messages().into_iter().map(|m| m.subject).collect();
    assert!(subjects.iter().any(|s| s.contains("New backup codes")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_uses_of_one_backup_code_succeed_once() {
    let h = harness_with(|b| b.mfa(|m| m.max_failures(100u32))).await;
    let (_, backup) = mfa_user(&h, "backup-race@example.com").await;
    let c = challenge(login(&h, "backup-race@example.com").await.unwrap());
    let barrier = Arc::new(tokio::sync::Barrier::new(50));
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (auth, token, code, barrier) = (
                h.auth.clone(),
                c.mfa_token.clone(),
                backup[4].clone(),
                barrier.clone(),
            );
            tokio::spawn(async move {
                barrier.wait().await;
                auth.mfa()
                    .verify(&token, MfaMethod::BackupCode, &code, &meta())
                    .await
            })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        if task.await.unwrap().is_ok() {
            ok += 1;
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(
        h.store
            .mfa
            .backup_codes_remaining(
                h.store
                    .users
                    .user_by_email(
                        &authkit_core::email::Email::parse("backup-race@example.com").unwrap()
                    )
                    .await
                    .unwrap()
                    .unwrap()
                    .id
            )
            .await
            .unwrap(),
        9
    );
}

// ------------------------------------------------- email and SMS codes

#[tokio::test]
async fn email_codes_are_bound_to_their_attempt() {
    let h = harness().await;
    mfa_user(&h, "bind@example.com").await;
    let a = challenge(login(&h, "bind@example.com").await.unwrap());
    h.auth
        .mfa()
        .challenge(&a.mfa_token, MfaMethod::Email, &meta())
        .await
        .unwrap();
    let mail = h.mailer.last_to("bind@example.com").unwrap();
    assert!(mail.subject.contains("sign-in code"));
    let code_a = six_digits(&mail.text);

    let b = challenge(login(&h, "bind@example.com").await.unwrap());
    // Attempt A's token is superseded by B's.
    assert!(matches!(
        h.auth
            .mfa()
            .verify(&a.mfa_token, MfaMethod::Email, &code_a, &meta())
            .await,
        Err(AuthError::TokenInvalid)
    ));
    // A's code does not open B.
    assert!(matches!(
        h.auth
            .mfa()
            .verify(&b.mfa_token, MfaMethod::Email, &code_a, &meta())
            .await,
        Err(AuthError::MfaInvalidCode)
    ));
    h.auth
        .mfa()
        .challenge(&b.mfa_token, MfaMethod::Email, &meta())
        .await
        .unwrap();
    let code_b = six_digits(&h.mailer.last_to("bind@example.com").unwrap().text);
    h.auth
        .mfa()
        .verify(&b.mfa_token, MfaMethod::Email, &code_b, &meta())
        .await
        .unwrap();
}

#[tokio::test]
async fn challenges_need_an_offered_and_usable_method() {
    let h =
        harness_with(|b| b.mfa(|m| m.methods(vec![MfaMethod::Totp, MfaMethod::BackupCode]))).await;
    mfa_user(&h, "offer@example.com").await;
    let c = challenge(login(&h, "offer@example.com").await.unwrap());
    assert_eq!(c.methods, vec![MfaMethod::Totp, MfaMethod::BackupCode]);
    for method in [MfaMethod::Email, MfaMethod::Sms, MfaMethod::Totp] {
        let err = h
            .auth
            .mfa()
            .challenge(&c.mfa_token, method, &meta())
            .await
            .unwrap_err();
        assert_eq!(
            err.field_errors()[0].code,
            "mfa_method_unavailable",
            "{method}"
        );
    }
    let err = h
        .auth
        .mfa()
        .verify(&c.mfa_token, MfaMethod::Email, "123456", &meta())
        .await
        .unwrap_err();
    assert_eq!(err.field_errors()[0].code, "mfa_method_unavailable");
}

#[tokio::test]
async fn phone_verification_then_sms_codes() {
    let h = harness().await;
    let pair = verified_user(&h, "sms@example.com").await;
    let p = principal(&h, &pair);
    assert!(matches!(
        h.auth.phone().start(&p, "not a number", &meta()).await,
        Err(AuthError::Validation(_))
    ));
    h.auth
        .phone()
        .start(&p, "+1 415 555 0123", &meta())
        .await
        .unwrap();
    let text = h.sms.last_to("+14155550123").unwrap().body;
    let code = six_digits(&text);
    assert!(
        h.auth
            .account()
            .lookup_email("+14155550123", &meta())
            .await
            .unwrap()
            .is_empty(),
        "an unverified phone does not count"
    );
    let wrong = if code == "000000" { "111111" } else { "000000" };
    assert!(matches!(
        h.auth.phone().confirm(&p, wrong, &meta()).await,
        Err(AuthError::MfaInvalidCode)
    ));
    let profile = h.auth.phone().confirm(&p, &code, &meta()).await.unwrap();
    assert!(profile.phone_verified);
    assert_eq!(
        h.auth
            .account()
            .lookup_email("+14155550123", &meta())
            .await
            .unwrap(),
        vec!["s***@e***.com"]
    );
    assert!(matches!(
        h.auth.phone().confirm(&p, &code, &meta()).await,
        Err(AuthError::MfaInvalidCode)
    ));

    enrol(&h, &pair).await;
    let c = challenge(login(&h, "sms@example.com").await.unwrap());
    assert!(c.methods.contains(&MfaMethod::Sms));
    h.auth
        .mfa()
        .challenge(&c.mfa_token, MfaMethod::Sms, &meta())
        .await
        .unwrap();
    let sms_code = six_digits(&h.sms.last_to("+14155550123").unwrap().body);
    h.auth
        .mfa()
        .verify(&c.mfa_token, MfaMethod::Sms, &sms_code, &meta())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_code_for_a_replaced_phone_does_not_verify_the_new_one() {
    let h = harness().await;
    let pair = verified_user(&h, "swap@example.com").await;
    let p = principal(&h, &pair);
    h.auth
        .phone()
        .start(&p, "+14155550123", &meta())
        .await
        .unwrap();
    let code = six_digits(&h.sms.last_to("+14155550123").unwrap().body);
    h.auth
        .account()
        .update_profile(
            &p,
            serde_json::from_value(serde_json::json!({"phone": "+14155550199"})).unwrap(),
            &meta(),
        )
        .await
        .unwrap();
    assert!(matches!(
        h.auth.phone().confirm(&p, &code, &meta()).await,
        Err(AuthError::MfaInvalidCode)
    ));
    assert!(!h.auth.me(&p).await.unwrap().profile.phone_verified);
}

// ------------------------------------------------------ failure budget

#[tokio::test]
async fn the_failure_budget_survives_new_logins_and_codes_and_locks() {
    let h = harness_with(|b| b.mfa(|m| m.max_failures(6u32))).await;
    let (uri, _) = mfa_user(&h, "budget@example.com").await;
    let mut failures = 0;
    // Three logins, each with a fresh email code, two wrong guesses each:
    // neither a new mfa_token nor a new code refills the budget.
    for _ in 0..3 {
        let c = challenge(login(&h, "budget@example.com").await.unwrap());
        h.auth
            .mfa()
            .challenge(&c.mfa_token, MfaMethod::Email, &meta())
            .await
            .unwrap();
        let code = six_digits(&h.mailer.last_to("budget@example.com").unwrap().text);
        let wrong = if code == "000000" { "111111" } else { "000000" };
        for method in [MfaMethod::Email, MfaMethod::BackupCode] {
            let guess = if method == MfaMethod::Email {
                wrong
            } else {
                "aaaaa-aaaaa"
            };
            assert!(matches!(
                h.auth
                    .mfa()
                    .verify(&c.mfa_token, method, guess, &meta())
                    .await,
                Err(AuthError::MfaInvalidCode)
            ));
            failures += 1;
        }
    }
    assert_eq!(failures, 6);
    // The sixth failure locked the account: the password no longer helps.
    assert!(matches!(
        login(&h, "budget@example.com").await,
        Err(AuthError::AccountLocked { .. })
    ));
    let events: Vec<_> = h
        .store
        .audit
        .audit_records(&AuditQuery {
            event: Some("account_locked".into()),
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(events.len(), 1);

    // After the lock, a success resets the budget.
    h.clock.advance(Duration::minutes(16));
    let c = challenge(login(&h, "budget@example.com").await.unwrap());
    h.auth
        .mfa()
        .verify(
            &c.mfa_token,
            MfaMethod::Totp,
            &app_code(&uri, h.clock.now_utc()),
            &meta(),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_pending_mfa_token_stops_at_the_lock() {
    let h = harness_with(|b| b.mfa(|m| m.max_failures(2u32))).await;
    let (uri, _) = mfa_user(&h, "stop@example.com").await;
    let c = challenge(login(&h, "stop@example.com").await.unwrap());
    for _ in 0..2 {
        let _ = h
            .auth
            .mfa()
            .verify(&c.mfa_token, MfaMethod::BackupCode, "zzzzz-zzzzz", &meta())
            .await;
    }
    let good = app_code(&uri, h.clock.now_utc());
    assert!(matches!(
        h.auth
            .mfa()
            .verify(&c.mfa_token, MfaMethod::Totp, &good, &meta())
            .await,
        Err(AuthError::AccountLocked { .. })
    ));
}

// ---------------------------------------------------------- mfa tokens

#[tokio::test]
async fn expired_and_malformed_mfa_tokens_are_refused() {
    let h = harness().await;
    let (uri, _) = mfa_user(&h, "expiry@example.com").await;
    let c = challenge(login(&h, "expiry@example.com").await.unwrap());
    h.clock.advance(Duration::minutes(5));
    let code = app_code(&uri, h.clock.now_utc());
    assert!(matches!(
        h.auth
            .mfa()
            .verify(&c.mfa_token, MfaMethod::Totp, &code, &meta())
            .await,
        Err(AuthError::TokenInvalid)
    ));
    assert!(matches!(
        h.auth
            .mfa()
            .challenge(&c.mfa_token, MfaMethod::Email, &meta())
            .await,
        Err(AuthError::TokenInvalid)
    ));
    for bad in ["", "x", &"a".repeat(10_000), "ünïcode", "../../etc"] {
        assert!(matches!(
            h.auth
                .mfa()
                .verify(bad, MfaMethod::Totp, &code, &meta())
                .await,
            Err(AuthError::TokenInvalid)
        ));
    }
}

#[tokio::test]
async fn bad_codes_are_refused_without_panicking() {
    let h = harness_with(|b| b.mfa(|m| m.max_failures(100u32))).await;
    mfa_user(&h, "bad@example.com").await;
    let c = challenge(login(&h, "bad@example.com").await.unwrap());
    for method in [MfaMethod::Totp, MfaMethod::BackupCode, MfaMethod::Email] {
        for bad in [
            "",
            " ",
            "١٢٣٤٥٦",
            "12345678901234567890",
            &"9".repeat(100_000),
            "😀",
        ] {
            assert!(
                matches!(
                    h.auth
                        .mfa()
                        .verify(&c.mfa_token, method, bad, &meta())
                        .await,
                    Err(AuthError::MfaInvalidCode)
                ),
                "{method} {bad:.20}"
            );
        }
    }
}

// ------------------------------------------------ enable, disable, flag

#[tokio::test]
async fn enabling_needs_a_valid_code_and_a_pending_setup() {
    let h = harness().await;
    let pair = verified_user(&h, "enable@example.com").await;
    let p = principal(&h, &pair);
    let err = h
        .auth
        .mfa()
        .totp_enable(&p, "123456", &meta())
        .await
        .unwrap_err();
    assert_eq!(err.field_errors()[0].code, "mfa_setup_required");
    let first = h.auth.mfa().totp_setup(&p, &meta()).await.unwrap();
    let second = h.auth.mfa().totp_setup(&p, &meta()).await.unwrap();
    assert_ne!(first.secret, second.secret);
    assert!(!format!("{second:?}").contains(&second.secret));
    // The replaced setup's code no longer enables.
    let stale = app_code(&first.otpauth_uri, h.clock.now_utc());
    if stale != app_code(&second.otpauth_uri, h.clock.now_utc()) {
        assert!(matches!(
            h.auth.mfa().totp_enable(&p, &stale, &meta()).await,
            Err(AuthError::MfaInvalidCode)
        ));
    }
    // Not MFA yet: login still answers tokens.
    tokens(login(&h, "enable@example.com").await.unwrap());
    let code = app_code(&second.otpauth_uri, h.clock.now_utc());
    h.auth.mfa().totp_enable(&p, &code, &meta()).await.unwrap();
    let err = h.auth.mfa().totp_setup(&p, &meta()).await.unwrap_err();
    assert_eq!(err.field_errors()[0].code, "mfa_already_enabled");
    let err = h
        .auth
        .mfa()
        .totp_enable(&p, &code, &meta())
        .await
        .unwrap_err();
    assert_eq!(err.field_errors()[0].code, "mfa_already_enabled");
    let subjects: Vec<_> = h.mailer.messages().into_iter().map(|m| m.subject).collect();
    assert!(
        subjects
            .iter()
            .any(|s| s.contains("Two-step verification is on"))
    );
}

#[tokio::test]
async fn disabling_needs_the_password_or_a_code() {
    let h = harness().await;
    let pair = verified_user(&h, "off@example.com").await;
    let p = principal(&h, &pair);
    assert!(matches!(
        h.auth
            .mfa()
            .totp_disable(
                &p,
                TotpDisable::Password {
                    password: PASSWORD.into()
                },
                &meta()
            )
            .await,
        Err(AuthError::NotFound)
    ));
    let (uri, backup) = enrol(&h, &pair).await;
    assert!(matches!(
        h.auth
            .mfa()
            .totp_disable(
                &p,
                TotpDisable::Password {
                    password: "wrong".into()
                },
                &meta()
            )
            .await,
        Err(AuthError::InvalidCredentials)
    ));
    assert!(
        matches!(
            h.auth
                .mfa()
                .totp_disable(
                    &p,
                    TotpDisable::Code {
                        code: "000000".into()
                    },
                    &meta()
                )
                .await,
            Err(AuthError::MfaInvalidCode)
        ) || app_code(&uri, h.clock.now_utc()) == "000000"
    );
    h.auth
        .mfa()
        .totp_disable(
            &p,
            TotpDisable::Code {
                code: backup[2].clone(),
            },
            &meta(),
        )
        .await
        .unwrap();
    let me = h.auth.me(&p).await.unwrap();
    assert!(!me.mfa.enabled);
    assert_eq!(me.mfa.backup_codes_remaining, 0);
    tokens(login(&h, "off@example.com").await.unwrap());

    // Again with a TOTP code, and then with the password.
    let (uri, _) = enrol(&h, &pair).await;
    let code = app_code(&uri, h.clock.now_utc());
    h.auth
        .mfa()
        .totp_disable(&p, TotpDisable::Code { code }, &meta())
        .await
        .unwrap();
    enrol(&h, &pair).await;
    h.auth
        .mfa()
        .totp_disable(
            &p,
            TotpDisable::Password {
                password: PASSWORD.into(),
            },
            &meta(),
        )
        .await
        .unwrap();
    let json: TotpDisable = serde_json::from_str(r#"{"code": "123456"}"#).unwrap();
    assert!(matches!(json, TotpDisable::Code { .. }));
    let subjects: Vec<_> = h.mailer.messages().into_iter().map(|m| m.subject).collect();
    assert_eq!(subjects.iter().filter(|s| s.contains("is off")).count(), 3);
}

#[tokio::test]
async fn with_the_flag_off_mfa_answers_feature_disabled() {
    let h = harness_with(|b| b.mfa(|m| m.enabled(false))).await;
    let pair = verified_user(&h, "flag@example.com").await;
    let p = principal(&h, &pair);
    let err = h.auth.mfa().totp_setup(&p, &meta()).await.unwrap_err();
    assert!(matches!(err, AuthError::FeatureDisabled));
    assert_eq!(
        (
            err.code(),
            authkit_core::api::status_and_title(&err).0.as_u16()
        ),
        ("feature_disabled", 404)
    );
    assert!(matches!(
        h.auth.mfa().totp_enable(&p, "123456", &meta()).await,
        Err(AuthError::FeatureDisabled)
    ));
    assert!(matches!(
        h.auth.mfa().regenerate_backup_codes(&p, &meta()).await,
        Err(AuthError::FeatureDisabled)
    ));
    assert!(matches!(
        h.auth
            .mfa()
            .verify("t", MfaMethod::Totp, "123456", &meta())
            .await,
        Err(AuthError::FeatureDisabled)
    ));
    assert!(matches!(
        h.auth.mfa().challenge("t", MfaMethod::Email, &meta()).await,
        Err(AuthError::FeatureDisabled)
    ));
    assert!(!h.auth.me(&p).await.unwrap().mfa.enabled);
}

// ------------------------------------------------ roles demanding MFA

#[tokio::test]
async fn a_role_can_demand_enrolment_before_any_session() {
    let h = harness_with(|b| b.mfa(|m| m.required_roles(vec!["STAFF".to_owned()]))).await;
    verified_user(&h, "staff@example.com").await;
    let email = authkit_core::email::Email::parse("staff@example.com").unwrap();
    let mut user = h.store.users.user_by_email(&email).await.unwrap().unwrap();
    user.roles.push("STAFF".into());
    h.store
        .users
        .update_user(user.id, &UserUpdate::Roles(user.roles), Utc::now())
        .await
        .unwrap();

    let LoginOutcome::MfaEnrollmentRequired(demand) = login(&h, "staff@example.com").await.unwrap()
    else {
        panic!("expected an enrolment demand")
    };
    let json = serde_json::to_value(&demand).unwrap();
    assert_eq!(json["mfa_enrollment_required"], true);
    // The enrolment token is no login challenge.
    assert!(matches!(
        h.auth
            .mfa()
            .verify(&demand.mfa_token, MfaMethod::Totp, "123456", &meta())
            .await,
        Err(AuthError::TokenInvalid)
    ));
    assert!(matches!(
        h.auth
            .mfa()
            .challenge(&demand.mfa_token, MfaMethod::Email, &meta())
            .await,
        Err(AuthError::TokenInvalid)
    ));
    let setup = h
        .auth
        .mfa()
        .enroll_setup(&demand.mfa_token, &meta())
        .await
        .unwrap();
    let code = app_code(&setup.otpauth_uri, h.clock.now_utc());
    let enrolled = h
        .auth
        .mfa()
        .enroll_enable(&demand.mfa_token, &code, &meta())
        .await
        .unwrap();
    assert_eq!(enrolled.backup_codes.len(), 10);
    h.auth.authenticate(&enrolled.tokens.access_token).unwrap();
    // Spent.
    assert!(matches!(
        h.auth.mfa().enroll_setup(&demand.mfa_token, &meta()).await,
        Err(AuthError::TokenInvalid)
    ));
    // From now on the login is an ordinary MFA challenge.
    let c = challenge(login(&h, "staff@example.com").await.unwrap());
    assert!(matches!(
        h.auth.mfa().enroll_setup(&c.mfa_token, &meta()).await,
        Err(AuthError::TokenInvalid)
    ));
}

// ------------------------------------------------- password and notices

#[tokio::test]
async fn a_password_reset_does_not_skip_the_second_factor() {
    let h = harness().await;
    mfa_user(&h, "reset@example.com").await;
    h.auth
        .passwords()
        .request_reset("reset@example.com", &meta())
        .await
        .unwrap();
    h.auth.background_idle().await;
    let token = link_token(&h.mailer, "reset@example.com");
    h.auth
        .passwords()
        .confirm_reset(&token, "another long passphrase here", &meta())
        .await
        .unwrap();
    let mail = h.mailer.last_to("reset@example.com").unwrap();
    assert!(mail.subject.contains("password was changed"));
    let outcome = h
        .auth
        .login(
            Credentials::new("reset@example.com", "another long passphrase here"),
            &meta(),
        )
        .await
        .unwrap();
    challenge(outcome);
}

#[tokio::test]
async fn new_devices_are_noticed_but_not_the_first_one() {
    let h = harness().await;
    verified_user(&h, "device@example.com").await;
    let count = || {
        h.mailer
            .messages()
            .iter()
            .filter(|m| m.subject.contains("New sign-in"))
            .count()
    };
    assert_eq!(count(), 0, "the first device is not news");
    login(&h, "device@example.com").await.unwrap();
    let same_network = RequestMeta::new(Some("203.0.113.99".into()), Some("tests/1.0".into()));
    h.auth
        .login(
            Credentials::new("device@example.com", PASSWORD),
            &same_network,
        )
        .await
        .unwrap();
    assert_eq!(count(), 0);
    let elsewhere = RequestMeta::new(
        Some("198.51.100.4".into()),
        Some("Mozilla/5.0 (iPhone) Safari/605".into()),
    );
    h.auth
        .login(Credentials::new("device@example.com", PASSWORD), &elsewhere)
        .await
        .unwrap();
    assert_eq!(count(), 1);
    let mail = h.mailer.last_to("device@example.com").unwrap();
    assert!(mail.text.contains("198.51.100.4"));
}

#[tokio::test]
async fn every_mfa_action_is_audited_without_secrets() {
    let h = harness().await;
    let pair = verified_user(&h, "audit@example.com").await;
    let (uri, backup) = enrol(&h, &pair).await;
    let c = challenge(login(&h, "audit@example.com").await.unwrap());
    h.auth
        .mfa()
        .challenge(&c.mfa_token, MfaMethod::Email, &meta())
        .await
        .unwrap();
    let _ = h
        .auth
        .mfa()
        .verify(&c.mfa_token, MfaMethod::Totp, "000001", &meta())
        .await;
    h.auth
        .mfa()
        .verify(&c.mfa_token, MfaMethod::BackupCode, &backup[0], &meta())
        .await
        .unwrap();
    let p = principal(&h, &pair);
    h.auth
        .mfa()
        .regenerate_backup_codes(&p, &meta())
        .await
        .unwrap();
    h.auth
        .phone()
        .start(&p, "+14155550123", &meta())
        .await
        .unwrap();
    let records = h
        .store
        .audit
        .audit_records(&AuditQuery {
            limit: 500,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    let names: Vec<_> = records.iter().map(|r| r.event.as_str()).collect();
    for expected in [
        "totp_setup_started",
        "mfa_enabled",
        "mfa_challenged",
        "mfa_code_sent",
        "mfa_failed",
        "backup_code_used",
        "mfa_verified",
        "backup_codes_regenerated",
        "phone_verification_sent",
    ] {
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }
    let dump = serde_json::to_string(&records).unwrap();
    assert!(!dump.contains(&c.mfa_token));
    assert!(!dump.contains(&backup[0]));
    let secret = uri
        .split("secret=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    assert!(!dump.contains(secret));
}

#[tokio::test]
async fn totp_secrets_are_encrypted_at_rest() {
    let h = harness().await;
    let pair = verified_user(&h, "rest@example.com").await;
    let p = principal(&h, &pair);
    let setup = h.auth.mfa().totp_setup(&p, &meta()).await.unwrap();
    let raw = base32::decode(base32::Alphabet::Rfc4648 { padding: false }, &setup.secret).unwrap();
    let record = h.store.mfa.totp(p.user_id).await.unwrap().unwrap();
    assert!(
        !record
            .secret
            .windows(raw.len())
            .any(|w| w == raw.as_slice())
    );
    assert!(
        !record
            .secret
            .windows(setup.secret.len())
            .any(|w| w == setup.secret.as_bytes())
    );

    // Another instance with another key cannot use the enrolment.
    let other = Auth::builder(
        AuthConfig::builder()
            .mfa(|m| m.enabled(true).encryption_key(vec![7u8; 32]))
            .build()
            .unwrap(),
        h.store.clone(),
    )
    .clock(h.clock.clone())
    .mailer(h.mailer.clone())
    .build()
    .await
    .unwrap();
    let code = app_code(&setup.otpauth_uri, h.clock.now_utc());
    assert!(matches!(
        other.mfa().totp_enable(&p, &code, &meta()).await,
        Err(AuthError::Internal(_))
    ));
    h.auth.mfa().totp_enable(&p, &code, &meta()).await.unwrap();
}
