//! Organisations: create, list, view, rename; members, invitations, role
//! changes, removal and leaving.
//!
//! Every call here reads the caller's membership fresh from the store (the
//! token's `orgs` claim is for the host's guards), and a caller who is not a
//! member of an organisation gets `NotFound`, as if it did not exist. The
//! owner rules: only an OWNER grants the OWNER role or changes or removes
//! another OWNER, nobody grants a role with permissions they lack, and the
//! last OWNER can be neither demoted nor removed (`LastOwner`), which the
//! store enforces atomically.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::audit::{AuthEvent, RequestMeta};
use crate::auth::{Auth, MAX_OPAQUE_TOKEN};
use crate::email::Email;
use crate::error::{AuthError, AuthResult};
use crate::mail::Message;
use crate::orgs::{
    InviteAcceptance, InviteView, Member, MemberChange, Membership, Org, clean_org_name,
    validate_slug,
};
use crate::principal::Principal;
use crate::roles::RoleMap;
use crate::roles::{
    MEMBER_INVITE, MEMBER_REMOVE, MEMBER_ROLE_CHANGE, MEMBER_VIEW, ORG_UPDATE, ORG_VIEW, OWNER,
};
use crate::secret::{self, TokenHash};
use utoipa::ToSchema;

/// Most memberships an access token carries (the `orgs` claim); an account
/// in more organisations gets the first ones by slug in its token, and the
/// HTTP organisation routes, which read the store, still work for all.
pub const MAX_TOKEN_ORGS: usize = 64;

/// An organisation as one of its members sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct MyOrg {
    /// Organisation id.
    pub id: Uuid,
    /// Slug.
    pub slug: String,
    /// Name.
    pub name: String,
    /// Creation time of the organisation.
    pub created_at: DateTime<Utc>,
    /// The member's organisation role.
    pub role: String,
    /// What the role allows in this organisation.
    pub permissions: Vec<String>,
    /// When the member joined.
    pub joined_at: DateTime<Utc>,
}

/// The caller's standing in one organisation, checked fresh.
struct Standing {
    org: Org,
    membership: Membership,
    permissions: Vec<String>,
}

impl Standing {
    fn is_owner(&self) -> bool {
        self.membership.role == OWNER
    }
}

impl Auth {
    /// The `orgs` claim of `user_id`'s next access token: slug → role.
    pub(crate) async fn org_claims(&self, user_id: Uuid) -> AuthResult<BTreeMap<String, String>> {
        let memberships = self.inner.store.orgs.orgs_for_user(user_id).await?;
        if memberships.len() > MAX_TOKEN_ORGS {
            tracing::warn!(
                %user_id,
                count = memberships.len(),
                "more memberships than an access token carries; the token lists the first {MAX_TOKEN_ORGS}"
            );
        }
        Ok(memberships
            .into_iter()
            .take(MAX_TOKEN_ORGS)
            .map(|(org, m)| (org.slug, m.role))
            .collect())
    }

    /// The caller's memberships, read fresh (for `/me/export`).
    pub(crate) async fn memberships_of(&self, user_id: Uuid) -> AuthResult<Vec<MyOrg>> {
        Ok(self
            .inner
            .store
            .orgs
            .orgs_for_user(user_id)
            .await?
            .into_iter()
            .map(|(org, m)| self.my_org(org, &m))
            .collect())
    }

    fn my_org(&self, org: Org, membership: &Membership) -> MyOrg {
        MyOrg {
            id: org.id,
            slug: org.slug,
            name: org.name,
            created_at: org.created_at,
            role: membership.role.clone(),
            permissions: self
                .inner
                .org_roles
                .permissions_for(std::slice::from_ref(&membership.role)),
            joined_at: membership.created_at,
        }
    }

    /// The caller's fresh standing in `slug`, which must grant `perm`
    /// (`None`: membership is enough).
    async fn standing(
        &self,
        principal: &Principal,
        slug: &str,
        perm: Option<&str>,
    ) -> AuthResult<Standing> {
        let org = self
            .inner
            .store
            .orgs
            .org_by_slug(slug)
            .await?
            .ok_or(AuthError::NotFound)?;
        let membership = self
            .inner
            .store
            .orgs
            .membership(org.id, principal.user_id)
            .await?
            .ok_or(AuthError::NotFound)?;
        let permissions = self
            .inner
            .org_roles
            .permissions_for(std::slice::from_ref(&membership.role));
        if let Some(perm) = perm
            && !permissions.iter().any(|p| p == perm)
        {
            return Err(AuthError::Forbidden);
        }
        Ok(Standing {
            org,
            membership,
            permissions,
        })
    }

    /// `role` must be a declared organisation role.
    fn org_role(&self, role: &str) -> AuthResult<()> {
        if self.inner.org_roles.has_role(role) {
            Ok(())
        } else {
            let roles: Vec<&str> = self.inner.org_roles.roles().collect();
            Err(AuthError::invalid_field(
                "role",
                "invalid_choice",
                format!("Expected one of: {}.", roles.join(", ")),
            ))
        }
    }

    /// Whether the caller may give `role` to someone: only an owner grants
    /// OWNER, and nobody grants permissions they lack.
    fn may_grant(&self, standing: &Standing, role: &str) -> bool {
        (role != OWNER || standing.is_owner())
            && self
                .inner
                .org_roles
                .is_covered_by(role, &standing.permissions)
    }

    async fn removal(
        &self,
        principal: &Principal,
        org_id: Uuid,
        user_id: Uuid,
        meta: &RequestMeta,
    ) -> AuthResult<()> {
        let before = match self
            .inner
            .store
            .orgs
            .remove_member(org_id, user_id, OWNER)
            .await?
        {
            MemberChange::Done(before) => before,
            MemberChange::NotMember => return Err(AuthError::NotFound),
            MemberChange::LastOwner => return Err(AuthError::LastOwner),
        };
        self.emit(
            AuthEvent::MemberRemoved {
                actor_id: principal.user_id,
                user_id,
                org_id,
                role: before.role,
            },
            meta,
        )
        .await
    }
}

crate::auth::feature_handle! {
    /// Organisations: create, list, view, rename; members, invitations, role
    /// changes, removal and leaving.
    Orgs, orgs
}

impl<'a> Orgs<'a> {
    /// The organisation role map.
    #[expect(
        clippy::misnamed_getters,
        reason = "the organisations handle's roles are the organisation roles"
    )]
    pub fn roles(self) -> &'a RoleMap {
        &self.auth.inner.org_roles
    }

    /// Creates an organisation; the caller becomes its OWNER.
    ///
    /// # Errors
    /// `Validation` (name, slug), `SlugTaken`.
    pub async fn create(
        self,
        principal: &Principal,
        name: &str,
        slug: &str,
        meta: &RequestMeta,
    ) -> AuthResult<MyOrg> {
        let name = clean_org_name(name);
        let slug_ok = validate_slug(slug);
        let name = match (name, slug_ok) {
            (Ok(name), Ok(())) => name,
            (name, slug) => {
                let mut errors = Vec::new();
                for err in [name.err(), slug.err()].into_iter().flatten() {
                    errors.extend_from_slice(err.field_errors());
                }
                return Err(AuthError::Validation(errors));
            }
        };
        // The account must exist (a token can outlive its account).
        self.auth.user(principal.user_id).await?;
        let now = self.auth.now();
        let org = Org::new(slug, name, now);
        let owner = Membership::new(org.id, principal.user_id, OWNER, now);
        self.auth.inner.store.orgs.create_org(&org, &owner).await?;
        self.auth
            .emit(
                AuthEvent::OrgCreated {
                    actor_id: principal.user_id,
                    org_id: org.id,
                    slug: org.slug.clone(),
                },
                meta,
            )
            .await?;
        Ok(self.auth.my_org(org, &owner))
    }

    /// The caller's organisations with the caller's role, by slug.
    ///
    /// # Errors
    /// Store errors.
    pub async fn mine(self, principal: &Principal) -> AuthResult<Vec<MyOrg>> {
        self.auth.memberships_of(principal.user_id).await
    }

    /// One organisation of the caller (needs `org.view`).
    ///
    /// # Errors
    /// `NotFound` (no such organisation, or not a member), `Forbidden`.
    pub async fn get(self, principal: &Principal, slug: &str) -> AuthResult<MyOrg> {
        let s = self.auth.standing(principal, slug, Some(ORG_VIEW)).await?;
        Ok(self.auth.my_org(s.org, &s.membership))
    }

    /// Renames an organisation (needs `org.update`).
    ///
    /// # Errors
    /// `NotFound`, `Forbidden`, `Validation`.
    pub async fn rename(
        self,
        principal: &Principal,
        slug: &str,
        name: &str,
        meta: &RequestMeta,
    ) -> AuthResult<MyOrg> {
        let s = self
            .auth
            .standing(principal, slug, Some(ORG_UPDATE))
            .await?;
        let mut org = s.org;
        org.name = clean_org_name(name)?;
        org.updated_at = self.auth.now();
        self.auth.inner.store.orgs.update_org(&org).await?;
        self.auth
            .emit(
                AuthEvent::OrgUpdated {
                    actor_id: principal.user_id,
                    org_id: org.id,
                },
                meta,
            )
            .await?;
        Ok(self.auth.my_org(org, &s.membership))
    }

    /// The members of an organisation (needs `member.view`).
    ///
    /// # Errors
    /// `NotFound`, `Forbidden`.
    pub async fn members(self, principal: &Principal, slug: &str) -> AuthResult<Vec<Member>> {
        let s = self
            .auth
            .standing(principal, slug, Some(MEMBER_VIEW))
            .await?;
        self.auth.inner.store.orgs.members(s.org.id).await
    }

    /// Invites `email` to join with `role` (needs `member.invite`, and the
    /// right to grant `role`): emails a single-use link that only the
    /// account with that verified address can accept. A newer invitation
    /// to the same address replaces an older one.
    ///
    /// # Errors
    /// `NotFound`, `Forbidden`, `Validation` (email, role),
    /// `AlreadyMember`.
    pub async fn invite(
        self,
        principal: &Principal,
        slug: &str,
        email: &str,
        role: &str,
        meta: &RequestMeta,
    ) -> AuthResult<InviteView> {
        let s = self
            .auth
            .standing(principal, slug, Some(MEMBER_INVITE))
            .await?;
        let email = Email::parse(email);
        let role_ok = self.auth.org_role(role);
        let email = match (email, role_ok) {
            (Ok(email), Ok(())) => email,
            (email, role) => {
                let mut errors = Vec::new();
                for err in [email.err(), role.err()].into_iter().flatten() {
                    errors.extend_from_slice(err.field_errors());
                }
                return Err(AuthError::Validation(errors));
            }
        };
        if !self.auth.may_grant(&s, role) {
            return Err(AuthError::Forbidden);
        }
        if let Some(existing) = self.auth.inner.store.users.user_by_email(&email).await?
            && self
                .auth
                .inner
                .store
                .orgs
                .membership(s.org.id, existing.id)
                .await?
                .is_some()
        {
            return Err(AuthError::AlreadyMember);
        }
        let inviter = self.auth.user(principal.user_id).await?;
        let now = self.auth.now();
        let token = secret::token256();
        let config = &self.auth.inner.config;
        let invite = crate::orgs::Invite {
            id: Uuid::now_v7(),
            org_id: s.org.id,
            email,
            role: role.to_owned(),
            token_hash: TokenHash::of_token(&token),
            invited_by: principal.user_id,
            created_at: now,
            expires_at: now + config.orgs.invite_ttl,
            closed_at: None,
        };
        self.auth.inner.store.orgs.create_invite(&invite).await?;
        let link = self.auth.link(&config.orgs.accept_invite_path, &token);
        let inviter_name = inviter
            .display_name
            .clone()
            .unwrap_or_else(|| inviter.email.as_str().to_owned());
        let rendered = self.auth.inner.templates.org_invite(
            &config.app_name,
            &s.org.name,
            &inviter_name,
            &link,
            config.orgs.invite_ttl.num_minutes(),
        );
        self.auth
            .inner
            .mailer
            .send(Message {
                to: invite.email.as_str().to_owned(),
                subject: rendered.subject,
                text: rendered.text,
                html: rendered.html,
            })
            .await?;
        self.auth
            .emit(
                AuthEvent::MemberInvited {
                    actor_id: principal.user_id,
                    org_id: s.org.id,
                    invite_id: invite.id,
                    email: invite.email.as_str().to_owned(),
                    role: invite.role.clone(),
                },
                meta,
            )
            .await?;
        Ok(invite.view())
    }

    /// The pending invitations of an organisation (needs `member.invite`).
    ///
    /// # Errors
    /// `NotFound`, `Forbidden`.
    pub async fn invites(self, principal: &Principal, slug: &str) -> AuthResult<Vec<InviteView>> {
        let s = self
            .auth
            .standing(principal, slug, Some(MEMBER_INVITE))
            .await?;
        Ok(self
            .auth
            .inner
            .store
            .orgs
            .invites_for_org(s.org.id, self.auth.now())
            .await?
            .iter()
            .map(crate::orgs::Invite::view)
            .collect())
    }

    /// Withdraws a pending invitation (needs `member.invite`).
    ///
    /// # Errors
    /// `NotFound` (also for an invitation no longer pending), `Forbidden`.
    pub async fn revoke_invite(
        self,
        principal: &Principal,
        slug: &str,
        invite_id: Uuid,
        meta: &RequestMeta,
    ) -> AuthResult<()> {
        let s = self
            .auth
            .standing(principal, slug, Some(MEMBER_INVITE))
            .await?;
        let revoked = self
            .auth
            .inner
            .store
            .orgs
            .revoke_invite(s.org.id, invite_id, self.auth.now())
            .await?;
        if !revoked {
            return Err(AuthError::NotFound);
        }
        self.auth
            .emit(
                AuthEvent::InviteRevoked {
                    actor_id: principal.user_id,
                    org_id: s.org.id,
                    invite_id,
                },
                meta,
            )
            .await
    }

    /// Accepts an invitation: the caller's verified email must be the
    /// invited one. The membership reaches access tokens at the next
    /// refresh.
    ///
    /// # Errors
    /// `TokenInvalid` (unknown, expired, spent or revoked),
    /// `EmailNotVerified`, `InviteEmailMismatch`, `AlreadyMember`.
    pub async fn accept_invite(
        self,
        principal: &Principal,
        token: &str,
        meta: &RequestMeta,
    ) -> AuthResult<MyOrg> {
        if token.is_empty() || token.len() > MAX_OPAQUE_TOKEN {
            return Err(AuthError::TokenInvalid);
        }
        let hash = TokenHash::of_token(token);
        let now = self.auth.now();
        let invite = self
            .auth
            .inner
            .store
            .orgs
            .invite_by_hash(&hash, now)
            .await?
            .ok_or(AuthError::TokenInvalid)?;
        let user = self.auth.user(principal.user_id).await?;
        if !user.email_verified() {
            return Err(AuthError::EmailNotVerified);
        }
        if user.email != invite.email {
            return Err(AuthError::InviteEmailMismatch);
        }
        let membership = match self
            .auth
            .inner
            .store
            .orgs
            .accept_invite(&hash, user.id, now)
            .await?
        {
            InviteAcceptance::Accepted(membership) => membership,
            InviteAcceptance::AlreadyMember => return Err(AuthError::AlreadyMember),
            InviteAcceptance::Invalid => return Err(AuthError::TokenInvalid),
        };
        let org = self
            .auth
            .inner
            .store
            .orgs
            .org_by_id(invite.org_id)
            .await?
            .ok_or(AuthError::NotFound)?;
        self.auth
            .emit(
                AuthEvent::InviteAccepted {
                    user_id: user.id,
                    org_id: invite.org_id,
                    role: membership.role.clone(),
                },
                meta,
            )
            .await?;
        Ok(self.auth.my_org(org, &membership))
    }

    /// Changes a member's role (needs `member.role.change`, and the right
    /// to grant both the old and the new role). Takes effect in the
    /// member's tokens at their next refresh.
    ///
    /// # Errors
    /// `NotFound` (organisation or member), `Forbidden`, `Validation`
    /// (role), `LastOwner`.
    pub async fn change_role(
        self,
        principal: &Principal,
        slug: &str,
        user_id: Uuid,
        role: &str,
        meta: &RequestMeta,
    ) -> AuthResult<Member> {
        let s = self
            .auth
            .standing(principal, slug, Some(MEMBER_ROLE_CHANGE))
            .await?;
        self.auth.org_role(role)?;
        let target = self
            .auth
            .inner
            .store
            .orgs
            .membership(s.org.id, user_id)
            .await?
            .ok_or(AuthError::NotFound)?;
        if !self.auth.may_grant(&s, role) || !self.auth.may_grant(&s, &target.role) {
            return Err(AuthError::Forbidden);
        }
        let before = match self
            .auth
            .inner
            .store
            .orgs
            .set_member_role(s.org.id, user_id, role, OWNER, self.auth.now())
            .await?
        {
            MemberChange::Done(before) => before,
            MemberChange::NotMember => return Err(AuthError::NotFound),
            MemberChange::LastOwner => return Err(AuthError::LastOwner),
        };
        self.auth
            .emit(
                AuthEvent::MemberRoleChanged {
                    actor_id: principal.user_id,
                    user_id,
                    org_id: s.org.id,
                    from: before.role,
                    to: role.to_owned(),
                },
                meta,
            )
            .await?;
        self.auth
            .inner
            .store
            .orgs
            .members(s.org.id)
            .await?
            .into_iter()
            .find(|m| m.user_id == user_id)
            .ok_or(AuthError::NotFound)
    }

    /// Removes a member (needs `member.remove`, and the right to grant the
    /// member's role). The caller removing themselves is leaving.
    ///
    /// # Errors
    /// `NotFound`, `Forbidden`, `LastOwner`.
    pub async fn remove_member(
        self,
        principal: &Principal,
        slug: &str,
        user_id: Uuid,
        meta: &RequestMeta,
    ) -> AuthResult<()> {
        if user_id == principal.user_id {
            return self.auth.orgs().leave(principal, slug, meta).await;
        }
        let s = self
            .auth
            .standing(principal, slug, Some(MEMBER_REMOVE))
            .await?;
        let target = self
            .auth
            .inner
            .store
            .orgs
            .membership(s.org.id, user_id)
            .await?
            .ok_or(AuthError::NotFound)?;
        if !self.auth.may_grant(&s, &target.role) {
            return Err(AuthError::Forbidden);
        }
        self.auth.removal(principal, s.org.id, user_id, meta).await
    }

    /// Leaves an organisation (any member, unless the last OWNER).
    ///
    /// # Errors
    /// `NotFound`, `LastOwner`.
    pub async fn leave(
        self,
        principal: &Principal,
        slug: &str,
        meta: &RequestMeta,
    ) -> AuthResult<()> {
        let s = self.auth.standing(principal, slug, None).await?;
        self.auth
            .removal(principal, s.org.id, principal.user_id, meta)
            .await
    }
}
