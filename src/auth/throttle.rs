//! Login throttling: a lockout after repeated failures, per user and address.
//!
//! A slow password hash makes each guess cost the attacker time, but an
//! online attacker — one who just keeps posting to `/login` — spends the
//! server's time, not their own. So after [`ThrottleConfig::max_failures`]
//! failed logins for one username from one client address within
//! [`ThrottleConfig::window`], further attempts for that pair are refused
//! for [`ThrottleConfig::lockout`], without even checking the password. The
//! refusal says how long to wait, for the `Retry-After` header of a
//! `429 Too Many Requests` (RFC 6585 §4; RFC 9110 §10.2.3).
//!
//! The pair is the key on purpose: a lockout per username alone would let
//! anyone lock a real user out by failing on their name, and per address
//! alone would lock out everyone behind one NAT. Other users, and the same
//! user from another address, carry on. A successful login clears the pair.
//!
//! Memory stays bounded: at most [`ThrottleConfig::max_entries`] pairs, and
//! a pair whose window and lockout are both over is dropped when room is
//! needed ([`super::bounded`]). The username part of the key is its SHA-256
//! digest, so a client that sends megabyte-long usernames still costs
//! 32 bytes per entry.
//!
//! Left out on purpose: throttling by address alone (one address guessing
//! many usernames, "password spraying"), growing lockouts, and grouping
//! IPv6 addresses by prefix (one host usually has a whole /64, so a
//! determined attacker can change address at will). `docs/lab3_auth.md`
//! has these as exercises.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::bounded::make_room;
use super::sha256::{DIGEST_LEN, sha256};
use crate::clock::Clock;

/// Default failures allowed within the window; the last of them locks.
pub const DEFAULT_MAX_FAILURES: u32 = 5;

/// Default window in which failures are counted, from the first one.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(60);

/// Default time a locked pair is refused.
pub const DEFAULT_LOCKOUT: Duration = Duration::from_secs(60);

/// Default cap on (username, address) pairs tracked at once.
pub const DEFAULT_MAX_ENTRIES: usize = 100_000;

/// The throttle's limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThrottleConfig {
    /// Failures within [`window`](ThrottleConfig::window) that lock the pair.
    pub max_failures: u32,
    /// How long failures are counted, from the first failure of a run.
    pub window: Duration,
    /// How long a locked pair is refused.
    pub lockout: Duration,
    /// Pairs tracked at once.
    pub max_entries: usize,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            max_failures: DEFAULT_MAX_FAILURES,
            window: DEFAULT_WINDOW,
            lockout: DEFAULT_LOCKOUT,
            max_entries: DEFAULT_MAX_ENTRIES,
        }
    }
}

/// A throttle key: the username's SHA-256 digest and the client's address.
type PairKey = ([u8; DIGEST_LEN], IpAddr);

/// Failures of one (username, address) pair.
#[derive(Clone, Copy, Debug)]
struct Failures {
    /// Failures since `window_start`.
    count: u32,
    /// When the first failure of this run happened.
    window_start: Instant,
    /// Refused until then, once `count` reached the limit.
    locked_until: Option<Instant>,
}

impl Failures {
    /// True when this record no longer matters at `now`: its window is
    /// over and it is not locked.
    fn is_stale(&self, now: Instant, config: &ThrottleConfig) -> bool {
        let window_over = now.saturating_duration_since(self.window_start) >= config.window;
        window_over && !self.is_locked(now)
    }

    /// True while the pair is refused.
    fn is_locked(&self, now: Instant) -> bool {
        self.locked_until.is_some_and(|until| until > now)
    }
}

/// Failed logins by (username, client address); share it between connection
/// threads with an `Arc`. Every method takes `&self`.
#[derive(Debug)]
pub struct Throttle {
    config: ThrottleConfig,
    clock: Clock,
    /// Pair → its failures. The throttle's only lock, held for one map
    /// operation at a time: the time is read and the username hashed before
    /// it is taken, and nothing inside does I/O or takes another lock, so it
    /// cannot deadlock.
    pairs: Mutex<HashMap<PairKey, Failures>>,
}

impl Throttle {
    /// A throttle with the given limits, reading time from `clock`.
    pub fn new(config: ThrottleConfig, clock: Clock) -> Throttle {
        Throttle {
            config,
            clock,
            pairs: Mutex::new(HashMap::new()),
        }
    }

    /// `Ok` when a login for `username` from `ip` may be tried now;
    /// otherwise `Err` with how long until it may (see
    /// [`retry_after_seconds`] for the header).
    pub fn check(&self, username: &str, ip: IpAddr) -> Result<(), Duration> {
        let key = pair_key(username, ip);
        let now = self.clock.now();
        match self
            .pairs()
            .get(&key)
            .and_then(|failures| failures.locked_until)
        {
            Some(until) if until > now => Err(until - now),
            _ => Ok(()),
        }
    }

    /// Counts a failed login for `username` from `ip`; the failure that
    /// reaches [`ThrottleConfig::max_failures`] within the window locks the
    /// pair.
    pub fn record_failure(&self, username: &str, ip: IpAddr) {
        let key = pair_key(username, ip);
        let now = self.clock.now();
        let config = &self.config;
        let mut pairs = self.pairs();
        if !pairs.contains_key(&key) {
            make_room(
                &mut pairs,
                config.max_entries,
                |failures| failures.is_stale(now, config),
                // When full of live records, drop the oldest that is not a
                // lockout: filling the map must not be a way to unlock.
                |failures| (failures.is_locked(now), failures.window_start),
            );
        }
        let fresh = Failures {
            count: 0,
            window_start: now,
            locked_until: None,
        };
        let failures = pairs.entry(key).or_insert(fresh);
        if failures.is_locked(now) {
            return; // already locked: the lockout is not extended
        }
        if failures.is_stale(now, config) || failures.locked_until.is_some() {
            *failures = fresh; // a new run of failures, counted from now
        }
        failures.count += 1;
        if failures.count >= config.max_failures {
            failures.locked_until = Some(now + config.lockout);
        }
    }

    /// Forgets the failures of `username` from `ip` after a successful login.
    pub fn record_success(&self, username: &str, ip: IpAddr) {
        self.pairs().remove(&pair_key(username, ip));
    }

    /// Pairs tracked, counting stale ones not yet dropped.
    pub fn len(&self) -> usize {
        self.pairs().len()
    }

    /// True when no pair is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn pairs(&self) -> MutexGuard<'_, HashMap<PairKey, Failures>> {
        // Poisoned only by a panic between two whole-entry changes: the map
        // is still consistent.
        self.pairs.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A wait as the whole seconds of a `Retry-After` header (RFC 9110 §10.2.3
/// allows only an integer), rounded up so that a client that waits exactly
/// that long is let in.
pub fn retry_after_seconds(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

fn pair_key(username: &str, ip: IpAddr) -> PairKey {
    (sha256(username.as_bytes()), ip)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use std::net::Ipv4Addr;
    use std::sync::Arc;

    const HOME: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    const CAFE: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));
    const SECOND: Duration = Duration::from_secs(1);

    fn throttle_with(config: ThrottleConfig) -> (Throttle, Arc<ManualClock>) {
        let (clock, hand) = Clock::manual();
        (Throttle::new(config, clock), hand)
    }

    fn throttle() -> (Throttle, Arc<ManualClock>) {
        throttle_with(ThrottleConfig::default())
    }

    /// A throttle with the default limits that tracks at most 3 pairs.
    fn throttle_for_three() -> (Throttle, Arc<ManualClock>) {
        throttle_with(ThrottleConfig {
            max_entries: 3,
            ..ThrottleConfig::default()
        })
    }

    fn fail(throttle: &Throttle, username: &str, ip: IpAddr, times: u32) {
        for _ in 0..times {
            throttle.record_failure(username, ip);
        }
    }

    #[test]
    fn five_failures_lock_the_pair_for_the_lockout() {
        let (throttle, hand) = throttle();
        fail(&throttle, "alice", HOME, 4);
        assert_eq!(
            throttle.check("alice", HOME),
            Ok(()),
            "4 failures are under the limit of 5"
        );
        throttle.record_failure("alice", HOME);
        assert_eq!(
            throttle.check("alice", HOME),
            Err(DEFAULT_LOCKOUT),
            "the 5th failure should lock alice@HOME for the whole lockout"
        );
        hand.advance(SECOND * 45);
        assert_eq!(
            throttle.check("alice", HOME),
            Err(SECOND * 15),
            "45 s into a 60 s lockout, 15 s should remain"
        );
        hand.advance(SECOND * 15);
        assert_eq!(
            throttle.check("alice", HOME),
            Ok(()),
            "the lockout is over after 60 s"
        );
    }

    #[test]
    fn other_users_and_other_addresses_are_not_locked() {
        let (throttle, _) = throttle();
        fail(&throttle, "alice", HOME, 5);
        let cases = [("alice", CAFE), ("bob", HOME), ("Alice", HOME)];
        for (username, ip) in cases {
            assert_eq!(
                throttle.check(username, ip),
                Ok(()),
                "alice@{HOME} is locked; {username}@{ip} should not be"
            );
        }
        assert!(
            throttle.check("alice", HOME).is_err(),
            "alice@HOME is locked"
        );
    }

    #[test]
    fn a_success_clears_the_count() {
        let (throttle, _) = throttle();
        fail(&throttle, "alice", HOME, 4);
        throttle.record_success("alice", HOME);
        fail(&throttle, "alice", HOME, 4);
        assert_eq!(
            throttle.check("alice", HOME),
            Ok(()),
            "4 failures, a success, 4 failures: the success should have reset the count"
        );
        assert_eq!(throttle.len(), 1, "one pair tracked");
    }

    #[test]
    fn failures_spread_wider_than_the_window_do_not_add_up() {
        let (throttle, hand) = throttle();
        fail(&throttle, "alice", HOME, 4);
        hand.advance(DEFAULT_WINDOW);
        fail(&throttle, "alice", HOME, 4);
        assert_eq!(
            throttle.check("alice", HOME),
            Ok(()),
            "4 failures, 60 s, 4 failures: a new window, so not locked"
        );
        throttle.record_failure("alice", HOME);
        assert!(
            throttle.check("alice", HOME).is_err(),
            "the 5th failure of the new window should lock"
        );
    }

    #[test]
    fn after_a_lockout_the_count_starts_again() {
        let (throttle, hand) = throttle();
        fail(&throttle, "alice", HOME, 5);
        // A failure reported while locked does not extend the lockout.
        hand.advance(SECOND * 30);
        throttle.record_failure("alice", HOME);
        assert_eq!(throttle.check("alice", HOME), Err(SECOND * 30));
        hand.advance(SECOND * 30);
        fail(&throttle, "alice", HOME, 4);
        assert_eq!(
            throttle.check("alice", HOME),
            Ok(()),
            "after the lockout, 4 new failures are under the limit again"
        );
    }

    #[test]
    fn memory_is_bounded_and_stale_pairs_go_first() {
        let (throttle, hand) = throttle_for_three();
        fail(&throttle, "stale1", HOME, 1);
        fail(&throttle, "stale2", HOME, 1);
        hand.advance(DEFAULT_WINDOW);
        fail(&throttle, "recent", HOME, 1);
        fail(&throttle, "new", HOME, 1);
        assert_eq!(
            throttle.len(),
            2,
            "full with two stale pairs: they should be dropped for the new one"
        );
    }

    #[test]
    fn making_room_never_unlocks_a_locked_pair() {
        let (throttle, hand) = throttle_for_three();
        fail(&throttle, "locked", HOME, 5);
        // The attacker fills the map with fresh pairs, each newer than the lock.
        for name in ["a", "b", "c", "d", "e"] {
            hand.advance(SECOND);
            fail(&throttle, name, HOME, 1);
            assert!(throttle.len() <= 3, "cap of 3 exceeded: {}", throttle.len());
            assert!(
                throttle.check("locked", HOME).is_err(),
                "adding pair {name:?} to a full map unlocked the locked pair"
            );
        }
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        let cases = [
            (Duration::ZERO, 0),
            (Duration::from_millis(1), 1),
            (SECOND, 1),
            (Duration::from_millis(59_001), 60),
            (SECOND * 60, 60),
        ];
        for (wait, expected) in cases {
            assert_eq!(
                retry_after_seconds(wait),
                expected,
                "a wait of {wait:?} should be Retry-After: {expected}"
            );
        }
    }
}
