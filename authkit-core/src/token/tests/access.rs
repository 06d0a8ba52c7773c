//! Issuing and verifying access tokens, and every way a token must fail.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use rand::{Rng, RngCore};
use serde_json::{Value, json};
use uuid::Uuid;

use super::*;
use crate::error::AuthError;
use crate::token::{MAX_TOKEN_LEN, VERIFIED_CACHE_CAPACITY};

fn assert_invalid(tokens: &AccessTokens, token: &str) {
    assert!(
        matches!(tokens.verify(token, t0()), Err(AuthError::TokenInvalid)),
        "accepted or wrong error for {token:?}"
    );
}

fn decode_segment(segment: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).unwrap()).unwrap()
}

#[test]
fn every_algorithm_round_trips() {
    for alg in ALGORITHMS {
        let key = key(alg);
        let tokens = codec(KeySet::new(key.clone()));
        let (sub, sid) = (Uuid::now_v7(), Uuid::now_v7());
        let roles = vec!["admin".to_owned(), "support".to_owned()];
        let permissions = vec!["users:read".to_owned()];
        let (token, issued) = tokens.issue(sub, sid, &roles, &permissions, t0()).unwrap();

        let header = decode_segment(token.split('.').next().unwrap());
        assert_eq!(header, header_for(&key), "{alg}");
        assert_eq!(issued.sub, sub.to_string());
        assert_eq!(issued.sid, sid.to_string());
        assert_eq!(
            (issued.iss.as_str(), issued.aud.as_str()),
            (ISSUER, AUDIENCE)
        );
        assert_eq!(issued.iat, t0().timestamp());
        assert_eq!(issued.nbf, issued.iat);
        assert_eq!(issued.exp, issued.iat + 900);
        assert_eq!(issued.roles, roles);
        assert_eq!(issued.permissions, permissions);
        assert!(Uuid::parse_str(&issued.jti).is_ok());

        assert_eq!(tokens.verify(&token, t0()).unwrap(), issued, "{alg}");
    }
}

#[test]
fn token_ids_are_unique() {
    let tokens = codec(KeySet::new(key(Algorithm::HS256)));
    let a = tokens
        .issue(Uuid::nil(), Uuid::nil(), &[], &[], t0())
        .unwrap()
        .1;
    let b = tokens
        .issue(Uuid::nil(), Uuid::nil(), &[], &[], t0())
        .unwrap()
        .1;
    assert_ne!(a.jti, b.jti);
}

#[test]
fn alg_none_in_any_spelling_is_rejected() {
    let key = key(Algorithm::EdDSA);
    let tokens = codec(KeySet::new(key.clone()));
    for alg in ["none", "None", "noNE", "NONE"] {
        let header = json!({"alg": alg, "typ": "at+jwt", "kid": key.kid()});
        let unsigned = format!("{}.{}", b64_json(&header), b64_json(&claims_at(t0())));
        assert_invalid(&tokens, &format!("{unsigned}."));
        assert_invalid(&tokens, &format!("{unsigned}.AAAA"));
        assert_invalid(&tokens, &unsigned);
    }
}

#[test]
fn hs256_signed_with_the_public_key_is_rejected() {
    use ed25519_dalek::pkcs8::EncodePublicKey;
    use rsa::pkcs1::EncodeRsaPublicKey;
    use rsa::pkcs8::{DecodePrivateKey, LineEnding};

    let ed = key(Algorithm::EdDSA);
    let ed_public = ed25519_dalek::SigningKey::from_pkcs8_pem(&ed.private_pem().unwrap())
        .unwrap()
        .verifying_key();
    let rsa = key(Algorithm::RS256);
    let rsa_public = rsa::RsaPrivateKey::from_pkcs8_pem(&rsa.private_pem().unwrap())
        .unwrap()
        .to_public_key();

    let candidates: Vec<(&SigningKey, Vec<u8>)> = vec![
        (&ed, ed_public.to_bytes().to_vec()),
        (
            &ed,
            ed_public
                .to_public_key_pem(LineEnding::LF)
                .unwrap()
                .into_bytes(),
        ),
        (&ed, ed_public.to_public_key_der().unwrap().into_vec()),
        (&rsa, rsa_public.to_pkcs1_der().unwrap().into_vec()),
        (
            &rsa,
            rsa_public
                .to_pkcs1_pem(LineEnding::LF)
                .unwrap()
                .into_bytes(),
        ),
        (
            &rsa,
            rsa_public
                .to_public_key_pem(LineEnding::LF)
                .unwrap()
                .into_bytes(),
        ),
        (
            &rsa,
            rsa.public_jwk().unwrap()["n"]
                .as_str()
                .unwrap()
                .as_bytes()
                .to_vec(),
        ),
    ];
    for (key, secret) in candidates {
        let tokens = codec(KeySet::new(key.clone()));
        let header = json!({"alg": "HS256", "typ": "at+jwt", "kid": key.kid()});
        assert_invalid(&tokens, &forge_hmac(&secret, &header, &claims_at(t0())));
    }
}

#[test]
fn a_header_alg_other_than_the_keys_is_rejected() {
    let ed = key(Algorithm::EdDSA);
    let es = key(Algorithm::ES256);
    let mut set = KeySet::new(es.clone());
    set.rotate(ed.clone(), t0()).unwrap();
    let tokens = codec(set);
    let claims = claims_at(t0());

    // Genuinely signed, but the header names another algorithm.
    for (signer, claimed) in [
        (&ed, "ES256"),
        (&ed, "RS256"),
        (&ed, "HS256"),
        (&es, "EdDSA"),
    ] {
        let header = json!({"alg": claimed, "typ": "at+jwt", "kid": signer.kid()});
        assert_invalid(&tokens, &forge(signer, &header, &claims));
    }
    // Signed by one key, naming the other key's kid and algorithm.
    let header = json!({"alg": "ES256", "typ": "at+jwt", "kid": es.kid()});
    assert_invalid(&tokens, &forge(&ed, &header, &claims));
    // The unaltered tokens pass.
    assert!(
        tokens
            .verify(&forge(&ed, &header_for(&ed), &claims), t0())
            .is_ok()
    );
    assert!(
        tokens
            .verify(&forge(&es, &header_for(&es), &claims), t0())
            .is_ok()
    );
}

#[test]
fn expiry_is_checked_against_now_with_leeway() {
    let tokens = codec(KeySet::new(key(Algorithm::EdDSA)));
    let token = issue(&tokens, t0());
    let exp = t0() + Duration::minutes(15);
    // Within the 30 s leeway after `exp`: still accepted.
    assert!(tokens.verify(&token, exp).is_ok());
    assert!(tokens.verify(&token, exp + Duration::seconds(29)).is_ok());
    // Past it: expired, which is distinct from invalid.
    assert!(matches!(
        tokens.verify(&token, exp + Duration::seconds(30)),
        Err(AuthError::TokenExpired)
    ));
    assert!(matches!(
        tokens.verify(&token, exp + Duration::days(400)),
        Err(AuthError::TokenExpired)
    ));
}

#[test]
fn an_expired_forgery_is_invalid_not_expired() {
    let tokens = codec(KeySet::new(key(Algorithm::EdDSA)));
    let other = key(Algorithm::EdDSA);
    let header = json!({"alg": "EdDSA", "typ": "at+jwt", "kid": tokens.keys().current().kid()});
    let mut claims = claims_at(t0());
    claims["exp"] = json!(t0().timestamp() - 3600);
    assert_invalid(&tokens, &forge(&other, &header, &claims));
}

#[test]
fn leeway_is_capped_at_sixty_seconds() {
    let tokens = AccessTokens::new(
        KeySet::new(key(Algorithm::HS256)),
        ISSUER,
        AUDIENCE,
        Duration::minutes(15),
        Duration::hours(1),
    );
    let token = issue(&tokens, t0());
    let exp = t0() + Duration::minutes(15);
    assert!(tokens.verify(&token, exp + Duration::seconds(59)).is_ok());
    assert!(matches!(
        tokens.verify(&token, exp + Duration::seconds(60)),
        Err(AuthError::TokenExpired)
    ));
}

#[test]
fn not_before_and_issued_at_in_the_future_are_rejected_beyond_leeway() {
    let key = key(Algorithm::EdDSA);
    let tokens = codec(KeySet::new(key.clone()));
    let now = t0().timestamp();
    for member in ["nbf", "iat"] {
        let mut claims = claims_at(t0());
        claims[member] = json!(now + 31);
        assert_invalid(&tokens, &forge(&key, &header_for(&key), &claims));
        claims[member] = json!(now + 30);
        let token = forge(&key, &header_for(&key), &claims);
        assert!(
            tokens.verify(&token, t0()).is_ok(),
            "{member} within leeway"
        );
    }
}

#[test]
fn every_required_claim_must_be_present() {
    let key = key(Algorithm::EdDSA);
    let tokens = codec(KeySet::new(key.clone()));
    for member in ["exp", "iat", "nbf", "iss", "aud", "sub", "sid", "jti"] {
        let mut claims = claims_at(t0());
        claims.as_object_mut().unwrap().remove(member);
        assert_invalid(&tokens, &forge(&key, &header_for(&key), &claims));
    }
    for member in ["sub", "sid", "jti"] {
        let mut claims = claims_at(t0());
        claims[member] = json!("");
        assert_invalid(&tokens, &forge(&key, &header_for(&key), &claims));
    }
    // The role lists default to empty.
    let mut claims = claims_at(t0());
    claims.as_object_mut().unwrap().remove("roles");
    claims.as_object_mut().unwrap().remove("permissions");
    let verified = tokens
        .verify(&forge(&key, &header_for(&key), &claims), t0())
        .unwrap();
    assert!(verified.roles.is_empty() && verified.permissions.is_empty());
}

#[test]
fn time_claims_given_as_strings_or_floats_are_rejected() {
    let key = key(Algorithm::EdDSA);
    let tokens = codec(KeySet::new(key.clone()));
    let now = t0().timestamp();
    let bad = [
        ("exp", json!((now + 900).to_string())),
        ("nbf", json!(now.to_string())),
        ("iat", json!(now.to_string())),
        ("exp", json!(now as f64 + 900.5)),
        ("exp", Value::Null),
    ];
    for (member, value) in bad {
        let mut claims = claims_at(t0());
        claims[member] = value;
        assert_invalid(&tokens, &forge(&key, &header_for(&key), &claims));
    }
}

#[test]
fn wrong_issuer_or_audience_is_rejected() {
    let key = key(Algorithm::EdDSA);
    let tokens = codec(KeySet::new(key.clone()));
    let foreign = |issuer: &str, audience: &str| {
        let other = AccessTokens::new(
            KeySet::new(key.clone()),
            issuer,
            audience,
            Duration::minutes(15),
            Duration::zero(),
        );
        issue(&other, t0())
    };
    assert_invalid(&tokens, &foreign("https://evil.example.com", AUDIENCE));
    assert_invalid(&tokens, &foreign(ISSUER, "other-api"));
    assert!(tokens.verify(&foreign(ISSUER, AUDIENCE), t0()).is_ok());

    // An audience array (allowed by RFC 7519, never issued by us) is refused.
    let mut claims = claims_at(t0());
    claims["aud"] = json!([AUDIENCE]);
    assert_invalid(&tokens, &forge(&key, &header_for(&key), &claims));
}

#[test]
fn typ_must_be_at_jwt() {
    let key = key(Algorithm::EdDSA);
    let tokens = codec(KeySet::new(key.clone()));
    let claims = claims_at(t0());
    let with_typ = |typ: Value| {
        let mut header = header_for(&key);
        header["typ"] = typ;
        forge(&key, &header, &claims)
    };
    for typ in [
        json!("JWT"),
        json!("jwt"),
        json!("at+jwt "),
        json!(""),
        Value::Null,
        json!(1),
    ] {
        assert_invalid(&tokens, &with_typ(typ));
    }
    let mut header = header_for(&key);
    header.as_object_mut().unwrap().remove("typ");
    assert_invalid(&tokens, &forge(&key, &header, &claims));

    for typ in [
        "at+jwt",
        "AT+JWT",
        "application/at+jwt",
        "Application/AT+JWT",
    ] {
        assert!(tokens.verify(&with_typ(json!(typ)), t0()).is_ok(), "{typ}");
    }
}

#[test]
fn opaque_tokens_are_not_access_tokens() {
    let tokens = codec(KeySet::new(key(Algorithm::HS256)));
    assert_invalid(&tokens, &crate::secret::token256());
    assert_invalid(&tokens, &crate::secret::random_token(16));
    assert_invalid(&tokens, &crate::secret::numeric_code(6));
}

#[test]
fn headers_that_name_or_embed_keys_are_rejected() {
    let key = key(Algorithm::EdDSA);
    let tokens = codec(KeySet::new(key.clone()));
    let claims = claims_at(t0());
    let members = [
        ("jku", json!("https://evil.example.com/jwks.json")),
        ("x5u", json!("https://evil.example.com/cert.pem")),
        ("jwk", key.public_jwk().unwrap()),
        ("x5c", json!(["MIIB"])),
        ("crit", json!(["exp"])),
        ("jku", Value::Null),
    ];
    for (member, value) in members {
        let mut header = header_for(&key);
        header[member] = value;
        assert_invalid(&tokens, &forge(&key, &header, &claims));
    }
    // Harmless unknown members are ignored.
    let mut header = header_for(&key);
    header["cty"] = json!("ignored");
    assert!(tokens.verify(&forge(&key, &header, &claims), t0()).is_ok());
}

#[test]
fn duplicate_header_members_are_rejected() {
    let key = key(Algorithm::EdDSA);
    let tokens = codec(KeySet::new(key.clone()));
    let header = format!(
        r#"{{"alg":"EdDSA","alg":"none","typ":"at+jwt","kid":"{}"}}"#,
        key.kid()
    );
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        b64_json(&claims_at(t0()))
    );
    let signature =
        jsonwebtoken::crypto::sign(input.as_bytes(), key.encoding_key(), key.algorithm().jwt())
            .unwrap();
    assert_invalid(&tokens, &format!("{input}.{signature}"));
}

#[test]
fn unknown_missing_or_malformed_kids_are_rejected() {
    let key = key(Algorithm::EdDSA);
    let tokens = codec(KeySet::new(key.clone()));
    let claims = claims_at(t0());
    let kids = [
        json!(SigningKey::generate(Algorithm::EdDSA).unwrap().kid()),
        json!("../../etc/passwd"),
        json!("' OR 1=1--"),
        json!(format!("{}\u{0}", key.kid())),
        json!("a".repeat(65)),
        json!(""),
        json!(7),
        Value::Null,
    ];
    for kid in kids {
        let mut header = header_for(&key);
        header["kid"] = kid;
        assert_invalid(&tokens, &forge(&key, &header, &claims));
    }
    let mut header = header_for(&key);
    header.as_object_mut().unwrap().remove("kid");
    assert_invalid(&tokens, &forge(&key, &header, &claims));
}

#[test]
fn json_serialization_and_other_shapes_are_rejected() {
    let tokens = codec(KeySet::new(key(Algorithm::EdDSA)));
    let token = issue(&tokens, t0());
    let parts: Vec<&str> = token.split('.').collect();
    let flattened = json!({"protected": parts[0], "payload": parts[1], "signature": parts[2]});
    let general = json!({
        "payload": parts[1],
        "signatures": [{"protected": parts[0], "signature": parts[2]}],
    });
    assert_invalid(&tokens, &flattened.to_string());
    assert_invalid(&tokens, &general.to_string());
    // Four or five segments (JWE-like), padding, whitespace, other alphabets.
    assert_invalid(&tokens, &format!("{token}.{}", parts[2]));
    assert_invalid(
        &tokens,
        &format!("{}.{}..{}.{}", parts[0], parts[1], parts[2], parts[2]),
    );
    assert_invalid(&tokens, &format!("{}=.{}.{}", parts[0], parts[1], parts[2]));
    assert_invalid(&tokens, &format!(" {token}"));
    assert_invalid(&tokens, &format!("{token}\n"));
    assert_invalid(&tokens, &format!("Bearer {token}"));
    let standard_alphabet = token.replace('-', "+").replace('_', "/");
    if standard_alphabet != token {
        assert_invalid(&tokens, &standard_alphabet);
    }
    assert!(tokens.verify(&token, t0()).is_ok());
}

#[test]
fn tampering_breaks_the_signature() {
    for alg in ALGORITHMS {
        let key = key(alg);
        let tokens = codec(KeySet::new(key.clone()));
        let token = issue(&tokens, t0());
        let parts: Vec<&str> = token.split('.').collect();

        let mut claims = decode_segment(parts[1]);
        claims["roles"] = json!(["superadmin"]);
        let tampered = format!("{}.{}.{}", parts[0], b64_json(&claims), parts[2]);
        assert_invalid(&tokens, &tampered);

        let mut signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        signature[0] ^= 1;
        let flipped = format!(
            "{}.{}.{}",
            parts[0],
            parts[1],
            URL_SAFE_NO_PAD.encode(signature)
        );
        assert_invalid(&tokens, &flipped);

        // A genuine token of another key of the same algorithm, sent under
        // this key's kid (RSA skipped: a second key costs seconds to make).
        let impostor = match alg {
            Algorithm::RS256 => continue,
            Algorithm::HS256 => SigningKey::from_hmac_secret(key.kid(), &[7; 32]).unwrap(),
            _ => {
                let fresh = SigningKey::generate(alg).unwrap();
                SigningKey::from_pem(key.kid(), alg, &fresh.private_pem().unwrap()).unwrap()
            }
        };
        assert_invalid(
            &tokens,
            &forge(&impostor, &header_for(&key), &claims_at(t0())),
        );
    }
}

#[test]
fn retired_keys_verify_until_pruned() {
    let old = key(Algorithm::EdDSA);
    let mut set = KeySet::new(old.clone());
    let tokens = codec(set.clone());
    let token = issue(&tokens, t0());

    set.rotate(key(Algorithm::EdDSA), t0()).unwrap();
    tokens.set_keys(set.clone());
    assert!(tokens.verify(&token, t0()).is_ok());

    // Within the grace period, prune keeps it.
    assert_eq!(
        set.prune(t0() + Duration::minutes(10), Duration::minutes(15)),
        0
    );
    tokens.set_keys(set.clone());
    assert!(tokens.verify(&token, t0() + Duration::minutes(10)).is_ok());

    // After it, the key is gone and so is the token.
    assert_eq!(
        set.prune(t0() + Duration::minutes(16), Duration::minutes(15)),
        1
    );
    tokens.set_keys(set);
    assert!(matches!(
        tokens.verify(&token, t0() + Duration::minutes(10)),
        Err(AuthError::TokenInvalid)
    ));
}

#[test]
fn rotation_keeps_old_tokens_valid_and_signs_with_the_new_key() {
    let tokens = codec(KeySet::new(key(Algorithm::ES256)));
    let before = issue(&tokens, t0());

    let new_key = key(Algorithm::EdDSA);
    let mut set = (*tokens.keys()).clone();
    set.rotate(new_key.clone(), t0()).unwrap();
    tokens.set_keys(set);

    let after = issue(&tokens, t0());
    let header = decode_segment(after.split('.').next().unwrap());
    assert_eq!(header["kid"], json!(new_key.kid()));
    assert_eq!(header["alg"], json!("EdDSA"));
    assert!(tokens.verify(&before, t0()).is_ok());
    assert!(tokens.verify(&after, t0()).is_ok());

    // Replacing the set with one that lacks the old key drops old tokens.
    tokens.set_keys(KeySet::new(new_key));
    assert_invalid(&tokens, &before);
    assert!(tokens.verify(&after, t0()).is_ok());
}

#[test]
fn verification_continues_while_keys_are_swapped() {
    let tokens = Arc::new(codec(KeySet::new(key(Algorithm::HS256))));
    let token = issue(&tokens, t0());
    let swapper = {
        let tokens = Arc::clone(&tokens);
        std::thread::spawn(move || {
            for _ in 0..50 {
                let mut set = (*tokens.keys()).clone();
                set.rotate(key(Algorithm::HS256), t0()).unwrap();
                tokens.set_keys(set);
            }
        })
    };
    let verifiers: Vec<_> = (0..2)
        .map(|_| {
            let tokens = Arc::clone(&tokens);
            let token = token.clone();
            std::thread::spawn(move || (0..200).all(|_| tokens.verify(&token, t0()).is_ok()))
        })
        .collect();
    swapper.join().unwrap();
    for verifier in verifiers {
        assert!(verifier.join().unwrap());
    }
    assert_eq!(tokens.keys().retired().len(), 50);
}

#[test]
fn oversized_tokens_are_rejected_and_never_issued() {
    let key = key(Algorithm::HS256);
    let tokens = codec(KeySet::new(key.clone()));
    let mut claims = claims_at(t0());
    claims["padding"] = json!("x".repeat(MAX_TOKEN_LEN));
    let token = forge(&key, &header_for(&key), &claims);
    assert!(token.len() > MAX_TOKEN_LEN);
    assert_invalid(&tokens, &token);

    let roles: Vec<String> = (0..1000).map(|i| format!("role-{i}")).collect();
    assert!(matches!(
        tokens.issue(Uuid::nil(), Uuid::nil(), &roles, &[], t0()),
        Err(AuthError::Internal(_))
    ));
}

#[test]
fn garbage_is_invalid() {
    let tokens = codec(KeySet::new(key(Algorithm::EdDSA)));
    let inputs = [
        String::new(),
        ".".into(),
        "..".into(),
        "a.b.c".into(),
        "a.b.c.d.e".into(),
        "e30.e30.e30".into(),
        "eyJhbGciOiJub25lIn0.e30.".into(),
        "ünïcødé.🔑.токен".into(),
        "\u{0}\u{0}.\u{0}.\u{0}".into(),
        "A".repeat(10 * 1024),
        format!("{}.{}.{}", "A".repeat(2000), "B".repeat(20), "C".repeat(20)),
        format!(
            "{}.{}.{}",
            "A".repeat(4000),
            "B".repeat(4000),
            "C".repeat(100)
        ),
    ];
    for input in &inputs {
        assert_invalid(&tokens, input);
    }
}

#[test]
fn random_and_mutated_input_never_panics_or_passes() {
    let mut rng = rand::thread_rng();
    for alg in [Algorithm::EdDSA, Algorithm::HS256] {
        let tokens = codec(KeySet::new(key(alg)));
        let token = issue(&tokens, t0());
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ";

        for _ in 0..300 {
            let mut bytes = vec![0u8; rng.gen_range(0..300)];
            rng.fill_bytes(&mut bytes);
            assert_invalid(&tokens, &String::from_utf8_lossy(&bytes));
        }
        for _ in 0..1000 {
            let mut mutated = token.clone().into_bytes();
            for _ in 0..rng.gen_range(1..4) {
                match rng.gen_range(0..3) {
                    _ if mutated.is_empty() => mutated.push(b'.'),
                    0 => {
                        let at = rng.gen_range(0..mutated.len());
                        mutated[at] = alphabet[rng.gen_range(0..alphabet.len())];
                    }
                    1 => mutated.truncate(rng.gen_range(0..mutated.len())),
                    _ => {
                        let at = rng.gen_range(0..=mutated.len());
                        mutated.insert(at, alphabet[rng.gen_range(0..alphabet.len())]);
                    }
                }
            }
            let mutated = String::from_utf8(mutated).unwrap();
            if mutated != token {
                assert_invalid(&tokens, &mutated);
            }
        }
    }
}

#[test]
fn repeat_verifications_come_from_the_cache_and_still_check_time() {
    let tokens = codec(KeySet::new(key(Algorithm::EdDSA)));
    let token = issue(&tokens, t0());
    let first = tokens.verify(&token, t0()).unwrap();
    assert_eq!(tokens.cached_tokens(), 1);
    assert_eq!(tokens.verify(&token, t0()).unwrap(), first);
    assert_eq!(tokens.cached_tokens(), 1);
    // A cached token still expires, and is still not valid before nbf.
    assert!(matches!(
        tokens.verify(&token, t0() + Duration::hours(1)),
        Err(AuthError::TokenExpired)
    ));
    assert!(matches!(
        tokens.verify(&token, t0() - Duration::hours(1)),
        Err(AuthError::TokenInvalid)
    ));
    // A tampered copy is a different string: verified from scratch, refused.
    let mut tampered = token.clone();
    tampered.pop();
    tampered.push(if token.ends_with('A') { 'B' } else { 'A' });
    assert!(tokens.verify(&tampered, t0()).is_err());
    assert_eq!(tokens.cached_tokens(), 1, "failures are never cached");
}

#[test]
fn a_key_set_change_empties_the_cache() {
    let old = key(Algorithm::EdDSA);
    let tokens = codec(KeySet::new(old));
    let token = issue(&tokens, t0());
    tokens.verify(&token, t0()).unwrap();
    // The old key leaves the set entirely: its cached token must fail now.
    tokens.set_keys(KeySet::new(key(Algorithm::EdDSA)));
    assert_eq!(tokens.cached_tokens(), 0);
    assert!(matches!(
        tokens.verify(&token, t0()),
        Err(AuthError::TokenInvalid)
    ));
}

#[test]
fn the_cache_stays_bounded() {
    let tokens = codec(KeySet::new(key(Algorithm::HS256)));
    for _ in 0..VERIFIED_CACHE_CAPACITY + 10 {
        let token = issue(&tokens, t0());
        tokens.verify(&token, t0()).unwrap();
        assert!(tokens.cached_tokens() <= VERIFIED_CACHE_CAPACITY);
    }
}

/// Property test ("fuzzing") of the JWT header and claims reader: any
/// string, and any header and claims genuinely signed, never panic; a
/// token is accepted only when signed by the key its `kid` names with that
/// key's algorithm and carrying valid claims, and every refusal is
/// `token_invalid` or `token_expired`.
#[test]
fn any_token_is_refused_unless_genuine_and_valid() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    let genuine = key(Algorithm::HS256);
    let stranger = key(Algorithm::HS256);
    let tokens = codec(KeySet::new(genuine.clone()));
    let kid = genuine.kid().to_owned();

    let junk = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,16}".prop_map(Value::from),
        "[0-9]{1,12}".prop_map(Value::from),
        prop::collection::vec(".{0,8}".prop_map(Value::from), 0..3).prop_map(Value::Array),
    ];
    // A header member: the right value, a wrong spelling, absent, or junk.
    let member = |good: Value, wrong: Vec<&'static str>| {
        prop_oneof![
            8 => Just(Some(good)),
            1 => prop::sample::select(wrong).prop_map(|w| Some(json!(w))),
            1 => Just(None),
            1 => junk.clone().prop_map(Some),
        ]
    };
    let header = (
        member(
            json!("HS256"),
            vec!["none", "None", "noNE", "hs256", "EdDSA", "RS256"],
        ),
        member(
            json!("at+jwt"),
            vec!["AT+JWT", "application/at+jwt", "JWT", "jwt"],
        ),
        member(
            json!(kid),
            vec!["../../etc/passwd", "' OR 1=1 --", "", "other"],
        ),
        prop::collection::btree_map(
            prop::sample::select(vec!["jku", "x5u", "jwk", "x5c", "crit", "cty", "zip", "x"]),
            junk.clone(),
            0..2,
        ),
    )
        .prop_map(|(alg, typ, kid, extra)| {
            let mut h = serde_json::Map::new();
            for (name, value) in [("alg", alg), ("typ", typ), ("kid", kid)] {
                if let Some(value) = value {
                    h.insert(name.to_owned(), value);
                }
            }
            for (name, value) in extra {
                h.insert(name.to_owned(), value);
            }
            Value::Object(h)
        });
    // Each claim: kept (0), dropped (1) or replaced by junk (2).
    let change = prop_oneof![
        12 => Just((0u8, Value::Null)),
        1 => Just((1u8, Value::Null)),
        2 => junk.clone().prop_map(|v| (2u8, v)),
    ];
    let base = claims_at(t0());
    let claims = prop::collection::vec(change, 10).prop_map(move |changes| {
        let mut claims = base.clone();
        let names: Vec<String> = claims.as_object().unwrap().keys().cloned().collect();
        let object = claims.as_object_mut().unwrap();
        for (name, (what, junk)) in names.iter().zip(changes) {
            match what {
                0 => {}
                1 => {
                    object.remove(name);
                }
                _ => {
                    object.insert(name.clone(), junk);
                }
            }
        }
        claims
    });
    // Who signs: the key the kid names, another key, or nobody.
    let signer = prop::sample::select(vec![0u8, 0, 0, 1, 2]);
    let raw = prop_oneof![
        ".{0,120}",
        "[A-Za-z0-9_-]{0,40}\\.[A-Za-z0-9_-]{0,60}\\.[A-Za-z0-9_-]{0,50}",
        "[A-Za-z0-9_.=+/-]{0,200}",
    ];

    let mut runner = TestRunner::new(Config {
        cases: 10_000,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(
            &(header, claims, signer, prop::option::of(raw)),
            |(header, claims, signer, raw)| {
                let token = match (raw, signer) {
                    (Some(raw), _) => raw,
                    (None, 0) => forge(&genuine, &header, &claims),
                    (None, 1) => forge(&stranger, &header, &claims),
                    (None, _) => format!("{}.{}.", b64_json(&header), b64_json(&claims)),
                };
                match tokens.verify(&token, t0()) {
                    Ok(accepted) => {
                        prop_assert_eq!(signer, 0, "{}", token);
                        prop_assert_eq!(&header["alg"], "HS256");
                        prop_assert_eq!(&header["kid"], kid.as_str());
                        let typ = header["typ"].as_str().unwrap().to_ascii_lowercase();
                        prop_assert!(typ == "at+jwt" || typ == "application/at+jwt");
                        prop_assert!(
                            ["jku", "x5u", "jwk", "x5c", "crit"]
                                .iter()
                                .all(|m| header.get(m).is_none())
                        );
                        prop_assert_eq!(accepted.iss.as_str(), ISSUER);
                        prop_assert_eq!(accepted.aud.as_str(), AUDIENCE);
                        prop_assert!(accepted.exp > t0().timestamp() - 30);
                    }
                    Err(AuthError::TokenInvalid | AuthError::TokenExpired) => {}
                    Err(other) => prop_assert!(false, "{other:?} for {token}"),
                }
                Ok(())
            },
        )
        .unwrap();

    // Untouched header and claims, genuinely signed, pass: the generator
    // reaches the accepting path.
    let token = forge(&genuine, &header_for(&genuine), &claims_at(t0()));
    assert!(tokens.verify(&token, t0()).is_ok());
}
