//! Passwords: argon2id hashing on a bounded blocking pool, verification of
//! imported Django hashes, and the password policy.
//!
//! - [`PasswordHasher`] stores new passwords as argon2id PHC strings (OWASP
//!   parameters by default) after NFKC normalization, and verifies both its
//!   own hashes and the formats Django writes (`pbkdf2_sha256`, `argon2`,
//!   `bcrypt`, `bcrypt_sha256`), flagging anything that is not current for
//!   re-hashing. All hashing runs on a few dedicated threads at background
//!   priority, so a login flood queues instead of starving the runtime or
//!   slowing the requests that do no hashing.
//! - [`PasswordPolicy`] mirrors Django's validators (length, common,
//!   numeric, similarity to the user's own data) and reports every failed
//!   rule with its own code.
//!
//! The common-password list (`common-passwords.txt`, 20,321 entries) is the
//! union of the lists shipped with Django 4.1 and 5.2 (compiled by Royce
//! Williams; BSD licence, Django Software Foundation and contributors),
//! lower-cased and deduplicated.

mod django;
mod hasher;
mod policy;
mod pool;
mod similarity;

#[cfg(feature = "testing")]
pub use hasher::HeldThreads;
pub use hasher::PasswordHasher;
pub use policy::PasswordPolicy;

/// How long the wait for a hash thread may get before callers are shed
/// with `ServerBusy` (503 `server_busy`, `Retry-After`) instead of queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashQueue {
    /// Callers that may wait for a busy thread at once; the next one is
    /// refused at once. 0: nobody waits.
    pub max_waiting: usize,
    /// Callers from one client (its per-IP key,
    /// [`IpPrefixes::key`](crate::rate_limit::IpPrefixes::key)) that may
    /// wait at once; the
    /// next one from it is refused at once, while callers from other
    /// clients still get a place. Calls not made for a request
    /// ([`PasswordHasher::hash`], [`PasswordHasher::verify`]) are held
    /// only to `max_waiting`.
    pub max_per_client: usize,
    /// Longest wait for a thread; a caller still waiting then is refused.
    pub max_wait: std::time::Duration,
}

#[cfg(test)]
impl HashQueue {
    /// Waits long and many: for tests whose jobs are slow on a loaded
    /// machine and are not about shedding.
    pub(crate) const PATIENT: Self = Self {
        max_waiting: 10_000,
        max_per_client: 10_000,
        max_wait: std::time::Duration::from_secs(3600),
    };
}

impl Default for HashQueue {
    /// 64 waiting callers (under a second of argon2id work on two cores
    /// with the OWASP parameters), at most 4 of them from one client (a
    /// 16th of the line: a flood from up to 15 sources still leaves
    /// places), none for longer than 5 s (a bound for when hashing itself
    /// slows down, e.g. on a starved machine).
    fn default() -> Self {
        Self {
            max_waiting: 64,
            max_per_client: 4,
            max_wait: std::time::Duration::from_secs(5),
        }
    }
}

/// argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    /// Memory in KiB (OWASP: 19456).
    pub memory_kib: u32,
    /// Iterations (OWASP: 2).
    pub iterations: u32,
    /// Lanes (OWASP: 1).
    pub parallelism: u32,
}

impl Default for HashParams {
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// Outcome of a password verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verification {
    /// The password matched.
    pub valid: bool,
    /// The stored hash is legacy or uses other parameters: store a new one.
    /// Only ever set together with `valid`, since re-hashing needs the
    /// correct password.
    pub needs_rehash: bool,
}

impl Verification {
    /// A failed verification.
    const INVALID: Self = Self {
        valid: false,
        needs_rehash: false,
    };

    /// A verification of `valid`, asking for a re-hash when the password
    /// matched a hash that is not in the current format.
    fn new(valid: bool, current: bool) -> Self {
        Self {
            valid,
            needs_rehash: valid && !current,
        }
    }
}
