//! Sending: a message from a peer of this node is stored here first, then
//! delivered straight to each receiving peer, all at once; whoever cannot
//! be reached gets it later from the outbox (`docs/lab5_peer.md`, "The
//! message paths" and "Failures").
//!
//! ```text
//!  POST /broadcast-peer {"channel":"general","message":"hi"}
//!    acting peer hosted here? (403/400)   text 1..4096 bytes? (400/413)
//!    tracker GET /get-list: channel? (404)  member? (403)  → bob, carol
//!    store here (durable)              → EVENT id 12 (this node's id)
//!    ┌─ thread: deliver to bob   ─► ack          ─► delivered
//!    └─ thread: deliver to carol ─► refused TCP  ─► outbox → "unreached", "queued"
//!  200 {"status":"sent","message":EVENT,"unreached":["carol"],"queued":["carol"]}
//! ```
//!
//! The answer comes once every receiver has acknowledged, refused, or
//! failed within the timeouts ([`super::dial::Timeouts`]): a dead peer
//! costs at most one connect timeout, and the receivers are tried in
//! parallel, so a broadcast waits for the slowest, not for the sum. A
//! peer in `"queued"` is also in `"unreached"`: it has not got the
//! message yet. A peer in `"unreached"` only was refused for good (it
//! does not exist, or would never take that message), or the outbox was
//! full.
//!
//! The lab 4 rules are checked in lab 4's order, against the tracker's
//! directory (channels, members, peers) and this node's hosted peers (who
//! may send as whom).

use std::sync::{Arc, PoisonError};
use std::thread;

use super::dial::Outcome;
use super::frame::Envelope;
use super::node::{Directory, NodeError, PeerNode};
use super::outbox::Letter;
use crate::auth::random::random_hex;
use crate::chat::api::Delivery;
use crate::chat::error::ChatError;
use crate::chat::service::check_text;
use crate::chat::store::{Draft, Message, Party};

/// Random bytes in a message's id on the wire: 128 bits, so that two
/// senders never pick the same.
pub const MESSAGE_ID_BYTES: usize = 16;

/// The account recorded here for a peer that lives at another node. The
/// tracker never tells a peer who owns another peer's name, and nothing
/// here needs it: a message is visible to this node's accounts by the
/// peer that is theirs. No account name can be written like this (the
/// name rule has no parentheses), so it never matches a local account.
pub const REMOTE_ACCOUNT: &str = "(remote)";

/// A message as this node stored it, and what became of it elsewhere.
#[derive(Debug)]
pub struct Sent {
    /// The message, with this node's id and timestamp.
    pub message: Arc<Message>,
    /// Who could not be reached, and who will get it later.
    pub delivery: Delivery,
}

impl PeerNode {
    /// `POST /broadcast-peer`: `text` from the acting peer (one of
    /// `account`'s hosted here) to every member of `channel`.
    pub fn broadcast(
        &self,
        account: &str,
        from: Option<&str>,
        channel: &str,
        text: &str,
    ) -> Result<Sent, NodeError> {
        let (from, session, directory) = self.sender(account, from, text)?;
        if !directory.has_channel(channel) {
            return Err(ChatError::NoSuchChannel(channel.to_string()).into());
        }
        if !directory.is_member(&from, channel) {
            return Err(ChatError::NotMember {
                peer: from,
                channel: channel.to_string(),
            }
            .into());
        }
        // Peers hosted here read this node's store: they have it already.
        let recipients: Vec<String> = directory
            .members(channel)
            .into_iter()
            .filter(|member| self.hosted.peer(member).is_err())
            .collect();
        let draft = Draft {
            from: party(&from, account),
            to: None,
            channel: Some(channel.to_string()),
            text: text.to_string(),
        };
        self.store_and_deliver(&session, draft, &recipients)
    }

    /// `POST /send-peer`: `text` from the acting peer to peer `to` only,
    /// optionally in `channel`.
    pub fn send(
        &self,
        account: &str,
        from: Option<&str>,
        to: &str,
        channel: Option<&str>,
        text: &str,
    ) -> Result<Sent, NodeError> {
        let (from, session, directory) = self.sender(account, from, text)?;
        if !directory.has_peer(to) {
            return Err(ChatError::NoSuchPeer(to.to_string()).into());
        }
        if let Some(channel) = channel.filter(|channel| !directory.has_channel(channel)) {
            return Err(ChatError::NoSuchChannel(channel.to_string()).into());
        }
        let (receiver, recipients) = match self.hosted.peer(to) {
            Ok(local) => (party(to, &local.account), Vec::new()),
            Err(_) => (party(to, REMOTE_ACCOUNT), vec![to.to_string()]),
        };
        let draft = Draft {
            from: party(&from, account),
            to: Some(receiver),
            channel: channel.map(str::to_string),
            text: text.to_string(),
        };
        self.store_and_deliver(&session, draft, &recipients)
    }

    /// Tries again every receiver whose turn has come in the outbox, all
    /// at once (one thread each, so that one gone peer's connect timeout
    /// delays no other), each in order until a letter fails. The keeper
    /// thread calls it every second; tests call it after moving the clock.
    pub fn retry_due(&self) {
        let _pass = self.retrying.lock().unwrap_or_else(PoisonError::into_inner);
        let due = self.outbox.due();
        thread::scope(|scope| {
            for recipient in &due {
                scope.spawn(move || self.flush(recipient));
            }
        });
    }

    /// What every send checks first, in lab 4's order: the acting peer
    /// (one of `account`'s hosted here; 403, or 400 with none), the text
    /// (400, 413). Then the account's tracker session, and the tracker's
    /// directory for the names the send refers to.
    fn sender(
        &self,
        account: &str,
        from: Option<&str>,
        text: &str,
    ) -> Result<(String, String, Directory), NodeError> {
        let from = self.hosted.acting_peer(account, from)?;
        check_text(text)?;
        let session = self.session_or_logged_out(account)?;
        let directory = self.directory(account, &session)?;
        Ok((from, session, directory))
    }

    /// Stores `draft` here, then delivers it to `recipients`.
    fn store_and_deliver(
        &self,
        session: &str,
        draft: Draft,
        recipients: &[String],
    ) -> Result<Sent, NodeError> {
        let storage = |error: &dyn std::fmt::Display| ChatError::Storage(error.to_string());
        let id = random_hex(MESSAGE_ID_BYTES).map_err(|error| storage(&error))?;
        let message = self.store.append(draft).map_err(|error| storage(&error))?;
        let envelope = Envelope {
            id,
            from: message.from().peer.clone(),
            to: message.to().map(|to| to.peer.clone()),
            channel: message.channel().map(str::to_string),
            text: message.text().to_string(),
            timestamp: message.timestamp().to_string(),
        };
        let delivery = self.fan_out(session, &envelope, recipients);
        Ok(Sent { message, delivery })
    }

    /// Delivers `envelope` to every recipient at once, and queues it for
    /// those who could not take it now.
    fn fan_out(&self, session: &str, envelope: &Envelope, recipients: &[String]) -> Delivery {
        let mut delivery = Delivery::default();
        // lab5: begin — one thread per recipient; deliver unless letters already wait for it; queue the failures
        let outcomes: Vec<(&String, Option<Outcome>)> = thread::scope(|scope| {
            let attempts: Vec<_> = recipients
                .iter()
                .map(|recipient| {
                    let attempt = scope.spawn(move || {
                        // Behind letters already waiting: keep their order.
                        (!self.outbox.is_waiting(recipient)).then(|| {
                            self.dialer
                                .deliver(&self.tracker, session, envelope, recipient)
                        })
                    });
                    (recipient, attempt)
                })
                .collect();
            attempts
                .into_iter()
                .map(|(recipient, attempt)| {
                    let failed = || Some(Outcome::Failed("the delivery panicked".to_string()));
                    (recipient, attempt.join().unwrap_or_else(|_| failed()))
                })
                .collect()
        });
        let mut letters = Vec::new();
        for (recipient, outcome) in outcomes {
            match outcome {
                Some(Outcome::Delivered) => continue,
                Some(Outcome::Refused(reason)) => {
                    self.log(&format!(
                        "{} → {recipient}: given up: {reason}",
                        envelope.from
                    ));
                }
                Some(Outcome::Failed(reason)) => {
                    self.log(&format!(
                        "{} → {recipient}: queued: {reason}",
                        envelope.from
                    ));
                    letters.push(self.letter(recipient, envelope));
                }
                None => letters.push(self.letter(recipient, envelope)),
            }
            delivery.unreached.push(recipient.clone());
        }
        match self.outbox.push(letters) {
            Ok(queued) => delivery.queued = queued,
            Err(error) => self.log(&format!("the outbox could not be saved: {error}")),
        }
        // lab5: end
        delivery
    }

    /// A letter of `envelope` for `recipient`, queued now.
    fn letter(&self, recipient: &str, envelope: &Envelope) -> Letter {
        Letter {
            recipient: recipient.to_string(),
            envelope: envelope.clone(),
            queued_at: self.settings.clock.wall(),
        }
    }

    /// Sends `recipient`'s letters, oldest first, until one fails.
    fn flush(&self, recipient: &str) {
        while let Some(letter) = self.outbox.front(recipient) {
            let envelope = &letter.envelope;
            let outcome = if self.outbox.is_expired(&letter) {
                Outcome::Refused("waited too long".to_string())
            } else {
                match self.sender_session(&envelope.from) {
                    Some(session) => {
                        self.dialer
                            .deliver(&self.tracker, &session, envelope, recipient)
                    }
                    None => Outcome::Failed(format!("{} is not logged in here", envelope.from)),
                }
            };
            match outcome {
                Outcome::Delivered => {
                    self.log(&format!(
                        "{} → {recipient}: delivered from the outbox",
                        envelope.from
                    ));
                }
                Outcome::Refused(reason) => {
                    self.log(&format!(
                        "{} → {recipient}: given up: {reason}",
                        envelope.from
                    ));
                }
                Outcome::Failed(reason) => {
                    let wait = self.outbox.failed(recipient);
                    self.log(&format!(
                        "{} → {recipient}: still queued, next try in {wait:?}: {reason}",
                        envelope.from
                    ));
                    return;
                }
            }
            if let Err(error) = self.outbox.remove(recipient, &envelope.id) {
                self.log(&format!("the outbox could not be saved: {error}"));
                return;
            }
        }
    }

    /// The tracker session of the account that hosts peer `peer` here.
    fn sender_session(&self, peer: &str) -> Option<String> {
        let account = self.hosted.peer(peer).ok()?.account;
        self.session(&account)
    }
}

fn party(peer: &str, account: &str) -> Party {
    Party {
        peer: peer.to_string(),
        account: account.to_string(),
    }
}
