//! The extractors, middleware and error conversion on a host app's own
//! routes, and how the API is mounted, driven in-process (the HTTP API
//! itself is covered by the end-to-end suite over a real socket).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use actix_web::{App, HttpMessage, HttpRequest, HttpResponse, web};
use authkit_actix::{
    Api, ApiConfig, ApiError, AuthMiddleware, AuthUser, Authentication, HasPermission,
    MaybeAuthUser, Permission, RequirePermission,
};
use authkit_core::audit::AuditQuery;
use authkit_core::store::{MemoryStore, Store};
use authkit_core::{Auth, AuthConfig, AuthError};
use serde_json::{Value, json};
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

async fn whoami(AuthUser(p): AuthUser) -> String {
    p.user_id.to_string()
}

async fn maybe(MaybeAuthUser(p): MaybeAuthUser) -> &'static str {
    if p.is_some() { "someone" } else { "anonymous" }
}

async fn audit(p: HasPermission<AuditRead>) -> String {
    p.principal().user_id.to_string()
}

async fn fails() -> Result<HttpResponse, ApiError> {
    Err(AuthError::EmailTaken.into())
}

/// Reads what the middleware left, without an extractor.
async fn raw(request: HttpRequest) -> String {
    match request.extensions().get::<Authentication>() {
        Some(Authentication(Ok(Some(_)))) => "principal".into(),
        Some(Authentication(Ok(None))) => "none".into(),
        Some(Authentication(Err(err))) => err.code().into(),
        None => "missing".into(),
    }
}

/// The host's routes under `/app`, wrapped by the middleware, with an
/// `/app/admin` scope guarded by a permission.
fn host_routes(api: &Api) -> impl FnOnce(&mut web::ServiceConfig) {
    let api = api.clone();
    move |config| {
        config.service(
            web::scope("/app")
                .wrap(AuthMiddleware::new(api))
                .route("/whoami", web::get().to(whoami))
                .route("/maybe", web::get().to(maybe))
                .route("/audit", web::get().to(audit))
                .route("/write", web::post().to(whoami))
                .route("/fails", web::get().to(fails))
                .route("/raw", web::get().to(raw))
                .service(
                    web::scope("/admin")
                        .wrap(RequirePermission::new("internal.users.read"))
                        .route("/users", web::get().to(|| async { "users" })),
                ),
        );
    }
}

/// Status and body of one request.
async fn call<S, R, B>(app: &S, request: R) -> (StatusCode, String)
where
    S: Service<R, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let response = test::call_service(app, request).await;
    let status = response.status();
    let body = test::read_body(response).await;
    (status, String::from_utf8(body.to_vec()).unwrap())
}

fn get(path: &str) -> TestRequest {
    TestRequest::get().uri(path)
}

fn bearer(path: &str, token: &str) -> TestRequest {
    get(path).insert_header(("authorization", format!("Bearer {token}")))
}

fn code(body: &str) -> String {
    serde_json::from_str::<Value>(body).unwrap()["code"]
        .as_str()
        .unwrap()
        .to_owned()
}

macro_rules! service {
    ($api:expr) => {
        test::init_service(
            App::new()
                .configure(authkit_actix::configure($api.clone()))
                .configure(host_routes(&$api)),
        )
        .await
    };
}

#[actix_web::test]
async fn auth_user_needs_a_valid_token() {
    let api = api(ApiConfig::default()).await;
    let app = service!(api);
    let (status, body) = call(&app, bearer("/app/whoami", &token(&api, &[])).to_request()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(Uuid::parse_str(&body).is_ok(), "{body}");
    for request in [
        get("/app/whoami"),
        bearer("/app/whoami", "x.y.z"),
        bearer("/app/whoami", ""),
        get("/app/whoami").insert_header(("authorization", "Basic dTpw")),
        bearer("/app/whoami", "\u{e9}t\u{e9}"),
    ] {
        let (status, body) = call(&app, request.to_request()).await;
        assert_eq!(
            (status, code(&body).as_str()),
            (StatusCode::UNAUTHORIZED, "token_invalid")
        );
    }
}

#[actix_web::test]
async fn errors_are_problem_json_with_www_authenticate() {
    let api = api(ApiConfig::default()).await;
    let app = service!(api);
    let response = test::call_service(&app, get("/app/whoami").to_request()).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers().get("content-type").unwrap(),
        "application/problem+json"
    );
    assert!(
        response
            .headers()
            .get("www-authenticate")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
}

#[actix_web::test]
async fn maybe_auth_user_is_optional_but_rejects_bad_tokens() {
    let api = api(ApiConfig::default()).await;
    let app = service!(api);
    assert_eq!(
        call(&app, get("/app/maybe").to_request()).await,
        (StatusCode::OK, "anonymous".into())
    );
    assert_eq!(
        call(&app, bearer("/app/maybe", &token(&api, &[])).to_request()).await,
        (StatusCode::OK, "someone".into())
    );
    let (status, body) = call(&app, bearer("/app/maybe", "nope").to_request()).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::UNAUTHORIZED, "token_invalid")
    );
}

#[actix_web::test]
async fn the_middleware_leaves_the_outcome_in_the_extensions() {
    let api = api(ApiConfig::default()).await;
    let app = service!(api);
    let cases = [
        (get("/app/raw"), "none"),
        (bearer("/app/raw", &token(&api, &[])), "principal"),
        (bearer("/app/raw", "bad"), "token_invalid"),
    ];
    for (request, expected) in cases {
        assert_eq!(
            call(&app, request.to_request()).await,
            (StatusCode::OK, expected.into())
        );
    }
}

#[actix_web::test]
async fn permission_extractor_and_middleware_guard_routes() {
    let api = api(ApiConfig::default()).await;
    let app = service!(api);
    let plain = token(&api, &["internal.other"]);
    let strong = token(&api, &["internal.audit.read", "internal.users.read"]);
    for path in ["/app/audit", "/app/admin/users"] {
        let (status, body) = call(&app, bearer(path, &plain).to_request()).await;
        assert_eq!(
            (status, code(&body).as_str()),
            (StatusCode::FORBIDDEN, "forbidden"),
            "{path}"
        );
        let (status, body) = call(&app, get(path).to_request()).await;
        assert_eq!(
            (status, code(&body).as_str()),
            (StatusCode::UNAUTHORIZED, "token_invalid"),
            "{path}"
        );
        let (status, _) = call(&app, bearer(path, &strong).to_request()).await;
        assert_eq!(status, StatusCode::OK, "{path}");
    }
    let (status, body) = call(&app, bearer("/app/admin/users", &strong).to_request()).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "users"));
}

#[actix_web::test]
async fn an_expired_token_answers_token_expired() {
    let api = api(ApiConfig::default()).await;
    let app = service!(api);
    let id = Uuid::now_v7();
    let (expired, _) = api
        .auth()
        .access_tokens()
        .issue(
            id,
            id,
            &[],
            &[],
            chrono::Utc::now() - chrono::Duration::days(1),
        )
        .unwrap();
    for path in ["/app/whoami", "/app/admin/users"] {
        let (status, body) = call(&app, bearer(path, &expired).to_request()).await;
        assert_eq!(
            (status, code(&body).as_str()),
            (StatusCode::UNAUTHORIZED, "token_expired"),
            "{path}"
        );
    }
}

#[actix_web::test]
async fn api_error_renders_like_the_api() {
    let api = api(ApiConfig::default()).await;
    let app = service!(api);
    let response = test::call_service(&app, get("/app/fails").to_request()).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert_eq!(
        response.headers().get("content-type").unwrap(),
        "application/problem+json"
    );
    let body: Value = test::read_body_json(response).await;
    assert_eq!(body["code"], "email_taken");
    assert_eq!(body["status"], 409);
    let err = ApiError(AuthError::RateLimited {
        retry_after: std::time::Duration::from_secs(7),
    });
    assert_eq!(
        actix_web::ResponseError::status_code(&err),
        StatusCode::TOO_MANY_REQUESTS
    );
    let response = actix_web::ResponseError::error_response(&err);
    assert_eq!(response.headers().get("retry-after").unwrap(), "7");
}

#[actix_web::test]
async fn cookie_authenticated_writes_pass_the_csrf_check() {
    let api = api(ApiConfig {
        cookie_mode: true,
        csrf_allowed_origins: vec!["https://app.example.com".into()],
        ..ApiConfig::default()
    })
    .await;
    let app = service!(api);
    let cookie = format!("__Host-authkit_access={}", token(&api, &[]));
    let read = get("/app/whoami").insert_header(("cookie", cookie.as_str()));
    assert_eq!(
        call(&app, read.to_request()).await.0,
        StatusCode::OK,
        "reads need no origin"
    );
    let write = |origin: Option<&str>| {
        let mut request = TestRequest::post()
            .uri("/app/write")
            .insert_header(("cookie", cookie.as_str()));
        if let Some(origin) = origin {
            request = request.insert_header(("origin", origin));
        }
        request.to_request()
    };
    let (status, body) = call(&app, write(None)).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::FORBIDDEN, "forbidden")
    );
    let (status, _) = call(&app, write(Some("https://evil.example"))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(&app, write(Some("https://app.example.com"))).await;
    assert_eq!(status, StatusCode::OK);
}

#[actix_web::test]
async fn a_missing_middleware_is_a_500_not_a_pass() {
    let app = test::init_service(
        App::new().route("/whoami", web::get().to(whoami)).service(
            web::scope("/guarded")
                .wrap(RequirePermission::new("x"))
                .route("", web::get().to(|| async { "never" })),
        ),
    )
    .await;
    for path in ["/whoami", "/guarded"] {
        let (status, body) = call(&app, get(path).to_request()).await;
        assert_eq!(
            (status, code(&body).as_str()),
            (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            "{path}"
        );
    }
}

#[actix_web::test]
async fn the_api_is_scoped_and_jwks_sits_at_the_root() {
    let api = api(ApiConfig::default()).await;
    let app = service!(api);
    let (status, body) = call(&app, get("/.well-known/jwks.json").to_request()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("\"keys\""));
    let (status, body) = call(
        &app,
        TestRequest::post()
            .uri("/.well-known/jwks.json")
            .to_request(),
    )
    .await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
    );
    let (status, body) = call(&app, get("/auth/openapi.json").to_request()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("\"openapi\""));
    let (status, body) = call(&app, get("/auth/token").to_request()).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
    );
    for path in ["/auth", "/auth/", "/auth/orgs/", "/auth/%E2%9C%93"] {
        let (status, body) = call(&app, get(path).to_request()).await;
        assert_eq!(
            (status, code(&body).as_str()),
            (StatusCode::NOT_FOUND, "not_found"),
            "{path}"
        );
    }
    // Outside the mount point the API answers nothing.
    let (status, body) = call(&app, get("/authx/openapi.json").to_request()).await;
    assert_eq!((status, body.as_str()), (StatusCode::NOT_FOUND, ""));
}

#[actix_web::test]
async fn the_api_works_under_the_middleware_too() {
    let api = api(ApiConfig::default()).await;
    let app = test::init_service(
        App::new()
            .wrap(AuthMiddleware::new(api.clone()))
            .configure(authkit_actix::configure(api.clone())),
    )
    .await;
    let (status, body) = call(&app, bearer("/auth/me", "bad").to_request()).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::UNAUTHORIZED, "token_invalid")
    );
}

#[actix_web::test]
async fn another_mount_path_and_an_empty_one() {
    let api_here = api(ApiConfig {
        mount_path: "/api/v1/auth".into(),
        ..ApiConfig::default()
    })
    .await;
    let app = service!(api_here);
    let (status, body) = call(&app, get("/api/v1/auth/openapi.json").to_request()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = call(&app, get("/auth/openapi.json").to_request()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let at_root = api(ApiConfig {
        mount_path: String::new(),
        ..ApiConfig::default()
    })
    .await;
    let app = service!(at_root);
    let (status, body) = call(&app, get("/openapi.json").to_request()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = call(&app, get("/.well-known/jwks.json").to_request()).await;
    assert_eq!(status, StatusCode::OK);
    // The host's routes still match first.
    let (status, body) = call(&app, get("/app/maybe").to_request()).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "anonymous"));
    let (status, body) = call(&app, get("/nowhere").to_request()).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
}

#[actix_web::test]
async fn bodies_over_the_limit_answer_413_before_the_api_reads_them() {
    let api = api(ApiConfig {
        body_limit: 64,
        ..ApiConfig::default()
    })
    .await;
    let app = service!(api);
    let login = |body: String| {
        TestRequest::post()
            .uri("/auth/token")
            .insert_header(("content-type", "application/json"))
            .set_payload(body)
            .to_request()
    };
    let small = json!({"email": "a@example.com", "password": "x"}).to_string();
    assert!(small.len() <= 64);
    let (status, body) = call(&app, login(small)).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_credentials")
    );
    let big = json!({"email": "a@example.com", "password": "x".repeat(100)}).to_string();
    let (status, body) = call(&app, login(big)).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
}

#[actix_web::test]
async fn the_peer_address_reaches_the_api() {
    let api = api(ApiConfig::default()).await;
    let app = service!(api);
    let email = "peer@example.com";
    let register = TestRequest::post()
        .uri("/auth/register")
        .peer_addr("198.51.100.7:4242".parse().unwrap())
        .insert_header(("content-type", "application/json"))
        .set_payload(
            json!({"email": email, "password": "correct horse battery staple"}).to_string(),
        )
        .to_request();
    let (status, body) = call(&app, register).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let events = api
        .auth()
        .store()
        .audit
        .audit_records(&AuditQuery {
            limit: 50,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert!(!events.is_empty());
    assert!(
        events
            .iter()
            .any(|e| e.ip.as_deref() == Some("198.51.100.7")),
        "{events:?}"
    );
}
