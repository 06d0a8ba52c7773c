//! Micro-benchmarks of the core hot paths, each beside the baseline it is
//! judged against in the same run.

// Benchmark setup may fail loudly; criterion's macros emit undocumented items.
#![allow(clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::sync::Arc;

use authkit_core::password::{HashParams, PasswordHasher, PasswordPolicy};
use authkit_core::secret::{TokenHash, token256};
use authkit_core::session::{RotateOutcome, RotateRefresh, Session};
use authkit_core::store::{MemoryStore, SessionStore};
use authkit_core::token::{AccessClaims, AccessTokens, Algorithm, KeySet, SigningKey};
use chrono::{Duration, Utc};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use jsonwebtoken::{DecodingKey, Validation, decode, jwk::Jwk};
use uuid::Uuid;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn passwords(c: &mut Criterion) {
    let rt = runtime();
    let hasher = PasswordHasher::new(HashParams::default(), 1).expect("hasher");
    let stored = rt
        .block_on(hasher.hash("correct horse battery staple"))
        .expect("hash");
    let mut group = c.benchmark_group("argon2id_owasp");
    group.sample_size(20);
    group.bench_function("hash", |b| {
        b.iter(|| rt.block_on(hasher.hash(black_box("correct horse battery staple"))))
    });
    group.bench_function("verify", |b| {
        b.iter(|| {
            rt.block_on(hasher.verify(black_box("correct horse battery staple"), Some(&stored)))
        })
    });
    group.finish();

    let policy = PasswordPolicy::default();
    c.bench_function("policy/common_password", |b| {
        b.iter(|| policy.check(black_box("password123"), &["ada@example.com", "ada"]))
    });
    c.bench_function("policy/strong_password", |b| {
        b.iter(|| {
            policy.check(
                black_box("correct horse battery staple"),
                &["ada@example.com", "ada"],
            )
        })
    });
}

/// The bare `jsonwebtoken` validation equivalent to authkit's checks.
fn bare_validation(alg: jsonwebtoken::Algorithm) -> Validation {
    let mut v = Validation::new(alg);
    v.set_issuer(&["authkit"]);
    v.set_audience(&["authkit"]);
    v.set_required_spec_claims(&["exp", "iat", "nbf", "iss", "aud", "sub"]);
    v.validate_nbf = true;
    v.leeway = 30;
    v
}

fn tokens(c: &mut Criterion) {
    let roles = vec!["STAFF".to_owned()];
    let perms = vec![
        "internal.dashboard.view".to_owned(),
        "internal.users.read".to_owned(),
    ];
    for (alg, jwt_alg) in [
        (Algorithm::HS256, jsonwebtoken::Algorithm::HS256),
        (Algorithm::EdDSA, jsonwebtoken::Algorithm::EdDSA),
        (Algorithm::ES256, jsonwebtoken::Algorithm::ES256),
        (Algorithm::RS256, jsonwebtoken::Algorithm::RS256),
    ] {
        let key = SigningKey::generate(alg).expect("key");
        let jwk_value = if alg == Algorithm::HS256 {
            key.to_jwk_private()
        } else {
            key.public_jwk().expect("public jwk")
        };
        let jwk: Jwk = serde_json::from_value(jwk_value).expect("jwk");
        let decoding = DecodingKey::from_jwk(&jwk).expect("decoding key");
        let codec = AccessTokens::new(
            KeySet::new(key),
            "authkit",
            "authkit",
            Duration::minutes(15),
            Duration::seconds(30),
        );
        let now = Utc::now();
        let (token, _) = codec
            .issue(Uuid::now_v7(), Uuid::now_v7(), &roles, &perms, now)
            .expect("issue");
        let validation = bare_validation(jwt_alg);
        decode::<AccessClaims>(&token, &decoding, &validation).expect("bare decode");

        let mut group = c.benchmark_group(format!("access_token/{}", alg.as_str()));
        group.bench_function("sign", |b| {
            b.iter(|| codec.issue(Uuid::now_v7(), Uuid::now_v7(), &roles, &perms, now))
        });
        // A fresh codec per iteration: the signature is checked every time.
        let fresh = || {
            AccessTokens::new(
                codec.keys().as_ref().clone(),
                "authkit",
                "authkit",
                Duration::minutes(15),
                Duration::seconds(30),
            )
        };
        group.bench_function("verify_authkit", |b| {
            // By reference, so dropping the codec stays outside the timing.
            b.iter_batched_ref(
                fresh,
                |cold| cold.verify(black_box(&token), now).expect("verify"),
                BatchSize::SmallInput,
            )
        });
        // The same token again: answered from the verified-token cache.
        group.bench_function("verify_authkit_cached", |b| {
            b.iter(|| codec.verify(black_box(&token), now).expect("verify"))
        });
        group.bench_function("verify_bare_jsonwebtoken", |b| {
            b.iter(|| {
                decode::<AccessClaims>(black_box(&token), &decoding, &validation).expect("decode")
            })
        });
        group.finish();
    }
}

fn refresh_rotation(c: &mut Criterion) {
    let rt = runtime();
    let store = Arc::new(MemoryStore::new());
    let now = Utc::now();
    let session = Session {
        id: Uuid::now_v7(),
        user_id: Uuid::now_v7(),
        ip: None,
        user_agent: None,
        created_at: now,
        last_seen_at: now,
        expires_at: now + Duration::days(30),
        revoked_at: None,
        revoke_reason: None,
    };
    let mut current = TokenHash::of_token(&token256());
    rt.block_on(store.create_session(&session, &current))
        .expect("session");
    c.bench_function("refresh_rotation/memory_store", |b| {
        b.iter(|| {
            let replacement = TokenHash::of_token(&token256());
            let request = RotateRefresh {
                presented: current,
                replacement,
                now,
                idle_timeout: Duration::days(7),
                reuse_grace: Duration::zero(),
            };
            let outcome = rt.block_on(store.rotate_refresh(&request)).expect("rotate");
            assert!(matches!(outcome, RotateOutcome::Rotated(_)));
            current = replacement;
        })
    });
}

criterion_group!(benches, passwords, tokens, refresh_rotation);
criterion_main!(benches);
