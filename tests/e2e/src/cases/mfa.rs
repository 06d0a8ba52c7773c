//! Multi-factor authentication over HTTP: TOTP enrolment and login,
//! backup codes, emailed and texted codes, the enrolment a role demands,
//! the feature switch, and phone verification.

use std::sync::Arc;

use authkit_core::AuthConfig;
use authkit_core::api::ApiConfig;
use authkit_core::email::Email;
use authkit_core::roles::RoleMap;
use authkit_core::store::UserUpdate;
use http::Method;
use serde_json::{Value, json};

use crate::{Factory, Harness, Options, PASSWORD, Reply};

const PHONE: &str = "+14155550177";

/// A server with MFA on.
async fn mfa_server(factory: &Factory) -> Harness {
    Harness::start(factory, mfa_options()).await
}

pub(super) fn mfa_options() -> Options {
    Options {
        auth: AuthConfig {
            mfa: authkit_core::MfaConfig::default().enabled(true),
            ..AuthConfig::default()
        },
        ..Options::default()
    }
}

/// One step of one TOTP period later, so the next code is fresh.
fn next_step(h: &Harness) {
    h.clock.advance(chrono::Duration::seconds(30));
}

/// A well-formed code that is surely not `code` (each digit moved by one).
pub(super) fn other_code(code: &str) -> String {
    code.chars()
        .map(|c| char::from_digit((c.to_digit(10).unwrap() + 1) % 10, 10).unwrap())
        .collect()
}

pub(super) fn access(pair: &Value) -> &str {
    pair["access_token"].as_str().unwrap()
}

/// Sets up and enables TOTP for the signed-in `pair`: the secret and the
/// backup codes.
pub(super) async fn enable_totp(h: &Harness, pair: &Value) -> (String, Vec<String>) {
    let token = access(pair);
    let r = h.call(Method::POST, "/mfa/totp/setup", token, None).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let setup = r.json();
    let secret = setup["secret"].as_str().unwrap().to_owned();
    let r = h
        .call(
            Method::POST,
            "/mfa/totp/enable",
            token,
            Some(json!({"code": h.totp_code(&secret)})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let codes = r.json()["backup_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    (secret, codes)
}

/// Logs in an MFA account: the challenge's `mfa_token`, after checking the
/// answer's shape (no tokens, no cookies).
pub(super) async fn challenged(h: &Harness, email: &str) -> (String, Vec<Value>) {
    challenged_with(h, email, PASSWORD).await
}

/// [`challenged`] with another password.
async fn challenged_with(h: &Harness, email: &str, password: &str) -> (String, Vec<Value>) {
    let r = h
        .post("/token", json!({"email": email, "password": password}))
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert!(r.set_cookies().is_empty());
    let body = r.json();
    assert_eq!(body["mfa_required"], true);
    assert!(body.get("access_token").is_none() && body.get("refresh_token").is_none());
    let methods = body["methods"].as_array().unwrap().clone();
    (body["mfa_token"].as_str().unwrap().to_owned(), methods)
}

async fn verify(h: &Harness, mfa_token: &str, method: &str, code: &str) -> Reply {
    h.post(
        "/mfa/verify",
        json!({"mfa_token": mfa_token, "method": method, "code": code}),
    )
    .await
}

fn assert_signed_in(r: &Reply) -> Value {
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let pair = r.json();
    assert_eq!(pair["token_type"], "Bearer");
    assert!(pair["refresh_token"].is_string() && pair["session_id"].is_string());
    pair
}

pub(super) fn field_error(r: &Reply, field: &str) -> String {
    r.assert_problem(422, "validation_failed");
    let body = r.json();
    let errors = body["errors"].as_array().unwrap();
    errors
        .iter()
        .find(|e| e["field"] == field)
        .unwrap_or_else(|| panic!("no error on {field}: {errors:?}"))["code"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// TOTP setup and enable, then a login answers the challenge; a TOTP code
/// signs in once (replays refused), backup codes work once, a new batch
/// replaces the old, and TOTP can be turned off again.
pub async fn totp_login_with_replay_and_backup_codes(factory: &Factory) {
    let h = mfa_server(factory).await;
    let email = "tess@example.com";
    let pair = h.signed_in(email).await;
    let token = access(&pair);

    // Setup answers the secret, its URI and the QR code.
    let r = h.call(Method::POST, "/mfa/totp/setup", token, None).await;
    assert_eq!(r.status, 200);
    let setup = r.json();
    let secret = setup["secret"].as_str().unwrap();
    let uri = setup["otpauth_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/") && uri.contains(secret));
    assert!(!setup["qr_png_base64"].as_str().unwrap().is_empty());
    assert!(setup["qr_svg"].as_str().unwrap().contains("<svg"));
    // Nothing is on before the enable: a wrong code is refused, and the
    // login still answers tokens.
    h.call(
        Method::POST,
        "/mfa/totp/enable",
        token,
        Some(json!({"code": "000000x"})),
    )
    .await
    .assert_problem(401, "mfa_invalid_code");
    assert!(h.login(email, PASSWORD).await["access_token"].is_string());
    h.call(Method::POST, "/mfa/backup-codes", token, None)
        .await
        .assert_problem(422, "validation_failed");

    let (secret, backup) = enable_totp(&h, &pair).await;
    assert_eq!(backup.len(), 10);
    let me = h.get("/me", token).await.json();
    assert_eq!(me["mfa"]["enabled"], true);
    // Enabled twice: refused.
    let r = h.call(Method::POST, "/mfa/totp/setup", token, None).await;
    assert_eq!(field_error(&r, "totp"), "mfa_already_enabled");

    // The login answers a challenge with the usable methods.
    let (mfa_token, methods) = challenged(&h, email).await;
    assert_eq!(
        methods,
        [json!("totp"), json!("backup_code"), json!("email")],
        "no sms without a verified phone"
    );
    // The code that enabled TOTP is spent: replaying it is refused.
    verify(&h, &mfa_token, "totp", &h.totp_code(&secret))
        .await
        .assert_problem(401, "mfa_invalid_code");
    next_step(&h);
    let code = h.totp_code(&secret);
    let signed_in = assert_signed_in(&verify(&h, &mfa_token, "totp", &code).await);
    assert_eq!(h.get("/me", access(&signed_in)).await.status, 200);
    // The mfa_token is single-use, and the code cannot serve another login.
    verify(&h, &mfa_token, "totp", &code)
        .await
        .assert_problem(401, "token_invalid");
    let (mfa_token, _) = challenged(&h, email).await;
    verify(&h, &mfa_token, "totp", &code)
        .await
        .assert_problem(401, "mfa_invalid_code");

    // A backup code works once, in any case and with its separator.
    let used = backup[0].to_uppercase();
    assert_signed_in(&verify(&h, &mfa_token, "backup_code", &used).await);
    let (mfa_token, _) = challenged(&h, email).await;
    verify(&h, &mfa_token, "backup_code", &backup[0])
        .await
        .assert_problem(401, "mfa_invalid_code");
    // A TOTP code is not a backup code, nor the reverse.
    next_step(&h);
    verify(&h, &mfa_token, "backup_code", &h.totp_code(&secret))
        .await
        .assert_problem(401, "mfa_invalid_code");
    verify(&h, &mfa_token, "totp", &backup[1])
        .await
        .assert_problem(401, "mfa_invalid_code");

    // A new batch replaces the old one.
    let r = h.call(Method::POST, "/mfa/backup-codes", token, None).await;
    assert_eq!(r.status, 200);
    let fresh: Vec<String> = r.json()["backup_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fresh.len(), 10);
    assert!(fresh.iter().all(|c| !backup.contains(c)));
    verify(&h, &mfa_token, "backup_code", &backup[2])
        .await
        .assert_problem(401, "mfa_invalid_code");
    assert_signed_in(&verify(&h, &mfa_token, "backup_code", &fresh[0]).await);

    // Turning TOTP off needs the password or a code.
    let disable = |body: Value| h.call(Method::POST, "/mfa/totp/disable", token, Some(body));
    disable(json!({"password": "not the password"}))
        .await
        .assert_problem(401, "invalid_credentials");
    disable(json!({"code": "123"}))
        .await
        .assert_problem(401, "mfa_invalid_code");
    let r = disable(json!({"code": 123456})).await;
    assert_eq!(field_error(&r, "code"), "invalid_type");
    let r = disable(json!({})).await;
    assert_eq!(field_error(&r, "code"), "required");
    next_step(&h);
    let r = disable(json!({"code": h.totp_code(&secret)})).await;
    assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
    assert!(h.login(email, PASSWORD).await["access_token"].is_string());
    assert_eq!(h.get("/me", token).await.json()["mfa"]["enabled"], false);
    disable(json!({"password": PASSWORD}))
        .await
        .assert_problem(404, "not_found");

    // With the password, on a fresh enrolment.
    let (_, _) = enable_totp(&h, &pair).await;
    let r = disable(json!({"password": PASSWORD})).await;
    assert_eq!(r.status, 204);
}

/// A forced password change of an MFA account: the tokenless
/// `/password/change` answers the MFA challenge and changes nothing; only a
/// successful `/mfa/verify` with that token sets the new password (and
/// revokes the sessions), exactly once. A reset in between makes the
/// pending change stale.
pub async fn forced_password_change_waits_for_the_second_factor(factory: &Factory) {
    const NEW: &str = "a brand new passphrase 🔐";
    let h = Arc::new(mfa_server(factory).await);
    let email = "fay@example.com";
    let pair = h.signed_in(email).await;
    let (secret, _) = enable_totp(&h, &pair).await;
    h.force_password_change(email).await;
    let change = |new: &'static str| {
        h.post(
            "/password/change",
            json!({"email": email, "current_password": PASSWORD, "new_password": new}),
        )
    };
    change("password")
        .await
        .assert_problem(422, "password_too_weak");
    let r = change(NEW).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert!(r.set_cookies().is_empty());
    let body = r.json();
    assert_eq!(body["mfa_required"], true);
    assert!(body.get("access_token").is_none());
    let mfa_token = body["mfa_token"].as_str().unwrap().to_owned();

    // Nothing has changed yet: the session lives, the old password still
    // must change, the new one is unknown.
    let pair = assert_signed_in(
        &h.post(
            "/token/refresh",
            json!({"refresh_token": pair["refresh_token"]}),
        )
        .await,
    );
    h.post("/token", json!({"email": email, "password": PASSWORD}))
        .await
        .assert_problem(403, "password_change_required");
    h.post("/token", json!({"email": email, "password": NEW}))
        .await
        .assert_problem(401, "invalid_credentials");
    // A wrong second factor changes nothing either.
    next_step(&h);
    let code = h.totp_code(&secret);
    verify(&h, &mfa_token, "totp", &other_code(&code))
        .await
        .assert_problem(401, "mfa_invalid_code");
    h.post("/token", json!({"email": email, "password": NEW}))
        .await
        .assert_problem(401, "invalid_credentials");

    // The right one, sent many times at once, applies the change once.
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (h, mfa_token, code) = (h.clone(), mfa_token.clone(), code.clone());
            tokio::spawn(async move { verify(&h, &mfa_token, "totp", &code).await })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    let signed_in: Vec<&Reply> = answers.iter().filter(|r| r.status == 200).collect();
    assert_eq!(signed_in.len(), 1, "{answers:?}");
    for r in answers.iter().filter(|r| r.status != 200) {
        assert_eq!(r.status, 401, "{}", String::from_utf8_lossy(&r.body));
    }
    let fresh = assert_signed_in(signed_in[0]);
    assert_eq!(h.get("/me", access(&fresh)).await.status, 200);
    h.post(
        "/token/refresh",
        json!({"refresh_token": pair["refresh_token"]}),
    )
    .await
    .assert_problem(401, "token_invalid");
    h.post("/token", json!({"email": email, "password": PASSWORD}))
        .await
        .assert_problem(401, "invalid_credentials");
    let (_, _) = challenged_with(&h, email, NEW).await;
    verify(&h, &mfa_token, "totp", &code)
        .await
        .assert_problem(401, "token_invalid");

    // A forced change left pending while the password is reset: the
    // pending change is stale and the reset stands.
    h.force_password_change(email).await;
    let r = h
        .post(
            "/password/change",
            json!({"email": email, "current_password": NEW, "new_password": "yet another passphrase"}),
        )
        .await;
    let mfa_token = r.json()["mfa_token"].as_str().unwrap().to_owned();
    h.post("/password/reset", json!({"email": email})).await;
    h.auth.background_idle().await;
    let reset = h.link_token(email);
    let r = h
        .post(
            "/password/reset/confirm",
            json!({"token": reset, "new_password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
    next_step(&h);
    verify(&h, &mfa_token, "totp", &h.totp_code(&secret))
        .await
        .assert_problem(401, "token_invalid");
    let (_, _) = challenged_with(&h, email, PASSWORD).await;
}

/// Bad `/mfa/verify` and `/mfa/challenge` input: unknown methods are 422,
/// foreign or missing tokens 401; many concurrent uses of one valid code
/// sign in exactly once; spending the failure budget locks the account.
pub async fn mfa_verify_refuses_bad_input_and_races(factory: &Factory) {
    // A budget large enough that the losers of the race below do not lock
    // the account (the budget is checked after the race).
    let mut options = mfa_options();
    options.auth.mfa.max_failures = 100;
    let h = Arc::new(Harness::start(factory, options).await);
    let email = "uma@example.com";
    let pair = h.signed_in(email).await;
    let (secret, _) = enable_totp(&h, &pair).await;
    let (mfa_token, _) = challenged(&h, email).await;

    for method in ["password", "", "TOTP2", "s ms", "ｔｏｔｐ", "🦀"] {
        let r = verify(&h, &mfa_token, method, "123456").await;
        assert_eq!(field_error(&r, "method"), "invalid_choice", "{method}");
        let r = h
            .post(
                "/mfa/challenge",
                json!({"mfa_token": mfa_token, "method": method}),
            )
            .await;
        assert_eq!(field_error(&r, "method"), "invalid_choice", "{method}");
    }
    let r = h
        .post("/mfa/verify", json!({"mfa_token": mfa_token, "method": 1}))
        .await;
    assert_eq!(field_error(&r, "method"), "invalid_type");
    assert_eq!(field_error(&r, "code"), "required");
    // Only email and SMS codes are sent.
    for method in ["totp", "backup_code"] {
        let r = h
            .post(
                "/mfa/challenge",
                json!({"mfa_token": mfa_token, "method": method}),
            )
            .await;
        assert_eq!(field_error(&r, "method"), "mfa_method_unavailable");
    }
    for bad in ["", "nope", &"x".repeat(5000), "ünïcödé"] {
        verify(&h, bad, "totp", "123456")
            .await
            .assert_problem(401, "token_invalid");
    }
    // An access token is not an mfa_token.
    verify(&h, access(&pair), "totp", "123456")
        .await
        .assert_problem(401, "token_invalid");
    for code in [
        "",
        "12345",
        "1234567",
        "abcdef",
        "१२३४५६",
        &"9".repeat(4000),
    ] {
        verify(&h, &mfa_token, "totp", code)
            .await
            .assert_problem(401, "mfa_invalid_code");
    }

    // Sixteen concurrent verifications of one fresh code: one session.
    next_step(&h);
    let code = h.totp_code(&secret);
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (h, mfa_token, code) = (h.clone(), mfa_token.clone(), code.clone());
            tokio::spawn(async move { verify(&h, &mfa_token, "totp", &code).await })
        })
        .collect();
    let mut replies = Vec::new();
    for task in tasks {
        replies.push(task.await.unwrap());
    }
    let ok = replies.iter().filter(|r| r.status == 200).count();
    assert_eq!(
        ok,
        1,
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for r in replies.iter().filter(|r| r.status != 200) {
        let code = r.code();
        assert!(
            code == "mfa_invalid_code" || code == "token_invalid",
            "{code}"
        );
    }

    // A small budget: the third wrong code locks the account, and the
    // right one no longer helps.
    let mut options = mfa_options();
    options.auth.mfa.max_failures = 3;
    let h = Harness::start(factory, options).await;
    let email = "una@example.com";
    let pair = h.signed_in(email).await;
    let (secret, _) = enable_totp(&h, &pair).await;
    let (mfa_token, _) = challenged(&h, email).await;
    let wrong = other_code(&h.totp_code(&secret));
    for _ in 0..3 {
        verify(&h, &mfa_token, "totp", &wrong)
            .await
            .assert_problem(401, "mfa_invalid_code");
    }
    next_step(&h);
    verify(&h, &mfa_token, "totp", &h.totp_code(&secret))
        .await
        .assert_problem(403, "account_locked");
}

/// An emailed code answers the challenge; a texted one once the phone is
/// verified; codes are bound to their login attempt.
pub async fn mfa_codes_by_email_and_sms(factory: &Factory) {
    let h = mfa_server(factory).await;
    let email = "vic@example.com";
    let pair = h.signed_in(email).await;
    enable_totp(&h, &pair).await;

    let (mfa_token, _) = challenged(&h, email).await;
    let r = h
        .post(
            "/mfa/challenge",
            json!({"mfa_token": mfa_token, "method": "email"}),
        )
        .await;
    assert_eq!(r.status, 202);
    assert_eq!(r.json(), json!({"status": "accepted"}));
    let code = h.mail_code(email);
    verify(&h, &mfa_token, "email", &other_code(&code))
        .await
        .assert_problem(401, "mfa_invalid_code");
    // The emailed code is no TOTP code.
    verify(&h, &mfa_token, "totp", &code)
        .await
        .assert_problem(401, "mfa_invalid_code");
    let signed_in = assert_signed_in(&verify(&h, &mfa_token, "email", &code).await);
    assert_eq!(h.get("/me", access(&signed_in)).await.status, 200);
    // A code belongs to its attempt.
    let (other, _) = challenged(&h, email).await;
    verify(&h, &other, "email", &code)
        .await
        .assert_problem(401, "mfa_invalid_code");

    // SMS needs a verified phone.
    let r = h
        .post(
            "/mfa/challenge",
            json!({"mfa_token": other, "method": "sms"}),
        )
        .await;
    assert_eq!(field_error(&r, "method"), "mfa_method_unavailable");
    let token = access(&pair);
    let r = h
        .call(
            Method::POST,
            "/phone/verify/start",
            token,
            Some(json!({"phone": PHONE})),
        )
        .await;
    assert_eq!(r.status, 202);
    let r = h
        .call(
            Method::POST,
            "/phone/verify/confirm",
            token,
            Some(json!({"code": h.sms_code(PHONE)})),
        )
        .await;
    assert_eq!(r.status, 200);

    let (mfa_token, methods) = challenged(&h, email).await;
    assert!(methods.contains(&json!("sms")), "{methods:?}");
    let before = h.sms.count();
    let r = h
        .post(
            "/mfa/challenge",
            json!({"mfa_token": mfa_token, "method": "SMS"}),
        )
        .await;
    assert_eq!(r.status, 202);
    assert_eq!(h.sms.count(), before + 1);
    let code = h.sms_code(PHONE);
    verify(&h, &mfa_token, "email", &code)
        .await
        .assert_problem(401, "mfa_invalid_code");
    assert_signed_in(&verify(&h, &mfa_token, "sms", &code).await);
    // Spent with its attempt.
    h.post(
        "/mfa/challenge",
        json!({"mfa_token": mfa_token, "method": "sms"}),
    )
    .await
    .assert_problem(401, "token_invalid");
}

/// A role that requires MFA turns a login without it into an enrolment:
/// setup and enable with the `mfa_token`, which signs in.
pub async fn mfa_enrollment_demanded_by_a_role(factory: &Factory) {
    let mut options = mfa_options();
    options.auth.mfa.required_roles = vec!["STAFF".into()];
    options.roles = RoleMap::default().with_role("STAFF", ["member.view"]);
    let h = Harness::start(factory, options).await;
    let email = "wes@example.com";
    h.verified_user(email).await;
    let users = &h.auth.store().users;
    let mut user = users
        .user_by_email(&Email::parse(email).unwrap())
        .await
        .unwrap()
        .unwrap();
    user.roles.push("STAFF".into());
    users
        .update_user(user.id, &UserUpdate::Roles(user.roles), chrono::Utc::now())
        .await
        .unwrap();

    let r = h
        .post("/token", json!({"email": email, "password": PASSWORD}))
        .await;
    assert_eq!(r.status, 200);
    let body = r.json();
    assert_eq!(body["mfa_enrollment_required"], true);
    assert!(body.get("access_token").is_none() && body.get("mfa_required").is_none());
    let mfa_token = body["mfa_token"].as_str().unwrap();

    // The enrolment token is no login challenge, and the reverse.
    verify(&h, mfa_token, "totp", "123456")
        .await
        .assert_problem(401, "token_invalid");
    h.post(
        "/mfa/enroll/totp/enable",
        json!({"mfa_token": mfa_token, "code": "123456"}),
    )
    .await
    .assert_problem(422, "validation_failed");
    let r = h
        .post("/mfa/enroll/totp/setup", json!({"mfa_token": mfa_token}))
        .await;
    assert_eq!(r.status, 200);
    let secret = r.json()["secret"].as_str().unwrap().to_owned();
    h.post(
        "/mfa/enroll/totp/enable",
        json!({"mfa_token": mfa_token, "code": "000000x"}),
    )
    .await
    .assert_problem(401, "mfa_invalid_code");
    h.post(
        "/mfa/enroll/totp/enable",
        json!({"mfa_token": "forged", "code": h.totp_code(&secret)}),
    )
    .await
    .assert_problem(401, "token_invalid");
    let r = h
        .post(
            "/mfa/enroll/totp/enable",
            json!({"mfa_token": mfa_token, "code": h.totp_code(&secret)}),
        )
        .await;
    let pair = assert_signed_in(&r);
    assert_eq!(pair["backup_codes"].as_array().unwrap().len(), 10);
    let me = h.get("/me", access(&pair)).await.json();
    assert_eq!(me["mfa"]["enabled"], true);
    h.post("/mfa/enroll/totp/setup", json!({"mfa_token": mfa_token}))
        .await
        .assert_problem(401, "token_invalid");

    // From now on the login asks for the second factor.
    let (mfa_token, _) = challenged(&h, email).await;
    h.post("/mfa/enroll/totp/setup", json!({"mfa_token": mfa_token}))
        .await
        .assert_problem(401, "token_invalid");
    next_step(&h);
    assert_signed_in(&verify(&h, &mfa_token, "totp", &h.totp_code(&secret)).await);
}

/// In cookie mode the second step sets the cookies, like a login, and its
/// body carries no token.
pub async fn mfa_verify_sets_cookies_in_cookie_mode(factory: &Factory) {
    let mut options = mfa_options();
    options.api = ApiConfig {
        cookie_mode: true,
        csrf_allowed_origins: vec!["https://app.example.com".into()],
        ..ApiConfig::default()
    };
    let h = Harness::start(factory, options).await;
    let email = "xia@example.com";
    h.verified_user(email).await;
    let login = h
        .post("/token", json!({"email": email, "password": PASSWORD}))
        .await;
    assert_eq!(login.status, 200);
    assert!(login.json().get("access_token").is_none());
    // The access token travels in its cookie only; take it from there.
    let access = login
        .set_cookies()
        .iter()
        .find_map(|c| c.strip_prefix("__Host-authkit_access="))
        .and_then(|rest| rest.split(';').next())
        .unwrap()
        .to_owned();
    let (secret, _) = enable_totp(&h, &json!({ "access_token": access })).await;
    let (mfa_token, _) = challenged(&h, email).await;
    next_step(&h);
    let r = verify(&h, &mfa_token, "totp", &h.totp_code(&secret)).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let body = r.json();
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["session_id"].is_string());
    assert!(
        body.get("refresh_token").is_none() && body.get("access_token").is_none(),
        "{body}"
    );
    let cookies = r.set_cookies();
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("__Host-authkit_access="))
            && cookies
                .iter()
                .any(|c| c.starts_with("__Host-authkit_refresh=")),
        "{cookies:?}"
    );
}

/// With MFA off every MFA route answers 404 `feature_disabled`, whatever
/// the request; logins never ask for a second factor.
pub async fn mfa_disabled_is_a_disabled_feature(factory: &Factory) {
    let h = Harness::default(factory).await;
    let pair = h.signed_in("yan@example.com").await;
    let token = access(&pair);
    for path in [
        "/mfa/challenge",
        "/mfa/verify",
        "/mfa/totp/setup",
        "/mfa/totp/enable",
        "/mfa/totp/disable",
        "/mfa/backup-codes",
        "/mfa/enroll/totp/setup",
        "/mfa/enroll/totp/enable",
    ] {
        h.call(Method::POST, path, token, None)
            .await
            .assert_problem(404, "feature_disabled");
        h.post(
            path,
            json!({"mfa_token": "x", "method": "totp", "code": "1"}),
        )
        .await
        .assert_problem(404, "feature_disabled");
        h.send(Method::POST, path, &[("content-type", "text/plain")], "{")
            .await
            .assert_problem(404, "feature_disabled");
        let r = h.send(Method::GET, path, &[], "").await;
        r.assert_problem(405, "method_not_allowed");
        assert_eq!(r.header("allow"), Some("POST"));
    }
    let me = h.get("/me", token).await.json();
    assert_eq!(me["mfa"]["enabled"], false);
}

/// Phone verification by SMS: start texts a code, confirm proves the
/// number; wrong, stale and foreign codes are refused.
pub async fn phone_verification_by_sms(factory: &Factory) {
    let h = Harness::default(factory).await;
    let pair = h.signed_in("zed@example.com").await;
    let token = access(&pair);
    let start = |phone: Value| {
        h.call(
            Method::POST,
            "/phone/verify/start",
            token,
            Some(json!({"phone": phone})),
        )
    };
    let confirm = |code: &str| {
        h.call(
            Method::POST,
            "/phone/verify/confirm",
            token,
            Some(json!({"code": code})),
        )
    };

    h.post("/phone/verify/start", json!({"phone": PHONE}))
        .await
        .assert_problem(401, "token_invalid");
    for bad in [
        json!("call me"),
        json!(""),
        json!("+1 ☎"),
        json!("+".repeat(300)),
    ] {
        let r = start(bad.clone()).await;
        r.assert_problem(422, "validation_failed");
    }
    let r = start(json!(12)).await;
    assert_eq!(field_error(&r, "phone"), "invalid_type");
    assert_eq!(h.sms.count(), 0);

    let r = start(json!(PHONE)).await;
    assert_eq!(r.status, 202);
    assert_eq!(r.json(), json!({"status": "accepted"}));
    let me = h.get("/me", token).await.json();
    assert_eq!(me["phone"], PHONE);
    assert_eq!(me["phone_verified"], false);
    let first = h.sms_code(PHONE);
    // A new code supersedes the first.
    assert_eq!(start(json!(PHONE)).await.status, 202);
    assert_eq!(h.sms.count(), 2);
    let code = h.sms_code(PHONE);
    if first != code {
        confirm(&first)
            .await
            .assert_problem(401, "mfa_invalid_code");
    }
    for wrong in ["", "abcdef", &"1".repeat(100), "１２３４５６"] {
        confirm(wrong).await.assert_problem(401, "mfa_invalid_code");
    }
    let r = confirm(&code).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let user = &r.json()["user"];
    assert_eq!(user["phone"], PHONE);
    assert_eq!(user["phone_verified"], true);
    confirm(&code).await.assert_problem(401, "mfa_invalid_code");

    // A code sent to a number the account no longer has is refused.
    let other = "+14155550188";
    assert_eq!(start(json!(other)).await.status, 202);
    let stale = h.sms_code(other);
    assert_eq!(start(json!(PHONE)).await.status, 202);
    let me = h.get("/me", token).await.json();
    assert_eq!(me["phone_verified"], false);
    let current = h.sms_code(PHONE);
    if stale != current {
        confirm(&stale)
            .await
            .assert_problem(401, "mfa_invalid_code");
    }
    assert_eq!(confirm(&current).await.status, 200);
}
