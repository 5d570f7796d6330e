//! A clock that tests can replace.
//!
//! Every decision in the kit that depends on time — a request head that took
//! too long, an idle keep-alive connection, the `Date` header, a session that
//! expired, a peer that went quiet — reads the time through a [`Clock`]
//! instead of calling `Instant::now()` directly. A running server uses
//! [`Clock::system`]. A test uses [`Clock::manual`] and moves time forward
//! with [`ManualClock::advance`], so it never sleeps to wait for a timeout
//! and never depends on how fast the machine is.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

/// The source of "now" for everything time-dependent in the kit.
///
/// Cheap to clone: clones of a manual clock share one time, so advancing it
/// in a test is seen by the server that holds a clone.
#[derive(Clone, Debug, Default)]
pub enum Clock {
    /// The operating system's clocks.
    #[default]
    System,
    /// A clock that only moves when a test says so.
    Manual(Arc<ManualClock>),
}

impl Clock {
    /// The real clock, for running servers.
    pub fn system() -> Clock {
        Clock::System
    }

    /// A clock stopped at the moment of the call, and the handle that moves it.
    pub fn manual() -> (Clock, Arc<ManualClock>) {
        let manual = Arc::new(ManualClock {
            start_instant: Instant::now(),
            start_wall: SystemTime::now(),
            elapsed: Mutex::new(Duration::ZERO),
        });
        (Clock::Manual(Arc::clone(&manual)), manual)
    }

    /// Monotonic time, for measuring durations and deadlines.
    pub fn now(&self) -> Instant {
        match self {
            Clock::System => Instant::now(),
            Clock::Manual(manual) => manual.start_instant + manual.elapsed(),
        }
    }

    /// Wall-clock time, for timestamps that people read (`Date`, message times).
    pub fn wall(&self) -> SystemTime {
        match self {
            Clock::System => SystemTime::now(),
            Clock::Manual(manual) => manual.start_wall + manual.elapsed(),
        }
    }
}

/// The handle a test keeps to move a manual [`Clock`] forward.
#[derive(Debug)]
pub struct ManualClock {
    start_instant: Instant,
    start_wall: SystemTime,
    /// How far the test has moved the clock. A plain duration behind a mutex:
    /// held only to read or add, never while doing anything else.
    elapsed: Mutex<Duration>,
}

impl ManualClock {
    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        *self.elapsed.lock().unwrap_or_else(PoisonError::into_inner) += by;
    }

    fn elapsed(&self) -> Duration {
        *self.elapsed.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let (clock, hand) = Clock::manual();
        let before = clock.now();
        let wall_before = clock.wall();
        assert_eq!(clock.now(), before);
        hand.advance(Duration::from_secs(30));
        assert_eq!(clock.now() - before, Duration::from_secs(30));
        assert_eq!(
            clock.wall().duration_since(wall_before).ok(),
            Some(Duration::from_secs(30))
        );
    }

    #[test]
    fn clones_share_one_manual_time() {
        let (clock, hand) = Clock::manual();
        let copy = clock.clone();
        hand.advance(Duration::from_millis(5));
        assert_eq!(clock.now(), copy.now());
    }
}
