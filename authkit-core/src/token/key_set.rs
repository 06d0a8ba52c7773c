//! The key set: one current signing key plus retired keys that still
//! verify, rotation, pruning and the JWKS document.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::SigningKey;
use crate::error::{AuthError, AuthResult};
use crate::store::KeyRecord;

/// The current signing key plus retired keys still accepted for
/// verification, so keys rotate without logging anyone out.
///
/// A set is immutable once shared: to rotate, clone it, call
/// [`rotate`](Self::rotate) and hand the result to
/// [`AccessTokens::set_keys`](super::AccessTokens::set_keys).
#[derive(Clone, Debug)]
pub struct KeySet {
    current: SigningKey,
    /// Retired keys with the time they stopped signing, newest last.
    retired: Vec<(SigningKey, DateTime<Utc>)>,
    /// Every key of the set by `kid`, for verification.
    by_kid: HashMap<String, SigningKey>,
}

impl KeySet {
    /// A set with one current key and nothing retired.
    pub fn new(current: SigningKey) -> Self {
        let by_kid = HashMap::from([(current.kid().to_owned(), current.clone())]);
        Self {
            current,
            retired: Vec::new(),
            by_kid,
        }
    }

    /// Builds the set from stored records.
    ///
    /// The newest (by `created_at`, then `kid`, so every instance picks the
    /// same one) unretired record signs. Records retired at or after
    /// `now - grace` still verify; older ones are dropped. Other unretired
    /// records (a key another instance created concurrently) also verify
    /// and count as retired at `now`. `None` when no record is unretired.
    /// A kept record that does not parse, or two records with one `kid`,
    /// give [`AuthError::Internal`].
    pub fn from_records(
        records: &[KeyRecord],
        now: DateTime<Utc>,
        grace: Duration,
    ) -> AuthResult<Option<Self>> {
        let Some(newest) = records
            .iter()
            .filter(|r| r.retired_at.is_none())
            .max_by(|a, b| (a.created_at, &a.kid).cmp(&(b.created_at, &b.kid)))
        else {
            return Ok(None);
        };
        let mut set = Self::new(SigningKey::from_record(newest)?);
        let cutoff = grace_cutoff(now, grace);
        let mut kept: Vec<(&KeyRecord, DateTime<Utc>)> = records
            .iter()
            .filter(|r| !std::ptr::eq(*r, newest))
            .filter_map(|r| match r.retired_at {
                None => Some((r, now)),
                Some(at) if at >= cutoff => Some((r, at)),
                Some(_) => None,
            })
            .collect();
        kept.sort_by_key(|&(_, at)| at);
        for (record, retired_at) in kept {
            set.insert_retired(SigningKey::from_record(record)?, retired_at)?;
        }
        Ok(Some(set))
    }

    /// The key that signs new tokens.
    pub fn current(&self) -> &SigningKey {
        &self.current
    }

    /// The retired keys that still verify, with when each stopped signing.
    pub fn retired(&self) -> &[(SigningKey, DateTime<Utc>)] {
        &self.retired
    }

    /// The key (current or retired) with this `kid`.
    pub fn get(&self, kid: &str) -> Option<&SigningKey> {
        self.by_kid.get(kid)
    }

    /// Makes `new_key` the signing key; the old current key is retired at
    /// `now` and keeps verifying until [`prune`](Self::prune) drops it.
    ///
    /// The new key is in [`Keys::jwks`](crate::token::Keys::jwks) from this moment. With several
    /// instances, persist the new key (and let the other instances load it)
    /// before it signs, so no instance receives a token whose key it does
    /// not know yet. Fails if the set already holds the new key's `kid`.
    pub fn rotate(&mut self, new_key: SigningKey, now: DateTime<Utc>) -> AuthResult<()> {
        if self.by_kid.contains_key(new_key.kid()) {
            return Err(AuthError::internal_msg(format!(
                "key set already holds kid {}",
                new_key.kid()
            )));
        }
        self.by_kid
            .insert(new_key.kid().to_owned(), new_key.clone());
        let old = std::mem::replace(&mut self.current, new_key);
        self.retired.push((old, now));
        Ok(())
    }

    /// Drops retired keys that stopped signing before `now - grace`; tokens
    /// they signed stop verifying. Returns how many were dropped.
    ///
    /// Choose `grace` at least as long as the access token lifetime.
    pub fn prune(&mut self, now: DateTime<Utc>, grace: Duration) -> usize {
        let cutoff = grace_cutoff(now, grace);
        let before = self.retired.len();
        let by_kid = &mut self.by_kid;
        self.retired.retain(|(key, at)| {
            let keep = *at >= cutoff;
            if !keep {
                by_kid.remove(key.kid());
            }
            keep
        });
        before - self.retired.len()
    }

    /// The JWKS document, `{"keys": [...]}`: the public JWK of the current
    /// and every retired asymmetric key. HS256 keys are never published.
    pub fn jwks(&self) -> Value {
        let keys: Vec<Value> = std::iter::once(&self.current)
            .chain(self.retired.iter().map(|(key, _)| key))
            .filter_map(SigningKey::public_jwk)
            .collect();
        json!({ "keys": keys })
    }

    fn insert_retired(&mut self, key: SigningKey, retired_at: DateTime<Utc>) -> AuthResult<()> {
        if self.by_kid.contains_key(key.kid()) {
            return Err(AuthError::internal_msg(format!(
                "two stored signing keys share kid {}",
                key.kid()
            )));
        }
        self.by_kid.insert(key.kid().to_owned(), key.clone());
        self.retired.push((key, retired_at));
        Ok(())
    }
}

/// `now - grace`, saturating instead of overflowing on absurd durations.
fn grace_cutoff(now: DateTime<Utc>, grace: Duration) -> DateTime<Utc> {
    now.checked_sub_signed(grace)
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}
