//! The chat as a set of operations: the tracker, the message store and the
//! event fan-out put together, with the rules that span them.
//!
//! Every operation takes the logged-in account first — identity comes from
//! the session, never from the request body — and checks, in this order:
//! the peer the request acts as belongs to the account (403, or 400 when
//! the account has none yet), the message text (400 empty, 413 too long),
//! then the names it refers to (404) and the membership it needs (403).
//! The routes in `api.rs` only read JSON in and write JSON out.
//!
//! ```text
//!   api.rs ──► Chat ──► Tracker   peers, owners, channels   (tracker.jsonl)
//!                  ├──► Store     messages, group commit    (messages.jsonl)
//!                  └──► Events ◄── Store's on_commit: publish each durable batch
//! ```
//!
//! Every request also marks its account as seen, for the online dots.

use std::io::{self, Write};
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::error::ChatError;
use super::events::{self, Events, HEARTBEAT, QUEUE_CAPACITY};
use super::store::{Conversation, Cursor, Draft, Message, Party, Store};
use super::tracker::{Listing, ONLINE_WINDOW, Peer, Tracker};
use crate::clock::Clock;

/// Longest message text accepted, in bytes of UTF-8 (413 above): the
/// issue's 4 KiB.
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024;

/// The chat's tunable settings.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Where time comes from (timestamps, online status).
    pub clock: Clock,
    /// How long after its account's last request a peer counts as online.
    pub online_window: Duration,
    /// How long an event stream stays silent before it sends a ping.
    pub heartbeat: Duration,
    /// How many messages an event stream may fall behind before it is
    /// dropped (and resumes).
    pub queue_capacity: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            clock: Clock::system(),
            online_window: ONLINE_WINDOW,
            heartbeat: HEARTBEAT,
            queue_capacity: QUEUE_CAPACITY,
        }
    }
}

/// One chat server's state; share it between connection threads with an
/// `Arc`. Each part guards itself (see their lock comments); no operation
/// holds a lock of one part while calling into another, so the parts
/// cannot deadlock each other.
pub struct Chat {
    tracker: Tracker,
    store: Store,
    events: Arc<Events>,
    heartbeat: Duration,
}

impl Chat {
    /// Opens the chat kept in data directory `dir` (created if missing):
    /// replays the message log, loads the tracker. `is_account` says
    /// whether an account of a name exists, so that no peer takes another
    /// account's username.
    pub fn open(
        dir: &Path,
        settings: Settings,
        is_account: impl Fn(&str) -> bool + Send + Sync + 'static,
    ) -> io::Result<Chat> {
        let events = Arc::new(Events::new(settings.queue_capacity));
        let publisher = Arc::clone(&events);
        let store = Store::open(
            dir,
            settings.clock.clone(),
            move |batch: &[Arc<Message>]| publisher.publish(batch),
        )?;
        let tracker = Tracker::open(dir, settings.clock, settings.online_window, is_account)?;
        Ok(Chat {
            tracker,
            store,
            events,
            heartbeat: settings.heartbeat,
        })
    }

    /// `POST /submit-info`: registers peer `name` of `account`, or updates
    /// its address.
    pub fn register_peer(
        &self,
        account: &str,
        name: &str,
        ip: IpAddr,
        port: u16,
    ) -> Result<Peer, ChatError> {
        self.tracker.touch(account);
        self.tracker.register(account, name, ip, port)
    }

    /// `POST /add-list`: the acting peer joins `channel` (created if new);
    /// returns the members.
    pub fn join(
        &self,
        account: &str,
        peer: Option<&str>,
        channel: &str,
    ) -> Result<Vec<String>, ChatError> {
        let peer = self.acting(account, peer)?;
        self.tracker.join(&peer, channel)
    }

    /// `GET /get-list`: every peer, with its online status and channels,
    /// and every channel.
    pub fn listing(&self, account: &str) -> Listing {
        self.tracker.touch(account);
        self.tracker.listing(|owner| self.events.has_stream(owner))
    }

    /// `POST /connect-peer`: the address of peer `to`, for the acting peer.
    pub fn connect(&self, account: &str, from: Option<&str>, to: &str) -> Result<Peer, ChatError> {
        self.acting(account, from)?;
        self.tracker.peer(to)
    }

    /// `POST /broadcast-peer`: stores `text` from the acting peer in
    /// `channel` (of which it must be a member) and returns it once it is
    /// durable; the event streams get it too.
    pub fn broadcast(
        &self,
        account: &str,
        from: Option<&str>,
        channel: &str,
        text: &str,
    ) -> Result<Arc<Message>, ChatError> {
        let from = self.acting(account, from)?;
        check_text(text)?;
        self.tracker.check_member(&from, channel)?;
        self.append(Draft {
            from: party(from, account),
            to: None,
            channel: Some(channel.to_string()),
            text: text.to_string(),
        })
    }

    /// `POST /send-peer`: stores a direct message from the acting peer to
    /// peer `to`, optionally in `channel` (which must exist), and returns
    /// it once it is durable. Only the two peers' accounts will see it.
    pub fn send(
        &self,
        account: &str,
        from: Option<&str>,
        to: &str,
        channel: Option<&str>,
        text: &str,
    ) -> Result<Arc<Message>, ChatError> {
        let from = self.acting(account, from)?;
        check_text(text)?;
        let to = self.tracker.peer(to)?;
        if let Some(channel) = channel {
            self.tracker.check_channel(channel)?;
        }
        self.append(Draft {
            from: party(from, account),
            to: Some(party(to.username, &to.account)),
            channel: channel.map(str::to_string),
            text: text.to_string(),
        })
    }

    /// `POST /channel/messages`: a page of the history of a channel or of
    /// the direct messages with a peer, as `account` may see it.
    pub fn history(
        &self,
        account: &str,
        conversation: &Conversation,
        cursor: Cursor,
        limit: usize,
    ) -> Result<Vec<Arc<Message>>, ChatError> {
        self.tracker.touch(account);
        match conversation {
            Conversation::Channel(channel) => self.tracker.check_channel(channel)?,
            Conversation::Peer(peer) => {
                self.tracker.peer(peer)?;
            }
        }
        Ok(self.store.history(account, conversation, cursor, limit))
    }

    /// `GET /events`: runs an event stream of `account` on `out` until it
    /// is dropped or the client goes, resuming after `last_event_id` if
    /// given (see [`events::pump`]).
    pub fn stream_events(
        &self,
        account: &str,
        last_event_id: Option<u64>,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        self.tracker.touch(account);
        // An id beyond the newest message can only come from before the
        // data directory was reset (ids started again from 1): resume from
        // the newest instead, or the stream would skip every new message
        // up to that id.
        let newest = self.store.last_id();
        let last_event_id = last_event_id.map(|id| id.min(newest));
        let subscription = self.events.subscribe(account);
        let replay = |after, limit| self.store.visible_after(account, after, limit);
        events::pump(subscription, last_event_id, replay, self.heartbeat, out)
    }

    /// Ends every event stream (after what each has queued): for a server
    /// that is shutting down, so that no connection waits for a heartbeat.
    pub fn close_streams(&self) {
        self.events.close();
    }

    /// The tracker, for a lab binary's own checks (such as refusing to
    /// register an account whose name a peer has taken).
    pub fn tracker(&self) -> &Tracker {
        &self.tracker
    }

    /// The message store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The event fan-out.
    pub fn events(&self) -> &Events {
        &self.events
    }

    /// The peer a request of `account` acts as (see [`Tracker::acting_peer`]).
    fn acting(&self, account: &str, named: Option<&str>) -> Result<String, ChatError> {
        self.tracker.touch(account);
        self.tracker.acting_peer(account, named)
    }

    fn append(&self, draft: Draft) -> Result<Arc<Message>, ChatError> {
        self.store
            .append(draft)
            .map_err(|error| ChatError::Storage(error.to_string()))
    }
}

fn party(peer: String, account: &str) -> Party {
    Party {
        peer,
        account: account.to_string(),
    }
}

/// A message text must hold something besides white space, and fit in
/// [`MAX_MESSAGE_BYTES`].
fn check_text(text: &str) -> Result<(), ChatError> {
    if text.len() > MAX_MESSAGE_BYTES {
        Err(ChatError::MessageTooLong)
    } else if text.trim().is_empty() {
        Err(ChatError::EmptyMessage)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::testing::pipe;
    use crate::durable::TempDir;
    use std::thread;

    const LOCALHOST: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    /// Registers `(account, peer, port)` triples.
    fn register(chat: &Chat, peers: &[(&str, &str, u16)]) {
        for &(account, name, port) in peers {
            chat.register_peer(account, name, LOCALHOST, port)
                .unwrap_or_else(|error| panic!("{account} registers {name}: {error}"));
        }
    }

    fn open(dir: &TempDir) -> Arc<Chat> {
        let settings = Settings {
            clock: Clock::manual().0,
            heartbeat: Duration::from_millis(20),
            ..Settings::default()
        };
        let accounts = |name: &str| ["alice", "bob", "carol"].contains(&name);
        Arc::new(Chat::open(dir.path(), settings, accounts).expect("open chat"))
    }

    #[test]
    fn checks_come_in_the_documented_order() {
        let dir = TempDir::new("service");
        let chat = open(&dir);
        register(&chat, &[("alice", "ann", 9100), ("bob", "bo", 9200)]);
        let long = "x".repeat(MAX_MESSAGE_BYTES + 1);
        let fits = "é".repeat(MAX_MESSAGE_BYTES / 2);
        // (account, from, channel, text, expected)
        let cases = [
            ("carol", None, "general", "hi", Err(ChatError::NoPeer)),
            (
                "bob",
                Some("ann"),
                "general",
                "",
                Err(ChatError::NotYourPeer("ann".into())),
            ),
            ("alice", None, "nope", "", Err(ChatError::EmptyMessage)),
            ("alice", None, "nope", " \n\t", Err(ChatError::EmptyMessage)),
            (
                "alice",
                None,
                "nope",
                long.as_str(),
                Err(ChatError::MessageTooLong),
            ),
            (
                "alice",
                None,
                "nope",
                "hi",
                Err(ChatError::NoSuchChannel("nope".into())),
            ),
            (
                "alice",
                None,
                "general",
                "hi",
                Err(ChatError::NotMember {
                    peer: "ann".into(),
                    channel: "general".into(),
                }),
            ),
        ];
        for (account, from, channel, text, expected) in cases {
            let result = chat.broadcast(account, from, channel, text).map(|m| m.id());
            assert_eq!(
                result,
                expected,
                "{account} as {from:?} broadcasting {} bytes to {channel}",
                text.len()
            );
        }
        chat.join("alice", None, "general").expect("join");
        let message = chat
            .broadcast("alice", None, "general", &fits)
            .expect("4 KiB fits");
        assert_eq!(message.text().len(), MAX_MESSAGE_BYTES);
        assert_eq!(
            chat.send("alice", None, "nobody", None, "hi")
                .map(|m| m.id()),
            Err(ChatError::NoSuchPeer("nobody".into()))
        );
        assert_eq!(
            chat.send("alice", None, "bo", Some("nope"), "hi")
                .map(|m| m.id()),
            Err(ChatError::NoSuchChannel("nope".into()))
        );
    }

    #[test]
    fn direct_messages_are_private_in_history_and_in_events() {
        let dir = TempDir::new("service");
        let chat = open(&dir);
        register(
            &chat,
            &[
                ("alice", "ann", 9100),
                ("alice", "ann2", 9101),
                ("bob", "bo", 9200),
                ("carol", "cy", 9300),
            ],
        );
        let (mut carol_out, mut carol_stream) = pipe();
        let (mut bob_out, mut bob_stream) = pipe();
        thread::scope(|scope| {
            let reader = Arc::clone(&chat);
            scope.spawn(move || reader.stream_events("carol", None, &mut carol_out));
            let reader = Arc::clone(&chat);
            scope.spawn(move || reader.stream_events("bob", None, &mut bob_out));
            assert_eq!(carol_stream.block(), ": connected");
            assert_eq!(bob_stream.block(), ": connected");
            chat.send("alice", Some("ann2"), "bo", Some("general"), "secret")
                .expect("dm");
            chat.join("carol", None, "general").expect("join");
            chat.broadcast("carol", None, "general", "public")
                .expect("broadcast");
            let carol_events = carol_stream.events(1);
            assert_eq!(
                carol_events[0].1.get("message").and_then(|m| m.as_str()),
                Some("public"),
                "carol's stream skips the DM between alice and bob"
            );
            let bob_events = bob_stream.events(2);
            assert_eq!(
                bob_events.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
                [1, 2],
                "bob's stream has the DM, then the broadcast"
            );
            chat.close_streams();
        });
        let general = Conversation::Channel("general".into());
        let read = |account: &str, conversation: &Conversation| -> Vec<String> {
            chat.history(account, conversation, Cursor::Newest, 100)
                .expect("history")
                .iter()
                .map(|message| message.text().to_string())
                .collect()
        };
        assert_eq!(read("carol", &general), ["public"]);
        assert_eq!(read("bob", &general), ["secret", "public"]);
        assert_eq!(read("alice", &Conversation::Peer("bo".into())), ["secret"]);
        assert_eq!(read("bob", &Conversation::Peer("ann2".into())), ["secret"]);
        assert!(read("carol", &Conversation::Peer("bo".into())).is_empty());
        assert!(read("carol", &Conversation::Peer("ann2".into())).is_empty());
        assert_eq!(
            chat.history(
                "carol",
                &Conversation::Peer("ghost".into()),
                Cursor::Newest,
                1
            )
            .map(|page| page.len()),
            Err(ChatError::NoSuchPeer("ghost".into()))
        );
    }

    #[test]
    fn a_stream_resuming_from_an_id_of_a_wiped_log_still_gets_new_messages() {
        let dir = TempDir::new("service");
        let chat = open(&dir);
        register(&chat, &[("alice", "ann", 9100)]);
        chat.join("alice", None, "general").expect("join");
        chat.broadcast("alice", None, "general", "one")
            .expect("one");
        let (mut out, mut stream) = pipe();
        thread::scope(|scope| {
            let reader = Arc::clone(&chat);
            scope.spawn(move || reader.stream_events("alice", Some(500), &mut out));
            assert_eq!(stream.block(), ": connected");
            chat.broadcast("alice", None, "general", "two")
                .expect("two");
            let ids: Vec<u64> = stream.events(1).into_iter().map(|(id, _)| id).collect();
            assert_eq!(ids, [2], "Last-Event-ID 500 on a log that ends at 1");
            chat.close_streams();
        });
    }

    #[test]
    fn a_restart_keeps_messages_peers_and_channels() {
        let dir = TempDir::new("service");
        let chat = open(&dir);
        register(&chat, &[("alice", "ann", 9100), ("bob", "bo", 9200)]);
        chat.join("alice", None, "rust").expect("join");
        let sent = [
            chat.broadcast("alice", None, "rust", "one").expect("one"),
            chat.send("bob", None, "ann", None, "two").expect("two"),
        ];
        let listing = chat.listing("alice");
        drop(chat);
        let chat = open(&dir);
        let replayed = chat.store().visible_after("alice", 0, 100);
        assert_eq!(replayed, sent, "every acknowledged message is back");
        let mut expected = listing;
        for row in &mut expected.peers {
            row.online = false;
        }
        assert_eq!(
            chat.tracker().listing(|_| false),
            expected,
            "peers and channels are back (nobody is online after a restart)"
        );
        assert_eq!(
            chat.broadcast("alice", None, "rust", "three")
                .map(|m| m.id()),
            Ok(3),
            "membership is back and ids continue"
        );
    }
}
