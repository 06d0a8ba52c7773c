//! Multi-factor authentication building blocks: TOTP (RFC 6238), backup
//! codes, encryption of TOTP secrets at rest, QR rendering of enrolment
//! URIs, device fingerprints for new-sign-in notices, and the wording of
//! MFA messages ([`NoticeTemplates`]).
//!
//! The flows that use them (`totp_setup`, `mfa_verify`, ...) are methods
//! of [`Auth`](crate::Auth); the state they keep lives in
//! [`MfaStore`].
//!
//! Methods, from strongest to weakest: `totp` (an authenticator app),
//! `backup_code` (one-time recovery codes), `sms` and `email` (a code sent
//! to the verified phone or to the account's address). NIST SP 800-63B
//! does not accept email as an out-of-band authenticator and restricts SMS;
//! offer only the methods your risk allows with `AUTHKIT_MFA_METHODS`.

mod backup_codes;
mod cipher;
mod config;
#[cfg(feature = "testing")]
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub(crate) mod conformance;
mod device;
pub(crate) mod memory;
mod notices;
mod qr;
pub(crate) mod routes;
mod service;
mod store;
mod totp;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use backup_codes::{BACKUP_CODE_COUNT, generate_backup_codes, normalize_backup_code};
pub use cipher::SecretCipher;
pub use config::MfaConfig;
pub use device::device_fingerprint;
pub use notices::{DefaultNotices, NoticeTemplates};
pub use qr::{qr_png_base64, qr_svg};
pub use service::{Mfa, MfaChallenge, MfaEnrollment, TotpDisable, TotpEnrolled, TotpSetup};
pub use store::{DeviceSeen, MfaStatus, MfaStore, TotpRecord};
pub use totp::{TotpAlgorithm, TotpParams, TotpSecret, otpauth_uri};

/// A second factor a user can present at login.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum MfaMethod {
    /// A code from an authenticator app (RFC 6238).
    Totp,
    /// One of the single-use recovery codes shown at enrolment.
    BackupCode,
    /// A 6-digit code emailed for this sign-in (the weakest method).
    Email,
    /// A 6-digit code sent by SMS to the verified phone.
    Sms,
}

impl MfaMethod {
    /// Every method, strongest first.
    pub const ALL: [MfaMethod; 4] = [Self::Totp, Self::BackupCode, Self::Sms, Self::Email];

    /// Stable name (`totp`, `backup_code`, `email`, `sms`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Totp => "totp",
            Self::BackupCode => "backup_code",
            Self::Email => "email",
            Self::Sms => "sms",
        }
    }
}

impl fmt::Display for MfaMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown method name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown MFA method")]
pub struct UnknownMethod;

impl FromStr for MfaMethod {
    type Err = UnknownMethod;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "totp" => Ok(Self::Totp),
            "backup_code" => Ok(Self::BackupCode),
            "email" => Ok(Self::Email),
            "sms" => Ok(Self::Sms),
            _ => Err(UnknownMethod),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_names_round_trip() {
        for method in MfaMethod::ALL {
            assert_eq!(method.as_str().parse::<MfaMethod>(), Ok(method));
            assert_eq!(
                serde_json::to_value(method).unwrap(),
                serde_json::json!(method.as_str())
            );
        }
        assert_eq!(" TOTP ".parse::<MfaMethod>(), Ok(MfaMethod::Totp));
        for bad in ["", "password", "t0tp", "smś"] {
            assert_eq!(bad.parse::<MfaMethod>(), Err(UnknownMethod), "{bad}");
        }
    }
}
