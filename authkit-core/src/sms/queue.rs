//! [`SmsQueue`]: text messages delivered from a background task, with
//! retries.

use std::sync::Arc;

use async_trait::async_trait;

use super::{SmsMessage, SmsSender};
use crate::delivery::{Channel, Queue, RetryPolicy};
use crate::error::AuthResult;
use crate::telemetry;

/// An [`SmsSender`] that queues messages and hands them to another sender
/// from a background task, in order, retrying failed deliveries, exactly
/// like [`MailQueue`](crate::mail::MailQueue) does for mail (the same
/// delivery task, see [`crate::delivery`]): a slow provider never holds a
/// request. Failures are logged without the number or the text; a full
/// queue fails `send` at once.
#[derive(Debug)]
pub struct SmsQueue {
    queue: Queue<SmsMessage>,
}

static SMS: Channel = Channel {
    name: "sms",
    sender: "sender",
    depth: telemetry::SMS_QUEUE_DEPTH,
    failures: telemetry::SMS_FAILURES,
};

impl SmsQueue {
    /// A queue of at most `capacity` messages (at least 1) delivered through
    /// `inner`, retried as [`RetryPolicy::default`] says.
    ///
    /// # Panics
    ///
    /// Spawns the delivery task, so it panics when called outside a Tokio
    /// runtime.
    pub fn new(inner: Arc<dyn SmsSender>, capacity: usize) -> Self {
        Self::with_retry(inner, capacity, RetryPolicy::default())
    }

    /// Like [`new`](Self::new), retrying as `policy` says. Codes expire
    /// (`AUTHKIT_CODE_TTL`), so a long backoff only delivers dead codes.
    ///
    /// # Panics
    ///
    /// Spawns the delivery task, so it panics when called outside a Tokio
    /// runtime.
    pub fn with_retry(inner: Arc<dyn SmsSender>, capacity: usize, policy: RetryPolicy) -> Self {
        let send = Arc::new(move |message: SmsMessage| {
            let inner = Arc::clone(&inner);
            Box::pin(async move { inner.send(message).await }) as _
        });
        Self {
            queue: Queue::start(&SMS, send, withheld, capacity, policy),
        }
    }

    /// Waits until every message queued before this call has been delivered
    /// or given up (after its last retry).
    ///
    /// # Errors
    /// `Internal` if the delivery task is gone.
    pub async fn flush(&self) -> AuthResult<()> {
        self.queue.flush().await
    }
}

#[async_trait]
impl SmsSender for SmsQueue {
    async fn send(&self, message: SmsMessage) -> AuthResult<()> {
        self.queue.enqueue(message)
    }
}

/// Nothing of a phone number is logged.
fn withheld(_: &SmsMessage) -> String {
    "withheld".to_owned()
}

#[cfg(test)]
mod tests {
    use tokio::sync::Semaphore;

    use super::*;
    use crate::error::AuthError;
    use crate::mail::captured_logs::CapturedLogs;
    use crate::sms::MemorySms;

    fn message(i: usize) -> SmsMessage {
        SmsMessage {
            to: format!("+1415555{i:04}"),
            body: format!("message {i}"),
        }
    }

    struct Gated {
        gate: Semaphore,
        out: MemorySms,
    }

    #[async_trait]
    impl SmsSender for Gated {
        async fn send(&self, message: SmsMessage) -> AuthResult<()> {
            self.gate.acquire().await.unwrap().forget();
            self.out.send(message).await
        }
    }

    struct Flaky(MemorySms);

    #[async_trait]
    impl SmsSender for Flaky {
        async fn send(&self, message: SmsMessage) -> AuthResult<()> {
            match message.body.as_str() {
                "fail" => Err(AuthError::internal_msg("provider said no")),
                "panic" => panic!("sender bug"),
                _ => self.0.send(message).await,
            }
        }
    }

    #[tokio::test]
    async fn delivers_in_order() {
        let out = Arc::new(MemorySms::default());
        let queue = SmsQueue::new(out.clone(), 64);
        for i in 0..50 {
            queue.send(message(i)).await.unwrap();
        }
        queue.flush().await.unwrap();
        let bodies: Vec<_> = out.messages().into_iter().map(|m| m.body).collect();
        let expected: Vec<_> = (0..50).map(|i| format!("message {i}")).collect();
        assert_eq!(bodies, expected);
    }

    #[tokio::test]
    async fn send_does_not_wait_for_the_provider_and_a_full_queue_refuses() {
        let gated = Arc::new(Gated {
            gate: Semaphore::new(0),
            out: MemorySms::default(),
        });
        let queue = SmsQueue::new(gated.clone(), 2);
        // One message is taken by the task (blocked at the gate), two wait
        // in the channel; sending never blocks, and the next one is refused.
        let mut refused = 0;
        for i in 0..10 {
            if queue.send(message(i)).await.is_err() {
                refused += 1;
            }
        }
        assert!(refused >= 7, "a full queue refuses at once ({refused})");
        assert_eq!(gated.out.count(), 0);
        gated.gate.add_permits(10);
        queue.flush().await.unwrap();
        assert_eq!(gated.out.count(), 10 - refused);
    }

    // Paused time: the retries' pauses pass without really sleeping.
    #[tokio::test(start_paused = true)]
    async fn failures_are_retried_and_neither_they_nor_panics_stop_the_queue() {
        let (logs, _guard) = CapturedLogs::start();
        let out = Arc::new(Flaky(MemorySms::default()));
        let queue = SmsQueue::new(out.clone(), 8);
        for body in ["a", "fail", "panic", "b"] {
            queue
                .send(SmsMessage {
                    to: "+14155550123".into(),
                    body: body.into(),
                })
                .await
                .unwrap();
        }
        queue.flush().await.unwrap();
        let bodies: Vec<_> = out.0.messages().into_iter().map(|m| m.body).collect();
        assert_eq!(bodies, vec!["a", "b"]);
        assert_eq!(logs.matching("sms delivery failed; will retry").len(), 4);
        assert_eq!(logs.matching("sender panicked").len(), 1, "not retried");
        assert_eq!(logs.matching("given up").len(), 2);
        for line in logs.lines() {
            assert!(!line.contains("4155550123"), "number logged: {line}");
        }
    }
}
