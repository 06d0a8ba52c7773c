//! Security events: what happened, to whom, from where. Every event goes to
//! the append-only audit log and to the optional event hook.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

/// Something security-relevant that happened. Never carries a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuthEvent {
    /// An account was created.
    UserRegistered {
        /// The new account.
        user_id: Uuid,
    },
    /// An email address was proven.
    EmailVerified {
        /// The account.
        user_id: Uuid,
    },
    /// A verification message was sent.
    VerificationSent {
        /// The account.
        user_id: Uuid,
    },
    /// A password login succeeded.
    LoginSucceeded {
        /// The account.
        user_id: Uuid,
        /// The new session.
        session_id: Uuid,
    },
    /// A password login failed.
    LoginFailed {
        /// The account, when the email matched one.
        user_id: Option<Uuid>,
        /// Why (`invalid_credentials`, `account_locked`, ...).
        reason: String,
    },
    /// Too many failures locked the account.
    AccountLocked {
        /// The account.
        user_id: Uuid,
        /// End of the lock.
        until: DateTime<Utc>,
    },
    /// A refresh token was rotated.
    TokenRefreshed {
        /// The account.
        user_id: Uuid,
        /// The session.
        session_id: Uuid,
    },
    /// A rotated refresh token was presented again; the session is revoked.
    RefreshTokenReused {
        /// The account.
        user_id: Uuid,
        /// The revoked session.
        session_id: Uuid,
    },
    /// A session ended by logout.
    LoggedOut {
        /// The account.
        user_id: Uuid,
        /// The session.
        session_id: Uuid,
    },
    /// Sessions were revoked (logout-all, revoke one, password change...).
    SessionsRevoked {
        /// The account.
        user_id: Uuid,
        /// How many sessions ended.
        count: u64,
        /// Why (`logout_all`, `password_changed`, ...).
        reason: String,
    },
    /// The password was changed by its owner.
    PasswordChanged {
        /// The account.
        user_id: Uuid,
    },
    /// A password reset was requested for an existing account.
    PasswordResetRequested {
        /// The account.
        user_id: Uuid,
    },
    /// A password reset was completed.
    PasswordReset {
        /// The account.
        user_id: Uuid,
    },
    /// The profile was edited.
    ProfileUpdated {
        /// The account.
        user_id: Uuid,
        /// Names of the changed fields.
        fields: Vec<String>,
    },
    /// The account was deactivated by its owner.
    AccountDeactivated {
        /// The account.
        user_id: Uuid,
    },
    /// The account's data was exported.
    DataExported {
        /// The account.
        user_id: Uuid,
    },
    /// A forgotten-email lookup by phone was answered.
    EmailLookup {
        /// How many accounts matched.
        matches: usize,
    },
    /// The signing key was rotated.
    SigningKeyRotated {
        /// The new key id.
        kid: String,
    },
    /// A TOTP enrolment was started (pending until confirmed).
    TotpSetupStarted {
        /// The account.
        user_id: Uuid,
    },
    /// A second factor was turned on.
    MfaEnabled {
        /// The account.
        user_id: Uuid,
        /// The method (`totp`).
        method: String,
    },
    /// A second factor was turned off.
    MfaDisabled {
        /// The account.
        user_id: Uuid,
        /// The method (`totp`).
        method: String,
    },
    /// A new set of backup codes replaced the old one.
    BackupCodesRegenerated {
        /// The account.
        user_id: Uuid,
    },
    /// A password login was answered with a second-factor challenge (or an
    /// enrolment demand).
    MfaChallenged {
        /// The account.
        user_id: Uuid,
        /// The methods offered (empty when enrolment is demanded).
        methods: Vec<String>,
    },
    /// A sign-in code was sent by email or SMS.
    MfaCodeSent {
        /// The account.
        user_id: Uuid,
        /// `email` or `sms`.
        method: String,
    },
    /// A second factor was accepted and a session opened.
    MfaVerified {
        /// The account.
        user_id: Uuid,
        /// The method used.
        method: String,
    },
    /// A second factor was refused.
    MfaFailed {
        /// The account.
        user_id: Uuid,
        /// The method tried.
        method: String,
        /// Failures counted against the account's budget so far.
        failures: u32,
    },
    /// A backup code was spent.
    BackupCodeUsed {
        /// The account.
        user_id: Uuid,
        /// Unused codes left.
        remaining: u32,
    },
    /// A phone-verification code was sent.
    PhoneVerificationSent {
        /// The account.
        user_id: Uuid,
    },
    /// A phone number was proven.
    PhoneVerified {
        /// The account.
        user_id: Uuid,
    },
    /// A sign-in came from a device not seen before on the account.
    NewDeviceSignIn {
        /// The account.
        user_id: Uuid,
    },
}

impl AuthEvent {
    /// Stable event name (`login_succeeded`, ...), as stored.
    pub fn name(&self) -> &'static str {
        match self {
            Self::UserRegistered { .. } => "user_registered",
            Self::EmailVerified { .. } => "email_verified",
            Self::VerificationSent { .. } => "verification_sent",
            Self::LoginSucceeded { .. } => "login_succeeded",
            Self::LoginFailed { .. } => "login_failed",
            Self::AccountLocked { .. } => "account_locked",
            Self::TokenRefreshed { .. } => "token_refreshed",
            Self::RefreshTokenReused { .. } => "refresh_token_reused",
            Self::LoggedOut { .. } => "logged_out",
            Self::SessionsRevoked { .. } => "sessions_revoked",
            Self::PasswordChanged { .. } => "password_changed",
            Self::PasswordResetRequested { .. } => "password_reset_requested",
            Self::PasswordReset { .. } => "password_reset",
            Self::ProfileUpdated { .. } => "profile_updated",
            Self::AccountDeactivated { .. } => "account_deactivated",
            Self::DataExported { .. } => "data_exported",
            Self::EmailLookup { .. } => "email_lookup",
            Self::SigningKeyRotated { .. } => "signing_key_rotated",
            Self::TotpSetupStarted { .. } => "totp_setup_started",
            Self::MfaEnabled { .. } => "mfa_enabled",
            Self::MfaDisabled { .. } => "mfa_disabled",
            Self::BackupCodesRegenerated { .. } => "backup_codes_regenerated",
            Self::MfaChallenged { .. } => "mfa_challenged",
            Self::MfaCodeSent { .. } => "mfa_code_sent",
            Self::MfaVerified { .. } => "mfa_verified",
            Self::MfaFailed { .. } => "mfa_failed",
            Self::BackupCodeUsed { .. } => "backup_code_used",
            Self::PhoneVerificationSent { .. } => "phone_verification_sent",
            Self::PhoneVerified { .. } => "phone_verified",
            Self::NewDeviceSignIn { .. } => "new_device_sign_in",
        }
    }

    /// The account the event is about, if any.
    pub fn user_id(&self) -> Option<Uuid> {
        match self {
            Self::UserRegistered { user_id }
            | Self::EmailVerified { user_id }
            | Self::VerificationSent { user_id }
            | Self::LoginSucceeded { user_id, .. }
            | Self::AccountLocked { user_id, .. }
            | Self::TokenRefreshed { user_id, .. }
            | Self::RefreshTokenReused { user_id, .. }
            | Self::LoggedOut { user_id, .. }
            | Self::SessionsRevoked { user_id, .. }
            | Self::PasswordChanged { user_id }
            | Self::PasswordResetRequested { user_id }
            | Self::PasswordReset { user_id }
            | Self::ProfileUpdated { user_id, .. }
            | Self::AccountDeactivated { user_id }
            | Self::DataExported { user_id }
            | Self::TotpSetupStarted { user_id }
            | Self::MfaEnabled { user_id, .. }
            | Self::MfaDisabled { user_id, .. }
            | Self::BackupCodesRegenerated { user_id }
            | Self::MfaChallenged { user_id, .. }
            | Self::MfaCodeSent { user_id, .. }
            | Self::MfaVerified { user_id, .. }
            | Self::MfaFailed { user_id, .. }
            | Self::BackupCodeUsed { user_id, .. }
            | Self::PhoneVerificationSent { user_id }
            | Self::PhoneVerified { user_id }
            | Self::NewDeviceSignIn { user_id } => Some(*user_id),
            Self::LoginFailed { user_id, .. } => *user_id,
            Self::EmailLookup { .. } | Self::SigningKeyRotated { .. } => None,
        }
    }
}

/// Where a request came from; recorded on sessions and audit records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestMeta {
    /// Client IP (already resolved through trusted proxies).
    pub ip: Option<String>,
    /// Client user agent, truncated to a sane length.
    pub user_agent: Option<String>,
}

impl RequestMeta {
    /// Longest user agent kept.
    pub const MAX_USER_AGENT: usize = 512;

    /// Builds request metadata, truncating an oversized user agent.
    pub fn new(ip: Option<String>, user_agent: Option<String>) -> Self {
        let user_agent =
            user_agent.map(|ua| ua.chars().take(Self::MAX_USER_AGENT).collect::<String>());
        Self { ip, user_agent }
    }
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRecord {
    /// Record id (UUID v7: sorts by time).
    pub id: Uuid,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Event name ([`AuthEvent::name`]).
    pub event: String,
    /// The account concerned.
    pub user_id: Option<Uuid>,
    /// Client IP.
    pub ip: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// The event's fields as JSON.
    pub data: serde_json::Value,
}

impl AuditRecord {
    /// The record for `event` at `at` from `meta`.
    pub fn new(event: &AuthEvent, at: DateTime<Utc>, meta: &RequestMeta) -> Self {
        Self {
            id: uuid::Uuid::now_v7(),
            at,
            event: event.name().to_owned(),
            user_id: event.user_id(),
            ip: meta.ip.clone(),
            user_agent: meta.user_agent.clone(),
            data: serde_json::to_value(event).unwrap_or(serde_json::Value::Null),
        }
    }
}

/// A filter over the audit log; results come newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only this account's events.
    pub user_id: Option<Uuid>,
    /// Only this event name.
    pub event: Option<String>,
    /// Only events at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only events before this time.
    pub until: Option<DateTime<Utc>>,
    /// Records to skip (pagination).
    pub offset: u64,
    /// Maximum records to return.
    pub limit: u32,
}

impl Default for AuditQuery {
    fn default() -> Self {
        Self {
            user_id: None,
            event: None,
            since: None,
            until: None,
            offset: 0,
            limit: 50,
        }
    }
}

impl AuditQuery {
    /// Whether `record` passes the filters (offset and limit aside).
    pub fn matches(&self, record: &AuditRecord) -> bool {
        self.user_id.is_none_or(|u| record.user_id == Some(u))
            && self.event.as_ref().is_none_or(|e| &record.event == e)
            && self.since.is_none_or(|s| record.at >= s)
            && self.until.is_none_or(|u| record.at < u)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_carry_the_event_name_user_and_fields() {
        let user_id = Uuid::now_v7();
        let ev = AuthEvent::LoginFailed {
            user_id: Some(user_id),
            reason: "invalid_credentials".into(),
        };
        let meta = RequestMeta::new(Some("203.0.113.9".into()), Some("x".repeat(2000)));
        let rec = AuditRecord::new(&ev, Utc::now(), &meta);
        assert_eq!(rec.event, "login_failed");
        assert_eq!(rec.user_id, Some(user_id));
        assert_eq!(rec.data["reason"], "invalid_credentials");
        assert_eq!(
            rec.user_agent.as_deref().map(str::len),
            Some(RequestMeta::MAX_USER_AGENT)
        );
    }

    #[test]
    fn queries_filter_by_user_event_and_time() {
        let u = Uuid::now_v7();
        let now = Utc::now();
        let rec = AuditRecord::new(
            &AuthEvent::PasswordChanged { user_id: u },
            now,
            &RequestMeta::default(),
        );
        assert!(AuditQuery::default().matches(&rec));
        assert!(
            AuditQuery {
                user_id: Some(u),
                ..Default::default()
            }
            .matches(&rec)
        );
        assert!(
            !AuditQuery {
                user_id: Some(Uuid::now_v7()),
                ..Default::default()
            }
            .matches(&rec)
        );
        assert!(
            !AuditQuery {
                event: Some("x".into()),
                ..Default::default()
            }
            .matches(&rec)
        );
        assert!(
            !AuditQuery {
                since: Some(now + chrono::Duration::seconds(1)),
                ..Default::default()
            }
            .matches(&rec)
        );
        assert!(
            !AuditQuery {
                until: Some(now),
                ..Default::default()
            }
            .matches(&rec)
        );
    }
}
