//! The append-only audit log.

use async_trait::async_trait;

use super::{MemoryStore, lock};
use crate::audit::{AuditQuery, AuditRecord};
use crate::error::AuthResult;
use crate::store::AuditStore;

/// Records in ascending (`at`, `id`) order, so queries walk it backwards.
#[derive(Debug, Default)]
pub(crate) struct AuditLog {
    records: Vec<AuditRecord>,
}

#[async_trait]
impl AuditStore for MemoryStore {
    async fn append_audit(&self, record: &AuditRecord) -> AuthResult<()> {
        let mut log = lock(&self.audit);
        // Records mostly arrive in time order: this is usually the end.
        let at = log
            .records
            .partition_point(|r| (r.at, r.id) <= (record.at, record.id));
        log.records.insert(at, record.clone());
        Ok(())
    }

    async fn audit_records(&self, query: &AuditQuery) -> AuthResult<Vec<AuditRecord>> {
        let log = lock(&self.audit);
        Ok(log
            .records
            .iter()
            .rev()
            .filter(|record| query.matches(record))
            .skip(usize::try_from(query.offset).unwrap_or(usize::MAX))
            .take(usize::try_from(query.limit).unwrap_or(usize::MAX))
            .cloned()
            .collect())
    }
}
