//! Account search and admin locks.

use async_trait::async_trait;
use uuid::Uuid;

use crate::error::{AuthError, AuthResult};
use crate::store::UserAdminStore;
use crate::store::memory::users::clear_failures;
use crate::store::memory::{MemoryStore, lock};
use crate::user::{AdminLock, User};

#[async_trait]
impl UserAdminStore for MemoryStore {
    async fn search_users(
        &self,
        query: Option<&str>,
        offset: u64,
        limit: u32,
    ) -> AuthResult<Vec<User>> {
        let needle = query.map(str::to_lowercase).filter(|q| !q.is_empty());
        let users = lock(&self.users);
        let mut found: Vec<&User> = users
            .all()
            .filter(|u| {
                needle.as_deref().is_none_or(|q| {
                    u.email.as_str().contains(q)
                        || u.display_name
                            .as_deref()
                            .is_some_and(|n| n.to_lowercase().contains(q))
                })
            })
            .collect();
        found.sort_by_key(|u| (u.created_at, u.id));
        Ok(found
            .into_iter()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .cloned()
            .collect())
    }

    async fn lock_user(&self, user_id: Uuid, admin_lock: &AdminLock) -> AuthResult<()> {
        let mut users = lock(&self.users);
        let user = users.get_mut(user_id).ok_or(AuthError::NotFound)?;
        user.admin_lock = Some(admin_lock.clone());
        Ok(())
    }

    async fn unlock_user(&self, user_id: Uuid) -> AuthResult<()> {
        let mut users = lock(&self.users);
        let user = users.get_mut(user_id).ok_or(AuthError::NotFound)?;
        user.admin_lock = None;
        clear_failures(user);
        Ok(())
    }
}
