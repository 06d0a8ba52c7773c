//! Outgoing SMS: the message type, the [`SmsSender`] trait and the senders
//! that ship with core.
//!
//! - [`ConsoleSms`] prints messages, for development.
//! - [`MemorySms`] keeps them, for tests.
//! - [`SmsQueue`] wraps any sender so that sending never waits for the
//!   provider.
//! - `TwilioSms` (feature `twilio`) sends through Twilio's HTTP API.
//! - [`CallingCode`] finds a number's country calling code, for the
//!   allow-list of countries texts may go to
//!   ([`PhoneConfig::allowed_countries`](crate::PhoneConfig::allowed_countries)).

use async_trait::async_trait;

use crate::error::AuthResult;

mod calling_code;
mod console;
mod memory;
mod queue;
#[cfg(feature = "twilio")]
mod twilio;

pub use calling_code::{CallingCode, UnknownCallingCode};
pub use console::ConsoleSms;
pub use memory::MemorySms;
pub use queue::SmsQueue;
#[cfg(feature = "twilio")]
pub use twilio::{TwilioConfig, TwilioSms};

/// A text message.
#[derive(Clone, PartialEq, Eq)]
pub struct SmsMessage {
    /// Recipient, E.164 (`+14155550123`); always the stored, verified (or
    /// being-verified) number.
    pub to: String,
    /// The text.
    pub body: String,
}

impl std::fmt::Debug for SmsMessage {
    // The body carries codes: keep it out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsMessage")
            .field("to", &masked(&self.to))
            .field("body", &"<redacted>")
            .finish()
    }
}

/// Sends text messages.
#[async_trait]
pub trait SmsSender: Send + Sync {
    /// Sends one message.
    async fn send(&self, message: SmsMessage) -> AuthResult<()>;
}

/// A phone number with all but the last two digits hidden, for logs.
fn masked(number: &str) -> String {
    let keep = number.chars().count().saturating_sub(2);
    number
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i < keep && c.is_ascii_digit() {
                '*'
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_body_and_most_of_the_number() {
        let message = SmsMessage {
            to: "+14155550123".into(),
            body: "123456 is your code".into(),
        };
        let shown = format!("{message:?}");
        assert!(!shown.contains("123456"));
        assert!(shown.contains("+*********23"));
        assert_eq!(masked(""), "");
        assert_eq!(masked("+1"), "+1");
    }
}
