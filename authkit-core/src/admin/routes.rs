//! The admin routes: their request, query and answer types and their
//! table (registered in the API's `TABLES`). The handlers are in the api
//! layer (`api/admin.rs`).

use chrono::{DateTime, Utc};
use http::Method;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::api::openapi as p;
use crate::api::problem::Failure;
use crate::api::query::Query;
use crate::api::routes::{Access, AdminRoute, Endpoint, Input, Route, Success, inline, named};
use crate::audit::AuditRecord;
use crate::auth::{AdminUser, AdminUserDetail, Page};
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
    /// The query of `GET /admin/...`, every bad parameter reported at once.
    pub(crate) fn read(query: Option<&str>) -> Result<Self, Failure> {
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
    /// The query of `GET /admin/...`, every bad parameter reported at once.
    pub(crate) fn read(query: Option<&str>) -> Result<Self, Failure> {
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
