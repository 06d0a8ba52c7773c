//! Signing keys shared by every instance through the store, rotated so that
//! a new key is published before it signs.
//!
//! The state is derived from the stored records alone, so every instance
//! reaches the same answer: the signing key is the newest unretired key
//! older than the activation delay (or, if none is, the oldest unretired
//! key); newer unretired keys are published and verify but do not sign yet;
//! older unretired keys were superseded and get retired; retired keys
//! verify for one access-token lifetime plus leeway.

use chrono::{DateTime, Utc};

use crate::audit::{AuthEvent, RequestMeta};
use crate::config::AuthConfig;
use crate::error::{AuthError, AuthResult};
use crate::store::{KeyRecord, Store};
use crate::token::{KeySet, SigningKey};

/// Loads the key set from the store, creating and persisting the first key
/// when there is none.
pub(crate) async fn load_or_create(
    store: &Store,
    config: &AuthConfig,
    now: DateTime<Utc>,
) -> AuthResult<KeySet> {
    if let Some(set) = load(store, config, now).await? {
        return Ok(set);
    }
    let key = SigningKey::generate(config.signing_algorithm)?;
    store.keys.add_signing_key(&key.to_record(now)).await?;
    load(store, config, now)
        .await?
        .ok_or_else(|| AuthError::internal_msg("no signing key after creating one"))
}

/// Builds the key set from the store and retires superseded keys there.
async fn load(
    store: &Store,
    config: &AuthConfig,
    now: DateTime<Utc>,
) -> AuthResult<Option<KeySet>> {
    let records = store.keys.signing_keys().await?;
    let Some(signer) = signer(&records, now, config) else {
        return Ok(None);
    };
    for old in records.iter().filter(|r| {
        r.retired_at.is_none() && (r.created_at, &r.kid) < (signer.created_at, &signer.kid)
    }) {
        store.keys.retire_signing_key(&old.kid, now).await?;
    }
    // Everything but the signer is presented to the key set as retired
    // (now, for unretired ones), so it verifies and is published.
    let view: Vec<KeyRecord> = records
        .iter()
        .map(|r| {
            let mut r = r.clone();
            if r.retired_at.is_none() && r.kid != signer.kid {
                r.retired_at = Some(now);
            }
            r
        })
        .collect();
    KeySet::from_records(&view, now, grace(config))
}

/// The unretired record that signs at `now`.
fn signer<'a>(
    records: &'a [KeyRecord],
    now: DateTime<Utc>,
    config: &AuthConfig,
) -> Option<&'a KeyRecord> {
    let active_before = now - config.key_activation_delay;
    let live = || records.iter().filter(|r| r.retired_at.is_none());
    live()
        .filter(|r| r.created_at <= active_before)
        .max_by(|a, b| (a.created_at, &a.kid).cmp(&(b.created_at, &b.kid)))
        .or_else(|| live().min_by(|a, b| (a.created_at, &a.kid).cmp(&(b.created_at, &b.kid))))
}

/// How long a retired key keeps verifying: the longest access-token life.
fn grace(config: &AuthConfig) -> chrono::Duration {
    config.access_token_ttl + config.token_leeway
}

crate::auth::feature_handle! {
    /// Signing keys: rotation, reload from the store, and the JWKS document.
    Keys, keys
}

impl Keys<'_> {
    /// The JWKS document with every published verification key.
    pub fn jwks(self) -> serde_json::Value {
        self.auth.inner.tokens.keys().jwks()
    }

    /// Generates and stores a new signing key. It is published (JWKS) at
    /// once and signs after `key_activation_delay`, by which time every
    /// instance's periodic [`Keys::reload`](crate::token::Keys::reload) knows it.
    /// A key is always stamped strictly after the previous one, so a second
    /// rotation within one second activates a second later. Returns the new
    /// `kid`.
    ///
    /// # Errors
    /// Store errors.
    pub async fn rotate(self, meta: &RequestMeta) -> AuthResult<String> {
        let key = SigningKey::generate(self.auth.inner.config.signing_algorithm)?;
        let kid = key.kid().to_owned();
        // Strictly newer than every stored key (stores keep whole seconds),
        // so every instance orders the keys the same way.
        let newest = self
            .auth
            .inner
            .store
            .keys
            .signing_keys()
            .await?
            .iter()
            .map(|r| r.created_at)
            .max();
        let created_at = match newest {
            Some(newest) if newest >= self.auth.now() - chrono::Duration::seconds(1) => {
                newest + chrono::Duration::seconds(1)
            }
            _ => self.auth.now(),
        };
        self.auth
            .inner
            .store
            .keys
            .add_signing_key(&key.to_record(created_at))
            .await?;
        self.auth.keys().reload().await?;
        self.auth
            .emit(AuthEvent::SigningKeyRotated { kid: kid.clone() }, meta)
            .await?;
        Ok(kid)
    }

    /// Re-reads the keys from the store: picks up keys other instances
    /// created, activates due keys, retires superseded ones and forgets
    /// keys past their grace. Call it periodically on every instance.
    ///
    /// # Errors
    /// Store errors, or `Internal` if no key exists.
    pub async fn reload(self) -> AuthResult<()> {
        let now = self.auth.now();
        let config = &self.auth.inner.config;
        let set = load(&self.auth.inner.store, config, now)
            .await?
            .ok_or_else(|| AuthError::internal_msg("no signing key in the store"))?;
        self.auth.inner.tokens.set_keys(set);
        self.auth
            .inner
            .store
            .keys
            .delete_retired_keys(now - grace(config) - chrono::Duration::days(1))
            .await?;
        Ok(())
    }
}
