//! [`IdentityStore`](authkit_core::store::IdentityStore), implemented once
//! for every backend with the same inherent items as [`crate::sql_store`].
//!
//! Linking is one transaction that locks the account's row, checks both
//! unique keys and inserts; two accounts racing for one (provider,
//! subject) meet at the primary key, and the loser's transaction reruns
//! and sees the winner. Unlinking locks the account's row too, so
//! "keep the last identity" holds under concurrent unlinks.

/// Implements `IdentityStore` for `$store` (reads through `self.pool`,
/// writes through `self.writer()`) on database `$db`.
macro_rules! impl_identity_store {
    ($store:ty, $db:ty) => {
        const _: () = {
            use async_trait::async_trait;
            use authkit_core::error::AuthResult;
            use authkit_core::store::{Identity, IdentityStore, LinkOutcome, UnlinkOutcome};
            use sqlx::Row as _;
            use uuid::Uuid;

            use $crate::error::{rerunning_on_conflict, retrying, to_auth};

            type DbRow = <$db as sqlx::Database>::Row;
            type Tx = sqlx::Transaction<'static, $db>;

            fn identity_from_row(row: &DbRow) -> Result<Identity, sqlx::Error> {
                Ok(Identity {
                    provider: row.try_get("provider")?,
                    subject: row.try_get("subject")?,
                    user_id: row.try_get("user_id")?,
                    email: row.try_get("email")?,
                    email_verified: row.try_get("email_verified")?,
                    linked_at: row.try_get("linked_at")?,
                })
            }

            impl $store {
                async fn link_identity_once(
                    &self,
                    identity: &Identity,
                ) -> Result<LinkOutcome, sqlx::Error> {
                    let mut tx: Tx = self.begin().await?;
                    sqlx::query(Self::locked("SELECT id FROM authkit_users WHERE id = ?"))
                        .bind(identity.user_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                    let owner: Option<Uuid> = sqlx::query_scalar(Self::sql(
                        "SELECT user_id FROM authkit_identities \
                         WHERE provider = ? AND subject = ?",
                    ))
                    .bind(&identity.provider)
                    .bind(&identity.subject)
                    .fetch_optional(&mut *tx)
                    .await?;
                    if let Some(owner) = owner {
                        return Ok(LinkOutcome::SubjectTaken(owner));
                    }
                    let has_provider = sqlx::query(Self::sql(
                        "SELECT subject FROM authkit_identities \
                         WHERE user_id = ? AND provider = ?",
                    ))
                    .bind(identity.user_id)
                    .bind(&identity.provider)
                    .fetch_optional(&mut *tx)
                    .await?
                    .is_some();
                    if has_provider {
                        return Ok(LinkOutcome::ProviderTaken);
                    }
                    sqlx::query(Self::sql(
                        "INSERT INTO authkit_identities \
                         (provider, subject, user_id, email, email_verified, linked_at) \
                         VALUES (?, ?, ?, ?, ?, ?)",
                    ))
                    .bind(&identity.provider)
                    .bind(&identity.subject)
                    .bind(identity.user_id)
                    .bind(&identity.email)
                    .bind(identity.email_verified)
                    .bind(identity.linked_at)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(LinkOutcome::Linked)
                }

                async fn unlink_identity_once(
                    &self,
                    user_id: Uuid,
                    provider: &str,
                    keep_one: bool,
                ) -> Result<UnlinkOutcome, sqlx::Error> {
                    let mut tx: Tx = self.begin().await?;
                    sqlx::query(Self::locked("SELECT id FROM authkit_users WHERE id = ?"))
                        .bind(user_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                    let providers: Vec<String> = sqlx::query_scalar(Self::locked(
                        "SELECT provider FROM authkit_identities WHERE user_id = ?",
                    ))
                    .bind(user_id)
                    .fetch_all(&mut *tx)
                    .await?;
                    if !providers.iter().any(|p| p == provider) {
                        return Ok(UnlinkOutcome::NotFound);
                    }
                    if keep_one && providers.len() == 1 {
                        return Ok(UnlinkOutcome::LastIdentity);
                    }
                    sqlx::query(Self::sql(
                        "DELETE FROM authkit_identities WHERE user_id = ? AND provider = ?",
                    ))
                    .bind(user_id)
                    .bind(provider)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(UnlinkOutcome::Unlinked)
                }
            }

            #[async_trait]
            impl IdentityStore for $store {
                async fn link_identity(&self, identity: &Identity) -> AuthResult<LinkOutcome> {
                    rerunning_on_conflict(|| self.link_identity_once(identity))
                        .await
                        .map_err(to_auth)
                }

                async fn identity(
                    &self,
                    provider: &str,
                    subject: &str,
                ) -> AuthResult<Option<Identity>> {
                    sqlx::query(Self::sql(
                        "SELECT provider, subject, user_id, email, email_verified, linked_at \
                         FROM authkit_identities WHERE provider = ? AND subject = ?",
                    ))
                    .bind(provider)
                    .bind(subject)
                    .fetch_optional(&self.pool)
                    .await
                    .and_then(|row| row.map(|row| identity_from_row(&row)).transpose())
                    .map_err(to_auth)
                }

                async fn identities_for_user(&self, user_id: Uuid) -> AuthResult<Vec<Identity>> {
                    sqlx::query(Self::sql(
                        "SELECT provider, subject, user_id, email, email_verified, linked_at \
                         FROM authkit_identities WHERE user_id = ? \
                         ORDER BY linked_at, provider, subject",
                    ))
                    .bind(user_id)
                    .fetch_all(&self.pool)
                    .await
                    .and_then(|rows| rows.iter().map(identity_from_row).collect())
                    .map_err(to_auth)
                }

                async fn unlink_identity(
                    &self,
                    user_id: Uuid,
                    provider: &str,
                    keep_one: bool,
                ) -> AuthResult<UnlinkOutcome> {
                    retrying(|| self.unlink_identity_once(user_id, provider, keep_one))
                        .await
                        .map_err(to_auth)
                }
            }
        };
    };
}

pub(crate) use impl_identity_store;
