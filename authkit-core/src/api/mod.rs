//! The HTTP API, framework-neutral: one route table and one handler over
//! [`http::Request<Bytes>`] → [`http::Response<Bytes>`].
//!
//! Adapters (`authkit-axum`, `authkit-actix`) only translate their request
//! and response types; routes, status codes, JSON shapes, cookies and
//! problem+json bodies are defined here once, so every framework serves the
//! same API. The layer is thin: it parses, calls [`Auth`], and renders.
//!
//! - [`Api::handle`] serves every route relative to the mount point
//!   (`/auth` by default; the adapter strips it): the contract of the
//!   project's API document, minus the routes of features not built yet
//! - [`Api::well_known`] serves `/.well-known/jwks.json`, mounted at the
//!   root by adapters.
//! - [`Api::authenticate`], [`Authentication`] (with
//!   [`Authentication::require`] and [`Authentication::require_org`]),
//!   [`Permission`] and [`error_response`] let adapters protect the host
//!   application's own routes with the same rules and error bodies.
//! - `GET <mount>/openapi.json` serves an OpenAPI 3.1 description of every
//!   route ([`Api::openapi`]), generated from the route tables: each
//!   feature's routes sit in one table that names each route's request
//!   and answer types (`Deserialize`/`Serialize` with a derived
//!   `utoipa::ToSchema`), so the document describes what is served.
//!
//! # Details of the contract
//!
//! - Errors are `application/problem+json` with a stable `code` (see
//!   [`AuthError::code`], plus the request-level codes of [`error_response`]'s
//!   module: `malformed_request` 400, `unsupported_media_type` 415,
//!   `payload_too_large` 413, `method_not_allowed` 405 with `Allow`).
//!   Wrong field types and missing fields answer **422**
//!   `validation_failed` with `errors: [{field, code, message}]`
//!   (`invalid_type`, `required`), every bad field at once, checked
//!   against the request type's schema; unknown fields are ignored.
//! - Authenticated routes read `Authorization: Bearer <access token>` (or,
//!   in cookie mode, the access cookie). Missing or invalid: 401
//!   `token_invalid` (`token_expired` once expired) with
//!   `WWW-Authenticate: Bearer`.
//! - `POST /email/verify/resend` and `POST /password/reset` always answer
//!   202 `{"status": "accepted"}`, whether or not the account exists.
//! - Lists page one way (`GET /me/audit`, `GET /admin/users`,
//!   `GET /admin/audit`): `?page=&per_page=` (1-based, default 1 and 50,
//!   at most 100) answered with [`Page`](crate::Page)'s
//!   `{items, page, per_page, next_page}`, `next_page` `null` on the last
//!   page.
//! - Organisation routes (`/orgs...`, `/invites/accept`) read the caller's
//!   membership fresh from the store: a non-member gets 404 `not_found`,
//!   a member without the organisation permission 403 `forbidden`; the
//!   last OWNER is never demoted or removed (409 `last_owner`). Admin
//!   routes (`/admin/...`) check the caller's global permission first (403
//!   `forbidden`), before reading the request. See the service methods on
//!   [`Auth`] for each rule.
//! - `POST /password/change` without a token, with `{email,
//!   current_password, new_password}`, is how an account whose login
//!   answered `password_change_required` sets its new password; it answers
//!   200 with a token pair. For every other account it answers 401
//!   `invalid_credentials`, like a wrong password, and changes nothing. An
//!   account with MFA gets the MFA challenge (`{mfa_required: true,
//!   mfa_token, methods}`) instead, and the new password is set only by a
//!   successful `POST /mfa/verify` with that token.
//! - Password re-checks (`POST /password/change` with a token, `POST
//!   /me/deactivate`, `POST /mfa/totp/disable {password}`, `DELETE
//!   /me/identities {provider, password}`) are throttled per account and
//!   per IP (429 `rate_limited`), count failures toward the login lockout,
//!   and answer 403 `account_locked` to the right password of a locked
//!   account (401 `invalid_credentials` to a wrong one).
//! - The client address recorded on sessions and audit records is the
//!   socket peer, or, when the peer is in
//!   [`trusted_proxies`](ApiConfig::trusted_proxies), the right-most
//!   untrusted address of the one header named by
//!   [`proxy_header`](ApiConfig::proxy_header) (`X-Forwarded-For` by
//!   default, or `Forwarded`); the other header is ignored.
//! - MFA: while [`MfaConfig::enabled`](crate::MfaConfig::enabled) is off,
//!   every `/mfa/...` route answers 404 `feature_disabled` before reading
//!   the request. A login of an account with MFA answers 200
//!   `{mfa_required: true, mfa_token, methods}`; one whose role demands
//!   MFA it lacks answers 200 `{mfa_enrollment_required: true, mfa_token}`,
//!   and enrols with `POST /mfa/enroll/totp/setup {mfa_token}` then
//!   `POST /mfa/enroll/totp/enable {mfa_token, code}`, which answers the
//!   token pair plus `backup_codes` (and sets the cookies in cookie mode,
//!   like `POST /mfa/verify`). A `method` that is not one of `totp`,
//!   `backup_code`, `email`, `sms` is 422 `validation_failed` with an
//!   `invalid_choice` field error. `POST /mfa/challenge` and
//!   `POST /phone/verify/start` answer 202 `{"status": "accepted"}`.
//! - Social login (`/oauth/{provider}/start`, `/oauth/{provider}/callback`,
//!   `/me/identities`): see [`crate::social`]. An unknown provider answers 404 `not_found`; a bad
//!   `state` 400 `oauth_state_invalid`; a refused link 409
//!   `account_exists_unverified` or `identity_taken`; a failing provider
//!   502 `oauth_provider_error`; a bad ID token 401 `oauth_token_invalid`.
//!   The start sets the browser-binding cookie [`OAUTH_COOKIE`], which the
//!   callback requires and clears; the callback answers JSON, or in
//!   cookie mode 302 to `redirect_to` with the session cookies.
//! - Cookie mode: see [`cookies`].
//! - `POST /token/introspect` (RFC 7662) needs an authenticated caller:
//!   the [`IntrospectionClient`] by HTTP Basic, or a principal holding
//!   [`TOKENS_INTROSPECT`](crate::roles::TOKENS_INTROSPECT) (401
//!   `token_invalid` without credentials, 403 `forbidden` without the
//!   permission, before the body is read). It reads the RFC's
//!   `application/x-www-form-urlencoded` form or JSON, `token` and an
//!   optional `token_type_hint`, and introspects access and refresh tokens
//!   (see [`Auth::introspect`]).
//! - Every answer carries `X-Content-Type-Options: nosniff`,
//!   `Referrer-Policy: no-referrer`, `Content-Security-Policy: default-src
//!   'none'; frame-ancestors 'none'`, `Cache-Control: no-store` (the JWKS
//!   and the OpenAPI document excepted: they are public and briefly
//!   cacheable) and, when [`public_url`](crate::AuthConfig::public_url) is
//!   `https://`, `Strict-Transport-Security` (see [`Api::secured`]).
//!
//! # Example
//!
//! ```
//! use authkit_core::api::{Api, ApiConfig};
//! use authkit_core::{Auth, AuthConfig};
//! use authkit_core::store::{MemoryStore, Store};
//! use bytes::Bytes;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let auth = Auth::builder(AuthConfig::default(), Store::new(MemoryStore::new()))
//!     .build()
//!     .await?;
//! let api = Api::new(auth, ApiConfig::default())?;
//!
//! let request = http::Request::post("/token")
//!     .header("content-type", "application/json")
//!     .body(Bytes::from_static(br#"{"email": "nobody@example.com", "password": "x"}"#))?;
//! let response = api.handle(request, Some("203.0.113.9".parse()?)).await;
//! assert_eq!(response.status(), 401);
//! assert_eq!(response.headers()["content-type"], "application/problem+json");
//! # Ok(())
//! # }
//! ```

mod admin;
mod authentication;
mod client_ip;
mod config;
pub mod cookies;
pub(crate) mod handlers;
pub(crate) mod input;
mod introspection;
mod oauth;
pub(crate) mod openapi;
mod orgs;
pub(crate) mod problem;
pub(crate) mod query;
mod request_id;
pub(crate) mod routes;
mod security_headers;

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http::header::{AUTHORIZATION, CACHE_CONTROL, USER_AGENT};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use tracing::Instrument as _;

pub use authentication::{Authentication, ORG_SLUG_PARAM, Permission};
pub use client_ip::{IpNet, ProxyHeader, TrustedProxies};
pub use config::{
    ApiConfig, DEFAULT_BODY_LIMIT, IntrospectionClient, MAX_BODY_LIMIT, MIN_CLIENT_SECRET, SameSite,
};
pub use oauth::OAUTH_COOKIE;
pub use problem::{PROBLEM_JSON, error_response, payload_too_large, status_and_title};
pub use request_id::REQUEST_ID;

use crate::audit::RequestMeta;
use crate::auth::Auth;
use crate::config::ConfigError;
use crate::error::{AuthError, AuthResult};
use crate::principal::Principal;
use problem::Failure;
use routes::{JWKS_PATH, Resolved};

/// The HTTP API over one [`Auth`] service. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Api {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    auth: Auth,
    config: ApiConfig,
    /// The OpenAPI document as served, generated at its first request.
    openapi: OnceLock<Bytes>,
}

impl From<Auth> for Api {
    /// The API with [`ApiConfig::default`].
    fn from(auth: Auth) -> Self {
        Self {
            inner: Arc::new(Inner {
                auth,
                config: ApiConfig::default(),
                openapi: OnceLock::new(),
            }),
        }
    }
}

impl Api {
    /// The API over `auth` with `config`.
    ///
    /// # Errors
    /// An invalid `config` (see [`ApiConfig::validate`]).
    pub fn new(auth: Auth, config: ApiConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self {
            inner: Arc::new(Inner {
                auth,
                config,
                openapi: OnceLock::new(),
            }),
        })
    }

    /// The service behind the API.
    pub fn auth(&self) -> &Auth {
        &self.inner.auth
    }

    /// The HTTP settings.
    pub fn config(&self) -> &ApiConfig {
        &self.inner.config
    }

    /// The OpenAPI 3.1 document of the routes this API serves (the one at
    /// `GET <mount>/openapi.json`), generated from the features' route
    /// tables and their request and answer types. A host can merge it into
    /// the document of its own routes
    /// ([`OpenApi::merge`](utoipa::openapi::OpenApi::merge)).
    pub fn openapi(&self) -> utoipa::openapi::OpenApi {
        openapi::document(&routes::TABLES, &self.config().mount_path)
    }

    /// The served document, serialized once.
    fn openapi_json(&self) -> Bytes {
        self.inner
            .openapi
            .get_or_init(|| match self.openapi().to_json() {
                Ok(json) => Bytes::from(json),
                Err(err) => {
                    // Generated from types: never fails in practice.
                    tracing::error!(error = %err, "the OpenAPI document did not serialize");
                    Bytes::from_static(b"{}")
                }
            })
            .clone()
    }

    /// Serves one request. Its path is relative to the mount point
    /// (`/token`, not `/auth/token`); `peer` is the socket peer's address.
    /// Never panics and never answers 500 for bad input.
    ///
    /// Runs in a `tracing` span `authkit_request` with the request id (see
    /// [`REQUEST_ID`]: the caller's `X-Request-Id`, else a new one, echoed
    /// in the response) and the flow (`endpoint`).
    pub async fn handle(&self, request: Request<Bytes>, peer: Option<IpAddr>) -> Response<Bytes> {
        let request_id = request_id::of(request.headers());
        let span = tracing::info_span!(
            "authkit_request",
            request_id = %request_id,
            method = %request.method(),
            endpoint = tracing::field::Empty,
        );
        let mut response = async {
            let outcome = match routes::resolve(request.method(), request.uri().path()) {
                Resolved::Found(endpoint, params) => {
                    tracing::Span::current().record("endpoint", tracing::field::debug(endpoint));
                    let meta = self.request_meta(&request, peer);
                    self.dispatch(endpoint, &params, &request, &meta).await
                }
                Resolved::MethodNotAllowed(allow) => Err(Failure::MethodNotAllowed(allow)),
                Resolved::NotFound => Err(Failure::Auth(AuthError::NotFound)),
            };
            outcome.unwrap_or_else(Failure::into_response)
        }
        .instrument(span)
        .await;
        request_id::echo(response.headers_mut(), &request_id);
        self.secured(response)
    }

    /// `response` with the security headers every API answer carries
    /// (`Cache-Control`, `X-Content-Type-Options`, `Referrer-Policy`,
    /// `Content-Security-Policy`, and `Strict-Transport-Security` when
    /// [`public_url`](crate::AuthConfig::public_url) is `https://`; see the
    /// README). [`handle`](Self::handle) and
    /// [`well_known`](Self::well_known) add them already; adapters pass
    /// the answers they make themselves (an oversized body) through it.
    pub fn secured(&self, mut response: Response<Bytes>) -> Response<Bytes> {
        let https = self.auth().config().public_url.starts_with("https://");
        security_headers::apply(response.headers_mut(), https);
        response
    }

    /// Serves the root-level routes: `GET /.well-known/jwks.json` (paths
    /// here are absolute).
    pub fn well_known(&self, request: &Request<Bytes>) -> Response<Bytes> {
        let response = if request.uri().path() != JWKS_PATH {
            error_response(&AuthError::NotFound)
        } else if request.method() != Method::GET {
            Failure::MethodNotAllowed("GET".to_owned()).into_response()
        } else {
            let mut response = problem::json(StatusCode::OK, &self.auth().keys().jwks());
            // Public keys: caches may keep them briefly (new keys are
            // published well before they sign).
            response.headers_mut().insert(
                CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=60"),
            );
            response
        };
        self.secured(response)
    }

    /// The caller of a request: `Ok(None)` without credentials, the
    /// principal for a valid bearer token (or access cookie in cookie
    /// mode). A state-changing request authenticated by cookie must pass
    /// the CSRF check.
    ///
    /// # Errors
    /// `TokenInvalid` (also for an access cookie sent twice, see
    /// [`cookies`]), `TokenExpired`; `Forbidden` for a failed CSRF check.
    pub fn authenticate(
        &self,
        method: &Method,
        headers: &HeaderMap,
    ) -> AuthResult<Option<Principal>> {
        if let Some(value) = headers.get(AUTHORIZATION) {
            let value = value.to_str().map_err(|_| AuthError::TokenInvalid)?;
            let (scheme, token) = value
                .trim()
                .split_once(' ')
                .ok_or(AuthError::TokenInvalid)?;
            let token = token.trim();
            if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
                return Err(AuthError::TokenInvalid);
            }
            return self.auth().authenticate(token).map(Some);
        }
        let config = self.config();
        if !config.cookie_mode {
            return Ok(None);
        }
        let Some(token) =
            cookies::read(headers, cookies::ACCESS_COOKIE).map_err(|_| AuthError::TokenInvalid)?
        else {
            return Ok(None);
        };
        if cookies::is_state_changing(method)
            && !cookies::origin_allowed(headers, &config.csrf_allowed_origins)
        {
            return Err(AuthError::Forbidden);
        }
        self.auth().authenticate(token).map(Some)
    }

    /// The client address and user agent of a request from `peer`.
    pub fn request_meta<B>(&self, request: &Request<B>, peer: Option<IpAddr>) -> RequestMeta {
        let config = self.config();
        let ip = config
            .trusted_proxies
            .client_ip(peer, request.headers(), config.proxy_header);
        let user_agent = request
            .headers()
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        RequestMeta::new(ip.map(|ip| ip.to_string()), user_agent)
    }

    /// The CSRF check of a request authenticated by cookie.
    fn check_csrf(&self, request: &Request<Bytes>) -> Result<(), Failure> {
        if cookies::origin_allowed(request.headers(), &self.config().csrf_allowed_origins) {
            Ok(())
        } else {
            Err(AuthError::Forbidden.into())
        }
    }
}

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;
