//! The threads password hashes run on.
//!
//! A fixed set of OS threads, started with the hasher, each lowered to a
//! background scheduling priority (about `nice 10` on Linux and other
//! Unixes). A hash is tens of milliseconds of pure CPU; the requests that
//! do no hashing (`/me`, refresh, token checks) take microseconds. At equal
//! priority a login flood shares the CPU with them evenly and their tail
//! latency grows with it; at a lower priority the kernel runs them first and
//! hashes use every cycle left over, so login throughput is the same
//! whenever nothing else waits. Where the priority cannot be changed the
//! threads run at the normal one, which is logged once per thread.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use thread_priority::{ThreadPriority, ThreadPriorityValue};
use tokio::sync::{Semaphore, oneshot};

use crate::error::{AuthError, AuthResult};
use crate::telemetry;

type Job = Box<dyn FnOnce() + Send>;

/// Background priority on the crate's 0–99 scale: niceness 10 on Linux.
const BACKGROUND_PRIORITY: u8 = 25;

/// Runs CPU-heavy jobs on dedicated low-priority threads, at most one per
/// thread at a time; callers beyond that wait (asynchronously) for a slot.
pub(super) struct HashPool {
    jobs: mpsc::Sender<Job>,
    slots: Arc<Semaphore>,
}

impl HashPool {
    /// Starts `threads` workers (at least one). They stop when the pool is
    /// dropped.
    pub(super) fn start(threads: usize) -> AuthResult<Self> {
        let threads = threads.clamp(1, Semaphore::MAX_PERMITS);
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("authkit-hash-{i}"))
                .spawn(move || work(&queue))
                .map_err(|e| {
                    AuthError::internal(format_args!("cannot start a hash thread: {e}"))
                })?;
        }
        Ok(Self {
            jobs,
            slots: Arc::new(Semaphore::new(threads)),
        })
    }

    /// Runs `job` once a slot is free; the wait counts in the hashing
    /// queue-depth gauge. The slot is taken before the job is
    /// queued, so a caller that stops waiting before then costs nothing,
    /// and held until the job ends, even if the caller stops waiting.
    pub(super) async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> AuthResult<T> {
        let waiting = telemetry::Queued::enter(telemetry::HASH_QUEUE_DEPTH);
        let slot = Arc::clone(&self.slots)
            .acquire_owned()
            .await
            .map_err(AuthError::internal)?;
        drop(waiting);
        let (done, result) = oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _slot = slot;
                let _ = done.send(job());
            }))
            .map_err(|_| AuthError::internal("the hash threads have stopped"))?;
        result
            .await
            .map_err(|_| AuthError::internal("a password hash job panicked"))
    }
}

/// A worker: lower its priority, then run jobs until the pool is dropped.
fn work(queue: &Mutex<mpsc::Receiver<Job>>) {
    lower_priority();
    loop {
        let next = match queue.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => return,
        };
        let Ok(job) = next else { return };
        // A panicking job loses its result (the caller gets `Internal`),
        // not the thread.
        let _ = catch_unwind(AssertUnwindSafe(job));
    }
}

fn lower_priority() {
    let outcome = ThreadPriorityValue::try_from(BACKGROUND_PRIORITY)
        .map_err(|e| e.to_string())
        .and_then(|value| {
            ThreadPriority::Crossplatform(value)
                .set_for_current()
                .map_err(|e| e.to_string())
        });
    if let Err(error) = outcome {
        tracing::debug!(%error, "password hashing runs at normal priority");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn concurrent_jobs_all_run_and_return_their_results() {
        let pool = Arc::new(HashPool::start(2).unwrap());
        let mut jobs = tokio::task::JoinSet::new();
        for i in 0..8 {
            let pool = Arc::clone(&pool);
            jobs.spawn(async move { pool.run(move || i * 2).await.unwrap() });
        }
        let mut results = jobs.join_all().await;
        results.sort_unstable();
        assert_eq!(results, (0..8).map(|i| i * 2).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_panicking_job_fails_alone_and_the_thread_lives_on() {
        let pool = HashPool::start(1).unwrap();
        let err = pool.run(|| panic!("boom")).await.unwrap_err();
        assert!(matches!(err, AuthError::Internal(_)), "{err:?}");
        assert_eq!(pool.run(|| 7).await.unwrap(), 7, "the one thread survived");
    }

    /// The workers run below the normal priority (niceness > 0), so
    /// requests that do not hash are scheduled first.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn workers_run_at_background_priority() {
        let pool = HashPool::start(1).unwrap();
        let nice = pool
            .run(|| {
                let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
                // Fields after the command name, which ends with ')'; nice
                // is field 19 of the line, the 17th after the name.
                let rest = &stat[stat.rfind(')').unwrap() + 2..];
                rest.split(' ').nth(16).unwrap().parse::<i32>().unwrap()
            })
            .await
            .unwrap();
        assert!(nice > 0, "niceness {nice}");
    }
}
