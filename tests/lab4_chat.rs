//! Grades lab 4: the hybrid chat server. `cargo test --test lab4_chat`.
//!
//! Every exchange is raw bytes over a real socket, read back with the
//! graders' own reader (`support::http`) and checked with `serde_json`, not
//! with the kit's JSON. The server is the lab 4 application built the way
//! `labs/lab4_chat.rs` builds it (`chat::site`), started in-process on port
//! 0 with a temporary data directory, the low test iteration count, a
//! manual clock (peers go offline without a single sleep) and a short
//! heartbeat. Accounts are created with `POST /register` and logged in with
//! `POST /login`; each request carries the `sessionid` cookie by hand.
//!
//! Two tests run the real `lab4_chat` binary: once to chat, once to kill it
//! with SIGKILL in the middle of a burst of sends and check that nothing
//! acknowledged was lost. Failures name the section of `docs/protocol.md`
//! or `docs/lab4_chat.md` to read.

mod support;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::ops::Deref;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak, mpsc};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use support::http::{Answer, HttpConn, exchange};
use support::{Example, Failure, STEP_TIMEOUT, TempDir, connect, escape, wait_until};
use weaprous::auth::app::{Auth, AuthConfig};
use weaprous::auth::password::TEST_ITERATIONS;
use weaprous::chat::events::HEARTBEAT;
use weaprous::chat::tracker::ONLINE_WINDOW;
use weaprous::chat::{Chat, Settings, site};
use weaprous::clock::{Clock, ManualClock};
use weaprous::http::files::StaticFiles;
use weaprous::http::{Config, serve};
use weaprous::net::Running;

/// The kit's web pages, served as the lab binary serves them.
const WWW: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/www");

/// A heartbeat short enough that a test sees a ping, and that a stream
/// whose client has gone ends soon (its next ping fails).
const TEST_HEARTBEAT: Duration = Duration::from_millis(100);

/// The password of every account the tests create.
const PASSWORD: &str = "correct horse battery";

/// The issue's limits.
const MAX_MESSAGE_BYTES: usize = 4096;
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;
const MAX_BODY_BYTES: usize = 1024 * 1024;
const NO_PEER: &str = "register a peer first (POST /submit-info)";

// Where a failure sends the student.
const CONVENTIONS: &str = "docs/protocol.md, \"Conventions\"";
const ERRORS: &str = "docs/protocol.md, \"Errors\"";
const EVENT_DOC: &str = "docs/protocol.md, \"EVENT\"";
const SUBMIT_INFO: &str = "docs/protocol.md, \"POST /submit-info\"";
const ADD_LIST: &str = "docs/protocol.md, \"POST /add-list\"";
const GET_LIST: &str = "docs/protocol.md, \"GET /get-list\"";
const CONNECT_PEER: &str = "docs/protocol.md, \"POST /connect-peer\"";
const BROADCAST: &str = "docs/protocol.md, \"POST /broadcast-peer\"";
const SEND_PEER: &str = "docs/protocol.md, \"POST /send-peer\"";
const MESSAGES: &str = "docs/protocol.md, \"POST /channel/messages\"";
const EVENTS: &str = "docs/protocol.md, \"GET /events\"";
const OWNERS: &str = "docs/lab4_chat.md, \"Peers belong to accounts\"";
const ONLINE: &str = "docs/lab4_chat.md, \"Online\"";
const RESUMING: &str = "docs/lab4_chat.md, \"Resuming without a gap or a duplicate\"";
const SLOW_READERS: &str = "docs/lab4_chat.md, \"A slow reader never slows the others\"";
const DURABILITY: &str = "docs/lab4_chat.md, \"Ordering and durability\"";
const RUNNING: &str = "docs/lab4_chat.md, \"Running it\"";
const LAB3: &str = "docs/lab3_auth.md, \"The contract\"";

// ---------------------------------------------------------------------------
// The server under test
// ---------------------------------------------------------------------------

/// A lab 4 server started in-process; its [`Api`] is at hand
/// (`lab.broadcast(…)`).
struct Lab4 {
    api: Api,
    running: Running,
    chat: Arc<Chat>,
    clock: Arc<ManualClock>,
    /// The data directory, when this server made it (removed at the end).
    _dir: Option<TempDir>,
}

impl Lab4 {
    /// A server on a fresh data directory.
    fn start() -> Lab4 {
        let dir = TempDir::new("lab4");
        let mut lab = Lab4::on(&dir.path);
        lab._dir = Some(dir);
        lab
    }

    /// A server on data directory `data`, built as `labs/lab4_chat.rs`
    /// builds it.
    fn on(data: &Path) -> Lab4 {
        let (clock, hand) = Clock::manual();
        let config = AuthConfig {
            iterations: TEST_ITERATIONS,
            ..AuthConfig::default()
        };
        let auth = Auth::open(data, config, clock.clone()).expect("open the accounts");
        let settings = Settings {
            clock: clock.clone(),
            heartbeat: TEST_HEARTBEAT,
            ..Settings::default()
        };
        let chat = site::open_chat(&auth, data, settings).expect("open the chat");
        let files = StaticFiles::new(WWW, clock.clone()).expect("the kit's www directory");
        let config = Config {
            clock,
            quiet: true,
            ..Config::default()
        };
        let app = site::app(&auth, &chat, files);
        let running = serve::start(SocketAddr::from(([127, 0, 0, 1], 0)), app, config, 128)
            .expect("start lab 4");
        Lab4 {
            api: Api {
                addr: running.addr(),
            },
            running,
            chat,
            clock: hand,
            _dir: None,
        }
    }

    /// Stops the server as a teacher would between two classes: streams
    /// end, connections close, and the chat (with its log's writer thread)
    /// is dropped before this returns, so that a new server may open the
    /// same data directory.
    fn stop(self) {
        self.chat.close_streams();
        self.running.shutdown(Duration::from_secs(1));
        let chat: Weak<Chat> = Arc::downgrade(&self.chat);
        drop(self.chat);
        wait_until("the stopped server to let go of its chat", || {
            chat.upgrade().is_none()
        });
    }
}

impl Deref for Lab4 {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

/// The chat's API at an address: every request a test makes goes through
/// it, in-process server and real binary alike.
#[derive(Clone, Copy)]
struct Api {
    addr: SocketAddr,
}

impl Api {
    fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Creates an account with `POST /register` and logs it in.
    fn account(&self, name: &str) -> User {
        let body = json!({"username": name, "password": PASSWORD}).to_string();
        call(self.addr, None, "POST", "/register", &[], body.as_bytes()).expect_status(
            &format!("register account {name}"),
            201,
            LAB3,
        );
        self.login(name, PASSWORD)
    }

    /// Logs `name` in and returns it with its session cookie.
    fn login(&self, name: &str, password: &str) -> User {
        let body = json!({"username": name, "password": password}).to_string();
        let answer = call(self.addr, None, "POST", "/login", &[], body.as_bytes());
        let step = format!("log in as {name}");
        answer.expect_status(&step, 200, LAB3);
        let session = answer
            .response
            .header_all("set-cookie")
            .into_iter()
            .find_map(|cookie| cookie.strip_prefix("sessionid="))
            .and_then(|rest| rest.split(';').next())
            .map(str::to_string);
        let Some(session) = session else {
            answer.fail(&step, "a Set-Cookie: sessionid=…", LAB3)
        };
        User {
            name: name.to_string(),
            cookie: format!("sessionid={session}"),
        }
    }

    /// `POST path` with `body` as `user`.
    fn post(&self, user: &User, path: &str, body: &str) -> Answer {
        call(
            self.addr,
            Some(&user.cookie),
            "POST",
            path,
            &[],
            body.as_bytes(),
        )
    }

    /// `GET path` as `user`.
    fn get(&self, user: &User, path: &str) -> Answer {
        call(self.addr, Some(&user.cookie), "GET", path, &[], b"")
    }

    /// Registers peer `name` of `user` at 127.0.0.1:`port`.
    fn peer(&self, user: &User, name: &str, port: u16) {
        let body = json!({"username": name, "ip": "127.0.0.1", "port": port});
        let step = format!("{} registers peer {name}", user.name);
        self.post(user, "/submit-info", &body.to_string())
            .expect(&step, 200, SUBMIT_INFO);
    }

    /// The acting peer (`peer`, or the first one) of `user` joins `channel`.
    fn join(&self, user: &User, peer: Option<&str>, channel: &str) -> Value {
        let body = json!({"username": peer, "channel": channel});
        let step = format!("{} ({peer:?}) joins {channel}", user.name);
        self.post(user, "/add-list", &body.to_string())
            .expect(&step, 200, ADD_LIST)
    }

    /// Broadcasts and returns the acknowledged EVENT, checked.
    fn broadcast(&self, user: &User, from: &str, channel: &str, text: &str) -> Value {
        let body = json!({"from": from, "channel": channel, "message": text});
        let answer = self.post(user, "/broadcast-peer", &body.to_string());
        let want = Want::broadcast(from, channel, text);
        answer.sent_event(&format!("{from} broadcasts in {channel}"), &want, BROADCAST)
    }

    /// Sends a direct message and returns the acknowledged EVENT, checked.
    fn direct(
        &self,
        user: &User,
        from: &str,
        to: &str,
        channel: Option<&str>,
        text: &str,
    ) -> Value {
        let body = json!({"from": from, "to": to, "channel": channel, "message": text});
        let answer = self.post(user, "/send-peer", &body.to_string());
        let want = Want::direct(from, to, channel, text);
        answer.sent_event(&format!("{from} sends a DM to {to}"), &want, SEND_PEER)
    }

    /// A page of `/channel/messages` for the request `body`: its EVENTs.
    fn history(&self, user: &User, body: &Value) -> Vec<Value> {
        let answer = self.post(user, "/channel/messages", &body.to_string());
        answer.messages(&format!("{} reads {body}", user.name))
    }

    /// Every message of `channel` after id `after` that `user` may see,
    /// read page by page.
    fn whole_channel(&self, user: &User, channel: &str, after: u64) -> Vec<Value> {
        let mut all: Vec<Value> = Vec::new();
        loop {
            let after = all.last().map_or(after, id_of);
            let body = json!({"channel": channel, "after": after, "limit": MAX_LIMIT});
            let page = self.history(user, &body);
            if page.is_empty() {
                return all;
            }
            all.extend(page);
        }
    }

    /// `GET /get-list` as `user`, checked for shape.
    fn list(&self, user: &User) -> Value {
        let answer = self.get(user, "/get-list");
        let step = format!("{} lists peers", user.name);
        let list = answer.expect(&step, 200, GET_LIST);
        if let Some(problem) = listing_problem(&list) {
            answer.fail(&step, &problem, GET_LIST);
        }
        list
    }

    /// Opens `GET /events` as `user`, resuming after `last_event_id`, and
    /// reads its opening comment: from then on the stream is subscribed.
    fn events(&self, user: &User, last_event_id: Option<u64>) -> EventStream {
        let mut stream = EventStream::open(self.addr, &user.cookie, last_event_id);
        stream.comment(&format!(
            "{}'s event stream: the opening comment",
            user.name
        ));
        stream
    }

    /// A kept-alive connection of `user`.
    fn tab(&self, user: &User) -> Tab {
        Tab {
            conn: HttpConn::open(self.addr),
            cookie: user.cookie.clone(),
        }
    }
}

/// One account's kept-alive connection: requests one after another, as a
/// browser tab sends them.
struct Tab {
    conn: HttpConn,
    cookie: String,
}

impl Tab {
    /// Broadcasts on this connection and returns the acknowledged EVENT,
    /// checked; `Err` if the connection fails (the server is gone).
    fn try_broadcast(&mut self, from: &str, channel: &str, text: &str) -> Result<Value, String> {
        let body = json!({"from": from, "channel": channel, "message": text}).to_string();
        let sent = request_bytes(
            "POST",
            "/broadcast-peer",
            Some(&self.cookie),
            &[],
            body.as_bytes(),
            false,
        );
        self.conn
            .stream
            .write_all(&sent)
            .map_err(|error| error.to_string())?;
        let response = self.conn.read_response(false)?;
        let want = Want::broadcast(from, channel, text);
        Ok(Answer { sent, response }.sent_event(
            &format!("{from} broadcasts in {channel}"),
            &want,
            BROADCAST,
        ))
    }

    /// [`Tab::try_broadcast`], failing the test if the connection fails.
    fn broadcast(&mut self, from: &str, channel: &str, text: &str) -> Value {
        self.try_broadcast(from, channel, text)
            .unwrap_or_else(|error| panic!("{from} broadcasts {text:?} in {channel}: {error}"))
    }
}

/// A logged-in account.
#[derive(Clone, Debug)]
struct User {
    name: String,
    /// The `Cookie` header value: `sessionid=…`.
    cookie: String,
}

// ---------------------------------------------------------------------------
// Requests and answers
// ---------------------------------------------------------------------------

/// The bytes of a request: `method path`, the session cookie, `headers`,
/// and the body with its `Content-Length` (for every method but GET and
/// HEAD). `close` adds `Connection: close`.
fn request_bytes(
    method: &str,
    path: &str,
    cookie: Option<&str>,
    headers: &[(&str, &str)],
    body: &[u8],
    close: bool,
) -> Vec<u8> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: test\r\n");
    if let Some(cookie) = cookie {
        head.push_str(&format!("Cookie: {cookie}\r\n"));
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !matches!(method, "GET" | "HEAD") {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    if close {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// Sends one request on a new connection and reads the answer.
fn call(
    addr: SocketAddr,
    cookie: Option<&str>,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Answer {
    let sent = request_bytes(method, path, cookie, headers, body, true);
    let response = exchange(addr, &sent);
    Answer { sent, response }
}

impl Answer {
    /// The body as JSON, which every answer of the API must be.
    fn json(&self, step: &str) -> Value {
        let content_type = self.response.header("content-type").unwrap_or("");
        if !content_type.starts_with("application/json") {
            self.fail(
                step,
                "Content-Type: application/json (every answer of the API is JSON, errors included)",
                CONVENTIONS,
            );
        }
        serde_json::from_slice(&self.response.body)
            .unwrap_or_else(|error| self.fail(step, &format!("a JSON body ({error})"), CONVENTIONS))
    }

    /// Fails unless the status is `status` and the body JSON; returns the
    /// body.
    fn expect_status(&self, step: &str, status: u16, doc: &str) -> Value {
        if self.response.status != status {
            self.fail(step, &format!("status {status}"), doc);
        }
        self.json(step)
    }

    /// [`Answer::expect_status`] for a chat route: an error status also
    /// needs `{"status":"error","message":…}` with a message (lab 3's 401
    /// has its own shape).
    fn expect(&self, step: &str, status: u16, doc: &str) -> Value {
        let body = self.expect_status(step, status, doc);
        if status >= 400 && status != 401 {
            self.expect_error_shape(step, &body);
        }
        body
    }

    /// Fails unless `body` is `{"status":"error","message":"…"}`.
    fn expect_error_shape(&self, step: &str, body: &Value) {
        let message = body.get("message").and_then(Value::as_str).unwrap_or("");
        if body.get("status") != Some(&json!("error")) || message.trim().is_empty() {
            self.fail(
                step,
                "{\"status\":\"error\",\"message\":\"what is wrong\"}",
                ERRORS,
            );
        }
    }

    /// Fails unless the answer is a 200 `{"status":"sent","message":EVENT}`
    /// with the EVENT `want`; returns the EVENT.
    fn sent_event(&self, step: &str, want: &Want<'_>, doc: &str) -> Value {
        let body = self.expect(step, 200, doc);
        if body.get("status") != Some(&json!("sent")) {
            self.fail(step, "{\"status\":\"sent\",\"message\":EVENT}", doc);
        }
        let event = body.get("message").cloned().unwrap_or(Value::Null);
        if let Some(problem) = event_problem(&event, want) {
            self.fail(step, &problem, EVENT_DOC);
        }
        event
    }

    /// The EVENTs of a 200 `{"status":"ok","messages":[…]}`, each checked
    /// for shape.
    fn messages(&self, step: &str) -> Vec<Value> {
        let body = self.expect(step, 200, MESSAGES);
        let Some(messages) = body.get("messages").and_then(Value::as_array) else {
            self.fail(step, "{\"status\":\"ok\",\"messages\":[EVENT…]}", MESSAGES)
        };
        if body.get("status") != Some(&json!("ok")) {
            self.fail(step, "{\"status\":\"ok\",\"messages\":[EVENT…]}", MESSAGES);
        }
        for event in messages {
            if let Some(problem) = shape_problem(event) {
                self.fail(step, &problem, EVENT_DOC);
            }
        }
        messages.clone()
    }
}

// ---------------------------------------------------------------------------
// EVENTs
// ---------------------------------------------------------------------------

/// What an EVENT should say.
struct Want<'a> {
    kind: &'a str,
    from: &'a str,
    to: Option<&'a str>,
    channel: Option<&'a str>,
    message: &'a str,
}

impl<'a> Want<'a> {
    fn broadcast(from: &'a str, channel: &'a str, message: &'a str) -> Want<'a> {
        Want {
            kind: "broadcast",
            from,
            to: None,
            channel: Some(channel),
            message,
        }
    }

    fn direct(from: &'a str, to: &'a str, channel: Option<&'a str>, message: &'a str) -> Want<'a> {
        Want {
            kind: "direct",
            from,
            to: Some(to),
            channel,
            message,
        }
    }
}

/// What is wrong with `event` as an EVENT saying `want`, if anything.
fn event_problem(event: &Value, want: &Want<'_>) -> Option<String> {
    if let Some(problem) = shape_problem(event) {
        return Some(problem);
    }
    let expected = json!({
        "type": want.kind,
        "from": want.from,
        "to": want.to,
        "channel": want.channel,
        "message": want.message,
    });
    let differs = ["type", "from", "to", "channel", "message"]
        .iter()
        .any(|key| event.get(key) != expected.get(key));
    differs.then(|| format!("an EVENT with {expected} (and an id and a timestamp); got {event}"))
}

/// What is wrong with the shape of an EVENT, if anything: exactly the keys
/// `id` (an integer), `type`, `from`, `to`, `channel`, `message`,
/// `timestamp` (RFC 3339, UTC, milliseconds).
fn shape_problem(event: &Value) -> Option<String> {
    const KEYS: [&str; 7] = [
        "id",
        "type",
        "from",
        "to",
        "channel",
        "message",
        "timestamp",
    ];
    let Some(object) = event.as_object() else {
        return Some(format!("an EVENT object; got {event}"));
    };
    let keys: BTreeSet<&str> = object.keys().map(String::as_str).collect();
    if keys != KEYS.into_iter().collect() {
        return Some(format!(
            "an EVENT with exactly the keys {KEYS:?}; got {event}"
        ));
    }
    let string_or_null = |key: &str| object[key].is_string() || object[key].is_null();
    let problem = if !object["id"].is_u64() {
        "\"id\" an integer"
    } else if !matches!(object["type"].as_str(), Some("broadcast" | "direct")) {
        "\"type\" \"broadcast\" or \"direct\""
    } else if !object["from"].is_string() || !object["message"].is_string() {
        "\"from\" and \"message\" strings"
    } else if !string_or_null("to") || !string_or_null("channel") {
        "\"to\" and \"channel\" a string or null"
    } else if object["type"] == "broadcast" && !object["to"].is_null() {
        "\"to\" null in a broadcast"
    } else if object["type"] == "direct" && object["to"].is_null() {
        "\"to\" set in a direct message"
    } else {
        let timestamp = object["timestamp"].as_str().unwrap_or("");
        return timestamp_problem(timestamp).map(|problem| format!("{problem}; in {event}"));
    };
    Some(format!("{problem}; got {event}"))
}

/// What is wrong with `text` as the timestamp of a message stored in the
/// last day or so: RFC 3339 in UTC with milliseconds, `2026-11-25T12:00:00.123Z`.
fn timestamp_problem(text: &str) -> Option<String> {
    const SHAPE: &str = "dddd-dd-ddTdd:dd:dd.dddZ";
    let shaped = text.len() == SHAPE.len()
        && text
            .bytes()
            .zip(SHAPE.bytes())
            .all(|(byte, shape)| match shape {
                b'd' => byte.is_ascii_digit(),
                _ => byte == shape,
            });
    if !shaped {
        return Some(format!(
            "\"timestamp\" in RFC 3339 UTC with milliseconds, like 2026-11-25T12:00:00.123Z; got {text:?}"
        ));
    }
    let number = |range: std::ops::Range<usize>| text[range].parse::<i64>().unwrap_or(-1);
    let (year, month, day) = (number(0..4), number(5..7), number(8..10));
    let (hour, minute, second) = (number(11..13), number(14..16), number(17..19));
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return Some(format!("\"timestamp\" a real date and time; got {text:?}"));
    }
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64);
    ((seconds - now).abs() > 86_400).then(|| {
        format!("\"timestamp\" the time the message was stored (now, in UTC); got {text:?}")
    })
}

/// Days since 1970-01-01 of a date of the Gregorian calendar (Howard
/// Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// EVENTs as JSON text, for failure messages.
fn show(events: &[Value]) -> String {
    let shown: Vec<String> = events.iter().map(Value::to_string).collect();
    format!("[{}]", shown.join(", "))
}

fn id_of(event: &Value) -> u64 {
    event.get("id").and_then(Value::as_u64).unwrap_or(0)
}

fn ids(events: &[Value]) -> Vec<u64> {
    events.iter().map(id_of).collect()
}

fn texts(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|event| event["message"].as_str().unwrap_or("").to_string())
        .collect()
}

/// What is wrong with a `/get-list` answer's shape, if anything.
fn listing_problem(list: &Value) -> Option<String> {
    let peers = list.get("peers").and_then(Value::as_array);
    let channels = list.get("channels").and_then(Value::as_array);
    let (Some(peers), Some(channels)) = (peers, channels) else {
        return Some("{\"status\":\"ok\",\"peers\":[…],\"channels\":[…]}".to_string());
    };
    if list.get("status") != Some(&json!("ok")) || !channels.iter().all(Value::is_string) {
        return Some("\"status\":\"ok\" and \"channels\" a list of names".to_string());
    }
    let keys: BTreeSet<&str> = ["username", "ip", "port", "online", "channels"].into();
    for peer in peers {
        let shaped = peer.as_object().is_some_and(|object| {
            object.keys().map(String::as_str).collect::<BTreeSet<_>>() == keys
        }) && peer["username"].is_string()
            && peer["ip"].is_string()
            && peer["port"].is_u64()
            && peer["online"].is_boolean()
            && peer["channels"]
                .as_array()
                .is_some_and(|names| names.iter().all(Value::is_string));
        if !shaped {
            return Some(format!(
                "each peer {{\"username\",\"ip\",\"port\" (a number),\"online\" (true/false),\"channels\":[names]}}; got {peer}"
            ));
        }
    }
    None
}

/// The row of peer `name` in a `/get-list` answer.
fn row<'l>(list: &'l Value, name: &str) -> Option<&'l Value> {
    list["peers"]
        .as_array()?
        .iter()
        .find(|peer| peer["username"] == name)
}

/// Whether peer `name` is online in a `/get-list` answer.
fn online(list: &Value, name: &str) -> Option<bool> {
    row(list, name)?["online"].as_bool()
}

// ---------------------------------------------------------------------------
// Server-Sent Events over a raw socket
// ---------------------------------------------------------------------------

/// An open `GET /events` response, read as it arrives.
struct EventStream {
    stream: TcpStream,
    /// The request, for failure messages.
    sent: Vec<u8>,
    /// Everything received, for failure messages.
    received: Vec<u8>,
    /// Chunked bytes not yet decoded.
    raw: Vec<u8>,
    /// Decoded bytes; those before `text_start` are split into blocks
    /// already.
    text: Vec<u8>,
    text_start: usize,
    /// The last chunk has arrived.
    ended: bool,
}

impl EventStream {
    /// Sends `GET /events` and reads the head; fails unless it is a 200
    /// `text/event-stream`.
    fn open(addr: SocketAddr, cookie: &str, last_event_id: Option<u64>) -> EventStream {
        let last = last_event_id.map(|id| id.to_string());
        let headers: Vec<(&str, &str)> = last
            .iter()
            .map(|id| ("Last-Event-ID", id.as_str()))
            .collect();
        let sent = request_bytes("GET", "/events", Some(cookie), &headers, b"", false);
        let mut stream = connect(addr);
        stream
            .write_all(&sent)
            .unwrap_or_else(|error| panic!("sending {}: {error}", escape(&sent)));
        let mut events = EventStream {
            stream,
            sent,
            received: Vec::new(),
            raw: Vec::new(),
            text: Vec::new(),
            text_start: 0,
            ended: false,
        };
        while find(&events.raw, b"\r\n\r\n").is_none() {
            events.read_more("the head of the event stream");
        }
        let end = find(&events.raw, b"\r\n\r\n").unwrap_or(0) + 4;
        let head = String::from_utf8_lossy(&events.raw[..end]).to_ascii_lowercase();
        events.raw.drain(..end);
        let ok = head.starts_with("http/1.1 200")
            && head.contains("\r\ncontent-type: text/event-stream")
            && head.contains("\r\ntransfer-encoding: chunked\r\n");
        if !ok {
            events.fail(
                "open the event stream",
                "200 with Content-Type: text/event-stream, chunked",
                EVENTS,
            );
        }
        events
    }

    fn fail(&self, step: &str, expected: &str, doc: &str) -> ! {
        panic!(
            "{}",
            Failure {
                step,
                sent: &self.sent,
                received: &self.received,
                expected,
                doc,
            }
        )
    }

    fn read_more(&mut self, waiting_for: &str) {
        let mut piece = [0u8; 64 * 1024];
        match self.stream.read(&mut piece) {
            Ok(0) => self.fail(
                waiting_for,
                &format!("{waiting_for}, not the end of the connection"),
                EVENTS,
            ),
            Ok(read) => {
                self.received.extend_from_slice(&piece[..read]);
                self.raw.extend_from_slice(&piece[..read]);
            }
            Err(error) => self.fail(
                waiting_for,
                &format!("{waiting_for} within {STEP_TIMEOUT:?} ({error})"),
                EVENTS,
            ),
        }
    }

    /// Moves every complete chunk from `raw` to `text`.
    fn decode(&mut self) {
        while let Some(line_end) = find(&self.raw, b"\r\n") {
            let size_text = String::from_utf8_lossy(&self.raw[..line_end]).into_owned();
            let Ok(size) =
                usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            else {
                self.fail(
                    "decode a chunk",
                    "a chunk size in hex (RFC 9112 §7.1)",
                    EVENTS,
                );
            };
            if size == 0 {
                self.ended = true;
                return;
            }
            let end = line_end + 2 + size + 2;
            if self.raw.len() < end {
                return;
            }
            self.text
                .extend_from_slice(&self.raw[line_end + 2..end - 2]);
            self.raw.drain(..end);
        }
    }

    /// The next block of lines (an event or a comment), or `None` if the
    /// stream ended.
    fn block(&mut self, waiting_for: &str) -> Option<String> {
        loop {
            if let Some(end) = find(&self.text[self.text_start..], b"\n\n") {
                let block = &self.text[self.text_start..self.text_start + end];
                let block = String::from_utf8_lossy(block).into_owned();
                self.text_start += end + 2;
                return Some(block);
            }
            self.text.drain(..self.text_start);
            self.text_start = 0;
            self.decode();
            if find(&self.text, b"\n\n").is_some() {
                continue;
            }
            if self.ended {
                return None;
            }
            self.read_more(waiting_for);
        }
    }

    /// The next event as (id, EVENT), skipping comments.
    fn next_event(&mut self, waiting_for: &str) -> (u64, Value) {
        loop {
            let Some(block) = self.block(waiting_for) else {
                self.fail(
                    waiting_for,
                    &format!("{waiting_for}; the stream ended"),
                    EVENTS,
                )
            };
            if block.starts_with(':') {
                continue;
            }
            return self.parse_event(&block, waiting_for);
        }
    }

    /// An event block: `id: N` and `data: {EVENT}` lines (HTML §9.2.6).
    fn parse_event(&self, block: &str, waiting_for: &str) -> (u64, Value) {
        let (mut id, mut data) = (None, None);
        for line in block.lines() {
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "id" => id = value.parse::<u64>().ok(),
                "data" => data = serde_json::from_str::<Value>(value).ok(),
                _ => {}
            }
        }
        match (id, data) {
            (Some(id), Some(event)) if id_of(&event) == id && shape_problem(&event).is_none() => {
                (id, event)
            }
            _ => self.fail(
                waiting_for,
                &format!(
                    "an event \"id: N\\ndata: EVENT\\n\\n\" with the EVENT's id; got {block:?}"
                ),
                EVENTS,
            ),
        }
    }

    /// The next `count` events.
    fn events(&mut self, count: usize, waiting_for: &str) -> Vec<(u64, Value)> {
        (0..count).map(|_| self.next_event(waiting_for)).collect()
    }

    /// Every event until the server ends the stream.
    fn until_end(&mut self, waiting_for: &str) -> Vec<(u64, Value)> {
        let mut events = Vec::new();
        while let Some(block) = self.block(waiting_for) {
            if !block.starts_with(':') {
                events.push(self.parse_event(&block, waiting_for));
            }
        }
        events
    }

    /// The next comment block, failing on an event.
    fn comment(&mut self, waiting_for: &str) -> String {
        match self.block(waiting_for) {
            Some(block) if block.starts_with(':') => block,
            other => self.fail(
                waiting_for,
                &format!("{waiting_for}: a comment line starting with ':'; got {other:?}"),
                EVENTS,
            ),
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

// ---------------------------------------------------------------------------
// A cast: alice (peers ann and ann2), bob (peer bo), carol (no peer yet)
// ---------------------------------------------------------------------------

struct Cast {
    alice: User,
    bob: User,
    carol: User,
}

/// Three accounts; alice owns `ann` (9100) and `ann2` (9101), bob owns `bo`
/// (9200); `ann` and `bo` are in `general`; carol has no peer.
fn cast(lab: &Lab4) -> Cast {
    let cast = Cast {
        alice: lab.account("alice"),
        bob: lab.account("bob"),
        carol: lab.account("carol"),
    };
    lab.peer(&cast.alice, "ann", 9100);
    lab.peer(&cast.alice, "ann2", 9101);
    lab.peer(&cast.bob, "bo", 9200);
    lab.join(&cast.alice, Some("ann"), "general");
    lab.join(&cast.bob, Some("bo"), "general");
    cast
}

// ---------------------------------------------------------------------------
// POST /submit-info
// ---------------------------------------------------------------------------

#[test]
fn lab4_submit_info_registers_peers_that_belong_to_their_account() {
    let lab = Lab4::start();
    let alice = lab.account("alice");
    let bob = lab.account("bob");
    #[rustfmt::skip]
    let cases = [
        (json!({"username":"ann","ip":"127.0.0.1","port":9100}), 9100, "port as a number"),
        (json!({"username":"ann2","ip":"127.0.0.1","port":"9101"}), 9101, "port as a numeric string (the course's UI)"),
        (json!({"username":"ann-6.v_1","ip":"::1","port":65535}), 65535, "an IPv6 address, every allowed character"),
    ];
    for (body, port, what) in &cases {
        let answer = lab.post(&alice, "/submit-info", &body.to_string());
        let got = answer.expect(&format!("register a peer, {what}"), 200, SUBMIT_INFO);
        let expected =
            json!({"status":"ok","peer":{"username":body["username"],"ip":body["ip"],"port":port}});
        if got != expected {
            answer.fail(
                &format!("register a peer, {what}"),
                &expected.to_string(),
                SUBMIT_INFO,
            );
        }
    }
    let moved = json!({"username":"ann","ip":"10.0.0.7","port":9200});
    let answer = call(
        lab.addr(),
        Some(&alice.cookie),
        "POST",
        "/submit-info/",
        &[],
        moved.to_string().as_bytes(),
    );
    answer.expect(
        "register ann again at a new address, with a trailing slash",
        200,
        SUBMIT_INFO,
    );
    let list = lab.list(&alice);
    let ann = row(&list, "ann").cloned().unwrap_or(Value::Null);
    if ann["ip"] != "10.0.0.7" || ann["port"] != 9200 {
        answer.fail(
            "get-list after moving ann",
            &format!("ann at 10.0.0.7:9200 in {list}"),
            SUBMIT_INFO,
        );
    }

    #[rustfmt::skip]
    let taken = [
        (&bob, "ann", "a peer of another account"),
        (&bob, "alice", "another account's username"),
        (&alice, "bob", "another account's username"),
    ];
    for (user, name, what) in taken {
        let body = json!({"username": name, "ip":"127.0.0.1","port":9300});
        lab.post(user, "/submit-info", &body.to_string()).expect(
            &format!("{} registers {name}, {what}", user.name),
            409,
            OWNERS,
        );
    }
    lab.post(
        &bob,
        "/submit-info",
        r#"{"username":"bob","ip":"127.0.0.1","port":9300}"#,
    )
    .expect(
        "bob registers a peer named bob, his own username",
        200,
        OWNERS,
    );

    let valid = json!({"username":"x1","ip":"127.0.0.1","port":1});
    #[rustfmt::skip]
    let bad = [
        ("ip", json!("localhost"), "a host name, not an IP"),
        ("ip", json!("256.0.0.1"), "an impossible IPv4 address"),
        ("ip", json!(""), "an empty ip"),
        ("ip", json!("127.0.0.1 "), "an ip with a space"),
        ("ip", json!("fe80::1%eth0"), "an IPv6 address with a zone"),
        ("port", json!(0), "port 0"),
        ("port", json!(65536), "port 65536"),
        ("port", json!(-1), "a negative port"),
        ("port", json!(80.5), "a fractional port"),
        ("port", json!("80a"), "a port string with a letter"),
        ("port", json!(""), "an empty port string"),
        ("port", json!(" 80"), "a port string with a space"),
        ("port", json!("70000"), "a port string out of range"),
        ("port", json!("-80"), "a negative port string"),
        ("port", json!(true), "a port that is true"),
        ("username", json!(""), "an empty name"),
        ("username", json!("a b"), "a name with a space"),
        ("username", json!("anné"), "a name with a non-ASCII letter"),
        ("username", json!("a/b"), "a name with a slash"),
        ("username", json!("n".repeat(33)), "a 33-character name"),
        ("username", json!(7), "a name that is a number"),
    ];
    let before = lab.list(&alice);
    for (key, value, what) in bad {
        let mut body = valid.clone();
        body[key] = value;
        let step = format!("register a peer with {what}: {body}");
        lab.post(&alice, "/submit-info", &body.to_string())
            .expect(&step, 400, SUBMIT_INFO);
    }
    let after = lab.list(&alice);
    let names = |list: &Value| -> Vec<String> {
        list["peers"]
            .as_array()
            .map(|peers| {
                peers
                    .iter()
                    .map(|p| p["username"].as_str().unwrap_or("").to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(
        names(&after),
        names(&before),
        "refused registrations store nothing ({SUBMIT_INFO})"
    );
    assert_eq!(
        names(&after),
        ["ann", "ann-6.v_1", "ann2", "bob"],
        "the peers, sorted by name ({GET_LIST})"
    );

    // The reverse: an account may not take a peer's name.
    lab.peer(&alice, "dave", 9400);
    for name in ["dave", "ann"] {
        let body = json!({"username": name, "password": PASSWORD}).to_string();
        call(lab.addr(), None, "POST", "/register", &[], body.as_bytes()).expect_status(
            &format!("create an account named {name}, a peer of alice"),
            409,
            OWNERS,
        );
    }
}

// ---------------------------------------------------------------------------
// POST /add-list and GET /get-list
// ---------------------------------------------------------------------------

#[test]
fn lab4_add_list_creates_channels_and_get_list_shows_them() {
    let lab = Lab4::start();
    let alice = lab.account("alice");
    let bob = lab.account("bob");
    let carol = lab.account("carol");
    let fresh = lab.list(&carol);
    assert_eq!(
        fresh,
        json!({"status":"ok","peers":[],"channels":["general"]}),
        "a new server: no peer, and `general` ({ADD_LIST})"
    );
    lab.peer(&alice, "ann", 9100);
    lab.peer(&alice, "ann2", 9101);
    lab.peer(&bob, "bo", 9200);

    #[rustfmt::skip]
    let steps = [
        (&alice, json!({"channel":"general"}), json!({"status":"ok","channel":"general","members":["ann"]}), "alice's first peer joins general"),
        (&bob, json!({"username":"bo","channel":"general"}), json!({"status":"ok","channel":"general","members":["ann","bo"]}), "bo joins general"),
        (&bob, json!({"channel":"general"}), json!({"status":"ok","channel":"general","members":["ann","bo"]}), "bo joins general twice"),
        (&alice, json!({"username":"ann2","channel":"net-works_2.0"}), json!({"status":"ok","channel":"net-works_2.0","members":["ann2"]}), "ann2 creates a channel"),
        (&bob, json!({"channel":"net-works_2.0","username":null}), json!({"status":"ok","channel":"net-works_2.0","members":["ann2","bo"]}), "bo joins it (null counts as absent)"),
    ];
    for (user, body, expected, step) in steps {
        let answer = lab.post(user, "/add-list", &body.to_string());
        let got = answer.expect(step, 200, ADD_LIST);
        if got != expected {
            answer.fail(step, &expected.to_string(), ADD_LIST);
        }
    }
    let list = lab.list(&carol);
    let expected = json!({"status":"ok",
        "peers":[
            {"username":"ann","ip":"127.0.0.1","port":9100,"online":true,"channels":["general"]},
            {"username":"ann2","ip":"127.0.0.1","port":9101,"online":true,"channels":["net-works_2.0"]},
            {"username":"bo","ip":"127.0.0.1","port":9200,"online":true,"channels":["general","net-works_2.0"]}],
        "channels":["general","net-works_2.0"]});
    assert_eq!(
        list, expected,
        "GET /get-list: peers sorted by name with their channels' names, and every channel's name ({GET_LIST})"
    );

    #[rustfmt::skip]
    let refused = [
        (&alice, json!({"channel":""}), 400, ADD_LIST, "an empty channel name"),
        (&alice, json!({"channel":"a b"}), 400, ADD_LIST, "a channel name with a space"),
        (&alice, json!({"channel":"c".repeat(33)}), 400, ADD_LIST, "a 33-character channel name"),
        (&alice, json!({"channel":5}), 400, ADD_LIST, "a channel that is a number"),
        (&alice, json!({}), 400, ADD_LIST, "no channel"),
        (&alice, json!({"username":"bo","channel":"general"}), 403, OWNERS, "alice joins as bob's peer"),
        (&alice, json!({"username":"bob","channel":"general"}), 403, OWNERS, "alice joins as bob's username"),
        (&alice, json!({"username":"ghost","channel":"general"}), 403, OWNERS, "alice joins as a peer nobody has"),
    ];
    for (user, body, status, doc, step) in refused {
        lab.post(user, "/add-list", &body.to_string())
            .expect(step, status, doc);
    }
    let answer = lab.post(&carol, "/add-list", r#"{"channel":"general"}"#);
    let body = answer.expect("carol, who has no peer, joins general", 400, OWNERS);
    if body["message"] != NO_PEER {
        answer.fail(
            "carol, who has no peer, joins general",
            &format!("the message {NO_PEER:?}"),
            OWNERS,
        );
    }
    let mut after = lab.list(&carol);
    let mut expected = expected;
    for list in [&mut after, &mut expected] {
        for peer in list["peers"].as_array_mut().into_iter().flatten() {
            peer["online"] = json!(true);
        }
    }
    assert_eq!(after, expected, "refused joins change nothing ({ADD_LIST})");
}

#[test]
fn lab4_get_list_online_follows_requests_and_event_streams() {
    let lab = Lab4::start();
    let Cast { alice, bob, carol } = cast(&lab);
    lab.peer(&carol, "cy", 9300);
    let check = |list: &Value, peer: &str, expected: bool, when: &str| {
        assert_eq!(
            online(list, peer),
            Some(expected),
            "{when}: {peer} should be {}; got {list} ({ONLINE})",
            if expected { "online" } else { "offline" }
        );
    };
    lab.clock.advance(ONLINE_WINDOW - Duration::from_secs(1));
    let list = lab.list(&carol);
    for peer in ["ann", "ann2", "bo", "cy"] {
        check(&list, peer, true, "29 s after everyone's last request");
    }
    lab.clock.advance(Duration::from_secs(2));
    let list = lab.list(&carol);
    for peer in ["ann", "ann2", "bo"] {
        check(&list, peer, false, "31 s after its account's last request");
    }
    check(&list, "cy", true, "carol is asking right now");

    let stream = lab.events(&bob, None);
    lab.clock.advance(ONLINE_WINDOW * 3);
    let list = lab.list(&carol);
    check(
        &list,
        "bo",
        true,
        "bob holds an event stream, 90 s after his last request",
    );
    check(&list, "ann", false, "alice has been silent for 2 minutes");

    drop(stream);
    wait_until(
        "bo to go offline once bob's only event stream has closed",
        || online(&lab.list(&carol), "bo") == Some(false),
    );
    lab.history(&alice, &json!({"channel":"general"}));
    let list = lab.list(&carol);
    check(&list, "ann", true, "alice just read the history");
    check(
        &list,
        "ann2",
        true,
        "online is the account's: alice just made a request",
    );
}

// ---------------------------------------------------------------------------
// POST /connect-peer
// ---------------------------------------------------------------------------

#[test]
fn lab4_connect_peer_gives_the_address_of_a_peer() {
    let lab = Lab4::start();
    let Cast { alice, bob, carol } = cast(&lab);
    let answer = lab.post(&bob, "/connect-peer", r#"{"to":"ann2"}"#);
    let got = answer.expect("bob looks up ann2", 200, CONNECT_PEER);
    let expected = json!({"status":"ok","to":{"username":"ann2","ip":"127.0.0.1","port":9101}});
    if got != expected {
        answer.fail("bob looks up ann2", &expected.to_string(), CONNECT_PEER);
    }
    lab.post(&alice, "/connect-peer", r#"{"from":"ann2","to":"bo"}"#)
        .expect("alice, as ann2, looks up bo", 200, CONNECT_PEER);
    #[rustfmt::skip]
    let cases = [
        (&bob, r#"{"to":"ghost"}"#, 404, "no such peer"),
        (&bob, r#"{"to":"carol"}"#, 404, "an account, not a peer"),
        (&bob, r#"{"from":"ann","to":"ann2"}"#, 403, "bob as alice's peer"),
        (&bob, r#"{}"#, 400, "no \"to\""),
        (&bob, r#"{"to":5}"#, 400, "\"to\" a number"),
        (&carol, r#"{"to":"bo"}"#, 400, "carol has no peer"),
    ];
    for (user, body, status, step) in cases {
        lab.post(user, "/connect-peer", body)
            .expect(step, status, CONNECT_PEER);
    }
}

// ---------------------------------------------------------------------------
// POST /broadcast-peer and POST /send-peer
// ---------------------------------------------------------------------------

#[test]
fn lab4_broadcast_peer_answers_the_stored_event() {
    let lab = Lab4::start();
    let Cast { alice, bob, carol } = cast(&lab);
    let text = "Hello, everyone! \"quotes\", <b>tags</b>, \\ and\na new line — ünïcødé 🎉";
    let first = lab.broadcast(&alice, "ann", "general", text);
    let answer = lab.post(
        &bob,
        "/broadcast-peer",
        r#"{"channel":"general","message":"hi"}"#,
    );
    let second = answer.sent_event(
        "bob broadcasts without from (his first peer)",
        &Want::broadcast("bo", "general", "hi"),
        BROADCAST,
    );
    if id_of(&second) <= id_of(&first) {
        answer.fail(
            "a second broadcast",
            &format!("an id above {}", id_of(&first)),
            EVENT_DOC,
        );
    }
    let body = answer.json("bob broadcasts");
    if body.get("unreached").is_some() || body.get("queued").is_some() {
        answer.fail(
            "bob broadcasts",
            "no \"unreached\" or \"queued\": the lab 4 server relays everything",
            BROADCAST,
        );
    }
    let fits = "é".repeat(MAX_MESSAGE_BYTES / 2);
    lab.broadcast(&alice, "ann", "general", &fits);
    let history = lab.history(&carol, &json!({"channel":"general"}));
    assert_eq!(
        texts(&history),
        [text, "hi", fits.as_str()],
        "carol reads the broadcasts back exactly as sent ({MESSAGES})"
    );
    assert_eq!(
        history[0], first,
        "the history holds the EVENT the sender was answered ({EVENT_DOC})"
    );

    lab.join(&alice, Some("ann2"), "side");
    let long = "x".repeat(MAX_MESSAGE_BYTES + 1);
    let huge = "y".repeat(MAX_BODY_BYTES / 2);
    #[rustfmt::skip]
    let refused = [
        (json!({"channel":"side","message":"x"}), 403, "ann (alice's first peer) is not in side"),
        (json!({"from":"ann2","channel":"general","message":"x"}), 403, "ann2 is not in general"),
        (json!({"from":"bo","channel":"general","message":"x"}), 403, "alice as bob's peer"),
        (json!({"channel":"nope","message":"x"}), 404, "no such channel"),
        (json!({"channel":"general","message":""}), 400, "an empty message"),
        (json!({"channel":"general","message":" \n\t "}), 400, "a message of white space"),
        (json!({"channel":"general","message":long}), 413, "4,097 bytes"),
        (json!({"channel":"general","message":huge}), 413, "half a megabyte"),
        (json!({"channel":"general"}), 400, "no message"),
        (json!({"message":"x"}), 400, "no channel"),
    ];
    for (body, status, step) in &refused {
        lab.post(&alice, "/broadcast-peer", &body.to_string())
            .expect(step, *status, BROADCAST);
    }
    let answer = lab.post(
        &carol,
        "/broadcast-peer",
        r#"{"channel":"general","message":"x"}"#,
    );
    let body = answer.expect("carol, who has no peer, broadcasts", 400, OWNERS);
    if body["message"] != NO_PEER {
        answer.fail(
            "carol, who has no peer, broadcasts",
            &format!("the message {NO_PEER:?}"),
            OWNERS,
        );
    }
    assert_eq!(
        lab.history(&carol, &json!({"channel":"general"})),
        history,
        "refused broadcasts store nothing ({BROADCAST})"
    );
}

#[test]
fn lab4_send_peer_stores_direct_messages() {
    let lab = Lab4::start();
    let Cast { alice, bob, carol } = cast(&lab);
    let plain = lab.direct(&bob, "bo", "ann2", None, "Lunch?");
    let answer = lab.post(&bob, "/send-peer", r#"{"to":"ann","message":"no from"}"#);
    answer.sent_event(
        "bob sends without from",
        &Want::direct("bo", "ann", None, "no from"),
        SEND_PEER,
    );
    let in_channel = lab.direct(&alice, "ann", "bo", Some("general"), "psst");
    lab.direct(&alice, "ann", "ann2", None, "note to self");
    assert!(
        id_of(&plain) < id_of(&in_channel),
        "ids increase ({EVENT_DOC})"
    );

    let long = "z".repeat(MAX_MESSAGE_BYTES + 1);
    #[rustfmt::skip]
    let refused = [
        (&bob, json!({"to":"ghost","message":"x"}), 404, "no such peer"),
        (&bob, json!({"to":"alice","message":"x"}), 404, "an account, not a peer"),
        (&bob, json!({"to":"ann","channel":"nope","message":"x"}), 404, "no such channel"),
        (&bob, json!({"from":"ann","to":"ann2","message":"x"}), 403, "bob as alice's peer"),
        (&bob, json!({"to":"ann","message":""}), 400, "an empty message"),
        (&bob, json!({"to":"ann","message":long}), 413, "4,097 bytes"),
        (&bob, json!({"message":"x"}), 400, "no \"to\""),
        (&bob, json!({"to":"ann"}), 400, "no message"),
        (&bob, json!({"to":"ann","channel":7,"message":"x"}), 400, "a channel that is a number"),
        (&carol, json!({"to":"ann","message":"x"}), 400, "carol has no peer"),
    ];
    for (user, body, status, step) in refused {
        lab.post(user, "/send-peer", &body.to_string())
            .expect(step, status, SEND_PEER);
    }
    let between = lab.history(&alice, &json!({"peer":"bo"}));
    assert_eq!(
        texts(&between),
        ["Lunch?", "no from", "psst"],
        "the DMs between bo and alice's peers, both ways; refused sends stored nothing ({SEND_PEER})"
    );
}

// ---------------------------------------------------------------------------
// POST /channel/messages
// ---------------------------------------------------------------------------

#[test]
fn lab4_channel_messages_pages_oldest_first() {
    let lab = Lab4::start();
    let Cast { alice, bob, carol } = cast(&lab);
    lab.join(&alice, Some("ann"), "paging");
    let total = DEFAULT_LIMIT + 5;
    let mut tab = lab.tab(&alice);
    let sent: Vec<u64> = (1..=total)
        .map(|n| id_of(&tab.broadcast("ann", "paging", &format!("p{n}"))))
        .collect();
    assert!(
        sent.windows(2).all(|pair| pair[0] < pair[1]),
        "ids strictly increase: {sent:?} ({EVENT_DOC})"
    );
    let page = |body: Value| ids(&lab.history(&carol, &body));
    #[rustfmt::skip]
    let cases = [
        (json!({"channel":"paging"}), sent[total - DEFAULT_LIMIT..].to_vec(), "no limit: the newest 100, oldest first"),
        (json!({"channel":"paging","limit":3}), sent[total - 3..].to_vec(), "the newest 3"),
        (json!({"channel":"paging","after":sent[9],"limit":4}), sent[10..14].to_vec(), "the 4 after the 10th"),
        (json!({"channel":"paging","after":0,"limit":2}), sent[..2].to_vec(), "the oldest 2"),
        (json!({"channel":"paging","before":sent[9],"limit":4}), sent[5..9].to_vec(), "the 4 before the 10th"),
        (json!({"channel":"paging","before":sent[2]}), sent[..2].to_vec(), "before the 3rd"),
        (json!({"channel":"paging","after":sent[total - 1]}), vec![], "after the newest: nothing new"),
        (json!({"channel":"paging","after":sent[total - 3],"limit":null}), sent[total - 2..].to_vec(), "polling for news"),
        (json!({"channel":"paging","after":sent[0],"limit":5000}), sent[1..].to_vec(), "a large limit"),
    ];
    for (body, expected, what) in cases {
        assert_eq!(
            page(body.clone()),
            expected,
            "{what}: carol reads {body} ({MESSAGES})"
        );
    }

    lab.direct(&bob, "bo", "ann", None, "dm1");
    lab.direct(&alice, "ann2", "bo", Some("general"), "dm2");
    lab.direct(&bob, "bo", "bo", None, "self");
    let peer_view = |user: &User, peer: &str| texts(&lab.history(user, &json!({"peer":peer})));
    assert_eq!(
        peer_view(&alice, "bo"),
        ["dm1", "dm2"],
        "alice's DMs with bo, both ways ({MESSAGES})"
    );
    assert_eq!(
        peer_view(&bob, "ann"),
        ["dm1"],
        "bob's DMs with ann ({MESSAGES})"
    );
    assert_eq!(
        peer_view(&bob, "ann2"),
        ["dm2"],
        "bob's DMs with ann2 ({MESSAGES})"
    );

    #[rustfmt::skip]
    let refused = [
        (json!({}), 400, "neither channel nor peer"),
        (json!({"channel":"paging","peer":"bo"}), 400, "both channel and peer"),
        (json!({"channel":"paging","after":1,"before":9}), 400, "both after and before"),
        (json!({"channel":"paging","limit":0}), 400, "limit 0"),
        (json!({"channel":"paging","limit":-1}), 400, "a negative limit"),
        (json!({"channel":"paging","limit":2.5}), 400, "a fractional limit"),
        (json!({"channel":"paging","after":"3"}), 400, "an id as a string"),
        (json!({"channel":["paging"]}), 400, "a channel that is an array"),
        (json!({"channel":"nope"}), 404, "no such channel"),
        (json!({"peer":"ghost"}), 404, "no such peer"),
    ];
    for (body, status, step) in refused {
        lab.post(&carol, "/channel/messages", &body.to_string())
            .expect(step, status, MESSAGES);
    }
}

// ---------------------------------------------------------------------------
// GET /events
// ---------------------------------------------------------------------------

#[test]
fn lab4_events_reach_every_subscriber_as_server_sent_events() {
    let lab = Lab4::start();
    let Cast { alice, bob, carol } = cast(&lab);
    lab.broadcast(&alice, "ann", "general", "before anyone listened");
    let mut streams = [
        ("alice", lab.events(&alice, None)),
        ("alice's second tab", lab.events(&alice, None)),
        ("bob", lab.events(&bob, None)),
        ("carol", lab.events(&carol, None)),
    ];
    let sent = [
        lab.broadcast(&bob, "bo", "general", "live one"),
        lab.broadcast(&alice, "ann", "general", "live two"),
    ];
    for (who, stream) in &mut streams {
        let got: Vec<Value> = stream
            .events(2, &format!("{who}'s stream: the two new broadcasts"))
            .into_iter()
            .map(|(_, event)| event)
            .collect();
        if got != sent {
            let expected = format!(
                "only the messages sent after the stream opened, exactly as acknowledged: {}",
                show(&sent)
            );
            stream.fail(&format!("{who} reads the event stream"), &expected, EVENTS);
        }
    }
    let answer = call(
        lab.addr(),
        Some(&carol.cookie),
        "GET",
        "/events",
        &[("Last-Event-ID", "abc")],
        b"",
    );
    answer.expect(
        "GET /events with a Last-Event-ID that is not an id",
        400,
        EVENTS,
    );
    let head = request_bytes("HEAD", "/events/", Some(&carol.cookie), &[], b"", false);
    let mut conn = HttpConn::open(lab.addr());
    conn.send(&head);
    let answer = Answer {
        sent: head,
        response: conn.head_response(),
    };
    let head_ok = answer.response.status == 200
        && answer
            .response
            .header("content-type")
            .is_some_and(|value| value.starts_with("text/event-stream"));
    if !head_ok {
        answer.fail(
            "HEAD /events/",
            "200 with Content-Type: text/event-stream and no body",
            EVENTS,
        );
    }
}

#[test]
fn lab4_events_resume_after_last_event_id_without_gap_or_duplicate() {
    const TOTAL: usize = 150;
    const RESUME_AFTER: usize = 20;
    let lab = Lab4::start();
    let Cast { alice, bob, .. } = cast(&lab);
    lab.direct(&alice, "ann", "ann2", None, "private to alice");
    let (acked, acks) = mpsc::channel();
    thread::scope(|scope| {
        let sender = scope.spawn(|| {
            let mut tab = lab.tab(&alice);
            for n in 1..=TOTAL {
                let event = tab.broadcast("ann", "general", &format!("r{n}"));
                let _ = acked.send(id_of(&event));
            }
        });
        let mut seen = Vec::new();
        while seen.len() < 2 * RESUME_AFTER {
            match acks.recv_timeout(STEP_TIMEOUT) {
                Ok(id) => seen.push(id),
                Err(error) => panic!("waiting for alice's broadcasts: {error}"),
            }
        }
        // Bob's browser saw up to the 20th, lost its connection, and
        // reconnects while alice keeps sending.
        let resume_after = seen[RESUME_AFTER - 1];
        let mut stream = lab.events(&bob, Some(resume_after));
        sender.join().expect("the sender");
        let expected = ids(&lab.whole_channel(&bob, "general", resume_after));
        assert_eq!(
            expected.len(),
            TOTAL - RESUME_AFTER,
            "the history after the resume point ({MESSAGES})"
        );
        let got: Vec<u64> = stream
            .events(
                expected.len(),
                "the resumed stream: every broadcast after the last id bob had",
            )
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        if got != expected {
            stream.fail(
                &format!("resume after id {resume_after} while alice sends"),
                &format!("ids {expected:?} — each once, in order; got {got:?}"),
                RESUMING,
            );
        }
        let live = lab.broadcast(&bob, "bo", "general", "after the resume");
        let (id, _) = stream.next_event("the next live event after the replay");
        if id != id_of(&live) {
            stream.fail(
                "a live event after the replay",
                &format!("id {}", id_of(&live)),
                RESUMING,
            );
        }
    });
    let mut fresh = lab.events(&bob, Some(0));
    let all = fresh.events(TOTAL + 1, "a stream resumed from 0: everything bob may see");
    assert!(
        all.iter().all(|(_, event)| event["type"] == "broadcast"),
        "alice's note to herself is not in bob's replay ({EVENTS})"
    );
}

/// Broadcasts `count` messages of about 4 KiB in `general` as peer `from`
/// of `user`, from `senders` connections at once; fails if one is not
/// acknowledged within [`STEP_TIMEOUT`].
fn fill(lab: &Lab4, user: &User, from: &str, count: usize, senders: usize) {
    let padding = "x".repeat(MAX_MESSAGE_BYTES - 16);
    thread::scope(|scope| {
        for sender in 0..senders {
            let padding = &padding;
            scope.spawn(move || {
                let mut tab = lab.tab(user);
                for n in 0..count / senders {
                    let text = format!("{sender}-{n} {padding}");
                    tab.try_broadcast(from, "general", &text).unwrap_or_else(|error| {
                        panic!(
                            "{from}'s broadcast got no answer within {STEP_TIMEOUT:?} ({error}); \
                             a sender never waits for a reader ({SLOW_READERS})"
                        )
                    });
                }
            });
        }
    });
}

#[test]
fn lab4_events_a_long_resume_sends_each_message_once() {
    // About 8 MB of replay: far more than the socket buffers between the
    // server and this test hold, so the server is still sending the replay
    // (blocked on a full socket) while the messages below are stored.
    const STORED: usize = 2000;
    const SENDERS: usize = 8;
    const DURING: usize = 30;
    let lab = Lab4::start();
    let Cast { alice, bob, .. } = cast(&lab);
    fill(&lab, &alice, "ann", STORED, SENDERS);
    let mut stream = lab.events(&bob, Some(0));
    // Subscribed (the opening comment came), and not reading: the replay
    // fills the socket and waits. Meanwhile, more messages are stored.
    let during: Vec<Value> = (0..DURING)
        .map(|n| lab.broadcast(&alice, "ann", "general", &format!("during the replay {n}")))
        .collect();
    let expected = ids(&lab.whole_channel(&bob, "general", 0));
    assert_eq!(
        expected.len(),
        STORED + DURING,
        "the history of general ({MESSAGES})"
    );
    let got: Vec<u64> = stream
        .events(
            expected.len(),
            "the replay from id 0, then the messages stored during it",
        )
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    if got != expected {
        let repeated = got.len() - got.iter().collect::<HashSet<_>>().len();
        let expected = format!(
            "ids {}..={} once each, in order; got {} ids, {repeated} of them repeated, ending {:?} \
             (the replay already sent what was stored while it ran: the live part must skip it)",
            expected[0],
            expected[expected.len() - 1],
            got.len(),
            &got[got.len().saturating_sub(5)..]
        );
        stream.fail(
            "resume from Last-Event-ID: 0 while messages are stored during the replay",
            &expected,
            RESUMING,
        );
    }
    let live = lab.broadcast(&bob, "bo", "general", "live after the replay");
    let (id, _) = stream.next_event("a live event after the long replay");
    if id != id_of(&live) {
        stream.fail(
            "the first live event after a replay that ran while messages were stored",
            &format!(
                "id {} (the next new message); got id {id}, which the replay had sent already: \
                 the live part must skip every id up to the last one replayed",
                id_of(&live)
            ),
            RESUMING,
        );
    }
    assert_eq!(
        during.last().map(id_of),
        expected.last().copied(),
        "the messages stored during the replay are the newest ({RESUMING})"
    );
}

#[test]
fn lab4_a_stream_that_stops_reading_never_blocks_senders() {
    // Messages go out in rounds until the server has dropped the frozen
    // stream: that takes more than the socket buffers (about 4 MB on
    // Linux's loopback), the messages a stream holds while it writes, and
    // its queue (1,024) hold together — some 2,000 messages of 4 KiB.
    const ROUND: usize = 200;
    const MOST: usize = 20_000;
    let lab = Lab4::start();
    let Cast { alice, bob, .. } = cast(&lab);
    let mut frozen = lab.events(&bob, None);
    let mut sent = 0;
    while lab.chat.events().subscribers() > 0 {
        assert!(
            sent < MOST,
            "bob's stream has not read a byte of {sent} messages of 4 KiB, and the server still \
             queues for it: a stream that falls behind must be dropped ({SLOW_READERS})"
        );
        fill(&lab, &alice, "ann", ROUND, 8);
        sent += ROUND;
    }
    let stored = ids(&lab.whole_channel(&bob, "general", 0));
    let delivered: Vec<u64> = frozen
        .until_end("bob's frozen stream, which the server has dropped")
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    if delivered.is_empty() || delivered.len() >= sent || delivered[..] != stored[..delivered.len()]
    {
        frozen.fail(
            "read bob's stream after it fell behind",
            &format!(
                "the oldest of the {sent} messages, in order, then the end of the stream; got {} events",
                delivered.len()
            ),
            SLOW_READERS,
        );
    }
    let last = delivered[delivered.len() - 1];
    let mut resumed = lab.events(&bob, Some(last));
    let got: Vec<u64> = resumed
        .events(
            sent - delivered.len(),
            "the resumed stream: what bob missed",
        )
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    if got[..] != stored[delivered.len()..] {
        resumed.fail(
            &format!("resume after the drop, from Last-Event-ID: {last}"),
            &format!(
                "the other {} messages, once each, in order",
                sent - delivered.len()
            ),
            SLOW_READERS,
        );
    }
}

#[test]
fn lab4_events_send_a_heartbeat_comment() {
    assert_eq!(
        (
            HEARTBEAT,
            Settings::default().heartbeat,
            ONLINE_WINDOW,
            Settings::default().online_window
        ),
        (
            Duration::from_secs(15),
            Duration::from_secs(15),
            Duration::from_secs(30),
            Duration::from_secs(30)
        ),
        "a heartbeat every 15 s, online for 30 s after a request ({EVENTS})"
    );
    let lab = Lab4::start();
    let carol = lab.account("carol");
    let mut stream = lab.events(&carol, None);
    let ping = stream.comment("a heartbeat comment on an idle stream");
    assert!(
        ping.starts_with(": ") || ping == ":",
        "a comment: {ping:?} ({EVENTS})"
    );
}

// ---------------------------------------------------------------------------
// Accounts: impersonation, privacy, sessions
// ---------------------------------------------------------------------------

#[test]
fn lab4_nobody_acts_as_a_peer_of_another_account() {
    let lab = Lab4::start();
    let Cast { alice, carol, .. } = cast(&lab);
    lab.broadcast(&alice, "ann", "general", "mine");
    let before = (
        lab.history(&carol, &json!({"channel":"general"})),
        lab.history(&alice, &json!({"peer":"bo"})),
        lab.list(&alice),
    );
    for name in ["bo", "bob", "ghost", "BO"] {
        #[rustfmt::skip]
        let cases = [
            ("/add-list", json!({"username":name,"channel":"general"})),
            ("/add-list", json!({"username":name,"channel":"new-one"})),
            ("/connect-peer", json!({"from":name,"to":"ann"})),
            ("/broadcast-peer", json!({"from":name,"channel":"general","message":"spoof"})),
            ("/send-peer", json!({"from":name,"to":"ann","message":"spoof"})),
        ];
        for (path, body) in cases {
            lab.post(&alice, path, &body.to_string()).expect(
                &format!("alice acts as {name:?} on {path}"),
                403,
                OWNERS,
            );
        }
    }
    #[rustfmt::skip]
    let no_peer = [
        ("/add-list", json!({"channel":"general"})),
        ("/connect-peer", json!({"to":"ann"})),
        ("/broadcast-peer", json!({"channel":"general","message":"x"})),
        ("/send-peer", json!({"to":"ann","message":"x"})),
    ];
    for (path, body) in no_peer {
        let step = format!("carol, with no peer, on {path}");
        let answer = lab.post(&carol, path, &body.to_string());
        let body = answer.expect(&step, 400, OWNERS);
        if body["message"] != NO_PEER {
            answer.fail(&step, &format!("the message {NO_PEER:?}"), OWNERS);
        }
    }
    let after = (
        lab.history(&carol, &json!({"channel":"general"})),
        lab.history(&alice, &json!({"peer":"bo"})),
        lab.list(&alice),
    );
    assert_eq!(after, before, "refused requests change nothing ({OWNERS})");
}

#[test]
fn lab4_direct_messages_stay_between_their_two_accounts() {
    let lab = Lab4::start();
    let Cast { alice, bob, carol } = cast(&lab);
    lab.peer(&carol, "cy", 9300);
    lab.join(&carol, None, "general");
    let mut streams = [
        ("alice", lab.events(&alice, None)),
        ("bob", lab.events(&bob, None)),
        ("carol", lab.events(&carol, None)),
    ];
    let secret = lab.direct(&alice, "ann2", "bo", Some("general"), "secret");
    let public = lab.broadcast(&carol, "cy", "general", "public");
    for (who, stream) in &mut streams {
        let expected = if *who == "carol" {
            vec![public.clone()]
        } else {
            vec![secret.clone(), public.clone()]
        };
        let got: Vec<Value> = stream
            .events(expected.len(), &format!("{who}'s stream"))
            .into_iter()
            .map(|(_, event)| event)
            .collect();
        if got != expected {
            let step =
                format!("{who} reads the events after alice's DM to bob and carol's broadcast");
            let expected = format!(
                "{} (a DM reaches only the accounts of its two peers)",
                show(&expected)
            );
            stream.fail(&step, &expected, EVENTS);
        }
    }
    #[rustfmt::skip]
    let cases = [
        (&carol, json!({"channel":"general"}), vec!["public"]),
        (&carol, json!({"peer":"bo"}), vec![]),
        (&carol, json!({"peer":"ann2"}), vec![]),
        (&carol, json!({"peer":"ann2","after":0}), vec![]),
        (&bob, json!({"channel":"general"}), vec!["secret", "public"]),
        (&bob, json!({"peer":"ann2"}), vec!["secret"]),
        (&alice, json!({"peer":"bo"}), vec!["secret"]),
        (&alice, json!({"channel":"general","before":id_of(&public)}), vec!["secret"]),
    ];
    for (user, body, expected) in cases {
        assert_eq!(
            texts(&lab.history(user, &body)),
            expected,
            "{} reads {body} ({EVENT_DOC})",
            user.name
        );
    }
    let mut replay = lab.events(&carol, Some(0));
    let (_, first) = replay.next_event("carol's replay from 0");
    assert_eq!(first, public, "carol's replay skips the DM ({EVENTS})");
}

/// Every chat route, with a body that would succeed for alice.
fn routes() -> Vec<(&'static str, &'static str, &'static str)> {
    vec![
        (
            "POST",
            "/submit-info",
            r#"{"username":"ann3","ip":"127.0.0.1","port":9102}"#,
        ),
        ("POST", "/add-list", r#"{"channel":"general"}"#),
        ("GET", "/get-list", ""),
        ("POST", "/connect-peer", r#"{"to":"bo"}"#),
        (
            "POST",
            "/broadcast-peer",
            r#"{"channel":"general","message":"x"}"#,
        ),
        ("POST", "/send-peer", r#"{"to":"bo","message":"x"}"#),
        ("POST", "/channel/messages", r#"{"channel":"general"}"#),
        ("GET", "/events", ""),
    ]
}

#[test]
fn lab4_every_route_needs_a_session_whatever_auth_says() {
    let lab = Lab4::start();
    let Cast { alice, .. } = cast(&lab);
    let logged_out = lab.login("alice", PASSWORD);
    call(
        lab.addr(),
        Some(&logged_out.cookie),
        "POST",
        "/logout",
        &[],
        b"",
    )
    .expect_status("log out a second session of alice", 200, LAB3);
    let forged = format!("sessionid={}", "0123456789abcdef".repeat(2));
    let stale = logged_out.cookie.clone();
    #[rustfmt::skip]
    let cookies: [(Option<&str>, &str); 5] = [
        (None, "no cookie"),
        (Some("auth=true"), "only the course's auth=true"),
        (Some(&forged), "a forged session id"),
        (Some(&stale), "a logged-out session"),
        (Some("sessionid="), "an empty session id"),
    ];
    let before = lab.history(&alice, &json!({"channel":"general"}));
    for (method, path, body) in routes() {
        for (cookie, what) in cookies {
            let step = format!("{method} {path} with {what}");
            let answer = call(lab.addr(), cookie, method, path, &[], body.as_bytes());
            let got = answer.expect(&step, 401, "docs/lab3_auth.md, \"Protected routes\"");
            if got.get("status") != Some(&json!("unauthorized")) {
                answer.fail(
                    &step,
                    "{\"status\":\"unauthorized\",\"message\":…}",
                    "docs/lab3_auth.md, \"Protected routes\"",
                );
            }
        }
    }
    assert_eq!(
        lab.history(&alice, &json!({"channel":"general"})),
        before,
        "requests without a session store nothing"
    );
    assert!(
        row(&lab.list(&alice), "ann3").is_none(),
        "no peer registered without a session"
    );
}

// ---------------------------------------------------------------------------
// The HTTP surface: slashes, Content-Type, 405, hostile bodies
// ---------------------------------------------------------------------------

#[test]
fn lab4_routes_take_a_trailing_slash_any_content_type_and_answer_json() {
    let lab = Lab4::start();
    let Cast { alice, .. } = cast(&lab);
    #[rustfmt::skip]
    let content_types: [&[(&str, &str)]; 4] = [
        &[],
        &[("Content-Type", "text/plain;charset=UTF-8")],
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &[("Content-Type", "application/json")],
    ];
    for (method, path, body) in routes() {
        if path == "/events" {
            let mut stream = EventStream::open(lab.addr(), &alice.cookie, None);
            stream.comment("the opening comment of /events");
            continue;
        }
        for (n, headers) in content_types.iter().enumerate() {
            // The second registration of ann3 only updates it: still 200.
            let slashed = format!("{path}/");
            let path = if n % 2 == 0 { path } else { slashed.as_str() };
            let step = format!("{method} {path} with headers {headers:?}");
            call(
                lab.addr(),
                Some(&alice.cookie),
                method,
                path,
                headers,
                body.as_bytes(),
            )
            .expect(&step, 200, CONVENTIONS);
        }
    }
    #[rustfmt::skip]
    let wrong_methods = [
        ("GET", "/submit-info"),
        ("GET", "/broadcast-peer/"),
        ("POST", "/get-list"),
        ("PUT", "/send-peer"),
        ("DELETE", "/channel/messages"),
        ("POST", "/events"),
    ];
    for (method, path) in wrong_methods {
        let step = format!("{method} {path}");
        let body: &[u8] = if method == "GET" { b"" } else { b"{}" };
        let answer = call(lab.addr(), Some(&alice.cookie), method, path, &[], body);
        answer.expect(&step, 405, CONVENTIONS);
        if answer.response.header("allow").is_none() {
            answer.fail(
                &step,
                "405 with an Allow header (RFC 9110 §15.5.6)",
                CONVENTIONS,
            );
        }
    }
    let answer = call(lab.addr(), None, "GET", "/", &[], b"");
    if answer.response.status != 303 || answer.response.header("location") != Some("/chat.html") {
        answer.fail("GET /", "303 See Other to /chat.html", RUNNING);
    }
}

/// Each chat route that takes a body, with a body it would accept from
/// alice (and that would store or change something), and its required
/// fields.
fn valid_bodies() -> Vec<(&'static str, Value, &'static [&'static str])> {
    vec![
        (
            "/submit-info",
            json!({"username":"ann9","ip":"127.0.0.1","port":9109}),
            &["username", "ip", "port"],
        ),
        (
            "/add-list",
            json!({"username":"ann2","channel":"hostile"}),
            &["channel"],
        ),
        ("/connect-peer", json!({"from":"ann","to":"bo"}), &["to"]),
        (
            "/broadcast-peer",
            json!({"from":"ann","channel":"general","message":"x"}),
            &["channel", "message"],
        ),
        (
            "/send-peer",
            json!({"from":"ann","to":"bo","channel":"general","message":"x"}),
            &["to", "message"],
        ),
        (
            "/channel/messages",
            json!({"channel":"general","after":0,"limit":5}),
            &["channel"],
        ),
    ]
}

/// Broken versions of `valid`: (what is wrong, the body).
fn hostile_versions(valid: &Value, required: &[&str]) -> Vec<(String, Vec<u8>)> {
    let text = valid.to_string();
    let fields = valid.as_object().cloned().unwrap_or_default();
    let inner = text.trim_start_matches('{').trim_end_matches('}');
    let (first_key, first_value) = fields
        .iter()
        .next()
        .map(|(k, v)| (k.clone(), v.clone()))
        .unwrap_or_default();
    let depth = 100_000;
    #[rustfmt::skip]
    let mut cases: Vec<(String, Vec<u8>)> = vec![
        ("an empty body".into(), b"".to_vec()),
        ("plain text".into(), b"hello".to_vec()),
        ("a form body".into(), b"channel=general&message=hi".to_vec()),
        ("cut-off JSON".into(), text.as_bytes()[..text.len() / 2].to_vec()),
        ("a trailing comma".into(), format!("{{{inner},}}").into_bytes()),
        ("single quotes".into(), text.replace('"', "'").into_bytes()),
        ("two JSON objects".into(), format!("{text}{text}").into_bytes()),
        ("the body in an array".into(), format!("[{text}]").into_bytes()),
        ("a JSON string".into(), b"\"general\"".to_vec()),
        ("null".into(), b"null".to_vec()),
        ("a number".into(), b"42".to_vec()),
        ("an empty object".into(), b"{}".to_vec()),
        (format!("{first_key:?} twice"), format!("{{\"{first_key}\":{first_value},{inner}}}").into_bytes()),
        ("arrays nested 100,000 deep".into(), format!("{{{inner},\"deep\":{}{}}}", "[".repeat(depth), "]".repeat(depth)) .into_bytes()),
        ("objects nested 50,000 deep".into(), format!("{{{inner},\"deep\":{}1{}}}", "{\"a\":".repeat(depth / 2), "}".repeat(depth / 2)) .into_bytes()),
        ("a NUL byte between fields".into(), format!("{{{}}}", inner.replacen(',', ",\0", 1)).into_bytes()),
        ("a raw control character in a string".into(), text.replacen("\":\"", "\":\"\u{1}", 1).into_bytes()),
        ("a lone surrogate escape".into(), text.replacen("\":\"", "\":\"\\ud800", 1).into_bytes()),
    ];
    let mut invalid_utf8 = text.replacen("\":\"", "\":\"\u{0}", 1).into_bytes();
    if let Some(at) = invalid_utf8.iter().position(|&byte| byte == 0) {
        invalid_utf8.splice(at..=at, [0xff, 0xfe]);
    }
    cases.push(("invalid UTF-8 in a string".into(), invalid_utf8));
    for key in fields.keys() {
        for (wrong, value) in [
            ("an array", json!([fields[key]])),
            ("an object", json!({"v": fields[key]})),
            ("true", json!(true)),
        ] {
            let mut body = valid.clone();
            body[key] = value;
            cases.push((format!("{key:?} as {wrong}"), body.to_string().into_bytes()));
        }
        let mut body = valid.clone();
        body[key] = json!(1);
        let huge =
            body.to_string()
                .replacen(&format!("\"{key}\":1"), &format!("\"{key}\":1e999999"), 1);
        cases.push((format!("{key:?} as 1e999999"), huge.into_bytes()));
        let huge = body.to_string().replacen(
            &format!("\"{key}\":1"),
            &format!("\"{key}\":{}", "9".repeat(40)),
            1,
        );
        cases.push((format!("{key:?} as a 40-digit integer"), huge.into_bytes()));
        if fields[key].is_string() {
            let mut body = valid.clone();
            body[key] = json!(7);
            cases.push((
                format!("{key:?} as a number"),
                body.to_string().into_bytes(),
            ));
        }
    }
    for key in required {
        let mut body = valid.clone();
        if let Some(object) = body.as_object_mut() {
            object.remove(*key);
        }
        cases.push((format!("no {key:?}"), body.to_string().into_bytes()));
    }
    cases
}

#[test]
fn lab4_hostile_bodies_get_a_clear_answer_and_store_nothing() {
    let lab = Lab4::start();
    let Cast { alice, bob, .. } = cast(&lab);
    let snapshot = || {
        (
            lab.history(&bob, &json!({"channel":"general"})),
            lab.history(&bob, &json!({"peer":"ann"})),
            lab.list(&bob),
        )
    };
    let before = snapshot();
    for (path, valid, required) in valid_bodies() {
        for (what, body) in hostile_versions(&valid, required) {
            let step = format!("POST {path} with {what}");
            let answer = call(
                lab.addr(),
                Some(&alice.cookie),
                "POST",
                path,
                &[("Content-Type", "application/json")],
                &body,
            );
            answer.expect(&step, 400, ERRORS);
        }
    }
    // Over the body limit: lab 2 refuses it before any route reads it —
    // still in JSON, like every answer of the API.
    let mut conn = HttpConn::open(lab.addr());
    let head = format!(
        "POST /broadcast-peer HTTP/1.1\r\nHost: test\r\nCookie: {}\r\nContent-Length: {}\r\n\r\n",
        alice.cookie,
        MAX_BODY_BYTES + 1
    );
    conn.send(head.as_bytes());
    conn.send(br#"{"channel":"general","message":""#);
    let response = conn.response();
    let json_error = serde_json::from_slice::<Value>(&response.body)
        .ok()
        .is_some_and(|body| body["status"] == "error" && body["message"].is_string());
    assert!(
        response.status == 413 && json_error,
        "a body over 1 MiB: sent {}, got {}; expected 413 with a JSON error \
         {{\"status\":\"error\",\"message\":…}} ({CONVENTIONS})",
        escape(head.as_bytes()),
        escape(&response.raw)
    );
    assert_eq!(
        snapshot(),
        before,
        "hostile bodies store nothing ({ERRORS})"
    );
    // The same bodies, unbroken, are accepted: each case above was refused
    // for what was broken in it.
    for (path, valid, _) in valid_bodies() {
        lab.post(&alice, path, &valid.to_string()).expect(
            &format!("POST {path} with {valid}"),
            200,
            CONVENTIONS,
        );
    }
}

// ---------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------

#[test]
fn lab4_a_thousand_concurrent_messages_are_stored_once_in_one_order() {
    const CLIENTS: usize = 20;
    const PER_CLIENT: usize = 50;
    let lab = Lab4::start();
    let Cast { alice, bob, carol } = cast(&lab);
    lab.peer(&carol, "cy", 9300);
    // Five peers, each client speaks as one of them.
    #[rustfmt::skip]
    let speakers = [
        (&alice, "ann"),
        (&alice, "ann2"),
        (&bob, "bo"),
        (&carol, "cy"),
        (&bob, "bo"),
    ];
    for (user, peer) in speakers {
        lab.join(user, Some(peer), "load");
    }
    let first = lab.broadcast(&alice, "ann", "load", "first");
    let mut readers = [lab.events(&bob, None), lab.events(&carol, None)];
    let total = CLIENTS * PER_CLIENT;
    let (acked, sends) = thread::scope(|scope| {
        let listeners: Vec<_> = readers
            .iter_mut()
            .map(|stream| {
                scope.spawn(move || stream.events(total, "the 1,000 concurrent messages"))
            })
            .collect();
        let clients: Vec<_> = (0..CLIENTS)
            .map(|client| {
                let (user, peer) = speakers[client % speakers.len()];
                let lab = &lab;
                scope.spawn(move || {
                    let mut tab = lab.tab(user);
                    (0..PER_CLIENT)
                        .map(|n| tab.broadcast(peer, "load", &format!("c{client}-{n}")))
                        .collect::<Vec<Value>>()
                })
            })
            .collect();
        let acked: Vec<Vec<Value>> = clients
            .into_iter()
            .map(|client| client.join().expect("a client"))
            .collect();
        let sends: Vec<Vec<(u64, Value)>> = listeners
            .into_iter()
            .map(|listener| listener.join().expect("a listener"))
            .collect();
        (acked, sends)
    });
    for (client, events) in acked.iter().enumerate() {
        assert!(
            ids(events).windows(2).all(|pair| pair[0] < pair[1]),
            "client {client} waited for each answer, so its ids must increase: {:?} ({DURABILITY})",
            ids(events)
        );
    }
    let mut by_id: HashMap<u64, Value> = HashMap::new();
    for event in acked.iter().flatten() {
        assert!(
            by_id.insert(id_of(event), event.clone()).is_none(),
            "two acknowledged messages share id {} ({EVENT_DOC})",
            id_of(event)
        );
    }

    // History: the newest page is clamped to 1,000; the page before it is `first`.
    let newest = lab.history(&alice, &json!({"channel":"load","limit":5000}));
    assert_eq!(
        newest.len(),
        MAX_LIMIT,
        "a limit above 1,000 is lowered to 1,000 ({MESSAGES})"
    );
    let older = lab.history(
        &alice,
        &json!({"channel":"load","before":id_of(&newest[0])}),
    );
    assert_eq!(
        older,
        std::slice::from_ref(&first),
        "the page before the newest 1,000 ({MESSAGES})"
    );
    let history_ids = ids(&newest);
    assert!(
        history_ids.windows(2).all(|pair| pair[0] < pair[1]),
        "ids strictly increase through the history ({DURABILITY})"
    );
    let sent_texts: HashSet<String> = (0..CLIENTS)
        .flat_map(|client| (0..PER_CLIENT).map(move |n| format!("c{client}-{n}")))
        .collect();
    let stored: Vec<String> = texts(&newest);
    let stored_set: HashSet<String> = stored.iter().cloned().collect();
    assert!(
        stored.len() == total && stored_set == sent_texts,
        "each of the {total} sends stored exactly once: {} stored, {} distinct ({DURABILITY})",
        stored.len(),
        stored_set.len()
    );
    for event in &newest {
        assert_eq!(
            by_id.get(&id_of(event)),
            Some(event),
            "the history holds exactly what was acknowledged ({EVENT_DOC})"
        );
    }
    assert_eq!(
        lab.history(
            &bob,
            &json!({"channel":"load","after":id_of(&first),"limit":MAX_LIMIT})
        ),
        newest,
        "every reader sees one order ({DURABILITY})"
    );
    for (reader, events) in ["bob", "carol"].iter().zip(&sends) {
        let streamed: Vec<Value> = events.iter().map(|(_, event)| event.clone()).collect();
        assert!(
            streamed == newest,
            "{reader}'s event stream carries the same messages in the same order as the history ({DURABILITY})"
        );
    }
}

// ---------------------------------------------------------------------------
// Durability
// ---------------------------------------------------------------------------

/// Everything visible to `user`, in every conversation that matters here:
/// channel `general`, channel `rust`, and the DMs with `bo`.
fn everything(lab: &Lab4, user: &User) -> Vec<Vec<Value>> {
    [
        json!({"channel":"general","limit":MAX_LIMIT}),
        json!({"channel":"rust","limit":MAX_LIMIT}),
        json!({"peer":"bo","limit":MAX_LIMIT}),
    ]
    .iter()
    .map(|body| lab.history(user, body))
    .collect()
}

/// The peers and channels of a listing, without the online dots (nobody
/// is online after a restart until they come back).
fn without_online(mut list: Value) -> Value {
    for peer in list["peers"].as_array_mut().into_iter().flatten() {
        if let Some(object) = peer.as_object_mut() {
            object.remove("online");
        }
    }
    list
}

#[test]
fn lab4_a_restart_keeps_messages_peers_and_memberships() {
    let dir = TempDir::new("lab4-restart");
    let lab = Lab4::on(&dir.path);
    let Cast { alice, bob, .. } = cast(&lab);
    lab.join(&alice, Some("ann2"), "rust");
    let mut sent = Vec::new();
    for n in 0..10 {
        sent.push(lab.broadcast(&alice, "ann", "general", &format!("g{n}")));
        sent.push(lab.direct(&bob, "bo", "ann2", Some("rust"), &format!("d{n}")));
        sent.push(lab.broadcast(&alice, "ann2", "rust", &format!("r{n}")));
    }
    let seen = everything(&lab, &alice);
    let list = without_online(lab.list(&alice));
    lab.stop();

    let lab = Lab4::on(&dir.path);
    let alice = lab.login("alice", PASSWORD);
    let bob = lab.login("bob", PASSWORD);
    assert_eq!(
        everything(&lab, &alice),
        seen,
        "after a restart on the same --data, every acknowledged message is back, unchanged ({DURABILITY})"
    );
    assert_eq!(
        without_online(lab.list(&alice)),
        list,
        "after a restart, the peers, their addresses and their channels are back ({DURABILITY})"
    );
    let next = lab.broadcast(&bob, "bo", "general", "after the restart");
    let last = sent.iter().map(id_of).max().unwrap_or(0);
    assert!(
        id_of(&next) > last,
        "ids continue after a restart: {} after {last} ({EVENT_DOC})",
        id_of(&next)
    );
    lab.broadcast(&alice, "ann2", "rust", "ann2 is still a member of rust");
}

#[test]
fn lab4_a_torn_last_line_of_the_log_is_skipped_at_start() {
    let dir = TempDir::new("lab4-torn");
    let lab = Lab4::on(&dir.path);
    let Cast { alice, bob, .. } = cast(&lab);
    lab.join(&alice, Some("ann2"), "rust");
    for n in 0..5 {
        lab.broadcast(&alice, "ann", "general", &format!("g{n}"));
        lab.direct(&bob, "bo", "ann2", None, &format!("d{n}"));
    }
    let seen = everything(&lab, &alice);
    lab.stop();

    // A crash in the middle of a write: half a line, no end of line.
    let log = dir.path.join("messages.jsonl");
    let torn = br#"{"id":11,"type":"broadcast","from":"ann","to":null,"chann"#;
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .and_then(|mut file| file.write_all(torn))
        .unwrap_or_else(|error| {
            panic!("tearing the log {}: {error} ({DURABILITY})", log.display())
        });

    let lab = Lab4::on(&dir.path);
    let alice = lab.login("alice", PASSWORD);
    assert_eq!(
        everything(&lab, &alice),
        seen,
        "a log with a torn last line starts, with every message before it ({DURABILITY})"
    );
    let next = lab.broadcast(&alice, "ann", "general", "after the tear");
    lab.stop();

    let lab = Lab4::on(&dir.path);
    let alice = lab.login("alice", PASSWORD);
    let general = lab.history(&alice, &json!({"channel":"general"}));
    assert_eq!(
        general.last(),
        Some(&next),
        "the first message after the tear survives the next restart: the torn end was cut off, \
         not glued to the next line ({DURABILITY})"
    );
}

// ---------------------------------------------------------------------------
// The real binary
// ---------------------------------------------------------------------------

/// Starts the real `lab4_chat` on a free port with `data` as its `--data`;
/// returns it and its [`Api`].
fn start_binary(data: &Path) -> (Example, Api) {
    let data = data.to_str().expect("UTF-8 temp path");
    let args = [
        "--port",
        "0",
        "--data",
        data,
        "--iterations",
        "1000",
        "--quiet",
    ];
    let server = Example::start("lab4_chat", &args);
    let api = Api { addr: server.addr };
    (server, api)
}

#[test]
fn lab4_real_binary_chats() {
    let dir = TempDir::new("lab4-binary");
    let (_server, api) = start_binary(&dir.path.join("state"));
    let answer = call(api.addr, None, "GET", "/", &[], b"");
    if answer.response.status != 303 || answer.response.header("location") != Some("/chat.html") {
        answer.fail(
            "GET / on the binary",
            "303 See Other to /chat.html",
            RUNNING,
        );
    }
    call(api.addr, None, "GET", "/get-list", &[], b"").expect(
        "GET /get-list without logging in",
        401,
        RUNNING,
    );
    let admin = api.login("admin", "password");
    let bob = api.account("bob");
    let body = json!({"username":"teacher","ip":"127.0.0.1","port":"9100"});
    api.post(&admin, "/submit-info", &body.to_string()).expect(
        "the binary: register a peer, port as a string",
        200,
        SUBMIT_INFO,
    );
    api.peer(&bob, "bo", 9200);
    api.join(&admin, None, "general");
    let mut stream = api.events(&bob, None);
    let answer = api.post(
        &admin,
        "/broadcast-peer",
        r#"{"channel":"general","message":"Good morning, class"}"#,
    );
    let want = Want::broadcast("teacher", "general", "Good morning, class");
    let event = answer.sent_event("the binary: broadcast", &want, BROADCAST);
    let (_, streamed) = stream.next_event("bob's stream on the binary");
    assert_eq!(
        streamed, event,
        "the binary streams the broadcast to bob ({EVENTS})"
    );
    let history = api.history(&bob, &json!({"channel":"general"}));
    assert_eq!(
        history,
        [event],
        "the binary's history holds the broadcast ({MESSAGES})"
    );
}

#[test]
fn lab4_real_binary_killed_mid_burst_keeps_every_acknowledged_message() {
    const SENDERS: usize = 8;
    const ACKED_BEFORE_KILL: usize = 300;
    let dir = TempDir::new("lab4-kill");
    let data = dir.path.join("state");
    let (mut server, api) = start_binary(&data);
    let admin = api.login("admin", "password");
    api.peer(&admin, "teacher", 9100);
    api.join(&admin, None, "general");

    let acked: Mutex<Vec<Value>> = Mutex::new(Vec::new());
    let (progress, counted) = mpsc::channel::<()>();
    let stop = AtomicBool::new(false);
    thread::scope(|scope| {
        for sender in 0..SENDERS {
            let (acked, progress, stop, admin) = (&acked, progress.clone(), &stop, &admin);
            scope.spawn(move || {
                let mut tab = api.tab(admin);
                for n in 0.. {
                    // Once the server is killed, the connection fails: the
                    // sender stops, and its last message was never acknowledged.
                    let sent = tab.try_broadcast("teacher", "general", &format!("k{sender}-{n}"));
                    let Ok(event) = sent else { return };
                    acked.lock().expect("acked").push(event);
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let _ = progress.send(());
                }
            });
        }
        drop(progress);
        for _ in 0..ACKED_BEFORE_KILL {
            counted
                .recv_timeout(STEP_TIMEOUT)
                .expect("the senders' acknowledgements before the kill");
        }
        // SIGKILL, while the senders keep sending.
        server.kill();
        stop.store(true, Ordering::SeqCst);
    });
    let acked = acked.into_inner().expect("acked");

    let (_server, api) = start_binary(&data);
    let admin = api.login("admin", "password");
    let stored = api.whole_channel(&admin, "general", 0);
    assert!(
        ids(&stored).windows(2).all(|pair| pair[0] < pair[1]),
        "ids strictly increase after the crash ({DURABILITY})"
    );
    let stored_by_id: HashMap<u64, &Value> =
        stored.iter().map(|event| (id_of(event), event)).collect();
    let lost: Vec<&Value> = acked
        .iter()
        .filter(|event| stored_by_id.get(&id_of(event)) != Some(event))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged messages are missing or changed after SIGKILL and a restart on the same \
         --data; the first: {} ({DURABILITY})",
        lost.len(),
        acked.len(),
        lost.first()
            .map_or(String::new(), |event| event.to_string())
    );
    let distinct: HashSet<&str> = stored
        .iter()
        .filter_map(|event| event["message"].as_str())
        .collect();
    assert_eq!(
        distinct.len(),
        stored.len(),
        "no message is stored twice ({DURABILITY})"
    );
}
