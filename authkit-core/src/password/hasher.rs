//! argon2id hashing and verification, run on the hash threads
//! ([`HashPool`]).

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordHasher as _, Version};
use subtle::ConstantTimeEq;
use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

use super::django::{ImportRefusal, MIN_IMPORTED_PBKDF2_ITERATIONS};
use super::pool::HashPool;
use super::{HashParams, HashQueue, Verification, django};
use crate::error::{AuthError, AuthResult};
use crate::telemetry;

/// Length of the argon2 output we store, in bytes.
const OUTPUT_LEN: usize = 32;
/// Most memory (KiB) a stored argon2 hash may ask for, unless the configured
/// amount is higher: a corrupt row must not make us allocate terabytes.
const MAX_STORED_MEMORY_KIB: u32 = 1 << 20;
/// Most iterations a stored argon2 hash may ask for, unless configured higher.
const MAX_STORED_ITERATIONS: u32 = 32;
/// Most lanes a stored argon2 hash may ask for, unless configured higher.
const MAX_STORED_PARALLELISM: u32 = 64;
/// What the dummy hash for unknown accounts is a hash of.
const DUMMY_PASSWORD: &str = "authkit: no such account";

/// Why a stored hash could not be checked. Logged, never shown to users.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Malformed(pub(super) &'static str);

/// NFKC form of a password, wiped from memory when dropped.
pub(super) fn normalize(password: &str) -> Zeroizing<String> {
    Zeroizing::new(password.nfkc().collect())
}

/// Hashes and verifies passwords off the async runtime.
///
/// New passwords are NFKC-normalized and stored as argon2id PHC strings with
/// the configured [`HashParams`]. [`verify`](Self::verify) also accepts
/// argon2 hashes with other parameters and Django's `pbkdf2_sha256`,
/// `argon2`, `bcrypt` and `bcrypt_sha256` formats, and says when the stored
/// hash should be replaced. A stored hash that cannot be parsed, or that asks
/// for absurd work (argon2 above 1 GiB / 32 passes / 64 lanes unless
/// configured higher, PBKDF2 above 10,000,000 iterations, bcrypt above cost
/// 16), verifies as invalid and is reported with `tracing::warn!`; it never
/// panics.
///
/// Hashes run on `max_concurrent` dedicated threads (pass the CPU count) at
/// a background scheduling priority; further calls wait for a free thread,
/// so a login flood neither starves the async runtime nor, since the kernel
/// runs request threads first, the requests that do no hashing. The wait is
/// bounded ([`HashQueue`]): beyond it calls fail at once with
/// `ServerBusy`, hashing nothing. Cheap to
/// clone: clones share the threads, which stop when the last clone drops.
#[derive(Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
}

struct Inner {
    params: HashParams,
    argon2: Argon2<'static>,
    pool: HashPool,
    max_concurrent: usize,
    /// argon2id hash with the configured parameters, verified against when
    /// the account does not exist so that costs the same.
    dummy: String,
}

/// Every hash thread, taken by [`PasswordHasher::hold_threads`] until
/// dropped (feature `testing`).
#[cfg(feature = "testing")]
#[derive(Debug)]
pub struct HeldThreads {
    _slots: tokio::sync::OwnedSemaphorePermit,
}

impl fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", &self.inner.params)
            .field("max_concurrent", &self.inner.max_concurrent)
            .finish_non_exhaustive()
    }
}

impl PasswordHasher {
    /// A hasher with `params`, running at most `max_concurrent` hashes at once.
    ///
    /// Computes the dummy hash for unknown accounts once, here. Fails with
    /// `Internal` when `max_concurrent` is 0 or argon2 rejects `params`;
    /// parameters below the OWASP floor are accepted with a warning.
    pub fn new(params: HashParams, max_concurrent: usize) -> AuthResult<Self> {
        Self::with_queue(params, max_concurrent, HashQueue::default())
    }

    /// Like [`new`](Self::new), with callers beyond `queue` refused with
    /// `ServerBusy` instead of waiting for a thread.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn with_queue(
        params: HashParams,
        max_concurrent: usize,
        queue: HashQueue,
    ) -> AuthResult<Self> {
        if max_concurrent == 0 {
            return Err(AuthError::internal_msg(
                "password hasher: max_concurrent must be at least 1",
            ));
        }
        let floor = HashParams::default();
        if params.memory_kib < floor.memory_kib || params.iterations < floor.iterations {
            tracing::warn!(
                memory_kib = params.memory_kib,
                iterations = params.iterations,
                "argon2id parameters are below the OWASP floor (m=19456 KiB, t=2)"
            );
        }
        let argon2_params = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            Some(OUTPUT_LEN),
        )
        .map_err(|err| AuthError::internal_with("invalid argon2 parameters", err))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, argon2_params);
        let dummy = argon2
            .hash_password(DUMMY_PASSWORD.as_bytes())
            .map_err(AuthError::internal)?
            .to_string();
        let max_concurrent = max_concurrent.min(tokio::sync::Semaphore::MAX_PERMITS);
        Ok(Self {
            inner: Arc::new(Inner {
                params,
                argon2,
                pool: HashPool::start(max_concurrent, queue)?,
                max_concurrent,
                dummy,
            }),
        })
    }

    /// A hasher with the OWASP defaults, running as many hashes at once as
    /// the machine has CPUs.
    pub fn with_defaults() -> AuthResult<Self> {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        Self::new(HashParams::default(), cpus)
    }

    /// The parameters new hashes are made with.
    pub fn params(&self) -> HashParams {
        self.inner.params
    }

    /// How many hashes may run at once.
    pub fn max_concurrent(&self) -> usize {
        self.inner.max_concurrent
    }

    /// Hashes a new password (NFKC-normalized) to an argon2id PHC string.
    /// Waits for a thread as the whole line allows; for a request, use
    /// [`hash_for_client`](Self::hash_for_client).
    pub async fn hash(&self, password: &str) -> AuthResult<String> {
        self.hash_from(None, password).await
    }

    /// Like [`hash`](Self::hash), for a request from `client` (its per-IP key,
    /// [`IpPrefixes::key`](crate::rate_limit::IpPrefixes::key)), which waits for a thread only
    /// within its share of the line ([`HashQueue::max_per_client`]).
    pub async fn hash_for_client(&self, client: &str, password: &str) -> AuthResult<String> {
        self.hash_from(Some(client), password).await
    }

    async fn hash_from(&self, client: Option<&str>, password: &str) -> AuthResult<String> {
        let password = normalize(password);
        let inner = Arc::clone(&self.inner);
        self.run(client, "hash", move || {
            inner
                .argon2
                .hash_password(password.as_bytes())
                .map(|hash| hash.to_string())
                .map_err(AuthError::internal)
        })
        .await?
    }

    /// Verifies `password` against `stored`; with `None` verifies against a
    /// dummy hash so unknown accounts cost the same, and is always invalid.
    ///
    /// argon2 hashes are checked against the NFKC form of the password,
    /// Django hashes against the password as typed (Django does not
    /// normalize). Errors only when the blocking pool fails; a wrong
    /// password or a malformed stored hash is `valid: false`. Waits for a
    /// thread as the whole line allows; for a request, use
    /// [`verify_for_client`](Self::verify_for_client).
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> AuthResult<Verification> {
        self.verify_from(None, password, stored).await
    }

    /// Like [`verify`](Self::verify), for a request from `client` (its per-IP key,
    /// [`IpPrefixes::key`](crate::rate_limit::IpPrefixes::key)), which waits for a thread only
    /// within its share of the line ([`HashQueue::max_per_client`]).
    pub async fn verify_for_client(
        &self,
        client: &str,
        password: &str,
        stored: Option<&str>,
    ) -> AuthResult<Verification> {
        self.verify_from(Some(client), password, stored).await
    }

    async fn verify_from(
        &self,
        client: Option<&str>,
        password: &str,
        stored: Option<&str>,
    ) -> AuthResult<Verification> {
        let password = Zeroizing::new(password.to_owned());
        let stored = stored.map(str::to_owned);
        let inner = Arc::clone(&self.inner);
        self.run(client, "verify", move || match stored {
            Some(stored) => inner.check(&password, &stored),
            None => {
                inner.check(&password, &inner.dummy);
                Verification::INVALID
            }
        })
        .await
    }

    /// Takes every hash thread until the returned guard is dropped, so
    /// that hashes meanwhile wait in line and are shed past its bounds as
    /// if the threads were busy. For tests of load shedding (feature
    /// `testing`); never call it in production code.
    ///
    /// # Errors
    /// `Internal` if the pool is closed.
    #[cfg(feature = "testing")]
    pub async fn hold_threads(&self) -> AuthResult<HeldThreads> {
        let _slots = self.inner.pool.hold_all().await?;
        Ok(HeldThreads { _slots })
    }

    /// Checks a hash brought over from another system (a Django user table)
    /// before it is stored: it must be a format [`verify`](Self::verify)
    /// accepts, with sane parameters, and an imported `pbkdf2_sha256` hash
    /// needs at least 10,000 iterations (Django's own minimum since 1.4).
    /// Costs no hashing.
    ///
    /// # Errors
    /// `Validation` on the field `password_hash`: `password_hash_invalid`
    /// for an unknown or corrupt format, `password_hash_too_weak` for
    /// PBKDF2 below the floor.
    pub fn check_imported(&self, stored: &str) -> AuthResult<()> {
        let invalid = |reason: &str| {
            AuthError::invalid_field(
                "password_hash",
                "password_hash_invalid",
                format!("The password hash cannot be imported: {reason}."),
            )
        };
        let phc = if stored.starts_with('$') {
            Some(stored)
        } else {
            django::argon2_phc(stored)
        };
        if let Some(phc) = phc {
            return self
                .inner
                .argon2_params(phc)
                .map(drop)
                .map_err(|Malformed(reason)| invalid(reason));
        }
        django::check_importable(stored).map_err(|refusal| match refusal {
            ImportRefusal::Malformed(Malformed(reason)) => invalid(reason),
            ImportRefusal::TooFewIterations(iterations) => AuthError::invalid_field(
                "password_hash",
                "password_hash_too_weak",
                format!(
                    "The PBKDF2 hash has {iterations} iterations; at least \
                     {MIN_IMPORTED_PBKDF2_ITERATIONS} are needed. Ask this user to reset \
                     their password instead."
                ),
            ),
        })
    }

    /// Runs `job` on the hash threads once one is free, waiting in
    /// `client`'s share of the line; the run counts in the `op`
    /// hash-duration histogram.
    async fn run<T: Send + 'static>(
        &self,
        client: Option<&str>,
        op: &'static str,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> AuthResult<T> {
        self.inner
            .pool
            .run(client, move || {
                let started = Instant::now();
                let outcome = job();
                telemetry::hash_duration(op, started);
                outcome
            })
            .await
    }
}

impl Inner {
    /// Verifies `password` against any supported stored format; a malformed
    /// hash is logged and fails.
    fn check(&self, password: &str, stored: &str) -> Verification {
        self.try_check(password, stored)
            .unwrap_or_else(|Malformed(reason)| {
                tracing::warn!(
                    reason,
                    "stored password hash is malformed; verification fails"
                );
                Verification::INVALID
            })
    }

    fn try_check(&self, password: &str, stored: &str) -> Result<Verification, Malformed> {
        if stored.starts_with('$') {
            let normalized = normalize(password);
            let (valid, current) = self.verify_argon2(normalized.as_bytes(), stored)?;
            return Ok(Verification::new(valid, current));
        }
        let valid = match django::argon2_phc(stored) {
            Some(phc) => self.verify_argon2(password.as_bytes(), phc)?.0,
            None => django::verify(password, stored)?,
        };
        Ok(Verification::new(valid, false))
    }

    /// Checks `password` against an argon2 PHC string. Returns whether it
    /// matched and whether the hash is argon2id v19 with the configured
    /// parameters.
    fn verify_argon2(&self, password: &[u8], phc: &str) -> Result<(bool, bool), Malformed> {
        let (hash, algorithm, version, params) = self.argon2_params(phc)?;
        let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
            return Err(Malformed("PHC string without salt or hash"));
        };
        let current = algorithm == Algorithm::Argon2id
            && version == Version::V0x13
            && &params == self.argon2.params();
        let mut computed = Zeroizing::new(vec![0u8; expected.len()]);
        Argon2::new(algorithm, version, params)
            .hash_password_into(password, salt.as_ref(), &mut computed)
            .map_err(|_| Malformed("argon2 rejected the stored salt or parameters"))?;
        let valid = bool::from(computed.ct_eq(expected.as_bytes()));
        Ok((valid, current))
    }

    /// Parses an argon2 PHC string and checks its parameters against the
    /// ceilings.
    fn argon2_params(
        &self,
        phc: &str,
    ) -> Result<(PasswordHash, Algorithm, Version, Params), Malformed> {
        let hash = PasswordHash::new(phc).map_err(|_| Malformed("not a PHC string"))?;
        let algorithm = Algorithm::new(hash.algorithm.as_str())
            .map_err(|_| Malformed("not an argon2 algorithm"))?;
        // A PHC string without `v=` is argon2 version 1.0.
        let version = match hash.version {
            Some(version) => {
                Version::try_from(version).map_err(|_| Malformed("unknown argon2 version"))?
            }
            None => Version::V0x10,
        };
        let params = Params::try_from(&hash).map_err(|_| Malformed("invalid argon2 parameters"))?;
        if params.m_cost() > MAX_STORED_MEMORY_KIB.max(self.params.memory_kib)
            || params.t_cost() > MAX_STORED_ITERATIONS.max(self.params.iterations)
            || params.p_cost() > MAX_STORED_PARALLELISM.max(self.params.parallelism)
        {
            return Err(Malformed("argon2 parameters above the accepted ceiling"));
        }
        if hash.salt.is_none() || hash.hash.is_none() {
            return Err(Malformed("PHC string without salt or hash"));
        }
        Ok((hash, algorithm, version, params))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Cheap parameters so tests run fast; only the floor test uses defaults.
    fn cheap() -> HashParams {
        HashParams {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        }
    }

    fn hasher() -> PasswordHasher {
        PasswordHasher::with_queue(cheap(), 4, HashQueue::PATIENT).unwrap()
    }

    fn valid(v: Verification) -> bool {
        assert!(!v.needs_rehash || v.valid, "needs_rehash without valid");
        v.valid
    }

    #[tokio::test]
    async fn default_hash_is_argon2id_phc_meeting_the_owasp_floor() {
        let hasher = PasswordHasher::with_defaults().unwrap();
        assert_eq!(hasher.params(), HashParams::default());
        let stored = hasher.hash("correct horse battery staple").await.unwrap();
        let phc = PasswordHash::new(&stored).unwrap();
        assert_eq!(phc.algorithm.as_str(), "argon2id");
        assert_eq!(phc.version, Some(0x13));
        let params = Params::try_from(&phc).unwrap();
        assert!(params.m_cost() >= 19_456, "{stored}");
        assert!(params.t_cost() >= 2, "{stored}");
        assert!(params.p_cost() >= 1, "{stored}");
        assert!(phc.salt.unwrap().len() >= 16);
        assert_eq!(phc.hash.unwrap().len(), OUTPUT_LEN);
        let ok = hasher
            .verify("correct horse battery staple", Some(&stored))
            .await
            .unwrap();
        assert_eq!(
            ok,
            Verification {
                valid: true,
                needs_rehash: false
            }
        );
    }

    #[tokio::test]
    async fn right_password_verifies_wrong_does_not() {
        let hasher = hasher();
        let stored = hasher.hash("hunter2-but-longer").await.unwrap();
        assert_ne!(stored, hasher.hash("hunter2-but-longer").await.unwrap());
        let ok = hasher
            .verify("hunter2-but-longer", Some(&stored))
            .await
            .unwrap();
        assert!(valid(ok));
        assert!(!ok.needs_rehash);
        for wrong in ["hunter2-but-longe", "hunter2-but-longer ", "", "x"] {
            let v = hasher.verify(wrong, Some(&stored)).await.unwrap();
            assert_eq!(v, Verification::INVALID, "{wrong:?}");
        }
    }

    #[tokio::test]
    async fn long_passwords_differing_at_char_90_do_not_cross_verify() {
        let hasher = hasher();
        let base: String = "abcdefghij".repeat(12);
        let mut a: Vec<char> = base.chars().collect();
        let mut b = a.clone();
        a[89] = 'X';
        b[89] = 'Y';
        let (a, b): (String, String) = (a.into_iter().collect(), b.into_iter().collect());
        assert_eq!(a.chars().count(), 120);
        let stored_a = hasher.hash(&a).await.unwrap();
        let stored_b = hasher.hash(&b).await.unwrap();
        assert!(valid(hasher.verify(&a, Some(&stored_a)).await.unwrap()));
        assert!(valid(hasher.verify(&b, Some(&stored_b)).await.unwrap()));
        assert!(!valid(hasher.verify(&a, Some(&stored_b)).await.unwrap()));
        assert!(!valid(hasher.verify(&b, Some(&stored_a)).await.unwrap()));
    }

    #[tokio::test]
    async fn emoji_password_round_trips() {
        let hasher = hasher();
        let password = "🔑🦀🎉 p\u{e4}ss 👩‍👩‍👧";
        let stored = hasher.hash(password).await.unwrap();
        assert!(valid(hasher.verify(password, Some(&stored)).await.unwrap()));
        assert!(!valid(
            hasher
                .verify("🔑🦀🎉 p\u{e4}ss 👩‍👩", Some(&stored))
                .await
                .unwrap()
        ));
    }

    #[tokio::test]
    async fn compatibility_characters_verify_against_their_nfkc_form() {
        let hasher = hasher();
        // U+FB01 LATIN SMALL LIGATURE FI and full-width digits.
        let stored = hasher.hash("fine-1234").await.unwrap();
        for typed in ["\u{fb01}ne-1234", "fine-\u{ff11}\u{ff12}\u{ff13}\u{ff14}"] {
            assert!(
                valid(hasher.verify(typed, Some(&stored)).await.unwrap()),
                "{typed}"
            );
        }
        // Composed and decomposed accents are one password too.
        let stored = hasher.hash("caf\u{e9}-latte").await.unwrap();
        let decomposed = "cafe\u{301}-latte";
        assert!(valid(
            hasher.verify(decomposed, Some(&stored)).await.unwrap()
        ));
        // Hashing the compatibility form stores the normalized one.
        let stored = hasher.hash("\u{fb01}ne-1234").await.unwrap();
        assert!(valid(
            hasher.verify("fine-1234", Some(&stored)).await.unwrap()
        ));
    }

    #[tokio::test]
    async fn no_case_folding() {
        let hasher = hasher();
        let stored = hasher.hash("Password1").await.unwrap();
        assert!(valid(
            hasher.verify("Password1", Some(&stored)).await.unwrap()
        ));
        assert!(!valid(
            hasher.verify("password1", Some(&stored)).await.unwrap()
        ));
        assert!(!valid(
            hasher.verify("PASSWORD1", Some(&stored)).await.unwrap()
        ));
    }

    #[tokio::test]
    async fn changed_params_ask_for_a_rehash() {
        let old = hasher();
        let stored = old.hash("migrate me please").await.unwrap();
        let stronger = PasswordHasher::with_queue(
            HashParams {
                memory_kib: 2048,
                ..cheap()
            },
            2,
            HashQueue::PATIENT,
        )
        .unwrap();
        let v = stronger
            .verify("migrate me please", Some(&stored))
            .await
            .unwrap();
        assert_eq!(
            v,
            Verification {
                valid: true,
                needs_rehash: true
            }
        );
        // A wrong password never asks for a rehash.
        let v = stronger.verify("wrong", Some(&stored)).await.unwrap();
        assert_eq!(v, Verification::INVALID);
        // The fresh hash is current.
        let fresh = stronger.hash("migrate me please").await.unwrap();
        let v = stronger
            .verify("migrate me please", Some(&fresh))
            .await
            .unwrap();
        assert!(v.valid && !v.needs_rehash);
    }

    #[tokio::test]
    async fn other_argon2_variants_verify_and_ask_for_a_rehash() {
        let hasher = hasher();
        let params = Params::new(1024, 1, 1, Some(OUTPUT_LEN)).unwrap();
        for (algorithm, version) in [
            (Algorithm::Argon2i, Version::V0x13),
            (Algorithm::Argon2d, Version::V0x13),
            (Algorithm::Argon2id, Version::V0x10),
        ] {
            let stored = Argon2::new(algorithm, version, params.clone())
                .hash_password(b"variant password")
                .unwrap()
                .to_string();
            let v = hasher
                .verify("variant password", Some(&stored))
                .await
                .unwrap();
            assert_eq!(
                v,
                Verification {
                    valid: true,
                    needs_rehash: true
                },
                "{stored}"
            );
            let v = hasher.verify("variant", Some(&stored)).await.unwrap();
            assert_eq!(v, Verification::INVALID, "{stored}");
        }
    }

    #[tokio::test]
    async fn unknown_account_verifies_the_dummy_and_fails() {
        let hasher = hasher();
        let dummy = PasswordHash::new(&hasher.inner.dummy).unwrap();
        assert_eq!(dummy.algorithm.as_str(), "argon2id");
        assert_eq!(
            Params::try_from(&dummy).unwrap(),
            *hasher.inner.argon2.params()
        );
        for password in ["", DUMMY_PASSWORD, "anything"] {
            let v = hasher.verify(password, None).await.unwrap();
            assert_eq!(v, Verification::INVALID);
        }
    }

    #[tokio::test]
    async fn malformed_stored_hashes_are_invalid() {
        let hasher = hasher();
        let good = hasher.hash("pw").await.unwrap();
        let salt_and_hash = good.rsplitn(3, '$').collect::<Vec<_>>();
        let (hash, salt) = (salt_and_hash[0], salt_and_hash[1]);
        let cases = [
            String::new(),
            "$".into(),
            "$$$$".into(),
            "garbage".into(),
            "pw".into(),
            "\u{0}\u{ffff}🔑".into(),
            "$argon2id".into(),
            "$argon2id$v=19".into(),
            "$argon2id$v=19$m=1024,t=1,p=1".into(),
            format!("$argon2id$v=19$m=1024,t=1,p=1${salt}"),
            format!("$argon2id$v=19$m=1024,t=1,p=1${salt}${hash}$extra"),
            format!("$argon2id$v=99$m=1024,t=1,p=1${salt}${hash}"),
            format!("$argon2x$v=19$m=1024,t=1,p=1${salt}${hash}"),
            format!("$scrypt$v=19$m=1024,t=1,p=1${salt}${hash}"),
            format!("$argon2id$v=19$m=4294967295,t=1,p=1${salt}${hash}"),
            format!("$argon2id$v=19$m=1024,t=4294967295,p=1${salt}${hash}"),
            format!("$argon2id$v=19$m=1024,t=1,p=16777215${salt}${hash}"),
            format!("$argon2id$v=19$m=1024,t=0,p=1${salt}${hash}"),
            format!("$argon2id$v=19$m=1,t=1,p=1${salt}${hash}"),
            format!("$argon2id$v=19$m=-1,t=1,p=1${salt}${hash}"),
            format!("$argon2id$v=19$m=1024,t=1,p=1,q=3${salt}${hash}"),
            format!("$argon2id$v=19$m=1024,t=1,p=1$!!!!${hash}"),
            format!("$argon2id$v=19$m=1024,t=1,p=1$c2FsdA${hash}"),
            format!("$argon2id$v=19$m=1024,t=1,p=1${salt}$not*base64"),
            format!("{good}A"),
            good[..good.len() - 1].to_string(),
            format!("argon2{good}x"),
            "argon2".into(),
            "argon2$".into(),
            "argon2xyz".into(),
            "md5$salt$abc".into(),
            "unsalted_md5$$5f4dcc3b5aa765d61d8327deb882cf99".into(),
            "pbkdf2_sha256".into(),
            "pbkdf2_sha256$".into(),
            "pbkdf2_sha256$abc$salt$hash".into(),
            "pbkdf2_sha256$0$salt$q5q3+b7bOmrwBN4LTZ10QESW+c2H6rqW5ox1K+3ZQqI=".into(),
            "pbkdf2_sha256$-5$salt$q5q3+b7bOmrwBN4LTZ10QESW+c2H6rqW5ox1K+3ZQqI=".into(),
            "pbkdf2_sha256$10000001$salt$q5q3+b7bOmrwBN4LTZ10QESW+c2H6rqW5ox1K+3ZQqI=".into(),
            "pbkdf2_sha256$99999999999999999999$s$q5q3+b7bOmrwBN4LTZ10QESW+c2H6rqW5ox1K+3ZQqI="
                .into(),
            "pbkdf2_sha256$1$$q5q3+b7bOmrwBN4LTZ10QESW+c2H6rqW5ox1K+3ZQqI=".into(),
            "pbkdf2_sha256$1$salt$not base64!".into(),
            "pbkdf2_sha256$1$salt$c2hvcnQ=".into(),
            "pbkdf2_sha256$1$salt$hash$extra".into(),
            "bcrypt$".into(),
            "bcrypt$$2b$12$short".into(),
            "bcrypt$$2b$99$qAp2ewjYuQKeWmteLsbY7.deHCriXOa/xxZTf/f5BaNtrDprKp3qK".into(),
            "bcrypt$$2b$31$qAp2ewjYuQKeWmteLsbY7.deHCriXOa/xxZTf/f5BaNtrDprKp3qK".into(),
            "bcrypt$$2b$03$qAp2ewjYuQKeWmteLsbY7.deHCriXOa/xxZTf/f5BaNtrDprKp3qK".into(),
            "bcrypt$$9z$12$qAp2ewjYuQKeWmteLsbY7.deHCriXOa/xxZTf/f5BaNtrDprKp3qK".into(),
            "bcrypt$$2b$12$qAp2ewjYuQKeWmteLsbY7.deHCriXOa/xxZTf/f5BaNtrDprKp3qé".into(),
            "bcrypt_sha256$$2b$12$".into(),
            "$".repeat(10_000),
            "a".repeat(1_000_000),
        ];
        for stored in &cases {
            let v = hasher.verify("pw", Some(stored)).await.unwrap();
            assert_eq!(v, Verification::INVALID, "{stored:?}");
        }
        // The intact hash still verifies: the cases above fail on their own.
        assert!(valid(hasher.verify("pw", Some(&good)).await.unwrap()));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn at_most_max_concurrent_jobs_run_at_once() {
        for limit in [1, 3] {
            let hasher = PasswordHasher::with_queue(cheap(), limit, HashQueue::PATIENT).unwrap();
            assert_eq!(hasher.max_concurrent(), limit);
            let running = Arc::new(AtomicUsize::new(0));
            let peak = Arc::new(AtomicUsize::new(0));
            let tasks: Vec<_> = (0..12)
                .map(|_| {
                    let (hasher, running, peak) =
                        (hasher.clone(), Arc::clone(&running), Arc::clone(&peak));
                    tokio::spawn(async move {
                        hasher
                            .run(None, "hash", move || {
                                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                                peak.fetch_max(now, Ordering::SeqCst);
                                // Real work, to give the jobs a chance to overlap.
                                let _ = Argon2::default().hash_password(b"overlap");
                                running.fetch_sub(1, Ordering::SeqCst);
                            })
                            .await
                            .unwrap();
                    })
                })
                .collect();
            for task in tasks {
                task.await.unwrap();
            }
            let peak = peak.load(Ordering::SeqCst);
            assert!(
                (1..=limit).contains(&peak),
                "peak {peak} with limit {limit}"
            );
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_hashes_all_complete_with_one_slot() {
        let hasher = PasswordHasher::with_queue(cheap(), 1, HashQueue::PATIENT).unwrap();
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let hasher = hasher.clone();
                tokio::spawn(async move {
                    let password = format!("password number {i}");
                    let stored = hasher.hash(&password).await.unwrap();
                    hasher.verify(&password, Some(&stored)).await.unwrap()
                })
            })
            .collect();
        for task in tasks {
            assert!(valid(task.await.unwrap()));
        }
    }

    #[test]
    fn zero_slots_and_invalid_params_are_rejected() {
        assert!(matches!(
            PasswordHasher::new(cheap(), 0),
            Err(AuthError::Internal(_))
        ));
        for params in [
            HashParams {
                memory_kib: 0,
                ..cheap()
            },
            HashParams {
                iterations: 0,
                ..cheap()
            },
            HashParams {
                parallelism: 0,
                ..cheap()
            },
        ] {
            assert!(
                matches!(PasswordHasher::new(params, 1), Err(AuthError::Internal(_))),
                "{params:?}"
            );
        }
    }

    #[test]
    fn debug_shows_config_only() {
        let shown = format!("{:?}", hasher());
        assert!(shown.contains("max_concurrent: 4"), "{shown}");
        assert!(!shown.contains("$argon2id"), "{shown}");
    }
}
