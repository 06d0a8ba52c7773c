//! Signing keys: generation, import and export (PKCS#8 PEM, JWK, stored
//! records), and the public JWK and `kid` derived from them.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::{DecodingKey, EncodingKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use rand::RngCore;
use rand::rngs::OsRng;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use rsa::{BigUint, RsaPrivateKey};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::Algorithm;
use crate::error::{AuthError, AuthResult};
use crate::secret::random_token;
use crate::store::KeyRecord;

/// Smallest HMAC secret accepted: 256 bits, the output size of SHA-256.
pub const MIN_HMAC_SECRET_LEN: usize = 32;

/// RSA moduli accepted, in bits. Below 2048 is too weak; above 4096 the
/// verifier refuses the key.
const RSA_BITS: std::ops::RangeInclusive<usize> = 2048..=4096;

/// Whether `kid` matches `^[A-Za-z0-9_-]{1,64}$`, the only key ids authkit
/// creates, stores or looks up.
pub(crate) fn is_valid_kid(kid: &str) -> bool {
    (1..=64).contains(&kid.len())
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// One signing key, bound to exactly one [`Algorithm`], with its `kid`.
///
/// Cloning is cheap (the key material is shared) and every copy of the
/// private material is wiped from memory when the last clone drops. `Debug`
/// shows only the `kid` and algorithm.
#[derive(Clone)]
pub struct SigningKey(Arc<Inner>);

struct Inner {
    kid: String,
    private: Private,
    /// The stored form: PKCS#8 PEM, or base64url of the HMAC secret.
    stored: Zeroizing<String>,
    encoding: EncodingKey,
    decoding: DecodingKey,
    public: Option<PublicParams>,
}

/// The private key, typed, for JWK export.
enum Private {
    Ed25519(ed25519_dalek::SigningKey),
    P256(p256::SecretKey),
    Rsa(Box<RsaPrivateKey>),
    Hmac(Zeroizing<Vec<u8>>),
}

/// The public JWK members of an asymmetric key, base64url-encoded.
enum PublicParams {
    Okp { x: String },
    Ec { x: String, y: String },
    Rsa { n: String, e: String },
}

impl SigningKey {
    /// Generates a fresh key from the OS CSPRNG: Ed25519, P-256, RSA-2048 or
    /// a 256-bit HMAC secret. Asymmetric keys get their RFC 7638 JWK
    /// thumbprint as `kid`; HMAC keys a random one.
    pub fn generate(alg: Algorithm) -> AuthResult<Self> {
        let private = match alg {
            Algorithm::EdDSA => {
                let mut seed = Zeroizing::new([0u8; 32]);
                OsRng.fill_bytes(seed.as_mut());
                Private::Ed25519(ed25519_dalek::SigningKey::from_bytes(&seed))
            }
            Algorithm::ES256 => Private::P256(p256::SecretKey::random(&mut OsRng)),
            Algorithm::RS256 => Private::Rsa(Box::new(
                RsaPrivateKey::new(&mut OsRng, 2048)
                    .map_err(|e| AuthError::internal_with("RSA key generation", e))?,
            )),
            Algorithm::HS256 => {
                let mut secret = Zeroizing::new(vec![0u8; MIN_HMAC_SECRET_LEN]);
                OsRng.fill_bytes(&mut secret);
                Private::Hmac(secret)
            }
        };
        private.into_key(None)
    }

    /// Imports an asymmetric private key from PKCS#8 PEM
    /// (`-----BEGIN PRIVATE KEY-----`), bound to `alg` under `kid`. RSA keys
    /// must be 2048 to 4096 bits. HS256 has no PEM form: use
    /// [`from_hmac_secret`](Self::from_hmac_secret).
    pub fn from_pem(kid: impl Into<String>, alg: Algorithm, pem: &str) -> AuthResult<Self> {
        let invalid = || AuthError::internal_msg(format!("not a PKCS#8 PEM {alg} private key"));
        let private = match alg {
            Algorithm::EdDSA => Private::Ed25519(
                ed25519_dalek::SigningKey::from_pkcs8_pem(pem).map_err(|_| invalid())?,
            ),
            Algorithm::ES256 => {
                Private::P256(p256::SecretKey::from_pkcs8_pem(pem).map_err(|_| invalid())?)
            }
            Algorithm::RS256 => Private::Rsa(Box::new(
                RsaPrivateKey::from_pkcs8_pem(pem).map_err(|_| invalid())?,
            )),
            Algorithm::HS256 => {
                return Err(AuthError::internal_msg("HS256 keys have no PEM form"));
            }
        };
        private.into_key(Some(kid.into()))
    }

    /// An HS256 key from a shared secret of at least 32 bytes (shorter
    /// secrets are refused: they can be brute-forced from one token).
    pub fn from_hmac_secret(kid: impl Into<String>, secret: &[u8]) -> AuthResult<Self> {
        Private::hmac(secret)?.into_key(Some(kid.into()))
    }

    /// Imports a private JWK (RFC 7517/7518): `OKP`/`Ed25519`, `EC`/`P-256`,
    /// `RSA` (with `p` and `q`) or `oct`. The algorithm follows from the key
    /// type; an `alg` member, when present, must agree, and `use`, when
    /// present, must be `sig`. Public members, when present, must match
    /// the private key; RSA `dp`, `dq` and `qi` are recomputed. Without a `kid` member the key gets the one
    /// [`generate`](Self::generate) would give it.
    pub fn from_jwk(jwk: &Value) -> AuthResult<Self> {
        let obj = jwk
            .as_object()
            .ok_or_else(|| jwk_error("not a JSON object"))?;
        if member(obj, "use")?.is_some_and(|u| u != "sig") {
            return Err(jwk_error("`use` is not `sig`"));
        }
        let kty = member(obj, "kty")?.ok_or_else(|| jwk_error("missing `kty`"))?;
        let private = match kty {
            "OKP" => Private::okp_from_jwk(obj)?,
            "EC" => Private::ec_from_jwk(obj)?,
            "RSA" => Private::rsa_from_jwk(obj)?,
            "oct" => Private::hmac(&bytes_member(obj, "k")?)?,
            _ => return Err(jwk_error("unsupported `kty`")),
        };
        if let Some(alg) = member(obj, "alg")?
            && alg != private.algorithm().as_str()
        {
            return Err(jwk_error("`alg` does not match the key type"));
        }
        private.into_key(member(obj, "kid")?.map(str::to_owned))
    }

    /// Rebuilds a key from its stored form. A record that does not parse
    /// gives [`AuthError::Internal`]; the message names the `kid`, never the
    /// key material.
    pub fn from_record(record: &KeyRecord) -> AuthResult<Self> {
        let kid = record.kid.as_str();
        let loaded = match record.algorithm.parse::<Algorithm>() {
            Ok(Algorithm::HS256) => match URL_SAFE_NO_PAD.decode(record.private_material.trim()) {
                Ok(secret) => Self::from_hmac_secret(kid, &Zeroizing::new(secret)),
                Err(_) => Err(AuthError::internal_msg("HMAC secret is not base64url")),
            },
            Ok(alg) => Self::from_pem(kid, alg, &record.private_material),
            Err(e) => Err(e),
        };
        loaded.map_err(|e| {
            let kid = if is_valid_kid(kid) {
                kid
            } else {
                "<invalid kid>"
            };
            AuthError::internal_with(format!("stored signing key {kid}"), e)
        })
    }

    /// The stored form, not yet retired: PKCS#8 PEM for asymmetric keys,
    /// base64url of the secret for HS256.
    pub fn to_record(&self, created_at: DateTime<Utc>) -> KeyRecord {
        KeyRecord {
            kid: self.0.kid.clone(),
            algorithm: self.algorithm().as_str().to_owned(),
            private_material: self.0.stored.as_str().to_owned(),
            created_at,
            retired_at: None,
        }
    }

    /// Key id, the `kid` header of every token this key signs.
    pub fn kid(&self) -> &str {
        &self.0.kid
    }

    /// The one algorithm this key signs and verifies with.
    pub fn algorithm(&self) -> Algorithm {
        self.0.private.algorithm()
    }

    /// The private key as PKCS#8 PEM, wiped from memory on drop; `None` for
    /// HS256.
    pub fn private_pem(&self) -> Option<Zeroizing<String>> {
        self.algorithm()
            .is_asymmetric()
            .then(|| self.0.stored.clone())
    }

    /// The public JWK (with `kid`, `alg` and `use: "sig"`, no private
    /// member) as published in the JWKS; `None` for HS256, which has no
    /// public half.
    pub fn public_jwk(&self) -> Option<Value> {
        let mut jwk = self.0.public.as_ref()?.members();
        self.tag(&mut jwk);
        Some(Value::Object(jwk))
    }

    /// The full private JWK, for backup or moving a key to another system;
    /// [`from_jwk`](Self::from_jwk) reads it back. It holds the secret:
    /// handle it like the key itself.
    pub fn to_jwk_private(&self) -> Value {
        let mut jwk = match &self.0.public {
            Some(public) => public.members(),
            None => Map::from_iter([("kty".to_owned(), Value::from("oct"))]),
        };
        let mut put = |name: &str, bytes: &[u8]| {
            jwk.insert(name.to_owned(), URL_SAFE_NO_PAD.encode(bytes).into());
        };
        match &self.0.private {
            Private::Ed25519(key) => put("d", Zeroizing::new(key.to_bytes()).as_ref()),
            Private::P256(key) => put("d", Zeroizing::new(key.to_bytes()).as_ref()),
            Private::Hmac(secret) => put("k", secret),
            Private::Rsa(key) => {
                let mut put_int =
                    |name: &str, int: &BigUint| put(name, &Zeroizing::new(int.to_bytes_be()));
                put_int("d", key.d());
                for (name, prime) in ["p", "q"].into_iter().zip(key.primes()) {
                    put_int(name, prime);
                }
                if let (Some(dp), Some(dq), Some(qi)) = (key.dp(), key.dq(), key.crt_coefficient())
                {
                    put_int("dp", dp);
                    put_int("dq", dq);
                    put_int("qi", &qi);
                }
            }
        }
        self.tag(&mut jwk);
        Value::Object(jwk)
    }

    pub(crate) fn encoding_key(&self) -> &EncodingKey {
        &self.0.encoding
    }

    pub(crate) fn decoding_key(&self) -> &DecodingKey {
        &self.0.decoding
    }

    /// Adds `kid`, `alg` and `use` to a JWK object.
    fn tag(&self, jwk: &mut Map<String, Value>) {
        jwk.insert("kid".into(), self.0.kid.clone().into());
        jwk.insert("alg".into(), self.algorithm().as_str().into());
        jwk.insert("use".into(), "sig".into());
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.0.kid)
            .field("alg", &self.algorithm())
            .finish_non_exhaustive()
    }
}

impl Private {
    fn algorithm(&self) -> Algorithm {
        match self {
            Self::Ed25519(_) => Algorithm::EdDSA,
            Self::P256(_) => Algorithm::ES256,
            Self::Rsa(_) => Algorithm::RS256,
            Self::Hmac(_) => Algorithm::HS256,
        }
    }

    fn hmac(secret: &[u8]) -> AuthResult<Self> {
        if secret.len() < MIN_HMAC_SECRET_LEN {
            return Err(AuthError::internal_msg(format!(
                "HMAC secret shorter than {MIN_HMAC_SECRET_LEN} bytes"
            )));
        }
        Ok(Self::Hmac(Zeroizing::new(secret.to_vec())))
    }

    fn okp_from_jwk(obj: &Map<String, Value>) -> AuthResult<Self> {
        if member(obj, "crv")? != Some("Ed25519") {
            return Err(jwk_error("OKP key is not Ed25519"));
        }
        let seed = fixed_32(&bytes_member(obj, "d")?)?;
        let key = ed25519_dalek::SigningKey::from_bytes(&seed);
        let x = URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes());
        if member(obj, "x")?.is_some_and(|given| given != x) {
            return Err(jwk_error("`x` does not match `d`"));
        }
        Ok(Self::Ed25519(key))
    }

    fn ec_from_jwk(obj: &Map<String, Value>) -> AuthResult<Self> {
        if member(obj, "crv")? != Some("P-256") {
            return Err(jwk_error("EC key is not P-256"));
        }
        let scalar = fixed_32(&bytes_member(obj, "d")?)?;
        let key = p256::SecretKey::from_bytes(&(*scalar).into())
            .map_err(|_| jwk_error("`d` is not a P-256 scalar"))?;
        let Some((x, y)) = ec_coordinates(&key.public_key().to_encoded_point(false)) else {
            return Err(jwk_error("`d` is not a P-256 scalar"));
        };
        if member(obj, "x")?.is_some_and(|given| given != x)
            || member(obj, "y")?.is_some_and(|given| given != y)
        {
            return Err(jwk_error("`x`/`y` do not match `d`"));
        }
        Ok(Self::P256(key))
    }

    fn rsa_from_jwk(obj: &Map<String, Value>) -> AuthResult<Self> {
        if obj.contains_key("oth") {
            return Err(jwk_error("multi-prime RSA keys are not supported"));
        }
        let int = |name| bytes_member(obj, name).map(|bytes| BigUint::from_bytes_be(&bytes));
        let n = int("n")?;
        if !RSA_BITS.contains(&n.bits()) {
            return Err(jwk_error("RSA modulus must be 2048 to 4096 bits"));
        }
        let key =
            RsaPrivateKey::from_components(n, int("e")?, int("d")?, vec![int("p")?, int("q")?])
                .map_err(|_| jwk_error("inconsistent RSA key components"))?;
        Ok(Self::Rsa(Box::new(key)))
    }

    /// Derives the signing and verification forms, the stored form, the
    /// public JWK members and (without an explicit one) the `kid`.
    fn into_key(self, kid: Option<String>) -> AuthResult<SigningKey> {
        let pem = |der: &rsa::pkcs8::SecretDocument| {
            der.to_pem("PRIVATE KEY", LineEnding::LF)
                .map_err(encode_failed)
        };
        let (stored, encoding, decoding, public) = match &self {
            Private::Ed25519(key) => {
                let der = key.to_pkcs8_der().map_err(encode_failed)?;
                let x = key.verifying_key().to_bytes();
                (
                    pem(&der)?,
                    EncodingKey::from_ed_der(der.as_bytes()),
                    DecodingKey::from_ed_der(&x),
                    Some(PublicParams::Okp {
                        x: URL_SAFE_NO_PAD.encode(x),
                    }),
                )
            }
            Private::P256(key) => {
                let der = key.to_pkcs8_der().map_err(encode_failed)?;
                let point = key.public_key().to_encoded_point(false);
                let (x, y) = ec_coordinates(&point)
                    .ok_or_else(|| AuthError::internal_msg("P-256 point encoding failed"))?;
                (
                    pem(&der)?,
                    EncodingKey::from_ec_der(der.as_bytes()),
                    DecodingKey::from_ec_der(point.as_bytes()),
                    Some(PublicParams::Ec { x, y }),
                )
            }
            Private::Rsa(key) => {
                if !RSA_BITS.contains(&key.n().bits()) || key.primes().len() != 2 {
                    return Err(AuthError::internal_msg(
                        "RSA keys must be two-prime, 2048 to 4096 bits",
                    ));
                }
                let der = key.to_pkcs8_der().map_err(encode_failed)?;
                let pkcs1 = key.to_pkcs1_der().map_err(encode_failed)?;
                let (n, e) = (key.n().to_bytes_be(), key.e().to_bytes_be());
                (
                    pem(&der)?,
                    EncodingKey::from_rsa_der(pkcs1.as_bytes()),
                    DecodingKey::from_rsa_raw_components(&n, &e),
                    Some(PublicParams::Rsa {
                        n: URL_SAFE_NO_PAD.encode(n),
                        e: URL_SAFE_NO_PAD.encode(e),
                    }),
                )
            }
            Private::Hmac(secret) => (
                Zeroizing::new(URL_SAFE_NO_PAD.encode(secret.as_slice())),
                EncodingKey::from_secret(secret),
                DecodingKey::from_secret(secret),
                None,
            ),
        };
        let kid = match (kid, &public) {
            (Some(kid), _) if is_valid_kid(&kid) => kid,
            (Some(_), _) => {
                return Err(AuthError::internal_msg(
                    "kid must match ^[A-Za-z0-9_-]{1,64}$",
                ));
            }
            (None, Some(public)) => public.thumbprint(),
            (None, None) => random_token(16),
        };
        Ok(SigningKey(Arc::new(Inner {
            kid,
            private: self,
            stored,
            encoding,
            decoding,
            public,
        })))
    }
}

impl PublicParams {
    /// `kty`, `crv` and the public members.
    fn members(&self) -> Map<String, Value> {
        let pairs: &[(&str, &str)] = match self {
            Self::Okp { x } => &[("kty", "OKP"), ("crv", "Ed25519"), ("x", x)],
            Self::Ec { x, y } => &[("kty", "EC"), ("crv", "P-256"), ("x", x), ("y", y)],
            Self::Rsa { n, e } => &[("kty", "RSA"), ("n", n), ("e", e)],
        };
        pairs
            .iter()
            .map(|&(name, value)| (name.to_owned(), Value::from(value)))
            .collect()
    }

    /// The RFC 7638 JWK thumbprint: base64url SHA-256 of the required
    /// members in lexicographic order, without whitespace. The members are
    /// base64url already, so no JSON escaping is needed.
    fn thumbprint(&self) -> String {
        let canonical = match self {
            Self::Okp { x } => format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#),
            Self::Ec { x, y } => format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#),
            Self::Rsa { n, e } => format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#),
        };
        URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
    }
}

/// The base64url affine coordinates of an uncompressed P-256 point.
fn ec_coordinates(point: &p256::EncodedPoint) -> Option<(String, String)> {
    Some((
        URL_SAFE_NO_PAD.encode(point.x()?),
        URL_SAFE_NO_PAD.encode(point.y()?),
    ))
}

fn encode_failed<E>(_: E) -> AuthError {
    AuthError::internal_msg("private key encoding failed")
}

fn jwk_error(what: &str) -> AuthError {
    AuthError::internal_msg(format!("invalid JWK: {what}"))
}

/// A string member of a JWK: absent is `None`, any other type an error.
fn member<'a>(obj: &'a Map<String, Value>, name: &str) -> AuthResult<Option<&'a str>> {
    match obj.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(jwk_error("a member is not a string")),
    }
}

/// A required base64url member, decoded into memory wiped on drop (most
/// are secrets).
fn bytes_member(obj: &Map<String, Value>, name: &str) -> AuthResult<Zeroizing<Vec<u8>>> {
    let encoded = member(obj, name)?.ok_or_else(|| jwk_error("a required member is missing"))?;
    URL_SAFE_NO_PAD
        .decode(encoded)
        .map(Zeroizing::new)
        .map_err(|_| jwk_error("a member is not base64url"))
}

fn fixed_32(bytes: &[u8]) -> AuthResult<Zeroizing<[u8; 32]>> {
    <[u8; 32]>::try_from(bytes)
        .map(Zeroizing::new)
        .map_err(|_| jwk_error("`d` is not 32 bytes"))
}
