#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use serde_json::Value;

use super::routes;
use super::*;
use crate::AuthConfig;
use crate::rate_limit::NoLimiter;
use crate::store::{MemoryStore, Store};

async fn api() -> Api {
    let auth = Auth::builder(AuthConfig::default(), Store::new(MemoryStore::new()))
        .rate_limiter(Arc::new(NoLimiter))
        .build()
        .await
        .unwrap();
    Api::from(auth)
}

fn request(method: Method, path: &str, body: &str) -> Request<Bytes> {
    Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .body(Bytes::from(body.to_owned()))
        .unwrap()
}

fn json(body: &Bytes) -> Value {
    serde_json::from_slice(body).unwrap()
}

#[tokio::test]
async fn openapi_describes_exactly_the_route_table() {
    let doc = serde_json::to_value(api().await.openapi()).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["servers"][0]["url"], "/auth");
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        if path == JWKS_PATH {
            continue;
        }
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.to_ascii_uppercase(), path.clone()));
        }
    }
    let served: BTreeSet<_> = routes::all()
        .map(|r| (r.method.to_string(), r.path.to_owned()))
        .collect();
    assert_eq!(documented, served);
    assert!(doc["paths"][JWKS_PATH]["get"].is_object());
}

/// Every `$ref` names a component, every operation documents a success
/// and its errors as problem+json, and the request schemas are those that
/// validate (their required fields).
#[tokio::test]
async fn openapi_references_resolve_and_errors_are_problems() {
    let doc = serde_json::to_value(api().await.openapi()).unwrap();
    let text = doc.to_string();
    for (i, _) in text.match_indices("\"$ref\":\"") {
        let rest = &text[i + 8..];
        let target = &rest[..rest.find('"').unwrap()];
        let pointer = target.strip_prefix('#').unwrap();
        assert!(doc.pointer(pointer).is_some(), "dangling {target}");
    }
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            assert!(
                responses.keys().any(|s| s.starts_with('2') || s == "302"),
                "{method} {path}"
            );
            for (status, response) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    let name = response["$ref"].as_str().unwrap();
                    let shared = doc.pointer(name.strip_prefix('#').unwrap()).unwrap();
                    assert_eq!(
                        shared["content"]["application/problem+json"]["schema"]["$ref"],
                        "#/components/schemas/Problem"
                    );
                }
            }
        }
    }
    let login = &doc["components"]["schemas"]["LoginRequest"];
    assert_eq!(login["required"], serde_json::json!(["email", "password"]));
    let post = &doc["paths"]["/token/introspect"]["post"];
    assert!(post["requestBody"]["content"]["application/x-www-form-urlencoded"].is_object());
    assert_eq!(
        post["security"][0]["introspectionClient"],
        serde_json::json!([])
    );
}

#[tokio::test]
async fn openapi_is_served_under_the_mount() {
    let api = api().await;
    let r = api
        .handle(request(Method::GET, "/openapi.json", ""), None)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(json(r.body())["info"]["title"], "authkit HTTP API");
}

#[tokio::test]
async fn jwks_is_served_at_the_root_only() {
    let api = api().await;
    let r = api.well_known(&request(Method::GET, "/.well-known/jwks.json", ""));
    assert_eq!(r.status(), StatusCode::OK);
    let keys = json(r.body())["keys"].as_array().unwrap().clone();
    assert!(!keys.is_empty());
    for key in keys {
        assert!(key.get("kid").is_some() && key.get("d").is_none());
    }
    let r = api.well_known(&request(Method::POST, "/.well-known/jwks.json", ""));
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.headers()["allow"], "GET");
    let r = api.well_known(&request(Method::GET, "/.well-known/other", ""));
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = api
        .handle(request(Method::GET, "/.well-known/jwks.json", ""), None)
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn unknown_and_unbuilt_routes_are_problems() {
    let api = api().await;
    for path in ["/nope", "/mfa", "/orgs/", "/admin", "/oauth/github"] {
        let r = api.handle(request(Method::POST, path, "{}"), None).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(r.headers()["content-type"], PROBLEM_JSON);
        assert_eq!(json(r.body())["code"], "not_found");
    }
    let r = api.handle(request(Method::PUT, "/me", ""), None).await;
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.headers()["allow"], "GET, PATCH");
}

#[tokio::test]
async fn mfa_routes_are_a_disabled_feature_while_mfa_is_off() {
    let api = api().await;
    assert!(!api.auth().config().mfa.enabled);
    for route in routes::all().filter(|r| r.endpoint.is_mfa()) {
        // Before authentication and before reading the body.
        for body in ["", "{", r#"{"mfa_token": 5}"#] {
            let r = api
                .handle(request(route.method.clone(), route.path, body), None)
                .await;
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{}", route.path);
            assert_eq!(json(r.body())["code"], "feature_disabled", "{}", route.path);
        }
    }
    // Phone verification does not depend on MFA.
    let r = api
        .handle(request(Method::POST, "/phone/verify/start", "{}"), None)
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn authenticated_routes_need_a_bearer_token() {
    let api = api().await;
    for (method, path) in [
        (Method::GET, "/me"),
        (Method::GET, "/sessions"),
        (Method::POST, "/logout-all"),
        (Method::POST, "/phone/verify/start"),
        (Method::POST, "/phone/verify/confirm"),
        (
            Method::DELETE,
            "/sessions/0190a0a0-0000-7000-8000-000000000000",
        ),
    ] {
        let r = api.handle(request(method.clone(), path, ""), None).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(r.headers()["www-authenticate"], "Bearer");
        let mut bad = request(method, path, "");
        bad.headers_mut()
            .insert("authorization", "Basic dXNlcjpwYXNz".parse().unwrap());
        let r = api.handle(bad, None).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(json(r.body())["code"], "token_invalid");
    }
}

#[tokio::test]
async fn request_meta_uses_the_peer_unless_a_proxy_is_trusted() {
    let api = api().await;
    let mut req = request(Method::GET, "/me", "");
    req.headers_mut()
        .insert("x-forwarded-for", "198.51.100.1".parse().unwrap());
    req.headers_mut()
        .insert("user-agent", "test-agent/1".parse().unwrap());
    let meta = api.request_meta(&req, Some("203.0.113.5".parse().unwrap()));
    assert_eq!(meta.ip.as_deref(), Some("203.0.113.5"));
    assert_eq!(meta.user_agent.as_deref(), Some("test-agent/1"));

    let config = ApiConfig {
        trusted_proxies: "203.0.113.0/24".parse().unwrap(),
        ..ApiConfig::default()
    };
    let proxied = Api::new(api.auth().clone(), config).unwrap();
    let meta = proxied.request_meta(&req, Some("203.0.113.5".parse().unwrap()));
    assert_eq!(meta.ip.as_deref(), Some("198.51.100.1"));
}

#[tokio::test]
async fn an_invalid_config_is_refused() {
    let api = api().await;
    let config = ApiConfig {
        cookie_mode: true,
        ..ApiConfig::default()
    };
    assert_eq!(
        Api::new(api.auth().clone(), config).unwrap_err().variable,
        "AUTHKIT_CSRF_ORIGINS"
    );
}

#[tokio::test]
async fn every_response_echoes_a_request_id() {
    let api = api().await;
    let mut sent = request(Method::GET, "/me", "");
    sent.headers_mut()
        .insert("x-request-id", "trace-7f3a".parse().unwrap());
    let response = api.handle(sent, None).await;
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["x-request-id"], "trace-7f3a");

    // Without one (or with one unfit for logs), a fresh id per request;
    // also on unknown paths and bad methods.
    let mut ids = Vec::new();
    for (method, path) in [
        (Method::GET, "/me"),
        (Method::GET, "/nowhere"),
        (Method::PUT, "/token"),
    ] {
        let mut sent = request(method, path, "");
        sent.headers_mut()
            .insert("x-request-id", "bad id\"".parse().unwrap());
        let response = api.handle(sent, None).await;
        let id = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
        ids.push(id);
    }
    ids.dedup();
    assert_eq!(ids.len(), 3);
}
