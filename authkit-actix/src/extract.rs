//! Extractors for the host application's own routes, and the error type
//! its handlers return.

use std::future::{Ready, ready};
use std::marker::PhantomData;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use authkit_core::api::{
    Authentication, ORG_SLUG_PARAM, Permission, error_response, status_and_title,
};
use authkit_core::principal::OrgGrant;
use authkit_core::{AuthError, Principal};

use crate::translate;

/// An [`AuthError`] as an actix error: the same problem+json body, status
/// and headers as the API's own errors.
///
/// Neither `AuthError` nor `ResponseError` belongs to this crate, so the
/// conversion lives on this local wrapper; `?` converts thanks to
/// `From<AuthError>`.
#[derive(Debug, Clone)]
pub struct ApiError(pub AuthError);

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        Self(err)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(status_and_title(&self.0).0.as_u16())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        translate::response(error_response(&self.0))
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for ApiError {}

/// The authenticated caller; 401 problem+json when the request has no
/// valid credentials. Needs [`AuthMiddleware`](crate::AuthMiddleware).
#[derive(Debug, Clone)]
pub struct AuthUser(pub Principal);

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(with_authentication(request, |a| {
            Ok(Self(a.principal()?.clone()))
        }))
    }
}

/// The caller if the request has credentials: `None` without any, 401
/// when they are invalid (a client sending a bad token should learn so).
/// Needs [`AuthMiddleware`](crate::AuthMiddleware).
#[derive(Debug, Clone)]
pub struct MaybeAuthUser(pub Option<Principal>);

impl FromRequest for MaybeAuthUser {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(with_authentication(request, |a| match &a.0 {
            Ok(principal) => Ok(Self(principal.clone())),
            Err(err) => Err(err.clone()),
        }))
    }
}

/// The caller, who holds permission `P`: 401 without valid credentials,
/// 403 `forbidden` without the permission. Needs
/// [`AuthMiddleware`](crate::AuthMiddleware).
#[derive(Debug, Clone)]
pub struct HasPermission<P: Permission>(pub Principal, PhantomData<P>);

impl<P: Permission> HasPermission<P> {
    /// The caller.
    pub fn principal(&self) -> &Principal {
        &self.0
    }
}

impl<P: Permission> FromRequest for HasPermission<P> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(with_authentication(request, |a| {
            Ok(Self(a.require(P::NAME)?.clone(), PhantomData))
        }))
    }
}

/// The caller, who holds the organisation permission `P` in the
/// organisation whose slug is the route's `{slug}` path segment, e.g.
/// `/orgs/{slug}/reports`: 401 without valid credentials, 404 `not_found`
/// when not a member (the organisation is not disclosed), 403 `forbidden`
/// without the permission there. Checked from the access token, no store
/// round trip; a role change shows at the next refresh. Global permissions
/// never count. Needs [`AuthMiddleware`](crate::AuthMiddleware).
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

impl<P: Permission> FromRequest for HasOrgPermission<P> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let slug = request.match_info().get(ORG_SLUG_PARAM);
        ready(with_authentication(request, |a| {
            let (principal, org) = a.require_org(slug, P::NAME)?;
            Ok(Self {
                principal: principal.clone(),
                org: org.clone(),
                permission: PhantomData,
            })
        }))
    }
}

fn with_authentication<T>(
    request: &HttpRequest,
    f: impl FnOnce(&Authentication) -> Result<T, AuthError>,
) -> Result<T, ApiError> {
    let extensions = request.extensions();
    let authentication = extensions
        .get::<Authentication>()
        .ok_or_else(missing_middleware)?;
    Ok(f(authentication)?)
}

/// A route uses authentication without
/// [`AuthMiddleware`](crate::AuthMiddleware): a wiring bug of the host
/// app, answered 500 and logged.
pub(crate) fn missing_middleware() -> AuthError {
    AuthError::internal_msg("authkit_actix::AuthMiddleware does not wrap this route")
}
