//! Checks of [`UserStore`](crate::store::UserStore).

use std::collections::BTreeSet;

use chrono::Duration;
use uuid::Uuid;

use super::fixtures::{email, now, race, secs, user};
use crate::email::{Email, Phone};
use crate::error::AuthError;
use crate::store::{LockoutPolicy, Store};
use crate::user::User;

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

/// `update_user` writes every field except the login-failure counters.
pub async fn update_user_writes_every_field_but_the_failure_counters(store: Store) {
    let now = now();
    let original = user(now - Duration::days(1));
    store.users.create_user(&original).await.unwrap();
    let policy = LockoutPolicy {
        max_failures: 5,
        window: Duration::hours(1),
        lock_for: secs(60),
    };
    store
        .users
        .record_login_failure(original.id, now, policy)
        .await
        .unwrap();

    let changed = User {
        id: original.id,
        email: email(),
        email_verified_at: Some(now),
        phone: Some(Phone::parse("+14155550123").unwrap()),
        phone_verified_at: Some(now - secs(5)),
        password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
        display_name: Some("Zoë O'Brien 😀".into()),
        avatar_url: Some("https://cdn.example.com/a/1.png".into()),
        is_active: false,
        must_change_password: true,
        password_changed_at: Some(now - secs(10)),
        failed_login_count: 99,
        last_failed_login_at: Some(now - Duration::days(3)),
        locked_until: Some(now + Duration::days(3)),
        roles: vec!["END_USER".into(), "STAFF".into()],
        created_at: original.created_at,
        updated_at: now,
    };
    store.users.update_user(&changed).await.unwrap();

    let stored = store.users.user_by_id(original.id).await.unwrap().unwrap();
    let expected = User {
        failed_login_count: 1,
        last_failed_login_at: Some(now),
        locked_until: None,
        ..changed.clone()
    };
    assert_eq!(
        stored, expected,
        "update_user writes every field but the failure counters"
    );
    assert_eq!(
        store
            .users
            .user_by_email(&changed.email)
            .await
            .unwrap()
            .map(|u| u.id),
        Some(original.id),
        "the new email finds the account"
    );
    assert_eq!(
        store.users.user_by_email(&original.email).await.unwrap(),
        None,
        "the old email no longer finds the account"
    );
}

/// Changing an email to another account's is `EmailTaken` and changes
/// nothing; a freed email can be taken by someone else.
pub async fn update_user_to_a_taken_email_fails(store: Store) {
    let now = now();
    let ann = user(now);
    let bob = user(now);
    store.users.create_user(&ann).await.unwrap();
    store.users.create_user(&bob).await.unwrap();

    let stolen = User {
        email: ann.email.clone(),
        display_name: Some("x".into()),
        ..bob.clone()
    };
    assert!(
        matches!(
            store.users.update_user(&stolen).await,
            Err(AuthError::EmailTaken)
        ),
        "taking another account's email is EmailTaken"
    );
    assert_eq!(
        store.users.user_by_id(bob.id).await.unwrap().as_ref(),
        Some(&bob),
        "unchanged"
    );
    assert_eq!(
        store
            .users
            .user_by_email(&ann.email)
            .await
            .unwrap()
            .map(|u| u.id),
        Some(ann.id),
        "the email still finds its owner"
    );
    assert_eq!(
        store
            .users
            .user_by_email(&bob.email)
            .await
            .unwrap()
            .map(|u| u.id),
        Some(bob.id),
        "the loser keeps its email"
    );

    let moved = User {
        email: email(),
        ..bob.clone()
    };
    store.users.update_user(&moved).await.unwrap();
    let ann_takes = User {
        email: bob.email.clone(),
        ..ann.clone()
    };
    store.users.update_user(&ann_takes).await.unwrap();
    assert_eq!(
        store
            .users
            .user_by_email(&bob.email)
            .await
            .unwrap()
            .map(|u| u.id),
        Some(ann.id),
        "an email freed by an update can be taken"
    );
    let same = store.users.user_by_id(ann.id).await.unwrap().unwrap();
    store
        .users
        .update_user(&same)
        .await
        .expect("an update that keeps the account's own email succeeds");
}

/// Updating an account that does not exist is `NotFound` and creates
/// nothing.
pub async fn update_user_of_an_unknown_account_is_not_found(store: Store) {
    let ghost = user(now());
    assert!(
        matches!(
            store.users.update_user(&ghost).await,
            Err(AuthError::NotFound)
        ),
        "update_user of an unknown id is NotFound"
    );
    assert_eq!(
        store.users.user_by_id(ghost.id).await.unwrap(),
        None,
        "nothing was created"
    );
    assert_eq!(store.users.user_by_email(&ghost.email).await.unwrap(), None);
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

    let mut unverify = verified[0].clone();
    unverify.phone_verified_at = None;
    store.users.update_user(&unverify).await.unwrap();
    let found = store.users.users_by_verified_phone(&phone).await.unwrap();
    assert_eq!(
        ids(found),
        ids(vec![verified[1].clone()]),
        "an update unverifies the phone"
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
