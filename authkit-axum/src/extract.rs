//! Extractors for the host application's own routes, and the error type
//! its handlers return.

use std::marker::PhantomData;

use authkit_core::api::{Authentication, Permission, error_response};
use authkit_core::{AuthError, Principal};
use axum::extract::FromRequestParts;
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

fn authentication(parts: &Parts) -> Result<&Authentication, ApiError> {
    parts
        .extensions
        .get::<Authentication>()
        .ok_or_else(|| ApiError(missing_layer()))
}

/// A route uses authentication without [`AuthLayer`](crate::AuthLayer):
/// a wiring bug of the host app, answered 500 and logged.
pub(crate) fn missing_layer() -> AuthError {
    AuthError::internal("authkit_axum::AuthLayer is not applied to this route")
}
