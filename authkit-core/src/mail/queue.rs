//! [`MailQueue`]: mail delivered from a background task, with retries.

use std::sync::Arc;

use async_trait::async_trait;

use super::{Mailer, Message};
use crate::delivery::{Channel, Queue, RetryPolicy};
use crate::error::AuthResult;
use crate::telemetry;

/// A [`Mailer`] that queues messages and hands them to another mailer from a
/// background task, in order, retrying failed deliveries.
///
/// Sending only enqueues, so a slow, hung or dead mail server neither holds
/// the request nor fails it, nor makes the answer for an existing account
/// slower than the one for an unknown account (which would reveal accounts
/// by timing).
///
/// A delivery that fails is tried again after a growing pause, up to
/// [`RetryPolicy::max_attempts`] attempts in all; a mailer that panics is
/// not retried. Each failure is logged with `tracing` (a `warn!` per failed
/// attempt, an `error!` when the message is given up) with the recipient's
/// domain only: never the address, the body, a link or a code. Messages are
/// delivered one at a time, so while a message waits for its next attempt
/// the ones behind it wait too: the queue keeps their order and does not
/// hammer a failing server.
///
/// When the queue is full, `send` fails at once with
/// an internal error, "mail queue full"; size the capacity for the mail
/// expected during an outage of [`RetryPolicy::total_backoff`].
///
/// Dropping the queue lets the task deliver (or give up) what is queued,
/// then end; call [`flush`](Self::flush) first to wait for it.
#[derive(Debug)]
pub struct MailQueue {
    queue: Queue<Message>,
}

static MAIL: Channel = Channel {
    name: "mail",
    sender: "mailer",
    depth: telemetry::MAIL_QUEUE_DEPTH,
    failures: telemetry::MAIL_FAILURES,
};

impl MailQueue {
    /// A queue of at most `capacity` messages (at least 1) delivered through
    /// `inner`, retried as [`RetryPolicy::default`] says.
    ///
    /// # Panics
    ///
    /// Spawns the delivery task, so it panics when called outside a Tokio
    /// runtime.
    pub fn new(inner: Arc<dyn Mailer>, capacity: usize) -> Self {
        Self::with_retry(inner, capacity, RetryPolicy::default())
    }

    /// Like [`new`](Self::new), retrying as `policy` says.
    ///
    /// # Panics
    ///
    /// Spawns the delivery task, so it panics when called outside a Tokio
    /// runtime.
    pub fn with_retry(inner: Arc<dyn Mailer>, capacity: usize, policy: RetryPolicy) -> Self {
        let send = Arc::new(move |message: Message| {
            let inner = Arc::clone(&inner);
            Box::pin(async move { inner.send(message).await }) as _
        });
        Self {
            queue: Queue::start(&MAIL, send, recipient_domain, capacity, policy),
        }
    }

    /// Waits until every message queued before this call has been delivered
    /// or given up (after its last retry); for graceful shutdown and tests.
    /// Fails only if the delivery task is gone (its runtime shut down).
    pub async fn flush(&self) -> AuthResult<()> {
        self.queue.flush().await
    }
}

#[async_trait]
impl Mailer for MailQueue {
    async fn send(&self, message: Message) -> AuthResult<()> {
        self.queue.enqueue(message)
    }
}

/// What a log line may say of the recipient: the domain, `*@example.org`.
fn recipient_domain(message: &Message) -> String {
    format!("*@{}", domain_of(&message.to))
}

/// The part of an address after the last `@`; the only part ever logged.
fn domain_of(address: &str) -> &str {
    address.rsplit_once('@').map_or("", |(_, domain)| domain)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use tokio::sync::Semaphore;
    use tokio::time::Instant;

    use super::*;
    use crate::error::AuthError;
    use crate::mail::MemoryMailer;
    use crate::mail::captured_logs::CapturedLogs;

    fn message(i: usize) -> Message {
        Message {
            to: format!("user{i}@example.com"),
            subject: format!("message {i}"),
            text: "secret body".into(),
            html: String::new(),
        }
    }

    /// Delivers to a `MemoryMailer` once a permit is released per message.
    struct Gated {
        gate: Semaphore,
        out: MemoryMailer,
    }

    #[async_trait]
    impl Mailer for Gated {
        async fn send(&self, message: Message) -> AuthResult<()> {
            self.gate.acquire().await.unwrap().forget();
            self.out.send(message).await
        }
    }

    /// Fails on subject "fail", panics on subject "panic", delivers the rest.
    struct Flaky(MemoryMailer);

    #[async_trait]
    impl Mailer for Flaky {
        async fn send(&self, message: Message) -> AuthResult<()> {
            match message.subject.as_str() {
                "fail" => Err(AuthError::internal_msg("smtp said no")),
                "panic" => panic!("mailer bug"),
                _ => self.0.send(message).await,
            }
        }
    }

    #[tokio::test]
    async fn delivers_every_message_in_order() {
        let out = Arc::new(MemoryMailer::default());
        let queue = MailQueue::new(out.clone(), 200);
        for i in 0..100 {
            queue.send(message(i)).await.unwrap();
        }
        queue.flush().await.unwrap();
        let subjects: Vec<_> = out.messages().into_iter().map(|m| m.subject).collect();
        let expected: Vec<_> = (0..100).map(|i| format!("message {i}")).collect();
        assert_eq!(subjects, expected);
    }

    #[tokio::test]
    async fn send_returns_at_once_and_flush_waits_for_delivery() {
        let gated = Arc::new(Gated {
            gate: Semaphore::new(0),
            out: MemoryMailer::default(),
        });
        let queue = Arc::new(MailQueue::new(gated.clone(), 8));
        for i in 0..3 {
            queue.send(message(i)).await.unwrap();
        }
        let flush = tokio::spawn({
            let queue = Arc::clone(&queue);
            async move { queue.flush().await }
        });
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert_eq!(gated.out.count(), 0, "sent while the server hangs");
        assert!(!flush.is_finished());

        gated.gate.add_permits(2);
        assert_eq!(gated.out.wait_for(2).await.len(), 2);
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(!flush.is_finished(), "one message is still pending");

        gated.gate.add_permits(1);
        flush.await.unwrap().unwrap();
        assert_eq!(gated.out.count(), 3);
    }

    /// Fails the first `failures` attempts, then delivers; records when each
    /// attempt happened.
    struct FailsFirst {
        failures: Mutex<u32>,
        attempts: Mutex<Vec<Instant>>,
        out: MemoryMailer,
    }

    impl FailsFirst {
        fn new(failures: u32) -> Self {
            Self {
                failures: Mutex::new(failures),
                attempts: Mutex::new(Vec::new()),
                out: MemoryMailer::default(),
            }
        }

        fn attempts(&self) -> Vec<Instant> {
            self.attempts.lock().unwrap().clone()
        }
    }

    #[async_trait]
    impl Mailer for FailsFirst {
        async fn send(&self, message: Message) -> AuthResult<()> {
            self.attempts.lock().unwrap().push(Instant::now());
            {
                let mut failures = self.failures.lock().unwrap();
                if *failures > 0 {
                    *failures -= 1;
                    return Err(AuthError::internal_msg("451 try again later"));
                }
            }
            self.out.send(message).await
        }
    }

    fn gaps(attempts: &[Instant]) -> Vec<Duration> {
        attempts.windows(2).map(|w| w[1] - w[0]).collect()
    }

    // Paused time: the clock only moves when every task waits on a timer, so
    // the backoff is measured exactly and nothing really sleeps.
    #[tokio::test(start_paused = true)]
    async fn a_failed_delivery_is_retried_after_each_backoff() {
        let (logs, _guard) = CapturedLogs::start();
        let mailer = Arc::new(FailsFirst::new(3));
        let queue = MailQueue::new(mailer.clone(), 8);
        queue.send(message(7)).await.unwrap();
        queue.flush().await.unwrap();

        assert_eq!(mailer.out.count(), 1);
        let attempts = mailer.attempts();
        assert_eq!(attempts.len(), 4);
        let secs: Vec<u64> = gaps(&attempts).iter().map(Duration::as_secs).collect();
        assert_eq!(secs, [2, 4, 8]);

        let retries = logs.matching("will retry");
        assert_eq!(retries.len(), 3, "{:?}", logs.lines());
        assert!(retries[0].starts_with("WARN"));
        assert!(retries[0].contains("attempt=1"));
        assert!(retries[0].contains("retry_in_ms=2000"));
        assert!(retries[2].contains("retry_in_ms=8000"));
        assert_eq!(logs.matching("delivered after a retry").len(), 1);
        assert!(logs.matching("given up").is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_message_that_always_fails_is_given_up_and_logged_by_domain_only() {
        let (logs, _guard) = CapturedLogs::start();
        let mailer = Arc::new(FailsFirst::new(5));
        let queue = MailQueue::new(mailer.clone(), 8);
        queue
            .send(Message {
                to: "ann.secret-name@example.org".into(),
                subject: "Your code 123456".into(),
                text: "https://app.example.com/verify?token=tok123".into(),
                html: "<p>tok123</p>".into(),
            })
            .await
            .unwrap();
        queue.send(message(1)).await.unwrap();
        queue.flush().await.unwrap();

        assert_eq!(
            mailer.attempts().len(),
            6,
            "5 for the first, 1 for the next"
        );
        let delivered: Vec<_> = mailer.out.messages().into_iter().map(|m| m.to).collect();
        assert_eq!(delivered, ["user1@example.com"], "the queue went on");

        let given_up = logs.matching("given up");
        assert_eq!(given_up.len(), 1, "{:?}", logs.lines());
        assert!(given_up[0].starts_with("ERROR"));
        assert!(given_up[0].contains("recipient=*@example.org"));
        assert!(given_up[0].contains("attempts=5"));
        assert!(given_up[0].contains("451 try again later"));
        assert_eq!(logs.matching("will retry").len(), 4);
        for line in logs.lines() {
            for secret in ["ann.secret-name", "123456", "tok123", "Your code"] {
                assert!(!line.contains(secret), "{secret} logged: {line}");
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn flush_waits_for_the_retries_of_earlier_messages() {
        let mailer = Arc::new(FailsFirst::new(1));
        let policy = RetryPolicy {
            max_attempts: 3,
            first_backoff: Duration::from_secs(3600),
            max_backoff: Duration::from_secs(3600),
        };
        let queue = Arc::new(MailQueue::with_retry(mailer.clone(), 8, policy));
        queue.send(message(0)).await.unwrap();
        queue.send(message(1)).await.unwrap();
        let flush = tokio::spawn({
            let queue = Arc::clone(&queue);
            async move { queue.flush().await }
        });
        // Yielding keeps this task busy, so the paused clock stays put.
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
        assert_eq!(mailer.attempts().len(), 1, "first attempt failed");
        assert_eq!(mailer.out.count(), 0, "message 1 waits behind message 0");
        assert!(!flush.is_finished(), "a retry is still pending");

        tokio::time::advance(Duration::from_secs(3600)).await;
        flush.await.unwrap().unwrap();
        let subjects: Vec<_> = mailer
            .out
            .messages()
            .into_iter()
            .map(|m| m.subject)
            .collect();
        assert_eq!(subjects, ["message 0", "message 1"]);
        assert_eq!(mailer.attempts().len(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn no_retry_policy_tries_once() {
        let (logs, _guard) = CapturedLogs::start();
        let mailer = Arc::new(FailsFirst::new(1));
        let queue = MailQueue::with_retry(mailer.clone(), 8, RetryPolicy::NO_RETRY);
        queue.send(message(0)).await.unwrap();
        queue.flush().await.unwrap();
        assert_eq!(mailer.attempts().len(), 1);
        assert_eq!(mailer.out.count(), 0);
        assert_eq!(logs.matching("given up").len(), 1);
        assert!(logs.matching("will retry").is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_or_panicking_mailer_does_not_stop_the_queue() {
        let (logs, _guard) = CapturedLogs::start();
        let out = Arc::new(Flaky(MemoryMailer::default()));
        let queue = MailQueue::new(out.clone(), 8);
        for subject in ["before", "fail", "panic", "after"] {
            queue
                .send(Message {
                    subject: subject.into(),
                    ..message(0)
                })
                .await
                .unwrap();
        }
        queue.flush().await.unwrap();
        let subjects: Vec<_> = out.0.messages().into_iter().map(|m| m.subject).collect();
        assert_eq!(subjects, ["before", "after"]);
        let panics = logs.matching("mailer panicked");
        assert_eq!(
            panics.len(),
            1,
            "a panic is not retried: {:?}",
            logs.lines()
        );
        assert_eq!(
            logs.matching("given up").len(),
            2,
            "the failure and the panic"
        );
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once() {
        let gated = Arc::new(Gated {
            gate: Semaphore::new(0),
            out: MemoryMailer::default(),
        });
        // Capacity 0 is taken as 1; the delivery task has not run yet on
        // this single-threaded runtime, so the first message fills the queue.
        let queue = MailQueue::new(gated.clone(), 0);
        queue.send(message(0)).await.unwrap();
        let err = queue.send(message(1)).await.unwrap_err();
        assert!(matches!(&err, AuthError::Internal(c) if c.message() == Some("mail queue full")));

        gated.gate.add_permits(1);
        queue.flush().await.unwrap();
        assert_eq!(gated.out.count(), 1);
        queue.send(message(2)).await.unwrap();
        gated.gate.add_permits(1);
        queue.flush().await.unwrap();
        let subjects: Vec<_> = gated
            .out
            .messages()
            .into_iter()
            .map(|m| m.subject)
            .collect();
        assert_eq!(subjects, ["message 0", "message 2"]);
    }

    #[tokio::test]
    async fn flush_on_an_empty_queue_returns() {
        let queue = MailQueue::new(Arc::new(MemoryMailer::default()), 1);
        queue.flush().await.unwrap();
        queue.flush().await.unwrap();
    }

    #[tokio::test]
    async fn dropping_the_queue_still_delivers_what_was_queued() {
        let out = Arc::new(MemoryMailer::default());
        let queue = MailQueue::new(out.clone(), 8);
        for i in 0..3 {
            queue.send(message(i)).await.unwrap();
        }
        drop(queue);
        assert_eq!(out.wait_for(3).await.len(), 3);
    }

    #[test]
    fn only_the_domain_is_taken_from_an_address() {
        assert_eq!(domain_of("ann@example.com"), "example.com");
        assert_eq!(domain_of("\"a@b\"@example.org"), "example.org");
        assert_eq!(domain_of("no-at-sign"), "");
        assert_eq!(domain_of(""), "");
    }
}
