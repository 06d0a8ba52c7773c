//! The `Auth` service: the core flows as typed calls, and one handle per
//! feature (`auth.mfa()`, `auth.orgs()` …) whose methods live in the
//! feature's folder. It never sees HTTP; the api layer and host
//! applications (CLIs, jobs) call it directly.

pub(crate) mod account_cache;
pub(crate) mod background;
pub(crate) mod keys;
mod notify;
mod sms_budget;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

pub use crate::account::{
    Credentials, DataExport, Introspection, LoginOutcome, Me, MfaSummary, ProfileUpdate,
    Registered, Registration, RegistrationChallenge, TokenPair, TokenTypeHint,
};
pub use crate::admin::{
    AdminUser, AdminUserDetail, AuditFilter, ImportedUser, MAX_LOCK_REASON, MAX_PER_PAGE, NewAdmin,
    Page,
};
pub use crate::mfa::{MfaChallenge, MfaEnrollment, TotpDisable, TotpEnrolled, TotpSetup};
pub use crate::orgs::{MAX_TOKEN_ORGS, MyOrg};
pub use crate::social::{IdentityList, OAuthCallback, OAuthOutcome, OAuthResult, OAuthStart};

use crate::audit::{AuditRecord, AuthEvent, RequestMeta};
use crate::clock::{Clock, SystemClock};
use crate::config::AuthConfig;
use crate::error::{AuthError, AuthResult};
use crate::mail::{DefaultTemplates, MailTemplates, Mailer, Message, Rendered};
use crate::mfa::{DefaultNotices, NoticeTemplates, SecretCipher};
use crate::password::PasswordHasher;
use crate::rate_limit::{GovernorLimiter, RateAction, RateLimiter};
use crate::revocation::{MemoryRevocations, RevocationList};
use crate::roles::RoleMap;
use crate::sms::{ConsoleSms, SmsSender};
use crate::social::{OAuthConfig, OAuthProvider};
use crate::store::Store;
use crate::telemetry;
use crate::token::AccessTokens;
use crate::user::User;

/// Declares a feature handle: a `Copy` view of the service whose methods
/// are one feature's flows (written in the feature's folder), and the
/// [`Auth`] method that hands it out. A handle costs a pointer; its
/// methods take it by value, so their futures borrow the service rather
/// than a temporary handle.
macro_rules! feature_handle {
    ($(#[$doc:meta])* $handle:ident, $accessor:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy)]
        pub struct $handle<'a> {
            pub(crate) auth: &'a $crate::Auth,
        }

        impl $crate::Auth {
            $(#[$doc])*
            pub fn $accessor(&self) -> $handle<'_> {
                $handle { auth: self }
            }
        }

        impl ::std::fmt::Debug for $handle<'_> {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct(stringify!($handle)).finish_non_exhaustive()
            }
        }
    };
}
pub(crate) use feature_handle;

/// Receives every [`AuthEvent`] after it is written to the audit log
/// (webhooks, analytics, `on_user_created`-style reactions).
#[async_trait]
pub trait EventHook: Send + Sync {
    /// Called once per event. Errors are the hook's own business: they are
    /// logged and never fail the flow.
    async fn on_event(&self, event: &AuthEvent, meta: &RequestMeta);
}

/// The authentication service. Cheap to clone; share one per process.
///
/// ```
/// use authkit_core::{Auth, AuthConfig, Credentials, LoginOutcome, Registration, RequestMeta};
/// use authkit_core::mail::MemoryMailer;
/// use authkit_core::store::{MemoryStore, Store};
/// # use std::sync::Arc;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let config = AuthConfig::builder()
///     .account(|a| a.require_email_verification(false))
///     .build()?;
/// let auth = Auth::builder(config, Store::new(MemoryStore::new()))
///     .mailer(Arc::new(MemoryMailer::default()))
///     .build()
///     .await?;
///
/// let meta = RequestMeta::default();
/// auth.register(
///     Registration::new("ada@example.com", "correct horse battery staple"),
///     &meta,
/// )
/// .await?;
/// let LoginOutcome::Tokens(pair) = auth
///     .login(Credentials::new("ada@example.com", "correct horse battery staple"), &meta)
///     .await?
/// else { unreachable!("no MFA configured") };
///
/// let principal = auth.authenticate(&pair.access_token)?;
/// let me = auth.me(&principal).await?;
/// assert_eq!(me.profile.email, "ada@example.com");
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Auth {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: AuthConfig,
    pub(crate) store: Store,
    pub(crate) hasher: PasswordHasher,
    pub(crate) tokens: AccessTokens,
    pub(crate) mailer: Arc<dyn Mailer>,
    pub(crate) templates: Arc<dyn MailTemplates>,
    pub(crate) sms: Arc<dyn SmsSender>,
    pub(crate) notices: Arc<dyn NoticeTemplates>,
    pub(crate) cipher: SecretCipher,
    pub(crate) limiter: Arc<dyn RateLimiter>,
    pub(crate) revocations: Arc<dyn RevocationList>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) hook: Option<Arc<dyn EventHook>>,
    pub(crate) roles: RoleMap,
    pub(crate) background: background::Background,
    pub(crate) oauth: crate::social::OAuthRegistry,
    pub(crate) org_roles: RoleMap,
    /// `/me` views.
    pub(crate) accounts: account_cache::AccountCache<account_cache::View>,
    /// What refreshed access tokens are built from.
    pub(crate) subjects: account_cache::AccountCache<account_cache::Subject>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// Assembles an [`Auth`]; only the configuration and the store are required.
#[must_use]
pub struct AuthBuilder {
    config: AuthConfig,
    store: Store,
    mailer: Option<Arc<dyn Mailer>>,
    templates: Arc<dyn MailTemplates>,
    sms: Option<Arc<dyn SmsSender>>,
    notices: Arc<dyn NoticeTemplates>,
    limiter: Option<Arc<dyn RateLimiter>>,
    revocations: Option<Arc<dyn RevocationList>>,
    clock: Arc<dyn Clock>,
    hook: Option<Arc<dyn EventHook>>,
    roles: RoleMap,
    oauth: OAuthConfig,
    oauth_providers: Vec<Arc<dyn OAuthProvider>>,
    org_roles: RoleMap,
}

impl AuthBuilder {
    /// Where emails go (default: [`ConsoleMailer`](crate::mail::ConsoleMailer),
    /// for development only).
    pub fn mailer(mut self, mailer: Arc<dyn Mailer>) -> Self {
        self.mailer = Some(mailer);
        self
    }

    /// Email wording (default: [`DefaultTemplates`]).
    pub fn templates(mut self, templates: Arc<dyn MailTemplates>) -> Self {
        self.templates = templates;
        self
    }

    /// Where text messages go: MFA and phone-verification codes (default:
    /// [`ConsoleSms`], for development only). Wrap a real provider in an
    /// [`SmsQueue`](crate::sms::SmsQueue).
    pub fn sms_sender(mut self, sms: Arc<dyn SmsSender>) -> Self {
        self.sms = Some(sms);
        self
    }

    /// Wording of MFA codes and security notices (default:
    /// [`DefaultNotices`]).
    pub fn notice_templates(mut self, notices: Arc<dyn NoticeTemplates>) -> Self {
        self.notices = notices;
        self
    }

    /// Throttling backend (default: in-process [`GovernorLimiter`] with the
    /// configured quotas).
    pub fn rate_limiter(mut self, limiter: Arc<dyn RateLimiter>) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// Where revoked sessions are recorded and looked up on every
    /// [`authenticate`](Auth::authenticate) (default: an in-process
    /// [`MemoryRevocations`], which sees this instance's revocations only;
    /// behind several instances use a shared feed such as
    /// `authkit-redis`'s).
    pub fn revocation_list(mut self, revocations: Arc<dyn RevocationList>) -> Self {
        self.revocations = Some(revocations);
        self
    }

    /// Time source (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Receives every event.
    pub fn event_hook(mut self, hook: Arc<dyn EventHook>) -> Self {
        self.hook = Some(hook);
        self
    }

    /// Global roles and their permissions (default: [`RoleMap::default`]).
    pub fn roles(mut self, roles: RoleMap) -> Self {
        self.roles = roles;
        self
    }

    /// Social login: the providers of `config` (built with feature
    /// `oauth`), the `redirect_to` allow-list and the flow's limits
    /// (default: no provider).
    pub fn oauth(mut self, config: OAuthConfig) -> Self {
        self.oauth = config;
        self
    }

    /// Adds a provider of your own (or a built-in one built by hand),
    /// served at `/oauth/{name}/...`.
    pub fn oauth_provider(mut self, provider: Arc<dyn OAuthProvider>) -> Self {
        self.oauth_providers.push(provider);
        self
    }

    /// Organisation roles and their permissions (default:
    /// [`RoleMap::org_default`]). The map must declare
    /// [`OWNER`](crate::roles::OWNER), the creator's role.
    pub fn org_roles(mut self, roles: RoleMap) -> Self {
        self.org_roles = roles;
        self
    }

    /// Validates the configuration, loads (or creates and persists) the
    /// signing keys, puts the sessions revoked within the last access-token
    /// lifetime (plus leeway) back on the revocation list, so a restart
    /// does not revive their access tokens, and returns the service.
    ///
    /// With MFA enabled and no `mfa_encryption_key`, TOTP secrets are
    /// encrypted with a random key that lives as long as the process: a
    /// warning is logged, and enrolments stop working after a restart (or
    /// on another instance). Production must configure the key.
    ///
    /// # Errors
    /// `Internal` for an invalid configuration or unusable stored keys;
    /// store errors as they come.
    pub async fn build(self) -> AuthResult<Auth> {
        self.config.validate().map_err(AuthError::internal)?;
        let oauth =
            crate::social::OAuthRegistry::new(&self.config, self.oauth, self.oauth_providers)?;
        if !self.org_roles.has_role(crate::roles::OWNER) {
            return Err(AuthError::internal_msg(
                "the organisation role map must declare OWNER",
            ));
        }

        let hasher = PasswordHasher::with_queue(
            self.config.hash_params,
            self.config.hash_concurrency,
            self.config.hash_queue,
        )?;
        let now = self.clock.now();
        let key_set = keys::load_or_create(&self.store, &self.config, now).await?;
        let tokens = AccessTokens::new(
            key_set,
            self.config.issuer.clone(),
            self.config.audience.clone(),
            self.config.access_token_ttl,
            self.config.token_leeway,
        );
        let limiter = match self.limiter {
            Some(limiter) => limiter,
            None => Arc::new(GovernorLimiter::new(self.config.rate_limits.clone())),
        };
        let mailer = self
            .mailer
            .unwrap_or_else(|| Arc::new(crate::mail::ConsoleMailer));
        let sms = self.sms.unwrap_or_else(|| Arc::new(ConsoleSms));
        let cipher = match &self.config.mfa.encryption_key {
            Some(key) => SecretCipher::new(key)?,
            None => {
                if self.config.mfa.enabled {
                    tracing::warn!(
                        "AUTHKIT_MFA_ENCRYPTION_KEY is not set: TOTP secrets are encrypted with \
                         a random per-process key, and every TOTP enrolment becomes unusable \
                         after a restart or on another instance. Set a 32-byte key."
                    );
                }
                SecretCipher::ephemeral()
            }
        };
        let revocations = self
            .revocations
            .unwrap_or_else(|| Arc::new(MemoryRevocations::new()));
        let accounts = account_cache::AccountCache::new(self.config.account_cache_ttl);
        let subjects = account_cache::AccountCache::new(self.config.account_cache_ttl);
        let mut store = self.store;
        if accounts.enabled() {
            let remember = self.config.account_cache_ttl;
            store.users = account_cache::watched(store.users, &revocations, remember);
            store.mfa = account_cache::watched(store.mfa, &revocations, remember);
            store.orgs = account_cache::watched(store.orgs, &revocations, remember);
            store.user_admin = account_cache::watched(store.user_admin, &revocations, remember);
        }
        let auth = Auth {
            inner: Arc::new(Inner {
                config: self.config,
                store,
                hasher,
                tokens,
                mailer,
                templates: self.templates,
                sms,
                notices: self.notices,
                cipher,
                limiter,
                revocations,
                clock: self.clock,
                hook: self.hook,
                roles: self.roles,
                background: background::Background::new(),
                oauth,
                org_roles: self.org_roles,
                accounts,
                subjects,
            }),
        };
        auth.restore_revocations().await?;
        Ok(auth)
    }
}

impl Auth {
    /// Starts building a service over `store` with `config`.
    pub fn builder(config: AuthConfig, store: Store) -> AuthBuilder {
        AuthBuilder {
            config,
            store,
            mailer: None,
            templates: Arc::new(DefaultTemplates),
            sms: None,
            notices: Arc::new(DefaultNotices),
            limiter: None,
            revocations: None,
            clock: Arc::new(SystemClock),
            hook: None,
            roles: RoleMap::default(),
            oauth: OAuthConfig::default(),
            oauth_providers: Vec::new(),
            org_roles: RoleMap::org_default(),
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &AuthConfig {
        &self.inner.config
    }

    /// The stores.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The access-token codec (for JWKS rendering and custom checks).
    pub fn access_tokens(&self) -> &AccessTokens {
        &self.inner.tokens
    }

    /// Deletes sessions and one-time tokens that ended more than a day
    /// ago; hosts schedule this. Returns (sessions, tokens) removed.
    ///
    /// # Errors
    /// Store errors.
    pub async fn purge_expired(&self) -> AuthResult<(u64, u64)> {
        let before = self.now() - chrono::Duration::days(1);
        self.inner.store.purge_expired(before).await
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    /// Throttles a per-IP `action` for the client of `meta`, keyed by
    /// [`IpPrefixes::key`](crate::rate_limit::IpPrefixes::key): an unknown
    /// (or unreadable) client address shares one key, never skips the
    /// limit.
    pub(crate) async fn throttle_ip(
        &self,
        action: RateAction,
        meta: &RequestMeta,
    ) -> AuthResult<()> {
        self.throttle(action, &self.client_key(meta)).await
    }

    /// The per-IP key of the client of `meta`
    /// ([`IpPrefixes::key`](crate::rate_limit::IpPrefixes::key)), which
    /// per-IP limits count under and which holds the client's share of the
    /// hash line.
    pub(crate) fn client_key(&self, meta: &RequestMeta) -> String {
        let ip = meta.ip.as_deref().and_then(|ip| ip.trim().parse().ok());
        self.inner.config.rate_limits.ip_prefixes().key(ip)
    }

    pub(crate) async fn throttle(&self, action: RateAction, key: &str) -> AuthResult<()> {
        let checked = self.inner.limiter.check(action, key).await;
        if let Err(AuthError::RateLimited { .. }) = checked {
            telemetry::rate_limited(action.as_str());
        }
        checked
    }

    /// Puts `session_ids` (just revoked in the store) on the revocation
    /// list, so their access tokens stop working at once rather than at
    /// expiry. Entries last as long as such a token can verify.
    pub(crate) async fn forget_sessions(&self, session_ids: &[Uuid]) {
        if session_ids.is_empty() {
            return;
        }
        let config = &self.inner.config;
        let until = self.now() + config.access_token_ttl + config.token_leeway;
        self.inner.revocations.revoke(session_ids, until).await;
        telemetry::sessions_revoked(session_ids.len());
    }

    /// Puts the sessions the store shows revoked within the last
    /// access-token lifetime plus leeway (whose access tokens may still
    /// verify) on the revocation list, as at their revocation: without
    /// this, a restarted process would accept them again until they
    /// expire. Runs once, at start-up.
    async fn restore_revocations(&self) -> AuthResult<()> {
        let config = &self.inner.config;
        let now = self.now();
        let window = config.access_token_ttl + config.token_leeway;
        let revoked = self
            .inner
            .store
            .sessions
            .revoked_sessions_since(now - window)
            .await?;
        if !revoked.is_empty() {
            // Every entry may go once a token signed now would be dead:
            // never earlier than the one made at the revocation.
            self.inner.revocations.revoke(&revoked, now + window).await;
            tracing::info!(sessions = revoked.len(), "revoked sessions restored");
        }
        Ok(())
    }

    /// Writes `event` to the audit log, then hands it to the hook.
    pub(crate) async fn emit(&self, event: AuthEvent, meta: &RequestMeta) -> AuthResult<()> {
        let record = AuditRecord::new(&event, self.now(), meta);
        self.inner.store.audit.append_audit(&record).await?;
        tracing::info!(
            event = event.name(),
            user_id = ?event.user_id(),
            actor_id = ?event.actor_id(),
            "auth event"
        );
        telemetry::event(event.name());
        if let Some(hook) = &self.inner.hook {
            hook.on_event(&event, meta).await;
        }
        Ok(())
    }

    pub(crate) async fn send_mail(&self, to: &User, rendered: Rendered) -> AuthResult<()> {
        // Always the stored, normalized address: never what a client typed.
        self.inner
            .mailer
            .send(Message {
                to: to.email.as_str().to_owned(),
                subject: rendered.subject,
                text: rendered.text,
                html: rendered.html,
            })
            .await
    }

    /// A link to `path` under the configured public URL, never the
    /// request's `Host`.
    pub(crate) fn link(&self, path: &str, token: &str) -> String {
        format!("{}{}?token={}", self.inner.config.public_url, path, token)
    }

    pub(crate) async fn user(&self, id: Uuid) -> AuthResult<User> {
        self.inner
            .store
            .users
            .user_by_id(id)
            .await?
            .ok_or(AuthError::NotFound)
    }

    /// Applies one narrow change to an account now (see
    /// [`UserUpdate`](crate::store::UserUpdate)); answers whether it
    /// applied.
    pub(crate) async fn update_user(
        &self,
        id: Uuid,
        update: crate::store::UserUpdate,
    ) -> AuthResult<bool> {
        self.inner
            .store
            .users
            .update_user(id, &update, self.now())
            .await
    }
}

/// Lengths of free-text profile fields, in code points.
pub(crate) const MAX_DISPLAY_NAME: usize = 150;
pub(crate) const MAX_URL: usize = 2048;
/// Longest opaque token accepted (ours are 43 characters).
pub(crate) const MAX_OPAQUE_TOKEN: usize = 256;

/// Serializes `value` into JSON for a token payload.
pub(crate) fn payload<T: Serialize>(value: &T) -> AuthResult<serde_json::Value> {
    serde_json::to_value(value).map_err(AuthError::internal)
}
