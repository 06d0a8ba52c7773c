//! The JWS algorithms a signing key can be bound to.

use std::fmt;
use std::str::FromStr;

use crate::error::AuthError;

/// JWS algorithms authkit signs with. Each key is bound to exactly one, and
/// a token is only ever verified with the algorithm of the key its `kid`
/// names, never with the one its header claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Algorithm {
    /// Ed25519 (default): small keys, fast, deterministic signatures.
    #[default]
    EdDSA,
    /// ECDSA P-256 with SHA-256 (deterministic nonces, RFC 6979).
    ES256,
    /// RSASSA-PKCS1-v1_5 with SHA-256, for verifiers that only speak RSA.
    ///
    /// Signing goes through the RustCrypto `rsa` crate, which is subject to
    /// the Marvin timing side channel (RUSTSEC-2023-0071): an attacker who
    /// can time many signing operations precisely may recover the private
    /// key. Prefer [`EdDSA`](Self::EdDSA) or [`ES256`](Self::ES256) for
    /// signing; verifying RS256 tokens involves only the public key and is
    /// unaffected.
    RS256,
    /// HMAC-SHA256 (single-service setups only): the verifier holds the
    /// signing secret, so the key is never published in the JWKS.
    HS256,
}

impl Algorithm {
    /// The JWS `alg` name (`EdDSA`, `ES256`, `RS256`, `HS256`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::EdDSA => "EdDSA",
            Self::ES256 => "ES256",
            Self::RS256 => "RS256",
            Self::HS256 => "HS256",
        }
    }

    /// Whether the key has a public half that may be published.
    pub const fn is_asymmetric(self) -> bool {
        !matches!(self, Self::HS256)
    }

    /// The matching algorithm of the JWT library.
    pub(crate) const fn jwt(self) -> jsonwebtoken::Algorithm {
        match self {
            Self::EdDSA => jsonwebtoken::Algorithm::EdDSA,
            Self::ES256 => jsonwebtoken::Algorithm::ES256,
            Self::RS256 => jsonwebtoken::Algorithm::RS256,
            Self::HS256 => jsonwebtoken::Algorithm::HS256,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = AuthError;

    /// Parses a JWS `alg` name. Matching is exact: `none`, `eddsa` or any
    /// other spelling is refused.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "EdDSA" => Ok(Self::EdDSA),
            "ES256" => Ok(Self::ES256),
            "RS256" => Ok(Self::RS256),
            "HS256" => Ok(Self::HS256),
            _ => Err(AuthError::internal_msg("unsupported signing algorithm")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_parsing_is_exact() {
        for alg in [
            Algorithm::EdDSA,
            Algorithm::ES256,
            Algorithm::RS256,
            Algorithm::HS256,
        ] {
            assert_eq!(alg.as_str().parse::<Algorithm>().unwrap(), alg);
            assert_eq!(alg.to_string(), alg.as_str());
        }
        for bad in ["none", "None", "eddsa", "HS512", "", "RS256 "] {
            assert!(matches!(
                bad.parse::<Algorithm>(),
                Err(AuthError::Internal(_))
            ));
        }
        assert_eq!(Algorithm::default(), Algorithm::EdDSA);
        assert!(!Algorithm::HS256.is_asymmetric());
        assert!(Algorithm::RS256.is_asymmetric());
    }
}
