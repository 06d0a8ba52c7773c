//! Provider identities in memory.

use std::collections::HashMap;

use async_trait::async_trait;
use uuid::Uuid;

use crate::error::AuthResult;
use crate::store::memory::{MemoryStore, lock};
use crate::store::{Identity, IdentityStore, LinkOutcome, UnlinkOutcome};

/// Identities by (provider, subject), with the per-account index.
#[derive(Debug, Default)]
pub(crate) struct IdentityTable {
    by_subject: HashMap<(String, String), Identity>,
    /// Account → its identities' (provider, subject), oldest link first.
    by_user: HashMap<Uuid, Vec<(String, String)>>,
}

#[async_trait]
impl IdentityStore for MemoryStore {
    async fn link_identity(&self, identity: &Identity) -> AuthResult<LinkOutcome> {
        let mut table = lock(&self.identities);
        let key = (identity.provider.clone(), identity.subject.clone());
        if let Some(existing) = table.by_subject.get(&key) {
            return Ok(LinkOutcome::SubjectTaken(existing.user_id));
        }
        let keys = table.by_user.entry(identity.user_id).or_default();
        if keys
            .iter()
            .any(|(provider, _)| *provider == identity.provider)
        {
            return Ok(LinkOutcome::ProviderTaken);
        }
        keys.push(key.clone());
        table.by_subject.insert(key, identity.clone());
        Ok(LinkOutcome::Linked)
    }

    async fn identity(&self, provider: &str, subject: &str) -> AuthResult<Option<Identity>> {
        Ok(lock(&self.identities)
            .by_subject
            .get(&(provider.to_owned(), subject.to_owned()))
            .cloned())
    }

    async fn identities_for_user(&self, user_id: Uuid) -> AuthResult<Vec<Identity>> {
        let table = lock(&self.identities);
        Ok(table
            .by_user
            .get(&user_id)
            .into_iter()
            .flatten()
            .filter_map(|key| table.by_subject.get(key).cloned())
            .collect())
    }

    async fn unlink_identity(
        &self,
        user_id: Uuid,
        provider: &str,
        keep_one: bool,
    ) -> AuthResult<UnlinkOutcome> {
        let mut table = lock(&self.identities);
        let Some(keys) = table.by_user.get_mut(&user_id) else {
            return Ok(UnlinkOutcome::NotFound);
        };
        let Some(index) = keys.iter().position(|(p, _)| p == provider) else {
            return Ok(UnlinkOutcome::NotFound);
        };
        if keep_one && keys.len() == 1 {
            return Ok(UnlinkOutcome::LastIdentity);
        }
        let key = keys.remove(index);
        table.by_subject.remove(&key);
        Ok(UnlinkOutcome::Unlinked)
    }
}
