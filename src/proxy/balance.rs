//! Load balancing: which backend of a pool takes a request, and which are
//! skipped because they were found dead.
//!
//! A [`Pool`] is the list of `proxy_pass` backends of one virtual host and
//! its [`Policy`]. For each request it gives [`Pool::candidates`]: the
//! backends to try, best first. The forwarding code tries the first, and
//! moves to the next when one fails (`docs/lab6_proxy.md`, "Failure
//! handling").
//!
//! | policy | the first candidate | good for |
//! |---|---|---|
//! | `round-robin` | the next in turn | equal backends, short equal requests |
//! | `least-conn` | the one with fewest requests in flight | requests of very different lengths |
//! | `random` | any, uniformly | many proxies sharing a pool, no shared counter |
//! | `sticky` | the one named by the client's cookie | in-memory sessions |
//!
//! **Health is passive.** A backend that refuses a connection or times out
//! is marked dead until a retry time (by the [`Clock`](crate::clock::Clock)).
//! Until then it is not a candidate, so no request waits on it. After that
//! time it is a candidate again, and the next request sent to it is the
//! health check: if the connection is accepted, the backend is alive; if
//! not, it is marked dead again and that request moves on to the next
//! backend, so the client never sees the probe fail. When every backend of
//! a pool is marked dead, all are tried anyway — a pool with one backend
//! that restarts must not stay refused until the retry time.
//!
//! Left out on purpose: weights, slow start (easing a revived backend back
//! in), and active health checks by a background thread (an exercise).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use super::upstream::IdlePool;

/// The cookie through which `dist_policy sticky` remembers a client's
/// backend. Its value is the backend's [`Backend::sticky_id`].
pub const STICKY_COOKIE: &str = "weaprous_backend";

/// How a pool picks the backend for a request (`dist_policy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Each backend in turn: 1, 2, 3, 1, 2, 3… The default.
    RoundRobin,
    /// The backend with the fewest requests in flight; ties in turn.
    LeastConn,
    /// A backend chosen at random.
    Random,
    /// The backend named by the client's [`STICKY_COOKIE`]; a client without
    /// it (or whose backend is dead) gets the next in turn and the cookie.
    Sticky,
}

impl Policy {
    /// Every policy, in the order the docs list them.
    pub const ALL: [Policy; 4] = [
        Policy::RoundRobin,
        Policy::LeastConn,
        Policy::Random,
        Policy::Sticky,
    ];

    /// The name a configuration file uses.
    pub fn name(self) -> &'static str {
        match self {
            Policy::RoundRobin => "round-robin",
            Policy::LeastConn => "least-conn",
            Policy::Random => "random",
            Policy::Sticky => "sticky",
        }
    }

    /// The policy a configuration file names, if there is one by that name.
    pub fn from_name(name: &str) -> Option<Policy> {
        Policy::ALL.into_iter().find(|policy| policy.name() == name)
    }
}

/// One backend server and what the proxy knows about it.
#[derive(Debug)]
pub struct Backend {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Names it in the sticky cookie: a hash of the address, so the cookie
    /// neither shows the address nor changes when the pool is reordered.
    sticky_id: String,
    /// `Some(t)`: found dead, not to be tried before `t`. A plain value
    /// behind a mutex, held only to read or write it, so it cannot deadlock.
    dead_until: Mutex<Option<Instant>>,
    /// Requests being forwarded to it right now (for `least-conn`).
    in_flight: AtomicUsize,
    /// Kept-alive connections to it, waiting for the next request.
    pub(crate) idle: IdlePool,
}

impl Backend {
    fn new(addr: SocketAddr) -> Backend {
        Backend {
            addr,
            sticky_id: sticky_id(addr),
            dead_until: Mutex::new(None),
            in_flight: AtomicUsize::new(0),
            idle: IdlePool::default(),
        }
    }

    /// The value of [`STICKY_COOKIE`] that leads to this backend.
    pub fn sticky_id(&self) -> &str {
        &self.sticky_id
    }

    /// Whether it may be tried at `now`: never found dead, or its retry
    /// time has come.
    pub fn is_alive(&self, now: Instant) -> bool {
        self.dead_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_none_or(|until| now >= until)
    }

    /// Records a failure: skip it until `until`.
    pub fn mark_dead(&self, until: Instant) {
        *self
            .dead_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(until);
    }

    /// Records a success: it takes requests again.
    pub fn mark_alive(&self) {
        *self
            .dead_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// How many requests are being forwarded to it.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Counts a request as in flight until the returned guard is dropped.
    pub fn start_request(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight { backend: self }
    }
}

/// A request in flight to a backend; dropping it ends the count, even when
/// forwarding fails halfway.
#[derive(Debug)]
pub struct InFlight<'a> {
    backend: &'a Backend,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.backend.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The backends of one virtual host, and how to choose among them.
#[derive(Debug)]
pub struct Pool {
    backends: Vec<Backend>,
    policy: Policy,
    /// Whose turn it is, for round-robin (and for breaking ties).
    turn: AtomicUsize,
    /// State of the generator behind `random`.
    random: AtomicU64,
}

impl Pool {
    /// A pool over `addrs` (at least one) with `policy`.
    pub fn new(addrs: &[SocketAddr], policy: Policy) -> Pool {
        Pool {
            backends: addrs.iter().copied().map(Backend::new).collect(),
            policy,
            turn: AtomicUsize::new(0),
            // Seeded from the randomness the standard library draws from
            // the OS for its hash maps, so two pools do not walk in step.
            random: AtomicU64::new(RandomState::new().build_hasher().finish() | 1),
        }
    }

    /// The backends, in configuration order.
    pub fn backends(&self) -> &[Backend] {
        &self.backends
    }

    /// The policy.
    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// The backends to try for one request (indices into
    /// [`Pool::backends`]), best first: those alive at `now`, starting with
    /// the one the policy picks and going on in order; or, when none is
    /// alive, all of them. `sticky` is the client's [`STICKY_COOKIE`].
    pub fn candidates(&self, sticky: Option<&str>, now: Instant) -> Vec<usize> {
        // lab6: begin — keep the live backends, then rotate the policy's pick to the front
        let alive: Vec<usize> = (0..self.backends.len())
            .filter(|&index| self.backends[index].is_alive(now))
            .collect();
        let mut order = if alive.is_empty() {
            (0..self.backends.len()).collect()
        } else {
            alive
        };
        let first = match self.policy {
            Policy::RoundRobin => self.next_turn(order.len()),
            Policy::LeastConn => self.least_loaded(&order),
            Policy::Random => self.next_random(order.len()),
            Policy::Sticky => sticky
                .and_then(|id| {
                    order
                        .iter()
                        .position(|&index| self.backends[index].sticky_id == id)
                })
                .unwrap_or_else(|| self.next_turn(order.len())),
        };
        order.rotate_left(first);
        order
        // lab6: end
    }

    /// The next position in turn among `len`.
    fn next_turn(&self, len: usize) -> usize {
        self.turn.fetch_add(1, Ordering::SeqCst) % len
    }

    /// The position in `order` of the backend with the fewest requests in
    /// flight; among equals, the first one from the current turn on, so
    /// that idle backends share the work.
    fn least_loaded(&self, order: &[usize]) -> usize {
        let start = self.next_turn(order.len());
        (0..order.len())
            .map(|step| (start + step) % order.len())
            .min_by_key(|&position| self.backends[order[position]].in_flight())
            .unwrap_or(0)
    }

    /// A uniformly random position among `len` (xorshift64; modulo bias is
    /// negligible for pools of a few backends).
    fn next_random(&self, len: usize) -> usize {
        let step = |mut x: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let previous = self
            .random
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |x| Some(step(x)))
            .unwrap_or(1);
        (step(previous) % len as u64) as usize
    }
}

/// The sticky id of an address: FNV-1a (32 bits) of its text, in hex.
fn sticky_id(addr: SocketAddr) -> String {
    const FNV_OFFSET: u32 = 0x811c_9dc5;
    const FNV_PRIME: u32 = 0x0100_0193;
    let hash = addr.to_string().bytes().fold(FNV_OFFSET, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(FNV_PRIME)
    });
    format!("{hash:08x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn pool(count: u16, policy: Policy) -> Pool {
        let addrs: Vec<SocketAddr> = (1..=count)
            .map(|port| SocketAddr::from(([127, 0, 0, 1], port)))
            .collect();
        Pool::new(&addrs, policy)
    }

    #[test]
    fn round_robin_takes_turns_and_offers_the_rest_as_fallbacks() {
        let pool = pool(3, Policy::RoundRobin);
        let now = Instant::now();
        assert_eq!(pool.candidates(None, now), [0, 1, 2]);
        assert_eq!(pool.candidates(None, now), [1, 2, 0]);
        assert_eq!(pool.candidates(None, now), [2, 0, 1]);
        assert_eq!(pool.candidates(None, now), [0, 1, 2]);
    }

    #[test]
    fn dead_backends_are_skipped_until_their_retry_time() {
        let pool = pool(3, Policy::RoundRobin);
        let now = Instant::now();
        pool.backends()[1].mark_dead(now + Duration::from_secs(10));
        let firsts: Vec<usize> = (0..4).map(|_| pool.candidates(None, now)[0]).collect();
        assert_eq!(firsts, [0, 2, 0, 2], "the dead one is never first");
        assert_eq!(pool.candidates(None, now).len(), 2, "nor a fallback");
        let later = now + Duration::from_secs(10);
        assert_eq!(
            pool.candidates(None, later).len(),
            3,
            "back after its retry time"
        );
        for backend in pool.backends() {
            backend.mark_dead(later + Duration::from_secs(10));
        }
        assert_eq!(
            pool.candidates(None, later).len(),
            3,
            "when all are dead, all are tried"
        );
    }

    #[test]
    fn least_conn_prefers_the_idle_backend() {
        let pool = pool(3, Policy::LeastConn);
        let now = Instant::now();
        let _a = pool.backends()[0].start_request();
        let _c = pool.backends()[2].start_request();
        for _ in 0..5 {
            assert_eq!(pool.candidates(None, now)[0], 1);
        }
        drop(_a);
        let firsts: Vec<usize> = (0..4).map(|_| pool.candidates(None, now)[0]).collect();
        assert!(
            firsts.contains(&0) && firsts.contains(&1) && !firsts.contains(&2),
            "idle backends share the work: {firsts:?}"
        );
    }

    #[test]
    fn sticky_follows_the_cookie_and_falls_back_in_turn() {
        let pool = pool(3, Policy::Sticky);
        let now = Instant::now();
        let id = pool.backends()[2].sticky_id().to_string();
        assert_eq!(id.len(), 8);
        for _ in 0..3 {
            assert_eq!(pool.candidates(Some(&id), now)[0], 2);
        }
        assert_eq!(pool.candidates(Some("nonsense"), now)[0], 0);
        pool.backends()[2].mark_dead(now + Duration::from_secs(1));
        assert_ne!(
            pool.candidates(Some(&id), now)[0],
            2,
            "a dead backend is not stuck to"
        );
    }

    #[test]
    fn random_reaches_every_backend() {
        let pool = pool(3, Policy::Random);
        let now = Instant::now();
        let mut seen = [0usize; 3];
        for _ in 0..300 {
            seen[pool.candidates(None, now)[0]] += 1;
        }
        assert!(seen.iter().all(|&count| count > 50), "{seen:?}");
    }

    #[test]
    fn policies_round_trip_through_their_names() {
        for policy in Policy::ALL {
            assert_eq!(Policy::from_name(policy.name()), Some(policy));
        }
        assert_eq!(Policy::from_name("Round-Robin"), None);
    }
}
