//! What a text may cost. SMS pumping is fraud that makes a service text
//! numbers the fraudster earns from (premium-rate and far-away ranges):
//! every text is billed, so each one is checked against the country
//! allow-list and spends from four budgets before it is sent.

use uuid::Uuid;

use super::Auth;
use crate::audit::RequestMeta;
use crate::email::Phone;
use crate::error::{AuthError, AuthResult};
use crate::rate_limit::RateAction;
use crate::sms::CallingCode;

impl Auth {
    /// Whether texts may go to `phone`'s country
    /// ([`PhoneConfig::allowed_countries`](crate::PhoneConfig::allowed_countries)).
    pub(crate) fn sms_country_allowed(&self, phone: &Phone) -> bool {
        match &self.inner.config.phone.allowed_countries {
            None => true,
            Some(allowed) => CallingCode::of(phone).is_some_and(|code| allowed.contains(&code)),
        }
    }

    /// Refuses `phone` unless texts may go to its country.
    ///
    /// # Errors
    /// `Validation` with `phone_country_not_allowed` on `phone`.
    pub(crate) fn require_sms_country(&self, phone: &Phone) -> AuthResult<()> {
        if self.sms_country_allowed(phone) {
            Ok(())
        } else {
            Err(AuthError::invalid_field(
                "phone",
                "phone_country_not_allowed",
                "Text messages cannot be sent to numbers of this country.",
            ))
        }
    }

    /// Spends one text from each SMS budget, the cheapest to exhaust
    /// first: the account's, the client IP's, the destination number's and
    /// the deployment's (`sms_per_account`, `sms_per_ip`, `sms_per_number`,
    /// `sms_global`). Call it before any other work of the send.
    ///
    /// # Errors
    /// `RateLimited` from the first budget that is spent.
    pub(crate) async fn spend_sms_budget(
        &self,
        user_id: Uuid,
        phone: &Phone,
        meta: &RequestMeta,
    ) -> AuthResult<()> {
        self.throttle(RateAction::SmsPerAccount, &user_id.to_string())
            .await?;
        self.throttle_ip(RateAction::SmsPerIp, meta).await?;
        self.throttle(RateAction::SmsPerNumber, phone.as_str())
            .await?;
        self.throttle(RateAction::SmsGlobal, "all").await
    }
}
