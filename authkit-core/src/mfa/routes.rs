//! The multi-factor routes (`/mfa/...`): their request and answer types,
//! and their table. While MFA is off they answer 404 `feature_disabled`
//! before reading the request. The handlers are in the api layer (`api/handlers.rs`).

use http::Method;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::cookies::TokenBody;
use crate::api::input::JsonBody;
use crate::api::openapi as p;
use crate::api::problem::Failure;
use crate::api::routes::{Access, Endpoint, Input, Route, Success, named};
use crate::auth::{TotpDisable, TotpSetup};
use crate::mfa::MfaMethod;

/// `POST /mfa/challenge`.
#[derive(Deserialize, ToSchema)]
pub(crate) struct ChallengeRequest {
    /// The token of the login's MFA challenge.
    pub(crate) mfa_token: String,
    /// `email` or `sms`: where to send a code (`totp` and `backup_code`
    /// answer 422 with the field code `mfa_method_unavailable`, anything
    /// else with `invalid_choice`).
    pub(crate) method: String,
}

/// `POST /mfa/verify`.
#[derive(Deserialize, ToSchema)]
pub(crate) struct VerifyRequest {
    /// The token of the login's MFA challenge.
    pub(crate) mfa_token: String,
    /// `totp`, `backup_code`, `email` or `sms` (anything else: 422
    /// `invalid_choice`).
    #[schema(value_type = MfaMethod)]
    pub(crate) method: String,
    /// The code.
    pub(crate) code: String,
}

/// A body of one code (`POST /mfa/totp/enable`).
#[derive(Deserialize, ToSchema)]
pub(crate) struct CodeRequest {
    /// A current TOTP code (or, to disable, a backup code).
    pub(crate) code: String,
}

/// `POST /mfa/totp/disable` proven by the password.
#[derive(Deserialize, ToSchema)]
pub(crate) struct PasswordProof {
    /// The account's password.
    pub(crate) password: String,
}

/// `POST /mfa/totp/disable`: the password, or a TOTP or backup code.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum DisableRequest {
    /// By password.
    Password(PasswordProof),
    /// By code.
    Code(CodeRequest),
}

impl DisableRequest {
    /// The variant `body` means (`password` decides), as the service's
    /// proof.
    pub(crate) fn read(body: JsonBody) -> Result<TotpDisable, Failure> {
        let request = if body.has("password") {
            Self::Password(body.typed()?)
        } else {
            Self::Code(body.typed()?)
        };
        Ok(match request {
            Self::Password(PasswordProof { password }) => TotpDisable::Password { password },
            Self::Code(CodeRequest { code }) => TotpDisable::Code { code },
        })
    }
}

/// `POST /mfa/enroll/totp/setup`.
#[derive(Deserialize, ToSchema)]
pub(crate) struct EnrollRequest {
    /// The token of a `mfa_enrollment_required` login answer.
    pub(crate) mfa_token: String,
}

/// `POST /mfa/enroll/totp/enable`.
#[derive(Deserialize, ToSchema)]
pub(crate) struct EnrollEnableRequest {
    /// The token of a `mfa_enrollment_required` login answer.
    pub(crate) mfa_token: String,
    /// A current TOTP code.
    pub(crate) code: String,
}

/// `{backup_codes}`, shown once.
#[derive(Serialize, ToSchema)]
pub(crate) struct BackupCodes<'a> {
    /// Single-use recovery codes; earlier ones stop working.
    pub(crate) backup_codes: &'a [String],
}

/// 200 of `POST /mfa/enroll/totp/enable`: the token body of a login, plus
/// the backup codes.
#[derive(Serialize, ToSchema)]
pub(crate) struct Enrolled<'a> {
    /// The session the enrolment opened.
    #[serde(flatten)]
    pub(crate) tokens: TokenBody<'a>,
    /// The backup codes, shown once.
    pub(crate) backup_codes: &'a [String],
}

/// The routes of the MFA feature.
pub(crate) static ROUTES: &[Route] = &[
    Route::new(
        Method::POST,
        "/mfa/challenge",
        Endpoint::MfaChallenge,
        "mfa",
        "Send a one-time code by email or SMS for the login attempt of mfa_token \
         (each new code replaces the previous one)",
    )
    .input(Input::Json(named::<ChallengeRequest>))
    .answers(&[Success::json(
        202,
        "Code sent",
        named::<crate::account::routes::Accepted>,
    )])
    .problems(&[p::UNAUTHORIZED, p::FORBIDDEN, p::FEATURE_DISABLED]),
    Route::new(
        Method::POST,
        "/mfa/verify",
        Endpoint::MfaVerify,
        "mfa",
        "Second step of a login: a TOTP, backup, emailed or texted code for mfa_token",
    )
    .describe(
        "Failures count towards the account's MFA failure budget, whose exhaustion \
         locks the account.",
    )
    .input(Input::Json(named::<VerifyRequest>))
    .answers(&[Success::json(
        200,
        "Signed in (cookies too in cookie mode)",
        named::<TokenBody<'static>>,
    )])
    .problems(&[p::UNAUTHORIZED, p::FORBIDDEN, p::FEATURE_DISABLED]),
    Route::new(
        Method::POST,
        "/mfa/totp/setup",
        Endpoint::TotpSetup,
        "mfa",
        "Start (or restart) a TOTP enrolment; pending until /mfa/totp/enable",
    )
    .access(Access::Signed)
    .answers(&[Success::json(
        200,
        "The secret to add to an authenticator app",
        named::<TotpSetup>,
    )])
    .problems(&[p::FEATURE_DISABLED, p::VALIDATION_FAILED]),
    Route::new(
        Method::POST,
        "/mfa/totp/enable",
        Endpoint::TotpEnable,
        "mfa",
        "Confirm the pending enrolment with a current code; TOTP is on from now",
    )
    .access(Access::Signed)
    .input(Input::Json(named::<CodeRequest>))
    .answers(&[Success::json(
        200,
        "TOTP on; the backup codes, shown once",
        named::<BackupCodes<'static>>,
    )])
    .problems(&[p::FEATURE_DISABLED]),
    Route::new(
        Method::POST,
        "/mfa/totp/disable",
        Endpoint::TotpDisable,
        "mfa",
        "Turn TOTP off (backup codes deleted), proven by the password or a TOTP or backup code",
    )
    .access(Access::Signed)
    .input(Input::Json(named::<DisableRequest>))
    .answers(&[Success::empty(204, "TOTP off")])
    .problems(&[p::FEATURE_DISABLED]),
    Route::new(
        Method::POST,
        "/mfa/backup-codes",
        Endpoint::BackupCodes,
        "mfa",
        "Replace the backup codes (TOTP must be on)",
    )
    .access(Access::Signed)
    .answers(&[Success::json(
        200,
        "The new backup codes, shown once; earlier ones stop working",
        named::<BackupCodes<'static>>,
    )])
    .problems(&[p::FEATURE_DISABLED, p::VALIDATION_FAILED]),
    Route::new(
        Method::POST,
        "/mfa/enroll/totp/setup",
        Endpoint::EnrollTotpSetup,
        "mfa",
        "Start the TOTP enrolment a role demands, with the mfa_token of a \
         mfa_enrollment_required login answer",
    )
    .input(Input::Json(named::<EnrollRequest>))
    .answers(&[Success::json(
        200,
        "The secret to add to an authenticator app",
        named::<TotpSetup>,
    )])
    .problems(&[p::UNAUTHORIZED, p::FORBIDDEN, p::FEATURE_DISABLED]),
    Route::new(
        Method::POST,
        "/mfa/enroll/totp/enable",
        Endpoint::EnrollTotpEnable,
        "mfa",
        "Confirm the demanded enrolment with a current code and sign in",
    )
    .input(Input::Json(named::<EnrollEnableRequest>))
    .answers(&[Success::json(
        200,
        "Signed in (cookies too in cookie mode), with the backup codes, shown once",
        named::<Enrolled<'static>>,
    )])
    .problems(&[p::UNAUTHORIZED, p::FORBIDDEN, p::FEATURE_DISABLED]),
];
