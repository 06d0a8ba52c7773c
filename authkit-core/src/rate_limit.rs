//! Throttling: per-action quotas, the [`RateLimiter`] trait and its
//! in-process implementation.
//!
//! Each [`RateAction`] has its own [`Quota`] and its own keyspace; the key is
//! chosen by the caller (a client IP, a normalized email, a challenge id) and
//! compared exactly, so the caller normalizes it first.
//!
//! Every per-IP limit keys its client with one function,
//! [`IpPrefixes::key`]: an IPv4 address by its /32 and an IPv6 address by
//! its /64 (one subscriber's allocation; both prefixes configurable), an
//! IPv4-mapped IPv6 address as the IPv4 address it is, and a request whose
//! client address is unknown by the one shared key [`UNKNOWN_IP_KEY`], so a
//! missing peer address never skips a per-IP limit.

use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;

use crate::error::{AuthError, AuthResult};

/// What is being throttled; each has its own quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RateAction {
    /// Logins per client IP.
    LoginPerIp,
    /// Logins per email.
    LoginPerEmail,
    /// Registrations per client IP.
    RegisterPerIp,
    /// Password-reset requests per email.
    ResetPerEmail,
    /// Verification resends per email.
    ResendPerEmail,
    /// Code checks per challenge.
    CodePerChallenge,
    /// Code checks per account.
    CodePerAccount,
    /// Email lookups per client IP.
    LookupPerIp,
    /// Texts (phone verification and SMS login codes) per account.
    SmsPerAccount,
    /// Texts per client IP.
    SmsPerIp,
    /// Texts per destination number.
    SmsPerNumber,
    /// Texts of the whole deployment (one key): the SMS budget that caps
    /// what a pumping attack can cost.
    SmsGlobal,
    /// Password re-checks of a signed-in account (password change,
    /// deactivation, turning TOTP off, unlinking an identity), per account.
    ReauthPerUser,
    /// Password re-checks of signed-in accounts, per client IP.
    ReauthPerIp,
    /// Registration codes per email: every `/register/start` and every
    /// `/register/confirm` check of one address spends one, across
    /// challenges, so a new code never refills it.
    RegisterCodePerEmail,
    /// Password-reset requests per client IP.
    ResetPerIp,
    /// Verification resends per client IP.
    ResendPerIp,
    /// Refresh-token rotations per client IP.
    RefreshPerIp,
    /// Token introspections per client IP.
    IntrospectPerIp,
}

impl RateAction {
    /// Every action, for iterating over configuration.
    pub const ALL: [RateAction; 19] = [
        Self::LoginPerIp,
        Self::LoginPerEmail,
        Self::RegisterPerIp,
        Self::ResetPerEmail,
        Self::ResendPerEmail,
        Self::CodePerChallenge,
        Self::CodePerAccount,
        Self::LookupPerIp,
        Self::SmsPerAccount,
        Self::SmsPerIp,
        Self::SmsPerNumber,
        Self::SmsGlobal,
        Self::ReauthPerUser,
        Self::ReauthPerIp,
        Self::RegisterCodePerEmail,
        Self::ResetPerIp,
        Self::ResendPerIp,
        Self::RefreshPerIp,
        Self::IntrospectPerIp,
    ];

    /// A stable snake_case name, for configuration keys, logs and errors.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LoginPerIp => "login_per_ip",
            Self::LoginPerEmail => "login_per_email",
            Self::RegisterPerIp => "register_per_ip",
            Self::ResetPerEmail => "reset_per_email",
            Self::ResendPerEmail => "resend_per_email",
            Self::CodePerChallenge => "code_per_challenge",
            Self::CodePerAccount => "code_per_account",
            Self::LookupPerIp => "lookup_per_ip",
            Self::SmsPerAccount => "sms_per_account",
            Self::SmsPerIp => "sms_per_ip",
            Self::SmsPerNumber => "sms_per_number",
            Self::SmsGlobal => "sms_global",
            Self::ReauthPerUser => "reauth_per_user",
            Self::ReauthPerIp => "reauth_per_ip",
            Self::RegisterCodePerEmail => "register_code_per_email",
            Self::ResetPerIp => "reset_per_ip",
            Self::ResendPerIp => "resend_per_ip",
            Self::RefreshPerIp => "refresh_per_ip",
            Self::IntrospectPerIp => "introspect_per_ip",
        }
    }

    /// Position in [`RateAction::ALL`].
    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for RateAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `burst` requests per `period`.
///
/// Enforced as GCRA: a key may spend up to `burst` requests at once, and one
/// request becomes available again every `period / burst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Requests allowed in one period.
    pub burst: u32,
    /// The period.
    pub period: Duration,
}

impl Quota {
    /// The longest accepted period.
    pub const MAX_PERIOD: Duration = Duration::from_secs(366 * 24 * 60 * 60);

    /// `burst` requests per `period`.
    pub const fn new(burst: u32, period: Duration) -> Self {
        Self { burst, period }
    }

    /// How often one request replenishes: `period / burst` (the GCRA
    /// emission interval; shared backends use the same arithmetic as the
    /// in-process limiter). Zero for a zero burst.
    pub fn emission_interval(self) -> Duration {
        self.period
            .checked_div(self.burst)
            .unwrap_or(Duration::ZERO)
    }

    /// The equivalent governor quota, or `None` if this quota is invalid:
    /// `burst` is zero, `period` is zero or longer than
    /// [`MAX_PERIOD`](Self::MAX_PERIOD), or shorter than one nanosecond per
    /// request.
    fn to_governor(self) -> Option<governor::Quota> {
        let burst = NonZeroU32::new(self.burst)?;
        if self.period > Self::MAX_PERIOD {
            return None;
        }
        governor::Quota::with_period(self.emission_interval()).map(|q| q.allow_burst(burst))
    }
}

/// The key every per-IP limit gives a request whose client address is
/// unknown (no socket peer, e.g. an adapter without connection info): all
/// such requests share one budget rather than escaping the limit.
pub const UNKNOWN_IP_KEY: &str = "unknown";

/// How per-IP limits group client addresses: by network prefix, one for
/// each address family. The defaults, /32 for IPv4 and /64 for IPv6, key
/// one IPv4 address, or one IPv6 subscriber (who usually holds a whole /64
/// and could otherwise rotate through 2^64 addresses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpPrefixes {
    v4: u8,
    v6: u8,
}

impl Default for IpPrefixes {
    /// /32 for IPv4, /64 for IPv6.
    fn default() -> Self {
        Self { v4: 32, v6: 64 }
    }
}

impl IpPrefixes {
    /// Groups IPv4 clients by their `/v4` and IPv6 clients by their `/v6`.
    ///
    /// # Errors
    /// A validation error unless `1 <= v4 <= 32` and `1 <= v6 <= 128`
    /// (field `ipv4_prefix` or `ipv6_prefix`).
    pub fn new(v4: u8, v6: u8) -> AuthResult<Self> {
        let bad = |field: &str, max: u8| {
            AuthError::invalid_field(
                field,
                "ip_prefix_invalid",
                format!("a prefix length between 1 and {max}"),
            )
        };
        if !(1..=32).contains(&v4) {
            return Err(bad("ipv4_prefix", 32));
        }
        if !(1..=128).contains(&v6) {
            return Err(bad("ipv6_prefix", 128));
        }
        Ok(Self { v4, v6 })
    }

    /// The IPv4 prefix length.
    pub fn v4(self) -> u8 {
        self.v4
    }

    /// The IPv6 prefix length.
    pub fn v6(self) -> u8 {
        self.v6
    }

    /// The rate-limit key of a client: its network (`203.0.113.9/32`,
    /// `2001:db8:1:2::/64`), an IPv4-mapped IPv6 address keyed as IPv4,
    /// and [`UNKNOWN_IP_KEY`] when the address is unknown. Every per-IP
    /// limit keys through this one function.
    pub fn key(self, ip: Option<IpAddr>) -> String {
        match ip.map(|ip| ip.to_canonical()) {
            None => UNKNOWN_IP_KEY.to_owned(),
            Some(IpAddr::V4(v4)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.v4)).unwrap_or(0);
                let net = std::net::Ipv4Addr::from(u32::from(v4) & mask);
                format!("{net}/{}", self.v4)
            }
            Some(IpAddr::V6(v6)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.v6)).unwrap_or(0);
                let net = std::net::Ipv6Addr::from(u128::from(v6) & mask);
                format!("{net}/{}", self.v6)
            }
        }
    }
}

/// Quotas per action (`None` means the action is not limited), and how
/// per-IP limits group addresses ([`IpPrefixes`]).
///
/// Every quota held is valid: [`set`](RateLimits::set) refuses the others.
/// The defaults (each action's variable is `AUTHKIT_RATE_` and its
/// [name](RateAction::as_str) in capitals):
///
/// | action | key | quota |
/// |---|---|---|
/// | `login_per_ip` (login, social sign-in) | client IP | 30 per minute |
/// | `login_per_email` | email | 10 per minute |
/// | `register_per_ip` | client IP | 10 per minute |
/// | `reset_per_email` (password reset) | email | 5 per hour |
/// | `reset_per_ip` | client IP | 20 per hour |
/// | `resend_per_email` (verification resend; also MFA email codes sent, per account) | email / account | 5 per hour |
/// | `resend_per_ip` (verification resend) | client IP | 20 per hour |
/// | `code_per_challenge` | challenge | 5 per 10 minutes |
/// | `code_per_account` | account | 20 per hour |
/// | `lookup_per_ip` (email lookup) | client IP | 10 per hour |
/// | `refresh_per_ip` | client IP | 120 per minute |
/// | `introspect_per_ip` | client IP | 600 per minute |
/// | `sms_per_account` (texts: phone verification, SMS login codes) | account | 5 per hour |
/// | `sms_per_ip` | client IP | 10 per hour |
/// | `sms_per_number` | destination number | 5 per hour |
/// | `sms_global` (the deployment's SMS budget) | one key | 1000 per hour |
/// | `reauth_per_user` (password re-checks of a signed-in account) | account | 10 per minute |
/// | `reauth_per_ip` | client IP | 30 per minute |
/// | `register_code_per_email` | email (all challenges) | 10 per 150 minutes |
///
/// Client IPs are keyed by /32 (IPv4) and /64 (IPv6) by default.
/// Password re-checks (a signed-in caller proving the password again)
/// get the login's budgets: they are logins by another door. The
/// registration-code budget is the default lockout's: 10 tries, then one
/// more every 15 minutes (the lockout duration).
#[derive(Clone, PartialEq, Eq)]
pub struct RateLimits {
    quotas: [Option<Quota>; RateAction::ALL.len()],
    ip_prefixes: IpPrefixes,
}

impl RateLimits {
    /// No action is limited (for hosts that throttle elsewhere, and tests).
    pub fn disabled() -> Self {
        Self {
            quotas: [None; RateAction::ALL.len()],
            ip_prefixes: IpPrefixes::default(),
        }
    }

    /// How per-IP limits group client addresses.
    pub fn ip_prefixes(&self) -> IpPrefixes {
        self.ip_prefixes
    }

    /// Groups client addresses by `prefixes` in every per-IP limit.
    pub fn set_ip_prefixes(&mut self, prefixes: IpPrefixes) {
        self.ip_prefixes = prefixes;
    }

    /// The quota of `action`, `None` if it is not limited.
    pub fn get(&self, action: RateAction) -> Option<Quota> {
        self.quotas[action.index()]
    }

    /// Limits `action` to `quota`.
    ///
    /// Fails with a validation error naming the action unless
    /// `burst >= 1` and `0 < period <= Quota::MAX_PERIOD` (with at least
    /// one nanosecond per request); the limits are then left unchanged.
    pub fn set(&mut self, action: RateAction, quota: Quota) -> AuthResult<()> {
        if quota.to_governor().is_none() {
            return Err(AuthError::invalid_field(
                action.as_str(),
                "rate_quota_invalid",
                "a rate quota needs a burst of at least 1 and a period between \
                 1 ns per request and 366 days",
            ));
        }
        self.quotas[action.index()] = Some(quota);
        Ok(())
    }

    /// Removes the limit on `action`.
    pub fn disable(&mut self, action: RateAction) {
        self.quotas[action.index()] = None;
    }
}

impl Default for RateLimits {
    /// The defaults listed on [`RateLimits`].
    fn default() -> Self {
        const MINUTE: Duration = Duration::from_secs(60);
        const HOUR: Duration = Duration::from_secs(60 * 60);
        let quota = |action| match action {
            RateAction::LoginPerIp | RateAction::ReauthPerIp => Quota::new(30, MINUTE),
            RateAction::LoginPerEmail | RateAction::RegisterPerIp | RateAction::ReauthPerUser => {
                Quota::new(10, MINUTE)
            }
            RateAction::ResetPerEmail | RateAction::ResendPerEmail => Quota::new(5, HOUR),
            RateAction::CodePerChallenge => Quota::new(5, 10 * MINUTE),
            RateAction::CodePerAccount => Quota::new(20, HOUR),
            RateAction::LookupPerIp | RateAction::SmsPerIp => Quota::new(10, HOUR),
            RateAction::SmsPerAccount | RateAction::SmsPerNumber => Quota::new(5, HOUR),
            RateAction::SmsGlobal => Quota::new(1000, HOUR),
            RateAction::RegisterCodePerEmail => Quota::new(10, 150 * MINUTE),
            RateAction::ResetPerIp | RateAction::ResendPerIp => Quota::new(20, HOUR),
            RateAction::RefreshPerIp => Quota::new(120, MINUTE),
            RateAction::IntrospectPerIp => Quota::new(600, MINUTE),
        };
        Self {
            quotas: RateAction::ALL.map(|action| Some(quota(action))),
            ip_prefixes: IpPrefixes::default(),
        }
    }
}

impl fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(RateAction::ALL.map(|action| (action.as_str(), self.get(action))))
            .entry(&"ip_prefixes", &self.ip_prefixes)
            .finish()
    }
}

/// Decides whether a request may proceed.
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// `Ok` to proceed; `RateLimited { retry_after }` otherwise, where
    /// `retry_after` is a whole number of seconds, at least one (it becomes
    /// a `Retry-After` header).
    async fn check(&self, action: RateAction, key: &str) -> AuthResult<()>;
}

/// Never limits; for tests and for hosts that throttle elsewhere.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoLimiter;

#[async_trait]
impl RateLimiter for NoLimiter {
    async fn check(&self, _action: RateAction, _key: &str) -> AuthResult<()> {
        Ok(())
    }
}

/// The least number of checks of one action between two sweeps of its
/// stale keys.
const SWEEP_EVERY: usize = 4096;

/// In-process keyed GCRA limiter (governor), one keyspace per action.
///
/// State lives in this process only: behind several instances each one
/// counts on its own, so use a shared limiter there.
///
/// Memory stays bounded under a flood of distinct keys: keys are stored as
/// 64-bit hashes (keyed with a random per-limiter seed, so a collision, which
/// would only make two keys share a budget, cannot be provoked), and every
/// `max(4096, keys held)` checks of an action its keys idle long enough for
/// their budget to be full again are dropped and the map is shrunk. The sweep costs one pass
/// over the keys, so it adds amortized constant time per check.
///
/// The clock is governor's; tests pass a
/// [`FakeRelativeClock`](governor::clock::FakeRelativeClock) to
/// [`with_clock`](GovernorLimiter::with_clock) and advance it instead of
/// sleeping.
pub struct GovernorLimiter<C: Clock = DefaultClock> {
    limits: RateLimits,
    seed: RandomState,
    clock: C,
    buckets: [Option<Bucket<C>>; RateAction::ALL.len()],
}

/// The keyed limiter of one action and its sweep bookkeeping.
struct Bucket<C: Clock> {
    limiter: governor::RateLimiter<u64, DefaultKeyedStateStore<u64>, C, NoOpMiddleware<C::Instant>>,
    checks: AtomicUsize,
    sweep_after: AtomicUsize,
}

impl GovernorLimiter {
    /// A limiter enforcing `limits` on the default (monotonic) clock.
    pub fn new(limits: RateLimits) -> Self {
        Self::with_clock(limits, DefaultClock::default())
    }
}

impl<C: Clock + Clone> GovernorLimiter<C> {
    /// A limiter enforcing `limits` on `clock`.
    pub fn with_clock(limits: RateLimits, clock: C) -> Self {
        let buckets = RateAction::ALL.map(|action| {
            // `RateLimits` only holds valid quotas, so `None` here is always
            // a disabled action.
            let quota = limits.get(action).and_then(Quota::to_governor)?;
            Some(Bucket {
                limiter: governor::RateLimiter::new(
                    quota,
                    DefaultKeyedStateStore::default(),
                    clock.clone(),
                ),
                checks: AtomicUsize::new(0),
                sweep_after: AtomicUsize::new(SWEEP_EVERY),
            })
        });
        Self {
            limits,
            seed: RandomState::new(),
            clock,
            buckets,
        }
    }

    /// The limits enforced.
    pub fn limits(&self) -> &RateLimits {
        &self.limits
    }

    /// How many keys of `action` are held in memory (for metrics).
    pub fn tracked_keys(&self, action: RateAction) -> usize {
        self.buckets[action.index()]
            .as_ref()
            .map_or(0, |bucket| bucket.limiter.len())
    }

    /// The synchronous core of [`RateLimiter::check`].
    fn check_now(&self, action: RateAction, key: &str) -> AuthResult<()> {
        let Some(bucket) = &self.buckets[action.index()] else {
            return Ok(());
        };
        let outcome = bucket.limiter.check_key(&self.seed.hash_one(key));
        bucket.sweep_if_due();
        outcome.map_err(|not_until| rejection(not_until.wait_time_from(self.clock.now())))
    }
}

impl<C: Clock> Bucket<C> {
    /// Counts one check and, when enough have passed, drops the keys whose
    /// budget is full again.
    fn sweep_if_due(&self) {
        let seen = self.checks.fetch_add(1, Ordering::Relaxed) + 1;
        let due = self.sweep_after.load(Ordering::Relaxed);
        // Only the caller that resets the counter sweeps.
        if seen < due || self.checks.swap(0, Ordering::Relaxed) < due {
            return;
        }
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
        self.sweep_after
            .store(self.limiter.len().max(SWEEP_EVERY), Ordering::Relaxed);
    }
}

/// The `RateLimited` error for a request that may be retried after
/// `wait`: the wait rounded up to whole seconds, at least one (the
/// `Retry-After` value). Every [`RateLimiter`] answers through this, so
/// shared backends report the same value as [`GovernorLimiter`].
pub fn rejection(wait: Duration) -> AuthError {
    AuthError::RateLimited {
        retry_after: whole_seconds(wait),
    }
}

/// Rounds a wait up to whole seconds, at least one.
fn whole_seconds(wait: Duration) -> Duration {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    Duration::from_secs(secs.max(1))
}

impl<C: Clock> fmt::Debug for GovernorLimiter<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GovernorLimiter")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl<C: Clock + Clone + Send + Sync> RateLimiter for GovernorLimiter<C> {
    async fn check(&self, action: RateAction, key: &str) -> AuthResult<()> {
        self.check_now(action, key)
    }
}

#[cfg(test)]
mod tests {
    use governor::clock::FakeRelativeClock;

    use super::*;

    fn limiter(limits: RateLimits) -> (GovernorLimiter<FakeRelativeClock>, FakeRelativeClock) {
        let clock = FakeRelativeClock::default();
        (GovernorLimiter::with_clock(limits, clock.clone()), clock)
    }

    fn retry_after(result: AuthResult<()>) -> Duration {
        match result {
            Err(AuthError::RateLimited { retry_after }) => retry_after,
            other => panic!("expected rate_limited, got {other:?}"),
        }
    }

    #[test]
    fn defaults_follow_the_documented_table() {
        let limits = RateLimits::default();
        let minute = Duration::from_secs(60);
        let hour = Duration::from_secs(3600);
        let expected = [
            (RateAction::LoginPerIp, 30, minute),
            (RateAction::LoginPerEmail, 10, minute),
            (RateAction::RegisterPerIp, 10, minute),
            (RateAction::ResetPerEmail, 5, hour),
            (RateAction::ResendPerEmail, 5, hour),
            (RateAction::CodePerChallenge, 5, 10 * minute),
            (RateAction::CodePerAccount, 20, hour),
            (RateAction::LookupPerIp, 10, hour),
            (RateAction::SmsPerAccount, 5, hour),
            (RateAction::SmsPerIp, 10, hour),
            (RateAction::SmsPerNumber, 5, hour),
            (RateAction::SmsGlobal, 1000, hour),
            (RateAction::ReauthPerUser, 10, minute),
            (RateAction::ReauthPerIp, 30, minute),
            (RateAction::RegisterCodePerEmail, 10, 150 * minute),
            (RateAction::ResetPerIp, 20, hour),
            (RateAction::ResendPerIp, 20, hour),
            (RateAction::RefreshPerIp, 120, minute),
            (RateAction::IntrospectPerIp, 600, minute),
        ];
        assert_eq!(expected.len(), RateAction::ALL.len());
        for (action, burst, period) in expected {
            assert_eq!(
                limits.get(action),
                Some(Quota::new(burst, period)),
                "{action}"
            );
        }
    }

    fn key(prefixes: IpPrefixes, ip: &str) -> String {
        prefixes.key(Some(ip.parse().unwrap_or_else(|_| panic!("{ip}"))))
    }

    #[test]
    fn ipv4_clients_are_keyed_by_address_and_ipv6_by_their_64() {
        let p = IpPrefixes::default();
        assert_eq!((p.v4(), p.v6()), (32, 64));
        assert_eq!(key(p, "203.0.113.9"), "203.0.113.9/32");
        assert_ne!(key(p, "203.0.113.9"), key(p, "203.0.113.10"));
        // One /64: one key, whatever the interface id.
        assert_eq!(key(p, "2001:db8:1:2::1"), "2001:db8:1:2::/64");
        assert_eq!(
            key(p, "2001:db8:1:2:ffff:ffff:ffff:ffff"),
            key(p, "2001:db8:1:2::1")
        );
        assert_ne!(key(p, "2001:db8:1:3::1"), key(p, "2001:db8:1:2::1"));
        // An IPv4-mapped IPv6 address is the IPv4 address.
        assert_eq!(key(p, "::ffff:203.0.113.9"), "203.0.113.9/32");
        // IPv4 and IPv6 keys never collide.
        assert_ne!(key(p, "0.0.0.1"), key(p, "::1"));
    }

    #[test]
    fn prefixes_are_configurable_and_bounded() {
        let p = IpPrefixes::new(24, 48).unwrap();
        assert_eq!(key(p, "203.0.113.9"), "203.0.113.0/24");
        assert_eq!(key(p, "203.0.113.200"), "203.0.113.0/24");
        assert_ne!(key(p, "203.0.114.1"), key(p, "203.0.113.1"));
        assert_eq!(key(p, "2001:db8:1:ffff::1"), "2001:db8:1::/48");
        let whole = IpPrefixes::new(32, 128).unwrap();
        assert_eq!(key(whole, "2001:db8::1"), "2001:db8::1/128");
        let widest = IpPrefixes::new(1, 1).unwrap();
        assert_eq!(key(widest, "203.0.113.9"), "128.0.0.0/1");
        assert_eq!(key(widest, "2001:db8::1"), "::/1");
        for (v4, v6, field) in [
            (0, 64, "ipv4_prefix"),
            (33, 64, "ipv4_prefix"),
            (32, 0, "ipv6_prefix"),
            (32, 129, "ipv6_prefix"),
        ] {
            let err = IpPrefixes::new(v4, v6).unwrap_err();
            assert_eq!(err.field_errors()[0].field, field, "{v4} {v6}");
        }
        let mut limits = RateLimits::default();
        limits.set_ip_prefixes(p);
        assert_eq!(limits.ip_prefixes(), p);
    }

    #[test]
    fn an_unknown_client_shares_one_key() {
        for p in [IpPrefixes::default(), IpPrefixes::new(8, 16).unwrap()] {
            assert_eq!(p.key(None), UNKNOWN_IP_KEY);
            assert_ne!(key(p, "203.0.113.9"), UNKNOWN_IP_KEY);
        }
    }

    #[test]
    fn action_names_are_distinct_and_index_all() {
        for (i, action) in RateAction::ALL.into_iter().enumerate() {
            assert_eq!(action.index(), i);
            let same_name = RateAction::ALL
                .iter()
                .filter(|a| a.as_str() == action.as_str())
                .count();
            assert_eq!(same_name, 1, "{action}");
        }
        assert!(format!("{:?}", RateLimits::default()).contains("login_per_ip"));
    }

    #[test]
    fn invalid_quotas_are_refused_and_change_nothing() {
        let mut limits = RateLimits::default();
        let before = limits.clone();
        let bad = [
            Quota::new(0, Duration::from_secs(60)),
            Quota::new(5, Duration::ZERO),
            Quota::new(10, Duration::from_nanos(9)),
            Quota::new(u32::MAX, Duration::from_secs(1)),
            Quota::new(1, Quota::MAX_PERIOD + Duration::from_nanos(1)),
            Quota::new(3, Duration::MAX),
        ];
        for quota in bad {
            let err = limits.set(RateAction::LoginPerIp, quota).unwrap_err();
            assert_eq!(err.code(), "validation_failed", "{quota:?}");
            assert_eq!(err.field_errors()[0].field, "login_per_ip");
            assert_eq!(err.field_errors()[0].code, "rate_quota_invalid");
        }
        assert_eq!(limits, before);

        let edge = [
            Quota::new(1, Duration::from_nanos(1)),
            Quota::new(10, Duration::from_nanos(10)),
            Quota::new(u32::MAX, Quota::MAX_PERIOD),
        ];
        for quota in edge {
            limits.set(RateAction::LoginPerIp, quota).unwrap();
            assert_eq!(limits.get(RateAction::LoginPerIp), Some(quota));
        }
    }

    #[tokio::test]
    async fn burst_is_allowed_then_limited_until_a_cell_replenishes() {
        // 10 per minute: one request comes back every 6 s.
        let (limiter, clock) = limiter(RateLimits::default());
        let action = RateAction::LoginPerEmail;
        for _ in 0..10 {
            limiter.check(action, "ann@example.com").await.unwrap();
        }
        let wait = retry_after(limiter.check(action, "ann@example.com").await);
        assert_eq!(wait, Duration::from_secs(6));

        clock.advance(Duration::from_millis(5_500));
        let wait = retry_after(limiter.check(action, "ann@example.com").await);
        assert_eq!(wait, Duration::from_secs(1), "0.5 s rounds up to 1 s");

        clock.advance(Duration::from_millis(500));
        limiter.check(action, "ann@example.com").await.unwrap();
        let wait = retry_after(limiter.check(action, "ann@example.com").await);
        assert_eq!(wait, Duration::from_secs(6));

        clock.advance(Duration::from_secs(60));
        for _ in 0..10 {
            limiter.check(action, "ann@example.com").await.unwrap();
        }
        assert!(limiter.check(action, "ann@example.com").await.is_err());
    }

    #[tokio::test]
    async fn retry_after_is_whole_seconds_and_at_least_one() {
        assert_eq!(whole_seconds(Duration::ZERO), Duration::from_secs(1));
        assert_eq!(
            whole_seconds(Duration::from_nanos(1)),
            Duration::from_secs(1)
        );
        assert_eq!(
            whole_seconds(Duration::from_secs(2)),
            Duration::from_secs(2)
        );
        assert_eq!(
            whole_seconds(Duration::from_millis(2_001)),
            Duration::from_secs(3)
        );

        // 5 per 10 ns: the wait is a few nanoseconds, reported as 1 s.
        let mut limits = RateLimits::disabled();
        limits
            .set(
                RateAction::LookupPerIp,
                Quota::new(5, Duration::from_nanos(10)),
            )
            .unwrap();
        let (limiter, _clock) = limiter(limits);
        for _ in 0..5 {
            limiter.check(RateAction::LookupPerIp, "ip").await.unwrap();
        }
        let wait = retry_after(limiter.check(RateAction::LookupPerIp, "ip").await);
        assert_eq!(wait, Duration::from_secs(1));
    }

    #[tokio::test]
    async fn keys_and_actions_do_not_interfere() {
        let (limiter, _clock) = limiter(RateLimits::default());
        for _ in 0..5 {
            limiter
                .check(RateAction::ResetPerEmail, "ann@example.com")
                .await
                .unwrap();
        }
        assert!(
            limiter
                .check(RateAction::ResetPerEmail, "ann@example.com")
                .await
                .is_err()
        );

        // Another key, the same key under another action, and keys that
        // differ only in case or Unicode form each have their own budget.
        limiter
            .check(RateAction::ResetPerEmail, "bob@example.com")
            .await
            .unwrap();
        limiter
            .check(RateAction::ResendPerEmail, "ann@example.com")
            .await
            .unwrap();
        limiter
            .check(RateAction::LoginPerEmail, "ann@example.com")
            .await
            .unwrap();
        limiter
            .check(RateAction::ResetPerEmail, "Ann@example.com")
            .await
            .unwrap();
        limiter
            .check(RateAction::ResetPerEmail, "ann\u{0301}@example.com")
            .await
            .unwrap();
        limiter.check(RateAction::ResetPerEmail, "").await.unwrap();
        let huge = "x".repeat(1 << 20);
        limiter
            .check(RateAction::ResetPerEmail, &huge)
            .await
            .unwrap();

        assert!(
            limiter
                .check(RateAction::ResetPerEmail, "ann@example.com")
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn disabled_actions_never_limit() {
        let mut limits = RateLimits::default();
        limits.disable(RateAction::LoginPerIp);
        assert_eq!(limits.get(RateAction::LoginPerIp), None);
        let (limiter, _clock) = limiter(limits);
        for _ in 0..1_000 {
            limiter
                .check(RateAction::LoginPerIp, "203.0.113.7")
                .await
                .unwrap();
        }
        assert_eq!(limiter.tracked_keys(RateAction::LoginPerIp), 0);
        // The other actions keep their quotas.
        for _ in 0..10 {
            limiter
                .check(RateAction::LoginPerEmail, "a@b.c")
                .await
                .unwrap();
        }
        assert!(
            limiter
                .check(RateAction::LoginPerEmail, "a@b.c")
                .await
                .is_err()
        );

        let (limiter, _clock) = super::tests::limiter(RateLimits::disabled());
        for action in RateAction::ALL {
            for _ in 0..100 {
                limiter.check(action, "key").await.unwrap();
            }
        }
    }

    #[tokio::test]
    async fn no_limiter_always_allows() {
        for action in RateAction::ALL {
            for _ in 0..100 {
                NoLimiter.check(action, "key").await.unwrap();
            }
        }
    }

    #[test]
    fn concurrent_checks_of_one_key_spend_exactly_the_burst() {
        let (limiter, _clock) = limiter(RateLimits::default());
        let allowed = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    for _ in 0..20 {
                        if limiter
                            .check_now(RateAction::LoginPerIp, "198.51.100.1")
                            .is_ok()
                        {
                            allowed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        assert_eq!(allowed.into_inner(), 30);
    }

    #[test]
    fn a_flood_of_distinct_keys_is_swept_once_stale() {
        let (limiter, clock) = limiter(RateLimits::default());
        let action = RateAction::LoginPerIp;
        for _ in 0..30 {
            limiter.check_now(action, "victim").unwrap();
        }
        for i in 0..100_000 {
            limiter
                .check_now(action, &format!("10.0.{}.{}", i / 256, i % 256))
                .unwrap();
        }
        // Nothing is stale yet: every key is still held, limits still hold.
        assert_eq!(limiter.tracked_keys(action), 100_001);
        assert!(limiter.check_now(action, "victim").is_err());
        limiter.check_now(action, "newcomer").unwrap();

        // Once the budgets have replenished, the next sweep drops them.
        clock.advance(Duration::from_secs(60));
        let mut checks = 0;
        while limiter.tracked_keys(action) > 100 {
            let _ = limiter.check_now(action, "steady");
            checks += 1;
            assert!(checks <= 200_000, "no sweep after {checks} checks");
        }
        limiter.check_now(action, "victim").unwrap();
    }
}
