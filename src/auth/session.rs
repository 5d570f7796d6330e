//! Server-side sessions: a random id in a cookie, the facts on the server.
//!
//! After a login, the server makes up a session id, remembers "this id is
//! alice", and gives the id to the browser in a cookie. Each later request
//! brings the id back, and the server looks it up. The browser holds only a
//! meaningless number; what it means stays here, where the user cannot
//! change it. This is the pattern the OWASP Session Management Cheat Sheet
//! describes:
//!
//! - **ids** are 128 bits from the operating system's random source
//!   ([`super::random`]), written as 32 lowercase hex characters. Nobody can
//!   guess a live one: with a million sessions alive, a guess hits one with
//!   probability 2^-108.
//! - **expiry is decided by the server**, twice: a session unused for the
//!   *idle* timeout ends (a browser left open in a library), and every
//!   session ends at the *absolute* timeout after login, however busy (a
//!   stolen id is not good forever). A cookie's `Max-Age` only asks the
//!   browser to forget; a thief's copy of the cookie ignores it.
//! - **logout removes** the session, so the id is worthless afterwards even
//!   to someone who copied it.
//! - **memory is bounded**: at most [`SessionConfig::max_sessions`]; when
//!   full, expired sessions are dropped first, then the least recently used.
//!
//! Time is read from a [`Clock`], so tests move it by hand instead of
//! sleeping for half an hour.
//!
//! Left out on purpose: sessions that survive a restart (they are kept in
//! memory only: restarting logs everyone out), a limit of sessions per user,
//! and changing the id on privilege changes (the kit's only privilege change
//! is the login itself, which always creates a fresh id — the defence
//! against *session fixation*).

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::bounded::make_room;
use super::hex;
use super::random::random_hex;
use crate::clock::Clock;

/// Random bytes in a session id: 128 bits, as OWASP recommends at least
/// 64 bits of entropy (and 128 leaves no doubt).
pub const SESSION_ID_BYTES: usize = 16;

/// Default idle timeout: a session unused for this long ends.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Default absolute timeout: every session ends this long after login.
pub const DEFAULT_ABSOLUTE_TIMEOUT: Duration = Duration::from_secs(12 * 60 * 60);

/// Default cap on sessions kept at once (each is about a hundred bytes).
pub const DEFAULT_MAX_SESSIONS: usize = 100_000;

/// How long sessions live and how many are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionConfig {
    /// A session not looked up for this long is expired.
    pub idle_timeout: Duration,
    /// A session this old (since [`SessionStore::create`]) is expired, even
    /// if it is in use.
    pub absolute_timeout: Duration,
    /// Sessions kept at once; creating one more first drops expired ones,
    /// then the least recently used.
    pub max_sessions: usize,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            absolute_timeout: DEFAULT_ABSOLUTE_TIMEOUT,
            max_sessions: DEFAULT_MAX_SESSIONS,
        }
    }
}

/// A session id, as handed to the browser: 32 lowercase hex characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SessionId(String);

impl SessionId {
    /// The id's text, to put in a `Set-Cookie`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the server remembers about one session.
#[derive(Clone, Debug)]
struct Session {
    /// Who logged in.
    username: String,
    /// When: the start of the absolute timeout.
    created: Instant,
    /// The last successful lookup: the start of the idle timeout.
    last_used: Instant,
}

impl Session {
    /// True when either timeout has run out at `now`. Exactly at the
    /// timeout counts as expired.
    fn is_expired(&self, now: Instant, config: &SessionConfig) -> bool {
        // lab3: begin — expired when idle too long OR alive too long since login
        now.saturating_duration_since(self.last_used) >= config.idle_timeout
            || now.saturating_duration_since(self.created) >= config.absolute_timeout
        // lab3: end
    }
}

/// The sessions of one server; share it between connection threads with an
/// `Arc`. Every method takes `&self`.
#[derive(Debug)]
pub struct SessionStore {
    config: SessionConfig,
    clock: Clock,
    /// Session id (the hex text) → session. This is the store's only lock.
    /// It is held just for one map operation: the time is read and the
    /// random id made before it is taken, and nothing inside calls out to
    /// I/O or to another lock — so no thread ever waits for it for long,
    /// and with a single lock there is no order of locking to get wrong:
    /// it cannot deadlock.
    sessions: Mutex<HashMap<String, Session>>,
}

impl SessionStore {
    /// An empty store with the given timeouts and cap, reading time from
    /// `clock`.
    pub fn new(config: SessionConfig, clock: Clock) -> SessionStore {
        SessionStore {
            config,
            clock,
            sessions: Mutex::new(HashMap::new()),
        }
    }

    /// Starts a session for `username` and returns its new, random id.
    ///
    /// Fails only if the operating system's random source cannot be read;
    /// there is no fallback to a weaker id.
    pub fn create(&self, username: &str) -> io::Result<SessionId> {
        let id = random_hex(SESSION_ID_BYTES)?;
        let now = self.clock.now();
        let session = Session {
            username: username.to_string(),
            created: now,
            last_used: now,
        };
        let mut sessions = self.sessions();
        make_room(
            &mut sessions,
            self.config.max_sessions,
            |session| session.is_expired(now, &self.config),
            |session| session.last_used,
        );
        // Two equal 128-bit random ids are not a case to handle: among a
        // billion ids, the chance of any repeat is about 10^-21.
        sessions.insert(id.clone(), session);
        Ok(SessionId(id))
    }

    /// The username of the live session `id`, and the session's idle time
    /// starts again. `None` when there is no such session — an id of the
    /// wrong shape, a forged or removed one, or one that expired (which is
    /// removed now).
    pub fn lookup(&self, id: &str) -> Option<String> {
        // lab3: begin — find the session; remove it if expired, else refresh its last use
        if !hex::is_hex_of_len(id, SESSION_ID_BYTES) {
            return None; // not an id we could have made: no need to look
        }
        let now = self.clock.now();
        let mut sessions = self.sessions();
        let session = sessions.get_mut(id)?;
        if session.is_expired(now, &self.config) {
            sessions.remove(id);
            return None;
        }
        session.last_used = now;
        Some(session.username.clone())
        // lab3: end
    }

    /// Ends the session `id` (logout). Returns whether there was one.
    pub fn remove(&self, id: &str) -> bool {
        self.sessions().remove(id).is_some()
    }

    /// Drops every expired session now and returns how many. [`create`]
    /// does this by itself when the store is full; a server may also call
    /// it from time to time to free memory sooner.
    ///
    /// [`create`]: SessionStore::create
    pub fn purge_expired(&self) -> usize {
        let now = self.clock.now();
        let mut sessions = self.sessions();
        let before = sessions.len();
        sessions.retain(|_, session| !session.is_expired(now, &self.config));
        before - sessions.len()
    }

    /// Sessions held, counting expired ones not yet dropped.
    pub fn len(&self) -> usize {
        self.sessions().len()
    }

    /// True when no session is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn sessions(&self) -> MutexGuard<'_, HashMap<String, Session>> {
        // A poisoned lock means a thread panicked while holding it; every
        // change to the map is a single call, so the map is still whole.
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use std::collections::HashSet;
    use std::sync::Arc;
    use std::thread;

    const MINUTE: Duration = Duration::from_secs(60);

    fn store_with(config: SessionConfig) -> (SessionStore, Arc<ManualClock>) {
        let (clock, hand) = Clock::manual();
        (SessionStore::new(config, clock), hand)
    }

    fn store() -> (SessionStore, Arc<ManualClock>) {
        store_with(SessionConfig::default())
    }

    fn create(store: &SessionStore, username: &str) -> SessionId {
        store.create(username).expect("random source readable")
    }

    #[test]
    fn ids_are_distinct_32_hex_characters() {
        let (store, _) = store();
        let mut seen = HashSet::new();
        for _ in 0..500 {
            let id = create(&store, "alice");
            assert!(
                hex::is_hex_of_len(id.as_str(), SESSION_ID_BYTES),
                "session id {id:?}: expected 32 lowercase hex characters"
            );
            assert!(
                seen.insert(id.clone()),
                "session id {id} was handed out twice"
            );
        }
    }

    #[test]
    fn a_new_session_finds_its_user_until_removed() {
        let (store, _) = store();
        let id = create(&store, "alice");
        let other = create(&store, "bob");
        assert_eq!(store.lookup(id.as_str()).as_deref(), Some("alice"));
        assert_eq!(store.lookup(other.as_str()).as_deref(), Some("bob"));
        assert!(store.remove(id.as_str()), "removing a live session says so");
        assert_eq!(
            store.lookup(id.as_str()),
            None,
            "a removed (logged-out) session id {id} still found a user"
        );
        assert!(!store.remove(id.as_str()), "removing twice finds nothing");
        assert_eq!(
            store.lookup(other.as_str()).as_deref(),
            Some("bob"),
            "removing alice's session should not touch bob's"
        );
    }

    #[test]
    fn ids_of_the_wrong_shape_or_unknown_are_not_found() {
        let (store, _) = store();
        let id = create(&store, "alice");
        let text = id.as_str();
        let cases = [
            String::new(),
            "true".to_string(),
            text.to_uppercase(),
            text[..31].to_string(),
            format!("{text}0"),
            format!(" {text}"),
            format!("\"{text}\""),
            "0".repeat(32),
            text.replace(|c: char| c.is_ascii_digit(), "x"),
        ];
        for forged in &cases {
            assert_eq!(
                store.lookup(forged),
                None,
                "session id {forged:?} should not be found (the real one is {text})"
            );
        }
    }

    #[test]
    fn an_idle_session_expires_and_use_keeps_it_alive() {
        let (store, hand) = store();
        let id = create(&store, "alice");
        // (minutes to advance, found afterwards?)
        let steps = [(29, true), (29, true), (29, true), (30, false)];
        for (step, (minutes, alive)) in steps.into_iter().enumerate() {
            hand.advance(MINUTE * minutes);
            assert_eq!(
                store.lookup(id.as_str()).is_some(),
                alive,
                "step {step}: {minutes} min after the last use (idle timeout 30 min), \
                 expected the session to be {}",
                if alive { "alive" } else { "expired" }
            );
        }
        assert!(
            store.is_empty(),
            "an expired session should be dropped from memory when looked up"
        );
    }

    #[test]
    fn a_busy_session_still_ends_at_the_absolute_timeout() {
        let (store, hand) = store();
        let id = create(&store, "alice");
        let absolute = DEFAULT_ABSOLUTE_TIMEOUT.as_secs() / 60;
        for minute in (20..absolute).step_by(20) {
            hand.advance(MINUTE * 20);
            assert!(
                store.lookup(id.as_str()).is_some(),
                "used every 20 min, the session should be alive at minute {minute}"
            );
        }
        hand.advance(MINUTE * 20);
        assert_eq!(
            store.lookup(id.as_str()),
            None,
            "12 h after login the session should be over, however busy"
        );
    }

    #[test]
    fn when_full_expired_sessions_go_first_then_the_least_recently_used() {
        let config = SessionConfig {
            max_sessions: 3,
            ..SessionConfig::default()
        };
        let (store, hand) = store_with(config);
        let old: Vec<SessionId> = (0..3).map(|_| create(&store, "old")).collect();
        hand.advance(DEFAULT_IDLE_TIMEOUT);
        let first = create(&store, "first");
        assert_eq!(
            store.len(),
            1,
            "three expired sessions and a full store: creating one should drop them"
        );
        for id in &old {
            assert_eq!(store.lookup(id.as_str()), None, "expired {id} came back");
        }

        hand.advance(MINUTE);
        let second = create(&store, "second");
        hand.advance(MINUTE);
        let third = create(&store, "third");
        hand.advance(MINUTE);
        assert!(store.lookup(first.as_str()).is_some(), "first is alive");
        // Full of live sessions; "second" is now the least recently used.
        let fourth = create(&store, "fourth");
        assert_eq!(store.len(), 3, "the cap of 3 should hold");
        assert_eq!(
            store.lookup(second.as_str()),
            None,
            "the least recently used session should have made room"
        );
        for id in [&first, &third, &fourth] {
            assert!(store.lookup(id.as_str()).is_some(), "{id} should be kept");
        }
    }

    #[test]
    fn purge_drops_only_expired_sessions() {
        let (store, hand) = store();
        create(&store, "old");
        create(&store, "old");
        hand.advance(MINUTE * 20);
        let recent = create(&store, "recent");
        hand.advance(MINUTE * 10);
        assert_eq!(store.purge_expired(), 2, "two sessions were 30 min idle");
        assert_eq!(store.lookup(recent.as_str()).as_deref(), Some("recent"));
    }

    #[test]
    fn threads_share_one_store() {
        let (store, _) = store();
        let store = Arc::new(store);
        let workers: Vec<_> = (0..4)
            .map(|worker| {
                let store = Arc::clone(&store);
                thread::spawn(move || {
                    let name = format!("user{worker}");
                    for _ in 0..50 {
                        let id = create(&store, &name);
                        assert_eq!(store.lookup(id.as_str()), Some(name.clone()));
                    }
                })
            })
            .collect();
        for worker in workers {
            worker
                .join()
                .expect("worker thread finished without panicking");
        }
        assert_eq!(store.len(), 200, "4 threads × 50 sessions");
    }
}
