//! authkit-redis: Redis backends that make authkit correct behind several
//! instances.
//!
//! - [`RedisLimiter`], a [`RateLimiter`](authkit_core::rate_limit::RateLimiter)
//!   whose budgets live in Redis, so a limit holds across every instance.
//!   One round trip per check: an atomic Lua script runs the same GCRA as
//!   the in-process `GovernorLimiter` (same quotas, same `Retry-After`), on
//!   Redis's clock so instances with drifting clocks agree.
//! - [`RedisRevocations`], a
//!   [`RevocationList`](authkit_core::revocation::RevocationList) that
//!   publishes this instance's revoked sessions to Redis and polls the
//!   others' in the background, so `Auth::authenticate` keeps answering from
//!   memory (no round trip per request) and a revocation made on any
//!   instance is refused everywhere within one poll interval (default 1 s)
//!   plus a round trip.
//!
//! # When Redis is unavailable
//!
//! [`FailureMode`] (`AUTHKIT_REDIS_ON_ERROR`) decides, for both:
//!
//! - `open` (default): requests proceed; a warning is logged (at most every
//!   10 s) and `authkit_redis_errors_total` counts each failure. Rate limits
//!   are not enforced and revocations from other instances stop arriving
//!   until Redis is back (this instance's own still apply).
//! - `closed`: rate-limited flows answer 503 `store_unavailable`; and once
//!   the revocation feed has not heard from Redis for
//!   [`max_staleness`](RedisSettings::revocation_max_staleness) (default
//!   5 s), every authenticated request answers 503 `store_unavailable`
//!   rather than risk accepting a revoked session.
//!
//! Revocations this instance makes while Redis is down are applied locally
//! at once and published when it is back.
//!
//! # Metrics
//!
//! `authkit_redis_errors_total{op}` (`op` = `rate_limit`,
//! `revocation_publish`, `revocation_poll`), beside the core metrics listed
//! in `authkit_core::telemetry`.
//!
//! # Example
//!
//! ```no_run
//! use std::sync::Arc;
//! use authkit_core::{Auth, AuthConfig};
//! use authkit_core::store::{MemoryStore, Store};
//! use authkit_redis::{RedisLimiter, RedisRevocations, RedisSettings};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = AuthConfig::default();
//! let settings = RedisSettings::new("redis://127.0.0.1:6379");
//! let connection = settings.connect()?;
//! let limiter = RedisLimiter::new(connection.clone(), &settings, config.rate_limits.clone());
//! let revocations = RedisRevocations::start(connection, &settings).await;
//! let auth = Auth::builder(config, Store::new(MemoryStore::new()))
//!     .rate_limiter(Arc::new(limiter))
//!     .revocation_list(Arc::new(revocations))
//!     .build()
//!     .await?;
//! # let _ = auth;
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

mod limiter;
mod outage;
mod revocations;
mod settings;

pub use limiter::RedisLimiter;
pub use revocations::RedisRevocations;
pub use settings::{FailureMode, RedisSettings};

/// Counter of failed Redis operations, by `op`.
pub const REDIS_ERRORS: &str = "authkit_redis_errors_total";
