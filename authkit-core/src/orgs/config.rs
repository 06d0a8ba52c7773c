//! The organisation settings: [`OrgsConfig`], read from
//! `AUTHKIT_ACCEPT_INVITE_PATH` and `AUTHKIT_INVITE_TTL` and checked here,
//! next to the invitation flow.

use chrono::Duration;

use crate::config::{ConfigError, Env, check_link_path};

/// How invitations are sent; the `orgs` part of
/// [`AuthConfig`](crate::AuthConfig).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OrgsConfig {
    /// Path (under `public_url`) of the page that accepts an organisation
    /// invitation; the link gets `?token=…`. `AUTHKIT_ACCEPT_INVITE_PATH`.
    pub accept_invite_path: String,
    /// How long an organisation invitation works (default 7 days).
    /// `AUTHKIT_INVITE_TTL`.
    pub invite_ttl: Duration,
}

impl Default for OrgsConfig {
    /// Invitations link to `/accept-invite` and work for 7 days.
    fn default() -> Self {
        Self {
            accept_invite_path: "/accept-invite".into(),
            invite_ttl: Duration::days(7),
        }
    }
}

impl OrgsConfig {
    /// Path of the invitation-acceptance page.
    #[must_use]
    pub fn accept_invite_path(mut self, path: impl Into<String>) -> Self {
        self.accept_invite_path = path.into();
        self
    }

    /// Organisation invitation lifetime.
    #[must_use]
    pub fn invite_ttl(mut self, ttl: Duration) -> Self {
        self.invite_ttl = ttl;
        self
    }

    /// Checks the invitation link path and lifetime.
    ///
    /// # Errors
    /// The first setting out of bounds, named by its environment variable.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_link_path("AUTHKIT_ACCEPT_INVITE_PATH", &self.accept_invite_path)?;
        if self.invite_ttl <= Duration::zero() {
            return Err(ConfigError::new(
                "AUTHKIT_INVITE_TTL",
                "must be greater than zero",
            ));
        }
        Ok(())
    }

    /// Reads the organisation variables over the current values.
    pub(crate) fn read_env(&mut self, env: &Env<'_>) -> Result<(), ConfigError> {
        env.string("AUTHKIT_ACCEPT_INVITE_PATH", &mut self.accept_invite_path);
        env.duration("AUTHKIT_INVITE_TTL", &mut self.invite_ttl)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invitation_settings_are_checked() {
        OrgsConfig::default().validate().unwrap();
        OrgsConfig::default()
            .accept_invite_path("/join")
            .invite_ttl(Duration::hours(1))
            .validate()
            .unwrap();
        for (var, config) in [
            (
                "AUTHKIT_ACCEPT_INVITE_PATH",
                OrgsConfig::default().accept_invite_path("//evil.example"),
            ),
            (
                "AUTHKIT_ACCEPT_INVITE_PATH",
                OrgsConfig::default().accept_invite_path("/join?x=1"),
            ),
            (
                "AUTHKIT_INVITE_TTL",
                OrgsConfig::default().invite_ttl(Duration::zero()),
            ),
        ] {
            assert_eq!(config.validate().unwrap_err().variable, var);
        }
    }
}
