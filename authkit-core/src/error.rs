//! The one error type of authkit and its stable machine codes.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// One failed rule of a validated input, reported in a problem's `errors[]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// The input field the rule applies to (`password`, `email`, ...).
    pub field: String,
    /// Stable machine code of the rule (`password_too_common`, ...).
    pub code: String,
    /// Human-readable explanation, safe to show to the user.
    pub message: String,
}

impl FieldError {
    /// Builds a field error.
    pub fn new(
        field: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            field: field.into(),
            code: code.into(),
            message: message.into(),
        }
    }
}

/// Every way an authkit operation can fail.
///
/// Each variant has a stable [`code`](AuthError::code) and an HTTP
/// [`status`](AuthError::status) hint. No variant carries a secret: tokens,
/// codes and passwords never end up in an error, so errors can be logged.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// Input failed validation; one entry per failed rule.
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// A new password failed the password policy; one entry per failed rule.
    #[error("password too weak")]
    PasswordTooWeak(Vec<FieldError>),
    /// The email address already belongs to an account.
    #[error("email already registered")]
    EmailTaken,
    /// Wrong email or password (deliberately not saying which).
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The account must verify its email address first.
    #[error("email not verified")]
    EmailNotVerified,
    /// Too many failed logins; the account is locked until the given time.
    #[error("account locked")]
    AccountLocked {
        /// When the lock ends, if it is temporary.
        until: Option<DateTime<Utc>>,
    },
    /// The account has been deactivated.
    #[error("account inactive")]
    AccountInactive,
    /// A token (access, refresh, one-time) is malformed, forged, unknown,
    /// used or revoked.
    #[error("token invalid")]
    TokenInvalid,
    /// A token was genuine but has expired.
    #[error("token expired")]
    TokenExpired,
    /// A refresh token that was already rotated was presented again; the
    /// whole session has been revoked.
    #[error("refresh token reused")]
    RefreshTokenReused,
    /// A one-time code (email, SMS, TOTP, backup) was wrong.
    #[error("invalid code")]
    MfaInvalidCode,
    /// The password must be changed before the account can be used.
    #[error("password change required")]
    PasswordChangeRequired,
    /// The principal lacks the permission the operation needs.
    #[error("forbidden")]
    Forbidden,
    /// The resource does not exist (or is not visible to the caller).
    #[error("not found")]
    NotFound,
    /// Too many requests; retry after the given delay.
    #[error("rate limited")]
    RateLimited {
        /// How long the caller must wait before the next attempt.
        retry_after: Duration,
    },
    /// The organisation slug is in use.
    #[error("slug taken")]
    SlugTaken,
    /// The account is already a member of the organisation.
    #[error("already a member")]
    AlreadyMember,
    /// The change would leave the organisation without an owner.
    #[error("last owner")]
    LastOwner,
    /// The invitation was sent to another email address than the
    /// accepting account's.
    #[error("invitation for another email")]
    InviteEmailMismatch,
    /// Self-service registration is disabled.
    #[error("registration closed")]
    RegistrationClosed,
    /// The feature is turned off in the configuration (e.g. MFA routes
    /// with `AUTHKIT_ENABLE_MFA` off).
    #[error("feature disabled")]
    FeatureDisabled,
    /// A social sign-in's `state` is missing, forged, expired, already
    /// used, for another provider, or from another browser.
    #[error("invalid sign-in state")]
    OAuthStateInvalid,
    /// The identity provider refused the sign-in (the user declined, or
    /// the provider answered the callback with an error).
    #[error("sign-in denied by the provider")]
    OAuthDenied,
    /// The identity provider could not be reached, timed out, or answered
    /// something unusable; the message is for logs only (it never holds a
    /// code or token).
    #[error("identity provider error: {0}")]
    OAuthProviderError(String),
    /// The provider's ID token failed verification (signature, `iss`,
    /// `aud`, `nonce`, expiry).
    #[error("invalid ID token")]
    OAuthTokenInvalid,
    /// The provider reported no email address, and the account cannot be
    /// created or matched without one.
    #[error("provider reported no email")]
    OAuthEmailMissing,
    /// A local account has the provider's email address, but the provider
    /// or the account has not verified it, so the identity is not linked.
    #[error("account exists with an unverified email")]
    AccountExistsUnverified,
    /// The identity is linked to another account, or the account already
    /// has an identity of this provider.
    #[error("identity already linked")]
    IdentityTaken,
    /// Unlinking would leave the account with no way to sign in.
    #[error("last sign-in method")]
    LastSignInMethod,
    /// The server sheds load: too many requests already wait for the same
    /// scarce resource (the password-hash threads), so this one is refused
    /// at once, without doing the work; retry after the given delay.
    #[error("server busy")]
    ServerBusy {
        /// How long the caller should wait before the next attempt.
        retry_after: Duration,
    },
    /// The store (database) could not be reached or timed out.
    #[error("store unavailable")]
    StoreUnavailable(String),
    /// A bug or an unexpected failure; the message is for logs only.
    #[error("internal error: {0}")]
    Internal(String),
}

impl AuthError {
    /// The stable machine code, as used in problem+json bodies.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Validation(_) => "validation_failed",
            Self::PasswordTooWeak(_) => "password_too_weak",
            Self::EmailTaken => "email_taken",
            Self::InvalidCredentials => "invalid_credentials",
            Self::EmailNotVerified => "email_not_verified",
            Self::AccountLocked { .. } => "account_locked",
            Self::AccountInactive => "account_inactive",
            Self::TokenInvalid => "token_invalid",
            Self::TokenExpired => "token_expired",
            Self::RefreshTokenReused => "refresh_token_reused",
            Self::MfaInvalidCode => "mfa_invalid_code",
            Self::PasswordChangeRequired => "password_change_required",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::RateLimited { .. } => "rate_limited",
            Self::SlugTaken => "slug_taken",
            Self::AlreadyMember => "already_member",
            Self::LastOwner => "last_owner",
            Self::InviteEmailMismatch => "invite_email_mismatch",
            Self::RegistrationClosed => "registration_closed",
            Self::FeatureDisabled => "feature_disabled",
            Self::OAuthStateInvalid => "oauth_state_invalid",
            Self::OAuthDenied => "oauth_denied",
            Self::OAuthProviderError(_) => "oauth_provider_error",
            Self::OAuthTokenInvalid => "oauth_token_invalid",
            Self::OAuthEmailMissing => "oauth_email_missing",
            Self::AccountExistsUnverified => "account_exists_unverified",
            Self::IdentityTaken => "identity_taken",
            Self::LastSignInMethod => "last_sign_in_method",
            Self::ServerBusy { .. } => "server_busy",
            Self::StoreUnavailable(_) => "store_unavailable",
            Self::Internal(_) => "internal",
        }
    }

    /// The HTTP status this error maps to.
    pub fn status(&self) -> u16 {
        match self {
            Self::Validation(_) | Self::PasswordTooWeak(_) => 422,
            Self::EmailTaken | Self::SlugTaken | Self::AlreadyMember | Self::LastOwner => 409,
            Self::InvalidCredentials
            | Self::TokenInvalid
            | Self::TokenExpired
            | Self::RefreshTokenReused
            | Self::MfaInvalidCode
            | Self::OAuthTokenInvalid => 401,
            Self::EmailNotVerified
            | Self::AccountLocked { .. }
            | Self::AccountInactive
            | Self::PasswordChangeRequired
            | Self::Forbidden
            | Self::InviteEmailMismatch
            | Self::RegistrationClosed
            | Self::OAuthDenied
            | Self::OAuthEmailMissing => 403,
            Self::OAuthStateInvalid => 400,
            Self::AccountExistsUnverified | Self::IdentityTaken | Self::LastSignInMethod => 409,
            Self::OAuthProviderError(_) => 502,
            Self::NotFound | Self::FeatureDisabled => 404,
            Self::RateLimited { .. } => 429,
            Self::ServerBusy { .. } | Self::StoreUnavailable(_) => 503,
            Self::Internal(_) => 500,
        }
    }

    /// A short human title for the problem body.
    pub fn title(&self) -> &'static str {
        match self {
            Self::Validation(_) => "Validation failed",
            Self::PasswordTooWeak(_) => "Password too weak",
            Self::EmailTaken => "Email already registered",
            Self::InvalidCredentials => "Invalid credentials",
            Self::EmailNotVerified => "Email not verified",
            Self::AccountLocked { .. } => "Account locked",
            Self::AccountInactive => "Account inactive",
            Self::TokenInvalid => "Invalid token",
            Self::TokenExpired => "Token expired",
            Self::RefreshTokenReused => "Refresh token reused",
            Self::MfaInvalidCode => "Invalid code",
            Self::PasswordChangeRequired => "Password change required",
            Self::Forbidden => "Forbidden",
            Self::NotFound => "Not found",
            Self::RateLimited { .. } => "Too many requests",
            Self::SlugTaken => "Slug taken",
            Self::AlreadyMember => "Already a member",
            Self::LastOwner => "Last owner",
            Self::InviteEmailMismatch => "Invitation for another email",
            Self::RegistrationClosed => "Registration closed",
            Self::FeatureDisabled => "Feature disabled",
            Self::OAuthStateInvalid => "Invalid sign-in state",
            Self::OAuthDenied => "Sign-in denied",
            Self::OAuthProviderError(_) => "Identity provider error",
            Self::OAuthTokenInvalid => "Invalid ID token",
            Self::OAuthEmailMissing => "Email required",
            Self::AccountExistsUnverified => "Account exists",
            Self::IdentityTaken => "Identity already linked",
            Self::LastSignInMethod => "Last sign-in method",
            Self::ServerBusy { .. } => "Server busy",
            Self::StoreUnavailable(_) => "Service unavailable",
            Self::Internal(_) => "Internal error",
        }
    }

    /// The per-field errors of a validation failure (empty otherwise).
    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            Self::Validation(errors) | Self::PasswordTooWeak(errors) => errors,
            _ => &[],
        }
    }

    /// Shorthand for a single-field validation error.
    pub fn invalid_field(
        field: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::Validation(vec![FieldError::new(field, code, message)])
    }

    /// Shorthand for an internal error from anything displayable. The text
    /// is for logs; it is never shown to clients.
    pub fn internal(err: impl std::fmt::Display) -> Self {
        Self::Internal(err.to_string())
    }
}

/// Result alias used across authkit.
pub type AuthResult<T> = Result<T, AuthError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_the_documented_status() {
        let cases = [
            (AuthError::Validation(vec![]), "validation_failed", 422),
            (AuthError::PasswordTooWeak(vec![]), "password_too_weak", 422),
            (AuthError::EmailTaken, "email_taken", 409),
            (AuthError::InvalidCredentials, "invalid_credentials", 401),
            (AuthError::EmailNotVerified, "email_not_verified", 403),
            (
                AuthError::AccountLocked { until: None },
                "account_locked",
                403,
            ),
            (AuthError::AccountInactive, "account_inactive", 403),
            (AuthError::TokenInvalid, "token_invalid", 401),
            (AuthError::TokenExpired, "token_expired", 401),
            (AuthError::RefreshTokenReused, "refresh_token_reused", 401),
            (AuthError::MfaInvalidCode, "mfa_invalid_code", 401),
            (
                AuthError::PasswordChangeRequired,
                "password_change_required",
                403,
            ),
            (AuthError::Forbidden, "forbidden", 403),
            (AuthError::NotFound, "not_found", 404),
            (
                AuthError::RateLimited {
                    retry_after: Duration::from_secs(1),
                },
                "rate_limited",
                429,
            ),
            (AuthError::RegistrationClosed, "registration_closed", 403),
            (AuthError::SlugTaken, "slug_taken", 409),
            (AuthError::AlreadyMember, "already_member", 409),
            (AuthError::LastOwner, "last_owner", 409),
            (AuthError::InviteEmailMismatch, "invite_email_mismatch", 403),
            (AuthError::FeatureDisabled, "feature_disabled", 404),
            (AuthError::OAuthStateInvalid, "oauth_state_invalid", 400),
            (AuthError::OAuthDenied, "oauth_denied", 403),
            (
                AuthError::OAuthProviderError("timeout".into()),
                "oauth_provider_error",
                502,
            ),
            (AuthError::OAuthTokenInvalid, "oauth_token_invalid", 401),
            (AuthError::OAuthEmailMissing, "oauth_email_missing", 403),
            (
                AuthError::AccountExistsUnverified,
                "account_exists_unverified",
                409,
            ),
            (AuthError::IdentityTaken, "identity_taken", 409),
            (AuthError::LastSignInMethod, "last_sign_in_method", 409),
            (
                AuthError::ServerBusy {
                    retry_after: Duration::from_secs(1),
                },
                "server_busy",
                503,
            ),
            (
                AuthError::StoreUnavailable("down".into()),
                "store_unavailable",
                503,
            ),
            (AuthError::Internal("bug".into()), "internal", 500),
        ];
        for (err, code, status) in cases {
            assert_eq!(err.code(), code);
            assert_eq!(err.status(), status, "{code}");
            assert!(!err.title().is_empty());
        }
    }

    #[test]
    fn field_errors_are_exposed_only_for_validation() {
        let err = AuthError::invalid_field("email", "email_invalid", "not an email");
        assert_eq!(err.field_errors().len(), 1);
        assert_eq!(err.field_errors()[0].code, "email_invalid");
        assert!(AuthError::NotFound.field_errors().is_empty());
    }
}
