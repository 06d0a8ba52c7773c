//! Roles and the permissions they grant. A role is a named set of
//! permission strings (Django's "groups").
//!
//! Two maps are in force, and their permissions never mix:
//!
//! - **global** roles sit on the account (`END_USER`, `STAFF`,
//!   `DATA_ADMIN`, `SYSTEM_ADMIN` by default, see [`RoleMap::default`]);
//!   their permissions are checked with
//!   [`require_permission`](crate::require_permission);
//! - **organisation** roles sit on a membership (`OWNER`, `ADMIN`,
//!   `MEMBER` by default, see [`RoleMap::org_default`]); their permissions
//!   are checked with
//!   [`require_org_permission`](crate::require_org_permission) for one
//!   organisation at a time.
//!
//! Hosts declare their own roles in code ([`RoleMap::with_role`]) or in a
//! JSON document ([`RoleMap::from_json`]) and hand both maps to
//! [`AuthBuilder`](crate::AuthBuilder). The maps live in configuration,
//! not in the store: the store keeps only role *names* (on accounts and
//! memberships), so starting with a changed map is the whole "sync" —
//! idempotent by construction, and a role's new permissions reach tokens
//! at their next refresh. A stored role name the map no longer declares
//! grants nothing.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{AuthError, AuthResult};

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
/// Permission to introspect tokens (`POST /token/introspect` with a bearer
/// token): for the service accounts of resource servers.
pub const TOKENS_INTROSPECT: &str = "internal.tokens.introspect";

/// Permission to see an organisation and its settings.
pub const ORG_VIEW: &str = "org.view";
/// Permission to rename an organisation.
pub const ORG_UPDATE: &str = "org.update";
/// Permission to list an organisation's members.
pub const MEMBER_VIEW: &str = "member.view";
/// Permission to invite members and manage pending invitations.
pub const MEMBER_INVITE: &str = "member.invite";
/// Permission to change a member's organisation role.
pub const MEMBER_ROLE_CHANGE: &str = "member.role.change";
/// Permission to remove a member.
pub const MEMBER_REMOVE: &str = "member.remove";

/// The organisation role of an organisation's creator. An organisation
/// always keeps at least one; only an owner grants it, or changes or
/// removes another owner.
pub const OWNER: &str = "OWNER";
/// The default role of organisation administrators.
pub const ADMIN: &str = "ADMIN";
/// The default organisation role of invited members.
pub const MEMBER: &str = "MEMBER";
/// The global role with every internal permission; what
/// [`Admin::create_admin`](crate::admin::Admin::create_admin) grants.
pub const SYSTEM_ADMIN: &str = "SYSTEM_ADMIN";

impl Default for RoleMap {
    /// `END_USER`: nothing; `STAFF`: dashboard, users.read;
    /// `DATA_ADMIN`: STAFF + audit.read; `SYSTEM_ADMIN`: every internal
    /// permission (tokens.introspect included). A resource server that
    /// introspects with a bearer token gets a role of its own holding
    /// [`TOKENS_INTROSPECT`] only.
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
                    TOKENS_INTROSPECT,
                ],
            )
    }
}

impl RoleMap {
    /// The default organisation roles: `OWNER` has every organisation
    /// permission; `ADMIN` the same (only the owner rules of
    /// [`OWNER`] set them apart); `MEMBER` sees the organisation and its
    /// members.
    ///
    /// | role | org.view | org.update | member.view | member.invite | member.role.change | member.remove |
    /// | --- | --- | --- | --- | --- | --- | --- |
    /// | OWNER | ✓ | ✓ | ✓ | ✓ | ✓ | ✓ |
    /// | ADMIN | ✓ | ✓ | ✓ | ✓ | ✓ | ✓ |
    /// | MEMBER | ✓ | | ✓ | | | |
    pub fn org_default() -> Self {
        let all = [
            ORG_VIEW,
            ORG_UPDATE,
            MEMBER_VIEW,
            MEMBER_INVITE,
            MEMBER_ROLE_CHANGE,
            MEMBER_REMOVE,
        ];
        Self::new()
            .with_role(OWNER, all)
            .with_role(ADMIN, all)
            .with_role(MEMBER, [ORG_VIEW, MEMBER_VIEW])
    }

    /// Reads roles from JSON: an object of role name to permission list,
    /// e.g. `{"SUPPORT": ["internal.users.read"], "AUDITOR": ["internal.audit.read"]}`.
    /// Merge it into the defaults with [`merge`](Self::merge).
    ///
    /// # Errors
    /// `Internal` (a start-up error) for malformed JSON or an invalid role or
    /// permission name.
    pub fn from_json(text: &str) -> AuthResult<Self> {
        let roles: BTreeMap<String, BTreeSet<String>> = serde_json::from_str(text)
            .map_err(|e| AuthError::internal_with("invalid role map", e))?;
        for (role, perms) in &roles {
            if !valid_name(role) {
                return Err(AuthError::internal_msg(format!(
                    "invalid role name {role:?}"
                )));
            }
            if let Some(perm) = perms.iter().find(|p| !valid_name(p)) {
                return Err(AuthError::internal_msg(format!(
                    "invalid permission name {perm:?} in role {role}"
                )));
            }
        }
        Ok(Self { roles })
    }

    /// This map with every role of `other` added (or replaced).
    #[must_use]
    pub fn merge(mut self, other: RoleMap) -> Self {
        self.roles.extend(other.roles);
        self
    }

    /// Whether `role` is declared.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.contains_key(role)
    }

    /// Whether every permission of `role` is among `held` (undeclared roles
    /// grant nothing, so they are always covered).
    pub fn is_covered_by(&self, role: &str, held: &[String]) -> bool {
        self.roles
            .get(role)
            .is_none_or(|perms| perms.iter().all(|p| held.iter().any(|h| h == p)))
    }

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

/// Role and permission names: 1 to 100 printable ASCII characters
/// without spaces.
fn valid_name(name: &str) -> bool {
    (1..=100).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_graphic())
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
        let system = map.permissions_for(&[SYSTEM_ADMIN.into()]);
        assert!(system.iter().any(|p| p == TOKENS_INTROSPECT));
        for role in ["END_USER", "STAFF", "DATA_ADMIN"] {
            let granted = map.permissions_for(&[role.into()]);
            assert!(!granted.iter().any(|p| p == TOKENS_INTROSPECT), "{role}");
        }
    }

    #[test]
    fn org_roles_are_a_separate_map() {
        let org = RoleMap::org_default();
        assert!(org.has_role(OWNER) && org.has_role(ADMIN) && org.has_role(MEMBER));
        assert!(!org.has_role("SYSTEM_ADMIN"));
        assert_eq!(
            org.permissions_for(&[MEMBER.into()]),
            vec![MEMBER_VIEW, ORG_VIEW]
        );
        let admin = org.permissions_for(&[ADMIN.into()]);
        assert!(org.is_covered_by(MEMBER, &admin));
        assert!(!org.is_covered_by(ADMIN, &org.permissions_for(&[MEMBER.into()])));
        assert!(org.is_covered_by("UNDECLARED", &[]));
    }

    #[test]
    fn roles_load_from_json_and_merge() {
        let extra = RoleMap::from_json(
            r#"{"SUPPORT": ["internal.users.read"], "STAFF": ["internal.dashboard.view"]}"#,
        )
        .unwrap();
        let map = RoleMap::default().merge(extra);
        assert_eq!(map.roles().count(), 5);
        assert_eq!(
            map.permissions_for(&["STAFF".into()]),
            vec![DASHBOARD_VIEW],
            "a declared role replaces the default"
        );
        for bad in [
            "[]",
            "{",
            r#"{"A": "x"}"#,
            r#"{"": ["x"]}"#,
            r#"{"A B": ["x"]}"#,
            r#"{"A": ["x y"]}"#,
        ] {
            assert!(RoleMap::from_json(bad).is_err(), "{bad}");
        }
    }
}
