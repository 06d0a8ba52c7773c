//! [`OrgStore`]: organisations, memberships and invitations.

use crate::store::declare::store_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::AuthResult;
use crate::orgs::{Invite, InviteAcceptance, Member, MemberChange, Membership, Org};
use crate::secret::TokenHash;

store_trait! {
    /// Organisations, their members and invitations.
    ///
    /// Rules every backend keeps (the conformance suite checks them):
    ///
    /// - slugs are unique: of N concurrent creations of one slug exactly one
    ///   wins, the others get `SlugTaken`;
    /// - an account is a member of an organisation at most once;
    /// - [`Orgs::accept_invite`](crate::orgs::Orgs::accept_invite) is one atomic step: of N
    ///   concurrent acceptances of one invitation exactly one joins;
    /// - [`set_member_role`](Self::set_member_role) and
    ///   [`Orgs::remove_member`](crate::orgs::Orgs::remove_member) never leave an organisation
    ///   without a member of role `owner_role`, even when run concurrently on
    ///   different owners (they serialize per organisation).
    pub trait OrgStore: "orgs" {
        /// Creates `org` with its first member (`owner`) in one step.
        /// `SlugTaken` if the slug exists.
        async fn create_org(&self, org: &Org, owner: &Membership) -> AuthResult<()>
        => changes(owner.user_id);

        /// The organisation with this slug.
        async fn org_by_slug(&self, slug: &str) -> AuthResult<Option<Org>>;

        /// The organisation with this id.
        async fn org_by_id(&self, id: Uuid) -> AuthResult<Option<Org>>;

        /// Writes the name and `updated_at` of `org` (the slug is immutable).
        /// `NotFound` if absent.
        async fn update_org(&self, org: &Org) -> AuthResult<()>;

        /// The membership of `user_id` in `org_id`.
        async fn membership(&self, org_id: Uuid, user_id: Uuid) -> AuthResult<Option<Membership>>;

        /// Every organisation `user_id` belongs to, with the membership, by
        /// slug.
        async fn orgs_for_user(&self, user_id: Uuid) -> AuthResult<Vec<(Org, Membership)>>;

        /// The members of `org_id` with their account's email and display name,
        /// oldest membership first.
        async fn members(&self, org_id: Uuid) -> AuthResult<Vec<Member>>;

        /// Sets the role of `user_id` in `org_id` at `now`, unless that takes the
        /// last `owner_role` away.
        async fn set_member_role(
            &self,
            org_id: Uuid,
            user_id: Uuid,
            role: &str,
            owner_role: &str,
            now: DateTime<Utc>,
        ) -> AuthResult<MemberChange>
        => changes(user_id);

        /// Removes `user_id` from `org_id`, unless it is the last `owner_role`.
        async fn remove_member(
            &self,
            org_id: Uuid,
            user_id: Uuid,
            owner_role: &str,
        ) -> AuthResult<MemberChange>
        => changes(user_id);

        /// Stores `invite` and, in the same step, closes every other live
        /// invitation of its organisation to its email (newest-only).
        async fn create_invite(&self, invite: &Invite) -> AuthResult<()>;

        /// The live invitation whose token has this hash at `now`.
        async fn invite_by_hash(
            &self,
            hash: &TokenHash,
            now: DateTime<Utc>,
        ) -> AuthResult<Option<Invite>>;

        /// The live invitations of `org_id` at `now`, newest first.
        async fn invites_for_org(
            &self,
            org_id: Uuid,
            now: DateTime<Utc>,
        ) -> AuthResult<Vec<Invite>>;

        /// Closes the live invitation `invite_id` of `org_id`; whether one was
        /// closed.
        async fn revoke_invite(
            &self,
            org_id: Uuid,
            invite_id: Uuid,
            now: DateTime<Utc>,
        ) -> AuthResult<bool>;

        /// Atomically spends the live invitation with this hash and makes
        /// `user_id` a member with its role. An account that is already a
        /// member gets `AlreadyMember` and the invitation stays open.
        async fn accept_invite(
            &self,
            hash: &TokenHash,
            user_id: Uuid,
            now: DateTime<Utc>,
        ) -> AuthResult<InviteAcceptance>
        => changes(user_id);
    }
}
