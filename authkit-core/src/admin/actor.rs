//! Who may make an admin write: the administrator as the store has it
//! now, not as the access token remembers it.
//!
//! An access token carries the permissions its account held when it was
//! signed, for up to its lifetime. For reads that is the documented price
//! of a check without a store round trip; for writes it is not enough: an
//! administrator who was demoted, deactivated or locked could go on
//! granting roles (back to themselves too), locking, deactivating and
//! revoking until the token expires. So every admin write first re-reads
//! the actor's account ([`Auth::admin_actor`]) and is refused with
//! `Forbidden` unless the account exists, is active, is not locked (by an
//! administrator or by failed logins), and its **current** global roles
//! grant the write's permission. Admin writes are rare, so the extra read
//! costs nothing that matters; reads (`admin_users`, `admin_user`,
//! `admin_user_sessions`, `admin_audit`) keep the token's claims.
//!
//! The same current permissions set the **privilege order**
//! ([`Auth::admin_target`]): an actor without `internal.roles.assign`
//! cannot write to an account that holds a global permission the actor
//! lacks: not lock or unlock it, deactivate or reactivate it, force a
//! password change or revoke its sessions (a support role cannot lock the
//! `SYSTEM_ADMIN`, nor sign it out everywhere). Role assignment needs `internal.roles.assign` and
//! is bounded by the current permissions too: only roles they cover are
//! granted or withdrawn.

use uuid::Uuid;

use crate::Auth;
use crate::error::{AuthError, AuthResult};
use crate::principal::{Principal, require_permission};
use crate::roles::ROLES_ASSIGN;
use crate::user::User;

/// The administrator making a write, as read from the store for it.
#[derive(Debug)]
pub(crate) struct Actor {
    /// The global permissions the account's roles grant now.
    pub(crate) permissions: Vec<String>,
}

impl Actor {
    fn holds(&self, permission: &str) -> bool {
        self.permissions.iter().any(|p| p == permission)
    }
}

impl Auth {
    /// Authorises an admin write needing `permission`: the token must
    /// carry it (a refusal without a store read), and the account behind
    /// the token, read now, must be active, unlocked and still granted it
    /// by its current roles.
    ///
    /// # Errors
    /// `Forbidden` when any of these fails (also for an account that no
    /// longer exists); store errors.
    pub(crate) async fn admin_actor(
        &self,
        principal: &Principal,
        permission: &str,
    ) -> AuthResult<Actor> {
        require_permission(principal, permission)?;
        let user = self
            .inner
            .store
            .users
            .user_by_id(principal.user_id)
            .await?
            .ok_or(AuthError::Forbidden)?;
        if !user.is_active || user.is_locked(self.now()) {
            return Err(AuthError::Forbidden);
        }
        let actor = Actor {
            permissions: self.inner.roles.permissions_for(&user.roles),
        };
        if !actor.holds(permission) {
            return Err(AuthError::Forbidden);
        }
        Ok(actor)
    }

    /// The account `user_id`, if `actor` may write to it (lock, unlock,
    /// deactivate, reactivate, force a password change, revoke its
    /// sessions): an actor holding `internal.roles.assign`
    /// may act on any account; any other only on accounts whose global
    /// permissions are all among its own.
    ///
    /// # Errors
    /// `NotFound`; `Forbidden` when the account outranks the actor.
    pub(crate) async fn admin_target(&self, actor: &Actor, user_id: Uuid) -> AuthResult<User> {
        let target = self.user(user_id).await?;
        if !actor.holds(ROLES_ASSIGN)
            && self
                .inner
                .roles
                .permissions_for(&target.roles)
                .iter()
                .any(|p| !actor.holds(p))
        {
            return Err(AuthError::Forbidden);
        }
        Ok(target)
    }
}
