//! The authenticated caller, and the permission guards that check it
//! without a store round trip.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::{AuthError, AuthResult};
use crate::token::AccessClaims;

/// Who is calling: built from a verified access token.
#[derive(Debug, Clone, PartialEq, Eq)]
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
}

impl Principal {
    /// Builds a principal from verified claims.
    ///
    /// # Errors
    /// `TokenInvalid` when `sub` or `sid` is not a UUID.
    pub fn from_claims(claims: &AccessClaims) -> AuthResult<Self> {
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
        })
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
/// # let principal = Principal { user_id: uuid::Uuid::nil(), session_id: uuid::Uuid::nil(),
/// #     roles: vec![], permissions: vec!["internal.users.read".into()],
/// #     expires_at: chrono::Utc::now(), token_id: String::new() };
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
        }
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
        };
        assert!(matches!(
            Principal::from_claims(&claims),
            Err(AuthError::TokenInvalid)
        ));
    }
}
