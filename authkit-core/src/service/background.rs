//! Work a flow finishes after its answer is decided.
//!
//! Requests whose answer must not depend on whether an account exists
//! (password reset, verification resend) decide the answer first and do the
//! account's work here, in a task of its own: the response goes out before
//! any store write or mail, so a slow store or mail server cannot tell a
//! known address from an unknown one by the time it takes to answer.

use std::future::Future;

use tokio::sync::watch;

use super::Auth;
use crate::error::AuthResult;

/// Tracks the running background tasks, so that hosts (at shutdown) and
/// tests can wait for them.
#[derive(Debug)]
pub(super) struct Background {
    running: watch::Sender<usize>,
}

impl Background {
    pub(super) fn new() -> Self {
        Self {
            running: watch::Sender::new(0),
        }
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
    /// tokio runtime it runs to completion before returning instead.
    pub(super) async fn in_background<F>(&self, what: &'static str, work: F)
    where
        F: Future<Output = AuthResult<()>> + Send + 'static,
    {
        let logged = async move {
            if let Err(err) = work.await {
                tracing::error!(error = %err, "{what} failed");
            }
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            logged.await;
            return;
        };
        let running = &self.inner.background.running;
        running.send_modify(|n| *n += 1);
        let guard = Running(running.clone());
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
