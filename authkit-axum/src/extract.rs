//! Extractors for the host application's own routes, and the error type
//! its handlers return.

use std::marker::PhantomData;

use authkit_core::api::{Authentication, ORG_SLUG_PARAM, Permission, error_response};
use authkit_core::principal::OrgGrant;
use authkit_core::{AuthError, Principal};
use axum::extract::{FromRequestParts, RawPathParams};
use axum::response::{IntoResponse, Response};
use http::request::Parts;

use crate::routes::into_axum;

/// An [`AuthError`] as an axum response: the same problem+json body,
/// status and headers as the API's own errors.
///
/// Neither `AuthError` nor `IntoResponse` belongs to this crate, so the
/// conversion lives on this local wrapper; `?` converts thanks to
/// `From<AuthError>`.
#[derive(Debug, Clone)]
pub struct ApiError(pub AuthError);

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        Self(err)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        into_axum(error_response(&self.0))
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for ApiError {}

/// The authenticated caller; 401 problem+json when the request has no
/// valid credentials. Needs [`AuthLayer`](crate::AuthLayer).
#[derive(Debug, Clone)]
pub struct AuthUser(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        Ok(Self(authentication(parts)?.principal()?.clone()))
    }
}

/// The caller if the request has credentials: `None` without any, 401
/// when they are invalid (a client sending a bad token should learn so).
/// Needs [`AuthLayer`](crate::AuthLayer).
#[derive(Debug, Clone)]
pub struct MaybeAuthUser(pub Option<Principal>);

impl<S: Send + Sync> FromRequestParts<S> for MaybeAuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        match &authentication(parts)?.0 {
            Ok(principal) => Ok(Self(principal.clone())),
            Err(err) => Err(err.clone().into()),
        }
    }
}

/// The caller, who holds permission `P`: 401 without valid credentials,
/// 403 `forbidden` without the permission. Needs
/// [`AuthLayer`](crate::AuthLayer).
#[derive(Debug, Clone)]
pub struct HasPermission<P: Permission>(pub Principal, PhantomData<P>);

impl<P: Permission> HasPermission<P> {
    /// The caller.
    pub fn principal(&self) -> &Principal {
        &self.0
    }
}

impl<S: Send + Sync, P: Permission> FromRequestParts<S> for HasPermission<P> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let principal = authentication(parts)?.require(P::NAME)?;
        Ok(Self(principal.clone(), PhantomData))
    }
}

/// The caller, who holds the organisation permission `P` in the
/// organisation whose slug is the route's `{slug}` path parameter, e.g.
/// `/orgs/{slug}/reports`: 401 without valid credentials, 404 `not_found`
/// when not a member (the organisation is not disclosed), 403 `forbidden`
/// without the permission there. Checked from the access token, no store
/// round trip; a role change shows at the next refresh. Global permissions
/// never count. Needs [`AuthLayer`](crate::AuthLayer).
#[derive(Debug, Clone)]
pub struct HasOrgPermission<P: Permission> {
    principal: Principal,
    org: OrgGrant,
    permission: PhantomData<P>,
}

impl<P: Permission> HasOrgPermission<P> {
    /// The caller.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// The caller's membership of the organisation (slug, role,
    /// permissions).
    pub fn org(&self) -> &OrgGrant {
        &self.org
    }
}

impl<S: Send + Sync, P: Permission> FromRequestParts<S> for HasOrgPermission<P> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let slug = path_param(parts, state, ORG_SLUG_PARAM).await;
        let (principal, org) = authentication(parts)?.require_org(slug.as_deref(), P::NAME)?;
        Ok(Self {
            principal: principal.clone(),
            org: org.clone(),
            permission: PhantomData,
        })
    }
}

/// The path parameter `name` of the matched route, if any.
pub(crate) async fn path_param<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
    name: &str,
) -> Option<String> {
    let params = RawPathParams::from_request_parts(parts, state).await.ok()?;
    params
        .iter()
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

fn authentication(parts: &Parts) -> Result<&Authentication, ApiError> {
    parts
        .extensions
        .get::<Authentication>()
        .ok_or_else(|| ApiError(missing_layer()))
}

/// A route uses authentication without [`AuthLayer`](crate::AuthLayer):
/// a wiring bug of the host app, answered 500 and logged.
pub(crate) fn missing_layer() -> AuthError {
    AuthError::internal_msg("authkit_axum::AuthLayer is not applied to this route")
}
