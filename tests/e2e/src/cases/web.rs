//! Cookie mode and CSRF, client addresses behind proxies, throttling, and
//! the documents served (JWKS, OpenAPI).

use std::sync::Arc;
use std::time::Duration;

use authkit_core::api::{ApiConfig, ProxyHeader, SameSite};
use authkit_core::rate_limit::{GovernorLimiter, Quota, RateAction, RateLimits};
use http::Method;
use serde_json::{Value, json};

use crate::{Factory, Harness, Options, PASSWORD, Reply};

const APP: &str = "https://app.example.com";

fn cookie_value(reply: &Reply, name: &str) -> String {
    reply
        .set_cookies()
        .iter()
        .find_map(|c| {
            c.strip_prefix(&format!("{name}="))
                .map(|rest| rest.split(';').next().unwrap().to_owned())
        })
        .unwrap_or_else(|| panic!("no {name} cookie in {:?}", reply.set_cookies()))
}

fn cookie_api() -> ApiConfig {
    ApiConfig {
        cookie_mode: true,
        same_site: SameSite::Strict,
        csrf_allowed_origins: vec![APP.into()],
        ..ApiConfig::default()
    }
}

/// The body of a token answer in cookie mode: no token, only what a page
/// needs to schedule its refresh.
fn assert_tokenless_body(reply: &Reply) {
    let body = reply.json();
    let mut keys: Vec<_> = body.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["expires_in", "session_id", "token_type"], "{body}");
    assert_eq!(body["token_type"], "Bearer");
}

/// Login sets two `__Host-` cookies and answers no token in its body;
/// cookie-authenticated writes need an allowed Origin or Referer; logout
/// clears the cookies.
pub async fn cookie_mode_with_csrf(factory: &Factory) {
    let h = Harness::start(
        factory,
        Options {
            api: cookie_api(),
            ..Options::default()
        },
    )
    .await;
    h.verified_user("rex@example.com").await;
    let login = h
        .post(
            "/token",
            json!({"email": "rex@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(login.status, 200);
    assert_tokenless_body(&login);
    let cookies = login.set_cookies();
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    for name in ["__Host-authkit_access=", "__Host-authkit_refresh="] {
        let line = cookies.iter().find(|c| c.starts_with(name)).unwrap();
        for attribute in [
            "; Path=/;",
            "; Secure",
            "; HttpOnly",
            "; SameSite=Strict",
            "; Max-Age=",
        ] {
            assert!(line.contains(attribute), "{line} lacks {attribute}");
        }
        assert!(!line.to_ascii_lowercase().contains("domain="), "{line}");
    }
    let access = cookie_value(&login, "__Host-authkit_access");
    let refresh = cookie_value(&login, "__Host-authkit_refresh");
    let access_cookie = format!("__Host-authkit_access={access}");

    // Reads need no origin; writes do.
    let r = h
        .send(Method::GET, "/me", &[("cookie", &access_cookie)], "")
        .await;
    assert_eq!(r.status, 200);
    let patch = json!({"display_name": "Rex"}).to_string();
    for headers in [
        vec![],
        vec![("origin", "https://evil.example")],
        vec![("origin", "null")],
        vec![("referer", "https://evil.example/app.example.com")],
    ] {
        let mut all = vec![
            ("cookie", access_cookie.as_str()),
            ("content-type", "application/json"),
        ];
        all.extend(headers.iter().copied());
        h.send(Method::PATCH, "/me", &all, patch.clone())
            .await
            .assert_problem(403, "forbidden");
    }
    let r = h
        .send(
            Method::PATCH,
            "/me",
            &[
                ("cookie", &access_cookie),
                ("content-type", "application/json"),
                ("origin", APP),
            ],
            patch.clone(),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = h
        .send(
            Method::PATCH,
            "/me",
            &[
                ("cookie", &access_cookie),
                ("content-type", "application/json"),
                ("referer", "https://app.example.com/settings"),
            ],
            patch.clone(),
        )
        .await;
    assert_eq!(r.status, 200);
    // A bearer header needs no CSRF check.
    let r = h
        .call(
            Method::PATCH,
            "/me",
            &access,
            Some(json!({"display_name": "R"})),
        )
        .await;
    assert_eq!(r.status, 200);

    // Refresh from the cookie: CSRF-checked, sets new cookies, answers no
    // token in its body.
    let refresh_cookie = format!("__Host-authkit_refresh={refresh}");
    h.send(
        Method::POST,
        "/token/refresh",
        &[("cookie", &refresh_cookie)],
        "",
    )
    .await
    .assert_problem(403, "forbidden");
    let r = h
        .send(
            Method::POST,
            "/token/refresh",
            &[("cookie", &refresh_cookie), ("origin", APP)],
            "",
        )
        .await;
    assert_eq!(r.status, 200);
    assert_tokenless_body(&r);
    let new_access = cookie_value(&r, "__Host-authkit_access");
    assert_ne!(cookie_value(&r, "__Host-authkit_refresh"), refresh);
    h.send(Method::POST, "/token/refresh", &[], "")
        .await
        .assert_problem(400, "malformed_request");

    // Logout: CSRF-checked, clears both cookies.
    let new_cookie = format!("__Host-authkit_access={new_access}");
    h.send(Method::POST, "/logout", &[("cookie", &new_cookie)], "")
        .await
        .assert_problem(403, "forbidden");
    let r = h
        .send(
            Method::POST,
            "/logout",
            &[("cookie", &new_cookie), ("origin", APP)],
            "",
        )
        .await;
    assert_eq!(r.status, 204);
    let cleared = r.set_cookies();
    assert_eq!(cleared.len(), 2);
    assert!(
        cleared.iter().all(|c| c.starts_with("__Host-")
            && c.contains("=; Path=/; ")
            && c.contains("Max-Age=0")),
        "{cleared:?}"
    );
}

/// Cookie tossing: cookies a sibling subdomain can plant (names without
/// the `__Host-` prefix, or a second cookie of our name) are never taken
/// for ours; the refresh cookie works on the refresh route only; bearer
/// mode still answers the whole pair and reads no cookie.
pub async fn cookie_mode_refuses_planted_cookies(factory: &Factory) {
    let api = ApiConfig {
        cookie_access_token_in_body: true,
        ..cookie_api()
    };
    let h = Harness::start(
        factory,
        Options {
            api,
            ..Options::default()
        },
    )
    .await;
    h.verified_user("toss@example.com").await;
    let login = h
        .post(
            "/token",
            json!({"email": "toss@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(login.status, 200);
    let body = login.json();
    let access = cookie_value(&login, "__Host-authkit_access");
    let refresh = cookie_value(&login, "__Host-authkit_refresh");
    assert_eq!(
        body["access_token"],
        access.as_str(),
        "configured: access in body"
    );
    assert!(body.get("refresh_token").is_none(), "{body}");

    let refresh_with = |cookie: String| {
        let h = &h;
        async move {
            h.send(
                Method::POST,
                "/token/refresh",
                &[("cookie", &cookie), ("origin", APP)],
                "",
            )
            .await
        }
    };
    // Names a sibling can set are not read, even holding the real token.
    for planted in [
        format!("authkit_refresh={refresh}"),
        format!("__Secure-authkit_refresh={refresh}"),
        format!("__host-authkit_refresh={refresh}"),
        format!("__HOST-authkit_refresh={refresh}"),
    ] {
        refresh_with(planted)
            .await
            .assert_problem(400, "malformed_request");
    }
    // A second cookie of our name, before or after ours: refused, and
    // nothing is rotated.
    for twice in [
        format!("__Host-authkit_refresh=planted; __Host-authkit_refresh={refresh}"),
        format!("__Host-authkit_refresh={refresh}; __Host-authkit_refresh=planted"),
        format!("__Host-authkit_refresh={refresh}; __Host-authkit_refresh={refresh}"),
    ] {
        refresh_with(twice)
            .await
            .assert_problem(401, "token_invalid");
    }
    let r = refresh_with(format!("__Host-authkit_refresh={refresh}")).await;
    assert_eq!(r.status, 200, "the real cookie still works");
    let refresh = cookie_value(&r, "__Host-authkit_refresh");
    let access = cookie_value(&r, "__Host-authkit_access");

    // The access cookie twice: refused.
    let twice = format!("__Host-authkit_access={access}; __Host-authkit_access=planted");
    h.send(Method::GET, "/me", &[("cookie", &twice)], "")
        .await
        .assert_problem(401, "token_invalid");
    let r = h
        .send(
            Method::GET,
            "/me",
            &[("cookie", &format!("__Host-authkit_access={access}"))],
            "",
        )
        .await;
    assert_eq!(r.status, 200);

    // The refresh cookie authenticates nothing but a refresh.
    let only_refresh = format!("__Host-authkit_refresh={refresh}");
    for (method, path) in [
        (Method::GET, "/me"),
        (Method::GET, "/sessions"),
        (Method::POST, "/logout-all"),
        (Method::POST, "/logout"),
    ] {
        h.send(
            method,
            path,
            &[("cookie", &only_refresh), ("origin", APP)],
            "",
        )
        .await
        .assert_problem(401, "token_invalid");
    }

    // Bearer mode: the whole pair in the body, no cookie set or read.
    let bearer = Harness::default(factory).await;
    bearer.verified_user("toss@example.com").await;
    let login = bearer
        .post(
            "/token",
            json!({"email": "toss@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(login.status, 200);
    assert!(login.set_cookies().is_empty());
    let pair = login.json();
    assert!(pair["access_token"].is_string() && pair["refresh_token"].is_string());
    let cookie = format!(
        "__Host-authkit_refresh={}",
        pair["refresh_token"].as_str().unwrap()
    );
    bearer
        .send(
            Method::POST,
            "/token/refresh",
            &[("cookie", &cookie), ("origin", APP)],
            "",
        )
        .await
        .assert_problem(400, "malformed_request");
}

async fn session_of(h: &Harness, headers: &[(&str, &str)]) -> Value {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    let body = json!({"email": "sam@example.com", "password": PASSWORD}).to_string();
    let r = h.send(Method::POST, "/token", &all, body).await;
    assert_eq!(r.status, 200);
    let pair = r.json();
    let sessions = h
        .get("/sessions", pair["access_token"].as_str().unwrap())
        .await
        .json();
    sessions
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap()
        .clone()
}

/// Forwarding headers count only from trusted proxies; the user agent is
/// recorded.
pub async fn client_ip_and_trusted_proxies(factory: &Factory) {
    let spoof = [
        ("x-forwarded-for", "198.51.100.7"),
        ("forwarded", "for=198.51.100.8"),
        ("user-agent", "e2e-agent/1.0"),
    ];
    let h = Harness::default(factory).await;
    h.verified_user("sam@example.com").await;
    let session = session_of(&h, &spoof).await;
    assert_eq!(
        session["ip"], "127.0.0.1",
        "a spoofed header from an untrusted peer changes nothing"
    );
    assert_eq!(session["user_agent"], "e2e-agent/1.0");

    let api = ApiConfig {
        trusted_proxies: "127.0.0.1/32, 10.0.0.0/8".parse().unwrap(),
        ..ApiConfig::default()
    };
    let h = Harness::start(
        factory,
        Options {
            api,
            ..Options::default()
        },
    )
    .await;
    h.verified_user("sam@example.com").await;
    let session = session_of(
        &h,
        &[("x-forwarded-for", "1.1.1.1, 203.0.113.50, 10.0.0.2")],
    )
    .await;
    assert_eq!(session["ip"], "203.0.113.50", "right-most untrusted hop");
    let session = session_of(&h, &spoof).await;
    assert_eq!(
        session["ip"], "198.51.100.7",
        "X-Forwarded-For by default; a client's own Forwarded is ignored"
    );
    let session = session_of(&h, &[("forwarded", "for=198.51.100.8")]).await;
    assert_eq!(session["ip"], "127.0.0.1", "only the configured header");
    let session = session_of(&h, &[]).await;
    assert_eq!(session["ip"], "127.0.0.1");
    let session = session_of(&h, &[("x-forwarded-for", "not-an-ip")]).await;
    assert_eq!(session["ip"], "127.0.0.1");

    // Proxies that write RFC 7239 `Forwarded`: X-Forwarded-For is ignored.
    let api = ApiConfig {
        trusted_proxies: "127.0.0.1/32".parse().unwrap(),
        proxy_header: ProxyHeader::Forwarded,
        ..ApiConfig::default()
    };
    let h = Harness::start(
        factory,
        Options {
            api,
            ..Options::default()
        },
    )
    .await;
    h.verified_user("sam@example.com").await;
    let session = session_of(&h, &spoof).await;
    assert_eq!(session["ip"], "198.51.100.8");
    let forwarded = [(
        "forwarded",
        "for=1.1.1.1, for=\"[2001:db8:cafe::17]:4711\";proto=https",
    )];
    let session = session_of(&h, &forwarded).await;
    assert_eq!(session["ip"], "2001:db8:cafe::17");
    let session = session_of(&h, &[("x-forwarded-for", "198.51.100.7")]).await;
    assert_eq!(session["ip"], "127.0.0.1");
}

/// Per-IP limits key IPv6 clients by their /64: two addresses of one /64
/// (reported by a trusted proxy) share a bucket, another /64 has its own.
pub async fn ipv6_clients_share_a_bucket_per_64(factory: &Factory) {
    let mut limits = RateLimits::disabled();
    for action in [RateAction::LookupPerIp, RateAction::ResetPerIp] {
        limits
            .set(action, Quota::new(1, Duration::from_secs(3600)))
            .unwrap();
    }
    let options = Options {
        api: ApiConfig {
            trusted_proxies: "127.0.0.1/32".parse().unwrap(),
            ..crate::api_config()
        },
        limiter: Arc::new(GovernorLimiter::new(limits)),
        ..Options::default()
    };
    let h = Harness::start(factory, options).await;
    let from = |ip: &'static str| {
        [
            ("x-forwarded-for", ip),
            ("content-type", "application/json"),
        ]
    };
    let lookup = json!({"phone": "+14155550123"}).to_string();
    let reset = json!({"email": "kim@example.com"}).to_string();
    for (path, body) in [("/email/lookup", &lookup), ("/password/reset", &reset)] {
        let r = h
            .send(Method::POST, path, &from("2001:db8:1:2::1"), body.clone())
            .await;
        assert!(r.status < 300, "{path}: {}", r.status);
        let r = h
            .send(
                Method::POST,
                path,
                &from("2001:db8:1:2:ffff::7"),
                body.clone(),
            )
            .await;
        r.assert_problem(429, "rate_limited");
        assert!(r.header("retry-after").is_some());
        let r = h
            .send(Method::POST, path, &from("2001:db8:1:3::1"), body.clone())
            .await;
        assert!(r.status < 300, "{path}: another /64 has its own bucket");
        // An IPv4 client and the same client written IPv4-mapped.
        let r = h
            .send(Method::POST, path, &from("203.0.113.9"), body.clone())
            .await;
        assert!(r.status < 300, "{path}");
        h.send(
            Method::POST,
            path,
            &from("::ffff:203.0.113.9"),
            body.clone(),
        )
        .await
        .assert_problem(429, "rate_limited");
    }
}

/// Every answer carries the security headers, on both adapters: no-store
/// (except the public documents), nosniff, no-referrer, a CSP that
/// forbids everything, and HSTS when the public URL is https.
pub async fn security_headers_on_every_answer(factory: &Factory) {
    let check = |r: &Reply, cache: &str, hsts: bool, what: &str| {
        assert_eq!(r.header("cache-control"), Some(cache), "{what}");
        assert_eq!(
            r.header("x-content-type-options"),
            Some("nosniff"),
            "{what}"
        );
        assert_eq!(r.header("referrer-policy"), Some("no-referrer"), "{what}");
        assert_eq!(
            r.header("content-security-policy"),
            Some("default-src 'none'; frame-ancestors 'none'"),
            "{what}"
        );
        assert_eq!(
            r.header("strict-transport-security"),
            hsts.then_some("max-age=31536000"),
            "{what}"
        );
    };
    for (public_url, hsts) in [
        ("http://localhost:3000", false),
        ("https://app.example.com", true),
    ] {
        let options = Options {
            auth: authkit_core::AuthConfig {
                public_url: public_url.to_owned(),
                ..authkit_core::AuthConfig::default()
            },
            ..Options::default()
        };
        let h = Harness::start(factory, options).await;
        let pair = h.signed_in("hal@example.com").await;
        let access = pair["access_token"].as_str().unwrap();
        let r = h
            .post(
                "/token",
                json!({"email": "hal@example.com", "password": PASSWORD}),
            )
            .await;
        assert_eq!(r.status, 200);
        check(&r, "no-store", hsts, "token pair");
        let r = h.get("/me", access).await;
        assert_eq!(r.status, 200);
        check(&r, "no-store", hsts, "account");
        let r = h.introspect(access).await;
        check(&r, "no-store", hsts, "introspection");
        let r = h
            .post("/token", json!({"email": "x@example.com", "password": "x"}))
            .await;
        assert_eq!(r.status, 401);
        check(&r, "no-store", hsts, "problem");
        let r = h.call(Method::POST, "/logout", access, None).await;
        assert_eq!(r.status, 204);
        check(&r, "no-store", hsts, "no content");
        let r = h.send(Method::GET, "/nowhere", &[], "").await;
        assert_eq!(r.status, 404);
        check(&r, "no-store", hsts, "unknown route");
        let r = h.send(Method::DELETE, "/token", &[], "").await;
        assert_eq!(r.status, 405);
        check(&r, "no-store", hsts, "wrong method");
        let huge = "x".repeat(70 * 1024);
        let r = h
            .send(
                Method::POST,
                "/token",
                &[("content-type", "application/json")],
                huge,
            )
            .await;
        assert_eq!(r.status, 413);
        check(&r, "no-store", hsts, "oversized body (adapter)");
        let r = h.send(Method::GET, "/openapi.json", &[], "").await;
        assert_eq!(r.status, 200);
        check(&r, "public, max-age=300", hsts, "OpenAPI");
        let jwks = format!("{}/.well-known/jwks.json", h.root);
        let r = h.send_url(Method::GET, &jwks, &[], "").await;
        assert_eq!(r.status, 200);
        check(&r, "public, max-age=60", hsts, "JWKS");
        let r = h.send_url(Method::POST, &jwks, &[], "").await;
        assert_eq!(r.status, 405);
        check(&r, "no-store", hsts, "JWKS, wrong method");
    }
}

/// Over quota: 429 `rate_limited` with `Retry-After` in seconds.
pub async fn throttling_answers_429_with_retry_after(factory: &Factory) {
    let mut limits = RateLimits::disabled();
    limits
        .set(
            RateAction::ResetPerEmail,
            Quota::new(1, Duration::from_secs(3600)),
        )
        .unwrap();
    let options = Options {
        limiter: Arc::new(GovernorLimiter::new(limits)),
        ..Options::default()
    };
    let h = Harness::start(factory, options).await;
    assert_eq!(
        h.post("/password/reset", json!({"email": "tom@example.com"}))
            .await
            .status,
        202
    );
    let r = h
        .post("/password/reset", json!({"email": "tom@example.com"}))
        .await;
    r.assert_problem(429, "rate_limited");
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=3600).contains(&retry), "{retry}");
    assert_eq!(
        h.post("/password/reset", json!({"email": "other@example.com"}))
            .await
            .status,
        202
    );
}

/// JWKS at the root (public members only), OpenAPI under the mount.
pub async fn jwks_and_openapi(factory: &Factory) {
    let h = Harness::default(factory).await;
    let url = format!("{}/.well-known/jwks.json", h.root);
    let r = h.send_url(Method::GET, &url, &[], "").await;
    assert_eq!(r.status, 200);
    let keys = r.json()["keys"].as_array().unwrap().clone();
    assert!(!keys.is_empty());
    for key in keys {
        for public in ["kid", "alg", "use", "kty"] {
            assert!(key.get(public).is_some(), "jwk lacks {public}");
        }
        for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
            assert!(key.get(private).is_none(), "jwk leaks {private}");
        }
    }
    let r = h.send_url(Method::POST, &url, &[], "").await;
    r.assert_problem(405, "method_not_allowed");
    assert_eq!(r.header("allow"), Some("GET"));

    let r = h.send(Method::GET, "/openapi.json", &[], "").await;
    assert_eq!(r.status, 200);
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/token"]["post"].is_object());
}
