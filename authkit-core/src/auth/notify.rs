//! Security notices to the account owner, and new-device detection.

use super::Auth;
use crate::audit::{AuthEvent, RequestMeta};
use crate::error::AuthResult;
use crate::mail::Rendered;
use crate::mfa::{NoticeTemplates, device_fingerprint};
use crate::store::DeviceSeen;
use crate::user::User;

impl Auth {
    /// Mails a security notice rendered by `render`. A delivery failure is
    /// logged and does not fail the flow that triggered it.
    pub(crate) async fn notify(
        &self,
        user: &User,
        render: impl FnOnce(&dyn NoticeTemplates, &str) -> Rendered,
    ) {
        let rendered = render(self.inner.notices.as_ref(), &self.inner.config.app_name);
        if let Err(err) = self.send_mail(user, rendered).await {
            tracing::warn!(error = %err.report(), user_id = %user.id, "security notice not sent");
        }
    }

    /// Records the device of a new session; on a device new to an account
    /// that had others, audits it and mails a notice. The account's first
    /// device is recorded silently.
    pub(crate) async fn note_device(&self, user: &User, meta: &RequestMeta) -> AuthResult<()> {
        let now = self.now();
        let device = device_fingerprint(
            &self.inner.config.secret_key,
            meta.user_agent.as_deref(),
            meta.ip.as_deref(),
        );
        let seen = self
            .inner
            .store
            .mfa
            .remember_device(user.id, &device, now)
            .await?;
        if seen == DeviceSeen::New {
            self.emit(AuthEvent::NewDeviceSignIn { user_id: user.id }, meta)
                .await?;
            let ip = meta.ip.as_deref().unwrap_or("unknown");
            let agent = meta.user_agent.as_deref().unwrap_or("unknown");
            self.notify(user, |t, app| t.new_device_sign_in(app, ip, agent, now))
                .await;
        }
        Ok(())
    }
}
