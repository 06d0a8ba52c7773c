//! The API and the JWKS as axum routers: translation only.

use std::net::SocketAddr;

use authkit_core::api::{self, Api};
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::Response;
use axum::routing::any;
use bytes::Bytes;

/// The whole HTTP API, to nest at the mount point:
/// `app.nest("/auth", authkit_axum::router(api))`. Every path under it —
/// including unknown ones and wrong methods — is answered by the API.
pub fn router<S>(api: impl Into<Api>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/", any(serve))
        .route("/{*path}", any(serve))
        .with_state(api.into())
}

/// `GET /.well-known/jwks.json`, to merge at the root of the host app.
pub fn well_known<S>(api: impl Into<Api>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/.well-known/jwks.json", any(serve_well_known))
        .with_state(api.into())
}

async fn serve(State(api): State<Api>, request: Request) -> Response {
    let peer = peer(&request);
    let limit = api.config().body_limit;
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        // Over the limit (or a body the client stopped sending).
        return into_axum(api.secured(api::payload_too_large()));
    };
    into_axum(
        api.handle(http::Request::from_parts(parts, bytes), peer)
            .await,
    )
}

async fn serve_well_known(State(api): State<Api>, request: Request) -> Response {
    let (parts, _) = request.into_parts();
    into_axum(api.well_known(&http::Request::from_parts(parts, Bytes::new())))
}

fn peer(request: &Request) -> Option<std::net::IpAddr> {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

pub(crate) fn into_axum(response: http::Response<Bytes>) -> Response {
    response.map(Body::from)
}
