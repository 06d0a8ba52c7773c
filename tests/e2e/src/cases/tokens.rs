//! Login, refresh rotation, and access-token verification over HTTP.

use std::sync::Arc;

use authkit_core::store::{LockoutPolicy, MemoryStore, Store};
use authkit_core::{Auth, AuthConfig};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::Method;
use serde_json::{Value, json};

use crate::{Factory, Harness, Options, PASSWORD};

/// Unknown account and wrong password answer alike; the lock holds even
/// for the right password.
pub async fn login_failures_and_lockout(factory: &Factory) {
    let auth = AuthConfig::builder()
        .lockout(LockoutPolicy {
            max_failures: 2,
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
    h.verified_user("eve@example.com").await;
    let unknown = h
        .post(
            "/token",
            json!({"email": "nobody@example.com", "password": PASSWORD}),
        )
        .await;
    unknown.assert_problem(401, "invalid_credentials");
    let wrong = h
        .post(
            "/token",
            json!({"email": "eve@example.com", "password": "wrong password!"}),
        )
        .await;
    wrong.assert_problem(401, "invalid_credentials");
    assert_eq!(unknown.body, wrong.body, "no account disclosure");
    h.post(
        "/token",
        json!({"email": "eve@example.com", "password": "wrong again!!"}),
    )
    .await;
    h.post(
        "/token",
        json!({"email": "eve@example.com", "password": PASSWORD}),
    )
    .await
    .assert_problem(403, "account_locked");
    h.clock.advance(chrono::Duration::minutes(16));
    h.login("eve@example.com", PASSWORD).await;
}

/// A failure lock refuses new logins only: the owner's existing access
/// token and refresh token keep working; while it holds, a wrong password
/// answers byte for byte as for an unknown address, and only the right
/// password learns `account_locked`.
pub async fn failure_lock_keeps_sessions_and_hides_behind_invalid_credentials(factory: &Factory) {
    let auth = AuthConfig::builder()
        .lockout(LockoutPolicy {
            max_failures: 2,
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
    let pair = h.signed_in("gil@example.com").await;
    for _ in 0..2 {
        h.post(
            "/token",
            json!({"email": "gil@example.com", "password": "wrong password!"}),
        )
        .await
        .assert_problem(401, "invalid_credentials");
    }
    let unknown = h
        .post(
            "/token",
            json!({"email": "nobody@example.com", "password": "wrong password!"}),
        )
        .await;
    let wrong = h
        .post(
            "/token",
            json!({"email": "gil@example.com", "password": "wrong password!"}),
        )
        .await;
    wrong.assert_problem(401, "invalid_credentials");
    assert_eq!(
        (unknown.status, &unknown.body),
        (wrong.status, &wrong.body),
        "a locked account answers a wrong password as an unknown address"
    );
    assert_eq!(unknown.header("content-type"), wrong.header("content-type"));
    let locked = h
        .post(
            "/token",
            json!({"email": "gil@example.com", "password": PASSWORD}),
        )
        .await;
    locked.assert_problem(403, "account_locked");
    assert!(locked.json()["locked_until"].is_string());

    let access = pair["access_token"].as_str().unwrap();
    assert_eq!(h.get("/me", access).await.status, 200);
    let introspected = h.introspect(access).await.json();
    assert_eq!(introspected["active"], true);
    let r = h
        .post(
            "/token/refresh",
            json!({"refresh_token": pair["refresh_token"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let refreshed = r.json();
    assert_eq!(
        h.get("/me", refreshed["access_token"].as_str().unwrap())
            .await
            .status,
        200
    );

    h.clock.advance(chrono::Duration::minutes(16));
    h.login("gil@example.com", PASSWORD).await;
}

/// Every refresh rotates; presenting a spent token revokes the session.
pub async fn refresh_rotation_and_reuse(factory: &Factory) {
    let h = Harness::default(factory).await;
    let first = h.signed_in("fay@example.com").await;
    let r1 = first["refresh_token"].as_str().unwrap();
    let r = h.post("/token/refresh", json!({"refresh_token": r1})).await;
    assert_eq!(r.status, 200);
    let second = r.json();
    let r2 = second["refresh_token"].as_str().unwrap();
    assert_ne!(r1, r2);
    assert_eq!(second["session_id"], first["session_id"]);
    assert_eq!(
        h.get("/me", second["access_token"].as_str().unwrap())
            .await
            .status,
        200
    );

    h.post("/token/refresh", json!({"refresh_token": r1}))
        .await
        .assert_problem(401, "refresh_token_reused");
    h.post("/token/refresh", json!({"refresh_token": r2}))
        .await
        .assert_problem(401, "token_invalid");
    let access = second["access_token"].as_str().unwrap();
    let r = h.introspect(access).await;
    assert_eq!(
        r.json(),
        json!({"active": false}),
        "the session is dead at once"
    );

    for garbage in ["", "garbage", "ünïcödé ✓", &"x".repeat(10_000)] {
        h.post("/token/refresh", json!({"refresh_token": garbage}))
            .await
            .assert_problem(401, "token_invalid");
    }
    let r = h.post("/token/refresh", json!({})).await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.json()["errors"][0]["field"], "refresh_token");
    h.send(Method::POST, "/token/refresh", &[], "")
        .await
        .assert_problem(400, "malformed_request");
}

/// 16 parallel refreshes of one token: exactly one succeeds.
pub async fn sixteen_concurrent_refreshes_give_one_success(factory: &Factory) {
    let h = Arc::new(Harness::default(factory).await);
    let pair = h.signed_in("gus@example.com").await;
    let token = pair["refresh_token"].as_str().unwrap().to_owned();
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let h = h.clone();
            let token = token.clone();
            tokio::spawn(async move {
                h.post("/token/refresh", json!({"refresh_token": token}))
                    .await
            })
        })
        .collect();
    let mut successes = 0;
    for task in tasks {
        let r = task.await.unwrap();
        match r.status {
            200 => successes += 1,
            401 => assert!(["token_invalid", "refresh_token_reused"].contains(&r.code().as_str())),
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(successes, 1);
}

/// The SECURITY.md rejection list, over HTTP (each case is also covered
/// in depth by the core's token tests).
pub async fn forged_and_foreign_tokens_are_rejected(factory: &Factory) {
    let store = Store::new(MemoryStore::new());
    let h = Harness::start(
        factory,
        Options {
            store: store.clone(),
            ..Options::default()
        },
    )
    .await;
    let pair = h.signed_in("hal@example.com").await;
    let good = pair["access_token"].as_str().unwrap();
    assert_eq!(h.get("/me", good).await.status, 200, "control");

    let parts: Vec<&str> = good.split('.').collect();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    let kid = header["kid"].as_str().unwrap().to_owned();
    let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());

    let mut forged: Vec<(String, String)> = Vec::new();
    for alg in ["none", "None", "noNE", "NONE"] {
        let header = json!({"alg": alg, "typ": "at+jwt", "kid": kid});
        forged.push((
            format!("alg {alg}"),
            format!("{}.{}.", b64(&header), parts[1]),
        ));
    }
    // HS256 keyed with the public key bytes the JWKS publishes.
    let jwks = h.auth.keys().jwks();
    let x = jwks["keys"][0]["x"].as_str().unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let mut hs = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    hs.kid = Some(kid.clone());
    hs.typ = Some("at+jwt".into());
    for key in [URL_SAFE_NO_PAD.decode(x).unwrap(), x.as_bytes().to_vec()] {
        let token =
            jsonwebtoken::encode(&hs, &claims, &jsonwebtoken::EncodingKey::from_secret(&key))
                .unwrap();
        forged.push(("HS256 with the public key".into(), token));
    }
    // Another algorithm than the key's, unknown and hostile kids,
    // tampered claims, jku, plain garbage.
    for header in [
        json!({"alg": "ES256", "typ": "at+jwt", "kid": kid}),
        json!({"alg": "EdDSA", "typ": "at+jwt", "kid": "unknown"}),
        json!({"alg": "EdDSA", "typ": "at+jwt", "kid": "../../etc/passwd"}),
        json!({"alg": "EdDSA", "typ": "at+jwt", "kid": "' OR 1=1 --"}),
        json!({"alg": "EdDSA", "typ": "at+jwt", "kid": kid, "jku": "https://evil.example/jwks"}),
        json!({"alg": "EdDSA", "typ": "JWT", "kid": kid}),
    ] {
        forged.push((
            format!("header {header}"),
            format!("{}.{}.{}", b64(&header), parts[1], parts[2]),
        ));
    }
    let mut tampered = claims.clone();
    tampered["permissions"] = json!(["internal.users.write"]);
    forged.push((
        "tampered claims".into(),
        format!("{}.{}.{}", parts[0], b64(&tampered), parts[2]),
    ));
    for garbage in [
        "garbage",
        "a.b.c",
        "",
        "ünï.cö.dé",
        &format!("{good}x"),
        &"e".repeat(9000),
    ] {
        forged.push((format!("garbage {garbage:.20}"), garbage.to_owned()));
    }
    // The refresh token is not an access token.
    forged.push((
        "refresh token".into(),
        pair["refresh_token"].as_str().unwrap().to_owned(),
    ));

    // Wrong issuer and wrong audience: same keys, other settings.
    for config in [
        AuthConfig::builder()
            .issuer("someone-else")
            .build()
            .unwrap(),
        AuthConfig::builder()
            .audience("another-api")
            .build()
            .unwrap(),
    ] {
        let foreign = Auth::builder(config, store.clone()).build().await.unwrap();
        let me = h.auth.authenticate(good).unwrap();
        let (token, _) = foreign
            .access_tokens()
            .issue(me.user_id, me.session_id, &[], &[], chrono::Utc::now())
            .unwrap();
        forged.push(("foreign iss/aud".into(), token));
    }

    for (what, token) in forged {
        // Header values are ASCII; the others go through introspection only.
        if token.is_ascii() {
            let r = h.get("/me", &token).await;
            assert_eq!(r.status, 401, "{what}");
            assert_eq!(r.code(), "token_invalid", "{what}");
            assert!(
                r.header("www-authenticate").unwrap().starts_with("Bearer"),
                "{what}"
            );
        }
        let r = h.introspect(&token).await;
        if what == "refresh token" {
            // Introspection knows refresh tokens, as what they are.
            assert_eq!(r.json()["token_type"], "refresh_token");
        } else {
            assert_eq!(r.json(), json!({"active": false}), "{what}");
        }
    }
    // Other schemes and malformed headers.
    for value in [
        "Basic Zm9vOmJhcg==",
        "Bearer",
        "Bearer ",
        good,
        &format!("Token {good}"),
    ] {
        let r = h
            .send(Method::GET, "/me", &[("authorization", value)], "")
            .await;
        r.assert_problem(401, "token_invalid");
    }
}

/// An access token past its lifetime answers `token_expired`.
pub async fn expired_access_tokens(factory: &Factory) {
    let h = Harness::default(factory).await;
    let pair = h.signed_in("ida@example.com").await;
    let access = pair["access_token"].as_str().unwrap();
    assert_eq!(h.get("/me", access).await.status, 200);
    h.clock.advance(chrono::Duration::minutes(16));
    let r = h.get("/me", access).await;
    r.assert_problem(401, "token_expired");
    assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
    // The refresh token still works and gives a fresh access token.
    let r = h
        .post(
            "/token/refresh",
            json!({"refresh_token": pair["refresh_token"]}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        h.get("/me", r.json()["access_token"].as_str().unwrap())
            .await
            .status,
        200
    );
}
