//! Tickets: the tracker vouching to one peer for another (lab 5; the
//! trust design in `docs/lab5_peer.md`, "Trust", and `docs/security.md`).
//!
//! In lab 5 messages go straight from peer to peer, and a peer that opens
//! a connection says who it is in its first frame. Saying is not proving:
//! any program can connect to bob's port and write `"from":"alice"`. The
//! one party that knows who is who is the tracker — it has the accounts,
//! the sessions and the owners of peer names — so it vouches:
//!
//! ```text
//!  alice's node                      tracker                        bob's node
//!  POST /connect-peer ─────────────► issue: id, receipt,
//!  {"to":"bob","ticket":true}        from alice, to bob, 60 s
//!          ◄──── address + ticket {id, receipt}
//!  connect ─── hello {from alice, to bob, ticket id} ─────────────────────►
//!                                    ◄──── POST /check-ticket {id, alice, bob}
//!                                          (bob's account's session)
//!                                    redeem: known? not expired? alice→bob?
//!                                    ────► 200 {"receipt"}
//!          ◄──────────────────────────────────────── welcome {receipt} ───
//!  receipt matches: this really is bob
//! ```
//!
//! - A ticket names its two peers: the tracker hands one only to the
//!   account that owns `from` (`/connect-peer` checks the acting peer, as
//!   in lab 4), and redeems it only for the account that owns `to`. So a
//!   ticket proves to bob that alice's account asked to talk to him.
//! - A ticket is **single use** and **short-lived** ([`TICKET_LIFETIME`],
//!   by the tracker's [`Clock`]): one copied off the network is worthless
//!   once its connection has used it, and soon anyway.
//! - The **receipt** goes the other way: the tracker gives it to alice with
//!   the ticket, and to bob's account only when it redeems the ticket; when
//!   bob's node shows it back, alice knows that the process at bob's
//!   address really is bob's and not whoever took over that port.
//!
//! Ids and receipts are 128 random bits from the operating system
//! ([`crate::auth::random`]), like session ids. Tickets live in memory
//! only, at most [`MAX_TICKETS`] at once: a restart of the tracker voids
//! them, and a peer simply asks for a new one.
//!
//! Left out on purpose: signed tickets that a peer could check without
//! asking (an HMAC under the tracker's key — see [`crate::auth::hmac`] —
//! would save the round trip but not the single use, which needs a record
//! of spent tickets somewhere), and encryption of the connection itself
//! (TLS): the proof covers who is at the other end, not who is listening
//! on the wire.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::auth::bounded::make_room;
use crate::auth::random::random_hex;
use crate::clock::Clock;

/// How long a ticket may wait before it is redeemed: long enough to open a
/// TCP connection anywhere, short enough that a copied one is soon useless.
pub const TICKET_LIFETIME: Duration = Duration::from_secs(60);

/// Most tickets kept at once; issuing one more first drops the expired
/// ones, then the one closest to expiry. A chat of a few hundred peers
/// opens far fewer connections a minute.
pub const MAX_TICKETS: usize = 100_000;

/// Random bytes in a ticket id and in a receipt: 128 bits, as a session id.
const TICKET_BYTES: usize = 16;

/// A ticket as the tracker hands it to the peer that will connect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ticket {
    /// What the connecting peer sends in its hello: 32 hex characters.
    pub id: String,
    /// What the other peer must show back once the tracker has redeemed the
    /// ticket for it: 32 hex characters.
    pub receipt: String,
    /// How long the ticket stays valid.
    pub lifetime: Duration,
}

/// Why a ticket was not redeemed. The same answer (403) for each, with a
/// reason for the person reading the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No such ticket: never issued, already used, or issued before the
    /// tracker restarted.
    Unknown,
    /// Issued, but its lifetime has passed.
    Expired,
    /// Issued for another pair of peers (a stolen ticket, or a forged
    /// `from`).
    WrongPeers,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Refusal::Unknown => "the ticket is unknown or already used",
            Refusal::Expired => "the ticket has expired",
            Refusal::WrongPeers => "the ticket was issued for another pair of peers",
        })
    }
}

/// What the tracker remembers of an issued ticket.
#[derive(Clone, Debug)]
struct Issued {
    from: String,
    to: String,
    receipt: String,
    expires: Instant,
}

/// The tracker's issued tickets; every method takes `&self`.
#[derive(Debug)]
pub struct Tickets {
    clock: Clock,
    lifetime: Duration,
    /// Ticket id → what it was issued for. Held only for one map operation
    /// (the random values are made before it is taken), never with another
    /// lock or during I/O: it cannot deadlock.
    issued: Mutex<HashMap<String, Issued>>,
}

impl Tickets {
    /// No tickets yet; each will be valid for `lifetime` by `clock`.
    pub fn new(clock: Clock, lifetime: Duration) -> Tickets {
        Tickets {
            clock,
            lifetime,
            issued: Mutex::new(HashMap::new()),
        }
    }

    /// A new ticket for peer `from` to connect to peer `to`. The caller has
    /// checked that the requesting account owns `from`.
    ///
    /// Fails only if the operating system's random source cannot be read.
    pub fn issue(&self, from: &str, to: &str) -> io::Result<Ticket> {
        let id = random_hex(TICKET_BYTES)?;
        let receipt = random_hex(TICKET_BYTES)?;
        let now = self.clock.now();
        let mut issued = self.issued();
        make_room(
            &mut issued,
            MAX_TICKETS,
            |ticket| ticket.expires <= now,
            |ticket| ticket.expires,
        );
        issued.insert(
            id.clone(),
            Issued {
                from: from.to_string(),
                to: to.to_string(),
                receipt: receipt.clone(),
                expires: now + self.lifetime,
            },
        );
        Ok(Ticket {
            id,
            receipt,
            lifetime: self.lifetime,
        })
    }

    /// Redeems ticket `id` that peer `from` showed to peer `to`: returns
    /// its receipt and forgets it (a ticket opens one connection). The
    /// caller has checked that the requesting account owns `to`.
    ///
    /// A ticket shown for the wrong pair of peers is refused but kept, so
    /// that someone who copied it cannot spoil it for its rightful user.
    pub fn redeem(&self, id: &str, from: &str, to: &str) -> Result<String, Refusal> {
        let now = self.clock.now();
        let mut issued = self.issued();
        // lab5: begin — known, not expired, issued for exactly these two peers; then spent
        let ticket = issued.get(id).ok_or(Refusal::Unknown)?;
        if ticket.expires <= now {
            issued.remove(id);
            return Err(Refusal::Expired);
        }
        if ticket.from != from || ticket.to != to {
            return Err(Refusal::WrongPeers);
        }
        let spent = issued.remove(id).ok_or(Refusal::Unknown)?;
        Ok(spent.receipt)
        // lab5: end
    }

    /// Tickets held, counting expired ones not yet dropped.
    pub fn len(&self) -> usize {
        self.issued().len()
    }

    /// True when no ticket is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn issued(&self) -> MutexGuard<'_, HashMap<String, Issued>> {
        // Poisoned only by a panic while it was held; each change is one
        // map operation, so the map is whole.
        self.issued.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::hex;

    fn tickets() -> (Tickets, std::sync::Arc<crate::clock::ManualClock>) {
        let (clock, hand) = Clock::manual();
        (Tickets::new(clock, TICKET_LIFETIME), hand)
    }

    #[test]
    fn a_ticket_is_random_and_opens_one_connection_between_its_two_peers() {
        let (tickets, _) = tickets();
        let ticket = tickets.issue("alice", "bob").expect("issue");
        let other = tickets.issue("alice", "bob").expect("issue");
        assert!(hex::is_hex_of_len(&ticket.id, TICKET_BYTES));
        assert!(hex::is_hex_of_len(&ticket.receipt, TICKET_BYTES));
        assert_ne!(ticket.id, other.id, "two tickets, two ids");
        assert_ne!(ticket.receipt, ticket.id);
        let cases = [
            (
                ("carol", "bob"),
                Err(Refusal::WrongPeers),
                "a forged sender",
            ),
            (
                ("alice", "carol"),
                Err(Refusal::WrongPeers),
                "shown to carol",
            ),
            (
                ("alice", "bob"),
                Ok(ticket.receipt.clone()),
                "its rightful use",
            ),
            (("alice", "bob"), Err(Refusal::Unknown), "a replay"),
        ];
        for ((from, to), expected, case) in cases {
            assert_eq!(tickets.redeem(&ticket.id, from, to), expected, "{case}");
        }
        assert_eq!(
            tickets.redeem("00", "alice", "bob"),
            Err(Refusal::Unknown),
            "an id that was never issued"
        );
    }

    #[test]
    fn a_ticket_expires_by_the_clock() {
        let (tickets, hand) = tickets();
        let late = tickets.issue("alice", "bob").expect("issue");
        hand.advance(TICKET_LIFETIME - Duration::from_secs(1));
        let in_time = tickets.issue("alice", "bob").expect("issue");
        hand.advance(Duration::from_secs(1));
        assert_eq!(
            tickets.redeem(&late.id, "alice", "bob"),
            Err(Refusal::Expired)
        );
        assert_eq!(
            tickets.redeem(&late.id, "alice", "bob"),
            Err(Refusal::Unknown),
            "an expired ticket is dropped"
        );
        assert_eq!(
            tickets.redeem(&in_time.id, "alice", "bob"),
            Ok(in_time.receipt)
        );
        assert!(tickets.is_empty());
    }
}
