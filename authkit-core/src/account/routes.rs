//! The account routes (registration, email verification, login and
//! refresh, password reset and change, introspection, the caller's
//! profile, sessions, export and audit): their request and answer types,
//! and their table. The handlers are in the api layer (`api/handlers.rs`).

use http::Method;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::cookies::TokenBody;
use crate::api::input::JsonBody;
use crate::api::openapi as p;
use crate::api::problem::Failure;
use crate::api::routes::{Access, Endpoint, Input, Route, Success, inline, named};
use crate::audit::AuditRecord;
use crate::auth::{
    DataExport, Introspection, Me, MfaChallenge, MfaEnrollment, Page, ProfileUpdate,
    RegistrationChallenge,
};
use crate::session::SessionView;
use crate::user::Profile;

/// `POST /register` and `POST /register/start`.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct RegisterRequest {
    /// The account's email address.
    pub(crate) email: String,
    /// Its password (checked against the password policy).
    pub(crate) password: String,
    /// A display name.
    pub(crate) display_name: Option<String>,
    /// A phone number (E.164), unverified.
    pub(crate) phone: Option<String>,
}

/// `POST /register/confirm`.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct ConfirmRegistration {
    /// The id answered by `POST /register/start`.
    pub(crate) challenge_id: String,
    /// The emailed 6-digit code.
    pub(crate) code: String,
}

/// `POST /email/verify` with the token of the emailed link.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct VerifyByLink {
    /// The link's token.
    pub(crate) token: String,
}

/// `POST /email/verify` with the emailed code.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct VerifyByCode {
    /// The address the code was sent to.
    pub(crate) email: String,
    /// The 6-digit code.
    pub(crate) code: String,
}

/// `POST /email/verify`: by link token or by code.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum VerifyEmailRequest {
    /// By link.
    Link(VerifyByLink),
    /// By code.
    Code(VerifyByCode),
}

impl VerifyEmailRequest {
    /// The variant whose fields `body` has (`token` decides), so that the
    /// errors reported are those of the variant meant.
    pub(crate) fn read(body: JsonBody) -> Result<Self, Failure> {
        if body.has("token") {
            body.typed().map(Self::Link)
        } else {
            body.typed().map(Self::Code)
        }
    }
}

/// A body of one email address (`POST /email/verify/resend`,
/// `POST /password/reset`).
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct EmailRequest {
    /// The address.
    pub(crate) email: String,
}

/// `POST /token`.
#[derive(Deserialize, ToSchema)]
pub(crate) struct LoginRequest {
    /// The account's email address.
    pub(crate) email: String,
    /// Its password.
    pub(crate) password: String,
}

/// `POST /token/refresh` and `POST /logout`: the refresh token (optional:
/// in cookie mode it travels in the refresh cookie; a logout without it
/// ends the current session).
#[derive(Deserialize, ToSchema)]
pub(crate) struct RefreshRequest {
    /// The refresh token.
    pub(crate) refresh_token: Option<String>,
}

/// `POST /password/reset/confirm`.
#[derive(Deserialize, ToSchema)]
pub(crate) struct ResetConfirm {
    /// The emailed reset token.
    pub(crate) token: String,
    /// The new password.
    pub(crate) new_password: String,
}

/// `POST /email/lookup`.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct LookupRequest {
    /// A verified phone number.
    pub(crate) phone: String,
}

/// `POST /token/introspect` (RFC 7662).
#[derive(Deserialize, ToSchema)]
pub(crate) struct IntrospectRequest {
    /// The access or refresh token.
    pub(crate) token: String,
    /// `access_token` or `refresh_token`: only orders the search; other
    /// values are ignored.
    pub(crate) token_type_hint: Option<String>,
}

/// A body of the account's password (`POST /me/deactivate`).
#[derive(Deserialize, ToSchema)]
pub(crate) struct PasswordRequest {
    /// The current password.
    pub(crate) password: String,
}

/// `POST /password/change` with a token.
#[derive(Deserialize, ToSchema)]
pub(crate) struct PasswordChange {
    /// The current password.
    pub(crate) current_password: String,
    /// The new password.
    pub(crate) new_password: String,
}

/// `POST /password/change` without a token, by an account whose password
/// must change.
#[derive(Deserialize, ToSchema)]
pub(crate) struct ForcedPasswordChange {
    /// The current password.
    pub(crate) current_password: String,
    /// The new password.
    pub(crate) new_password: String,
    /// The account's email address.
    pub(crate) email: String,
}

/// `POST /password/change`: with a token, or, for a forced change,
/// without one and with `email`.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum PasswordChangeRequest {
    /// Signed in.
    Signed(PasswordChange),
    /// A forced change, without a token.
    Forced(ForcedPasswordChange),
}

impl PasswordChangeRequest {
    /// The variant meant: signed in, or a forced change when `body` has
    /// `email`; `None` for neither (the route then answers 401).
    pub(crate) fn read(signed: bool, body: JsonBody) -> Result<Option<Self>, Failure> {
        if signed {
            body.typed().map(|b| Some(Self::Signed(b)))
        } else if body.has("email") {
            body.typed().map(|b| Some(Self::Forced(b)))
        } else {
            Ok(None)
        }
    }
}

/// `?page=&per_page=` of a list.
#[derive(Debug, ToSchema)]
pub(crate) struct PageQuery {
    /// 1-based page, default 1.
    #[schema(required = false, minimum = 1)]
    pub(crate) page: u32,
    /// Page size, default 50, at most 100.
    #[schema(required = false, minimum = 1, maximum = 100)]
    pub(crate) per_page: u32,
}

impl PageQuery {
    /// The page of `query` (defaults for what is absent).
    pub(crate) fn read(query: Option<&str>) -> Result<Self, Failure> {
        let mut query = crate::api::query::Query::parse(query);
        let (page, per_page) = query.page();
        query.finish()?;
        Ok(Self { page, per_page })
    }
}

/// `{user}`: the account's profile after a change.
#[derive(Serialize, ToSchema)]
pub(crate) struct UserAnswer {
    /// The profile.
    pub(crate) user: Profile,
}

/// 201 of `POST /register`.
#[derive(Serialize, ToSchema)]
pub(crate) struct Registered {
    /// The new account's profile.
    pub(crate) user: Profile,
    /// Whether a verification email was sent.
    pub(crate) verification_sent: bool,
}

/// 202 `{"status": "accepted"}` of flows that must not disclose whether
/// an account exists, and of flows that send a code.
#[derive(Serialize, ToSchema)]
pub(crate) struct Accepted {
    /// Always `accepted`.
    #[schema(value_type = String, example = "accepted")]
    pub(crate) status: &'static str,
}

/// The one [`Accepted`] answer.
pub(crate) const ACCEPTED: Accepted = Accepted { status: "accepted" };

/// 200 of `POST /email/lookup`.
#[derive(Serialize, ToSchema)]
pub(crate) struct Emails {
    /// Masked addresses (`j***@e***.com`), possibly none.
    pub(crate) emails: Vec<String>,
}

/// 200 of a password login: signed in, or the second step MFA demands.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum LoginAnswer<'a> {
    /// Signed in (cookies too in cookie mode).
    Tokens(TokenBody<'a>),
    /// A second factor is needed.
    Challenge(MfaChallenge),
    /// The account's role demands MFA it lacks.
    Enrollment(MfaEnrollment),
}

/// The routes of the account feature.
pub(crate) static ROUTES: &[Route] = &[
    Route::new(
        Method::POST,
        "/register",
        Endpoint::Register,
        "registration",
        "Create an account",
    )
    .input(Input::Json(named::<RegisterRequest>))
    .answers(&[Success::json(201, "Created", named::<Registered>)])
    .problems(&[p::FORBIDDEN, p::EMAIL_TAKEN]),
    Route::new(
        Method::POST,
        "/register/start",
        Endpoint::RegisterStart,
        "registration",
        "Start a registration confirmed by an emailed 6-digit code",
    )
    .input(Input::Json(named::<RegisterRequest>))
    .answers(&[Success::json(
        202,
        "Code sent",
        named::<RegistrationChallenge>,
    )])
    .problems(&[p::FORBIDDEN]),
    Route::new(
        Method::POST,
        "/register/confirm",
        Endpoint::RegisterConfirm,
        "registration",
        "Confirm a registration with its code",
    )
    .input(Input::Json(named::<ConfirmRegistration>))
    .answers(&[Success::json(
        201,
        "Created, email verified",
        named::<UserAnswer>,
    )])
    .problems(&[p::UNAUTHORIZED, p::FORBIDDEN, p::EMAIL_TAKEN]),
    Route::new(
        Method::POST,
        "/email/verify",
        Endpoint::VerifyEmail,
        "registration",
        "Verify an email address by link token or by code",
    )
    .input(Input::Json(named::<VerifyEmailRequest>))
    .answers(&[Success::json(200, "Verified", named::<UserAnswer>)])
    .problems(&[p::UNAUTHORIZED, p::FORBIDDEN]),
    Route::new(
        Method::POST,
        "/email/verify/resend",
        Endpoint::ResendVerification,
        "registration",
        "Send a new verification email",
    )
    .input(Input::Json(named::<EmailRequest>))
    .answers(&[Success::json(
        202,
        "Accepted; the same answer whether or not the account exists.",
        named::<Accepted>,
    )]),
    Route::new(
        Method::POST,
        "/token",
        Endpoint::Login,
        "tokens",
        "Log in with email and password",
    )
    .input(Input::Json(named::<LoginRequest>))
    .answers(&[Success::json(
        200,
        "Signed in (cookies too in cookie mode), or the second step MFA demands",
        inline::<LoginAnswer<'static>>,
    )])
    .problems(&[p::UNAUTHORIZED, p::FORBIDDEN]),
    Route::new(
        Method::POST,
        "/token/refresh",
        Endpoint::Refresh,
        "tokens",
        "Rotate a refresh token",
    )
    .describe(
        "The token from the body, or in cookie mode from the refresh cookie \
         (then CSRF-checked).",
    )
    .input(Input::OptionalJson(named::<RefreshRequest>))
    .answers(&[Success::json(
        200,
        "New pair; the presented token is spent",
        named::<TokenBody<'static>>,
    )])
    .problems(&[p::UNAUTHORIZED, p::FORBIDDEN]),
    Route::new(
        Method::POST,
        "/token/introspect",
        Endpoint::Introspect,
        "tokens",
        "RFC 7662 introspection of an access or refresh token",
    )
    .describe(
        "The caller authenticates: the configured introspection client with HTTP Basic \
         (`AUTHKIT_INTROSPECTION_CLIENT_ID` / `_SECRET`), or a bearer token (or access \
         cookie) holding `internal.tokens.introspect`. The body is the RFC 7662 form \
         (`application/x-www-form-urlencoded`) or, as an extension, JSON. \
         `token_type_hint` (`access_token` or `refresh_token`) only orders the search; \
         other values are ignored. A refresh token is only read, never rotated. \
         Throttled per client IP.",
    )
    .access(Access::Introspection)
    .input(Input::JsonOrForm(named::<IntrospectRequest>))
    .answers(&[Success::json(200, "Introspection", named::<Introspection>)]),
    Route::new(
        Method::POST,
        "/password/reset",
        Endpoint::PasswordReset,
        "password",
        "Email a password-reset link",
    )
    .input(Input::Json(named::<EmailRequest>))
    .answers(&[Success::json(
        202,
        "Accepted; the same answer whether or not the account exists.",
        named::<Accepted>,
    )]),
    Route::new(
        Method::POST,
        "/password/reset/confirm",
        Endpoint::PasswordResetConfirm,
        "password",
        "Set a new password with a reset token; revokes every session",
    )
    .input(Input::Json(named::<ResetConfirm>))
    .answers(&[Success::empty(204, "Password set")])
    .problems(&[p::UNAUTHORIZED]),
    Route::new(
        Method::POST,
        "/password/change",
        Endpoint::ChangePassword,
        "password",
        "Change the password",
    )
    .describe(
        "With a token: revokes the other sessions, 204. Without a token, with email: only \
         for an account whose login answered password_change_required (any other gets 401 \
         invalid_credentials and nothing changes): 200 token pair, or for an MFA account \
         the MFA challenge, and the new password is set by a successful /mfa/verify.",
    )
    .access(Access::Optional)
    .input(Input::Json(named::<PasswordChangeRequest>))
    .answers(&[
        Success::json(
            200,
            "Forced change: done and signed in, or (MFA) the challenge whose /mfa/verify \
             applies it",
            inline::<LoginAnswer<'static>>,
        ),
        Success::empty(204, "Password changed"),
    ])
    .problems(&[p::UNAUTHORIZED, p::FORBIDDEN]),
    Route::new(
        Method::POST,
        "/email/lookup",
        Endpoint::EmailLookup,
        "account",
        "Masked emails of accounts with this verified phone",
    )
    .input(Input::Json(named::<LookupRequest>))
    .answers(&[Success::json(
        200,
        "Matches (possibly none)",
        named::<Emails>,
    )]),
    Route::new(
        Method::GET,
        "/me",
        Endpoint::Me,
        "account",
        "The caller's account, roles and permissions",
    )
    .access(Access::Signed)
    .answers(&[Success::json(200, "Account", named::<Me>)])
    .problems(&[p::NOT_FOUND]),
    Route::new(
        Method::PATCH,
        "/me",
        Endpoint::UpdateMe,
        "account",
        "Edit the profile; null clears a field",
    )
    .access(Access::Signed)
    .input(Input::Json(named::<ProfileUpdate>))
    .answers(&[Success::json(200, "Updated", named::<UserAnswer>)])
    .problems(&[p::EMAIL_TAKEN]),
    Route::new(
        Method::POST,
        "/me/deactivate",
        Endpoint::Deactivate,
        "account",
        "Deactivate the account; revokes every session",
    )
    .access(Access::Signed)
    .input(Input::Json(named::<PasswordRequest>))
    .answers(&[Success::empty(
        204,
        "Deactivated; cookies cleared in cookie mode",
    )]),
    Route::new(
        Method::GET,
        "/me/export",
        Endpoint::Export,
        "account",
        "Everything held on the account",
    )
    .access(Access::Signed)
    .answers(&[Success::json(200, "Export", named::<DataExport>)]),
    Route::new(
        Method::GET,
        "/me/audit",
        Endpoint::MyAudit,
        "account",
        "The caller's security events, newest first",
    )
    .access(Access::Signed)
    .query(inline::<PageQuery>)
    .answers(&[Success::json(200, "One page", inline::<Page<AuditRecord>>)])
    .problems(&[p::VALIDATION_FAILED]),
    Route::new(
        Method::POST,
        "/logout",
        Endpoint::Logout,
        "sessions",
        "End the current session, or the one of the given refresh token",
    )
    .access(Access::Signed)
    .input(Input::OptionalJson(named::<RefreshRequest>))
    .answers(&[Success::empty(
        204,
        "Signed out; cookies cleared in cookie mode",
    )]),
    Route::new(
        Method::POST,
        "/logout-all",
        Endpoint::LogoutAll,
        "sessions",
        "End every session",
    )
    .access(Access::Signed)
    .answers(&[Success::empty(204, "Signed out everywhere")]),
    Route::new(
        Method::GET,
        "/sessions",
        Endpoint::Sessions,
        "sessions",
        "The caller's live sessions",
    )
    .access(Access::Signed)
    .answers(&[Success::json(
        200,
        "Sessions, newest first",
        inline::<Vec<SessionView>>,
    )]),
    Route::new(
        Method::DELETE,
        "/sessions/{id}",
        Endpoint::RevokeSession,
        "sessions",
        "Revoke one session",
    )
    .access(Access::Signed)
    .answers(&[Success::empty(204, "Revoked")])
    .problems(&[p::NOT_FOUND]),
];
