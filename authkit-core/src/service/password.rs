//! Password change and reset.

use uuid::Uuid;

use super::{Auth, MAX_OPAQUE_TOKEN};
use crate::audit::{AuthEvent, RequestMeta};
use crate::email::Email;
use crate::error::{AuthError, AuthResult};
use crate::one_time::{OneTimeToken, Purpose};
use crate::principal::Principal;
use crate::rate_limit::RateAction;
use crate::secret::{self, TokenHash};
use crate::user::User;

impl Auth {
    /// Changes the caller's password after checking the current one, and
    /// revokes every other session.
    ///
    /// # Errors
    /// `InvalidCredentials` (counts towards lockout), `PasswordTooWeak`.
    pub async fn change_password(
        &self,
        principal: &Principal,
        current_password: &str,
        new_password: &str,
        meta: &RequestMeta,
    ) -> AuthResult<()> {
        let user = self.user(principal.user_id).await?;
        let verification = self
            .inner
            .hasher
            .verify(current_password, user.password_hash.as_deref())
            .await?;
        if !verification.valid {
            self.inner
                .store
                .users
                .record_login_failure(user.id, self.now(), self.inner.config.lockout)
                .await?;
            return Err(AuthError::InvalidCredentials);
        }
        let user = self
            .set_password(user, new_password, Some(principal.session_id), meta)
            .await?;
        self.emit(AuthEvent::PasswordChanged { user_id: user.id }, meta)
            .await?;
        self.notify(&user, |t, app| t.password_changed(app)).await;
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
    /// # Errors
    /// `RateLimited`.
    pub async fn request_password_reset(&self, email: &str, meta: &RequestMeta) -> AuthResult<()> {
        let Ok(email) = Email::parse(email) else {
            return Ok(());
        };
        self.throttle(RateAction::ResetPerEmail, email.as_str())
            .await?;
        let auth = self.clone();
        let meta = meta.clone();
        self.in_background("password reset request", async move {
            auth.send_password_reset(&email, &meta).await
        })
        .await;
        Ok(())
    }

    /// The background half of [`Auth::request_password_reset`]: the same
    /// lookup for every address, then the token, mail and audit record for
    /// an active account.
    async fn send_password_reset(&self, email: &Email, meta: &RequestMeta) -> AuthResult<()> {
        let Some(user) = self.inner.store.users.user_by_email(email).await? else {
            return Ok(());
        };
        if !user.is_active {
            return Ok(());
        }
        let config = &self.inner.config;
        let now = self.now();
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
                expires_at: now + config.reset_password_ttl,
                attempts: 0,
                max_attempts: 1,
                consumed_at: None,
            })
            .await?;
        let link = self.link(&config.reset_password_path, &token);
        let rendered = self.inner.templates.password_reset(
            &config.app_name,
            &link,
            config.reset_password_ttl.num_minutes(),
        );
        // A failed mail still gets its audit record.
        if let Err(err) = self.send_mail(&user, rendered).await {
            tracing::error!(error = %err, "password reset mail not sent");
        }
        self.emit(AuthEvent::PasswordResetRequested { user_id: user.id }, meta)
            .await
    }

    /// Sets a new password with a reset token. The new password is checked
    /// before the token is spent; on success every session is revoked, the
    /// lockout is cleared, and the email counts as verified (the link
    /// proved it).
    ///
    /// # Errors
    /// `TokenInvalid` (unknown, used, expired or superseded token),
    /// `PasswordTooWeak`.
    pub async fn confirm_password_reset(
        &self,
        token: &str,
        new_password: &str,
        meta: &RequestMeta,
    ) -> AuthResult<()> {
        if token.is_empty() || token.len() > MAX_OPAQUE_TOKEN {
            return Err(AuthError::TokenInvalid);
        }
        let hash = TokenHash::of_token(token);
        let tokens = &self.inner.store.tokens;
        let found = tokens
            .find_token(Purpose::ResetPassword, &hash, self.now())
            .await?
            .ok_or(AuthError::TokenInvalid)?;
        let user_id = Uuid::parse_str(&found.subject).map_err(AuthError::internal)?;
        let user = self
            .user(user_id)
            .await
            .map_err(|_| AuthError::TokenInvalid)?;
        self.check_policy(&user, new_password)?;
        tokens
            .consume_token(Purpose::ResetPassword, &hash, self.now())
            .await?
            .filter(|consumed| consumed.subject == found.subject)
            .ok_or(AuthError::TokenInvalid)?;
        let mut user = self.set_password(user, new_password, None, meta).await?;
        self.inner.store.users.clear_login_failures(user.id).await?;
        if user.email_verified_at.is_none() {
            user.email_verified_at = Some(self.now());
            self.inner.store.users.update_user(&user).await?;
            self.emit(AuthEvent::EmailVerified { user_id: user.id }, meta)
                .await?;
        }
        self.emit(AuthEvent::PasswordReset { user_id: user.id }, meta)
            .await?;
        self.notify(&user, |t, app| t.password_changed(app)).await;
        Ok(())
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

    /// Validates, hashes and stores a new password, clears
    /// `must_change_password`, and revokes every session but `keep`.
    pub(super) async fn set_password(
        &self,
        mut user: User,
        new_password: &str,
        keep: Option<Uuid>,
        meta: &RequestMeta,
    ) -> AuthResult<User> {
        self.check_policy(&user, new_password)?;
        let now = self.now();
        user.password_hash = Some(self.inner.hasher.hash(new_password).await?);
        user.password_changed_at = Some(now);
        user.must_change_password = false;
        user.updated_at = now;
        self.inner.store.users.update_user(&user).await?;
        self.revoke_sessions(user.id, keep, "password_changed", meta)
            .await?;
        Ok(user)
    }
}
