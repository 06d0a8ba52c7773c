//! Background SMS delivery: sending returns before the provider answers.

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot};

use super::{SmsMessage, SmsSender};
use crate::error::{AuthError, AuthResult};
use crate::telemetry::{self, Queued};

/// An [`SmsSender`] that queues messages and hands them to another sender
/// from a background task, in order, like
/// [`MailQueue`](crate::mail::MailQueue) does for mail: a slow provider
/// never holds a request. Delivery failures are logged (without the
/// number or text) and do not stop the queue; a full queue fails `send`
/// at once.
#[derive(Debug)]
pub struct SmsQueue {
    jobs: mpsc::Sender<Job>,
}

#[derive(Debug)]
enum Job {
    /// Counted in the queue-depth gauge until taken off the queue.
    Deliver(SmsMessage, Queued),
    Flush(oneshot::Sender<()>),
}

impl SmsQueue {
    /// A queue of at most `capacity` messages (at least 1) delivered through
    /// `inner`.
    ///
    /// # Panics
    ///
    /// Spawns the delivery task, so it panics when called outside a Tokio
    /// runtime.
    pub fn new(inner: Arc<dyn SmsSender>, capacity: usize) -> Self {
        let (jobs, queued) = mpsc::channel(capacity.max(1));
        tokio::spawn(deliver(inner, queued));
        Self { jobs }
    }

    /// Waits until every message queued before this call was handed to the
    /// inner sender and its `send` returned.
    ///
    /// # Errors
    /// `Internal` if the delivery task is gone.
    pub async fn flush(&self) -> AuthResult<()> {
        let (done, flushed) = oneshot::channel();
        self.jobs.send(Job::Flush(done)).await.map_err(|_| gone())?;
        flushed.await.map_err(|_| gone())
    }
}

#[async_trait]
impl SmsSender for SmsQueue {
    async fn send(&self, message: SmsMessage) -> AuthResult<()> {
        let queued = Queued::enter(telemetry::SMS_QUEUE_DEPTH);
        match self.jobs.try_send(Job::Deliver(message, queued)) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => {
                telemetry::delivery_failure(telemetry::SMS_FAILURES, "queue_full");
                tracing::warn!("sms queue full; message dropped");
                Err(AuthError::Internal("sms queue full".into()))
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(gone()),
        }
    }
}

async fn deliver(inner: Arc<dyn SmsSender>, mut jobs: mpsc::Receiver<Job>) {
    while let Some(job) = jobs.recv().await {
        match job {
            Job::Flush(done) => {
                let _ = done.send(());
            }
            Job::Deliver(message, queued) => {
                drop(queued);
                let inner = Arc::clone(&inner);
                match tokio::spawn(async move { inner.send(message).await }).await {
                    Ok(Ok(())) => {}
                    Ok(Err(err)) => {
                        telemetry::delivery_failure(telemetry::SMS_FAILURES, "failed");
                        tracing::warn!(error = %err, "sms delivery failed");
                    }
                    Err(_) => {
                        telemetry::delivery_failure(telemetry::SMS_FAILURES, "failed");
                        tracing::warn!("sms delivery failed: sender panicked");
                    }
                }
            }
        }
    }
}

fn gone() -> AuthError {
    AuthError::Internal("sms queue closed".into())
}

#[cfg(test)]
mod tests {
    use tokio::sync::Semaphore;

    use super::*;
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
                "fail" => Err(AuthError::Internal("provider said no".into())),
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

    #[tokio::test]
    async fn failures_and_panics_do_not_stop_the_queue() {
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
    }
}
