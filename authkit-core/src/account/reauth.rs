//! Re-authentication: a signed-in caller proving the password again
//! before a sensitive change (password change, deactivation, turning TOTP
//! off, unlinking an identity).

use crate::audit::RequestMeta;
use crate::auth::Auth;
use crate::error::{AuthError, AuthResult};
use crate::rate_limit::RateAction;
use crate::user::User;

impl Auth {
    /// Checks `password` against `user`'s stored password, as a login
    /// would: throttled per account ([`RateAction::ReauthPerUser`]) and
    /// per client IP ([`RateAction::ReauthPerIp`]), a wrong password counts
    /// towards the same lockout as a failed login, and a locked account is
    /// refused with `AccountLocked` even with the right password. A wrong
    /// password is `InvalidCredentials` whether or not the account is
    /// locked, so the lock is never revealed to a guess.
    ///
    /// # Errors
    /// `RateLimited`, `InvalidCredentials`, `AccountLocked`.
    pub(crate) async fn recheck_password(
        &self,
        user: &User,
        password: &str,
        meta: &RequestMeta,
    ) -> AuthResult<()> {
        self.throttle_ip(RateAction::ReauthPerIp, meta).await?;
        self.throttle(RateAction::ReauthPerUser, &user.id.to_string())
            .await?;
        let verification = self
            .inner
            .hasher
            .verify_for_client(
                &self.client_key(meta),
                password,
                user.password_hash.as_deref(),
            )
            .await?;
        if !verification.valid {
            self.count_password_failure(user, "password_recheck_failed", meta)
                .await?;
            return Err(AuthError::InvalidCredentials);
        }
        let now = self.now();
        if user.is_locked(now) {
            self.audit_login_failure(Some(user.id), "account_locked", meta)
                .await?;
            return Err(AuthError::AccountLocked {
                until: user.lock_ends(now),
            });
        }
        Ok(())
    }
}
