//! Checks of [`MfaStore`](crate::store::MfaStore).

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::mfa::{TotpAlgorithm, TotpParams};
use crate::store::{DeviceSeen, MfaStatus, Store, TotpRecord};
use crate::testing::fixtures::{now, race, secs, token_hash, user};

/// A stored account to hang MFA state on (SQL backends reference users).
async fn account(store: &Store, at: DateTime<Utc>) -> Uuid {
    let user = user(at);
    store.users.create_user(&user).await.unwrap();
    user.id
}

/// A pending enrolment of `user_id` with `secret` as its ciphertext.
fn pending(user_id: Uuid, secret: &[u8], at: DateTime<Utc>) -> TotpRecord {
    TotpRecord {
        user_id,
        secret: secret.to_vec(),
        params: TotpParams {
            algorithm: TotpAlgorithm::Sha256,
            digits: 8,
            period: 60,
        },
        created_at: at,
        confirmed_at: None,
        last_step: None,
    }
}

/// Pending enrolments are stored as given and replaced by a new setup;
/// a confirmed one is never replaced.
pub async fn totp_enrolments_are_pending_until_confirmed(store: Store) {
    let t = now();
    let id = account(&store, t).await;
    assert_eq!(store.mfa.totp(id).await.unwrap(), None);
    let first = pending(id, b"\x01first secret \x00\xff", t);
    assert!(store.mfa.put_totp(&first).await.unwrap());
    assert_eq!(
        store.mfa.totp(id).await.unwrap().as_ref(),
        Some(&first),
        "stored exactly, binary secret included"
    );
    let second = pending(id, b"second", t + secs(5));
    assert!(
        store.mfa.put_totp(&second).await.unwrap(),
        "a pending enrolment is replaced"
    );
    assert_eq!(store.mfa.totp(id).await.unwrap().as_ref(), Some(&second));

    assert!(store.mfa.confirm_totp(id, b"second", 100, t).await.unwrap());
    let confirmed = store.mfa.totp(id).await.unwrap().unwrap();
    assert_eq!(confirmed.confirmed_at, Some(t));
    assert_eq!(confirmed.last_step, Some(100));
    assert!(confirmed.is_confirmed());
    assert!(
        !store.mfa.put_totp(&pending(id, b"third", t)).await.unwrap(),
        "a confirmed enrolment is not replaced"
    );
    assert_eq!(
        store.mfa.totp(id).await.unwrap().unwrap().secret,
        b"second".to_vec()
    );
}

/// Confirmation needs the stored secret and happens once.
pub async fn confirm_totp_confirms_the_stored_secret_once(store: Store) {
    let t = now();
    let id = account(&store, t).await;
    assert!(
        !store.mfa.confirm_totp(id, b"s", 1, t).await.unwrap(),
        "nothing to confirm"
    );
    store.mfa.put_totp(&pending(id, b"s", t)).await.unwrap();
    assert!(
        !store.mfa.confirm_totp(id, b"other", 1, t).await.unwrap(),
        "a replaced secret is not confirmed"
    );
    let results = race(50, |_| {
        let store = store.clone();
        async move { store.mfa.confirm_totp(id, b"s", 7, t).await.unwrap() }
    })
    .await;
    assert_eq!(
        results.iter().filter(|ok| **ok).count(),
        1,
        "concurrent confirmations confirm once"
    );
}

/// Steps are accepted only forwards, and only on a confirmed enrolment.
pub async fn totp_steps_are_accepted_only_forwards(store: Store) {
    let t = now();
    let id = account(&store, t).await;
    assert!(
        !store.mfa.accept_totp_step(id, 5).await.unwrap(),
        "no enrolment"
    );
    store.mfa.put_totp(&pending(id, b"s", t)).await.unwrap();
    assert!(
        !store.mfa.accept_totp_step(id, 5).await.unwrap(),
        "a pending enrolment accepts nothing"
    );
    store.mfa.confirm_totp(id, b"s", 10, t).await.unwrap();
    assert!(
        !store.mfa.accept_totp_step(id, 10).await.unwrap(),
        "the confirming step is spent"
    );
    assert!(!store.mfa.accept_totp_step(id, 9).await.unwrap());
    assert!(store.mfa.accept_totp_step(id, 11).await.unwrap());
    assert!(!store.mfa.accept_totp_step(id, 11).await.unwrap(), "replay");
    assert!(
        store
            .mfa
            .accept_totp_step(id, 60_000_000_000)
            .await
            .unwrap(),
        "large steps fit"
    );
    assert_eq!(
        store.mfa.totp(id).await.unwrap().unwrap().last_step,
        Some(60_000_000_000)
    );
    assert!(!store.mfa.accept_totp_step(id, 12).await.unwrap());
}

/// 50 concurrent acceptances of one step: exactly one succeeds.
pub async fn concurrent_acceptances_of_one_step_succeed_once(store: Store) {
    let t = now();
    let id = account(&store, t).await;
    store.mfa.put_totp(&pending(id, b"s", t)).await.unwrap();
    store.mfa.confirm_totp(id, b"s", 1, t).await.unwrap();
    let results = race(50, |_| {
        let store = store.clone();
        async move { store.mfa.accept_totp_step(id, 2).await.unwrap() }
    })
    .await;
    assert_eq!(results.iter().filter(|ok| **ok).count(), 1);
    assert_eq!(
        store.mfa.totp(id).await.unwrap().unwrap().last_step,
        Some(2)
    );
}

/// Deleting removes the enrolment, pending or confirmed, of that account only.
pub async fn delete_totp_removes_only_that_enrolment(store: Store) {
    let t = now();
    let a = account(&store, t).await;
    let b = account(&store, t).await;
    store.mfa.put_totp(&pending(a, b"a", t)).await.unwrap();
    store.mfa.put_totp(&pending(b, b"b", t)).await.unwrap();
    store.mfa.confirm_totp(a, b"a", 1, t).await.unwrap();
    assert!(store.mfa.delete_totp(a).await.unwrap());
    assert!(!store.mfa.delete_totp(a).await.unwrap());
    assert_eq!(store.mfa.totp(a).await.unwrap(), None);
    assert!(store.mfa.totp(b).await.unwrap().is_some());
    assert!(
        store.mfa.put_totp(&pending(a, b"again", t)).await.unwrap(),
        "a new setup is possible after deletion"
    );
}

/// Backup codes: replaced as a set, spent once each, counted, per account.
pub async fn backup_codes_are_replaced_and_spent_once(store: Store) {
    let t = now();
    let a = account(&store, t).await;
    let b = account(&store, t).await;
    assert_eq!(store.mfa.backup_codes_remaining(a).await.unwrap(), 0);
    let old: Vec<_> = (0..10).map(|_| token_hash()).collect();
    store.mfa.replace_backup_codes(a, &old, t).await.unwrap();
    assert_eq!(store.mfa.backup_codes_remaining(a).await.unwrap(), 10);
    assert!(
        !store.mfa.consume_backup_code(b, &old[0], t).await.unwrap(),
        "another account's code"
    );
    assert!(store.mfa.consume_backup_code(a, &old[0], t).await.unwrap());
    assert!(
        !store.mfa.consume_backup_code(a, &old[0], t).await.unwrap(),
        "spent"
    );
    assert_eq!(store.mfa.backup_codes_remaining(a).await.unwrap(), 9);

    let new: Vec<_> = (0..10).map(|_| token_hash()).collect();
    store.mfa.replace_backup_codes(a, &new, t).await.unwrap();
    assert_eq!(store.mfa.backup_codes_remaining(a).await.unwrap(), 10);
    assert!(
        !store.mfa.consume_backup_code(a, &old[1], t).await.unwrap(),
        "the old set is gone"
    );
    assert!(store.mfa.consume_backup_code(a, &new[9], t).await.unwrap());
    store.mfa.replace_backup_codes(a, &[], t).await.unwrap();
    assert_eq!(store.mfa.backup_codes_remaining(a).await.unwrap(), 0);
    assert!(!store.mfa.consume_backup_code(a, &new[0], t).await.unwrap());
    assert_eq!(store.mfa.backup_codes_remaining(b).await.unwrap(), 0);
}

/// `mfa_status` agrees with `totp` and `backup_codes_remaining`: a pending
/// enrolment is not "on", a confirmed one is, and codes are counted per
/// account.
pub async fn mfa_status_reflects_totp_and_backup_codes(store: Store) {
    let t = now();
    let a = account(&store, t).await;
    let b = account(&store, t).await;
    let off = MfaStatus::default();
    assert_eq!(store.mfa.mfa_status(a).await.unwrap(), off);
    assert!(store.mfa.put_totp(&pending(a, b"secret", t)).await.unwrap());
    assert_eq!(
        store.mfa.mfa_status(a).await.unwrap(),
        off,
        "pending is not on"
    );
    assert!(store.mfa.confirm_totp(a, b"secret", 1, t).await.unwrap());
    let codes: Vec<_> = (0..10).map(|_| token_hash()).collect();
    store.mfa.replace_backup_codes(a, &codes, t).await.unwrap();
    assert!(
        store
            .mfa
            .consume_backup_code(a, &codes[3], t)
            .await
            .unwrap()
    );
    assert_eq!(
        store.mfa.mfa_status(a).await.unwrap(),
        MfaStatus {
            totp_confirmed: true,
            backup_codes_remaining: 9
        }
    );
    assert_eq!(
        store.mfa.mfa_status(b).await.unwrap(),
        off,
        "another account"
    );
}

/// 50 concurrent uses of one backup code: exactly one succeeds.
pub async fn concurrent_backup_code_uses_succeed_once(store: Store) {
    let t = now();
    let id = account(&store, t).await;
    let codes: Vec<_> = (0..10).map(|_| token_hash()).collect();
    store.mfa.replace_backup_codes(id, &codes, t).await.unwrap();
    let target = codes[3];
    let results = race(50, |_| {
        let store = store.clone();
        async move { store.mfa.consume_backup_code(id, &target, t).await.unwrap() }
    })
    .await;
    assert_eq!(results.iter().filter(|ok| **ok).count(), 1);
    assert_eq!(store.mfa.backup_codes_remaining(id).await.unwrap(), 9);
}

/// The failure count grows within the window, restarts after it, and
/// clears only when asked.
pub async fn mfa_failures_count_within_the_window(store: Store) {
    let t = now();
    let id = account(&store, t).await;
    let window = Duration::minutes(15);
    for expected in 1..=3 {
        let at = t + secs(i64::from(expected));
        assert_eq!(
            store.mfa.record_mfa_failure(id, at, window).await.unwrap(),
            expected
        );
    }
    assert_eq!(
        store
            .mfa
            .record_mfa_failure(id, t + Duration::minutes(30), window)
            .await
            .unwrap(),
        1,
        "restarts after a quiet window"
    );
    store.mfa.clear_mfa_failures(id).await.unwrap();
    assert_eq!(
        store
            .mfa
            .record_mfa_failure(id, t + Duration::minutes(31), window)
            .await
            .unwrap(),
        1
    );
    let other = account(&store, t).await;
    assert_eq!(
        store
            .mfa
            .record_mfa_failure(other, t, window)
            .await
            .unwrap(),
        1,
        "per account"
    );
}

/// Concurrent failures all count.
pub async fn concurrent_mfa_failures_all_count(store: Store) {
    let t = now();
    let id = account(&store, t).await;
    let results = race(50, |_| {
        let store = store.clone();
        async move {
            store
                .mfa
                .record_mfa_failure(id, t, Duration::minutes(15))
                .await
                .unwrap()
        }
    })
    .await;
    let mut counts = results;
    counts.sort_unstable();
    assert_eq!(counts, (1..=50).collect::<Vec<u32>>());
}

/// The first device is `First`, a repeat `Known`, another one `New`.
pub async fn devices_are_first_known_or_new(store: Store) {
    let t = now();
    let id = account(&store, t).await;
    let laptop = token_hash();
    let phone = token_hash();
    assert_eq!(
        store.mfa.remember_device(id, &laptop, t).await.unwrap(),
        DeviceSeen::First
    );
    assert_eq!(
        store
            .mfa
            .remember_device(id, &laptop, t + secs(1))
            .await
            .unwrap(),
        DeviceSeen::Known
    );
    assert_eq!(
        store
            .mfa
            .remember_device(id, &phone, t + secs(2))
            .await
            .unwrap(),
        DeviceSeen::New
    );
    assert_eq!(
        store
            .mfa
            .remember_device(id, &phone, t + secs(3))
            .await
            .unwrap(),
        DeviceSeen::Known
    );
    let other = account(&store, t).await;
    assert_eq!(
        store.mfa.remember_device(other, &laptop, t).await.unwrap(),
        DeviceSeen::First,
        "devices are per account"
    );
}
