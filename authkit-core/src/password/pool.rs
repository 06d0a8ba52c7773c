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
//!
//! The wait for a thread is bounded twice ([`HashQueue`]): at most
//! `max_waiting` callers wait, and none longer than `max_wait`. A caller
//! beyond either bound is refused at once with `ServerBusy` (503 with
//! `Retry-After`) without hashing anything, so a flood of logins with
//! random emails turns into cheap refusals instead of a queue that makes
//! every login, the legitimate ones included, wait without end.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use thread_priority::{ThreadPriority, ThreadPriorityValue};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError, oneshot};

use super::HashQueue;
use crate::error::{AuthError, AuthResult};
use crate::telemetry;

type Job = Box<dyn FnOnce() + Send>;

/// Background priority on the crate's 0–99 scale: niceness 10 on Linux.
const BACKGROUND_PRIORITY: u8 = 25;

/// What a shed caller is told to wait before retrying.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Runs CPU-heavy jobs on dedicated low-priority threads, at most one per
/// thread at a time; callers beyond that wait (asynchronously) for a slot,
/// as far as the [`HashQueue`] bounds allow.
pub(super) struct HashPool {
    jobs: mpsc::Sender<Job>,
    slots: Arc<Semaphore>,
    /// How many slots there are (what holding them all takes).
    #[cfg(any(test, feature = "testing"))]
    threads: usize,
    queue: HashQueue,
    /// Callers waiting for a slot now.
    waiting: AtomicUsize,
}

impl HashPool {
    /// Starts `threads` workers (at least one), waiting as `queue` allows.
    /// They stop when the pool is dropped.
    pub(super) fn start(threads: usize, queue: HashQueue) -> AuthResult<Self> {
        let threads = threads.clamp(1, Semaphore::MAX_PERMITS);
        let (jobs, pending) = mpsc::channel::<Job>();
        let pending = Arc::new(Mutex::new(pending));
        for i in 0..threads {
            let queue = Arc::clone(&pending);
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
            #[cfg(any(test, feature = "testing"))]
            threads,
            queue,
            waiting: AtomicUsize::new(0),
        })
    }

    /// Runs `job` once a slot is free; the wait counts in the hashing
    /// queue-depth gauge. The slot is taken before the job is
    /// queued, so a caller that stops waiting before then costs nothing,
    /// and held until the job ends, even if the caller stops waiting.
    ///
    /// Fails with `ServerBusy`, without running `job`, when every slot is
    /// taken and `max_waiting` callers already wait, or when no slot came
    /// free within `max_wait`.
    pub(super) async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> AuthResult<T> {
        let waiting = telemetry::Queued::enter(telemetry::HASH_QUEUE_DEPTH);
        let slot = match Arc::clone(&self.slots).try_acquire_owned() {
            Ok(slot) => slot,
            Err(TryAcquireError::NoPermits) => self.wait_for_slot().await?,
            Err(TryAcquireError::Closed) => {
                return Err(AuthError::internal("the hash slots are closed"));
            }
        };
        drop(waiting);
        let (done, result) = oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let outcome = job();
                // The slot is free before the caller hears back, so its
                // next hash never finds its own last one still holding it.
                // (A panicking job frees it while unwinding.)
                drop(slot);
                let _ = done.send(outcome);
            }))
            .map_err(|_| AuthError::internal("the hash threads have stopped"))?;
        result
            .await
            .map_err(|_| AuthError::internal("a password hash job panicked"))
    }
}

impl HashPool {
    /// Waits in line for a slot, if there is room in the line, for at most
    /// `max_wait`.
    async fn wait_for_slot(&self) -> AuthResult<OwnedSemaphorePermit> {
        let _place = self.take_place()?;
        let acquire = Arc::clone(&self.slots).acquire_owned();
        match tokio::time::timeout(self.queue.max_wait, acquire).await {
            Ok(slot) => slot.map_err(AuthError::internal),
            Err(_) => Err(shed("deadline")),
        }
    }

    /// A place in the line of waiting callers, or `ServerBusy` when it is
    /// full.
    fn take_place(&self) -> AuthResult<Place<'_>> {
        self.waiting
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.queue.max_waiting).then_some(n + 1)
            })
            .map_err(|_| shed("queue_full"))?;
        Ok(Place(&self.waiting))
    }

    /// Callers waiting for a slot now.
    #[cfg(test)]
    fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Acquire)
    }

    /// Takes every slot until the returned value is dropped, so that hashes
    /// wait (and are shed) as if the threads were busy.
    #[cfg(any(test, feature = "testing"))]
    pub(super) async fn hold_all(&self) -> AuthResult<OwnedSemaphorePermit> {
        let threads = u32::try_from(self.threads).map_err(AuthError::internal)?;
        Arc::clone(&self.slots)
            .acquire_many_owned(threads)
            .await
            .map_err(AuthError::internal)
    }
}

/// One caller's place in the line; given back when dropped.
struct Place<'a>(&'a AtomicUsize);

impl Drop for Place<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Counts a shed hash and builds its error.
fn shed(reason: &'static str) -> AuthError {
    telemetry::hash_shed(reason);
    AuthError::ServerBusy {
        retry_after: RETRY_AFTER,
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

    fn queue(max_waiting: usize) -> HashQueue {
        HashQueue {
            max_waiting,
            max_wait: Duration::from_secs(3600),
        }
    }

    #[tokio::test]
    async fn concurrent_jobs_all_run_and_return_their_results() {
        let pool = Arc::new(HashPool::start(2, queue(8)).unwrap());
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
        let pool = HashPool::start(1, queue(1)).unwrap();
        let err = pool.run(|| panic!("boom")).await.unwrap_err();
        assert!(matches!(err, AuthError::Internal(_)), "{err:?}");
        assert_eq!(pool.run(|| 7).await.unwrap(), 7, "the one thread survived");
    }

    /// The workers run below the normal priority (niceness > 0), so
    /// requests that do not hash are scheduled first.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn workers_run_at_background_priority() {
        let pool = HashPool::start(1, queue(1)).unwrap();
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

    /// A job that runs until `release` is sent on (or dropped).
    fn blocker(pool: &Arc<HashPool>) -> (std::sync::mpsc::Sender<()>, tokio::task::JoinHandle<()>) {
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let pool = Arc::clone(pool);
        let task = tokio::spawn(async move {
            pool.run(move || {
                let _ = gate.recv();
            })
            .await
            .unwrap();
        });
        (release, task)
    }

    async fn until(mut condition: impl FnMut() -> bool) {
        while !condition() {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_line_is_refused_at_once_without_running_the_job() {
        let pool = Arc::new(HashPool::start(1, queue(1)).unwrap());
        let (release, first) = blocker(&pool);
        until(|| pool.slots.available_permits() == 0).await;
        // The second caller waits in line for the one thread.
        let second = {
            let pool = Arc::clone(&pool);
            tokio::spawn(async move { pool.run(|| 2).await })
        };
        until(|| pool.waiting() == 1).await;
        // The line is full: the third is refused without running.
        let ran = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&ran);
        let err = pool
            .run(move || counted.fetch_add(1, Ordering::SeqCst))
            .await
            .unwrap_err();
        assert!(
            matches!(err, AuthError::ServerBusy { retry_after } if retry_after == RETRY_AFTER),
            "{err:?}"
        );
        assert_eq!(ran.load(Ordering::SeqCst), 0, "a refused job never runs");
        release.send(()).unwrap();
        first.await.unwrap();
        assert_eq!(second.await.unwrap().unwrap(), 2, "the waiting one ran");
        assert_eq!(pool.waiting(), 0);
        assert_eq!(pool.run(|| 3).await.unwrap(), 3, "a free pool takes work");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_caller_never_waits_for_its_own_finished_job() {
        // No line at all: had a finished job kept its slot until after its
        // caller heard back, the caller's next job would be shed.
        let pool = HashPool::start(1, queue(0)).unwrap();
        for i in 0..200 {
            assert_eq!(pool.run(move || i).await.unwrap(), i);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn with_no_line_a_busy_pool_refuses_everything() {
        let pool = Arc::new(HashPool::start(1, queue(0)).unwrap());
        let held = pool.hold_all().await.unwrap();
        for _ in 0..3 {
            let err = pool.run(|| ()).await.unwrap_err();
            assert_eq!(err.code(), "server_busy");
        }
        drop(held);
        assert_eq!(pool.run(|| 5).await.unwrap(), 5);
    }

    // Paused time: the deadline passes without really waiting.
    #[tokio::test(start_paused = true)]
    async fn a_caller_waiting_past_the_deadline_is_refused() {
        let pool = Arc::new(
            HashPool::start(
                1,
                HashQueue {
                    max_waiting: 4,
                    max_wait: Duration::from_millis(500),
                },
            )
            .unwrap(),
        );
        let held = pool.hold_all().await.unwrap();
        let err = pool.run(|| ()).await.unwrap_err();
        assert_eq!(err.code(), "server_busy");
        assert_eq!(pool.waiting(), 0, "the place was given back");
        drop(held);
        assert_eq!(pool.run(|| 1).await.unwrap(), 1);
    }
}
