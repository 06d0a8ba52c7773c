//! authkit-core: the domain of authkit, an embeddable authentication and
//! authorization library.
//!
//! This crate has no web framework and no SQL driver. It is cut by feature:
//!
//! - the [`Auth`] service keeps the core flows (register, login, refresh,
//!   logout, [`authenticate`](Auth::authenticate), `me`, introspection) as
//!   typed async calls returning [`AuthResult`], and hands out one handle
//!   per feature: [`sessions`](Auth::sessions), [`signup`](Auth::signup),
//!   [`email`](Auth::email), [`passwords`](Auth::passwords),
//!   [`account`](Auth::account) (all in [`account`]), [`mfa`](Auth::mfa)
//!   ([`mfa`]), [`phone`](Auth::phone) ([`phone`]), [`orgs`](Auth::orgs)
//!   ([`orgs`]), [`admin`](Auth::admin) ([`admin`]),
//!   [`social`](Auth::social) ([`social`]: Google, GitHub, any OpenID
//!   Connect provider) and [`keys`](Auth::keys) (signing-key rotation);
//! - each feature folder holds its handle, its store trait, its in-memory
//!   tables and its conformance checks; [`audit`] holds the events;
//! - authorization: [`roles`] (global and organisation role maps),
//!   [`principal`] with the guards [`require_permission`],
//!   [`require_any`], [`require_all`] and [`require_org_permission`], which
//!   read the access token only;
//! - shared infrastructure, usable on its own: [`password`] (argon2id,
//!   Django hash import, policy), [`token`] (keys, JWKS, access tokens),
//!   [`rate_limit`], [`mail`] (console, in-memory and, with feature `smtp`,
//!   SMTP mailers; a retrying queue), [`sms`], [`revocation`] (the
//!   revoked-session list `authenticate` consults from memory, so logout and
//!   revocation take effect at once), [`telemetry`] (the metrics every flow
//!   records through the `metrics` facade, and the `tracing` spans);
//! - the [`store`] traits (the base contract every backend writes), an
//!   in-memory store, and (feature `testing`) the conformance suite every
//!   store backend runs;
//! - the [`api`] layer: the HTTP API, framework-neutral (`http` types in,
//!   `http` types out), one typed route table per feature and the OpenAPI
//!   document generated from them, which adapters (`authkit-axum`,
//!   `authkit-actix`) only translate to their framework.
//!
//! SQL stores live in `authkit-sqlx`.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use authkit_core::{Auth, AuthConfig, Registration, RequestMeta};
//! use authkit_core::mail::MemoryMailer;
//! use authkit_core::store::{MemoryStore, Store};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mailer = Arc::new(MemoryMailer::default());
//! let auth = Auth::builder(AuthConfig::default(), Store::new(MemoryStore::new()))
//!     .mailer(mailer.clone())
//!     .build()
//!     .await?;
//! let registered = auth
//!     .register(Registration::new("ada@example.com", "correct horse battery staple"),
//!               &RequestMeta::default())
//!     .await?;
//! assert!(registered.verification_sent);
//! assert_eq!(mailer.count(), 1); // the link and code went to ada@example.com
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

pub mod account;
pub mod admin;
pub mod api;
pub mod audit;
mod auth;
pub mod clock;
pub mod config;
pub mod delivery;
pub mod email;
pub mod error;
#[cfg(any(feature = "twilio", feature = "oauth"))]
mod http_client;
pub mod mail;
pub mod mfa;
pub mod one_time;
pub mod orgs;
pub mod password;
pub mod phone;
pub mod principal;
pub mod rate_limit;
pub mod revocation;
pub mod roles;
pub mod secret;
pub mod session;
pub mod sms;
pub mod social;
pub mod store;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub mod token;
pub mod user;

pub use account::AccountConfig;
pub use audit::RequestMeta;
pub use auth::{
    AdminUser, AdminUserDetail, AuditFilter, Auth, AuthBuilder, Credentials, DataExport, EventHook,
    IdentityList, ImportedUser, Introspection, LoginOutcome, MAX_LOCK_REASON, MAX_PER_PAGE,
    MAX_TOKEN_ORGS, Me, MfaChallenge, MfaEnrollment, MfaSummary, MyOrg, NewAdmin, OAuthCallback,
    OAuthOutcome, OAuthResult, OAuthStart, Page, ProfileUpdate, Registered, Registration,
    RegistrationChallenge, TokenPair, TokenTypeHint, TotpDisable, TotpEnrolled, TotpSetup,
};
pub use config::{AuthConfig, AuthConfigBuilder, ConfigError};
pub use error::{AuthError, AuthResult, FieldError};
pub use mfa::MfaConfig;
pub use orgs::OrgsConfig;
pub use phone::PhoneConfig;
pub use principal::{
    Principal, require_all, require_any, require_org_permission, require_permission,
};
