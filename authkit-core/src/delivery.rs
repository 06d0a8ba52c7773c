//! Background delivery with retries, shared by
//! [`MailQueue`](crate::mail::MailQueue) and
//! [`SmsQueue`](crate::sms::SmsQueue).
//!
//! Sending only enqueues, so a slow, hung or dead provider neither holds
//! the request nor fails it, nor makes the answer for an existing account
//! slower than the one for an unknown account (which would reveal accounts
//! by timing). Messages are delivered one at a time, in order; a failed
//! delivery is tried again after a growing pause ([`RetryPolicy`]) and the
//! ones behind it wait, so the queue keeps their order and does not hammer
//! a failing provider. A sender that panics is not retried and does not end
//! the queue. Log lines name the channel and, for mail, the recipient's
//! domain: never an address, a number, a body, a link or a code.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::error::{AuthError, AuthResult};
use crate::telemetry::{self, Queued};

/// How often and how patiently a delivery queue retries a failed delivery.
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

/// What a queue carries: names for logs and errors, and its metrics.
#[derive(Debug)]
pub(crate) struct Channel {
    /// `mail`, `sms`: starts every log line and error.
    pub(crate) name: &'static str,
    /// What the inner sender is called in logs (`mailer`, `sender`).
    pub(crate) sender: &'static str,
    /// Gauge of messages waiting.
    pub(crate) depth: &'static str,
    /// Counter of failures by reason.
    pub(crate) failures: &'static str,
}

type Delivery = Pin<Box<dyn Future<Output = AuthResult<()>> + Send>>;

/// Hands one message to the provider.
pub(crate) type Handoff<M> = Arc<dyn Fn(M) -> Delivery + Send + Sync>;

/// What may be logged about a message's recipient.
pub(crate) type Hint<M> = fn(&M) -> String;

/// A bounded queue delivering `M`s from a background task.
pub(crate) struct Queue<M> {
    jobs: mpsc::Sender<Job<M>>,
    channel: &'static Channel,
    hint: Hint<M>,
}

impl<M> std::fmt::Debug for Queue<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("channel", &self.channel.name)
            .field("capacity", &self.jobs.max_capacity())
            .finish_non_exhaustive()
    }
}

enum Job<M> {
    /// Deliver (retrying as the policy says); counted in the depth gauge
    /// until taken off the queue.
    Deliver(M, Queued),
    /// Signal that every job before this one is done.
    Flush(oneshot::Sender<()>),
}

impl<M: Clone + Send + 'static> Queue<M> {
    /// Spawns the delivery task; the queue holds at most `capacity`
    /// messages (at least 1).
    ///
    /// # Panics
    /// Outside a Tokio runtime.
    pub(crate) fn start(
        channel: &'static Channel,
        send: Handoff<M>,
        hint: Hint<M>,
        capacity: usize,
        policy: RetryPolicy,
    ) -> Self {
        let (jobs, queued) = mpsc::channel(capacity.max(1));
        let worker = Worker {
            channel,
            send,
            hint,
            policy,
        };
        tokio::spawn(worker.run(queued));
        Self {
            jobs,
            channel,
            hint,
        }
    }

    /// Queues `message`, or fails at once when the queue is full.
    pub(crate) fn enqueue(&self, message: M) -> AuthResult<()> {
        let channel = self.channel;
        let recipient = (self.hint)(&message);
        let queued = Queued::enter(channel.depth);
        match self.jobs.try_send(Job::Deliver(message, queued)) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => {
                telemetry::delivery_failure(channel.failures, "queue_full");
                tracing::warn!(recipient, "{} queue full; message dropped", channel.name);
                Err(AuthError::internal_msg(format!(
                    "{} queue full",
                    channel.name
                )))
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(self.gone()),
        }
    }

    /// Waits until every message queued before this call has been delivered
    /// or given up (after its last retry).
    pub(crate) async fn flush(&self) -> AuthResult<()> {
        let (done, flushed) = oneshot::channel();
        self.jobs
            .send(Job::Flush(done))
            .await
            .map_err(|_| self.gone())?;
        flushed.await.map_err(|_| self.gone())
    }

    fn gone(&self) -> AuthError {
        AuthError::internal_msg(format!("{} queue closed", self.channel.name))
    }
}

struct Worker<M> {
    channel: &'static Channel,
    send: Handoff<M>,
    hint: Hint<M>,
    policy: RetryPolicy,
}

impl<M: Clone + Send + 'static> Worker<M> {
    /// One job at a time, in queue order, until the queue is dropped.
    async fn run(self, mut jobs: mpsc::Receiver<Job<M>>) {
        while let Some(job) = jobs.recv().await {
            match job {
                Job::Flush(done) => {
                    // The flusher may have stopped waiting; nothing to do then.
                    let _ = done.send(());
                }
                Job::Deliver(message, queued) => {
                    drop(queued);
                    self.deliver(message).await;
                }
            }
        }
    }

    /// Hands `message` over until it is accepted or the policy gives up.
    async fn deliver(&self, message: M) {
        let Channel {
            name,
            sender,
            failures,
            ..
        } = *self.channel;
        let recipient = (self.hint)(&message);
        let attempts = self.policy.attempts();
        let mut attempt = 1;
        loop {
            // Its own task, so a panicking sender does not end the queue.
            let err = match tokio::spawn((self.send)(message.clone())).await {
                Ok(Ok(())) => {
                    if attempt > 1 {
                        tracing::info!(recipient, attempt, "{name} delivered after a retry");
                    }
                    return;
                }
                Ok(Err(err)) => err,
                Err(_) => {
                    telemetry::delivery_failure(failures, "given_up");
                    tracing::error!(
                        recipient,
                        attempt,
                        "{name} delivery failed: {sender} panicked; given up"
                    );
                    return;
                }
            };
            if attempt >= attempts {
                telemetry::delivery_failure(failures, "given_up");
                tracing::error!(
                    recipient,
                    attempts,
                    error = %err.report(),
                    "{name} delivery failed; given up"
                );
                return;
            }
            let pause = self.policy.backoff(attempt);
            telemetry::delivery_failure(failures, "retrying");
            tracing::warn!(
                recipient,
                attempt,
                retry_in_ms = u64::try_from(pause.as_millis()).unwrap_or(u64::MAX),
                error = %err.report(),
                "{name} delivery failed; will retry"
            );
            tokio::time::sleep(pause).await;
            attempt += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
