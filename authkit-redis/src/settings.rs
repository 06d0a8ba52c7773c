//! Where Redis is, how keys are named, and what to do when it is down.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use authkit_core::ConfigError;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// What a Redis-backed component does when Redis does not answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailureMode {
    /// Let requests through and log a warning: availability first.
    #[default]
    Open,
    /// Answer 503 `store_unavailable`: enforcement first.
    Closed,
}

impl FromStr for FailureMode {
    type Err = ();

    fn from_str(raw: &str) -> Result<Self, ()> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "open" => Ok(Self::Open),
            "closed" => Ok(Self::Closed),
            _ => Err(()),
        }
    }
}

impl fmt::Display for FailureMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Open => "open",
            Self::Closed => "closed",
        })
    }
}

/// Connection and behaviour settings shared by [`RedisLimiter`](crate::RedisLimiter)
/// and [`RedisRevocations`](crate::RedisRevocations).
#[derive(Clone, PartialEq, Eq)]
pub struct RedisSettings {
    /// `redis://[user:password@]host:port[/db]` (plain TCP; TLS is not
    /// built in). `AUTHKIT_REDIS_URL`.
    pub url: String,
    /// Prepended to every key, so several deployments (or test runs) share
    /// one Redis. `AUTHKIT_REDIS_KEY_PREFIX` (default `authkit:`).
    pub key_prefix: String,
    /// Behaviour while Redis is unavailable. `AUTHKIT_REDIS_ON_ERROR`
    /// (`open` or `closed`, default `open`).
    pub on_error: FailureMode,
    /// How often the revocation feed reads other instances' revocations:
    /// the bound on how late a revocation made elsewhere is seen.
    /// `AUTHKIT_REDIS_REVOCATION_POLL` (default `1s`; `250ms` accepted).
    pub revocation_poll: Duration,
    /// With [`FailureMode::Closed`], how long the feed may go without
    /// hearing from Redis before authentication answers 503.
    /// `AUTHKIT_REDIS_REVOCATION_MAX_STALENESS` (default `5s`, at least
    /// twice the poll interval).
    pub revocation_max_staleness: Duration,
    /// Longest wait for a connection or an answer before a call counts as
    /// failed. `AUTHKIT_REDIS_TIMEOUT` (default `500ms`).
    pub timeout: Duration,
}

impl fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSettings")
            .field("url", &redact(&self.url))
            .field("key_prefix", &self.key_prefix)
            .field("on_error", &self.on_error)
            .field("revocation_poll", &self.revocation_poll)
            .field("revocation_max_staleness", &self.revocation_max_staleness)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl RedisSettings {
    /// The defaults for Redis at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            key_prefix: "authkit:".to_owned(),
            on_error: FailureMode::Open,
            revocation_poll: Duration::from_secs(1),
            revocation_max_staleness: Duration::from_secs(5),
            timeout: Duration::from_millis(500),
        }
    }

    /// Reads the `AUTHKIT_REDIS_*` variables listed on the fields;
    /// `Ok(None)` when `AUTHKIT_REDIS_URL` is unset or empty.
    ///
    /// # Errors
    /// The first variable with an unusable value.
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Option<Self>, ConfigError> {
        let Some(url) = vars
            .get("AUTHKIT_REDIS_URL")
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
        else {
            return Ok(None);
        };
        redis::Client::open(url).map_err(|e| {
            ConfigError::new("AUTHKIT_REDIS_URL", format!("not a usable Redis URL: {e}"))
        })?;
        let mut settings = Self::new(url);
        if let Some(prefix) = vars.get("AUTHKIT_REDIS_KEY_PREFIX") {
            settings.key_prefix = prefix.clone();
        }
        if let Some(raw) = vars.get("AUTHKIT_REDIS_ON_ERROR") {
            settings.on_error = raw.parse().map_err(|()| {
                ConfigError::new("AUTHKIT_REDIS_ON_ERROR", "expected open or closed")
            })?;
        }
        let duration = |var: &str, out: &mut Duration| -> Result<(), ConfigError> {
            if let Some(raw) = vars.get(var) {
                *out = parse_duration(raw).ok_or_else(|| {
                    ConfigError::new(var, "expected a positive duration such as 250ms, 1s or 1m")
                })?;
            }
            Ok(())
        };
        duration(
            "AUTHKIT_REDIS_REVOCATION_POLL",
            &mut settings.revocation_poll,
        )?;
        duration(
            "AUTHKIT_REDIS_REVOCATION_MAX_STALENESS",
            &mut settings.revocation_max_staleness,
        )?;
        duration("AUTHKIT_REDIS_TIMEOUT", &mut settings.timeout)?;
        if settings.revocation_max_staleness < settings.revocation_poll * 2 {
            return Err(ConfigError::new(
                "AUTHKIT_REDIS_REVOCATION_MAX_STALENESS",
                "must be at least twice AUTHKIT_REDIS_REVOCATION_POLL",
            ));
        }
        Ok(Some(settings))
    }

    /// A connection to share between the limiter and the revocation feed.
    /// Lazy: it connects on first use and reconnects after failures, so a
    /// host starts even while Redis is down (and fails open or closed).
    /// Must be called within a Tokio runtime.
    ///
    /// # Errors
    /// An unusable URL.
    pub fn connect(&self) -> redis::RedisResult<ConnectionManager> {
        let client = redis::Client::open(self.url.as_str())?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(1)
            .set_max_delay(self.timeout);
        ConnectionManager::new_lazy_with_config(client, config)
    }
}

/// `250ms`, or any duration `AuthConfig` accepts (`90`, `1s`, `15m`…);
/// zero is refused.
fn parse_duration(raw: &str) -> Option<Duration> {
    let raw = raw.trim();
    let parsed = match raw.strip_suffix("ms") {
        Some(millis) if !millis.is_empty() && millis.bytes().all(|b| b.is_ascii_digit()) => {
            Duration::from_millis(millis.parse().ok()?)
        }
        Some(_) => return None,
        None => authkit_core::config::parse_duration(raw)?.to_std().ok()?,
    };
    (!parsed.is_zero()).then_some(parsed)
}

/// The URL without its password, for logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn absent_url_means_no_redis() {
        assert_eq!(RedisSettings::from_vars(&vars(&[])).unwrap(), None);
        let blank = vars(&[("AUTHKIT_REDIS_URL", "  ")]);
        assert_eq!(RedisSettings::from_vars(&blank).unwrap(), None);
    }

    #[test]
    fn every_variable_is_read() {
        let settings = RedisSettings::from_vars(&vars(&[
            ("AUTHKIT_REDIS_URL", "redis://:secret@10.0.0.5:6380/2"),
            ("AUTHKIT_REDIS_KEY_PREFIX", "app1:"),
            ("AUTHKIT_REDIS_ON_ERROR", "Closed"),
            ("AUTHKIT_REDIS_REVOCATION_POLL", "250ms"),
            ("AUTHKIT_REDIS_REVOCATION_MAX_STALENESS", "2s"),
            ("AUTHKIT_REDIS_TIMEOUT", "1s"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(settings.key_prefix, "app1:");
        assert_eq!(settings.on_error, FailureMode::Closed);
        assert_eq!(settings.revocation_poll, Duration::from_millis(250));
        assert_eq!(settings.revocation_max_staleness, Duration::from_secs(2));
        assert_eq!(settings.timeout, Duration::from_secs(1));
        let shown = format!("{settings:?}");
        assert!(!shown.contains("secret"), "{shown}");
    }

    #[test]
    fn bad_values_name_their_variable() {
        let cases = [
            ("AUTHKIT_REDIS_URL", "http://example.com"),
            ("AUTHKIT_REDIS_ON_ERROR", "maybe"),
            ("AUTHKIT_REDIS_REVOCATION_POLL", "0"),
            ("AUTHKIT_REDIS_REVOCATION_POLL", "fast"),
            ("AUTHKIT_REDIS_TIMEOUT", "ms"),
            ("AUTHKIT_REDIS_TIMEOUT", "-5ms"),
            ("AUTHKIT_REDIS_REVOCATION_MAX_STALENESS", "1s"),
        ];
        for (var, value) in cases {
            let mut pairs = vec![("AUTHKIT_REDIS_URL", "redis://127.0.0.1:6379")];
            pairs.retain(|(k, _)| *k != var);
            pairs.push((var, value));
            let err = RedisSettings::from_vars(&vars(&pairs)).unwrap_err();
            assert_eq!(err.variable, var, "{var}={value}");
        }
    }
}
