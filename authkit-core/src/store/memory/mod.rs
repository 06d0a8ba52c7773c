//! In-memory store: every store trait in process memory, for tests, examples
//! and prototyping. Data lives as long as the [`MemoryStore`] value.

mod audit_log;
mod keys;
mod sessions;
mod tokens;
pub(crate) mod users;

use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Every store trait in process memory: tests, examples, prototyping.
///
/// Each aggregate (users, sessions, one-time tokens, audit log, keys, MFA,
/// provider identities, organisations)
/// sits behind its own mutex, held for the span of one call and never across an
/// `.await`, so every trait method is one atomic step. Lookups go through
/// hash indexes and cost O(1).
#[derive(Default)]
pub struct MemoryStore {
    pub(crate) users: Mutex<users::UserTable>,
    pub(crate) sessions: Mutex<sessions::SessionTable>,
    pub(crate) tokens: Mutex<tokens::TokenTable>,
    pub(crate) audit: Mutex<audit_log::AuditLog>,
    pub(crate) keys: Mutex<keys::KeyTable>,
    pub(crate) mfa: Mutex<crate::mfa::memory::MfaTable>,
    pub(crate) identities: Mutex<crate::social::memory::IdentityTable>,
    pub(crate) orgs: Mutex<crate::orgs::memory::OrgTable>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

// Deliberately opaque: the tables hold password hashes and token hashes.
impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

/// Locks a table. No code path panics while holding a table lock, so a
/// poisoned lock (a panic elsewhere in the holding thread) leaves the table
/// consistent and is recovered.
pub(crate) fn lock<T>(table: &Mutex<T>) -> MutexGuard<'_, T> {
    table.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::email::Email;
    use crate::store::UserStore;
    use crate::user::User;

    #[tokio::test]
    async fn a_poisoned_table_is_recovered() {
        let store = std::sync::Arc::new(MemoryStore::new());
        let poisoner = store.clone();
        let joined = std::thread::spawn(move || {
            let _guard = poisoner.users.lock();
            panic!("poison the users table");
        })
        .join();
        assert!(joined.is_err());
        assert!(store.users.is_poisoned());

        let user = User::new(Email::parse("a@example.com").unwrap(), chrono::Utc::now());
        store.create_user(&user).await.unwrap();
        assert_eq!(store.user_by_id(user.id).await.unwrap(), Some(user));
    }

    #[test]
    fn debug_output_shows_no_data() {
        assert_eq!(format!("{:?}", MemoryStore::new()), "MemoryStore { .. }");
    }
}
