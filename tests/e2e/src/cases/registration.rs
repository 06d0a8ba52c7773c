//! Registration and email verification.

use std::sync::Arc;

use authkit_core::AuthConfig;
use authkit_core::email::Email;
use authkit_core::rate_limit::{GovernorLimiter, RateAction, RateLimits};
use serde_json::json;

use super::mfa::other_code;
use crate::{Factory, Harness, Options, PASSWORD, Reply};

/// Register → 201, duplicate → 409, weak → 422, unverified login → 403,
/// link → 200 once, then login works.
pub async fn registration_verified_by_link(factory: &Factory) {
    let h = Harness::default(factory).await;
    let r = h
        .post(
            "/register",
            json!({"email": "Ada@Example.com", "password": PASSWORD, "display_name": "Ada 🚀", "phone": null, "unknown": 1}),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let body = r.json();
    assert_eq!(body["verification_sent"], true);
    let user = &body["user"];
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["email_verified"], false);
    assert_eq!(user["display_name"], "Ada 🚀");
    assert!(user["id"].as_str().unwrap().parse::<uuid::Uuid>().is_ok());
    assert!(user.get("password_hash").is_none());
    assert_eq!(h.mailer.count(), 1, "one verification mail");

    h.post(
        "/register",
        json!({"email": "ada@example.com", "password": PASSWORD}),
    )
    .await
    .assert_problem(409, "email_taken");
    let r = h
        .post(
            "/register",
            json!({"email": "bob@example.com", "password": "password"}),
        )
        .await;
    r.assert_problem(422, "password_too_weak");
    let errors = r.json()["errors"].as_array().unwrap().clone();
    assert!(
        errors
            .iter()
            .all(|e| e["field"] == "password" && e["code"].is_string() && e["message"].is_string())
    );
    let r = h
        .post(
            "/register",
            json!({"email": "not an email", "password": PASSWORD}),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.json()["errors"][0]["field"], "email");

    h.post(
        "/token",
        json!({"email": "ada@example.com", "password": PASSWORD}),
    )
    .await
    .assert_problem(403, "email_not_verified");

    let token = h.link_token("ada@example.com");
    let r = h.post("/email/verify", json!({"token": token})).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["user"]["email_verified"], true);
    h.post("/email/verify", json!({"token": token}))
        .await
        .assert_problem(401, "token_invalid");
    h.post("/email/verify", json!({"token": "x".repeat(5000)}))
        .await
        .assert_problem(401, "token_invalid");

    let pair = h.login("ada@example.com", PASSWORD).await;
    assert_eq!(pair["token_type"], "Bearer");
    assert!(pair["access_token"].as_str().unwrap().split('.').count() == 3);
    assert!(pair["refresh_token"].as_str().unwrap().len() >= 43);
    assert!(pair["expires_in"].as_i64().unwrap() > 0);
    assert!(
        pair["session_id"]
            .as_str()
            .unwrap()
            .parse::<uuid::Uuid>()
            .is_ok()
    );
}

/// `{email, code}` verifies; resend answers 202 byte-identically for
/// known and unknown addresses.
pub async fn verification_by_code_and_resend(factory: &Factory) {
    let h = Harness::default(factory).await;
    let r = h
        .post(
            "/register",
            json!({"email": "cy@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 201);

    let known = h
        .post("/email/verify/resend", json!({"email": "cy@example.com"}))
        .await;
    let unknown = h
        .post(
            "/email/verify/resend",
            json!({"email": "nobody@example.com"}),
        )
        .await;
    let garbage = h
        .post("/email/verify/resend", json!({"email": "ünïcödé"}))
        .await;
    for r in [&known, &unknown, &garbage] {
        assert_eq!(r.status, 202);
        assert_eq!(r.body, known.body, "no account disclosure");
        assert_eq!(r.header("content-type"), known.header("content-type"));
    }
    // The mail goes out after the answer.
    h.auth.background_idle().await;
    assert_eq!(
        h.mailer.count(),
        2,
        "the resend went to the real account only"
    );

    let code = h.mail_code("cy@example.com");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    h.post(
        "/email/verify",
        json!({"email": "cy@example.com", "code": wrong}),
    )
    .await
    .assert_problem(401, "mfa_invalid_code");
    h.post(
        "/email/verify",
        json!({"email": "nobody@example.com", "code": code}),
    )
    .await
    .assert_problem(401, "mfa_invalid_code");
    let r = h
        .post(
            "/email/verify",
            json!({"email": "cy@example.com", "code": code}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["user"]["email_verified"], true);
    let r = h
        .post("/email/verify", json!({"email": "cy@example.com"}))
        .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.json()["errors"][0]["field"], "code");
}

/// register/start → 202 and a mailed code; confirm → 201 verified.
pub async fn registration_confirmed_by_code(factory: &Factory) {
    let h = Harness::default(factory).await;
    let r = h
        .post(
            "/register/start",
            json!({"email": "dee@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 202);
    let body = r.json();
    let challenge = body["challenge_id"].as_str().unwrap().to_owned();
    assert!(body["expires_in"].as_i64().unwrap() > 0);
    let code = h.mail_code("dee@example.com");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    h.post(
        "/register/confirm",
        json!({"challenge_id": challenge, "code": wrong}),
    )
    .await
    .assert_problem(401, "mfa_invalid_code");
    h.post(
        "/register/confirm",
        json!({"challenge_id": "forged", "code": code}),
    )
    .await
    .assert_problem(401, "token_invalid");
    let r = h
        .post(
            "/register/confirm",
            json!({"challenge_id": challenge, "code": code}),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["user"]["email"], "dee@example.com");
    assert_eq!(r.json()["user"]["email_verified"], true);
    h.post(
        "/register/confirm",
        json!({"challenge_id": challenge, "code": code}),
    )
    .await
    .assert_problem(401, "token_invalid");
    h.post(
        "/register/start",
        json!({"email": "dee@example.com", "password": "123"}),
    )
    .await
    .assert_problem(422, "password_too_weak");
}

/// Registration codes for one address share one budget across every
/// challenge (each start and each check spends one, a new code refills
/// nothing); once it is spent, both routes answer 429 with `Retry-After`
/// for that address, even with the right code, and for an address with
/// or without an account alike. Parallel guesses spend it exactly.
pub async fn registration_codes_share_one_budget_per_email(factory: &Factory) {
    let budget = RateLimits::default()
        .get(RateAction::RegisterCodePerEmail)
        .unwrap();
    assert_eq!(budget.burst, 10);
    let mut limits = RateLimits::disabled();
    limits
        .set(RateAction::RegisterCodePerEmail, budget)
        .unwrap();
    let options = Options {
        limiter: Arc::new(GovernorLimiter::new(limits)),
        auth: AuthConfig {
            // The most a code allows: none below dies of its attempts, so
            // only the address's budget stops the guesses.
            code_max_attempts: 10,
            ..AuthConfig::default()
        },
        ..Options::default()
    };
    let h = Arc::new(Harness::start(factory, options).await);
    let start = |email: &'static str| {
        h.post(
            "/register/start",
            json!({"email": email, "password": PASSWORD}),
        )
    };
    let confirm = |challenge: &str, code: &str| {
        h.post(
            "/register/confirm",
            json!({"challenge_id": challenge, "code": code}),
        )
    };
    let challenge_of = |r: &Reply| {
        assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
        r.json()["challenge_id"].as_str().unwrap().to_owned()
    };
    let victim = "victim@example.com";

    // Challenge A and three wrong codes; challenge B (a new code) and
    // four more; challenge C: ten spent.
    let a = challenge_of(&start(victim).await);
    let code_a = h.mail_code(victim);
    for _ in 0..3 {
        confirm(&a, &other_code(&code_a))
            .await
            .assert_problem(401, "mfa_invalid_code");
    }
    let b = challenge_of(&start(victim).await);
    let code_b = h.mail_code(victim);
    for _ in 0..4 {
        confirm(&b, &other_code(&code_b))
            .await
            .assert_problem(401, "mfa_invalid_code");
    }
    let c = challenge_of(&start(victim).await);
    let code_c = h.mail_code(victim);

    // Spent: the right codes and a new start are throttled.
    for (challenge, code) in [(&a, &code_a), (&b, &code_b), (&c, &code_c)] {
        let r = confirm(challenge, code).await;
        r.assert_problem(429, "rate_limited");
        let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=15 * 60).contains(&retry), "{retry}");
    }
    let r = start(victim).await;
    r.assert_problem(429, "rate_limited");
    assert!(r.header("retry-after").is_some());
    // Same for the address in another case: it is normalized first.
    start("VICTIM@example.com")
        .await
        .assert_problem(429, "rate_limited");
    // No account was created.
    assert!(
        h.auth
            .store()
            .users
            .user_by_email(&Email::parse(victim).unwrap())
            .await
            .unwrap()
            .is_none()
    );

    // Other addresses keep their own budget; one with an account answers
    // like one without.
    h.verified_user("taken@example.com").await;
    let taken = start("taken@example.com").await;
    let free = start("free@example.com").await;
    assert_eq!((taken.status, free.status), (202, 202));
    let keys = |r: &Reply| {
        let mut keys: Vec<String> = r.json().as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    };
    assert_eq!(keys(&taken), keys(&free));

    // Sixteen parallel wrong guesses over two fresh challenges of one
    // address: exactly the remaining budget (10 - 2 starts) gets checked.
    let d = challenge_of(&start("racer@example.com").await);
    let e = challenge_of(&start("racer@example.com").await);
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let h = h.clone();
            let challenge = if i % 2 == 0 { d.clone() } else { e.clone() };
            tokio::spawn(async move {
                h.post(
                    "/register/confirm",
                    json!({"challenge_id": challenge, "code": "not-a-code"}),
                )
                .await
            })
        })
        .collect();
    let mut throttled = 0;
    for task in tasks {
        let r = task.await.unwrap();
        match r.status {
            429 => throttled += 1,
            _ => r.assert_problem(401, "mfa_invalid_code"),
        }
    }
    assert_eq!(throttled, 8);
}
