//! The admin API: account search and view, locks, deactivation, global
//! roles, forced password change, sessions of any account, and the audit
//! log; plus the bootstrap of the first administrator.
//!
//! Every call checks the caller's GLOBAL permission (`internal.users.read`,
//! `internal.users.write`, `internal.roles.assign`, `internal.audit.read`);
//! organisation roles never count. Reads take it from the access token;
//! every write re-reads the administrator's account and checks its
//! **current** roles, and that it is active and unlocked (see the
//! `actor` module), so a demoted or locked administrator's still-valid
//! token changes nothing. Without `internal.roles.assign`, an
//! administrator cannot lock, deactivate or force a password change on an
//! account holding a permission they lack. Every change is audited with
//! the administrator as actor and the account as subject. An
//! administrator cannot lock or deactivate their own account, and grants
//! or withdraws only roles whose permissions they currently hold.

use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::account::Account;
use crate::audit::{AuditQuery, AuditRecord, AuthEvent, RequestMeta};
use crate::auth::Auth;
use crate::email::Email;
use crate::error::{AuthError, AuthResult, FieldError};
use crate::orgs::MyOrg;
use crate::principal::{Principal, require_permission};
use crate::roles::RoleMap;
use crate::roles::{AUDIT_READ, ROLES_ASSIGN, SYSTEM_ADMIN, USERS_READ, USERS_WRITE};
use crate::session::SessionView;
use crate::store::UserUpdate;
use crate::user::{AdminLock, Profile, User};
use utoipa::ToSchema;

/// Revocation reason of the sessions an administrator ends.
const REVOKED_BY_ADMIN: &str = "revoked_by_admin";

/// Most items one page holds.
pub const MAX_PER_PAGE: u32 = 100;

/// One page of a list: `{items, page, per_page, next_page}`, the one
/// pagination shape of the API (`/admin/users`, `/admin/audit`,
/// `/me/audit`). `next_page` is `null` on the last page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// 1-based page number.
    pub page: u32,
    /// Page size asked for.
    pub per_page: u32,
    /// The next page's number, when there is one.
    pub next_page: Option<u32>,
}

impl<T> Page<T> {
    /// Store offset and limit (one more than the page, to see whether
    /// another page exists) of page `page` of `per_page` items.
    pub(crate) fn window(page: u32, per_page: u32) -> (u64, u32) {
        let page = page.max(1);
        let per_page = per_page.clamp(1, MAX_PER_PAGE);
        (u64::from(page - 1) * u64::from(per_page), per_page + 1)
    }

    /// The page from up to `per_page + 1` fetched items.
    pub(crate) fn from_fetched(mut items: Vec<T>, page: u32, per_page: u32) -> Self {
        let page = page.max(1);
        let per_page = per_page.clamp(1, MAX_PER_PAGE);
        let more = items.len() > per_page as usize;
        items.truncate(per_page as usize);
        Self {
            items,
            page,
            per_page,
            next_page: more.then(|| page.saturating_add(1)),
        }
    }
}

/// An account as administrators see it: the profile plus roles and the
/// state of the account's locks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AdminUser {
    /// The profile.
    #[serde(flatten)]
    pub profile: Profile,
    /// Global roles.
    pub roles: Vec<String>,
    /// When the account's lock ends: the later of the administrator's lock
    /// and the failure lock, as stored (`null` when neither is set).
    pub locked_until: Option<DateTime<Utc>>,
    /// The administrator's lock (end, reason, actor, time set), if one is
    /// set; only an unlock lifts it.
    pub admin_lock: Option<AdminLock>,
    /// Whether a new password is demanded at the next login.
    pub must_change_password: bool,
    /// Consecutive failed logins.
    pub failed_login_count: u32,
    /// Last change to the account.
    pub updated_at: DateTime<Utc>,
}

/// One account in full for administrators: [`AdminUser`] plus its
/// organisation memberships.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AdminUserDetail {
    /// The account.
    #[serde(flatten)]
    pub user: AdminUser,
    /// Its organisations and roles there.
    pub memberships: Vec<MyOrg>,
}

/// Filters of the admin audit log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only events about this account.
    pub user_id: Option<Uuid>,
    /// Only this event name.
    pub event: Option<String>,
    /// Only events at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only events before this time.
    pub until: Option<DateTime<Utc>>,
}

/// The first administrator (or any administrator made outside the API):
/// see [`Admin::create_admin`](crate::admin::Admin::create_admin).
#[derive(Debug, Clone)]
pub struct NewAdmin {
    /// Email address; marked verified.
    pub email: String,
    /// Password; the password policy applies.
    pub password: String,
    /// Display name.
    pub display_name: Option<String>,
    /// Global roles (default `SYSTEM_ADMIN`); each must be declared.
    pub roles: Vec<String>,
}

impl NewAdmin {
    /// A `SYSTEM_ADMIN` with this email and password.
    pub fn new(email: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            email: email.into(),
            password: password.into(),
            display_name: None,
            roles: vec![SYSTEM_ADMIN.to_owned()],
        }
    }
}

/// Most characters a lock's reason holds.
pub const MAX_LOCK_REASON: usize = 500;

/// The reason of a lock, trimmed; blank is none.
fn lock_reason(reason: Option<&str>) -> AuthResult<Option<String>> {
    let Some(reason) = reason.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    if reason.chars().count() > MAX_LOCK_REASON {
        return Err(AuthError::invalid_field(
            "reason",
            "too_long",
            format!("At most {MAX_LOCK_REASON} characters."),
        ));
    }
    if reason.chars().any(char::is_control) {
        return Err(AuthError::invalid_field(
            "reason",
            "invalid",
            "A reason holds no control characters.",
        ));
    }
    Ok(Some(reason.to_owned()))
}

/// The end of an indefinite administrator lock (MySQL's `DATETIME` ends in
/// year 9999).
fn indefinitely() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(9999, 12, 31, 0, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn admin_view(user: &User) -> AdminUser {
    AdminUser {
        profile: user.profile(),
        roles: user.roles.clone(),
        locked_until: user
            .locked_until
            .max(user.admin_lock.as_ref().map(|lock| lock.until)),
        admin_lock: user.admin_lock.clone(),
        must_change_password: user.must_change_password,
        failed_login_count: user.failed_login_count,
        updated_at: user.updated_at,
    }
}

fn not_yourself(principal: &Principal, user_id: Uuid) -> AuthResult<()> {
    if principal.user_id == user_id {
        Err(AuthError::invalid_field(
            "user_id",
            "cannot_target_self",
            "Administrators cannot lock or deactivate their own account.",
        ))
    } else {
        Ok(())
    }
}

impl Auth {
    /// Applies one narrow change to an account and answers the account as
    /// it then stands.
    async fn edit_user(&self, user_id: Uuid, update: UserUpdate) -> AuthResult<User> {
        self.update_user(user_id, update).await?;
        self.user(user_id).await
    }
}

crate::auth::feature_handle! {
    /// The admin API: account search and view, locks, deactivation, roles,
    /// forced password change, sessions of any account, the audit log, the
    /// first administrator, and imports.
    Admin, admin
}

impl<'a> Admin<'a> {
    /// The global role map.
    pub fn roles(self) -> &'a RoleMap {
        &self.auth.inner.roles
    }

    /// Accounts whose email or display name contains `query`, oldest
    /// first, one page (needs `internal.users.read`).
    ///
    /// # Errors
    /// `Forbidden`.
    pub async fn users(
        self,
        principal: &Principal,
        query: Option<&str>,
        page: u32,
        per_page: u32,
    ) -> AuthResult<Page<AdminUser>> {
        require_permission(principal, USERS_READ)?;
        let (offset, limit) = Page::<AdminUser>::window(page, per_page);
        let query = query.map(str::trim).filter(|q| !q.is_empty());
        let users = self
            .auth
            .inner
            .store
            .user_admin
            .search_users(query, offset, limit)
            .await?;
        Ok(Page::from_fetched(
            users.iter().map(admin_view).collect(),
            page,
            per_page,
        ))
    }

    /// One account with its memberships (needs `internal.users.read`).
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`.
    pub async fn user(self, principal: &Principal, user_id: Uuid) -> AuthResult<AdminUserDetail> {
        require_permission(principal, USERS_READ)?;
        let user = self.auth.user(user_id).await?;
        Ok(AdminUserDetail {
            user: admin_view(&user),
            memberships: self.auth.memberships_of(user_id).await?,
        })
    }

    /// Locks an account until `until` (default: indefinitely), recording
    /// `reason` (at most [`MAX_LOCK_REASON`] characters, no control
    /// characters; blank counts as none) and the administrator, and revokes
    /// every session at once: refresh fails and introspection answers
    /// inactive (needs `internal.users.write`, held now; without
    /// `internal.roles.assign`, only on an account whose permissions the
    /// administrator all holds). Locking a locked account replaces its
    /// lock. Neither a password reset nor a successful login lifts the
    /// lock; [`Admin::unlock_user`](crate::admin::Admin::unlock_user) does.
    ///
    /// # Errors
    /// `Forbidden` (also for an administrator demoted, deactivated or
    /// locked since the token was signed, or an account that outranks
    /// them), `NotFound`, `Validation` (own account, `until` in the past,
    /// `reason` too long or with control characters).
    pub async fn lock_user(
        self,
        principal: &Principal,
        user_id: Uuid,
        until: Option<DateTime<Utc>>,
        reason: Option<&str>,
        meta: &RequestMeta,
    ) -> AuthResult<AdminUser> {
        let actor = self.auth.admin_actor(principal, USERS_WRITE).await?;
        not_yourself(principal, user_id)?;
        self.auth.admin_target(&actor, user_id).await?;
        let now = self.auth.now();
        let until = until.unwrap_or_else(indefinitely);
        if until <= now {
            return Err(AuthError::invalid_field(
                "until",
                "in_the_past",
                "The lock must end in the future.",
            ));
        }
        let reason = lock_reason(reason)?;
        let lock = AdminLock {
            until,
            reason: reason.clone(),
            actor_id: Some(principal.user_id),
            locked_at: now,
        };
        self.auth
            .inner
            .store
            .user_admin
            .lock_user(user_id, &lock)
            .await?;
        self.auth
            .emit(
                AuthEvent::UserLockedByAdmin {
                    actor_id: principal.user_id,
                    user_id,
                    until,
                    reason,
                },
                meta,
            )
            .await?;
        self.auth
            .revoke_sessions(user_id, None, "locked_by_admin", meta)
            .await?;
        Ok(admin_view(&self.auth.user(user_id).await?))
    }

    /// Lifts an account's administrator lock and its failure lock, and
    /// clears its failed-login count (needs `internal.users.write`, held
    /// now; without `internal.roles.assign`, only on an account whose
    /// permissions the administrator all holds).
    ///
    /// # Errors
    /// `Forbidden` (also for an administrator demoted, deactivated or
    /// locked since the token was signed, or an account that outranks
    /// them), `NotFound`.
    pub async fn unlock_user(
        self,
        principal: &Principal,
        user_id: Uuid,
        meta: &RequestMeta,
    ) -> AuthResult<AdminUser> {
        let actor = self.auth.admin_actor(principal, USERS_WRITE).await?;
        self.auth.admin_target(&actor, user_id).await?;
        self.auth
            .inner
            .store
            .user_admin
            .unlock_user(user_id)
            .await?;
        self.auth
            .emit(
                AuthEvent::UserUnlockedByAdmin {
                    actor_id: principal.user_id,
                    user_id,
                },
                meta,
            )
            .await?;
        Ok(admin_view(&self.auth.user(user_id).await?))
    }

    /// Deactivates an account and revokes every session (needs
    /// `internal.users.write`, held now; without `internal.roles.assign`,
    /// only on an account whose permissions the administrator all holds).
    ///
    /// # Errors
    /// `Forbidden` (also for an administrator demoted, deactivated or
    /// locked since the token was signed, or an account that outranks
    /// them), `NotFound`, `Validation` (own account).
    pub async fn deactivate_user(
        self,
        principal: &Principal,
        user_id: Uuid,
        meta: &RequestMeta,
    ) -> AuthResult<AdminUser> {
        let actor = self.auth.admin_actor(principal, USERS_WRITE).await?;
        not_yourself(principal, user_id)?;
        self.auth.admin_target(&actor, user_id).await?;
        let user = self
            .auth
            .edit_user(user_id, UserUpdate::Active(false))
            .await?;
        self.auth
            .emit(
                AuthEvent::UserDeactivatedByAdmin {
                    actor_id: principal.user_id,
                    user_id,
                },
                meta,
            )
            .await?;
        self.auth
            .revoke_sessions(user_id, None, "deactivated_by_admin", meta)
            .await?;
        Ok(admin_view(&user))
    }

    /// Reactivates an account (needs `internal.users.write`, held now;
    /// without `internal.roles.assign`, only on an account whose
    /// permissions the administrator all holds).
    ///
    /// # Errors
    /// `Forbidden` (also for an administrator demoted, deactivated or
    /// locked since the token was signed, or an account that outranks
    /// them), `NotFound`.
    pub async fn reactivate_user(
        self,
        principal: &Principal,
        user_id: Uuid,
        meta: &RequestMeta,
    ) -> AuthResult<AdminUser> {
        let actor = self.auth.admin_actor(principal, USERS_WRITE).await?;
        self.auth.admin_target(&actor, user_id).await?;
        let user = self
            .auth
            .edit_user(user_id, UserUpdate::Active(true))
            .await?;
        self.auth
            .emit(
                AuthEvent::UserReactivatedByAdmin {
                    actor_id: principal.user_id,
                    user_id,
                },
                meta,
            )
            .await?;
        Ok(admin_view(&user))
    }

    /// Demands a new password at the account's next login (needs
    /// `internal.users.write`, held now; without `internal.roles.assign`,
    /// only on an account whose permissions the administrator all holds).
    /// Live sessions continue; lock the account too to end them.
    ///
    /// # Errors
    /// `Forbidden` (also for an administrator demoted, deactivated or
    /// locked since the token was signed, or an account that outranks
    /// them), `NotFound`.
    pub async fn force_password_change(
        self,
        principal: &Principal,
        user_id: Uuid,
        meta: &RequestMeta,
    ) -> AuthResult<AdminUser> {
        let actor = self.auth.admin_actor(principal, USERS_WRITE).await?;
        self.auth.admin_target(&actor, user_id).await?;
        let user = self
            .auth
            .edit_user(user_id, UserUpdate::MustChangePassword(true))
            .await?;
        self.auth
            .emit(
                AuthEvent::PasswordChangeForced {
                    actor_id: principal.user_id,
                    user_id,
                },
                meta,
            )
            .await?;
        Ok(admin_view(&user))
    }

    /// Sets an account's global roles (needs `internal.roles.assign`, held
    /// now). Every role must be declared, and every role granted or
    /// withdrawn must be within the administrator's current permissions
    /// (those of the roles the store holds now, not the token's). Takes
    /// effect in the account's tokens at their next refresh; `/me` shows
    /// it at once.
    ///
    /// # Errors
    /// `Forbidden` (also for an administrator demoted, deactivated or
    /// locked since the token was signed), `NotFound`, `Validation`
    /// (undeclared role).
    pub async fn assign_roles(
        self,
        principal: &Principal,
        user_id: Uuid,
        roles: &[String],
        meta: &RequestMeta,
    ) -> AuthResult<AdminUser> {
        let actor = self.auth.admin_actor(principal, ROLES_ASSIGN).await?;
        let mut wanted: Vec<String> = Vec::new();
        let mut errors = Vec::new();
        for role in roles {
            if !self.auth.inner.roles.has_role(role) {
                errors.push(FieldError::new(
                    "roles",
                    "invalid_choice",
                    format!(
                        "Unknown role {role:?}; expected some of: {}.",
                        self.auth.inner.roles.roles().collect::<Vec<_>>().join(", ")
                    ),
                ));
            } else if !wanted.contains(role) {
                wanted.push(role.clone());
            }
        }
        if !errors.is_empty() {
            return Err(AuthError::Validation(errors));
        }
        let before = self.auth.user(user_id).await?.roles;
        let changed = wanted
            .iter()
            .filter(|r| !before.contains(r))
            .chain(before.iter().filter(|r| !wanted.contains(r)));
        for role in changed {
            if !self
                .auth
                .inner
                .roles
                .is_covered_by(role, &actor.permissions)
            {
                return Err(AuthError::Forbidden);
            }
        }
        let user = self
            .auth
            .edit_user(user_id, UserUpdate::Roles(wanted.clone()))
            .await?;
        self.auth
            .emit(
                AuthEvent::RolesAssigned {
                    actor_id: principal.user_id,
                    user_id,
                    from: before,
                    to: wanted,
                },
                meta,
            )
            .await?;
        Ok(admin_view(&user))
    }

    /// An account's live sessions, newest first (needs
    /// `internal.users.read`).
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`.
    pub async fn user_sessions(
        self,
        principal: &Principal,
        user_id: Uuid,
    ) -> AuthResult<Vec<SessionView>> {
        require_permission(principal, USERS_READ)?;
        self.auth.user(user_id).await?;
        let now = self.auth.now();
        let idle = self.auth.inner.config.session_idle_timeout;
        Ok(self
            .auth
            .inner
            .store
            .sessions
            .sessions_for_user(user_id, now)
            .await?
            .iter()
            .filter(|s| s.is_live(now, idle))
            .map(|s| s.view(Some(principal.session_id)))
            .collect())
    }

    /// Revokes one session of an account, or every one when `session_id`
    /// is `None` (needs `internal.users.write`, held now; without
    /// `internal.roles.assign`, only on an account whose permissions the
    /// administrator all holds), exactly as logout does:
    /// refresh fails, introspection answers inactive, and the sessions'
    /// access tokens are refused by [`authenticate`](crate::Auth::authenticate)
    /// (so on `/me` and every host route) at once. Answers how many ended.
    ///
    /// # Errors
    /// `Forbidden` (also for an administrator demoted, deactivated or
    /// locked since the token was signed, or an account that outranks
    /// them), `NotFound` (account, or not a live session of it).
    pub async fn revoke_sessions(
        self,
        principal: &Principal,
        user_id: Uuid,
        session_id: Option<Uuid>,
        meta: &RequestMeta,
    ) -> AuthResult<u64> {
        let actor = self.auth.admin_actor(principal, USERS_WRITE).await?;
        self.auth.admin_target(&actor, user_id).await?;
        let count = match session_id {
            Some(id) => {
                if !self
                    .auth
                    .inner
                    .store
                    .sessions
                    .revoke_session(user_id, id, self.auth.now(), REVOKED_BY_ADMIN)
                    .await?
                {
                    return Err(AuthError::NotFound);
                }
                self.auth.forget_sessions(&[id]).await;
                1
            }
            None => {
                self.auth
                    .end_sessions(user_id, None, REVOKED_BY_ADMIN)
                    .await?
            }
        };
        self.auth
            .emit(
                AuthEvent::SessionsRevokedByAdmin {
                    actor_id: principal.user_id,
                    user_id,
                    count,
                },
                meta,
            )
            .await?;
        Ok(count)
    }

    /// The audit log, newest first, filtered, one page (needs
    /// `internal.audit.read`).
    ///
    /// # Errors
    /// `Forbidden`.
    pub async fn audit(
        self,
        principal: &Principal,
        filter: AuditFilter,
        page: u32,
        per_page: u32,
    ) -> AuthResult<Page<AuditRecord>> {
        require_permission(principal, AUDIT_READ)?;
        let (offset, limit) = Page::<AuditRecord>::window(page, per_page);
        let records = self
            .auth
            .inner
            .store
            .audit
            .audit_records(&AuditQuery {
                user_id: filter.user_id,
                event: filter.event,
                since: filter.since,
                until: filter.until,
                offset,
                limit,
            })
            .await?;
        Ok(Page::from_fetched(records, page, per_page))
    }

    /// Creates an administrator without any request or permission check:
    /// the bootstrap of the first `SYSTEM_ADMIN` (`createsuperuser`), for
    /// CLIs and set-up jobs. The email is marked verified, the password
    /// policy applies, registration settings do not, and an existing
    /// email is refused (`EmailTaken`). Audited as `admin_created`.
    ///
    /// # Errors
    /// `Validation` (email, roles), `PasswordTooWeak`, `EmailTaken`.
    pub async fn create_admin(self, input: NewAdmin) -> AuthResult<User> {
        let email = Email::parse(&input.email)?;
        let display_name = match input.display_name.as_deref() {
            Some(name) => crate::account::clean_display_name(name)?,
            None => None,
        };
        let mut roles: Vec<String> = Vec::new();
        for role in &input.roles {
            if !self.auth.inner.roles.has_role(role) {
                return Err(AuthError::invalid_field(
                    "roles",
                    "invalid_choice",
                    format!("Unknown role {role:?}."),
                ));
            }
            if !roles.contains(role) {
                roles.push(role.clone());
            }
        }
        let mut context = vec![email.as_str()];
        if let Some((local, _)) = email.as_str().split_once('@') {
            context.push(local);
        }
        if let Some(name) = &display_name {
            context.push(name);
        }
        self.auth
            .inner
            .config
            .password_policy
            .validate(&input.password, &context)?;
        let now = self.auth.now();
        let mut user = User::new(email, now);
        user.password_hash = Some(self.auth.inner.hasher.hash(&input.password).await?);
        user.password_changed_at = Some(now);
        user.email_verified_at = Some(now);
        user.display_name = display_name;
        user.roles = roles;
        self.auth.inner.store.users.create_user(&user).await?;
        self.auth
            .emit(
                AuthEvent::AdminCreated {
                    user_id: user.id,
                    roles: user.roles.clone(),
                },
                &RequestMeta::default(),
            )
            .await?;
        Ok(user)
    }
}

impl Account<'_> {
    /// The caller's own security events, newest first, one page.
    ///
    /// # Errors
    /// Store errors.
    pub async fn audit(
        self,
        principal: &Principal,
        page: u32,
        per_page: u32,
    ) -> AuthResult<Page<AuditRecord>> {
        let (offset, limit) = Page::<AuditRecord>::window(page, per_page);
        let records = self
            .auth
            .inner
            .store
            .audit
            .audit_records(&AuditQuery {
                user_id: Some(principal.user_id),
                offset,
                limit,
                ..AuditQuery::default()
            })
            .await?;
        Ok(Page::from_fetched(records, page, per_page))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_fetch_one_more_to_know_the_next() {
        assert_eq!(Page::<u8>::window(1, 10), (0, 11));
        assert_eq!(Page::<u8>::window(3, 10), (20, 11));
        assert_eq!(Page::<u8>::window(0, 0), (0, 2), "clamped");
        assert_eq!(Page::<u8>::window(2, 1000), (100, 101), "clamped");
        let p = Page::from_fetched(vec![1, 2, 3], 2, 2);
        assert_eq!((p.items, p.next_page), (vec![1, 2], Some(3)));
        let last = Page::from_fetched(vec![1], 4, 2);
        assert_eq!((last.items, last.next_page), (vec![1], None));
    }

    #[test]
    fn lock_reasons_are_trimmed_bounded_and_printable() {
        assert_eq!(lock_reason(None).unwrap(), None);
        assert_eq!(lock_reason(Some("  ")).unwrap(), None);
        assert_eq!(
            lock_reason(Some(" chargeback ")).unwrap().as_deref(),
            Some("chargeback")
        );
        let longest = "é".repeat(MAX_LOCK_REASON);
        assert_eq!(lock_reason(Some(&longest)).unwrap(), Some(longest.clone()));
        for bad in [
            format!("{longest}x"),
            "a\u{0}b".to_owned(),
            "a\nb".to_owned(),
        ] {
            assert!(
                matches!(lock_reason(Some(&bad)), Err(AuthError::Validation(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn an_indefinite_lock_fits_every_store() {
        assert_eq!(indefinitely().to_rfc3339(), "9999-12-31T00:00:00+00:00");
    }
}
