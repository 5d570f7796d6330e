//! [`PeerNode`]: one user's process in the peer-to-peer chat — its own
//! message store, the peers it hosts, its tracker sessions, its outbox and
//! its links to other peers, shared by its HTTP side (the UI) and its p2p
//! side (other peers).
//!
//! ```text
//!   browser ──HTTP──► app.rs ──► PeerNode ──► TrackerClient ──HTTP──► tracker (lab 4)
//!                                  │  ├──► Store + Events   DATA/messages.jsonl (lab 4's code)
//!                                  │  ├──► hosted          DATA/hosted/tracker.jsonl (lab 4's code)
//!                                  │  ├──► Outbox          DATA/outbox.jsonl
//!                                  │  └──► Dialer ──frames──► other peers' inboxes
//!   other peers ──frames──► inbox.rs ──┘
//! ```
//!
//! **Accounts and sessions.** The node has no passwords: its user logs in
//! at the tracker through it, and the node keeps that *tracker session*
//! per account ([`PeerNode::link`]). Every call to the tracker for that
//! account carries it — registering, listing, asking for tickets, and
//! checking the tickets of peers that connect to this account's peers. A
//! tracker that answers 401 has ended the session: the node forgets it
//! ([`PeerNode::unlink`]), and the user logs in again.
//!
//! **Hosted peers.** The peer names registered through this node live
//! here: other peers' messages for them arrive here. The node keeps them
//! with lab 4's own tracker code in `DATA/hosted/` (it already knows who
//! owns a name and which peer a request acts as), registers each with the
//! real tracker at the node's p2p address, and registers them again at
//! every login (after a restart its port may have changed) and every
//! [`NodeSettings::refresh_interval`] — which also keeps the account
//! online at the tracker, and repairs a tracker that lost its data.
//!
//! **History** is this node's own: what it sent and what it received, in
//! the order it stored them, with its own ids (lab 4's [`Store`]). There is
//! no global order in a peer-to-peer chat: two nodes may list two messages
//! in different orders, and each is right about its own.
//!
//! Sending is in `send.rs`, receiving in `inbox.rs`.

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::dial::{Dialer, Timeouts};
use super::inbox::Seen;
use super::outbox::{Outbox, RetryPolicy};
use super::tracker::{TrackerClient, TrackerError};
use crate::chat::error::ChatError;
use crate::chat::events::{self, Events, HEARTBEAT, QUEUE_CAPACITY};
use crate::chat::store::{Conversation, Cursor, Message, Store};
use crate::chat::tracker::{ONLINE_WINDOW, Tracker};
use crate::clock::Clock;
use crate::json::{Object, Value};

/// The directory, inside the node's data directory, of the peers it hosts.
pub const HOSTED_DIR: &str = "hosted";

/// Default for [`NodeSettings::refresh_interval`]: well inside the
/// tracker's 30 s online window.
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(10);

/// Default for [`NodeSettings::hello_timeout`].
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// Default for [`NodeSettings::idle_timeout`].
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// A peer node's tunable settings.
#[derive(Clone, Debug)]
pub struct NodeSettings {
    /// Where time comes from: retries, refreshes, the inbox's deadlines,
    /// timestamps.
    pub clock: Clock,
    /// How long a delivery may wait to connect, and for each answer.
    pub timeouts: Timeouts,
    /// When and how long undelivered messages are retried.
    pub retry: RetryPolicy,
    /// How often the hosted peers are registered again.
    pub refresh_interval: Duration,
    /// How long a connecting peer has to send its whole hello.
    pub hello_timeout: Duration,
    /// How long an incoming connection may wait for its next frame.
    pub idle_timeout: Duration,
    /// How long an event stream stays silent before it sends a ping.
    pub heartbeat: Duration,
    /// Whether to keep quiet about deliveries and retries on stderr.
    pub quiet: bool,
}

impl Default for NodeSettings {
    fn default() -> Self {
        NodeSettings {
            clock: Clock::system(),
            timeouts: Timeouts::default(),
            retry: RetryPolicy::default(),
            refresh_interval: REFRESH_INTERVAL,
            hello_timeout: HELLO_TIMEOUT,
            idle_timeout: IDLE_TIMEOUT,
            heartbeat: HEARTBEAT,
            quiet: false,
        }
    }
}

/// Why a request to the node failed: a rule of the chat, or the tracker.
#[derive(Debug)]
pub enum NodeError {
    /// A refusal with lab 4's meaning and status (`docs/protocol.md`).
    Chat(ChatError),
    /// The tracker refused, is gone, or has ended the session.
    Tracker(TrackerError),
}

impl From<ChatError> for NodeError {
    fn from(error: ChatError) -> Self {
        NodeError::Chat(error)
    }
}

impl From<TrackerError> for NodeError {
    fn from(error: TrackerError) -> Self {
        NodeError::Tracker(error)
    }
}

/// One peer node; share it with an `Arc` between the HTTP side, the p2p
/// side and the keeper thread. Each part guards itself; the node's own
/// locks are `links` and `retrying`, described where they are declared.
pub struct PeerNode {
    pub(super) settings: NodeSettings,
    pub(super) tracker: TrackerClient,
    /// Where other peers connect to this node: registered with the tracker.
    pub(super) p2p_addr: SocketAddr,
    /// The peers this node hosts and their accounts.
    pub(super) hosted: Tracker,
    /// Account → its tracker session. Held only to read, insert or remove
    /// one entry, never during I/O or with another lock: no deadlock.
    links: Mutex<HashMap<String, String>>,
    pub(super) store: Store,
    pub(super) events: Arc<Events>,
    pub(super) outbox: Outbox,
    pub(super) dialer: Dialer,
    /// Ids of the messages received lately, so that one sent twice is
    /// stored once.
    pub(super) seen: Seen,
    /// Held for a whole pass over the outbox, so that two passes (the
    /// keeper's and a test's) never send the same letter at once. It is
    /// taken before any other lock and never while holding one.
    pub(super) retrying: Mutex<()>,
}

impl PeerNode {
    /// Opens the node kept in data directory `dir` (created if missing),
    /// for the tracker at `tracker_url`; other peers will reach it at
    /// `p2p_addr`.
    pub fn open(
        dir: &Path,
        tracker_url: &str,
        p2p_addr: SocketAddr,
        settings: NodeSettings,
    ) -> io::Result<PeerNode> {
        let tracker = TrackerClient::new(tracker_url)
            .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error.to_string()))?;
        let (store, events) = events::open_store(dir, settings.clock.clone(), QUEUE_CAPACITY)?;
        let hosted = Tracker::open(
            &dir.join(HOSTED_DIR),
            settings.clock.clone(),
            ONLINE_WINDOW,
            |_| false,
        )?;
        let outbox = Outbox::open(dir, settings.clock.clone(), settings.retry)?;
        Ok(PeerNode {
            dialer: Dialer::new(settings.timeouts),
            settings,
            tracker,
            p2p_addr,
            hosted,
            links: Mutex::new(HashMap::new()),
            store,
            events,
            outbox,
            seen: Seen::default(),
            retrying: Mutex::new(()),
        })
    }

    /// The tracker's client.
    pub fn tracker(&self) -> &TrackerClient {
        &self.tracker
    }

    /// Where other peers reach this node.
    pub fn p2p_addr(&self) -> SocketAddr {
        self.p2p_addr
    }

    /// The node's message store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The node's outbox.
    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// The settings it was opened with.
    pub fn settings(&self) -> &NodeSettings {
        &self.settings
    }

    /// `account` logged in with tracker session `session`: keeps it, and
    /// registers the account's hosted peers again at this node's address.
    pub fn link(&self, account: &str, session: &str) {
        self.links()
            .insert(account.to_string(), session.to_string());
        self.reregister(account, session);
    }

    /// Forgets `account`'s tracker session and ends it at the tracker.
    pub fn unlink(&self, account: &str) {
        let session = self.links().remove(account);
        if let Some(session) = session {
            self.tracker.logout(&session);
        }
    }

    /// The tracker session of `account`, if it is logged in here.
    pub fn session(&self, account: &str) -> Option<String> {
        self.links().get(account).cloned()
    }

    /// `POST /submit-info` from the UI: registers peer `name` of `account`
    /// with the tracker at this node's p2p address (whatever address the
    /// browser sent), and hosts it here. The tracker's answer.
    pub fn register_peer(
        &self,
        account: &str,
        session: &str,
        name: &str,
    ) -> Result<Object, NodeError> {
        let answer = self
            .tracker
            .submit_info(session, name, self.p2p_addr)
            .map_err(|error| self.tracker_failed(account, error))?;
        self.hosted
            .register(account, name, self.p2p_addr.ip(), self.p2p_addr.port())?;
        Ok(answer)
    }

    /// Registers every linked account's hosted peers again (the keeper
    /// calls it every [`NodeSettings::refresh_interval`]).
    pub fn refresh(&self) {
        let links: Vec<(String, String)> = self
            .links()
            .iter()
            .map(|(account, session)| (account.clone(), session.clone()))
            .collect();
        for (account, session) in links {
            self.reregister(&account, &session);
        }
    }

    /// A page of this node's history that `account` may see. An empty page
    /// of a conversation the tracker has never heard of is a 404, as in
    /// lab 4.
    pub fn history(
        &self,
        account: &str,
        conversation: &Conversation,
        cursor: Cursor,
        limit: usize,
    ) -> Result<Vec<Arc<Message>>, NodeError> {
        let page = self.store.history(account, conversation, cursor, limit);
        if page.is_empty() {
            self.check_known(account, conversation)?;
        }
        Ok(page)
    }

    /// `GET /events`: this node's new messages that `account` may see, as
    /// lab 4 streams them (see [`events::pump`]).
    pub fn stream_events(
        &self,
        account: &str,
        last_event_id: Option<u64>,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        let last_event_id = last_event_id.map(|id| id.min(self.store.last_id()));
        let subscription = self.events.subscribe(account);
        let replay = |after, limit| self.store.visible_after(account, after, limit);
        events::pump(
            subscription,
            last_event_id,
            replay,
            self.settings.heartbeat,
            out,
        )
    }

    /// Ends every event stream and closes every outgoing link: the node is
    /// stopping.
    pub fn close(&self) {
        self.events.close();
        self.dialer.close_all();
    }

    /// The tracker session of `account`, or the error that sends its user
    /// to the login page.
    pub(super) fn session_or_logged_out(&self, account: &str) -> Result<String, NodeError> {
        self.session(account)
            .ok_or(NodeError::Tracker(TrackerError::LoggedOut))
    }

    /// `error` from a tracker call made for `account`; a 401 also forgets
    /// the account's session.
    pub(super) fn tracker_failed(&self, account: &str, error: TrackerError) -> NodeError {
        if matches!(error, TrackerError::LoggedOut) {
            self.links().remove(account);
        }
        NodeError::Tracker(error)
    }

    /// The tracker's peers and channels, as `account` sees them.
    pub(super) fn directory(&self, account: &str, session: &str) -> Result<Directory, NodeError> {
        let listing = self
            .tracker
            .listing(session)
            .map_err(|error| self.tracker_failed(account, error))?;
        Directory::read(&listing).map_err(|problem| {
            NodeError::Tracker(TrackerError::BadAnswer(format!("/get-list: {problem}")))
        })
    }

    /// Writes a line on stderr, unless the node is quiet.
    pub(super) fn log(&self, line: &str) {
        if !self.settings.quiet {
            eprintln!("p2p: {line}");
        }
    }

    fn links(&self) -> MutexGuard<'_, HashMap<String, String>> {
        self.links.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers `account`'s hosted peers with the tracker at this node's
    /// address; a 401 forgets the session.
    fn reregister(&self, account: &str, session: &str) {
        let listing = self.hosted.listing(|_| false);
        let names = listing
            .peers
            .iter()
            .filter(|row| row.peer.account == account)
            .map(|row| row.peer.username.as_str());
        for name in names {
            match self.tracker.submit_info(session, name, self.p2p_addr) {
                Ok(_) => {}
                Err(TrackerError::LoggedOut) => {
                    self.log(&format!("{account}'s tracker session has ended"));
                    self.links().remove(account);
                    return;
                }
                Err(error) => self.log(&format!("registering {name} again: {error}")),
            }
        }
    }

    /// Fails with lab 4's 404 when the tracker knows no such channel or
    /// peer. When the tracker cannot say, the conversation is taken as
    /// known (the page is simply empty).
    fn check_known(&self, account: &str, conversation: &Conversation) -> Result<(), NodeError> {
        let Some(session) = self.session(account) else {
            return Ok(());
        };
        let Ok(directory) = self.directory(account, &session) else {
            return Ok(());
        };
        match conversation {
            Conversation::Channel(channel) if !directory.has_channel(channel) => {
                Err(ChatError::NoSuchChannel(channel.clone()).into())
            }
            Conversation::Peer(peer) if !directory.has_peer(peer) => {
                Err(ChatError::NoSuchPeer(peer.clone()).into())
            }
            _ => Ok(()),
        }
    }
}

/// What the tracker's `GET /get-list` says: every peer with its channels,
/// and every channel.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Directory {
    peers: Vec<(String, Vec<String>)>,
    channels: Vec<String>,
}

impl Directory {
    /// Reads `{"peers":[{"username","channels",…}],"channels":[…]}`.
    fn read(listing: &Object) -> Result<Directory, String> {
        let strings = |value: Option<&Value>| -> Option<Vec<String>> {
            value?
                .as_array()?
                .iter()
                .map(|item| item.as_str().map(str::to_string))
                .collect()
        };
        let peers = listing
            .get("peers")
            .and_then(Value::as_array)
            .ok_or("no \"peers\" array")?
            .iter()
            .map(|peer| {
                let name = peer.get("username").and_then(Value::as_str);
                let channels = strings(peer.get("channels"));
                name.zip(channels)
                    .map(|(name, channels)| (name.to_string(), channels))
            })
            .collect::<Option<Vec<_>>>()
            .ok_or("a peer without \"username\" or \"channels\"")?;
        let channels = strings(listing.get("channels")).ok_or("no \"channels\" array")?;
        Ok(Directory { peers, channels })
    }

    /// Whether a peer is called `name`.
    pub(super) fn has_peer(&self, name: &str) -> bool {
        self.peers.iter().any(|(peer, _)| peer == name)
    }

    /// Whether a channel is called `name`.
    pub(super) fn has_channel(&self, name: &str) -> bool {
        self.channels.iter().any(|channel| channel == name)
    }

    /// Whether peer `peer` is a member of `channel`.
    pub(super) fn is_member(&self, peer: &str, channel: &str) -> bool {
        self.peers
            .iter()
            .any(|(name, channels)| name == peer && channels.iter().any(|c| c == channel))
    }

    /// The members of `channel`.
    pub(super) fn members(&self, channel: &str) -> Vec<String> {
        self.peers
            .iter()
            .filter(|(_, channels)| channels.iter().any(|c| c == channel))
            .map(|(name, _)| name.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    #[test]
    fn the_directory_reads_the_trackers_listing() {
        let listing = json::parse(
            r#"{"status":"ok","peers":[
                {"username":"alice","ip":"127.0.0.1","port":9101,"online":true,"channels":["general","rust"]},
                {"username":"bob","ip":"127.0.0.1","port":9102,"online":false,"channels":["general"]},
                {"username":"carol","ip":"127.0.0.1","port":9103,"online":false,"channels":[]}],
               "channels":["general","rust","empty"]}"#,
        )
        .expect("JSON");
        let directory = Directory::read(listing.as_object().expect("object")).expect("read");
        assert_eq!(directory.members("general"), ["alice", "bob"]);
        assert_eq!(directory.members("rust"), ["alice"]);
        assert!(directory.members("empty").is_empty());
        assert!(directory.is_member("bob", "general") && !directory.is_member("bob", "rust"));
        assert!(directory.has_peer("carol") && !directory.has_peer("dave"));
        assert!(directory.has_channel("empty") && !directory.has_channel("nope"));
        let broken = json::parse(r#"{"peers":[{"username":"x"}],"channels":[]}"#).expect("JSON");
        assert!(Directory::read(broken.as_object().expect("object")).is_err());
    }
}
