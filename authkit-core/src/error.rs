//! The one error type of authkit, its stable machine codes, and the causes
//! it keeps.
//!
//! [`AuthError`] says *what* failed, in the domain's terms, with a stable
//! [`code`](AuthError::code). When a failure has an underlying error (a
//! database error, an I/O error, a JSON error), that error is kept whole,
//! not turned into a string: it is the [`source`](Error::source), so a
//! host can downcast it.
//!
//! ```
//! use std::error::Error as _;
//! use std::io::{Error as IoError, ErrorKind};
//! use authkit_core::AuthError;
//!
//! let err = AuthError::store_unavailable(IoError::new(ErrorKind::ConnectionRefused, "refused"));
//! assert_eq!(err.code(), "store_unavailable");
//! let io = err.source().and_then(|source| source.downcast_ref::<IoError>());
//! assert_eq!(io.map(IoError::kind), Some(ErrorKind::ConnectionRefused));
//! assert_eq!(err.report().to_string(), "store unavailable: refused");
//! ```
//!
//! How an error answers over HTTP (status, title, the problem+json body)
//! is the api layer's mapping, not the error's: see
//! [`api::status_and_title`](crate::api::status_and_title) and
//! [`api::error_response`](crate::api::error_response).

use std::borrow::Cow;
use std::error::Error;
use std::fmt;
use std::sync::Arc;
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
/// Each variant has a stable [`code`](AuthError::code), the machine code of
/// the API's problem bodies. No variant carries a secret: tokens, codes and
/// passwords never end up in an error, so errors can be logged.
///
/// `Display` names the failure (and its context message, if any); the
/// underlying error of [`Store`](AuthError::Store),
/// [`StoreUnavailable`](AuthError::StoreUnavailable) and
/// [`Internal`](AuthError::Internal) is the [`source`](Error::source),
/// kept whole so a host can downcast it. [`report`](AuthError::report)
/// writes the whole chain on one line, for logs. The error is `Clone`:
/// causes are shared behind an `Arc`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum AuthError {
    /// Input failed validation; one entry per failed rule.
    Validation(Vec<FieldError>),
    /// A new password failed the password policy; one entry per failed rule.
    PasswordTooWeak(Vec<FieldError>),
    /// The email address already belongs to an account.
    EmailTaken,
    /// Wrong email or password (deliberately not saying which).
    InvalidCredentials,
    /// The account must verify its email address first.
    EmailNotVerified,
    /// Too many failed logins; the account is locked until the given time.
    AccountLocked {
        /// When the lock ends, if it is temporary.
        until: Option<DateTime<Utc>>,
    },
    /// The account has been deactivated.
    AccountInactive,
    /// A token (access, refresh, one-time) is malformed, forged, unknown,
    /// used or revoked.
    TokenInvalid,
    /// A token was genuine but has expired.
    TokenExpired,
    /// A refresh token that was already rotated was presented again; the
    /// whole session has been revoked.
    RefreshTokenReused,
    /// A one-time code (email, SMS, TOTP, backup) was wrong.
    MfaInvalidCode,
    /// The password must be changed before the account can be used.
    PasswordChangeRequired,
    /// The principal lacks the permission the operation needs.
    Forbidden,
    /// The resource does not exist (or is not visible to the caller).
    NotFound,
    /// Too many requests; retry after the given delay.
    RateLimited {
        /// How long the caller must wait before the next attempt.
        retry_after: Duration,
    },
    /// The organisation slug is in use.
    SlugTaken,
    /// The account is already a member of the organisation.
    AlreadyMember,
    /// The change would leave the organisation without an owner.
    LastOwner,
    /// The invitation was sent to another email address than the
    /// accepting account's.
    InviteEmailMismatch,
    /// Self-service registration is disabled.
    RegistrationClosed,
    /// The feature is turned off in the configuration (e.g. MFA routes
    /// with `AUTHKIT_ENABLE_MFA` off).
    FeatureDisabled,
    /// A social sign-in's `state` is missing, forged, expired, already
    /// used, for another provider, or from another browser.
    OAuthStateInvalid,
    /// The identity provider refused the sign-in (the user declined, or
    /// the provider answered the callback with an error).
    OAuthDenied,
    /// The identity provider could not be reached, timed out, or answered
    /// something unusable; the message is for logs only (it never holds a
    /// code or token).
    OAuthProviderError(String),
    /// The provider's ID token failed verification (signature, `iss`,
    /// `aud`, `nonce`, expiry).
    OAuthTokenInvalid,
    /// The provider reported no email address, and the account cannot be
    /// created or matched without one.
    OAuthEmailMissing,
    /// A local account has the provider's email address, but the provider
    /// or the account has not verified it, so the identity is not linked.
    AccountExistsUnverified,
    /// The identity is linked to another account, or the account already
    /// has an identity of this provider.
    IdentityTaken,
    /// Unlinking would leave the account with no way to sign in.
    LastSignInMethod,
    /// The server sheds load: too many requests already wait for the same
    /// scarce resource (the password-hash threads), so this one is refused
    /// at once, without doing the work; retry after the given delay.
    ServerBusy {
        /// How long the caller should wait before the next attempt.
        retry_after: Duration,
    },
    /// The store (database, cache) could not be reached or timed out; the
    /// driver's error is the [`source`](Error::source).
    StoreUnavailable(Cause),
    /// The store answered an error other than an outage (a constraint the
    /// schema enforces, a value that does not decode, a failed migration);
    /// the driver's error is the [`source`](Error::source).
    Store(Cause),
    /// A bug, a misconfiguration or an unexpected failure; the message and
    /// the [`source`](Error::source) are for logs only, never shown to
    /// clients.
    Internal(Cause),
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
            Self::Store(_) | Self::Internal(_) => "internal",
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

    /// An internal error caused by `err`, kept as the source. For logs;
    /// never shown to clients.
    pub fn internal(err: impl Error + Send + Sync + 'static) -> Self {
        Self::Internal(Cause::from_error(err))
    }

    /// An internal error with a message saying what failed, caused by
    /// `err`, kept as the source.
    pub fn internal_with(
        message: impl Into<Cow<'static, str>>,
        err: impl Error + Send + Sync + 'static,
    ) -> Self {
        Self::Internal(Cause::new(message).with_source(err))
    }

    /// An internal error with only a message (a broken invariant, a
    /// misconfiguration), for failures that have no underlying error.
    pub fn internal_msg(message: impl Into<Cow<'static, str>>) -> Self {
        Self::Internal(Cause::new(message))
    }

    /// A store error caused by the driver's `err`, kept as the source.
    pub fn store(err: impl Error + Send + Sync + 'static) -> Self {
        Self::Store(Cause::from_error(err))
    }

    /// The store could not be reached or timed out; the driver's `err` is
    /// kept as the source.
    pub fn store_unavailable(err: impl Error + Send + Sync + 'static) -> Self {
        Self::StoreUnavailable(Cause::from_error(err))
    }

    /// The cause kept by [`Store`](Self::Store),
    /// [`StoreUnavailable`](Self::StoreUnavailable) and
    /// [`Internal`](Self::Internal); `None` for the other kinds.
    pub fn cause(&self) -> Option<&Cause> {
        match self {
            Self::Store(cause) | Self::StoreUnavailable(cause) | Self::Internal(cause) => {
                Some(cause)
            }
            _ => None,
        }
    }

    /// The error and its chain of sources on one line (`internal error:
    /// cannot start a hash thread: Resource temporarily unavailable`), for
    /// logs: `Display` names only this error, so a log line built from it
    /// alone would lose the database's or the system's own message.
    pub fn report(&self) -> Report<'_> {
        Report(self)
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Validation(_) => "validation failed",
            Self::PasswordTooWeak(_) => "password too weak",
            Self::EmailTaken => "email already registered",
            Self::InvalidCredentials => "invalid credentials",
            Self::EmailNotVerified => "email not verified",
            Self::AccountLocked { .. } => "account locked",
            Self::AccountInactive => "account inactive",
            Self::TokenInvalid => "token invalid",
            Self::TokenExpired => "token expired",
            Self::RefreshTokenReused => "refresh token reused",
            Self::MfaInvalidCode => "invalid code",
            Self::PasswordChangeRequired => "password change required",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not found",
            Self::RateLimited { .. } => "rate limited",
            Self::SlugTaken => "slug taken",
            Self::AlreadyMember => "already a member",
            Self::LastOwner => "last owner",
            Self::InviteEmailMismatch => "invitation for another email",
            Self::RegistrationClosed => "registration closed",
            Self::FeatureDisabled => "feature disabled",
            Self::OAuthStateInvalid => "invalid sign-in state",
            Self::OAuthDenied => "sign-in denied by the provider",
            Self::OAuthProviderError(_) => "identity provider error",
            Self::OAuthTokenInvalid => "invalid ID token",
            Self::OAuthEmailMissing => "provider reported no email",
            Self::AccountExistsUnverified => "account exists with an unverified email",
            Self::IdentityTaken => "identity already linked",
            Self::LastSignInMethod => "last sign-in method",
            Self::ServerBusy { .. } => "server busy",
            Self::StoreUnavailable(_) => "store unavailable",
            Self::Store(_) => "store error",
            Self::Internal(_) => "internal error",
        })?;
        match self {
            Self::OAuthProviderError(message) => write!(f, ": {message}"),
            Self::Store(cause) | Self::StoreUnavailable(cause) | Self::Internal(cause) => {
                match cause.message() {
                    Some(message) => write!(f, ": {message}"),
                    None => Ok(()),
                }
            }
            _ => Ok(()),
        }
    }
}

impl Error for AuthError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.cause()
            .and_then(|cause| cause.source())
            .map(|err| err as _)
    }
}

/// What lies behind a store or internal failure: a message for logs (what
/// authkit was doing) and the underlying error, kept whole so a host can
/// reach it through [`Error::source`] and downcast it. Shared behind an
/// `Arc`, so [`AuthError`] stays `Clone`.
#[derive(Debug, Clone)]
pub struct Cause {
    message: Option<Cow<'static, str>>,
    source: Option<Arc<dyn Error + Send + Sync + 'static>>,
}

impl Cause {
    /// A cause described by a message only.
    pub fn new(message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            message: Some(message.into()),
            source: None,
        }
    }

    /// A cause that is `err` itself.
    pub fn from_error(err: impl Error + Send + Sync + 'static) -> Self {
        Self {
            message: None,
            source: Some(Arc::new(err)),
        }
    }

    /// This cause, with `err` as its underlying error.
    #[must_use]
    pub fn with_source(mut self, err: impl Error + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(err));
        self
    }

    /// What authkit was doing when it failed, if it said.
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// The underlying error, if there is one.
    pub fn source(&self) -> Option<&(dyn Error + Send + Sync + 'static)> {
        self.source.as_deref()
    }

    /// The underlying error as an `E`, if it is one.
    pub fn downcast_ref<E: Error + 'static>(&self) -> Option<&E> {
        self.source()?.downcast_ref::<E>()
    }
}

/// An [`AuthError`] with its chain of sources, displayed as `a: b: c`;
/// made by [`AuthError::report`].
#[derive(Debug, Clone, Copy)]
pub struct Report<'a>(&'a AuthError);

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut next = self.0.source();
        while let Some(err) = next {
            write!(f, ": {err}")?;
            next = err.source();
        }
        Ok(())
    }
}

/// Result alias used across authkit.
pub type AuthResult<T> = Result<T, AuthError>;

#[cfg(test)]
mod tests {
    use std::io;

    use super::*;

    /// One value of every kind, with the code it has always had.
    fn every_kind() -> Vec<(AuthError, &'static str)> {
        let second = Duration::from_secs(1);
        vec![
            (AuthError::Validation(vec![]), "validation_failed"),
            (AuthError::PasswordTooWeak(vec![]), "password_too_weak"),
            (AuthError::EmailTaken, "email_taken"),
            (AuthError::InvalidCredentials, "invalid_credentials"),
            (AuthError::EmailNotVerified, "email_not_verified"),
            (AuthError::AccountLocked { until: None }, "account_locked"),
            (AuthError::AccountInactive, "account_inactive"),
            (AuthError::TokenInvalid, "token_invalid"),
            (AuthError::TokenExpired, "token_expired"),
            (AuthError::RefreshTokenReused, "refresh_token_reused"),
            (AuthError::MfaInvalidCode, "mfa_invalid_code"),
            (
                AuthError::PasswordChangeRequired,
                "password_change_required",
            ),
            (AuthError::Forbidden, "forbidden"),
            (AuthError::NotFound, "not_found"),
            (
                AuthError::RateLimited {
                    retry_after: second,
                },
                "rate_limited",
            ),
            (AuthError::SlugTaken, "slug_taken"),
            (AuthError::AlreadyMember, "already_member"),
            (AuthError::LastOwner, "last_owner"),
            (AuthError::InviteEmailMismatch, "invite_email_mismatch"),
            (AuthError::RegistrationClosed, "registration_closed"),
            (AuthError::FeatureDisabled, "feature_disabled"),
            (AuthError::OAuthStateInvalid, "oauth_state_invalid"),
            (AuthError::OAuthDenied, "oauth_denied"),
            (
                AuthError::OAuthProviderError("timeout".into()),
                "oauth_provider_error",
            ),
            (AuthError::OAuthTokenInvalid, "oauth_token_invalid"),
            (AuthError::OAuthEmailMissing, "oauth_email_missing"),
            (
                AuthError::AccountExistsUnverified,
                "account_exists_unverified",
            ),
            (AuthError::IdentityTaken, "identity_taken"),
            (AuthError::LastSignInMethod, "last_sign_in_method"),
            (
                AuthError::ServerBusy {
                    retry_after: second,
                },
                "server_busy",
            ),
            (
                AuthError::store_unavailable(io::Error::from(io::ErrorKind::TimedOut)),
                "store_unavailable",
            ),
            (
                AuthError::store(io::Error::other("duplicate key")),
                "internal",
            ),
            (AuthError::internal_msg("bug"), "internal"),
        ]
    }

    #[test]
    fn every_kind_keeps_its_code() {
        for (err, code) in every_kind() {
            assert_eq!(err.code(), code, "{err}");
        }
    }

    #[test]
    fn a_store_error_is_reachable_through_source() {
        let err = AuthError::store(io::Error::new(io::ErrorKind::InvalidData, "bad row"));
        let source = err.source().and_then(|s| s.downcast_ref::<io::Error>());
        assert_eq!(
            source.map(io::Error::kind),
            Some(io::ErrorKind::InvalidData)
        );
        assert_eq!(err.to_string(), "store error");
        assert_eq!(err.report().to_string(), "store error: bad row");

        let unavailable = AuthError::store_unavailable(io::Error::from(io::ErrorKind::TimedOut));
        let copy = unavailable.clone();
        let cause = copy.cause().and_then(Cause::downcast_ref::<io::Error>);
        assert_eq!(cause.map(io::Error::kind), Some(io::ErrorKind::TimedOut));
    }

    #[test]
    fn internal_errors_keep_their_message_and_source() {
        let plain = AuthError::internal_msg("no signing key");
        assert!(plain.source().is_none());
        assert_eq!(plain.to_string(), "internal error: no signing key");

        let json = serde_json::from_str::<u8>("x").map(|_| ()).unwrap_err();
        let text = json.to_string();
        let err = AuthError::internal_with("stored payload", json);
        assert_eq!(err.to_string(), "internal error: stored payload");
        assert!(err.source().is_some_and(|s| s.is::<serde_json::Error>()));
        assert_eq!(
            err.report().to_string(),
            format!("internal error: stored payload: {text}")
        );

        let bare = AuthError::internal(io::Error::other("disk full"));
        assert_eq!(bare.report().to_string(), "internal error: disk full");
        assert!(AuthError::NotFound.source().is_none());
    }

    #[test]
    fn field_errors_are_exposed_only_for_validation() {
        let err = AuthError::invalid_field("email", "email_invalid", "not an email");
        assert_eq!(err.field_errors().len(), 1);
        assert_eq!(err.field_errors()[0].code, "email_invalid");
        assert!(AuthError::NotFound.field_errors().is_empty());
    }
}
