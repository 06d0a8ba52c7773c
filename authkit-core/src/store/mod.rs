//! Storage: one object-safe trait per aggregate, bundled in [`Store`].
//!
//! Backends implement every trait on one type and hand it to
//! [`Store::new`]. The rules each backend must keep (atomic single-use
//! transitions, unique emails, hashed secrets, an append-only audit log) are
//! checked by the conformance suite in the `testing` module (feature
//! `testing`), which the in-memory store and every SQL store run.
//!
//! Each trait's methods are written once, in its declaration: the
//! crate-internal `store_trait!` macro emits the trait together with the
//! decorator that times every call (`authkit_store_call_duration_seconds`,
//! see [`crate::telemetry`]) and the one that tells the account cache an
//! account changed. The refresh-rotation rule every store applies is
//! [`decide_rotation`](crate::session::decide_rotation).

pub(crate) mod declare;
pub(crate) mod memory;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use declare::store_trait;
use uuid::Uuid;

pub use crate::admin::UserAdminStore;
pub use crate::mfa::{DeviceSeen, MfaStatus, MfaStore, TotpRecord};
pub use crate::orgs::OrgStore;
pub use crate::social::{
    Identity, IdentityStore, LinkOutcome, MAX_PROVIDER_LEN, MAX_SUBJECT_LEN, UnlinkOutcome,
};
pub use memory::MemoryStore;

use crate::audit::{AuditQuery, AuditRecord};
use crate::email::{Email, Phone};
use crate::error::AuthResult;
use crate::one_time::{CodeCheck, OneTimeToken, Purpose};
use crate::secret::TokenHash;
use crate::session::{RotateOutcome, RotateRefresh, Session};
use crate::user::User;

/// How failed logins turn into a lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Consecutive failures that lock the account.
    pub max_failures: u32,
    /// Failures further apart than this do not add up.
    pub window: Duration,
    /// How long the lock lasts.
    pub lock_for: Duration,
}

/// The account's failure state after a recorded failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureState {
    /// Consecutive failures within the window, including this one.
    pub failures: u32,
    /// Set when this failure (or an earlier one) locked the account.
    pub locked_until: Option<DateTime<Utc>>,
}

/// One narrow change to an account, written by
/// [`UserStore::update_user`] in one atomic step that sets only the
/// fields it names (and `updated_at`), so that changes made concurrently to
/// other fields (a deactivation during a password change, a role change
/// during a profile edit) are never undone by a write of a row read
/// earlier.
#[derive(Clone, PartialEq, Eq)]
pub enum UserUpdate {
    /// A new password: sets `password_hash`, `password_changed_at = now`
    /// and clears `must_change_password`.
    Password {
        /// The new PHC string.
        hash: String,
    },
    /// The same password hashed again (new parameters, or a legacy hash
    /// upgraded at login): sets `password_hash` to `new` only while it is
    /// still `old`, so a password changed meanwhile is kept. Applies
    /// nothing else (not even `updated_at`).
    Rehash {
        /// The hash the password was verified against.
        old: String,
        /// Its replacement.
        new: String,
    },
    /// Sets `must_change_password`.
    MustChangePassword(bool),
    /// Sets `is_active`.
    Active(bool),
    /// Sets the global roles.
    Roles(Vec<String>),
    /// Sets `email_verified_at = now` when the email is not verified yet
    /// (applies nothing otherwise).
    EmailVerified,
    /// Sets `phone_verified_at = now` while the account's phone is still
    /// this number (applies nothing otherwise).
    PhoneVerified(Phone),
    /// Profile fields; each `Some` replaces the field (with `Some(None)`
    /// clearing it), each `None` leaves it as is. A phone that differs
    /// from the stored one loses its verification.
    Profile {
        /// New display name.
        display_name: Option<Option<String>>,
        /// New avatar URL.
        avatar_url: Option<Option<String>>,
        /// New phone number.
        phone: Option<Option<Phone>>,
    },
}

impl std::fmt::Debug for UserUpdate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Password { .. } => f.write_str("Password { .. }"),
            Self::Rehash { .. } => f.write_str("Rehash { .. }"),
            Self::MustChangePassword(on) => f.debug_tuple("MustChangePassword").field(on).finish(),
            Self::Active(on) => f.debug_tuple("Active").field(on).finish(),
            Self::Roles(roles) => f.debug_tuple("Roles").field(roles).finish(),
            Self::EmailVerified => f.write_str("EmailVerified"),
            Self::PhoneVerified(phone) => f.debug_tuple("PhoneVerified").field(phone).finish(),
            Self::Profile {
                display_name,
                avatar_url,
                phone,
            } => f
                .debug_struct("Profile")
                .field("display_name", display_name)
                .field("avatar_url", avatar_url)
                .field("phone", phone)
                .finish(),
        }
    }
}

store_trait! {
    /// Accounts.
    pub trait UserStore: "users" {
        /// Inserts a new account. Fails with `EmailTaken` if the normalized
        /// email exists; of N concurrent inserts of one email exactly one wins.
        async fn create_user(&self, user: &User) -> AuthResult<()>;

        /// The account with this id.
        async fn user_by_id(&self, id: Uuid) -> AuthResult<Option<User>>;

        /// The account with this (normalized) email.
        async fn user_by_email(&self, email: &Email) -> AuthResult<Option<User>>;

        /// Accounts whose phone is this number and is verified.
        async fn users_by_verified_phone(&self, phone: &Phone) -> AuthResult<Vec<User>>;

        /// Applies one [`UserUpdate`] at `now` in one atomic step (one
        /// statement on SQL), setting only the fields it names and
        /// `updated_at`. Answers whether it applied: `false` only when a
        /// conditional change ([`UserUpdate::Rehash`],
        /// [`UserUpdate::EmailVerified`], [`UserUpdate::PhoneVerified`])
        /// found its condition false. `NotFound` if absent. The lock fields
        /// are never written here.
        async fn update_user(
            &self,
            user_id: Uuid,
            update: &UserUpdate,
            now: DateTime<Utc>,
        ) -> AuthResult<bool>
        => changes(user_id);

        /// Atomically counts a failed login at `now`: restarts the count when
        /// the previous failure is older than `policy.window`, and sets
        /// `locked_until = now + lock_for` when the count reaches
        /// `policy.max_failures`. Concurrent failures all count.
        async fn record_login_failure(
            &self,
            user_id: Uuid,
            now: DateTime<Utc>,
            policy: LockoutPolicy,
        ) -> AuthResult<FailureState>
        => changes(user_id);

        /// Clears the failure count and the failure lock (after a successful
        /// login or a password reset). An administrator's lock stays: only
        /// [`UserAdminStore::unlock_user`] lifts it.
        async fn clear_login_failures(&self, user_id: Uuid) -> AuthResult<()> => changes(user_id);
    }
}

store_trait! {
    /// Sessions and their refresh-token families.
    pub trait SessionStore: "sessions" {
        /// Stores a new session with the hash of its first refresh token.
        async fn create_session(&self, session: &Session, refresh: &TokenHash) -> AuthResult<()>;

        /// The session with this id, whatever its state.
        async fn session(&self, id: Uuid) -> AuthResult<Option<Session>>;

        /// The session a refresh token (current or already rotated) belongs to.
        async fn session_by_refresh(&self, refresh: &TokenHash) -> AuthResult<Option<Session>>;

        /// The session whose CURRENT refresh token this is: `None` for a token
        /// already rotated (even within the reuse grace) or unknown. A read:
        /// it never rotates, consumes or revokes anything (introspection).
        async fn session_by_current_refresh(
            &self,
            refresh: &TokenHash,
        ) -> AuthResult<Option<Session>>;

        /// Rotates a refresh token in one atomic step (see [`RotateOutcome`]).
        /// Of N concurrent rotations of one token exactly one gets `Rotated`;
        /// the others see a rotated token and get `Reused` (unless within the
        /// grace period), which revokes the session.
        async fn rotate_refresh(&self, req: &RotateRefresh) -> AuthResult<RotateOutcome>;

        /// The user's sessions that are not revoked and not past `expires_at`
        /// at `now`, newest first.
        async fn sessions_for_user(
            &self,
            user_id: Uuid,
            now: DateTime<Utc>,
        ) -> AuthResult<Vec<Session>>;

        /// Revokes one session of `user_id`. Returns whether a live session was
        /// revoked (false if unknown, someone else's, or already revoked).
        async fn revoke_session(
            &self,
            user_id: Uuid,
            session_id: Uuid,
            now: DateTime<Utc>,
            reason: &str,
        ) -> AuthResult<bool>;

        /// Revokes every live session of `user_id` except `keep`; returns how
        /// many were revoked.
        async fn revoke_user_sessions(
            &self,
            user_id: Uuid,
            keep: Option<Uuid>,
            now: DateTime<Utc>,
            reason: &str,
        ) -> AuthResult<u64>;

        /// Ids of the sessions revoked after `since` whose absolute expiry is
        /// after `since` too: with `since` = now − access-token lifetime −
        /// leeway, every session whose access tokens may still verify. Read
        /// once at start-up to restore the revocation list, so a restart does
        /// not bring revoked sessions' tokens back to life. Any order.
        async fn revoked_sessions_since(&self, since: DateTime<Utc>) -> AuthResult<Vec<Uuid>>;

        /// Deletes sessions (and their refresh tokens) that expired or were
        /// revoked before `before`; returns how many.
        async fn purge_sessions(&self, before: DateTime<Utc>) -> AuthResult<u64>;
    }
}

store_trait! {
    /// One-time secrets.
    pub trait OneTimeTokenStore: "tokens" {
        /// Stores `token` and, in the same atomic step, invalidates every older
        /// unconsumed token with the same purpose and subject (newest-only).
        async fn issue_token(&self, token: &OneTimeToken) -> AuthResult<()>;

        /// Consumes the live token with this purpose and hash at `now`. Of N
        /// concurrent calls exactly one gets `Some`.
        async fn consume_token(
            &self,
            purpose: Purpose,
            hash: &TokenHash,
            now: DateTime<Utc>,
        ) -> AuthResult<Option<OneTimeToken>>;

        /// The live token with this purpose and hash, without consuming it
        /// (to validate input before spending the token).
        async fn find_token(
            &self,
            purpose: Purpose,
            hash: &TokenHash,
            now: DateTime<Utc>,
        ) -> AuthResult<Option<OneTimeToken>>;

        /// Checks a code against the newest live token of (purpose, subject):
        /// consumes it on a match, counts an attempt otherwise. Atomic: of N
        /// concurrent correct submissions exactly one is accepted, and every
        /// wrong one counts.
        async fn check_code(
            &self,
            purpose: Purpose,
            subject: &str,
            hash: &TokenHash,
            now: DateTime<Utc>,
        ) -> AuthResult<CodeCheck>;

        /// The newest live token of (purpose, subject), without consuming it.
        async fn peek_token(
            &self,
            purpose: Purpose,
            subject: &str,
            now: DateTime<Utc>,
        ) -> AuthResult<Option<OneTimeToken>>;

        /// Deletes tokens that expired or were used before `before`.
        async fn purge_tokens(&self, before: DateTime<Utc>) -> AuthResult<u64>;
    }
}

store_trait! {
    /// The append-only audit log. There is deliberately no update or delete.
    pub trait AuditStore: "audit" {
        /// Appends one record.
        async fn append_audit(&self, record: &AuditRecord) -> AuthResult<()>;

        /// Records matching `query`, newest first.
        async fn audit_records(&self, query: &AuditQuery) -> AuthResult<Vec<AuditRecord>>;
    }
}

/// A signing key as persisted, so every instance signs and verifies with
/// the same keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// Key id (`kid`).
    pub kid: String,
    /// JWS algorithm name (`EdDSA`, `ES256`, `RS256`, `HS256`).
    pub algorithm: String,
    /// The private key: PKCS#8 PEM, or base64url of the secret for HS256.
    pub private_material: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// When it stopped signing; verification continues for a grace period.
    pub retired_at: Option<DateTime<Utc>>,
}

store_trait! {
    /// Signing keys.
    pub trait KeyStore: "keys" {
        /// Every stored key, oldest first.
        async fn signing_keys(&self) -> AuthResult<Vec<KeyRecord>>;

        /// Adds a key, unless one with its `kid` exists; returns whether it
        /// was added.
        async fn add_signing_key(&self, key: &KeyRecord) -> AuthResult<bool>;

        /// Marks a key retired at `at` (idempotent).
        async fn retire_signing_key(&self, kid: &str, at: DateTime<Utc>) -> AuthResult<()>;

        /// Deletes keys retired before `before`; returns how many.
        async fn delete_retired_keys(&self, before: DateTime<Utc>) -> AuthResult<u64>;
    }
}

/// A backend that implements every store trait.
pub trait Backend:
    UserStore
    + SessionStore
    + OneTimeTokenStore
    + AuditStore
    + KeyStore
    + MfaStore
    + IdentityStore
    + OrgStore
    + UserAdminStore
    + 'static
{
}

impl<T> Backend for T where
    T: UserStore
        + SessionStore
        + OneTimeTokenStore
        + AuditStore
        + KeyStore
        + MfaStore
        + IdentityStore
        + OrgStore
        + UserAdminStore
        + 'static
{
}

/// The bundle of stores [`Auth`](crate::Auth) works with. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    /// Accounts.
    pub users: Arc<dyn UserStore>,
    /// Sessions and refresh tokens.
    pub sessions: Arc<dyn SessionStore>,
    /// One-time secrets.
    pub tokens: Arc<dyn OneTimeTokenStore>,
    /// Audit log.
    pub audit: Arc<dyn AuditStore>,
    /// Signing keys.
    pub keys: Arc<dyn KeyStore>,
    /// Multi-factor state.
    pub mfa: Arc<dyn MfaStore>,
    /// Social / OpenID Connect identities.
    pub identities: Arc<dyn IdentityStore>,
    /// Organisations, memberships, invitations.
    pub orgs: Arc<dyn OrgStore>,
    /// Account search and locks for the admin API.
    pub user_admin: Arc<dyn UserAdminStore>,
}

impl Store {
    /// Bundles one backend that implements every trait. Each call is
    /// timed into the `authkit_store_call_duration_seconds` histogram (a
    /// no-op without a metrics recorder; see [`crate::telemetry`]).
    pub fn new<B: Backend>(backend: B) -> Self {
        use declare::Timed;
        let backend = Arc::new(backend);
        Self {
            users: Arc::new(Timed::<dyn UserStore>(backend.clone())),
            sessions: Arc::new(Timed::<dyn SessionStore>(backend.clone())),
            tokens: Arc::new(Timed::<dyn OneTimeTokenStore>(backend.clone())),
            audit: Arc::new(Timed::<dyn AuditStore>(backend.clone())),
            keys: Arc::new(Timed::<dyn KeyStore>(backend.clone())),
            mfa: Arc::new(Timed::<dyn MfaStore>(backend.clone())),
            identities: Arc::new(Timed::<dyn IdentityStore>(backend.clone())),
            orgs: Arc::new(Timed::<dyn OrgStore>(backend.clone())),
            user_admin: Arc::new(Timed::<dyn UserAdminStore>(backend)),
        }
    }

    /// Deletes expired sessions and one-time tokens older than `before`;
    /// hosts schedule this. Returns (sessions, tokens) removed.
    pub async fn purge_expired(&self, before: DateTime<Utc>) -> AuthResult<(u64, u64)> {
        let sessions = self.sessions.purge_sessions(before).await?;
        let tokens = self.tokens.purge_tokens(before).await?;
        Ok((sessions, tokens))
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}
