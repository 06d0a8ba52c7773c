//! Password login, refresh rotation, logout and session management.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::password::PendingPassword;
use crate::audit::{AuthEvent, RequestMeta};
use crate::auth::account_cache::Subject;
use crate::auth::{Auth, MAX_OPAQUE_TOKEN};
use crate::email::Email;
use crate::error::{AuthError, AuthResult};
use crate::mfa::{MfaChallenge, MfaEnrollment};
use crate::principal::Principal;
use crate::rate_limit::RateAction;
use crate::secret::{self, TokenHash};
use crate::session::{RotateOutcome, RotateRefresh, Session, SessionView};
use crate::store::{LockoutPolicy, UserUpdate};
use crate::telemetry;
use crate::user::User;

/// Email and password, as typed.
#[derive(Clone, Deserialize)]
pub struct Credentials {
    /// Email address.
    pub email: String,
    /// Password.
    pub password: String,
}

impl Credentials {
    /// Builds credentials.
    pub fn new(email: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            email: email.into(),
            password: password.into(),
        }
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("email", &self.email)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// An access token and its refresh token, as answered by login and refresh.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct TokenPair {
    /// Short-lived JWT.
    pub access_token: String,
    /// Opaque, single-use refresh token.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Access-token lifetime in seconds.
    pub expires_in: i64,
    /// The session both belong to.
    pub session_id: Uuid,
}

impl std::fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenPair")
            .field("session_id", &self.session_id)
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// A password that verified for an account allowed to sign in, before
/// the login is let through.
struct CheckedLogin {
    user: User,
    needs_rehash: bool,
}

/// What a successful password check leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoginOutcome {
    /// Signed in.
    Tokens(TokenPair),
    /// The account has MFA: answer the challenge with
    /// [`Mfa::verify`](crate::mfa::Mfa::verify).
    MfaRequired(MfaChallenge),
    /// A role of the account requires MFA and none is enrolled: enrol with
    /// [`Mfa::enroll_setup`](crate::mfa::Mfa::enroll_setup)
    /// and [`Mfa::enroll_enable`](crate::mfa::Mfa::enroll_enable),
    /// which signs in.
    MfaEnrollmentRequired(MfaEnrollment),
}

impl Auth {
    /// Password login.
    ///
    /// Unknown accounts cost one password verification like known ones, and
    /// answer the same `InvalidCredentials`. Failures count towards the
    /// account lockout; a success clears the count and upgrades the stored
    /// hash when it is legacy or uses other parameters. With MFA enabled,
    /// an account with a second factor gets [`LoginOutcome::MfaRequired`]
    /// instead of tokens (and one whose role demands MFA but has none,
    /// [`LoginOutcome::MfaEnrollmentRequired`]).
    ///
    /// # Errors
    /// `RateLimited`, `InvalidCredentials`, `AccountLocked`,
    /// `AccountInactive`, `EmailNotVerified`, `PasswordChangeRequired`.
    pub async fn login(
        &self,
        credentials: Credentials,
        meta: &RequestMeta,
    ) -> AuthResult<LoginOutcome> {
        let result = self.password_login(credentials, meta).await;
        telemetry::login(&result, |outcome| match outcome {
            LoginOutcome::Tokens(_) => "success",
            LoginOutcome::MfaRequired(_) => "mfa_required",
            LoginOutcome::MfaEnrollmentRequired(_) => "mfa_enrollment_required",
        });
        result
    }

    async fn password_login(
        &self,
        credentials: Credentials,
        meta: &RequestMeta,
    ) -> AuthResult<LoginOutcome> {
        let checked = self.check_password_login(&credentials, meta).await?;
        if self.password_expired(&checked.user) {
            return Err(AuthError::PasswordChangeRequired);
        }
        let user = self.accept_login(checked, &credentials.password).await?;
        if let Some(challenge) = self.mfa_gate(&user, None, meta).await? {
            return Ok(challenge);
        }
        let pair = self.open_session(&user, meta).await?;
        Ok(LoginOutcome::Tokens(pair))
    }

    /// Login for an account whose password must change first (its login
    /// answered `PasswordChangeRequired`: `must_change_password` is set or
    /// the password is older than
    /// [`force_password_rotation`](crate::AccountConfig::force_password_rotation),
    /// as stored, whatever the client says).
    ///
    /// Checks the current credentials exactly like a login. For any other
    /// account it answers `InvalidCredentials`, like a wrong password, and
    /// changes nothing. Then the new password is checked against the
    /// policy, and:
    /// - without a second factor, it is set, every session is revoked, and
    ///   a new session is opened;
    /// - for an account with MFA (or whose role demands it), nothing
    ///   changes yet: the answer is the MFA challenge (or enrolment
    ///   demand), whose `mfa_token` carries the new password's argon2id
    ///   hash (never the password). The change is applied, and the
    ///   sessions revoked, only when [`Mfa::verify`](crate::mfa::Mfa::verify) (or
    ///   [`Mfa::enroll_enable`](crate::mfa::Mfa::enroll_enable)) succeeds
    ///   with that token; an abandoned challenge changes nothing.
    ///
    /// # Errors
    /// As [`login`](Self::login) (but never `PasswordChangeRequired`),
    /// plus `PasswordTooWeak`.
    pub async fn login_with_new_password(
        &self,
        credentials: Credentials,
        new_password: &str,
        meta: &RequestMeta,
    ) -> AuthResult<LoginOutcome> {
        let checked = self.check_password_login(&credentials, meta).await?;
        if !self.password_expired(&checked.user) {
            // Only a forced change may go through here: to anyone else
            // this is a wrong password, and nothing is cleared or rehashed.
            self.audit_login_failure(Some(checked.user.id), "password_change_not_required", meta)
                .await?;
            return Err(AuthError::InvalidCredentials);
        }
        let new_hash = self.new_password_hash(&checked.user, new_password).await?;
        let user = self.accept_login(checked, &credentials.password).await?;
        let pending = PendingPassword::replacing(&user, new_hash);
        if let Some(challenge) = self.mfa_gate(&user, Some(&pending), meta).await? {
            return Ok(challenge);
        }
        let user = self.apply_password(user, pending.hash, None, meta).await?;
        let pair = self.open_session(&user, meta).await?;
        Ok(LoginOutcome::Tokens(pair))
    }

    /// Rotates a refresh token: answers a new pair and invalidates the
    /// presented token. Presenting an already-rotated token revokes the whole
    /// session.
    ///
    /// # Errors
    /// `TokenInvalid` (unknown, expired, revoked, or the account is no
    /// longer active), `RefreshTokenReused`, `RateLimited` (per client IP).
    pub async fn refresh(&self, refresh_token: &str, meta: &RequestMeta) -> AuthResult<TokenPair> {
        let result = self.rotate(refresh_token, meta).await;
        telemetry::refresh(&result);
        result
    }

    async fn rotate(&self, refresh_token: &str, meta: &RequestMeta) -> AuthResult<TokenPair> {
        self.throttle_ip(RateAction::RefreshPerIp, meta).await?;
        if refresh_token.is_empty() || refresh_token.len() > MAX_OPAQUE_TOKEN {
            return Err(AuthError::TokenInvalid);
        }
        let config = &self.inner.config;
        let replacement = secret::token256();
        let request = RotateRefresh {
            presented: TokenHash::of_token(refresh_token),
            replacement: TokenHash::of_token(&replacement),
            now: self.now(),
            idle_timeout: config.session_idle_timeout,
            reuse_grace: config.refresh_reuse_grace,
        };
        match self.inner.store.sessions.rotate_refresh(&request).await? {
            RotateOutcome::Rotated(session) => {
                let subject = self.subject(session.user_id).await?;
                let user = &subject.user;
                // A failure lock refuses new logins only: were it to end
                // sessions, anyone knowing the address could sign its
                // owner out. An administrator's lock ends them.
                if !user.is_active || user.is_admin_locked(request.now) {
                    self.inner
                        .store
                        .sessions
                        .revoke_session(user.id, session.id, request.now, "account_disabled")
                        .await?;
                    self.forget_sessions(&[session.id]).await;
                    return Err(AuthError::TokenInvalid);
                }
                self.sign_pair(user, session.id, replacement, subject.orgs.clone())
            }
            RotateOutcome::Reused(session) => {
                tracing::warn!(session_id = %session.id, "refresh token reuse: session revoked");
                self.forget_sessions(&[session.id]).await;
                self.emit(
                    AuthEvent::RefreshTokenReused {
                        user_id: session.user_id,
                        session_id: session.id,
                    },
                    meta,
                )
                .await?;
                Err(AuthError::RefreshTokenReused)
            }
            RotateOutcome::Invalid => Err(AuthError::TokenInvalid),
        }
    }

    /// Verifies an access token and returns the caller. No store round
    /// trip: the session is looked up in the in-memory
    /// [revocation list](crate::revocation), so a session this instance
    /// revoked is refused at once, and one revoked elsewhere as soon as the
    /// configured list learns of it (a shared feed bounds that delay).
    ///
    /// # Errors
    /// `TokenInvalid` (also for a revoked session), `TokenExpired`;
    /// `StoreUnavailable` when a shared revocation list that fails closed
    /// cannot vouch for being current.
    pub fn authenticate(&self, access_token: &str) -> AuthResult<Principal> {
        let now = self.now();
        let claims = self.inner.tokens.verify(access_token, now)?;
        let principal = Principal::from_claims(&claims, &self.inner.org_roles)?;
        self.inner.revocations.check(principal.session_id, now)?;
        Ok(principal)
    }

    /// Ends one session: the one `refresh_token` belongs to when given
    /// (it must be the caller's), else the caller's current session.
    ///
    /// # Errors
    /// `TokenInvalid` for a refresh token of someone else or unknown.
    pub async fn logout(
        &self,
        principal: &Principal,
        refresh_token: Option<&str>,
        meta: &RequestMeta,
    ) -> AuthResult<()> {
        let session_id = match refresh_token {
            Some(token) if !token.is_empty() && token.len() <= MAX_OPAQUE_TOKEN => {
                let session = self
                    .inner
                    .store
                    .sessions
                    .session_by_refresh(&TokenHash::of_token(token))
                    .await?
                    .filter(|s| s.user_id == principal.user_id)
                    .ok_or(AuthError::TokenInvalid)?;
                session.id
            }
            Some(_) => return Err(AuthError::TokenInvalid),
            None => principal.session_id,
        };
        self.inner
            .store
            .sessions
            .revoke_session(principal.user_id, session_id, self.now(), "logout")
            .await?;
        self.forget_sessions(&[session_id]).await;
        self.emit(
            AuthEvent::LoggedOut {
                user_id: principal.user_id,
                session_id,
            },
            meta,
        )
        .await
    }

    /// Revokes every session of `user_id` but `keep` ([`end_sessions`](Self::end_sessions))
    /// and audits it as `sessions_revoked` with `reason`.
    pub(crate) async fn revoke_sessions(
        &self,
        user_id: Uuid,
        keep: Option<Uuid>,
        reason: &str,
        meta: &RequestMeta,
    ) -> AuthResult<u64> {
        let count = self.end_sessions(user_id, keep, reason).await?;
        self.emit(
            AuthEvent::SessionsRevoked {
                user_id,
                count,
                reason: reason.to_owned(),
            },
            meta,
        )
        .await?;
        Ok(count)
    }

    /// Revokes every live session of `user_id` but `keep` in the store and
    /// puts them on the revocation list, so their access tokens are
    /// refused at once; answers how many the store revoked. Audits
    /// nothing: the caller emits the event that fits.
    pub(crate) async fn end_sessions(
        &self,
        user_id: Uuid,
        keep: Option<Uuid>,
        reason: &str,
    ) -> AuthResult<u64> {
        // The ids go on the revocation list; the store call answers only a
        // count, so they are read first. A session opened between the two
        // calls is revoked in the store but not listed: its access token
        // then lives out its lifetime, as without a list.
        let now = self.now();
        let doomed: Vec<Uuid> = self
            .inner
            .store
            .sessions
            .sessions_for_user(user_id, now)
            .await?
            .into_iter()
            .map(|s| s.id)
            .filter(|id| Some(*id) != keep)
            .collect();
        let count = self
            .inner
            .store
            .sessions
            .revoke_user_sessions(user_id, keep, now, reason)
            .await?;
        self.forget_sessions(&doomed).await;
        Ok(count)
    }

    /// Throttles, finds the account, verifies the password (one hash even
    /// for unknown accounts), counts failures, and checks the account
    /// state. Changes nothing on success: [`accept_login`](Self::accept_login)
    /// does, once the caller has decided to let the login through.
    async fn check_password_login(
        &self,
        credentials: &Credentials,
        meta: &RequestMeta,
    ) -> AuthResult<CheckedLogin> {
        let email = Email::parse(&credentials.email).ok();
        self.throttle_ip(RateAction::LoginPerIp, meta).await?;
        let email_key = email.as_ref().map_or_else(
            || credentials.email.trim().to_lowercase(),
            |e| e.as_str().to_owned(),
        );
        self.throttle(RateAction::LoginPerEmail, &email_key).await?;

        let user = match &email {
            Some(email) => self.inner.store.users.user_by_email(email).await?,
            None => None,
        };
        let stored = user.as_ref().and_then(|u| u.password_hash.as_deref());
        let verification = self
            .inner
            .hasher
            .verify_for_client(&self.client_key(meta), &credentials.password, stored)
            .await?;
        let now = self.now();

        let Some(user) = user else {
            self.audit_login_failure(None, "invalid_credentials", meta)
                .await?;
            return Err(AuthError::InvalidCredentials);
        };
        let locked = user.is_locked(now);
        if !verification.valid {
            if locked {
                // While a lock is in force a wrong password answers exactly
                // as for an unknown address (same store calls, same body)
                // and does not count: only the right password learns of
                // the lock, and guesses cannot prolong it.
                self.audit_login_failure(Some(user.id), "invalid_credentials", meta)
                    .await?;
                return Err(AuthError::InvalidCredentials);
            }
            self.count_password_failure(&user, "invalid_credentials", meta)
                .await?;
            return Err(AuthError::InvalidCredentials);
        }
        if locked {
            self.audit_login_failure(Some(user.id), "account_locked", meta)
                .await?;
            return Err(AuthError::AccountLocked {
                until: user.lock_ends(now),
            });
        }
        if !user.is_active {
            self.audit_login_failure(Some(user.id), "account_inactive", meta)
                .await?;
            return Err(AuthError::AccountInactive);
        }
        if self.inner.config.account.require_email_verification && !user.email_verified() {
            self.audit_login_failure(Some(user.id), "email_not_verified", meta)
                .await?;
            return Err(AuthError::EmailNotVerified);
        }
        Ok(CheckedLogin {
            user,
            needs_rehash: verification.needs_rehash,
        })
    }

    /// Lets a checked login through: clears the failure count and upgrades
    /// the stored hash when it is legacy or uses other parameters.
    async fn accept_login(&self, checked: CheckedLogin, password: &str) -> AuthResult<User> {
        let CheckedLogin {
            mut user,
            needs_rehash,
        } = checked;
        if user.failed_login_count > 0 || user.locked_until.is_some() {
            self.inner.store.users.clear_login_failures(user.id).await?;
        }
        if needs_rehash && let Some(old) = user.password_hash.clone() {
            let new = self.inner.hasher.hash(password).await?;
            // Only while the stored hash is still the one just verified: a
            // password changed meanwhile is kept.
            let update = UserUpdate::Rehash {
                old,
                new: new.clone(),
            };
            if self
                .inner
                .store
                .users
                .update_user(user.id, &update, self.now())
                .await?
            {
                user.password_hash = Some(new);
            }
        }
        Ok(user)
    }

    /// Counts a wrong password of `user` towards the lockout, audits it
    /// with `reason`, and audits the lock when this failure sets one. Every
    /// route that checks a password counts its failures here.
    pub(crate) async fn count_password_failure(
        &self,
        user: &User,
        reason: &str,
        meta: &RequestMeta,
    ) -> AuthResult<()> {
        self.record_lockout_failure(user, self.inner.config.lockout, meta)
            .await?;
        self.audit_login_failure(Some(user.id), reason, meta).await
    }

    /// Counts one failure of `user` towards the failure lock under
    /// `policy`, and audits the lock when this failure is the one that
    /// sets it. Password and second-factor failures both lock here.
    pub(crate) async fn record_lockout_failure(
        &self,
        user: &User,
        policy: LockoutPolicy,
        meta: &RequestMeta,
    ) -> AuthResult<()> {
        let now = self.now();
        let state = self
            .inner
            .store
            .users
            .record_login_failure(user.id, now, policy)
            .await?;
        let already_locked = user.is_locked(now);
        if let Some(until) = state
            .locked_until
            .filter(|until| *until > now && !already_locked)
        {
            self.emit(
                AuthEvent::AccountLocked {
                    user_id: user.id,
                    until,
                },
                meta,
            )
            .await?;
        }
        Ok(())
    }

    pub(crate) async fn audit_login_failure(
        &self,
        user_id: Option<Uuid>,
        reason: &str,
        meta: &RequestMeta,
    ) -> AuthResult<()> {
        self.emit(
            AuthEvent::LoginFailed {
                user_id,
                reason: reason.to_owned(),
            },
            meta,
        )
        .await
    }

    fn password_expired(&self, user: &User) -> bool {
        if user.must_change_password {
            return true;
        }
        match (
            self.inner.config.account.force_password_rotation,
            user.password_changed_at,
        ) {
            (Some(max_age), Some(changed)) => changed + max_age <= self.now(),
            _ => false,
        }
    }

    /// Creates a session for `user` and answers its first token pair.
    pub(crate) async fn open_session(
        &self,
        user: &User,
        meta: &RequestMeta,
    ) -> AuthResult<TokenPair> {
        let now = self.now();
        let session = Session {
            id: Uuid::now_v7(),
            user_id: user.id,
            ip: meta.ip.clone(),
            user_agent: meta.user_agent.clone(),
            created_at: now,
            last_seen_at: now,
            expires_at: now + self.inner.config.session_ttl,
            revoked_at: None,
            revoke_reason: None,
        };
        let refresh = secret::token256();
        self.inner
            .store
            .sessions
            .create_session(&session, &TokenHash::of_token(&refresh))
            .await?;
        self.emit(
            AuthEvent::LoginSucceeded {
                user_id: user.id,
                session_id: session.id,
            },
            meta,
        )
        .await?;
        self.note_device(user, meta).await?;
        self.token_pair(user, session.id, refresh).await
    }

    /// A fresh access token (global roles and permissions, organisation
    /// memberships read from the store now) with `refresh_token`.
    async fn token_pair(
        &self,
        user: &User,
        session_id: Uuid,
        refresh_token: String,
    ) -> AuthResult<TokenPair> {
        let orgs = self.org_claims(user.id).await?;
        self.sign_pair(user, session_id, refresh_token, orgs)
    }

    /// The account and organisation claims a refresh signs: read from the
    /// store, or kept from an earlier refresh if no change to the account
    /// or its memberships has been recorded since those reads started (see
    /// [`AuthConfig::account_cache_ttl`](crate::AuthConfig::account_cache_ttl)).
    async fn subject(&self, user_id: Uuid) -> AuthResult<Arc<Subject>> {
        let subjects = &self.inner.subjects;
        if let Some(subject) = subjects.get(user_id, &*self.inner.revocations) {
            return Ok(subject);
        }
        let read_at = std::time::Instant::now();
        let subject = Arc::new(Subject {
            user: self.user(user_id).await?,
            orgs: self.org_claims(user_id).await?,
        });
        subjects.put(user_id, read_at, &subject);
        Ok(subject)
    }

    fn sign_pair(
        &self,
        user: &User,
        session_id: Uuid,
        refresh_token: String,
        orgs: BTreeMap<String, String>,
    ) -> AuthResult<TokenPair> {
        let permissions = self.inner.roles.permissions_for(&user.roles);
        let (access_token, _) = self.inner.tokens.issue_with_orgs(
            user.id,
            session_id,
            &user.roles,
            &permissions,
            orgs,
            self.now(),
        )?;
        Ok(TokenPair {
            access_token,
            refresh_token,
            token_type: "Bearer",
            expires_in: self.inner.config.access_token_ttl.num_seconds(),
            session_id,
        })
    }
}

crate::auth::feature_handle! {
    /// The signed-in account's sessions: list them, revoke one, the
    /// others, or all.
    Sessions, sessions
}

impl Sessions<'_> {
    /// Ends every session of the caller.
    ///
    /// # Errors
    /// Store errors.
    pub async fn revoke_all(self, principal: &Principal, meta: &RequestMeta) -> AuthResult<u64> {
        self.auth
            .revoke_sessions(principal.user_id, None, "logout_all", meta)
            .await
    }

    /// The caller's live sessions, newest first, the current one marked.
    ///
    /// # Errors
    /// Store errors.
    pub async fn list(self, principal: &Principal) -> AuthResult<Vec<SessionView>> {
        let now = self.auth.now();
        let idle = self.auth.inner.config.session_idle_timeout;
        Ok(self
            .auth
            .inner
            .store
            .sessions
            .sessions_for_user(principal.user_id, now)
            .await?
            .iter()
            .filter(|s| s.is_live(now, idle))
            .map(|s| s.view(Some(principal.session_id)))
            .collect())
    }

    /// Revokes one of the caller's sessions.
    ///
    /// # Errors
    /// `NotFound` when it is not a live session of the caller.
    pub async fn revoke(
        self,
        principal: &Principal,
        session_id: Uuid,
        meta: &RequestMeta,
    ) -> AuthResult<()> {
        let revoked = self
            .auth
            .inner
            .store
            .sessions
            .revoke_session(
                principal.user_id,
                session_id,
                self.auth.now(),
                "revoked_by_user",
            )
            .await?;
        if !revoked {
            return Err(AuthError::NotFound);
        }
        self.auth.forget_sessions(&[session_id]).await;
        self.auth
            .emit(
                AuthEvent::SessionsRevoked {
                    user_id: principal.user_id,
                    count: 1,
                    reason: "revoked_by_user".into(),
                },
                meta,
            )
            .await
    }

    /// Ends every session of the caller except the current one.
    ///
    /// # Errors
    /// Store errors.
    pub async fn revoke_others(self, principal: &Principal, meta: &RequestMeta) -> AuthResult<u64> {
        self.auth
            .revoke_sessions(
                principal.user_id,
                Some(principal.session_id),
                "revoked_by_user",
                meta,
            )
            .await
    }
}
