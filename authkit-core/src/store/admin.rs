//! [`UserAdminStore`]: what the admin API needs beyond [`UserStore`]:
//! searching accounts and locking them.
//!
//! [`UserStore`]: super::UserStore

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::AuthResult;
use crate::user::User;

/// Account administration.
#[async_trait]
pub trait UserAdminStore: Send + Sync {
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

    /// Sets the account's lock (`locked_until`) to `until`, leaving the
    /// failure counter alone; [`UserStore::clear_login_failures`] unlocks.
    /// `NotFound` if absent.
    ///
    /// [`UserStore::clear_login_failures`]: super::UserStore::clear_login_failures
    async fn lock_user(&self, user_id: Uuid, until: DateTime<Utc>) -> AuthResult<()>;
}
