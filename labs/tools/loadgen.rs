//! A load generator in the spirit of `wrk`: many connections, each sending
//! one request after another, for a fixed time; then requests per second,
//! latency percentiles, errors and non-2xx statuses.
//!
//! ```text
//! cargo run --release --example loadgen -- --url http://127.0.0.1:9000/hello -c 64 -t 2 -d 10
//! cargo run --release --example loadgen -- --url http://127.0.0.1:9000/ --close --json
//! ```
//!
//! **How it drives the connections.** `std` has blocking sockets and no
//! `epoll`, and a thread per connection would make the generator pay a
//! context switch per request — as much as the server it measures. So each
//! of the `-t` threads owns a share of the `-c` connections and drives them
//! in **rounds**: it writes one request on each of its connections, then
//! reads the responses in the same order. While it reads the first
//! response the others are already being served, and by the time it
//! reaches them their bytes are usually waiting, so one wake-up serves
//! many responses, as `wrk`'s event loop does.
//!
//! **What a latency is.** From just before a request is written to when its
//! whole response has been read (so, as with `wrk`, the time to connect is
//! not counted with `--close`). The test is closed-loop: a connection sends
//! its next request only after the last response, so when the server
//! stalls the generator slows down with it, and latencies under a stall
//! are understated ("coordinated omission"). Latencies are counted in a
//! fixed-memory histogram (`weaprous::histogram`).
//!
//! **Idle connections.** `--idle N` opens N more connections before the
//! run, sends one request on each, and then holds them open, silent, until
//! the end: how does the server serve 64 busy clients while 1,000 others
//! wait? With `-c 0` it only holds them, for another client to measure.
//!
//! Out of politeness, it only targets loopback addresses unless given
//! `--allow-remote`: a load generator is a denial-of-service tool.

mod measuring;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use measuring::invalid;
use weaprous::flags::{Args, Cli, CliError, Flag};
use weaprous::histogram::Histogram;
use weaprous::http::body::ChunkedDecoder;
use weaprous::http::client::{self, ResponseFraming, ResponseHead, find_head_end};
use weaprous::http::{Method, headers};
use weaprous::json::{self, Object, Value};

/// Most connections, measured or idle: each is a file descriptor and a
/// buffer here and on the server.
const MAX_CONNECTIONS: usize = 65_536;

/// Most threads: more than connections make no sense, and each is a stack.
const MAX_THREADS: usize = 1_024;

/// Size of each connection's read buffer; it grows for a larger head.
const READ_BUFFER_BYTES: usize = 16 * 1024;

/// Largest response head accepted.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// After a round in which no request succeeded (the server is down, say,
/// or the thread has no connections with `-c 0`), the thread waits this
/// long before trying again instead of spinning.
const FAILED_ROUND_PAUSE: Duration = Duration::from_millis(10);

/// The flags, in `--help` order.
const FLAGS: &[Flag] = &[
    Flag {
        name: "--url",
        aliases: &[],
        value: Some("URL"),
        default: None,
        help: "what to request: http://HOST:PORT/PATH (required)",
    },
    Flag {
        name: "--connections",
        aliases: &["-c"],
        value: Some("N"),
        default: Some("64"),
        help: "connections kept busy at once (0: only hold the --idle ones)",
    },
    Flag {
        name: "--threads",
        aliases: &["-t"],
        value: Some("N"),
        default: Some("2"),
        help: "threads sharing the connections",
    },
    Flag {
        name: "--duration",
        aliases: &["-d"],
        value: Some("SECS"),
        default: Some("10"),
        help: "how long to run, in seconds (0.5 is fine)",
    },
    Flag {
        name: "--close",
        aliases: &[],
        value: None,
        default: None,
        help: "a new connection for every request (sends Connection: close)",
    },
    Flag {
        name: "--method",
        aliases: &[],
        value: Some("METHOD"),
        default: Some("GET"),
        help: "request method",
    },
    Flag {
        name: "--body",
        aliases: &[],
        value: Some("TEXT"),
        default: None,
        help: "request body (Content-Length is added)",
    },
    Flag {
        name: "--header",
        aliases: &["-H"],
        value: Some("NAME:VALUE"),
        default: None,
        help: "an extra request header; repeat for more",
    },
    Flag {
        name: "--timeout",
        aliases: &[],
        value: Some("SECS"),
        default: Some("10"),
        help: "a request with no answer for this long counts as a timeout",
    },
    Flag {
        name: "--idle",
        aliases: &[],
        value: Some("N"),
        default: Some("0"),
        help: "also hold N keep-alive connections open and silent during the run",
    },
    measuring::JSON_FLAG,
    Flag {
        name: "--allow-remote",
        aliases: &[],
        value: None,
        default: None,
        help: "allow a target that is not a loopback address",
    },
];

fn main() {
    let cli = Cli::new(
        "loadgen",
        "an HTTP load generator: requests/s, latency percentiles, errors",
    )
    .flags(FLAGS);
    let args = cli.parse_env_or_exit();
    let settings = Settings::from_args(&args).unwrap_or_else(|error| error.exit());
    let idle = hold_idle_connections(&settings);
    let report = run(&settings, idle.len());
    drop(idle);
    if settings.json {
        println!("{}", report.to_json(&settings));
    } else {
        print!("{}", report.to_text(&settings));
    }
    if report.tally.completed == 0 && settings.connections > 0 {
        process::exit(1);
    }
}

/// What to send, where, how hard and for how long.
struct Settings {
    url: String,
    addr: SocketAddr,
    method: Method,
    /// The request's bytes, built once and sent as they are each time.
    request: Arc<[u8]>,
    connections: usize,
    threads: usize,
    duration: Duration,
    timeout: Duration,
    close: bool,
    idle: usize,
    json: bool,
}

impl Settings {
    fn from_args(args: &Args) -> Result<Settings, CliError> {
        let (url, client, path) = measuring::target(
            args,
            args.switch("--allow-remote"),
            " (add --allow-remote if you mean it)",
        )?;
        let addr = client.addr();
        let method_text: String = args.required("--method")?;
        let method = Method::from_token(method_text.as_bytes())
            .ok_or_else(|| invalid("--method", &method_text, "not an HTTP method"))?;
        let close = args.switch("--close");
        let mut extra_headers = Vec::new();
        for header in args.all("--header") {
            extra_headers.push(parse_header(header)?);
        }
        if close {
            extra_headers.push(("Connection", "close"));
        }
        let body = args.text("--body").unwrap_or("").as_bytes();
        let request = client::encode_request(method, &path, client.host(), &extra_headers, body);
        let connections = args.required_in("--connections", 0..=MAX_CONNECTIONS)?;
        let threads = args.required_in("--threads", 1..=MAX_THREADS)?;
        let idle = args.required_in("--idle", 0..=MAX_CONNECTIONS)?;
        if connections == 0 && idle == 0 {
            return Err(invalid(
                "--connections",
                &format!("{connections} connections on {threads} threads, {idle} idle"),
                "needs a thread, and a connection (-c 0 only with --idle)",
            ));
        }
        Ok(Settings {
            url,
            addr,
            method,
            request: request.into(),
            connections,
            // More threads than connections would leave some with nothing to do.
            threads: threads.min(connections.max(1)),
            duration: measuring::seconds(args, "--duration")?,
            timeout: measuring::seconds(args, "--timeout")?,
            close,
            idle,
            json: args.switch("--json"),
        })
    }
}

/// `Name: value` (or `Name:value`) from `-H`, checked so that it cannot
/// break the request it is written into.
fn parse_header(text: &str) -> Result<(&str, &str), CliError> {
    let refuse = |reason: &str| invalid("--header", text, reason);
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| refuse("expected NAME:VALUE"))?;
    let value = value.trim();
    if !headers::is_token(name.as_bytes()) {
        return Err(refuse("the name is not a header name"));
    }
    if !value.bytes().all(headers::is_field_byte) {
        return Err(refuse("the value has a control character"));
    }
    Ok((name, value))
}

/// Opens `--idle` connections, makes one request on each, and returns them
/// to be held open. Connections that fail are reported and left out.
fn hold_idle_connections(settings: &Settings) -> Vec<Connection> {
    let mut held = Vec::with_capacity(settings.idle);
    let mut tally = Tally::new();
    for _ in 0..settings.idle {
        let Ok(mut connection) = Connection::open(settings) else {
            tally.errors.connect += 1;
            continue;
        };
        let exchanged = connection
            .send(&settings.request)
            .and_then(|()| connection.receive(settings.method == Method::Head));
        match exchanged {
            Ok(answer) if answer.keep_alive => held.push(connection),
            Ok(_) => tally.errors.closed += 1,
            Err(failure) => tally.errors.count(failure),
        }
    }
    if held.len() < settings.idle {
        eprintln!(
            "loadgen: holding {} of {} idle connections; the others failed: {}",
            held.len(),
            settings.idle,
            tally.errors.to_text()
        );
    }
    held
}

/// Runs the test on `--threads` threads and merges what they counted.
fn run(settings: &Settings, idle_held: usize) -> Report {
    let started = Instant::now();
    let deadline = started + settings.duration;
    let tallies = thread::scope(|scope| {
        let workers: Vec<_> = (0..settings.threads)
            .map(|index| {
                // Connections are dealt out as evenly as they go.
                let share = settings.connections / settings.threads
                    + usize::from(index < settings.connections % settings.threads);
                scope.spawn(move || drive(settings, share, deadline))
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().unwrap_or_else(|_| Tally::new()))
            .collect::<Vec<_>>()
    });
    let mut tally = Tally::new();
    for other in &tallies {
        tally.merge(other);
    }
    Report {
        tally,
        elapsed: started.elapsed(),
        idle_held,
    }
}

/// One thread's work: `share` connections, in rounds, until the deadline.
fn drive(settings: &Settings, share: usize, deadline: Instant) -> Tally {
    let mut tally = Tally::new();
    let mut connections: Vec<Option<Connection>> = (0..share).map(|_| None).collect();
    let mut sent_at: Vec<Option<Instant>> = vec![None; share];
    let head_only = settings.method == Method::Head;
    while Instant::now() < deadline {
        // Write one request on every connection (opening those that are not open)...
        for (slot, sent) in connections.iter_mut().zip(sent_at.iter_mut()) {
            *sent = None;
            if slot.is_none() {
                match Connection::open(settings) {
                    Ok(connection) => *slot = Some(connection),
                    Err(failure) => {
                        tally.errors.count(failure);
                        continue;
                    }
                }
            }
            let Some(connection) = slot else { continue };
            let now = Instant::now();
            match connection.send(&settings.request) {
                Ok(()) => *sent = Some(now),
                Err(failure) => {
                    tally.errors.count(failure);
                    *slot = None;
                }
            }
        }
        // ...then read the responses, in the same order.
        let completed_before = tally.completed;
        for (slot, sent) in connections.iter_mut().zip(&sent_at) {
            let (Some(connection), Some(sent)) = (slot.as_mut(), sent) else {
                continue;
            };
            match connection.receive(head_only) {
                Ok(answer) => {
                    tally.record(answer, sent.elapsed());
                    if !answer.keep_alive {
                        *slot = None;
                    }
                }
                Err(failure) => {
                    tally.errors.count(failure);
                    *slot = None;
                }
            }
        }
        if tally.completed == completed_before {
            thread::sleep(FAILED_ROUND_PAUSE);
        }
    }
    tally
}

/// Why a request got no answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Failure {
    /// The connection could not be opened.
    Connect,
    /// Writing the request failed.
    Write,
    /// Reading failed (a reset, say).
    Read,
    /// No answer within `--timeout`.
    Timeout,
    /// The server closed the connection before a complete response.
    Closed,
    /// The bytes that came back are not a valid HTTP response.
    BadResponse,
}

impl Failure {
    /// The kind of a failed read or write: a timeout (the socket's
    /// timeout fired), or else `otherwise`.
    fn of_io(error: &io::Error, otherwise: Failure) -> Failure {
        match error.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Failure::Timeout,
            _ => otherwise,
        }
    }
}

/// What the server answered.
#[derive(Clone, Copy, Debug)]
struct Answer {
    status: u16,
    /// Whether the connection can carry the next request.
    keep_alive: bool,
    /// Bytes received for this response, head and body.
    bytes: usize,
}

/// One connection to the server and the bytes read from it not yet used.
struct Connection {
    stream: TcpStream,
    buffer: Vec<u8>,
    /// `buffer[start..end]` holds what was read and not yet used.
    start: usize,
    end: usize,
    /// Scratch space for the chunked decoder's output, which is thrown away.
    decoded: Vec<u8>,
}

impl Connection {
    fn open(settings: &Settings) -> Result<Connection, Failure> {
        let stream = TcpStream::connect_timeout(&settings.addr, settings.timeout)
            .map_err(|_| Failure::Connect)?;
        let configured = stream
            .set_read_timeout(Some(settings.timeout))
            .and_then(|()| stream.set_write_timeout(Some(settings.timeout)))
            .and_then(|()| stream.set_nodelay(true));
        configured.map_err(|_| Failure::Connect)?;
        Ok(Connection {
            stream,
            buffer: vec![0; READ_BUFFER_BYTES],
            start: 0,
            end: 0,
            decoded: Vec::new(),
        })
    }

    fn send(&mut self, request: &[u8]) -> Result<(), Failure> {
        self.stream
            .write_all(request)
            .map_err(|error| Failure::of_io(&error, Failure::Write))
    }

    /// Reads one final response (skipping `1xx` ones) and throws its body away.
    fn receive(&mut self, head_only: bool) -> Result<Answer, Failure> {
        let mut bytes = 0;
        loop {
            let head_len = loop {
                match find_head_end(self.unread()) {
                    Ok(Some(len)) => break len,
                    Ok(None) => self.fill()?,
                    Err(_) => return Err(Failure::BadResponse),
                }
            };
            let head = ResponseHead::parse(&self.unread()[..head_len])
                .map_err(|_| Failure::BadResponse)?;
            let (status, keep_alive) = (head.status, head.keep_alive());
            let framing = head.framing(head_only).map_err(|_| Failure::BadResponse)?;
            self.start += head_len;
            bytes += head_len;
            if (100..200).contains(&status) {
                continue;
            }
            let (body_bytes, framed) = self.skip_body(framing)?;
            return Ok(Answer {
                status,
                keep_alive: keep_alive && framed,
                bytes: bytes + body_bytes,
            });
        }
    }

    /// Reads past a body; returns its size on the wire and whether it was
    /// framed (a body delimited by the close ends the connection).
    fn skip_body(&mut self, framing: ResponseFraming) -> Result<(usize, bool), Failure> {
        match framing {
            ResponseFraming::None => Ok((0, true)),
            ResponseFraming::Length(length) => {
                let mut left = length;
                loop {
                    let here = left.min(self.unread().len());
                    self.start += here;
                    left -= here;
                    if left == 0 {
                        return Ok((length, true));
                    }
                    self.fill()?;
                }
            }
            ResponseFraming::Chunked => {
                let mut decoder = ChunkedDecoder::new(usize::MAX);
                let mut wire = 0;
                loop {
                    self.decoded.clear();
                    let used = decoder
                        .decode(&self.buffer[self.start..self.end], &mut self.decoded)
                        .map_err(|_| Failure::BadResponse)?;
                    self.start += used;
                    wire += used;
                    if decoder.is_done() {
                        return Ok((wire, true));
                    }
                    self.fill()?;
                }
            }
            ResponseFraming::UntilClose => {
                let mut wire = self.unread().len();
                self.start = self.end;
                let mut sink = [0u8; READ_BUFFER_BYTES];
                loop {
                    match self.stream.read(&mut sink) {
                        Ok(0) => return Ok((wire, false)),
                        Ok(read) => wire += read,
                        Err(error) => return Err(Failure::of_io(&error, Failure::Read)),
                    }
                }
            }
        }
    }

    fn unread(&self) -> &[u8] {
        &self.buffer[self.start..self.end]
    }

    /// Reads once more from the socket, making room first.
    fn fill(&mut self) -> Result<(), Failure> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        if self.end == self.buffer.len() {
            self.buffer.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buffer.len() {
            if self.buffer.len() >= MAX_HEAD_BYTES {
                return Err(Failure::BadResponse);
            }
            self.buffer.resize(self.buffer.len() * 2, 0);
        }
        match self.stream.read(&mut self.buffer[self.end..]) {
            Ok(0) => Err(Failure::Closed),
            Ok(read) => {
                self.end += read;
                Ok(())
            }
            Err(error) => Err(Failure::of_io(&error, Failure::Read)),
        }
    }
}

/// Failures counted by kind.
#[derive(Clone, Copy, Debug, Default)]
struct Errors {
    connect: u64,
    write: u64,
    read: u64,
    timeout: u64,
    closed: u64,
    bad_response: u64,
}

impl Errors {
    fn count(&mut self, failure: Failure) {
        let counter = match failure {
            Failure::Connect => &mut self.connect,
            Failure::Write => &mut self.write,
            Failure::Read => &mut self.read,
            Failure::Timeout => &mut self.timeout,
            Failure::Closed => &mut self.closed,
            Failure::BadResponse => &mut self.bad_response,
        };
        *counter += 1;
    }

    /// Each kind with its count, in a fixed order.
    fn by_kind(&self) -> [(&'static str, u64); 6] {
        [
            ("connect", self.connect),
            ("write", self.write),
            ("read", self.read),
            ("timeout", self.timeout),
            ("closed", self.closed),
            ("bad_response", self.bad_response),
        ]
    }

    fn merge(&mut self, other: &Errors) {
        self.connect += other.connect;
        self.write += other.write;
        self.read += other.read;
        self.timeout += other.timeout;
        self.closed += other.closed;
        self.bad_response += other.bad_response;
    }

    fn total(&self) -> u64 {
        self.by_kind().iter().map(|(_, count)| count).sum()
    }

    /// `connect 3, timeout 1`, or `none`.
    fn to_text(self) -> String {
        let listed: Vec<String> = self
            .by_kind()
            .iter()
            .filter(|(_, count)| *count > 0)
            .map(|(kind, count)| format!("{kind} {count}"))
            .collect();
        if listed.is_empty() {
            "none".to_string()
        } else {
            listed.join(", ")
        }
    }
}

/// What one thread counted.
struct Tally {
    latency: Histogram,
    /// Responses read whole, whatever their status.
    completed: u64,
    /// Responses outside 200–299, by status.
    non_2xx: BTreeMap<u16, u64>,
    errors: Errors,
    bytes: u64,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            latency: Histogram::new(),
            completed: 0,
            non_2xx: BTreeMap::new(),
            errors: Errors::default(),
            bytes: 0,
        }
    }

    fn record(&mut self, answer: Answer, latency: Duration) {
        self.latency.record(latency);
        self.completed += 1;
        self.bytes += answer.bytes as u64;
        if !(200..300).contains(&answer.status) {
            *self.non_2xx.entry(answer.status).or_insert(0) += 1;
        }
    }

    fn merge(&mut self, other: &Tally) {
        self.latency.merge(&other.latency);
        self.completed += other.completed;
        self.bytes += other.bytes;
        self.errors.merge(&other.errors);
        for (status, count) in &other.non_2xx {
            *self.non_2xx.entry(*status).or_insert(0) += count;
        }
    }
}

/// The outcome of a run.
struct Report {
    tally: Tally,
    elapsed: Duration,
    idle_held: usize,
}

impl Report {
    fn requests_per_second(&self) -> f64 {
        self.tally.completed as f64 / self.elapsed.as_secs_f64()
    }

    fn to_text(&self, settings: &Settings) -> String {
        let tally = &self.tally;
        let mut text = String::new();
        let mode = if settings.close {
            "close"
        } else {
            "keep-alive"
        };
        let _ = writeln!(
            text,
            "{} {}: {} connections on {} threads, {:?}, {mode}",
            settings.method,
            settings.url,
            settings.connections,
            settings.threads,
            settings.duration
        );
        if self.idle_held > 0 {
            let _ = writeln!(
                text,
                "  idle       {} connections held open",
                self.idle_held
            );
        }
        let _ = writeln!(
            text,
            "  requests   {} in {:.2} s = {:.0} requests/s, {:.1} MB read",
            tally.completed,
            self.elapsed.as_secs_f64(),
            self.requests_per_second(),
            tally.bytes as f64 / 1e6
        );
        let _ = writeln!(
            text,
            "  latency    {}",
            measuring::latency_text(&tally.latency)
        );
        let non_2xx: Vec<String> = tally
            .non_2xx
            .iter()
            .map(|(status, count)| format!("{status}: {count}"))
            .collect();
        let non_2xx = if non_2xx.is_empty() {
            "none".to_string()
        } else {
            non_2xx.join(", ")
        };
        let _ = writeln!(text, "  non-2xx    {non_2xx}");
        let _ = writeln!(text, "  errors     {}", tally.errors.to_text());
        text
    }

    fn to_json(&self, settings: &Settings) -> Value {
        let tally = &self.tally;
        let non_2xx: Object = tally
            .non_2xx
            .iter()
            .map(|(status, count)| (status.to_string(), Value::from(*count)))
            .collect();
        let errors: Object = tally
            .errors
            .by_kind()
            .into_iter()
            .map(|(kind, count)| (kind, Value::from(count)))
            .collect();
        json::object([
            ("url", Value::from(settings.url.as_str())),
            ("method", Value::from(settings.method.as_str())),
            ("connections", Value::from(settings.connections)),
            ("threads", Value::from(settings.threads)),
            ("keep_alive", Value::from(!settings.close)),
            ("idle_held", Value::from(self.idle_held)),
            ("seconds", Value::from(self.elapsed.as_secs_f64())),
            ("requests", Value::from(tally.completed)),
            (
                "requests_per_second",
                Value::from(self.requests_per_second()),
            ),
            ("bytes_read", Value::from(tally.bytes)),
            ("latency_ms", measuring::latency_json(&tally.latency)),
            ("non_2xx", Value::from(non_2xx)),
            ("errors", Value::from(errors)),
            ("error_total", Value::from(tally.errors.total())),
        ])
    }
}
