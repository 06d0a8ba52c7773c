//! The user account.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::email::{Email, Phone};
use utoipa::ToSchema;

/// The global role every new account gets.
pub const DEFAULT_ROLE: &str = "END_USER";

/// An administrator's lock on an account: it refuses every sign-in, ends
/// the account's sessions, and is lifted only by an administrator's unlock
/// (or when `until` passes), never by a password reset or a successful
/// login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AdminLock {
    /// When the lock ends; an indefinite lock ends in year 9999.
    pub until: DateTime<Utc>,
    /// Why the account was locked, as the administrator wrote it.
    pub reason: Option<String>,
    /// The administrator who locked the account (`None` for locks set
    /// outside the admin API, e.g. carried over from before the two locks
    /// were kept apart).
    pub actor_id: Option<Uuid>,
    /// When the lock was set.
    pub locked_at: DateTime<Utc>,
}

impl AdminLock {
    /// Whether the lock is in force at `now`.
    pub fn in_force(&self, now: DateTime<Utc>) -> bool {
        self.until > now
    }
}

/// A user account as stored.
///
/// The password hash is `None` for accounts that only sign in through a
/// social provider. An account has two locks that never stand in for each
/// other: the failure lock (`failed_login_count`, `last_failed_login_at`,
/// `locked_until`), owned by the store's atomic counter methods
/// ([`UserStore::record_login_failure`]) and cleared by a successful login
/// or a password reset; and the administrator's lock (`admin_lock`),
/// set and lifted only through [`UserAdminStore`]. Neither is written by
/// [`UserStore::update_user`].
///
/// [`UserStore::record_login_failure`]: crate::store::UserStore::record_login_failure
/// [`UserStore::update_user`]: crate::store::UserStore::update_user
/// [`UserAdminStore`]: crate::store::UserAdminStore
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// UUID v7 (time-ordered).
    pub id: Uuid,
    /// Normalized, unique email address.
    pub email: Email,
    /// When the email address was proven, if it was.
    pub email_verified_at: Option<DateTime<Utc>>,
    /// Phone number in E.164 form.
    pub phone: Option<Phone>,
    /// When the phone number was proven, if it was.
    pub phone_verified_at: Option<DateTime<Utc>>,
    /// argon2id PHC string (or an imported legacy hash); `None` for
    /// social-only accounts.
    pub password_hash: Option<String>,
    /// Name shown in the UI.
    pub display_name: Option<String>,
    /// Avatar image URL.
    pub avatar_url: Option<String>,
    /// `false` once the account is deactivated.
    pub is_active: bool,
    /// Set when the user must choose a new password before anything else.
    pub must_change_password: bool,
    /// When the password was last set.
    pub password_changed_at: Option<DateTime<Utc>>,
    /// Consecutive failed logins within the lockout window.
    pub failed_login_count: u32,
    /// When the last failed login happened.
    pub last_failed_login_at: Option<DateTime<Utc>>,
    /// The failure lock: the account refuses new logins until this time
    /// (its sessions live on).
    pub locked_until: Option<DateTime<Utc>>,
    /// The administrator's lock, if one was set and not lifted.
    pub admin_lock: Option<AdminLock>,
    /// Global role names (e.g. `END_USER`, `STAFF`).
    pub roles: Vec<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last modification time.
    pub updated_at: DateTime<Utc>,
}

impl User {
    /// A fresh, active, unverified account with the default role.
    pub fn new(email: Email, now: DateTime<Utc>) -> Self {
        Self {
            id: Uuid::now_v7(),
            email,
            email_verified_at: None,
            phone: None,
            phone_verified_at: None,
            password_hash: None,
            display_name: None,
            avatar_url: None,
            is_active: true,
            must_change_password: false,
            password_changed_at: None,
            failed_login_count: 0,
            last_failed_login_at: None,
            locked_until: None,
            admin_lock: None,
            roles: vec![DEFAULT_ROLE.to_owned()],
            created_at: now,
            updated_at: now,
        }
    }

    /// Whether the email address has been verified.
    pub fn email_verified(&self) -> bool {
        self.email_verified_at.is_some()
    }

    /// Whether the phone number has been verified.
    pub fn phone_verified(&self) -> bool {
        self.phone.is_some() && self.phone_verified_at.is_some()
    }

    /// Whether any lock (failed logins or an administrator's) is in force
    /// at `now`: new sign-ins are refused.
    pub fn is_locked(&self, now: DateTime<Utc>) -> bool {
        self.is_failure_locked(now) || self.is_admin_locked(now)
    }

    /// Whether the failure lock is in force at `now`. It refuses new
    /// sign-ins but leaves existing sessions alive, so that someone who
    /// only knows the address cannot sign its owner out.
    pub fn is_failure_locked(&self, now: DateTime<Utc>) -> bool {
        self.locked_until.is_some_and(|until| until > now)
    }

    /// Whether an administrator's lock is in force at `now`: sign-ins are
    /// refused and sessions end.
    pub fn is_admin_locked(&self, now: DateTime<Utc>) -> bool {
        self.admin_lock
            .as_ref()
            .is_some_and(|lock| lock.in_force(now))
    }

    /// When the locks in force at `now` end (the later one), if any.
    pub fn lock_ends(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let failure = self.locked_until.filter(|until| *until > now);
        let admin = self
            .admin_lock
            .as_ref()
            .map(|lock| lock.until)
            .filter(|until| *until > now);
        failure.max(admin)
    }

    /// The public view of this account (no secrets, no counters).
    pub fn profile(&self) -> Profile {
        Profile {
            id: self.id,
            email: self.email.as_str().to_owned(),
            email_verified: self.email_verified(),
            phone: self.phone.as_ref().map(|p| p.as_str().to_owned()),
            phone_verified: self.phone_verified(),
            display_name: self.display_name.clone(),
            avatar_url: self.avatar_url.clone(),
            is_active: self.is_active,
            created_at: self.created_at,
        }
    }
}

/// What an account looks like to its owner and to API clients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Profile {
    /// Account id.
    pub id: Uuid,
    /// Normalized email address.
    pub email: String,
    /// Whether the email is verified.
    pub email_verified: bool,
    /// E.164 phone number.
    pub phone: Option<String>,
    /// Whether the phone is verified.
    pub phone_verified: bool,
    /// Display name.
    pub display_name: Option<String>,
    /// Avatar URL.
    pub avatar_url: Option<String>,
    /// Whether the account is active.
    pub is_active: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_users_are_active_unverified_end_users() {
        let now = Utc::now();
        let user = User::new(Email::parse("a@example.com").unwrap(), now);
        assert!(user.is_active);
        assert!(!user.email_verified());
        assert_eq!(user.roles, vec![DEFAULT_ROLE]);
        assert_eq!(user.id.get_version_num(), 7);
        assert!(!user.is_locked(now));
    }

    #[test]
    fn profile_carries_no_secret() {
        let mut user = User::new(Email::parse("a@example.com").unwrap(), Utc::now());
        user.password_hash = Some("$argon2id$secret".into());
        let json = serde_json::to_string(&user.profile()).unwrap();
        assert!(!json.contains("argon2"));
        assert!(json.contains("a@example.com"));
    }

    #[test]
    fn the_two_locks_are_told_apart() {
        let now = Utc::now();
        let mut user = User::new(Email::parse("a@example.com").unwrap(), now);
        user.locked_until = Some(now + chrono::Duration::minutes(15));
        assert!(user.is_locked(now) && user.is_failure_locked(now));
        assert!(!user.is_admin_locked(now));
        assert_eq!(user.lock_ends(now), user.locked_until);

        let until = now + chrono::Duration::days(1);
        user.admin_lock = Some(AdminLock {
            until,
            reason: Some("fraud".into()),
            actor_id: None,
            locked_at: now,
        });
        assert!(user.is_admin_locked(now));
        assert_eq!(user.lock_ends(now), Some(until), "the later end");
        user.locked_until = None;
        assert!(user.is_locked(now) && !user.is_failure_locked(now));
        assert!(!user.is_locked(until), "a lock ends at its end");
        assert_eq!(user.lock_ends(until), None);
    }

    #[test]
    fn a_phone_counts_as_verified_only_when_present_and_proven() {
        let now = Utc::now();
        let mut user = User::new(Email::parse("a@example.com").unwrap(), now);
        user.phone_verified_at = Some(now);
        assert!(!user.phone_verified());
        user.phone = Some(Phone::parse("+14155550123").unwrap());
        assert!(user.phone_verified());
    }
}
