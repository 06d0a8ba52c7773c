//! Password reset and change, profile, sessions, deactivation,
//! introspection and lookup.

use authkit_core::api::ApiConfig;
use authkit_core::email::{Email, Phone};
use authkit_core::store::{LockoutPolicy, UserUpdate};
use authkit_core::{AuthConfig, NewAdmin};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::Method;
use serde_json::json;

use crate::{
    Factory, Harness, INTROSPECTION_BASIC, INTROSPECTION_CLIENT_ID, INTROSPECTION_CLIENT_SECRET,
    Options, PASSWORD, Reply,
};

const NEW_PASSWORD: &str = "a brand new passphrase 🔐";

/// Reset: 202 byte-identical for everyone; the link sets a new password
/// once and kills every session.
pub async fn password_reset(factory: &Factory) {
    let h = Harness::default(factory).await;
    let pair = h.signed_in("jo@example.com").await;
    let known = h
        .post("/password/reset", json!({"email": "JO@example.com"}))
        .await;
    let unknown = h
        .post("/password/reset", json!({"email": "nobody@example.com"}))
        .await;
    let invalid = h.post("/password/reset", json!({"email": "@@"})).await;
    for r in [&known, &unknown, &invalid] {
        assert_eq!(r.status, 202);
        assert_eq!(r.body, known.body, "no account disclosure");
    }
    // The link is mailed after the answer.
    h.auth.background_idle().await;
    let token = h.link_token("jo@example.com");
    h.post(
        "/password/reset/confirm",
        json!({"token": token, "new_password": "short"}),
    )
    .await
    .assert_problem(422, "password_too_weak");
    h.post(
        "/password/reset/confirm",
        json!({"token": "forged", "new_password": NEW_PASSWORD}),
    )
    .await
    .assert_problem(401, "token_invalid");
    let r = h
        .post(
            "/password/reset/confirm",
            json!({"token": token, "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 204);
    assert!(r.body.is_empty());
    h.post(
        "/password/reset/confirm",
        json!({"token": token, "new_password": NEW_PASSWORD}),
    )
    .await
    .assert_problem(401, "token_invalid");
    h.post(
        "/token/refresh",
        json!({"refresh_token": pair["refresh_token"]}),
    )
    .await
    .assert_problem(401, "token_invalid");
    h.post(
        "/token",
        json!({"email": "jo@example.com", "password": PASSWORD}),
    )
    .await
    .assert_problem(401, "invalid_credentials");
    h.login("jo@example.com", NEW_PASSWORD).await;
}

/// With a token: wrong current password 401, weak 422, then 204 and the
/// other sessions die while this one lives.
pub async fn password_change_with_a_token(factory: &Factory) {
    let h = Harness::default(factory).await;
    let pair = h.signed_in("kim@example.com").await;
    let other = h.login("kim@example.com", PASSWORD).await;
    let access = pair["access_token"].as_str().unwrap();
    h.call(
        Method::POST,
        "/password/change",
        access,
        Some(json!({"current_password": "nope nope", "new_password": NEW_PASSWORD})),
    )
    .await
    .assert_problem(401, "invalid_credentials");
    h.call(
        Method::POST,
        "/password/change",
        access,
        Some(json!({"current_password": PASSWORD, "new_password": "12345678"})),
    )
    .await
    .assert_problem(422, "password_too_weak");
    let r = h
        .call(
            Method::POST,
            "/password/change",
            access,
            Some(json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD})),
        )
        .await;
    assert_eq!(r.status, 204);
    h.post(
        "/token/refresh",
        json!({"refresh_token": other["refresh_token"]}),
    )
    .await
    .assert_problem(401, "token_invalid");
    let r = h
        .post(
            "/token/refresh",
            json!({"refresh_token": pair["refresh_token"]}),
        )
        .await;
    assert_eq!(r.status, 200, "the current session survives");
    // No token and no email: unauthenticated.
    let r = h
        .post(
            "/password/change",
            json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
        )
        .await;
    r.assert_problem(401, "token_invalid");
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
}

/// An account that must change its password cannot log in, but can set a
/// new one without a token and is signed in; its older sessions end.
pub async fn forced_password_change_without_a_token(factory: &Factory) {
    let h = Harness::default(factory).await;
    let before = h.signed_in("lee@example.com").await;
    h.force_password_change("lee@example.com").await;

    h.post(
        "/token",
        json!({"email": "lee@example.com", "password": PASSWORD}),
    )
    .await
    .assert_problem(403, "password_change_required");
    h.post("/password/change", json!({"email": "lee@example.com", "current_password": "wrong one", "new_password": NEW_PASSWORD}))
        .await
        .assert_problem(401, "invalid_credentials");
    h.post("/password/change", json!({"email": "lee@example.com", "current_password": PASSWORD, "new_password": "password"}))
        .await
        .assert_problem(422, "password_too_weak");
    let r = h
        .post("/password/change", json!({"email": "lee@example.com", "current_password": PASSWORD, "new_password": NEW_PASSWORD}))
        .await;
    assert_eq!(r.status, 200);
    let access = r.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(h.get("/me", &access).await.status, 200);
    h.login("lee@example.com", NEW_PASSWORD).await;
    h.post(
        "/token/refresh",
        json!({"refresh_token": before["refresh_token"]}),
    )
    .await
    .assert_problem(401, "token_invalid");
    // Done once: the account is an ordinary one again.
    h.post("/password/change", json!({"email": "lee@example.com", "current_password": NEW_PASSWORD, "new_password": PASSWORD}))
        .await
        .assert_problem(401, "invalid_credentials");
}

/// Without a token, `/password/change` is only for a forced change: the
/// right password of any other account answers exactly like a wrong one
/// and changes nothing (no new password, no revoked session, no cleared
/// failure count, no policy verdict).
pub async fn tokenless_password_change_is_only_for_a_forced_change(factory: &Factory) {
    let auth = AuthConfig::builder()
        .lockout(LockoutPolicy {
            max_failures: 3,
            window: chrono::Duration::minutes(15),
            lock_for: chrono::Duration::minutes(15),
        })
        .build()
        .unwrap();
    let h = Harness::start(
        factory,
        Options {
            auth,
            ..Options::default()
        },
    )
    .await;
    let pair = h.signed_in("ray@example.com").await;
    let change = |current: &'static str, new: &'static str| {
        h.post(
            "/password/change",
            json!({"email": "ray@example.com", "current_password": current, "new_password": new}),
        )
    };
    // One failure on the count.
    let wrong = change("not the password", NEW_PASSWORD).await;
    wrong.assert_problem(401, "invalid_credentials");
    let right = change(PASSWORD, NEW_PASSWORD).await;
    right.assert_problem(401, "invalid_credentials");
    assert_eq!(right.body, wrong.body, "a right password looks wrong");
    let weak = change(PASSWORD, "password").await;
    weak.assert_problem(401, "invalid_credentials");
    assert_eq!(weak.body, wrong.body, "no policy verdict either");
    let unknown = h
        .post("/password/change", json!({"email": "nobody@example.com", "current_password": PASSWORD, "new_password": NEW_PASSWORD}))
        .await;
    assert_eq!(unknown.body, wrong.body);

    // Nothing changed: the session lives, the old password signs in and
    // the new one does not.
    let r = h
        .post(
            "/token/refresh",
            json!({"refresh_token": pair["refresh_token"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    h.post(
        "/token",
        json!({"email": "ray@example.com", "password": NEW_PASSWORD}),
    )
    .await
    .assert_problem(401, "invalid_credentials");
    // The right passwords above did not clear the failures: with the
    // wrong change and the wrong login, a third failure locks.
    change("wrong once more", NEW_PASSWORD)
        .await
        .assert_problem(401, "invalid_credentials");
    h.post(
        "/token",
        json!({"email": "ray@example.com", "password": PASSWORD}),
    )
    .await
    .assert_problem(403, "account_locked");
    h.clock.advance(chrono::Duration::minutes(16));
    h.login("ray@example.com", PASSWORD).await;
}

/// GET/PATCH /me, export, and the paginated audit log.
pub async fn me_profile_export_and_audit(factory: &Factory) {
    let h = Harness::default(factory).await;
    let pair = h.signed_in("max@example.com").await;
    let access = pair["access_token"].as_str().unwrap();

    let me = h.get("/me", access).await.json();
    for field in [
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
        assert!(me.get(field).is_some(), "/me lacks {field}");
    }
    assert_eq!(me["email"], "max@example.com");
    assert_eq!(me["mfa"]["enabled"], false);

    let r = h
        .call(Method::PATCH, "/me", access, Some(json!({"display_name": "Max 🧪", "avatar_url": "https://example.com/a.png", "phone": "+14155550100"})))
        .await;
    assert_eq!(r.status, 200);
    let user = &r.json()["user"];
    assert_eq!(user["display_name"], "Max 🧪");
    assert_eq!(user["phone"], "+14155550100");
    let r = h
        .call(
            Method::PATCH,
            "/me",
            access,
            Some(json!({"display_name": null})),
        )
        .await;
    assert_eq!(r.json()["user"]["display_name"], json!(null));
    assert_eq!(
        r.json()["user"]["avatar_url"],
        "https://example.com/a.png",
        "absent stays"
    );
    let r = h
        .call(
            Method::PATCH,
            "/me",
            access,
            Some(json!({"avatar_url": "javascript:alert(1)", "phone": "nope"})),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    let fields: Vec<_> = r.json()["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].clone())
        .collect();
    assert_eq!(fields, [json!("avatar_url"), json!("phone")]);
    let r = h
        .call(
            Method::PATCH,
            "/me",
            access,
            Some(json!({"display_name": 42})),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(
        r.json()["errors"][0],
        json!({"field": "display_name", "code": "invalid_type", "message": "Expected a string."})
    );

    let export = h.get("/me/export", access).await;
    assert_eq!(export.status, 200);
    let export = export.json();
    assert_eq!(export["profile"]["email"], "max@example.com");
    assert_eq!(export["sessions"].as_array().unwrap().len(), 1);
    assert!(!export["audit_events"].as_array().unwrap().is_empty());

    assert_eq!(export["memberships"], json!([]));

    let all = h.get("/me/audit", access).await.json();
    let events = all["items"].as_array().unwrap().clone();
    assert!(events.len() >= 4, "register, verify, login, profile...");
    assert_eq!(
        (all["page"].clone(), all["per_page"].clone()),
        (json!(1), json!(50))
    );
    assert_eq!(all["next_page"], json!(null));
    let first = h.get("/me/audit?page=1&per_page=2", access).await.json();
    assert_eq!(first["items"].as_array().unwrap()[..], events[..2]);
    assert_eq!(first["next_page"], 2);
    let second = h.get("/me/audit?page=2&per_page=2", access).await.json();
    assert_eq!(second["items"].as_array().unwrap()[..], events[2..4]);
    for bad in ["page=0", "per_page=1000", "per_page=x", "page=-1"] {
        h.get(&format!("/me/audit?{bad}"), access)
            .await
            .assert_problem(422, "validation_failed");
    }
}

/// List sessions, revoke one, logout, logout-all.
pub async fn sessions_and_logout(factory: &Factory) {
    let h = Harness::default(factory).await;
    let a = h.signed_in("ned@example.com").await;
    let b = h.login("ned@example.com", PASSWORD).await;
    let c = h.login("ned@example.com", PASSWORD).await;
    let access = a["access_token"].as_str().unwrap();
    let sessions = h.get("/sessions", access).await.json();
    let sessions = sessions.as_array().unwrap();
    assert_eq!(sessions.len(), 3);
    let current: Vec<_> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["id"], a["session_id"]);
    for s in sessions {
        for field in [
            "id",
            "created_at",
            "last_seen_at",
            "ip",
            "user_agent",
            "current",
        ] {
            assert!(s.get(field).is_some(), "session lacks {field}");
        }
    }

    let path = format!("/sessions/{}", b["session_id"].as_str().unwrap());
    assert_eq!(
        h.call(Method::DELETE, &path, access, None).await.status,
        204
    );
    h.call(Method::DELETE, &path, access, None)
        .await
        .assert_problem(404, "not_found");
    h.call(Method::DELETE, "/sessions/not-a-uuid", access, None)
        .await
        .assert_problem(404, "not_found");
    h.call(
        Method::DELETE,
        &format!("/sessions/{}", uuid::Uuid::now_v7()),
        access,
        None,
    )
    .await
    .assert_problem(404, "not_found");
    h.post(
        "/token/refresh",
        json!({"refresh_token": b["refresh_token"]}),
    )
    .await
    .assert_problem(401, "token_invalid");

    // Logout by refresh token of another of my sessions, then my own.
    let r = h
        .call(
            Method::POST,
            "/logout",
            access,
            Some(json!({"refresh_token": c["refresh_token"]})),
        )
        .await;
    assert_eq!(r.status, 204);
    h.post(
        "/token/refresh",
        json!({"refresh_token": c["refresh_token"]}),
    )
    .await
    .assert_problem(401, "token_invalid");
    h.call(
        Method::POST,
        "/logout",
        access,
        Some(json!({"refresh_token": "not mine"})),
    )
    .await
    .assert_problem(401, "token_invalid");
    assert_eq!(
        h.call(Method::POST, "/logout", access, None).await.status,
        204
    );
    h.post(
        "/token/refresh",
        json!({"refresh_token": a["refresh_token"]}),
    )
    .await
    .assert_problem(401, "token_invalid");

    let d = h.login("ned@example.com", PASSWORD).await;
    let e = h.login("ned@example.com", PASSWORD).await;
    let r = h
        .call(
            Method::POST,
            "/logout-all",
            d["access_token"].as_str().unwrap(),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    for pair in [d, e] {
        h.post(
            "/token/refresh",
            json!({"refresh_token": pair["refresh_token"]}),
        )
        .await
        .assert_problem(401, "token_invalid");
    }
}

/// Deactivation needs the password, revokes everything, blocks login.
pub async fn deactivation(factory: &Factory) {
    let h = Harness::default(factory).await;
    let pair = h.signed_in("oz@example.com").await;
    let access = pair["access_token"].as_str().unwrap();
    h.call(
        Method::POST,
        "/me/deactivate",
        access,
        Some(json!({"password": "not it at all"})),
    )
    .await
    .assert_problem(401, "invalid_credentials");
    h.call(Method::POST, "/me/deactivate", access, Some(json!({})))
        .await
        .assert_problem(422, "validation_failed");
    let r = h
        .call(
            Method::POST,
            "/me/deactivate",
            access,
            Some(json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(r.status, 204);
    let r = h.introspect(access).await;
    assert_eq!(r.json(), json!({"active": false}));
    h.post(
        "/token/refresh",
        json!({"refresh_token": pair["refresh_token"]}),
    )
    .await
    .assert_problem(401, "token_invalid");
    h.post(
        "/token",
        json!({"email": "oz@example.com", "password": PASSWORD}),
    )
    .await
    .assert_problem(403, "account_inactive");
}

/// RFC 7662 introspection; masked email lookup by verified phone.
pub async fn introspection_and_lookup(factory: &Factory) {
    let h = Harness::default(factory).await;
    let pair = h.signed_in("pia@example.com").await;
    let access = pair["access_token"].as_str().unwrap();
    let r = h.introspect(access).await;
    assert_eq!(r.status, 200);
    let body = r.json();
    assert_eq!(body["active"], true);
    assert_eq!(body["sid"], pair["session_id"]);
    assert_eq!(body["token_type"], "Bearer");
    for field in ["sub", "exp", "iat", "iss", "aud", "jti", "scope", "roles"] {
        assert!(body.get(field).is_some(), "introspection lacks {field}");
    }
    h.send(
        Method::POST,
        "/token/introspect",
        &[
            ("authorization", INTROSPECTION_BASIC),
            ("content-type", "application/json"),
        ],
        json!({"token": 5}).to_string(),
    )
    .await
    .assert_problem(422, "validation_failed");

    let r = h
        .post("/email/lookup", json!({"phone": "+14155550123"}))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"emails": []}));
    let users = &h.auth.store().users;
    let user = users
        .user_by_email(&Email::parse("pia@example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    let phone = Phone::parse("+14155550123").unwrap();
    let now = chrono::Utc::now();
    let set_phone = UserUpdate::Profile {
        display_name: None,
        avatar_url: None,
        phone: Some(Some(phone.clone())),
    };
    users.update_user(user.id, &set_phone, now).await.unwrap();
    users
        .update_user(user.id, &UserUpdate::PhoneVerified(phone), now)
        .await
        .unwrap();
    let r = h
        .post("/email/lookup", json!({"phone": "+14155550123"}))
        .await;
    let emails = r.json()["emails"].as_array().unwrap().clone();
    assert_eq!(emails.len(), 1);
    let masked = emails[0].as_str().unwrap();
    assert!(
        masked.contains('*') && !masked.contains("pia@example.com"),
        "{masked}"
    );
    h.post("/email/lookup", json!({"phone": "call me"}))
        .await
        .assert_problem(422, "validation_failed");
}

/// Emailed links are built from the configured public URL: a forged
/// `Host`, `X-Forwarded-Host` or `Forwarded: host=` changes nothing.
pub async fn emailed_links_ignore_a_forged_host(factory: &Factory) {
    let h = Harness::default(factory).await;
    let forged = [
        ("host", "evil.example"),
        ("x-forwarded-host", "evil.example"),
        ("x-forwarded-proto", "http"),
        ("forwarded", "host=evil.example;proto=http"),
        ("content-type", "application/json"),
    ];
    let email = "host@example.com";
    let body = json!({"email": email, "password": PASSWORD}).to_string();
    let r = h.send(Method::POST, "/register", &forged, body).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let r = h
        .send(
            Method::POST,
            "/password/reset",
            &forged,
            json!({"email": email}).to_string(),
        )
        .await;
    assert_eq!(r.status, 202);
    h.auth.background_idle().await;
    let mails = h.mailer.messages();
    let texts: Vec<_> = mails.iter().filter(|m| m.to == email).collect();
    assert_eq!(texts.len(), 2, "a verification and a reset mail");
    for (mail, page) in texts
        .iter()
        .zip(["/verify-email?token=", "/reset-password?token="])
    {
        let link = format!("http://localhost:3000{page}");
        assert!(mail.text.contains(&link), "{}", mail.text);
        assert!(!mail.text.contains("evil"), "{}", mail.text);
        assert!(!mail.html.contains("evil"), "{}", mail.html);
    }
}

/// `POST /token/introspect` with `application/x-www-form-urlencoded`
/// (RFC 7662) as the introspection client.
async fn introspect_form(h: &Harness, authorization: Option<&str>, form: &str) -> Reply {
    let mut headers = vec![("content-type", "application/x-www-form-urlencoded")];
    if let Some(value) = authorization {
        headers.push(("authorization", value));
    }
    h.send(Method::POST, "/token/introspect", &headers, form.to_owned())
        .await
}

/// Introspection needs an authenticated caller (the configured client by
/// HTTP Basic, or a bearer holding `internal.tokens.introspect`), reads
/// the RFC 7662 form as well as JSON, and introspects refresh tokens
/// without consuming them.
pub async fn introspection_needs_an_authenticated_caller(factory: &Factory) {
    let h = Harness::default(factory).await;
    let pair = h.signed_in("ivo@example.com").await;
    let access = pair["access_token"].as_str().unwrap();
    let refresh = pair["refresh_token"].as_str().unwrap();
    let form = format!("token={refresh}&token_type_hint=refresh_token");

    // No credentials, wrong ones, a plain user's bearer.
    let r = introspect_form(&h, None, &form).await;
    r.assert_problem(401, "token_invalid");
    assert!(r.header("www-authenticate").is_some());
    h.post("/token/introspect", json!({"token": access}))
        .await
        .assert_problem(401, "token_invalid");
    let wrong_secret = format!(
        "Basic {}",
        STANDARD.encode(format!("{INTROSPECTION_CLIENT_ID}:not the secret"))
    );
    let wrong_id = format!(
        "Basic {}",
        STANDARD.encode(format!("someone:{INTROSPECTION_CLIENT_SECRET}"))
    );
    for bad in [
        wrong_secret.as_str(),
        wrong_id.as_str(),
        "Basic !!!",
        "Basic",
        "Bearer not-a-token",
    ] {
        introspect_form(&h, Some(bad), &form)
            .await
            .assert_problem(401, "token_invalid");
    }
    let bearer = format!("Bearer {access}");
    introspect_form(&h, Some(&bearer), &form)
        .await
        .assert_problem(403, "forbidden");
    // Without a configured client, Basic credentials mean nothing.
    let closed = Harness::start(
        factory,
        Options {
            api: ApiConfig::default(),
            ..Options::default()
        },
    )
    .await;
    introspect_form(&closed, Some(INTROSPECTION_BASIC), "token=x")
        .await
        .assert_problem(401, "token_invalid");

    // The client, with the RFC's form: a refresh token, read only.
    let r = introspect_form(&h, Some(INTROSPECTION_BASIC), &form).await;
    assert_eq!(r.status, 200);
    let body = r.json();
    assert_eq!(body["active"], true);
    assert_eq!(body["token_type"], "refresh_token");
    assert_eq!(body["sid"], pair["session_id"]);
    for field in ["sub", "exp", "iat", "iss"] {
        assert!(
            body.get(field).is_some(),
            "refresh introspection lacks {field}"
        );
    }
    // An access token in the form, with a hint of the other kind or none.
    for form in [
        format!("token={access}&token_type_hint=refresh_token"),
        format!("token={access}"),
        format!("token={access}&token_type_hint=something_else"),
    ] {
        let r = introspect_form(&h, Some(INTROSPECTION_BASIC), &form).await;
        assert_eq!(r.json()["token_type"], "Bearer", "{form}");
    }
    // The JSON extension, with a hint.
    let r = h
        .send(
            Method::POST,
            "/token/introspect",
            &[
                ("authorization", INTROSPECTION_BASIC),
                ("content-type", "application/json"),
            ],
            json!({"token": refresh, "token_type_hint": "refresh_token"}).to_string(),
        )
        .await;
    assert_eq!(r.json()["token_type"], "refresh_token");

    // Introspection consumed nothing: the refresh token rotates, then is
    // inactive, and its replacement active.
    let rotated = h
        .post("/token/refresh", json!({"refresh_token": refresh}))
        .await;
    assert_eq!(rotated.status, 200);
    assert_eq!(h.introspect(refresh).await.json(), json!({"active": false}));
    let next = rotated.json()["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(h.introspect(&next).await.json()["active"], true);

    // A bearer holding the permission (a SYSTEM_ADMIN) may introspect.
    h.auth
        .admin()
        .create_admin(NewAdmin::new("rs@example.com", PASSWORD))
        .await
        .unwrap();
    let admin = h.login("rs@example.com", PASSWORD).await;
    let bearer = format!("Bearer {}", admin["access_token"].as_str().unwrap());
    let r = introspect_form(&h, Some(&bearer), &format!("token={next}")).await;
    assert_eq!(r.json()["active"], true);

    // Bad bodies, as the client.
    let basic = Some(INTROSPECTION_BASIC);
    introspect_form(&h, basic, "token=a&token=b")
        .await
        .assert_problem(400, "malformed_request");
    introspect_form(&h, basic, "")
        .await
        .assert_problem(400, "malformed_request");
    introspect_form(&h, basic, "token_type_hint=refresh_token")
        .await
        .assert_problem(422, "validation_failed");
    h.send(
        Method::POST,
        "/token/introspect",
        &[
            ("authorization", INTROSPECTION_BASIC),
            ("content-type", "text/plain"),
        ],
        "token=x",
    )
    .await
    .assert_problem(415, "unsupported_media_type");
    let r = introspect_form(&h, basic, "token=%FF%FE&x").await;
    assert_eq!(r.json(), json!({"active": false}));
}
