//! Phone verification by SMS code. Only verified phones count for the
//! forgotten-email lookup and for SMS as a second factor.

mod config;
pub(crate) mod routes;

pub use config::PhoneConfig;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::audit::{AuthEvent, RequestMeta};
use crate::auth::payload;
use crate::email::Phone;
use crate::error::{AuthError, AuthResult};
use crate::one_time::{CodeCheck, OneTimeToken, Purpose};
use crate::principal::Principal;
use crate::rate_limit::RateAction;
use crate::secret;
use crate::sms::SmsMessage;
use crate::store::UserUpdate;
use crate::user::Profile;

/// The number a phone-verification code was sent to.
#[derive(Serialize, Deserialize)]
struct PendingPhone {
    phone: String,
}

crate::auth::feature_handle! {
    /// Phone verification by SMS code.
    PhoneVerification, phone
}

impl PhoneVerification<'_> {
    /// Sets `phone` as the caller's number (unverified if it changed) and
    /// texts it a 6-digit code. The number's country must be allowed
    /// (`AUTHKIT_SMS_ALLOWED_COUNTRIES`), and each send spends from the SMS
    /// budgets per account, client IP, destination number and in all;
    /// a refused send changes nothing.
    ///
    /// # Errors
    /// `Validation` for a malformed number (`phone_invalid`) or one of a
    /// country texts may not go to (`phone_country_not_allowed`);
    /// `RateLimited` once a budget is spent.
    pub async fn start(
        self,
        principal: &Principal,
        phone: &str,
        meta: &RequestMeta,
    ) -> AuthResult<()> {
        let phone = Phone::parse(phone)?;
        self.auth.require_sms_country(&phone)?;
        let user = self.auth.user(principal.user_id).await?;
        self.auth.spend_sms_budget(user.id, &phone, meta).await?;
        let config = &self.auth.inner.config;
        let now = self.auth.now();
        if user.phone.as_ref() != Some(&phone) {
            self.auth
                .update_user(
                    user.id,
                    UserUpdate::Profile {
                        display_name: None,
                        avatar_url: None,
                        phone: Some(Some(phone.clone())),
                    },
                )
                .await?;
            self.auth
                .emit(
                    AuthEvent::ProfileUpdated {
                        user_id: user.id,
                        fields: vec!["phone".to_owned()],
                    },
                    meta,
                )
                .await?;
        }
        let subject = user.id.to_string();
        let code = secret::numeric_code(6);
        self.auth
            .inner
            .store
            .tokens
            .issue_token(&OneTimeToken {
                id: Uuid::now_v7(),
                purpose: Purpose::PhoneVerify,
                hash: self.auth.code_hash(Purpose::PhoneVerify, &subject, &code),
                subject,
                payload: payload(&PendingPhone {
                    phone: phone.as_str().to_owned(),
                })?,
                created_at: now,
                expires_at: now + config.code_ttl,
                attempts: 0,
                max_attempts: config.code_max_attempts,
                consumed_at: None,
            })
            .await?;
        let body = self.auth.inner.notices.phone_verification_sms(
            &config.app_name,
            &code,
            config.code_ttl.num_minutes(),
        );
        self.auth
            .inner
            .sms
            .send(SmsMessage {
                to: phone.as_str().to_owned(),
                body,
            })
            .await?;
        self.auth
            .emit(AuthEvent::PhoneVerificationSent { user_id: user.id }, meta)
            .await
    }

    /// Proves the caller's phone with the texted code. A code sent to a
    /// number the account no longer has is refused.
    ///
    /// # Errors
    /// `MfaInvalidCode` (wrong, expired, used, superseded, or out of
    /// attempts); `RateLimited` once the account's code budget is spent.
    pub async fn confirm(
        self,
        principal: &Principal,
        code: &str,
        meta: &RequestMeta,
    ) -> AuthResult<Profile> {
        let user = self.auth.user(principal.user_id).await?;
        self.auth
            .throttle(RateAction::CodePerAccount, &format!("phone:{}", user.id))
            .await?;
        if code.len() > 32 {
            return Err(AuthError::MfaInvalidCode);
        }
        let subject = user.id.to_string();
        let hash = self.auth.code_hash(Purpose::PhoneVerify, &subject, code);
        let token = match self
            .auth
            .inner
            .store
            .tokens
            .check_code(Purpose::PhoneVerify, &subject, &hash, self.auth.now())
            .await?
        {
            CodeCheck::Accepted(token) => token,
            CodeCheck::Rejected { .. } | CodeCheck::Missing => {
                return Err(AuthError::MfaInvalidCode);
            }
        };
        let pending: PendingPhone =
            serde_json::from_value(token.payload).map_err(AuthError::internal)?;
        // Proven only while the account still has the number the code was
        // sent to (checked again in the write, against a concurrent change).
        let phone = Phone::parse(&pending.phone).map_err(|_| AuthError::MfaInvalidCode)?;
        if user.phone.as_ref() != Some(&phone)
            || !self
                .auth
                .update_user(user.id, UserUpdate::PhoneVerified(phone))
                .await?
        {
            return Err(AuthError::MfaInvalidCode);
        }
        self.auth
            .emit(AuthEvent::PhoneVerified { user_id: user.id }, meta)
            .await?;
        Ok(self.auth.user(user.id).await?.profile())
    }
}
