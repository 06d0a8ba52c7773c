//! Background delivery: sending returns before the mail server answers, and
//! failed deliveries are retried with exponential backoff.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot};

use super::{Mailer, Message};
use crate::error::{AuthError, AuthResult};
use crate::telemetry::{self, Queued};

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
/// `AuthError::Internal("mail queue full")`; size the capacity for the mail
/// expected during an outage of [`RetryPolicy::total_backoff`].
///
/// Dropping the queue lets the task deliver (or give up) what is queued,
/// then end; call [`flush`](Self::flush) first to wait for it.
#[derive(Debug)]
pub struct MailQueue {
    jobs: mpsc::Sender<Job>,
}

/// How often and how patiently [`MailQueue`] retries a failed delivery.
///
/// The pause after the `n`-th failed attempt is
/// `first_backoff × 2^(n-1)`, at most `max_backoff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first one included; 0 is taken as 1 (no retry).
    pub max_attempts: u32,
    /// Pause after the first failed attempt.
    pub first_backoff: Duration,
    /// Longest pause between two attempts.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts, pausing 2 s, 4 s, 8 s and 16 s in between (pauses are
    /// capped at 60 s).
    fn default() -> Self {
        Self {
            max_attempts: 5,
            first_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// No retry: each message gets one attempt.
    pub const NO_RETRY: Self = Self {
        max_attempts: 1,
        first_backoff: Duration::ZERO,
        max_backoff: Duration::ZERO,
    };

    /// The pause after `failed_attempts` attempts have failed (zero before
    /// any attempt).
    pub fn backoff(&self, failed_attempts: u32) -> Duration {
        let Some(doublings) = failed_attempts.checked_sub(1) else {
            return Duration::ZERO;
        };
        let factor = 2u32.checked_pow(doublings).unwrap_or(u32::MAX);
        self.first_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }

    /// The sum of the pauses a message that always fails goes through
    /// before it is given up.
    pub fn total_backoff(&self) -> Duration {
        let mut total = Duration::ZERO;
        for failed in 1..self.attempts() {
            let pause = self.backoff(failed);
            if pause >= self.max_backoff {
                // Every later pause is the cap too.
                let rest = self.attempts() - failed;
                return total.saturating_add(self.max_backoff.saturating_mul(rest));
            }
            total = total.saturating_add(pause);
        }
        total
    }

    /// `max_attempts`, at least 1.
    fn attempts(&self) -> u32 {
        self.max_attempts.max(1)
    }
}

/// What the background task is asked to do.
#[derive(Debug)]
enum Job {
    /// Hand a message to the inner mailer (retrying as the policy says);
    /// counted in the queue-depth gauge until it is taken off the queue.
    Deliver(Message, Queued),
    /// Signal that every job before this one is done.
    Flush(oneshot::Sender<()>),
}

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
        let (jobs, queued) = mpsc::channel(capacity.max(1));
        tokio::spawn(run(inner, policy, queued));
        Self { jobs }
    }

    /// Waits until every message queued before this call has been delivered
    /// or given up (after its last retry); for graceful shutdown and tests.
    /// Fails only if the delivery task is gone (its runtime shut down).
    pub async fn flush(&self) -> AuthResult<()> {
        let (done, flushed) = oneshot::channel();
        self.jobs.send(Job::Flush(done)).await.map_err(|_| gone())?;
        flushed.await.map_err(|_| gone())
    }
}

#[async_trait]
impl Mailer for MailQueue {
    async fn send(&self, message: Message) -> AuthResult<()> {
        let domain = domain_of(&message.to).to_owned();
        let queued = Queued::enter(telemetry::MAIL_QUEUE_DEPTH);
        match self.jobs.try_send(Job::Deliver(message, queued)) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => {
                telemetry::delivery_failure(telemetry::MAIL_FAILURES, "queue_full");
                tracing::warn!(domain, "mail queue full; message dropped");
                Err(AuthError::Internal("mail queue full".into()))
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(gone()),
        }
    }
}

/// The delivery task: one job at a time, in queue order, until the queue is
/// dropped.
async fn run(inner: Arc<dyn Mailer>, policy: RetryPolicy, mut jobs: mpsc::Receiver<Job>) {
    while let Some(job) = jobs.recv().await {
        match job {
            Job::Flush(done) => {
                // The flusher may have stopped waiting; nothing to do then.
                let _ = done.send(());
            }
            Job::Deliver(message, queued) => {
                drop(queued);
                deliver(&inner, &policy, message).await;
            }
        }
    }
}

/// Hands `message` to `inner` until it is accepted or `policy` gives up.
async fn deliver(inner: &Arc<dyn Mailer>, policy: &RetryPolicy, message: Message) {
    let domain = domain_of(&message.to).to_owned();
    let attempts = policy.attempts();
    let mut attempt = 1;
    loop {
        // Its own task, so a panicking mailer does not end the queue.
        let (inner, copy) = (Arc::clone(inner), message.clone());
        let err = match tokio::spawn(async move { inner.send(copy).await }).await {
            Ok(Ok(())) => {
                if attempt > 1 {
                    tracing::info!(domain, attempt, "mail delivered after a retry");
                }
                return;
            }
            Ok(Err(err)) => err,
            Err(_) => {
                telemetry::delivery_failure(telemetry::MAIL_FAILURES, "given_up");
                tracing::error!(
                    domain,
                    attempt,
                    "mail delivery failed: mailer panicked; given up"
                );
                return;
            }
        };
        if attempt >= attempts {
            telemetry::delivery_failure(telemetry::MAIL_FAILURES, "given_up");
            tracing::error!(domain, attempts, error = %err, "mail delivery failed; given up");
            return;
        }
        let pause = policy.backoff(attempt);
        telemetry::delivery_failure(telemetry::MAIL_FAILURES, "retrying");
        tracing::warn!(
            domain,
            attempt,
            retry_in_ms = u64::try_from(pause.as_millis()).unwrap_or(u64::MAX),
            error = %err,
            "mail delivery failed; will retry"
        );
        tokio::time::sleep(pause).await;
        attempt += 1;
    }
}

/// The part of an address after the last `@`; the only part ever logged.
fn domain_of(address: &str) -> &str {
    address.rsplit_once('@').map_or("", |(_, domain)| domain)
}

fn gone() -> AuthError {
    AuthError::Internal("mail queue closed".into())
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use tokio::sync::Semaphore;
    use tokio::time::Instant;

    use super::*;
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
                "fail" => Err(AuthError::Internal("smtp said no".into())),
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
                    return Err(AuthError::Internal("451 try again later".into()));
                }
            }
            self.out.send(message).await
        }
    }

    fn gaps(attempts: &[Instant]) -> Vec<Duration> {
        attempts.windows(2).map(|w| w[1] - w[0]).collect()
    }

    #[test]
    fn backoff_doubles_from_the_first_pause_up_to_the_cap() {
        let policy = RetryPolicy::default();
        let secs: Vec<u64> = (0..=8).map(|n| policy.backoff(n).as_secs()).collect();
        assert_eq!(secs, [0, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(policy.backoff(u32::MAX), Duration::from_secs(60));
        assert_eq!(policy.total_backoff(), Duration::from_secs(30));
        let long = RetryPolicy {
            max_attempts: 10,
            ..policy
        };
        // 2 + 4 + 8 + 16 + 32, then four pauses at the 60 s cap.
        assert_eq!(long.total_backoff(), Duration::from_secs(62 + 240));
        let capped_at_once = RetryPolicy {
            max_attempts: 4,
            first_backoff: Duration::from_secs(90),
            max_backoff: Duration::from_secs(60),
        };
        assert_eq!(capped_at_once.backoff(1), Duration::from_secs(60));
        assert_eq!(capped_at_once.total_backoff(), Duration::from_secs(180));

        let huge = RetryPolicy {
            max_attempts: u32::MAX,
            first_backoff: Duration::MAX,
            max_backoff: Duration::MAX,
        };
        assert_eq!(huge.backoff(40), Duration::MAX, "saturates, no overflow");
        assert_eq!(huge.total_backoff(), Duration::MAX);
        let many = RetryPolicy {
            max_attempts: u32::MAX,
            ..policy
        };
        assert_eq!(
            many.total_backoff(),
            Duration::from_secs(62 + 60 * u64::from(u32::MAX - 6)),
            "computed without walking every attempt"
        );
    }

    #[test]
    fn no_retry_and_zero_attempts_mean_one_attempt() {
        assert_eq!(RetryPolicy::NO_RETRY.attempts(), 1);
        assert_eq!(RetryPolicy::NO_RETRY.total_backoff(), Duration::ZERO);
        let zero = RetryPolicy {
            max_attempts: 0,
            ..RetryPolicy::default()
        };
        assert_eq!(zero.attempts(), 1);
        assert_eq!(zero.total_backoff(), Duration::ZERO);
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
        assert!(given_up[0].contains("domain=example.org"));
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
        assert!(matches!(&err, AuthError::Internal(m) if m == "mail queue full"));

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
