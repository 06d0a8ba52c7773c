//! The store conformance suite, base and every capability, on the
//! in-memory store.
#![cfg(feature = "testing")]

use authkit_core::store::{MemoryStore, Store};

authkit_core::store_conformance_tests!(async { Store::new(MemoryStore::new()) });
authkit_core::mfa_store_conformance_tests!(async { Store::new(MemoryStore::new()) });
authkit_core::identity_store_conformance_tests!(async { Store::new(MemoryStore::new()) });
authkit_core::org_store_conformance_tests!(async { Store::new(MemoryStore::new()) });
authkit_core::user_admin_store_conformance_tests!(async { Store::new(MemoryStore::new()) });
