//! The authenticated caller, and the permission guards that check it
//! without a store round trip.
//!
//! Global and organisation permissions are kept apart and never satisfy
//! each other: [`require_permission`], [`require_any`] and [`require_all`]
//! look at the global permissions only, [`require_org_permission`] at the
//! permissions of one organisation's membership only. Both come from the
//! access token, so a role change reaches them at the next refresh.
//!
//! ```
//! use authkit_core::principal::{OrgGrant, Principal};
//! use authkit_core::{AuthError, require_org_permission, require_permission};
//!
//! let mut principal = Principal::default();
//! principal.orgs.push(OrgGrant {
//!     slug: "acme".into(),
//!     role: "ADMIN".into(),
//!     permissions: vec!["member.invite".into()],
//! });
//! require_org_permission(&principal, "acme", "member.invite")?;
//! // Not a member of `globex`: it does not exist as far as the caller knows.
//! assert!(matches!(
//!     require_org_permission(&principal, "globex", "member.invite"),
//!     Err(AuthError::NotFound)
//! ));
//! // An organisation permission is no global permission.
//! assert!(matches!(
//!     require_permission(&principal, "member.invite"),
//!     Err(AuthError::Forbidden)
//! ));
//! # Ok::<(), AuthError>(())
//! ```

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::{AuthError, AuthResult};
use crate::roles::RoleMap;
use crate::token::AccessClaims;

/// Who is calling: built from a verified access token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Principal {
    /// The account.
    pub user_id: Uuid,
    /// The session the token belongs to.
    pub session_id: Uuid,
    /// Global roles at the time the token was issued.
    pub roles: Vec<String>,
    /// Global permissions at the time the token was issued.
    pub permissions: Vec<String>,
    /// When the access token expires.
    pub expires_at: DateTime<Utc>,
    /// The token id (`jti`).
    pub token_id: String,
    /// Organisation memberships at the time the token was issued, with the
    /// permissions their roles grant.
    pub orgs: Vec<OrgGrant>,
}

/// One organisation membership of a [`Principal`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrgGrant {
    /// The organisation's slug.
    pub slug: String,
    /// The organisation role.
    pub role: String,
    /// What the role allows in this organisation only.
    pub permissions: Vec<String>,
}

impl Principal {
    /// Builds a principal from verified claims, resolving the organisation
    /// roles of the `orgs` claim with `org_roles`.
    ///
    /// # Errors
    /// `TokenInvalid` when `sub` or `sid` is not a UUID.
    pub fn from_claims(claims: &AccessClaims, org_roles: &RoleMap) -> AuthResult<Self> {
        let user_id = Uuid::parse_str(&claims.sub).map_err(|_| AuthError::TokenInvalid)?;
        let session_id = Uuid::parse_str(&claims.sid).map_err(|_| AuthError::TokenInvalid)?;
        let expires_at = DateTime::from_timestamp(claims.exp, 0).ok_or(AuthError::TokenInvalid)?;
        Ok(Self {
            user_id,
            session_id,
            roles: claims.roles.clone(),
            permissions: claims.permissions.clone(),
            expires_at,
            token_id: claims.jti.clone(),
            orgs: claims
                .orgs
                .iter()
                .map(|(slug, role)| OrgGrant {
                    slug: slug.clone(),
                    role: role.clone(),
                    permissions: org_roles.permissions_for(std::slice::from_ref(role)),
                })
                .collect(),
        })
    }

    /// The caller's membership of the organisation `slug`, if any.
    pub fn org(&self, slug: &str) -> Option<&OrgGrant> {
        self.orgs.iter().find(|g| g.slug == slug)
    }

    /// Whether the principal holds the global permission `perm`.
    pub fn has_permission(&self, perm: &str) -> bool {
        self.permissions.iter().any(|p| p == perm)
    }

    /// Whether the principal has the global role `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

/// Succeeds when `principal` holds the global permission `perm`.
///
/// ```
/// # use authkit_core::principal::{require_permission, Principal};
/// # let principal = Principal { permissions: vec!["internal.users.read".into()],
/// #     ..Principal::default() };
/// require_permission(&principal, "internal.users.read")?;
/// assert!(require_permission(&principal, "internal.users.write").is_err());
/// # Ok::<(), authkit_core::AuthError>(())
/// ```
///
/// # Errors
/// [`AuthError::Forbidden`] otherwise.
pub fn require_permission(principal: &Principal, perm: &str) -> AuthResult<()> {
    if principal.has_permission(perm) {
        Ok(())
    } else {
        Err(AuthError::Forbidden)
    }
}

/// Succeeds when `principal` holds at least one of `perms`.
///
/// # Errors
/// [`AuthError::Forbidden`] otherwise (also for an empty list).
pub fn require_any(principal: &Principal, perms: &[&str]) -> AuthResult<()> {
    if perms.iter().any(|p| principal.has_permission(p)) {
        Ok(())
    } else {
        Err(AuthError::Forbidden)
    }
}

/// Succeeds when `principal` holds every one of `perms`.
///
/// # Errors
/// [`AuthError::Forbidden`] otherwise.
pub fn require_all(principal: &Principal, perms: &[&str]) -> AuthResult<()> {
    if perms.iter().all(|p| principal.has_permission(p)) {
        Ok(())
    } else {
        Err(AuthError::Forbidden)
    }
}

/// Succeeds when `principal` is a member of the organisation `org` (its
/// slug) whose role grants `perm` there; answers the membership.
///
/// Global permissions never count here, and a membership's permissions
/// never count for another organisation.
///
/// # Errors
/// [`AuthError::NotFound`] when the principal is not a member (the
/// organisation is not disclosed to outsiders), [`AuthError::Forbidden`]
/// when the role lacks `perm`.
pub fn require_org_permission<'p>(
    principal: &'p Principal,
    org: &str,
    perm: &str,
) -> AuthResult<&'p OrgGrant> {
    let grant = principal.org(org).ok_or(AuthError::NotFound)?;
    if grant.permissions.iter().any(|p| p == perm) {
        Ok(grant)
    } else {
        Err(AuthError::Forbidden)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(perms: &[&str]) -> Principal {
        Principal {
            user_id: Uuid::now_v7(),
            session_id: Uuid::now_v7(),
            roles: vec!["STAFF".into()],
            permissions: perms.iter().map(|p| p.to_string()).collect(),
            expires_at: Utc::now(),
            token_id: "t".into(),
            orgs: vec![OrgGrant {
                slug: "acme".into(),
                role: "ADMIN".into(),
                permissions: vec!["member.invite".into(), "org.view".into()],
            }],
        }
    }

    #[test]
    fn org_guards_check_one_organisation() {
        let p = principal(&["internal.users.read"]);
        assert_eq!(
            require_org_permission(&p, "acme", "member.invite")
                .unwrap()
                .role,
            "ADMIN"
        );
        assert!(matches!(
            require_org_permission(&p, "acme", "member.remove"),
            Err(AuthError::Forbidden)
        ));
        assert!(matches!(
            require_org_permission(&p, "globex", "member.invite"),
            Err(AuthError::NotFound)
        ));
        assert!(matches!(
            require_org_permission(&p, "ACME", "org.view"),
            Err(AuthError::NotFound)
        ));
    }

    #[test]
    fn scopes_never_bleed() {
        let p = principal(&["internal.users.read"]);
        // An organisation permission is no global permission...
        assert!(require_permission(&p, "member.invite").is_err());
        assert!(require_any(&p, &["member.invite", "org.view"]).is_err());
        assert!(require_all(&p, &["member.invite"]).is_err());
        // ...and a global permission is no organisation permission, even
        // in an organisation the principal belongs to.
        assert!(matches!(
            require_org_permission(&p, "acme", "internal.users.read"),
            Err(AuthError::Forbidden)
        ));
        let admin = Principal {
            permissions: vec!["internal.users.write".into(), "member.remove".into()],
            orgs: vec![],
            ..p
        };
        assert!(matches!(
            require_org_permission(&admin, "acme", "member.remove"),
            Err(AuthError::NotFound)
        ));
    }

    #[test]
    fn org_roles_resolve_through_the_org_map() {
        let claims = AccessClaims {
            iss: "i".into(),
            aud: "a".into(),
            sub: Uuid::now_v7().to_string(),
            exp: 0,
            iat: 0,
            nbf: 0,
            jti: "j".into(),
            sid: Uuid::now_v7().to_string(),
            roles: vec![],
            permissions: vec![],
            orgs: [
                ("acme".to_owned(), "MEMBER".to_owned()),
                ("x-y".to_owned(), "GONE".to_owned()),
            ]
            .into(),
        };
        let p = Principal::from_claims(&claims, &RoleMap::org_default()).unwrap();
        assert_eq!(
            p.org("acme").unwrap().permissions,
            vec!["member.view", "org.view"]
        );
        assert!(
            p.org("x-y").unwrap().permissions.is_empty(),
            "unknown roles grant nothing"
        );
    }

    #[test]
    fn guards_check_permissions_exactly() {
        let p = principal(&["internal.users.read", "internal.dashboard.view"]);
        assert!(require_permission(&p, "internal.users.read").is_ok());
        assert!(matches!(
            require_permission(&p, "internal.users"),
            Err(AuthError::Forbidden)
        ));
        assert!(require_any(&p, &["x", "internal.users.read"]).is_ok());
        assert!(require_any(&p, &[]).is_err());
        assert!(require_all(&p, &["internal.users.read", "internal.dashboard.view"]).is_ok());
        assert!(require_all(&p, &["internal.users.read", "x"]).is_err());
        assert!(p.has_role("STAFF"));
        assert!(!p.has_role("staff"));
    }

    #[test]
    fn claims_with_bad_ids_are_refused() {
        let claims = AccessClaims {
            iss: "i".into(),
            aud: "a".into(),
            sub: "not-a-uuid".into(),
            exp: 0,
            iat: 0,
            nbf: 0,
            jti: "j".into(),
            sid: Uuid::now_v7().to_string(),
            roles: vec![],
            permissions: vec![],
            orgs: Default::default(),
        };
        assert!(matches!(
            Principal::from_claims(&claims, &RoleMap::org_default()),
            Err(AuthError::TokenInvalid)
        ));
    }
}
