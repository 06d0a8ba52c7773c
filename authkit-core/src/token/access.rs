//! JWT access tokens (the RFC 9068 profile): issuing, and the strict
//! verifier that runs on every authenticated request.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use uuid::Uuid;

use sha2::{Digest, Sha256};

use super::KeySet;
use super::keys::is_valid_kid;
use crate::error::{AuthError, AuthResult};

/// Tokens longer than this (8 KiB) are refused before any parsing, and
/// issuing one that long (too many roles or permissions) fails.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// The largest clock-skew leeway [`AccessTokens`] applies, in seconds.
pub const MAX_LEEWAY_SECS: i64 = 60;

/// The `typ` header of access tokens (RFC 9068), which keeps other JWTs
/// (ID tokens, tokens of other systems) from passing as access tokens.
const TYP: &str = "at+jwt";

/// Longest accepted base64url header; ours are about 120 characters.
const MAX_HEADER_LEN: usize = 1024;

/// Most verified tokens remembered; the cache empties when full.
pub const VERIFIED_CACHE_CAPACITY: usize = 16_384;

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
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Not before (Unix seconds).
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
    /// Organisation memberships: slug → organisation role. Their
    /// permissions are resolved with the organisation role map when the
    /// token is authenticated, and never count as global permissions.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub orgs: BTreeMap<String, String>,
}

/// Issues and verifies access tokens with a [`KeySet`].
///
/// Verification takes the algorithm from the key the `kid` header names,
/// never from the `alg` header (which must merely agree). It requires `typ`
/// `at+jwt`, refuses headers that point at or embed keys (`jku`, `x5u`,
/// `jwk`, `x5c`) or demand extensions (`crit`), requires every claim of
/// [`AccessClaims`] but the role lists, and checks `iss`, `aud`, `exp`,
/// `nbf` and `iat` against the caller's `now`.
#[derive(Debug)]
pub struct AccessTokens {
    keys: RwLock<Arc<KeySet>>,
    /// Claims of tokens whose signature and header already checked out,
    /// keyed by the SHA-256 of the whole token. Time and audience are
    /// re-checked on every hit; a key-set change empties it.
    verified: Mutex<HashMap<[u8; 32], AccessClaims>>,
    issuer: String,
    audience: String,
    ttl_secs: i64,
    leeway_secs: i64,
}

impl AccessTokens {
    /// A codec for `issuer`/`audience` with `ttl` lifetime and `leeway` for
    /// clock skew. `ttl` is at least one second; `leeway` is clamped to
    /// `0..=60` seconds.
    pub fn new(
        keys: KeySet,
        issuer: impl Into<String>,
        audience: impl Into<String>,
        ttl: Duration,
        leeway: Duration,
    ) -> Self {
        Self {
            keys: RwLock::new(Arc::new(keys)),
            verified: Mutex::new(HashMap::new()),
            issuer: issuer.into(),
            audience: audience.into(),
            ttl_secs: ttl.num_seconds().max(1),
            leeway_secs: leeway.num_seconds().clamp(0, MAX_LEEWAY_SECS),
        }
    }

    /// Lifetime of issued tokens (for `expires_in`).
    pub fn ttl(&self) -> Duration {
        Duration::seconds(self.ttl_secs)
    }

    /// Signs a token for `sub` in session `sid` at `now` with the current
    /// key; the header carries `typ: at+jwt` and the key's `kid`, and `jti`
    /// is a fresh UUID v7. No organisation claims (see
    /// [`issue_with_orgs`](Self::issue_with_orgs)).
    pub fn issue(
        &self,
        sub: Uuid,
        sid: Uuid,
        roles: &[String],
        permissions: &[String],
        now: DateTime<Utc>,
    ) -> AuthResult<(String, AccessClaims)> {
        self.issue_with_orgs(sub, sid, roles, permissions, BTreeMap::new(), now)
    }

    /// Like [`issue`](Self::issue), with the caller's organisation
    /// memberships (slug → organisation role) in the `orgs` claim.
    pub fn issue_with_orgs(
        &self,
        sub: Uuid,
        sid: Uuid,
        roles: &[String],
        permissions: &[String],
        orgs: BTreeMap<String, String>,
        now: DateTime<Utc>,
    ) -> AuthResult<(String, AccessClaims)> {
        let keys = self.keys();
        let key = keys.current();
        let iat = now.timestamp();
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: sub.to_string(),
            exp: iat.saturating_add(self.ttl_secs),
            iat,
            nbf: iat,
            jti: Uuid::now_v7().to_string(),
            sid: sid.to_string(),
            roles: roles.to_vec(),
            permissions: permissions.to_vec(),
            orgs,
        };
        let header = IssuedHeader {
            alg: key.algorithm().as_str(),
            typ: TYP,
            kid: key.kid(),
        };
        let header = serde_json::to_vec(&header).map_err(AuthError::internal)?;
        let payload = serde_json::to_vec(&claims).map_err(AuthError::internal)?;
        let mut token = String::with_capacity(MAX_TOKEN_LEN / 4);
        URL_SAFE_NO_PAD.encode_string(header, &mut token);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(payload, &mut token);
        let signature =
            jsonwebtoken::crypto::sign(token.as_bytes(), key.encoding_key(), key.algorithm().jwt())
                .map_err(|e| AuthError::internal_with("signing access token", e))?;
        token.push('.');
        token.push_str(&signature);
        if token.len() > MAX_TOKEN_LEN {
            return Err(AuthError::internal_msg(
                "access token exceeds 8 KiB: too many roles or permissions",
            ));
        }
        Ok((token, claims))
    }

    /// Verifies a token at `now`. [`AuthError::TokenExpired`] when the token
    /// is genuine and otherwise valid but past `exp` (plus leeway);
    /// [`AuthError::TokenInvalid`] for anything else. Never panics.
    ///
    /// Signature checks are the hot path's biggest cost, so genuine tokens
    /// are remembered in a bounded cache (by a hash of the whole token):
    /// a repeat costs one SHA-256, and `exp`/`nbf`/`iat`/`iss`/`aud` are
    /// still checked every time. Revocation is not this method's business
    /// (see `Auth::introspect`).
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> AuthResult<AccessClaims> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(AuthError::TokenInvalid);
        }
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let cached = self
            .verified
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&digest)
            .cloned();
        let claims = match cached {
            Some(claims) => claims,
            None => {
                let claims = self.genuine_claims(token).ok_or(AuthError::TokenInvalid)?;
                let mut verified = self.verified.lock().unwrap_or_else(PoisonError::into_inner);
                if verified.len() >= VERIFIED_CACHE_CAPACITY {
                    verified.clear();
                }
                verified.insert(digest, claims.clone());
                claims
            }
        };
        self.check_claims(claims, now)
    }

    /// How many verified tokens are remembered (for metrics and tests).
    pub fn cached_tokens(&self) -> usize {
        self.verified
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Swaps in a new key set (after a rotation), without blocking
    /// verifiers for longer than a pointer swap.
    pub fn set_keys(&self, keys: KeySet) {
        let keys = Arc::new(keys);
        *self.keys.write().unwrap_or_else(PoisonError::into_inner) = keys;
        // Tokens of keys that left the set must stop verifying at once.
        self.verified
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// The key set in use.
    pub fn keys(&self) -> Arc<KeySet> {
        Arc::clone(&self.keys.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Splits the compact form, checks the header, verifies the signature
    /// with the key `kid` names and decodes the claims. `None` on any
    /// failure: the caller maps every one to `TokenInvalid`.
    fn genuine_claims(&self, token: &str) -> Option<AccessClaims> {
        if token.len() > MAX_TOKEN_LEN {
            return None;
        }
        let mut parts = token.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        if header_b64.is_empty()
            || header_b64.len() > MAX_HEADER_LEN
            || payload_b64.is_empty()
            || signature.is_empty()
        {
            return None;
        }

        let mut buf = [0u8; MAX_HEADER_LEN / 4 * 3];
        let len = URL_SAFE_NO_PAD.decode_slice(header_b64, &mut buf).ok()?;
        let header: VerifiedHeader<'_> = serde_json::from_slice(buf.get(..len)?).ok()?;
        if !(header.typ.eq_ignore_ascii_case(TYP)
            || header.typ.eq_ignore_ascii_case("application/at+jwt"))
            || !is_valid_kid(&header.kid)
        {
            return None;
        }

        let keys = self.keys();
        let key = keys.get(&header.kid)?;
        if header.alg != key.algorithm().as_str() {
            return None;
        }
        let signing_input = token.get(..header_b64.len() + 1 + payload_b64.len())?;
        let genuine = jsonwebtoken::crypto::verify(
            signature,
            signing_input.as_bytes(),
            key.decoding_key(),
            key.algorithm().jwt(),
        )
        .unwrap_or(false);
        if !genuine {
            return None;
        }

        let payload = URL_SAFE_NO_PAD.decode(payload_b64).ok()?;
        serde_json::from_slice(&payload).ok()
    }

    /// The claim checks, on a token whose signature is genuine.
    fn check_claims(&self, claims: AccessClaims, now: DateTime<Utc>) -> AuthResult<AccessClaims> {
        let now = now.timestamp();
        let latest_start = now.saturating_add(self.leeway_secs);
        if claims.iss != self.issuer
            || claims.aud != self.audience
            || claims.sub.is_empty()
            || claims.sid.is_empty()
            || claims.jti.is_empty()
            || claims.nbf > latest_start
            || claims.iat > latest_start
        {
            return Err(AuthError::TokenInvalid);
        }
        if now >= claims.exp.saturating_add(self.leeway_secs) {
            return Err(AuthError::TokenExpired);
        }
        Ok(claims)
    }
}

/// The header authkit writes.
#[derive(Serialize)]
struct IssuedHeader<'a> {
    alg: &'a str,
    typ: &'a str,
    kid: &'a str,
}

/// The header members the verifier reads, borrowed from the decoded
/// header where possible. Duplicate members fail to parse; unknown ones
/// are ignored, except those that would let a token choose its own key or
/// demand processing we do not do, whose mere presence fails the parse.
#[derive(Deserialize)]
struct VerifiedHeader<'a> {
    #[serde(borrow)]
    alg: Cow<'a, str>,
    #[serde(borrow)]
    typ: Cow<'a, str>,
    #[serde(borrow)]
    kid: Cow<'a, str>,
    #[serde(rename = "jku", default, deserialize_with = "refuse")]
    _jku: (),
    #[serde(rename = "x5u", default, deserialize_with = "refuse")]
    _x5u: (),
    #[serde(rename = "jwk", default, deserialize_with = "refuse")]
    _jwk: (),
    #[serde(rename = "x5c", default, deserialize_with = "refuse")]
    _x5c: (),
    #[serde(rename = "crit", default, deserialize_with = "refuse")]
    _crit: (),
}

fn refuse<'de, D: Deserializer<'de>>(_: D) -> Result<(), D::Error> {
    Err(D::Error::custom("header member not allowed"))
}
