//! Accounts, indexed by id, email and phone.

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::{MemoryStore, lock};
use crate::email::{Email, Phone};
use crate::error::{AuthError, AuthResult};
use crate::store::{FailureState, LockoutPolicy, UserStore, UserUpdate};
use crate::user::User;

/// Accounts with their email and phone indexes, kept in step by
/// [`UserTable::insert`] and [`UserTable::remove`].
#[derive(Debug, Default)]
pub(crate) struct UserTable {
    by_id: HashMap<Uuid, User>,
    by_email: HashMap<Email, Uuid>,
    /// Every account with a phone, verified or not; ids sort by creation.
    by_phone: HashMap<Phone, BTreeSet<Uuid>>,
}

impl UserTable {
    fn insert(&mut self, user: User) {
        self.by_email.insert(user.email.clone(), user.id);
        if let Some(phone) = &user.phone {
            self.by_phone
                .entry(phone.clone())
                .or_default()
                .insert(user.id);
        }
        self.by_id.insert(user.id, user);
    }

    fn remove(&mut self, id: Uuid) -> Option<User> {
        let user = self.by_id.remove(&id)?;
        self.by_email.remove(&user.email);
        if let Some(phone) = &user.phone
            && let Some(ids) = self.by_phone.get_mut(phone)
        {
            ids.remove(&id);
            if ids.is_empty() {
                self.by_phone.remove(phone);
            }
        }
        Some(user)
    }

    /// Every account, in no particular order.
    pub(crate) fn all(&self) -> impl Iterator<Item = &User> {
        self.by_id.values()
    }

    /// The account with this id, to change fields that no index covers.
    pub(crate) fn get_mut(&mut self, id: Uuid) -> Option<&mut User> {
        self.by_id.get_mut(&id)
    }

    /// The account with this id.
    pub(crate) fn get(&self, id: Uuid) -> Option<&User> {
        self.by_id.get(&id)
    }
}

/// Clears the failure count and the failure lock (not an admin lock).
pub(crate) fn clear_failures(user: &mut User) {
    user.failed_login_count = 0;
    user.last_failed_login_at = None;
    user.locked_until = None;
}

/// `at + by`, saturating at the ends of the representable range.
fn saturating_add(at: DateTime<Utc>, by: Duration) -> DateTime<Utc> {
    at.checked_add_signed(by)
        .unwrap_or(if by < Duration::zero() {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        })
}

#[async_trait]
impl UserStore for MemoryStore {
    async fn create_user(&self, user: &User) -> AuthResult<()> {
        let mut users = lock(&self.users);
        if users.by_email.contains_key(&user.email) {
            return Err(AuthError::EmailTaken);
        }
        if users.by_id.contains_key(&user.id) {
            return Err(AuthError::internal_msg("duplicate user id"));
        }
        users.insert(user.clone());
        Ok(())
    }

    async fn user_by_id(&self, id: Uuid) -> AuthResult<Option<User>> {
        Ok(lock(&self.users).by_id.get(&id).cloned())
    }

    async fn user_by_email(&self, email: &Email) -> AuthResult<Option<User>> {
        let users = lock(&self.users);
        Ok(users
            .by_email
            .get(email)
            .and_then(|id| users.by_id.get(id))
            .cloned())
    }

    async fn users_by_verified_phone(&self, phone: &Phone) -> AuthResult<Vec<User>> {
        let users = lock(&self.users);
        let Some(ids) = users.by_phone.get(phone) else {
            return Ok(Vec::new());
        };
        Ok(ids
            .iter()
            .filter_map(|id| users.by_id.get(id))
            .filter(|user| user.phone_verified_at.is_some())
            .cloned()
            .collect())
    }

    async fn update_user(
        &self,
        user_id: Uuid,
        update: &UserUpdate,
        now: DateTime<Utc>,
    ) -> AuthResult<bool> {
        let mut users = lock(&self.users);
        if let UserUpdate::Profile {
            phone: Some(phone), ..
        } = update
        {
            let current = users.get(user_id).ok_or(AuthError::NotFound)?;
            if current.phone != *phone {
                // Re-inserted so that the phone index follows.
                let mut moved = users.remove(user_id).ok_or(AuthError::NotFound)?;
                moved.phone.clone_from(phone);
                moved.phone_verified_at = None;
                users.insert(moved);
            }
        }
        let user = users.by_id.get_mut(&user_id).ok_or(AuthError::NotFound)?;
        match update {
            UserUpdate::Password { hash } => {
                user.password_hash = Some(hash.clone());
                user.password_changed_at = Some(now);
                user.must_change_password = false;
            }
            UserUpdate::Rehash { old, new } => {
                if user.password_hash.as_deref() != Some(old.as_str()) {
                    return Ok(false);
                }
                user.password_hash = Some(new.clone());
                return Ok(true);
            }
            UserUpdate::MustChangePassword(on) => user.must_change_password = *on,
            UserUpdate::Active(on) => user.is_active = *on,
            UserUpdate::Roles(roles) => user.roles.clone_from(roles),
            UserUpdate::EmailVerified => {
                if user.email_verified_at.is_some() {
                    return Ok(false);
                }
                user.email_verified_at = Some(now);
            }
            UserUpdate::PhoneVerified(phone) => {
                if user.phone.as_ref() != Some(phone) {
                    return Ok(false);
                }
                user.phone_verified_at = Some(now);
            }
            UserUpdate::Profile {
                display_name,
                avatar_url,
                // Applied above, with the index.
                phone: _,
            } => {
                if let Some(name) = display_name {
                    user.display_name.clone_from(name);
                }
                if let Some(url) = avatar_url {
                    user.avatar_url.clone_from(url);
                }
            }
        }
        user.updated_at = now;
        Ok(true)
    }

    async fn record_login_failure(
        &self,
        user_id: Uuid,
        now: DateTime<Utc>,
        policy: LockoutPolicy,
    ) -> AuthResult<FailureState> {
        let mut users = lock(&self.users);
        let user = users.by_id.get_mut(&user_id).ok_or(AuthError::NotFound)?;
        let restart = user
            .last_failed_login_at
            .is_none_or(|last| now - last > policy.window);
        user.failed_login_count = if restart {
            1
        } else {
            user.failed_login_count.saturating_add(1)
        };
        user.last_failed_login_at = Some(now);
        if user.failed_login_count >= policy.max_failures {
            user.locked_until = Some(saturating_add(now, policy.lock_for));
        }
        Ok(FailureState {
            failures: user.failed_login_count,
            locked_until: user.locked_until.filter(|until| *until > now),
        })
    }

    async fn clear_login_failures(&self, user_id: Uuid) -> AuthResult<()> {
        let mut users = lock(&self.users);
        let user = users.by_id.get_mut(&user_id).ok_or(AuthError::NotFound)?;
        clear_failures(user);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(email: &str) -> User {
        User::new(Email::parse(email).unwrap(), Utc::now())
    }

    #[tokio::test]
    async fn a_duplicate_id_is_refused_without_touching_the_indexes() {
        let store = MemoryStore::new();
        let first = user("a@example.com");
        store.create_user(&first).await.unwrap();
        let clash = User {
            email: Email::parse("b@example.com").unwrap(),
            ..first.clone()
        };
        assert!(matches!(
            store.create_user(&clash).await,
            Err(AuthError::Internal(_))
        ));
        assert_eq!(store.user_by_email(&clash.email).await.unwrap(), None);
        assert_eq!(store.user_by_id(first.id).await.unwrap(), Some(first));
    }

    #[tokio::test]
    async fn changing_the_phone_leaves_no_stale_index_entry() {
        let store = MemoryStore::new();
        let mut u = user("a@example.com");
        u.phone = Some(Phone::parse("+14155550123").unwrap());
        store.create_user(&u).await.unwrap();
        let phone = Phone::parse("+14155550999").unwrap();
        let change = UserUpdate::Profile {
            display_name: None,
            avatar_url: None,
            phone: Some(Some(phone.clone())),
        };
        store.update_user(u.id, &change, Utc::now()).await.unwrap();

        let table = lock(&store.users);
        assert_eq!(table.by_email.len(), 1);
        assert_eq!(table.by_phone.len(), 1);
        assert!(table.by_phone.contains_key(&phone));
    }

    #[tokio::test]
    async fn extreme_lock_durations_saturate_instead_of_overflowing() {
        let store = MemoryStore::new();
        let u = user("a@example.com");
        store.create_user(&u).await.unwrap();
        let policy = LockoutPolicy {
            max_failures: 1,
            window: Duration::MAX,
            lock_for: Duration::MAX,
        };
        let state = store
            .record_login_failure(u.id, DateTime::<Utc>::MAX_UTC - Duration::days(1), policy)
            .await
            .unwrap();
        assert_eq!(state.locked_until, Some(DateTime::<Utc>::MAX_UTC));

        let state = store
            .record_login_failure(u.id, DateTime::<Utc>::MIN_UTC, policy)
            .await
            .unwrap();
        assert_eq!(state.failures, 2, "a failure before the last one adds up");
        assert_eq!(
            saturating_add(DateTime::<Utc>::MIN_UTC, Duration::MIN),
            DateTime::<Utc>::MIN_UTC
        );
    }
}
