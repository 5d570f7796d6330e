//! Threads that are kept after their job, to run the next one.
//!
//! The TCP server ([`crate::net`]) gives every connection a thread of its
//! own. Starting a thread and ending it costs about twenty system calls
//! (`clone3`, mapping the stack and its guard page, naming it, signal
//! masks, `munmap`, `exit`...), which is little next to a connection that
//! lives for minutes — but a large part of the work when every connection
//! carries a single request, as with HTTP's `Connection: close`
//! (`docs/benchmarks.md`, "Connection: close").
//!
//! So a thread whose job is done does not end at once: it waits a while
//! ([`IDLE_WORKER_TIMEOUT`]) for another job, and [`Workers::run`] hands a
//! new job to such an idle thread when there is one, starting a thread only
//! when there is none. It is still one thread per connection at any
//! moment; threads are only recycled.
//!
//! Left out on purpose: a fixed-size pool with a queue of waiting jobs. A
//! job here never waits for a thread to become free — a connection would
//! then wait behind slow ones, the failure lab 1 shows — and the number of
//! threads is bounded by the server's connection cap, not by this module.

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Duration;

/// How long a thread waits for a new job before it ends.
pub const IDLE_WORKER_TIMEOUT: Duration = Duration::from_secs(10);

/// Most threads kept waiting at once; one more that finishes its job ends.
/// After a burst of a thousand connections, a thousand idle threads would
/// only hold memory; a few dozen cover a steady stream of short ones.
pub const MAX_IDLE_WORKERS: usize = 64;

/// A job: everything one connection's thread does.
type Job = Box<dyn FnOnce() + Send>;

/// Runs jobs on threads of their own, reusing threads that finished one.
///
/// Cloning gives another handle to the same threads.
#[derive(Clone, Debug)]
pub struct Workers {
    shared: Arc<Shared>,
}

/// What the handles and the threads share.
#[derive(Debug)]
struct Shared {
    /// Idle threads and the jobs handed to them. Held only to look at or
    /// change these counters and the queue, never while a job runs, so it
    /// cannot deadlock.
    state: Mutex<State>,
    /// Signalled when a job is queued, or when the workers must stop.
    wake: Condvar,
    /// Stack size of each new thread.
    stack_size: usize,
}

struct State {
    /// Threads waiting for a job.
    idle: usize,
    /// Jobs handed over and not yet taken. There are never more of them
    /// than idle threads, so a job never waits for a thread to finish.
    jobs: VecDeque<Job>,
    /// Set by [`Workers::stop`]: idle threads end, busy ones end after their job.
    stopping: bool,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("idle", &self.idle)
            .field("jobs", &self.jobs.len())
            .field("stopping", &self.stopping)
            .finish()
    }
}

impl Workers {
    /// No threads yet; each one started later gets a stack of `stack_size` bytes.
    pub fn new(stack_size: usize) -> Workers {
        Workers {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    idle: 0,
                    jobs: VecDeque::new(),
                    stopping: false,
                }),
                wake: Condvar::new(),
                stack_size,
            }),
        }
    }

    /// Runs `job` on an idle thread, or on a new one when none is idle. If a
    /// thread cannot be started, the job is dropped (never run) and the
    /// error returned.
    pub fn run(&self, job: impl FnOnce() + Send + 'static) -> io::Result<()> {
        let job: Job = Box::new(job);
        let mut state = self.shared.state();
        if state.idle > state.jobs.len() {
            state.jobs.push_back(job);
            // Unlock first, so that the thread woken does not wake only to
            // wait for the lock.
            drop(state);
            self.shared.wake.notify_one();
            return Ok(());
        }
        drop(state);
        let shared = Arc::clone(&self.shared);
        thread::Builder::new()
            .name("worker".to_string())
            .stack_size(self.shared.stack_size)
            .spawn(move || {
                job();
                shared.keep_working();
            })
            .map(drop)
    }

    /// How many threads are waiting for a job right now.
    pub fn idle(&self) -> usize {
        self.shared.state().idle
    }

    /// Ends the idle threads, and makes busy ones end after their job.
    pub fn stop(&self) {
        self.shared.state().stopping = true;
        self.shared.wake.notify_all();
    }
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // A poisoned lock means a thread panicked while holding it, which no
        // code here does (jobs run without it); the state is still whole.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A thread's life after its first job: wait for the next one, run it,
    /// and so on, until none comes within [`IDLE_WORKER_TIMEOUT`].
    fn keep_working(&self) {
        while let Some(job) = self.next_job() {
            job();
        }
    }

    /// Waits as an idle thread for a job; `None` means end the thread.
    fn next_job(&self) -> Option<Job> {
        let mut state = self.state();
        if state.stopping || state.idle >= MAX_IDLE_WORKERS {
            return None;
        }
        state.idle += 1;
        loop {
            // A job queued while we waited is ours even if the wait timed
            // out at the same moment: `run` counted on an idle thread.
            if let Some(job) = state.jobs.pop_front() {
                state.idle -= 1;
                return Some(job);
            }
            let (next, wait) = self
                .wake
                .wait_timeout(state, IDLE_WORKER_TIMEOUT)
                .unwrap_or_else(PoisonError::into_inner);
            state = next;
            if state.jobs.is_empty() && (wait.timed_out() || state.stopping) {
                state.idle -= 1;
                return None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    const STEP: Duration = Duration::from_secs(10);

    /// Waits (bounded) until `count` threads are idle.
    fn wait_for_idle(workers: &Workers, count: usize) {
        let deadline = std::time::Instant::now() + STEP;
        while workers.idle() != count {
            assert!(
                std::time::Instant::now() < deadline,
                "expected {count} idle threads, have {}",
                workers.idle()
            );
            thread::yield_now();
        }
    }

    #[test]
    fn a_finished_thread_runs_the_next_job() {
        let workers = Workers::new(64 * 1024);
        let (sender, receiver) = mpsc::channel();
        let first = sender.clone();
        workers
            .run(move || first.send(thread::current().id()).expect("receiver alive"))
            .expect("start a thread");
        let first_thread = receiver.recv_timeout(STEP).expect("first job ran");
        wait_for_idle(&workers, 1);
        workers
            .run(move || sender.send(thread::current().id()).expect("receiver alive"))
            .expect("hand over");
        let second_thread = receiver.recv_timeout(STEP).expect("second job ran");
        assert_eq!(first_thread, second_thread, "the idle thread took the job");
        workers.stop();
        wait_for_idle(&workers, 0);
    }

    #[test]
    fn jobs_never_wait_for_a_busy_thread() {
        let workers = Workers::new(64 * 1024);
        let (release, blocked) = mpsc::channel::<()>();
        workers
            .run(move || {
                let _ = blocked.recv_timeout(STEP);
            })
            .expect("start a thread");
        // The first job holds its thread; the second must still run now.
        let (sender, receiver) = mpsc::channel();
        workers
            .run(move || sender.send(()).expect("receiver alive"))
            .expect("start a second thread");
        receiver
            .recv_timeout(STEP)
            .expect("the second job ran while the first was busy");
        release.send(()).expect("first job waiting");
        workers.stop();
    }
}
