//! Organisations, memberships and invitations.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::{AuthError, AuthResult};
use crate::orgs::{Invite, InviteAcceptance, Member, MemberChange, Membership, Org};
use crate::secret::TokenHash;
use crate::store::OrgStore;
use crate::store::memory::{MemoryStore, lock};

/// Organisations by id with a slug index, memberships by (org, user), and
/// invitations by id with a token-hash index.
#[derive(Debug, Default)]
pub(crate) struct OrgTable {
    orgs: HashMap<Uuid, Org>,
    by_slug: HashMap<String, Uuid>,
    members: HashMap<(Uuid, Uuid), Membership>,
    invites: HashMap<Uuid, Invite>,
    invite_by_hash: HashMap<[u8; 32], Uuid>,
}

impl OrgTable {
    fn owners(&self, org_id: Uuid, owner_role: &str) -> usize {
        self.members
            .values()
            .filter(|m| m.org_id == org_id && m.role == owner_role)
            .count()
    }

    /// Whether changing or removing `current` would leave no owner.
    fn is_last_owner(&self, current: &Membership, owner_role: &str) -> bool {
        current.role == owner_role && self.owners(current.org_id, owner_role) <= 1
    }
}

#[async_trait]
impl OrgStore for MemoryStore {
    async fn create_org(&self, org: &Org, owner: &Membership) -> AuthResult<()> {
        let mut t = lock(&self.orgs);
        if t.by_slug.contains_key(&org.slug) {
            return Err(AuthError::SlugTaken);
        }
        t.by_slug.insert(org.slug.clone(), org.id);
        t.orgs.insert(org.id, org.clone());
        t.members
            .insert((owner.org_id, owner.user_id), owner.clone());
        Ok(())
    }

    async fn org_by_slug(&self, slug: &str) -> AuthResult<Option<Org>> {
        let t = lock(&self.orgs);
        Ok(t.by_slug.get(slug).and_then(|id| t.orgs.get(id)).cloned())
    }

    async fn org_by_id(&self, id: Uuid) -> AuthResult<Option<Org>> {
        Ok(lock(&self.orgs).orgs.get(&id).cloned())
    }

    async fn update_org(&self, org: &Org) -> AuthResult<()> {
        let mut t = lock(&self.orgs);
        let stored = t.orgs.get_mut(&org.id).ok_or(AuthError::NotFound)?;
        stored.name.clone_from(&org.name);
        stored.updated_at = org.updated_at;
        Ok(())
    }

    async fn membership(&self, org_id: Uuid, user_id: Uuid) -> AuthResult<Option<Membership>> {
        Ok(lock(&self.orgs).members.get(&(org_id, user_id)).cloned())
    }

    async fn orgs_for_user(&self, user_id: Uuid) -> AuthResult<Vec<(Org, Membership)>> {
        let t = lock(&self.orgs);
        let mut found: Vec<(Org, Membership)> = t
            .members
            .values()
            .filter(|m| m.user_id == user_id)
            .filter_map(|m| t.orgs.get(&m.org_id).map(|o| (o.clone(), m.clone())))
            .collect();
        found.sort_by(|a, b| a.0.slug.cmp(&b.0.slug));
        Ok(found)
    }

    async fn members(&self, org_id: Uuid) -> AuthResult<Vec<Member>> {
        let mut memberships: Vec<Membership> = lock(&self.orgs)
            .members
            .values()
            .filter(|m| m.org_id == org_id)
            .cloned()
            .collect();
        memberships.sort_by_key(|m| (m.created_at, m.user_id));
        let users = lock(&self.users);
        Ok(memberships
            .into_iter()
            .filter_map(|m| {
                users.get(m.user_id).map(|u| Member {
                    user_id: u.id,
                    email: u.email.as_str().to_owned(),
                    display_name: u.display_name.clone(),
                    role: m.role,
                    joined_at: m.created_at,
                })
            })
            .collect())
    }

    async fn set_member_role(
        &self,
        org_id: Uuid,
        user_id: Uuid,
        role: &str,
        owner_role: &str,
        now: DateTime<Utc>,
    ) -> AuthResult<MemberChange> {
        let mut t = lock(&self.orgs);
        let Some(current) = t.members.get(&(org_id, user_id)).cloned() else {
            return Ok(MemberChange::NotMember);
        };
        if role != owner_role && t.is_last_owner(&current, owner_role) {
            return Ok(MemberChange::LastOwner);
        }
        if let Some(m) = t.members.get_mut(&(org_id, user_id)) {
            role.clone_into(&mut m.role);
            m.updated_at = now;
        }
        Ok(MemberChange::Done(current))
    }

    async fn remove_member(
        &self,
        org_id: Uuid,
        user_id: Uuid,
        owner_role: &str,
    ) -> AuthResult<MemberChange> {
        let mut t = lock(&self.orgs);
        let Some(current) = t.members.get(&(org_id, user_id)).cloned() else {
            return Ok(MemberChange::NotMember);
        };
        if t.is_last_owner(&current, owner_role) {
            return Ok(MemberChange::LastOwner);
        }
        t.members.remove(&(org_id, user_id));
        Ok(MemberChange::Done(current))
    }

    async fn create_invite(&self, invite: &Invite) -> AuthResult<()> {
        let mut t = lock(&self.orgs);
        for other in t.invites.values_mut() {
            if other.org_id == invite.org_id
                && other.email == invite.email
                && other.closed_at.is_none()
            {
                other.closed_at = Some(invite.created_at);
            }
        }
        if t.invite_by_hash.contains_key(&invite.token_hash.0) {
            return Err(AuthError::internal_msg("duplicate invitation token"));
        }
        t.invite_by_hash.insert(invite.token_hash.0, invite.id);
        t.invites.insert(invite.id, invite.clone());
        Ok(())
    }

    async fn invite_by_hash(
        &self,
        hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> AuthResult<Option<Invite>> {
        let t = lock(&self.orgs);
        Ok(t.invite_by_hash
            .get(&hash.0)
            .and_then(|id| t.invites.get(id))
            .filter(|i| i.is_live(now))
            .cloned())
    }

    async fn invites_for_org(&self, org_id: Uuid, now: DateTime<Utc>) -> AuthResult<Vec<Invite>> {
        let t = lock(&self.orgs);
        let mut found: Vec<Invite> = t
            .invites
            .values()
            .filter(|i| i.org_id == org_id && i.is_live(now))
            .cloned()
            .collect();
        found.sort_by_key(|i| std::cmp::Reverse((i.created_at, i.id)));
        Ok(found)
    }

    async fn revoke_invite(
        &self,
        org_id: Uuid,
        invite_id: Uuid,
        now: DateTime<Utc>,
    ) -> AuthResult<bool> {
        let mut t = lock(&self.orgs);
        match t.invites.get_mut(&invite_id) {
            Some(invite) if invite.org_id == org_id && invite.is_live(now) => {
                invite.closed_at = Some(now);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn accept_invite(
        &self,
        hash: &TokenHash,
        user_id: Uuid,
        now: DateTime<Utc>,
    ) -> AuthResult<InviteAcceptance> {
        let mut t = lock(&self.orgs);
        let Some(invite) = t
            .invite_by_hash
            .get(&hash.0)
            .and_then(|id| t.invites.get(id))
            .filter(|i| i.is_live(now))
            .cloned()
        else {
            return Ok(InviteAcceptance::Invalid);
        };
        if t.members.contains_key(&(invite.org_id, user_id)) {
            return Ok(InviteAcceptance::AlreadyMember);
        }
        let membership = Membership::new(invite.org_id, user_id, invite.role.clone(), now);
        t.members
            .insert((invite.org_id, user_id), membership.clone());
        if let Some(stored) = t.invites.get_mut(&invite.id) {
            stored.closed_at = Some(now);
        }
        Ok(InviteAcceptance::Accepted(membership))
    }
}
