//! The shared revocation feed: revoked session ids and changed account ids
//! in a Redis sorted set, polled into each instance's in-memory list.

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
/// `<session uuid>|<until, unix ms>` (a revocation) or `u:<account
/// uuid>|<until, unix ms>` (an account change).
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
/// Account changes ([`accounts_changed`](RevocationList::accounts_changed))
/// travel the same way, so a `/me` view cached on any instance stops being
/// served within one poll interval of a change made on another. While the
/// feed is not current (no successful poll for
/// [`revocation_max_staleness`](RedisSettings::revocation_max_staleness)),
/// no cached view is served, whatever the failure mode.
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

/// One member of the set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    kind: Kind,
    id: Uuid,
    until: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A revoked session.
    Revoked,
    /// A changed account.
    Changed,
}

impl Entry {
    fn member(&self) -> String {
        let prefix = match self.kind {
            Kind::Revoked => "",
            Kind::Changed => ACCOUNT_PREFIX,
        };
        format!("{prefix}{}|{}", self.id, self.until.timestamp_millis())
    }
}

/// Marks account-change members.
const ACCOUNT_PREFIX: &str = "u:";

#[derive(Default)]
struct FeedState {
    /// Entries not yet in Redis.
    pending: Vec<Entry>,
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
                    match parse_member(&member).filter(|entry| entry.until > now) {
                        Some(Entry {
                            kind: Kind::Revoked,
                            id,
                            until,
                        }) => self.local.insert([id], until),
                        Some(Entry {
                            kind: Kind::Changed,
                            id,
                            until,
                        }) => self.local.record_changes([id], until),
                        None => {}
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
    async fn publish_now(&self, entries: &[Entry]) -> bool {
        let now = Utc::now();
        let keep_ms = entries
            .iter()
            .map(|entry| (entry.until - now).num_milliseconds())
            .max()
            .unwrap_or(0)
            .max(0)
            + OVERLAP_MS;
        let mut invocation = self.publish.key(&self.key);
        invocation.arg(keep_ms);
        for entry in entries {
            invocation.arg(entry.member());
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

/// `[u:]<uuid>|<unix ms>`.
fn parse_member(member: &str) -> Option<Entry> {
    let (kind, rest) = match member.strip_prefix(ACCOUNT_PREFIX) {
        Some(rest) => (Kind::Changed, rest),
        None => (Kind::Revoked, member),
    };
    let (id, until) = rest.split_once('|')?;
    Some(Entry {
        kind,
        id: Uuid::parse_str(id).ok()?,
        until: DateTime::from_timestamp_millis(until.parse().ok()?)?,
    })
}

impl Shared {
    /// Applies `entries` locally at once and publishes them, keeping them
    /// for the background task if Redis does not take them.
    async fn publish(&self, entries: Vec<Entry>) {
        if !self.publish_now(&entries).await {
            self.state().pending.extend(entries);
        }
    }
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
        let entries = session_ids
            .iter()
            .map(|&id| Entry {
                kind: Kind::Revoked,
                id,
                until,
            })
            .collect();
        self.shared.publish(entries).await;
    }

    async fn accounts_changed(&self, user_ids: &[Uuid], until: DateTime<Utc>) {
        self.shared
            .local
            .record_changes(user_ids.iter().copied(), until);
        let entries = user_ids
            .iter()
            .map(|&id| Entry {
                kind: Kind::Changed,
                id,
                until,
            })
            .collect();
        self.shared.publish(entries).await;
    }

    fn account_changed_since(&self, user_id: Uuid, since: Instant) -> bool {
        // A feed that is not current cannot vouch for a cached view.
        !self.shared.fresh() || self.shared.local.changed_since(user_id, since)
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
        for kind in [Kind::Revoked, Kind::Changed] {
            let entry = Entry { kind, id, until };
            assert_eq!(parse_member(&entry.member()), Some(entry));
        }
        assert_eq!(
            parse_member(&format!("{id}|{}", until.timestamp_millis())),
            Some(Entry {
                kind: Kind::Revoked,
                id,
                until
            }),
            "members written before account changes existed still parse"
        );
        for bad in [
            "",
            "|",
            "u:",
            "u:|1",
            "x|1",
            &format!("{id}|"),
            &format!("{id}|soon"),
            &format!("v:{id}|1"),
            &id.to_string(),
        ] {
            assert_eq!(parse_member(bad), None, "{bad}");
        }
    }
}
