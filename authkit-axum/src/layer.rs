//! Tower layers: authenticate once per request, and guard routes by
//! permission.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use authkit_core::api::{Api, Authentication, error_response};
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
