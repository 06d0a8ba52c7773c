//! Checks of [`IdentityStore`](crate::store::IdentityStore).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::store::{Identity, LinkOutcome, Store, UnlinkOutcome};
use crate::testing::fixtures::{now, race, secs, user};

/// A stored account to link identities to (SQL backends reference users).
async fn account(store: &Store, at: DateTime<Utc>) -> Uuid {
    let user = user(at);
    store.users.create_user(&user).await.unwrap();
    user.id
}

/// A fresh subject, unique across runs on a shared database.
fn subject() -> String {
    format!("sub-{}", Uuid::now_v7().simple())
}

fn identity(user_id: Uuid, provider: &str, subject: &str, at: DateTime<Utc>) -> Identity {
    Identity {
        user_id,
        provider: provider.to_owned(),
        subject: subject.to_owned(),
        email: Some("Ünïcode.Person@example.com".to_owned()),
        email_verified: true,
        linked_at: at,
    }
}

/// A linked identity is found by (provider, subject) exactly as stored,
/// and listed on its account oldest first.
pub async fn identities_are_found_by_provider_and_subject(store: Store) {
    let t = now();
    let id = account(&store, t).await;
    let sub = subject();
    let google = identity(id, "google", &sub, t);
    let mut github = identity(id, "github", "12345", t + secs(5));
    github.subject = format!("{}-gh", sub);
    github.email = None;
    github.email_verified = false;
    assert_eq!(
        store.identities.link_identity(&google).await.unwrap(),
        LinkOutcome::Linked
    );
    assert_eq!(
        store.identities.link_identity(&github).await.unwrap(),
        LinkOutcome::Linked
    );
    assert_eq!(
        store.identities.identity("google", &sub).await.unwrap(),
        Some(google.clone())
    );
    assert_eq!(
        store.identities.identity("github", &sub).await.unwrap(),
        None,
        "the subject is scoped by provider"
    );
    assert_eq!(
        store.identities.identity("GOOGLE", &sub).await.unwrap(),
        None,
        "provider names are exact"
    );
    assert_eq!(
        store
            .identities
            .identity("google", &sub.to_uppercase())
            .await
            .unwrap(),
        None,
        "subjects are case-sensitive"
    );
    assert_eq!(
        store.identities.identities_for_user(id).await.unwrap(),
        vec![google, github]
    );
    assert!(
        store
            .identities
            .identities_for_user(Uuid::now_v7())
            .await
            .unwrap()
            .is_empty()
    );
}

/// One (provider, subject) belongs to one account; an account has one
/// identity per provider.
pub async fn identities_are_unique_per_subject_and_per_account(store: Store) {
    let t = now();
    let (a, b) = (account(&store, t).await, account(&store, t).await);
    let sub = subject();
    let linked = identity(a, "okta", &sub, t);
    store.identities.link_identity(&linked).await.unwrap();
    assert_eq!(
        store
            .identities
            .link_identity(&identity(b, "okta", &sub, t))
            .await
            .unwrap(),
        LinkOutcome::SubjectTaken(a)
    );
    assert_eq!(
        store
            .identities
            .link_identity(&identity(a, "okta", &subject(), t))
            .await
            .unwrap(),
        LinkOutcome::ProviderTaken
    );
    assert_eq!(
        store.identities.identity("okta", &sub).await.unwrap(),
        Some(linked),
        "the first link stays"
    );
    assert!(
        store
            .identities
            .identities_for_user(b)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Of many accounts linking one (provider, subject) at once, one wins.
pub async fn concurrent_links_of_one_subject_link_once(store: Store) {
    let t = now();
    let mut accounts = Vec::new();
    for _ in 0..10 {
        accounts.push(account(&store, t).await);
    }
    let sub = subject();
    let results = race(10, |i| {
        let store = store.clone();
        let record = identity(accounts[i], "google", &sub, t);
        async move { store.identities.link_identity(&record).await.unwrap() }
    })
    .await;
    let winners: Vec<_> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| **r == LinkOutcome::Linked)
        .map(|(i, _)| accounts[i])
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert!(
        results
            .iter()
            .all(|r| *r == LinkOutcome::Linked || *r == LinkOutcome::SubjectTaken(winners[0])),
        "{results:?}"
    );
    let stored = store.identities.identity("google", &sub).await.unwrap();
    assert_eq!(stored.map(|i| i.user_id), Some(winners[0]));
}

/// Unlinking removes only the account's identity of that provider, and
/// with `keep_one` never the last one.
pub async fn unlink_removes_one_identity_and_can_keep_the_last(store: Store) {
    let t = now();
    let (a, b) = (account(&store, t).await, account(&store, t).await);
    let (s1, s2, s3) = (subject(), subject(), subject());
    for record in [
        identity(a, "google", &s1, t),
        identity(a, "github", &s2, t + secs(1)),
        identity(b, "google", &s3, t),
    ] {
        store.identities.link_identity(&record).await.unwrap();
    }
    assert_eq!(
        store
            .identities
            .unlink_identity(a, "okta", true)
            .await
            .unwrap(),
        UnlinkOutcome::NotFound
    );
    assert_eq!(
        store
            .identities
            .unlink_identity(a, "google", true)
            .await
            .unwrap(),
        UnlinkOutcome::Unlinked
    );
    assert_eq!(
        store.identities.identity("google", &s1).await.unwrap(),
        None
    );
    assert!(
        store
            .identities
            .identity("google", &s3)
            .await
            .unwrap()
            .is_some(),
        "another account's identity of the provider stays"
    );
    assert_eq!(
        store
            .identities
            .unlink_identity(a, "github", true)
            .await
            .unwrap(),
        UnlinkOutcome::LastIdentity
    );
    assert_eq!(
        store.identities.identities_for_user(a).await.unwrap().len(),
        1
    );
    assert_eq!(
        store
            .identities
            .unlink_identity(a, "github", false)
            .await
            .unwrap(),
        UnlinkOutcome::Unlinked
    );
    assert!(
        store
            .identities
            .identities_for_user(a)
            .await
            .unwrap()
            .is_empty()
    );
    // The subject can be linked again, to anyone.
    assert_eq!(
        store
            .identities
            .link_identity(&identity(b, "github", &s2, t))
            .await
            .unwrap(),
        LinkOutcome::Linked
    );
}

/// Two concurrent unlinks of an account's last two identities, each
/// keeping one: exactly one succeeds.
pub async fn concurrent_unlinks_keep_the_last_identity(store: Store) {
    let t = now();
    for _ in 0..5 {
        let id = account(&store, t).await;
        for provider in ["google", "github"] {
            store
                .identities
                .link_identity(&identity(id, provider, &subject(), t))
                .await
                .unwrap();
        }
        let results = race(2, |i| {
            let store = store.clone();
            let provider = ["google", "github"][i];
            async move {
                store
                    .identities
                    .unlink_identity(id, provider, true)
                    .await
                    .unwrap()
            }
        })
        .await;
        assert_eq!(
            results
                .iter()
                .filter(|r| **r == UnlinkOutcome::Unlinked)
                .count(),
            1,
            "{results:?}"
        );
        assert_eq!(
            store
                .identities
                .identities_for_user(id)
                .await
                .unwrap()
                .len(),
            1
        );
    }
}
