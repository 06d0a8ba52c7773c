//! [`OrgStore`](authkit_core::store::OrgStore) and
//! [`UserAdminStore`](authkit_core::store::UserAdminStore), implemented once
//! for every backend with the same inherent items as [`crate::sql_store`].
//!
//! Every change to an organisation's members (role change, removal,
//! accepting an invitation, a new invitation) is one transaction that
//! first locks the organisation's row in `authkit_orgs` (`FOR UPDATE`;
//! `BEGIN IMMEDIATE` on SQLite), which serializes them per organisation:
//! two owners demoting each other at once leave one owner, and N
//! acceptances of one invitation make one membership.

/// Implements `OrgStore` and `UserAdminStore` for `$store` (reads through
/// `self.pool`, writes through `self.writer()`) on database `$db`. Invoked inside `impl_store!`, whose
/// row decoders (`user_from_row`) it shares.
macro_rules! impl_org_store {
    ($store:ty, $db:ty) => {
        const _: () = {
            use async_trait::async_trait;
            use authkit_core::error::{AuthError, AuthResult};
            use authkit_core::orgs::{
                Invite, InviteAcceptance, Member, MemberChange, Membership, Org,
            };
            use authkit_core::secret::TokenHash;
            use authkit_core::store::{OrgStore, UserAdminStore};
            use authkit_core::user::{AdminLock, User};
            use chrono::{DateTime, Utc};
            use sqlx::Row as _;
            use uuid::Uuid;

            use $crate::columns::{email_from_db, hash_from_db};
            use $crate::error::{ErrorClass, classify, retrying, to_auth};

            type DbRow = <$db as sqlx::Database>::Row;
            type Tx = sqlx::Transaction<'static, $db>;

            fn org_from_row(row: &DbRow) -> Result<Org, sqlx::Error> {
                Ok(Org {
                    id: row.try_get("id")?,
                    slug: row.try_get("slug")?,
                    name: row.try_get("name")?,
                    created_at: row.try_get("created_at")?,
                    updated_at: row.try_get("updated_at")?,
                })
            }

            fn membership_from_row(row: &DbRow) -> Result<Membership, sqlx::Error> {
                Ok(Membership {
                    org_id: row.try_get("org_id")?,
                    user_id: row.try_get("user_id")?,
                    role: row.try_get("role")?,
                    created_at: row.try_get("created_at")?,
                    updated_at: row.try_get("updated_at")?,
                })
            }

            fn invite_from_row(row: &DbRow) -> Result<Invite, sqlx::Error> {
                Ok(Invite {
                    id: row.try_get("id")?,
                    org_id: row.try_get("org_id")?,
                    email: email_from_db(&row.try_get::<String, _>("email")?)?,
                    role: row.try_get("role")?,
                    token_hash: hash_from_db(
                        "token_hash",
                        &row.try_get::<Vec<u8>, _>("token_hash")?,
                    )?,
                    invited_by: row.try_get("invited_by")?,
                    created_at: row.try_get("created_at")?,
                    expires_at: row.try_get("expires_at")?,
                    closed_at: row.try_get("closed_at")?,
                })
            }

            /// `%text%` for `LIKE ... ESCAPE '!'`, with the wildcards of
            /// `text` matching themselves.
            fn contains_pattern(text: &str) -> String {
                let mut pattern = String::with_capacity(text.len() + 2);
                pattern.push('%');
                for c in text.to_lowercase().chars() {
                    if matches!(c, '!' | '%' | '_') {
                        pattern.push('!');
                    }
                    pattern.push(c);
                }
                pattern.push('%');
                pattern
            }

            impl $store {
                /// Locks the organisation's row until `tx` ends; whether it
                /// exists.
                async fn lock_org(tx: &mut Tx, org_id: Uuid) -> Result<bool, sqlx::Error> {
                    Ok(
                        sqlx::query(Self::locked("SELECT id FROM authkit_orgs WHERE id = ?"))
                            .bind(org_id)
                            .fetch_optional(&mut **tx)
                            .await?
                            .is_some(),
                    )
                }

                async fn member_row(
                    tx: &mut Tx,
                    org_id: Uuid,
                    user_id: Uuid,
                ) -> Result<Option<Membership>, sqlx::Error> {
                    sqlx::query(Self::locked(
                        "SELECT org_id, user_id, role, created_at, updated_at \
                         FROM authkit_org_members WHERE org_id = ? AND user_id = ?",
                    ))
                    .bind(org_id)
                    .bind(user_id)
                    .fetch_optional(&mut **tx)
                    .await?
                    .map(|row| membership_from_row(&row))
                    .transpose()
                }

                /// Whether `current` is its organisation's only `owner_role`.
                async fn is_last_owner(
                    tx: &mut Tx,
                    current: &Membership,
                    owner_role: &str,
                ) -> Result<bool, sqlx::Error> {
                    if current.role != owner_role {
                        return Ok(false);
                    }
                    let owners: i64 = sqlx::query(Self::sql(
                        "SELECT COUNT(*) AS n FROM authkit_org_members \
                         WHERE org_id = ? AND role = ?",
                    ))
                    .bind(current.org_id)
                    .bind(owner_role)
                    .fetch_one(&mut **tx)
                    .await?
                    .try_get("n")?;
                    Ok(owners <= 1)
                }

                async fn create_org_once(
                    &self,
                    org: &Org,
                    owner: &Membership,
                ) -> Result<(), sqlx::Error> {
                    let mut tx: Tx = self.begin().await?;
                    sqlx::query(Self::sql(
                        "INSERT INTO authkit_orgs (id, slug, name, created_at, updated_at) \
                         VALUES (?, ?, ?, ?, ?)",
                    ))
                    .bind(org.id)
                    .bind(org.slug.as_str())
                    .bind(org.name.as_str())
                    .bind(org.created_at)
                    .bind(org.updated_at)
                    .execute(&mut *tx)
                    .await?;
                    Self::insert_member(&mut tx, owner).await?;
                    tx.commit().await
                }

                async fn insert_member(tx: &mut Tx, m: &Membership) -> Result<(), sqlx::Error> {
                    sqlx::query(Self::sql(
                        "INSERT INTO authkit_org_members \
                         (org_id, user_id, role, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                    ))
                    .bind(m.org_id)
                    .bind(m.user_id)
                    .bind(m.role.as_str())
                    .bind(m.created_at)
                    .bind(m.updated_at)
                    .execute(&mut **tx)
                    .await?;
                    Ok(())
                }

                async fn set_role_once(
                    &self,
                    org_id: Uuid,
                    user_id: Uuid,
                    role: &str,
                    owner_role: &str,
                    now: DateTime<Utc>,
                ) -> Result<MemberChange, sqlx::Error> {
                    let mut tx: Tx = self.begin().await?;
                    if !Self::lock_org(&mut tx, org_id).await? {
                        return Ok(MemberChange::NotMember);
                    }
                    let Some(current) = Self::member_row(&mut tx, org_id, user_id).await? else {
                        return Ok(MemberChange::NotMember);
                    };
                    if role != owner_role && Self::is_last_owner(&mut tx, &current, owner_role).await? {
                        return Ok(MemberChange::LastOwner);
                    }
                    sqlx::query(Self::sql(
                        "UPDATE authkit_org_members SET role = ?, updated_at = ? \
                         WHERE org_id = ? AND user_id = ?",
                    ))
                    .bind(role)
                    .bind(now)
                    .bind(org_id)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(MemberChange::Done(current))
                }

                async fn remove_once(
                    &self,
                    org_id: Uuid,
                    user_id: Uuid,
                    owner_role: &str,
                ) -> Result<MemberChange, sqlx::Error> {
                    let mut tx: Tx = self.begin().await?;
                    if !Self::lock_org(&mut tx, org_id).await? {
                        return Ok(MemberChange::NotMember);
                    }
                    let Some(current) = Self::member_row(&mut tx, org_id, user_id).await? else {
                        return Ok(MemberChange::NotMember);
                    };
                    if Self::is_last_owner(&mut tx, &current, owner_role).await? {
                        return Ok(MemberChange::LastOwner);
                    }
                    sqlx::query(Self::sql(
                        "DELETE FROM authkit_org_members WHERE org_id = ? AND user_id = ?",
                    ))
                    .bind(org_id)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(MemberChange::Done(current))
                }

                async fn create_invite_once(&self, invite: &Invite) -> Result<(), sqlx::Error> {
                    let mut tx: Tx = self.begin().await?;
                    Self::lock_org(&mut tx, invite.org_id).await?;
                    sqlx::query(Self::sql(
                        "UPDATE authkit_org_invites SET closed_at = ? \
                         WHERE org_id = ? AND email = ? AND closed_at IS NULL",
                    ))
                    .bind(invite.created_at)
                    .bind(invite.org_id)
                    .bind(invite.email.as_str())
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(Self::sql(
                        "INSERT INTO authkit_org_invites (id, org_id, email, role, token_hash, \
                         invited_by, created_at, expires_at, closed_at) \
                         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    ))
                    .bind(invite.id)
                    .bind(invite.org_id)
                    .bind(invite.email.as_str())
                    .bind(invite.role.as_str())
                    .bind(&invite.token_hash.0[..])
                    .bind(invite.invited_by)
                    .bind(invite.created_at)
                    .bind(invite.expires_at)
                    .bind(invite.closed_at)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await
                }

                async fn invite_row<'e, E: sqlx::Executor<'e, Database = $db>>(
                    executor: E,
                    hash: &TokenHash,
                    lock: bool,
                ) -> Result<Option<Invite>, sqlx::Error> {
                    const SQL: &str = "SELECT id, org_id, email, role, token_hash, invited_by, \
                         created_at, expires_at, closed_at FROM authkit_org_invites \
                         WHERE token_hash = ?";
                    let sql = if lock { Self::locked(SQL) } else { Self::sql(SQL) };
                    sqlx::query(sql)
                        .bind(&hash.0[..])
                        .fetch_optional(executor)
                        .await?
                        .map(|row| invite_from_row(&row))
                        .transpose()
                }

                async fn accept_once(
                    &self,
                    hash: &TokenHash,
                    user_id: Uuid,
                    now: DateTime<Utc>,
                ) -> Result<InviteAcceptance, sqlx::Error> {
                    // The organisation of an invitation never changes: find
                    // it without a lock, then lock the organisation, which
                    // serializes every acceptance.
                    let Some(found) = Self::invite_row(&self.pool, hash, false).await? else {
                        return Ok(InviteAcceptance::Invalid);
                    };
                    let mut tx: Tx = self.begin().await?;
                    Self::lock_org(&mut tx, found.org_id).await?;
                    let invite = Self::invite_row(&mut *tx, hash, true)
                        .await?
                        .filter(|i| i.is_live(now));
                    let Some(invite) = invite else {
                        return Ok(InviteAcceptance::Invalid);
                    };
                    if Self::member_row(&mut tx, invite.org_id, user_id).await?.is_some() {
                        return Ok(InviteAcceptance::AlreadyMember);
                    }
                    let membership =
                        Membership::new(invite.org_id, user_id, invite.role.clone(), now);
                    Self::insert_member(&mut tx, &membership).await?;
                    sqlx::query(Self::sql(
                        "UPDATE authkit_org_invites SET closed_at = ? WHERE id = ?",
                    ))
                    .bind(now)
                    .bind(invite.id)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(InviteAcceptance::Accepted(membership))
                }

                async fn org_where(
                    &self,
                    sql: &'static str,
                    value: impl for<'q> sqlx::Encode<'q, $db> + sqlx::Type<$db> + Send,
                ) -> AuthResult<Option<Org>> {
                    sqlx::query(Self::sql(sql))
                        .bind(value)
                        .fetch_optional(&self.pool)
                        .await
                        .and_then(|row| row.map(|row| org_from_row(&row)).transpose())
                        .map_err(to_auth)
                }
            }

            #[async_trait]
            impl OrgStore for $store {
                async fn create_org(&self, org: &Org, owner: &Membership) -> AuthResult<()> {
                    match retrying(|| self.create_org_once(org, owner)).await {
                        Ok(()) => Ok(()),
                        Err(err) if classify(&err) == ErrorClass::UniqueViolation => {
                            Err(AuthError::SlugTaken)
                        }
                        Err(err) => Err(to_auth(err)),
                    }
                }

                async fn org_by_slug(&self, slug: &str) -> AuthResult<Option<Org>> {
                    self.org_where(
                        "SELECT id, slug, name, created_at, updated_at FROM authkit_orgs \
                         WHERE slug = ?",
                        slug.to_owned(),
                    )
                    .await
                }

                async fn org_by_id(&self, id: Uuid) -> AuthResult<Option<Org>> {
                    self.org_where(
                        "SELECT id, slug, name, created_at, updated_at FROM authkit_orgs \
                         WHERE id = ?",
                        id,
                    )
                    .await
                }

                async fn update_org(&self, org: &Org) -> AuthResult<()> {
                    retrying(|| {
                        sqlx::query(Self::sql(
                            "UPDATE authkit_orgs SET name = ?, updated_at = ? WHERE id = ?",
                        ))
                        .bind(org.name.as_str())
                        .bind(org.updated_at)
                        .bind(org.id)
                        .execute(self.writer())
                    })
                    .await
                    .map_err(to_auth)?;
                    // MySQL counts only changed rows: ask whether it exists.
                    match self.org_by_id(org.id).await? {
                        Some(_) => Ok(()),
                        None => Err(AuthError::NotFound),
                    }
                }

                async fn membership(
                    &self,
                    org_id: Uuid,
                    user_id: Uuid,
                ) -> AuthResult<Option<Membership>> {
                    sqlx::query(Self::sql(
                        "SELECT org_id, user_id, role, created_at, updated_at \
                         FROM authkit_org_members WHERE org_id = ? AND user_id = ?",
                    ))
                    .bind(org_id)
                    .bind(user_id)
                    .fetch_optional(&self.pool)
                    .await
                    .and_then(|row| row.map(|row| membership_from_row(&row)).transpose())
                    .map_err(to_auth)
                }

                async fn orgs_for_user(
                    &self,
                    user_id: Uuid,
                ) -> AuthResult<Vec<(Org, Membership)>> {
                    sqlx::query(Self::sql(
                        "SELECT o.id, o.slug, o.name, o.created_at, o.updated_at, \
                         m.org_id, m.user_id, m.role, m.created_at AS m_created_at, \
                         m.updated_at AS m_updated_at \
                         FROM authkit_org_members m JOIN authkit_orgs o ON o.id = m.org_id \
                         WHERE m.user_id = ? ORDER BY o.slug",
                    ))
                    .bind(user_id)
                    .fetch_all(&self.pool)
                    .await
                    .and_then(|rows| {
                        rows.iter()
                            .map(|row| {
                                Ok((
                                    org_from_row(row)?,
                                    Membership {
                                        org_id: row.try_get("org_id")?,
                                        user_id: row.try_get("user_id")?,
                                        role: row.try_get("role")?,
                                        created_at: row.try_get("m_created_at")?,
                                        updated_at: row.try_get("m_updated_at")?,
                                    },
                                ))
                            })
                            .collect()
                    })
                    .map_err(to_auth)
                }

                async fn members(&self, org_id: Uuid) -> AuthResult<Vec<Member>> {
                    sqlx::query(Self::sql(
                        "SELECT m.user_id, u.email, u.display_name, m.role, m.created_at \
                         FROM authkit_org_members m JOIN authkit_users u ON u.id = m.user_id \
                         WHERE m.org_id = ? ORDER BY m.created_at, m.user_id",
                    ))
                    .bind(org_id)
                    .fetch_all(&self.pool)
                    .await
                    .and_then(|rows| {
                        rows.iter()
                            .map(|row| {
                                Ok(Member {
                                    user_id: row.try_get("user_id")?,
                                    email: row.try_get("email")?,
                                    display_name: row.try_get("display_name")?,
                                    role: row.try_get("role")?,
                                    joined_at: row.try_get("created_at")?,
                                })
                            })
                            .collect()
                    })
                    .map_err(to_auth)
                }

                async fn set_member_role(
                    &self,
                    org_id: Uuid,
                    user_id: Uuid,
                    role: &str,
                    owner_role: &str,
                    now: DateTime<Utc>,
                ) -> AuthResult<MemberChange> {
                    retrying(|| self.set_role_once(org_id, user_id, role, owner_role, now))
                        .await
                        .map_err(to_auth)
                }

                async fn remove_member(
                    &self,
                    org_id: Uuid,
                    user_id: Uuid,
                    owner_role: &str,
                ) -> AuthResult<MemberChange> {
                    retrying(|| self.remove_once(org_id, user_id, owner_role))
                        .await
                        .map_err(to_auth)
                }

                async fn create_invite(&self, invite: &Invite) -> AuthResult<()> {
                    retrying(|| self.create_invite_once(invite))
                        .await
                        .map_err(to_auth)
                }

                async fn invite_by_hash(
                    &self,
                    hash: &TokenHash,
                    now: DateTime<Utc>,
                ) -> AuthResult<Option<Invite>> {
                    let invite = Self::invite_row(&self.pool, hash, false)
                        .await
                        .map_err(to_auth)?;
                    Ok(invite.filter(|i| i.is_live(now)))
                }

                async fn invites_for_org(
                    &self,
                    org_id: Uuid,
                    now: DateTime<Utc>,
                ) -> AuthResult<Vec<Invite>> {
                    sqlx::query(Self::sql(
                        "SELECT id, org_id, email, role, token_hash, invited_by, created_at, \
                         expires_at, closed_at FROM authkit_org_invites \
                         WHERE org_id = ? AND closed_at IS NULL AND expires_at > ? \
                         ORDER BY created_at DESC, id DESC",
                    ))
                    .bind(org_id)
                    .bind(now)
                    .fetch_all(&self.pool)
                    .await
                    .and_then(|rows| rows.iter().map(invite_from_row).collect())
                    .map_err(to_auth)
                }

                async fn revoke_invite(
                    &self,
                    org_id: Uuid,
                    invite_id: Uuid,
                    now: DateTime<Utc>,
                ) -> AuthResult<bool> {
                    let done = retrying(|| {
                        sqlx::query(Self::sql(
                            "UPDATE authkit_org_invites SET closed_at = ? \
                             WHERE id = ? AND org_id = ? AND closed_at IS NULL \
                             AND expires_at > ?",
                        ))
                        .bind(now)
                        .bind(invite_id)
                        .bind(org_id)
                        .bind(now)
                        .execute(self.writer())
                    })
                    .await
                    .map_err(to_auth)?;
                    Ok(done.rows_affected() > 0)
                }

                async fn accept_invite(
                    &self,
                    hash: &TokenHash,
                    user_id: Uuid,
                    now: DateTime<Utc>,
                ) -> AuthResult<InviteAcceptance> {
                    retrying(|| self.accept_once(hash, user_id, now))
                        .await
                        .map_err(to_auth)
                }
            }

            #[async_trait]
            impl UserAdminStore for $store {
                async fn search_users(
                    &self,
                    query: Option<&str>,
                    offset: u64,
                    limit: u32,
                ) -> AuthResult<Vec<User>> {
                    let mut sql = sqlx::QueryBuilder::<$db>::new(concat!(
                        "SELECT ",
                        $crate::sql_store::user_columns!(),
                        " FROM authkit_users"
                    ));
                    if let Some(query) = query.filter(|q| !q.is_empty()) {
                        let pattern = contains_pattern(query);
                        sql.push(" WHERE email LIKE ")
                            .push_bind(pattern.clone())
                            .push(" ESCAPE '!' OR LOWER(display_name) LIKE ")
                            .push_bind(pattern)
                            .push(" ESCAPE '!'");
                    }
                    sql.push(" ORDER BY created_at, id LIMIT ")
                        .push_bind(i64::from(limit))
                        .push(" OFFSET ")
                        .push_bind(i64::try_from(offset).unwrap_or(i64::MAX));
                    let rows = sql.build().fetch_all(&self.pool).await.map_err(to_auth)?;
                    rows.iter()
                        .map(user_from_row)
                        .collect::<Result<_, _>>()
                        .map_err(to_auth)
                }

                async fn lock_user(&self, user_id: Uuid, lock: &AdminLock) -> AuthResult<()> {
                    let done = retrying(|| {
                        sqlx::query(Self::sql(
                            "UPDATE authkit_users SET admin_locked_until = ?, \
                             admin_lock_reason = ?, admin_locked_by = ?, admin_locked_at = ? \
                             WHERE id = ?",
                        ))
                        .bind(Self::far_time(lock.until))
                        .bind(lock.reason.as_deref())
                        .bind(lock.actor_id)
                        .bind(lock.locked_at)
                        .bind(user_id)
                        .execute(self.writer())
                    })
                    .await
                    .map_err(to_auth)?;
                    self.applied(done.rows_affected(), user_id).await.map(drop)
                }

                async fn unlock_user(&self, user_id: Uuid) -> AuthResult<()> {
                    let done = retrying(|| {
                        sqlx::query(Self::sql(
                            "UPDATE authkit_users SET admin_locked_until = NULL, \
                             admin_lock_reason = NULL, admin_locked_by = NULL, \
                             admin_locked_at = NULL, failed_login_count = 0, \
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
        };
    };
}

pub(crate) use impl_org_store;
