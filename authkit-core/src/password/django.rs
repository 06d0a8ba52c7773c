//! Django's password hash formats, verified so users imported from a Django
//! site can log in (and get re-hashed with argon2id on success).
//!
//! Django does not normalize passwords, so these are checked against the
//! password exactly as typed.

use base64::{Engine as _, engine::general_purpose::STANDARD};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::hasher::Malformed;

/// Most PBKDF2 iterations accepted (Django 5.2 writes 1,000,000).
const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;
/// Fewest PBKDF2 iterations an imported hash may have. Django has written
/// at least 10,000 since 1.4 (2012); anything below is too cheap to guess
/// against should the table leak, so it is refused at import.
pub(super) const MIN_IMPORTED_PBKDF2_ITERATIONS: u32 = 10_000;
/// bcrypt reads only this many bytes of a password.
const BCRYPT_MAX_PASSWORD_BYTES: usize = 72;
/// Highest bcrypt cost accepted (Django writes 12; each step doubles the work).
const MAX_BCRYPT_COST: u32 = 16;
/// Lowest cost bcrypt defines.
const MIN_BCRYPT_COST: u32 = 4;
/// Output length of Django's `pbkdf2_sha256` hasher, in bytes.
const PBKDF2_OUTPUT_LEN: usize = 32;

/// The PHC string inside a Django `argon2$argon2id$...` hash (Django's
/// `Argon2PasswordHasher` prefixes argon2-cffi's output with `argon2`).
pub(super) fn argon2_phc(stored: &str) -> Option<&str> {
    stored
        .strip_prefix("argon2")
        .filter(|phc| phc.starts_with('$'))
}

/// Checks `password` against a Django `pbkdf2_sha256`, `bcrypt` or
/// `bcrypt_sha256` hash.
pub(super) fn verify(password: &str, stored: &str) -> Result<bool, Malformed> {
    let unknown = Malformed("unknown password hash format");
    let (algorithm, rest) = stored.split_once('$').ok_or(unknown)?;
    match algorithm {
        "pbkdf2_sha256" => verify_pbkdf2_sha256(password, rest),
        "bcrypt" => verify_plain_bcrypt(password.as_bytes(), rest),
        // bcrypt of the lowercase hex SHA-256, which lifts bcrypt's 72-byte limit.
        "bcrypt_sha256" => {
            let digest = Zeroizing::new(hex::encode(Sha256::digest(password.as_bytes())));
            verify_bcrypt(digest.as_bytes(), rest)
        }
        _ => Err(unknown),
    }
}

/// Why a hash offered for import is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ImportRefusal {
    /// Not a format this crate verifies, or a corrupt one.
    Malformed(Malformed),
    /// PBKDF2 with fewer than [`MIN_IMPORTED_PBKDF2_ITERATIONS`] iterations.
    TooFewIterations(u32),
}

/// Checks that a Django `pbkdf2_sha256`, `bcrypt` or `bcrypt_sha256` hash
/// can be imported: it parses as [`verify`] would parse it, and a PBKDF2
/// hash has at least [`MIN_IMPORTED_PBKDF2_ITERATIONS`] iterations.
pub(super) fn check_importable(stored: &str) -> Result<(), ImportRefusal> {
    let unknown = ImportRefusal::Malformed(Malformed("unknown password hash format"));
    let (algorithm, rest) = stored.split_once('$').ok_or(unknown)?;
    match algorithm {
        "pbkdf2_sha256" => {
            let pbkdf2 = Pbkdf2::parse(rest).map_err(ImportRefusal::Malformed)?;
            if pbkdf2.iterations < MIN_IMPORTED_PBKDF2_ITERATIONS {
                return Err(ImportRefusal::TooFewIterations(pbkdf2.iterations));
            }
            Ok(())
        }
        "bcrypt" | "bcrypt_sha256" => {
            bcrypt_cost(rest).map_err(ImportRefusal::Malformed)?;
            rest.parse::<bcrypt::HashParts>()
                .map(drop)
                .map_err(|_| ImportRefusal::Malformed(Malformed("invalid bcrypt hash")))
        }
        _ => Err(unknown),
    }
}

/// The fields of a `pbkdf2_sha256` hash after its algorithm name.
struct Pbkdf2<'a> {
    iterations: u32,
    salt: &'a str,
    expected: Vec<u8>,
}

impl<'a> Pbkdf2<'a> {
    /// `<iterations>$<salt>$<base64 PBKDF2-HMAC-SHA256 output>`.
    fn parse(rest: &'a str) -> Result<Self, Malformed> {
        let mut fields = rest.split('$');
        let (Some(iterations), Some(salt), Some(encoded), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(Malformed("pbkdf2_sha256 hash without three fields"));
        };
        let iterations = iterations
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_PBKDF2_ITERATIONS).contains(n))
            .ok_or(Malformed("pbkdf2_sha256 iteration count out of range"))?;
        if salt.is_empty() {
            return Err(Malformed("pbkdf2_sha256 hash without salt"));
        }
        let expected = STANDARD
            .decode(encoded)
            .map_err(|_| Malformed("pbkdf2_sha256 output is not base64"))?;
        if expected.len() != PBKDF2_OUTPUT_LEN {
            return Err(Malformed("pbkdf2_sha256 output has the wrong length"));
        }
        Ok(Self {
            iterations,
            salt,
            expected,
        })
    }
}

/// `<iterations>$<salt>$<base64 PBKDF2-HMAC-SHA256 output>`.
fn verify_pbkdf2_sha256(password: &str, rest: &str) -> Result<bool, Malformed> {
    let Pbkdf2 {
        iterations,
        salt,
        expected,
    } = Pbkdf2::parse(rest)?;
    let mut computed = Zeroizing::new([0u8; PBKDF2_OUTPUT_LEN]);
    pbkdf2::pbkdf2_hmac::<Sha256>(
        password.as_bytes(),
        salt.as_bytes(),
        iterations,
        &mut computed[..],
    );
    Ok(computed.ct_eq(&expected[..]).into())
}

/// Django's plain `bcrypt` hasher: bcrypt of the password itself, which
/// bcrypt silently cuts at 72 bytes. A longer password is refused rather
/// than checked by its first 72 bytes (which would let anything sharing
/// them in); the hash still runs, so the refusal takes as long as a check.
fn verify_plain_bcrypt(password: &[u8], hash: &str) -> Result<bool, Malformed> {
    let Some(head) = password
        .get(..BCRYPT_MAX_PASSWORD_BYTES)
        .filter(|_| password.len() > BCRYPT_MAX_PASSWORD_BYTES)
    else {
        return verify_bcrypt(password, hash);
    };
    verify_bcrypt(head, hash)?;
    tracing::info!(
        "password longer than 72 bytes refused against a plain bcrypt hash; \
         the account needs a password reset"
    );
    Ok(false)
}

/// The cost of a modular-crypt bcrypt string, refused above the ceiling.
fn bcrypt_cost(hash: &str) -> Result<u32, Malformed> {
    let cost = hash
        .split('$')
        .nth(2)
        .and_then(|cost| cost.parse::<u32>().ok())
        .ok_or(Malformed("bcrypt hash without a cost"))?;
    if !(MIN_BCRYPT_COST..=MAX_BCRYPT_COST).contains(&cost) {
        return Err(Malformed("bcrypt cost out of the accepted range"));
    }
    Ok(cost)
}

/// A modular-crypt bcrypt string (`$2b$12$...`), compared in constant time
/// by the `bcrypt` crate.
fn verify_bcrypt(password: &[u8], hash: &str) -> Result<bool, Malformed> {
    bcrypt_cost(hash)?;
    bcrypt::verify(password, hash).map_err(|_| Malformed("invalid bcrypt hash"))
}

#[cfg(test)]
mod tests {
    use super::super::{HashParams, HashQueue, PasswordHasher, Verification};

    /// Made with `django.contrib.auth.hashers.make_password` (Django 5.2.19,
    /// argon2-cffi 25.1, bcrypt 5.0) for each hasher and each password of
    /// [`PASSWORDS`]: `(password index, stored hash)`.
    const FIXTURES: &[(usize, &str)] = &[
        (
            0,
            "pbkdf2_sha256$1000000$Wk3ehAhnlZEjTky3MsBmHR$q5q3+b7bOmrwBN4LTZ10QESW+c2H6rqW5ox1K+3ZQqI=",
        ),
        (
            1,
            "pbkdf2_sha256$1000000$cE7Opzow1kTKeNZtPyBD3t$U+2l63kuvNgZCzpnjn4JoxQsgPWd/MMWGmkOErGf9og=",
        ),
        (
            0,
            "argon2$argon2id$v=19$m=102400,t=2,p=8$ak85bUlXb2xhVHVRYTNpdzMydG9wdw$fJCL/NkFMm67F0RQM1mAdIvRuETlLT5Z7O7553y7GPw",
        ),
        (
            1,
            "argon2$argon2id$v=19$m=102400,t=2,p=8$ZFF4TWJOekRyWkd2TjNrakxrR3dMeQ$ivwMd8uBTmcjWpJ1CeaDqaZ5ATZxhbY+Y4xqSpyUNAY",
        ),
        (
            0,
            "bcrypt_sha256$$2b$12$qAp2ewjYuQKeWmteLsbY7.deHCriXOa/xxZTf/f5BaNtrDprKp3qK",
        ),
        (
            1,
            "bcrypt_sha256$$2b$12$fbtlAAUPrza47FKPIWQTLuqZKIjE8U3ydvu3QbIJttgyNCzxahMwq",
        ),
        (
            0,
            "bcrypt$$2b$12$pxb0206fpdH7jChZ7Gi.ge1Mozm7iVoXMObHEfdJiRfM0aF9Bp95S",
        ),
        (
            1,
            "bcrypt$$2b$12$SV75WV8aTeGyWWZ6NbuYbOK9NQ.SrX1bM2bRmHlpl7lRrCn1EYb6y",
        ),
        // The argon2i form older Django versions wrote (m=512, t=2, p=2,
        // 16-byte output), made with argon2-cffi the same way and accepted
        // by Django 5.2's check_password.
        (
            0,
            "argon2$argon2i$v=19$m=512,t=2,p=2$b2xkRGphbmdvU2FsdDEyMw$ggT5RDBh2jtQMwFVsUC+Ow",
        ),
        (
            1,
            "argon2$argon2i$v=19$m=512,t=2,p=2$b2xkRGphbmdvU2FsdDEyMw$BBBmcdk0XHpoNxt5B9kbvA",
        ),
    ];

    const PASSWORDS: [&str; 2] = ["correct horse battery staple", "p\u{e4}ssw\u{f6}rd-🔑"];

    fn hasher() -> PasswordHasher {
        let params = HashParams {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        };
        PasswordHasher::with_queue(params, 2, HashQueue::PATIENT).unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn django_hashes_verify_and_ask_for_a_rehash() {
        let hasher = hasher();
        let checks = FIXTURES.iter().map(|&(index, stored)| {
            let hasher = hasher.clone();
            tokio::spawn(async move {
                let password = PASSWORDS[index];
                let right = hasher.verify(password, Some(stored)).await.unwrap();
                let wrong = hasher
                    .verify(PASSWORDS[1 - index], Some(stored))
                    .await
                    .unwrap();
                (stored, right, wrong)
            })
        });
        for check in checks.collect::<Vec<_>>() {
            let (stored, right, wrong) = check.await.unwrap();
            let rehash = Verification {
                valid: true,
                needs_rehash: true,
            };
            assert_eq!(right, rehash, "{stored}");
            assert_eq!(wrong, Verification::INVALID, "{stored}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn django_hashes_are_checked_as_typed() {
        let hasher = hasher();
        // Decomposed umlauts: NFKC turns this into PASSWORDS[1], but Django
        // hashed the bytes as typed, so it must not match.
        let decomposed = "pa\u{308}sswo\u{308}rd-🔑";
        let checks: Vec<_> = FIXTURES
            .iter()
            .filter(|(index, _)| *index == 1)
            .map(|&(_, stored)| {
                let hasher = hasher.clone();
                tokio::spawn(async move { (stored, hasher.verify(decomposed, Some(stored)).await) })
            })
            .collect();
        for check in checks {
            let (stored, v) = check.await.unwrap();
            assert_eq!(v.unwrap(), Verification::INVALID, "{stored}");
        }
    }

    #[tokio::test]
    async fn bcrypt_sha256_is_not_plain_bcrypt() {
        let hasher = hasher();
        let (_, plain) = FIXTURES[6];
        let swapped = plain.replacen("bcrypt$", "bcrypt_sha256$", 1);
        let v = hasher.verify(PASSWORDS[0], Some(&swapped)).await.unwrap();
        assert_eq!(v, Verification::INVALID);
    }

    #[test]
    fn every_fixture_can_be_imported() {
        let hasher = hasher();
        for (_, stored) in FIXTURES {
            hasher.check_imported(stored).unwrap();
        }
        let own = "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$\
                   ZjYxYWY4NGI4ZDBiNGI3ZjE4ZWE5ZmRlYzc2YmJkOWM";
        hasher.check_imported(own).unwrap();
    }

    #[test]
    fn pbkdf2_below_the_floor_is_refused_at_import() {
        let hasher = hasher();
        let tail = "salt$q5q3+b7bOmrwBN4LTZ10QESW+c2H6rqW5ox1K+3ZQqI=";
        for iterations in [1, 1000, 9_999] {
            let err = hasher
                .check_imported(&format!("pbkdf2_sha256${iterations}${tail}"))
                .unwrap_err();
            let field = &err.field_errors()[0];
            assert_eq!(field.field, "password_hash");
            assert_eq!(field.code, "password_hash_too_weak", "{iterations}");
        }
        for iterations in [10_000, 1_000_000] {
            hasher
                .check_imported(&format!("pbkdf2_sha256${iterations}${tail}"))
                .unwrap();
        }
    }

    #[test]
    fn malformed_hashes_are_refused_at_import() {
        let hasher = hasher();
        let cases = [
            "",
            "garbage",
            "md5$salt$abc",
            "pbkdf2_sha256$abc$salt$q5q3+b7bOmrwBN4LTZ10QESW+c2H6rqW5ox1K+3ZQqI=",
            "pbkdf2_sha256$10000001$salt$q5q3+b7bOmrwBN4LTZ10QESW+c2H6rqW5ox1K+3ZQqI=",
            "pbkdf2_sha256$10000$$q5q3+b7bOmrwBN4LTZ10QESW+c2H6rqW5ox1K+3ZQqI=",
            "pbkdf2_sha256$10000$salt$c2hvcnQ=",
            "bcrypt$",
            "bcrypt$$2b$12$short",
            "bcrypt$$2b$03$qAp2ewjYuQKeWmteLsbY7.deHCriXOa/xxZTf/f5BaNtrDprKp3qK",
            "bcrypt$$2b$99$qAp2ewjYuQKeWmteLsbY7.deHCriXOa/xxZTf/f5BaNtrDprKp3qK",
            "bcrypt$$9z$12$qAp2ewjYuQKeWmteLsbY7.deHCriXOa/xxZTf/f5BaNtrDprKp3qK",
            "bcrypt_sha256$$2b$12$",
            "argon2$argon2id$v=19$m=4294967295,t=1,p=1$c2FsdHNhbHQ$aGFzaA",
            "$argon2id$v=19$m=1024,t=1,p=1",
            "argon2",
        ];
        for stored in cases {
            let err = hasher.check_imported(stored).unwrap_err();
            assert_eq!(err.code(), "validation_failed", "{stored:?}");
            assert_eq!(
                err.field_errors()[0].code,
                "password_hash_invalid",
                "{stored:?}"
            );
        }
    }

    #[tokio::test]
    async fn plain_bcrypt_refuses_passwords_longer_than_72_bytes() {
        let hasher = hasher();
        let head = "x".repeat(72);
        let stored = format!("bcrypt${}", bcrypt::hash(&head, 4).unwrap());
        let exact = hasher.verify(&head, Some(&stored)).await.unwrap();
        assert!(exact.valid, "72 bytes still verify");
        // bcrypt itself ignores everything after byte 72: these would all
        // match if the password were cut.
        for tail in ["y", "anything else at all", "🔑"] {
            let longer = format!("{head}{tail}");
            let v = hasher.verify(&longer, Some(&stored)).await.unwrap();
            assert_eq!(v, Verification::INVALID, "{tail:?}");
        }
        // bcrypt_sha256 hashes the SHA-256 first, so long passwords work.
        let long = "y".repeat(100);
        let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(long.as_bytes()));
        let stored = format!("bcrypt_sha256${}", bcrypt::hash(&digest, 4).unwrap());
        assert!(hasher.verify(&long, Some(&stored)).await.unwrap().valid);
        let other = format!("{long}z");
        assert!(!hasher.verify(&other, Some(&stored)).await.unwrap().valid);
    }

    /// Property test ("fuzzing") of the Django hash parser: any stored
    /// string verifies, fails or is refused as malformed (at login and at
    /// import), never panics;
    /// well-formed PBKDF2 hashes round-trip and match only their password.
    #[test]
    fn any_stored_string_verifies_or_is_refused() {
        use base64::{Engine as _, engine::general_purpose::STANDARD};
        use proptest::prelude::*;
        use proptest::test_runner::{Config, TestRunner};

        use super::{MAX_BCRYPT_COST, PBKDF2_OUTPUT_LEN, argon2_phc, check_importable, verify};

        let stored = prop_oneof![
            // Anything, and anything behind each known prefix.
            ".{0,80}",
            (
                prop::sample::select(vec![
                    "pbkdf2_sha256$",
                    "bcrypt$",
                    "bcrypt_sha256$",
                    "argon2$",
                    "argon2",
                    "$",
                ]),
                "[ -~]{0,80}",
            )
                .prop_map(|(prefix, rest)| format!("{prefix}{rest}")),
            // PBKDF2 shapes with few iterations (the ceiling is 10M).
            (
                prop_oneof![0u32..1000, Just(0), Just(u32::MAX)],
                "[ -#%-~]{0,20}",
                prop::collection::vec(any::<u8>(), 0..40),
            )
                .prop_map(|(n, salt, out)| format!(
                    "pbkdf2_sha256${n}${salt}${}",
                    STANDARD.encode(out)
                )),
            // bcrypt shapes with cheap or refused costs.
            (
                prop::sample::select(vec!["bcrypt$", "bcrypt_sha256$"]),
                prop::sample::select(vec!["2a", "2b", "2y", "2x", "3"]),
                prop_oneof![4u32..6, Just(MAX_BCRYPT_COST + 1), Just(99)],
                "[./A-Za-z0-9]{50,56}",
            )
                .prop_map(|(prefix, variant, cost, rest)| format!(
                    "{prefix}${variant}${cost:02}${rest}"
                )),
        ];
        let mut runner = TestRunner::new(Config {
            cases: 10_000,
            failure_persistence: None,
            ..Config::default()
        });
        runner
            .run(&(".{0,20}", stored), |(password, stored)| {
                let _ = argon2_phc(&stored);
                let _ = check_importable(&stored);
                if let Ok(true) = verify(&password, &stored) {
                    // Only a hash made from this password may match.
                    prop_assert!(!stored.starts_with("pbkdf2_sha256$"), "{stored}");
                }
                Ok(())
            })
            .unwrap();

        // Well-formed PBKDF2 hashes round-trip.
        let mut runner = TestRunner::new(Config {
            cases: 1_000,
            failure_persistence: None,
            ..Config::default()
        });
        runner
            .run(
                &(".{0,30}", ".{0,30}", "[A-Za-z0-9]{1,22}", 1u32..50),
                |(password, other, salt, n)| {
                    let mut out = [0u8; PBKDF2_OUTPUT_LEN];
                    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(
                        password.as_bytes(),
                        salt.as_bytes(),
                        n,
                        &mut out,
                    );
                    let stored = format!("pbkdf2_sha256${n}${salt}${}", STANDARD.encode(out));
                    prop_assert_eq!(verify(&password, &stored), Ok(true));
                    prop_assert_eq!(verify(&other, &stored), Ok(other == password));
                    Ok(())
                },
            )
            .unwrap();
    }
}
