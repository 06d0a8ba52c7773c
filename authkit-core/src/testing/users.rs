//! Checks of [`UserStore`](crate::store::UserStore).

use std::collections::BTreeSet;

use chrono::Duration;
use uuid::Uuid;

use super::fixtures::{email, now, race, secs, user};
use crate::email::{Email, Phone};
use crate::error::AuthError;
use crate::store::{LockoutPolicy, Store, UserUpdate};
use crate::user::{AdminLock, User};

/// A stored account is found by id and by email, and unknown ones are not.
pub async fn users_are_found_by_id_and_email(store: Store) {
    let user = user(now());
    store.users.create_user(&user).await.unwrap();

    let by_id = store.users.user_by_id(user.id).await.unwrap();
    assert_eq!(
        by_id.as_ref(),
        Some(&user),
        "user_by_id returns the stored account"
    );
    let by_email = store.users.user_by_email(&user.email).await.unwrap();
    assert_eq!(
        by_email,
        Some(user),
        "user_by_email returns the stored account"
    );

    assert_eq!(
        store.users.user_by_id(Uuid::now_v7()).await.unwrap(),
        None,
        "unknown id"
    );
    assert_eq!(
        store.users.user_by_email(&email()).await.unwrap(),
        None,
        "unknown email"
    );
}

/// Emails are unique in their normalized form: case and Unicode
/// composition do not make a second account.
pub async fn emails_are_unique_after_normalization(store: Store) {
    let now = now();
    let tag = Uuid::now_v7().simple();
    let first = User::new(
        Email::parse(&format!("Ann.{tag}@Example.COM")).unwrap(),
        now,
    );
    store.users.create_user(&first).await.unwrap();

    let same = User::new(
        Email::parse(&format!("  ann.{tag}@example.com ")).unwrap(),
        now,
    );
    assert!(
        matches!(
            store.users.create_user(&same).await,
            Err(AuthError::EmailTaken)
        ),
        "a differently cased copy of a stored email is EmailTaken"
    );
    let found = store
        .users
        .user_by_email(&Email::parse(&format!("ANN.{tag}@EXAMPLE.com")).unwrap())
        .await
        .unwrap();
    assert_eq!(
        found.map(|u| u.id),
        Some(first.id),
        "lookup is by normalized email"
    );

    let composed = User::new(
        Email::parse(&format!("jos\u{e9}.{tag}@example.com")).unwrap(),
        now,
    );
    store.users.create_user(&composed).await.unwrap();
    let decomposed = User::new(
        Email::parse(&format!("jose\u{301}.{tag}@example.com")).unwrap(),
        now,
    );
    assert!(
        matches!(
            store.users.create_user(&decomposed).await,
            Err(AuthError::EmailTaken)
        ),
        "NFC and NFD forms of one address are one account"
    );
    assert_eq!(
        store.users.user_by_id(same.id).await.unwrap(),
        None,
        "the loser is not stored"
    );
}

/// Of 50 concurrent registrations of one email exactly one succeeds.
pub async fn concurrent_registrations_of_one_email_create_one_user(store: Store) {
    let now = now();
    let email = email();
    let results = race(50, |_| {
        let store = store.clone();
        let user = User::new(email.clone(), now);
        async move { (user.id, store.users.create_user(&user).await) }
    })
    .await;

    let winners: Vec<Uuid> = results
        .iter()
        .filter(|(_, result)| result.is_ok())
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(
        winners.len(),
        1,
        "exactly one concurrent create_user succeeds"
    );
    let taken = results
        .iter()
        .filter(|(_, result)| matches!(result, Err(AuthError::EmailTaken)))
        .count();
    assert_eq!(
        taken, 49,
        "every other concurrent create_user is EmailTaken"
    );
    let stored = store.users.user_by_email(&email).await.unwrap().unwrap();
    assert_eq!(stored.id, winners[0], "the stored account is the winner's");
    for (id, _) in results.iter().filter(|(id, _)| *id != winners[0]) {
        assert_eq!(
            store.users.user_by_id(*id).await.unwrap(),
            None,
            "a loser was stored"
        );
    }
}

/// What an update is expected to do to an account, at a time.
type Expect = dyn Fn(&mut User, chrono::DateTime<chrono::Utc>);

/// Each [`UserUpdate`] sets exactly the fields it names and `updated_at`;
/// every other field (the failure counter and both locks included) stays.
pub async fn update_user_sets_only_the_fields_it_names(store: Store) {
    let now = now();
    let mut original = user(now - Duration::days(1));
    original.phone = Some(Phone::parse("+14155550123").unwrap());
    original.phone_verified_at = Some(now - Duration::days(1));
    original.display_name = Some("Ann".into());
    original.avatar_url = Some("https://cdn.example.com/a/0.png".into());
    original.password_hash = Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$b2xk".into());
    store.users.create_user(&original).await.unwrap();
    let policy = LockoutPolicy {
        max_failures: 1,
        window: Duration::hours(1),
        lock_for: secs(60),
    };
    store
        .users
        .record_login_failure(original.id, now, policy)
        .await
        .unwrap();
    let admin_lock = AdminLock {
        until: now + Duration::days(2),
        reason: Some("chargeback".into()),
        actor_id: Some(Uuid::now_v7()),
        locked_at: now,
    };
    store
        .user_admin
        .lock_user(original.id, &admin_lock)
        .await
        .unwrap();
    let mut expected = User {
        failed_login_count: 1,
        last_failed_login_at: Some(now),
        locked_until: Some(now + secs(60)),
        admin_lock: Some(admin_lock),
        ..original.clone()
    };

    let new_phone = Phone::parse("+442071838750").unwrap();
    let steps: Vec<(UserUpdate, Box<Expect>)> = vec![
        (
            UserUpdate::Password {
                hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$bmV3".into(),
            },
            Box::new(|u, at| {
                u.password_hash = Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$bmV3".into());
                u.password_changed_at = Some(at);
                u.must_change_password = false;
            }),
        ),
        (
            UserUpdate::MustChangePassword(true),
            Box::new(|u, _| u.must_change_password = true),
        ),
        (
            UserUpdate::Active(false),
            Box::new(|u, _| u.is_active = false),
        ),
        (
            UserUpdate::Roles(vec!["END_USER".into(), "STAFF".into()]),
            Box::new(|u, _| u.roles = vec!["END_USER".into(), "STAFF".into()]),
        ),
        (
            UserUpdate::EmailVerified,
            Box::new(|u, at| u.email_verified_at = Some(at)),
        ),
        (
            UserUpdate::Profile {
                display_name: Some(Some("Zoë O'Brien 😀".into())),
                avatar_url: None,
                phone: None,
            },
            Box::new(|u, _| u.display_name = Some("Zoë O'Brien 😀".into())),
        ),
        (
            UserUpdate::Profile {
                display_name: None,
                avatar_url: Some(None),
                phone: Some(Some(new_phone.clone())),
            },
            Box::new(|u, _| {
                u.avatar_url = None;
                u.phone = Some(Phone::parse("+442071838750").unwrap());
                u.phone_verified_at = None;
            }),
        ),
        (
            UserUpdate::PhoneVerified(new_phone.clone()),
            Box::new(|u, at| u.phone_verified_at = Some(at)),
        ),
        (
            UserUpdate::Profile {
                display_name: Some(None),
                avatar_url: Some(Some("https://cdn.example.com/a/1.png".into())),
                phone: Some(Some(new_phone.clone())),
            },
            // The same number keeps its verification.
            Box::new(|u, _| {
                u.display_name = None;
                u.avatar_url = Some("https://cdn.example.com/a/1.png".into());
            }),
        ),
        (
            UserUpdate::Active(true),
            Box::new(|u, _| u.is_active = true),
        ),
    ];
    for (n, (update, apply)) in steps.into_iter().enumerate() {
        let at = now + secs(i64::try_from(n).unwrap() + 1);
        assert!(
            store
                .users
                .update_user(original.id, &update, at)
                .await
                .unwrap(),
            "{update:?} applies"
        );
        apply(&mut expected, at);
        expected.updated_at = at;
        let stored = store.users.user_by_id(original.id).await.unwrap().unwrap();
        assert_eq!(stored, expected, "{update:?} sets only its fields");
    }

    let phone_user = store
        .users
        .users_by_verified_phone(&new_phone)
        .await
        .unwrap();
    assert_eq!(phone_user.len(), 1, "the phone index follows the update");
    let cleared = UserUpdate::Profile {
        display_name: None,
        avatar_url: None,
        phone: Some(None),
    };
    store
        .users
        .update_user(original.id, &cleared, now)
        .await
        .unwrap();
    let stored = store.users.user_by_id(original.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.phone, stored.phone_verified_at),
        (None, None),
        "a cleared phone is no longer verified"
    );
}

/// The conditional updates apply only while their condition holds, and
/// answer whether they did.
pub async fn conditional_updates_apply_only_while_their_condition_holds(store: Store) {
    let now = now();
    let mut u = user(now);
    u.password_hash = Some("$argon2id$old".into());
    u.phone = Some(Phone::parse("+14155550123").unwrap());
    store.users.create_user(&u).await.unwrap();
    let rehash = |old: &str, new: &str| UserUpdate::Rehash {
        old: old.into(),
        new: new.into(),
    };

    assert!(
        store
            .users
            .update_user(u.id, &rehash("$argon2id$old", "$argon2id$rehashed"), now)
            .await
            .unwrap(),
        "a rehash of the current hash applies"
    );
    assert!(
        !store
            .users
            .update_user(u.id, &rehash("$argon2id$old", "$argon2id$stale"), now)
            .await
            .unwrap(),
        "a rehash of a replaced hash does not apply"
    );
    let stored = store.users.user_by_id(u.id).await.unwrap().unwrap();
    assert_eq!(stored.password_hash.as_deref(), Some("$argon2id$rehashed"));
    assert_eq!(stored.updated_at, u.updated_at, "a rehash is not an edit");

    let later = now + secs(5);
    assert!(
        store
            .users
            .update_user(u.id, &UserUpdate::EmailVerified, now)
            .await
            .unwrap()
    );
    assert!(
        !store
            .users
            .update_user(u.id, &UserUpdate::EmailVerified, later)
            .await
            .unwrap(),
        "an email is verified once"
    );
    let stored = store.users.user_by_id(u.id).await.unwrap().unwrap();
    assert_eq!(stored.email_verified_at, Some(now), "the first proof stays");

    let other = Phone::parse("+442071838750").unwrap();
    assert!(
        !store
            .users
            .update_user(u.id, &UserUpdate::PhoneVerified(other), later)
            .await
            .unwrap(),
        "another number is not proven"
    );
    assert_eq!(
        store
            .users
            .user_by_id(u.id)
            .await
            .unwrap()
            .unwrap()
            .phone_verified_at,
        None
    );
    assert!(
        store
            .users
            .update_user(
                u.id,
                &UserUpdate::PhoneVerified(u.phone.clone().unwrap()),
                later
            )
            .await
            .unwrap(),
        "the account's number is proven"
    );
}

/// Updating an account that does not exist is `NotFound` and creates
/// nothing, for every kind of update.
pub async fn update_user_of_an_unknown_account_is_not_found(store: Store) {
    let ghost = user(now());
    for update in [
        UserUpdate::Active(false),
        UserUpdate::Rehash {
            old: "a".into(),
            new: "b".into(),
        },
        UserUpdate::EmailVerified,
        UserUpdate::PhoneVerified(Phone::parse("+14155550123").unwrap()),
    ] {
        assert!(
            matches!(
                store.users.update_user(ghost.id, &update, now()).await,
                Err(AuthError::NotFound)
            ),
            "{update:?} of an unknown id is NotFound"
        );
    }
    assert_eq!(
        store.users.user_by_id(ghost.id).await.unwrap(),
        None,
        "nothing was created"
    );
}

/// A password change, a deactivation, a role change and a profile edit
/// made at the same time all stay: neither write undoes the other. Raced many times.
pub async fn concurrent_password_change_and_deactivation_both_stay(store: Store) {
    let now = now();
    for round in 0..20 {
        let u = user(now);
        store.users.create_user(&u).await.unwrap();
        let hash = format!("$argon2id$round-{round}");
        let updates = [
            UserUpdate::Password { hash: hash.clone() },
            UserUpdate::Active(false),
            UserUpdate::Roles(vec!["STAFF".into()]),
            UserUpdate::Profile {
                display_name: Some(Some("Racer".into())),
                avatar_url: None,
                phone: None,
            },
        ];
        race(updates.len(), |i| {
            let store = store.clone();
            let update = updates[i].clone();
            async move { store.users.update_user(u.id, &update, now).await.unwrap() }
        })
        .await;
        let stored = store.users.user_by_id(u.id).await.unwrap().unwrap();
        assert_eq!(
            stored.password_hash.as_deref(),
            Some(hash.as_str()),
            "the new password stays (round {round})"
        );
        assert!(!stored.is_active, "the deactivation stays (round {round})");
        assert_eq!(
            stored.roles,
            vec!["STAFF"],
            "the roles stay (round {round})"
        );
        assert_eq!(
            stored.display_name.as_deref(),
            Some("Racer"),
            "the profile edit stays (round {round})"
        );
        assert_eq!(stored.password_changed_at, Some(now));
    }
}

/// The phone lookup returns only accounts whose phone is verified.
pub async fn phone_lookup_ignores_unverified_phones(store: Store) {
    let now = now();
    let phone = Phone::parse(&format!("+1415{:07}", rand::random::<u32>() % 10_000_000)).unwrap();
    let other_phone = Phone::parse("+442071838750").unwrap();
    let mut verified = Vec::new();
    for (number, proven) in [
        (&phone, true),
        (&phone, false),
        (&phone, true),
        (&other_phone, true),
    ] {
        let mut u = user(now);
        u.phone = Some(number.clone());
        u.phone_verified_at = proven.then_some(now);
        store.users.create_user(&u).await.unwrap();
        if proven && number == &phone {
            verified.push(u);
        }
    }
    let ids = |users: Vec<User>| users.into_iter().map(|u| u.id).collect::<BTreeSet<_>>();

    let found = store.users.users_by_verified_phone(&phone).await.unwrap();
    assert_eq!(
        ids(found),
        ids(verified.clone()),
        "exactly the accounts with this phone verified"
    );

    let moved = UserUpdate::Profile {
        display_name: None,
        avatar_url: None,
        phone: Some(Some(other_phone.clone())),
    };
    store
        .users
        .update_user(verified[0].id, &moved, now)
        .await
        .unwrap();
    let found = store.users.users_by_verified_phone(&phone).await.unwrap();
    assert_eq!(
        ids(found),
        ids(vec![verified[1].clone()]),
        "a new number is unverified"
    );

    let unknown = Phone::parse("+81312345678").unwrap();
    assert!(
        store
            .users
            .users_by_verified_phone(&unknown)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Failures within the window add up and lock at the threshold; a gap
/// longer than the window restarts the count; clearing resets everything.
pub async fn login_failures_count_within_the_window_and_lock(store: Store) {
    let t = now();
    let u = user(t);
    store.users.create_user(&u).await.unwrap();
    let policy = LockoutPolicy {
        max_failures: 3,
        window: Duration::minutes(10),
        lock_for: Duration::minutes(15),
    };
    let fail = |at| {
        let store = store.clone();
        async move {
            store
                .users
                .record_login_failure(u.id, at, policy)
                .await
                .unwrap()
        }
    };

    let s = fail(t).await;
    assert_eq!((s.failures, s.locked_until), (1, None), "first failure");
    let s = fail(t + Duration::minutes(10)).await;
    assert_eq!(
        (s.failures, s.locked_until),
        (2, None),
        "a failure exactly one window later counts"
    );
    let s = fail(t + Duration::minutes(21)).await;
    assert_eq!(
        (s.failures, s.locked_until),
        (1, None),
        "a gap longer than the window restarts"
    );
    fail(t + Duration::minutes(22)).await;
    let locked_at = t + Duration::minutes(23);
    let s = fail(locked_at).await;
    let until = locked_at + policy.lock_for;
    assert_eq!(
        (s.failures, s.locked_until),
        (3, Some(until)),
        "the threshold locks"
    );

    let stored = store.users.user_by_id(u.id).await.unwrap().unwrap();
    assert_eq!(stored.failed_login_count, 3, "the count is stored");
    assert_eq!(
        stored.last_failed_login_at,
        Some(locked_at),
        "the last failure is stored"
    );
    assert_eq!(stored.locked_until, Some(until), "the lock is stored");

    let later = locked_at + Duration::minutes(11);
    let s = fail(later).await;
    assert_eq!(
        (s.failures, s.locked_until),
        (1, Some(until)),
        "a restarted count still reports the lock in force"
    );

    store.users.clear_login_failures(u.id).await.unwrap();
    let stored = store.users.user_by_id(u.id).await.unwrap().unwrap();
    assert_eq!(
        (
            stored.failed_login_count,
            stored.last_failed_login_at,
            stored.locked_until
        ),
        (0, None, None),
        "clearing resets count, last failure and lock"
    );
    let s = fail(later + secs(1)).await;
    assert_eq!(
        (s.failures, s.locked_until),
        (1, None),
        "counting starts over after a clear"
    );
}

/// 20 concurrent failures all count, each seeing a distinct count.
pub async fn concurrent_login_failures_all_count(store: Store) {
    let now = now();
    let u = user(now);
    store.users.create_user(&u).await.unwrap();
    let policy = LockoutPolicy {
        max_failures: 100,
        window: Duration::hours(1),
        lock_for: secs(60),
    };
    let results = race(20, |_| {
        let store = store.clone();
        async move {
            store
                .users
                .record_login_failure(u.id, now, policy)
                .await
                .unwrap()
        }
    })
    .await;

    let seen: BTreeSet<u32> = results.iter().map(|s| s.failures).collect();
    assert_eq!(
        seen,
        (1..=20).collect(),
        "each concurrent failure sees its own count"
    );
    let stored = store.users.user_by_id(u.id).await.unwrap().unwrap();
    assert_eq!(
        stored.failed_login_count, 20,
        "every concurrent failure counts"
    );
}

/// The counter methods refuse unknown accounts.
pub async fn login_failures_of_an_unknown_account_are_not_found(store: Store) {
    let policy = LockoutPolicy {
        max_failures: 3,
        window: secs(60),
        lock_for: secs(60),
    };
    assert!(
        matches!(
            store
                .users
                .record_login_failure(Uuid::now_v7(), now(), policy)
                .await,
            Err(AuthError::NotFound)
        ),
        "record_login_failure of an unknown account is NotFound"
    );
    assert!(
        matches!(
            store.users.clear_login_failures(Uuid::now_v7()).await,
            Err(AuthError::NotFound)
        ),
        "clear_login_failures of an unknown account is NotFound"
    );
}
