//! Bad input on every route: never a panic, never a 500, always a problem.

use authkit_core::api::ApiConfig;
use authkit_core::{AuthConfig, NewAdmin};
use http::Method;
use serde_json::{Value, json};

use crate::{Factory, Harness, Options, PASSWORD, Reply};

/// Body routes with the fields they read.
const BODY_ROUTES: &[(&str, &str, &[&str], bool)] = &[
    // (method, path, fields, needs a token)
    (
        "POST",
        "/register",
        &["email", "password", "display_name", "phone"],
        false,
    ),
    ("POST", "/register/start", &["email", "password"], false),
    (
        "POST",
        "/register/confirm",
        &["challenge_id", "code"],
        false,
    ),
    ("POST", "/email/verify", &["token"], false),
    ("POST", "/email/verify/resend", &["email"], false),
    ("POST", "/token", &["email", "password"], false),
    ("POST", "/token/refresh", &["refresh_token"], false),
    ("POST", "/password/reset", &["email"], false),
    (
        "POST",
        "/password/reset/confirm",
        &["token", "new_password"],
        false,
    ),
    ("POST", "/email/lookup", &["phone"], false),
    ("POST", "/token/introspect", &["token"], false),
    (
        "PATCH",
        "/me",
        &["display_name", "avatar_url", "phone"],
        true,
    ),
    ("POST", "/me/deactivate", &["password"], true),
    (
        "POST",
        "/password/change",
        &["current_password", "new_password"],
        true,
    ),
    ("POST", "/mfa/challenge", &["mfa_token", "method"], false),
    (
        "POST",
        "/mfa/verify",
        &["mfa_token", "method", "code"],
        false,
    ),
    ("POST", "/mfa/totp/enable", &["code"], true),
    ("POST", "/mfa/totp/disable", &["password"], true),
    ("POST", "/mfa/enroll/totp/setup", &["mfa_token"], false),
    (
        "POST",
        "/mfa/enroll/totp/enable",
        &["mfa_token", "code"],
        false,
    ),
    ("POST", "/phone/verify/start", &["phone"], true),
    ("POST", "/phone/verify/confirm", &["code"], true),
];

async fn send(
    h: &Harness,
    token: &str,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Reply {
    let bearer = format!("Bearer {token}");
    let mut headers = vec![("authorization", bearer.as_str())];
    if let Some(ct) = content_type {
        headers.push(("content-type", ct));
    }
    h.send(
        Method::from_bytes(method.as_bytes()).unwrap(),
        path,
        &headers,
        body,
    )
    .await
}

/// Malformed, mistyped, oversized, empty and exotic bodies on every body
/// route: 400/413/415/422 problems, and nothing worse for odd strings.
pub async fn bad_input_never_breaks_a_route(factory: &Factory) {
    // MFA on, so its routes read their bodies.
    let h = Harness::start(
        factory,
        Options {
            auth: AuthConfig {
                mfa: authkit_core::MfaConfig::default().enabled(true),
                ..AuthConfig::default()
            },
            ..Options::default()
        },
    )
    .await;
    // A SYSTEM_ADMIN, so introspection (which needs a permission) reads
    // its body too.
    h.auth
        .admin()
        .create_admin(NewAdmin::new("quinn@example.com", PASSWORD))
        .await
        .unwrap();
    let pair = h.login("quinn@example.com", PASSWORD).await;
    let token = pair["access_token"].as_str().unwrap();
    let json_ct = Some("application/json");
    let huge = format!("{{\"email\": \"{}\"}}", "a".repeat(70 * 1024)).into_bytes();
    for (method, path, fields, _) in BODY_ROUTES {
        let at = format!("{method} {path}");
        send(&h, token, method, path, json_ct, b"{\"email\": ".to_vec())
            .await
            .assert_problem(400, "malformed_request");
        send(&h, token, method, path, json_ct, b"[1, 2]".to_vec())
            .await
            .assert_problem(400, "malformed_request");
        send(&h, token, method, path, json_ct, b"null".to_vec())
            .await
            .assert_problem(400, "malformed_request");
        send(&h, token, method, path, json_ct, vec![0xff, 0xfe, b'{'])
            .await
            .assert_problem(400, "malformed_request");
        send(&h, token, method, path, json_ct, Vec::new())
            .await
            .assert_problem(400, "malformed_request");
        send(&h, token, method, path, Some("text/plain"), b"{}".to_vec())
            .await
            .assert_problem(415, "unsupported_media_type");
        let form = send(
            &h,
            token,
            method,
            path,
            Some("application/x-www-form-urlencoded"),
            b"email=a".to_vec(),
        )
        .await;
        if *path == "/token/introspect" {
            // RFC 7662's form is read there: `token` is missing.
            form.assert_problem(422, "validation_failed");
        } else {
            form.assert_problem(415, "unsupported_media_type");
        }
        send(&h, token, method, path, None, b"{}".to_vec())
            .await
            .assert_problem(415, "unsupported_media_type");
        send(&h, token, method, path, json_ct, huge.clone())
            .await
            .assert_problem(413, "payload_too_large");

        let wrong: Value = fields
            .iter()
            .map(|f| ((*f).to_owned(), json!(12)))
            .collect::<serde_json::Map<_, _>>()
            .into();
        let r = send(
            &h,
            token,
            method,
            path,
            json_ct,
            wrong.to_string().into_bytes(),
        )
        .await;
        r.assert_problem(422, "validation_failed");
        let reported: Vec<_> = r.json()["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap().to_owned())
            .collect();
        assert!(
            fields.iter().any(|f| reported.contains(&(*f).to_owned())),
            "{at}: {reported:?}"
        );

        let nested: Value = fields
            .iter()
            .map(|f| ((*f).to_owned(), json!({"$ne": null})))
            .collect::<serde_json::Map<_, _>>()
            .into();
        send(
            &h,
            token,
            method,
            path,
            json_ct,
            nested.to_string().into_bytes(),
        )
        .await
        .assert_problem(422, "validation_failed");

        for odd in [
            "",
            "ünïcödé ✓ 🦀",
            "\u{0}\u{1f}",
            "' OR 1=1 --",
            "<script>",
            &"x".repeat(4000),
        ] {
            let body: Value = fields
                .iter()
                .map(|f| ((*f).to_owned(), json!(odd)))
                .collect::<serde_json::Map<_, _>>()
                .into();
            let r = send(
                &h,
                token,
                method,
                path,
                json_ct,
                body.to_string().into_bytes(),
            )
            .await;
            assert!(r.status < 500, "{at} with {odd:.10}: {}", r.status);
            if r.status >= 400 {
                r.code();
            }
        }
    }
    // A smaller configured limit applies.
    let small = Harness::start(
        factory,
        Options {
            api: ApiConfig {
                body_limit: 512,
                ..ApiConfig::default()
            },
            ..Options::default()
        },
    )
    .await;
    let body = json!({"email": "a@example.com", "padding": "p".repeat(600)});
    small
        .post("/password/reset", body)
        .await
        .assert_problem(413, "payload_too_large");
    assert_eq!(
        small
            .post("/password/reset", json!({"email": "a@example.com"}))
            .await
            .status,
        202
    );
}

/// Unknown paths and features not built yet are 404 problems; wrong
/// methods 405 with `Allow`.
pub async fn unknown_routes_and_methods(factory: &Factory) {
    let h = Harness::default(factory).await;
    for path in [
        "/nope",
        "/mfa",
        "/mfa/totp",
        "/phone/verify",
        "/orgs/",
        "/orgs/acme/members/x/y",
        "/invites",
        "/admin",
        "/admin/users/",
        "/oauth/github",
        "/oauth/github/start/more",
        "/token/",
        "/%F0%9F%A6%80",
        "/.well-known/jwks.json",
    ] {
        for method in [Method::GET, Method::POST] {
            h.send(method, path, &[("content-type", "application/json")], "{}")
                .await
                .assert_problem(404, "not_found");
        }
    }
    let r = h.send(Method::GET, "/token", &[], "").await;
    r.assert_problem(405, "method_not_allowed");
    assert_eq!(r.header("allow"), Some("POST"));
    let r = h.send(Method::PUT, "/me", &[], "").await;
    r.assert_problem(405, "method_not_allowed");
    assert_eq!(r.header("allow"), Some("GET, PATCH"));
    let r = h.send(Method::GET, "/sessions/abc", &[], "").await;
    assert_eq!(r.header("allow"), Some("DELETE"));
    // No provider configured: a provider route is served, the provider is
    // not found.
    h.send(Method::GET, "/oauth/github/start", &[], "")
        .await
        .assert_problem(404, "not_found");
    h.send(Method::POST, "/oauth/github/start", &[], "")
        .await
        .assert_problem(405, "method_not_allowed");
}
