//! The tracker: who is in the chat, where each peer can be reached, which
//! channels exist and who has joined them — the client-server half of the
//! course's hybrid design (`docs/lab4_chat.md`, "The tracker").
//!
//! A **peer** is a name with an address (`ip`, `port`) that a logged-in
//! **account** registers (`POST /submit-info`). Names belong to accounts:
//! an account may register several (tabs of one browser share one
//! session, so several tabs are several peers of one account), and a name
//! that another account registered, or that is another account's
//! username, is refused ([`ChatError::NameTaken`], 409). Acting as a peer
//! of another account is refused too ([`ChatError::NotYourPeer`], 403).
//! Names are never released: a peer stays registered (and its name taken)
//! for good, so a name cannot change hands and nobody inherits someone
//! else's direct messages.
//!
//! A **channel** is a name and a set of member peers; `general` exists
//! from the start, and joining a channel that does not exist creates it.
//! Peer and channel names follow the kit's name rule
//! ([`crate::auth::accounts::valid_name`]).
//!
//! **Online.** Tabs of one browser share one session, so the server cannot
//! tell which of an account's tabs is still open: being online is a
//! property of the account, shared by its peers. A peer is online while
//! its account holds an event stream, or made a chat request within the
//! last [`ONLINE_WINDOW`] (a setting; time from the [`Clock`]).
//!
//! **On disk**, peers and memberships are saved to `DIR/tracker.jsonl`
//! after every change, before the change is answered, by replacing the
//! whole file atomically ([`crate::durable::replace_file`]). One JSON
//! object a line, peers in registration order (an account's first peer is
//! the one used when a request names none), then channels:
//!
//! ```text
//! {"peer":"ann","account":"alice","ip":"127.0.0.1","port":9100}
//! {"channel":"general","members":["ann"]}
//! ```
//!
//! A malformed line is skipped with a warning at start, as in the accounts
//! file. "Last seen" times are not saved: after a restart everyone is
//! offline until they come back.
//!
//! Left out on purpose: leaving a channel and removing a peer (the course
//! has neither), and vouching for peers to one another — lab 5 adds
//! tickets to `/connect-peer` for that, on top of [`Tracker::peer`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::error::ChatError;
use super::fields;
use crate::auth::accounts::valid_name;
use crate::clock::Clock;
use crate::durable;
use crate::json::{self, Object, Value};

/// The tracker's file name inside the data directory.
pub const TRACKER_FILE: &str = "tracker.jsonl";

/// The channel that always exists.
pub const GENERAL: &str = "general";

/// Default for how long after its last request an account's peers count
/// as online (the issue's 30 s).
pub const ONLINE_WINDOW: Duration = Duration::from_secs(30);

/// A registered peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    /// The peer's name (the API calls it `username`).
    pub username: String,
    /// The account that owns it; never shown to other users.
    pub account: String,
    /// Where it says it can be reached.
    pub ip: IpAddr,
    /// Its port, 1–65535.
    pub port: u16,
}

/// One row of the peer list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerStatus {
    /// The peer.
    pub peer: Peer,
    /// Whether its account is online (see the module documentation).
    pub online: bool,
    /// The channels it has joined, by name.
    pub channels: Vec<String>,
}

/// Everything `GET /get-list` shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listing {
    /// Every peer, by name.
    pub peers: Vec<PeerStatus>,
    /// Every channel's name, sorted.
    pub channels: Vec<String>,
}

/// The port number `number`, if it is one (1–65535; 0 is not a port one
/// can connect to).
pub fn valid_port(number: u64) -> Option<u16> {
    u16::try_from(number).ok().filter(|port| *port != 0)
}

/// What is saved: peers, who owns them, channels and their members.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct State {
    /// Name → peer.
    peers: BTreeMap<String, Peer>,
    /// Account → its peers' names, in the order it registered them.
    owned: BTreeMap<String, Vec<String>>,
    /// Channel → its members' names.
    channels: BTreeMap<String, BTreeSet<String>>,
}

/// The tracker of one data directory; every method takes `&self`.
pub struct Tracker {
    dir: PathBuf,
    /// Whether an account of this name exists (a peer may not take another
    /// account's username).
    is_account: Box<dyn Fn(&str) -> bool + Send + Sync>,
    clock: Clock,
    online_window: Duration,
    /// Taken around a whole change: copy the state, edit the copy, write
    /// the file, publish. One change at a time, so files are written in the
    /// order changes are made and none overwrites another. Lock order:
    /// `changing`, then `state`; nothing takes them the other way round,
    /// so they cannot deadlock.
    changing: Mutex<()>,
    /// The saved state as published. Held only to read or replace it,
    /// never during file I/O, and never while taking another lock.
    state: Mutex<State>,
    /// Account → when it last made a request. Held only to read or set one
    /// entry, never with another lock.
    seen: Mutex<HashMap<String, Instant>>,
}

impl Tracker {
    /// Loads the tracker of data directory `dir` (which need not exist
    /// yet). `is_account` says whether an account of a name exists; a peer
    /// is online for `online_window` after its account's last request.
    ///
    /// Fails only if the file exists but cannot be read.
    pub fn open(
        dir: &Path,
        clock: Clock,
        online_window: Duration,
        is_account: impl Fn(&str) -> bool + Send + Sync + 'static,
    ) -> io::Result<Tracker> {
        let state = load(&dir.join(TRACKER_FILE))?;
        Ok(Tracker {
            dir: dir.to_path_buf(),
            is_account: Box::new(is_account),
            clock,
            online_window,
            changing: Mutex::new(()),
            state: Mutex::new(state),
            seen: Mutex::new(HashMap::new()),
        })
    }

    /// Registers peer `name` for `account` at `ip`:`port`, or updates the
    /// address of a peer the account already owns; saved before it returns.
    pub fn register(
        &self,
        account: &str,
        name: &str,
        ip: IpAddr,
        port: u16,
    ) -> Result<Peer, ChatError> {
        valid_name(name).map_err(ChatError::BadRequest)?;
        if name != account && (self.is_account)(name) {
            return Err(ChatError::NameTaken(name.to_string()));
        }
        let peer = Peer {
            username: name.to_string(),
            account: account.to_string(),
            ip,
            port,
        };
        self.change(|state| {
            match state.peers.get(name) {
                Some(existing) if existing.account != account => {
                    return Err(ChatError::NameTaken(name.to_string()));
                }
                Some(_) => {}
                None => state
                    .owned
                    .entry(account.to_string())
                    .or_default()
                    .push(name.to_string()),
            }
            state.peers.insert(name.to_string(), peer.clone());
            Ok(peer)
        })
    }

    /// The peer a request of `account` acts as: `named` if the account owns
    /// it, else [`ChatError::NotYourPeer`]; when `named` is `None`, the
    /// account's first peer, else [`ChatError::NoPeer`].
    pub fn acting_peer(&self, account: &str, named: Option<&str>) -> Result<String, ChatError> {
        let state = self.state();
        // lab4: begin — only the account's own peers; none named means its first
        match named {
            Some(name) => match state.peers.get(name) {
                Some(peer) if peer.account == account => Ok(name.to_string()),
                _ => Err(ChatError::NotYourPeer(name.to_string())),
            },
            None => state
                .owned
                .get(account)
                .and_then(|names| names.first())
                .cloned()
                .ok_or(ChatError::NoPeer),
        }
        // lab4: end
    }

    /// The peer called `name`.
    pub fn peer(&self, name: &str) -> Result<Peer, ChatError> {
        self.state()
            .peers
            .get(name)
            .cloned()
            .ok_or_else(|| ChatError::NoSuchPeer(name.to_string()))
    }

    /// Adds `peer` to `channel`, creating the channel if it is new; saved
    /// before it returns. Returns the members, sorted.
    pub fn join(&self, peer: &str, channel: &str) -> Result<Vec<String>, ChatError> {
        valid_name(channel).map_err(ChatError::BadRequest)?;
        self.change(|state| {
            let members = state.channels.entry(channel.to_string()).or_default();
            members.insert(peer.to_string());
            Ok(members.iter().cloned().collect())
        })
    }

    /// Fails with [`ChatError::NoSuchChannel`] unless `channel` exists.
    pub fn check_channel(&self, channel: &str) -> Result<(), ChatError> {
        self.members_have(channel, |_| true).map(|_| ())
    }

    /// Fails unless `channel` exists ([`ChatError::NoSuchChannel`]) and
    /// `peer` is a member ([`ChatError::NotMember`]).
    pub fn check_member(&self, peer: &str, channel: &str) -> Result<(), ChatError> {
        if self.members_have(channel, |members| members.contains(peer))? {
            Ok(())
        } else {
            Err(ChatError::NotMember {
                peer: peer.to_string(),
                channel: channel.to_string(),
            })
        }
    }

    /// Notes that `account` made a request now: its peers are online for
    /// the next window.
    pub fn touch(&self, account: &str) {
        let now = self.clock.now();
        lock(&self.seen).insert(account.to_string(), now);
    }

    /// Every peer and channel. `has_stream` says whether an account holds an
    /// event stream (which makes its peers online).
    pub fn listing(&self, has_stream: impl Fn(&str) -> bool) -> Listing {
        let (peers, channels) = {
            let state = self.state();
            let mut channels_of: HashMap<&str, Vec<String>> = HashMap::new();
            for (channel, members) in &state.channels {
                for member in members {
                    channels_of
                        .entry(member.as_str())
                        .or_default()
                        .push(channel.clone());
                }
            }
            let peers: Vec<(Peer, Vec<String>)> = state
                .peers
                .values()
                .map(|peer| {
                    let channels = channels_of.remove(peer.username.as_str());
                    (peer.clone(), channels.unwrap_or_default())
                })
                .collect();
            let channels: Vec<String> = state.channels.keys().cloned().collect();
            (peers, channels)
        };
        // The state lock is released: `has_stream` takes the events' lock,
        // and `seen` is only ever held alone.
        let peers = peers
            .into_iter()
            .map(|(peer, channels)| PeerStatus {
                online: has_stream(&peer.account) || self.recently_seen(&peer.account),
                peer,
                channels,
            })
            .collect();
        Listing { peers, channels }
    }

    /// Whether `account` made a request within the online window.
    fn recently_seen(&self, account: &str) -> bool {
        let now = self.clock.now();
        lock(&self.seen)
            .get(account)
            .is_some_and(|&at| now.saturating_duration_since(at) < self.online_window)
    }

    /// Whether `channel`'s members satisfy `test`; [`ChatError::NoSuchChannel`]
    /// if there is no such channel.
    fn members_have(
        &self,
        channel: &str,
        test: impl FnOnce(&BTreeSet<String>) -> bool,
    ) -> Result<bool, ChatError> {
        self.state()
            .channels
            .get(channel)
            .map(test)
            .ok_or_else(|| ChatError::NoSuchChannel(channel.to_string()))
    }

    /// Applies `edit` to a copy of the state and, if it changed anything,
    /// saves the copy and publishes it. An edit that fails, or a file that
    /// cannot be written, changes nothing.
    fn change<T>(
        &self,
        edit: impl FnOnce(&mut State) -> Result<T, ChatError>,
    ) -> Result<T, ChatError> {
        let _changing = lock(&self.changing);
        let mut next = self.state().clone();
        let answer = edit(&mut next)?;
        if next != *self.state() {
            fs::create_dir_all(&self.dir)
                .and_then(|()| {
                    durable::replace_file(&self.dir.join(TRACKER_FILE), render(&next).as_bytes())
                })
                .map_err(|error| ChatError::Storage(error.to_string()))?;
            *self.state() = next;
        }
        Ok(answer)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }
}

/// Locks `mutex`. Poisoned only by a panic while it was held; every value
/// behind these locks is replaced or edited in one step, so it is
/// consistent either way.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The file's contents for `state`: peers by account, in registration
/// order, then channels.
fn render(state: &State) -> String {
    let mut text = String::new();
    let peers = state
        .owned
        .values()
        .flatten()
        .filter_map(|name| state.peers.get(name));
    for peer in peers {
        let line = Object::new()
            .with("peer", peer.username.as_str())
            .with("account", peer.account.as_str())
            .with("ip", peer.ip.to_string())
            .with("port", peer.port);
        text.push_str(&Value::Object(line).to_string());
        text.push('\n');
    }
    for (channel, members) in &state.channels {
        let members: Vec<&str> = members.iter().map(String::as_str).collect();
        let line = Object::new()
            .with("channel", channel.as_str())
            .with("members", members);
        text.push_str(&Value::Object(line).to_string());
        text.push('\n');
    }
    text
}

/// Reads the tracker's file; missing means a fresh tracker. Malformed
/// lines are skipped with a warning. `general` always exists.
fn load(path: &Path) -> io::Result<State> {
    let mut state = State::default();
    let text = match fs::read(path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(error) if error.kind() == io::ErrorKind::NotFound => String::new(),
        Err(error) => return Err(error),
    };
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        if let Err(problem) = load_line(&mut state, line) {
            eprintln!("warning: {}:{}: {problem}", path.display(), index + 1);
        }
    }
    state.channels.entry(GENERAL.to_string()).or_default();
    Ok(state)
}

/// Applies one line of the tracker's file to `state`.
fn load_line(state: &mut State, line: &str) -> Result<(), String> {
    let value = json::parse(line).map_err(|error| format!("line skipped: not JSON: {error}"))?;
    let line = value.as_object().ok_or("line skipped: not a JSON object")?;
    let skipped = |problem: String| format!("line skipped: {problem}");
    if let Some(name) = fields::optional_str(line, "peer").map_err(skipped)? {
        let peer = load_peer(line, name).map_err(skipped)?;
        if state.peers.contains_key(name) {
            return Err(format!("line skipped: peer {name:?} appears again"));
        }
        state
            .owned
            .entry(peer.account.clone())
            .or_default()
            .push(name.to_string());
        state.peers.insert(name.to_string(), peer);
        return Ok(());
    }
    let channel = fields::required_str(line, "channel")
        .map_err(|_| "line skipped: neither a peer nor a channel".to_string())?;
    valid_name(channel).map_err(skipped)?;
    let members = fields::required_strs(line, "members").map_err(skipped)?;
    let (known, unknown): (Vec<&str>, Vec<&str>) = members
        .into_iter()
        .partition(|member| state.peers.contains_key(*member));
    let entry = state.channels.entry(channel.to_string()).or_default();
    entry.extend(known.into_iter().map(str::to_string));
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "members {unknown:?} of {channel:?} are not registered peers; left out"
        ))
    }
}

/// The peer described by a `{"peer",...}` line.
fn load_peer(line: &Object, name: &str) -> Result<Peer, String> {
    valid_name(name)?;
    let account = fields::required_str(line, "account")?;
    valid_name(account)?;
    let ip = fields::required_str(line, "ip")?
        .parse()
        .map_err(|_| "\"ip\" is not an IP address".to_string())?;
    let port =
        valid_port(fields::required_u64(line, "port")?).ok_or("\"port\" is not from 1 to 65535")?;
    Ok(Peer {
        username: name.to_string(),
        account: account.to_string(),
        ip,
        port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::durable::TempDir;
    use std::sync::Arc;

    const LOCALHOST: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    /// The accounts of these tests.
    fn is_account(name: &str) -> bool {
        ["alice", "bob", "carol"].contains(&name)
    }

    fn open_with(dir: &TempDir, clock: Clock) -> Tracker {
        Tracker::open(dir.path(), clock, ONLINE_WINDOW, is_account).expect("open tracker")
    }

    fn open(dir: &TempDir) -> Tracker {
        open_with(dir, Clock::manual().0)
    }

    fn manual(dir: &TempDir) -> (Tracker, Arc<ManualClock>) {
        let (clock, hand) = Clock::manual();
        (open_with(dir, clock), hand)
    }

    #[test]
    fn general_exists_and_peers_belong_to_their_account() {
        let dir = TempDir::new("tracker");
        let tracker = open(&dir);
        assert_eq!(
            tracker.check_channel(GENERAL),
            Ok(()),
            "general exists from the start"
        );
        assert!(!dir.path().exists(), "nothing is written before a change");
        tracker
            .register("alice", "ann", LOCALHOST, 9100)
            .expect("ann");
        tracker
            .register("alice", "alice", LOCALHOST, 9101)
            .expect("own username");
        tracker.register("bob", "bo", LOCALHOST, 9200).expect("bo");
        // (account, name, expected)
        let cases = [
            ("bob", "ann", Err(ChatError::NameTaken("ann".into()))),
            ("bob", "carol", Err(ChatError::NameTaken("carol".into()))),
            ("bob", "alice", Err(ChatError::NameTaken("alice".into()))),
            ("bob", "a b", Err(ChatError::BadRequest(String::new()))),
            ("alice", "ann", Ok(9300)),
        ];
        for (account, name, expected) in cases {
            let result = tracker.register(account, name, LOCALHOST, 9300);
            let same = match (&result, &expected) {
                (Ok(peer), Ok(port)) => peer.port == *port && peer.account == account,
                (Err(ChatError::BadRequest(_)), Err(ChatError::BadRequest(_))) => true,
                (Err(got), Err(wanted)) => got == wanted,
                _ => false,
            };
            assert!(
                same,
                "{account} registers {name:?}: got {result:?}, expected {expected:?}"
            );
        }
        assert_eq!(
            tracker.peer("ann").map(|peer| peer.port),
            Ok(9300),
            "address updated"
        );
        assert_eq!(
            tracker.acting_peer("alice", None),
            Ok("ann".into()),
            "first peer"
        );
        assert_eq!(
            tracker.acting_peer("alice", Some("alice")),
            Ok("alice".into())
        );
        assert_eq!(
            tracker.acting_peer("bob", Some("ann")),
            Err(ChatError::NotYourPeer("ann".into())),
            "bob may not act as alice's peer"
        );
        assert_eq!(
            tracker.acting_peer("bob", Some("nobody")),
            Err(ChatError::NotYourPeer("nobody".into()))
        );
        assert_eq!(tracker.acting_peer("carol", None), Err(ChatError::NoPeer));
        assert_eq!(
            tracker.peer("nobody"),
            Err(ChatError::NoSuchPeer("nobody".into()))
        );
    }

    #[test]
    fn channels_are_created_by_joining_and_checked() {
        let dir = TempDir::new("tracker");
        let tracker = open(&dir);
        tracker
            .register("alice", "ann", LOCALHOST, 9100)
            .expect("ann");
        tracker.register("bob", "bo", LOCALHOST, 9200).expect("bo");
        assert_eq!(tracker.join("bo", "rust"), Ok(vec!["bo".to_string()]));
        assert_eq!(
            tracker.join("ann", "rust"),
            Ok(vec!["ann".into(), "bo".into()])
        );
        assert_eq!(
            tracker.join("ann", "rust"),
            Ok(vec!["ann".into(), "bo".into()]),
            "joining twice"
        );
        assert!(matches!(
            tracker.join("ann", "no spaces"),
            Err(ChatError::BadRequest(_))
        ));
        assert!(matches!(
            tracker.join("ann", &"x".repeat(33)),
            Err(ChatError::BadRequest(_))
        ));
        assert_eq!(tracker.check_member("ann", "rust"), Ok(()));
        assert_eq!(
            tracker.check_member("ann", GENERAL),
            Err(ChatError::NotMember {
                peer: "ann".into(),
                channel: GENERAL.into()
            })
        );
        assert_eq!(
            tracker.check_member("ann", "nope"),
            Err(ChatError::NoSuchChannel("nope".into()))
        );
        let listing = tracker.listing(|_| false);
        assert_eq!(listing.channels, ["general", "rust"]);
        let channels: Vec<(&str, &[String])> = listing
            .peers
            .iter()
            .map(|row| (row.peer.username.as_str(), row.channels.as_slice()))
            .collect();
        assert_eq!(
            channels,
            [
                ("ann", &["rust".to_string()][..]),
                ("bo", &["rust".to_string()][..])
            ]
        );
    }

    #[test]
    fn peers_and_memberships_survive_a_restart() {
        let dir = TempDir::new("tracker");
        let tracker = open(&dir);
        tracker.register("bob", "bo", LOCALHOST, 9200).expect("bo");
        tracker
            .register("alice", "zed", "::1".parse().expect("ip"), 9100)
            .expect("zed");
        tracker
            .register("alice", "ann", LOCALHOST, 9101)
            .expect("ann");
        tracker.join("ann", "rust").expect("join");
        tracker.join("bo", GENERAL).expect("join");
        let before = tracker.listing(|_| false);
        drop(tracker);
        let tracker = open(&dir);
        assert_eq!(
            tracker.listing(|_| false),
            before,
            "the same peers and channels"
        );
        assert_eq!(
            tracker.acting_peer("alice", None),
            Ok("zed".into()),
            "the first peer is the first registered, not the first by name"
        );
        assert_eq!(
            tracker.register("bob", "ann", LOCALHOST, 1),
            Err(ChatError::NameTaken("ann".into())),
            "ownership survives the restart"
        );
    }

    #[test]
    fn malformed_lines_of_the_file_are_skipped() {
        let dir = TempDir::new("tracker");
        fs::create_dir_all(dir.path()).expect("dir");
        let lines = [
            r#"{"peer":"ann","account":"alice","ip":"127.0.0.1","port":9100}"#,
            r#"{"peer":"ann","account":"bob","ip":"127.0.0.1","port":9100}"#,
            r#"{"peer":"bad name","account":"alice","ip":"127.0.0.1","port":1}"#,
            r#"{"peer":"p0","account":"alice","ip":"127.0.0.1","port":0}"#,
            r#"{"peer":"ip","account":"alice","ip":"localhost","port":1}"#,
            r#"not json"#,
            r#"{"something":"else"}"#,
            r#"{"channel":"rust","members":["ann","ghost"]}"#,
        ];
        fs::write(dir.path().join(TRACKER_FILE), lines.join("\n")).expect("write");
        let tracker = open(&dir);
        let listing = tracker.listing(|_| false);
        let names: Vec<&str> = listing
            .peers
            .iter()
            .map(|row| row.peer.username.as_str())
            .collect();
        assert_eq!(names, ["ann"], "only the well-formed peer is loaded");
        assert_eq!(
            listing.peers[0].peer.account, "alice",
            "the first line for a name wins"
        );
        assert_eq!(
            listing.peers[0].channels,
            ["rust"],
            "the unknown member is left out"
        );
        assert_eq!(listing.channels, ["general", "rust"]);
    }

    #[test]
    fn online_means_a_recent_request_or_an_event_stream() {
        let dir = TempDir::new("tracker");
        let (tracker, hand) = manual(&dir);
        tracker
            .register("alice", "ann", LOCALHOST, 9100)
            .expect("ann");
        tracker
            .register("alice", "ann2", LOCALHOST, 9101)
            .expect("ann2");
        tracker.register("bob", "bo", LOCALHOST, 9200).expect("bo");
        let online = |has_stream: &dyn Fn(&str) -> bool| -> Vec<(String, bool)> {
            tracker
                .listing(has_stream)
                .peers
                .into_iter()
                .map(|row| (row.peer.username, row.online))
                .collect()
        };
        let status = |pairs: &[(&str, bool)]| -> Vec<(String, bool)> {
            pairs
                .iter()
                .map(|(name, on)| (name.to_string(), *on))
                .collect()
        };
        assert_eq!(
            online(&|_| false),
            status(&[("ann", false), ("ann2", false), ("bo", false)]),
            "nobody has made a request yet"
        );
        tracker.touch("alice");
        hand.advance(ONLINE_WINDOW - Duration::from_millis(1));
        assert_eq!(
            online(&|_| false),
            status(&[("ann", true), ("ann2", true), ("bo", false)]),
            "alice's peers are online just inside the window"
        );
        hand.advance(Duration::from_millis(1));
        assert_eq!(
            online(&|account| account == "bob"),
            status(&[("ann", false), ("ann2", false), ("bo", true)]),
            "alice's window has passed; bob holds an event stream"
        );
    }
}
