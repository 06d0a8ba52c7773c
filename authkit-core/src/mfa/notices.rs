//! The wording of MFA codes (email and SMS) and of security notices.

use chrono::{DateTime, Utc};

use crate::mail::{Rendered, escape_html};

/// MFA codes and security notices; override any method to change its
/// wording (every method has a default). Hand an implementation to
/// [`AuthBuilder::notice_templates`](crate::AuthBuilder::notice_templates).
///
/// Codes arrive as generated and must appear as given; anything put into
/// HTML must go through [`escape_html`].
pub trait NoticeTemplates: Send + Sync {
    /// Email carrying a sign-in code (the `email` MFA method).
    fn mfa_code_email(&self, app_name: &str, code: &str, valid_minutes: i64) -> Rendered {
        notice(
            format!("Your {app_name} sign-in code"),
            &[
                format!("Your code to finish signing in to {app_name} is: {code}"),
                format!(
                    "It expires in {valid_minutes} minutes. If you did not try to sign in, \
                     someone knows your password: change it now."
                ),
            ],
        )
    }

    /// SMS carrying a sign-in code (the `sms` MFA method).
    fn mfa_code_sms(&self, app_name: &str, code: &str, valid_minutes: i64) -> String {
        format!("{code} is your {app_name} sign-in code. It expires in {valid_minutes} minutes.")
    }

    /// SMS carrying a phone-verification code.
    fn phone_verification_sms(&self, app_name: &str, code: &str, valid_minutes: i64) -> String {
        format!(
            "{code} is your {app_name} phone verification code. It expires in {valid_minutes} minutes."
        )
    }

    /// Two-step verification was turned on.
    fn mfa_enabled(&self, app_name: &str) -> Rendered {
        notice(
            format!("Two-step verification is on for your {app_name} account"),
            &[
                "Two-step verification was turned on for your account. Signing in now \
                 needs a code from your authenticator app or a backup code."
                    .to_owned(),
                contact_if_not_you(),
            ],
        )
    }

    /// Two-step verification was turned off.
    fn mfa_disabled(&self, app_name: &str) -> Rendered {
        notice(
            format!("Two-step verification is off for your {app_name} account"),
            &[
                "Two-step verification was turned off for your account. Signing in \
                 now needs only your password."
                    .to_owned(),
                contact_if_not_you(),
            ],
        )
    }

    /// A new set of backup codes replaced the old one.
    fn backup_codes_regenerated(&self, app_name: &str) -> Rendered {
        notice(
            format!("New backup codes for your {app_name} account"),
            &[
                "New backup codes were created for your account; the previous codes \
                 no longer work."
                    .to_owned(),
                contact_if_not_you(),
            ],
        )
    }

    /// The password was changed (by its owner or through a reset).
    fn password_changed(&self, app_name: &str) -> Rendered {
        notice(
            format!("Your {app_name} password was changed"),
            &[
                "The password of your account was changed, and other devices were \
                 signed out."
                    .to_owned(),
                contact_if_not_you(),
            ],
        )
    }

    /// A sign-in from a device (browser family and network) not seen on
    /// this account before.
    fn new_device_sign_in(
        &self,
        app_name: &str,
        ip: &str,
        user_agent: &str,
        at: DateTime<Utc>,
    ) -> Rendered {
        notice(
            format!("New sign-in to your {app_name} account"),
            &[
                format!(
                    "Your account was signed in to from a new device at {} UTC.",
                    at.format("%Y-%m-%d %H:%M")
                ),
                format!("IP address: {ip}"),
                format!("Browser: {user_agent}"),
                "If this was you, there is nothing to do. If not, change your password \
                 and sign out your other sessions."
                    .to_owned(),
            ],
        )
    }
}

/// The built-in wording.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultNotices;

impl NoticeTemplates for DefaultNotices {}

fn contact_if_not_you() -> String {
    "If this was not you, reset your password at once and contact support.".to_owned()
}

/// A notice of plain paragraphs, as text and as escaped HTML.
fn notice(subject: String, paragraphs: &[String]) -> Rendered {
    let text = paragraphs.join("\n\n") + "\n";
    let body: String = paragraphs
        .iter()
        .map(|p| format!("<p>{}</p>\n", escape_html(p)))
        .collect();
    Rendered {
        subject,
        text,
        html: format!("<!DOCTYPE html>\n<html><body>\n{body}</body></html>\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_appear_as_given() {
        let t = DefaultNotices;
        let mail = t.mfa_code_email("Acme", "012345", 10);
        assert!(mail.text.contains("012345"));
        assert!(mail.html.contains("012345"));
        assert!(t.mfa_code_sms("Acme", "012345", 10).starts_with("012345"));
        assert!(
            t.phone_verification_sms("Acme", "654321", 10)
                .contains("654321")
        );
    }

    #[test]
    fn html_is_escaped() {
        let t = DefaultNotices;
        let mail = t.new_device_sign_in("<Acme>", "203.0.113.7", "<script>x</script>", Utc::now());
        assert!(mail.html.contains("&lt;script&gt;"));
        assert!(!mail.html.contains("<script>"));
        assert!(mail.text.contains("<script>"));
        for mail in [
            t.mfa_enabled("A&B"),
            t.mfa_disabled("A&B"),
            t.backup_codes_regenerated("A&B"),
            t.password_changed("A&B"),
        ] {
            assert!(mail.subject.contains("A&B"));
            assert!(!mail.text.is_empty());
            assert!(mail.html.starts_with("<!DOCTYPE html>"));
        }
    }
}
