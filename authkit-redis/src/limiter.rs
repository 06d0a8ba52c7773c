//! The shared rate limiter: GCRA in one atomic Lua script.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use authkit_core::rate_limit::{self, RateAction, RateLimiter, RateLimits};
use authkit_core::{AuthError, AuthResult};
use redis::Script;
use redis::aio::ConnectionManager;
use sha2::{Digest, Sha256};

use crate::outage::Outage;
use crate::settings::{FailureMode, RedisSettings};

/// GCRA as the in-process `GovernorLimiter` runs it, on Redis's clock, in
/// microseconds. `KEYS[1]`: the bucket; `ARGV[1]`: the emission interval
/// `t` (period / burst); `ARGV[2]`: the tolerance `t * burst`. The stored
/// value is the theoretical arrival time (TAT); a fresh key starts at
/// `now + t`. A request is allowed unless `now < TAT - tolerance`, and then
/// pushes TAT to `max(TAT, now) + t`. The key expires when its TAT passes,
/// when its budget is full again. Answers 0 (allowed) or the wait in µs.
const GCRA: &str = r"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local t = tonumber(ARGV[1])
local tau = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or (now + t)
local earliest = tat - tau
if now < earliest then
  return earliest - now
end
local nxt = math.max(tat, now) + t
local ttl = math.max(1, math.ceil((nxt - now) / 1000))
redis.call('SET', KEYS[1], string.format('%d', nxt), 'PX', string.format('%d', ttl))
return 0
";

/// A [`RateLimiter`] whose budgets live in Redis, shared by every
/// instance: the same quotas ([`RateLimits`]), the same GCRA and the same
/// `Retry-After` as the in-process `GovernorLimiter`, so swapping one for
/// the other changes nothing but where the state lives.
///
/// One round trip per check (`EVALSHA` of one script; the key is a
/// SHA-256 of the caller's key, so emails and IPs are not stored in Redis
/// in clear and huge keys cost nothing). Disabled actions make no round
/// trip. When Redis fails, [`FailureMode`] decides: `Open` lets the request
/// through (warning logged), `Closed` answers `StoreUnavailable` (503).
pub struct RedisLimiter {
    connection: ConnectionManager,
    limits: RateLimits,
    prefix: String,
    script: Script,
    outage: Outage,
}

impl RedisLimiter {
    /// A limiter enforcing `limits` through `connection` (see
    /// [`RedisSettings::connect`]), with the settings' key prefix and
    /// failure mode.
    pub fn new(
        connection: ConnectionManager,
        settings: &RedisSettings,
        limits: RateLimits,
    ) -> Self {
        Self {
            connection,
            limits,
            prefix: format!("{}rl:", settings.key_prefix),
            script: Script::new(GCRA),
            outage: Outage::new(settings.on_error),
        }
    }

    /// The limits enforced.
    pub fn limits(&self) -> &RateLimits {
        &self.limits
    }

    /// The Redis key of (`action`, `key`).
    fn bucket(&self, action: RateAction, key: &str) -> String {
        let digest = Sha256::digest(key.as_bytes());
        format!(
            "{}{}:{}",
            self.prefix,
            action.as_str(),
            hex::encode(&digest[..16])
        )
    }
}

impl fmt::Debug for RedisLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisLimiter")
            .field("limits", &self.limits)
            .field("prefix", &self.prefix)
            .field("on_error", &self.outage.mode())
            .finish_non_exhaustive()
    }
}

/// Whole microseconds of `d`, at least one, saturating.
fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

#[async_trait]
impl RateLimiter for RedisLimiter {
    async fn check(&self, action: RateAction, key: &str) -> AuthResult<()> {
        let Some(quota) = self.limits.get(action) else {
            return Ok(());
        };
        let t = micros(quota.emission_interval());
        let tau = t.saturating_mul(u64::from(quota.burst));
        let mut connection = self.connection.clone();
        let answer: redis::RedisResult<u64> = self
            .script
            .key(self.bucket(action, key))
            .arg(t)
            .arg(tau)
            .invoke_async(&mut connection)
            .await;
        match answer {
            Ok(0) => Ok(()),
            Ok(wait) => Err(rate_limit::rejection(Duration::from_micros(wait))),
            Err(err) => {
                self.outage.record("rate_limit", &err);
                match self.outage.mode() {
                    FailureMode::Open => Ok(()),
                    FailureMode::Closed => Err(AuthError::store_unavailable(err)),
                }
            }
        }
    }
}
