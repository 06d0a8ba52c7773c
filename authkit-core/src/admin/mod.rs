//! The admin API: account search and view, the administrator's lock,
//! deactivation, global roles, forced password change, sessions of any
//! account, the audit log, the bootstrap of the first administrator, and
//! importing accounts from another system.
//!
//! Its store capability is [`UserAdminStore`].

mod actor;
#[cfg(feature = "testing")]
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub(crate) mod conformance;
mod import;
pub(crate) mod memory;
pub(crate) mod routes;
mod service;
mod store;

pub use import::ImportedUser;
pub use service::{
    Admin, AdminUser, AdminUserDetail, AuditFilter, MAX_LOCK_REASON, MAX_PER_PAGE, NewAdmin, Page,
};
pub use store::UserAdminStore;
