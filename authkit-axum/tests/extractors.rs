//! The extractors, layers and error conversion on a host app's own routes,
//! driven in-process (the HTTP API itself is covered by the end-to-end
//! suite over a real socket).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use authkit_axum::{
    Api, ApiConfig, ApiError, AuthLayer, AuthUser, HasPermission, MaybeAuthUser, Permission,
    RequirePermission,
};
use authkit_core::store::{MemoryStore, Store};
use authkit_core::{Auth, AuthConfig, AuthError};
use axum::Router;
use axum::body::Body;
use axum::routing::{get, post};
use http::{Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;
use uuid::Uuid;

struct AuditRead;
impl Permission for AuditRead {
    const NAME: &'static str = "internal.audit.read";
}

async fn api(config: ApiConfig) -> Api {
    let auth = Auth::builder(AuthConfig::default(), Store::new(MemoryStore::new()))
        .build()
        .await
        .unwrap();
    Api::new(auth, config).unwrap()
}

fn token(api: &Api, permissions: &[&str]) -> String {
    let permissions: Vec<String> = permissions.iter().map(|p| (*p).to_owned()).collect();
    let (token, _) = api
        .auth()
        .access_tokens()
        .issue(
            Uuid::now_v7(),
            Uuid::now_v7(),
            &[],
            &permissions,
            chrono::Utc::now(),
        )
        .unwrap();
    token
}

fn app(api: &Api) -> Router {
    let guarded = Router::new()
        .route("/users", get(|| async { "users" }))
        .layer(RequirePermission::layer("internal.users.read"));
    Router::new()
        .route(
            "/whoami",
            get(|AuthUser(p): AuthUser| async move { p.user_id.to_string() }),
        )
        .route(
            "/maybe",
            get(|MaybeAuthUser(p): MaybeAuthUser| async move {
                if p.is_some() { "someone" } else { "anonymous" }
            }),
        )
        .route(
            "/audit",
            get(|p: HasPermission<AuditRead>| async move { p.principal().user_id.to_string() }),
        )
        .route("/write", post(|AuthUser(_): AuthUser| async { "written" }))
        .route(
            "/fails",
            get(|| async { Err::<(), ApiError>(AuthError::EmailTaken.into()) }),
        )
        .merge(guarded)
        .layer(AuthLayer::new(api.clone()))
}

async fn call(
    app: &Router,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, String) {
    let mut request = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

fn code(body: &str) -> String {
    serde_json::from_str::<Value>(body).unwrap()["code"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn auth_user_needs_a_valid_token() {
    let api = api(ApiConfig::default()).await;
    let app = app(&api);
    let bearer = format!("Bearer {}", token(&api, &[]));
    let (status, _) = call(&app, "GET", "/whoami", &[("authorization", &bearer)]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = call(&app, "GET", "/whoami", &[]).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::UNAUTHORIZED, "token_invalid")
    );
    let (status, body) = call(&app, "GET", "/whoami", &[("authorization", "Bearer x.y.z")]).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::UNAUTHORIZED, "token_invalid")
    );
}

#[tokio::test]
async fn maybe_auth_user_is_optional_but_rejects_bad_tokens() {
    let api = api(ApiConfig::default()).await;
    let app = app(&api);
    assert_eq!(
        call(&app, "GET", "/maybe", &[]).await,
        (StatusCode::OK, "anonymous".into())
    );
    let bearer = format!("Bearer {}", token(&api, &[]));
    assert_eq!(
        call(&app, "GET", "/maybe", &[("authorization", &bearer)]).await,
        (StatusCode::OK, "someone".into())
    );
    let (status, _) = call(&app, "GET", "/maybe", &[("authorization", "Bearer nope")]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn permission_extractor_and_layer_guard_routes() {
    let api = api(ApiConfig::default()).await;
    let app = app(&api);
    let plain = format!("Bearer {}", token(&api, &["internal.other"]));
    let strong = format!(
        "Bearer {}",
        token(&api, &["internal.audit.read", "internal.users.read"])
    );
    for path in ["/audit", "/users"] {
        let (status, body) = call(&app, "GET", path, &[("authorization", &plain)]).await;
        assert_eq!(
            (status, code(&body).as_str()),
            (StatusCode::FORBIDDEN, "forbidden"),
            "{path}"
        );
        let (status, body) = call(&app, "GET", path, &[]).await;
        assert_eq!(
            (status, code(&body).as_str()),
            (StatusCode::UNAUTHORIZED, "token_invalid"),
            "{path}"
        );
        let (status, _) = call(&app, "GET", path, &[("authorization", &strong)]).await;
        assert_eq!(status, StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn api_error_renders_like_the_api() {
    let api = api(ApiConfig::default()).await;
    let (status, body) = call(&app(&api), "GET", "/fails", &[]).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::CONFLICT, "email_taken")
    );
}

#[tokio::test]
async fn cookie_authenticated_writes_pass_the_csrf_check() {
    let api = api(ApiConfig {
        cookie_mode: true,
        csrf_allowed_origins: vec!["https://app.example.com".into()],
        ..ApiConfig::default()
    })
    .await;
    let app = app(&api);
    let cookie = format!("__Host-authkit_access={}", token(&api, &[]));
    let (status, _) = call(&app, "GET", "/whoami", &[("cookie", &cookie)]).await;
    assert_eq!(status, StatusCode::OK, "reads need no origin");
    let (status, body) = call(&app, "POST", "/write", &[("cookie", &cookie)]).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::FORBIDDEN, "forbidden")
    );
    let (status, _) = call(
        &app,
        "POST",
        "/write",
        &[("cookie", &cookie), ("origin", "https://evil.example")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(
        &app,
        "POST",
        "/write",
        &[("cookie", &cookie), ("origin", "https://app.example.com")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_missing_auth_layer_is_a_500_not_a_pass() {
    let app: Router = Router::new()
        .route("/whoami", get(|AuthUser(_): AuthUser| async { "never" }))
        .route(
            "/guarded",
            get(|| async { "never" }).layer(RequirePermission::layer("x")),
        );
    for path in ["/whoami", "/guarded"] {
        let (status, body) = call(&app, "GET", path, &[]).await;
        assert_eq!(
            (status, code(&body).as_str()),
            (StatusCode::INTERNAL_SERVER_ERROR, "internal")
        );
    }
}

#[tokio::test]
async fn the_router_nests_and_jwks_sits_at_the_root() {
    let api = api(ApiConfig::default()).await;
    let app: Router = Router::new()
        .nest("/auth", authkit_axum::router(api.clone()))
        .merge(authkit_axum::well_known(api));
    let (status, body) = call(&app, "GET", "/.well-known/jwks.json", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("\"keys\""));
    let (status, body) = call(&app, "GET", "/auth/openapi.json", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("\"openapi\""));
    let (status, body) = call(&app, "GET", "/auth/token", &[]).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
    );
    let (status, body) = call(&app, "GET", "/auth/orgs/", &[]).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
}
