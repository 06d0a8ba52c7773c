//! The API and the JWKS as actix-web services: translation only.

use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse, Resource, Route, Scope};
use authkit_core::AuthError;
use authkit_core::api::{self, Api};
use bytes::Bytes;

use crate::translate;

/// Mounts everything on an app: the API under
/// [`ApiConfig::mount_path`](authkit_core::api::ApiConfig::mount_path) and
/// `/.well-known/jwks.json` at the root.
///
/// ```
/// # fn app(api: authkit_core::api::Api) {
/// let app = actix_web::App::new().configure(authkit_actix::configure(api));
/// # }
/// ```
///
/// With an empty mount path the API becomes the app's default service, so
/// the host's own routes still match first.
pub fn configure(api: impl Into<Api>) -> impl FnOnce(&mut ServiceConfig) + Clone {
    let api = api.into();
    move |config: &mut ServiceConfig| {
        config.service(well_known(api.clone()));
        if api.config().mount_path.is_empty() {
            config.default_service(route(api));
        } else {
            config.service(scope(api));
        }
    }
}

/// The whole HTTP API as a scope at
/// [`ApiConfig::mount_path`](authkit_core::api::ApiConfig::mount_path)
/// (not empty: see [`configure`]). Every path under it — including unknown
/// ones and wrong methods — is answered by the API.
pub fn scope(api: impl Into<Api>) -> Scope {
    let api = api.into();
    let mount = api.config().mount_path.clone();
    web::scope(&mount).default_service(route(api))
}

/// `/.well-known/jwks.json`, to register at the root of the app.
pub fn well_known(api: impl Into<Api>) -> Resource {
    let api = api.into();
    web::resource("/.well-known/jwks.json").to(move |request: HttpRequest| {
        let api = api.clone();
        async move {
            match translate::request(&request, request.uri().path(), Bytes::new()) {
                Some(request) => translate::response(api.well_known(&request)),
                None => not_found(&api),
            }
        }
    })
}

/// Answers every request it sees with the API.
fn route(api: Api) -> Route {
    web::to(move |request: HttpRequest, payload: web::Payload| {
        let api = api.clone();
        async move { serve(&api, &request, payload).await }
    })
}

async fn serve(api: &Api, request: &HttpRequest, payload: web::Payload) -> HttpResponse {
    let Ok(Ok(body)) = payload.to_bytes_limited(api.config().body_limit).await else {
        // Over the limit (or a body the client stopped sending).
        return translate::response(api.secured(api::payload_too_large()));
    };
    let path = relative_path(request, &api.config().mount_path);
    let Some(translated) = translate::request(request, path, body) else {
        return not_found(api);
    };
    let peer = request.peer_addr().map(|addr| addr.ip());
    translate::response(api.handle(translated, peer).await)
}

/// The path under the mount point, as sent (`/auth/token` → `/token`,
/// `/auth` → `/`). A mount point spelled with percent-escapes still matched
/// actix's decoded routing: its unmatched remainder is used then.
fn relative_path<'a>(request: &'a HttpRequest, mount: &str) -> &'a str {
    let path = request
        .uri()
        .path()
        .strip_prefix(mount)
        .unwrap_or_else(|| request.match_info().unprocessed());
    if path.is_empty() { "/" } else { path }
}

fn not_found(api: &Api) -> HttpResponse {
    translate::response(api.secured(api::error_response(&AuthError::NotFound)))
}
