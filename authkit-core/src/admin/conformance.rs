//! Checks of the two account locks: the failure lock of
//! [`UserStore`](crate::store::UserStore) and the administrator's lock of
//! [`UserAdminStore`](crate::store::UserAdminStore), which never stand in
//! for each other.

use chrono::{Duration, TimeZone, Utc};
use uuid::Uuid;

use crate::error::AuthError;
use crate::store::{LockoutPolicy, Store, UserUpdate};
use crate::testing::fixtures::{now, secs, user};
use crate::user::{AdminLock, User};

/// A policy whose first failure locks for a minute.
fn one_strike() -> LockoutPolicy {
    LockoutPolicy {
        max_failures: 1,
        window: Duration::hours(1),
        lock_for: secs(60),
    }
}

async fn stored(store: &Store, user: &User) -> User {
    store.users.user_by_id(user.id).await.unwrap().unwrap()
}

/// An administrator's lock is stored with its end (up to the indefinite
/// lock's year 9999), reason and actor, and replaced by a new lock; an
/// account created with one keeps it; unknown accounts are not found.
pub async fn admin_locks_are_stored_with_reason_and_actor(store: Store) {
    let now = now();
    let u = user(now);
    store.users.create_user(&u).await.unwrap();
    let indefinite = Utc.with_ymd_and_hms(9999, 12, 31, 0, 0, 0).unwrap();
    let lock = AdminLock {
        until: indefinite,
        reason: Some("Rückbuchung 💳 — \"fraud\" ' ; --".into()),
        actor_id: Some(Uuid::now_v7()),
        locked_at: now,
    };
    store.user_admin.lock_user(u.id, &lock).await.unwrap();
    let locked = stored(&store, &u).await;
    assert_eq!(
        locked.admin_lock.as_ref(),
        Some(&lock),
        "the lock is stored"
    );
    assert!(locked.is_admin_locked(now) && locked.is_locked(now));
    assert!(!locked.is_failure_locked(now), "no failure lock was set");
    assert_eq!(locked.locked_until, None);

    let replaced = AdminLock {
        until: now + Duration::hours(2),
        reason: None,
        actor_id: None,
        locked_at: now + secs(1),
    };
    store.user_admin.lock_user(u.id, &replaced).await.unwrap();
    assert_eq!(
        stored(&store, &u).await.admin_lock,
        Some(replaced.clone()),
        "a new lock replaces the old one"
    );

    let mut born_locked = user(now);
    born_locked.admin_lock = Some(replaced);
    store.users.create_user(&born_locked).await.unwrap();
    assert_eq!(
        stored(&store, &born_locked).await,
        born_locked,
        "an account created locked keeps its lock"
    );

    assert!(matches!(
        store.user_admin.lock_user(Uuid::now_v7(), &lock).await,
        Err(AuthError::NotFound)
    ));
    assert!(matches!(
        store.user_admin.unlock_user(Uuid::now_v7()).await,
        Err(AuthError::NotFound)
    ));
}

/// Clearing the failures (a successful login, a password reset) lifts the
/// failure lock only; no account update touches either lock; an unlock
/// lifts both and clears the count.
pub async fn only_an_unlock_lifts_an_admin_lock(store: Store) {
    let now = now();
    let u = user(now);
    store.users.create_user(&u).await.unwrap();
    let lock = AdminLock {
        until: now + Duration::days(1),
        reason: Some("abuse".into()),
        actor_id: Some(Uuid::now_v7()),
        locked_at: now,
    };
    store.user_admin.lock_user(u.id, &lock).await.unwrap();
    let state = store
        .users
        .record_login_failure(u.id, now, one_strike())
        .await
        .unwrap();
    assert_eq!(
        state.locked_until,
        Some(now + secs(60)),
        "failures count under an admin lock"
    );
    let both = stored(&store, &u).await;
    assert!(both.is_failure_locked(now) && both.is_admin_locked(now));
    assert_eq!(both.admin_lock.as_ref(), Some(&lock), "failures leave it");

    for update in [
        UserUpdate::Password {
            hash: "$argon2id$reset".into(),
        },
        UserUpdate::Active(true),
        UserUpdate::EmailVerified,
        UserUpdate::MustChangePassword(false),
    ] {
        store.users.update_user(u.id, &update, now).await.unwrap();
    }
    let updated = stored(&store, &u).await;
    assert_eq!(
        (updated.locked_until, updated.admin_lock.as_ref()),
        (Some(now + secs(60)), Some(&lock)),
        "account updates touch neither lock"
    );

    store.users.clear_login_failures(u.id).await.unwrap();
    let cleared = stored(&store, &u).await;
    assert_eq!(
        (
            cleared.failed_login_count,
            cleared.last_failed_login_at,
            cleared.locked_until
        ),
        (0, None, None),
        "clearing the failures lifts the failure lock"
    );
    assert_eq!(
        cleared.admin_lock.as_ref(),
        Some(&lock),
        "clearing the failures keeps the admin lock"
    );
    assert!(cleared.is_locked(now) && !cleared.is_failure_locked(now));

    store
        .users
        .record_login_failure(u.id, now, one_strike())
        .await
        .unwrap();
    store.user_admin.unlock_user(u.id).await.unwrap();
    let unlocked = stored(&store, &u).await;
    assert!(!unlocked.is_locked(now));
    assert_eq!(
        (
            unlocked.failed_login_count,
            unlocked.last_failed_login_at,
            unlocked.locked_until,
            unlocked.admin_lock
        ),
        (0, None, None, None),
        "an unlock lifts both locks and clears the count"
    );
    store
        .user_admin
        .unlock_user(u.id)
        .await
        .expect("unlocking an unlocked account succeeds");
}
