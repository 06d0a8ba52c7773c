//! axum adapter for authkit.
//!
//! Not built yet: this crate will mount the framework-neutral HTTP API from
//! `authkit-core` as an `axum::Router` and provide extractors and layers.
