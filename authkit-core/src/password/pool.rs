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
//! The wait for a thread is bounded three times ([`HashQueue`]): at most
//! `max_waiting` callers wait, at most `max_per_client` of them from one
//! client, and none longer than `max_wait`. A caller beyond any bound is
//! refused at once with `ServerBusy` (503 with `Retry-After`) without
//! hashing anything, so a flood of logins with random emails turns into
//! cheap refusals instead of a queue that makes every login, the legitimate
//! ones included, wait without end; and since one source holds only its
//! share of the line, a flood from a few sources leaves places for callers
//! from the others.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
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
    line: Mutex<Line>,
}

/// Who waits in the line: how many callers in all, and per client key.
#[derive(Default)]
struct Line {
    waiting: usize,
    /// Waiting callers per client key; keys with none are removed.
    by_client: HashMap<String, usize>,
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
                .map_err(|e| AuthError::internal_with("cannot start a hash thread", e))?;
        }
        Ok(Self {
            jobs,
            slots: Arc::new(Semaphore::new(threads)),
            #[cfg(any(test, feature = "testing"))]
            threads,
            queue,
            line: Mutex::new(Line::default()),
        })
    }

    /// Runs `job` once a slot is free; the wait counts in the hashing
    /// queue-depth gauge. The slot is taken before the job is
    /// queued, so a caller that stops waiting before then costs nothing,
    /// and held until the job ends, even if the caller stops waiting.
    ///
    /// `client` is the key of the caller's source (its per-IP key,
    /// [`IpPrefixes::key`](crate::rate_limit::IpPrefixes::key)); `None` (a call not made for a
    /// request) is held only to the bounds of the whole line.
    ///
    /// Fails with `ServerBusy`, without running `job`, when every slot is
    /// taken and `max_waiting` callers already wait, or `max_per_client`
    /// from `client`, or when no slot came free within `max_wait`.
    pub(super) async fn run<T: Send + 'static>(
        &self,
        client: Option<&str>,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> AuthResult<T> {
        let waiting = telemetry::Queued::enter(telemetry::HASH_QUEUE_DEPTH);
        let slot = match Arc::clone(&self.slots).try_acquire_owned() {
            Ok(slot) => slot,
            Err(TryAcquireError::NoPermits) => self.wait_for_slot(client).await?,
            Err(TryAcquireError::Closed) => {
                return Err(AuthError::internal_msg("the hash slots are closed"));
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
            .map_err(|_| AuthError::internal_msg("the hash threads have stopped"))?;
        result
            .await
            .map_err(|_| AuthError::internal_msg("a password hash job panicked"))
    }
}

impl HashPool {
    /// Waits in line for a slot, if there is room in the line (and in
    /// `client`'s share of it), for at most `max_wait`.
    async fn wait_for_slot(&self, client: Option<&str>) -> AuthResult<OwnedSemaphorePermit> {
        // Held across the wait: a caller that stops waiting (its future
        // dropped) gives its place back all the same.
        let _place = self.take_place(client)?;
        let acquire = Arc::clone(&self.slots).acquire_owned();
        match tokio::time::timeout(self.queue.max_wait, acquire).await {
            Ok(slot) => slot.map_err(AuthError::internal),
            Err(_) => Err(shed("deadline")),
        }
    }

    /// A place in the line of waiting callers, or `ServerBusy` when it is
    /// full or `client` already holds its share of it.
    fn take_place(&self, client: Option<&str>) -> AuthResult<Place<'_>> {
        let mut line = self.line();
        if line.waiting >= self.queue.max_waiting {
            return Err(shed("queue_full"));
        }
        if let Some(client) = client {
            let held = line.by_client.get(client).copied().unwrap_or(0);
            if held >= self.queue.max_per_client {
                return Err(shed("client_share"));
            }
            line.by_client.insert(client.to_owned(), held + 1);
        }
        line.waiting += 1;
        Ok(Place {
            pool: self,
            client: client.map(str::to_owned),
        })
    }

    /// The line, even if a thread panicked while holding it (its counts
    /// are only ever changed whole, so they stay consistent).
    fn line(&self) -> std::sync::MutexGuard<'_, Line> {
        self.line.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Callers waiting for a slot now.
    #[cfg(test)]
    fn waiting(&self) -> usize {
        self.line().waiting
    }

    /// Callers from `client` waiting for a slot now.
    #[cfg(test)]
    fn waiting_from(&self, client: &str) -> usize {
        self.line().by_client.get(client).copied().unwrap_or(0)
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

/// One caller's place in the line (and in its client's share of it);
/// given back when dropped, also when the caller stops waiting.
struct Place<'a> {
    pool: &'a HashPool,
    client: Option<String>,
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        let mut line = self.pool.line();
        line.waiting = line.waiting.saturating_sub(1);
        if let Some(client) = self.client.take()
            && let Some(held) = line.by_client.get_mut(&client)
        {
            *held = held.saturating_sub(1);
            if *held == 0 {
                line.by_client.remove(&client);
            }
        }
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
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn queue(max_waiting: usize) -> HashQueue {
        HashQueue {
            max_waiting,
            max_per_client: max_waiting,
            max_wait: Duration::from_secs(3600),
        }
    }

    #[tokio::test]
    async fn concurrent_jobs_all_run_and_return_their_results() {
        let pool = Arc::new(HashPool::start(2, queue(8)).unwrap());
        let mut jobs = tokio::task::JoinSet::new();
        for i in 0..8 {
            let pool = Arc::clone(&pool);
            jobs.spawn(async move { pool.run(None, move || i * 2).await.unwrap() });
        }
        let mut results = jobs.join_all().await;
        results.sort_unstable();
        assert_eq!(results, (0..8).map(|i| i * 2).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_panicking_job_fails_alone_and_the_thread_lives_on() {
        let pool = HashPool::start(1, queue(1)).unwrap();
        let err = pool.run(None, || panic!("boom")).await.unwrap_err();
        assert!(matches!(err, AuthError::Internal(_)), "{err:?}");
        assert_eq!(
            pool.run(None, || 7).await.unwrap(),
            7,
            "the one thread survived"
        );
    }

    /// The workers run below the normal priority (niceness > 0), so
    /// requests that do not hash are scheduled first.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn workers_run_at_background_priority() {
        let pool = HashPool::start(1, queue(1)).unwrap();
        let nice = pool
            .run(None, || {
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
            pool.run(None, move || {
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
            tokio::spawn(async move { pool.run(None, || 2).await })
        };
        until(|| pool.waiting() == 1).await;
        // The line is full: the third is refused without running.
        let ran = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&ran);
        let err = pool
            .run(None, move || counted.fetch_add(1, Ordering::SeqCst))
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
        assert_eq!(
            pool.run(None, || 3).await.unwrap(),
            3,
            "a free pool takes work"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_caller_never_waits_for_its_own_finished_job() {
        // No line at all: had a finished job kept its slot until after its
        // caller heard back, the caller's next job would be shed.
        let pool = HashPool::start(1, queue(0)).unwrap();
        for i in 0..200 {
            assert_eq!(pool.run(None, move || i).await.unwrap(), i);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn with_no_line_a_busy_pool_refuses_everything() {
        let pool = Arc::new(HashPool::start(1, queue(0)).unwrap());
        let held = pool.hold_all().await.unwrap();
        for _ in 0..3 {
            let err = pool.run(None, || ()).await.unwrap_err();
            assert_eq!(err.code(), "server_busy");
        }
        drop(held);
        assert_eq!(pool.run(None, || 5).await.unwrap(), 5);
    }

    // Paused time: the deadline passes without really waiting.
    #[tokio::test(start_paused = true)]
    async fn a_caller_waiting_past_the_deadline_is_refused() {
        let pool = Arc::new(
            HashPool::start(
                1,
                HashQueue {
                    max_waiting: 4,
                    max_per_client: 4,
                    max_wait: Duration::from_millis(500),
                },
            )
            .unwrap(),
        );
        let held = pool.hold_all().await.unwrap();
        let err = pool.run(None, || ()).await.unwrap_err();
        assert_eq!(err.code(), "server_busy");
        assert_eq!(pool.waiting(), 0, "the place was given back");
        drop(held);
        assert_eq!(pool.run(None, || 1).await.unwrap(), 1);
    }

    /// A caller from `client` that runs `job` on `pool`, spawned.
    fn caller(
        pool: &Arc<HashPool>,
        client: &'static str,
        job: u32,
    ) -> tokio::task::JoinHandle<AuthResult<u32>> {
        let pool = Arc::clone(pool);
        tokio::spawn(async move { pool.run(Some(client), move || job).await })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_client_at_its_share_is_shed_while_another_still_gets_a_place() {
        let pool = Arc::new(
            HashPool::start(
                1,
                HashQueue {
                    max_waiting: 8,
                    max_per_client: 2,
                    max_wait: Duration::from_secs(3600),
                },
            )
            .unwrap(),
        );
        let held = pool.hold_all().await.unwrap();
        let flood = [caller(&pool, "flood", 1), caller(&pool, "flood", 2)];
        until(|| pool.waiting_from("flood") == 2).await;
        // The flooding client holds its share: its next caller is refused
        // at once, without running, though the line has room.
        let ran = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&ran);
        let err = pool
            .run(Some("flood"), move || {
                counted.fetch_add(1, Ordering::SeqCst)
            })
            .await
            .unwrap_err();
        assert!(
            matches!(err, AuthError::ServerBusy { retry_after } if retry_after == RETRY_AFTER),
            "{err:?}"
        );
        assert_eq!(ran.load(Ordering::SeqCst), 0, "a shed job never runs");
        assert_eq!(pool.waiting_from("flood"), 2, "the refusal took no place");
        // Another client still gets a place, and its hash once a thread is free.
        let other = caller(&pool, "other", 7);
        until(|| pool.waiting_from("other") == 1).await;
        // Callers that are not requests are held only to the whole line.
        let (a, b) = (Arc::clone(&pool), Arc::clone(&pool));
        let unkeyed = [
            tokio::spawn(async move { a.run(None, || 8).await }),
            tokio::spawn(async move { b.run(None, || 9).await }),
        ];
        until(|| pool.waiting() == 5).await;
        drop(held);
        assert_eq!(other.await.unwrap().unwrap(), 7);
        let mut done = Vec::new();
        for task in flood.into_iter().chain(unkeyed) {
            done.push(task.await.unwrap().unwrap());
        }
        done.sort_unstable();
        assert_eq!(done, [1, 2, 8, 9]);
        assert_eq!(pool.waiting(), 0);
        assert!(pool.line().by_client.is_empty(), "no key is left behind");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_client_s_places_come_back_when_its_jobs_end() {
        let pool = Arc::new(
            HashPool::start(
                1,
                HashQueue {
                    max_waiting: 8,
                    max_per_client: 1,
                    max_wait: Duration::from_secs(3600),
                },
            )
            .unwrap(),
        );
        for round in 0..3 {
            let held = pool.hold_all().await.unwrap();
            let waiting = caller(&pool, "a", round);
            until(|| pool.waiting_from("a") == 1).await;
            let err = pool.run(Some("a"), || 0).await.unwrap_err();
            assert_eq!(err.code(), "server_busy");
            drop(held);
            assert_eq!(waiting.await.unwrap().unwrap(), round);
            assert_eq!(pool.waiting_from("a"), 0, "round {round}: place given back");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cancelled_caller_gives_its_place_back() {
        let pool = Arc::new(
            HashPool::start(
                1,
                HashQueue {
                    max_waiting: 8,
                    max_per_client: 1,
                    max_wait: Duration::from_secs(3600),
                },
            )
            .unwrap(),
        );
        let held = pool.hold_all().await.unwrap();
        let waiting = caller(&pool, "a", 1);
        until(|| pool.waiting_from("a") == 1).await;
        // The caller stops waiting (its request was dropped): its future is
        // dropped mid-wait, and its place, in the line and in its share,
        // comes back.
        waiting.abort();
        assert!(waiting.await.unwrap_err().is_cancelled());
        assert_eq!(pool.waiting_from("a"), 0);
        assert_eq!(pool.waiting(), 0);
        let again = caller(&pool, "a", 2);
        until(|| pool.waiting_from("a") == 1).await;
        drop(held);
        assert_eq!(again.await.unwrap().unwrap(), 2, "the client waits again");
    }
}
