//! Measures how long the lab 4 chat takes to deliver a message to many
//! live event streams (`GET /events`, Server-Sent Events): from the moment
//! a `POST /broadcast-peer` is written to the moment each subscriber has
//! read the event.
//!
//! ```text
//! cargo run --release --example sse_latency -- --url http://127.0.0.1:9000 --subscribers 100
//! cargo run --release --example sse_latency -- --url http://127.0.0.1:9000 --burst 64 --json
//! ```
//!
//! **Set-up.** It registers `--accounts` accounts (`ssebench0`, `ssebench1`,
//! …; one that exists already is just logged in, so a second run against
//! the same server works), logs each in, and gives the first one a peer,
//! `ssebench-sender`, that joins `--channel`. The server must accept
//! `/register` and the tool's password; run it with a low `--iterations`
//! so that the set-up takes no time.
//!
//! **Subscribers.** It opens `--subscribers` event streams, dealt out to
//! the accounts in turn (the server keeps the streams of each account
//! together: an account with a stream is online), and waits until every
//! stream has sent its opening comment, so that every one is subscribed
//! before the first message is sent. A thread per stream reads it, as a
//! browser tab would.
//!
//! **Sending.** `--messages` broadcasts at `--rate` a second, on a fixed
//! schedule, in bursts of `--burst` messages sent at the same moment,
//! each on its own keep-alive connection (so `--burst 1` is one message
//! every 1/rate seconds, and `--burst 64` is 64 at once every 64/rate
//! seconds). Each message's text carries its number and the time it was
//! sent, as nanoseconds since the tool started: `sse-latency RUN SEQ
//! NANOS`. The tool is both the sender and every receiver, so one
//! monotonic clock serves both ends and no clock needs to be in sync.
//!
//! **What a latency is.** Receive time − send time, for every message and
//! every stream, counted in a fixed-memory histogram
//! (`weaprous::histogram`). The send time is taken just before the
//! request is written, so the latency includes the server's group commit
//! (the message is published to the streams only once it is on the disk)
//! and the fan-out to every stream; the receive time is taken as soon as
//! the bytes have been read, before they are parsed. The tool reports the
//! acknowledgement latency of the sends too, and checks what arrived:
//! every acknowledged message on every stream once (`missing`,
//! `duplicates`), and ids increasing on each stream (`out_of_order`).
//!
//! The tool shares the machine with the server: its reader threads wake
//! up as the server's writer threads do, so on two cores the figures
//! include the client's share, as they would for a browser on the same
//! laptop. It only targets loopback addresses.

mod measuring;

use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use measuring::invalid;
use weaprous::flags::{Args, Cli, CliError, Flag};
use weaprous::histogram::Histogram;
use weaprous::http::Method;
use weaprous::http::body::ChunkedDecoder;
use weaprous::http::client::{self, Client, ResponseFraming, ResponseHead, find_head_end};
use weaprous::json::{self, Value};

/// The password of the accounts the tool creates.
const PASSWORD: &str = "sse-latency-bench";

/// The accounts' names are this and a number.
const ACCOUNT_PREFIX: &str = "ssebench";

/// The peer (of the first account) that sends every message.
const SENDER_PEER: &str = "ssebench-sender";

/// The first word of every message the tool sends.
const MARKER: &str = "sse-latency";

/// The comment the server opens each event stream with, once it is
/// subscribed (`weaprous::chat::events::OPENING`, without its blank line).
const OPENING_COMMENT: &[u8] = b": connected";

/// Size of each stream's read buffer.
const READ_BUFFER_BYTES: usize = 16 * 1024;

/// Largest response head accepted.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Most event streams, and most messages sent at once (a thread each).
const MAX_THREADS: usize = 10_000;

/// Most messages in a run (each stream keeps a flag per message).
const MAX_MESSAGES: usize = 1_000_000;

/// Slowest and fastest schedules accepted, in messages a second.
const MIN_RATE: f64 = 0.01;
const MAX_RATE: f64 = 1_000_000.0;

/// How often the tool checks whether the last deliveries have arrived.
const DRAIN_POLL: Duration = Duration::from_millis(5);

/// The flags, in `--help` order.
const FLAGS: &[Flag] = &[
    Flag {
        name: "--url",
        aliases: &[],
        value: Some("URL"),
        default: None,
        help: "the chat server: http://HOST:PORT (required; loopback only)",
    },
    Flag {
        name: "--subscribers",
        aliases: &["-s"],
        value: Some("N"),
        default: Some("100"),
        help: "event streams (GET /events) open at once",
    },
    Flag {
        name: "--accounts",
        aliases: &[],
        value: Some("N"),
        default: Some("4"),
        help: "accounts the streams are dealt out to",
    },
    Flag {
        name: "--messages",
        aliases: &["-n"],
        value: Some("N"),
        default: Some("1000"),
        help: "broadcasts to send",
    },
    Flag {
        name: "--rate",
        aliases: &[],
        value: Some("N"),
        default: Some("200"),
        help: "broadcasts per second, on a fixed schedule",
    },
    Flag {
        name: "--burst",
        aliases: &[],
        value: Some("N"),
        default: Some("1"),
        help: "broadcasts sent at the same moment, each on its own connection",
    },
    Flag {
        name: "--channel",
        aliases: &[],
        value: Some("NAME"),
        default: Some("general"),
        help: "channel the broadcasts go to (joined, or created, first)",
    },
    Flag {
        name: "--timeout",
        aliases: &[],
        value: Some("SECS"),
        default: Some("10"),
        help: "longest wait for any answer, and for the last deliveries",
    },
    measuring::JSON_FLAG,
];

fn main() {
    let cli = Cli::new(
        "sse_latency",
        "delivery latency of the lab 4 chat's event streams, from send to every subscriber",
    )
    .flags(FLAGS);
    let args = cli.parse_env_or_exit();
    let settings = Settings::from_args(&args).unwrap_or_else(|error| error.exit());
    let report = run(&settings).unwrap_or_else(|problem| {
        eprintln!("sse_latency: {problem}");
        process::exit(1);
    });
    if settings.json {
        println!("{}", report.to_json(&settings));
    } else {
        print!("{}", report.to_text(&settings));
    }
    if report.delivered == 0 {
        process::exit(1);
    }
}

/// Where, how many, how fast.
struct Settings {
    url: String,
    addr: SocketAddr,
    /// The `Host` header's value.
    host: String,
    subscribers: usize,
    accounts: usize,
    messages: usize,
    rate: f64,
    burst: usize,
    channel: String,
    timeout: Duration,
    json: bool,
}

impl Settings {
    fn from_args(args: &Args) -> Result<Settings, CliError> {
        let (url, client, _) = measuring::target(args, false, "")?;
        let subscribers = args.required_in("--subscribers", 1..=MAX_THREADS)?;
        let accounts = args.required_in("--accounts", 1..=MAX_THREADS)?;
        if accounts > subscribers {
            return Err(invalid(
                "--accounts",
                &accounts.to_string(),
                "more accounts than --subscribers",
            ));
        }
        let rate: f64 = args.required("--rate")?;
        if !(MIN_RATE..=MAX_RATE).contains(&rate) {
            let reason = format!("expected {MIN_RATE} to {MAX_RATE} a second");
            return Err(invalid(
                "--rate",
                args.text("--rate").unwrap_or(""),
                &reason,
            ));
        }
        Ok(Settings {
            addr: client.addr(),
            host: client.host().to_string(),
            url,
            subscribers,
            accounts,
            messages: args.required_in("--messages", 1..=MAX_MESSAGES)?,
            rate,
            burst: args.required_in("--burst", 1..=MAX_THREADS)?,
            channel: args.required("--channel")?,
            timeout: measuring::seconds(args, "--timeout")?,
            json: args.switch("--json"),
        })
    }

    /// The time between the starts of two bursts.
    fn burst_interval(&self) -> Duration {
        Duration::from_secs_f64(self.burst as f64 / self.rate)
    }
}

/// Sets up, opens the streams, sends, waits for the deliveries, and
/// returns what was counted. An `Err` is a failed set-up.
fn run(settings: &Settings) -> Result<Report, String> {
    let sessions = log_in(settings)?;
    join_channel(settings, &sessions[0])?;
    let clock = RunClock::start();
    let delivered = Arc::new(AtomicU64::new(0));
    let stopping = Arc::new(AtomicBool::new(false));
    let mut handles = Vec::with_capacity(settings.subscribers);
    let mut readers = Vec::with_capacity(settings.subscribers);
    for number in 0..settings.subscribers {
        let cookie = &sessions[number % sessions.len()];
        let stream = EventStream::open(settings, cookie)
            .map_err(|problem| format!("event stream {number}: {problem}"))?;
        handles.push(stream.handle().map_err(|error| error.to_string())?);
        let listener = Listener {
            clock: clock.clone(),
            messages: settings.messages,
            delivered: Arc::clone(&delivered),
            stopping: Arc::clone(&stopping),
        };
        readers.push(thread::spawn(move || listener.listen(stream)));
    }
    let sent = send_all(settings, &sessions[0], &clock);
    // Wait until every acknowledged message has reached every stream, or
    // the timeout has passed.
    let expected = sent.acknowledged * settings.subscribers as u64;
    let deadline = Instant::now() + settings.timeout;
    while delivered.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
        thread::sleep(DRAIN_POLL);
    }
    stopping.store(true, Ordering::Relaxed);
    for handle in &handles {
        let _ = handle.shutdown(Shutdown::Both);
    }
    let mut received = Received::new(settings.messages);
    for reader in readers {
        match reader.join() {
            Ok(tally) => received.merge(&tally),
            Err(_) => received.stream_errors += 1,
        }
    }
    Ok(Report {
        delivered: received.unique,
        expected,
        sent,
        received,
    })
}

/// Registers the accounts (those that exist are fine) and logs each in;
/// returns their `Cookie` header values, in account order.
fn log_in(settings: &Settings) -> Result<Vec<String>, String> {
    let mut client = Client::new(settings.addr).with_timeout(settings.timeout);
    let mut cookies = Vec::with_capacity(settings.accounts);
    for number in 0..settings.accounts {
        let name = format!("{ACCOUNT_PREFIX}{number}");
        let credentials = json::object([
            ("username", Value::from(name.as_str())),
            ("password", Value::from(PASSWORD)),
        ])
        .to_string();
        let registered = call(&mut client, "/register", None, &credentials)?;
        // 201: created; 409: it exists already (an earlier run).
        if !matches!(registered.status, 201 | 409) {
            return Err(format!("POST /register {name}: {}", registered.text()));
        }
        let login = call(&mut client, "/login", None, &credentials)?;
        let session = login
            .header_all("set-cookie")
            .find_map(|cookie| cookie.strip_prefix("sessionid="))
            .and_then(|rest| rest.split(';').next());
        match session {
            Some(id) if login.status == 200 => cookies.push(format!("sessionid={id}")),
            _ => return Err(format!("POST /login {name}: {}", login.text())),
        }
    }
    Ok(cookies)
}

/// Gives the first account its sending peer and makes it a member of
/// the channel.
fn join_channel(settings: &Settings, cookie: &str) -> Result<(), String> {
    let mut client = Client::new(settings.addr).with_timeout(settings.timeout);
    let peer = json::object([
        ("username", Value::from(SENDER_PEER)),
        ("ip", Value::from("127.0.0.1")),
        ("port", Value::from(9u64)),
    ]);
    let join = json::object([
        ("username", Value::from(SENDER_PEER)),
        ("channel", Value::from(settings.channel.as_str())),
    ]);
    for (path, body) in [("/submit-info", peer), ("/add-list", join)] {
        let answer = call(&mut client, path, Some(cookie), &body.to_string())?;
        if answer.status != 200 {
            return Err(format!("POST {path}: {}", answer.text()));
        }
    }
    Ok(())
}

/// `POST path` with a JSON body, and the session cookie if given.
fn call(
    client: &mut Client,
    path: &str,
    cookie: Option<&str>,
    body: &str,
) -> Result<client::ClientResponse, String> {
    let headers: Vec<(&str, &str)> = cookie
        .map(|cookie| ("Cookie", cookie))
        .into_iter()
        .collect();
    client
        .request(Method::Post, path, &headers, body.as_bytes())
        .map_err(|error| format!("POST {path}: {error}"))
}

/// The tool's clock: one start instant that the senders and the readers
/// share, so that a time written in a message can be read back anywhere.
#[derive(Clone)]
struct RunClock {
    start: Instant,
    /// Tells this run's messages apart from any others in the channel.
    run: u64,
}

impl RunClock {
    fn start() -> RunClock {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        RunClock {
            start: Instant::now(),
            run: (u64::from(process::id()) << 32) ^ u64::from(since_epoch.subsec_nanos()),
        }
    }

    /// Now, as a time since the start.
    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    /// The text of message `seq`, sent `sent` after the start.
    fn text(&self, seq: usize, sent: Duration) -> String {
        format!("{MARKER} {} {seq} {}", self.run, sent.as_nanos())
    }

    /// The number and send time of a message of this run, from its text.
    fn read(&self, text: &str) -> Option<(usize, Duration)> {
        let mut words = text.split(' ');
        if words.next() != Some(MARKER) || words.next()?.parse::<u64>().ok()? != self.run {
            return None;
        }
        let seq = words.next()?.parse().ok()?;
        let nanos = words.next()?.parse().ok()?;
        Some((seq, Duration::from_nanos(nanos)))
    }
}

/// What the senders counted.
struct Sent {
    acknowledged: u64,
    /// Sends that did not get a 200, and the last reason.
    failed: u64,
    last_failure: Option<String>,
    /// From the first send to the last answer.
    elapsed: Duration,
    /// From writing a request to reading its answer.
    acknowledgement: Histogram,
}

impl Sent {
    fn new() -> Sent {
        Sent {
            acknowledged: 0,
            failed: 0,
            last_failure: None,
            elapsed: Duration::ZERO,
            acknowledgement: Histogram::new(),
        }
    }

    fn merge(&mut self, other: Sent) {
        self.acknowledged += other.acknowledged;
        self.failed += other.failed;
        self.last_failure = other.last_failure.or(self.last_failure.take());
        self.acknowledgement.merge(&other.acknowledgement);
    }
}

/// Sends every message on schedule: message `seq` is part of burst `seq /
/// burst`, and goes on connection `seq % burst`.
fn send_all(settings: &Settings, cookie: &str, clock: &RunClock) -> Sent {
    let started = Instant::now();
    let mut sent = Sent::new();
    thread::scope(|scope| {
        let lanes: Vec<_> = (0..settings.burst)
            .map(|lane| scope.spawn(move || send_lane(settings, cookie, clock, started, lane)))
            .collect();
        for lane in lanes {
            match lane.join() {
                Ok(lane) => sent.merge(lane),
                Err(_) => sent.failed += 1,
            }
        }
    });
    sent.elapsed = started.elapsed();
    sent
}

/// One connection's share of the messages: one per burst.
fn send_lane(
    settings: &Settings,
    cookie: &str,
    clock: &RunClock,
    started: Instant,
    lane: usize,
) -> Sent {
    let mut client = Client::new(settings.addr).with_timeout(settings.timeout);
    let mut sent = Sent::new();
    for seq in (lane..settings.messages).step_by(settings.burst) {
        let due = started + settings.burst_interval() * (seq / settings.burst) as u32;
        thread::sleep(due.saturating_duration_since(Instant::now()));
        let at = clock.now();
        let body = json::object([
            ("channel", Value::from(settings.channel.as_str())),
            ("message", Value::from(clock.text(seq, at))),
        ]);
        match call(
            &mut client,
            "/broadcast-peer",
            Some(cookie),
            &body.to_string(),
        ) {
            Ok(answer) if answer.status == 200 => {
                sent.acknowledged += 1;
                sent.acknowledgement.record(clock.now() - at);
            }
            Ok(answer) => {
                sent.failed += 1;
                sent.last_failure = Some(format!("{} {}", answer.status, answer.text()));
            }
            Err(problem) => {
                sent.failed += 1;
                sent.last_failure = Some(problem);
            }
        }
    }
    sent
}

/// One open event stream: the socket, and the bytes read but not yet used.
struct EventStream {
    stream: TcpStream,
    /// What was read from the socket and not yet de-chunked.
    raw: Vec<u8>,
    decoder: ChunkedDecoder,
    /// The event stream's text, de-chunked, not yet split into events.
    text: Vec<u8>,
}

impl EventStream {
    /// Connects, sends `GET /events` with the session cookie, and reads
    /// up to the stream's opening comment: from then on it is subscribed.
    fn open(settings: &Settings, cookie: &str) -> Result<EventStream, String> {
        let stream = TcpStream::connect_timeout(&settings.addr, settings.timeout)
            .map_err(|error| format!("connect: {error}"))?;
        stream
            .set_read_timeout(Some(settings.timeout))
            .and_then(|()| stream.set_nodelay(true))
            .map_err(|error| error.to_string())?;
        let request = client::encode_request(
            Method::Get,
            "/events",
            &settings.host,
            &[("Cookie", cookie), ("Accept", "text/event-stream")],
            b"",
        );
        let mut events = EventStream {
            stream,
            raw: Vec::with_capacity(READ_BUFFER_BYTES),
            decoder: ChunkedDecoder::new(usize::MAX),
            text: Vec::new(),
        };
        events
            .stream
            .write_all(&request)
            .map_err(|error| format!("send GET /events: {error}"))?;
        events.read_head()?;
        loop {
            if let Some(block) = events.next_block() {
                if block.starts_with(OPENING_COMMENT) {
                    break;
                }
                continue;
            }
            match events.read() {
                Ok(true) => {}
                Ok(false) => return Err("the stream ended before it opened".to_string()),
                Err(error) => return Err(format!("read the stream: {error}")),
            }
        }
        // From now on the reader waits as long as it takes: the tool ends
        // the stream itself.
        events
            .stream
            .set_read_timeout(None)
            .map_err(|error| error.to_string())?;
        Ok(events)
    }

    /// Reads the response head: it must be a 200 with a chunked body.
    fn read_head(&mut self) -> Result<(), String> {
        let mut piece = [0u8; READ_BUFFER_BYTES];
        let head_len = loop {
            match find_head_end(&self.raw) {
                Ok(Some(len)) => break len,
                Ok(None) if self.raw.len() < MAX_HEAD_BYTES => {}
                _ => return Err("not an HTTP response head".to_string()),
            }
            match self.stream.read(&mut piece) {
                Ok(0) => return Err("closed before a response".to_string()),
                Ok(read) => self.raw.extend_from_slice(&piece[..read]),
                Err(error) => return Err(format!("read the response: {error}")),
            }
        };
        let head = ResponseHead::parse(&self.raw[..head_len]).map_err(|error| error.to_string())?;
        if head.status != 200 {
            let status = head.status;
            return Err(format!("GET /events answered {status}, not 200"));
        }
        if !matches!(head.framing(false), Ok(ResponseFraming::Chunked)) {
            return Err("GET /events is not a chunked stream".to_string());
        }
        self.raw.drain(..head_len);
        self.decode()
    }

    /// A second handle on the socket, to end the stream from another thread.
    fn handle(&self) -> io::Result<TcpStream> {
        self.stream.try_clone()
    }

    /// Reads once more and de-chunks what arrived; `false` at the end of
    /// the stream.
    fn read(&mut self) -> Result<bool, String> {
        let mut piece = [0u8; READ_BUFFER_BYTES];
        match self.stream.read(&mut piece) {
            Ok(0) => Ok(false),
            Ok(read) => {
                self.raw.extend_from_slice(&piece[..read]);
                self.decode().map(|()| true)
            }
            Err(error) => Err(error.to_string()),
        }
    }

    fn decode(&mut self) -> Result<(), String> {
        let used = self
            .decoder
            .decode(&self.raw, &mut self.text)
            .map_err(|_| "a malformed chunk".to_string())?;
        self.raw.drain(..used);
        Ok(())
    }

    /// The next complete block of the event stream (an event or a
    /// comment, without the blank line that ends it), if one has arrived.
    fn next_block(&mut self) -> Option<Vec<u8>> {
        let end = self.text.windows(2).position(|pair| pair == b"\n\n")?;
        let block = self.text[..end].to_vec();
        self.text.drain(..end + 2);
        Some(block)
    }
}

/// An event's `id:` and `data:` fields (HTML §9.2.6); comments and other
/// fields are ignored.
fn parse_event(block: &[u8]) -> (Option<u64>, Option<String>) {
    let (mut id, mut data) = (None, None);
    for line in String::from_utf8_lossy(block).lines() {
        // "If value starts with a U+0020 SPACE character, remove it."
        let field = |name: &str| {
            let value = line.strip_prefix(name)?.strip_prefix(':')?;
            Some(value.strip_prefix(' ').unwrap_or(value).to_string())
        };
        if let Some(value) = field("id") {
            id = value.parse().ok();
        } else if let Some(value) = field("data") {
            data = Some(value);
        }
    }
    (id, data)
}

/// What a reader thread shares with the others.
struct Listener {
    clock: RunClock,
    messages: usize,
    /// Deliveries of this run's messages so far, every stream together.
    delivered: Arc<AtomicU64>,
    /// Set when the tool ends the streams: a failed read is then no error.
    stopping: Arc<AtomicBool>,
}

impl Listener {
    /// Reads events until the stream ends; returns what arrived.
    fn listen(self, mut stream: EventStream) -> Received {
        let mut received = Received::new(self.messages);
        loop {
            while let Some(block) = stream.next_block() {
                received.record_block(&block, &self);
            }
            let read = stream.read();
            // The time the bytes arrived, for every event in them.
            received.arrived = self.clock.now();
            if read != Ok(true) {
                if !self.stopping.load(Ordering::Relaxed) {
                    received.stream_errors += 1;
                }
                return received;
            }
        }
    }
}

/// What arrived on one stream (or, merged, on all of them).
struct Received {
    /// Send-to-receive times of this run's messages.
    latency: Histogram,
    /// Which messages arrived, by number (one stream's view).
    seen: Vec<bool>,
    /// Deliveries of a message for the first time on a stream.
    unique: u64,
    duplicates: u64,
    /// Events whose id was not above the previous one.
    out_of_order: u64,
    /// Events that are not this run's messages.
    others: u64,
    /// Streams that ended before the tool ended them.
    stream_errors: u64,
    last_id: u64,
    /// When the bytes being handled arrived.
    arrived: Duration,
}

impl Received {
    fn new(messages: usize) -> Received {
        Received {
            latency: Histogram::new(),
            seen: vec![false; messages],
            unique: 0,
            duplicates: 0,
            out_of_order: 0,
            others: 0,
            stream_errors: 0,
            last_id: 0,
            arrived: Duration::ZERO,
        }
    }

    /// Counts one block of the stream (comments are skipped).
    fn record_block(&mut self, block: &[u8], listener: &Listener) {
        let (id, data) = parse_event(block);
        let Some(data) = data else { return };
        if let Some(id) = id {
            if id <= self.last_id {
                self.out_of_order += 1;
            }
            self.last_id = id;
        }
        let text = json::parse(&data)
            .ok()
            .and_then(|event| event.get("message")?.as_str().map(str::to_string));
        let Some((seq, sent)) = text.and_then(|text| listener.clock.read(&text)) else {
            self.others += 1;
            return;
        };
        match self.seen.get_mut(seq) {
            Some(seen) if !*seen => {
                *seen = true;
                self.unique += 1;
                self.latency.record(self.arrived.saturating_sub(sent));
                listener.delivered.fetch_add(1, Ordering::Relaxed);
            }
            _ => self.duplicates += 1,
        }
    }

    /// Adds another stream's counts (its `seen` is its own business).
    fn merge(&mut self, other: &Received) {
        self.latency.merge(&other.latency);
        self.unique += other.unique;
        self.duplicates += other.duplicates;
        self.out_of_order += other.out_of_order;
        self.others += other.others;
        self.stream_errors += other.stream_errors;
    }
}

/// The outcome of a run.
struct Report {
    sent: Sent,
    received: Received,
    /// Acknowledged messages × streams.
    expected: u64,
    /// Deliveries counted (each message once per stream).
    delivered: u64,
}

impl Report {
    fn missing(&self) -> u64 {
        self.expected.saturating_sub(self.delivered)
    }

    fn to_text(&self, settings: &Settings) -> String {
        let (sent, received) = (&self.sent, &self.received);
        let mut text = String::new();
        let _ = writeln!(
            text,
            "GET {}/events: {} streams over {} accounts; {} broadcasts at {}/s in bursts of {}",
            settings.url,
            settings.subscribers,
            settings.accounts,
            settings.messages,
            settings.rate,
            settings.burst
        );
        let failure = sent
            .last_failure
            .as_ref()
            .map(|reason| format!(" (last: {reason})"))
            .unwrap_or_default();
        let _ = writeln!(
            text,
            "  sent       {} acknowledged, {} failed{failure}, in {:.2} s",
            sent.acknowledged,
            sent.failed,
            sent.elapsed.as_secs_f64()
        );
        let _ = writeln!(
            text,
            "  acks       {}",
            measuring::latency_text(&sent.acknowledgement)
        );
        let _ = writeln!(
            text,
            "  delivered  {} of {}: {} missing, {} duplicates, {} out of order, {} streams ended early",
            self.delivered,
            self.expected,
            self.missing(),
            received.duplicates,
            received.out_of_order,
            received.stream_errors
        );
        let _ = writeln!(
            text,
            "  latency    {}",
            measuring::latency_text(&received.latency)
        );
        text
    }

    fn to_json(&self, settings: &Settings) -> Value {
        let (sent, received) = (&self.sent, &self.received);
        json::object([
            ("url", Value::from(settings.url.as_str())),
            ("subscribers", Value::from(settings.subscribers)),
            ("accounts", Value::from(settings.accounts)),
            ("messages", Value::from(settings.messages)),
            ("rate", Value::from(settings.rate)),
            ("burst", Value::from(settings.burst)),
            ("acknowledged", Value::from(sent.acknowledged)),
            ("send_failed", Value::from(sent.failed)),
            ("send_seconds", Value::from(sent.elapsed.as_secs_f64())),
            (
                "ack_latency_ms",
                measuring::latency_json(&sent.acknowledgement),
            ),
            ("expected", Value::from(self.expected)),
            ("delivered", Value::from(self.delivered)),
            ("missing", Value::from(self.missing())),
            ("duplicates", Value::from(received.duplicates)),
            ("out_of_order", Value::from(received.out_of_order)),
            ("other_events", Value::from(received.others)),
            ("streams_ended_early", Value::from(received.stream_errors)),
            ("latency_ms", measuring::latency_json(&received.latency)),
        ])
    }
}
