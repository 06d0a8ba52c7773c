//! Middleware: authenticate once per request, and guard scopes by
//! permission.

use std::borrow::Cow;
use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::sync::Arc;

use actix_web::body::EitherBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::{Error, HttpMessage};
use authkit_core::api::{Api, Authentication, ORG_SLUG_PARAM, error_response};

use crate::extract::missing_middleware;
use crate::translate;

/// Authenticates every request once — bearer token, or the access cookie
/// (CSRF-checked) in cookie mode — and inserts an
/// [`Authentication`] into its extensions for the extractors and
/// [`RequirePermission`]. It never rejects by itself: routes decide.
/// Verification needs no store round trip.
///
/// `App::new().wrap(AuthMiddleware::new(api))`, or `.wrap(...)` on the
/// scope of the host's own routes.
#[derive(Debug, Clone)]
pub struct AuthMiddleware {
    api: Api,
}

impl AuthMiddleware {
    /// A middleware authenticating with `api`'s rules.
    pub fn new(api: impl Into<Api>) -> Self {
        Self { api: api.into() }
    }
}

impl<S, B> Transform<S, ServiceRequest> for AuthMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Transform = AuthMiddlewareService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(AuthMiddlewareService {
            service,
            api: self.api.clone(),
        }))
    }
}

/// The service of [`AuthMiddleware`].
#[derive(Debug)]
pub struct AuthMiddlewareService<S> {
    service: S,
    api: Api,
}

impl<S, B> Service<ServiceRequest> for AuthMiddlewareService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Future = S::Future;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        // A method that would not translate counts as state-changing, so
        // the CSRF check of cookie mode fails closed.
        let method = translate::method(request.method()).unwrap_or(http::Method::POST);
        let outcome = self
            .api
            .authenticate(&method, &translate::headers(request.headers()));
        request.extensions_mut().insert(Authentication(outcome));
        self.service.call(request)
    }
}

/// Guards a scope by a global permission:
/// `.wrap(RequirePermission::new("internal.users.read"))`. Needs
/// [`AuthMiddleware`] outside it (registered on the app or an enclosing
/// scope). Answers 401 without a valid principal and 403 `forbidden`
/// without the permission.
#[derive(Debug, Clone)]
pub struct RequirePermission {
    permission: Arc<str>,
}

impl RequirePermission {
    /// A guard requiring `permission`.
    pub fn new(permission: impl Into<Cow<'static, str>>) -> Self {
        Self {
            permission: Arc::from(permission.into().as_ref()),
        }
    }
}

impl<S, B> Transform<S, ServiceRequest> for RequirePermission
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    S::Future: 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = RequirePermissionService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequirePermissionService {
            service,
            permission: self.permission.clone(),
        }))
    }
}

/// The service of [`RequirePermission`].
#[derive(Debug)]
pub struct RequirePermissionService<S> {
    service: S,
    permission: Arc<str>,
}

type LocalBoxFuture<T> = Pin<Box<dyn Future<Output = T>>>;

impl<S, B> Service<ServiceRequest> for RequirePermissionService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    S::Future: 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = LocalBoxFuture<Result<Self::Response, Error>>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let verdict = match request.extensions().get::<Authentication>() {
            Some(authentication) => authentication.require(&self.permission).map(|_| ()),
            None => Err(missing_middleware()),
        };
        match verdict {
            Ok(()) => {
                let response = self.service.call(request);
                Box::pin(async move { response.await.map(ServiceResponse::map_into_left_body) })
            }
            Err(err) => {
                let response = translate::response(error_response(&err));
                Box::pin(ready(Ok(request
                    .into_response(response)
                    .map_into_right_body())))
            }
        }
    }
}

/// Guards a scope or resource by an organisation permission, taking the
/// organisation's slug from the path segment `{slug}` (or another, see
/// [`param`](Self::param)):
/// `web::scope("/orgs/{slug}").wrap(RequireOrgPermission::new("member.view"))`.
/// Needs [`AuthMiddleware`] outside it. Answers 401 without a valid
/// principal, 404 `not_found` when the caller is not a member, 403
/// `forbidden` without the permission there. Checked from the access
/// token; global permissions never count.
#[derive(Debug, Clone)]
pub struct RequireOrgPermission {
    permission: Arc<str>,
    param: Arc<str>,
}

impl RequireOrgPermission {
    /// A guard requiring the organisation permission `permission`.
    pub fn new(permission: impl Into<Cow<'static, str>>) -> Self {
        Self {
            permission: Arc::from(permission.into().as_ref()),
            param: Arc::from(ORG_SLUG_PARAM),
        }
    }

    /// Reads the slug from the path segment `name` instead of `slug`.
    #[must_use]
    pub fn param(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.param = Arc::from(name.into().as_ref());
        self
    }
}

impl<S, B> Transform<S, ServiceRequest> for RequireOrgPermission
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    S::Future: 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = RequireOrgPermissionService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequireOrgPermissionService {
            service,
            permission: self.permission.clone(),
            param: self.param.clone(),
        }))
    }
}

/// The service of [`RequireOrgPermission`].
#[derive(Debug)]
pub struct RequireOrgPermissionService<S> {
    service: S,
    permission: Arc<str>,
    param: Arc<str>,
}

impl<S, B> Service<ServiceRequest> for RequireOrgPermissionService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    S::Future: 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = LocalBoxFuture<Result<Self::Response, Error>>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let verdict = {
            let slug = request.match_info().get(&self.param);
            match request.extensions().get::<Authentication>() {
                Some(authentication) => authentication
                    .require_org(slug, &self.permission)
                    .map(|_| ()),
                None => Err(missing_middleware()),
            }
        };
        match verdict {
            Ok(()) => {
                let response = self.service.call(request);
                Box::pin(async move { response.await.map(ServiceResponse::map_into_left_body) })
            }
            Err(err) => {
                let response = translate::response(error_response(&err));
                Box::pin(ready(Ok(request
                    .into_response(response)
                    .map_into_right_body())))
            }
        }
    }
}
