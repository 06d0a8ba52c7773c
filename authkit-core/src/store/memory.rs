//! In-memory store. INTERFACE STUB — replaced by the real implementation.

/// Every store trait in process memory: tests, examples, prototyping.
#[derive(Debug, Default)]
pub struct MemoryStore {}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}
