//! Tower layers: authenticate once per request, and guard routes by
//! permission.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use authkit_core::api::{Api, Authentication, ORG_SLUG_PARAM, error_response};
use axum::response::Response;
use tower::{Layer, Service};

use crate::routes::into_axum;

/// Authenticates every request once — bearer token, or the access cookie
/// (CSRF-checked) in cookie mode — and inserts an [`Authentication`] into
/// its extensions for the extractors and [`RequirePermission`]. It never
/// rejects by itself: routes decide. Verification needs no store round
/// trip.
#[derive(Debug, Clone)]
pub struct AuthLayer {
    api: Api,
}

impl AuthLayer {
    /// A layer authenticating with `api`'s rules.
    pub fn new(api: impl Into<Api>) -> Self {
        Self { api: api.into() }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            api: self.api.clone(),
        }
    }
}

/// The service of [`AuthLayer`].
#[derive(Debug, Clone)]
pub struct AuthService<S> {
    inner: S,
    api: Api,
}

impl<S, B> Service<http::Request<B>> for AuthService<S>
where
    S: Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let outcome = self.api.authenticate(request.method(), request.headers());
        request.extensions_mut().insert(Authentication(outcome));
        self.inner.call(request)
    }
}

/// Guards routes by a global permission, as a layer:
/// `.layer(RequirePermission::layer("internal.users.read"))`. Needs
/// [`AuthLayer`] outside it. Answers 401 without a valid principal and 403
/// `forbidden` without the permission.
#[derive(Debug, Clone, Copy)]
pub struct RequirePermission;

impl RequirePermission {
    /// A layer requiring `permission`.
    pub fn layer(permission: impl Into<Cow<'static, str>>) -> RequirePermissionLayer {
        RequirePermissionLayer {
            permission: Arc::from(permission.into().as_ref()),
        }
    }
}

/// The layer built by [`RequirePermission::layer`].
#[derive(Debug, Clone)]
pub struct RequirePermissionLayer {
    permission: Arc<str>,
}

impl<S> Layer<S> for RequirePermissionLayer {
    type Service = RequirePermissionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequirePermissionService {
            inner,
            permission: self.permission.clone(),
        }
    }
}

/// The service of [`RequirePermissionLayer`].
#[derive(Debug, Clone)]
pub struct RequirePermissionService<S> {
    inner: S,
    permission: Arc<str>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B> Service<http::Request<B>> for RequirePermissionService<S>
where
    S: Service<http::Request<B>, Response = Response>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let verdict = match request.extensions().get::<Authentication>() {
            Some(authentication) => authentication.require(&self.permission).map(|_| ()),
            None => Err(crate::extract::missing_layer()),
        };
        match verdict {
            Ok(()) => Box::pin(self.inner.call(request)),
            Err(err) => {
                let response = into_axum(error_response(&err));
                Box::pin(async move { Ok(response) })
            }
        }
    }
}

/// Guards routes by an organisation permission, as a layer, taking the
/// organisation's slug from the path parameter `{slug}` (or another, see
/// [`param`](RequireOrgPermissionLayer::param)):
/// `.route_layer(RequireOrgPermission::layer("member.invite"))` on a router
/// of `/orgs/{slug}/...` routes. Use `route_layer`, so the route (and its
/// parameters) is matched first. Needs [`AuthLayer`] outside it. Answers
/// 401 without a valid principal, 404 `not_found` when the caller is not a
/// member, 403 `forbidden` without the permission there. Checked from the
/// access token; global permissions never count.
#[derive(Debug, Clone, Copy)]
pub struct RequireOrgPermission;

impl RequireOrgPermission {
    /// A layer requiring the organisation permission `permission`.
    pub fn layer(permission: impl Into<Cow<'static, str>>) -> RequireOrgPermissionLayer {
        RequireOrgPermissionLayer {
            permission: Arc::from(permission.into().as_ref()),
            param: Arc::from(ORG_SLUG_PARAM),
        }
    }
}

/// The layer built by [`RequireOrgPermission::layer`].
#[derive(Debug, Clone)]
pub struct RequireOrgPermissionLayer {
    permission: Arc<str>,
    param: Arc<str>,
}

impl RequireOrgPermissionLayer {
    /// Reads the slug from the path parameter `name` instead of `slug`.
    #[must_use]
    pub fn param(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.param = Arc::from(name.into().as_ref());
        self
    }
}

impl<S> Layer<S> for RequireOrgPermissionLayer {
    type Service = RequireOrgPermissionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireOrgPermissionService {
            inner,
            permission: self.permission.clone(),
            param: self.param.clone(),
        }
    }
}

/// The service of [`RequireOrgPermissionLayer`].
#[derive(Debug, Clone)]
pub struct RequireOrgPermissionService<S> {
    inner: S,
    permission: Arc<str>,
    param: Arc<str>,
}

impl<S, B> Service<http::Request<B>> for RequireOrgPermissionService<S>
where
    S: Service<http::Request<B>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        // The clone that was polled ready serves this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let (permission, param) = (self.permission.clone(), self.param.clone());
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let slug = crate::extract::path_param(&mut parts, &(), &param).await;
            let verdict = match parts.extensions.get::<Authentication>() {
                Some(authentication) => authentication
                    .require_org(slug.as_deref(), &permission)
                    .map(|_| ()),
                None => Err(crate::extract::missing_layer()),
            };
            match verdict {
                Ok(()) => inner.call(http::Request::from_parts(parts, body)).await,
                Err(err) => Ok(into_axum(error_response(&err))),
            }
        })
    }
}
