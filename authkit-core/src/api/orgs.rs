//! The handlers of the organisation routes (parse, call [`Auth`], render);
//! their types and table are in `orgs/routes.rs`.
//!
//! [`Auth`]: crate::Auth

use bytes::Bytes;
use http::{Request, StatusCode};
use uuid::Uuid;

use super::Api;
use super::handlers::Answer;
use super::problem::{json as render, no_content};
use super::routes::OrgRoute;
use crate::audit::RequestMeta;
use crate::error::AuthError;
use crate::orgs::routes::{
    AcceptRequest, CreateOrg, InviteRequest, Joined, RenameOrg, RoleRequest,
};

/// The path parameter at `index`, or 404 when it is missing.
pub(super) fn param(params: &[String], index: usize) -> Result<&str, AuthError> {
    params
        .get(index)
        .map(String::as_str)
        .ok_or(AuthError::NotFound)
}

/// The path parameter at `index` as a UUID: anything else names nothing
/// (404).
pub(super) fn id_param(params: &[String], index: usize) -> Result<Uuid, AuthError> {
    Uuid::parse_str(param(params, index)?).map_err(|_| AuthError::NotFound)
}

impl Api {
    pub(super) async fn org_route(
        &self,
        route: OrgRoute,
        params: &[String],
        request: &Request<Bytes>,
        meta: &RequestMeta,
    ) -> Answer {
        let auth = self.auth();
        let principal = self.principal(request)?;
        match route {
            OrgRoute::Create => {
                let CreateOrg { name, slug } = self.body(request)?;
                let org = auth.orgs().create(&principal, &name, &slug, meta).await?;
                Ok(render(StatusCode::CREATED, &org))
            }
            OrgRoute::Mine => Ok(render(StatusCode::OK, &auth.orgs().mine(&principal).await?)),
            OrgRoute::View => {
                let org = auth.orgs().get(&principal, param(params, 0)?).await?;
                Ok(render(StatusCode::OK, &org))
            }
            OrgRoute::Rename => {
                let slug = param(params, 0)?;
                let RenameOrg { name } = self.body(request)?;
                let org = auth.orgs().rename(&principal, slug, &name, meta).await?;
                Ok(render(StatusCode::OK, &org))
            }
            OrgRoute::Leave => {
                auth.orgs()
                    .leave(&principal, param(params, 0)?, meta)
                    .await?;
                Ok(no_content())
            }
            OrgRoute::Members => {
                let members = auth.orgs().members(&principal, param(params, 0)?).await?;
                Ok(render(StatusCode::OK, &members))
            }
            OrgRoute::ChangeRole => {
                let slug = param(params, 0)?;
                let user_id = id_param(params, 1)?;
                let RoleRequest { role } = self.body(request)?;
                let member = auth
                    .orgs()
                    .change_role(&principal, slug, user_id, &role, meta)
                    .await?;
                Ok(render(StatusCode::OK, &member))
            }
            OrgRoute::RemoveMember => {
                let slug = param(params, 0)?;
                let user_id = id_param(params, 1)?;
                auth.orgs()
                    .remove_member(&principal, slug, user_id, meta)
                    .await?;
                Ok(no_content())
            }
            OrgRoute::Invite => {
                let slug = param(params, 0)?;
                let InviteRequest { email, role } = self.body(request)?;
                let invite = auth
                    .orgs()
                    .invite(&principal, slug, &email, &role, meta)
                    .await?;
                Ok(render(StatusCode::CREATED, &invite))
            }
            OrgRoute::Invites => {
                let invites = auth.orgs().invites(&principal, param(params, 0)?).await?;
                Ok(render(StatusCode::OK, &invites))
            }
            OrgRoute::RevokeInvite => {
                let slug = param(params, 0)?;
                let id = id_param(params, 1)?;
                auth.orgs()
                    .revoke_invite(&principal, slug, id, meta)
                    .await?;
                Ok(no_content())
            }
            OrgRoute::AcceptInvite => {
                let AcceptRequest { token } = self.body(request)?;
                let membership = auth.orgs().accept_invite(&principal, &token, meta).await?;
                Ok(render(StatusCode::OK, &Joined { membership }))
            }
        }
    }
}
