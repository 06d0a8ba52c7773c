//! Outgoing email: the message type, the [`Mailer`] trait and the mailers
//! that ship with core, and the overridable [`MailTemplates`].
//!
//! - [`ConsoleMailer`] prints messages, for development.
//! - [`MemoryMailer`] keeps them, for tests.
//! - [`MailQueue`] wraps any mailer so that sending never waits for the
//!   mail server.

use async_trait::async_trait;

use crate::error::AuthResult;

mod console;
mod memory;
mod queue;
mod templates;

pub use console::ConsoleMailer;
pub use memory::MemoryMailer;
pub use queue::MailQueue;
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
