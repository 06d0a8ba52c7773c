//! authkit for actix-web.
//!
//! The HTTP API itself lives in `authkit-core` ([`authkit_core::api`]),
//! over the framework-neutral `http` types; this crate only translates
//! actix-web's requests and responses:
//!
//! - [`configure`] mounts the API under
//!   [`ApiConfig::mount_path`] (`/auth` by default) and
//!   `/.well-known/jwks.json` at the root, for `App::configure`; [`scope`]
//!   and [`well_known`] are its two halves;
//! - [`AuthMiddleware`] authenticates each request once (bearer token, or
//!   the access cookie in cookie mode) and leaves the
//!   [`Authentication`] in the request extensions;
//! - the extractors [`AuthUser`], [`MaybeAuthUser`] and
//!   [`HasPermission`], and the [`RequirePermission`] middleware, protect
//!   the host application's own routes with it by global permission;
//!   [`HasOrgPermission`] and the [`RequireOrgPermission`] middleware by
//!   organisation permission, in the organisation the `{slug}` path
//!   segment names (404 for non-members, 403 without the permission);
//! - [`ApiError`] turns an [`AuthError`](authkit_core::AuthError) raised
//!   in your handlers into the same problem+json answer the API gives.
//!
//! Bodies over [`ApiConfig::body_limit`] answer 413 before the API reads
//! them. The client address (sessions, audit, per-IP throttling) is the
//! socket peer; behind a reverse proxy, list it in
//! [`ApiConfig::trusted_proxies`].
//!
//! # Example
//!
//! ```
//! use actix_web::{App, HttpResponse, test, web};
//! use authkit_actix::{
//!     ApiError, AuthMiddleware, AuthUser, HasOrgPermission, RequireOrgPermission,
//!     RequirePermission,
//! };
//! use authkit_core::api::{Api, ApiConfig};
//! use authkit_core::store::{MemoryStore, Store};
//! use authkit_core::{Auth, AuthConfig};
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
//! // `/api/orgs/{slug}/reports`: members of that organisation whose role
//! // grants `org.view` there; others get 404 (not a member) or 403.
//! async fn reports(guard: HasOrgPermission<ViewReports>) -> String {
//!     format!("reports of {} (you are {})", guard.org().slug, guard.org().role)
//! }
//!
//! async fn stats(AuthUser(user): AuthUser) -> Result<HttpResponse, ApiError> {
//!     // Fine-grained checks in a handler answer like the API does.
//!     authkit_core::require_permission(&user, "internal.audit.read")?;
//!     Ok(HttpResponse::Ok().body("stats"))
//! }
//!
//! #[actix_web::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let auth = Auth::builder(AuthConfig::default(), Store::new(MemoryStore::new()))
//!         .build()
//!         .await?;
//!     let api = Api::new(auth, ApiConfig::default())?;
//!
//!     // In a real app: `HttpServer::new(move || App::new()...)`.
//!     let app = test::init_service(
//!         App::new()
//!             .configure(authkit_actix::configure(api.clone()))
//!             .service(
//!                 web::scope("/api")
//!                     // Authenticates once for every route of the scope.
//!                     .wrap(AuthMiddleware::new(api.clone()))
//!                     .route("/hello", web::get().to(hello))
//!                     .service(
//!                         web::scope("/admin")
//!                             .wrap(RequirePermission::new("internal.users.read"))
//!                             .route("/stats", web::get().to(stats)),
//!                     )
//!                     .route("/orgs/{slug}/reports", web::get().to(reports))
//!                     .service(
//!                         // The middleware form: `member.view` in the
//!                         // organisation the scope's `{slug}` names.
//!                         web::scope("/teams/{slug}")
//!                             .wrap(RequireOrgPermission::new("member.view"))
//!                             .route("/roster", web::get().to(hello)),
//!                     ),
//!             ),
//!     )
//!     .await;
//!
//!     let anonymous = test::TestRequest::get().uri("/api/hello").to_request();
//!     let response = test::call_service(&app, anonymous).await;
//!     assert_eq!(response.status(), 401);
//!
//!     let jwks = test::TestRequest::get().uri("/.well-known/jwks.json").to_request();
//!     assert_eq!(test::call_service(&app, jwks).await.status(), 200);
//!     Ok(())
//! }
//! ```
#![forbid(unsafe_code)]

mod extract;
mod middleware;
mod service;
mod translate;

pub use authkit_core::api::{Api, ApiConfig, Authentication, Permission};
pub use extract::{ApiError, AuthUser, HasOrgPermission, HasPermission, MaybeAuthUser};
pub use middleware::{
    AuthMiddleware, AuthMiddlewareService, RequireOrgPermission, RequireOrgPermissionService,
    RequirePermission, RequirePermissionService,
};
pub use service::{configure, scope, well_known};
