//! The organisation routes: their request and answer types and their
//! table (registered in the API's `TABLES`). The handlers are in the api
//! layer (`api/orgs.rs`).

use http::Method;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::openapi as p;
use crate::api::routes::{Access, Endpoint, Input, OrgRoute, Route, Success, inline, named};
use crate::auth::MyOrg;
use crate::orgs::{InviteView, Member};

/// `POST /orgs`.
#[derive(Deserialize, ToSchema)]
pub(crate) struct CreateOrg {
    /// Display name.
    pub(crate) name: String,
    /// Unique, URL-safe, immutable handle.
    pub(crate) slug: String,
}

/// `PATCH /orgs/{slug}`.
#[derive(Deserialize, ToSchema)]
pub(crate) struct RenameOrg {
    /// The new display name.
    pub(crate) name: String,
}

/// `PATCH /orgs/{slug}/members/{user_id}`.
#[derive(Deserialize, ToSchema)]
pub(crate) struct RoleRequest {
    /// The organisation role (`OWNER`, `ADMIN`, `MEMBER`, or a host role).
    pub(crate) role: String,
}

/// `POST /orgs/{slug}/invites`.
#[derive(Deserialize, ToSchema)]
pub(crate) struct InviteRequest {
    /// The invited address.
    pub(crate) email: String,
    /// The role the invitee gets.
    pub(crate) role: String,
}

/// `POST /invites/accept`.
#[derive(Deserialize, ToSchema)]
pub(crate) struct AcceptRequest {
    /// The emailed invitation token.
    pub(crate) token: String,
}

/// 200 of `POST /invites/accept`.
#[derive(Serialize, ToSchema)]
pub(crate) struct Joined {
    /// The organisation joined, with the caller's role.
    pub(crate) membership: MyOrg,
}

const ORGS: &str = "organisations";

/// The routes of the organisations feature.
pub(crate) static ROUTES: &[Route] = &[
    Route::new(
        Method::POST,
        "/orgs",
        Endpoint::Org(OrgRoute::Create),
        ORGS,
        "Create an organisation; the caller becomes its OWNER",
    )
    .access(Access::Signed)
    .input(Input::Json(named::<CreateOrg>))
    .answers(&[Success::json(201, "Created", named::<MyOrg>)])
    .problems(&[p::LAST_OWNER]),
    Route::new(
        Method::GET,
        "/orgs",
        Endpoint::Org(OrgRoute::Mine),
        ORGS,
        "The caller's organisations with the caller's role",
    )
    .access(Access::Signed)
    .answers(&[Success::json(200, "By slug", inline::<Vec<MyOrg>>)]),
    Route::new(
        Method::GET,
        "/orgs/{slug}",
        Endpoint::Org(OrgRoute::View),
        ORGS,
        "One organisation of the caller",
    )
    .describe("Needs the organisation permission `org.view`; a non-member gets 404.")
    .access(Access::Signed)
    .answers(&[Success::json(200, "The organisation", named::<MyOrg>)])
    .problems(&[p::NOT_FOUND]),
    Route::new(
        Method::PATCH,
        "/orgs/{slug}",
        Endpoint::Org(OrgRoute::Rename),
        ORGS,
        "Rename an organisation",
    )
    .describe("Needs the organisation permission `org.update`.")
    .access(Access::Signed)
    .input(Input::Json(named::<RenameOrg>))
    .answers(&[Success::json(200, "Renamed", named::<MyOrg>)])
    .problems(&[p::NOT_FOUND]),
    Route::new(
        Method::POST,
        "/orgs/{slug}/leave",
        Endpoint::Org(OrgRoute::Leave),
        ORGS,
        "Leave an organisation (not as its last OWNER)",
    )
    .access(Access::Signed)
    .answers(&[Success::empty(204, "Left")])
    .problems(&[p::NOT_FOUND, p::LAST_OWNER]),
    Route::new(
        Method::GET,
        "/orgs/{slug}/members",
        Endpoint::Org(OrgRoute::Members),
        ORGS,
        "The members, oldest first",
    )
    .describe("Needs the organisation permission `member.view`.")
    .access(Access::Signed)
    .answers(&[Success::json(200, "Members", inline::<Vec<Member>>)])
    .problems(&[p::NOT_FOUND]),
    Route::new(
        Method::PATCH,
        "/orgs/{slug}/members/{user_id}",
        Endpoint::Org(OrgRoute::ChangeRole),
        ORGS,
        "Change a member's role",
    )
    .describe(
        "Needs the organisation permission `member.role.change`; only an OWNER grants OWNER          or changes an OWNER; the last OWNER cannot be demoted (409 `last_owner`).",
    )
    .access(Access::Signed)
    .input(Input::Json(named::<RoleRequest>))
    .answers(&[Success::json(200, "The member", named::<Member>)])
    .problems(&[p::NOT_FOUND, p::LAST_OWNER]),
    Route::new(
        Method::DELETE,
        "/orgs/{slug}/members/{user_id}",
        Endpoint::Org(OrgRoute::RemoveMember),
        ORGS,
        "Remove a member",
    )
    .describe(
        "Needs the organisation permission `member.remove`; only an OWNER removes an OWNER;          the last OWNER cannot be removed (409 `last_owner`).",
    )
    .access(Access::Signed)
    .answers(&[Success::empty(204, "Removed")])
    .problems(&[p::NOT_FOUND, p::LAST_OWNER]),
    Route::new(
        Method::POST,
        "/orgs/{slug}/invites",
        Endpoint::Org(OrgRoute::Invite),
        ORGS,
        "Invite an email address; a single-use link is emailed",
    )
    .describe(
        "Needs the organisation permission `member.invite`; a newer invitation to one          address replaces the older.",
    )
    .access(Access::Signed)
    .input(Input::Json(named::<InviteRequest>))
    .answers(&[Success::json(201, "Invitation sent", named::<InviteView>)])
    .problems(&[p::NOT_FOUND, p::LAST_OWNER]),
    Route::new(
        Method::GET,
        "/orgs/{slug}/invites",
        Endpoint::Org(OrgRoute::Invites),
        ORGS,
        "Pending invitations, newest first",
    )
    .describe("Needs the organisation permission `member.invite`.")
    .access(Access::Signed)
    .answers(&[Success::json(200, "Invitations", inline::<Vec<InviteView>>)])
    .problems(&[p::NOT_FOUND]),
    Route::new(
        Method::DELETE,
        "/orgs/{slug}/invites/{id}",
        Endpoint::Org(OrgRoute::RevokeInvite),
        ORGS,
        "Withdraw a pending invitation",
    )
    .describe("Needs the organisation permission `member.invite`.")
    .access(Access::Signed)
    .answers(&[Success::empty(204, "Withdrawn")])
    .problems(&[p::NOT_FOUND]),
    Route::new(
        Method::POST,
        "/invites/accept",
        Endpoint::Org(OrgRoute::AcceptInvite),
        ORGS,
        "Accept an invitation; the caller's verified email must be the invited one",
    )
    .describe(
        "401 `token_invalid` for an unknown, expired, spent or withdrawn invitation; 403          `email_not_verified` or `invite_email_mismatch`; 409 `already_member`.",
    )
    .access(Access::Signed)
    .input(Input::Json(named::<AcceptRequest>))
    .answers(&[Success::json(200, "Joined", named::<Joined>)])
    .problems(&[p::LAST_OWNER]),
];
