//! The account settings: [`AccountConfig`] (registration, email
//! verification, password reset and rotation), read from their
//! `AUTHKIT_*` variables and checked here, next to the account flows.

use chrono::Duration;

use crate::config::{ConfigError, Env, check_link_path};

/// Who may register and how accounts prove their address; the `account`
/// part of [`AuthConfig`](crate::AuthConfig).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AccountConfig {
    /// Self-service registration. `AUTHKIT_ALLOW_AUTO_REGISTRATION`.
    pub allow_auto_registration: bool,
    /// Refuse logins until the email is verified.
    /// `AUTHKIT_REQUIRE_EMAIL_VERIFICATION`.
    pub require_email_verification: bool,
    /// Path (under `public_url`) of the page that confirms an email; the
    /// link gets `?token=…`. `AUTHKIT_VERIFY_EMAIL_PATH`.
    pub verify_email_path: String,
    /// Path of the page that sets a new password; the link gets `?token=…`.
    /// `AUTHKIT_RESET_PASSWORD_PATH`.
    pub reset_password_path: String,
    /// Email-verification link lifetime (at most 24 h).
    /// `AUTHKIT_VERIFY_EMAIL_TTL`.
    pub verify_email_ttl: Duration,
    /// Password-reset link lifetime (at most 30 min).
    /// `AUTHKIT_RESET_PASSWORD_TTL`.
    pub reset_password_ttl: Duration,
    /// Maximum password age; older passwords must be changed.
    /// `AUTHKIT_FORCE_PASSWORD_ROTATION` (days, 0 = off).
    pub force_password_rotation: Option<Duration>,
}

impl Default for AccountConfig {
    /// Open registration, verified emails required, 24 h verification
    /// links, 30 min reset links, no forced rotation.
    fn default() -> Self {
        Self {
            allow_auto_registration: true,
            require_email_verification: true,
            verify_email_path: "/verify-email".into(),
            reset_password_path: "/reset-password".into(),
            verify_email_ttl: Duration::hours(24),
            reset_password_ttl: Duration::minutes(30),
            force_password_rotation: None,
        }
    }
}

impl AccountConfig {
    /// Self-service registration.
    #[must_use]
    pub fn allow_auto_registration(mut self, allow: bool) -> Self {
        self.allow_auto_registration = allow;
        self
    }

    /// Refuse logins until the email is verified.
    #[must_use]
    pub fn require_email_verification(mut self, require: bool) -> Self {
        self.require_email_verification = require;
        self
    }

    /// Path of the email-confirmation page.
    #[must_use]
    pub fn verify_email_path(mut self, path: impl Into<String>) -> Self {
        self.verify_email_path = path.into();
        self
    }

    /// Path of the new-password page.
    #[must_use]
    pub fn reset_password_path(mut self, path: impl Into<String>) -> Self {
        self.reset_password_path = path.into();
        self
    }

    /// Email-verification link lifetime.
    #[must_use]
    pub fn verify_email_ttl(mut self, ttl: Duration) -> Self {
        self.verify_email_ttl = ttl;
        self
    }

    /// Password-reset link lifetime.
    #[must_use]
    pub fn reset_password_ttl(mut self, ttl: Duration) -> Self {
        self.reset_password_ttl = ttl;
        self
    }

    /// Maximum password age (`None`: no forced rotation).
    #[must_use]
    pub fn force_password_rotation(mut self, max_age: Option<Duration>) -> Self {
        self.force_password_rotation = max_age;
        self
    }

    /// Checks the link paths and lifetimes.
    ///
    /// # Errors
    /// The first setting out of bounds, named by its environment variable.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_link_path("AUTHKIT_VERIFY_EMAIL_PATH", &self.verify_email_path)?;
        check_link_path("AUTHKIT_RESET_PASSWORD_PATH", &self.reset_password_path)?;
        for (var, ttl, max, what) in [
            (
                "AUTHKIT_VERIFY_EMAIL_TTL",
                self.verify_email_ttl,
                Duration::hours(24),
                "24h",
            ),
            (
                "AUTHKIT_RESET_PASSWORD_TTL",
                self.reset_password_ttl,
                Duration::minutes(30),
                "30m",
            ),
        ] {
            if ttl <= Duration::zero() {
                return Err(ConfigError::new(var, "must be greater than zero"));
            }
            if ttl > max {
                return Err(ConfigError::new(var, format!("must be at most {what}")));
            }
        }
        Ok(())
    }

    /// Reads the account variables over the current values.
    pub(crate) fn read_env(&mut self, env: &Env<'_>) -> Result<(), ConfigError> {
        env.flag(
            "AUTHKIT_ALLOW_AUTO_REGISTRATION",
            &mut self.allow_auto_registration,
        )?;
        env.flag(
            "AUTHKIT_REQUIRE_EMAIL_VERIFICATION",
            &mut self.require_email_verification,
        )?;
        env.string("AUTHKIT_VERIFY_EMAIL_PATH", &mut self.verify_email_path);
        env.string("AUTHKIT_RESET_PASSWORD_PATH", &mut self.reset_password_path);
        env.duration("AUTHKIT_VERIFY_EMAIL_TTL", &mut self.verify_email_ttl)?;
        env.duration("AUTHKIT_RESET_PASSWORD_TTL", &mut self.reset_password_ttl)?;
        let mut rotation_days: u32 = 0;
        env.number("AUTHKIT_FORCE_PASSWORD_ROTATION", &mut rotation_days)?;
        self.force_password_rotation =
            (rotation_days > 0).then(|| Duration::days(i64::from(rotation_days)));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_settings_are_checked() {
        AccountConfig::default().validate().unwrap();
        AccountConfig::default()
            .allow_auto_registration(false)
            .require_email_verification(false)
            .verify_email_path("/confirm")
            .reset_password_path("/new-password")
            .verify_email_ttl(Duration::hours(24))
            .reset_password_ttl(Duration::minutes(30))
            .force_password_rotation(Some(Duration::days(90)))
            .validate()
            .unwrap();
        let base = AccountConfig::default;
        for (var, config) in [
            (
                "AUTHKIT_VERIFY_EMAIL_PATH",
                base().verify_email_path("confirm"),
            ),
            (
                "AUTHKIT_RESET_PASSWORD_PATH",
                base().reset_password_path("//x"),
            ),
            (
                "AUTHKIT_VERIFY_EMAIL_TTL",
                base().verify_email_ttl(Duration::zero()),
            ),
            (
                "AUTHKIT_VERIFY_EMAIL_TTL",
                base().verify_email_ttl(Duration::hours(25)),
            ),
            (
                "AUTHKIT_RESET_PASSWORD_TTL",
                base().reset_password_ttl(Duration::zero()),
            ),
            (
                "AUTHKIT_RESET_PASSWORD_TTL",
                base().reset_password_ttl(Duration::minutes(31)),
            ),
        ] {
            assert_eq!(config.validate().unwrap_err().variable, var, "{config:?}");
        }
    }
}
