//! Responses: JSON bodies and RFC 9457 `application/problem+json` errors.
//!
//! Besides the [`AuthError`] codes, the HTTP layer has its own, for requests
//! it cannot even parse:
//!
//! | code | status | when |
//! | --- | --- | --- |
//! | `malformed_request` | 400 | empty body where one is required, invalid JSON, JSON that is not an object |
//! | `unsupported_media_type` | 415 | a body that is not `application/json` |
//! | `payload_too_large` | 413 | a body over the limit |
//! | `method_not_allowed` | 405 | known path, other method (with `Allow`) |
//!
//! Wrong field types answer 422 `validation_failed` with one
//! `errors[]` entry per field (`invalid_type`, `required`).

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderValue, Response, StatusCode};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{AuthError, FieldError};

/// `Content-Type` of error bodies.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Why the api layer refused a request.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The service (or input validation) said no.
    Auth(AuthError),
    /// No credentials at all on an authenticated route.
    Unauthenticated,
    /// Unparsable request.
    Malformed(&'static str),
    /// Body of another media type.
    UnsupportedMediaType,
    /// Body over the limit.
    PayloadTooLarge,
    /// Known path, other method; the methods it has.
    MethodNotAllowed(String),
}

impl From<AuthError> for Failure {
    fn from(err: AuthError) -> Self {
        Self::Auth(err)
    }
}

impl Failure {
    pub(crate) fn into_response(self) -> Response<Bytes> {
        match self {
            Self::Auth(err) => error_response(&err),
            Self::Unauthenticated => {
                let mut response = error_response(&AuthError::TokenInvalid);
                response
                    .headers_mut()
                    .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                response
            }
            Self::Malformed(detail) => problem(
                StatusCode::BAD_REQUEST,
                "malformed_request",
                "Malformed request",
                detail,
            ),
            Self::UnsupportedMediaType => problem(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Unsupported media type",
                "Send the body as application/json.",
            ),
            Self::PayloadTooLarge => payload_too_large(),
            Self::MethodNotAllowed(allow) => {
                let mut response = problem(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method_not_allowed",
                    "Method not allowed",
                    "This route does not accept this method.",
                );
                if let Ok(value) = HeaderValue::from_str(&allow) {
                    response.headers_mut().insert(ALLOW, value);
                }
                response
            }
        }
    }
}

/// The RFC 9457 body of every error answer.
#[derive(Serialize, ToSchema)]
#[schema(as = Problem)]
pub(crate) struct ProblemBody<'a> {
    /// Always `about:blank`.
    #[serde(rename = "type")]
    #[schema(value_type = String)]
    pub(crate) kind: &'static str,
    /// The status's title.
    #[schema(value_type = String)]
    pub(crate) title: &'a str,
    /// The HTTP status.
    pub(crate) status: u16,
    /// The stable machine code.
    #[schema(value_type = String)]
    pub(crate) code: &'a str,
    /// A sentence for people.
    pub(crate) detail: String,
    /// Every bad field of a validation failure.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    #[schema(value_type = Vec<FieldError>)]
    pub(crate) errors: &'a [FieldError],
    /// When an account's failure lock ends (`account_locked`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) locked_until: Option<DateTime<Utc>>,
}

/// The HTTP status and the problem `title` an [`AuthError`] answers with.
///
/// This is the api layer's mapping of the error kinds (the error type knows
/// nothing of HTTP); [`error_response`] builds the whole body from it, and
/// adapters use it where their framework asks for a status alone.
pub fn status_and_title(err: &AuthError) -> (StatusCode, &'static str) {
    match err {
        AuthError::Validation(_) => (StatusCode::UNPROCESSABLE_ENTITY, "Validation failed"),
        AuthError::PasswordTooWeak(_) => (StatusCode::UNPROCESSABLE_ENTITY, "Password too weak"),
        AuthError::EmailTaken => (StatusCode::CONFLICT, "Email already registered"),
        AuthError::InvalidCredentials => (StatusCode::UNAUTHORIZED, "Invalid credentials"),
        AuthError::EmailNotVerified => (StatusCode::FORBIDDEN, "Email not verified"),
        AuthError::AccountLocked { .. } => (StatusCode::FORBIDDEN, "Account locked"),
        AuthError::AccountInactive => (StatusCode::FORBIDDEN, "Account inactive"),
        AuthError::TokenInvalid => (StatusCode::UNAUTHORIZED, "Invalid token"),
        AuthError::TokenExpired => (StatusCode::UNAUTHORIZED, "Token expired"),
        AuthError::RefreshTokenReused => (StatusCode::UNAUTHORIZED, "Refresh token reused"),
        AuthError::MfaInvalidCode => (StatusCode::UNAUTHORIZED, "Invalid code"),
        AuthError::PasswordChangeRequired => (StatusCode::FORBIDDEN, "Password change required"),
        AuthError::Forbidden => (StatusCode::FORBIDDEN, "Forbidden"),
        AuthError::NotFound => (StatusCode::NOT_FOUND, "Not found"),
        AuthError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "Too many requests"),
        AuthError::SlugTaken => (StatusCode::CONFLICT, "Slug taken"),
        AuthError::AlreadyMember => (StatusCode::CONFLICT, "Already a member"),
        AuthError::LastOwner => (StatusCode::CONFLICT, "Last owner"),
        AuthError::InviteEmailMismatch => (StatusCode::FORBIDDEN, "Invitation for another email"),
        AuthError::RegistrationClosed => (StatusCode::FORBIDDEN, "Registration closed"),
        AuthError::FeatureDisabled => (StatusCode::NOT_FOUND, "Feature disabled"),
        AuthError::OAuthStateInvalid => (StatusCode::BAD_REQUEST, "Invalid sign-in state"),
        AuthError::OAuthDenied => (StatusCode::FORBIDDEN, "Sign-in denied"),
        AuthError::OAuthProviderError(_) => (StatusCode::BAD_GATEWAY, "Identity provider error"),
        AuthError::OAuthTokenInvalid => (StatusCode::UNAUTHORIZED, "Invalid ID token"),
        AuthError::OAuthEmailMissing => (StatusCode::FORBIDDEN, "Email required"),
        AuthError::AccountExistsUnverified => (StatusCode::CONFLICT, "Account exists"),
        AuthError::IdentityTaken => (StatusCode::CONFLICT, "Identity already linked"),
        AuthError::LastSignInMethod => (StatusCode::CONFLICT, "Last sign-in method"),
        AuthError::ServerBusy { .. } => (StatusCode::SERVICE_UNAVAILABLE, "Server busy"),
        AuthError::StoreUnavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "Service unavailable"),
        AuthError::Store(_) | AuthError::Internal(_) => {
            (StatusCode::INTERNAL_SERVER_ERROR, "Internal error")
        }
    }
}

/// Renders an [`AuthError`] exactly as the HTTP API does: problem+json with
/// the stable `code`, the [`status_and_title`] mapping, `errors[]` for
/// validation failures, `Retry-After` on 429 and on 503 `server_busy`,
/// `WWW-Authenticate` on token failures. Store and internal failures are
/// logged with their whole chain of sources and answered with a generic
/// detail: their cause never reaches the client. Adapters use it for errors
/// raised in host-app handlers.
pub fn error_response(err: &AuthError) -> Response<Bytes> {
    let (status, title) = status_and_title(err);
    let detail = match err {
        AuthError::Internal(_) | AuthError::Store(_) | AuthError::StoreUnavailable(_) => {
            tracing::error!(code = err.code(), error = %err.report(), "request failed");
            "The request could not be completed; try again later.".to_owned()
        }
        AuthError::OAuthProviderError(message) => {
            tracing::warn!(code = err.code(), error = %message, "identity provider failed");
            sentence(err)
        }
        other => sentence(other),
    };
    let body = ProblemBody {
        kind: "about:blank",
        title,
        status: status.as_u16(),
        code: err.code(),
        detail,
        errors: err.field_errors(),
        locked_until: match err {
            AuthError::AccountLocked { until } => *until,
            _ => None,
        },
    };
    let mut response = problem_answer(status, &body);
    let headers = response.headers_mut();
    match err {
        AuthError::RateLimited { retry_after } | AuthError::ServerBusy { retry_after } => {
            let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            headers.insert(RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        AuthError::TokenInvalid | AuthError::TokenExpired => {
            headers.insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
        }
        _ => {}
    }
    response
}

/// The 413 answer, for adapters that stop reading an oversized body
/// before it reaches the handler.
pub fn payload_too_large() -> Response<Bytes> {
    problem(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "Payload too large",
        "The request body is over the size limit.",
    )
}

/// The `detail` of a problem: what happened, in a sentence.
fn sentence(err: &AuthError) -> String {
    let text = match err {
        AuthError::Validation(_) => "Some fields are invalid; see errors.",
        AuthError::PasswordTooWeak(_) => "The password does not meet the policy; see errors.",
        AuthError::EmailTaken => "An account already uses this email address.",
        AuthError::InvalidCredentials => "The email or password is wrong.",
        AuthError::EmailNotVerified => "Verify your email address first.",
        AuthError::AccountLocked { .. } => "The account is locked.",
        AuthError::AccountInactive => "The account is deactivated.",
        AuthError::TokenInvalid => "The token is missing, malformed, unknown or revoked.",
        AuthError::TokenExpired => "The token has expired.",
        AuthError::RefreshTokenReused => {
            "The refresh token was already used; the session has been revoked."
        }
        AuthError::MfaInvalidCode => "The code is wrong.",
        AuthError::PasswordChangeRequired => {
            "The password must be changed: POST /password/change with email, current_password and new_password."
        }
        AuthError::Forbidden => "You lack the permission this needs.",
        AuthError::NotFound => "Nothing here.",
        AuthError::RateLimited { .. } => "Too many requests; retry later.",
        AuthError::ServerBusy { .. } => "The server is busy; retry shortly.",
        AuthError::RegistrationClosed => "Self-service registration is closed.",
        AuthError::OAuthStateInvalid => {
            "The sign-in link is invalid, expired, already used or from another browser; start again."
        }
        AuthError::OAuthDenied => "The identity provider did not complete the sign-in.",
        AuthError::OAuthProviderError(_) => {
            "The identity provider could not be reached or answered an error; try again later."
        }
        AuthError::OAuthTokenInvalid => "The identity provider's ID token failed verification.",
        AuthError::OAuthEmailMissing => {
            "The identity provider shared no email address; allow access to it and try again."
        }
        AuthError::AccountExistsUnverified => {
            "An account with this email exists, but the email is not verified on both sides: sign in with your password and link the provider from your account."
        }
        AuthError::IdentityTaken => {
            "This provider identity is linked to another account, or the account already has one of this provider."
        }
        AuthError::LastSignInMethod => {
            "This is the account's last way to sign in: set a password or link another provider first."
        }
        AuthError::SlugTaken => "Another organisation uses this slug.",
        AuthError::AlreadyMember => "The account is already a member of this organisation.",
        AuthError::LastOwner => {
            "An organisation keeps at least one owner: promote another member first."
        }
        AuthError::InviteEmailMismatch => {
            "This invitation was sent to another email address; sign in with that account."
        }
        other => status_and_title(other).1,
    };
    text.to_owned()
}

fn problem(status: StatusCode, code: &str, title: &str, detail: &str) -> Response<Bytes> {
    let body = ProblemBody {
        kind: "about:blank",
        title,
        status: status.as_u16(),
        code,
        detail: detail.to_owned(),
        errors: &[],
        locked_until: None,
    };
    problem_answer(status, &body)
}

/// The problem+json answer of `body` (which always serializes).
fn problem_answer(status: StatusCode, body: &ProblemBody<'_>) -> Response<Bytes> {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    raw(status, PROBLEM_JSON, bytes.into())
}

/// A JSON response of `value`.
pub(crate) fn json<T: Serialize>(status: StatusCode, value: &T) -> Response<Bytes> {
    match serde_json::to_vec(value) {
        Ok(body) => raw(status, "application/json", body.into()),
        Err(err) => error_response(&AuthError::internal_with("serialising a response", err)),
    }
}

/// An empty 204.
pub(crate) fn no_content() -> Response<Bytes> {
    let mut response = Response::new(Bytes::new());
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A response with a body of `content_type`. Every API answer is
/// per-user or secret-bearing, so none is cached.
pub(crate) fn raw(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Bytes> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::time::Duration;

    use serde_json::json;

    use super::*;

    fn body(r: &Response<Bytes>) -> serde_json::Value {
        serde_json::from_slice(r.body()).unwrap()
    }

    #[test]
    fn auth_errors_render_as_problems_with_their_code() {
        let r = error_response(&AuthError::EmailTaken);
        assert_eq!(r.status(), 409);
        assert_eq!(r.headers()[CONTENT_TYPE], PROBLEM_JSON);
        let b = body(&r);
        assert_eq!(b["code"], "email_taken");
        assert_eq!(b["status"], 409);
        assert_eq!(b["type"], "about:blank");
        assert_eq!(b["title"], "Email already registered");
        assert!(b.get("errors").is_none());
    }

    #[test]
    fn validation_errors_list_their_fields() {
        let r = error_response(&AuthError::invalid_field("email", "email_invalid", "bad"));
        assert_eq!(r.status(), 422);
        assert_eq!(
            body(&r)["errors"],
            json!([{"field": "email", "code": "email_invalid", "message": "bad"}])
        );
    }

    #[test]
    fn throttling_carries_retry_after_in_whole_seconds() {
        for (delay, header) in [
            (Duration::from_millis(1500), "2"),
            (Duration::from_secs(60), "60"),
            (Duration::ZERO, "1"),
        ] {
            let r = error_response(&AuthError::RateLimited { retry_after: delay });
            assert_eq!(r.status(), 429);
            assert_eq!(r.headers()[RETRY_AFTER], header);
        }
    }

    #[test]
    fn server_busy_is_503_with_retry_after() {
        let r = error_response(&AuthError::ServerBusy {
            retry_after: Duration::from_millis(200),
        });
        assert_eq!(r.status(), 503);
        assert_eq!(r.headers()[RETRY_AFTER], "1");
        assert_eq!(body(&r)["code"], "server_busy");
    }

    #[test]
    fn internal_details_are_never_sent() {
        let secret = || std::io::Error::other("db password=hunter2 host db.internal");
        for err in [
            AuthError::internal(secret()),
            AuthError::internal_with("loading keys", secret()),
            AuthError::internal_msg("db password=hunter2 host db.internal"),
            AuthError::store(secret()),
            AuthError::store_unavailable(secret()),
        ] {
            let r = error_response(&err);
            let text = String::from_utf8(r.body().to_vec()).unwrap();
            assert!(
                !text.contains("hunter2") && !text.contains("db.internal"),
                "{text}"
            );
            assert_eq!(
                body(&r)["detail"],
                "The request could not be completed; try again later."
            );
        }
    }

    /// Every kind's status, title and code, as the API has always answered.
    #[test]
    fn every_kind_keeps_its_status_title_and_code() {
        let second = Duration::from_secs(1);
        let io = || std::io::Error::other("cause");
        let cases = [
            (
                AuthError::Validation(vec![]),
                422,
                "Validation failed",
                "validation_failed",
            ),
            (
                AuthError::PasswordTooWeak(vec![]),
                422,
                "Password too weak",
                "password_too_weak",
            ),
            (
                AuthError::EmailTaken,
                409,
                "Email already registered",
                "email_taken",
            ),
            (
                AuthError::InvalidCredentials,
                401,
                "Invalid credentials",
                "invalid_credentials",
            ),
            (
                AuthError::EmailNotVerified,
                403,
                "Email not verified",
                "email_not_verified",
            ),
            (
                AuthError::AccountLocked { until: None },
                403,
                "Account locked",
                "account_locked",
            ),
            (
                AuthError::AccountInactive,
                403,
                "Account inactive",
                "account_inactive",
            ),
            (
                AuthError::TokenInvalid,
                401,
                "Invalid token",
                "token_invalid",
            ),
            (
                AuthError::TokenExpired,
                401,
                "Token expired",
                "token_expired",
            ),
            (
                AuthError::RefreshTokenReused,
                401,
                "Refresh token reused",
                "refresh_token_reused",
            ),
            (
                AuthError::MfaInvalidCode,
                401,
                "Invalid code",
                "mfa_invalid_code",
            ),
            (
                AuthError::PasswordChangeRequired,
                403,
                "Password change required",
                "password_change_required",
            ),
            (AuthError::Forbidden, 403, "Forbidden", "forbidden"),
            (AuthError::NotFound, 404, "Not found", "not_found"),
            (
                AuthError::RateLimited {
                    retry_after: second,
                },
                429,
                "Too many requests",
                "rate_limited",
            ),
            (AuthError::SlugTaken, 409, "Slug taken", "slug_taken"),
            (
                AuthError::AlreadyMember,
                409,
                "Already a member",
                "already_member",
            ),
            (AuthError::LastOwner, 409, "Last owner", "last_owner"),
            (
                AuthError::InviteEmailMismatch,
                403,
                "Invitation for another email",
                "invite_email_mismatch",
            ),
            (
                AuthError::RegistrationClosed,
                403,
                "Registration closed",
                "registration_closed",
            ),
            (
                AuthError::FeatureDisabled,
                404,
                "Feature disabled",
                "feature_disabled",
            ),
            (
                AuthError::OAuthStateInvalid,
                400,
                "Invalid sign-in state",
                "oauth_state_invalid",
            ),
            (
                AuthError::OAuthDenied,
                403,
                "Sign-in denied",
                "oauth_denied",
            ),
            (
                AuthError::OAuthProviderError("timeout".into()),
                502,
                "Identity provider error",
                "oauth_provider_error",
            ),
            (
                AuthError::OAuthTokenInvalid,
                401,
                "Invalid ID token",
                "oauth_token_invalid",
            ),
            (
                AuthError::OAuthEmailMissing,
                403,
                "Email required",
                "oauth_email_missing",
            ),
            (
                AuthError::AccountExistsUnverified,
                409,
                "Account exists",
                "account_exists_unverified",
            ),
            (
                AuthError::IdentityTaken,
                409,
                "Identity already linked",
                "identity_taken",
            ),
            (
                AuthError::LastSignInMethod,
                409,
                "Last sign-in method",
                "last_sign_in_method",
            ),
            (
                AuthError::ServerBusy {
                    retry_after: second,
                },
                503,
                "Server busy",
                "server_busy",
            ),
            (
                AuthError::store_unavailable(io()),
                503,
                "Service unavailable",
                "store_unavailable",
            ),
            (AuthError::store(io()), 500, "Internal error", "internal"),
            (AuthError::internal(io()), 500, "Internal error", "internal"),
        ];
        for (err, status, title, code) in cases {
            assert_eq!(
                status_and_title(&err),
                (StatusCode::from_u16(status).unwrap(), title)
            );
            let r = error_response(&err);
            assert_eq!(r.status(), status, "{code}");
            let b = body(&r);
            assert_eq!(
                (
                    b["status"].as_u64(),
                    b["title"].as_str(),
                    b["code"].as_str()
                ),
                (Some(u64::from(status)), Some(title), Some(code))
            );
        }
    }

    #[test]
    fn token_failures_challenge_for_a_bearer_token() {
        for err in [AuthError::TokenInvalid, AuthError::TokenExpired] {
            let r = error_response(&err);
            assert!(
                r.headers()[WWW_AUTHENTICATE]
                    .to_str()
                    .unwrap()
                    .starts_with("Bearer")
            );
        }
        let r = Failure::Unauthenticated.into_response();
        assert_eq!(r.status(), 401);
        assert_eq!(r.headers()[WWW_AUTHENTICATE], "Bearer");
        assert!(
            error_response(&AuthError::InvalidCredentials)
                .headers()
                .get(WWW_AUTHENTICATE)
                .is_none()
        );
    }

    #[test]
    fn request_failures_have_their_own_codes() {
        let cases = [
            (Failure::Malformed("x"), 400, "malformed_request"),
            (Failure::UnsupportedMediaType, 415, "unsupported_media_type"),
            (Failure::PayloadTooLarge, 413, "payload_too_large"),
            (
                Failure::MethodNotAllowed("GET, PATCH".into()),
                405,
                "method_not_allowed",
            ),
        ];
        for (failure, status, code) in cases {
            let r = failure.into_response();
            assert_eq!(r.status(), status);
            assert_eq!(body(&r)["code"], code);
            if status == 405 {
                assert_eq!(r.headers()[ALLOW], "GET, PATCH");
            }
        }
    }
}
