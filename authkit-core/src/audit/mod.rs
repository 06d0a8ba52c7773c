//! Security events: what happened, to whom, from where. Every event goes to
//! the append-only audit log and to the optional event hook.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
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
    /// A sign-in through a social / OpenID Connect provider succeeded (a
    /// session follows unless a second factor is due).
    SocialSignIn {
        /// The account.
        user_id: Uuid,
        /// The provider's name (`google`, `github`, ...).
        provider: String,
    },
    /// A provider identity was linked to the account.
    IdentityLinked {
        /// The account.
        user_id: Uuid,
        /// The provider's name.
        provider: String,
        /// How: `account` (the signed-in owner linked it) or
        /// `verified_email` (sign-in matched a verified email on both sides).
        via: String,
    },
    /// A provider identity was removed from the account.
    IdentityUnlinked {
        /// The account.
        user_id: Uuid,
        /// The provider's name.
        provider: String,
    },
    /// A social sign-in matched a local account by email but was not
    /// linked (an email was unverified on one side), or tried to link an
    /// identity owned by another account.
    IdentityLinkRefused {
        /// The local account concerned, when there is one.
        user_id: Option<Uuid>,
        /// The provider's name.
        provider: String,
        /// Why (`account_exists_unverified`, `identity_taken`).
        reason: String,
    },
    /// An organisation was created; its creator is its first owner.
    OrgCreated {
        /// The creator.
        actor_id: Uuid,
        /// The organisation.
        org_id: Uuid,
        /// Its slug.
        slug: String,
    },
    /// An organisation was renamed.
    OrgUpdated {
        /// Who renamed it.
        actor_id: Uuid,
        /// The organisation.
        org_id: Uuid,
    },
    /// An invitation was emailed.
    MemberInvited {
        /// Who invited.
        actor_id: Uuid,
        /// The organisation.
        org_id: Uuid,
        /// The invitation.
        invite_id: Uuid,
        /// The invited address (the subject, who may have no account yet).
        email: String,
        /// The role offered.
        role: String,
    },
    /// A pending invitation was withdrawn.
    InviteRevoked {
        /// Who withdrew it.
        actor_id: Uuid,
        /// The organisation.
        org_id: Uuid,
        /// The invitation.
        invite_id: Uuid,
    },
    /// An invitation was accepted: the account joined.
    InviteAccepted {
        /// The account that joined (actor and subject).
        user_id: Uuid,
        /// The organisation.
        org_id: Uuid,
        /// The role it joined with.
        role: String,
    },
    /// A member's organisation role changed.
    MemberRoleChanged {
        /// Who changed it.
        actor_id: Uuid,
        /// The member.
        user_id: Uuid,
        /// The organisation.
        org_id: Uuid,
        /// The role before.
        from: String,
        /// The role after.
        to: String,
    },
    /// A member was removed (or left, when actor and subject are one).
    MemberRemoved {
        /// Who removed the member.
        actor_id: Uuid,
        /// The member.
        user_id: Uuid,
        /// The organisation.
        org_id: Uuid,
        /// The role the member had.
        role: String,
    },
    /// An administrator locked an account (its sessions are revoked).
    UserLockedByAdmin {
        /// The administrator.
        actor_id: Uuid,
        /// The account.
        user_id: Uuid,
        /// End of the lock.
        until: DateTime<Utc>,
        /// The reason the administrator gave, if any.
        reason: Option<String>,
    },
    /// An administrator lifted an account's lock.
    UserUnlockedByAdmin {
        /// The administrator.
        actor_id: Uuid,
        /// The account.
        user_id: Uuid,
    },
    /// An administrator deactivated an account (its sessions are revoked).
    UserDeactivatedByAdmin {
        /// The administrator.
        actor_id: Uuid,
        /// The account.
        user_id: Uuid,
    },
    /// An administrator reactivated an account.
    UserReactivatedByAdmin {
        /// The administrator.
        actor_id: Uuid,
        /// The account.
        user_id: Uuid,
    },
    /// An administrator set an account's global roles.
    RolesAssigned {
        /// The administrator.
        actor_id: Uuid,
        /// The account.
        user_id: Uuid,
        /// The roles before.
        from: Vec<String>,
        /// The roles after.
        to: Vec<String>,
    },
    /// An administrator demanded a new password at the next login.
    PasswordChangeForced {
        /// The administrator.
        actor_id: Uuid,
        /// The account.
        user_id: Uuid,
    },
    /// An administrator revoked sessions of an account.
    SessionsRevokedByAdmin {
        /// The administrator.
        actor_id: Uuid,
        /// The account.
        user_id: Uuid,
        /// How many sessions ended.
        count: u64,
    },
    /// An administrator account was created by the bootstrap path
    /// (`create-admin`), outside any request.
    AdminCreated {
        /// The new account.
        user_id: Uuid,
        /// Its global roles.
        roles: Vec<String>,
    },
    /// An account was brought over from another system with its existing
    /// password hash ([`Admin::import_user`](crate::admin::Admin::import_user)).
    UserImported {
        /// The new account.
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
            Self::SocialSignIn { .. } => "social_sign_in",
            Self::IdentityLinked { .. } => "identity_linked",
            Self::IdentityUnlinked { .. } => "identity_unlinked",
            Self::IdentityLinkRefused { .. } => "identity_link_refused",
            Self::OrgCreated { .. } => "org_created",
            Self::OrgUpdated { .. } => "org_updated",
            Self::MemberInvited { .. } => "member_invited",
            Self::InviteRevoked { .. } => "invite_revoked",
            Self::InviteAccepted { .. } => "invite_accepted",
            Self::MemberRoleChanged { .. } => "member_role_changed",
            Self::MemberRemoved { .. } => "member_removed",
            Self::UserLockedByAdmin { .. } => "user_locked_by_admin",
            Self::UserUnlockedByAdmin { .. } => "user_unlocked_by_admin",
            Self::UserDeactivatedByAdmin { .. } => "user_deactivated_by_admin",
            Self::UserReactivatedByAdmin { .. } => "user_reactivated_by_admin",
            Self::RolesAssigned { .. } => "roles_assigned",
            Self::PasswordChangeForced { .. } => "password_change_forced",
            Self::SessionsRevokedByAdmin { .. } => "sessions_revoked_by_admin",
            Self::AdminCreated { .. } => "admin_created",
            Self::UserImported { .. } => "user_imported",
        }
    }

    /// Who acted, when someone other than the subject can: the
    /// administrator or organisation member behind an org or admin event.
    /// `None` for events an account causes on itself.
    pub fn actor_id(&self) -> Option<Uuid> {
        match self {
            Self::OrgCreated { actor_id, .. }
            | Self::OrgUpdated { actor_id, .. }
            | Self::MemberInvited { actor_id, .. }
            | Self::InviteRevoked { actor_id, .. }
            | Self::MemberRoleChanged { actor_id, .. }
            | Self::MemberRemoved { actor_id, .. }
            | Self::UserLockedByAdmin { actor_id, .. }
            | Self::UserUnlockedByAdmin { actor_id, .. }
            | Self::UserDeactivatedByAdmin { actor_id, .. }
            | Self::UserReactivatedByAdmin { actor_id, .. }
            | Self::RolesAssigned { actor_id, .. }
            | Self::PasswordChangeForced { actor_id, .. }
            | Self::SessionsRevokedByAdmin { actor_id, .. } => Some(*actor_id),
            Self::InviteAccepted { user_id, .. } => Some(*user_id),
            _ => None,
        }
    }

    /// The account the event is about (its subject), if any: the record's
    /// `user_id`, which `/me/audit` and the admin filter `user=` match.
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
            | Self::NewDeviceSignIn { user_id }
            | Self::SocialSignIn { user_id, .. }
            | Self::IdentityLinked { user_id, .. }
            | Self::IdentityUnlinked { user_id, .. }
            | Self::InviteAccepted { user_id, .. }
            | Self::MemberRoleChanged { user_id, .. }
            | Self::MemberRemoved { user_id, .. }
            | Self::UserLockedByAdmin { user_id, .. }
            | Self::UserUnlockedByAdmin { user_id, .. }
            | Self::UserDeactivatedByAdmin { user_id, .. }
            | Self::UserReactivatedByAdmin { user_id, .. }
            | Self::RolesAssigned { user_id, .. }
            | Self::PasswordChangeForced { user_id, .. }
            | Self::SessionsRevokedByAdmin { user_id, .. }
            | Self::AdminCreated { user_id, .. }
            | Self::UserImported { user_id } => Some(*user_id),
            // Events about an organisation rather than an account: the
            // actor is the account concerned.
            Self::OrgCreated { actor_id, .. }
            | Self::OrgUpdated { actor_id, .. }
            | Self::MemberInvited { actor_id, .. }
            | Self::InviteRevoked { actor_id, .. } => Some(*actor_id),
            Self::LoginFailed { user_id, .. } | Self::IdentityLinkRefused { user_id, .. } => {
                *user_id
            }
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
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
    /// The event's fields as JSON; org and admin events carry their
    /// `actor_id` here beside the subject.
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
    fn org_and_admin_events_name_actor_and_subject() {
        let (admin, user) = (Uuid::now_v7(), Uuid::now_v7());
        let ev = AuthEvent::UserLockedByAdmin {
            actor_id: admin,
            user_id: user,
            until: Utc::now(),
            reason: Some("chargeback".into()),
        };
        assert_eq!((ev.actor_id(), ev.user_id()), (Some(admin), Some(user)));
        let rec = AuditRecord::new(&ev, Utc::now(), &RequestMeta::default());
        assert_eq!(rec.user_id, Some(user));
        assert_eq!(rec.data["actor_id"], admin.to_string());
        assert_eq!(rec.data["reason"], "chargeback");
        let org = AuthEvent::OrgCreated {
            actor_id: admin,
            org_id: Uuid::now_v7(),
            slug: "acme".into(),
        };
        assert_eq!((org.actor_id(), org.user_id()), (Some(admin), Some(admin)));
        assert_eq!(org.name(), "org_created");
        let own = AuthEvent::PasswordChanged { user_id: user };
        assert_eq!(own.actor_id(), None);
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
