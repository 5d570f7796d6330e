//! Grades lab 5: the peer node. `cargo test --test lab5_peer`.
//!
//! Each test starts a tracker (the lab 4 application, in-process, with a
//! wiretap that records every request it receives) and peer nodes (the
//! lab 5 library, in-process), all on 127.0.0.1 and port 0, each with a
//! manual clock. The tests talk to the nodes as the browser does — raw
//! HTTP, read with the graders' own reader (`support::http`) and checked
//! with `serde_json` — and to their p2p ports as a peer does: raw frames,
//! one JSON object a line. Retries are driven by moving a node's clock and
//! calling `retry_due`, never by sleeping. One test runs the real
//! `lab4_chat` and `lab5_peer` binaries. Failures name the section of
//! `docs/lab5_peer.md` to read.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::http::{Answer, RawResponse, exchange};
use support::{
    Example, Failure, Rng, STEP_TIMEOUT, TempDir, connect, escape, run_example, wait_until,
};
use weaprous::auth::app::{Auth, AuthConfig};
use weaprous::auth::password::TEST_ITERATIONS;
use weaprous::chat::{Chat, Settings, site};
use weaprous::clock::{Clock, ManualClock};
use weaprous::http::files::StaticFiles;
use weaprous::http::{self, Handler, Request, Response, serve};
use weaprous::net::Running;
use weaprous::p2p::dial::Timeouts;
use weaprous::p2p::{NodeSettings, PeerConfig, PeerNode, RunningPeer};

/// The kit's web pages, served by every node as the lab binary serves them.
const WWW: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/www");

/// The password of every account the tests create.
const PASSWORD: &str = "correct horse battery";

/// How long a node waits for another peer's answer in these tests: short,
/// so that the silent peer costs little; loopback answers take
/// milliseconds.
const TEST_IO_TIMEOUT: Duration = Duration::from_secs(2);

// Where a failure sends the student.
const HYBRID: &str = "docs/lab5_peer.md, \"Client-server, peer-to-peer, hybrid\"";
const WIRE: &str = "docs/lab5_peer.md, \"The wire protocol\"";
const TRUST: &str = "docs/lab5_peer.md, \"Trust\"";
const FAILURES: &str = "docs/lab5_peer.md, \"Failures\"";
const ONE_UI: &str = "docs/lab5_peer.md, \"One UI, two architectures\"";
const RUNNING: &str = "docs/lab5_peer.md, \"Running three peers\"";

// ---------------------------------------------------------------------------
// The tracker: lab 4's application, with a wiretap
// ---------------------------------------------------------------------------

/// Records the target and body of every request before passing it on: what
/// the tracker was told, for the proof that it never sees a message.
struct Wiretap<H> {
    inner: H,
    heard: Arc<Mutex<Vec<u8>>>,
}

impl<H: Handler> Handler for Wiretap<H> {
    fn handle(&self, request: &mut Request<'_>) -> Response {
        {
            let mut heard = self.heard.lock().unwrap_or_else(PoisonError::into_inner);
            heard.extend_from_slice(
                format!("{} {}\n", request.method(), request.target()).as_bytes(),
            );
            heard.extend_from_slice(request.body());
            heard.push(b'\n');
        }
        self.inner.handle(request)
    }
}

/// A lab 4 server started in-process, as `labs/lab4_chat.rs` builds it.
struct Tracker {
    running: Running,
    clock: Arc<ManualClock>,
    dir: TempDir,
    heard: Arc<Mutex<Vec<u8>>>,
}

impl Tracker {
    fn start() -> Tracker {
        let dir = TempDir::new("lab5-tracker");
        let (clock, hand) = Clock::manual();
        let config = AuthConfig {
            iterations: TEST_ITERATIONS,
            ..AuthConfig::default()
        };
        let auth = Auth::open(&dir.path, config, clock.clone()).expect("open the accounts");
        let settings = Settings {
            clock: clock.clone(),
            ..Settings::default()
        };
        let accounts = Arc::clone(&auth);
        let chat = Chat::open(&dir.path, settings, move |name| {
            accounts.accounts().contains(name)
        })
        .expect("open the chat");
        let files = StaticFiles::new(WWW, clock.clone()).expect("the kit's www directory");
        let heard = Arc::new(Mutex::new(Vec::new()));
        let handler = Wiretap {
            inner: site::app(&auth, &Arc::new(chat), files),
            heard: Arc::clone(&heard),
        };
        let config = http::Config {
            clock,
            quiet: true,
            ..http::Config::default()
        };
        let running = serve::start(localhost(), handler, config, 128).expect("start the tracker");
        Tracker {
            running,
            clock: hand,
            dir,
            heard,
        }
    }

    fn addr(&self) -> SocketAddr {
        self.running.addr()
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// Everything the tracker was sent, and every byte of its data
    /// directory: where a message's text must never be.
    fn everything_it_knows(&self) -> Vec<u8> {
        let mut known = self
            .heard
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        known.extend(files_under(&self.dir.path));
        known
    }

    /// Registers account `name` and logs it in at the tracker itself (as
    /// a hand-written peer would); returns the `Cookie` header value.
    fn account(&self, name: &str) -> String {
        register(self.addr(), name);
        let answer = call(self.addr(), None, "POST", "/login", &credentials(name));
        answer.expect(&format!("log in as {name} at the tracker"), 200, RUNNING);
        let session = cookie_value(&answer.response, "sessionid")
            .unwrap_or_else(|| answer.fail("log in at the tracker", "a sessionid cookie", RUNNING));
        format!("sessionid={session}")
    }
}

fn localhost() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// The bytes of every file under `dir`.
fn files_under(dir: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return bytes;
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            bytes.extend(files_under(&path));
        } else if let Ok(contents) = std::fs::read(&path) {
            bytes.extend(contents);
        }
    }
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

// ---------------------------------------------------------------------------
// Peer nodes
// ---------------------------------------------------------------------------

/// A peer node started in-process, and its user once logged in.
struct Peer {
    running: Option<RunningPeer>,
    clock: Arc<ManualClock>,
    data: PathBuf,
    tracker: String,
    /// The account of its user, who also names its one peer.
    name: String,
    /// `sessionid_PORT=…`, once logged in.
    cookie: String,
}

impl Peer {
    /// A node on data directory `data`, for the tracker at `tracker`.
    fn start(tracker: &str, data: &Path, name: &str) -> Peer {
        let (clock, hand) = Clock::manual();
        let config = PeerConfig {
            tracker: tracker.to_string(),
            http_addr: localhost(),
            p2p_addr: localhost(),
            advertise: None,
            data: data.to_path_buf(),
            www: PathBuf::from(WWW),
            http: http::Config {
                clock: clock.clone(),
                quiet: true,
                ..http::Config::default()
            },
            max_connections: 64,
            node: NodeSettings {
                clock,
                timeouts: Timeouts {
                    connect: TEST_IO_TIMEOUT,
                    io: TEST_IO_TIMEOUT,
                },
                quiet: true,
                ..NodeSettings::default()
            },
        };
        let running = weaprous::p2p::start(config).expect("start a peer node");
        Peer {
            running: Some(running),
            clock: hand,
            data: data.to_path_buf(),
            tracker: tracker.to_string(),
            name: name.to_string(),
            cookie: String::new(),
        }
    }

    /// A node whose user `name` has an account, is logged in, has
    /// registered peer `name` (as the UI does: with the page's own port)
    /// and joined `general`.
    fn joined(tracker: &Tracker, data: &Path, name: &str) -> Peer {
        let mut peer = Peer::start(&tracker.url(), data, name);
        register(peer.addr(), name);
        peer.log_in();
        let ui_port = peer.addr().port();
        let body = json!({"username": name, "ip": "127.0.0.1", "port": ui_port}).to_string();
        let answer = peer.post("/submit-info", &body);
        let registered = answer.expect(&format!("{name} registers through its node"), 200, HYBRID);
        let expected = json!({"status": "ok", "peer": {"username": name, "ip": "127.0.0.1", "port": peer.p2p_port()}});
        if registered != expected {
            answer.fail(
                &format!("{name} registers through its node"),
                &format!("{expected}: the node registers its p2p address, not the page's"),
                HYBRID,
            );
        }
        peer.post("/add-list", r#"{"channel":"general"}"#).expect(
            &format!("{name} joins general"),
            200,
            HYBRID,
        );
        peer
    }

    fn running(&self) -> &RunningPeer {
        self.running.as_ref().expect("the node is running")
    }

    fn node(&self) -> &Arc<PeerNode> {
        self.running().node()
    }

    fn addr(&self) -> SocketAddr {
        self.running().addr()
    }

    fn p2p_addr(&self) -> SocketAddr {
        self.running().p2p_addr()
    }

    fn p2p_port(&self) -> u16 {
        self.p2p_addr().port()
    }

    /// Logs the user in through the node; keeps the node's cookie.
    fn log_in(&mut self) {
        let cookie_name = format!("sessionid_{}", self.addr().port());
        let answer = call(
            self.addr(),
            None,
            "POST",
            "/login",
            &credentials(&self.name),
        );
        answer.expect(
            &format!("{} logs in through its node", self.name),
            200,
            ONE_UI,
        );
        let session = cookie_value(&answer.response, &cookie_name).unwrap_or_else(|| {
            answer.fail(
                "log in through a peer node",
                &format!("a cookie named {cookie_name}: the node's port is in its name"),
                ONE_UI,
            )
        });
        self.cookie = format!("{cookie_name}={session}");
    }

    fn post(&self, path: &str, body: &str) -> Answer {
        call(self.addr(), Some(&self.cookie), "POST", path, body)
    }

    fn get(&self, path: &str) -> Answer {
        call(self.addr(), Some(&self.cookie), "GET", path, "")
    }

    /// Sends a direct message; returns the whole answer, checked for its
    /// shape.
    fn direct(&self, to: &str, text: &str) -> Value {
        let body = json!({"to": to, "message": text}).to_string();
        let answer = self.post("/send-peer", &body);
        let step = format!("{} sends {text:?} to {to}", self.name);
        answer.sent(&step, "direct", &self.name, text)
    }

    /// Broadcasts to `general`; returns the whole answer, checked.
    fn broadcast(&self, text: &str) -> Value {
        let body = json!({"channel": "general", "message": text}).to_string();
        let answer = self.post("/broadcast-peer", &body);
        let step = format!("{} broadcasts {text:?}", self.name);
        answer.sent(&step, "broadcast", &self.name, text)
    }

    /// The texts of a history page of this node.
    fn texts(&self, conversation: &Value) -> Vec<String> {
        let answer = self.post("/channel/messages", &conversation.to_string());
        let page = answer.expect(&format!("{} reads {conversation}", self.name), 200, ONE_UI);
        let Some(messages) = page["messages"].as_array() else {
            answer.fail(
                "read the history",
                "{\"status\":\"ok\",\"messages\":[...]}",
                ONE_UI,
            )
        };
        messages
            .iter()
            .filter_map(|event| event["message"].as_str().map(str::to_string))
            .collect()
    }

    /// Stops the node as a crash-free exit would, and waits until it has let
    /// go of its data directory.
    fn stop(&mut self) {
        let running = self.running.take().expect("the node is running");
        let node: Weak<PeerNode> = Arc::downgrade(running.node());
        running.shutdown();
        wait_until("the stopped node to let go of its data", || {
            node.upgrade().is_none()
        });
    }

    /// Starts the node again on the same data directory (new ports), and
    /// logs its user in again.
    fn restart(&mut self) {
        let mut again = Peer::start(&self.tracker, &self.data, &self.name);
        again.log_in();
        *self = again;
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown();
        }
    }
}

/// Alice, bob and carol, each on a node of their own with a data
/// directory of its own, registered and in `general`. (The directories
/// come first, so that they are removed after the nodes stop.)
fn three_peers(tracker: &Tracker) -> ([TempDir; 3], [Peer; 3]) {
    let dirs = ["alice", "bob", "carol"].map(|name| TempDir::new(&format!("lab5-{name}")));
    let peers =
        [0, 1, 2].map(|n| Peer::joined(tracker, &dirs[n].path, ["alice", "bob", "carol"][n]));
    (dirs, peers)
}

/// A text no hard-coded answer can know.
fn random_text(rng: &mut Rng, label: &str) -> String {
    format!("{label} {:016x}", rng.next_u64())
}

// ---------------------------------------------------------------------------
// Requests and answers
// ---------------------------------------------------------------------------

impl Answer {
    /// The JSON body, which must come with `status`.
    fn expect(&self, step: &str, status: u16, doc: &str) -> Value {
        if self.response.status != status {
            self.fail(step, &format!("status {status}"), doc);
        }
        serde_json::from_slice(&self.response.body)
            .unwrap_or_else(|_| self.fail(step, &format!("status {status} with a JSON body"), doc))
    }

    /// A 200 `{"status":"sent","message":EVENT}` of `kind` from `from`.
    fn sent(&self, step: &str, kind: &str, from: &str, text: &str) -> Value {
        let answer = self.expect(step, 200, ONE_UI);
        let event = &answer["message"];
        let good = answer["status"] == "sent"
            && event["type"] == kind
            && event["from"] == from
            && event["message"] == text
            && event["id"].is_u64();
        if !good {
            self.fail(
                step,
                &format!("{{\"status\":\"sent\",\"message\":{{\"id\":N,\"type\":\"{kind}\",\"from\":\"{from}\",…,\"message\":{text:?}}}}}"),
                ONE_UI,
            );
        }
        answer
    }
}

/// One request on a new connection, with `Connection: close`.
fn call(addr: SocketAddr, cookie: Option<&str>, method: &str, path: &str, body: &str) -> Answer {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    if let Some(cookie) = cookie {
        head.push_str(&format!("Cookie: {cookie}\r\n"));
    }
    if method != "GET" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut sent = head.into_bytes();
    sent.extend_from_slice(body.as_bytes());
    let response = exchange(addr, &sent);
    Answer { sent, response }
}

fn credentials(name: &str) -> String {
    json!({"username": name, "password": PASSWORD}).to_string()
}

/// Creates account `name` through the server at `addr` (a tracker, or a
/// node, which passes it on).
fn register(addr: SocketAddr, name: &str) {
    call(addr, None, "POST", "/register", &credentials(name)).expect(
        &format!("create the account {name}"),
        201,
        RUNNING,
    );
}

/// The value of cookie `name` in a response's `Set-Cookie` headers.
fn cookie_value(response: &RawResponse, name: &str) -> Option<String> {
    response
        .header_all("set-cookie")
        .into_iter()
        .find_map(|header| {
            let (key, rest) = header.split_once('=')?;
            (key == name).then(|| rest.split(';').next().unwrap_or("").to_string())
        })
}

/// The names in an answer's `"unreached"` or `"queued"` (empty if absent).
fn names(answer: &Value, field: &str) -> Vec<String> {
    answer[field]
        .as_array()
        .map(|names| {
            names
                .iter()
                .filter_map(|name| name.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------
// Raw frames
// ---------------------------------------------------------------------------

/// A raw connection to a peer's p2p port, one JSON frame a line.
struct Frames {
    reader: BufReader<TcpStream>,
    sent: Vec<u8>,
}

impl Frames {
    fn open(addr: SocketAddr) -> Frames {
        Frames::over(connect(addr))
    }

    fn over(stream: TcpStream) -> Frames {
        Frames {
            reader: BufReader::new(stream),
            sent: Vec::new(),
        }
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        self.sent.extend_from_slice(bytes);
        self.reader
            .get_mut()
            .write_all(bytes)
            .unwrap_or_else(|error| panic!("sending {}: {error}", escape(bytes)));
    }

    fn send(&mut self, frame: &Value) {
        self.send_raw(format!("{frame}\n").as_bytes());
    }

    /// The next frame, parsed; `None` if the connection closed.
    fn receive(&mut self, step: &str, doc: &str) -> Option<Value> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => None,
            Ok(_) => Some(serde_json::from_str(&line).unwrap_or_else(|_| {
                self.fail(
                    step,
                    line.as_bytes(),
                    "a frame: one JSON object and \\n",
                    doc,
                )
            })),
            Err(error) => self.fail(step, format!("({error})").as_bytes(), "a frame", doc),
        }
    }

    /// The next frame, which must be there.
    fn expect(&mut self, step: &str, doc: &str) -> Value {
        self.receive(step, doc)
            .unwrap_or_else(|| self.fail(step, b"(closed)", "a frame", doc))
    }

    /// Expects an error frame with `code` (and no id), then the end of the
    /// connection.
    fn expect_refusal(&mut self, step: &str, code: &str, doc: &str) {
        let frame = self.expect(step, doc);
        if frame["type"] != "error" || frame["code"] != code || !frame["message"].is_string() {
            self.fail(
                step,
                frame.to_string().as_bytes(),
                &format!("{{\"type\":\"error\",\"code\":\"{code}\",\"message\":…}}"),
                doc,
            );
        }
        let mut rest = Vec::new();
        let closed = self
            .reader
            .read_to_end(&mut rest)
            .is_ok_and(|_| rest.is_empty());
        if !closed {
            self.fail(step, &rest, "the connection closed after the error", doc);
        }
    }

    fn fail(&self, step: &str, received: &[u8], expected: &str, doc: &str) -> ! {
        panic!(
            "{}",
            Failure {
                step,
                sent: &self.sent,
                received,
                expected,
                doc,
            }
        )
    }
}

/// The next connection to `listener` (which is non-blocking), waiting at
/// most [`STEP_TIMEOUT`]: a bounded poll.
fn accept_within(listener: &TcpListener, step: &str) -> TcpStream {
    const POLL: Duration = Duration::from_millis(10);
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false).expect("blocking stream");
                stream
                    .set_read_timeout(Some(STEP_TIMEOUT))
                    .expect("timeout");
                stream
                    .set_write_timeout(Some(STEP_TIMEOUT))
                    .expect("timeout");
                return stream;
            }
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(
                    Instant::now() < deadline,
                    "{step}: no connection within {STEP_TIMEOUT:?}; expected the node to \
                     connect and send its hello; see {WIRE}"
                );
                thread::sleep(POLL);
            }
            Err(error) => panic!("{step}: accept failed: {error}"),
        }
    }
}

/// A hello frame.
fn hello(from: &str, to: &str, ticket: &str) -> Value {
    json!({"type": "hello", "version": 1, "from": from, "to": to, "ticket": ticket})
}

/// A message frame of a direct message.
fn message_frame(id: &str, from: &str, to: &str, text: &str) -> Value {
    json!({"type": "message", "id": id, "kind": "direct", "from": from, "to": to,
           "channel": null, "message": text, "timestamp": "2026-11-25T12:00:00.000Z"})
}

/// Asks the tracker, as the account of `cookie`, for a ticket from `from`
/// to `to`: its id and receipt.
fn ticket(tracker: &Tracker, cookie: &str, from: &str, to: &str) -> (String, String) {
    let body = json!({"from": from, "to": to, "ticket": true}).to_string();
    let answer = call(tracker.addr(), Some(cookie), "POST", "/connect-peer", &body);
    let introduced = answer.expect(
        &format!("ask the tracker for a ticket {from} → {to}"),
        200,
        TRUST,
    );
    let (Some(id), Some(receipt)) = (
        introduced["ticket"]["id"].as_str(),
        introduced["ticket"]["receipt"].as_str(),
    ) else {
        answer.fail(
            "ask the tracker for a ticket",
            "{\"status\":\"ok\",\"to\":{…},\"ticket\":{\"id\",\"receipt\",\"expires_in\"}}",
            TRUST,
        )
    };
    (id.to_string(), receipt.to_string())
}

// ---------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------

#[test]
fn lab5_three_peers_register_discover_and_message_each_other_directly() {
    let mut rng = Rng::from_time();
    let tracker = Tracker::start();
    let (_dirs, [alice, bob, carol]) = three_peers(&tracker);

    // Discovery: each node lists the others at their p2p addresses.
    let answer = alice.get("/get-list");
    let listing = answer.expect("alice lists the peers", 200, HYBRID);
    for peer in [&alice, &bob, &carol] {
        let row = listing["peers"].as_array().and_then(|rows| {
            rows.iter()
                .find(|row| row["username"] == peer.name.as_str())
        });
        let good = row.is_some_and(|row| {
            row["port"] == peer.p2p_port() && row["channels"] == json!(["general"])
        });
        if !good {
            answer.fail(
                "alice lists the peers",
                &format!(
                    "{} at port {} (its p2p port), in general",
                    peer.name,
                    peer.p2p_port()
                ),
                HYBRID,
            );
        }
    }

    // A direct message goes to bob, live on his event stream, and to nobody else.
    let mut stream = EventStream::open(&bob);
    let secret = random_text(&mut rng, "for bob only");
    let answer = alice.direct("bob", &secret);
    if !names(&answer, "unreached").is_empty() {
        panic!("alice → bob: every peer is up, yet the answer says {answer}; see {FAILURES}");
    }
    stream.wait_for(&secret);
    let cases = [
        (&bob, json!({"peer": "alice"}), true),
        (&alice, json!({"peer": "bob"}), true),
        (&carol, json!({"peer": "alice"}), false),
        (&carol, json!({"peer": "bob"}), false),
        (&carol, json!({"channel": "general"}), false),
    ];
    for (peer, conversation, has_it) in cases {
        let texts = peer.texts(&conversation);
        assert_eq!(
            texts.contains(&secret),
            has_it,
            "{}'s node, {conversation}: {texts:?} — a direct message is stored by its two peers' \
             nodes only; see {HYBRID}",
            peer.name
        );
    }
    assert!(
        !contains(&files_under(&carol.data), &secret),
        "carol's data directory holds a direct message between alice and bob; see {HYBRID}"
    );

    // A broadcast reaches every member.
    let news = random_text(&mut rng, "for everyone");
    let answer = carol.broadcast(&news);
    assert!(
        names(&answer, "unreached").is_empty(),
        "carol's broadcast: every member is up, yet {answer}; see {FAILURES}"
    );
    for peer in [&alice, &bob, &carol] {
        let texts = peer.texts(&json!({"channel": "general"}));
        assert!(
            texts.contains(&news),
            "{}'s node should hold carol's broadcast {news:?}: {texts:?}; see {HYBRID}",
            peer.name
        );
    }
    stream.wait_for(&news);

    // The tracker introduced the peers; it never saw a message.
    let known = tracker.everything_it_knows();
    for text in [&secret, &news] {
        assert!(
            !contains(&known, text),
            "the tracker was sent (or stored) the message text {text:?}: in lab 5 messages go \
             from peer to peer; see {HYBRID}"
        );
    }
    assert!(
        contains(&known, "/check-ticket"),
        "the receiving nodes should check the senders' tickets with the tracker; see {TRUST}"
    );
}

#[test]
fn lab5_a_peer_refuses_a_forged_sender_and_bad_or_stolen_tickets() {
    let tracker = Tracker::start();
    let dirs = [TempDir::new("lab5-a"), TempDir::new("lab5-b")];
    let alice = Peer::joined(&tracker, &dirs[0].path, "alice");
    let bob = Peer::joined(&tracker, &dirs[1].path, "bob");
    // Mallory has an account and a peer of her own, and writes raw frames.
    let mallory = tracker.account("mallory");
    let body = json!({"username": "mallory", "ip": "127.0.0.1", "port": 9}).to_string();
    call(
        tracker.addr(),
        Some(&mallory),
        "POST",
        "/submit-info",
        &body,
    )
    .expect("mallory registers a peer", 200, TRUST);
    let bob_p2p = bob.p2p_addr();

    // Asking the tracker for a ticket as someone else's peer.
    let body = json!({"from": "alice", "to": "bob", "ticket": true}).to_string();
    call(
        tracker.addr(),
        Some(&mallory),
        "POST",
        "/connect-peer",
        &body,
    )
    .expect("mallory asks for a ticket from alice to bob", 403, TRUST);

    // Tickets that do not vouch for the sender.
    let (for_mallory, _) = ticket(&tracker, &mallory, "mallory", "bob");
    let (mallory_to_alice, _) = ticket(&tracker, &mallory, "mallory", "alice");
    let cases = [
        (
            hello("alice", "bob", "00112233445566778899aabbccddeeff"),
            "bad-ticket",
            "a made-up ticket",
        ),
        (
            hello("alice", "bob", &for_mallory),
            "bad-ticket",
            "mallory's ticket, claiming to be alice",
        ),
        (
            hello("mallory", "bob", &mallory_to_alice),
            "bad-ticket",
            "a ticket issued for alice, shown to bob",
        ),
        (
            hello("mallory", "nobody", &for_mallory),
            "unknown-peer",
            "a hello to a peer that does not live there",
        ),
        (
            json!({"type": "hello", "version": 99, "from": "mallory", "to": "bob", "ticket": for_mallory}),
            "version",
            "another protocol version",
        ),
        (
            message_frame("m0", "alice", "bob", "no hello first"),
            "bad-frame",
            "a message before the hello",
        ),
    ];
    for (first, code, step) in cases {
        let mut frames = Frames::open(bob_p2p);
        frames.send(&first);
        frames.expect_refusal(step, code, TRUST);
    }
    for (garbage, step) in [
        (&b"hello bob\n"[..], "a line that is not JSON"),
        (&b"{\"type\":\"hello\"}\n"[..], "a hello without its fields"),
    ] {
        let mut frames = Frames::open(bob_p2p);
        frames.send_raw(garbage);
        frames.expect_refusal(step, "bad-frame", WIRE);
    }
    let mut frames = Frames::open(bob_p2p);
    frames.send_raw(&vec![b'x'; 70 * 1024]);
    frames.expect_refusal("a 70 KiB line without an end", "bad-frame", WIRE);

    // Mallory's own ticket gets her in, as mallory; a message "from alice"
    // on her connection is refused and the connection closed.
    let (ticket_id, receipt) = ticket(&tracker, &mallory, "mallory", "bob");
    let mut frames = Frames::open(bob_p2p);
    frames.send(&hello("mallory", "bob", &ticket_id));
    let welcome = frames.expect("mallory's honest hello", TRUST);
    let expected = json!({"type": "welcome", "version": 1, "peer": "bob", "receipt": receipt});
    if welcome != expected {
        frames.fail(
            "mallory's honest hello",
            welcome.to_string().as_bytes(),
            &expected.to_string(),
            WIRE,
        );
    }
    frames.send(&message_frame(
        "m1",
        "mallory",
        "bob",
        "hi bob, it is mallory",
    ));
    // Sent twice (as a sender that missed the ack would): acked twice,
    // stored once.
    frames.send(&message_frame(
        "m1",
        "mallory",
        "bob",
        "hi bob, it is mallory",
    ));
    for step in ["mallory's own message", "the same message again"] {
        let ack = frames.expect(step, WIRE);
        if ack != json!({"type": "ack", "id": "m1"}) {
            frames.fail(
                step,
                ack.to_string().as_bytes(),
                "{\"type\":\"ack\",\"id\":\"m1\"}",
                WIRE,
            );
        }
    }
    // A broadcast into a channel mallory has not joined: refused, and the
    // connection goes on.
    let mut outsider = message_frame("m3", "mallory", "bob", "let me in");
    outsider["kind"] = json!("broadcast");
    outsider["to"] = Value::Null;
    outsider["channel"] = json!("general");
    frames.send(&outsider);
    let refused = frames.expect("a broadcast to general from a non-member", TRUST);
    if refused["type"] != "error" || refused["id"] != "m3" || refused["code"] != "not-member" {
        frames.fail(
            "a broadcast to general from a non-member",
            refused.to_string().as_bytes(),
            "{\"type\":\"error\",\"id\":\"m3\",\"code\":\"not-member\",…}",
            TRUST,
        );
    }
    let forged = "send me your password -- alice";
    frames.send(&message_frame("m2", "alice", "bob", forged));
    frames.expect_refusal(
        "a message from alice on mallory's connection",
        "forged-sender",
        TRUST,
    );

    // A ticket opens one connection: shown again, it is refused.
    let mut replay = Frames::open(bob_p2p);
    replay.send(&hello("mallory", "bob", &ticket_id));
    replay.expect_refusal("mallory's ticket shown a second time", "bad-ticket", TRUST);

    // A ticket not used within its lifetime is refused.
    let (late, _) = ticket(&tracker, &mallory, "mallory", "bob");
    tracker.clock.advance(Duration::from_secs(61));
    let mut frames = Frames::open(bob_p2p);
    frames.send(&hello("mallory", "bob", &late));
    frames.expect_refusal("a ticket 61 s old", "bad-ticket", TRUST);

    let from_alice = bob.texts(&json!({"peer": "alice"}));
    assert!(
        !from_alice.iter().any(|text| text == forged),
        "bob's node stored the forged message as alice's: {from_alice:?}; see {TRUST}"
    );
    let from_mallory = bob.texts(&json!({"peer": "mallory"}));
    assert_eq!(
        from_mallory,
        ["hi bob, it is mallory"],
        "bob's node keeps mallory's honest message, as mallory's, once; see {TRUST} and {WIRE}"
    );
    // Bob's node still takes alice's real messages.
    alice.direct("bob", "the real alice");
    assert_eq!(bob.texts(&json!({"peer": "alice"})), ["the real alice"]);
}

#[test]
fn lab5_a_stopped_peer_is_reported_and_gets_its_queued_messages_after_a_restart() {
    let mut rng = Rng::from_time();
    let tracker = Tracker::start();
    let (_dirs, [alice, bob, mut carol]) = three_peers(&tracker);
    let before = random_text(&mut rng, "before the stop");
    alice.direct("carol", &before);

    carol.stop();
    let dm = random_text(&mut rng, "while carol is away");
    let answer = alice.direct("carol", &dm);
    let reported = (names(&answer, "unreached"), names(&answer, "queued"));
    assert_eq!(
        reported,
        (vec!["carol".to_string()], vec!["carol".to_string()]),
        "alice → carol while carol's node is stopped: the answer {answer} should report carol \
         \"unreached\" and \"queued\"; see {FAILURES}"
    );
    let news = random_text(&mut rng, "broadcast while carol is away");
    let answer = alice.broadcast(&news);
    assert_eq!(
        (names(&answer, "unreached"), names(&answer, "queued")),
        (vec!["carol".to_string()], vec!["carol".to_string()]),
        "alice's broadcast reaches bob; carol is reported: {answer}; see {FAILURES}"
    );
    assert!(bob.texts(&json!({"channel": "general"})).contains(&news));
    assert_eq!(alice.node().outbox().len(), 2, "two letters wait for carol");
    alice.clock.advance(Duration::from_secs(1));
    alice.node().retry_due();
    assert_eq!(alice.node().outbox().len(), 2, "carol is still down");

    carol.restart();
    // Logging in re-registered carol's peer at the restarted node's new port.
    let listing = alice
        .get("/get-list")
        .expect("alice lists the peers", 200, FAILURES);
    let row = listing["peers"]
        .as_array()
        .and_then(|rows| rows.iter().find(|row| row["username"] == "carol"))
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(
        row["port"],
        json!(carol.p2p_port()),
        "after a restart and a login, carol's node registers its new p2p port: {row}; see {FAILURES}"
    );
    // Not before its time, by alice's clock…
    alice.node().retry_due();
    assert_eq!(
        alice.node().outbox().len(),
        2,
        "a retry must wait for its backoff, by the node's clock; see {FAILURES}"
    );
    // …and then in order.
    alice.clock.advance(Duration::from_secs(60));
    alice.node().retry_due();
    assert!(
        alice.node().outbox().is_empty(),
        "once its time has come, the outbox is delivered: {:?}; see {FAILURES}",
        alice.node().outbox().waiting()
    );
    let texts = carol.texts(&json!({"peer": "alice"}));
    assert_eq!(
        texts,
        [before.clone(), dm.clone()],
        "carol's node keeps what it had (its --data) and gets the queued DM; see {FAILURES}"
    );
    let general = carol.texts(&json!({"channel": "general"}));
    assert!(
        general.contains(&news),
        "carol gets the queued broadcast: {general:?}"
    );
}

#[test]
fn lab5_a_silent_peer_is_reported_and_a_hand_written_peer_speaks_the_protocol() {
    let mut rng = Rng::from_time();
    let tracker = Tracker::start();
    let dir = TempDir::new("lab5-a");
    let alice = Peer::joined(&tracker, &dir.path, "alice");
    // "mute" is a peer written by hand in this test: a listener, and frames.
    let listener = TcpListener::bind(localhost()).expect("bind");
    let mute = tracker.account("mute");
    let body = json!({"username": "mute", "ip": "127.0.0.1", "port": listener.local_addr().expect("addr").port()});
    call(
        tracker.addr(),
        Some(&mute),
        "POST",
        "/submit-info",
        &body.to_string(),
    )
    .expect("register the hand-written peer", 200, WIRE);
    listener.set_nonblocking(true).expect("non-blocking accept");
    let accept = || Frames::over(accept_within(&listener, "alice's node connects to mute"));
    let read_hello = |frames: &mut Frames| -> String {
        let hello = frames.expect("the hello from alice's node", WIRE);
        let good = hello["type"] == "hello"
            && hello["version"] == 1
            && hello["from"] == "alice"
            && hello["to"] == "mute"
            && hello["ticket"].is_string();
        if !good {
            frames.fail(
                "the hello",
                hello.to_string().as_bytes(),
                "{\"type\":\"hello\",\"version\":1,\"from\":\"alice\",\"to\":\"mute\",\"ticket\":…}",
                WIRE,
            );
        }
        hello["ticket"].as_str().unwrap_or_default().to_string()
    };
    let redeem = |ticket: &str| -> String {
        let body = json!({"ticket": ticket, "from": "alice", "to": "mute"}).to_string();
        let answer = call(tracker.addr(), Some(&mute), "POST", "/check-ticket", &body);
        let checked = answer.expect("mute checks alice's ticket", 200, TRUST);
        checked["receipt"].as_str().unwrap_or_default().to_string()
    };

    // 1. Mute reads the hello and says nothing: reported, not waited on.
    let first = random_text(&mut rng, "to a silent peer");
    let answer = thread::scope(|scope| {
        let sending = scope.spawn(|| alice.direct("mute", &first));
        let mut frames = accept();
        read_hello(&mut frames);
        let answer = sending.join().expect("alice's node answers");
        drop(frames);
        answer
    });
    assert_eq!(
        (names(&answer, "unreached"), names(&answer, "queued")),
        (vec!["mute".to_string()], vec!["mute".to_string()]),
        "a peer that never answers the hello: {answer}; see {FAILURES}"
    );

    // 2. A welcome without the tracker's receipt: whoever it is, it is not mute.
    alice.clock.advance(Duration::from_secs(60));
    thread::scope(|scope| {
        let retrying = scope.spawn(|| alice.node().retry_due());
        let mut frames = accept();
        let ticket = read_hello(&mut frames);
        redeem(&ticket);
        frames.send(&json!({"type": "welcome", "version": 1, "peer": "mute", "receipt": "0123456789abcdef0123456789abcdef"}));
        if let Some(frame) = frames.receive("a welcome with the wrong receipt", TRUST) {
            frames.fail(
                "a welcome with the wrong receipt",
                frame.to_string().as_bytes(),
                "the connection closed, and no message: whoever listens there could not prove \
                 it is mute",
                TRUST,
            );
        }
        retrying.join().expect("the retry ends");
    });
    assert_eq!(
        alice.node().outbox().len(),
        1,
        "a welcome with the wrong receipt must not be trusted with the message; see {TRUST}"
    );

    // 3. The right receipt: the message, its ack; then the link is reused
    // (and, 4., a peer acking only other ids is given up on in time).
    alice.clock.advance(Duration::from_secs(60));
    let second = random_text(&mut rng, "on the same connection");
    let third = random_text(&mut rng, "to a peer that acks everything else");
    thread::scope(|scope| {
        let retrying = scope.spawn(|| alice.node().retry_due());
        let mut frames = accept();
        let ticket = read_hello(&mut frames);
        let receipt = redeem(&ticket);
        frames.send(&json!({"type": "welcome", "version": 1, "peer": "mute", "receipt": receipt}));
        let message = frames.expect("the queued message", WIRE);
        let id = message["id"].as_str().unwrap_or_default().to_string();
        let good = message["type"] == "message"
            && id.len() == 32
            && message["kind"] == "direct"
            && message["from"] == "alice"
            && message["to"] == "mute"
            && message["channel"].is_null()
            && message["message"] == first.as_str()
            && message["timestamp"]
                .as_str()
                .is_some_and(|time| time.ends_with('Z'));
        if !good {
            frames.fail(
                "the queued message",
                message.to_string().as_bytes(),
                "{\"type\":\"message\",\"id\":(32 hex digits),\"kind\":\"direct\",\"from\":\"alice\",\
                 \"to\":\"mute\",\"channel\":null,\"message\":…,\"timestamp\":…Z}",
                WIRE,
            );
        }
        frames.send(&json!({"type": "ack", "id": id}));
        retrying.join().expect("the retry ends");
        assert!(
            alice.node().outbox().is_empty(),
            "an acknowledged message leaves the outbox; see {FAILURES}"
        );
        let sending = scope.spawn(|| alice.direct("mute", &second));
        let next = frames.expect("the next message, on the same connection", WIRE);
        if next["message"] != second.as_str() {
            frames.fail(
                "the next message, on the kept connection",
                next.to_string().as_bytes(),
                "the next message frame: connections are reused",
                WIRE,
            );
        }
        frames.send(&json!({"type": "ack", "id": next["id"]}));
        let answer = sending.join().expect("alice's node answers");
        assert!(
            names(&answer, "unreached").is_empty(),
            "an acknowledged message is delivered: {answer}; see {WIRE}"
        );

        // 4. Acks for other ids, on and on, never this message's: the
        // answer has one deadline, not one per frame.
        let sending = scope.spawn(|| alice.direct("mute", &third));
        frames.expect("the third message", WIRE);
        let spam = format!("{}\n", json!({"type": "ack", "id": "not-this-one"}));
        let spam_limit = Instant::now() + 4 * TEST_IO_TIMEOUT;
        while !sending.is_finished() && Instant::now() < spam_limit {
            if frames.reader.get_mut().write_all(spam.as_bytes()).is_err() {
                break; // alice's node gave up on the link: what we wait for.
            }
        }
        assert!(
            Instant::now() < spam_limit,
            "mute sent acks for other ids for {:?}, past the I/O timeout of {TEST_IO_TIMEOUT:?}: \
             alice's node must stop waiting for this message's ack; see {FAILURES}",
            4 * TEST_IO_TIMEOUT
        );
        let answer = sending.join().expect("alice's node answers");
        assert_eq!(
            names(&answer, "queued"),
            vec!["mute".to_string()],
            "no ack for the message within the I/O timeout: queued for later: {answer}; see {FAILURES}"
        );
    });
}

#[test]
fn lab5_the_node_answers_the_ui_with_a_session_cookie_named_after_its_port() {
    let tracker = Tracker::start();
    let dirs = [TempDir::new("lab5-a"), TempDir::new("lab5-b")];
    let alice = Peer::joined(&tracker, &dirs[0].path, "alice");
    let bob = Peer::joined(&tracker, &dirs[1].path, "bob");
    let port = alice.addr().port();

    let answer = call(alice.addr(), None, "GET", "/whoami", "");
    answer.expect("GET /whoami without a session", 401, ONE_UI);
    let answer = call(alice.addr(), None, "GET", "/", "");
    if answer.response.status != 303 || answer.response.header("location") != Some("/chat.html") {
        answer.fail("GET /", "303 to /chat.html", ONE_UI);
    }
    let answer = call(alice.addr(), None, "GET", "/login.html", "");
    if answer.response.status != 200 {
        answer.fail(
            "GET /login.html",
            "200: the node serves the UI's files",
            ONE_UI,
        );
    }
    let me = alice.get("/whoami").expect("GET /whoami", 200, ONE_UI);
    assert_eq!(me, json!({"username": "alice"}));

    // The login's cookies: the node's own, named after its port.
    let answer = call(alice.addr(), None, "POST", "/login", &credentials("alice"));
    answer.expect("log in", 200, ONE_UI);
    let cookies = answer.response.header_all("set-cookie");
    let names_set: Vec<&str> = cookies.iter().filter_map(|c| c.split('=').next()).collect();
    if !names_set.contains(&format!("sessionid_{port}").as_str())
        || names_set.contains(&"sessionid")
    {
        answer.fail(
            "log in through the node",
            &format!("Set-Cookie sessionid_{port}=… (and no plain sessionid: the tracker's session stays in the node)"),
            ONE_UI,
        );
    }
    // Each node knows only its own sessions and its own cookie name.
    let value = alice
        .cookie
        .split_once('=')
        .map(|(_, v)| v)
        .unwrap_or_default();
    for (addr, cookie, step) in [
        (
            alice.addr(),
            format!("sessionid={value}"),
            "alice's session under the tracker's cookie name",
        ),
        (
            bob.addr(),
            alice.cookie.clone(),
            "alice's cookie, at bob's node",
        ),
        (
            bob.addr(),
            format!("sessionid_{}={value}", bob.addr().port()),
            "alice's session id at bob's node",
        ),
    ] {
        call(addr, Some(&cookie), "GET", "/whoami", "").expect(step, 401, ONE_UI);
    }
    call(
        alice.addr(),
        None,
        "POST",
        "/login",
        &json!({"username": "alice", "password": "wrong password"}).to_string(),
    )
    .expect("a wrong password (the tracker says no)", 401, ONE_UI);

    // Lab 4's rules, at the node.
    let cases = [
        (
            "/broadcast-peer",
            json!({"channel": "nope", "message": "x"}),
            404,
        ),
        (
            "/broadcast-peer",
            json!({"channel": "general", "message": ""}),
            400,
        ),
        (
            "/broadcast-peer",
            json!({"channel": "general", "message": "x".repeat(4097)}),
            413,
        ),
        (
            "/broadcast-peer",
            json!({"from": "bob", "channel": "general", "message": "x"}),
            403,
        ),
        ("/send-peer", json!({"to": "ghost", "message": "x"}), 404),
        ("/send-peer", json!({"to": "bob"}), 400),
        (
            "/send-peer",
            json!({"to": "bob", "channel": "nope", "message": "x"}),
            404,
        ),
        ("/channel/messages", json!({"channel": "nope"}), 404),
        ("/channel/messages", json!({}), 400),
    ];
    for (path, body, status) in cases {
        let answer = alice.post(path, &body.to_string());
        let refused = answer.expect(&format!("POST {path} {body}"), status, ONE_UI);
        if refused["status"] != "error" || !refused["message"].is_string() {
            answer.fail(
                &format!("POST {path} {body}"),
                "{\"status\":\"error\",\"message\":…}",
                ONE_UI,
            );
        }
    }
    alice
        .post("/add-list", r#"{"channel":"rust"}"#)
        .expect("alice creates rust", 200, ONE_UI);
    bob.post("/broadcast-peer", r#"{"channel":"rust","message":"x"}"#)
        .expect("bob posts in rust without joining", 403, ONE_UI);
    let answer = alice.get("/send-peer");
    if answer.response.status != 405 || answer.response.header("allow").is_none() {
        answer.fail("GET /send-peer", "405 with Allow", ONE_UI);
    }

    // Logging out ends the node's session; messages to alice then wait.
    alice.post("/logout", "").expect("log out", 200, ONE_UI);
    alice
        .get("/whoami")
        .expect("GET /whoami after logging out", 401, ONE_UI);
    let answer = bob.direct("alice", "are you there?");
    assert_eq!(
        names(&answer, "queued"),
        ["alice"],
        "alice's node takes no message while its user is logged out: {answer}; see {FAILURES}"
    );
}

#[test]
fn lab5_the_real_binaries_chat_peer_to_peer() {
    let mut rng = Rng::from_time();
    let dirs = [
        TempDir::new("lab5-tracker"),
        TempDir::new("lab5-a"),
        TempDir::new("lab5-b"),
    ];
    let path = |dir: &TempDir| dir.path.to_str().expect("UTF-8 temp path").to_string();
    let tracker = Example::start(
        "lab4_chat",
        &[
            "--port",
            "0",
            "--data",
            &path(&dirs[0]),
            "--iterations",
            "1000",
        ],
    );
    let url = format!("http://{}", tracker.addr);
    let peers: Vec<(Example, SocketAddr)> = [&dirs[1], &dirs[2]]
        .iter()
        .map(|dir| {
            let example = Example::start(
                "lab5_peer",
                &["--tracker", &url, "--port", "0", "--p2p-port", "0", "--data", &path(dir)],
            );
            let second = example.stdout.recv_timeout(STEP_TIMEOUT).unwrap_or_default();
            let p2p = second
                .strip_prefix("p2p on ")
                .and_then(|addr| addr.parse::<SocketAddr>().ok())
                .unwrap_or_else(|| {
                    panic!("lab5_peer's second stdout line is {second:?}; expected `p2p on HOST:PORT`; see {RUNNING}")
                });
            (example, p2p)
        })
        .collect();
    let mut cookies = Vec::new();
    for ((peer, p2p), name) in peers.iter().zip(["alice", "bob"]) {
        register(peer.addr, name);
        let answer = call(peer.addr, None, "POST", "/login", &credentials(name));
        answer.expect(&format!("{name} logs in through lab5_peer"), 200, RUNNING);
        let cookie_name = format!("sessionid_{}", peer.addr.port());
        let value = cookie_value(&answer.response, &cookie_name)
            .unwrap_or_else(|| answer.fail("log in", &format!("a {cookie_name} cookie"), RUNNING));
        let cookie = format!("{cookie_name}={value}");
        let body =
            json!({"username": name, "ip": "127.0.0.1", "port": peer.addr.port()}).to_string();
        let registered = call(peer.addr, Some(&cookie), "POST", "/submit-info", &body).expect(
            "register through lab5_peer",
            200,
            RUNNING,
        );
        assert_eq!(
            registered["peer"]["port"],
            json!(p2p.port()),
            "lab5_peer registers the port it printed as `p2p on`; see {RUNNING}"
        );
        cookies.push(cookie);
    }
    let text = random_text(&mut rng, "through the real binaries");
    let body = json!({"to": "bob", "message": text}).to_string();
    let answer = call(
        peers[0].0.addr,
        Some(&cookies[0]),
        "POST",
        "/send-peer",
        &body,
    );
    let sent = answer.expect("alice sends to bob through lab5_peer", 200, RUNNING);
    if !names(&sent, "unreached").is_empty() {
        answer.fail("alice sends to bob", "delivered: no \"unreached\"", RUNNING);
    }
    let body = json!({"peer": "alice"}).to_string();
    let page = call(
        peers[1].0.addr,
        Some(&cookies[1]),
        "POST",
        "/channel/messages",
        &body,
    )
    .expect("bob reads", 200, RUNNING);
    assert_eq!(
        page["messages"][0]["message"],
        json!(text),
        "bob's node has it: {page}"
    );
    // The tracker logs each request once answered: wait for the check.
    tracker.wait_for_log("POST /check-ticket");
    let mut known = files_under(&dirs[0].path);
    known.extend(tracker.stderr_lines().join("\n").into_bytes());
    assert!(
        !contains(&known, &text),
        "the tracker's log or data directory holds the message text; see {HYBRID}"
    );
}

#[test]
fn lab5_bad_flags_are_one_line_and_exit_code_2() {
    for (args, expected) in [
        (&["--p2p-port", "many"][..], "--p2p-port"),
        (&["--p2p-port", "70000"][..], "--p2p-port"),
        (&["--tracker", "ftp://127.0.0.1:9000"][..], "--tracker"),
        (&["--advertise", "my-laptop"][..], "--advertise"),
        (&["--port", "-1"][..], "--port"),
        (&["--bogus"][..], "--bogus"),
    ] {
        let (code, stdout, stderr) = run_example("lab5_peer", args);
        assert!(
            code == Some(2)
                && stderr.starts_with("error: ")
                && stderr.trim_end().lines().count() == 1
                && stderr.contains(expected)
                && stdout.is_empty(),
            "lab5_peer {args:?}: expected exit code 2 and one `error:` line naming {expected}; \
             got {code:?}, stdout {stdout:?}, stderr {stderr:?}; see {RUNNING}"
        );
    }
    let (code, stdout, _) = run_example("lab5_peer", &["--help"]);
    assert_eq!(code, Some(0));
    for flag in [
        "--tracker",
        "--p2p-port",
        "--advertise",
        "--data",
        "--port",
        "--www",
    ] {
        assert!(stdout.contains(flag), "--help lists {flag}: {stdout}");
    }
}

/// A raw `GET /events` on a node, read as it comes.
struct EventStream {
    stream: TcpStream,
    received: Vec<u8>,
}

impl EventStream {
    fn open(peer: &Peer) -> EventStream {
        let mut stream = connect(peer.addr());
        let request = format!(
            "GET /events HTTP/1.1\r\nHost: test\r\nCookie: {}\r\nConnection: close\r\n\r\n",
            peer.cookie
        );
        stream
            .write_all(request.as_bytes())
            .expect("send GET /events");
        let mut events = EventStream {
            stream,
            received: Vec::new(),
        };
        events.wait_for(": connected");
        events
    }

    /// Reads until `needle` has arrived.
    fn wait_for(&mut self, needle: &str) {
        let mut chunk = [0u8; 4096];
        while !contains(&self.received, needle) {
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => panic!(
                    "the event stream ended or stalled before {needle:?}; received {}; see {ONE_UI}",
                    escape(&self.received)
                ),
                Ok(read) => self.received.extend_from_slice(&chunk[..read]),
            }
        }
    }
}
