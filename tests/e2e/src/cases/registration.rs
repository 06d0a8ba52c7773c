//! Registration and email verification.

use serde_json::json;

use crate::{Factory, Harness, PASSWORD};

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
