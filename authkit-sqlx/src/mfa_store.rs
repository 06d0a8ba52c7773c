//! [`MfaStore`](authkit_core::store::MfaStore), implemented once for every
//! backend with the same inherent items as [`crate::sql_store`].
//!
//! The single-use transitions (confirming an enrolment, accepting a TOTP
//! step, spending a backup code) are each one conditional `UPDATE` whose
//! row count says whether this caller won. The read-modify-write ones
//! (storing an enrolment, replacing backup codes, counting a failure,
//! remembering a device) are one transaction that first locks the
//! account's row in `authkit_users`, which serializes them per account;
//! when the account row is missing, a unique-index race between two
//! inserts reruns the transaction instead.

/// Implements `MfaStore` for `$store` (reads through `self.pool`, writes
/// through `self.writer()`) on database `$db`.
macro_rules! impl_mfa_store {
    ($store:ty, $db:ty) => {
        const _: () = {
            use async_trait::async_trait;
            use authkit_core::error::AuthResult;
            use authkit_core::secret::TokenHash;
            use authkit_core::store::{DeviceSeen, MfaStatus, MfaStore, TotpRecord};
            use chrono::{DateTime, Duration, Utc};
            use sqlx::Row as _;
            use uuid::Uuid;

            use $crate::columns::{
                count_from_db, count_to_db, step_from_db, step_to_db, totp_params_from_db,
            };
            use $crate::error::{rerunning_on_conflict, retrying, to_auth};
            use $crate::transitions;

            type DbRow = <$db as sqlx::Database>::Row;
            type Tx = sqlx::Transaction<'static, $db>;

            /// Backup codes inserted per statement, far below every
            /// backend's limit on bound parameters.
            const CODES_PER_INSERT: usize = 500;

            fn totp_from_row(row: &DbRow) -> Result<TotpRecord, sqlx::Error> {
                Ok(TotpRecord {
                    user_id: row.try_get("user_id")?,
                    secret: row.try_get("secret")?,
                    params: totp_params_from_db(
                        &row.try_get::<String, _>("algorithm")?,
                        row.try_get("digits")?,
                        row.try_get("period")?,
                    )?,
                    created_at: row.try_get("created_at")?,
                    confirmed_at: row.try_get("confirmed_at")?,
                    last_step: step_from_db(row.try_get("last_step")?)?,
                })
            }

            impl $store {
                /// Locks the account's row until `tx` ends (nothing when
                /// there is no such account).
                async fn lock_account(tx: &mut Tx, user_id: Uuid) -> Result<(), sqlx::Error> {
                    sqlx::query(Self::locked("SELECT id FROM authkit_users WHERE id = ?"))
                        .bind(user_id)
                        .fetch_optional(&mut **tx)
                        .await?;
                    Ok(())
                }

                async fn put_totp_once(&self, record: &TotpRecord) -> Result<bool, sqlx::Error> {
                    let mut tx: Tx = self.begin().await?;
                    Self::lock_account(&mut tx, record.user_id).await?;
                    let existing = sqlx::query(Self::locked(
                        "SELECT confirmed_at FROM authkit_totp WHERE user_id = ?",
                    ))
                    .bind(record.user_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let sql = match existing {
                        Some(row) => {
                            let confirmed_at: Option<DateTime<Utc>> =
                                row.try_get("confirmed_at")?;
                            if confirmed_at.is_some() {
                                return Ok(false);
                            }
                            "UPDATE authkit_totp SET secret = ?, algorithm = ?, digits = ?, \
                             period = ?, created_at = ?, confirmed_at = ?, last_step = ? \
                             WHERE user_id = ?"
                        }
                        None => {
                            "INSERT INTO authkit_totp (secret, algorithm, digits, period, \
                             created_at, confirmed_at, last_step, user_id) \
                             VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                        }
                    };
                    sqlx::query(Self::sql(sql))
                        .bind(record.secret.as_slice())
                        .bind(record.params.algorithm.as_str())
                        .bind(i64::from(record.params.digits))
                        .bind(i64::from(record.params.period))
                        .bind(record.created_at)
                        .bind(record.confirmed_at)
                        .bind(record.last_step.map(step_to_db))
                        .bind(record.user_id)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    Ok(true)
                }

                async fn replace_backup_codes_once(
                    &self,
                    user_id: Uuid,
                    hashes: &[TokenHash],
                    now: DateTime<Utc>,
                ) -> Result<(), sqlx::Error> {
                    let mut tx: Tx = self.begin().await?;
                    Self::lock_account(&mut tx, user_id).await?;
                    sqlx::query(Self::sql(
                        "DELETE FROM authkit_backup_codes WHERE user_id = ?",
                    ))
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                    for chunk in hashes.chunks(CODES_PER_INSERT) {
                        let mut insert = sqlx::QueryBuilder::<$db>::new(
                            "INSERT INTO authkit_backup_codes (user_id, hash, created_at) ",
                        );
                        insert.push_values(chunk, |mut row, hash| {
                            row.push_bind(user_id)
                                .push_bind(hash.0.to_vec())
                                .push_bind(now);
                        });
                        insert.build().execute(&mut *tx).await?;
                    }
                    tx.commit().await
                }

                async fn record_mfa_failure_once(
                    &self,
                    user_id: Uuid,
                    now: DateTime<Utc>,
                    window: Duration,
                ) -> Result<u32, sqlx::Error> {
                    let mut tx: Tx = self.begin().await?;
                    Self::lock_account(&mut tx, user_id).await?;
                    let before = sqlx::query(Self::locked(
                        "SELECT failure_count, last_failure_at FROM authkit_mfa_failures \
                         WHERE user_id = ?",
                    ))
                    .bind(user_id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .map(|row| -> Result<_, sqlx::Error> {
                        Ok((
                            count_from_db("failure_count", row.try_get("failure_count")?)?,
                            row.try_get::<DateTime<Utc>, _>("last_failure_at")?,
                        ))
                    })
                    .transpose()?;
                    let count = transitions::mfa_failure(before, now, window);
                    let sql = if before.is_some() {
                        "UPDATE authkit_mfa_failures SET failure_count = ?, \
                         last_failure_at = ? WHERE user_id = ?"
                    } else {
                        "INSERT INTO authkit_mfa_failures \
                         (failure_count, last_failure_at, user_id) VALUES (?, ?, ?)"
                    };
                    sqlx::query(Self::sql(sql))
                        .bind(count_to_db(count))
                        .bind(now)
                        .bind(user_id)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    Ok(count)
                }

                async fn remember_device_once(
                    &self,
                    user_id: Uuid,
                    device: &TokenHash,
                    now: DateTime<Utc>,
                ) -> Result<DeviceSeen, sqlx::Error> {
                    let mut tx: Tx = self.begin().await?;
                    Self::lock_account(&mut tx, user_id).await?;
                    let known = sqlx::query(Self::locked(
                        "SELECT device_hash FROM authkit_known_devices \
                         WHERE user_id = ? AND device_hash = ?",
                    ))
                    .bind(user_id)
                    .bind(&device.0[..])
                    .fetch_optional(&mut *tx)
                    .await?
                    .is_some();
                    let seen = if known {
                        sqlx::query(Self::sql(
                            "UPDATE authkit_known_devices SET last_seen_at = ? \
                             WHERE user_id = ? AND device_hash = ?",
                        ))
                        .bind(now)
                        .bind(user_id)
                        .bind(&device.0[..])
                        .execute(&mut *tx)
                        .await?;
                        DeviceSeen::Known
                    } else {
                        let others: i64 = sqlx::query_scalar(Self::sql(
                            "SELECT COUNT(*) FROM authkit_known_devices WHERE user_id = ?",
                        ))
                        .bind(user_id)
                        .fetch_one(&mut *tx)
                        .await?;
                        sqlx::query(Self::sql(
                            "INSERT INTO authkit_known_devices \
                             (user_id, device_hash, first_seen_at, last_seen_at) \
                             VALUES (?, ?, ?, ?)",
                        ))
                        .bind(user_id)
                        .bind(&device.0[..])
                        .bind(now)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                        if others == 0 {
                            DeviceSeen::First
                        } else {
                            DeviceSeen::New
                        }
                    };
                    tx.commit().await?;
                    Ok(seen)
                }
            }

            #[async_trait]
            impl MfaStore for $store {
                async fn put_totp(&self, record: &TotpRecord) -> AuthResult<bool> {
                    rerunning_on_conflict(|| self.put_totp_once(record))
                        .await
                        .map_err(to_auth)
                }

                async fn totp(&self, user_id: Uuid) -> AuthResult<Option<TotpRecord>> {
                    sqlx::query(Self::sql(
                        "SELECT user_id, secret, algorithm, digits, period, created_at, \
                         confirmed_at, last_step FROM authkit_totp WHERE user_id = ?",
                    ))
                    .bind(user_id)
                    .fetch_optional(&self.pool)
                    .await
                    .and_then(|row| row.map(|row| totp_from_row(&row)).transpose())
                    .map_err(to_auth)
                }

                async fn confirm_totp(
                    &self,
                    user_id: Uuid,
                    secret: &[u8],
                    step: u64,
                    now: DateTime<Utc>,
                ) -> AuthResult<bool> {
                    let done = retrying(|| {
                        sqlx::query(Self::sql(
                            "UPDATE authkit_totp SET confirmed_at = ?, last_step = ? \
                             WHERE user_id = ? AND confirmed_at IS NULL AND secret = ?",
                        ))
                        .bind(now)
                        .bind(step_to_db(step))
                        .bind(user_id)
                        .bind(secret)
                        .execute(self.writer())
                    })
                    .await
                    .map_err(to_auth)?;
                    Ok(done.rows_affected() > 0)
                }

                async fn accept_totp_step(&self, user_id: Uuid, step: u64) -> AuthResult<bool> {
                    let step = step_to_db(step);
                    let done = retrying(|| {
                        sqlx::query(Self::sql(
                            "UPDATE authkit_totp SET last_step = ? \
                             WHERE user_id = ? AND confirmed_at IS NOT NULL \
                             AND (last_step IS NULL OR last_step < ?)",
                        ))
                        .bind(step)
                        .bind(user_id)
                        .bind(step)
                        .execute(self.writer())
                    })
                    .await
                    .map_err(to_auth)?;
                    Ok(done.rows_affected() > 0)
                }

                async fn delete_totp(&self, user_id: Uuid) -> AuthResult<bool> {
                    let done = retrying(|| {
                        sqlx::query(Self::sql("DELETE FROM authkit_totp WHERE user_id = ?"))
                            .bind(user_id)
                            .execute(self.writer())
                    })
                    .await
                    .map_err(to_auth)?;
                    Ok(done.rows_affected() > 0)
                }

                async fn replace_backup_codes(
                    &self,
                    user_id: Uuid,
                    hashes: &[TokenHash],
                    now: DateTime<Utc>,
                ) -> AuthResult<()> {
                    // One row per distinct code (the key is the account and
                    // the hash).
                    let mut hashes = hashes.to_vec();
                    hashes.sort_unstable();
                    hashes.dedup();
                    retrying(|| self.replace_backup_codes_once(user_id, &hashes, now))
                        .await
                        .map_err(to_auth)
                }

                async fn consume_backup_code(
                    &self,
                    user_id: Uuid,
                    hash: &TokenHash,
                    now: DateTime<Utc>,
                ) -> AuthResult<bool> {
                    let done = retrying(|| {
                        sqlx::query(Self::sql(
                            "UPDATE authkit_backup_codes SET used_at = ? \
                             WHERE user_id = ? AND hash = ? AND used_at IS NULL",
                        ))
                        .bind(now)
                        .bind(user_id)
                        .bind(&hash.0[..])
                        .execute(self.writer())
                    })
                    .await
                    .map_err(to_auth)?;
                    Ok(done.rows_affected() > 0)
                }

                async fn backup_codes_remaining(&self, user_id: Uuid) -> AuthResult<u32> {
                    sqlx::query_scalar(Self::sql(
                        "SELECT COUNT(*) FROM authkit_backup_codes \
                         WHERE user_id = ? AND used_at IS NULL",
                    ))
                    .bind(user_id)
                    .fetch_one(&self.pool)
                    .await
                    .and_then(|n: i64| count_from_db("remaining", n))
                    .map_err(to_auth)
                }

                async fn mfa_status(&self, user_id: Uuid) -> AuthResult<MfaStatus> {
                    let (totp, remaining): (i64, i64) = sqlx::query_as(Self::sql(
                        "SELECT \
                         (SELECT COUNT(*) FROM authkit_totp \
                          WHERE user_id = ? AND confirmed_at IS NOT NULL), \
                         (SELECT COUNT(*) FROM authkit_backup_codes \
                          WHERE user_id = ? AND used_at IS NULL)",
                    ))
                    .bind(user_id)
                    .bind(user_id)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(to_auth)?;
                    Ok(MfaStatus {
                        totp_confirmed: totp > 0,
                        backup_codes_remaining: count_from_db("remaining", remaining)
                            .map_err(to_auth)?,
                    })
                }

                async fn record_mfa_failure(
                    &self,
                    user_id: Uuid,
                    now: DateTime<Utc>,
                    window: Duration,
                ) -> AuthResult<u32> {
                    rerunning_on_conflict(|| self.record_mfa_failure_once(user_id, now, window))
                        .await
                        .map_err(to_auth)
                }

                async fn clear_mfa_failures(&self, user_id: Uuid) -> AuthResult<()> {
                    retrying(|| {
                        sqlx::query(Self::sql(
                            "DELETE FROM authkit_mfa_failures WHERE user_id = ?",
                        ))
                        .bind(user_id)
                        .execute(self.writer())
                    })
                    .await
                    .map_err(to_auth)?;
                    Ok(())
                }

                async fn remember_device(
                    &self,
                    user_id: Uuid,
                    device: &TokenHash,
                    now: DateTime<Utc>,
                ) -> AuthResult<DeviceSeen> {
                    rerunning_on_conflict(|| self.remember_device_once(user_id, device, now))
                        .await
                        .map_err(to_auth)
                }
            }
        };
    };
}

pub(crate) use impl_mfa_store;
