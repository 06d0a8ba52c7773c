//! Social login: Google, GitHub and any OpenID Connect provider.
//!
//! - [`OAuthProvider`] is what a provider must do: build the authorization
//!   URL of one sign-in, then turn the callback's `code` into a verified
//!   [`ProviderIdentity`]. Implement it for anything exotic.
//! - Built in (cargo feature `oauth`, over reqwest and rustls like the
//!   Twilio sender): `OidcProvider` for any issuer found by discovery
//!   (Keycloak, Auth0, Okta, Microsoft...; Google is one with its issuer
//!   preset), the ID token verified against the issuer's JWKS, and
//!   `GitHubProvider` (OAuth 2.0, then `/user` and `/user/emails` for the
//!   primary verified email).
//! - [`OAuthConfig`] configures them from `AUTHKIT_GOOGLE_*`,
//!   `AUTHKIT_GITHUB_*` and `AUTHKIT_OIDC_<NAME>_*` variables or by hand;
//!   [`AuthBuilder::oauth`](crate::AuthBuilder::oauth) installs them.
//!
//! The flow itself lives in the service ([`Social::start`](crate::social::Social::start) and
//! [`Social::callback`](crate::social::Social::callback)): authorization code with PKCE S256 (a fresh
//! verifier per sign-in), a signed, expiring, single-use `state` bound to
//! the browser by a cookie and to the provider and its issuer, a `nonce`
//! checked in the ID token, exact redirect URIs, and `redirect_to` checked
//! against an allow-list ([`RedirectPolicy`]).
//!
//! [`Social::start`](crate::social::Social::start): crate::Auth::oauth_start
//! [`Social::callback`](crate::social::Social::callback): crate::Auth::oauth_callback
//!
//! # Example: a host app with Google and a company Keycloak
//!
//! ```no_run
//! # #[cfg(feature = "oauth")]
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use authkit_core::social::OAuthConfig;
//! use authkit_core::store::{MemoryStore, Store};
//! use authkit_core::{Auth, AuthConfig};
//!
//! // AUTHKIT_GOOGLE_CLIENT_ID=...apps.googleusercontent.com
//! // AUTHKIT_GOOGLE_CLIENT_SECRET=...
//! // AUTHKIT_OIDC_KEYCLOAK_ISSUER=https://sso.example.com/realms/staff
//! // AUTHKIT_OIDC_KEYCLOAK_CLIENT_ID=authkit
//! // AUTHKIT_OIDC_KEYCLOAK_CLIENT_SECRET=...
//! // AUTHKIT_OAUTH_REDIRECT_ORIGINS=https://app.example.com
//! let auth = Auth::builder(AuthConfig::from_env()?, Store::new(MemoryStore::new()))
//!     .oauth(OAuthConfig::from_env()?)
//!     .build()
//!     .await?;
//! // Browsers now sign in at GET /auth/oauth/google/start and
//! // GET /auth/oauth/keycloak/start.
//! # let _ = auth;
//! # Ok(())
//! # }
//! ```

mod config;
#[cfg(feature = "testing")]
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub(crate) mod conformance;
#[cfg(feature = "oauth")]
mod github;
mod id_token;
pub(crate) mod memory;
#[cfg(feature = "oauth")]
mod oidc;
mod pkce;
mod redirect;
pub(crate) mod routes;
mod service;
mod store;
#[cfg(feature = "oauth")]
mod transport;

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub use config::{OAuthConfig, ProviderKind, ProviderSettings};
#[cfg(feature = "oauth")]
pub use github::GitHubProvider;
pub use id_token::{IdTokenCheck, verify_id_token};
#[cfg(feature = "oauth")]
pub use oidc::OidcProvider;
pub use pkce::code_challenge;
pub use redirect::RedirectPolicy;
pub(crate) use service::OAuthRegistry;
pub use service::{IdentityList, OAuthCallback, OAuthOutcome, OAuthResult, OAuthStart, Social};
pub use store::{
    Identity, IdentityStore, LinkOutcome, MAX_PROVIDER_LEN, MAX_SUBJECT_LEN, UnlinkOutcome,
};

use crate::error::AuthResult;

/// What the provider is asked for when a sign-in starts.
#[derive(Clone)]
pub struct AuthorizationRequest {
    /// The signed `state` to send (echoed back on the callback).
    pub state: String,
    /// PKCE S256 challenge of this sign-in's verifier.
    pub code_challenge: String,
    /// OpenID Connect `nonce` (ignored by plain OAuth 2.0 providers).
    pub nonce: String,
}

impl fmt::Debug for AuthorizationRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationRequest")
            .finish_non_exhaustive()
    }
}

/// What the callback hands the provider to finish a sign-in.
#[derive(Clone)]
pub struct CodeExchange {
    /// The authorization code from the callback.
    pub code: String,
    /// This sign-in's PKCE verifier.
    pub code_verifier: String,
    /// The `nonce` the ID token must carry.
    pub nonce: String,
    /// The service's clock, for ID-token expiry.
    pub now: DateTime<Utc>,
}

impl fmt::Debug for CodeExchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CodeExchange")
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

/// The person a provider vouched for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderIdentity {
    /// The provider's stable id of the person (`sub`, GitHub's numeric id).
    pub subject: String,
    /// The email address the provider reported, if any.
    pub email: Option<String>,
    /// Whether the provider says it verified that address.
    pub email_verified: bool,
    /// Display name.
    pub name: Option<String>,
    /// Avatar URL.
    pub picture: Option<String>,
}

/// One identity provider. Object safe; the service holds them as
/// `Arc<dyn OAuthProvider>` by [`name`](Self::name).
#[async_trait]
pub trait OAuthProvider: Send + Sync + fmt::Debug {
    /// The route name: `GET /oauth/{name}/start`. Lowercase letters,
    /// digits, `-` and `_`.
    fn name(&self) -> &str;

    /// Who issues the identities (the OpenID Connect issuer, or the
    /// provider's origin). Sign-ins are bound to it: a `state` started
    /// with one issuer is refused by another (mix-up defence), and an `iss`
    /// callback parameter (RFC 9207) must equal it.
    fn issuer(&self) -> &str;

    /// The URL to send the browser to, with the exact configured redirect
    /// URI, the scopes, `state`, the PKCE challenge (S256) and, for OpenID
    /// Connect, the `nonce`.
    ///
    /// # Errors
    /// `OAuthProviderError` when discovery fails.
    async fn authorization_url(&self, request: &AuthorizationRequest) -> AuthResult<String>;

    /// Redeems the code (sending the PKCE verifier) and answers the
    /// verified identity.
    ///
    /// # Errors
    /// `OAuthProviderError` for unreachable, slow or failing endpoints;
    /// `OAuthTokenInvalid` for an ID token that fails verification.
    async fn exchange(&self, exchange: &CodeExchange) -> AuthResult<ProviderIdentity>;
}

/// Whether `name` can be a provider's route name.
pub(crate) fn valid_provider_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= crate::store::MAX_PROVIDER_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}
