//! The handlers of the admin routes (parse, call [`Auth`], render); their
//! types and table are in `admin/routes.rs`. The service checks the
//! global permissions.
//!
//! [`Auth`]: crate::Auth

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{Request, StatusCode};

use super::Api;
use super::handlers::Answer;
use super::input;
use super::orgs::id_param;
use super::problem::{Failure, json as render, no_content};
use super::routes::AdminRoute;
use crate::admin::routes::{AuditQuery, LockRequest, Revoked, RolesRequest, UsersQuery};
use crate::audit::RequestMeta;
use crate::auth::AuditFilter;
use crate::error::AuthError;
use crate::principal::require_permission;
use crate::roles::{AUDIT_READ, ROLES_ASSIGN, USERS_READ, USERS_WRITE};

impl AdminRoute {
    /// The global permission the route needs.
    fn permission(self) -> &'static str {
        match self {
            Self::Users | Self::User | Self::Sessions => USERS_READ,
            Self::Lock
            | Self::Unlock
            | Self::Deactivate
            | Self::Reactivate
            | Self::ForcePasswordChange
            | Self::RevokeSessions
            | Self::RevokeSession => USERS_WRITE,
            Self::AssignRoles => ROLES_ASSIGN,
            Self::Audit => AUDIT_READ,
        }
    }
}

impl Api {
    pub(super) async fn admin_route(
        &self,
        route: AdminRoute,
        params: &[String],
        request: &Request<Bytes>,
        meta: &RequestMeta,
    ) -> Answer {
        let auth = self.auth();
        let principal = self.principal(request)?;
        // Refuse before reading anything else: a caller without the
        // permission learns nothing about accounts or input rules.
        require_permission(&principal, route.permission())?;
        match route {
            AdminRoute::Users => {
                let UsersQuery { q, page, per_page } = UsersQuery::read(request.uri().query())?;
                let users = auth
                    .admin()
                    .users(&principal, q.as_deref(), page, per_page)
                    .await?;
                Ok(render(StatusCode::OK, &users))
            }
            AdminRoute::Audit => {
                let query = AuditQuery::read(request.uri().query())?;
                let (page, per_page) = (query.page, query.per_page);
                let filter = AuditFilter {
                    user_id: query.user,
                    event: query.event,
                    since: query.since,
                    until: query.until,
                };
                let records = auth
                    .admin()
                    .audit(&principal, filter, page, per_page)
                    .await?;
                Ok(render(StatusCode::OK, &records))
            }
            AdminRoute::User => {
                let user = auth.admin().user(&principal, id_param(params, 0)?).await?;
                Ok(render(StatusCode::OK, &user))
            }
            AdminRoute::Lock => {
                let id = id_param(params, 0)?;
                let (until, reason) = self.lock_request(request)?;
                let user = auth
                    .admin()
                    .lock_user(&principal, id, until, reason.as_deref(), meta)
                    .await?;
                Ok(render(StatusCode::OK, &user))
            }
            AdminRoute::Unlock => {
                let id = id_param(params, 0)?;
                let user = auth.admin().unlock_user(&principal, id, meta).await?;
                Ok(render(StatusCode::OK, &user))
            }
            AdminRoute::Deactivate => {
                let id = id_param(params, 0)?;
                let user = auth.admin().deactivate_user(&principal, id, meta).await?;
                Ok(render(StatusCode::OK, &user))
            }
            AdminRoute::Reactivate => {
                let id = id_param(params, 0)?;
                let user = auth.admin().reactivate_user(&principal, id, meta).await?;
                Ok(render(StatusCode::OK, &user))
            }
            AdminRoute::ForcePasswordChange => {
                let id = id_param(params, 0)?;
                let user = auth
                    .admin()
                    .force_password_change(&principal, id, meta)
                    .await?;
                Ok(render(StatusCode::OK, &user))
            }
            AdminRoute::AssignRoles => {
                let id = id_param(params, 0)?;
                let RolesRequest { roles } = self.body(request)?;
                let user = auth
                    .admin()
                    .assign_roles(&principal, id, &roles, meta)
                    .await?;
                Ok(render(StatusCode::OK, &user))
            }
            AdminRoute::Sessions => {
                let id = id_param(params, 0)?;
                let sessions = auth.admin().user_sessions(&principal, id).await?;
                Ok(render(StatusCode::OK, &sessions))
            }
            AdminRoute::RevokeSessions => {
                let id = id_param(params, 0)?;
                let count = auth
                    .admin()
                    .revoke_sessions(&principal, id, None, meta)
                    .await?;
                Ok(render(StatusCode::OK, &Revoked { revoked: count }))
            }
            AdminRoute::RevokeSession => {
                let id = id_param(params, 0)?;
                let session = id_param(params, 1)?;
                auth.admin()
                    .revoke_sessions(&principal, id, Some(session), meta)
                    .await?;
                Ok(no_content())
            }
        }
    }

    /// The optional `{until, reason}` body of a lock (no `until`:
    /// indefinitely; no body: indefinitely, without a reason).
    fn lock_request(
        &self,
        request: &Request<Bytes>,
    ) -> Result<(Option<DateTime<Utc>>, Option<String>), Failure> {
        let Some(LockRequest { until, reason }) =
            input::optional_typed(request, self.config().body_limit)?
        else {
            return Ok((None, None));
        };
        let until = until
            .map(|t| {
                DateTime::parse_from_rfc3339(&t)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|_| {
                        AuthError::invalid_field(
                            "until",
                            "invalid_datetime",
                            "Expected an RFC 3339 time, e.g. 2026-01-31T12:00:00Z.",
                        )
                    })
            })
            .transpose()?;
        Ok((until, reason))
    }
}
