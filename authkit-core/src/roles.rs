//! Global roles and the permissions they grant. A role is a named set of
//! permission strings (Django's "groups").

use std::collections::{BTreeMap, BTreeSet};

/// Maps global role names to permissions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleMap {
    roles: BTreeMap<String, BTreeSet<String>>,
}

/// Permission to view the internal dashboard.
pub const DASHBOARD_VIEW: &str = "internal.dashboard.view";
/// Permission to list and read user accounts.
pub const USERS_READ: &str = "internal.users.read";
/// Permission to lock, unlock and edit user accounts.
pub const USERS_WRITE: &str = "internal.users.write";
/// Permission to assign global roles.
pub const ROLES_ASSIGN: &str = "internal.roles.assign";
/// Permission to read the audit log.
pub const AUDIT_READ: &str = "internal.audit.read";

impl Default for RoleMap {
    /// `END_USER`: nothing; `STAFF`: dashboard, users.read;
    /// `DATA_ADMIN`: STAFF + audit.read; `SYSTEM_ADMIN`: every internal
    /// permission.
    fn default() -> Self {
        Self::new()
            .with_role("END_USER", [] as [&str; 0])
            .with_role("STAFF", [DASHBOARD_VIEW, USERS_READ])
            .with_role("DATA_ADMIN", [DASHBOARD_VIEW, USERS_READ, AUDIT_READ])
            .with_role(
                "SYSTEM_ADMIN",
                [
                    DASHBOARD_VIEW,
                    USERS_READ,
                    USERS_WRITE,
                    ROLES_ASSIGN,
                    AUDIT_READ,
                ],
            )
    }
}

impl RoleMap {
    /// An empty map (no role grants anything).
    pub fn new() -> Self {
        Self {
            roles: BTreeMap::new(),
        }
    }

    /// Declares (or replaces) `role` with `permissions`.
    #[must_use]
    pub fn with_role<I, S>(mut self, role: impl Into<String>, permissions: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.roles.insert(
            role.into(),
            permissions.into_iter().map(Into::into).collect(),
        );
        self
    }

    /// The declared role names.
    pub fn roles(&self) -> impl Iterator<Item = &str> {
        self.roles.keys().map(String::as_str)
    }

    /// The union of the permissions of `roles`, sorted; unknown roles grant
    /// nothing.
    pub fn permissions_for(&self, roles: &[String]) -> Vec<String> {
        let mut out = BTreeSet::new();
        for role in roles {
            if let Some(perms) = self.roles.get(role) {
                out.extend(perms.iter().cloned());
            }
        }
        out.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_are_the_union_of_known_roles() {
        let map = RoleMap::default();
        assert!(map.permissions_for(&["END_USER".into()]).is_empty());
        let staff_admin = map.permissions_for(&["STAFF".into(), "DATA_ADMIN".into()]);
        assert_eq!(staff_admin, vec![AUDIT_READ, DASHBOARD_VIEW, USERS_READ]);
        assert!(map.permissions_for(&["NOPE".into()]).is_empty());
        assert_eq!(map.roles().count(), 4);
    }
}
