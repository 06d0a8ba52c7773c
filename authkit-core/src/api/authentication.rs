//! What adapters share to protect the host application's own routes: the
//! outcome of authenticating a request, and permissions named as types.

use crate::error::AuthError;
use crate::principal::{OrgGrant, Principal};

/// The path parameter the adapters' organisation guards read the slug
/// from, unless told another (`/orgs/{slug}/...`).
pub const ORG_SLUG_PARAM: &str = "slug";

/// The outcome of authenticating one request with
/// [`Api::authenticate`](super::Api::authenticate), which adapter
/// middleware leaves in the request's extensions: `Ok(None)` when it
/// carried no credentials.
#[derive(Debug, Clone)]
pub struct Authentication(pub Result<Option<Principal>, AuthError>);

impl Authentication {
    /// The principal, or the error a route needing one answers: 401
    /// `token_invalid` without credentials.
    ///
    /// # Errors
    /// The authentication error, or `TokenInvalid` when there was none.
    pub fn principal(&self) -> Result<&Principal, AuthError> {
        match &self.0 {
            Ok(Some(principal)) => Ok(principal),
            Ok(None) => Err(AuthError::TokenInvalid),
            Err(err) => Err(err.clone()),
        }
    }

    /// Like [`principal`](Self::principal), and the principal must hold
    /// the global `permission`.
    ///
    /// # Errors
    /// As [`principal`](Self::principal); `Forbidden` without the
    /// permission.
    pub fn require(&self, permission: &str) -> Result<&Principal, AuthError> {
        let principal = self.principal()?;
        crate::principal::require_permission(principal, permission)?;
        Ok(principal)
    }
}

impl Authentication {
    /// Like [`principal`](Self::principal), and the principal must hold
    /// `permission` in the organisation `slug` (from its token, no store
    /// round trip). `slug` is `None` when the route has no such path
    /// parameter: a wiring bug of the host app (500).
    ///
    /// # Errors
    /// As [`principal`](Self::principal); `NotFound` when not a member,
    /// `Forbidden` without the permission there.
    pub fn require_org(
        &self,
        slug: Option<&str>,
        permission: &str,
    ) -> Result<(&Principal, &OrgGrant), AuthError> {
        let principal = self.principal()?;
        let slug = slug.ok_or_else(|| {
            AuthError::internal_msg(
                "an organisation guard is on a route without the slug parameter",
            )
        })?;
        let grant = crate::principal::require_org_permission(principal, slug, permission)?;
        Ok((principal, grant))
    }
}

/// A global permission, named at the type level for the adapters'
/// permission extractors (`HasPermission<P>`).
///
/// ```
/// struct UsersRead;
/// impl authkit_core::api::Permission for UsersRead {
///     const NAME: &'static str = "internal.users.read";
/// }
/// ```
///
/// The same trait names organisation permissions for the organisation
/// guards (`HasOrgPermission<P>`), e.g. `const NAME: &'static str =
/// "member.invite";`.
pub trait Permission: Send + Sync + 'static {
    /// The permission string.
    const NAME: &'static str;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use uuid::Uuid;

    use super::*;

    fn principal(permissions: &[&str]) -> Principal {
        let id = Uuid::now_v7();
        Principal {
            user_id: id,
            session_id: id,
            roles: Vec::new(),
            permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
            expires_at: chrono::Utc::now(),
            token_id: "jti".to_owned(),
            orgs: Vec::new(),
        }
    }

    #[test]
    fn without_credentials_routes_answer_token_invalid() {
        let none = Authentication(Ok(None));
        assert!(matches!(none.principal(), Err(AuthError::TokenInvalid)));
        assert!(matches!(none.require("x"), Err(AuthError::TokenInvalid)));
    }

    #[test]
    fn a_failed_authentication_keeps_its_error() {
        let expired = Authentication(Err(AuthError::TokenExpired));
        assert!(matches!(expired.principal(), Err(AuthError::TokenExpired)));
        assert!(matches!(expired.require("x"), Err(AuthError::TokenExpired)));
    }

    #[test]
    fn org_guards_need_membership_and_the_permission_there() {
        let mut p = principal(&["internal.users.read"]);
        p.orgs.push(OrgGrant {
            slug: "acme".into(),
            role: "MEMBER".into(),
            permissions: vec!["org.view".into()],
        });
        let user = Authentication(Ok(Some(p)));
        let (_, grant) = user.require_org(Some("acme"), "org.view").unwrap();
        assert_eq!(grant.role, "MEMBER");
        assert!(matches!(
            user.require_org(Some("acme"), "member.invite"),
            Err(AuthError::Forbidden)
        ));
        assert!(matches!(
            user.require_org(Some("other"), "org.view"),
            Err(AuthError::NotFound)
        ));
        assert!(matches!(
            user.require_org(Some("acme"), "internal.users.read"),
            Err(AuthError::Forbidden)
        ));
        assert!(matches!(
            user.require_org(None, "org.view"),
            Err(AuthError::Internal(_))
        ));
        assert!(matches!(
            Authentication(Ok(None)).require_org(Some("acme"), "org.view"),
            Err(AuthError::TokenInvalid)
        ));
    }

    #[test]
    fn permissions_are_checked() {
        let user = Authentication(Ok(Some(principal(&["a.read"]))));
        assert!(user.principal().is_ok());
        assert!(user.require("a.read").is_ok());
        assert!(matches!(user.require("a.write"), Err(AuthError::Forbidden)));
    }
}
