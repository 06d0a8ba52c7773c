//! The admin routes: their request and answer types, their table, and
//! their handlers (parse, call [`Auth`], render). The service checks the
//! global permissions.
//!
//! [`Auth`]: crate::Auth

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{Method, Request, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::Api;
use super::handlers::Answer;
use super::input;
use super::openapi as p;
use super::orgs::id_param;
use super::problem::{Failure, json as render, no_content};
use super::query::Query;
use super::routes::{Access, AdminRoute, Endpoint, Input, Route, Success, inline, named};
use crate::audit::{AuditRecord, RequestMeta};
use crate::auth::{AdminUser, AdminUserDetail, AuditFilter, Page};
use crate::error::AuthError;
use crate::principal::require_permission;
use crate::roles::{AUDIT_READ, ROLES_ASSIGN, USERS_READ, USERS_WRITE};
use crate::session::SessionView;

/// `POST /admin/users/{id}/lock` (the body is optional: no body locks
/// indefinitely, without a reason).
#[derive(Deserialize, ToSchema)]
pub(crate) struct LockRequest {
    /// When the lock ends (RFC 3339); absent: indefinitely.
    #[schema(format = DateTime)]
    pub(crate) until: Option<String>,
    /// Why, as shown to other administrators.
    pub(crate) reason: Option<String>,
}

/// `PUT /admin/users/{id}/roles`.
#[derive(Deserialize, ToSchema)]
pub(crate) struct RolesRequest {
    /// The account's global roles, replacing the current ones.
    pub(crate) roles: Vec<String>,
}

/// `GET /admin/users?q=&page=&per_page=`.
#[derive(ToSchema)]
pub(crate) struct UsersQuery {
    /// Text the email or display name contains.
    #[schema(max_length = 256)]
    pub(crate) q: Option<String>,
    /// 1-based page, default 1.
    #[schema(required = false, minimum = 1)]
    pub(crate) page: u32,
    /// Page size, default 50, at most 100.
    #[schema(required = false, minimum = 1, maximum = 100)]
    pub(crate) per_page: u32,
}

impl UsersQuery {
    fn read(query: Option<&str>) -> Result<Self, Failure> {
        let mut query = Query::parse(query);
        let (page, per_page) = query.page();
        let q = query.text("q");
        query.finish()?;
        Ok(Self { q, page, per_page })
    }
}

/// `GET /admin/audit?user=&event=&since=&until=&page=&per_page=`.
#[derive(ToSchema)]
pub(crate) struct AuditQuery {
    /// Only events about this account.
    pub(crate) user: Option<Uuid>,
    /// Only this event name.
    #[schema(max_length = 256)]
    pub(crate) event: Option<String>,
    /// Only events at or after this time (RFC 3339).
    pub(crate) since: Option<DateTime<Utc>>,
    /// Only events before this time (RFC 3339).
    pub(crate) until: Option<DateTime<Utc>>,
    /// 1-based page, default 1.
    #[schema(required = false, minimum = 1)]
    pub(crate) page: u32,
    /// Page size, default 50, at most 100.
    #[schema(required = false, minimum = 1, maximum = 100)]
    pub(crate) per_page: u32,
}

impl AuditQuery {
    fn read(query: Option<&str>) -> Result<Self, Failure> {
        let mut query = Query::parse(query);
        let (page, per_page) = query.page();
        let read = Self {
            user: query.uuid("user"),
            event: query.text("event"),
            since: query.time("since"),
            until: query.time("until"),
            page,
            per_page,
        };
        query.finish()?;
        Ok(read)
    }
}

/// 200 of `DELETE /admin/users/{id}/sessions`.
#[derive(Serialize, ToSchema)]
pub(crate) struct Revoked {
    /// How many sessions ended.
    pub(crate) revoked: u64,
}

const ADMIN: &str = "admin";

/// The routes of the admin feature.
pub(crate) static ROUTES: &[Route] = &[
    Route::new(
        Method::GET,
        "/admin/users",
        Endpoint::Admin(AdminRoute::Users),
        ADMIN,
        "Search accounts by email or display name, oldest first",
    )
    .describe("Needs the global permission `internal.users.read`.")
    .access(Access::Signed)
    .query(inline::<UsersQuery>)
    .answers(&[Success::json(200, "One page", inline::<Page<AdminUser>>)])
    .problems(&[p::VALIDATION_FAILED]),
    Route::new(
        Method::GET,
        "/admin/users/{id}",
        Endpoint::Admin(AdminRoute::User),
        ADMIN,
        "One account with its memberships",
    )
    .describe("Needs the global permission `internal.users.read`.")
    .access(Access::Signed)
    .answers(&[Success::json(200, "The account", named::<AdminUserDetail>)])
    .problems(&[p::NOT_FOUND]),
    Route::new(
        Method::POST,
        "/admin/users/{id}/lock",
        Endpoint::Admin(AdminRoute::Lock),
        ADMIN,
        "Lock an account; every session is revoked at once",
    )
    .describe("Needs the global permission `internal.users.write`.")
    .access(Access::Signed)
    .input(Input::OptionalJson(named::<LockRequest>))
    .answers(&[Success::json(200, "Locked", named::<AdminUser>)])
    .problems(&[p::NOT_FOUND]),
    Route::new(
        Method::POST,
        "/admin/users/{id}/unlock",
        Endpoint::Admin(AdminRoute::Unlock),
        ADMIN,
        "Lift a lock and clear the failed-login count",
    )
    .describe("Needs the global permission `internal.users.write`.")
    .access(Access::Signed)
    .answers(&[Success::json(200, "Unlocked", named::<AdminUser>)])
    .problems(&[p::NOT_FOUND]),
    Route::new(
        Method::POST,
        "/admin/users/{id}/deactivate",
        Endpoint::Admin(AdminRoute::Deactivate),
        ADMIN,
        "Deactivate an account; every session is revoked",
    )
    .describe("Needs the global permission `internal.users.write`.")
    .access(Access::Signed)
    .answers(&[Success::json(200, "Deactivated", named::<AdminUser>)])
    .problems(&[p::NOT_FOUND, p::VALIDATION_FAILED]),
    Route::new(
        Method::POST,
        "/admin/users/{id}/reactivate",
        Endpoint::Admin(AdminRoute::Reactivate),
        ADMIN,
        "Reactivate an account",
    )
    .describe("Needs the global permission `internal.users.write`.")
    .access(Access::Signed)
    .answers(&[Success::json(200, "Reactivated", named::<AdminUser>)])
    .problems(&[p::NOT_FOUND]),
    Route::new(
        Method::POST,
        "/admin/users/{id}/force-password-change",
        Endpoint::Admin(AdminRoute::ForcePasswordChange),
        ADMIN,
        "Demand a new password at the next login",
    )
    .describe("Needs the global permission `internal.users.write`.")
    .access(Access::Signed)
    .answers(&[Success::json(200, "Done", named::<AdminUser>)])
    .problems(&[p::NOT_FOUND]),
    Route::new(
        Method::PUT,
        "/admin/users/{id}/roles",
        Endpoint::Admin(AdminRoute::AssignRoles),
        ADMIN,
        "Set the global roles (effective at the next refresh)",
    )
    .describe("Needs the global permission `internal.roles.assign`.")
    .access(Access::Signed)
    .input(Input::Json(named::<RolesRequest>))
    .answers(&[Success::json(200, "The account", named::<AdminUser>)])
    .problems(&[p::NOT_FOUND]),
    Route::new(
        Method::GET,
        "/admin/users/{id}/sessions",
        Endpoint::Admin(AdminRoute::Sessions),
        ADMIN,
        "An account's live sessions",
    )
    .describe("Needs the global permission `internal.users.read`.")
    .access(Access::Signed)
    .answers(&[Success::json(200, "Sessions", inline::<Vec<SessionView>>)])
    .problems(&[p::NOT_FOUND]),
    Route::new(
        Method::DELETE,
        "/admin/users/{id}/sessions",
        Endpoint::Admin(AdminRoute::RevokeSessions),
        ADMIN,
        "Revoke every session of an account",
    )
    .describe("Needs the global permission `internal.users.write`.")
    .access(Access::Signed)
    .answers(&[Success::json(200, "How many ended", named::<Revoked>)])
    .problems(&[p::NOT_FOUND]),
    Route::new(
        Method::DELETE,
        "/admin/users/{id}/sessions/{session_id}",
        Endpoint::Admin(AdminRoute::RevokeSession),
        ADMIN,
        "Revoke one session of an account",
    )
    .describe("Needs the global permission `internal.users.write`.")
    .access(Access::Signed)
    .answers(&[Success::empty(204, "Revoked")])
    .problems(&[p::NOT_FOUND]),
    Route::new(
        Method::GET,
        "/admin/audit",
        Endpoint::Admin(AdminRoute::Audit),
        ADMIN,
        "The audit log, newest first",
    )
    .describe("Needs the global permission `internal.audit.read`.")
    .access(Access::Signed)
    .query(inline::<AuditQuery>)
    .answers(&[Success::json(200, "One page", inline::<Page<AuditRecord>>)])
    .problems(&[p::VALIDATION_FAILED]),
];

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
