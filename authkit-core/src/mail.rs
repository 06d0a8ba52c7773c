//! Outgoing email. INTERFACE STUB — replaced by the real implementation.

use async_trait::async_trait;

use crate::error::AuthResult;

/// A rendered email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Recipient address (always the stored, normalized one).
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body.
    pub html: String,
}

/// Subject and bodies produced by a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body.
    pub html: String,
}

/// Sends email.
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Sends one message.
    async fn send(&self, message: Message) -> AuthResult<()>;
}

/// The emails authkit sends; override any method to change its wording.
pub trait MailTemplates: Send + Sync {
    /// Email verification: a link and the same secret as a 6-digit code.
    fn verify_email(&self, app_name: &str, link: &str, code: &str, valid_minutes: i64) -> Rendered {
        let _ = (app_name, link, code, valid_minutes);
        unimplemented!()
    }
    /// Password reset link.
    fn password_reset(&self, app_name: &str, link: &str, valid_minutes: i64) -> Rendered {
        let _ = (app_name, link, valid_minutes);
        unimplemented!()
    }
    /// Registration confirmation code.
    fn registration_code(&self, app_name: &str, code: &str, valid_minutes: i64) -> Rendered {
        let _ = (app_name, code, valid_minutes);
        unimplemented!()
    }
}

/// The built-in wording.
#[derive(Debug, Default, Clone, Copy)]
pub struct DefaultTemplates;

impl MailTemplates for DefaultTemplates {}

/// Keeps every message in memory (tests).
#[derive(Debug, Default)]
pub struct MemoryMailer {}

impl MemoryMailer {
    /// Every message sent so far.
    pub fn messages(&self) -> Vec<Message> {
        unimplemented!()
    }
}

#[async_trait]
impl Mailer for MemoryMailer {
    async fn send(&self, message: Message) -> AuthResult<()> {
        let _ = message;
        unimplemented!()
    }
}
