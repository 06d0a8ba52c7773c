//! Signing keys shared by every instance through the store.

use chrono::{DateTime, Utc};

use crate::config::AuthConfig;
use crate::error::{AuthError, AuthResult};
use crate::store::Store;
use crate::token::{KeySet, SigningKey};

/// Loads the key set from the store, creating and persisting the first key
/// when there is none.
pub(super) async fn load_or_create(
    store: &Store,
    config: &AuthConfig,
    now: DateTime<Utc>,
) -> AuthResult<KeySet> {
    let grace = config.access_token_ttl + config.token_leeway;
    let records = store.keys.signing_keys().await?;
    if let Some(set) = KeySet::from_records(&records, now, grace)? {
        return Ok(set);
    }
    let key = SigningKey::generate(config.signing_algorithm)?;
    store.keys.add_signing_key(&key.to_record(now)).await?;
    let records = store.keys.signing_keys().await?;
    KeySet::from_records(&records, now, grace)?
        .ok_or_else(|| AuthError::internal("no signing key after creating one"))
}
