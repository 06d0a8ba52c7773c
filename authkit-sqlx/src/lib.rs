//! PostgreSQL, SQLite and MySQL stores for authkit.
//!
//! Not built yet: this crate will implement every `authkit_core::store`
//! trait on top of sqlx and pass the same conformance suite as the
//! in-memory store. Until then, use `authkit_core::store::MemoryStore`.
