//! An SMS sender that prints messages, for development.

use std::io::{self, Write};

use async_trait::async_trait;

use super::{SmsMessage, SmsSender};
use crate::error::{AuthError, AuthResult};

/// Prints each message (recipient and text) to standard output.
///
/// **Development only.** Codes are secrets, and this sender writes them to
/// stdout and so into whatever collects it. Never use it in production.
#[derive(Debug, Default, Clone, Copy)]
pub struct ConsoleSms;

impl ConsoleSms {
    fn write_block(message: &SmsMessage, out: &mut impl Write) -> io::Result<()> {
        writeln!(out, "----- sms -----")?;
        writeln!(out, "To: {}", message.to)?;
        writeln!(out, "{}", message.body.trim_end())?;
        writeln!(out, "---------------")?;
        out.flush()
    }
}

#[async_trait]
impl SmsSender for ConsoleSms {
    async fn send(&self, message: SmsMessage) -> AuthResult<()> {
        Self::write_block(&message, &mut io::stdout().lock()).map_err(AuthError::internal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_block_shows_recipient_and_text() {
        let mut out = Vec::new();
        ConsoleSms::write_block(
            &SmsMessage {
                to: "+14155550123".into(),
                body: "123456 is your code\n".into(),
            },
            &mut out,
        )
        .unwrap();
        let out = String::from_utf8(out).unwrap();
        assert_eq!(
            out,
            "----- sms -----\nTo: +14155550123\n123456 is your code\n---------------\n"
        );
    }

    #[tokio::test]
    async fn sending_succeeds() {
        ConsoleSms
            .send(SmsMessage {
                to: "+14155550123".into(),
                body: "hello".into(),
            })
            .await
            .unwrap();
    }
}
