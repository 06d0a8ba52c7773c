//! [`UserAdminStore`]: what the admin API needs beyond [`UserStore`]:
//! searching accounts and locking them.
//!
//! [`UserStore`]: crate::store::UserStore

use crate::store::declare::store_trait;
use uuid::Uuid;

use crate::error::AuthResult;
use crate::user::{AdminLock, User};

store_trait! {
    /// Account administration.
    pub trait UserAdminStore: "user_admin" {
        /// Accounts whose email or display name contains `query` (compared
        /// lower-case; `None` or empty lists everyone), oldest first, skipping
        /// `offset`, at most `limit`. `%`, `_` and `\` in the query match
        /// themselves.
        async fn search_users(
            &self,
            query: Option<&str>,
            offset: u64,
            limit: u32,
        ) -> AuthResult<Vec<User>>;

        /// Sets (or replaces) the account's administrator lock, leaving the
        /// failure counter and the failure lock alone. Neither
        /// [`UserStore::clear_login_failures`] nor any
        /// [`UserStore::update_user`] lifts it; [`unlock_user`](Self::unlock_user)
        /// does. `NotFound` if absent.
        ///
        /// [`UserStore::clear_login_failures`]: crate::store::UserStore::clear_login_failures
        /// [`UserStore::update_user`]: crate::store::UserStore::update_user
        async fn lock_user(&self, user_id: Uuid, lock: &AdminLock) -> AuthResult<()>
        => changes(user_id);

        /// Lifts the administrator lock and, in the same atomic step, clears
        /// the failure count and the failure lock. `NotFound` if absent.
        async fn unlock_user(&self, user_id: Uuid) -> AuthResult<()> => changes(user_id);
    }
}
