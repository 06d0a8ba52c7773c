//! Organisations: named groups of accounts, each member holding one
//! organisation role (OWNER, ADMIN, MEMBER by default; see
//! [`RoleMap::org_default`](crate::roles::RoleMap::org_default)), and the
//! invitations that add members.

mod config;
#[cfg(feature = "testing")]
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub(crate) mod conformance;
pub(crate) mod memory;
pub(crate) mod routes;
mod service;
mod store;

pub use config::OrgsConfig;
pub use service::{MAX_TOKEN_ORGS, MyOrg, Orgs};
pub use store::OrgStore;

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::email::Email;
use crate::error::{AuthError, AuthResult};
use crate::secret::TokenHash;
use utoipa::ToSchema;

/// Shortest slug accepted.
pub const MIN_SLUG_LEN: usize = 3;
/// Longest slug accepted (slugs travel in access tokens, so they stay short).
pub const MAX_SLUG_LEN: usize = 40;
/// Longest organisation name, in code points.
pub const MAX_ORG_NAME: usize = 100;

/// Checks a slug: 3 to 40 characters of `a-z`, `0-9` and `-`, starting with
/// a letter or digit, not ending with `-`, without `--`. Slugs are never
/// case-folded: `Acme` is refused rather than silently turned into `acme`.
///
/// # Errors
/// `Validation` with code `slug_invalid` on field `slug`.
pub fn validate_slug(slug: &str) -> AuthResult<()> {
    let ok = (MIN_SLUG_LEN..=MAX_SLUG_LEN).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-')
        && !slug.contains("--");
    if ok {
        Ok(())
    } else {
        Err(AuthError::invalid_field(
            "slug",
            "slug_invalid",
            "Use 3 to 40 lower-case letters, digits and single hyphens, \
             starting and ending with a letter or digit.",
        ))
    }
}

/// Trims and checks an organisation name (1 to 100 code points, no control
/// characters).
///
/// # Errors
/// `Validation` with code `name_invalid` on field `name`.
pub fn clean_org_name(name: &str) -> AuthResult<String> {
    let name = name.trim();
    let len = name.chars().count();
    if len == 0 || len > MAX_ORG_NAME || name.chars().any(char::is_control) {
        return Err(AuthError::invalid_field(
            "name",
            "name_invalid",
            "Use 1 to 100 characters, without control characters.",
        ));
    }
    Ok(name.to_owned())
}

/// An organisation as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Org {
    /// UUID v7.
    pub id: Uuid,
    /// Unique, URL-safe, immutable handle (see [`validate_slug`]).
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change of the name.
    pub updated_at: DateTime<Utc>,
}

impl Org {
    /// A new organisation created at `now`.
    pub fn new(slug: impl Into<String>, name: impl Into<String>, now: DateTime<Utc>) -> Self {
        Self {
            id: Uuid::now_v7(),
            slug: slug.into(),
            name: name.into(),
            created_at: now,
            updated_at: now,
        }
    }
}

/// One account's membership of one organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Membership {
    /// The organisation.
    pub org_id: Uuid,
    /// The member.
    pub user_id: Uuid,
    /// Organisation role name (`OWNER`, `ADMIN`, `MEMBER`, or a host role).
    pub role: String,
    /// When the account joined.
    pub created_at: DateTime<Utc>,
    /// When the role last changed.
    pub updated_at: DateTime<Utc>,
}

impl Membership {
    /// A membership of `user_id` in `org_id` with `role`, from `now`.
    pub fn new(org_id: Uuid, user_id: Uuid, role: impl Into<String>, now: DateTime<Utc>) -> Self {
        Self {
            org_id,
            user_id,
            role: role.into(),
            created_at: now,
            updated_at: now,
        }
    }
}

/// A member as listed to other members: the membership joined with the
/// account's public fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Member {
    /// The account.
    pub user_id: Uuid,
    /// Its email address.
    pub email: String,
    /// Its display name.
    pub display_name: Option<String>,
    /// Organisation role.
    pub role: String,
    /// When it joined.
    pub joined_at: DateTime<Utc>,
}

/// A pending (or spent) invitation to join an organisation. The token
/// itself is only in the email; the store keeps its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    /// UUID v7.
    pub id: Uuid,
    /// The organisation.
    pub org_id: Uuid,
    /// The invited address: only an account whose verified email is this
    /// one can accept.
    pub email: Email,
    /// The role the invitee gets.
    pub role: String,
    /// SHA-256 of the emailed token.
    pub token_hash: TokenHash,
    /// Who invited.
    pub invited_by: Uuid,
    /// When it was sent.
    pub created_at: DateTime<Utc>,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// When it was accepted, revoked or superseded by a newer invitation.
    pub closed_at: Option<DateTime<Utc>>,
}

impl Invite {
    /// Whether it can still be accepted at `now`.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.closed_at.is_none() && self.expires_at > now
    }

    /// The public view (no hash).
    pub fn view(&self) -> InviteView {
        InviteView {
            id: self.id,
            email: self.email.as_str().to_owned(),
            role: self.role.clone(),
            invited_by: self.invited_by,
            created_at: self.created_at,
            expires_at: self.expires_at,
        }
    }
}

/// An invitation as listed to the members who manage them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct InviteView {
    /// Invitation id (to revoke it).
    pub id: Uuid,
    /// Invited address.
    pub email: String,
    /// Role offered.
    pub role: String,
    /// Who invited.
    pub invited_by: Uuid,
    /// When it was sent.
    pub created_at: DateTime<Utc>,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
}

/// The outcome of an atomic role change or removal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberChange {
    /// Done; the membership as it was before.
    Done(Membership),
    /// The account is not a member.
    NotMember,
    /// Refused: the member is the organisation's last owner.
    LastOwner,
}

/// The outcome of accepting an invitation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InviteAcceptance {
    /// The account joined; the invitation is spent.
    Accepted(Membership),
    /// The account is already a member; the invitation stays open.
    AlreadyMember,
    /// No live invitation has this token (unknown, expired, spent, revoked).
    Invalid,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_checked_not_folded() {
        for ok in ["acme", "a-1", "42-crew", &"a".repeat(MAX_SLUG_LEN)] {
            assert!(validate_slug(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "ab",
            "Acme",
            "-acme",
            "acme-",
            "ac--me",
            "ac me",
            "acmé",
            "ac_me",
            "ac/me",
            &"a".repeat(MAX_SLUG_LEN + 1),
        ] {
            let err = validate_slug(bad).unwrap_err();
            assert_eq!(err.field_errors()[0].code, "slug_invalid", "{bad}");
        }
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            clean_org_name("  Acme Ünïcode 🚀 ").unwrap(),
            "Acme Ünïcode 🚀"
        );
        for bad in ["", "   ", "a\u{0}b", &"x".repeat(MAX_ORG_NAME + 1)] {
            assert!(clean_org_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn invites_are_live_until_closed_or_expired() {
        let now = Utc::now();
        let mut invite = Invite {
            id: Uuid::now_v7(),
            org_id: Uuid::now_v7(),
            email: Email::parse("a@example.com").unwrap(),
            role: "MEMBER".into(),
            token_hash: TokenHash::of_token("t"),
            invited_by: Uuid::now_v7(),
            created_at: now,
            expires_at: now + chrono::Duration::hours(1),
            closed_at: None,
        };
        assert!(invite.is_live(now));
        assert!(!invite.is_live(now + chrono::Duration::hours(1)));
        invite.closed_at = Some(now);
        assert!(!invite.is_live(now));
        let view = serde_json::to_value(invite.view()).unwrap();
        assert!(view.get("token_hash").is_none());
    }
}
