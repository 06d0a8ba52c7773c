//! A decorator over every store trait that times each call into the
//! `authkit_store_call_duration_seconds` histogram, labelled with the
//! operation (`users.user_by_email`, `sessions.rotate_refresh`, …) and
//! `ok`/`error`. [`Store::instrumented`](super::Store::instrumented)
//! applies it; [`Auth`](crate::Auth) does so for every store it is given.
//!
//! Without a metrics recorder the cost is two clock reads per call.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::{
    AuditStore, DeviceSeen, FailureState, KeyRecord, KeyStore, LockoutPolicy, MfaStatus, MfaStore,
    OneTimeTokenStore, SessionStore, TotpRecord, UserStore, UserUpdate,
};
use crate::audit::{AuditQuery, AuditRecord};
use crate::email::{Email, Phone};
use crate::error::AuthResult;
use crate::one_time::{CodeCheck, OneTimeToken, Purpose};
use crate::secret::TokenHash;
use crate::session::{RotateOutcome, RotateRefresh, Session};
use crate::telemetry;
use crate::user::User;

/// One store of the bundle, timed.
pub(super) struct Instrumented<T: ?Sized>(pub(super) Arc<T>);

/// Implements `$trait` for `Instrumented<dyn $trait>`: each method forwards
/// to the inner store and records its duration as `<$group>.<method>`.
macro_rules! instrument {
    ($trait:ident, $group:literal, {
        $(fn $method:ident(&self $(, $arg:ident: $ty:ty)* $(,)?) -> $ret:ty;)*
    }) => {
        #[async_trait]
        impl $trait for Instrumented<dyn $trait> {
            $(
                async fn $method(&self $(, $arg: $ty)*) -> AuthResult<$ret> {
                    let started = Instant::now();
                    let result = self.0.$method($($arg),*).await;
                    telemetry::store_call(
                        concat!($group, ".", stringify!($method)),
                        started,
                        &result,
                    );
                    result
                }
            )*
        }
    };
}

instrument!(UserStore, "users", {
    fn create_user(&self, user: &User) -> ();
    fn user_by_id(&self, id: Uuid) -> Option<User>;
    fn user_by_email(&self, email: &Email) -> Option<User>;
    fn users_by_verified_phone(&self, phone: &Phone) -> Vec<User>;
    fn update_user(&self, user_id: Uuid, update: &UserUpdate, now: DateTime<Utc>) -> bool;
    fn record_login_failure(
        &self,
        user_id: Uuid,
        now: DateTime<Utc>,
        policy: LockoutPolicy,
    ) -> FailureState;
    fn clear_login_failures(&self, user_id: Uuid) -> ();
});

instrument!(SessionStore, "sessions", {
    fn create_session(&self, session: &Session, refresh: &TokenHash) -> ();
    fn session(&self, id: Uuid) -> Option<Session>;
    fn session_by_refresh(&self, refresh: &TokenHash) -> Option<Session>;
    fn session_by_current_refresh(&self, refresh: &TokenHash) -> Option<Session>;
    fn rotate_refresh(&self, req: &RotateRefresh) -> RotateOutcome;
    fn sessions_for_user(&self, user_id: Uuid, now: DateTime<Utc>) -> Vec<Session>;
    fn revoke_session(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        now: DateTime<Utc>,
        reason: &str,
    ) -> bool;
    fn revoke_user_sessions(
        &self,
        user_id: Uuid,
        keep: Option<Uuid>,
        now: DateTime<Utc>,
        reason: &str,
    ) -> u64;
    fn revoked_sessions_since(&self, since: DateTime<Utc>) -> Vec<Uuid>;
    fn purge_sessions(&self, before: DateTime<Utc>) -> u64;
});

instrument!(OneTimeTokenStore, "tokens", {
    fn issue_token(&self, token: &OneTimeToken) -> ();
    fn consume_token(
        &self,
        purpose: Purpose,
        hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> Option<OneTimeToken>;
    fn find_token(
        &self,
        purpose: Purpose,
        hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> Option<OneTimeToken>;
    fn check_code(
        &self,
        purpose: Purpose,
        subject: &str,
        hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> CodeCheck;
    fn peek_token(
        &self,
        purpose: Purpose,
        subject: &str,
        now: DateTime<Utc>,
    ) -> Option<OneTimeToken>;
    fn purge_tokens(&self, before: DateTime<Utc>) -> u64;
});

instrument!(AuditStore, "audit", {
    fn append_audit(&self, record: &AuditRecord) -> ();
    fn audit_records(&self, query: &AuditQuery) -> Vec<AuditRecord>;
});

instrument!(KeyStore, "keys", {
    fn signing_keys(&self) -> Vec<KeyRecord>;
    fn add_signing_key(&self, key: &KeyRecord) -> bool;
    fn retire_signing_key(&self, kid: &str, at: DateTime<Utc>) -> ();
    fn delete_retired_keys(&self, before: DateTime<Utc>) -> u64;
});

instrument!(MfaStore, "mfa", {
    fn put_totp(&self, record: &TotpRecord) -> bool;
    fn totp(&self, user_id: Uuid) -> Option<TotpRecord>;
    fn confirm_totp(&self, user_id: Uuid, secret: &[u8], step: u64, now: DateTime<Utc>) -> bool;
    fn accept_totp_step(&self, user_id: Uuid, step: u64) -> bool;
    fn delete_totp(&self, user_id: Uuid) -> bool;
    fn replace_backup_codes(&self, user_id: Uuid, hashes: &[TokenHash], now: DateTime<Utc>) -> ();
    fn consume_backup_code(&self, user_id: Uuid, hash: &TokenHash, now: DateTime<Utc>) -> bool;
    fn backup_codes_remaining(&self, user_id: Uuid) -> u32;
    // Forwarded, not left to the trait's default: SQL stores answer it in
    // one query where the default makes two.
    fn mfa_status(&self, user_id: Uuid) -> MfaStatus;
    fn record_mfa_failure(&self, user_id: Uuid, now: DateTime<Utc>, window: Duration) -> u32;
    fn clear_mfa_failures(&self, user_id: Uuid) -> ();
    fn remember_device(&self, user_id: Uuid, device: &TokenHash, now: DateTime<Utc>) -> DeviceSeen;
});
