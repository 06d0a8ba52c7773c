//! One-time secrets: email-verification and reset links, emailed codes,
//! magic links and (later) invites. Random, stored hashed, purpose-bound,
//! expiring, single-use, newest-only, attempt-limited when they are codes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::secret::TokenHash;

/// What a one-time secret may be used for. A secret issued for one purpose
/// is never accepted for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Purpose {
    /// Link token proving an email address.
    VerifyEmail,
    /// 6-digit code proving an email address.
    VerifyEmailCode,
    /// Link token for a password reset.
    ResetPassword,
    /// 6-digit code confirming a registration started with `/register/start`.
    RegisterOtp,
    /// Sign-in link.
    MagicLink,
    /// Organisation invitation.
    Invite,
    /// `mfa_token` of a sign-in waiting for its second factor (subject: the
    /// user id).
    MfaLogin,
    /// 6-digit code emailed for one sign-in (subject: the id of its
    /// `MfaLogin` token).
    MfaEmailCode,
    /// 6-digit code sent by SMS for one sign-in (subject: the id of its
    /// `MfaLogin` token).
    MfaSmsCode,
    /// 6-digit code proving a phone number (subject: the user id).
    PhoneVerify,
    /// `state` of a social sign-in or link (subject: a fresh id per flow,
    /// so concurrent sign-ins do not invalidate each other).
    #[serde(rename = "oauth_state")]
    OAuthState,
}

impl Purpose {
    /// Every purpose.
    pub const ALL: [Purpose; 11] = [
        Self::VerifyEmail,
        Self::VerifyEmailCode,
        Self::ResetPassword,
        Self::RegisterOtp,
        Self::MagicLink,
        Self::Invite,
        Self::MfaLogin,
        Self::MfaEmailCode,
        Self::MfaSmsCode,
        Self::PhoneVerify,
        Self::OAuthState,
    ];

    /// Stable name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::VerifyEmailCode => "verify_email_code",
            Self::ResetPassword => "reset_password",
            Self::RegisterOtp => "register_otp",
            Self::MagicLink => "magic_link",
            Self::Invite => "invite",
            Self::MfaLogin => "mfa_login",
            Self::MfaEmailCode => "mfa_email_code",
            Self::MfaSmsCode => "mfa_sms_code",
            Self::PhoneVerify => "phone_verify",
            Self::OAuthState => "oauth_state",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "verify_email" => Self::VerifyEmail,
            "verify_email_code" => Self::VerifyEmailCode,
            "reset_password" => Self::ResetPassword,
            "register_otp" => Self::RegisterOtp,
            "magic_link" => Self::MagicLink,
            "invite" => Self::Invite,
            "mfa_login" => Self::MfaLogin,
            "mfa_email_code" => Self::MfaEmailCode,
            "mfa_sms_code" => Self::MfaSmsCode,
            "phone_verify" => Self::PhoneVerify,
            "oauth_state" => Self::OAuthState,
            _ => return None,
        })
    }
}

/// A one-time secret as stored (the secret itself is never stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneTimeToken {
    /// Record id.
    pub id: Uuid,
    /// What it may be used for.
    pub purpose: Purpose,
    /// Whom it is for: a user id, or a challenge id for registration codes.
    /// Issuing a new secret for the same (purpose, subject) invalidates the
    /// older ones.
    pub subject: String,
    /// Hash of the secret ([`TokenHash::of_token`] for links,
    /// [`TokenHash::of_code`] for codes).
    pub hash: TokenHash,
    /// Purpose-specific data (e.g. a pending registration), never a secret
    /// in clear.
    pub payload: serde_json::Value,
    /// Issue time.
    pub created_at: DateTime<Utc>,
    /// End of validity.
    pub expires_at: DateTime<Utc>,
    /// Failed attempts so far (codes only).
    pub attempts: u32,
    /// Failed attempts allowed before the secret dies (codes only).
    pub max_attempts: u32,
    /// When it was used.
    pub consumed_at: Option<DateTime<Utc>>,
}

/// Result of checking a code against the newest live secret of a
/// (purpose, subject).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeCheck {
    /// The code matched; the secret is now consumed.
    Accepted(OneTimeToken),
    /// Wrong code; the attempt was counted. `attempts_left` may be zero, in
    /// which case the secret is dead.
    Rejected {
        /// Attempts still allowed on this secret.
        attempts_left: u32,
    },
    /// No live secret (none issued, expired, used, or out of attempts).
    Missing,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names_round_trip() {
        for purpose in Purpose::ALL {
            assert_eq!(Purpose::parse(purpose.as_str()), Some(purpose));
            assert_eq!(
                serde_json::to_value(purpose).unwrap(),
                serde_json::json!(purpose.as_str())
            );
        }
        assert_eq!(Purpose::parse("MFA_LOGIN"), None);
        assert_eq!(Purpose::parse(""), None);
    }
}
