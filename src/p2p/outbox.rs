//! The outbox: messages waiting for a peer that could not be reached, to
//! be sent again later (`docs/lab5_peer.md`, "Failures").
//!
//! In lab 4 a message reached the server or it did not. Between peers
//! there is a third case: the message is safe on the sender's disk, but
//! the receiver is down, unreachable or slow. The sender then keeps it in
//! a queue per receiver — a *letter* — and tries again later:
//!
//! - **Backoff.** After a failed try a receiver is left alone for
//!   [`RetryPolicy::first_delay`], then twice as long after each further
//!   failure, up to [`RetryPolicy::max_delay`]: a peer that is down for an
//!   hour costs a connection attempt a minute, not a thousand. A success
//!   starts the count again. Time is read from the [`Clock`], so a test
//!   moves it instead of waiting.
//! - **Order.** A receiver's letters go in the order they were written:
//!   a new message for a receiver that already has a queue joins the end
//!   of it instead of overtaking it.
//! - **Bounds.** At most [`RetryPolicy::per_recipient`] letters for one
//!   receiver (a peer that registered once and never came back cannot
//!   fill the outbox for the others) and [`RetryPolicy::capacity`] in
//!   all; a letter older than [`RetryPolicy::lifetime`] is given up (with
//!   a line on stderr). "Retried for a while", not for ever.
//! - **Durable.** The queues are saved in `DIR/outbox.jsonl` before a push
//!   or a removal returns (the whole file replaced atomically, as the
//!   tracker's file is: [`crate::durable::replace_file`]; one write for
//!   all the letters of one message), so a message answered as "queued"
//!   survives a restart of the sender too. After a restart every queue is
//!   due at once.
//!
//! The outbox only keeps the letters and the schedule; the node decides
//! when to try ([`super::node`]).

use std::collections::{BTreeMap, VecDeque};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::frame::Envelope;
use crate::clock::Clock;
use crate::durable;
use crate::json::{self, Object, Value};

/// The outbox's file name inside the node's data directory.
pub const OUTBOX_FILE: &str = "outbox.jsonl";

/// When and how long letters are retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait after the first failure.
    pub first_delay: Duration,
    /// The longest wait between two tries.
    pub max_delay: Duration,
    /// A letter this old (by the wall clock) is given up.
    pub lifetime: Duration,
    /// Most letters kept for one receiver; more are refused.
    pub per_recipient: usize,
    /// Most letters kept in all; more are refused.
    pub capacity: usize,
}

impl Default for RetryPolicy {
    /// 1 s, doubling up to 30 s; given up after an hour; 100 letters a
    /// receiver, 1,000 in all.
    fn default() -> Self {
        RetryPolicy {
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            lifetime: Duration::from_secs(60 * 60),
            per_recipient: 100,
            capacity: 1000,
        }
    }
}

impl RetryPolicy {
    /// The wait after `failures` failures in a row (at least one).
    pub fn delay(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(31);
        self.first_delay
            .saturating_mul(1 << doublings)
            .min(self.max_delay)
    }
}

/// A message waiting for one receiver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Letter {
    /// The peer it is for (for a broadcast, one member of the channel).
    pub recipient: String,
    /// The message.
    pub envelope: Envelope,
    /// When it was queued, by the wall clock.
    pub queued_at: SystemTime,
}

/// One receiver's letters and when to try it next.
#[derive(Clone, Debug)]
struct Queue {
    letters: VecDeque<Letter>,
    /// Failed tries in a row.
    failures: u32,
    /// Not before this, by the clock.
    next_try: Instant,
}

/// The node's outbox; every method takes `&self`.
#[derive(Debug)]
pub struct Outbox {
    path: PathBuf,
    clock: Clock,
    policy: RetryPolicy,
    /// Receiver → its queue. Held for one change and the file write that
    /// saves it (so files are written in the order of the changes), never
    /// while taking another lock: it cannot deadlock.
    queues: Mutex<BTreeMap<String, Queue>>,
}

impl Outbox {
    /// Opens the outbox of data directory `dir`; letters saved by an
    /// earlier run are due at once. A malformed line is skipped with a
    /// warning.
    pub fn open(dir: &Path, clock: Clock, policy: RetryPolicy) -> io::Result<Outbox> {
        let path = dir.join(OUTBOX_FILE);
        let text = match fs::read(&path) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(error) if error.kind() == io::ErrorKind::NotFound => String::new(),
            Err(error) => return Err(error),
        };
        let now = clock.now();
        let mut queues: BTreeMap<String, Queue> = BTreeMap::new();
        for (index, line) in text.lines().enumerate() {
            match parse_letter(line) {
                Ok(letter) => queues
                    .entry(letter.recipient.clone())
                    .or_insert_with(|| Queue {
                        letters: VecDeque::new(),
                        failures: 0,
                        next_try: now,
                    })
                    .letters
                    .push_back(letter),
                Err(problem) => eprintln!(
                    "warning: {}:{}: line skipped: {problem}",
                    path.display(),
                    index + 1
                ),
            }
        }
        Ok(Outbox {
            path,
            clock,
            policy,
            queues: Mutex::new(queues),
        })
    }

    /// The retry policy.
    pub fn policy(&self) -> RetryPolicy {
        self.policy
    }

    /// Whether letters wait for `recipient`.
    pub fn is_waiting(&self, recipient: &str) -> bool {
        self.queues().contains_key(recipient)
    }

    /// Queues each of `letters` behind the others for its recipient, and
    /// saves them all before it returns. A recipient without a queue is
    /// tried again after [`RetryPolicy::first_delay`] (the caller has just
    /// failed to reach it). A letter beyond the policy's bounds is left
    /// out. Returns the recipients whose letter was queued; on an error
    /// nothing is.
    pub fn push(&self, letters: Vec<Letter>) -> io::Result<Vec<String>> {
        let mut queues = self.queues();
        let mut next = queues.clone();
        let mut total: usize = next.values().map(|queue| queue.letters.len()).sum();
        let first_try = self.clock.now() + self.policy.first_delay;
        let mut queued = Vec::new();
        for letter in letters {
            let queue = next
                .entry(letter.recipient.clone())
                .or_insert_with(|| Queue {
                    letters: VecDeque::new(),
                    failures: 1,
                    next_try: first_try,
                });
            if total < self.policy.capacity && queue.letters.len() < self.policy.per_recipient {
                queued.push(letter.recipient.clone());
                queue.letters.push_back(letter);
                total += 1;
            }
        }
        next.retain(|_, queue| !queue.letters.is_empty());
        self.save(&next)?;
        *queues = next;
        Ok(queued)
    }

    /// The recipients whose next try is due now, by the clock.
    pub fn due(&self) -> Vec<String> {
        let now = self.clock.now();
        self.queues()
            .iter()
            .filter(|(_, queue)| queue.next_try <= now)
            .map(|(recipient, _)| recipient.clone())
            .collect()
    }

    /// The oldest letter for `recipient`.
    pub fn front(&self, recipient: &str) -> Option<Letter> {
        self.queues()
            .get(recipient)
            .and_then(|queue| queue.letters.front().cloned())
    }

    /// Whether `letter` has waited longer than the policy allows.
    pub fn is_expired(&self, letter: &Letter) -> bool {
        self.clock
            .wall()
            .duration_since(letter.queued_at)
            .is_ok_and(|age| age >= self.policy.lifetime)
    }

    /// Removes the oldest letter for `recipient` if it is message `id`
    /// (delivered, or given up); saved before it returns. A delivery also
    /// clears the recipient's failures.
    pub fn remove(&self, recipient: &str, id: &str) -> io::Result<()> {
        let mut queues = self.queues();
        let mut next = queues.clone();
        let Some(queue) = next.get_mut(recipient) else {
            return Ok(());
        };
        if queue
            .letters
            .front()
            .is_some_and(|letter| letter.envelope.id == id)
        {
            queue.letters.pop_front();
            queue.failures = 0;
        }
        if queue.letters.is_empty() {
            next.remove(recipient);
        }
        self.save(&next)?;
        *queues = next;
        Ok(())
    }

    /// Notes a failed try for `recipient`: its next try waits longer.
    /// Returns the wait.
    pub fn failed(&self, recipient: &str) -> Duration {
        let now = self.clock.now();
        let mut queues = self.queues();
        let Some(queue) = queues.get_mut(recipient) else {
            return Duration::ZERO;
        };
        queue.failures = queue.failures.saturating_add(1);
        let delay = self.policy.delay(queue.failures);
        queue.next_try = now + delay;
        delay
    }

    /// Every waiting letter's recipient and id, oldest first per recipient.
    pub fn waiting(&self) -> Vec<(String, String)> {
        self.queues()
            .iter()
            .flat_map(|(recipient, queue)| {
                queue
                    .letters
                    .iter()
                    .map(move |letter| (recipient.clone(), letter.envelope.id.clone()))
            })
            .collect()
    }

    /// Letters waiting, in all.
    pub fn len(&self) -> usize {
        self.queues()
            .values()
            .map(|queue| queue.letters.len())
            .sum()
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn save(&self, queues: &BTreeMap<String, Queue>) -> io::Result<()> {
        let mut text = String::new();
        for letter in queues.values().flat_map(|queue| &queue.letters) {
            text.push_str(&render_letter(letter));
            text.push('\n');
        }
        if let Some(dir) = self.path.parent() {
            fs::create_dir_all(dir)?;
        }
        durable::replace_file(&self.path, text.as_bytes())
    }

    fn queues(&self) -> MutexGuard<'_, BTreeMap<String, Queue>> {
        // Poisoned only by a panic while held; every change replaces the
        // map in one step, so it is whole.
        self.queues.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A line of the outbox file: `{"recipient","queued_at_ms","message":{…}}`,
/// the message as its frame carries it.
fn render_letter(letter: &Letter) -> String {
    let millis = letter
        .queued_at
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis());
    let line = Object::new()
        .with("recipient", letter.recipient.as_str())
        .with("queued_at_ms", u64::try_from(millis).unwrap_or(u64::MAX))
        .with("message", letter.envelope.to_object());
    Value::Object(line).to_string()
}

fn parse_letter(line: &str) -> Result<Letter, String> {
    let value = json::parse(line).map_err(|error| format!("not JSON: {error}"))?;
    let recipient = value.get("recipient").and_then(Value::as_str);
    let millis = value.get("queued_at_ms").and_then(Value::as_u64);
    let envelope = value.get("message").and_then(Value::as_object);
    let (Some(recipient), Some(millis), Some(envelope)) = (recipient, millis, envelope) else {
        return Err("needs \"recipient\", \"queued_at_ms\" and \"message\"".to_string());
    };
    Ok(Letter {
        recipient: recipient.to_string(),
        envelope: Envelope::from_object(envelope)?,
        queued_at: UNIX_EPOCH + Duration::from_millis(millis),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::durable::TempDir;

    fn letter(recipient: &str, id: &str, clock: &Clock) -> Letter {
        Letter {
            recipient: recipient.to_string(),
            envelope: Envelope {
                id: id.to_string(),
                from: "alice".to_string(),
                to: Some(recipient.to_string()),
                channel: None,
                text: format!("for {recipient}"),
                timestamp: "2026-11-25T12:00:00.000Z".to_string(),
            },
            queued_at: clock.wall(),
        }
    }

    #[test]
    fn the_wait_doubles_up_to_the_most() {
        let policy = RetryPolicy::default();
        let waits: Vec<u64> = (1..=7).map(|n| policy.delay(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(policy.delay(u32::MAX), policy.max_delay);
    }

    #[test]
    fn letters_wait_their_turn_by_the_clock_and_in_order() {
        let dir = TempDir::new("outbox");
        let (clock, hand) = Clock::manual();
        let outbox = Outbox::open(dir.path(), clock.clone(), RetryPolicy::default()).expect("open");
        let queued = outbox
            .push(vec![
                letter("bob", "m1", &clock),
                letter("bob", "m2", &clock),
            ])
            .expect("push");
        assert_eq!(queued, ["bob", "bob"]);
        assert!(outbox.due().is_empty(), "not before the first delay");
        hand.advance(Duration::from_secs(1));
        assert_eq!(outbox.due(), ["bob"]);
        assert_eq!(
            outbox.failed("bob"),
            Duration::from_secs(2),
            "the second failure"
        );
        hand.advance(Duration::from_secs(1));
        assert!(outbox.due().is_empty());
        hand.advance(Duration::from_secs(1));
        assert_eq!(
            outbox.front("bob").map(|l| l.envelope.id),
            Some("m1".into())
        );
        outbox.remove("bob", "m2").expect("remove");
        assert_eq!(outbox.len(), 2, "only the front letter is removed");
        outbox.remove("bob", "m1").expect("remove");
        outbox.remove("bob", "m2").expect("remove");
        assert!(outbox.is_empty() && !outbox.is_waiting("bob"));
    }

    #[test]
    fn letters_survive_a_restart_and_are_due_at_once() {
        let dir = TempDir::new("outbox");
        let (clock, _) = Clock::manual();
        let outbox = Outbox::open(dir.path(), clock.clone(), RetryPolicy::default()).expect("open");
        let sent = [letter("bob", "m1", &clock), letter("carol", "m2", &clock)];
        outbox.push(sent.to_vec()).expect("push");
        drop(outbox);
        let reopened = Outbox::open(dir.path(), clock, RetryPolicy::default()).expect("reopen");
        assert_eq!(reopened.due(), ["bob", "carol"]);
        let back: Vec<Letter> = ["bob", "carol"]
            .iter()
            .filter_map(|recipient| reopened.front(recipient))
            .collect();
        let millis = |letter: &Letter| {
            letter
                .queued_at
                .duration_since(UNIX_EPOCH)
                .ok()
                .map(|d| d.as_millis())
        };
        assert_eq!(
            back.iter()
                .map(|l| (&l.envelope, millis(l)))
                .collect::<Vec<_>>(),
            sent.iter()
                .map(|l| (&l.envelope, millis(l)))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn the_outbox_is_bounded_and_old_letters_expire() {
        let dir = TempDir::new("outbox");
        let (clock, hand) = Clock::manual();
        let policy = RetryPolicy {
            per_recipient: 2,
            capacity: 3,
            ..RetryPolicy::default()
        };
        let outbox = Outbox::open(dir.path(), clock.clone(), policy).expect("open");
        let letters = ["m1", "m2", "m3"].map(|id| letter("bob", id, &clock));
        let queued = outbox.push(letters.to_vec()).expect("push");
        assert_eq!(
            queued,
            ["bob", "bob"],
            "two letters at most for one receiver"
        );
        let letters = ["carol", "dave"].map(|to| letter(to, "m4", &clock));
        let queued = outbox.push(letters.to_vec()).expect("push");
        assert_eq!(queued, ["carol"], "three letters at most in all");
        assert!(!outbox.is_waiting("dave"), "no empty queue is left behind");
        let first = outbox.front("bob").expect("a letter");
        assert!(!outbox.is_expired(&first));
        hand.advance(policy.lifetime);
        assert!(outbox.is_expired(&first));
    }
}
