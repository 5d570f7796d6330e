//! Receiving: other peers' connections to this node's p2p port — the
//! handshake that proves who connected, then messages and their acks
//! (`docs/lab5_peer.md`, "The wire protocol" and "Trust").
//!
//! ```text
//!  peer                                this node
//!  hello {from alice, to bob, ticket} ─►  bob lives here?               else error unknown-peer
//!                                        bob's user logged in here?     else error offline
//!                                        tracker: POST /check-ticket    else error bad-ticket
//!                                          (as bob's account)
//!  ◄─ welcome {peer bob, receipt} ───────
//!  message {id, from alice, …} ───────►  from = alice (the ticket's)?  else error forged-sender, close
//!                                        for bob? text ok?              else error {id} bad-message
//!                                        broadcast: alice a member?     else error {id} not-member
//!                                        id stored already?             then just ack
//!                                        store (durable)
//!  ◄─ ack {id} ──────────────────────────
//! ```
//!
//! The ticket is checked once per connection; after that, the connection
//! itself is the proof (TCP delivers only what the connected peer sent),
//! so each message needs only to name the same sender. An error with an
//! `id` refuses that message and the connection goes on; an error
//! without one closes the connection.
//!
//! Each connection runs on its own thread (lab 1's [`crate::net`]); the
//! hello must arrive whole within [`NodeSettings::hello_timeout`] and
//! each later frame within [`NodeSettings::idle_timeout`], by the node's
//! clock, so silent or trickling connections are closed.
//!
//! [`NodeSettings::hello_timeout`]: super::node::NodeSettings::hello_timeout
//! [`NodeSettings::idle_timeout`]: super::node::NodeSettings::idle_timeout

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::frame::{Envelope, ErrorCode, Frame, PROTOCOL_VERSION};
use super::node::PeerNode;
use super::send::REMOTE_ACCOUNT;
use super::tracker::TrackerError;
use super::wire::{Wire, WireError};
use crate::chat::service::check_text;
use crate::chat::store::{Draft, Party};
use crate::net::{Connection, Service};

/// How many received message ids are remembered to catch a message sent
/// twice (the sender did not hear the ack). A duplicate that arrives
/// after this many newer messages is stored again.
pub const SEEN_CAPACITY: usize = 10_000;

/// Message ids received lately, and whether each is stored yet.
#[derive(Debug, Default)]
pub struct Seen {
    /// The ids, and their order of arrival for forgetting the oldest. Held
    /// for one lookup or change, never during I/O or with another lock.
    ids: Mutex<SeenIds>,
}

#[derive(Debug, Default)]
struct SeenIds {
    /// (sender, id) → stored yet (`false` while its append is under way).
    /// The sender is part of the key: an id is its sender's, and another
    /// peer sending the same id first must not make the real message look
    /// like a copy.
    stored: HashMap<SeenKey, bool>,
    order: VecDeque<SeenKey>,
}

/// A message as [`Seen`] knows it: the sending peer and its id.
type SeenKey = (String, String);

/// What [`Seen::claim`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Claim {
    /// A new id: it is now this caller's to store.
    New,
    /// Another connection is storing it right now.
    Pending,
    /// Stored already.
    Stored,
}

impl Seen {
    /// Claims `from`'s message `id` for storing, unless it is known.
    fn claim(&self, from: &str, id: &str) -> Claim {
        let key = (from.to_string(), id.to_string());
        let mut ids = self.ids();
        match ids.stored.get(&key) {
            Some(true) => return Claim::Stored,
            Some(false) => return Claim::Pending,
            None => {}
        }
        if ids.order.len() >= SEEN_CAPACITY
            && let Some(oldest) = ids.order.pop_front()
        {
            ids.stored.remove(&oldest);
        }
        ids.stored.insert(key.clone(), false);
        ids.order.push_back(key);
        Claim::New
    }

    /// The claimed message is stored.
    fn stored(&self, from: &str, id: &str) {
        let key = (from.to_string(), id.to_string());
        if let Some(stored) = self.ids().stored.get_mut(&key) {
            *stored = true;
        }
    }

    /// The claimed message could not be stored: a later copy may try again.
    fn release(&self, from: &str, id: &str) {
        let key = (from.to_string(), id.to_string());
        let mut ids = self.ids();
        ids.stored.remove(&key);
        ids.order.retain(|known| *known != key);
    }

    fn ids(&self) -> MutexGuard<'_, SeenIds> {
        self.ids.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Who is at the other end of a connection, as the tracker vouched.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Verified {
    /// The connecting peer.
    from: String,
    /// The peer of this node it connected to.
    to: String,
    /// The account (logged in here) that owns `to`.
    account: String,
}

/// The p2p side of a node: a [`Service`] for lab 1's server.
#[derive(Clone)]
pub struct Inbox {
    node: Arc<PeerNode>,
}

impl Inbox {
    /// Other peers' connections to `node`.
    pub fn new(node: Arc<PeerNode>) -> Inbox {
        Inbox { node }
    }
}

impl Service for Inbox {
    fn serve(&self, connection: Connection) {
        let Ok(stream) = connection.stream().try_clone() else {
            return;
        };
        let _ = stream.set_nodelay(true);
        let node = &self.node;
        let mut wire = Wire::new(stream, node.settings.clock.clone());
        let verified = match wire.receive(node.settings.hello_timeout) {
            Ok(Frame::Hello {
                version,
                from,
                to,
                ticket,
            }) => match node.welcome(version, &from, &to, &ticket) {
                Ok((verified, welcome)) if wire.send(&welcome).is_ok() => verified,
                Ok(_) => return,
                Err((code, message)) => {
                    node.log(&format!(
                        "{} ({from} → {to}): refused ({}): {message}",
                        connection.peer,
                        code.as_str()
                    ));
                    return wire.close_with(&Frame::error(code, message));
                }
            },
            Ok(_) => {
                return wire.close_with(&Frame::error(
                    ErrorCode::BadFrame,
                    "the first frame must be a hello",
                ));
            }
            Err(WireError::Frame(error)) => {
                return wire.close_with(&Frame::error(ErrorCode::BadFrame, error.to_string()));
            }
            Err(_) => return,
        };
        let mut members = HashSet::new();
        loop {
            let envelope = match wire.receive(node.settings.idle_timeout) {
                Ok(Frame::Message(envelope)) => envelope,
                Ok(_) => {
                    return wire.close_with(&Frame::error(
                        ErrorCode::BadFrame,
                        "after the welcome, only message frames",
                    ));
                }
                Err(WireError::Frame(error)) => {
                    return wire.close_with(&Frame::error(ErrorCode::BadFrame, error.to_string()));
                }
                // Closed, idle too long, or broken: nothing to answer.
                Err(_) => return,
            };
            let (answer, fatal) = node.take(&verified, envelope, &mut members);
            if fatal {
                node.log(&format!("{}: closed: {answer:?}", connection.peer));
                return wire.close_with(&answer);
            }
            if wire.send(&answer).is_err() {
                return;
            }
        }
    }
}

impl PeerNode {
    /// Checks a hello: the answer is the welcome, or the code and reason
    /// of the error that closes the connection.
    fn welcome(
        &self,
        version: u64,
        from: &str,
        to: &str,
        ticket: &str,
    ) -> Result<(Verified, Frame), (ErrorCode, String)> {
        if version != PROTOCOL_VERSION {
            let speaks = format!("this node speaks version {PROTOCOL_VERSION} only");
            return Err((ErrorCode::Version, speaks));
        }
        let account = self
            .hosted
            .peer(to)
            .map_err(|_| {
                let unknown = format!("no peer called {to:?} lives at this node");
                (ErrorCode::UnknownPeer, unknown)
            })?
            .account;
        let session = self.session(&account).ok_or_else(|| {
            let away = format!("{to}'s user is not logged in at this node; try later");
            (ErrorCode::Offline, away)
        })?;
        let verified = Verified {
            from: from.to_string(),
            to: to.to_string(),
            account,
        };
        // lab5: begin — ask the tracker, as the receiver's account, to redeem the ticket for from → to; welcome with its receipt
        let receipt = self
            .tracker
            .check_ticket(&session, ticket, from, to)
            .map_err(|error| match error {
                TrackerError::Refused { message, .. } => (ErrorCode::BadTicket, message),
                error => {
                    let unchecked = format!("the ticket cannot be checked now: {error}");
                    let _ = self.tracker_failed(&verified.account, error);
                    (ErrorCode::Offline, unchecked)
                }
            })?;
        let welcome = Frame::Welcome {
            version: PROTOCOL_VERSION,
            peer: to.to_string(),
            receipt,
        };
        Ok((verified, welcome))
        // lab5: end
    }

    /// Takes one message on a verified connection: the ack or error to
    /// send back, and whether the connection must then close. `members`
    /// remembers the channels whose membership the tracker confirmed for
    /// this connection's sender.
    fn take(
        &self,
        verified: &Verified,
        envelope: Envelope,
        members: &mut HashSet<String>,
    ) -> (Frame, bool) {
        let refuse = |code, message: String| Frame::Error {
            id: Some(envelope.id.clone()),
            code,
            message,
        };
        // lab5: begin — only the peer the ticket proved may send here; a direct message for our peer only; a broadcast from a member only
        if envelope.from != verified.from {
            let forged = format!(
                "this connection is {}'s; a message from {:?} is forged",
                verified.from, envelope.from
            );
            return (Frame::error(ErrorCode::ForgedSender, forged), true);
        }
        match (&envelope.to, &envelope.channel) {
            (Some(to), _) if *to != verified.to => {
                let wrong = format!("this connection is to {}, not to {to}", verified.to);
                return (refuse(ErrorCode::BadMessage, wrong), false);
            }
            (None, Some(channel)) if !members.contains(channel) => {
                match self.is_member(verified, channel) {
                    Ok(true) => {
                        members.insert(channel.clone());
                    }
                    Ok(false) => {
                        let outsider = format!("{} is not a member of {channel}", verified.from);
                        return (refuse(ErrorCode::NotMember, outsider), false);
                    }
                    Err(error) => return (refuse(ErrorCode::Offline, error), false),
                }
            }
            _ => {}
        }
        // lab5: end
        if let Err(error) = check_text(&envelope.text) {
            return (refuse(ErrorCode::BadMessage, error.to_string()), false);
        }
        let ack = Frame::Ack {
            id: envelope.id.clone(),
        };
        match self.seen.claim(&envelope.from, &envelope.id) {
            Claim::Stored => (ack, false),
            Claim::Pending => (refuse(ErrorCode::Busy, "being stored".to_string()), false),
            Claim::New => {
                let draft = Draft {
                    from: Party {
                        peer: envelope.from.clone(),
                        account: REMOTE_ACCOUNT.to_string(),
                    },
                    to: envelope.to.as_ref().map(|to| Party {
                        peer: to.clone(),
                        account: verified.account.clone(),
                    }),
                    channel: envelope.channel.clone(),
                    text: envelope.text.clone(),
                };
                match self.store.append(draft) {
                    Ok(_) => {
                        self.seen.stored(&envelope.from, &envelope.id);
                        (ack, false)
                    }
                    Err(error) => {
                        self.seen.release(&envelope.from, &envelope.id);
                        (refuse(ErrorCode::Storage, error.to_string()), false)
                    }
                }
            }
        }
    }

    /// Whether the tracker lists `verified`'s sender in `channel`.
    fn is_member(&self, verified: &Verified, channel: &str) -> Result<bool, String> {
        let session = self
            .session(&verified.account)
            .ok_or("the receiving user is not logged in here")?;
        let directory = self
            .directory(&verified.account, &session)
            .map_err(|error| format!("the membership cannot be checked now: {error:?}"))?;
        Ok(directory.is_member(&verified.from, channel))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_stored_once_and_forgotten_when_too_old() {
        let seen = Seen::default();
        assert_eq!(seen.claim("ann", "a"), Claim::New);
        assert_eq!(seen.claim("ann", "a"), Claim::Pending, "being stored");
        seen.stored("ann", "a");
        assert_eq!(seen.claim("ann", "a"), Claim::Stored);
        assert_eq!(
            seen.claim("mallory", "a"),
            Claim::New,
            "an id is its sender's: another peer's message with the same id is not a copy"
        );
        assert_eq!(seen.claim("ann", "b"), Claim::New);
        seen.release("ann", "b");
        assert_eq!(
            seen.claim("ann", "b"),
            Claim::New,
            "a failed store may be tried again"
        );
        for n in 0..SEEN_CAPACITY {
            seen.claim("ann", &n.to_string());
        }
        assert_eq!(
            seen.claim("ann", "a"),
            Claim::New,
            "the oldest ids are forgotten"
        );
    }
}
