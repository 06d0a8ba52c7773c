//! A mailer that prints messages, for development.

use std::io::{self, Write};

use async_trait::async_trait;

use super::{Mailer, Message};
use crate::error::{AuthError, AuthResult};

/// Prints each message (recipient, subject, plain-text body) to standard
/// output, so a developer can follow links and type codes without a mail
/// server.
///
/// **Development only.** Verification links, reset links and codes are
/// secrets, and this mailer writes them to stdout and so into whatever
/// collects it. Never use it in production.
#[derive(Debug, Default, Clone, Copy)]
pub struct ConsoleMailer;

impl ConsoleMailer {
    /// Writes `message` to `out` as one readable block.
    fn write_block(message: &Message, out: &mut impl Write) -> io::Result<()> {
        writeln!(out, "----- email -----")?;
        writeln!(out, "To: {}", message.to)?;
        writeln!(out, "Subject: {}", message.subject)?;
        writeln!(out)?;
        writeln!(out, "{}", message.text.trim_end())?;
        writeln!(out, "-----------------")?;
        out.flush()
    }
}

#[async_trait]
impl Mailer for ConsoleMailer {
    async fn send(&self, message: Message) -> AuthResult<()> {
        // One lock for the whole block, so concurrent messages do not mix.
        Self::write_block(&message, &mut io::stdout().lock()).map_err(AuthError::internal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> Message {
        Message {
            to: "ann@example.com".into(),
            subject: "Confirm your email".into(),
            text: "Open https://app.example.com/v?t=abc\nor enter 123456\n\n".into(),
            html: "<p>html body</p>".into(),
        }
    }

    #[test]
    fn the_block_shows_recipient_subject_and_text() {
        let mut out = Vec::new();
        ConsoleMailer::write_block(&message(), &mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert_eq!(
            out,
            "----- email -----\n\
             To: ann@example.com\n\
             Subject: Confirm your email\n\
             \n\
             Open https://app.example.com/v?t=abc\n\
             or enter 123456\n\
             -----------------\n"
        );
    }

    #[test]
    fn write_failures_are_reported() {
        struct Broken;
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::other("closed"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        assert!(ConsoleMailer::write_block(&message(), &mut Broken).is_err());
    }

    #[tokio::test]
    async fn sending_prints_and_succeeds() {
        ConsoleMailer.send(message()).await.unwrap();
    }
}
