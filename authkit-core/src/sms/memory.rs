//! An SMS sender that keeps messages in memory, for tests.

use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use tokio::sync::Notify;

use super::{SmsMessage, SmsSender};
use crate::error::AuthResult;

/// Keeps every message in memory (tests).
#[derive(Debug, Default)]
pub struct MemorySms {
    messages: Mutex<Vec<SmsMessage>>,
    sent: Notify,
}

impl MemorySms {
    /// Every message held, oldest first.
    pub fn messages(&self) -> Vec<SmsMessage> {
        self.lock().clone()
    }

    /// How many messages are held.
    pub fn count(&self) -> usize {
        self.lock().len()
    }

    /// The newest message to exactly `to`.
    pub fn last_to(&self, to: &str) -> Option<SmsMessage> {
        self.lock().iter().rev().find(|m| m.to == to).cloned()
    }

    /// Waits until at least `n` messages are held, then returns them all;
    /// for tests where sending happens in the background (see
    /// [`SmsQueue`](super::SmsQueue)).
    pub async fn wait_for(&self, n: usize) -> Vec<SmsMessage> {
        loop {
            let sent = self.sent.notified();
            {
                let messages = self.lock();
                if messages.len() >= n {
                    return messages.clone();
                }
            }
            sent.await;
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<SmsMessage>> {
        self.messages.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl SmsSender for MemorySms {
    async fn send(&self, message: SmsMessage) -> AuthResult<()> {
        self.lock().push(message);
        self.sent.notify_waiters();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn to(number: &str, body: &str) -> SmsMessage {
        SmsMessage {
            to: number.into(),
            body: body.into(),
        }
    }

    #[tokio::test]
    async fn keeps_messages_in_order_and_finds_the_last_per_number() {
        let sms = MemorySms::default();
        sms.send(to("+1", "a")).await.unwrap();
        sms.send(to("+2", "b")).await.unwrap();
        sms.send(to("+1", "c")).await.unwrap();
        assert_eq!(sms.count(), 3);
        assert_eq!(sms.last_to("+1").unwrap().body, "c");
        assert!(sms.last_to("+3").is_none());
        assert_eq!(sms.messages()[1].body, "b");
    }

    #[tokio::test]
    async fn wait_for_wakes_on_send() {
        let sms = Arc::new(MemorySms::default());
        let waiter = tokio::spawn({
            let sms = sms.clone();
            async move { sms.wait_for(2).await.len() }
        });
        sms.send(to("+1", "a")).await.unwrap();
        sms.send(to("+1", "b")).await.unwrap();
        assert_eq!(waiter.await.unwrap(), 2);
    }
}
