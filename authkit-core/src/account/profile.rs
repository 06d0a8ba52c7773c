//! The account owner's views and edits: profile, deactivation, data export,
//! forgotten-email lookup, and token introspection.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::register::clean_display_name;
use crate::audit::{AuditQuery, AuditRecord, AuthEvent, RequestMeta};
use crate::auth::account_cache::View;
use crate::auth::{Auth, MAX_OPAQUE_TOKEN, MAX_URL};
use crate::email::Phone;
use crate::error::{AuthError, AuthResult};
use crate::principal::Principal;
use crate::rate_limit::RateAction;
use crate::secret::TokenHash;
use crate::session::{Session, SessionView};
use crate::store::UserUpdate;
use crate::user::Profile;
use utoipa::ToSchema;

/// `GET /me`: the account, its roles and what they allow, read fresh from
/// the store (not from the token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Me {
    /// The profile (id, email, phone, display name, ...), flattened.
    #[serde(flatten)]
    pub profile: Profile,
    /// Each global role with its permissions.
    pub roles: Vec<RolePermissions>,
    /// The union of the roles' permissions.
    pub permissions: Vec<String>,
    /// Multi-factor state.
    pub mfa: MfaSummary,
}

/// A global role and the permissions it grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RolePermissions {
    /// Role name.
    pub name: String,
    /// Its permissions.
    pub permissions: Vec<String>,
}

/// Whether multi-factor authentication is on, and with which methods.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct MfaSummary {
    /// Whether a second factor is required at login.
    pub enabled: bool,
    /// The methods usable at login now (`totp`, `backup_code`, `sms`,
    /// `email`), among those offered.
    pub methods: Vec<String>,
    /// Unused backup codes.
    pub backup_codes_remaining: u32,
}

/// `PATCH /me`: absent fields stay, `null` clears.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct ProfileUpdate {
    /// New display name.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub display_name: Option<Option<String>>,
    /// New avatar URL (http or https).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub avatar_url: Option<Option<String>>,
    /// New phone number; changing it makes it unverified.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
}

/// Tells "absent" (`None`) from "null" (`Some(None)`).
fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// `GET /me/export`: everything held on the account.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DataExport {
    /// The profile.
    pub profile: Profile,
    /// Live sessions.
    pub sessions: Vec<SessionView>,
    /// Linked social / OpenID Connect identities.
    pub identities: Vec<crate::store::Identity>,
    /// The account's organisations and roles there.
    pub memberships: Vec<crate::orgs::MyOrg>,
    /// The account's audit records, newest first.
    pub audit_events: Vec<AuditRecord>,
}

/// RFC 7662 `token_type_hint`: which kind of token the caller believes it
/// holds. Only the search order depends on it; a token of the other kind
/// is still found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenTypeHint {
    /// `access_token`.
    AccessToken,
    /// `refresh_token`.
    RefreshToken,
}

impl std::str::FromStr for TokenTypeHint {
    type Err = ();

    fn from_str(raw: &str) -> Result<Self, ()> {
        match raw {
            "access_token" => Ok(Self::AccessToken),
            "refresh_token" => Ok(Self::RefreshToken),
            _ => Err(()),
        }
    }
}

/// `token_type` of an active access token (RFC 6749 section 7.1).
const ACCESS_TOKEN_TYPE: &str = "Bearer";
/// `token_type` of an active refresh token.
const REFRESH_TOKEN_TYPE: &str = "refresh_token";

/// RFC 7662 introspection answer; inactive tokens carry nothing else.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Introspection {
    /// Whether the token is valid and its session live.
    pub active: bool,
    /// Subject (user id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// Session id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Expiry (Unix seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Issued at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// Issuer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Audience.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// Token id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// `Bearer` for an access token, `refresh_token` for a refresh token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// Space-separated permissions (RFC 7662 `scope`); access tokens only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Global roles; access tokens only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
}

/// Most audit records an export includes.
const EXPORT_AUDIT_LIMIT: u32 = 10_000;

impl Auth {
    /// The caller's profile, roles and permissions, read fresh: from the
    /// store, or from the view built at an earlier call if no change to the
    /// account has been recorded since that call's reads started (see
    /// [`AuthConfig::account_cache_ttl`](crate::AuthConfig::account_cache_ttl)).
    ///
    /// # Errors
    /// `NotFound` if the account is gone.
    pub async fn me(&self, principal: &Principal) -> AuthResult<Me> {
        Ok(self.me_view(principal).await?.me.clone())
    }

    /// [`me`](Self::me) as the JSON body `GET /me` answers, serialized once
    /// per cached view rather than once per request.
    ///
    /// # Errors
    /// As [`me`](Self::me).
    pub(crate) async fn me_json(&self, principal: &Principal) -> AuthResult<bytes::Bytes> {
        Ok(self.me_view(principal).await?.json.clone())
    }

    async fn me_view(&self, principal: &Principal) -> AuthResult<Arc<View>> {
        let accounts = &self.inner.accounts;
        if let Some(view) = accounts.get(principal.user_id, &*self.inner.revocations) {
            return Ok(view);
        }
        let read_at = std::time::Instant::now();
        let view = Arc::new(View::new(self.read_me(principal.user_id).await?)?);
        accounts.put(principal.user_id, read_at, &view);
        Ok(view)
    }

    async fn read_me(&self, user_id: Uuid) -> AuthResult<Me> {
        let user = self.user(user_id).await?;
        let roles = &self.inner.roles;
        let mfa = self.mfa_summary(&user).await?;
        Ok(Me {
            roles: user
                .roles
                .iter()
                .map(|name| RolePermissions {
                    name: name.clone(),
                    permissions: roles.permissions_for(std::slice::from_ref(name)),
                })
                .collect(),
            permissions: roles.permissions_for(&user.roles),
            mfa,
            profile: user.profile(),
        })
    }

    /// RFC 7662 introspection of an access or refresh token, throttled
    /// per client IP. An access token is active only if it verifies AND
    /// its session is live AND the account is active, so a revoked session
    /// shows at once. A refresh token is active only if it is its
    /// session's current one (not rotated), the session is live and the
    /// account active; it is only read, never rotated or consumed, and its
    /// answer carries `token_type: refresh_token`, `sub`, `sid`, `iss`,
    /// `iat` (its issue, the session's last refresh) and `exp` (the
    /// earlier of the session's absolute and idle ends). `hint` only
    /// chooses which kind is tried first.
    ///
    /// Who may introspect is the caller's rule: the HTTP API requires
    /// client credentials or a permission (see [`crate::api`]).
    ///
    /// # Errors
    /// `RateLimited`, store errors; bad tokens are simply inactive.
    pub async fn introspect(
        &self,
        token: &str,
        hint: Option<TokenTypeHint>,
        meta: &RequestMeta,
    ) -> AuthResult<Introspection> {
        self.throttle_ip(RateAction::IntrospectPerIp, meta).await?;
        let found = if hint == Some(TokenTypeHint::RefreshToken) {
            match self.introspect_refresh(token).await? {
                Some(found) => Some(found),
                None => self.introspect_access(token).await?,
            }
        } else {
            match self.introspect_access(token).await? {
                Some(found) => Some(found),
                None => self.introspect_refresh(token).await?,
            }
        };
        Ok(found.unwrap_or_default())
    }

    /// The answer for an active access token, `None` otherwise.
    async fn introspect_access(&self, token: &str) -> AuthResult<Option<Introspection>> {
        let now = self.now();
        let Ok(claims) = self.inner.tokens.verify(token, now) else {
            return Ok(None);
        };
        let Ok(principal) = Principal::from_claims(&claims, &self.inner.org_roles) else {
            return Ok(None);
        };
        let session = self
            .inner
            .store
            .sessions
            .session(principal.session_id)
            .await?
            .filter(|s| s.user_id == principal.user_id);
        if !self.live_session_of_active_user(session.as_ref()).await? {
            return Ok(None);
        }
        Ok(Some(Introspection {
            active: true,
            scope: Some(claims.permissions.join(" ")),
            roles: Some(claims.roles),
            sub: Some(claims.sub),
            sid: Some(claims.sid),
            exp: Some(claims.exp),
            iat: Some(claims.iat),
            iss: Some(claims.iss),
            aud: Some(claims.aud),
            jti: Some(claims.jti),
            token_type: Some(ACCESS_TOKEN_TYPE.to_owned()),
        }))
    }

    /// The answer for an active (current) refresh token, `None` otherwise.
    /// Reads only.
    async fn introspect_refresh(&self, token: &str) -> AuthResult<Option<Introspection>> {
        if token.is_empty() || token.len() > MAX_OPAQUE_TOKEN {
            return Ok(None);
        }
        let session = self
            .inner
            .store
            .sessions
            .session_by_current_refresh(&TokenHash::of_token(token))
            .await?;
        if !self.live_session_of_active_user(session.as_ref()).await? {
            return Ok(None);
        }
        let Some(session) = session else {
            return Ok(None);
        };
        let idle_end = session.last_seen_at + self.inner.config.session_idle_timeout;
        Ok(Some(Introspection {
            active: true,
            sub: Some(session.user_id.to_string()),
            sid: Some(session.id.to_string()),
            exp: Some(session.expires_at.min(idle_end).timestamp()),
            iat: Some(session.last_seen_at.timestamp()),
            iss: Some(self.inner.config.issuer.clone()),
            token_type: Some(REFRESH_TOKEN_TYPE.to_owned()),
            ..Introspection::default()
        }))
    }

    /// Whether `session` is live now and its account active and unlocked.
    async fn live_session_of_active_user(&self, session: Option<&Session>) -> AuthResult<bool> {
        let now = self.now();
        let Some(session) =
            session.filter(|s| s.is_live(now, self.inner.config.session_idle_timeout))
        else {
            return Ok(false);
        };
        Ok(self
            .inner
            .store
            .users
            .user_by_id(session.user_id)
            .await?
            // A failure lock leaves sessions alive; an administrator's
            // lock ends them.
            .is_some_and(|u| u.is_active && !u.is_admin_locked(now)))
    }
}

pub(crate) fn valid_url(url: &str) -> bool {
    url.chars().count() <= MAX_URL
        && (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() > "https://".len()
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

crate::auth::feature_handle! {
    /// The account owner's own changes and views: profile, deactivation, data
    /// export, the forgotten-email lookup, the account's audit trail.
    Account, account
}

impl Account<'_> {
    /// Records that `user_id` changed behind authkit's back (a host's own
    /// SQL, say), here and on every instance sharing the revocation feed,
    /// so neither `/me` nor a refresh answers from what was read before.
    /// Changes made through authkit need no call.
    pub async fn changed(self, user_id: Uuid) {
        let until = chrono::Utc::now() + self.auth.inner.config.account_cache_ttl;
        self.auth
            .inner
            .revocations
            .accounts_changed(&[user_id], until)
            .await;
    }

    /// Edits the caller's profile.
    ///
    /// # Errors
    /// `Validation` with one entry per bad field.
    pub async fn update_profile(
        self,
        principal: &Principal,
        update: ProfileUpdate,
        meta: &RequestMeta,
    ) -> AuthResult<Profile> {
        let mut display_name = None;
        let mut avatar_url = None;
        let mut new_phone = None;
        let mut errors = Vec::new();
        let mut changed = Vec::new();
        if let Some(name) = update.display_name {
            match name.as_deref().map(clean_display_name).transpose() {
                Ok(name) => {
                    display_name = Some(name.flatten());
                    changed.push("display_name".to_owned());
                }
                Err(e) => errors.extend_from_slice(e.field_errors()),
            }
        }
        if let Some(url) = update.avatar_url {
            match url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
                Some(url) if !valid_url(url) => errors.push(crate::FieldError::new(
                    "avatar_url",
                    "url_invalid",
                    "Use an http(s) URL of at most 2048 characters.",
                )),
                url => {
                    avatar_url = Some(url.map(str::to_owned));
                    changed.push("avatar_url".to_owned());
                }
            }
        }
        if let Some(phone) = update.phone {
            match phone
                .as_deref()
                .filter(|p| !p.trim().is_empty())
                .map(Phone::parse)
                .transpose()
            {
                Ok(phone) => {
                    new_phone = Some(phone);
                    changed.push("phone".to_owned());
                }
                Err(e) => errors.extend_from_slice(e.field_errors()),
            }
        }
        if !errors.is_empty() {
            return Err(AuthError::Validation(errors));
        }
        let user_id = principal.user_id;
        self.auth
            .update_user(
                user_id,
                UserUpdate::Profile {
                    display_name,
                    avatar_url,
                    phone: new_phone,
                },
            )
            .await?;
        self.auth
            .emit(
                AuthEvent::ProfileUpdated {
                    user_id,
                    fields: changed,
                },
                meta,
            )
            .await?;
        Ok(self.auth.user(user_id).await?.profile())
    }

    /// Deactivates the caller's account after checking the password, and
    /// revokes every session. The check is a re-authentication (throttled
    /// per account and per IP, failures count towards the lockout, a
    /// locked account is refused).
    ///
    /// # Errors
    /// `RateLimited`, `InvalidCredentials`, `AccountLocked`.
    pub async fn deactivate(
        self,
        principal: &Principal,
        password: &str,
        meta: &RequestMeta,
    ) -> AuthResult<()> {
        let user = self.auth.user(principal.user_id).await?;
        self.auth.recheck_password(&user, password, meta).await?;
        self.auth
            .update_user(user.id, UserUpdate::Active(false))
            .await?;
        self.auth
            .revoke_sessions(user.id, None, "deactivated", meta)
            .await?;
        self.auth
            .emit(AuthEvent::AccountDeactivated { user_id: user.id }, meta)
            .await
    }

    /// Everything held on the caller's account.
    ///
    /// # Errors
    /// Store errors.
    pub async fn export(self, principal: &Principal, meta: &RequestMeta) -> AuthResult<DataExport> {
        let user = self.auth.user(principal.user_id).await?;
        let sessions = self.auth.sessions().list(principal).await?;
        let identities = self
            .auth
            .inner
            .store
            .identities
            .identities_for_user(user.id)
            .await?;
        let audit_events = self
            .auth
            .inner
            .store
            .audit
            .audit_records(&AuditQuery {
                user_id: Some(user.id),
                limit: EXPORT_AUDIT_LIMIT,
                ..AuditQuery::default()
            })
            .await?;
        self.auth
            .emit(AuthEvent::DataExported { user_id: user.id }, meta)
            .await?;
        Ok(DataExport {
            profile: user.profile(),
            sessions,
            identities,
            memberships: self.auth.memberships_of(user.id).await?,
            audit_events,
        })
    }

    /// Masked emails of the active accounts whose VERIFIED phone is `phone`;
    /// empty otherwise. Throttled per client IP.
    ///
    /// # Errors
    /// `Validation` for a malformed number, `RateLimited`.
    pub async fn lookup_email(self, phone: &str, meta: &RequestMeta) -> AuthResult<Vec<String>> {
        self.auth.throttle_ip(RateAction::LookupPerIp, meta).await?;
        let phone = Phone::parse(phone)?;
        let emails: Vec<String> = self
            .auth
            .inner
            .store
            .users
            .users_by_verified_phone(&phone)
            .await?
            .into_iter()
            .filter(|u| u.is_active)
            .map(|u| u.email.masked())
            .collect();
        self.auth
            .emit(
                AuthEvent::EmailLookup {
                    matches: emails.len(),
                },
                meta,
            )
            .await?;
        Ok(emails)
    }
}
