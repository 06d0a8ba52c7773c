//! Social sign-in and provider identities: starting a sign-in (or a link),
//! finishing it on the callback, listing and unlinking identities.
//!
//! Rules:
//! - a sign-in finds its account by (provider, subject) only;
//! - with no identity yet, an account with the provider's email is linked
//!   only when the provider says the email is verified AND the account's
//!   email is verified; otherwise `AccountExistsUnverified` (409
//!   `account_exists_unverified`) and nothing changes;
//! - with no such account, one is created (unless auto-registration is
//!   off), its email verified when the provider says so;
//! - a signed-in owner links providers explicitly; unlinking the last way
//!   to sign in (no password, one identity) is refused.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::account::{LoginOutcome, clean_display_name, valid_url};
use crate::audit::{AuthEvent, RequestMeta};
use crate::auth::Auth;
use crate::config::AuthConfig;
use crate::email::Email;
use crate::error::{AuthError, AuthResult};
use crate::one_time::{OneTimeToken, Purpose};
use crate::principal::Principal;
use crate::rate_limit::RateAction;
use crate::secret::{self, TokenHash, ct_eq, hmac_sha256};
use crate::social::{
    AuthorizationRequest, CodeExchange, OAuthConfig, OAuthProvider, ProviderIdentity,
    RedirectPolicy, code_challenge,
};
use crate::store::{Identity, LinkOutcome, MAX_SUBJECT_LEN, UnlinkOutcome};
use crate::user::User;
use utoipa::ToSchema;

/// Longest `state` accepted (ours are 87 characters).
const MAX_STATE: usize = 256;
/// Longest authorization code accepted.
const MAX_CODE: usize = 4096;

/// The installed providers and the flow's settings.
pub(crate) struct OAuthRegistry {
    providers: HashMap<String, Arc<dyn OAuthProvider>>,
    redirects: RedirectPolicy,
    state_ttl: Duration,
}

impl OAuthRegistry {
    /// Builds the configured providers (feature `oauth`) plus `custom`.
    pub(crate) fn new(
        config: &AuthConfig,
        oauth: OAuthConfig,
        custom: Vec<Arc<dyn OAuthProvider>>,
    ) -> AuthResult<Self> {
        oauth.validate().map_err(AuthError::internal)?;
        let mut providers: HashMap<String, Arc<dyn OAuthProvider>> = HashMap::new();
        for settings in &oauth.providers {
            let provider = build_provider(settings, &oauth)?;
            providers.insert(settings.name.clone(), provider);
        }
        for provider in custom {
            if !crate::social::valid_provider_name(provider.name()) {
                return Err(AuthError::internal_msg(format!(
                    "invalid OAuth provider name `{}`",
                    provider.name()
                )));
            }
            if providers.contains_key(provider.name()) {
                return Err(AuthError::internal_msg(format!(
                    "OAuth provider `{}` is installed twice",
                    provider.name()
                )));
            }
            providers.insert(provider.name().to_owned(), provider);
        }
        Ok(Self {
            providers,
            redirects: RedirectPolicy::new(&config.public_url, &oauth.redirect_origins)?,
            state_ttl: oauth.state_ttl,
        })
    }
}

#[cfg(feature = "oauth")]
fn build_provider(
    settings: &crate::social::ProviderSettings,
    oauth: &OAuthConfig,
) -> AuthResult<Arc<dyn OAuthProvider>> {
    use crate::social::{GitHubProvider, OidcProvider, ProviderKind};
    Ok(match settings.kind {
        ProviderKind::Oidc => Arc::new(OidcProvider::new(settings.clone(), oauth.http_timeout)?),
        ProviderKind::GitHub => {
            Arc::new(GitHubProvider::new(settings.clone(), oauth.http_timeout)?)
        }
    })
}

#[cfg(not(feature = "oauth"))]
fn build_provider(
    settings: &crate::social::ProviderSettings,
    _: &OAuthConfig,
) -> AuthResult<Arc<dyn OAuthProvider>> {
    Err(AuthError::internal_msg(format!(
        "OAuth provider `{}` is configured but authkit-core was built without its `oauth` \
         feature",
        settings.name
    )))
}

/// A started sign-in: where to send the browser, and the value of the
/// cookie that binds the sign-in to that browser.
#[derive(Clone)]
pub struct OAuthStart {
    /// The provider's authorization URL.
    pub authorization_url: String,
    /// Secret value of the browser-binding cookie; the callback must
    /// present it.
    pub browser_binding: String,
    /// Seconds the sign-in stays valid.
    pub expires_in: i64,
}

impl fmt::Debug for OAuthStart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthStart")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// What the provider's redirect brought back, plus the browser's binding
/// cookie.
#[derive(Clone, Default)]
pub struct OAuthCallback {
    /// `code`.
    pub code: Option<String>,
    /// `state`.
    pub state: Option<String>,
    /// `iss` (RFC 9207), when the provider sends it.
    pub iss: Option<String>,
    /// `error`, when the provider refused.
    pub error: Option<String>,
    /// The browser-binding cookie's value.
    pub browser_binding: Option<String>,
}

impl fmt::Debug for OAuthCallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthCallback")
            .field("iss", &self.iss)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

/// What a callback achieved, and where the browser goes next.
#[derive(Debug, Clone)]
pub struct OAuthOutcome {
    /// The checked `redirect_to` of the start (or the public URL).
    pub redirect_to: String,
    /// Signed in, or linked.
    pub result: OAuthResult,
}

/// The two kinds of callback.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum OAuthResult {
    /// A sign-in: tokens, or a second-factor challenge.
    SignedIn(LoginOutcome),
    /// A link started by the signed-in owner.
    Linked(Identity),
}

/// `GET /me/identities`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IdentityList {
    /// The linked identities, oldest first.
    pub identities: Vec<Identity>,
    /// Whether the account has a password (so any identity may go).
    pub has_password: bool,
}

/// What the stored `state` remembers (no secret: the PKCE verifier and
/// the nonce are derived from the state with the server key).
#[derive(Debug, Serialize, Deserialize)]
struct StatePayload {
    provider: String,
    issuer: String,
    redirect_to: String,
    link_user: Option<Uuid>,
    /// Hex SHA-256 of the browser-binding cookie.
    browser: String,
}

impl Auth {
    /// Sign-in by (provider, subject), or by the linking rules.
    async fn social_sign_in(
        &self,
        provider: &str,
        identity: &ProviderIdentity,
        meta: &RequestMeta,
    ) -> AuthResult<LoginOutcome> {
        let store = &self.inner.store;
        let linked = store
            .identities
            .identity(provider, &identity.subject)
            .await?;
        let user = match linked {
            Some(linked) => self.user(linked.user_id).await?,
            None => self.first_sign_in(provider, identity, meta).await?,
        };
        let now = self.now();
        if user.is_locked(now) {
            return Err(AuthError::AccountLocked {
                until: user.lock_ends(now),
            });
        }
        if !user.is_active {
            return Err(AuthError::AccountInactive);
        }
        if self.inner.config.account.require_email_verification && !user.email_verified() {
            return Err(AuthError::EmailNotVerified);
        }
        self.emit(
            AuthEvent::SocialSignIn {
                user_id: user.id,
                provider: provider.to_owned(),
            },
            meta,
        )
        .await?;
        if let Some(challenge) = self.mfa_gate(&user, None, meta).await? {
            return Ok(challenge);
        }
        Ok(LoginOutcome::Tokens(self.open_session(&user, meta).await?))
    }

    /// No identity yet: link to the account with the email when both sides
    /// verified it, refuse when either did not, or create an account.
    async fn first_sign_in(
        &self,
        provider: &str,
        identity: &ProviderIdentity,
        meta: &RequestMeta,
    ) -> AuthResult<User> {
        let email = identity
            .email
            .as_deref()
            .and_then(|e| Email::parse(e).ok())
            .ok_or(AuthError::OAuthEmailMissing)?;
        let store = &self.inner.store;
        if let Some(local) = store.users.user_by_email(&email).await? {
            if !(identity.email_verified && local.email_verified()) {
                self.refuse_link(Some(local.id), provider, "account_exists_unverified", meta)
                    .await?;
                return Err(AuthError::AccountExistsUnverified);
            }
            return self
                .link_identity(&local, provider, identity, "verified_email", meta)
                .await
                .map(|()| local);
        }
        if !self.inner.config.account.allow_auto_registration {
            return Err(AuthError::RegistrationClosed);
        }
        let now = self.now();
        let mut user = User::new(email, now);
        if identity.email_verified {
            user.email_verified_at = Some(now);
        }
        user.display_name = identity
            .name
            .as_deref()
            .and_then(|n| clean_display_name(n).ok().flatten());
        user.avatar_url = identity.picture.clone().filter(|url| valid_url(url));
        store.users.create_user(&user).await?;
        self.emit(AuthEvent::UserRegistered { user_id: user.id }, meta)
            .await?;
        self.link_identity(&user, provider, identity, "registration", meta)
            .await?;
        if !user.email_verified() && self.inner.config.account.require_email_verification {
            self.send_verification(&user, meta).await?;
        }
        Ok(user)
    }

    /// A link started by the signed-in owner of `user_id`.
    async fn link_for_owner(
        &self,
        user_id: Uuid,
        provider: &str,
        identity: &ProviderIdentity,
        meta: &RequestMeta,
    ) -> AuthResult<Identity> {
        let user = self.user(user_id).await?;
        if !user.is_active {
            return Err(AuthError::AccountInactive);
        }
        self.link_identity(&user, provider, identity, "account", meta)
            .await?;
        self.inner
            .store
            .identities
            .identity(provider, &identity.subject)
            .await?
            .ok_or_else(|| AuthError::internal_msg("a linked identity vanished"))
    }

    /// Stores the identity on `user`; already linked to `user` is fine.
    async fn link_identity(
        &self,
        user: &User,
        provider: &str,
        identity: &ProviderIdentity,
        via: &str,
        meta: &RequestMeta,
    ) -> AuthResult<()> {
        let record = Identity {
            user_id: user.id,
            provider: provider.to_owned(),
            subject: identity.subject.clone(),
            email: identity.email.clone(),
            email_verified: identity.email_verified,
            linked_at: self.now(),
        };
        match self.inner.store.identities.link_identity(&record).await? {
            LinkOutcome::Linked => {
                self.emit(
                    AuthEvent::IdentityLinked {
                        user_id: user.id,
                        provider: provider.to_owned(),
                        via: via.to_owned(),
                    },
                    meta,
                )
                .await
            }
            LinkOutcome::SubjectTaken(owner) if owner == user.id => Ok(()),
            LinkOutcome::SubjectTaken(_) | LinkOutcome::ProviderTaken => {
                self.refuse_link(Some(user.id), provider, "identity_taken", meta)
                    .await?;
                Err(AuthError::IdentityTaken)
            }
        }
    }

    async fn refuse_link(
        &self,
        user_id: Option<Uuid>,
        provider: &str,
        reason: &str,
        meta: &RequestMeta,
    ) -> AuthResult<()> {
        self.emit(
            AuthEvent::IdentityLinkRefused {
                user_id,
                provider: provider.to_owned(),
                reason: reason.to_owned(),
            },
            meta,
        )
        .await
    }

    /// `{nonce}.{mac}`: the MAC binds the state to the provider, so a
    /// forged or re-targeted state is refused before the store is asked.
    fn sign_state(&self, provider: &str, nonce: &str) -> String {
        format!("{nonce}.{}", self.state_mac(provider, nonce))
    }

    fn state_signed_for(&self, provider: &str, state: &str) -> bool {
        let Some((nonce, mac)) = state.split_once('.') else {
            return false;
        };
        ct_eq(self.state_mac(provider, nonce).as_bytes(), mac.as_bytes())
    }

    fn state_mac(&self, provider: &str, nonce: &str) -> String {
        let message = format!("authkit/oauth-state\0{provider}\0{nonce}");
        URL_SAFE_NO_PAD.encode(hmac_sha256(
            &self.inner.config.secret_key,
            message.as_bytes(),
        ))
    }

    /// A per-sign-in secret derived from the state with the server key
    /// (`pkce`: the 43-character PKCE verifier; `nonce`: the OIDC nonce).
    /// Never stored; recomputed on the callback.
    fn derive(&self, state: &str, label: &str) -> String {
        let message = format!("authkit/oauth-{label}\0{state}");
        URL_SAFE_NO_PAD.encode(hmac_sha256(
            &self.inner.config.secret_key,
            message.as_bytes(),
        ))
    }
}

crate::auth::feature_handle! {
    /// Social sign-in and linked provider identities.
    Social, social
}

impl Social<'_> {
    /// Starts a sign-in with `provider` (`link_to` set: a link to that
    /// signed-in account). `redirect_to` is where the browser lands
    /// afterwards, checked against the allow-list.
    ///
    /// # Errors
    /// `NotFound` (unknown provider), `Validation` (`redirect_to`),
    /// `OAuthProviderError` (discovery failed), `RateLimited`.
    pub async fn start(
        self,
        provider: &str,
        redirect_to: Option<&str>,
        link_to: Option<&Principal>,
        meta: &RequestMeta,
    ) -> AuthResult<OAuthStart> {
        self.auth.throttle_ip(RateAction::LoginPerIp, meta).await?;
        let registry = &self.auth.inner.oauth;
        let provider = registry
            .providers
            .get(provider)
            .ok_or(AuthError::NotFound)?;
        let redirect_to = match redirect_to {
            Some(target) => registry.redirects.check(target)?,
            None => registry.redirects.default_target(),
        };
        if let Some(principal) = link_to {
            self.auth.user(principal.user_id).await?;
        }
        let state = self.auth.sign_state(provider.name(), &secret::token256());
        let url = provider
            .authorization_url(&AuthorizationRequest {
                state: state.clone(),
                code_challenge: code_challenge(&self.auth.derive(&state, "pkce")),
                nonce: self.auth.derive(&state, "nonce"),
            })
            .await?;
        let binding = secret::token256();
        let now = self.auth.now();
        let payload = StatePayload {
            provider: provider.name().to_owned(),
            issuer: provider.issuer().to_owned(),
            redirect_to,
            link_user: link_to.map(|p| p.user_id),
            browser: TokenHash::of_token(&binding).to_hex(),
        };
        self.auth
            .inner
            .store
            .tokens
            .issue_token(&OneTimeToken {
                id: Uuid::now_v7(),
                purpose: Purpose::OAuthState,
                // A fresh subject: concurrent sign-ins never invalidate
                // each other.
                subject: Uuid::now_v7().to_string(),
                hash: TokenHash::of_token(&state),
                payload: crate::auth::payload(&payload)?,
                created_at: now,
                expires_at: now + registry.state_ttl,
                attempts: 0,
                max_attempts: 1,
                consumed_at: None,
            })
            .await?;
        Ok(OAuthStart {
            authorization_url: url,
            browser_binding: binding,
            expires_in: registry.state_ttl.num_seconds(),
        })
    }

    /// Finishes a sign-in (or link) on the provider's callback: checks the
    /// state (signature, provider, expiry, single use, browser, issuer),
    /// redeems the code with the PKCE verifier, verifies the identity, then
    /// signs in or links by the rules of this module.
    ///
    /// # Errors
    /// `OAuthStateInvalid`, `OAuthDenied`, `OAuthProviderError`,
    /// `OAuthTokenInvalid`, `OAuthEmailMissing`, `AccountExistsUnverified`,
    /// `IdentityTaken`, `RegistrationClosed`, `EmailNotVerified`,
    /// `AccountInactive`, `AccountLocked`, `Validation` (no `code`),
    /// `RateLimited`.
    pub async fn callback(
        self,
        provider: &str,
        callback: OAuthCallback,
        meta: &RequestMeta,
    ) -> AuthResult<OAuthOutcome> {
        self.auth.throttle_ip(RateAction::LoginPerIp, meta).await?;
        let state = callback
            .state
            .filter(|s| !s.is_empty() && s.len() <= MAX_STATE)
            .ok_or(AuthError::OAuthStateInvalid)?;
        if !self.auth.state_signed_for(provider, &state) {
            return Err(AuthError::OAuthStateInvalid);
        }
        let token = self
            .auth
            .inner
            .store
            .tokens
            .consume_token(
                Purpose::OAuthState,
                &TokenHash::of_token(&state),
                self.auth.now(),
            )
            .await?
            .ok_or(AuthError::OAuthStateInvalid)?;
        let payload: StatePayload =
            serde_json::from_value(token.payload).map_err(|_| AuthError::OAuthStateInvalid)?;
        let same_browser = callback.browser_binding.is_some_and(|binding| {
            ct_eq(
                TokenHash::of_token(&binding).to_hex().as_bytes(),
                payload.browser.as_bytes(),
            )
        });
        if payload.provider != provider || !same_browser {
            return Err(AuthError::OAuthStateInvalid);
        }
        let provider = self
            .auth
            .inner
            .oauth
            .providers
            .get(provider)
            .ok_or(AuthError::NotFound)?
            .clone();
        if provider.issuer() != payload.issuer
            || callback.iss.is_some_and(|iss| iss != payload.issuer)
        {
            return Err(AuthError::OAuthStateInvalid);
        }
        if let Some(error) = callback.error {
            tracing::info!(
                provider = provider.name(),
                error = %error.chars().filter(char::is_ascii_alphanumeric).take(40).collect::<String>(),
                "the provider refused the sign-in"
            );
            return Err(AuthError::OAuthDenied);
        }
        let code = callback
            .code
            .filter(|c| !c.is_empty() && c.len() <= MAX_CODE)
            .ok_or_else(|| {
                AuthError::invalid_field("code", "required", "The callback has no code.")
            })?;
        let identity = provider
            .exchange(&CodeExchange {
                code,
                code_verifier: self.auth.derive(&state, "pkce"),
                nonce: self.auth.derive(&state, "nonce"),
                now: self.auth.now(),
            })
            .await?;
        if identity.subject.is_empty() || identity.subject.len() > MAX_SUBJECT_LEN {
            return Err(AuthError::OAuthProviderError(
                "the provider answered an unusable subject".into(),
            ));
        }
        let result = match payload.link_user {
            Some(user_id) => OAuthResult::Linked(
                self.auth
                    .link_for_owner(user_id, provider.name(), &identity, meta)
                    .await?,
            ),
            None => OAuthResult::SignedIn(
                self.auth
                    .social_sign_in(provider.name(), &identity, meta)
                    .await?,
            ),
        };
        Ok(OAuthOutcome {
            redirect_to: payload.redirect_to,
            result,
        })
    }

    /// The caller's linked identities.
    ///
    /// # Errors
    /// Store errors.
    pub async fn identities(self, principal: &Principal) -> AuthResult<IdentityList> {
        let user = self.auth.user(principal.user_id).await?;
        Ok(IdentityList {
            identities: self
                .auth
                .inner
                .store
                .identities
                .identities_for_user(user.id)
                .await?,
            has_password: user.password_hash.is_some(),
        })
    }

    /// Unlinks the caller's identity of `provider`. Refused when it is the
    /// account's last way to sign in (no password and no other identity);
    /// a social-only account sets a password through the reset flow first.
    ///
    /// An account with a password proves it first (`password`): a
    /// re-authentication, throttled per account and per IP, whose failures
    /// count towards the lockout and which refuses a locked account. An
    /// account without one (social only) has nothing to prove and may
    /// leave `password` out.
    ///
    /// # Errors
    /// `Validation` (`password` `required`), `RateLimited`,
    /// `InvalidCredentials`, `AccountLocked`, `NotFound` (no such
    /// identity), `LastSignInMethod`.
    pub async fn unlink(
        self,
        principal: &Principal,
        provider: &str,
        password: Option<&str>,
        meta: &RequestMeta,
    ) -> AuthResult<()> {
        let user = self.auth.user(principal.user_id).await?;
        if user.password_hash.is_some() {
            let password = password.ok_or_else(|| {
                AuthError::invalid_field(
                    "password",
                    "required",
                    "Confirm with the account's password.",
                )
            })?;
            self.auth.recheck_password(&user, password, meta).await?;
        }
        let keep_one = user.password_hash.is_none();
        match self
            .auth
            .inner
            .store
            .identities
            .unlink_identity(user.id, provider, keep_one)
            .await?
        {
            UnlinkOutcome::Unlinked => {
                self.auth
                    .emit(
                        AuthEvent::IdentityUnlinked {
                            user_id: user.id,
                            provider: provider.to_owned(),
                        },
                        meta,
                    )
                    .await
            }
            UnlinkOutcome::NotFound => Err(AuthError::NotFound),
            UnlinkOutcome::LastIdentity => Err(AuthError::LastSignInMethod),
        }
    }
}
