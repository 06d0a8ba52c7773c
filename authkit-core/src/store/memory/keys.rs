//! Signing keys.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{MemoryStore, lock};
use crate::error::AuthResult;
use crate::store::{KeyRecord, KeyStore};

/// Keys in ascending `created_at` order (a handful at any time).
#[derive(Debug, Default)]
pub(crate) struct KeyTable {
    keys: Vec<KeyRecord>,
}

#[async_trait]
impl KeyStore for MemoryStore {
    async fn signing_keys(&self) -> AuthResult<Vec<KeyRecord>> {
        Ok(lock(&self.keys).keys.clone())
    }

    async fn add_signing_key(&self, key: &KeyRecord) -> AuthResult<bool> {
        let mut table = lock(&self.keys);
        if table.keys.iter().any(|k| k.kid == key.kid) {
            return Ok(false);
        }
        let at = table
            .keys
            .partition_point(|k| k.created_at <= key.created_at);
        table.keys.insert(at, key.clone());
        Ok(true)
    }

    async fn retire_signing_key(&self, kid: &str, at: DateTime<Utc>) -> AuthResult<()> {
        let mut table = lock(&self.keys);
        if let Some(key) = table.keys.iter_mut().find(|k| k.kid == kid) {
            key.retired_at.get_or_insert(at);
        }
        Ok(())
    }

    async fn delete_retired_keys(&self, before: DateTime<Utc>) -> AuthResult<u64> {
        let mut table = lock(&self.keys);
        let len = table.keys.len();
        table
            .keys
            .retain(|k| k.retired_at.is_none_or(|at| at >= before));
        Ok((len - table.keys.len()) as u64)
    }
}
