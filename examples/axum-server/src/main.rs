//! An axum host app serving authkit.
//!
//! ```sh
//! cargo run --release -p axum-server
//! ```
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

use authkit_axum::{AuthLayer, AuthUser, RequirePermission};
use authkit_core::api::{Api, ApiConfig};
use authkit_core::store::{MemoryStore, Store};
use authkit_core::{Auth, AuthConfig};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

#[tokio::main]
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

    let listener = tokio::net::TcpListener::bind(bind).await?;
    tracing::info!(address = %listener.local_addr()?, mount = %api.config().mount_path, "listening");
    axum::serve(
        listener,
        app(api).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await?;
    tracing::info!("stopped");
    Ok(())
}

/// The whole app: the API, the JWKS, health, and the host's own routes.
fn app(api: Api) -> Router {
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
    with_api
        .merge(authkit_axum::well_known(api))
        .route("/healthz", get(|| async { "ok" }))
}

async fn hello(AuthUser(user): AuthUser) -> Json<Value> {
    Json(json!({ "hello": user.user_id, "session": user.session_id }))
}

async fn admin_users(AuthUser(user): AuthUser) -> Json<Value> {
    Json(json!({ "users": [], "requested_by": user.user_id }))
}

/// Keeps every instance's key set current and the store tidy.
fn spawn_maintenance(auth: Auth) {
    let keys = auth.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        loop {
            every.tick().await;
            if let Err(err) = keys.reload_keys().await {
                tracing::error!(error = %err, "reloading signing keys failed");
            }
        }
    });
    tokio::spawn(async move {
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

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use axum::body::Body;
    use http::{Request, StatusCode};
    use tower::ServiceExt;

    use super::*;

    async fn test_app() -> (Api, Router) {
        let auth = Auth::builder(AuthConfig::default(), Store::new(MemoryStore::new()))
            .build()
            .await
            .unwrap();
        let api = Api::from(auth);
        (api.clone(), app(api))
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
    }
}
