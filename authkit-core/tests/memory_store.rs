//! The store conformance suite on the in-memory store.
#![cfg(feature = "testing")]

use authkit_core::store::{MemoryStore, Store};

authkit_core::store_conformance_tests!(async { Store::new(MemoryStore::new()) });
