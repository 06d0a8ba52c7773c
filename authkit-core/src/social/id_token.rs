//! OpenID Connect ID token verification against the issuer's JWKS.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use super::ProviderIdentity;
use crate::error::{AuthError, AuthResult};
use crate::secret::ct_eq;

/// Signature algorithms accepted on ID tokens: asymmetric only, so a
/// provider's public key can never serve as an HMAC secret.
const ALLOWED: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// Clock skew tolerated on `exp` and `iat`.
const LEEWAY: Duration = Duration::seconds(60);

/// What an ID token must match.
#[derive(Debug, Clone)]
pub struct IdTokenCheck<'a> {
    /// Expected `iss` (exactly).
    pub issuer: &'a str,
    /// Expected audience: our client id.
    pub client_id: &'a str,
    /// Expected `nonce`.
    pub nonce: &'a str,
    /// The service's clock.
    pub now: DateTime<Utc>,
}

/// `email_verified` as sent: a boolean, or (some providers) a string.
#[derive(Deserialize)]
#[serde(untagged)]
enum Flag {
    Bool(bool),
    Text(String),
}

/// `aud`: one string or several.
#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    aud: Audience,
    exp: i64,
    iat: Option<i64>,
    nonce: Option<String>,
    azp: Option<String>,
    email: Option<String>,
    email_verified: Option<Flag>,
    name: Option<String>,
    picture: Option<String>,
}

/// Verifies `token` with the key of `keys` its header names and checks its
/// claims: the algorithm is asymmetric and fits the key, the signature
/// holds, `iss` equals the issuer, `aud` holds our client id (and `azp`,
/// when several audiences, is us), `exp` is in the future and `iat` not in
/// the future (60 s leeway), `nonce` is the one of this sign-in.
///
/// Answers `Ok(None)` when no key of the set matches the token's `kid`
/// (the caller refreshes the JWKS once and retries).
///
/// # Errors
/// `OAuthTokenInvalid`.
pub fn verify_id_token(
    token: &str,
    keys: &JwkSet,
    check: &IdTokenCheck<'_>,
) -> AuthResult<Option<ProviderIdentity>> {
    let invalid = |why: &str| {
        tracing::warn!(reason = why, "ID token refused");
        AuthError::OAuthTokenInvalid
    };
    let header = jsonwebtoken::decode_header(token).map_err(|_| invalid("malformed"))?;
    if !ALLOWED.contains(&header.alg) {
        return Err(invalid("algorithm not allowed"));
    }
    if header.jku.is_some() || header.jwk.is_some() || header.x5u.is_some() {
        return Err(invalid("key reference in header"));
    }
    let Some(jwk) = find_key(keys, header.kid.as_deref()) else {
        return Ok(None);
    };
    if let Some(alg) = &jwk.common.key_algorithm
        && serde_json::to_value(alg).ok() != serde_json::to_value(header.alg).ok()
    {
        return Err(invalid("algorithm differs from the key's"));
    }
    let key = DecodingKey::from_jwk(jwk).map_err(|_| invalid("unusable key"))?;
    let mut validation = Validation::new(header.alg);
    // Expiry is checked below against the service's clock.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims = HashSet::new();
    let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
        .map_err(|_| invalid("signature or claims"))?
        .claims;

    if claims.iss != check.issuer {
        return Err(invalid("wrong iss"));
    }
    let audiences = match &claims.aud {
        Audience::One(aud) => vec![aud.as_str()],
        Audience::Many(list) => list.iter().map(String::as_str).collect(),
    };
    if !audiences.contains(&check.client_id) {
        return Err(invalid("wrong aud"));
    }
    if audiences.len() > 1 && claims.azp.as_deref() != Some(check.client_id) {
        return Err(invalid("wrong azp"));
    }
    if claims
        .azp
        .as_deref()
        .is_some_and(|azp| azp != check.client_id)
    {
        return Err(invalid("wrong azp"));
    }
    let now = check.now.timestamp();
    if claims.exp <= now - LEEWAY.num_seconds() {
        return Err(invalid("expired"));
    }
    if claims
        .iat
        .is_some_and(|iat| iat > now + LEEWAY.num_seconds())
    {
        return Err(invalid("issued in the future"));
    }
    let nonce_ok = claims
        .nonce
        .as_deref()
        .is_some_and(|nonce| ct_eq(nonce.as_bytes(), check.nonce.as_bytes()));
    if !nonce_ok {
        return Err(invalid("wrong nonce"));
    }
    if claims.sub.is_empty() {
        return Err(invalid("empty sub"));
    }
    let email_verified = match claims.email_verified {
        Some(Flag::Bool(b)) => b,
        Some(Flag::Text(t)) => t.eq_ignore_ascii_case("true"),
        None => false,
    };
    Ok(Some(ProviderIdentity {
        subject: claims.sub,
        email: claims.email,
        email_verified,
        name: claims.name,
        picture: claims.picture,
    }))
}

/// The signing key `kid` names; without a `kid`, the set's only signing
/// key.
fn find_key<'k>(keys: &'k JwkSet, kid: Option<&str>) -> Option<&'k Jwk> {
    let signing = |k: &&Jwk| !matches!(k.common.public_key_use, Some(PublicKeyUse::Encryption));
    match kid {
        Some(kid) => keys
            .keys
            .iter()
            .filter(signing)
            .find(|k| k.common.key_id.as_deref() == Some(kid)),
        None => {
            let mut candidates = keys.keys.iter().filter(signing);
            let first = candidates.next();
            if candidates.next().is_some() {
                None
            } else {
                first
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::{Value, json};

    use super::*;
    use crate::token::{Algorithm as KeyAlgorithm, SigningKey};

    const ISSUER: &str = "https://issuer.example";

    fn keys(key: &SigningKey) -> JwkSet {
        serde_json::from_value(json!({ "keys": [key.public_jwk().unwrap()] })).unwrap()
    }

    fn sign(key: &SigningKey, claims: &Value) -> String {
        let mut header = Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some(key.kid().to_owned());
        let pem = key.private_pem().unwrap();
        jsonwebtoken::encode(
            &header,
            claims,
            &EncodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
        )
        .unwrap()
    }

    fn claims(now: i64) -> Value {
        json!({
            "iss": ISSUER, "sub": "s-1", "aud": "client", "exp": now + 300,
            "iat": now, "nonce": "n-1", "email": "a@example.com", "email_verified": "true",
        })
    }

    fn check(now: DateTime<Utc>) -> IdTokenCheck<'static> {
        IdTokenCheck {
            issuer: ISSUER,
            client_id: "client",
            nonce: "n-1",
            now,
        }
    }

    #[test]
    fn a_good_token_yields_the_identity() {
        let key = SigningKey::generate(KeyAlgorithm::ES256).unwrap();
        let now = Utc::now();
        let token = sign(&key, &claims(now.timestamp()));
        let identity = verify_id_token(&token, &keys(&key), &check(now))
            .unwrap()
            .unwrap();
        assert_eq!(identity.subject, "s-1");
        assert!(identity.email_verified, "string \"true\" counts");
        let other = SigningKey::generate(KeyAlgorithm::ES256).unwrap();
        assert_eq!(
            verify_id_token(&token, &keys(&other), &check(now)).unwrap(),
            None,
            "an unknown kid asks for a JWKS refresh"
        );
    }

    #[test]
    fn bad_claims_are_refused() {
        let key = SigningKey::generate(KeyAlgorithm::ES256).unwrap();
        let now = Utc::now();
        let t = now.timestamp();
        let cases: Vec<(&str, Value)> = vec![
            ("iss", json!("https://issuer.example/")),
            ("aud", json!("other")),
            ("aud", json!(["client", "other"])),
            ("nonce", json!("n-2")),
            ("nonce", Value::Null),
            ("exp", json!(t - 120)),
            ("exp", json!((t + 300).to_string())),
            ("iat", json!(t + 3600)),
            ("sub", json!("")),
            ("azp", json!("other")),
        ];
        for (field, value) in cases {
            let mut c = claims(t);
            c[field] = value.clone();
            let token = sign(&key, &c);
            assert!(
                matches!(
                    verify_id_token(&token, &keys(&key), &check(now)),
                    Err(AuthError::OAuthTokenInvalid)
                ),
                "{field} = {value}"
            );
        }
        let mut c = claims(t);
        c["aud"] = json!(["client", "other"]);
        c["azp"] = json!("client");
        assert!(
            verify_id_token(&sign(&key, &c), &keys(&key), &check(now))
                .unwrap()
                .is_some(),
            "several audiences with azp = us"
        );
    }

    #[test]
    fn symmetric_none_and_foreign_key_headers_are_refused() {
        let key = SigningKey::generate(KeyAlgorithm::ES256).unwrap();
        let now = Utc::now();
        let body = URL_SAFE_NO_PAD.encode(claims(now.timestamp()).to_string());
        let kid = key.kid();
        for header in [
            json!({"alg": "HS256", "kid": kid}),
            json!({"alg": "none", "kid": kid}),
            json!({"alg": "ES256", "kid": kid, "jku": "https://evil.example/jwks"}),
            json!({"alg": "RS256", "kid": kid}),
        ] {
            let token = format!(
                "{}.{body}.{}",
                URL_SAFE_NO_PAD.encode(header.to_string()),
                URL_SAFE_NO_PAD.encode(b"sig")
            );
            assert!(
                matches!(
                    verify_id_token(&token, &keys(&key), &check(now)),
                    Err(AuthError::OAuthTokenInvalid)
                ),
                "{header}"
            );
        }
        assert!(verify_id_token("not a jwt", &keys(&key), &check(now)).is_err());
    }
}
