//! Multi-factor state: TOTP enrolments, backup codes, the MFA failure
//! budget, and known sign-in devices.
//!
//! Every single-use transition is one call that maps to one atomic SQL
//! statement (noted on each method), so of N concurrent callers exactly one
//! wins.

use crate::store::declare::store_trait;
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::error::AuthResult;
use crate::mfa::TotpParams;
use crate::secret::TokenHash;

/// A TOTP enrolment as stored: pending until confirmed with a valid code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpRecord {
    /// The account (one enrolment per account).
    pub user_id: Uuid,
    /// The secret, encrypted ([`SecretCipher`](crate::mfa::SecretCipher));
    /// never stored in clear.
    pub secret: Vec<u8>,
    /// How codes are computed for this enrolment.
    pub params: TotpParams,
    /// When the enrolment was started.
    pub created_at: DateTime<Utc>,
    /// When a valid code confirmed it; `None` while pending.
    pub confirmed_at: Option<DateTime<Utc>>,
    /// The last time step accepted; codes of this step or earlier are
    /// refused (replay protection).
    pub last_step: Option<u64>,
}

impl TotpRecord {
    /// Whether the enrolment is confirmed (TOTP is on for the account).
    pub fn is_confirmed(&self) -> bool {
        self.confirmed_at.is_some()
    }
}

/// An account's second factors at a glance ([`MfaStore::mfa_status`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MfaStatus {
    /// A confirmed TOTP enrolment exists (MFA is on for the account).
    pub totp_confirmed: bool,
    /// Unused backup codes.
    pub backup_codes_remaining: u32,
}

/// Whether a sign-in device was seen before on the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceSeen {
    /// The account's first recorded device (no notice is due).
    First,
    /// Known already.
    Known,
    /// New to an account that has other devices.
    New,
}

store_trait! {
    /// Multi-factor state.
    pub trait MfaStore: "mfa" {
        /// Stores a pending enrolment, replacing any pending one of the account.
        /// Refuses (returns `false`, changes nothing) when the account has a
        /// confirmed enrolment. SQL: `INSERT ... ON CONFLICT (user_id) DO UPDATE
        /// SET ... WHERE confirmed_at IS NULL`.
        async fn put_totp(&self, record: &TotpRecord) -> AuthResult<bool>
        => changes(record.user_id);

        /// The account's enrolment, pending or confirmed.
        async fn totp(&self, user_id: Uuid) -> AuthResult<Option<TotpRecord>>;

        /// Confirms the pending enrolment whose stored secret is exactly
        /// `secret` (so a setup that replaced it meanwhile is not confirmed),
        /// recording `step` as the last accepted step. Returns whether it was
        /// confirmed; of N concurrent calls at most one is. SQL: `UPDATE ... SET
        /// confirmed_at = ?, last_step = ? WHERE user_id = ? AND confirmed_at IS
        /// NULL AND secret = ?`.
        async fn confirm_totp(
            &self,
            user_id: Uuid,
            secret: &[u8],
            step: u64,
            now: DateTime<Utc>,
        ) -> AuthResult<bool>
        => changes(user_id);

        /// Records `step` as accepted if it is later than the last accepted
        /// step of the account's CONFIRMED enrolment. Returns whether it was;
        /// of N concurrent calls with one step exactly one succeeds. SQL:
        /// `UPDATE ... SET last_step = ? WHERE user_id = ? AND confirmed_at IS
        /// NOT NULL AND (last_step IS NULL OR last_step < ?)`.
        async fn accept_totp_step(&self, user_id: Uuid, step: u64) -> AuthResult<bool>;

        /// Removes the account's enrolment (pending or confirmed); returns
        /// whether one existed.
        async fn delete_totp(&self, user_id: Uuid) -> AuthResult<bool> => changes(user_id);

        /// Replaces the account's backup codes with `hashes` in one atomic step
        /// (an empty slice removes them all). SQL: one transaction of a `DELETE`
        /// and an `INSERT`.
        async fn replace_backup_codes(
            &self,
            user_id: Uuid,
            hashes: &[TokenHash],
            now: DateTime<Utc>,
        ) -> AuthResult<()>
        => changes(user_id);

        /// Spends the account's unused backup code with this hash. Returns
        /// whether one was spent; of N concurrent calls exactly one succeeds.
        /// SQL: `UPDATE ... SET used_at = ? WHERE user_id = ? AND hash = ? AND
        /// used_at IS NULL`.
        async fn consume_backup_code(
            &self,
            user_id: Uuid,
            hash: &TokenHash,
            now: DateTime<Utc>,
        ) -> AuthResult<bool>
        => changes(user_id);

        /// How many unused backup codes the account has.
        async fn backup_codes_remaining(&self, user_id: Uuid) -> AuthResult<u32>;

        /// Whether TOTP is on and how many backup codes are left, in one call:
        /// `/me` and every login need both, so SQL stores answer with a single
        /// query.
        async fn mfa_status(&self, user_id: Uuid) -> AuthResult<MfaStatus>;

        /// Atomically counts a failed second-factor attempt at `now` and returns
        /// the count, which restarts when the previous failure is older than
        /// `window`. Shared by every MFA method; only
        /// [`clear_mfa_failures`](Self::clear_mfa_failures) resets it (not a
        /// new challenge, code or login). Concurrent failures all count.
        async fn record_mfa_failure(
            &self,
            user_id: Uuid,
            now: DateTime<Utc>,
            window: Duration,
        ) -> AuthResult<u32>;

        /// Resets the failure count (after a successful second factor).
        async fn clear_mfa_failures(&self, user_id: Uuid) -> AuthResult<()>;

        /// Records a sign-in from `device` (a keyed fingerprint) at `now` and
        /// tells whether it is the account's first, a known or a new device.
        /// SQL: `INSERT ... ON CONFLICT DO UPDATE SET last_seen_at = ?`, with
        /// the row count deciding new or known.
        async fn remember_device(
            &self,
            user_id: Uuid,
            device: &TokenHash,
            now: DateTime<Utc>,
        ) -> AuthResult<DeviceSeen>;
    }
}
