//! The store traits, implemented once for every backend.
//!
//! The SQL below is portable (`?` placeholders, no vendor syntax); each
//! backend type supplies the few things that differ, as inherent items:
//!
//! - `fn sql(&'static str) -> SqlStr`: the statement in the backend's
//!   placeholder style;
//! - `fn locked(&'static str) -> SqlStr`: the same for a locking read
//!   (`FOR UPDATE` where rows can be locked; SQLite locks the whole database
//!   for the transaction instead);
//! - `fn writer(&self) -> &Pool`: the pool every write goes through (the
//!   one pool on PostgreSQL and MySQL; a single connection on a SQLite
//!   file, see `SqliteStore::connect`);
//! - `async fn begin(&self)`: a transaction on the writer that serializes
//!   writers (`BEGIN IMMEDIATE` on SQLite);
//! - `INSERT_AUDIT` / `SELECT_AUDIT`: the audit statements (JSONB on
//!   PostgreSQL);
//! - `ROTATION`: how a refresh token is rotated ([`RotationPlan`]).
//!
//! Every single-use or counting transition is one transaction that locks
//! the rows it decides on, re-reads them under the lock, asks
//! [`crate::transitions`] what to do and writes the answer; deadlocks and
//! busy errors rerun the whole transaction ([`crate::error::retrying`]).

/// How a backend rotates a refresh token; every plan applies the rules of
/// [`decide_rotation`](authkit_core::session::decide_rotation) under a lock that serializes the
/// rotations of a session.
#[derive(Debug, Clone, Copy)]
pub(crate) enum RotationPlan {
    /// One statement that runs the rules server-side and answers the
    /// outcome and the session (PostgreSQL's `authkit_rotate_refresh`).
    Call(&'static str),
    /// For a transaction that holds the whole database's write lock
    /// (SQLite): `read` answers, for the presented hash, the session's
    /// columns, the token's `rotated_at` and `replaced_by`, and the
    /// session's `current` unrotated hash in one statement; `retire`
    /// rotates in one batch of statements with numbered parameters
    /// (`?1` now, `?2` the replacement, `?3` the retiring hash, `?4` the
    /// session id). Each statement is a hand-over to the driver's thread,
    /// so fewer of them is most of a rotation's cost.
    Batch {
        /// The joined read.
        read: &'static str,
        /// The retiring writes.
        retire: &'static str,
    },
    /// The portable transaction: find the session, lock its row, read the
    /// family, write (MySQL).
    #[cfg_attr(not(feature = "mysql"), allow(dead_code))]
    Transaction,
}

/// Columns of `authkit_users`, in the order [`user_from_row`] reads them.
macro_rules! user_columns {
    () => {
        "id, email, email_verified_at, phone, phone_verified_at, password_hash, \
         display_name, avatar_url, is_active, must_change_password, \
         password_changed_at, failed_login_count, last_failed_login_at, \
         locked_until, roles, created_at, updated_at, admin_locked_until, \
         admin_lock_reason, admin_locked_by, admin_locked_at"
    };
}

/// Columns of `authkit_sessions`.
macro_rules! session_columns {
    () => {
        "id, user_id, ip, user_agent, created_at, last_seen_at, expires_at, \
         revoked_at, revoke_reason"
    };
}

/// Columns of `authkit_one_time_tokens`.
macro_rules! token_columns {
    () => {
        "id, purpose, subject, hash, payload, created_at, expires_at, attempts, \
         max_attempts, consumed_at"
    };
}

/// Implements every store trait for `$store`, which reads through
/// `self.pool` and writes through `self.writer()`, on database `$db`.
macro_rules! impl_store {
    ($store:ty, $db:ty) => {
        const _: () = {
            use async_trait::async_trait;
            use authkit_core::audit::{AuditQuery, AuditRecord};
            use authkit_core::email::{Email, Phone};
            use authkit_core::error::{AuthError, AuthResult};
            use authkit_core::one_time::{CodeCheck, OneTimeToken, Purpose};
            use authkit_core::secret::TokenHash;
            use authkit_core::session::{
                REFRESH_REUSED, RefreshState, RotateOutcome, RotateRefresh, Rotation, Session,
                decide_rotation,
            };
            use authkit_core::store::{
                AuditStore, FailureState, KeyRecord, KeyStore, LockoutPolicy, OneTimeTokenStore,
                SessionStore, UserStore, UserUpdate,
            };
            use authkit_core::user::{AdminLock, User};
            use chrono::{DateTime, Utc};
            use sqlx::Row as _;
            use uuid::Uuid;

            use $crate::columns::{
                count_from_db, count_to_db, email_from_db, hash_from_db, json_from_db,
                phone_from_db, purpose_from_db, roles_from_db, roles_to_db,
            };
            use $crate::error::{ErrorClass, classify, rerunning_on_conflict, retrying, to_auth};
            use $crate::sql_store::RotationPlan;
            use $crate::transitions::{
                self, Failures, RotationCutoffs,
            };

            type DbRow = <$db as sqlx::Database>::Row;
            type Tx = sqlx::Transaction<'static, $db>;

            fn user_from_row(row: &DbRow) -> Result<User, sqlx::Error> {
                Ok(User {
                    id: row.try_get("id")?,
                    email: email_from_db(&row.try_get::<String, _>("email")?)?,
                    email_verified_at: row.try_get("email_verified_at")?,
                    phone: phone_from_db(row.try_get("phone")?)?,
                    phone_verified_at: row.try_get("phone_verified_at")?,
                    password_hash: row.try_get("password_hash")?,
                    display_name: row.try_get("display_name")?,
                    avatar_url: row.try_get("avatar_url")?,
                    is_active: row.try_get("is_active")?,
                    must_change_password: row.try_get("must_change_password")?,
                    password_changed_at: row.try_get("password_changed_at")?,
                    failed_login_count: count_from_db(
                        "failed_login_count",
                        row.try_get("failed_login_count")?,
                    )?,
                    last_failed_login_at: row.try_get("last_failed_login_at")?,
                    locked_until: row.try_get("locked_until")?,
                    roles: roles_from_db(&row.try_get::<String, _>("roles")?)?,
                    created_at: row.try_get("created_at")?,
                    updated_at: row.try_get("updated_at")?,
                    admin_lock: admin_lock_from_row(row)?,
                })
            }

            /// The administrator's lock: set when `admin_locked_until` is.
            fn admin_lock_from_row(row: &DbRow) -> Result<Option<AdminLock>, sqlx::Error> {
                let Some(until) = row.try_get::<Option<DateTime<Utc>>, _>("admin_locked_until")?
                else {
                    return Ok(None);
                };
                Ok(Some(AdminLock {
                    until,
                    reason: row.try_get("admin_lock_reason")?,
                    actor_id: row.try_get("admin_locked_by")?,
                    locked_at: row
                        .try_get::<Option<DateTime<Utc>>, _>("admin_locked_at")?
                        .unwrap_or(until),
                }))
            }

            fn session_from_row(row: &DbRow) -> Result<Session, sqlx::Error> {
                Ok(Session {
                    id: row.try_get("id")?,
                    user_id: row.try_get("user_id")?,
                    ip: row.try_get("ip")?,
                    user_agent: row.try_get("user_agent")?,
                    created_at: row.try_get("created_at")?,
                    last_seen_at: row.try_get("last_seen_at")?,
                    expires_at: row.try_get("expires_at")?,
                    revoked_at: row.try_get("revoked_at")?,
                    revoke_reason: row.try_get("revoke_reason")?,
                })
            }

            fn token_from_row(row: &DbRow) -> Result<OneTimeToken, sqlx::Error> {
                Ok(OneTimeToken {
                    id: row.try_get("id")?,
                    purpose: purpose_from_db(&row.try_get::<String, _>("purpose")?)?,
                    subject: row.try_get("subject")?,
                    hash: hash_from_db("hash", &row.try_get::<Vec<u8>, _>("hash")?)?,
                    payload: json_from_db("payload", &row.try_get::<String, _>("payload")?)?,
                    created_at: row.try_get("created_at")?,
                    expires_at: row.try_get("expires_at")?,
                    attempts: count_from_db("attempts", row.try_get("attempts")?)?,
                    max_attempts: count_from_db("max_attempts", row.try_get("max_attempts")?)?,
                    consumed_at: row.try_get("consumed_at")?,
                })
            }

            fn audit_from_row(row: &DbRow) -> Result<AuditRecord, sqlx::Error> {
                Ok(AuditRecord {
                    id: row.try_get("id")?,
                    at: row.try_get("at")?,
                    event: row.try_get("event")?,
                    user_id: row.try_get("user_id")?,
                    ip: row.try_get("ip")?,
                    user_agent: row.try_get("user_agent")?,
                    data: json_from_db("data", &row.try_get::<String, _>("data")?)?,
                })
            }

            fn key_from_row(row: &DbRow) -> Result<KeyRecord, sqlx::Error> {
                Ok(KeyRecord {
                    kid: row.try_get("kid")?,
                    algorithm: row.try_get("algorithm")?,
                    private_material: row.try_get("private_material")?,
                    created_at: row.try_get("created_at")?,
                    retired_at: row.try_get("retired_at")?,
                })
            }

            /// Offsets and limits as SQL integers.
            fn sql_count(n: u64) -> i64 {
                i64::try_from(n).unwrap_or(i64::MAX)
            }

            impl $store {
                async fn email_exists(&self, email: &Email) -> Result<bool, sqlx::Error> {
                    Ok(sqlx::query(Self::sql(
                        "SELECT 1 FROM authkit_users WHERE email = ?",
                    ))
                    .bind(email.as_str())
                    .fetch_optional(&self.pool)
                    .await?
                    .is_some())
                }

                /// A unique violation on a user write is the email (the only
                /// other unique column is the generated id).
                async fn user_write_error(&self, err: sqlx::Error, email: &Email) -> AuthError {
                    if classify(&err) != ErrorClass::UniqueViolation {
                        return to_auth(err);
                    }
                    match self.email_exists(email).await {
                        Ok(true) => AuthError::EmailTaken,
                        Ok(false) => AuthError::internal_msg("duplicate user id"),
                        Err(err) => to_auth(err),
                    }
                }

                async fn insert_user(&self, user: &User) -> Result<(), sqlx::Error> {
                    sqlx::query(Self::sql(concat!(
                        "INSERT INTO authkit_users (",
                        $crate::sql_store::user_columns!(),
                        ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    )))
                    .bind(user.id)
                    .bind(user.email.as_str())
                    .bind(user.email_verified_at)
                    .bind(user.phone.as_ref().map(Phone::as_str))
                    .bind(user.phone_verified_at)
                    .bind(user.password_hash.as_deref())
                    .bind(user.display_name.as_deref())
                    .bind(user.avatar_url.as_deref())
                    .bind(user.is_active)
                    .bind(user.must_change_password)
                    .bind(user.password_changed_at)
                    .bind(count_to_db(user.failed_login_count))
                    .bind(user.last_failed_login_at)
                    .bind(user.locked_until)
                    .bind(roles_to_db(&user.roles))
                    .bind(user.created_at)
                    .bind(user.updated_at)
                    .bind(user.admin_lock.as_ref().map(|lock| Self::far_time(lock.until)))
                    .bind(user.admin_lock.as_ref().and_then(|lock| lock.reason.as_deref()))
                    .bind(user.admin_lock.as_ref().and_then(|lock| lock.actor_id))
                    .bind(user.admin_lock.as_ref().map(|lock| lock.locked_at))
                    .execute(self.writer())
                    .await?;
                    Ok(())
                }

                /// Applies one narrow account change in one statement;
                /// answers the rows it matched.
                async fn write_update(
                    &self,
                    user_id: Uuid,
                    update: &UserUpdate,
                    now: DateTime<Utc>,
                ) -> Result<u64, sqlx::Error> {
                    let query = match update {
                        UserUpdate::Password { hash } => sqlx::query(Self::sql(
                            "UPDATE authkit_users SET password_hash = ?, \
                             password_changed_at = ?, must_change_password = ?, updated_at = ? \
                             WHERE id = ?",
                        ))
                        .bind(hash.as_str())
                        .bind(now)
                        .bind(false)
                        .bind(now)
                        .bind(user_id),
                        UserUpdate::Rehash { old, new } => sqlx::query(Self::sql(
                            "UPDATE authkit_users SET password_hash = ? \
                             WHERE id = ? AND password_hash = ?",
                        ))
                        .bind(new.as_str())
                        .bind(user_id)
                        .bind(old.as_str()),
                        UserUpdate::MustChangePassword(on) => sqlx::query(Self::sql(
                            "UPDATE authkit_users SET must_change_password = ?, updated_at = ? \
                             WHERE id = ?",
                        ))
                        .bind(*on)
                        .bind(now)
                        .bind(user_id),
                        UserUpdate::Active(on) => sqlx::query(Self::sql(
                            "UPDATE authkit_users SET is_active = ?, updated_at = ? WHERE id = ?",
                        ))
                        .bind(*on)
                        .bind(now)
                        .bind(user_id),
                        UserUpdate::Roles(roles) => sqlx::query(Self::sql(
                            "UPDATE authkit_users SET roles = ?, updated_at = ? WHERE id = ?",
                        ))
                        .bind(roles_to_db(roles))
                        .bind(now)
                        .bind(user_id),
                        UserUpdate::EmailVerified => sqlx::query(Self::sql(
                            "UPDATE authkit_users SET email_verified_at = ?, updated_at = ? \
                             WHERE id = ? AND email_verified_at IS NULL",
                        ))
                        .bind(now)
                        .bind(now)
                        .bind(user_id),
                        UserUpdate::PhoneVerified(phone) => sqlx::query(Self::sql(
                            "UPDATE authkit_users SET phone_verified_at = ?, updated_at = ? \
                             WHERE id = ? AND phone = ?",
                        ))
                        .bind(now)
                        .bind(now)
                        .bind(user_id)
                        .bind(phone.as_str()),
                        UserUpdate::Profile {
                            display_name,
                            avatar_url,
                            phone,
                        } => {
                            let new_phone = phone.as_ref().and_then(|p| p.as_ref().map(Phone::as_str));
                            // phone_verified_at comes first: MySQL assigns
                            // left to right, so it still sees the old phone.
                            sqlx::query(Self::sql(
                                "UPDATE authkit_users SET \
                                 phone_verified_at = CASE WHEN ? AND (phone IS NULL OR ? IS NULL \
                                 OR phone <> ?) THEN NULL ELSE phone_verified_at END, \
                                 display_name = CASE WHEN ? THEN ? ELSE display_name END, \
                                 avatar_url = CASE WHEN ? THEN ? ELSE avatar_url END, \
                                 phone = CASE WHEN ? THEN ? ELSE phone END, \
                                 updated_at = ? WHERE id = ?",
                            ))
                            .bind(phone.is_some())
                            .bind(new_phone)
                            .bind(new_phone)
                            .bind(display_name.is_some())
                            .bind(display_name.as_ref().and_then(|n| n.as_deref()))
                            .bind(avatar_url.is_some())
                            .bind(avatar_url.as_ref().and_then(|u| u.as_deref()))
                            .bind(phone.is_some())
                            .bind(new_phone)
                            .bind(now)
                            .bind(user_id)
                        }
                    };
                    Ok(query.execute(self.writer()).await?.rows_affected())
                }

                /// Whether a write that matched `rows` rows applied:
                /// `NotFound` when it matched none because the account
                /// does not exist.
                async fn applied(&self, rows: u64, user_id: Uuid) -> AuthResult<bool> {
                    if rows > 0 {
                        return Ok(true);
                    }
                    match UserStore::user_by_id(self, user_id).await? {
                        Some(_) => Ok(false),
                        None => Err(AuthError::NotFound),
                    }
                }

                async fn fail_login_once(
                    &self,
                    user_id: Uuid,
                    now: DateTime<Utc>,
                    policy: LockoutPolicy,
                ) -> Result<Option<FailureState>, sqlx::Error> {
                    let mut tx: Tx = self.begin().await?;
                    let Some(row) = sqlx::query(Self::locked(
                        "SELECT failed_login_count, last_failed_login_at, locked_until \
                         FROM authkit_users WHERE id = ?",
                    ))
                    .bind(user_id)
                    .fetch_optional(&mut *tx)
                    .await?
                    else {
                        return Ok(None);
                    };
                    let before = Failures {
                        count: count_from_db(
                            "failed_login_count",
                            row.try_get("failed_login_count")?,
                        )?,
                        last_at: row.try_get("last_failed_login_at")?,
                        locked_until: row.try_get("locked_until")?,
                    };
                    let (after, state) = transitions::failure(before, now, policy);
                    sqlx::query(Self::sql(
                        "UPDATE authkit_users SET failed_login_count = ?, \
                         last_failed_login_at = ?, locked_until = ? WHERE id = ?",
                    ))
                    .bind(count_to_db(after.count))
                    .bind(after.last_at)
                    .bind(after.locked_until)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(Some(state))
                }

                async fn rotate_once(
                    &self,
                    req: &RotateRefresh,
                ) -> Result<RotateOutcome, sqlx::Error> {
                    // The session id of a token never changes: find it
                    // without a lock, then lock the session, which
                    // serializes every rotation of its family.
                    let Some(row) = sqlx::query(Self::sql(
                        "SELECT session_id FROM authkit_refresh_tokens WHERE hash = ?",
                    ))
                    .bind(&req.presented.0[..])
                    .fetch_optional(&self.pool)
                    .await?
                    else {
                        return Ok(RotateOutcome::Invalid);
                    };
                    let session_id: Uuid = row.try_get("session_id")?;

                    let mut tx: Tx = self.begin().await?;
                    let Some(row) = sqlx::query(Self::locked(concat!(
                        "SELECT ",
                        $crate::sql_store::session_columns!(),
                        " FROM authkit_sessions WHERE id = ?"
                    )))
                    .bind(session_id)
                    .fetch_optional(&mut *tx)
                    .await?
                    else {
                        return Ok(RotateOutcome::Invalid);
                    };
                    let mut session = session_from_row(&row)?;
                    let mut presented = None;
                    let mut current = None;
                    // Under the session lock a plain read sees the latest
                    // committed state of the family.
                    for row in sqlx::query(Self::sql(
                        "SELECT hash, rotated_at, replaced_by FROM authkit_refresh_tokens \
                         WHERE hash = ? OR (session_id = ? AND rotated_at IS NULL)",
                    ))
                    .bind(&req.presented.0[..])
                    .bind(session_id)
                    .fetch_all(&mut *tx)
                    .await?
                    {
                        let hash = hash_from_db("hash", &row.try_get::<Vec<u8>, _>("hash")?)?;
                        let rotated_at: Option<DateTime<Utc>> = row.try_get("rotated_at")?;
                        let replaced_by = row
                            .try_get::<Option<Vec<u8>>, _>("replaced_by")?
                            .map(|bytes| hash_from_db("replaced_by", &bytes))
                            .transpose()?;
                        if hash == req.presented {
                            presented = Some(RefreshState {
                                rotated_at,
                                replaced_by,
                            });
                        }
                        if rotated_at.is_none() {
                            current = Some(hash);
                        }
                    }
                    let Some(presented) = presented else {
                        return Ok(RotateOutcome::Invalid);
                    };

                    match decide_rotation(req, &session, presented, current) {
                        Rotation::Invalid => Ok(RotateOutcome::Invalid),
                        Rotation::Reuse => {
                            self.revoke_reused(&mut tx, session_id, req.now).await?;
                            tx.commit().await?;
                            session.revoked_at = Some(req.now);
                            session.revoke_reason = Some(REFRESH_REUSED.to_owned());
                            Ok(RotateOutcome::Reused(session))
                        }
                        Rotation::Retire(retiring) => {
                            sqlx::query(Self::sql(
                                "UPDATE authkit_refresh_tokens SET rotated_at = ?, replaced_by = ? \
                                 WHERE hash = ?",
                            ))
                            .bind(req.now)
                            .bind(&req.replacement.0[..])
                            .bind(&retiring.0[..])
                            .execute(&mut *tx)
                            .await?;
                            sqlx::query(Self::sql(
                                "INSERT INTO authkit_refresh_tokens (hash, session_id) VALUES (?, ?)",
                            ))
                            .bind(&req.replacement.0[..])
                            .bind(session_id)
                            .execute(&mut *tx)
                            .await?;
                            sqlx::query(Self::sql(
                                "UPDATE authkit_sessions SET last_seen_at = ? WHERE id = ?",
                            ))
                            .bind(req.now)
                            .bind(session_id)
                            .execute(&mut *tx)
                            .await?;
                            tx.commit().await?;
                            session.last_seen_at = req.now;
                            Ok(RotateOutcome::Rotated(session))
                        }
                    }
                }

                /// One rotation as [`RotationPlan::Batch`]: a joined read
                /// and one batch of writes, inside a transaction that holds
                /// the database's write lock.
                async fn rotate_batched(
                    &self,
                    read: &'static str,
                    retire: &'static str,
                    req: &RotateRefresh,
                ) -> Result<RotateOutcome, sqlx::Error> {
                    let mut tx: Tx = self.begin().await?;
                    let Some(row) = sqlx::query(Self::sql(read))
                        .bind(&req.presented.0[..])
                        .fetch_optional(&mut *tx)
                        .await?
                    else {
                        return Ok(RotateOutcome::Invalid);
                    };
                    let mut session = session_from_row(&row)?;
                    let presented = RefreshState {
                        rotated_at: row.try_get("rotated_at")?,
                        replaced_by: row
                            .try_get::<Option<Vec<u8>>, _>("replaced_by")?
                            .map(|bytes| hash_from_db("replaced_by", &bytes))
                            .transpose()?,
                    };
                    let current = row
                        .try_get::<Option<Vec<u8>>, _>("current")?
                        .map(|bytes| hash_from_db("current", &bytes))
                        .transpose()?;
                    match decide_rotation(req, &session, presented, current) {
                        Rotation::Invalid => Ok(RotateOutcome::Invalid),
                        Rotation::Reuse => {
                            self.revoke_reused(&mut tx, session.id, req.now).await?;
                            tx.commit().await?;
                            session.revoked_at = Some(req.now);
                            session.revoke_reason = Some(REFRESH_REUSED.to_owned());
                            Ok(RotateOutcome::Reused(session))
                        }
                        Rotation::Retire(retiring) => {
                            sqlx::query(Self::sql(retire))
                                .bind(req.now)
                                .bind(&req.replacement.0[..])
                                .bind(&retiring.0[..])
                                .bind(session.id)
                                .execute(&mut *tx)
                                .await?;
                            tx.commit().await?;
                            session.last_seen_at = req.now;
                            Ok(RotateOutcome::Rotated(session))
                        }
                    }
                }

                /// Revokes a session whose refresh token was reused.
                async fn revoke_reused(
                    &self,
                    tx: &mut Tx,
                    session_id: Uuid,
                    now: DateTime<Utc>,
                ) -> Result<(), sqlx::Error> {
                    sqlx::query(Self::sql(
                        "UPDATE authkit_sessions SET revoked_at = ?, revoke_reason = ? \
                         WHERE id = ?",
                    ))
                    .bind(now)
                    .bind(REFRESH_REUSED)
                    .bind(session_id)
                    .execute(&mut **tx)
                    .await?;
                    Ok(())
                }

                /// One rotation as a single statement: `call` runs the
                /// rules server-side and returns the outcome and the session
                /// (no row when the request is invalid).
                async fn rotate_in_one_call(
                    &self,
                    call: &'static str,
                    req: &RotateRefresh,
                ) -> Result<RotateOutcome, sqlx::Error> {
                    let cutoffs = RotationCutoffs::of(req);
                    let Some(row) = sqlx::query(Self::sql(call))
                        .bind(&req.presented.0[..])
                        .bind(&req.replacement.0[..])
                        .bind(req.now)
                        .bind(cutoffs.live_after)
                        .bind(cutoffs.grace_after)
                        .fetch_optional(&self.pool)
                        .await?
                    else {
                        return Ok(RotateOutcome::Invalid);
                    };
                    let session = session_from_row(&row)?;
                    match row.try_get::<String, _>("outcome")?.as_str() {
                        "rotated" => Ok(RotateOutcome::Rotated(session)),
                        "reused" => Ok(RotateOutcome::Reused(session)),
                        other => Err(sqlx::Error::Protocol(format!(
                            "unknown rotation outcome {other:?}"
                        ))),
                    }
                }

                async fn issue_once(&self, token: &OneTimeToken) -> Result<(), sqlx::Error> {
                    let mut tx: Tx = self.begin().await?;
                    sqlx::query(Self::sql(
                        "UPDATE authkit_one_time_tokens SET consumed_at = ? \
                         WHERE purpose = ? AND subject = ? AND consumed_at IS NULL",
                    ))
                    .bind(token.created_at)
                    .bind(token.purpose.as_str())
                    .bind(token.subject.as_str())
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(Self::sql(concat!(
                        "INSERT INTO authkit_one_time_tokens (",
                        $crate::sql_store::token_columns!(),
                        ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    )))
                    .bind(token.id)
                    .bind(token.purpose.as_str())
                    .bind(token.subject.as_str())
                    .bind(&token.hash.0[..])
                    .bind(token.payload.to_string())
                    .bind(token.created_at)
                    .bind(token.expires_at)
                    .bind(count_to_db(token.attempts))
                    .bind(count_to_db(token.max_attempts))
                    .bind(token.consumed_at)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await
                }

                async fn token_by_hash<'e, E: sqlx::Executor<'e, Database = $db>>(
                    executor: E,
                    purpose: Purpose,
                    hash: &TokenHash,
                    lock: bool,
                ) -> Result<Option<OneTimeToken>, sqlx::Error> {
                    const SQL: &str = concat!(
                        "SELECT ",
                        $crate::sql_store::token_columns!(),
                        " FROM authkit_one_time_tokens WHERE purpose = ? AND hash = ? \
                         ORDER BY created_at DESC, id DESC LIMIT 1"
                    );
                    let sql = if lock { Self::locked(SQL) } else { Self::sql(SQL) };
                    sqlx::query(sql)
                        .bind(purpose.as_str())
                        .bind(&hash.0[..])
                        .fetch_optional(executor)
                        .await?
                        .map(|row| token_from_row(&row))
                        .transpose()
                }

                async fn newest_token<'e, E: sqlx::Executor<'e, Database = $db>>(
                    executor: E,
                    purpose: Purpose,
                    subject: &str,
                    lock: bool,
                ) -> Result<Option<OneTimeToken>, sqlx::Error> {
                    const SQL: &str = concat!(
                        "SELECT ",
                        $crate::sql_store::token_columns!(),
                        " FROM authkit_one_time_tokens WHERE purpose = ? AND subject = ? \
                         ORDER BY created_at DESC, id DESC LIMIT 1"
                    );
                    let sql = if lock { Self::locked(SQL) } else { Self::sql(SQL) };
                    sqlx::query(sql)
                        .bind(purpose.as_str())
                        .bind(subject)
                        .fetch_optional(executor)
                        .await?
                        .map(|row| token_from_row(&row))
                        .transpose()
                }

                async fn mark_consumed(
                    tx: &mut Tx,
                    id: Uuid,
                    now: DateTime<Utc>,
                ) -> Result<(), sqlx::Error> {
                    sqlx::query(Self::sql(
                        "UPDATE authkit_one_time_tokens SET consumed_at = ? WHERE id = ?",
                    ))
                    .bind(now)
                    .bind(id)
                    .execute(&mut **tx)
                    .await?;
                    Ok(())
                }

                async fn consume_once(
                    &self,
                    purpose: Purpose,
                    hash: &TokenHash,
                    now: DateTime<Utc>,
                ) -> Result<Option<OneTimeToken>, sqlx::Error> {
                    let mut tx: Tx = self.begin().await?;
                    let token = Self::token_by_hash(&mut *tx, purpose, hash, true)
                        .await?
                        .filter(|token| transitions::is_live(token, now));
                    let Some(mut token) = token else {
                        return Ok(None);
                    };
                    Self::mark_consumed(&mut tx, token.id, now).await?;
                    tx.commit().await?;
                    token.consumed_at = Some(now);
                    Ok(Some(token))
                }

                async fn check_code_once(
                    &self,
                    purpose: Purpose,
                    subject: &str,
                    hash: &TokenHash,
                    now: DateTime<Utc>,
                ) -> Result<CodeCheck, sqlx::Error> {
                    let mut tx: Tx = self.begin().await?;
                    let token = Self::newest_token(&mut *tx, purpose, subject, true)
                        .await?
                        .filter(|token| transitions::is_live(token, now));
                    let Some(mut token) = token else {
                        return Ok(CodeCheck::Missing);
                    };
                    if token.hash.ct_eq(hash) {
                        Self::mark_consumed(&mut tx, token.id, now).await?;
                        tx.commit().await?;
                        token.consumed_at = Some(now);
                        return Ok(CodeCheck::Accepted(token));
                    }
                    let attempts = token.attempts.saturating_add(1);
                    sqlx::query(Self::sql(
                        "UPDATE authkit_one_time_tokens SET attempts = ? WHERE id = ?",
                    ))
                    .bind(count_to_db(attempts))
                    .bind(token.id)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(CodeCheck::Rejected {
                        attempts_left: token.max_attempts.saturating_sub(attempts),
                    })
                }
            }

            #[async_trait]
            impl UserStore for $store {
                async fn create_user(&self, user: &User) -> AuthResult<()> {
                    match retrying(|| self.insert_user(user)).await {
                        Ok(()) => Ok(()),
                        Err(err) => Err(self.user_write_error(err, &user.email).await),
                    }
                }

                async fn user_by_id(&self, id: Uuid) -> AuthResult<Option<User>> {
                    sqlx::query(Self::sql(concat!(
                        "SELECT ",
                        $crate::sql_store::user_columns!(),
                        " FROM authkit_users WHERE id = ?"
                    )))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .and_then(|row| row.map(|row| user_from_row(&row)).transpose())
                    .map_err(to_auth)
                }

                async fn user_by_email(&self, email: &Email) -> AuthResult<Option<User>> {
                    sqlx::query(Self::sql(concat!(
                        "SELECT ",
                        $crate::sql_store::user_columns!(),
                        " FROM authkit_users WHERE email = ?"
                    )))
                    .bind(email.as_str())
                    .fetch_optional(&self.pool)
                    .await
                    .and_then(|row| row.map(|row| user_from_row(&row)).transpose())
                    .map_err(to_auth)
                }

                async fn users_by_verified_phone(&self, phone: &Phone) -> AuthResult<Vec<User>> {
                    sqlx::query(Self::sql(concat!(
                        "SELECT ",
                        $crate::sql_store::user_columns!(),
                        " FROM authkit_users WHERE phone = ? AND phone_verified_at IS NOT NULL \
                         ORDER BY created_at, id"
                    )))
                    .bind(phone.as_str())
                    .fetch_all(&self.pool)
                    .await
                    .and_then(|rows| rows.iter().map(user_from_row).collect())
                    .map_err(to_auth)
                }

                async fn update_user(
                    &self,
                    user_id: Uuid,
                    update: &UserUpdate,
                    now: DateTime<Utc>,
                ) -> AuthResult<bool> {
                    let rows = retrying(|| self.write_update(user_id, update, now))
                        .await
                        .map_err(to_auth)?;
                    self.applied(rows, user_id).await
                }

                async fn record_login_failure(
                    &self,
                    user_id: Uuid,
                    now: DateTime<Utc>,
                    policy: LockoutPolicy,
                ) -> AuthResult<FailureState> {
                    retrying(|| self.fail_login_once(user_id, now, policy))
                        .await
                        .map_err(to_auth)?
                        .ok_or(AuthError::NotFound)
                }

                async fn clear_login_failures(&self, user_id: Uuid) -> AuthResult<()> {
                    let done = retrying(|| {
                        sqlx::query(Self::sql(
                            "UPDATE authkit_users SET failed_login_count = 0, \
                             last_failed_login_at = NULL, locked_until = NULL WHERE id = ?",
                        ))
                        .bind(user_id)
                        .execute(self.writer())
                    })
                    .await
                    .map_err(to_auth)?;
                    self.applied(done.rows_affected(), user_id).await.map(drop)
                }
            }

            #[async_trait]
            impl SessionStore for $store {
                async fn create_session(
                    &self,
                    session: &Session,
                    refresh: &TokenHash,
                ) -> AuthResult<()> {
                    retrying(|| async move {
                        let mut tx: Tx = self.begin().await?;
                        sqlx::query(Self::sql(concat!(
                            "INSERT INTO authkit_sessions (",
                            $crate::sql_store::session_columns!(),
                            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                        )))
                        .bind(session.id)
                        .bind(session.user_id)
                        .bind(session.ip.as_deref())
                        .bind(session.user_agent.as_deref())
                        .bind(session.created_at)
                        .bind(session.last_seen_at)
                        .bind(session.expires_at)
                        .bind(session.revoked_at)
                        .bind(session.revoke_reason.as_deref())
                        .execute(&mut *tx)
                        .await?;
                        sqlx::query(Self::sql(
                            "INSERT INTO authkit_refresh_tokens (hash, session_id) VALUES (?, ?)",
                        ))
                        .bind(&refresh.0[..])
                        .bind(session.id)
                        .execute(&mut *tx)
                        .await?;
                        tx.commit().await
                    })
                    .await
                    .map_err(to_auth)
                }

                async fn session(&self, id: Uuid) -> AuthResult<Option<Session>> {
                    sqlx::query(Self::sql(concat!(
                        "SELECT ",
                        $crate::sql_store::session_columns!(),
                        " FROM authkit_sessions WHERE id = ?"
                    )))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .and_then(|row| row.map(|row| session_from_row(&row)).transpose())
                    .map_err(to_auth)
                }

                async fn session_by_refresh(
                    &self,
                    refresh: &TokenHash,
                ) -> AuthResult<Option<Session>> {
                    sqlx::query(Self::sql(
                        "SELECT s.id, s.user_id, s.ip, s.user_agent, s.created_at, \
                         s.last_seen_at, s.expires_at, s.revoked_at, s.revoke_reason \
                         FROM authkit_refresh_tokens r \
                         JOIN authkit_sessions s ON s.id = r.session_id WHERE r.hash = ?",
                    ))
                    .bind(&refresh.0[..])
                    .fetch_optional(&self.pool)
                    .await
                    .and_then(|row| row.map(|row| session_from_row(&row)).transpose())
                    .map_err(to_auth)
                }

                async fn session_by_current_refresh(
                    &self,
                    refresh: &TokenHash,
                ) -> AuthResult<Option<Session>> {
                    sqlx::query(Self::sql(
                        "SELECT s.id, s.user_id, s.ip, s.user_agent, s.created_at, \
                         s.last_seen_at, s.expires_at, s.revoked_at, s.revoke_reason \
                         FROM authkit_refresh_tokens r \
                         JOIN authkit_sessions s ON s.id = r.session_id \
                         WHERE r.hash = ? AND r.rotated_at IS NULL",
                    ))
                    .bind(&refresh.0[..])
                    .fetch_optional(&self.pool)
                    .await
                    .and_then(|row| row.map(|row| session_from_row(&row)).transpose())
                    .map_err(to_auth)
                }

                async fn rotate_refresh(&self, req: &RotateRefresh) -> AuthResult<RotateOutcome> {
                    match Self::ROTATION {
                        RotationPlan::Call(call) => {
                            retrying(|| self.rotate_in_one_call(call, req)).await
                        }
                        RotationPlan::Batch { read, retire } => {
                            retrying(|| self.rotate_batched(read, retire, req)).await
                        }
                        RotationPlan::Transaction => retrying(|| self.rotate_once(req)).await,
                    }
                    .map_err(to_auth)
                }

                async fn sessions_for_user(
                    &self,
                    user_id: Uuid,
                    now: DateTime<Utc>,
                ) -> AuthResult<Vec<Session>> {
                    sqlx::query(Self::sql(concat!(
                        "SELECT ",
                        $crate::sql_store::session_columns!(),
                        " FROM authkit_sessions \
                         WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ? \
                         ORDER BY created_at DESC, id DESC"
                    )))
                    .bind(user_id)
                    .bind(now)
                    .fetch_all(&self.pool)
                    .await
                    .and_then(|rows| rows.iter().map(session_from_row).collect())
                    .map_err(to_auth)
                }

                async fn revoke_session(
                    &self,
                    user_id: Uuid,
                    session_id: Uuid,
                    now: DateTime<Utc>,
                    reason: &str,
                ) -> AuthResult<bool> {
                    let done = retrying(|| {
                        sqlx::query(Self::sql(
                            "UPDATE authkit_sessions SET revoked_at = ?, revoke_reason = ? \
                             WHERE id = ? AND user_id = ? AND revoked_at IS NULL \
                             AND expires_at > ?",
                        ))
                        .bind(now)
                        .bind(reason)
                        .bind(session_id)
                        .bind(user_id)
                        .bind(now)
                        .execute(self.writer())
                    })
                    .await
                    .map_err(to_auth)?;
                    Ok(done.rows_affected() > 0)
                }

                async fn revoke_user_sessions(
                    &self,
                    user_id: Uuid,
                    keep: Option<Uuid>,
                    now: DateTime<Utc>,
                    reason: &str,
                ) -> AuthResult<u64> {
                    // The nil id is never a session id (they are v7).
                    let keep = keep.unwrap_or(Uuid::nil());
                    let done = retrying(|| {
                        sqlx::query(Self::sql(
                            "UPDATE authkit_sessions SET revoked_at = ?, revoke_reason = ? \
                             WHERE user_id = ? AND id <> ? AND revoked_at IS NULL \
                             AND expires_at > ?",
                        ))
                        .bind(now)
                        .bind(reason)
                        .bind(user_id)
                        .bind(keep)
                        .bind(now)
                        .execute(self.writer())
                    })
                    .await
                    .map_err(to_auth)?;
                    Ok(done.rows_affected())
                }

                async fn revoked_sessions_since(
                    &self,
                    since: DateTime<Utc>,
                ) -> AuthResult<Vec<Uuid>> {
                    sqlx::query_scalar(Self::sql(
                        "SELECT id FROM authkit_sessions \
                         WHERE revoked_at > ? AND expires_at > ?",
                    ))
                    .bind(since)
                    .bind(since)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(to_auth)
                }

                async fn purge_sessions(&self, before: DateTime<Utc>) -> AuthResult<u64> {
                    retrying(|| async move {
                        let mut tx: Tx = self.begin().await?;
                        sqlx::query(Self::sql(
                            "DELETE FROM authkit_refresh_tokens WHERE session_id IN \
                             (SELECT id FROM authkit_sessions \
                              WHERE expires_at < ? OR revoked_at < ?)",
                        ))
                        .bind(before)
                        .bind(before)
                        .execute(&mut *tx)
                        .await?;
                        let done = sqlx::query(Self::sql(
                            "DELETE FROM authkit_sessions WHERE expires_at < ? OR revoked_at < ?",
                        ))
                        .bind(before)
                        .bind(before)
                        .execute(&mut *tx)
                        .await?;
                        tx.commit().await?;
                        Ok(done.rows_affected())
                    })
                    .await
                    .map_err(to_auth)
                }
            }

            #[async_trait]
            impl OneTimeTokenStore for $store {
                async fn issue_token(&self, token: &OneTimeToken) -> AuthResult<()> {
                    // A concurrent issue for the same subject trips the
                    // one-live-token index once the other commits; running
                    // again supersedes it.
                    rerunning_on_conflict(|| self.issue_once(token))
                        .await
                        .map_err(to_auth)
                }

                async fn consume_token(
                    &self,
                    purpose: Purpose,
                    hash: &TokenHash,
                    now: DateTime<Utc>,
                ) -> AuthResult<Option<OneTimeToken>> {
                    retrying(|| self.consume_once(purpose, hash, now))
                        .await
                        .map_err(to_auth)
                }

                async fn find_token(
                    &self,
                    purpose: Purpose,
                    hash: &TokenHash,
                    now: DateTime<Utc>,
                ) -> AuthResult<Option<OneTimeToken>> {
                    let token = Self::token_by_hash(&self.pool, purpose, hash, false)
                        .await
                        .map_err(to_auth)?;
                    Ok(token.filter(|token| transitions::is_live(token, now)))
                }

                async fn check_code(
                    &self,
                    purpose: Purpose,
                    subject: &str,
                    hash: &TokenHash,
                    now: DateTime<Utc>,
                ) -> AuthResult<CodeCheck> {
                    retrying(|| self.check_code_once(purpose, subject, hash, now))
                        .await
                        .map_err(to_auth)
                }

                async fn peek_token(
                    &self,
                    purpose: Purpose,
                    subject: &str,
                    now: DateTime<Utc>,
                ) -> AuthResult<Option<OneTimeToken>> {
                    let token = Self::newest_token(&self.pool, purpose, subject, false)
                        .await
                        .map_err(to_auth)?;
                    Ok(token.filter(|token| transitions::is_live(token, now)))
                }

                async fn purge_tokens(&self, before: DateTime<Utc>) -> AuthResult<u64> {
                    let done = retrying(|| {
                        sqlx::query(Self::sql(
                            "DELETE FROM authkit_one_time_tokens \
                             WHERE expires_at < ? OR consumed_at < ?",
                        ))
                        .bind(before)
                        .bind(before)
                        .execute(self.writer())
                    })
                    .await
                    .map_err(to_auth)?;
                    Ok(done.rows_affected())
                }
            }

            #[async_trait]
            impl AuditStore for $store {
                async fn append_audit(&self, record: &AuditRecord) -> AuthResult<()> {
                    retrying(|| {
                        sqlx::query(Self::sql(Self::INSERT_AUDIT))
                            .bind(record.id)
                            .bind(record.at)
                            .bind(record.event.as_str())
                            .bind(record.user_id)
                            .bind(record.ip.as_deref())
                            .bind(record.user_agent.as_deref())
                            .bind(record.data.to_string())
                            .execute(self.writer())
                    })
                    .await
                    .map_err(to_auth)?;
                    Ok(())
                }

                async fn audit_records(&self, query: &AuditQuery) -> AuthResult<Vec<AuditRecord>> {
                    let mut sql = sqlx::QueryBuilder::<$db>::new(Self::SELECT_AUDIT);
                    sql.push(" WHERE 1 = 1");
                    if let Some(user_id) = query.user_id {
                        sql.push(" AND user_id = ").push_bind(user_id);
                    }
                    if let Some(event) = &query.event {
                        sql.push(" AND event = ").push_bind(event.clone());
                    }
                    if let Some(since) = query.since {
                        sql.push(" AND at >= ").push_bind(since);
                    }
                    if let Some(until) = query.until {
                        sql.push(" AND at < ").push_bind(until);
                    }
                    sql.push(" ORDER BY at DESC, id DESC LIMIT ")
                        .push_bind(sql_count(u64::from(query.limit)))
                        .push(" OFFSET ")
                        .push_bind(sql_count(query.offset));
                    sql.build()
                        .fetch_all(&self.pool)
                        .await
                        .and_then(|rows| rows.iter().map(audit_from_row).collect())
                        .map_err(to_auth)
                }
            }

            #[async_trait]
            impl KeyStore for $store {
                async fn signing_keys(&self) -> AuthResult<Vec<KeyRecord>> {
                    sqlx::query(Self::sql(
                        "SELECT kid, algorithm, private_material, created_at, retired_at \
                         FROM authkit_signing_keys ORDER BY created_at, kid",
                    ))
                    .fetch_all(&self.pool)
                    .await
                    .and_then(|rows| rows.iter().map(key_from_row).collect())
                    .map_err(to_auth)
                }

                async fn add_signing_key(&self, key: &KeyRecord) -> AuthResult<bool> {
                    let inserted = retrying(|| {
                        sqlx::query(Self::sql(
                            "INSERT INTO authkit_signing_keys \
                             (kid, algorithm, private_material, created_at, retired_at) \
                             VALUES (?, ?, ?, ?, ?)",
                        ))
                        .bind(key.kid.as_str())
                        .bind(key.algorithm.as_str())
                        .bind(key.private_material.as_str())
                        .bind(key.created_at)
                        .bind(key.retired_at)
                        .execute(self.writer())
                    })
                    .await;
                    match inserted {
                        Ok(_) => Ok(true),
                        Err(err) if classify(&err) == ErrorClass::UniqueViolation => Ok(false),
                        Err(err) => Err(to_auth(err)),
                    }
                }

                async fn retire_signing_key(&self, kid: &str, at: DateTime<Utc>) -> AuthResult<()> {
                    retrying(|| {
                        sqlx::query(Self::sql(
                            "UPDATE authkit_signing_keys SET retired_at = ? \
                             WHERE kid = ? AND retired_at IS NULL",
                        ))
                        .bind(at)
                        .bind(kid)
                        .execute(self.writer())
                    })
                    .await
                    .map_err(to_auth)?;
                    Ok(())
                }

                async fn delete_retired_keys(&self, before: DateTime<Utc>) -> AuthResult<u64> {
                    let done = retrying(|| {
                        sqlx::query(Self::sql(
                            "DELETE FROM authkit_signing_keys WHERE retired_at < ?",
                        ))
                        .bind(before)
                        .execute(self.writer())
                    })
                    .await
                    .map_err(to_auth)?;
                    Ok(done.rows_affected())
                }
            }
            $crate::org_store::impl_org_store!($store, $db);
        };
        $crate::mfa_store::impl_mfa_store!($store, $db);
        $crate::identity_store::impl_identity_store!($store, $db);
    };
}

pub(crate) use {impl_store, session_columns, token_columns, user_columns};
