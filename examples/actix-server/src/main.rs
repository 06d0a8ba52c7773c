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
//!   `/.well-known/jwks.json`, `GET /healthz`;
//! - the app's own routes: `GET /api/hello` (any signed-in user) and
//!   `GET /api/admin/users` (permission `internal.users.read`);
//! - configured by `AUTHKIT_*` variables (and a `.env` file if present),
//!   listening on `AUTHKIT_BIND` (default `127.0.0.1:8080`);
//! - in-memory store and console mailer: data is lost on exit and emails
//!   are printed to the log — for trying things out, not production;
//! - reloads signing keys every minute and purges expired sessions and
//!   tokens every hour; shuts down gracefully on SIGINT / SIGTERM.

use std::net::SocketAddr;
use std::time::Duration;

use actix_web::web::{self, ServiceConfig};
use actix_web::{App, HttpResponse, HttpServer};
use authkit_actix::{AuthMiddleware, AuthUser, RequirePermission};
use authkit_core::api::{Api, ApiConfig};
use authkit_core::store::{MemoryStore, Store};
use authkit_core::{Auth, AuthConfig};
use serde_json::json;

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .init();
    match dotenvy::dotenv() {
        Ok(path) => tracing::info!(path = %path.display(), "loaded .env"),
        Err(err) if err.not_found() => {}
        Err(err) => return Err(err.into()),
    }
    let bind: SocketAddr = std::env::var("AUTHKIT_BIND")
        .unwrap_or_else(|_| "127.0.0.1:8080".to_owned())
        .parse()
        .map_err(|e| format!("invalid configuration AUTHKIT_BIND: {e}"))?;

    let auth = Auth::builder(AuthConfig::from_env()?, Store::new(MemoryStore::new()))
        .build()
        .await?;
    let api = Api::new(auth.clone(), ApiConfig::from_env()?)?;
    spawn_maintenance(auth);

    let mount = api.config().mount_path.clone();
    // actix-web stops gracefully on SIGINT / SIGTERM by itself.
    let server = HttpServer::new(move || App::new().configure(app(api.clone()))).bind(bind)?;
    for address in server.addrs() {
        tracing::info!(%address, %mount, "listening");
    }
    server.run().await?;
    tracing::info!("stopped");
    Ok(())
}

/// The whole app: the host's own routes, health, the JWKS and the API.
/// The host's routes come first so an empty mount path cannot shadow them.
fn app(api: Api) -> impl FnOnce(&mut ServiceConfig) {
    move |config| {
        config
            .route("/healthz", web::get().to(|| async { "ok" }))
            .service(
                web::scope("/api")
                    .wrap(AuthMiddleware::new(api.clone()))
                    .route("/hello", web::get().to(hello))
                    .service(
                        web::scope("/admin")
                            .wrap(RequirePermission::new("internal.users.read"))
                            .route("/users", web::get().to(admin_users)),
                    ),
            );
        authkit_actix::configure(api)(config);
    }
}

async fn hello(AuthUser(user): AuthUser) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "hello": user.user_id, "session": user.session_id }))
}

async fn admin_users(AuthUser(user): AuthUser) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "users": [], "requested_by": user.user_id }))
}

/// Keeps every instance's key set current and the store tidy.
fn spawn_maintenance(auth: Auth) {
    let keys = auth.clone();
    actix_web::rt::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        loop {
            every.tick().await;
            if let Err(err) = keys.reload_keys().await {
                tracing::error!(error = %err, "reloading signing keys failed");
            }
        }
    });
    actix_web::rt::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(3600));
        loop {
            every.tick().await;
            match auth.purge_expired().await {
                Ok((sessions, tokens)) => tracing::info!(sessions, tokens, "purged expired"),
                Err(err) => tracing::error!(error = %err, "purge failed"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use actix_web::http::StatusCode;
    use actix_web::test::{self, TestRequest};

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
        let app = test::init_service(App::new().configure(app(api.clone()))).await;
        let plain = token(&api, &[]);
        let admin = token(&api, &["internal.users.read".to_owned()]);
        let cases = [
            ("/healthz", None, StatusCode::OK),
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
    }
}
