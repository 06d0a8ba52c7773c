//! A mailer that keeps messages in memory, for tests.

use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use tokio::sync::Notify;

use super::{Mailer, Message};
use crate::error::AuthResult;

/// Keeps every message in memory (tests).
#[derive(Debug, Default)]
pub struct MemoryMailer {
    messages: Mutex<Vec<Message>>,
    sent: Notify,
}

impl MemoryMailer {
    /// Every message held, oldest first.
    pub fn messages(&self) -> Vec<Message> {
        self.lock().clone()
    }

    /// How many messages are held.
    pub fn count(&self) -> usize {
        self.lock().len()
    }

    /// The newest message to exactly `to`.
    pub fn last_to(&self, to: &str) -> Option<Message> {
        self.lock().iter().rev().find(|m| m.to == to).cloned()
    }

    /// Forgets every message held.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// Waits until at least `n` messages are held, then returns them all;
    /// for tests where sending happens in the background (see
    /// [`MailQueue`](super::MailQueue)).
    pub async fn wait_for(&self, n: usize) -> Vec<Message> {
        loop {
            // Registered before looking, so a send in between still wakes us.
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

    fn lock(&self) -> MutexGuard<'_, Vec<Message>> {
        self.messages.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl Mailer for MemoryMailer {
    async fn send(&self, message: Message) -> AuthResult<()> {
        self.lock().push(message);
        self.sent.notify_waiters();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn to(address: &str, subject: &str) -> Message {
        Message {
            to: address.into(),
            subject: subject.into(),
            text: String::new(),
            html: String::new(),
        }
    }

    #[tokio::test]
    async fn keeps_messages_in_order_and_finds_the_last_per_recipient() {
        let mailer = MemoryMailer::default();
        assert_eq!(mailer.count(), 0);
        assert_eq!(mailer.last_to("ann@example.com"), None);

        mailer.send(to("ann@example.com", "first")).await.unwrap();
        mailer.send(to("bob@example.com", "other")).await.unwrap();
        mailer.send(to("ann@example.com", "second")).await.unwrap();

        assert_eq!(mailer.count(), 3);
        let subjects: Vec<_> = mailer.messages().into_iter().map(|m| m.subject).collect();
        assert_eq!(subjects, ["first", "other", "second"]);
        assert_eq!(mailer.last_to("ann@example.com").unwrap().subject, "second");
        assert_eq!(mailer.last_to("bob@example.com").unwrap().subject, "other");
        assert_eq!(mailer.last_to("Ann@example.com"), None, "exact match only");

        mailer.clear();
        assert_eq!(mailer.count(), 0);
        assert!(mailer.messages().is_empty());
    }

    #[tokio::test]
    async fn wait_for_returns_once_enough_messages_arrived() {
        let mailer = Arc::new(MemoryMailer::default());
        assert!(mailer.wait_for(0).await.is_empty());

        let waiter = tokio::spawn({
            let mailer = Arc::clone(&mailer);
            async move { mailer.wait_for(2).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());

        mailer.send(to("a@example.com", "1")).await.unwrap();
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());

        mailer.send(to("b@example.com", "2")).await.unwrap();
        let messages = waiter.await.unwrap();
        assert_eq!(messages.len(), 2);
        assert_eq!(mailer.wait_for(1).await.len(), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_sends_are_all_kept() {
        let mailer = Arc::new(MemoryMailer::default());
        let sends: Vec<_> = (0..50)
            .map(|i| {
                let mailer = Arc::clone(&mailer);
                tokio::spawn(
                    async move { mailer.send(to(&format!("u{i}@example.com"), "s")).await },
                )
            })
            .collect();
        for send in sends {
            send.await.unwrap().unwrap();
        }
        assert_eq!(mailer.wait_for(50).await.len(), 50);
        for i in 0..50 {
            assert!(mailer.last_to(&format!("u{i}@example.com")).is_some());
        }
    }
}
