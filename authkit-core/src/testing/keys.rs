//! Checks of [`KeyStore`](crate::store::KeyStore).

use super::fixtures::{key, now, secs};
use crate::store::Store;

/// Keys are added once per `kid` and listed oldest first.
pub async fn signing_keys_are_added_once_and_listed_oldest_first(store: Store) {
    let t = now();
    let (k1, k2, k3) = (key("k1", t), key("k2", t + secs(1)), key("k3", t + secs(2)));
    for k in [&k2, &k3, &k1] {
        assert!(
            store.keys.add_signing_key(k).await.unwrap(),
            "a new kid is added"
        );
    }
    let clash = key("k2", t + secs(5));
    assert!(
        !store.keys.add_signing_key(&clash).await.unwrap(),
        "a duplicate kid is refused"
    );
    assert_eq!(
        store.keys.signing_keys().await.unwrap(),
        vec![k1, k2, k3],
        "keys round-trip, oldest first, the original kept on a duplicate"
    );
}

/// Retiring keeps the first retirement time; unknown kids are ignored.
pub async fn retiring_a_signing_key_is_idempotent(store: Store) {
    let t = now();
    let (k1, k2) = (key("k1", t), key("k2", t + secs(1)));
    store.keys.add_signing_key(&k1).await.unwrap();
    store.keys.add_signing_key(&k2).await.unwrap();

    let at = t + secs(10);
    store.keys.retire_signing_key("k1", at).await.unwrap();
    store
        .keys
        .retire_signing_key("k1", at + secs(50))
        .await
        .unwrap();
    store
        .keys
        .retire_signing_key("no-such-kid", at)
        .await
        .expect("retiring an unknown kid is Ok");
    let keys = store.keys.signing_keys().await.unwrap();
    assert_eq!(
        keys[0].retired_at,
        Some(at),
        "the first retirement time is kept"
    );
    assert_eq!(keys[1].retired_at, None, "other keys stay active");
    assert_eq!(keys.len(), 2, "retiring an unknown kid adds nothing");
}

/// Deleting removes only keys retired strictly before the cutoff.
pub async fn delete_retired_keys_removes_only_keys_retired_before(store: Store) {
    let t = now();
    let keys = [
        ("old", Some(t - secs(1))),
        ("edge", Some(t)),
        ("active", None),
    ];
    for (created, (kid, retired)) in (0..).zip(keys) {
        store
            .keys
            .add_signing_key(&key(kid, t - secs(100 - created)))
            .await
            .unwrap();
        if let Some(at) = retired {
            store.keys.retire_signing_key(kid, at).await.unwrap();
        }
    }
    assert_eq!(
        store.keys.delete_retired_keys(t).await.unwrap(),
        1,
        "one key retired before"
    );
    let kids: Vec<String> = store
        .keys
        .signing_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.kid)
        .collect();
    assert_eq!(
        kids,
        ["edge", "active"],
        "keys retired at the cutoff or active stay"
    );
    assert_eq!(store.keys.delete_retired_keys(t).await.unwrap(), 0);
    assert!(
        store.keys.add_signing_key(&key("old", t)).await.unwrap(),
        "a deleted key's kid is free again"
    );
}
