//! Tests of the token module, with the fixtures they share.

mod access;
mod key_set;
mod keys;

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{AccessTokens, Algorithm, KeySet, SigningKey};

const ISSUER: &str = "https://auth.example.com";
const AUDIENCE: &str = "api.example.com";
const ALGORITHMS: [Algorithm; 4] = [
    Algorithm::EdDSA,
    Algorithm::ES256,
    Algorithm::RS256,
    Algorithm::HS256,
];

/// A fixed instant, far from the real clock.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2031, 5, 4, 12, 0, 0).unwrap()
}

/// A key of `alg`. RSA generation is slow, so every RS256 test shares one.
fn key(alg: Algorithm) -> SigningKey {
    static RSA: OnceLock<SigningKey> = OnceLock::new();
    match alg {
        Algorithm::RS256 => RSA
            .get_or_init(|| SigningKey::generate(Algorithm::RS256).unwrap())
            .clone(),
        other => SigningKey::generate(other).unwrap(),
    }
}

/// A codec with a 15 minute lifetime and 30 s leeway.
fn codec(keys: KeySet) -> AccessTokens {
    AccessTokens::new(
        keys,
        ISSUER,
        AUDIENCE,
        Duration::minutes(15),
        Duration::seconds(30),
    )
}

fn issue(tokens: &AccessTokens, now: DateTime<Utc>) -> String {
    let roles = ["admin".to_owned()];
    let permissions = ["users:read".to_owned()];
    tokens
        .issue(Uuid::now_v7(), Uuid::now_v7(), &roles, &permissions, now)
        .unwrap()
        .0
}

fn b64_json(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

/// Valid claims for the fixtures' issuer and audience, issued at `now`.
fn claims_at(now: DateTime<Utc>) -> Value {
    let iat = now.timestamp();
    json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": Uuid::now_v7().to_string(),
        "exp": iat + 900,
        "iat": iat,
        "nbf": iat,
        "jti": Uuid::now_v7().to_string(),
        "sid": Uuid::now_v7().to_string(),
        "roles": [],
        "permissions": [],
    })
}

/// The header authkit would write for `key`.
fn header_for(key: &SigningKey) -> Value {
    json!({"alg": key.algorithm().as_str(), "typ": "at+jwt", "kid": key.kid()})
}

/// A token with arbitrary header and claims, genuinely signed by `key`
/// with the key's own algorithm.
fn forge(key: &SigningKey, header: &Value, claims: &Value) -> String {
    let input = format!("{}.{}", b64_json(header), b64_json(claims));
    let signature =
        jsonwebtoken::crypto::sign(input.as_bytes(), key.encoding_key(), key.algorithm().jwt())
            .unwrap();
    format!("{input}.{signature}")
}

/// A token whose signature is an HMAC-SHA256 under `secret`.
fn forge_hmac(secret: &[u8], header: &Value, claims: &Value) -> String {
    let input = format!("{}.{}", b64_json(header), b64_json(claims));
    let mac = crate::secret::hmac_sha256(secret, input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac))
}
