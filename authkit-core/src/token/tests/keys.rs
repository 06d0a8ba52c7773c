//! Key generation, import and export.

use serde_json::json;

use super::*;
use crate::error::AuthError;
use crate::token::keys::is_valid_kid;

/// Asserts that tokens of `a` verify with `b` and the other way round.
fn assert_interchangeable(a: &SigningKey, b: &SigningKey) {
    assert_eq!(a.kid(), b.kid());
    assert_eq!(a.algorithm(), b.algorithm());
    assert_eq!(a.public_jwk(), b.public_jwk());
    let (ta, tb) = (codec(KeySet::new(a.clone())), codec(KeySet::new(b.clone())));
    assert!(tb.verify(&issue(&ta, t0()), t0()).is_ok());
    assert!(ta.verify(&issue(&tb, t0()), t0()).is_ok());
}

#[test]
fn generated_keys_are_fresh_and_well_named() {
    for alg in ALGORITHMS {
        let key = key(alg);
        assert_eq!(key.algorithm(), alg);
        assert!(is_valid_kid(key.kid()), "{}", key.kid());
        let debug = format!("{key:?}");
        assert!(debug.contains(key.kid()) && debug.contains(alg.as_str()));
        let secret = key.to_record(t0()).private_material;
        assert!(!debug.contains(&secret));
    }
    for alg in [Algorithm::EdDSA, Algorithm::ES256, Algorithm::HS256] {
        let (a, b) = (key(alg), key(alg));
        assert_ne!(a.kid(), b.kid());
        assert_ne!(a.to_jwk_private(), b.to_jwk_private());
    }
}

#[test]
fn asymmetric_kids_are_rfc7638_thumbprints() {
    // RFC 8037, appendix A.1 to A.3.
    let jwk = json!({
        "kty": "OKP",
        "crv": "Ed25519",
        "d": "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
        "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
    });
    let imported = SigningKey::from_jwk(&jwk).unwrap();
    assert_eq!(
        imported.kid(),
        "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    );
    // Generated keys get the same derivation.
    for alg in [Algorithm::EdDSA, Algorithm::ES256, Algorithm::RS256] {
        let key = key(alg);
        let mut jwk = key.to_jwk_private();
        jwk.as_object_mut().unwrap().remove("kid");
        let imported = SigningKey::from_jwk(&jwk).unwrap();
        assert_eq!(imported.kid(), key.kid(), "{alg}");
        assert_eq!(key.kid().len(), 43);
    }
}

#[test]
fn pem_export_and_import_round_trip() {
    for alg in [Algorithm::EdDSA, Algorithm::ES256, Algorithm::RS256] {
        let key = key(alg);
        let pem = key.private_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{alg}");
        let imported = SigningKey::from_pem(key.kid(), alg, &pem).unwrap();
        assert_interchangeable(&key, &imported);
        assert_eq!(imported.private_pem().unwrap(), pem);
    }
    let hmac = key(Algorithm::HS256);
    assert!(hmac.private_pem().is_none());
    assert!(SigningKey::from_pem("k", Algorithm::HS256, "anything").is_err());
}

#[test]
fn pem_of_another_algorithm_or_garbage_is_refused() {
    let ed_pem = key(Algorithm::EdDSA).private_pem().unwrap();
    let es_pem = key(Algorithm::ES256).private_pem().unwrap();
    let cases = [
        (Algorithm::ES256, ed_pem.as_str()),
        (Algorithm::RS256, ed_pem.as_str()),
        (Algorithm::EdDSA, es_pem.as_str()),
        (Algorithm::EdDSA, ""),
        (
            Algorithm::EdDSA,
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        ),
    ];
    for (alg, pem) in cases {
        let err = SigningKey::from_pem("kid", alg, pem).unwrap_err();
        assert!(matches!(err, AuthError::Internal(_)), "{alg}");
    }
}

#[test]
fn private_jwk_export_and_import_round_trip() {
    for alg in ALGORITHMS {
        let key = key(alg);
        let jwk = key.to_jwk_private();
        assert_eq!(jwk["kid"], json!(key.kid()));
        assert_eq!(jwk["alg"], json!(alg.as_str()));
        assert_eq!(jwk["use"], json!("sig"));
        let private_members: &[&str] = match alg {
            Algorithm::EdDSA | Algorithm::ES256 => &["d"],
            Algorithm::RS256 => &["d", "p", "q", "dp", "dq", "qi"],
            Algorithm::HS256 => &["k"],
        };
        for member in private_members {
            assert!(jwk[member].is_string(), "{alg} lacks {member}");
        }
        let imported = SigningKey::from_jwk(&jwk).unwrap();
        assert_interchangeable(&key, &imported);
        assert_eq!(imported.to_jwk_private(), jwk);
    }
}

#[test]
fn inconsistent_or_unsupported_jwks_are_refused() {
    let ed = key(Algorithm::EdDSA).to_jwk_private();
    let es = key(Algorithm::ES256).to_jwk_private();
    let hs = key(Algorithm::HS256).to_jwk_private();
    let other_ed = key(Algorithm::EdDSA).to_jwk_private();
    let with = |base: &serde_json::Value, member: &str, value: serde_json::Value| {
        let mut jwk = base.clone();
        jwk[member] = value;
        jwk
    };
    let without = |base: &serde_json::Value, member: &str| {
        let mut jwk = base.clone();
        jwk.as_object_mut().unwrap().remove(member);
        jwk
    };
    let cases = [
        json!("not an object"),
        json!({}),
        with(&ed, "x", other_ed["x"].clone()),
        with(&ed, "alg", json!("ES256")),
        with(&ed, "alg", json!("none")),
        with(&ed, "use", json!("enc")),
        with(&ed, "crv", json!("Ed448")),
        with(&ed, "kty", json!("oct")),
        with(&ed, "kty", json!("PQC")),
        with(&ed, "kid", json!("../../etc/passwd")),
        with(&ed, "kid", json!(42)),
        with(&ed, "d", json!("AAAA")),
        with(&ed, "d", json!("not base64url!")),
        without(&ed, "d"),
        with(&es, "crv", json!("P-384")),
        with(&es, "y", other_ed["x"].clone()),
        with(
            &es,
            "d",
            json!("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        ),
        with(&hs, "k", json!("c2hvcnQ")),
        without(&hs, "k"),
    ];
    for (i, jwk) in cases.iter().enumerate() {
        assert!(
            matches!(SigningKey::from_jwk(jwk), Err(AuthError::Internal(_))),
            "case {i}: {jwk}"
        );
    }
}

#[test]
fn rsa_jwk_must_be_complete_and_consistent() {
    let rsa = key(Algorithm::RS256).to_jwk_private();
    for member in ["n", "e", "d", "p", "q"] {
        let mut jwk = rsa.clone();
        jwk.as_object_mut().unwrap().remove(member);
        assert!(SigningKey::from_jwk(&jwk).is_err(), "without {member}");
    }
    let mut swapped = rsa.clone();
    swapped["d"] = rsa["p"].clone();
    assert!(SigningKey::from_jwk(&swapped).is_err());
    let mut multi_prime = rsa.clone();
    multi_prime["oth"] = json!([]);
    assert!(SigningKey::from_jwk(&multi_prime).is_err());
    let mut small = rsa;
    small["n"] = json!("AQAB");
    assert!(SigningKey::from_jwk(&small).is_err());
}

#[test]
fn hmac_secrets_must_have_256_bits() {
    let err = SigningKey::from_hmac_secret("k1", &[1; 31]).unwrap_err();
    assert!(matches!(err, AuthError::Internal(_)));
    let key = SigningKey::from_hmac_secret("k1", &[1; 32]).unwrap();
    assert_eq!((key.kid(), key.algorithm()), ("k1", Algorithm::HS256));
    assert!(key.public_jwk().is_none());
}

#[test]
fn kids_outside_the_charset_are_refused() {
    let pem = key(Algorithm::EdDSA).private_pem().unwrap();
    for kid in [
        "",
        "has space",
        "../x",
        "' OR 1=1--",
        "ключ",
        &"k".repeat(65),
    ] {
        assert!(
            SigningKey::from_pem(kid, Algorithm::EdDSA, &pem).is_err(),
            "{kid:?}"
        );
        assert!(
            SigningKey::from_hmac_secret(kid, &[0; 32]).is_err(),
            "{kid:?}"
        );
    }
    for kid in ["a", "key-2031_05", &"k".repeat(64)] {
        assert!(
            SigningKey::from_pem(kid, Algorithm::EdDSA, &pem).is_ok(),
            "{kid:?}"
        );
    }
}

#[test]
fn records_round_trip() {
    for alg in ALGORITHMS {
        let key = key(alg);
        let record = key.to_record(t0());
        assert_eq!(record.kid, key.kid());
        assert_eq!(record.algorithm, alg.as_str());
        assert_eq!(record.created_at, t0());
        assert!(record.retired_at.is_none());
        let loaded = SigningKey::from_record(&record).unwrap();
        assert_interchangeable(&key, &loaded);
    }
}

#[test]
fn corrupt_records_are_internal_errors_without_the_material() {
    let good = key(Algorithm::EdDSA).to_record(t0());
    let secret = good.private_material.clone();
    let hmac = key(Algorithm::HS256).to_record(t0());
    let corrupt = [
        crate::store::KeyRecord {
            private_material: secret[..secret.len() / 2].to_owned(),
            ..good.clone()
        },
        crate::store::KeyRecord {
            algorithm: "ES256".into(),
            ..good.clone()
        },
        crate::store::KeyRecord {
            algorithm: "none".into(),
            ..good.clone()
        },
        crate::store::KeyRecord {
            kid: "bad kid".into(),
            ..good.clone()
        },
        crate::store::KeyRecord {
            private_material: "!!not base64!!".into(),
            ..hmac.clone()
        },
        crate::store::KeyRecord {
            private_material: "c2hvcnQ".into(),
            ..hmac
        },
    ];
    for record in corrupt {
        match SigningKey::from_record(&record) {
            Err(err @ AuthError::Internal(_)) => {
                let message = err.report().to_string();
                assert!(!message.contains(&record.private_material), "{message}");
                assert!(!message.contains(&secret), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }
}
