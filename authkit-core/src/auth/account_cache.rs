//! Per-account views kept in memory, never stale after a change made
//! through authkit.
//!
//! `/me` is the most requested authenticated route, and reading the
//! account and its MFA state costs two store round trips where everything
//! else on the request costs microseconds; a refresh, after its rotation,
//! reads the account and its organisation memberships to build the new
//! access token's claims. So [`Auth::me`](super::Auth::me) and the refresh
//! keep what they read ([`View`], [`Subject`]) with the instant their reads
//! started.
//!
//! Freshness: every store write that changes what those views hold goes
//! through [`Watched`] (implemented for each store trait by its
//! declaration, `store_trait!`, whose `=> changes(account)` marks those
//! writes), which records the account as changed in the
//! [`RevocationList`] after the write: profile, roles, activation, password
//! flags, TOTP and backup codes, lockouts and their clearing, and
//! organisation memberships. A cached view is served only if no change was
//! recorded at or after the instant its reads *started*, so a view read
//! before a concurrent write is never served after it. A shared feed
//! carries the changes to the other instances (within its poll interval);
//! the TTL bounds only changes made behind authkit's back.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use chrono::Utc;
use uuid::Uuid;

use crate::account::Me;
use crate::error::{AuthError, AuthResult};
use crate::revocation::RevocationList;
use crate::user::User;

/// Most views held; the cache empties when full (cheaper than tracking
/// recency, and refills at one read per active account).
pub(crate) const ACCOUNT_CACHE_CAPACITY: usize = 16_384;

/// Built views of one kind by account id.
pub(crate) struct AccountCache<V> {
    ttl: Duration,
    views: RwLock<HashMap<Uuid, Cached<V>>>,
}

struct Cached<V> {
    /// When the reads behind the view started.
    read_at: Instant,
    view: Arc<V>,
}

/// One account's `/me`, typed and as the JSON the API answers: serialized
/// once per read instead of once per request.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct View {
    pub(crate) me: Me,
    pub(crate) json: bytes::Bytes,
}

/// What a refreshed access token is built from: the account (also checked
/// for being active and unlocked) and its organisation claims.
#[derive(Debug)]
pub(crate) struct Subject {
    pub(crate) user: User,
    pub(crate) orgs: BTreeMap<String, String>,
}

impl View {
    /// The view of `me`.
    ///
    /// # Errors
    /// `Internal` if `me` cannot be serialized (it always can).
    pub(crate) fn new(me: Me) -> AuthResult<Self> {
        let json = serde_json::to_vec(&me).map_err(AuthError::internal)?;
        Ok(Self {
            me,
            json: json.into(),
        })
    }
}

impl<V> AccountCache<V> {
    /// A cache whose views live at most `ttl` (zero: nothing is kept).
    pub(crate) fn new(ttl: chrono::Duration) -> Self {
        Self {
            ttl: ttl.to_std().unwrap_or_default(),
            views: RwLock::default(),
        }
    }

    /// Whether views are kept at all.
    pub(crate) fn enabled(&self) -> bool {
        !self.ttl.is_zero()
    }

    /// The view of `user_id`, if one is held, younger than the TTL, and
    /// read after the account's last recorded change.
    pub(crate) fn get(&self, user_id: Uuid, changes: &dyn RevocationList) -> Option<Arc<V>> {
        if !self.enabled() {
            return None;
        }
        let views = self.views.read().unwrap_or_else(PoisonError::into_inner);
        let cached = views.get(&user_id)?;
        let fresh = cached.read_at.elapsed() < self.ttl
            && !changes.account_changed_since(user_id, cached.read_at);
        fresh.then(|| Arc::clone(&cached.view))
    }

    /// Keeps `view`, whose reads started at `read_at`.
    pub(crate) fn put(&self, user_id: Uuid, read_at: Instant, view: &Arc<V>) {
        if !self.enabled() {
            return;
        }
        let mut views = self.views.write().unwrap_or_else(PoisonError::into_inner);
        if views.len() >= ACCOUNT_CACHE_CAPACITY && !views.contains_key(&user_id) {
            views.clear();
        }
        views.insert(
            user_id,
            Cached {
                read_at,
                view: Arc::clone(view),
            },
        );
    }

    /// Views held (for tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.views
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// A store decorator that records, after every write that changes what
/// `/me` shows, that the account changed. Reads and other writes pass
/// through untouched. Each store trait's declaration (`store_trait!`)
/// implements it, so no signature is restated here.
pub(crate) struct Watched<T: ?Sized> {
    inner: Arc<T>,
    changes: Arc<dyn RevocationList>,
    /// How long a change must be remembered: the cache's TTL.
    remember: chrono::Duration,
}

/// `inner` behind a [`Watched`] that records changes in `changes` for
/// `remember` (the cache's TTL).
pub(crate) fn watched<T: ?Sized>(
    inner: Arc<T>,
    changes: &Arc<dyn RevocationList>,
    remember: chrono::Duration,
) -> Arc<Watched<T>> {
    Arc::new(Watched {
        inner,
        changes: Arc::clone(changes),
        remember,
    })
}

impl<T: ?Sized> Watched<T> {
    /// The decorated store.
    pub(crate) fn inner(&self) -> &T {
        &self.inner
    }

    /// Recorded whatever the write's outcome: a failed call may still have
    /// committed (a timeout after the commit), and a needless record only
    /// costs one cache miss.
    pub(crate) async fn changed(&self, user_id: Uuid) {
        let until = Utc::now() + self.remember;
        self.changes.accounts_changed(&[user_id], until).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::MfaSummary;
    use crate::email::Email;
    use crate::revocation::MemoryRevocations;

    fn view(user: &User) -> Arc<View> {
        let me = Me {
            profile: user.profile(),
            roles: Vec::new(),
            permissions: Vec::new(),
            mfa: MfaSummary::default(),
        };
        Arc::new(View::new(me).unwrap())
    }

    fn user() -> User {
        User::new(Email::parse("cache@example.com").unwrap(), Utc::now())
    }

    #[test]
    fn a_view_is_served_until_the_account_changes() {
        let changes = MemoryRevocations::new();
        let cache = AccountCache::new(chrono::Duration::seconds(30));
        let user = user();
        assert!(cache.get(user.id, &changes).is_none());
        cache.put(user.id, Instant::now(), &view(&user));
        assert_eq!(cache.get(user.id, &changes), Some(view(&user)));
        let json: serde_json::Value =
            serde_json::from_slice(&cache.get(user.id, &changes).unwrap().json).unwrap();
        assert_eq!(
            json["email"], "cache@example.com",
            "the body is the view's JSON"
        );
        changes.record_changes([user.id], Utc::now() + chrono::Duration::seconds(30));
        assert!(cache.get(user.id, &changes).is_none());
    }

    #[test]
    fn a_view_read_before_a_change_is_never_served_after_it() {
        let changes = MemoryRevocations::new();
        let cache = AccountCache::new(chrono::Duration::seconds(30));
        let user = user();
        // The reads start, a write lands and is recorded, then the
        // (now stale) view is stored: it must not be served.
        let read_at = Instant::now();
        changes.record_changes([user.id], Utc::now() + chrono::Duration::seconds(30));
        cache.put(user.id, read_at, &view(&user));
        assert!(cache.get(user.id, &changes).is_none());
        // A view read after the change is served.
        cache.put(user.id, Instant::now(), &view(&user));
        assert!(cache.get(user.id, &changes).is_some());
    }

    #[test]
    fn a_zero_ttl_keeps_nothing() {
        let changes = MemoryRevocations::new();
        let cache = AccountCache::new(chrono::Duration::zero());
        let user = user();
        cache.put(user.id, Instant::now(), &view(&user));
        assert_eq!(cache.len(), 0);
        assert!(cache.get(user.id, &changes).is_none());
    }

    #[test]
    fn the_cache_empties_when_full() {
        let changes = MemoryRevocations::new();
        let cache = AccountCache::new(chrono::Duration::seconds(30));
        let user = user();
        for _ in 0..ACCOUNT_CACHE_CAPACITY {
            cache.put(Uuid::now_v7(), Instant::now(), &view(&user));
        }
        assert_eq!(cache.len(), ACCOUNT_CACHE_CAPACITY);
        cache.put(user.id, Instant::now(), &view(&user));
        assert_eq!(cache.len(), 1);
        assert!(cache.get(user.id, &changes).is_some());
    }
}
