//! The MFA settings: [`MfaConfig`], read from the `AUTHKIT_MFA_*` and
//! `AUTHKIT_TOTP_*` variables and checked here, next to the flows that use
//! them.

use std::fmt;

use chrono::Duration;
use zeroize::Zeroizing;

use super::{MfaMethod, TotpAlgorithm, TotpParams};
use crate::config::{ConfigError, Env};

/// How multi-factor authentication behaves; the `mfa` part of
/// [`AuthConfig`](crate::AuthConfig).
///
/// Start from [`MfaConfig::default`] (off, every method offered) and chain
/// the setters; [`validate`](Self::validate) runs with the whole
/// configuration's.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MfaConfig {
    /// Multi-factor authentication routes. `AUTHKIT_ENABLE_MFA`.
    pub enabled: bool,
    /// Second factors offered, among `totp`, `backup_code`, `email`, `sms`
    /// (email is the weakest: NIST does not accept it as an out-of-band
    /// authenticator). Must include `totp`, which enrolment is built on.
    /// `AUTHKIT_MFA_METHODS` (comma-separated, default all four).
    pub methods: Vec<MfaMethod>,
    /// Global roles whose members must use MFA: their logins without an
    /// enrolment answer an enrolment demand instead of tokens.
    /// `AUTHKIT_MFA_REQUIRED_ROLES` (comma-separated, default none).
    pub required_roles: Vec<String>,
    /// 32-byte key encrypting TOTP secrets at rest; shared by every
    /// instance. Without it a random per-process key is used (with a loud
    /// warning) and enrolments do not survive a restart.
    /// `AUTHKIT_MFA_ENCRYPTION_KEY` (base64 or base64url).
    pub encryption_key: Option<Zeroizing<Vec<u8>>>,
    /// Lifetime of the `mfa_token` a password login answers (at most 15
    /// min). `AUTHKIT_MFA_TOKEN_TTL` (default 5m).
    pub token_ttl: Duration,
    /// Failed second-factor attempts per account, across every method and
    /// challenge, before the account locks like a password lockout (for
    /// `lockout.lock_for`; the count restarts after `lockout.window` without
    /// failures). `AUTHKIT_MFA_MAX_FAILURES` (1–100, default 10).
    pub max_failures: u32,
    /// Parameters of new TOTP enrolments. `AUTHKIT_TOTP_ALGORITHM` (SHA1,
    /// SHA256, SHA512), `AUTHKIT_TOTP_DIGITS` (6–8), `AUTHKIT_TOTP_PERIOD`
    /// (seconds, 15–300).
    pub totp: TotpParams,
}

impl fmt::Debug for MfaConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MfaConfig")
            .field("enabled", &self.enabled)
            .field("methods", &self.methods)
            .field("required_roles", &self.required_roles)
            .field(
                "encryption_key",
                &self.encryption_key.as_ref().map(|_| "<redacted>"),
            )
            .field("token_ttl", &self.token_ttl)
            .field("max_failures", &self.max_failures)
            .field("totp", &self.totp)
            .finish()
    }
}

impl Default for MfaConfig {
    /// Off; when turned on, every method is offered, `mfa_token`s live
    /// 5 minutes and 10 failed second factors lock the account.
    fn default() -> Self {
        Self {
            enabled: false,
            methods: vec![
                MfaMethod::Totp,
                MfaMethod::BackupCode,
                MfaMethod::Email,
                MfaMethod::Sms,
            ],
            required_roles: Vec::new(),
            encryption_key: None,
            token_ttl: Duration::minutes(5),
            max_failures: 10,
            totp: TotpParams::default(),
        }
    }
}

impl MfaConfig {
    /// Turns the MFA routes on or off.
    #[must_use]
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }

    /// The second factors offered (must include `totp`).
    #[must_use]
    pub fn methods(mut self, methods: impl Into<Vec<MfaMethod>>) -> Self {
        self.methods = methods.into();
        self
    }

    /// Global roles whose members must use MFA.
    #[must_use]
    pub fn required_roles(mut self, roles: impl Into<Vec<String>>) -> Self {
        self.required_roles = roles.into();
        self
    }

    /// The 32-byte key encrypting TOTP secrets at rest.
    #[must_use]
    pub fn encryption_key(mut self, key: impl Into<Vec<u8>>) -> Self {
        self.encryption_key = Some(Zeroizing::new(key.into()));
        self
    }

    /// Lifetime of the `mfa_token` of a login.
    #[must_use]
    pub fn token_ttl(mut self, ttl: Duration) -> Self {
        self.token_ttl = ttl;
        self
    }

    /// Failed second factors before the account locks.
    #[must_use]
    pub fn max_failures(mut self, max: u32) -> Self {
        self.max_failures = max;
        self
    }

    /// Parameters of new TOTP enrolments.
    #[must_use]
    pub fn totp(mut self, params: TotpParams) -> Self {
        self.totp = params;
        self
    }

    /// Checks the bounds of every MFA setting.
    ///
    /// # Errors
    /// The first setting out of bounds, named by its environment variable.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.methods.contains(&MfaMethod::Totp) {
            return Err(ConfigError::new(
                "AUTHKIT_MFA_METHODS",
                "must include totp (enrolment is built on it)",
            ));
        }
        if self
            .required_roles
            .iter()
            .any(|role| role.trim().is_empty())
        {
            return Err(ConfigError::new(
                "AUTHKIT_MFA_REQUIRED_ROLES",
                "role names must not be empty",
            ));
        }
        if self
            .encryption_key
            .as_ref()
            .is_some_and(|key| key.len() != 32)
        {
            return Err(ConfigError::new(
                "AUTHKIT_MFA_ENCRYPTION_KEY",
                "must be exactly 32 bytes",
            ));
        }
        if self.token_ttl <= Duration::zero() || self.token_ttl > Duration::minutes(15) {
            return Err(ConfigError::new(
                "AUTHKIT_MFA_TOKEN_TTL",
                "must be greater than zero and at most 15m",
            ));
        }
        if !(1..=100).contains(&self.max_failures) {
            return Err(ConfigError::new(
                "AUTHKIT_MFA_MAX_FAILURES",
                "must be between 1 and 100",
            ));
        }
        if !(6..=8).contains(&self.totp.digits) {
            return Err(ConfigError::new(
                "AUTHKIT_TOTP_DIGITS",
                "must be between 6 and 8",
            ));
        }
        if !self.totp.is_valid() {
            return Err(ConfigError::new(
                "AUTHKIT_TOTP_PERIOD",
                "must be between 15 and 300 seconds",
            ));
        }
        Ok(())
    }

    /// Reads the MFA variables over the current values.
    pub(crate) fn read_env(&mut self, env: &Env<'_>) -> Result<(), ConfigError> {
        env.flag("AUTHKIT_ENABLE_MFA", &mut self.enabled)?;
        if let Some(raw) = env.get("AUTHKIT_MFA_METHODS") {
            self.methods = env
                .list(raw)
                .map(|name| name.parse::<MfaMethod>())
                .collect::<Result<_, _>>()
                .map_err(|_| {
                    ConfigError::new(
                        "AUTHKIT_MFA_METHODS",
                        "expected a comma-separated list of totp, backup_code, email, sms",
                    )
                })?;
        }
        if let Some(raw) = env.get("AUTHKIT_MFA_REQUIRED_ROLES") {
            self.required_roles = env.list(raw).map(str::to_owned).collect();
        }
        if let Some(raw) = env.get("AUTHKIT_MFA_ENCRYPTION_KEY") {
            self.encryption_key = Some(Zeroizing::new(
                crate::config::decode_secret(raw)
                    .filter(|key| key.len() == 32)
                    .ok_or_else(|| {
                        ConfigError::new(
                            "AUTHKIT_MFA_ENCRYPTION_KEY",
                            "expected base64 of 32 bytes",
                        )
                    })?,
            ));
        }
        env.duration("AUTHKIT_MFA_TOKEN_TTL", &mut self.token_ttl)?;
        env.number("AUTHKIT_MFA_MAX_FAILURES", &mut self.max_failures)?;
        if let Some(raw) = env.get("AUTHKIT_TOTP_ALGORITHM") {
            self.totp.algorithm = raw.parse::<TotpAlgorithm>().map_err(|_| {
                ConfigError::new("AUTHKIT_TOTP_ALGORITHM", "expected SHA1, SHA256 or SHA512")
            })?;
        }
        env.number("AUTHKIT_TOTP_DIGITS", &mut self.totp.digits)?;
        env.number("AUTHKIT_TOTP_PERIOD", &mut self.totp.period)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_off() {
        let c = MfaConfig::default();
        c.validate().unwrap();
        assert!(!c.enabled);
        assert_eq!(c.methods.len(), 4);
        assert_eq!(c.token_ttl, Duration::minutes(5));
        assert!(!format!("{:?}", c.encryption_key(vec![3u8; 32])).contains("[3, 3"));
    }

    #[test]
    fn every_bound_names_its_variable() {
        let base = MfaConfig::default;
        for (var, config) in [
            ("AUTHKIT_MFA_METHODS", base().methods(vec![])),
            (
                "AUTHKIT_MFA_METHODS",
                base().methods(vec![MfaMethod::Email, MfaMethod::Sms]),
            ),
            (
                "AUTHKIT_MFA_REQUIRED_ROLES",
                base().required_roles(vec![" ".to_owned()]),
            ),
            (
                "AUTHKIT_MFA_ENCRYPTION_KEY",
                base().encryption_key(vec![1u8; 31]),
            ),
            ("AUTHKIT_MFA_TOKEN_TTL", base().token_ttl(Duration::zero())),
            (
                "AUTHKIT_MFA_TOKEN_TTL",
                base().token_ttl(Duration::minutes(16)),
            ),
            ("AUTHKIT_MFA_MAX_FAILURES", base().max_failures(0)),
            ("AUTHKIT_MFA_MAX_FAILURES", base().max_failures(101)),
            (
                "AUTHKIT_TOTP_DIGITS",
                base().totp(TotpParams {
                    digits: 9,
                    ..TotpParams::default()
                }),
            ),
            (
                "AUTHKIT_TOTP_PERIOD",
                base().totp(TotpParams {
                    period: 301,
                    ..TotpParams::default()
                }),
            ),
        ] {
            assert_eq!(config.validate().unwrap_err().variable, var, "{config:?}");
        }
        base()
            .enabled(true)
            .methods(vec![MfaMethod::Totp])
            .required_roles(vec!["STAFF".to_owned()])
            .encryption_key(vec![1u8; 32])
            .token_ttl(Duration::minutes(15))
            .max_failures(100)
            .validate()
            .unwrap();
    }
}
