//! actix-web adapter for authkit.
//!
//! Not built yet: this crate will mount the framework-neutral HTTP API from
//! `authkit-core` as an actix-web scope and provide extractors and middleware.
