//! authkit for axum.
//!
//! The HTTP API itself lives in `authkit-core` ([`authkit_core::api`]),
//! over the framework-neutral `http` types; this crate only translates:
//!
//! - [`router`] serves the API as an [`axum::Router`] to nest anywhere
//!   (`/auth` by default — tell [`ApiConfig::mount_path`] if you pick
//!   another), and [`well_known`] serves `/.well-known/jwks.json` at the
//!   root;
//! - [`AuthLayer`] authenticates each request once (bearer token, or the
//!   access cookie in cookie mode) and leaves the outcome in the request
//!   extensions;
//! - the extractors [`AuthUser`], [`MaybeAuthUser`] and
//!   [`HasPermission`], and the [`RequirePermission`] layer, protect the
//!   host application's own routes with it by global permission;
//!   [`HasOrgPermission`] and the [`RequireOrgPermission`] layer by
//!   organisation permission, in the organisation the `{slug}` path
//!   parameter names (404 for non-members, 403 without the permission);
//! - [`ApiError`] turns an [`AuthError`](authkit_core::AuthError) raised in your handlers into the
//!   same problem+json answer the API gives.
//!
//! Serve with `into_make_service_with_connect_info::<SocketAddr>()` so the
//! client address (sessions, audit, per-IP throttling) is known; behind a
//! reverse proxy, list it in [`ApiConfig::trusted_proxies`].
//!
//! # Example
//!
//! ```no_run
//! use std::net::SocketAddr;
//!
//! use authkit_axum::{
//!     ApiError, AuthLayer, AuthUser, HasOrgPermission, RequireOrgPermission, RequirePermission,
//! };
//! use authkit_core::api::{Api, ApiConfig};
//! use authkit_core::store::{MemoryStore, Store};
//! use authkit_core::{Auth, AuthConfig};
//! use axum::Router;
//! use axum::routing::get;
//!
//! async fn hello(AuthUser(user): AuthUser) -> String {
//!     format!("hello {}", user.user_id)
//! }
//!
//! struct ViewReports;
//! impl authkit_core::api::Permission for ViewReports {
//!     const NAME: &'static str = "org.view";
//! }
//!
//! // `/orgs/{slug}/reports`: members of that organisation whose role
//! // grants `org.view` there; others get 404 (not a member) or 403.
//! async fn reports(guard: HasOrgPermission<ViewReports>) -> String {
//!     format!("reports of {} (you are {})", guard.org().slug, guard.org().role)
//! }
//!
//! async fn stats(AuthUser(user): AuthUser) -> Result<String, ApiError> {
//!     // Fine-grained checks in a handler answer like the API does.
//!     authkit_core::require_permission(&user, "internal.audit.read")?;
//!     Ok("stats".into())
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let auth = Auth::builder(AuthConfig::from_env()?, Store::new(MemoryStore::new()))
//!         .build()
//!         .await?;
//!     let api = Api::new(auth, ApiConfig::from_env()?)?;
//!
//!     let admin = Router::new()
//!         .route("/api/admin/stats", get(stats))
//!         .layer(RequirePermission::layer("internal.users.read"));
//!     // The layer form: every route of this router needs `member.view` in
//!     // the organisation of its `{slug}` (`route_layer`: after routing).
//!     let org_admin = Router::new()
//!         .route("/api/orgs/{slug}/roster", get(hello))
//!         .route_layer(RequireOrgPermission::layer("member.view"));
//!     let app = Router::new()
//!         .route("/api/hello", get(hello))
//!         .route("/api/orgs/{slug}/reports", get(reports))
//!         .merge(admin)
//!         .merge(org_admin)
//!         // Outermost: authenticates once for every route above.
//!         .layer(AuthLayer::new(api.clone()))
//!         .nest("/auth", authkit_axum::router(api.clone()))
//!         .merge(authkit_axum::well_known(api));
//!
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//!     axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await?;
//!     Ok(())
//! }
//! ```
#![forbid(unsafe_code)]

mod extract;
mod layer;
mod routes;

pub use authkit_core::api::{Api, ApiConfig, Authentication, Permission};
pub use extract::{ApiError, AuthUser, HasOrgPermission, HasPermission, MaybeAuthUser};
pub use layer::{
    AuthLayer, AuthService, RequireOrgPermission, RequireOrgPermissionLayer,
    RequireOrgPermissionService, RequirePermission, RequirePermissionLayer,
    RequirePermissionService,
};
pub use routes::{router, well_known};
