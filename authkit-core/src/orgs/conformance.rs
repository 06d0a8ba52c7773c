//! Checks of [`OrgStore`](crate::store::OrgStore) and
//! [`UserAdminStore`](crate::store::UserAdminStore).

use chrono::Duration;
use uuid::Uuid;

use crate::email::Email;
use crate::error::AuthError;
use crate::orgs::{Invite, InviteAcceptance, MemberChange, Membership, Org};
use crate::secret::TokenHash;
use crate::store::Store;
use crate::testing::fixtures::{email, now, race, secs, token_hash, user};
use crate::user::User;

const OWNER: &str = "OWNER";

/// A unique valid slug.
fn slug() -> String {
    format!("org-{}", Uuid::now_v7().simple())
}

/// A stored account.
async fn account(store: &Store) -> User {
    let user = user(now());
    store.users.create_user(&user).await.unwrap();
    user
}

/// A stored organisation owned by a new account: (org, owner).
async fn org_with_owner(store: &Store) -> (Org, User) {
    let owner = account(store).await;
    let org = Org::new(slug(), "Acme Ünïcode", now());
    store
        .orgs
        .create_org(&org, &Membership::new(org.id, owner.id, OWNER, now()))
        .await
        .unwrap();
    (org, owner)
}

/// Adds `user` to `org` with `role` through a fresh invitation.
async fn join(store: &Store, org: &Org, user: &User, role: &str) {
    let hash = token_hash();
    store
        .orgs
        .create_invite(&invite(org.id, &user.email, role, hash))
        .await
        .unwrap();
    let accepted = store
        .orgs
        .accept_invite(&hash, user.id, now())
        .await
        .unwrap();
    assert!(
        matches!(accepted, InviteAcceptance::Accepted(_)),
        "{accepted:?}"
    );
}

/// An invitation of `email` to `org_id`, sent now, valid for a day.
fn invite(org_id: Uuid, email: &Email, role: &str, hash: TokenHash) -> Invite {
    let t = now();
    Invite {
        id: Uuid::now_v7(),
        org_id,
        email: email.clone(),
        role: role.into(),
        token_hash: hash,
        invited_by: Uuid::now_v7(),
        created_at: t,
        expires_at: t + Duration::days(1),
        closed_at: None,
    }
}

/// An organisation is stored with its owner, found by slug and id, and
/// listed among the owner's organisations and its members (with the
/// account's email).
pub async fn orgs_are_created_with_their_owner(store: Store) {
    let (org, owner) = org_with_owner(&store).await;
    assert_eq!(
        store.orgs.org_by_slug(&org.slug).await.unwrap(),
        Some(org.clone())
    );
    assert_eq!(
        store.orgs.org_by_id(org.id).await.unwrap(),
        Some(org.clone())
    );
    assert_eq!(store.orgs.org_by_slug(&slug()).await.unwrap(), None);
    assert_eq!(store.orgs.org_by_id(Uuid::now_v7()).await.unwrap(), None);

    let membership = store
        .orgs
        .membership(org.id, owner.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(membership.role, OWNER);
    let mine = store.orgs.orgs_for_user(owner.id).await.unwrap();
    assert_eq!(mine, vec![(org.clone(), membership)]);
    let members = store.orgs.members(org.id).await.unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(
        (
            members[0].user_id,
            members[0].email.as_str(),
            members[0].role.as_str()
        ),
        (owner.id, owner.email.as_str(), OWNER)
    );
    assert!(
        store
            .orgs
            .orgs_for_user(Uuid::now_v7())
            .await
            .unwrap()
            .is_empty()
    );
}

/// Slugs are unique: of concurrent creations of one slug exactly one wins
/// and the others get `SlugTaken`.
pub async fn org_slugs_are_unique_under_concurrency(store: Store) {
    let shared = slug();
    let owner = account(&store).await;
    let results = race(8, |_| {
        let (store, shared) = (store.clone(), shared.clone());
        async move {
            let org = Org::new(shared, "Same", now());
            store
                .orgs
                .create_org(&org, &Membership::new(org.id, owner.id, OWNER, now()))
                .await
        }
    })
    .await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "one creation wins"
    );
    assert!(
        results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .all(|e| matches!(e, AuthError::SlugTaken)),
        "{results:?}"
    );
    assert_eq!(store.orgs.orgs_for_user(owner.id).await.unwrap().len(), 1);
}

/// Renaming writes the name; the slug stays; unknown organisations are
/// not found.
pub async fn update_org_renames_only(store: Store) {
    let (mut org, _) = org_with_owner(&store).await;
    org.name = "Renamed 🚀".into();
    org.updated_at = now() + secs(5);
    store.orgs.update_org(&org).await.unwrap();
    assert_eq!(
        store.orgs.org_by_id(org.id).await.unwrap(),
        Some(org.clone())
    );
    let ghost = Org::new(slug(), "Ghost", now());
    assert!(matches!(
        store.orgs.update_org(&ghost).await,
        Err(AuthError::NotFound)
    ));
}

/// Roles change; the last owner can be neither demoted nor removed; a
/// non-member is `NotMember`.
pub async fn the_last_owner_is_kept(store: Store) {
    let (org, owner) = org_with_owner(&store).await;
    let member = account(&store).await;
    join(&store, &org, &member, "MEMBER").await;
    let orgs = &store.orgs;

    assert_eq!(
        orgs.set_member_role(org.id, owner.id, "ADMIN", OWNER, now())
            .await
            .unwrap(),
        MemberChange::LastOwner
    );
    assert_eq!(
        orgs.remove_member(org.id, owner.id, OWNER).await.unwrap(),
        MemberChange::LastOwner
    );
    let before = orgs.membership(org.id, member.id).await.unwrap().unwrap();
    let later = now() + secs(3);
    assert_eq!(
        orgs.set_member_role(org.id, member.id, OWNER, OWNER, later)
            .await
            .unwrap(),
        MemberChange::Done(before)
    );
    let promoted = orgs.membership(org.id, member.id).await.unwrap().unwrap();
    assert_eq!(
        (promoted.role.as_str(), promoted.updated_at),
        (OWNER, later)
    );
    // Two owners: one may step down.
    assert!(matches!(
        orgs.set_member_role(org.id, owner.id, "MEMBER", OWNER, now())
            .await
            .unwrap(),
        MemberChange::Done(_)
    ));
    assert!(matches!(
        orgs.remove_member(org.id, owner.id, OWNER).await.unwrap(),
        MemberChange::Done(_)
    ));
    assert_eq!(orgs.membership(org.id, owner.id).await.unwrap(), None);
    for change in [
        orgs.set_member_role(org.id, owner.id, "MEMBER", OWNER, now())
            .await
            .unwrap(),
        orgs.remove_member(org.id, owner.id, OWNER).await.unwrap(),
        orgs.remove_member(Uuid::now_v7(), member.id, OWNER)
            .await
            .unwrap(),
    ] {
        assert_eq!(change, MemberChange::NotMember);
    }
}

/// Two owners demoting (or removing) each other at once: exactly one
/// succeeds, and one owner remains.
pub async fn concurrent_demotions_of_the_last_two_owners_leave_one(store: Store) {
    for removal in [false, true] {
        let (org, first) = org_with_owner(&store).await;
        let second = account(&store).await;
        join(&store, &org, &second, OWNER).await;
        let results = race(2, |i| {
            let store = store.clone();
            let target = if i == 0 { first.id } else { second.id };
            async move {
                if removal {
                    store
                        .orgs
                        .remove_member(org.id, target, OWNER)
                        .await
                        .unwrap()
                } else {
                    store
                        .orgs
                        .set_member_role(org.id, target, "MEMBER", OWNER, now())
                        .await
                        .unwrap()
                }
            }
        })
        .await;
        let done = results
            .iter()
            .filter(|r| matches!(r, MemberChange::Done(_)))
            .count();
        assert_eq!(done, 1, "removal={removal}: {results:?}");
        assert!(results.contains(&MemberChange::LastOwner));
        let owners = store
            .orgs
            .members(org.id)
            .await
            .unwrap()
            .into_iter()
            .filter(|m| m.role == OWNER)
            .count();
        assert_eq!(owners, 1, "removal={removal}: one owner remains");
    }
}

/// A newer invitation to one address closes the older; invitations are
/// listed while live, found by hash, and withdrawn once.
pub async fn invites_are_newest_only_and_revocable(store: Store) {
    let (org, _) = org_with_owner(&store).await;
    let to = email();
    let (old_hash, new_hash) = (token_hash(), token_hash());
    let old = invite(org.id, &to, "MEMBER", old_hash);
    store.orgs.create_invite(&old).await.unwrap();
    let mut newer = invite(org.id, &to, "ADMIN", new_hash);
    newer.created_at = old.created_at + secs(1);
    store.orgs.create_invite(&newer).await.unwrap();
    let other = invite(org.id, &email(), "MEMBER", token_hash());
    store.orgs.create_invite(&other).await.unwrap();

    let t = now() + secs(2);
    assert_eq!(store.orgs.invite_by_hash(&old_hash, t).await.unwrap(), None);
    assert_eq!(
        store.orgs.invite_by_hash(&new_hash, t).await.unwrap(),
        Some(newer.clone())
    );
    let live: Vec<Uuid> = store
        .orgs
        .invites_for_org(org.id, t)
        .await
        .unwrap()
        .iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(live.len(), 2);
    assert!(live.contains(&newer.id) && live.contains(&other.id) && !live.contains(&old.id));
    // Expired invitations are neither listed nor found.
    let late = newer.expires_at;
    assert_eq!(
        store.orgs.invite_by_hash(&new_hash, late).await.unwrap(),
        None
    );
    assert!(
        store
            .orgs
            .invites_for_org(org.id, late)
            .await
            .unwrap()
            .is_empty()
    );

    assert!(
        !store
            .orgs
            .revoke_invite(Uuid::now_v7(), newer.id, t)
            .await
            .unwrap()
    );
    assert!(store.orgs.revoke_invite(org.id, newer.id, t).await.unwrap());
    assert!(!store.orgs.revoke_invite(org.id, newer.id, t).await.unwrap());
    assert_eq!(store.orgs.invite_by_hash(&new_hash, t).await.unwrap(), None);
    assert_eq!(
        store
            .orgs
            .accept_invite(&new_hash, Uuid::now_v7(), t)
            .await
            .unwrap(),
        InviteAcceptance::Invalid
    );
}

/// Accepting makes the membership with the invitation's role and spends
/// it; a member cannot accept again (the invitation stays open), and
/// unknown or expired invitations are invalid.
pub async fn accepting_an_invite_makes_one_membership(store: Store) {
    let (org, owner) = org_with_owner(&store).await;
    let joiner = account(&store).await;
    let hash = token_hash();
    store
        .orgs
        .create_invite(&invite(org.id, &joiner.email, "ADMIN", hash))
        .await
        .unwrap();
    let t = now();
    let InviteAcceptance::Accepted(membership) =
        store.orgs.accept_invite(&hash, joiner.id, t).await.unwrap()
    else {
        panic!("the invitation is accepted");
    };
    assert_eq!(
        (membership.org_id, membership.role.as_str()),
        (org.id, "ADMIN")
    );
    assert_eq!(
        store.orgs.membership(org.id, joiner.id).await.unwrap(),
        Some(membership)
    );
    assert_eq!(
        store.orgs.accept_invite(&hash, joiner.id, t).await.unwrap(),
        InviteAcceptance::Invalid,
        "spent"
    );
    // An invitation to someone already a member stays open.
    let again = token_hash();
    store
        .orgs
        .create_invite(&invite(org.id, &owner.email, "MEMBER", again))
        .await
        .unwrap();
    assert_eq!(
        store.orgs.accept_invite(&again, owner.id, t).await.unwrap(),
        InviteAcceptance::AlreadyMember
    );
    assert!(
        store
            .orgs
            .invite_by_hash(&again, t)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        store
            .orgs
            .accept_invite(&token_hash(), joiner.id, t)
            .await
            .unwrap(),
        InviteAcceptance::Invalid
    );
    let expiring = token_hash();
    let other = account(&store).await;
    store
        .orgs
        .create_invite(&invite(org.id, &other.email, "MEMBER", expiring))
        .await
        .unwrap();
    assert_eq!(
        store
            .orgs
            .accept_invite(&expiring, other.id, t + Duration::days(2))
            .await
            .unwrap(),
        InviteAcceptance::Invalid
    );
    assert_eq!(store.orgs.members(org.id).await.unwrap().len(), 2);
}

/// Of concurrent acceptances of one invitation (by one account or by
/// several), exactly one joins.
pub async fn concurrent_invite_acceptances_make_one_membership(store: Store) {
    let (org, _) = org_with_owner(&store).await;
    let joiner = account(&store).await;
    let hash = token_hash();
    store
        .orgs
        .create_invite(&invite(org.id, &joiner.email, "MEMBER", hash))
        .await
        .unwrap();
    let mut accounts = vec![joiner.id];
    for _ in 0..3 {
        accounts.push(account(&store).await.id);
    }
    let results = race(16, |i| {
        let store = store.clone();
        let user_id = accounts[i % accounts.len()];
        async move {
            store
                .orgs
                .accept_invite(&hash, user_id, now())
                .await
                .unwrap()
        }
    })
    .await;
    let accepted = results
        .iter()
        .filter(|r| matches!(r, InviteAcceptance::Accepted(_)))
        .count();
    assert_eq!(accepted, 1, "{results:?}");
    assert_eq!(
        store.orgs.members(org.id).await.unwrap().len(),
        2,
        "owner + one"
    );
}

/// Accounts are searched by email or display name (wildcards match
/// themselves), oldest first, paged.
pub async fn users_are_searched_and_paged(store: Store) {
    let tag = Uuid::now_v7().simple().to_string();
    let t = now();
    let mut made = Vec::new();
    for i in 0..3 {
        let mut u = User::new(
            Email::parse(&format!("s{i}.{tag}@example.com")).unwrap(),
            t + secs(i),
        );
        u.display_name = Some(format!("Searchable {i}"));
        store.users.create_user(&u).await.unwrap();
        made.push(u.id);
    }
    let mut named = User::new(
        Email::parse(&format!("n.{}@example.com", Uuid::now_v7().simple())).unwrap(),
        t,
    );
    named.display_name = Some(format!("Ada 100%_{tag}"));
    store.users.create_user(&named).await.unwrap();

    let admin = &store.user_admin;
    let ids = |users: Vec<User>| users.into_iter().map(|u| u.id).collect::<Vec<_>>();
    assert_eq!(
        ids(admin
            .search_users(Some(&format!("{tag}@")), 0, 10)
            .await
            .unwrap()),
        made
    );
    assert_eq!(
        ids(admin
            .search_users(Some(&format!(".{}", tag.to_uppercase())), 1, 1)
            .await
            .unwrap()),
        made[1..2]
    );
    assert_eq!(
        ids(admin
            .search_users(Some(&format!("100%_{tag}")), 0, 10)
            .await
            .unwrap()),
        vec![named.id],
        "display names match, case-insensitively"
    );
    assert_eq!(
        ids(admin
            .search_users(Some(&format!("ADA 100%_{tag}")), 0, 10)
            .await
            .unwrap()),
        vec![named.id]
    );
    assert!(
        admin
            .search_users(Some(&format!("100%{tag}")), 0, 10)
            .await
            .unwrap()
            .is_empty(),
        "% matches itself"
    );
    assert!(
        admin
            .search_users(Some(&format!("s_.{tag}")), 0, 10)
            .await
            .unwrap()
            .is_empty(),
        "_ matches itself"
    );
    let everyone = admin.search_users(None, 0, 1000).await.unwrap();
    assert!(everyone.len() >= 4);
    assert!(
        everyone
            .windows(2)
            .all(|w| (w[0].created_at, w[0].id) <= (w[1].created_at, w[1].id))
    );
}
