//! Outgoing email: the message type, the [`Mailer`] trait and the mailers
//! that ship with core, and the overridable [`MailTemplates`].
//!
//! - [`ConsoleMailer`] prints messages, for development.
//! - [`MemoryMailer`] keeps them, for tests.
//! - `SmtpMailer` (cargo feature `smtp`) delivers through an SMTP server,
//!   configured by `AUTHKIT_SMTP_URL` and `AUTHKIT_MAIL_FROM`.
//! - [`MailQueue`] wraps any mailer so that sending never waits for, nor
//!   fails with, the mail server; failed deliveries are retried with
//!   backoff ([`RetryPolicy`]).
//!
//! In production, wrap the real mailer in a queue:
//!
//! ```no_run
//! # #[cfg(feature = "smtp")]
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use authkit_core::mail::{ConsoleMailer, MailQueue, Mailer, SmtpMailer};
//!
//! let mailer: Arc<dyn Mailer> = match SmtpMailer::from_env()? {
//!     Some(smtp) => Arc::new(MailQueue::new(Arc::new(smtp), 1_000)),
//!     None => Arc::new(ConsoleMailer), // no AUTHKIT_SMTP_URL: development
//! };
//! # Ok(())
//! # }
//! ```

use async_trait::async_trait;

use crate::error::AuthResult;

#[cfg(any(test, feature = "testing"))]
pub(crate) mod captured_logs;
mod console;
mod memory;
mod queue;
#[cfg(feature = "smtp")]
mod smtp;
mod templates;

pub use crate::delivery::RetryPolicy;
pub use console::ConsoleMailer;
pub use memory::MemoryMailer;
pub use queue::MailQueue;
#[cfg(feature = "smtp")]
pub use smtp::{SmtpConfig, SmtpMailer, SmtpTls};
pub use templates::{DefaultTemplates, MailTemplates, escape_html};

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

impl Message {
    /// A message to `to` with the subject and bodies of `rendered`.
    pub fn new(to: impl Into<String>, rendered: Rendered) -> Self {
        Self {
            to: to.into(),
            subject: rendered.subject,
            text: rendered.text,
            html: rendered.html,
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_takes_the_rendered_parts() {
        let rendered = DefaultTemplates.registration_code("Acme", "123456", 10);
        let message = Message::new("ann@example.com", rendered.clone());
        assert_eq!(message.to, "ann@example.com");
        assert_eq!(message.subject, rendered.subject);
        assert_eq!(message.text, rendered.text);
        assert_eq!(message.html, rendered.html);
    }
}
