//! Multi-factor state in memory.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::error::AuthResult;
use crate::secret::{TokenHash, ct_eq};
use crate::store::memory::{MemoryStore, lock};
use crate::store::{DeviceSeen, MfaStatus, MfaStore, TotpRecord};

/// A backup code's hash and when it was used.
type BackupCode = (TokenHash, Option<DateTime<Utc>>);

/// TOTP enrolments, backup codes, failure counts and devices, per account.
#[derive(Debug, Default)]
pub(crate) struct MfaTable {
    totp: HashMap<Uuid, TotpRecord>,
    backup_codes: HashMap<Uuid, Vec<BackupCode>>,
    /// Failure count and time of the last failure.
    failures: HashMap<Uuid, (u32, DateTime<Utc>)>,
    /// Device fingerprint → last seen.
    devices: HashMap<Uuid, HashMap<TokenHash, DateTime<Utc>>>,
}

#[async_trait]
impl MfaStore for MemoryStore {
    async fn put_totp(&self, record: &TotpRecord) -> AuthResult<bool> {
        let mut table = lock(&self.mfa);
        if table
            .totp
            .get(&record.user_id)
            .is_some_and(TotpRecord::is_confirmed)
        {
            return Ok(false);
        }
        table.totp.insert(record.user_id, record.clone());
        Ok(true)
    }

    async fn totp(&self, user_id: Uuid) -> AuthResult<Option<TotpRecord>> {
        Ok(lock(&self.mfa).totp.get(&user_id).cloned())
    }

    async fn confirm_totp(
        &self,
        user_id: Uuid,
        secret: &[u8],
        step: u64,
        now: DateTime<Utc>,
    ) -> AuthResult<bool> {
        let mut table = lock(&self.mfa);
        match table.totp.get_mut(&user_id) {
            Some(record) if !record.is_confirmed() && ct_eq(&record.secret, secret) => {
                record.confirmed_at = Some(now);
                record.last_step = Some(step);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn accept_totp_step(&self, user_id: Uuid, step: u64) -> AuthResult<bool> {
        let mut table = lock(&self.mfa);
        match table.totp.get_mut(&user_id) {
            Some(record) if record.is_confirmed() && record.last_step.is_none_or(|s| s < step) => {
                record.last_step = Some(step);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn delete_totp(&self, user_id: Uuid) -> AuthResult<bool> {
        Ok(lock(&self.mfa).totp.remove(&user_id).is_some())
    }

    async fn replace_backup_codes(
        &self,
        user_id: Uuid,
        hashes: &[TokenHash],
        _now: DateTime<Utc>,
    ) -> AuthResult<()> {
        let mut table = lock(&self.mfa);
        if hashes.is_empty() {
            table.backup_codes.remove(&user_id);
        } else {
            table
                .backup_codes
                .insert(user_id, hashes.iter().map(|h| (*h, None)).collect());
        }
        Ok(())
    }

    async fn consume_backup_code(
        &self,
        user_id: Uuid,
        hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> AuthResult<bool> {
        let mut table = lock(&self.mfa);
        let Some(codes) = table.backup_codes.get_mut(&user_id) else {
            return Ok(false);
        };
        match codes
            .iter_mut()
            .find(|(h, used)| used.is_none() && h.ct_eq(hash))
        {
            Some((_, used)) => {
                *used = Some(now);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn backup_codes_remaining(&self, user_id: Uuid) -> AuthResult<u32> {
        let table = lock(&self.mfa);
        let unused = table.backup_codes.get(&user_id).map_or(0, |codes| {
            codes.iter().filter(|(_, used)| used.is_none()).count()
        });
        Ok(u32::try_from(unused).unwrap_or(u32::MAX))
    }

    async fn mfa_status(&self, user_id: Uuid) -> AuthResult<MfaStatus> {
        Ok(MfaStatus {
            totp_confirmed: self
                .totp(user_id)
                .await?
                .is_some_and(|record| record.is_confirmed()),
            backup_codes_remaining: self.backup_codes_remaining(user_id).await?,
        })
    }

    async fn record_mfa_failure(
        &self,
        user_id: Uuid,
        now: DateTime<Utc>,
        window: Duration,
    ) -> AuthResult<u32> {
        let mut table = lock(&self.mfa);
        let entry = table.failures.entry(user_id).or_insert((0, now));
        let count = if now - entry.1 > window {
            1
        } else {
            entry.0.saturating_add(1)
        };
        *entry = (count, now);
        Ok(count)
    }

    async fn clear_mfa_failures(&self, user_id: Uuid) -> AuthResult<()> {
        lock(&self.mfa).failures.remove(&user_id);
        Ok(())
    }

    async fn remember_device(
        &self,
        user_id: Uuid,
        device: &TokenHash,
        now: DateTime<Utc>,
    ) -> AuthResult<DeviceSeen> {
        let mut table = lock(&self.mfa);
        let devices = table.devices.entry(user_id).or_default();
        let first = devices.is_empty();
        Ok(match devices.insert(*device, now) {
            Some(_) => DeviceSeen::Known,
            None if first => DeviceSeen::First,
            None => DeviceSeen::New,
        })
    }
}
