//! Signing keys, key sets with rotation and JWKS, and JWT access tokens.
//!
//! INTERFACE STUB — replaced by the real implementation.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::AuthResult;
use crate::store::KeyRecord;

/// JWS algorithms authkit signs with. Each key is bound to exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// Ed25519 (default).
    EdDSA,
    /// ECDSA P-256 with SHA-256.
    ES256,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// HMAC-SHA256 (single-service setups only).
    HS256,
}

/// One signing key with its `kid` and algorithm.
#[derive(Clone)]
pub struct SigningKey {}

impl SigningKey {
    /// Generates a fresh key with a random `kid`.
    pub fn generate(alg: Algorithm) -> AuthResult<Self> {
        let _ = alg;
        unimplemented!()
    }
    /// Rebuilds a key from its stored form.
    pub fn from_record(record: &KeyRecord) -> AuthResult<Self> {
        let _ = record;
        unimplemented!()
    }
    /// The stored form.
    pub fn to_record(&self, created_at: DateTime<Utc>) -> KeyRecord {
        let _ = created_at;
        unimplemented!()
    }
    /// Key id.
    pub fn kid(&self) -> &str {
        unimplemented!()
    }
}

/// The current signing key plus retired keys still accepted for verification.
#[derive(Clone)]
pub struct KeySet {}

impl KeySet {
    /// A set with one current key.
    pub fn new(current: SigningKey) -> Self {
        let _ = current;
        unimplemented!()
    }
    /// Builds the set from stored records: the newest unretired key signs;
    /// keys retired after `now - grace` still verify; older ones are dropped.
    /// `None` when no unretired key exists.
    pub fn from_records(
        records: &[KeyRecord],
        now: DateTime<Utc>,
        grace: chrono::Duration,
    ) -> AuthResult<Option<Self>> {
        let _ = (records, now, grace);
        unimplemented!()
    }
    /// The JWKS document (public keys only).
    pub fn jwks(&self) -> serde_json::Value {
        unimplemented!()
    }
}

/// Claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Subject: the user id.
    pub sub: String,
    /// Expiry (Unix seconds).
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// Token id.
    pub jti: String,
    /// Session id.
    pub sid: String,
    /// Global roles.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Global permissions.
    #[serde(default)]
    pub permissions: Vec<String>,
}

/// Issues and verifies access tokens with a [`KeySet`].
pub struct AccessTokens {}

impl AccessTokens {
    /// A codec for `issuer`/`audience` with `ttl` lifetime and `leeway` for clock skew.
    pub fn new(
        keys: KeySet,
        issuer: impl Into<String>,
        audience: impl Into<String>,
        ttl: chrono::Duration,
        leeway: chrono::Duration,
    ) -> Self {
        let _ = (keys, issuer.into(), audience.into(), ttl, leeway);
        unimplemented!()
    }
    /// Signs a token for `sub` in session `sid` at `now`.
    pub fn issue(
        &self,
        sub: Uuid,
        sid: Uuid,
        roles: &[String],
        permissions: &[String],
        now: DateTime<Utc>,
    ) -> AuthResult<(String, AccessClaims)> {
        let _ = (sub, sid, roles, permissions, now);
        unimplemented!()
    }
    /// Verifies a token at `now`: `TokenInvalid` or `TokenExpired` on failure.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> AuthResult<AccessClaims> {
        let _ = (token, now);
        unimplemented!()
    }
    /// Swaps in a new key set (after a rotation), without blocking verifiers.
    pub fn set_keys(&self, keys: KeySet) {
        let _ = keys;
        unimplemented!()
    }
    /// The key set in use.
    pub fn keys(&self) -> std::sync::Arc<KeySet> {
        unimplemented!()
    }
}
