//! An axum host app serving authkit.
//!
//! ```sh
//! cargo run --release -p axum-server
//! ```
//!
//! - the API under `/auth` (`AUTHKIT_MOUNT_PATH`), the JWKS at
//!   `/.well-known/jwks.json`, `GET /healthz` (process up) and
//!   `GET /readyz` (store reachable);
//! - the app's own routes: `GET /api/hello` (any signed-in user),
//!   `GET /api/admin/users` (permission `internal.users.read`) and the
//!   bare `GET /api/ping` (the floor of the HTTP load harness);
//! - `cargo run -p axum-server -- create-admin --email root@example.com`
//!   creates the first `SYSTEM_ADMIN` (password from
//!   `AUTHKIT_ADMIN_PASSWORD` or a prompt) and exits;
//! - start-up shared with `actix-server` (see the `example-host` crate):
//!   `AUTHKIT_*` variables and `.env`, a SQLite file store by default
//!   (`AUTHKIT_DATABASE_URL` for PostgreSQL/MySQL), SMTP when
//!   `AUTHKIT_SMTP_URL` is set else the console, dev secrets kept in a
//!   local file, key reload and purge tasks, graceful shutdown;
//! - `GET /metrics` (Prometheus) when `AUTHKIT_METRICS=1`; the Redis
//!   limiter and revocation feed when `AUTHKIT_REDIS_URL` is set;
//!   `axum-server rotate-signing-key` rotates the signing key and exits;
//! - CORS for `AUTHKIT_CORS_ORIGINS`, request tracing (method, path,
//!   status; no headers or bodies, so no secrets).

use std::net::SocketAddr;

use authkit_axum::{AuthLayer, AuthUser, RequirePermission};
use authkit_core::api::Api;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use example_host::PrometheusHandle;
use serde_json::{Value, json};
use tower_http::cors::{AllowHeaders, AllowMethods, CorsLayer};
use tower_http::trace::TraceLayer;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    example_host::init_tracing();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if example_host::create_admin::run(&args).await? {
        return Ok(());
    }
    let host = example_host::from_env().await?;
    if example_host::run_command(&host).await? {
        return Ok(());
    }
    example_host::spawn_maintenance(&host);
    let cors = cors(&host.cors_origins)?;
    let listener = tokio::net::TcpListener::bind(host.bind).await?;
    tracing::info!(address = %listener.local_addr()?, "listening");
    axum::serve(
        listener,
        app(host.api, host.metrics)
            .layer(cors)
            .layer(TraceLayer::new_for_http().make_span_with(request_span))
            .into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(example_host::shutdown_signal())
    .await?;
    // Reset and verification mails still being sent go out first.
    host.auth.background_idle().await;
    tracing::info!("stopped");
    Ok(())
}

/// The span of a request: method and path, never the query (a
/// social-login callback's query carries the authorization code and
/// state).
fn request_span<B>(request: &axum::http::Request<B>) -> tracing::Span {
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path()
    )
}

/// CORS for the configured browser origins (none: no CORS headers).
fn cors(origins: &[String]) -> Result<CorsLayer, Box<dyn std::error::Error>> {
    let origins = origins
        .iter()
        .map(|o| HeaderValue::from_str(o))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("invalid configuration AUTHKIT_CORS_ORIGINS: {e}"))?;
    Ok(CorsLayer::new()
        .allow_origin(origins)
        .allow_methods(AllowMethods::mirror_request())
        .allow_headers(AllowHeaders::mirror_request())
        .allow_credentials(true))
}

/// The whole app: the API, the JWKS, health, the host's own routes, and
/// the metrics when a recorder is installed.
fn app(api: Api, metrics: Option<PrometheusHandle>) -> Router {
    let admin = Router::new()
        .route("/api/admin/users", get(admin_users))
        .layer(RequirePermission::layer("internal.users.read"));
    let mount = api.config().mount_path.clone();
    let own = Router::new()
        .route("/api/hello", get(hello))
        .merge(admin)
        .layer(AuthLayer::new(api.clone()));
    let with_api = if mount.is_empty() {
        own.merge(authkit_axum::router(api.clone()))
    } else {
        own.nest(&mount, authkit_axum::router(api.clone()))
    };
    let auth = api.auth().clone();
    let with_api = match metrics {
        Some(handle) => with_api.route(
            "/metrics",
            get(move || {
                let (body, content_type) = example_host::render_metrics(&handle);
                async move { ([(CONTENT_TYPE, content_type)], body) }
            }),
        ),
        None => with_api,
    };
    with_api
        .merge(authkit_axum::well_known(api))
        .route("/healthz", get(|| async { "ok" }))
        // A bare JSON route: the framework floor the load harness compares to.
        .route("/api/ping", get(|| async { Json(json!({ "pong": true })) }))
        .route(
            "/readyz",
            get(move || {
                let auth = auth.clone();
                async move {
                    if example_host::ready(&auth).await {
                        (StatusCode::OK, "ready")
                    } else {
                        (StatusCode::SERVICE_UNAVAILABLE, "store unavailable")
                    }
                }
            }),
        )
}

async fn hello(AuthUser(user): AuthUser) -> Json<Value> {
    Json(json!({ "hello": user.user_id, "session": user.session_id }))
}

async fn admin_users(AuthUser(user): AuthUser) -> Json<Value> {
    Json(json!({ "users": [], "requested_by": user.user_id }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use authkit_core::store::{MemoryStore, Store};
    use authkit_core::{Auth, AuthConfig};
    use axum::body::Body;
    use http::Request;
    use tower::ServiceExt;

    use super::*;

    async fn test_app() -> (Api, Router) {
        let auth = Auth::builder(AuthConfig::default(), Store::new(MemoryStore::new()))
            .build()
            .await
            .unwrap();
        let api = Api::from(auth);
        (api.clone(), app(api, None))
    }

    async fn status(app: &Router, path: &str, token: Option<&str>) -> StatusCode {
        let mut request = Request::get(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        app.clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap()
            .status()
    }

    fn token(api: &Api, permissions: &[String]) -> String {
        let id = uuid::Uuid::now_v7();
        api.auth()
            .access_tokens()
            .issue(id, id, &[], permissions, chrono::Utc::now())
            .unwrap()
            .0
    }

    #[tokio::test]
    async fn every_part_is_mounted() {
        let (api, app) = test_app().await;
        assert_eq!(status(&app, "/healthz", None).await, StatusCode::OK);
        assert_eq!(status(&app, "/readyz", None).await, StatusCode::OK);
        assert_eq!(status(&app, "/api/ping", None).await, StatusCode::OK);
        assert_eq!(
            status(&app, "/.well-known/jwks.json", None).await,
            StatusCode::OK
        );
        assert_eq!(
            status(&app, "/auth/openapi.json", None).await,
            StatusCode::OK
        );
        assert_eq!(
            status(&app, "/auth/me", None).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            status(&app, "/api/hello", None).await,
            StatusCode::UNAUTHORIZED
        );
        let plain = token(&api, &[]);
        assert_eq!(
            status(&app, "/api/hello", Some(&plain)).await,
            StatusCode::OK
        );
        assert_eq!(
            status(&app, "/api/admin/users", Some(&plain)).await,
            StatusCode::FORBIDDEN
        );
        let admin = token(&api, &["internal.users.read".to_owned()]);
        assert_eq!(
            status(&app, "/api/admin/users", Some(&admin)).await,
            StatusCode::OK
        );
        // No recorder, no metrics route.
        assert_eq!(status(&app, "/metrics", None).await, StatusCode::NOT_FOUND);
    }
}
