//! Handlers of the organisation routes: parse, call [`Auth`], render.
//!
//! [`Auth`]: crate::Auth

use bytes::Bytes;
use http::{Request, StatusCode};
use serde_json::json;
use uuid::Uuid;

use super::Api;
use super::handlers::Answer;
use super::problem::{json as render, no_content};
use super::routes::OrgRoute;
use crate::audit::RequestMeta;
use crate::error::AuthError;

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
                let body = self.body(request)?;
                let mut f = body.fields();
                let (name, slug) = (f.string("name"), f.string("slug"));
                f.finish()?;
                let org = auth.create_org(&principal, &name, &slug, meta).await?;
                Ok(render(StatusCode::CREATED, &org))
            }
            OrgRoute::Mine => Ok(render(StatusCode::OK, &auth.my_orgs(&principal).await?)),
            OrgRoute::View => {
                let org = auth.org(&principal, param(params, 0)?).await?;
                Ok(render(StatusCode::OK, &org))
            }
            OrgRoute::Rename => {
                let slug = param(params, 0)?;
                let name = self.one_field(request, "name")?;
                let org = auth.rename_org(&principal, slug, &name, meta).await?;
                Ok(render(StatusCode::OK, &org))
            }
            OrgRoute::Leave => {
                auth.leave_org(&principal, param(params, 0)?, meta).await?;
                Ok(no_content())
            }
            OrgRoute::Members => {
                let members = auth.org_members(&principal, param(params, 0)?).await?;
                Ok(render(StatusCode::OK, &members))
            }
            OrgRoute::ChangeRole => {
                let slug = param(params, 0)?;
                let user_id = id_param(params, 1)?;
                let role = self.one_field(request, "role")?;
                let member = auth
                    .change_member_role(&principal, slug, user_id, &role, meta)
                    .await?;
                Ok(render(StatusCode::OK, &member))
            }
            OrgRoute::RemoveMember => {
                let slug = param(params, 0)?;
                let user_id = id_param(params, 1)?;
                auth.remove_member(&principal, slug, user_id, meta).await?;
                Ok(no_content())
            }
            OrgRoute::Invite => {
                let slug = param(params, 0)?;
                let body = self.body(request)?;
                let mut f = body.fields();
                let (email, role) = (f.string("email"), f.string("role"));
                f.finish()?;
                let invite = auth
                    .invite_member(&principal, slug, &email, &role, meta)
                    .await?;
                Ok(render(StatusCode::CREATED, &invite))
            }
            OrgRoute::Invites => {
                let invites = auth.org_invites(&principal, param(params, 0)?).await?;
                Ok(render(StatusCode::OK, &invites))
            }
            OrgRoute::RevokeInvite => {
                let slug = param(params, 0)?;
                let id = id_param(params, 1)?;
                auth.revoke_invite(&principal, slug, id, meta).await?;
                Ok(no_content())
            }
            OrgRoute::AcceptInvite => {
                let token = self.one_field(request, "token")?;
                let org = auth.accept_invite(&principal, &token, meta).await?;
                Ok(render(StatusCode::OK, &json!({ "membership": org })))
            }
        }
    }
}
