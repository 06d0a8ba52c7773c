//! The admin flows' authorisation: every write is checked against the
//! administrator's current roles and state (not the token's claims), the
//! privilege order between administrators, and an administrator's session
//! revocation ending access tokens at once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use authkit_core::clock::{Clock, ManualClock};
use authkit_core::mail::MemoryMailer;
use authkit_core::rate_limit::NoLimiter;
use authkit_core::roles::{
    AUDIT_READ, DASHBOARD_VIEW, ROLES_ASSIGN, RoleMap, SYSTEM_ADMIN, USERS_READ, USERS_WRITE,
};
use authkit_core::store::{LockoutPolicy, MemoryStore, Store};
use authkit_core::{
    Auth, AuthConfig, AuthError, Credentials, LoginOutcome, NewAdmin, Principal, Registration,
    RequestMeta, TokenPair,
};
use chrono::{Duration, Utc};
use uuid::Uuid;

const PASSWORD: &str = "correct horse battery staple";

struct Harness {
    auth: Auth,
    store: Store,
    clock: Arc<ManualClock>,
}

/// The default roles plus `SUPPORT` (reads and writes accounts, cannot
/// assign roles or read the audit log) and `ROLE_ADMIN` (assigns roles,
/// writes accounts, cannot read the audit log).
fn roles() -> RoleMap {
    RoleMap::default()
        .with_role("SUPPORT", [USERS_READ, USERS_WRITE])
        .with_role("ROLE_ADMIN", [USERS_READ, USERS_WRITE, ROLES_ASSIGN])
}

async fn harness() -> Harness {
    let store = Store::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let config = AuthConfig::builder()
        .account(|a| a.require_email_verification(false))
        .build()
        .unwrap();
    let auth = Auth::builder(config, store.clone())
        .mailer(Arc::new(MemoryMailer::default()))
        .clock(clock.clone())
        .rate_limiter(Arc::new(NoLimiter))
        .roles(roles())
        .build()
        .await
        .unwrap();
    Harness { auth, store, clock }
}

fn meta() -> RequestMeta {
    RequestMeta::new(Some("203.0.113.7".into()), Some("tests/1.0".into()))
}

async fn login(h: &Harness, email: &str) -> TokenPair {
    match h
        .auth
        .login(Credentials::new(email, PASSWORD), &meta())
        .await
        .unwrap()
    {
        LoginOutcome::Tokens(pair) => pair,
        other => panic!("expected tokens, got {other:?}"),
    }
}

/// An account with `roles` (none: a plain user), signed in; its id and
/// the caller it authenticates as.
async fn account(h: &Harness, email: &str, roles: &[&str]) -> (Uuid, Principal, TokenPair) {
    let id = if roles.is_empty() {
        h.auth
            .register(Registration::new(email, PASSWORD), &meta())
            .await
            .unwrap()
            .user
            .id
    } else {
        let mut admin = NewAdmin::new(email, PASSWORD);
        admin.roles = roles.iter().map(|r| (*r).to_owned()).collect();
        h.auth.admin().create_admin(admin).await.unwrap().id
    };
    let pair = login(h, email).await;
    let principal = h.auth.authenticate(&pair.access_token).unwrap();
    (id, principal, pair)
}

fn refused(h: &Harness, pair: &TokenPair) -> bool {
    match h.auth.authenticate(&pair.access_token) {
        Ok(_) => false,
        Err(AuthError::TokenInvalid) => true,
        Err(other) => panic!("unexpected {other:?}"),
    }
}

fn forbidden<T: std::fmt::Debug>(result: Result<T, AuthError>, what: &str) {
    assert!(
        matches!(result, Err(AuthError::Forbidden)),
        "{what}: expected forbidden, got {result:?}"
    );
}

/// Every admin write, by `principal` on `target`, refused with `forbidden`.
async fn every_write_is_forbidden(h: &Harness, principal: &Principal, target: Uuid) {
    let auth = &h.auth;
    let m = meta();
    forbidden(
        auth.admin()
            .lock_user(principal, target, None, None, &m)
            .await,
        "lock",
    );
    forbidden(
        auth.admin().unlock_user(principal, target, &m).await,
        "unlock",
    );
    forbidden(
        auth.admin().deactivate_user(principal, target, &m).await,
        "deactivate",
    );
    forbidden(
        auth.admin().reactivate_user(principal, target, &m).await,
        "reactivate",
    );
    forbidden(
        auth.admin()
            .force_password_change(principal, target, &m)
            .await,
        "force password change",
    );
    forbidden(
        auth.admin()
            .assign_roles(principal, target, &["STAFF".into()], &m)
            .await,
        "assign roles",
    );
    forbidden(
        auth.admin()
            .assign_roles(principal, principal.user_id, &[SYSTEM_ADMIN.into()], &m)
            .await,
        "assign roles back to oneself",
    );
    forbidden(
        auth.admin()
            .revoke_sessions(principal, target, None, &m)
            .await,
        "revoke every session",
    );
    forbidden(
        auth.admin()
            .revoke_sessions(principal, target, Some(Uuid::now_v7()), &m)
            .await,
        "revoke one session",
    );
}

#[tokio::test]
async fn admin_session_revocation_refuses_access_tokens_at_once() {
    let h = harness().await;
    let (_, root, _) = account(&h, "root@example.com", &[SYSTEM_ADMIN]).await;
    let (user, _, phone) = account(&h, "ann@example.com", &[]).await;
    let laptop = login(&h, "ann@example.com").await;
    let tablet = login(&h, "ann@example.com").await;

    h.auth
        .admin()
        .revoke_sessions(&root, user, Some(phone.session_id), &meta())
        .await
        .unwrap();
    assert!(refused(&h, &phone), "the revoked session's token");
    assert!(!refused(&h, &laptop), "other sessions live on");
    assert!(matches!(
        h.auth
            .admin()
            .revoke_sessions(&root, user, Some(phone.session_id), &meta())
            .await,
        Err(AuthError::NotFound)
    ));

    let count = h
        .auth
        .admin()
        .revoke_sessions(&root, user, None, &meta())
        .await
        .unwrap();
    assert_eq!(count, 2);
    assert!(refused(&h, &laptop));
    assert!(refused(&h, &tablet));
    let introspected = h
        .auth
        .introspect(&laptop.access_token, None, &meta())
        .await
        .unwrap();
    assert!(!introspected.active);
    // A new login afterwards is a new session, unaffected.
    let fresh = login(&h, "ann@example.com").await;
    assert!(!refused(&h, &fresh));
}

#[tokio::test]
async fn a_demoted_administrators_token_writes_nothing() {
    let h = harness().await;
    let (_, root, _) = account(&h, "root@example.com", &[SYSTEM_ADMIN]).await;
    let (admin, old_token, _) = account(&h, "eve@example.com", &[SYSTEM_ADMIN]).await;
    let (user, _, user_pair) = account(&h, "ann@example.com", &[]).await;

    h.auth
        .admin()
        .assign_roles(&root, admin, &["STAFF".into()], &meta())
        .await
        .unwrap();
    // The token still claims every SYSTEM_ADMIN permission.
    assert!(old_token.has_permission(ROLES_ASSIGN) && old_token.has_permission(USERS_WRITE));
    let before = h.auth.admin().user(&root, user).await.unwrap();
    every_write_is_forbidden(&h, &old_token, user).await;
    assert!(!refused(&h, &user_pair), "nothing happened to the account");
    let after = h.auth.admin().user(&root, user).await.unwrap();
    assert_eq!(after, before, "nothing happened to the account");
    let admin_after = h.auth.admin().user(&root, admin).await.unwrap();
    assert_eq!(admin_after.user.roles, vec!["STAFF".to_owned()]);
}

#[tokio::test]
async fn a_locked_or_deactivated_administrator_writes_nothing() {
    let h = harness().await;
    let (_, root, _) = account(&h, "root@example.com", &[SYSTEM_ADMIN]).await;
    let (user, _, _) = account(&h, "ann@example.com", &[]).await;

    // Locked by another administrator: its sessions end, and a token that
    // escaped the revocation list (issued by hand here) writes nothing.
    let (locked, _, _) = account(&h, "lou@example.com", &[SYSTEM_ADMIN]).await;
    let kept = issued_token(&h, locked, &[SYSTEM_ADMIN]);
    h.auth
        .admin()
        .lock_user(&root, locked, None, None, &meta())
        .await
        .unwrap();
    every_write_is_forbidden(&h, &kept, user).await;

    // Locked by failed logins (its sessions survive such a lock).
    let (failed, token, pair) = account(&h, "fay@example.com", &[SYSTEM_ADMIN]).await;
    let state = h
        .store
        .users
        .record_login_failure(
            failed,
            h.clock.now(),
            LockoutPolicy {
                max_failures: 1,
                window: Duration::minutes(15),
                lock_for: Duration::minutes(15),
            },
        )
        .await
        .unwrap();
    assert!(state.locked_until.is_some());
    assert!(!refused(&h, &pair));
    every_write_is_forbidden(&h, &token, user).await;
    // Once the lock is over, the same token writes again.
    h.clock.advance(Duration::minutes(16));
    let token = issued_token(&h, failed, &[SYSTEM_ADMIN]);
    h.auth
        .admin()
        .force_password_change(&token, user, &meta())
        .await
        .unwrap();

    // Deactivated.
    let (gone, _, _) = account(&h, "gus@example.com", &[SYSTEM_ADMIN]).await;
    let kept = issued_token(&h, gone, &[SYSTEM_ADMIN]);
    h.auth
        .admin()
        .deactivate_user(&root, gone, &meta())
        .await
        .unwrap();
    every_write_is_forbidden(&h, &kept, user).await;

    // And a token of an account that does not exist.
    let ghost = issued_token(&h, Uuid::now_v7(), &[SYSTEM_ADMIN]);
    every_write_is_forbidden(&h, &ghost, user).await;
}

#[tokio::test]
async fn role_grants_are_bounded_by_the_current_permissions() {
    let h = harness().await;
    let (_, root, _) = account(&h, "root@example.com", &[SYSTEM_ADMIN]).await;
    let (admin, token, _) = account(&h, "rae@example.com", &[SYSTEM_ADMIN]).await;
    let (user, _, _) = account(&h, "ann@example.com", &[]).await;

    // Still allowed to assign, but no longer holding the audit permission.
    h.auth
        .admin()
        .assign_roles(&root, admin, &["ROLE_ADMIN".into()], &meta())
        .await
        .unwrap();
    assert!(token.has_permission(AUDIT_READ), "the token's stale claim");
    for role in [SYSTEM_ADMIN, "DATA_ADMIN"] {
        forbidden(
            h.auth
                .admin()
                .assign_roles(&token, user, &[role.into()], &meta())
                .await,
            role,
        );
        forbidden(
            h.auth
                .admin()
                .assign_roles(&token, admin, &[role.into()], &meta())
                .await,
            "back to itself",
        );
    }
    // Roles within the current permissions are still granted.
    let granted = h
        .auth
        .admin()
        .assign_roles(&token, user, &["SUPPORT".into()], &meta())
        .await
        .unwrap();
    assert_eq!(granted.roles, vec!["SUPPORT".to_owned()]);
}

#[tokio::test]
async fn without_roles_assign_no_account_above_one_is_touched() {
    let h = harness().await;
    let (root_id, root, root_pair) = account(&h, "root@example.com", &[SYSTEM_ADMIN]).await;
    let (_, support, _) = account(&h, "sam@example.com", &["SUPPORT"]).await;
    let (data_admin, _, _) = account(&h, "dan@example.com", &["DATA_ADMIN"]).await;
    let (staff, _, _) = account(&h, "stu@example.com", &["STAFF"]).await;
    let (user, _, _) = account(&h, "ann@example.com", &[]).await;
    let m = meta();

    // Accounts holding a permission SUPPORT lacks: SYSTEM_ADMIN
    // (roles.assign, audit.read, dashboard), DATA_ADMIN (audit.read, dashboard).
    for target in [root_id, data_admin] {
        forbidden(
            h.auth
                .admin()
                .lock_user(&support, target, None, None, &m)
                .await,
            "lock",
        );
        forbidden(
            h.auth.admin().deactivate_user(&support, target, &m).await,
            "deactivate",
        );
        forbidden(
            h.auth
                .admin()
                .force_password_change(&support, target, &m)
                .await,
            "force password change",
        );
        forbidden(
            h.auth.admin().unlock_user(&support, target, &m).await,
            "unlock",
        );
        forbidden(
            h.auth.admin().reactivate_user(&support, target, &m).await,
            "reactivate",
        );
        forbidden(
            h.auth
                .admin()
                .revoke_sessions(&support, target, None, &m)
                .await,
            "revoke sessions",
        );
    }
    assert!(!refused(&h, &root_pair), "the SYSTEM_ADMIN was not locked");
    let root_after = h.auth.admin().user(&root, root_id).await.unwrap();
    assert!(root_after.user.locked_until.is_none());
    assert!(!root_after.user.must_change_password);

    // STAFF holds dashboard.view, which SUPPORT lacks as well.
    forbidden(
        h.auth
            .admin()
            .lock_user(&support, staff, None, None, &m)
            .await,
        "lock STAFF",
    );
    // An account whose permissions SUPPORT all holds: a plain user.
    h.auth
        .admin()
        .force_password_change(&support, user, &m)
        .await
        .unwrap();
    h.auth
        .admin()
        .lock_user(&support, user, None, None, &m)
        .await
        .unwrap();
    h.auth
        .admin()
        .deactivate_user(&support, user, &m)
        .await
        .unwrap();
    // And another SUPPORT account (equal permissions).
    let (peer, _, _) = account(&h, "pat@example.com", &["SUPPORT"]).await;
    h.auth
        .admin()
        .lock_user(&support, peer, None, None, &m)
        .await
        .unwrap();
    // The rest of the writes on an account it all covers: undo and sign out.
    h.auth
        .admin()
        .unlock_user(&support, user, &m)
        .await
        .unwrap();
    h.auth
        .admin()
        .reactivate_user(&support, user, &m)
        .await
        .unwrap();
    h.auth
        .admin()
        .revoke_sessions(&support, user, None, &m)
        .await
        .unwrap();

    // Holding roles.assign lifts the order: ROLE_ADMIN lacks audit.read
    // and the dashboard, yet may lock the DATA_ADMIN.
    let (_, role_admin, _) = account(&h, "ray@example.com", &["ROLE_ADMIN"]).await;
    assert!(!role_admin.has_permission(AUDIT_READ) && !role_admin.has_permission(DASHBOARD_VIEW));
    h.auth
        .admin()
        .lock_user(&role_admin, data_admin, None, None, &m)
        .await
        .unwrap();
    h.auth
        .admin()
        .force_password_change(&role_admin, root_id, &m)
        .await
        .unwrap();
}

/// The caller a fresh access token of `user_id` with `roles`' permissions
/// authenticates as, whatever the store says (a token issued before a
/// change, or one that never went on the revocation list).
fn issued_token(h: &Harness, user_id: Uuid, roles: &[&str]) -> Principal {
    let roles: Vec<String> = roles.iter().map(|r| (*r).to_owned()).collect();
    let permissions = self::roles().permissions_for(&roles);
    let (token, _) = h
        .auth
        .access_tokens()
        .issue(user_id, Uuid::now_v7(), &roles, &permissions, h.clock.now())
        .unwrap();
    h.auth.authenticate(&token).unwrap()
}
