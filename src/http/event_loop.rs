//! Where lab 2's idle connections wait: an event loop per core, instead
//! of a thread per connection blocked in `read`.
//!
//! A thread per connection ([`crate::net`]) is simple and correct, but a
//! thread blocked in `read` is put to sleep and woken up for each request:
//! on a busy server that is one context switch per request, as much work
//! again as the request itself (`docs/benchmarks.md`, "Where the time
//! goes"). So with [`Config::event_loop`](super::Config::event_loop) a
//! connection with nothing to read is *parked* in a [`Poller`] (`epoll`),
//! and a few loop threads — one per core — ask the kernel which parked
//! connections have input. Under load there always is one, so a loop
//! thread goes from request to request without ever sleeping: the way
//! nginx works.
//!
//! The loop only does what never waits (`Conn::answer_arrived`): read
//! what has arrived, answer every request that is complete in it, write
//! as much of the answer as the client takes now. Anything that would wait
//! — half a request (a slow client, a slowloris), a body still coming,
//! `100 Continue`, a file or a stream to send, a client slow to take its
//! answer, a bad request to answer and linger over — is handed to a
//! thread, which serves the connection with the same blocking code as
//! ever (`Conn::run`) until it is idle again and parks. So every
//! deadline and limit of lab 2 holds as before, in one place.
//!
//! ```text
//!   accept ─► thread ─► idle? ─► park ─► loop: ready? ─► answer_arrived ─┐
//!               ▲                 ▲                                     │
//!               │                 └──────── all answered ◄──────────────┤
//!               └───────────── needs waiting: hand over ◄───────────────┘
//! ```
//!
//! A parked connection holds no thread and no buffer; the loop lends it
//! its own while it serves it. A parked connection idle longer than the
//! idle timeout is closed by the loop's sweep.

use std::collections::HashMap;
use std::io;
use std::num::NonZero;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::thread;
use std::time::{Duration, Instant};

use super::conn::{App, Arrived, Buffers, Config, Conn, Idle, Unsent};
use super::router::Handler;
use crate::net::DEFAULT_STACK_SIZE;
use crate::poll::{Poller, Ready};
use crate::workers::Workers;

/// Most ready connections taken from the kernel per wait; more wait for
/// the next call, which does not sleep while some are ready.
const READY_PER_WAIT: usize = 64;

/// Most loop threads, whatever the number of cores.
const MAX_LOOPS: usize = 16;

/// Longest time between two sweeps for idle connections (shorter when the
/// idle timeout is short), and between two checks that the server still
/// runs.
const MAX_SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// The event loops of one server, and the threads they hand connections to.
pub(in crate::http) struct Loops {
    each: Vec<Arc<Loop>>,
    threads: Workers,
}

/// One loop: its set of parked connections, and those just parked.
struct Loop {
    poller: Poller,
    /// Connections parked by threads and not yet in the loop's own table.
    /// A connection is added to the poller and put here under this lock,
    /// so the loop never hears of a connection it cannot find.
    arrivals: Mutex<Vec<Idle>>,
}

impl Loops {
    /// One loop per core (up to [`MAX_LOOPS`]); their threads start with
    /// [`start`].
    pub(in crate::http) fn new() -> io::Result<Loops> {
        let count = thread::available_parallelism()
            .map_or(1, NonZero::get)
            .min(MAX_LOOPS);
        let each = (0..count)
            .map(|_| {
                Ok(Arc::new(Loop {
                    poller: Poller::new()?,
                    arrivals: Mutex::new(Vec::new()),
                }))
            })
            .collect::<io::Result<_>>()?;
        Ok(Loops {
            each,
            threads: Workers::new(DEFAULT_STACK_SIZE),
        })
    }

    /// Parks an idle connection in one of the loops (always the same one
    /// for a connection).
    pub(in crate::http) fn park(&self, idle: Idle) {
        let index = (idle.connection.id % self.each.len() as u64) as usize;
        let chosen = &self.each[index];
        let mut arrivals = chosen.arrivals();
        match chosen
            .poller
            .add(idle.connection.stream(), idle.connection.id)
        {
            Ok(()) => arrivals.push(idle),
            Err(error) => eprintln!("{}: cannot park: {error}", idle.connection.peer),
        }
    }

    /// Hands a connection the loop cannot finish to a thread of its own.
    fn hand_over<H: Handler>(
        &self,
        app: Arc<App<H>>,
        idle: Idle,
        buffers: Buffers,
        unsent: Option<Unsent>,
    ) {
        let peer = idle.connection.peer;
        let started = self.threads.run(move || {
            let conn = Conn::resume(idle, &app.config, buffers);
            app.serve_on_thread(conn, unsent);
        });
        if let Err(error) = started {
            // The job, with the connection, was dropped: closed.
            eprintln!("{peer}: cannot start a thread: {error}");
        }
    }
}

impl Loop {
    fn arrivals(&self) -> MutexGuard<'_, Vec<Idle>> {
        // Pushing or draining a `Vec` leaves it whole even if a thread
        // panicked elsewhere while holding the lock.
        self.arrivals.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Starts the threads of `app`'s loops. Each ends once the server is gone
/// (when `app` is dropped), closing the connections parked in it.
pub(in crate::http) fn start<H: Handler>(app: &Arc<App<H>>) -> io::Result<()> {
    let Some(loops) = &app.loops else {
        return Ok(());
    };
    for (index, this) in loops.each.iter().enumerate() {
        let app = Arc::downgrade(app);
        let this = Arc::clone(this);
        thread::Builder::new()
            .name(format!("event-loop-{index}"))
            .stack_size(DEFAULT_STACK_SIZE)
            .spawn(move || run(app, &this))?;
    }
    Ok(())
}

/// One loop thread: wait for ready connections, answer them, sweep.
fn run<H: Handler>(app: Weak<App<H>>, this: &Loop) {
    let mut parked: HashMap<u64, Idle> = HashMap::new();
    let mut ready = Ready::with_capacity(READY_PER_WAIT);
    // Lent to each connection being served; gone with one handed over.
    let mut spare: Option<Buffers> = None;
    let mut next_sweep = Instant::now();
    loop {
        let interval = match app.upgrade() {
            Some(app) => sweep_interval(app.config.idle_timeout),
            None => return,
        };
        if let Err(error) = this.poller.wait(&mut ready, interval) {
            // Never expected (the set and the array are ours and valid);
            // ending the loop would strand its connections, so wait and retry.
            eprintln!("event loop: epoll_wait failed: {error}");
            thread::sleep(interval);
            continue;
        }
        // The server is gone: returning drops (closes) every parked connection.
        let Some(app) = app.upgrade() else {
            return;
        };
        parked.extend(
            this.arrivals()
                .drain(..)
                .map(|idle| (idle.connection.id, idle)),
        );
        for token in ready.tokens() {
            if let Some(idle) = parked.remove(&token) {
                let buffers = spare.take().unwrap_or_else(Buffers::new);
                spare = serve_ready(&app, this, &mut parked, idle, buffers);
            }
        }
        if ready.tokens().next().is_some() {
            // Under load the loop never sleeps in `wait`, so without this it
            // would keep its core for a whole time slice (milliseconds)
            // while a client on the same core waits to read its answers.
            // Stepping aside after each batch cut the p99 latency `wrk`
            // sees from about 8 ms to about 1 ms (`docs/benchmarks.md`,
            // "The event loop's time slice"); with no one else ready to
            // run, it costs one quick system call.
            thread::yield_now();
        }
        if Instant::now() >= next_sweep {
            close_expired(&app, this, &mut parked);
            next_sweep = Instant::now() + interval;
        }
    }
}

/// How often to look for connections idle too long: often enough that
/// one is closed at most a quarter of the idle timeout late.
fn sweep_interval(idle_timeout: Duration) -> Duration {
    (idle_timeout / 4).clamp(Duration::from_millis(1), MAX_SWEEP_INTERVAL)
}

/// Serves a connection the poller found ready; gives back the buffers
/// unless they went with the connection to a thread.
fn serve_ready<H: Handler>(
    app: &Arc<App<H>>,
    this: &Loop,
    parked: &mut HashMap<u64, Idle>,
    idle: Idle,
    buffers: Buffers,
) -> Option<Buffers> {
    let config = &app.config;
    if expired(&idle, config, config.clock.now()) {
        // Input after the idle timeout (by the clock): too late, as for a
        // thread waiting in `read` (`Conn::read_head`).
        let _ = this.poller.remove(idle.connection.stream());
        return Some(buffers);
    }
    let waiting_since = idle.since;
    let mut conn = Conn::resume(idle, config, buffers);
    // The handler's panics are caught already (a 500); this catches the
    // rest, such as a `todo!()` left in a handout, so that one connection
    // cannot take the loop and every other connection down with it.
    let arrived = panic::catch_unwind(AssertUnwindSafe(|| conn.answer_arrived(&app.handler)));
    let Ok(arrived) = arrived else {
        let _ = this.poller.remove(conn.connection().stream());
        return None;
    };
    let (mut idle, buffers) = conn.into_idle();
    match arrived {
        Arrived::Idle => {
            parked.insert(idle.connection.id, idle);
        }
        Arrived::Nothing => {
            idle.since = waiting_since;
            parked.insert(idle.connection.id, idle);
        }
        Arrived::Closed => {
            let _ = this.poller.remove(idle.connection.stream());
        }
        Arrived::NeedsThread(unsent) => {
            let _ = this.poller.remove(idle.connection.stream());
            if let Some(loops) = &app.loops {
                loops.hand_over(Arc::clone(app), idle, buffers, unsent);
            }
            return None;
        }
    }
    // A connection that closed may have left input unread (pipelined after
    // a `Connection: close`): it must not become the next one's request.
    Some(buffers.emptied())
}

/// Whether a parked connection has waited longer than the idle timeout
/// (never, for a timeout too large to add to a time).
fn expired(idle: &Idle, config: &Config, now: Instant) -> bool {
    idle.since
        .checked_add(config.idle_timeout)
        .is_some_and(|deadline| now >= deadline)
}

/// Closes the parked connections idle for longer than the idle timeout.
fn close_expired<H>(app: &App<H>, this: &Loop, parked: &mut HashMap<u64, Idle>) {
    let now = app.config.clock.now();
    parked.retain(|_, idle| {
        let expired = expired(idle, &app.config, now);
        if expired {
            let _ = this.poller.remove(idle.connection.stream());
        }
        !expired
    });
}
