//! What adapters share to protect the host application's own routes: the
//! outcome of authenticating a request, and permissions named as types.

use crate::error::AuthError;
use crate::principal::Principal;

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

/// A global permission, named at the type level for the adapters'
/// permission extractors (`HasPermission<P>`).
///
/// ```
/// struct UsersRead;
/// impl authkit_core::api::Permission for UsersRead {
///     const NAME: &'static str = "internal.users.read";
/// }
/// ```
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
    fn permissions_are_checked() {
        let user = Authentication(Ok(Some(principal(&["a.read"]))));
        assert!(user.principal().is_ok());
        assert!(user.require("a.read").is_ok());
        assert!(matches!(user.require("a.write"), Err(AuthError::Forbidden)));
    }
}
