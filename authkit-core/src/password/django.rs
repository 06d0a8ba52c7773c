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
/// Highest bcrypt cost accepted (Django writes 12; each step doubles the work).
const MAX_BCRYPT_COST: u32 = 16;
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
        "bcrypt" => verify_bcrypt(password.as_bytes(), rest),
        // bcrypt of the lowercase hex SHA-256, which lifts bcrypt's 72-byte limit.
        "bcrypt_sha256" => {
            let digest = Zeroizing::new(hex::encode(Sha256::digest(password.as_bytes())));
            verify_bcrypt(digest.as_bytes(), rest)
        }
        _ => Err(unknown),
    }
}

/// `<iterations>$<salt>$<base64 PBKDF2-HMAC-SHA256 output>`.
fn verify_pbkdf2_sha256(password: &str, rest: &str) -> Result<bool, Malformed> {
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
    let mut computed = Zeroizing::new([0u8; PBKDF2_OUTPUT_LEN]);
    pbkdf2::pbkdf2_hmac::<Sha256>(
        password.as_bytes(),
        salt.as_bytes(),
        iterations,
        &mut computed[..],
    );
    Ok(computed.ct_eq(&expected[..]).into())
}

/// A modular-crypt bcrypt string (`$2b$12$...`), compared in constant time
/// by the `bcrypt` crate. bcrypt only reads the first 72 bytes.
fn verify_bcrypt(password: &[u8], hash: &str) -> Result<bool, Malformed> {
    let cost = hash
        .split('$')
        .nth(2)
        .and_then(|cost| cost.parse::<u32>().ok())
        .ok_or(Malformed("bcrypt hash without a cost"))?;
    if cost > MAX_BCRYPT_COST {
        return Err(Malformed("bcrypt cost above the accepted ceiling"));
    }
    bcrypt::verify(password, hash).map_err(|_| Malformed("invalid bcrypt hash"))
}

#[cfg(test)]
mod tests {
    use super::super::{HashParams, PasswordHasher, Verification};

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
        PasswordHasher::new(params, 2).unwrap()
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
}
