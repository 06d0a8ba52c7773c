//! Configuration: secure defaults, a builder, and `AUTHKIT_*` environment
//! variables (12-factor). Invalid values fail start-up naming the variable.
//!
//! [`AuthConfig`] holds the core flows' settings and one sub-struct per
//! feature ([`AccountConfig`], [`MfaConfig`], [`PhoneConfig`],
//! [`OrgsConfig`]); each sub-struct lives, and is validated, in its
//! feature's folder. [`AuthConfig::from_vars`] is the one environment
//! reader: it reads the core variables and hands the same variables to
//! every sub-struct.

use std::collections::HashMap;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::Duration;
use zeroize::Zeroizing;

use crate::account::AccountConfig;
use crate::mfa::MfaConfig;
use crate::orgs::OrgsConfig;
use crate::password::{HashParams, HashQueue, PasswordPolicy};
use crate::phone::PhoneConfig;
use crate::rate_limit::{IpPrefixes, Quota, RateAction, RateLimits};
use crate::store::LockoutPolicy;
use crate::token::Algorithm;

/// A configuration value that cannot be used; names the variable or field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration {variable}: {message}")]
pub struct ConfigError {
    /// The environment variable (or builder field) at fault.
    pub variable: String,
    /// What is wrong with it.
    pub message: String,
}

impl ConfigError {
    /// An error naming `variable`; for crates that read their own
    /// `AUTHKIT_*` variables and report alike.
    pub fn new(variable: &str, message: impl Into<String>) -> Self {
        Self {
            variable: variable.to_owned(),
            message: message.into(),
        }
    }
}

/// Everything an [`Auth`](crate::Auth) instance can be tuned with: the
/// settings of the core flows (tokens, keys, hashing, lockout, throttling),
/// and one sub-struct per feature that has settings, each defined and
/// validated in its feature's folder:
///
/// | field | type | feature folder |
/// |---|---|---|
/// | `account` | [`AccountConfig`] | registration, email verification, password reset (`account/`) |
/// | `mfa` | [`MfaConfig`] | second factors (`mfa/`) |
/// | `phone` | [`PhoneConfig`] | phone verification and texts (`phone/`) |
/// | `orgs` | [`OrgsConfig`] | organisation invitations (`orgs/`) |
///
/// Social login is configured apart, with its providers, as
/// [`OAuthConfig`](crate::social::OAuthConfig) handed to the builder with
/// the feature.
///
/// Start from [`AuthConfig::default`] (secure defaults), the
/// [`builder`](AuthConfig::builder), or [`from_env`](AuthConfig::from_env),
/// which reads every sub-struct's variables too.
/// Every field is documented with its environment variable in the README.
///
/// ```
/// use authkit_core::AuthConfig;
/// use chrono::Duration;
///
/// let config = AuthConfig::builder()
///     .issuer("https://auth.example.com")
///     .access_token_ttl(Duration::minutes(10))
///     .account(|a| a.require_email_verification(false))
///     .mfa(|m| m.enabled(true).max_failures(5))
///     .build()?;
/// assert!(config.mfa.enabled);
/// # Ok::<(), authkit_core::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct AuthConfig {
    /// Product name used in emails. `AUTHKIT_APP_NAME`.
    pub app_name: String,
    /// JWT `iss`. `AUTHKIT_ISSUER`.
    pub issuer: String,
    /// JWT `aud`. `AUTHKIT_AUDIENCE`.
    pub audience: String,
    /// Base URL of emailed links; never taken from a request's `Host`.
    /// `AUTHKIT_PUBLIC_URL`.
    pub public_url: String,
    /// Server secret for keyed hashes of codes and signed challenge ids
    /// (at least 32 bytes). Must be shared by every instance.
    /// `AUTHKIT_SECRET_KEY` (base64 or base64url).
    pub secret_key: Zeroizing<Vec<u8>>,
    /// Algorithm of generated signing keys. `AUTHKIT_SIGNING_ALGORITHM`.
    pub signing_algorithm: Algorithm,
    /// Access-token lifetime. `AUTHKIT_ACCESS_TOKEN_TTL`.
    pub access_token_ttl: Duration,
    /// Absolute session (refresh family) lifetime. `AUTHKIT_SESSION_TTL`.
    pub session_ttl: Duration,
    /// Sessions unused for this long die. `AUTHKIT_SESSION_IDLE_TIMEOUT`.
    pub session_idle_timeout: Duration,
    /// How long the previous refresh token is tolerated after a rotation.
    /// `AUTHKIT_REFRESH_REUSE_GRACE` (default 0).
    pub refresh_reuse_grace: Duration,
    /// Clock-skew tolerance for `exp`/`nbf` (at most 60 s).
    /// `AUTHKIT_TOKEN_LEEWAY`.
    pub token_leeway: Duration,
    /// A new signing key is published this long before it starts signing,
    /// so every instance knows it first. `AUTHKIT_KEY_ACTIVATION_DELAY`.
    pub key_activation_delay: Duration,
    /// How often the host re-reads the signing keys from the store
    /// ([`Keys::reload`](crate::token::Keys::reload)); must be shorter than
    /// `key_activation_delay`, or a rotated key could sign before every
    /// instance knows it. `None` (the default of a built configuration):
    /// the host does not reload on a timer, as a single instance needs not.
    /// `AUTHKIT_KEY_RELOAD_INTERVAL` (default 60s when read from the
    /// environment).
    pub key_reload_interval: Option<Duration>,
    /// Lifetime of 6-digit codes (at most 10 min). `AUTHKIT_CODE_TTL`.
    pub code_ttl: Duration,
    /// Wrong guesses allowed per code. `AUTHKIT_CODE_MAX_ATTEMPTS`.
    pub code_max_attempts: u32,
    /// Failed-login lockout. `AUTHKIT_LOCKOUT_MAX_FAILURES` (1–100),
    /// `AUTHKIT_LOCKOUT_WINDOW`, `AUTHKIT_LOCKOUT_DURATION`.
    pub lockout: LockoutPolicy,
    /// Per-action throttling quotas.
    pub rate_limits: RateLimits,
    /// Rules for new passwords. `AUTHKIT_PASSWORD_POLICY` (`django` or
    /// `nist`), `AUTHKIT_PASSWORD_MIN_LENGTH`, `AUTHKIT_PASSWORD_MAX_LENGTH`.
    pub password_policy: PasswordPolicy,
    /// argon2id cost. `AUTHKIT_ARGON2_MEMORY_KIB`,
    /// `AUTHKIT_ARGON2_ITERATIONS`, `AUTHKIT_ARGON2_PARALLELISM`.
    pub hash_params: HashParams,
    /// Hashes running at once (default: CPU count).
    /// `AUTHKIT_HASH_CONCURRENCY`.
    pub hash_concurrency: usize,
    /// Bounds of the wait for a hash thread: callers beyond
    /// `max_waiting` (`AUTHKIT_HASH_QUEUE`, default 64, at most 100,000),
    /// beyond `max_per_client` from one client address
    /// (`AUTHKIT_HASH_QUEUE_PER_CLIENT`, default 4, at most 100,000),
    /// or still waiting after `max_wait` (`AUTHKIT_HASH_MAX_WAIT`, default
    /// 5s, at most 60s), are answered 503 `server_busy` with `Retry-After`
    /// at once, without hashing.
    pub hash_queue: HashQueue,
    /// Longest time `/me`, and a refresh's account and membership reads,
    /// are answered from the in-process cache (default 30 s, at most 1 h,
    /// 0 turns the cache off). Every change made through authkit drops the
    /// cached views at once, on every instance that shares the revocation
    /// feed, so this only bounds how long a change made behind authkit's
    /// back (SQL by hand) can go unseen.
    /// `AUTHKIT_ACCOUNT_CACHE_TTL`.
    pub account_cache_ttl: Duration,
    /// Registration, email verification, password reset and rotation.
    pub account: AccountConfig,
    /// Multi-factor authentication.
    pub mfa: MfaConfig,
    /// Phone verification and where texts may go.
    pub phone: PhoneConfig,
    /// Organisation invitations.
    pub orgs: OrgsConfig,
}

impl fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthConfig")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("public_url", &self.public_url)
            .field("secret_key", &"<redacted>")
            .field("signing_algorithm", &self.signing_algorithm)
            .field("access_token_ttl", &self.access_token_ttl)
            .field("session_ttl", &self.session_ttl)
            .field("account", &self.account)
            .field("mfa", &self.mfa)
            .field("phone", &self.phone)
            .field("orgs", &self.orgs)
            .finish_non_exhaustive()
    }
}

impl Default for AuthConfig {
    /// Secure defaults. The secret key is random: fine for one process,
    /// but multi-instance deployments must set `AUTHKIT_SECRET_KEY`.
    fn default() -> Self {
        Self {
            app_name: "authkit".into(),
            issuer: "authkit".into(),
            audience: "authkit".into(),
            public_url: "http://localhost:3000".into(),
            secret_key: Zeroizing::new(random_secret()),
            signing_algorithm: Algorithm::EdDSA,
            access_token_ttl: Duration::minutes(15),
            session_ttl: Duration::days(30),
            session_idle_timeout: Duration::days(7),
            refresh_reuse_grace: Duration::zero(),
            token_leeway: Duration::seconds(30),
            key_activation_delay: Duration::minutes(5),
            key_reload_interval: None,
            code_ttl: Duration::minutes(10),
            code_max_attempts: 5,
            lockout: LockoutPolicy {
                max_failures: 10,
                window: Duration::minutes(15),
                lock_for: Duration::minutes(15),
            },
            rate_limits: RateLimits::default(),
            password_policy: PasswordPolicy::default(),
            hash_params: HashParams::default(),
            hash_concurrency: std::thread::available_parallelism().map_or(2, usize::from),
            hash_queue: HashQueue::default(),
            account_cache_ttl: Duration::seconds(30),
            account: AccountConfig::default(),
            mfa: MfaConfig::default(),
            phone: PhoneConfig::default(),
            orgs: OrgsConfig::default(),
        }
    }
}

fn random_secret() -> Vec<u8> {
    let mut key = vec![0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
    key
}

impl AuthConfig {
    /// A builder starting from the defaults.
    pub fn builder() -> AuthConfigBuilder {
        AuthConfigBuilder {
            config: Self::default(),
        }
    }

    /// Reads `AUTHKIT_*` variables from the process environment over the
    /// defaults, then validates.
    ///
    /// # Errors
    /// The first variable with an unusable value.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(std::env::vars())
    }

    /// Like [`from_env`](Self::from_env), from explicit pairs (tests,
    /// config files).
    ///
    /// # Errors
    /// The first variable with an unusable value.
    pub fn from_vars<I, K, V>(vars: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let vars: HashMap<String, String> = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .filter(|(k, _)| k.starts_with("AUTHKIT_"))
            .collect();
        let env = Env(&vars);
        let mut c = Self::default();
        env.string("AUTHKIT_APP_NAME", &mut c.app_name);
        env.string("AUTHKIT_ISSUER", &mut c.issuer);
        env.string("AUTHKIT_AUDIENCE", &mut c.audience);
        env.string("AUTHKIT_PUBLIC_URL", &mut c.public_url);
        if let Some(raw) = env.get("AUTHKIT_SECRET_KEY") {
            c.secret_key = Zeroizing::new(decode_secret(raw).ok_or_else(|| {
                ConfigError::new("AUTHKIT_SECRET_KEY", "expected base64 of at least 32 bytes")
            })?);
        }
        if let Some(raw) = env.get("AUTHKIT_SIGNING_ALGORITHM") {
            c.signing_algorithm = raw.parse().map_err(|_| {
                ConfigError::new(
                    "AUTHKIT_SIGNING_ALGORITHM",
                    "expected one of EdDSA, ES256, RS256, HS256",
                )
            })?;
        }
        env.duration("AUTHKIT_ACCESS_TOKEN_TTL", &mut c.access_token_ttl)?;
        env.duration("AUTHKIT_SESSION_TTL", &mut c.session_ttl)?;
        env.duration("AUTHKIT_SESSION_IDLE_TIMEOUT", &mut c.session_idle_timeout)?;
        env.duration("AUTHKIT_REFRESH_REUSE_GRACE", &mut c.refresh_reuse_grace)?;
        env.duration("AUTHKIT_TOKEN_LEEWAY", &mut c.token_leeway)?;
        env.duration("AUTHKIT_KEY_ACTIVATION_DELAY", &mut c.key_activation_delay)?;
        let mut reload = DEFAULT_KEY_RELOAD_INTERVAL;
        env.duration("AUTHKIT_KEY_RELOAD_INTERVAL", &mut reload)?;
        c.key_reload_interval = Some(reload);
        env.duration("AUTHKIT_CODE_TTL", &mut c.code_ttl)?;
        env.number("AUTHKIT_CODE_MAX_ATTEMPTS", &mut c.code_max_attempts)?;
        env.number("AUTHKIT_LOCKOUT_MAX_FAILURES", &mut c.lockout.max_failures)?;
        env.duration("AUTHKIT_LOCKOUT_WINDOW", &mut c.lockout.window)?;
        env.duration("AUTHKIT_LOCKOUT_DURATION", &mut c.lockout.lock_for)?;
        if let Some(raw) = env.get("AUTHKIT_PASSWORD_POLICY") {
            c.password_policy = match raw.to_ascii_lowercase().as_str() {
                "django" | "default" => PasswordPolicy::default(),
                "nist" => PasswordPolicy::nist(),
                _ => {
                    return Err(ConfigError::new(
                        "AUTHKIT_PASSWORD_POLICY",
                        "expected `django` or `nist`",
                    ));
                }
            };
        }
        env.number(
            "AUTHKIT_PASSWORD_MIN_LENGTH",
            &mut c.password_policy.min_length,
        )?;
        env.number(
            "AUTHKIT_PASSWORD_MAX_LENGTH",
            &mut c.password_policy.max_length,
        )?;
        env.number("AUTHKIT_ARGON2_MEMORY_KIB", &mut c.hash_params.memory_kib)?;
        env.number("AUTHKIT_ARGON2_ITERATIONS", &mut c.hash_params.iterations)?;
        env.number("AUTHKIT_ARGON2_PARALLELISM", &mut c.hash_params.parallelism)?;
        env.number("AUTHKIT_HASH_CONCURRENCY", &mut c.hash_concurrency)?;
        env.number("AUTHKIT_HASH_QUEUE", &mut c.hash_queue.max_waiting)?;
        env.number(
            "AUTHKIT_HASH_QUEUE_PER_CLIENT",
            &mut c.hash_queue.max_per_client,
        )?;
        let mut max_wait = Duration::from_std(c.hash_queue.max_wait).unwrap_or(Duration::MAX);
        env.duration("AUTHKIT_HASH_MAX_WAIT", &mut max_wait)?;
        c.hash_queue.max_wait = max_wait
            .to_std()
            .map_err(|_| ConfigError::new("AUTHKIT_HASH_MAX_WAIT", "must not be negative"))?;
        env.duration("AUTHKIT_ACCOUNT_CACHE_TTL", &mut c.account_cache_ttl)?;
        for action in RateAction::ALL {
            let var = format!("AUTHKIT_RATE_{}", action.as_str().to_ascii_uppercase());
            if let Some(raw) = env.get(&var) {
                match parse_quota(raw) {
                    Some(None) => c.rate_limits.disable(action),
                    Some(Some(quota)) => c
                        .rate_limits
                        .set(action, quota)
                        .map_err(|_| ConfigError::new(&var, "quota out of range"))?,
                    None => {
                        return Err(ConfigError::new(
                            &var,
                            "expected `N/period` such as 10/1m or 5/1h, or `off`",
                        ));
                    }
                }
            }
        }
        let prefixes = c.rate_limits.ip_prefixes();
        let (mut v4, mut v6) = (prefixes.v4(), prefixes.v6());
        env.number("AUTHKIT_RATE_IPV4_PREFIX", &mut v4)?;
        env.number("AUTHKIT_RATE_IPV6_PREFIX", &mut v6)?;
        let prefixes = IpPrefixes::new(v4, v6).map_err(|err| {
            let var = match err.field_errors().first().map(|e| e.field.as_str()) {
                Some("ipv4_prefix") => "AUTHKIT_RATE_IPV4_PREFIX",
                _ => "AUTHKIT_RATE_IPV6_PREFIX",
            };
            ConfigError::new(
                var,
                "expected a prefix length: 1-32 for IPv4, 1-128 for IPv6",
            )
        })?;
        c.rate_limits.set_ip_prefixes(prefixes);
        c.account.read_env(&env)?;
        c.mfa.read_env(&env)?;
        c.phone.read_env(&env)?;
        c.orgs.read_env(&env)?;
        c.validate()?;
        Ok(c)
    }

    /// Checks the cross-field and security bounds.
    ///
    /// # Errors
    /// The first field out of bounds, named by its environment variable.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let positive = |var: &str, d: Duration| {
            if d > Duration::zero() {
                Ok(())
            } else {
                Err(ConfigError::new(var, "must be greater than zero"))
            }
        };
        let at_most = |var: &str, d: Duration, max: Duration, what: &str| {
            if d <= max {
                Ok(())
            } else {
                Err(ConfigError::new(var, format!("must be at most {what}")))
            }
        };
        let non_empty = |var: &str, s: &str| {
            if s.trim().is_empty() {
                Err(ConfigError::new(var, "must not be empty"))
            } else {
                Ok(())
            }
        };
        non_empty("AUTHKIT_ISSUER", &self.issuer)?;
        non_empty("AUTHKIT_AUDIENCE", &self.audience)?;
        if !(self.public_url.starts_with("https://") || self.public_url.starts_with("http://"))
            || self.public_url.ends_with('/')
        {
            return Err(ConfigError::new(
                "AUTHKIT_PUBLIC_URL",
                "expected an absolute http(s) URL without a trailing slash",
            ));
        }
        if self.secret_key.len() < 32 {
            return Err(ConfigError::new(
                "AUTHKIT_SECRET_KEY",
                "must be at least 32 bytes",
            ));
        }
        positive("AUTHKIT_ACCESS_TOKEN_TTL", self.access_token_ttl)?;
        at_most(
            "AUTHKIT_ACCESS_TOKEN_TTL",
            self.access_token_ttl,
            Duration::hours(24),
            "24h",
        )?;
        positive("AUTHKIT_SESSION_TTL", self.session_ttl)?;
        positive("AUTHKIT_SESSION_IDLE_TIMEOUT", self.session_idle_timeout)?;
        if self.refresh_reuse_grace < Duration::zero() {
            return Err(ConfigError::new(
                "AUTHKIT_REFRESH_REUSE_GRACE",
                "must not be negative",
            ));
        }
        at_most(
            "AUTHKIT_REFRESH_REUSE_GRACE",
            self.refresh_reuse_grace,
            Duration::minutes(1),
            "60s",
        )?;
        at_most(
            "AUTHKIT_TOKEN_LEEWAY",
            self.token_leeway,
            Duration::seconds(60),
            "60s",
        )?;
        if self.token_leeway < Duration::zero() || self.key_activation_delay < Duration::zero() {
            return Err(ConfigError::new(
                "AUTHKIT_TOKEN_LEEWAY",
                "durations must not be negative",
            ));
        }
        self.validate_key_reload()?;
        positive("AUTHKIT_CODE_TTL", self.code_ttl)?;
        at_most(
            "AUTHKIT_CODE_TTL",
            self.code_ttl,
            Duration::minutes(10),
            "10m",
        )?;
        if !(1..=10).contains(&self.code_max_attempts) {
            return Err(ConfigError::new(
                "AUTHKIT_CODE_MAX_ATTEMPTS",
                "must be between 1 and 10",
            ));
        }
        if !(1..=100).contains(&self.lockout.max_failures) {
            return Err(ConfigError::new(
                "AUTHKIT_LOCKOUT_MAX_FAILURES",
                "must be between 1 and 100",
            ));
        }
        positive("AUTHKIT_LOCKOUT_WINDOW", self.lockout.window)?;
        positive("AUTHKIT_LOCKOUT_DURATION", self.lockout.lock_for)?;
        let policy = &self.password_policy;
        if policy.min_length == 0 || policy.min_length > policy.max_length {
            return Err(ConfigError::new(
                "AUTHKIT_PASSWORD_MIN_LENGTH",
                "must be at least 1 and not above the maximum length",
            ));
        }
        if policy.max_length < 64 || policy.max_length > 4096 {
            return Err(ConfigError::new(
                "AUTHKIT_PASSWORD_MAX_LENGTH",
                "must be between 64 and 4096 (NIST: accept at least 64)",
            ));
        }
        if self.hash_params.memory_kib < 19_456 || self.hash_params.iterations < 2 {
            return Err(ConfigError::new(
                "AUTHKIT_ARGON2_MEMORY_KIB",
                "argon2id below the OWASP floor (m = 19456 KiB, t = 2)",
            ));
        }
        if !(1..=16).contains(&self.hash_params.parallelism) {
            return Err(ConfigError::new(
                "AUTHKIT_ARGON2_PARALLELISM",
                "must be between 1 and 16",
            ));
        }
        if self.account_cache_ttl < Duration::zero() {
            return Err(ConfigError::new(
                "AUTHKIT_ACCOUNT_CACHE_TTL",
                "must not be negative",
            ));
        }
        at_most(
            "AUTHKIT_ACCOUNT_CACHE_TTL",
            self.account_cache_ttl,
            Duration::hours(1),
            "1h",
        )?;
        if self.hash_queue.max_waiting > 100_000 {
            return Err(ConfigError::new(
                "AUTHKIT_HASH_QUEUE",
                "must be at most 100000",
            ));
        }
        if self.hash_queue.max_per_client > 100_000 {
            return Err(ConfigError::new(
                "AUTHKIT_HASH_QUEUE_PER_CLIENT",
                "must be at most 100000",
            ));
        }
        if self.hash_queue.max_wait > std::time::Duration::from_secs(60) {
            return Err(ConfigError::new(
                "AUTHKIT_HASH_MAX_WAIT",
                "must be at most 60s",
            ));
        }
        if self.hash_concurrency == 0 {
            return Err(ConfigError::new(
                "AUTHKIT_HASH_CONCURRENCY",
                "must be at least 1",
            ));
        }
        self.account.validate()?;
        self.mfa.validate()?;
        self.phone.validate()?;
        self.orgs.validate()
    }

    /// The reload interval, when there is one, is positive and shorter than
    /// the activation delay: a rotated key signs only once every instance
    /// has had a reload to learn it.
    fn validate_key_reload(&self) -> Result<(), ConfigError> {
        let Some(interval) = self.key_reload_interval else {
            return Ok(());
        };
        if interval <= Duration::zero() {
            return Err(ConfigError::new(
                "AUTHKIT_KEY_RELOAD_INTERVAL",
                "expected a duration such as 60s",
            ));
        }
        if interval >= self.key_activation_delay {
            return Err(ConfigError::new(
                "AUTHKIT_KEY_RELOAD_INTERVAL",
                format!(
                    "must be shorter than AUTHKIT_KEY_ACTIVATION_DELAY ({}s), or a rotated \
                     key could sign before every instance knows it",
                    self.key_activation_delay.num_seconds()
                ),
            ));
        }
        Ok(())
    }
}

/// How often keys are re-read when `AUTHKIT_KEY_RELOAD_INTERVAL` is unset.
const DEFAULT_KEY_RELOAD_INTERVAL: Duration = Duration::seconds(60);

/// A link path under `public_url` starts with a single `/` and has no
/// query: the token is appended as `?token=…`, and `//host` would leave the
/// site. Shared by the features that email links.
pub(crate) fn check_link_path(var: &str, path: &str) -> Result<(), ConfigError> {
    if !path.starts_with('/') || path.starts_with("//") || path.contains('?') {
        return Err(ConfigError::new(
            var,
            "expected a path starting with a single `/` and no query",
        ));
    }
    Ok(())
}

/// The non-empty, trimmed items of a comma-separated list.
fn list(raw: &str) -> impl Iterator<Item = &str> {
    raw.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
}

/// The bytes of a base64 or base64url secret of at least 32 bytes.
pub(crate) fn decode_secret(raw: &str) -> Option<Vec<u8>> {
    let raw = raw.trim();
    let bytes = URL_SAFE_NO_PAD
        .decode(raw.trim_end_matches('='))
        .or_else(|_| STANDARD.decode(raw))
        .ok()?;
    (bytes.len() >= 32).then_some(bytes)
}

/// Parses a quota: `N/period` (`10/1m`, `5/1h`; a bare unit means one:
/// `30/m`) → `Some(Some(quota))`, `off` → `Some(None)`, garbage → `None`.
fn parse_quota(raw: &str) -> Option<Option<Quota>> {
    let raw = raw.trim();
    if raw.eq_ignore_ascii_case("off") {
        return Some(None);
    }
    let (burst, period) = raw.split_once('/')?;
    let burst: u32 = burst.trim().parse().ok()?;
    let period = period.trim();
    let period = if period.starts_with(|c: char| c.is_ascii_digit()) {
        parse_duration(period)?
    } else {
        parse_duration(&format!("1{period}"))?
    };
    let period = period.to_std().ok()?;
    Some(Some(Quota::new(burst, period)))
}

/// Parses `90`, `90s`, `15m`, `24h`, `30d` (no suffix = seconds), as every
/// duration variable is written; `None` for anything else.
pub fn parse_duration(raw: &str) -> Option<Duration> {
    let raw = raw.trim();
    let (digits, unit) = match raw.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => raw.split_at(i),
        None => (raw, "s"),
    };
    let n: i64 = digits.parse().ok()?;
    let secs = match unit {
        "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        "d" => n.checked_mul(86_400)?,
        _ => return None,
    };
    // Keep every duration well inside chrono's range (100 years).
    (secs <= 100 * 365 * 86_400).then(|| Duration::seconds(secs))
}

/// Typed access to the collected variables.
/// The boolean value of variable `var`: `true`/`false`, `1`/`0`,
/// `yes`/`no`, `on`/`off`, any case.
pub(crate) fn flag(var: &str, raw: &str) -> Result<bool, ConfigError> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::new(var, "expected true or false")),
    }
}

/// The `AUTHKIT_*` variables being read, with typed readers that name
/// the variable in every error; each feature's config reads its own.
pub(crate) struct Env<'a>(&'a HashMap<String, String>);

impl Env<'_> {
    /// The non-empty, trimmed items of the comma-separated list `raw`.
    pub(crate) fn list<'r>(&self, raw: &'r str) -> impl Iterator<Item = &'r str> {
        list(raw)
    }

    /// The value of `var`, when set and not empty.
    pub(crate) fn get(&self, var: &str) -> Option<&str> {
        self.0
            .get(var)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Reads `var` into `out` when set.
    pub(crate) fn string(&self, var: &str, out: &mut String) {
        if let Some(v) = self.get(var) {
            v.trim().clone_into(out);
        }
    }

    /// Reads `var` into `out` when set.
    pub(crate) fn flag(&self, var: &str, out: &mut bool) -> Result<(), ConfigError> {
        if let Some(v) = self.get(var) {
            *out = flag(var, v)?;
        }
        Ok(())
    }

    /// Reads `var` into `out` when set.
    pub(crate) fn number<T: std::str::FromStr>(
        &self,
        var: &str,
        out: &mut T,
    ) -> Result<(), ConfigError> {
        if let Some(v) = self.get(var) {
            *out = v
                .trim()
                .parse()
                .map_err(|_| ConfigError::new(var, "expected a non-negative whole number"))?;
        }
        Ok(())
    }

    /// Reads `var` into `out` when set.
    pub(crate) fn duration(&self, var: &str, out: &mut Duration) -> Result<(), ConfigError> {
        if let Some(v) = self.get(var) {
            *out = parse_duration(v).ok_or_else(|| {
                ConfigError::new(var, "expected a duration such as 90, 90s, 15m, 24h or 30d")
            })?;
        }
        Ok(())
    }
}

/// Chainable construction of an [`AuthConfig`], validated by
/// [`build`](Self::build).
#[derive(Debug, Clone)]
#[must_use]
pub struct AuthConfigBuilder {
    config: AuthConfig,
}

macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $ty:ty;)*) => {
        $(
            $(#[$doc])*
            pub fn $name(mut self, value: impl Into<$ty>) -> Self {
                self.config.$name = value.into();
                self
            }
        )*
    };
}

impl AuthConfigBuilder {
    setters! {
        /// Product name used in emails.
        app_name: String;
        /// JWT `iss`.
        issuer: String;
        /// JWT `aud`.
        audience: String;
        /// Base URL of emailed links.
        public_url: String;
        /// Algorithm of generated signing keys.
        signing_algorithm: Algorithm;
        /// Access-token lifetime.
        access_token_ttl: Duration;
        /// Absolute session lifetime.
        session_ttl: Duration;
        /// Idle session timeout.
        session_idle_timeout: Duration;
        /// Tolerance for the previous refresh token after a rotation.
        refresh_reuse_grace: Duration;
        /// Clock-skew tolerance (at most 60 s).
        token_leeway: Duration;
        /// Delay between publishing a new signing key and signing with it.
        key_activation_delay: Duration;
        /// How often the host re-reads the signing keys (shorter than the
        /// activation delay; `None`: no timed reload).
        key_reload_interval: Option<Duration>;
        /// 6-digit code lifetime.
        code_ttl: Duration;
        /// Wrong guesses allowed per code.
        code_max_attempts: u32;
        /// Failed-login lockout.
        lockout: LockoutPolicy;
        /// Throttling quotas.
        rate_limits: RateLimits;
        /// Rules for new passwords.
        password_policy: PasswordPolicy;
        /// argon2id cost.
        hash_params: HashParams;
        /// Hashes running at once.
        hash_concurrency: usize;
        /// Bounds of the wait for a hash thread.
        hash_queue: HashQueue;
        /// Longest time `/me` and refreshes answer from the account cache
        /// (0 = off).
        account_cache_ttl: Duration;
    }

    /// The server secret (at least 32 bytes; shared by every instance).
    pub fn secret_key(mut self, key: impl Into<Vec<u8>>) -> Self {
        self.config.secret_key = Zeroizing::new(key.into());
        self
    }

    /// Adjusts the registration, verification and password-reset settings:
    /// `.account(|a| a.require_email_verification(false))`.
    pub fn account(mut self, f: impl FnOnce(AccountConfig) -> AccountConfig) -> Self {
        self.config.account = f(self.config.account);
        self
    }

    /// Adjusts the MFA settings: `.mfa(|m| m.enabled(true))`.
    pub fn mfa(mut self, f: impl FnOnce(MfaConfig) -> MfaConfig) -> Self {
        self.config.mfa = f(self.config.mfa);
        self
    }

    /// Adjusts the phone settings:
    /// `.phone(|p| p.allowed_countries(Some(codes)))`.
    pub fn phone(mut self, f: impl FnOnce(PhoneConfig) -> PhoneConfig) -> Self {
        self.config.phone = f(self.config.phone);
        self
    }

    /// Adjusts the organisation settings:
    /// `.orgs(|o| o.invite_ttl(Duration::days(2)))`.
    pub fn orgs(mut self, f: impl FnOnce(OrgsConfig) -> OrgsConfig) -> Self {
        self.config.orgs = f(self.config.orgs);
        self
    }

    /// Validates and returns the configuration.
    ///
    /// # Errors
    /// The first field out of bounds.
    pub fn build(self) -> Result<AuthConfig, ConfigError> {
        self.config.validate()?;
        Ok(self.config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mfa::{MfaMethod, TotpAlgorithm, TotpParams};

    fn vars(pairs: &[(&str, &str)]) -> Result<AuthConfig, ConfigError> {
        AuthConfig::from_vars(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn defaults_are_secure_and_valid() {
        let c = AuthConfig::default();
        c.validate().unwrap();
        assert_eq!(c.access_token_ttl, Duration::minutes(15));
        assert!(c.account.require_email_verification);
        assert!(c.account.allow_auto_registration);
        assert_eq!(c.lockout.max_failures, 10);
        assert_eq!(c.signing_algorithm, Algorithm::EdDSA);
        assert_eq!(c.refresh_reuse_grace, Duration::zero());
        assert!(!format!("{c:?}").contains(&format!("{:?}", c.secret_key.as_slice())));
    }

    #[test]
    fn env_overrides_defaults() {
        let key = URL_SAFE_NO_PAD.encode([7u8; 32]);
        let c = vars(&[
            ("AUTHKIT_ISSUER", "https://auth.example.com"),
            ("AUTHKIT_SECRET_KEY", &key),
            ("AUTHKIT_ACCESS_TOKEN_TTL", "5m"),
            ("AUTHKIT_SESSION_TTL", "14d"),
            ("AUTHKIT_ALLOW_AUTO_REGISTRATION", "false"),
            ("AUTHKIT_REQUIRE_EMAIL_VERIFICATION", "0"),
            ("AUTHKIT_FORCE_PASSWORD_ROTATION", "90"),
            ("AUTHKIT_ENABLE_MFA", "yes"),
            ("AUTHKIT_LOCKOUT_MAX_FAILURES", "5"),
            ("AUTHKIT_PASSWORD_POLICY", "nist"),
            ("AUTHKIT_SIGNING_ALGORITHM", "ES256"),
            ("AUTHKIT_ACCOUNT_CACHE_TTL", "0"),
            ("AUTHKIT_HASH_QUEUE_PER_CLIENT", "2"),
            ("UNRELATED", "x"),
        ])
        .unwrap();
        assert_eq!(c.issuer, "https://auth.example.com");
        assert_eq!(c.secret_key.as_slice(), &[7u8; 32]);
        assert_eq!(c.access_token_ttl, Duration::minutes(5));
        assert_eq!(c.session_ttl, Duration::days(14));
        assert!(!c.account.allow_auto_registration);
        assert!(!c.account.require_email_verification);
        assert_eq!(c.account.force_password_rotation, Some(Duration::days(90)));
        assert!(c.mfa.enabled);
        assert_eq!(c.lockout.max_failures, 5);
        assert_eq!(c.password_policy.min_length, 15);
        assert_eq!(c.signing_algorithm, Algorithm::ES256);
        assert_eq!(c.account_cache_ttl, Duration::zero());
        assert_eq!(c.hash_queue.max_per_client, 2);
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (var, value) in [
            ("AUTHKIT_ACCESS_TOKEN_TTL", "soon"),
            ("AUTHKIT_ACCESS_TOKEN_TTL", "0"),
            ("AUTHKIT_ACCESS_TOKEN_TTL", "2d"),
            ("AUTHKIT_ENABLE_MFA", "maybe"),
            ("AUTHKIT_LOCKOUT_MAX_FAILURES", "101"),
            ("AUTHKIT_LOCKOUT_MAX_FAILURES", "-1"),
            ("AUTHKIT_SECRET_KEY", "c2hvcnQ"),
            ("AUTHKIT_SIGNING_ALGORITHM", "none"),
            ("AUTHKIT_PUBLIC_URL", "example.com"),
            ("AUTHKIT_PUBLIC_URL", "https://example.com/"),
            ("AUTHKIT_RESET_PASSWORD_TTL", "2h"),
            ("AUTHKIT_CODE_TTL", "1h"),
            ("AUTHKIT_TOKEN_LEEWAY", "5m"),
            ("AUTHKIT_PASSWORD_POLICY", "lax"),
            ("AUTHKIT_PASSWORD_MAX_LENGTH", "20"),
            ("AUTHKIT_ARGON2_MEMORY_KIB", "1024"),
            ("AUTHKIT_VERIFY_EMAIL_PATH", "//evil.example"),
            ("AUTHKIT_SESSION_TTL", "99999999999999d"),
            ("AUTHKIT_ACCOUNT_CACHE_TTL", "2h"),
            ("AUTHKIT_ACCOUNT_CACHE_TTL", "a while"),
            ("AUTHKIT_HASH_QUEUE_PER_CLIENT", "100001"),
            ("AUTHKIT_HASH_QUEUE_PER_CLIENT", "-1"),
            ("AUTHKIT_HASH_QUEUE_PER_CLIENT", "a few"),
        ] {
            let err = vars(&[(var, value)]).unwrap_err();
            assert_eq!(err.variable, var, "{var}={value}: {err}");
            assert!(err.to_string().contains(var));
        }
    }

    #[test]
    fn mfa_settings_come_from_the_environment() {
        let c = AuthConfig::default();
        assert_eq!(c.mfa.methods.len(), 4);
        assert_eq!(c.mfa.token_ttl, Duration::minutes(5));
        assert_eq!(c.mfa.totp, TotpParams::default());
        assert!(c.mfa.encryption_key.is_none());
        let key = STANDARD.encode([9u8; 32]);
        let c = vars(&[
            ("AUTHKIT_MFA_METHODS", "totp, backup_code,,"),
            ("AUTHKIT_MFA_REQUIRED_ROLES", "STAFF,ADMIN"),
            ("AUTHKIT_MFA_ENCRYPTION_KEY", &key),
            ("AUTHKIT_MFA_TOKEN_TTL", "3m"),
            ("AUTHKIT_MFA_MAX_FAILURES", "20"),
            ("AUTHKIT_TOTP_ALGORITHM", "sha256"),
            ("AUTHKIT_TOTP_DIGITS", "8"),
            ("AUTHKIT_TOTP_PERIOD", "60"),
        ])
        .unwrap();
        assert_eq!(c.mfa.methods, vec![MfaMethod::Totp, MfaMethod::BackupCode]);
        assert_eq!(c.mfa.required_roles, vec!["STAFF", "ADMIN"]);
        assert_eq!(
            c.mfa.encryption_key.as_deref().map(Vec::as_slice),
            Some(&[9u8; 32][..])
        );
        assert_eq!(c.mfa.token_ttl, Duration::minutes(3));
        assert_eq!(c.mfa.max_failures, 20);
        assert_eq!(
            c.mfa.totp,
            TotpParams {
                algorithm: TotpAlgorithm::Sha256,
                digits: 8,
                period: 60
            }
        );
        for (var, value) in [
            ("AUTHKIT_MFA_METHODS", "totp,password"),
            ("AUTHKIT_MFA_METHODS", "email,sms"),
            ("AUTHKIT_MFA_METHODS", ","),
            ("AUTHKIT_MFA_ENCRYPTION_KEY", "c2hvcnQ"),
            ("AUTHKIT_MFA_ENCRYPTION_KEY", &STANDARD.encode([1u8; 48])),
            ("AUTHKIT_MFA_TOKEN_TTL", "1h"),
            ("AUTHKIT_MFA_TOKEN_TTL", "0"),
            ("AUTHKIT_MFA_MAX_FAILURES", "0"),
            ("AUTHKIT_MFA_MAX_FAILURES", "101"),
            ("AUTHKIT_TOTP_ALGORITHM", "md5"),
            ("AUTHKIT_TOTP_DIGITS", "5"),
            ("AUTHKIT_TOTP_DIGITS", "300"),
            ("AUTHKIT_TOTP_PERIOD", "1"),
        ] {
            let err = vars(&[(var, value)]).unwrap_err();
            assert_eq!(err.variable, var, "{var}={value}: {err}");
        }
    }

    #[test]
    fn builder_validates() {
        let c = AuthConfig::builder()
            .issuer("me")
            .access_token_ttl(Duration::minutes(10))
            .build()
            .unwrap();
        assert_eq!(c.issuer, "me");
        let err = AuthConfig::builder()
            .secret_key(vec![1u8; 8])
            .build()
            .unwrap_err();
        assert_eq!(err.variable, "AUTHKIT_SECRET_KEY");
    }

    #[test]
    fn rate_limits_come_from_the_environment() {
        let c = vars(&[
            ("AUTHKIT_RATE_LOGIN_PER_IP", "100/1m"),
            ("AUTHKIT_RATE_LOGIN_PER_EMAIL", "off"),
            ("AUTHKIT_RATE_RESET_PER_EMAIL", "3/h"),
            ("AUTHKIT_RATE_REAUTH_PER_USER", "4/1m"),
            ("AUTHKIT_RATE_REAUTH_PER_IP", "off"),
            ("AUTHKIT_RATE_REGISTER_CODE_PER_EMAIL", "8/h"),
        ])
        .unwrap();
        let limits = &c.rate_limits;
        assert_eq!(
            limits.get(RateAction::ReauthPerUser),
            Some(Quota::new(4, std::time::Duration::from_secs(60)))
        );
        assert_eq!(limits.get(RateAction::ReauthPerIp), None);
        assert_eq!(
            limits.get(RateAction::RegisterCodePerEmail),
            Some(Quota::new(8, std::time::Duration::from_secs(3600)))
        );
        assert_eq!(
            limits.get(RateAction::LoginPerIp),
            Some(Quota::new(100, std::time::Duration::from_secs(60)))
        );
        assert_eq!(limits.get(RateAction::LoginPerEmail), None);
        assert_eq!(
            limits.get(RateAction::ResetPerEmail),
            Some(Quota::new(3, std::time::Duration::from_secs(3600)))
        );
        for bad in ["lots", "10", "0/1m", "5/1w", "-1/1m"] {
            let err = vars(&[("AUTHKIT_RATE_LOGIN_PER_IP", bad)]).unwrap_err();
            assert_eq!(err.variable, "AUTHKIT_RATE_LOGIN_PER_IP", "{bad}");
        }
        // Every action has its variable, the new per-IP ones included.
        let c = vars(&[
            ("AUTHKIT_RATE_REFRESH_PER_IP", "7/1m"),
            ("AUTHKIT_RATE_INTROSPECT_PER_IP", "off"),
        ])
        .unwrap();
        assert_eq!(
            c.rate_limits.get(RateAction::RefreshPerIp),
            Some(Quota::new(7, std::time::Duration::from_secs(60)))
        );
        assert_eq!(c.rate_limits.get(RateAction::IntrospectPerIp), None);
    }

    #[test]
    fn per_ip_prefixes_come_from_the_environment() {
        let c = vars(&[]).unwrap();
        assert_eq!(c.rate_limits.ip_prefixes(), IpPrefixes::default());
        let c = vars(&[
            ("AUTHKIT_RATE_IPV4_PREFIX", "24"),
            ("AUTHKIT_RATE_IPV6_PREFIX", "56"),
        ])
        .unwrap();
        assert_eq!(
            c.rate_limits.ip_prefixes(),
            IpPrefixes::new(24, 56).unwrap()
        );
        for (var, bad) in [
            ("AUTHKIT_RATE_IPV4_PREFIX", "0"),
            ("AUTHKIT_RATE_IPV4_PREFIX", "33"),
            ("AUTHKIT_RATE_IPV4_PREFIX", "x"),
            ("AUTHKIT_RATE_IPV6_PREFIX", "129"),
            ("AUTHKIT_RATE_IPV6_PREFIX", "-1"),
        ] {
            let err = vars(&[(var, bad)]).unwrap_err();
            assert_eq!(err.variable, var, "{bad}");
        }
    }

    #[test]
    fn feature_settings_come_from_the_environment() {
        let c = vars(&[]).unwrap();
        assert_eq!(c.account, AccountConfig::default());
        assert_eq!(c.phone, PhoneConfig::default());
        assert_eq!(c.orgs, OrgsConfig::default());
        let c = vars(&[
            ("AUTHKIT_VERIFY_EMAIL_PATH", "/confirm"),
            ("AUTHKIT_RESET_PASSWORD_PATH", "/new-password"),
            ("AUTHKIT_VERIFY_EMAIL_TTL", "1h"),
            ("AUTHKIT_RESET_PASSWORD_TTL", "10m"),
            ("AUTHKIT_ACCEPT_INVITE_PATH", "/join"),
            ("AUTHKIT_INVITE_TTL", "2d"),
            ("AUTHKIT_SMS_ALLOWED_COUNTRIES", "1, +44"),
        ])
        .unwrap();
        assert_eq!(c.account.verify_email_path, "/confirm");
        assert_eq!(c.account.reset_password_path, "/new-password");
        assert_eq!(c.account.verify_email_ttl, Duration::hours(1));
        assert_eq!(c.account.reset_password_ttl, Duration::minutes(10));
        assert_eq!(c.account.force_password_rotation, None);
        assert_eq!(c.orgs.accept_invite_path, "/join");
        assert_eq!(c.orgs.invite_ttl, Duration::days(2));
        let codes = c.phone.allowed_countries.unwrap();
        assert_eq!(
            codes.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["+1", "+44"]
        );
        let c = vars(&[("AUTHKIT_SMS_ALLOWED_COUNTRIES", "ALL")]).unwrap();
        assert_eq!(c.phone.allowed_countries, None);
        for (var, value) in [
            ("AUTHKIT_ACCEPT_INVITE_PATH", "join"),
            ("AUTHKIT_INVITE_TTL", "0"),
            ("AUTHKIT_INVITE_TTL", "a week"),
            ("AUTHKIT_SMS_ALLOWED_COUNTRIES", "1,999"),
            ("AUTHKIT_SMS_ALLOWED_COUNTRIES", ","),
            ("AUTHKIT_FORCE_PASSWORD_ROTATION", "soon"),
            ("AUTHKIT_REQUIRE_EMAIL_VERIFICATION", "perhaps"),
        ] {
            let err = vars(&[(var, value)]).unwrap_err();
            assert_eq!(err.variable, var, "{var}={value}: {err}");
        }
    }

    #[test]
    fn builder_adjusts_feature_settings() {
        let c = AuthConfig::builder()
            .account(|a| a.require_email_verification(false))
            .mfa(|m| m.enabled(true))
            .mfa(|m| m.max_failures(3))
            .phone(|p| p.allowed_countries(Some(vec!["44".parse().unwrap()])))
            .orgs(|o| o.invite_ttl(Duration::days(1)))
            .build()
            .unwrap();
        assert!(!c.account.require_email_verification);
        assert!(c.mfa.enabled, "a later adjustment keeps the earlier ones");
        assert_eq!(c.mfa.max_failures, 3);
        assert_eq!(c.orgs.invite_ttl, Duration::days(1));
        assert!(c.phone.allowed_countries.is_some());
        for (var, builder) in [
            (
                "AUTHKIT_VERIFY_EMAIL_TTL",
                AuthConfig::builder().account(|a| a.verify_email_ttl(Duration::days(2))),
            ),
            (
                "AUTHKIT_MFA_MAX_FAILURES",
                AuthConfig::builder().mfa(|m| m.max_failures(0)),
            ),
            (
                "AUTHKIT_SMS_ALLOWED_COUNTRIES",
                AuthConfig::builder().phone(|p| p.allowed_countries(Some(Vec::new()))),
            ),
            (
                "AUTHKIT_ACCEPT_INVITE_PATH",
                AuthConfig::builder().orgs(|o| o.accept_invite_path("https://x")),
            ),
        ] {
            assert_eq!(builder.build().unwrap_err().variable, var);
        }
    }

    #[test]
    fn key_reload_is_shorter_than_the_activation_delay() {
        // Read from the environment, the interval has its documented default.
        let c = vars(&[]).unwrap();
        assert_eq!(c.key_reload_interval, Some(Duration::seconds(60)));
        let c = vars(&[
            ("AUTHKIT_KEY_RELOAD_INTERVAL", "1"),
            ("AUTHKIT_KEY_ACTIVATION_DELAY", "3"),
        ])
        .unwrap();
        assert_eq!(c.key_reload_interval, Some(Duration::seconds(1)));
        for pairs in [
            &[("AUTHKIT_KEY_RELOAD_INTERVAL", "5m")][..],
            &[("AUTHKIT_KEY_RELOAD_INTERVAL", "10m")][..],
            &[("AUTHKIT_KEY_ACTIVATION_DELAY", "30")][..],
            &[("AUTHKIT_KEY_RELOAD_INTERVAL", "0")][..],
            &[("AUTHKIT_KEY_RELOAD_INTERVAL", "often")][..],
        ] {
            let err = vars(pairs).unwrap_err();
            assert_eq!(err.variable, "AUTHKIT_KEY_RELOAD_INTERVAL", "{pairs:?}");
        }
        // Built in code, a configuration without a timed reload may sign
        // with a new key at once (one instance); with one, the rule holds.
        let c = AuthConfig::builder()
            .key_activation_delay(Duration::zero())
            .build()
            .unwrap();
        assert_eq!(c.key_reload_interval, None);
        let err = AuthConfig::builder()
            .key_activation_delay(Duration::seconds(30))
            .key_reload_interval(Duration::seconds(30))
            .build()
            .unwrap_err();
        assert_eq!(err.variable, "AUTHKIT_KEY_RELOAD_INTERVAL");
        assert!(err.message.contains("AUTHKIT_KEY_ACTIVATION_DELAY (30s)"));
        AuthConfig::builder()
            .key_activation_delay(Duration::seconds(30))
            .key_reload_interval(Duration::seconds(29))
            .build()
            .unwrap();
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("90"), Some(Duration::seconds(90)));
        assert_eq!(parse_duration("15m"), Some(Duration::minutes(15)));
        assert_eq!(parse_duration("24h"), Some(Duration::hours(24)));
        assert_eq!(parse_duration("30d"), Some(Duration::days(30)));
        for bad in ["", "m", "1w", "-5", "1.5h", "9999999999999999999"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }
}
