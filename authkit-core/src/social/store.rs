//! Provider identities: which social / OpenID Connect account (provider,
//! subject) signs in as which local account.
//!
//! An identity is found by (provider, subject) only, never by email. Each
//! (provider, subject) belongs to at most one account, and an account has
//! at most one identity per provider. Both rules are unique keys, so of N
//! concurrent links exactly one wins.

use crate::store::declare::store_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::error::AuthResult;
use utoipa::ToSchema;

/// Longest provider name stored (route names such as `google`).
pub const MAX_PROVIDER_LEN: usize = 64;
/// Longest subject stored (OpenID Connect allows 255 ASCII characters).
pub const MAX_SUBJECT_LEN: usize = 255;

/// A provider account linked to a local account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Identity {
    /// The local account.
    pub user_id: Uuid,
    /// The provider's name (`google`, `github`, `okta`...).
    pub provider: String,
    /// The provider's stable id of the person (`sub`, GitHub's numeric id).
    pub subject: String,
    /// The email the provider reported when the identity was linked.
    pub email: Option<String>,
    /// Whether the provider said that email was verified.
    pub email_verified: bool,
    /// When it was linked.
    pub linked_at: DateTime<Utc>,
}

/// The outcome of [`IdentityStore::link_identity`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkOutcome {
    /// Stored.
    Linked,
    /// (provider, subject) is linked already, to the account given.
    SubjectTaken(Uuid),
    /// The account already has an identity of this provider.
    ProviderTaken,
}

/// The outcome of [`IdentityStore::unlink_identity`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnlinkOutcome {
    /// Removed.
    Unlinked,
    /// The account has no identity of this provider.
    NotFound,
    /// Refused: it is the account's only identity and the caller asked to
    /// keep one.
    LastIdentity,
}

store_trait! {
    /// Provider identities.
    pub trait IdentityStore: "identities" {
        /// Links `identity` unless its (provider, subject) is linked already or
        /// its account has an identity of that provider. Atomic: of N
        /// concurrent links of one (provider, subject), exactly one is
        /// `Linked`. SQL: an `INSERT` guarded by both unique keys.
        async fn link_identity(&self, identity: &Identity) -> AuthResult<LinkOutcome>;

        /// The identity of (provider, subject), whoever it belongs to.
        async fn identity(&self, provider: &str, subject: &str) -> AuthResult<Option<Identity>>;

        /// The account's identities, oldest link first.
        async fn identities_for_user(&self, user_id: Uuid) -> AuthResult<Vec<Identity>>;

        /// Removes the account's identity of `provider`. With `keep_one`, it is
        /// refused when that identity is the account's last one, atomically:
        /// of two concurrent unlinks of an account's last two identities, one
        /// is refused. SQL: one transaction that locks the account's row.
        async fn unlink_identity(
            &self,
            user_id: Uuid,
            provider: &str,
            keep_one: bool,
        ) -> AuthResult<UnlinkOutcome>;
    }
}
