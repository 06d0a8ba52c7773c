//! Signing keys, key sets with rotation and JWKS, and JWT access tokens.
//!
//! A [`SigningKey`] is bound to one [`Algorithm`] and named by its `kid`.
//! A [`KeySet`] holds the key that signs plus retired keys that still
//! verify, and publishes the public halves as a JWKS. [`AccessTokens`]
//! issues and verifies `at+jwt` access tokens with a key set that can be
//! swapped at run time.

mod access;
mod algorithm;
mod key_set;
mod keys;

pub use crate::auth::keys::Keys;
pub use access::{
    AccessClaims, AccessTokens, MAX_LEEWAY_SECS, MAX_TOKEN_LEN, VERIFIED_CACHE_CAPACITY,
};
pub use algorithm::Algorithm;
pub use key_set::KeySet;
pub use keys::{MIN_HMAC_SECRET_LEN, SigningKey};

#[cfg(test)]
mod tests;
