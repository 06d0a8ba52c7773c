//! Handlers of the admin routes: parse, call [`Auth`], render. The
//! service checks the global permissions.
//!
//! [`Auth`]: crate::Auth

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{Request, StatusCode};
use serde_json::json;

use super::Api;
use super::handlers::Answer;
use super::input;
use super::orgs::id_param;
use super::problem::{json as render, no_content};
use super::query::Query;
use super::routes::AdminRoute;
use crate::audit::RequestMeta;
use crate::error::AuthError;
use crate::principal::require_permission;
use crate::roles::{AUDIT_READ, ROLES_ASSIGN, USERS_READ, USERS_WRITE};
use crate::service::AuditFilter;

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
                let mut query = Query::parse(request.uri().query());
                let (page, per_page) = query.page();
                let q = query.text("q");
                query.finish()?;
                let users = auth
                    .admin_users(&principal, q.as_deref(), page, per_page)
                    .await?;
                Ok(render(StatusCode::OK, &users))
            }
            AdminRoute::Audit => {
                let mut query = Query::parse(request.uri().query());
                let (page, per_page) = query.page();
                let filter = AuditFilter {
                    user_id: query.uuid("user"),
                    event: query.text("event"),
                    since: query.time("since"),
                    until: query.time("until"),
                };
                query.finish()?;
                let records = auth.admin_audit(&principal, filter, page, per_page).await?;
                Ok(render(StatusCode::OK, &records))
            }
            AdminRoute::User => {
                let user = auth.admin_user(&principal, id_param(params, 0)?).await?;
                Ok(render(StatusCode::OK, &user))
            }
            AdminRoute::Lock => {
                let id = id_param(params, 0)?;
                let (until, reason) = self.lock_request(request)?;
                let user = auth
                    .admin_lock_user(&principal, id, until, reason.as_deref(), meta)
                    .await?;
                Ok(render(StatusCode::OK, &user))
            }
            AdminRoute::Unlock => {
                let id = id_param(params, 0)?;
                let user = auth.admin_unlock_user(&principal, id, meta).await?;
                Ok(render(StatusCode::OK, &user))
            }
            AdminRoute::Deactivate => {
                let id = id_param(params, 0)?;
                let user = auth.admin_deactivate_user(&principal, id, meta).await?;
                Ok(render(StatusCode::OK, &user))
            }
            AdminRoute::Reactivate => {
                let id = id_param(params, 0)?;
                let user = auth.admin_reactivate_user(&principal, id, meta).await?;
                Ok(render(StatusCode::OK, &user))
            }
            AdminRoute::ForcePasswordChange => {
                let id = id_param(params, 0)?;
                let user = auth
                    .admin_force_password_change(&principal, id, meta)
                    .await?;
                Ok(render(StatusCode::OK, &user))
            }
            AdminRoute::AssignRoles => {
                let id = id_param(params, 0)?;
                let body = self.body(request)?;
                let mut f = body.fields();
                let roles = f.strings("roles");
                f.finish()?;
                let user = auth
                    .admin_assign_roles(&principal, id, &roles, meta)
                    .await?;
                Ok(render(StatusCode::OK, &user))
            }
            AdminRoute::Sessions => {
                let id = id_param(params, 0)?;
                let sessions = auth.admin_user_sessions(&principal, id).await?;
                Ok(render(StatusCode::OK, &sessions))
            }
            AdminRoute::RevokeSessions => {
                let id = id_param(params, 0)?;
                let count = auth
                    .admin_revoke_sessions(&principal, id, None, meta)
                    .await?;
                Ok(render(StatusCode::OK, &json!({ "revoked": count })))
            }
            AdminRoute::RevokeSession => {
                let id = id_param(params, 0)?;
                let session = id_param(params, 1)?;
                auth.admin_revoke_sessions(&principal, id, Some(session), meta)
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
    ) -> Result<(Option<DateTime<Utc>>, Option<String>), super::problem::Failure> {
        let Some(body) = input::optional_json(request, self.config().body_limit)? else {
            return Ok((None, None));
        };
        let mut f = body.fields();
        let until = f.optional("until");
        let reason = f.optional("reason");
        f.finish()?;
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
