//! The user account.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::email::{Email, Phone};

/// The global role every new account gets.
pub const DEFAULT_ROLE: &str = "END_USER";

/// A user account as stored.
///
/// The password hash is `None` for accounts that only sign in through a
/// social provider. The login-failure fields are owned by the store's
/// atomic counter methods ([`UserStore::record_login_failure`]) and are not
/// written by [`UserStore::update_user`].
///
/// [`UserStore::record_login_failure`]: crate::store::UserStore::record_login_failure
/// [`UserStore::update_user`]: crate::store::UserStore::update_user
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
    /// The account refuses logins until this time.
    pub locked_until: Option<DateTime<Utc>>,
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

    /// Whether a lockout is in force at `now`.
    pub fn is_locked(&self, now: DateTime<Utc>) -> bool {
        self.locked_until.is_some_and(|until| until > now)
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
    fn a_phone_counts_as_verified_only_when_present_and_proven() {
        let now = Utc::now();
        let mut user = User::new(Email::parse("a@example.com").unwrap(), now);
        user.phone_verified_at = Some(now);
        assert!(!user.phone_verified());
        user.phone = Some(Phone::parse("+14155550123").unwrap());
        assert!(user.phone_verified());
    }
}
