//! The shared revocation feed: revoked session ids in a Redis sorted set,
//! polled into each instance's in-memory list.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use authkit_core::AuthResult;
use authkit_core::revocation::{MemoryRevocations, RevocationList};
use chrono::{DateTime, Utc};
use redis::Script;
use redis::aio::ConnectionManager;
use uuid::Uuid;

use crate::outage::Outage;
use crate::settings::{FailureMode, RedisSettings};

/// Adds revocations to the set, scored with Redis's clock (ms) so every
/// reader orders them alike, and drops entries older than the retention.
/// `KEYS[1]`: the set; `ARGV[1]`: retention in ms; `ARGV[2..]`: members
/// `<session uuid>|<until, unix ms>`.
const PUBLISH: &str = r"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local keep = tonumber(ARGV[1])
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[1], string.format('%d', now), ARGV[i])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', now - keep))
if redis.call('PTTL', KEYS[1]) < keep then
  redis.call('PEXPIRE', KEYS[1], string.format('%d', keep))
end
return now
";

/// Entries are read again from this long before the newest score seen, in
/// case Redis's clock stepped back a little.
const OVERLAP_MS: i64 = 2_000;

/// A [`RevocationList`] shared through Redis.
///
/// - [`check`](RevocationList::check) (every authenticated request) reads
///   the in-memory [`MemoryRevocations`] only: no round trip.
/// - [`revoke`](RevocationList::revoke) applies at once locally and adds
///   the ids to a sorted set in one script call; if Redis is down they are
///   kept and published by the background task when it is back.
/// - A background task reads entries newer than the last seen every
///   [`revocation_poll`](RedisSettings::revocation_poll): a revocation on
///   any instance is refused on every other within one poll interval plus
///   a round trip. It stops when the feed is dropped.
///
/// Entries live as long as a token of the session can verify (the `until`
/// each revocation carries); Redis keeps them for the longest such span
/// seen, then drops them.
///
/// With [`FailureMode::Closed`], once no poll has succeeded for
/// [`revocation_max_staleness`](RedisSettings::revocation_max_staleness),
/// `check` answers `StoreUnavailable` (503) for sessions not known to be
/// revoked; with `Open` it accepts them (a warning is logged).
#[derive(Clone)]
pub struct RedisRevocations {
    shared: Arc<Shared>,
}

struct Shared {
    local: MemoryRevocations,
    connection: ConnectionManager,
    key: String,
    publish: Script,
    outage: Outage,
    max_staleness: Duration,
    state: Mutex<FeedState>,
}

#[derive(Default)]
struct FeedState {
    /// Revocations not yet in Redis.
    pending: Vec<(Uuid, DateTime<Utc>)>,
    /// The newest score read, in Redis ms.
    cursor: i64,
    /// The last successful poll.
    synced: Option<Instant>,
}

impl RedisRevocations {
    /// Starts the feed over `connection` (see [`RedisSettings::connect`]):
    /// reads the current revocations once (a failure is handled as the
    /// failure mode says) and spawns the polling task. Must be called
    /// within a Tokio runtime.
    pub async fn start(connection: ConnectionManager, settings: &RedisSettings) -> Self {
        let feed = Self {
            shared: Arc::new(Shared {
                local: MemoryRevocations::new(),
                connection,
                key: format!("{}revoked", settings.key_prefix),
                publish: Script::new(PUBLISH),
                outage: Outage::new(settings.on_error),
                max_staleness: settings.revocation_max_staleness,
                state: Mutex::new(FeedState::default()),
            }),
        };
        feed.shared.sync().await;
        tokio::spawn(poll(Arc::downgrade(&feed.shared), settings.revocation_poll));
        feed
    }

    /// Publishes pending revocations and reads new ones now, instead of at
    /// the next tick; returns whether Redis answered.
    pub async fn sync(&self) -> bool {
        self.shared.sync().await
    }

    /// Revocations held locally (this instance's and the others').
    pub fn len(&self) -> usize {
        self.shared.local.len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Debug for RedisRevocations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisRevocations")
            .field("key", &self.shared.key)
            .field("local", &self.shared.local)
            .field("on_error", &self.shared.outage.mode())
            .finish_non_exhaustive()
    }
}

/// Polls until the feed is dropped.
async fn poll(shared: Weak<Shared>, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        shared.sync().await;
    }
}

impl Shared {
    fn state(&self) -> std::sync::MutexGuard<'_, FeedState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// One round: publish what is pending, then read what is new.
    async fn sync(&self) -> bool {
        let pending = std::mem::take(&mut self.state().pending);
        if !pending.is_empty() && !self.publish_now(&pending).await {
            let mut state = self.state();
            let mut pending = pending;
            pending.append(&mut state.pending);
            state.pending = pending;
        }
        let cursor = self.state().cursor;
        let mut connection = self.connection.clone();
        let read: redis::RedisResult<Vec<(String, i64)>> = redis::cmd("ZRANGEBYSCORE")
            .arg(&self.key)
            .arg(cursor.saturating_sub(OVERLAP_MS))
            .arg("+inf")
            .arg("WITHSCORES")
            .query_async(&mut connection)
            .await;
        match read {
            Ok(entries) => {
                let now = Utc::now();
                let mut newest = cursor;
                for (member, score) in entries {
                    newest = newest.max(score);
                    if let Some((id, until)) = parse_member(&member).filter(|(_, u)| *u > now) {
                        self.local.insert([id], until);
                    }
                }
                let mut state = self.state();
                state.cursor = state.cursor.max(newest);
                state.synced = Some(Instant::now());
                true
            }
            Err(err) => {
                self.outage.record("revocation_poll", &err);
                false
            }
        }
    }

    /// Adds `entries` to the shared set; false if Redis did not take them.
    async fn publish_now(&self, entries: &[(Uuid, DateTime<Utc>)]) -> bool {
        let now = Utc::now();
        let keep_ms = entries
            .iter()
            .map(|(_, until)| (*until - now).num_milliseconds())
            .max()
            .unwrap_or(0)
            .max(0)
            + OVERLAP_MS;
        let mut invocation = self.publish.key(&self.key);
        invocation.arg(keep_ms);
        for (id, until) in entries {
            invocation.arg(format!("{id}|{}", until.timestamp_millis()));
        }
        let mut connection = self.connection.clone();
        let published: redis::RedisResult<i64> = invocation.invoke_async(&mut connection).await;
        match published {
            Ok(_) => true,
            Err(err) => {
                self.outage.record("revocation_publish", &err);
                false
            }
        }
    }

    /// Whether the last successful poll is recent enough to vouch for the
    /// list.
    fn fresh(&self) -> bool {
        self.state()
            .synced
            .is_some_and(|at| at.elapsed() <= self.max_staleness)
    }
}

/// `<uuid>|<unix ms>`.
fn parse_member(member: &str) -> Option<(Uuid, DateTime<Utc>)> {
    let (id, until) = member.split_once('|')?;
    Some((
        Uuid::parse_str(id).ok()?,
        DateTime::from_timestamp_millis(until.parse().ok()?)?,
    ))
}

#[async_trait]
impl RevocationList for RedisRevocations {
    fn check(&self, session_id: Uuid, now: DateTime<Utc>) -> AuthResult<()> {
        self.shared.local.check(session_id, now)?;
        if self.shared.outage.mode() == FailureMode::Closed && !self.shared.fresh() {
            return Err(Outage::unavailable());
        }
        Ok(())
    }

    async fn revoke(&self, session_ids: &[Uuid], until: DateTime<Utc>) {
        self.shared.local.insert(session_ids.iter().copied(), until);
        let entries: Vec<(Uuid, DateTime<Utc>)> =
            session_ids.iter().map(|id| (*id, until)).collect();
        if !self.shared.publish_now(&entries).await {
            self.shared.state().pending.extend(entries);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn members_round_trip_and_garbage_is_ignored() {
        let id = Uuid::now_v7();
        let until = DateTime::from_timestamp_millis(1_900_000_000_123).unwrap();
        let member = format!("{id}|{}", until.timestamp_millis());
        assert_eq!(parse_member(&member), Some((id, until)));
        for bad in [
            "",
            "|",
            "x|1",
            &format!("{id}|"),
            &format!("{id}|soon"),
            &id.to_string(),
        ] {
            assert_eq!(parse_member(bad), None, "{bad}");
        }
    }
}
