//! Work a flow finishes after its answer is decided.
//!
//! Requests whose answer must not depend on whether an account exists
//! (password reset, verification resend) decide the answer first and do the
//! account's work here, in a task of its own: the response goes out before
//! any store write or mail, so a slow store or mail server cannot tell a
//! known address from an unknown one by the time it takes to answer.
//!
//! The work is bounded: at most [`MAX_RUNNING`] tasks at once. Past that a
//! flood of reset requests does not pile up tasks (and memory) without
//! end: the new work is dropped, logged and counted in
//! `authkit_background_dropped_total`, and the request is answered as
//! usual (the answer never depended on the work).

use std::future::Future;

use tokio::sync::watch;

use super::Auth;
use crate::error::AuthResult;
use crate::telemetry;

/// Most background tasks running at once.
pub(crate) const MAX_RUNNING: usize = 1024;

/// Tracks the running background tasks, so that hosts (at shutdown) and
/// tests can wait for them.
#[derive(Debug)]
pub(crate) struct Background {
    running: watch::Sender<usize>,
    limit: usize,
}

impl Background {
    pub(crate) fn new() -> Self {
        Self::with_limit(MAX_RUNNING)
    }

    fn with_limit(limit: usize) -> Self {
        Self {
            running: watch::Sender::new(0),
            limit,
        }
    }

    /// Counts one more task as running, unless `limit` already run.
    fn admit(&self) -> Option<Running> {
        let admitted = self.running.send_if_modified(|n| {
            let room = *n < self.limit;
            if room {
                *n += 1;
            }
            room
        });
        admitted.then(|| Running(self.running.clone()))
    }
}

/// Counts one task as running until dropped (also when the task panics or
/// the runtime drops it).
struct Running(watch::Sender<usize>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

impl Auth {
    /// Runs `work` in the background. Its failure is logged as `what` and
    /// never reaches the caller, whose answer is already decided. Outside a
    /// tokio runtime it runs to completion before returning instead. When
    /// [`MAX_RUNNING`] tasks already run, `work` is dropped and counted.
    pub(crate) async fn in_background<F>(&self, what: &'static str, work: F)
    where
        F: Future<Output = AuthResult<()>> + Send + 'static,
    {
        let logged = async move {
            if let Err(err) = work.await {
                tracing::error!(error = %err.report(), "{what} failed");
            }
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            logged.await;
            return;
        };
        let Some(guard) = self.inner.background.admit() else {
            telemetry::background_dropped(what);
            tracing::warn!("{what} dropped: too much background work is running");
            return;
        };
        runtime.spawn(async move {
            let _running = guard;
            logged.await;
        });
    }

    /// Waits until the background work started so far (and any it starts
    /// meanwhile) has finished: password-reset and verification mails,
    /// which are sent after the request is answered. Call it at shutdown so
    /// none is lost, and in tests before looking at the mailbox.
    pub async fn background_idle(&self) {
        let mut running = self.inner.background.running.subscribe();
        // The sender lives in `self`, so the channel cannot close here.
        let _ = running.wait_for(|n| *n == 0).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_past_the_limit_is_refused_until_a_task_ends() {
        let background = Background::with_limit(2);
        let first = background.admit().unwrap();
        let second = background.admit().unwrap();
        assert!(background.admit().is_none(), "the third is refused");
        assert_eq!(*background.running.borrow(), 2);
        drop(first);
        let third = background.admit().unwrap();
        assert!(background.admit().is_none());
        drop((second, third));
        assert_eq!(*background.running.borrow(), 0);
    }
}
