//! Password change and reset.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::audit::{AuthEvent, RequestMeta};
use crate::auth::{Auth, MAX_OPAQUE_TOKEN};
use crate::email::Email;
use crate::error::{AuthError, AuthResult};
use crate::one_time::{OneTimeToken, Purpose};
use crate::password::PasswordHasher;
use crate::principal::Principal;
use crate::rate_limit::RateAction;
use crate::secret::{self, TokenHash};
use crate::store::UserUpdate;
use crate::user::User;

/// A new password waiting for the second factor of a forced change
/// ([`Auth::login_with_new_password`]): its argon2id hash, never the
/// password, carried in the `mfa_token`'s stored state until
/// `/mfa/verify` applies it.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct PendingPassword {
    /// PHC string of the new password.
    pub(crate) hash: String,
    /// SHA-256 (hex) of the account's stored hash when the change was
    /// asked: any change made since (a reset, say; every hash has its own
    /// salt) makes this one stale.
    replaces: String,
}

impl PendingPassword {
    /// A change of `user`'s current password to the one hashed as `hash`.
    pub(crate) fn replacing(user: &User, hash: String) -> Self {
        Self {
            hash,
            replaces: stored_fingerprint(user),
        }
    }

    /// Whether `user`'s password is still the one this change replaces.
    pub(crate) fn is_current_for(&self, user: &User) -> bool {
        secret::ct_eq(
            self.replaces.as_bytes(),
            stored_fingerprint(user).as_bytes(),
        )
    }
}

/// SHA-256 (hex) of `user`'s stored password hash (empty input without one).
fn stored_fingerprint(user: &User) -> String {
    TokenHash::of_token(user.password_hash.as_deref().unwrap_or_default()).to_hex()
}

impl std::fmt::Debug for PendingPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PendingPassword(<redacted>)")
    }
}

impl Auth {
    /// The background half of [`Passwords::request_reset`](crate::account::Passwords::request_reset): the same
    /// lookup for every address, then the token, mail and audit record for
    /// an active account.
    async fn send_password_reset(&self, email: &Email, meta: &RequestMeta) -> AuthResult<()> {
        let Some(user) = self.inner.store.users.user_by_email(email).await? else {
            return Ok(());
        };
        let now = self.now();
        // A failure lock is what a reset is for; an administrator's lock
        // is not lifted by one, so such an account gets no mail.
        if !user.is_active || user.is_admin_locked(now) {
            return Ok(());
        }
        let config = &self.inner.config;
        let token = secret::token256();
        self.inner
            .store
            .tokens
            .issue_token(&OneTimeToken {
                id: Uuid::now_v7(),
                purpose: Purpose::ResetPassword,
                subject: user.id.to_string(),
                hash: TokenHash::of_token(&token),
                payload: serde_json::Value::Null,
                created_at: now,
                expires_at: now + config.account.reset_password_ttl,
                attempts: 0,
                max_attempts: 1,
                consumed_at: None,
            })
            .await?;
        let link = self.link(&config.account.reset_password_path, &token);
        let rendered = self.inner.templates.password_reset(
            &config.app_name,
            &link,
            config.account.reset_password_ttl.num_minutes(),
        );
        // A failed mail still gets its audit record.
        if let Err(err) = self.send_mail(&user, rendered).await {
            tracing::error!(error = %err.report(), "password reset mail not sent");
        }
        self.emit(AuthEvent::PasswordResetRequested { user_id: user.id }, meta)
            .await
    }

    /// Checks `password` against the policy in the context of `user`.
    fn check_policy(&self, user: &User, password: &str) -> AuthResult<()> {
        let mut context = vec![user.email.as_str()];
        if let Some((local, _)) = user.email.as_str().split_once('@') {
            context.push(local);
        }
        if let Some(name) = &user.display_name {
            context.push(name);
        }
        self.inner
            .config
            .password_policy
            .validate(password, &context)
    }

    /// Checks `new_password` against the policy for `user` and hashes it.
    pub(crate) async fn new_password_hash(
        &self,
        user: &User,
        new_password: &str,
    ) -> AuthResult<String> {
        self.check_policy(user, new_password)?;
        self.inner.hasher.hash(new_password).await
    }

    /// Stores the password hashed as `hash` (every check has passed),
    /// revokes every session but `keep`, and records and announces the
    /// change.
    pub(crate) async fn apply_password(
        &self,
        user: User,
        hash: String,
        keep: Option<Uuid>,
        meta: &RequestMeta,
    ) -> AuthResult<User> {
        let user = self.store_password(user, hash, keep, meta).await?;
        self.emit(AuthEvent::PasswordChanged { user_id: user.id }, meta)
            .await?;
        self.notify(&user, |t, app| t.password_changed(app)).await;
        Ok(user)
    }

    /// Stores the password hashed as `hash`, clears
    /// `must_change_password`, and revokes every session but `keep`.
    async fn store_password(
        &self,
        mut user: User,
        hash: String,
        keep: Option<Uuid>,
        meta: &RequestMeta,
    ) -> AuthResult<User> {
        let now = self.now();
        // Only the password fields: a deactivation or a role change made
        // while the hash was computed stays.
        self.inner
            .store
            .users
            .update_user(user.id, &UserUpdate::Password { hash: hash.clone() }, now)
            .await?;
        user.password_hash = Some(hash);
        user.password_changed_at = Some(now);
        user.must_change_password = false;
        user.updated_at = now;
        self.revoke_sessions(user.id, keep, "password_changed", meta)
            .await?;
        Ok(user)
    }
}

crate::auth::feature_handle! {
    /// Password change and reset, and the shared password hasher.
    Passwords, passwords
}

impl<'a> Passwords<'a> {
    /// The password hasher (its thread pool is shared by every flow).
    pub fn hasher(self) -> &'a PasswordHasher {
        &self.auth.inner.hasher
    }

    /// Changes the caller's password after checking the current one, and
    /// revokes every other session. The check is a re-authentication:
    /// throttled per account ([`RateAction::ReauthPerUser`]) and per IP
    /// ([`RateAction::ReauthPerIp`]), failures count towards the lockout,
    /// and a locked account is refused even with the right password.
    ///
    /// # Errors
    /// `RateLimited`; `InvalidCredentials` (counts towards lockout);
    /// `AccountLocked`; `PasswordTooWeak`.
    pub async fn change(
        self,
        principal: &Principal,
        current_password: &str,
        new_password: &str,
        meta: &RequestMeta,
    ) -> AuthResult<()> {
        let user = self.auth.user(principal.user_id).await?;
        self.auth
            .recheck_password(&user, current_password, meta)
            .await?;
        let hash = self.auth.new_password_hash(&user, new_password).await?;
        self.auth
            .apply_password(user, hash, Some(principal.session_id), meta)
            .await?;
        Ok(())
    }

    /// Emails a reset link if `email` belongs to an active account. Answers
    /// the same for unknown addresses, and in the same time: once the
    /// address is well-formed and within its throttle, the answer is
    /// decided and the rest (finding the account, issuing the token,
    /// mailing the link, auditing) runs in the background
    /// ([`Auth::background_idle`] waits for it), with failures logged. The
    /// link is built from the configured public URL and sent to the stored
    /// address.
    ///
    /// Throttled per client IP (every request, well-formed or not) and per
    /// address.
    ///
    /// # Errors
    /// `RateLimited`.
    pub async fn request_reset(self, email: &str, meta: &RequestMeta) -> AuthResult<()> {
        self.auth.throttle_ip(RateAction::ResetPerIp, meta).await?;
        let Ok(email) = Email::parse(email) else {
            return Ok(());
        };
        self.auth
            .throttle(RateAction::ResetPerEmail, email.as_str())
            .await?;
        let auth = self.auth.clone();
        let meta = meta.clone();
        self.auth
            .in_background("password reset request", async move {
                auth.send_password_reset(&email, &meta).await
            })
            .await;
        Ok(())
    }

    /// Sets a new password with a reset token. The new password is checked
    /// before the token is spent; on success every session is revoked, the
    /// failure lockout is cleared (an administrator's lock is not), and the
    /// email counts as verified (the link proved it).
    ///
    /// # Errors
    /// `TokenInvalid` (unknown, used, expired or superseded token),
    /// `PasswordTooWeak`.
    pub async fn confirm_reset(
        self,
        token: &str,
        new_password: &str,
        meta: &RequestMeta,
    ) -> AuthResult<()> {
        if token.is_empty() || token.len() > MAX_OPAQUE_TOKEN {
            return Err(AuthError::TokenInvalid);
        }
        let hash = TokenHash::of_token(token);
        let tokens = &self.auth.inner.store.tokens;
        let found = tokens
            .find_token(Purpose::ResetPassword, &hash, self.auth.now())
            .await?
            .ok_or(AuthError::TokenInvalid)?;
        let user_id = Uuid::parse_str(&found.subject).map_err(AuthError::internal)?;
        let user = self
            .auth
            .user(user_id)
            .await
            .map_err(|_| AuthError::TokenInvalid)?;
        self.auth.check_policy(&user, new_password)?;
        tokens
            .consume_token(Purpose::ResetPassword, &hash, self.auth.now())
            .await?
            .filter(|consumed| consumed.subject == found.subject)
            .ok_or(AuthError::TokenInvalid)?;
        // Hashed once the token is won: concurrent confirmations cost one
        // hash, not one each.
        let new_hash = self
            .auth
            .inner
            .hasher
            .hash_for_client(&self.auth.client_key(meta), new_password)
            .await?;
        let user = self.auth.store_password(user, new_hash, None, meta).await?;
        // Clears the failure lock only: an administrator's lock stays.
        self.auth
            .inner
            .store
            .users
            .clear_login_failures(user.id)
            .await?;
        if self
            .auth
            .update_user(user.id, UserUpdate::EmailVerified)
            .await?
        {
            self.auth
                .emit(AuthEvent::EmailVerified { user_id: user.id }, meta)
                .await?;
        }
        self.auth
            .emit(AuthEvent::PasswordReset { user_id: user.id }, meta)
            .await?;
        self.auth
            .notify(&user, |t, app| t.password_changed(app))
            .await;
        Ok(())
    }
}
