//! An actix-web host app serving authkit.
//!
//! ```sh
//! cargo run --release -p authkit-actix-server
//! ```
//!
//! (The package is not called `actix-server`: that name is actix-web's own
//! server crate, which would make `-p actix-server` ambiguous.)
//!
//! - the API under `/auth` (`AUTHKIT_MOUNT_PATH`), the JWKS at
//!   `/.well-known/jwks.json`, `GET /healthz` (process up) and
//!   `GET /readyz` (store reachable);
//! - the app's own routes: `GET /api/hello` (any signed-in user),
//!   `GET /api/admin/users` (permission `internal.users.read`) and the
//!   bare `GET /api/ping` (the floor of the HTTP load harness);
//! - `cargo run -p authkit-actix-server -- create-admin --email root@example.com`
//!   creates the first `SYSTEM_ADMIN` (password from
//!   `AUTHKIT_ADMIN_PASSWORD` or a prompt) and exits;
//! - the same start-up as `axum-server` (the `example-host` crate):
//!   `AUTHKIT_*` variables and `.env`, a SQLite file store by default,
//!   SMTP when configured, dev secrets kept in a local file, key reload and
//!   purge tasks; CORS for `AUTHKIT_CORS_ORIGINS`; request logging
//!   (method, path, status); graceful shutdown on SIGINT / SIGTERM;
//! - `GET /metrics` (Prometheus) when `AUTHKIT_METRICS=1`; the Redis
//!   limiter and revocation feed when `AUTHKIT_REDIS_URL` is set;
//!   `authkit-actix-server rotate-signing-key` rotates the signing key and
//!   exits.

use actix_cors::Cors;
use actix_web::middleware::Logger;
use actix_web::web::{self, ServiceConfig};
use actix_web::{App, HttpResponse, HttpServer};
use authkit_actix::{AuthMiddleware, AuthUser, RequirePermission};
use authkit_core::Auth;
use authkit_core::api::Api;
use example_host::PrometheusHandle;
use serde_json::json;

#[actix_web::main]
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
    let (api, origins, metrics) = (host.api, host.cors_origins, host.metrics);
    // actix-web stops gracefully on SIGINT / SIGTERM by itself.
    let server = HttpServer::new(move || {
        App::new()
            .wrap(cors(&origins))
            // The path only (%U), never the query: a social-login
            // callback's query carries the authorization code and state.
            .wrap(Logger::new("%m %U %s %Dms"))
            .configure(app(api.clone(), metrics.clone()))
    })
    .bind(host.bind)?;
    for address in server.addrs() {
        tracing::info!(%address, "listening");
    }
    server.run().await?;
    // Reset and verification mails still being sent go out first.
    host.auth.background_idle().await;
    tracing::info!("stopped");
    Ok(())
}

/// CORS for the configured browser origins (none: no CORS headers).
fn cors(origins: &[String]) -> Cors {
    origins
        .iter()
        .fold(Cors::default(), |cors, origin| cors.allowed_origin(origin))
        .allow_any_method()
        .allow_any_header()
        .supports_credentials()
}

/// The whole app: the host's own routes, health, the metrics when a
/// recorder is installed, the JWKS and the API. The host's routes come
/// first so an empty mount path cannot shadow them.
fn app(api: Api, metrics: Option<PrometheusHandle>) -> impl FnOnce(&mut ServiceConfig) {
    move |config| {
        let auth = api.auth().clone();
        if let Some(handle) = metrics {
            config.route(
                "/metrics",
                web::get().to(move || {
                    let (body, content_type) = example_host::render_metrics(&handle);
                    async move { HttpResponse::Ok().content_type(content_type).body(body) }
                }),
            );
        }
        config
            .route("/healthz", web::get().to(|| async { "ok" }))
            .app_data(web::Data::new(auth))
            .route("/readyz", web::get().to(readyz))
            .service(
                web::scope("/api")
                    // A bare JSON route: the framework floor of the load harness.
                    .route(
                        "/ping",
                        web::get()
                            .to(|| async { HttpResponse::Ok().json(json!({ "pong": true })) }),
                    )
                    .service(
                        web::scope("")
                            .wrap(AuthMiddleware::new(api.clone()))
                            .route("/hello", web::get().to(hello))
                            .service(
                                web::scope("/admin")
                                    .wrap(RequirePermission::new("internal.users.read"))
                                    .route("/users", web::get().to(admin_users)),
                            ),
                    ),
            );
        authkit_actix::configure(api)(config);
    }
}

async fn readyz(auth: web::Data<Auth>) -> HttpResponse {
    if example_host::ready(&auth).await {
        HttpResponse::Ok().body("ready")
    } else {
        HttpResponse::ServiceUnavailable().body("store unavailable")
    }
}

async fn hello(AuthUser(user): AuthUser) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "hello": user.user_id, "session": user.session_id }))
}

async fn admin_users(AuthUser(user): AuthUser) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "users": [], "requested_by": user.user_id }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use actix_web::http::StatusCode;
    use actix_web::test::{self, TestRequest};
    use authkit_core::AuthConfig;
    use authkit_core::store::{MemoryStore, Store};

    use super::*;

    fn token(api: &Api, permissions: &[String]) -> String {
        let id = uuid::Uuid::now_v7();
        api.auth()
            .access_tokens()
            .issue(id, id, &[], permissions, chrono::Utc::now())
            .unwrap()
            .0
    }

    #[actix_web::test]
    async fn every_part_is_mounted() {
        let auth = Auth::builder(AuthConfig::default(), Store::new(MemoryStore::new()))
            .build()
            .await
            .unwrap();
        let api = Api::from(auth);
        let app = test::init_service(App::new().configure(app(api.clone(), None))).await;
        let plain = token(&api, &[]);
        let admin = token(&api, &["internal.users.read".to_owned()]);
        let cases = [
            ("/healthz", None, StatusCode::OK),
            ("/readyz", None, StatusCode::OK),
            ("/api/ping", None, StatusCode::OK),
            ("/.well-known/jwks.json", None, StatusCode::OK),
            ("/auth/openapi.json", None, StatusCode::OK),
            ("/auth/me", None, StatusCode::UNAUTHORIZED),
            ("/api/hello", None, StatusCode::UNAUTHORIZED),
            ("/api/hello", Some(&plain), StatusCode::OK),
            ("/api/admin/users", Some(&plain), StatusCode::FORBIDDEN),
            ("/api/admin/users", Some(&admin), StatusCode::OK),
        ];
        for (path, token, expected) in cases {
            let mut request = TestRequest::get().uri(path);
            if let Some(token) = token {
                request = request.insert_header(("authorization", format!("Bearer {token}")));
            }
            let response = test::call_service(&app, request.to_request()).await;
            assert_eq!(response.status(), expected, "{path}");
        }
        let response =
            test::call_service(&app, TestRequest::get().uri("/metrics").to_request()).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "no recorder");
    }

    #[actix_web::test]
    async fn metrics_are_served_with_a_recorder() {
        let auth = Auth::builder(AuthConfig::default(), Store::new(MemoryStore::new()))
            .build()
            .await
            .unwrap();
        let recorder = example_host::PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            metrics::counter!("authkit_logins_total", "outcome" => "success").increment(2);
        });
        let app =
            test::init_service(App::new().configure(app(Api::from(auth), Some(handle)))).await;
        let response =
            test::call_service(&app, TestRequest::get().uri("/metrics").to_request()).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            response
                .headers()
                .get("content-type")
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("text/plain; version=0.0.4")
        );
        let body = test::read_body(response).await;
        let text = std::str::from_utf8(&body).unwrap();
        assert!(
            text.contains("authkit_logins_total{outcome=\"success\"} 2"),
            "{text}"
        );
    }
}
