//! Background delivery: sending returns before the mail server answers.

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot};

use super::{Mailer, Message};
use crate::error::{AuthError, AuthResult};

/// A [`Mailer`] that queues messages and hands them to another mailer from a
/// background task, in order.
///
/// Sending only enqueues, so a slow or hung mail server neither holds the
/// request nor makes the answer for an existing account slower than the one
/// for an unknown account (which would reveal accounts by timing).
///
/// Delivery failures are logged (`tracing::warn!`, with the recipient's
/// domain only) and do not stop the queue. When the queue is full, `send`
/// fails at once with `AuthError::Internal("mail queue full")`.
///
/// Dropping the queue lets the task deliver what is queued, then end; call
/// [`flush`](Self::flush) first to wait for it.
#[derive(Debug)]
pub struct MailQueue {
    jobs: mpsc::Sender<Job>,
}

/// What the background task is asked to do.
#[derive(Debug)]
enum Job {
    /// Hand a message to the inner mailer.
    Deliver(Message),
    /// Signal that every job before this one is done.
    Flush(oneshot::Sender<()>),
}

impl MailQueue {
    /// A queue of at most `capacity` messages (at least 1) delivered through
    /// `inner`.
    ///
    /// # Panics
    ///
    /// Spawns the delivery task, so it panics when called outside a Tokio
    /// runtime.
    pub fn new(inner: Arc<dyn Mailer>, capacity: usize) -> Self {
        let (jobs, queued) = mpsc::channel(capacity.max(1));
        tokio::spawn(deliver(inner, queued));
        Self { jobs }
    }

    /// Waits until every message queued before this call has been handed to
    /// the inner mailer and its `send` has returned; for graceful shutdown
    /// and tests. Fails only if the delivery task is gone (its runtime shut
    /// down).
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
        match self.jobs.try_send(Job::Deliver(message)) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!(domain, "mail queue full; message dropped");
                Err(AuthError::Internal("mail queue full".into()))
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(gone()),
        }
    }
}

/// The delivery task: one job at a time, in queue order, until the queue is
/// dropped.
async fn deliver(inner: Arc<dyn Mailer>, mut jobs: mpsc::Receiver<Job>) {
    while let Some(job) = jobs.recv().await {
        match job {
            Job::Flush(done) => {
                // The flusher may have stopped waiting; nothing to do then.
                let _ = done.send(());
            }
            Job::Deliver(message) => {
                let domain = domain_of(&message.to).to_owned();
                // Its own task, so a panicking mailer does not end the queue.
                let inner = Arc::clone(&inner);
                match tokio::spawn(async move { inner.send(message).await }).await {
                    Ok(Ok(())) => {}
                    Ok(Err(err)) => tracing::warn!(domain, error = %err, "mail delivery failed"),
                    Err(_) => tracing::warn!(domain, "mail delivery failed: mailer panicked"),
                }
            }
        }
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
    use tokio::sync::Semaphore;

    use super::*;
    use crate::mail::MemoryMailer;

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

    #[tokio::test]
    async fn a_failing_or_panicking_mailer_does_not_stop_the_queue() {
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
