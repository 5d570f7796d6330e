//! Sending to other peers: a persistent connection per pair of peers,
//! opened with a ticket from the tracker, reused for every message, and
//! opened again when it breaks (`docs/lab5_peer.md`, "The wire protocol").
//!
//! ```text
//!  deliver(alice → bob, message)
//!    link alice→bob open? ── yes ─► message ──► ack ──────────────► Delivered
//!         │ no, or it broke                 └─► error {id} ────────► Refused / Failed
//!         ▼
//!    tracker: POST /connect-peer {"from":"alice","to":"bob","ticket":true}
//!    connect(bob's address)        within the connect timeout
//!    hello {from, to, ticket} ──►  within the I/O timeout
//!    ◄── welcome {receipt}          receipt = the one the tracker gave us?
//!    message ──► ack               (the link is kept for the next message)
//! ```
//!
//! Every step has a timeout, so a peer that is down (connection refused),
//! gone (no answer to the SYN) or slow (no ack) makes [`Dialer::deliver`]
//! return [`Outcome::Failed`] in bounded time; the node then queues the
//! message ([`super::outbox`]). A connection that was kept open may have
//! been closed by the other side since its last use (its idle timeout):
//! the first failure on a reused connection opens a new one and tries once
//! more — safe, because the receiver stores a message id only once.
//!
//! These links use the system clock for their deadlines, like lab 2's
//! client: they wait for another process, whatever a test does with the
//! node's own clock.

use std::collections::HashMap;
use std::net::TcpStream;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::frame::{Envelope, Frame, PROTOCOL_VERSION};
use super::tracker::{TrackerClient, TrackerError};
use super::wire::{Wire, WireError};
use crate::auth::password::constant_time_eq;
use crate::clock::Clock;

/// What became of one message for one receiver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The receiver acknowledged it: it is on the receiver's disk.
    Delivered,
    /// The receiver (or the tracker) refused it for good; sending it again
    /// would not help. The reason is for the log.
    Refused(String),
    /// It could not be delivered now (the peer is down, slow, or cannot
    /// check tickets); worth trying again later.
    Failed(String),
}

/// How long a delivery may wait on the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// For the TCP handshake with the peer.
    pub connect: Duration,
    /// For each write, and for each answer (the welcome, an ack).
    pub io: Duration,
}

impl Default for Timeouts {
    /// 2 s to connect, 5 s for each write or answer.
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(2),
            io: Duration::from_secs(5),
        }
    }
}

/// A slot for the link of one pair of peers, empty while none is open.
type Slot = Arc<Mutex<Option<Wire>>>;

/// The node's outgoing links; every method takes `&self`.
#[derive(Debug, Default)]
pub struct Dialer {
    timeouts: Timeouts,
    /// (sending peer, receiving peer) → its slot. Held only to find or add
    /// a slot. A slot's own lock is held for a whole delivery on its link
    /// (so frames and acks of two messages never interleave), taken after
    /// this one is released; the tracker client's lock may be taken while
    /// a slot is held, never the other way round: no cycle, no deadlock.
    links: Mutex<HashMap<(String, String), Slot>>,
}

impl Dialer {
    /// No links yet.
    pub fn new(timeouts: Timeouts) -> Dialer {
        Dialer {
            timeouts,
            links: Mutex::new(HashMap::new()),
        }
    }

    /// Delivers `envelope` to peer `recipient` over the link from its
    /// sender, opening it (as the tracker session `session`) if needed.
    pub fn deliver(
        &self,
        tracker: &TrackerClient,
        session: &str,
        envelope: &Envelope,
        recipient: &str,
    ) -> Outcome {
        let slot = self.slot(&envelope.from, recipient);
        let mut link = slot.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(wire) = link.as_mut() {
            match self.exchange(wire, envelope) {
                Ok((outcome, keep)) => return settle(&mut link, outcome, keep),
                // A slow peer: waiting again on a new link would double the wait.
                Err(WireError::Timeout) => {
                    *link = None;
                    return Outcome::Failed(format!("{recipient}: {}", WireError::Timeout));
                }
                // Closed since its last use, most likely: open a new one.
                Err(_) => *link = None,
            }
        }
        let wire = match self.open(tracker, session, &envelope.from, recipient) {
            Ok(wire) => link.insert(wire),
            Err(outcome) => return outcome,
        };
        match self.exchange(wire, envelope) {
            Ok((outcome, keep)) => settle(&mut link, outcome, keep),
            Err(error) => {
                *link = None;
                Outcome::Failed(format!("{recipient}: {error}"))
            }
        }
    }

    /// Closes every link (the node is stopping).
    pub fn close_all(&self) {
        let slots: Vec<Slot> = self.links().drain().map(|(_, slot)| slot).collect();
        for slot in slots {
            slot.lock().unwrap_or_else(PoisonError::into_inner).take();
        }
    }

    fn slot(&self, from: &str, to: &str) -> Slot {
        let key = (from.to_string(), to.to_string());
        Arc::clone(self.links().entry(key).or_default())
    }

    fn links(&self) -> MutexGuard<'_, HashMap<(String, String), Slot>> {
        self.links.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Opens a link from peer `from` to peer `to`: the tracker's address
    /// and ticket, the TCP connection, the hello, and the welcome, whose
    /// receipt proves that the other end really is `to`.
    fn open(
        &self,
        tracker: &TrackerClient,
        session: &str,
        from: &str,
        to: &str,
    ) -> Result<Wire, Outcome> {
        let introduction = tracker
            .introduce(session, from, to)
            .map_err(|error| match error {
                // 403 (not our peer) and 404 (no such peer) will not change.
                TrackerError::Refused { status, .. } if status == 403 || status == 404 => {
                    Outcome::Refused(error.to_string())
                }
                error => Outcome::Failed(error.to_string()),
            })?;
        let addr = introduction.addr;
        let failed = |what: &str, error: &dyn std::fmt::Display| {
            Outcome::Failed(format!("{to} at {addr}: {what}: {error}"))
        };
        let stream = TcpStream::connect_timeout(&addr, self.timeouts.connect)
            .map_err(|error| failed("cannot connect", &error))?;
        stream
            .set_write_timeout(Some(self.timeouts.io))
            .and_then(|()| stream.set_nodelay(true))
            .map_err(|error| failed("cannot set up the socket", &error))?;
        let mut wire = Wire::new(stream, Clock::system());
        let hello = Frame::Hello {
            version: PROTOCOL_VERSION,
            from: from.to_string(),
            to: to.to_string(),
            ticket: introduction.ticket,
        };
        wire.send(&hello)
            .map_err(|error| failed("sending the hello", &error))?;
        match wire.receive(self.timeouts.io) {
            Ok(Frame::Welcome { peer, receipt, .. })
                if peer == to
                    && constant_time_eq(receipt.as_bytes(), introduction.receipt.as_bytes()) =>
            {
                Ok(wire)
            }
            Ok(Frame::Welcome { .. }) => Err(Outcome::Failed(format!(
                "{to} at {addr}: the welcome did not show the tracker's receipt: \
                 whoever listens there could not prove it is {to}"
            ))),
            Ok(Frame::Error { code, message, .. }) if code.is_permanent() => Err(Outcome::Refused(
                format!("{to} refused the connection ({}): {message}", code.as_str()),
            )),
            Ok(Frame::Error { code, message, .. }) => Err(Outcome::Failed(format!(
                "{to} refused the connection for now ({}): {message}",
                code.as_str()
            ))),
            Ok(other) => Err(failed("expected a welcome", &format!("{other:?}"))),
            Err(error) => Err(failed("waiting for the welcome", &error)),
        }
    }

    /// Sends one message on an open link and reads until its answer: the
    /// outcome, and whether the link may be kept for the next message.
    fn exchange(&self, wire: &mut Wire, envelope: &Envelope) -> Result<(Outcome, bool), WireError> {
        // lab5: begin — send the message frame, then read frames until the ack (or error) with its id
        wire.send(&Frame::Message(envelope.clone()))
            .map_err(WireError::Io)?;
        // One deadline for the answer, however many other frames come first:
        // a peer that keeps sending acks for other ids cannot hold us forever.
        let deadline = Instant::now() + self.timeouts.io;
        loop {
            match wire.receive(deadline.saturating_duration_since(Instant::now()))? {
                Frame::Ack { id } if id == envelope.id => return Ok((Outcome::Delivered, true)),
                Frame::Error { id, code, message } => {
                    // An error about this message leaves the link open; one
                    // about the connection closes it.
                    let keep = id.is_some();
                    if id.as_ref().is_some_and(|id| *id != envelope.id) {
                        continue;
                    }
                    let reason = format!("refused ({}): {message}", code.as_str());
                    let outcome = if code.is_permanent() {
                        Outcome::Refused(reason)
                    } else {
                        Outcome::Failed(reason)
                    };
                    return Ok((outcome, keep));
                }
                // An ack for an earlier message sent again: not this one's.
                Frame::Ack { .. } => continue,
                other => {
                    let unexpected = format!("expected an ack, got {other:?}");
                    return Ok((Outcome::Failed(unexpected), false));
                }
            }
        }
        // lab5: end
    }
}

/// The outcome of a delivery, closing the link unless it may be kept.
fn settle(link: &mut Option<Wire>, outcome: Outcome, keep: bool) -> Outcome {
    if !keep {
        *link = None;
    }
    outcome
}
