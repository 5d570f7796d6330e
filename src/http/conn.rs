//! One HTTP/1.1 connection: read requests, call the handler, write
//! responses, until either side is done.
//!
//! The connection is a small state machine (in the spirit of hyper's
//! `proto::h1`):
//!
//! ```text
//!            ┌──────────── keep-alive ◄───────────────┐
//!            ▼                                        │
//!   ┌─ waiting (idle timeout) ─► reading head ─► reading body ─► handling ─► writing
//!   │      │ EOF / idle           │ (head deadline)  │ (body deadline)         │ close
//!   │      ▼                      ▼ error            ▼ error                   ▼
//!   └──► closed ◄──────── error response, then close ◄─────────────────── closed
//! ```
//!
//! The loop owns the socket and one buffer. Bytes are read into the buffer
//! as they come; the parser looks at the buffer and says "more" or
//! "complete"; so a request split over many reads, a body that arrives
//! after a pause, and several pipelined requests in one read are all the
//! same case. Responses are written in the order requests arrived
//! (RFC 9112 §9.3.2), simply because one request is finished before the
//! next is parsed.
//!
//! With [`Config::event_loop`] the connection does not wait for its next
//! request in `read`: when nothing is buffered it is *parked* in an event
//! loop ([`super::event_loop`]), which answers the requests that arrive
//! whole (`Conn::answer_arrived`) and hands anything that must wait back
//! to a thread running this same loop.
//!
//! Deadlines (RFC 9112 §9.5 leaves them to the server):
//!
//! - **idle**: how long a kept-alive connection may wait for its next
//!   request before it is closed silently;
//! - **head**: from a request's first byte to its complete head — one
//!   total deadline, *not* reset by each byte, which is what stops a
//!   slowloris client from holding a thread forever with a byte every few
//!   seconds;
//! - **body**: from the complete head to the complete body.
//!
//! Time is read from the [`Clock`], so a test can move time instead of
//! sleeping: after it advances the clock, the next byte it sends makes the
//! server look at the clock and find the deadline passed.

use std::borrow::Cow;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::body::{ChunkedDecoder, Framing, request_framing};
#[cfg(target_os = "linux")]
use super::event_loop;
use super::method::{Method, Version};
use super::request::{Limits, Request, RequestError, Status, parse_head};
use super::response::{Exchange, Response};
use super::router::Handler;
use super::status::StatusCode;
use crate::clock::Clock;
use crate::net::{self, Connection, Service, is_timeout};
#[cfg(target_os = "linux")]
pub(super) use arrived::Arrived;

/// Default for [`Config::idle_timeout`].
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Default for [`Config::head_timeout`].
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// Default for [`Config::body_timeout`].
pub const BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// Default for [`Config::write_timeout`].
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// Size of a connection's read buffer to start with; it grows for larger
/// heads and bodies, and shrinks back after them.
const INITIAL_BUFFER_BYTES: usize = 8 * 1024;

/// A buffer grown past this size for a large body is shrunk back once the
/// request is done, so idle connections stay small.
const KEEP_BUFFER_BYTES: usize = 64 * 1024;

/// After an error response, how much the server still reads and throws
/// away, and for how long, before closing. Closing a socket with unread
/// input makes the kernel send a reset, which can destroy the error
/// response before the client reads it ("lingering close").
const LINGER_BYTES: usize = 256 * 1024;
const LINGER_TIME: Duration = Duration::from_secs(1);

/// How far the socket's read timeout may be from the time left before a
/// deadline and still be kept as it is. Setting it is a system call, and
/// the time left is never exactly the same twice, so without this
/// tolerance it would be set again before most requests: one system call
/// in three of a kept-alive request (`docs/benchmarks.md`). The price: a
/// read may wake up to this much after its deadline.
const READ_TIMEOUT_SLACK: Duration = Duration::from_millis(10);

/// How an HTTP server treats its connections.
#[derive(Clone, Debug)]
pub struct Config {
    /// Size limits for requests.
    pub limits: Limits,
    /// How long a kept-alive connection may sit idle between requests.
    pub idle_timeout: Duration,
    /// How long from a request's first byte to its complete head.
    pub head_timeout: Duration,
    /// How long from the complete head to the complete body.
    pub body_timeout: Duration,
    /// How long one write to a client that stopped reading may block.
    pub write_timeout: Duration,
    /// Where "now" comes from.
    pub clock: Clock,
    /// Whether the per-request log line is off.
    pub quiet: bool,
    /// Whether idle keep-alive connections wait in an event loop (`epoll`,
    /// on Linux) instead of a thread each, and requests that arrive whole
    /// are answered on the loop's own thread ([`super::event_loop`]). Only
    /// for handlers that never wait for long: a handler that blocks (a
    /// stream of events, a slow password hash) would hold up every
    /// connection of its loop. Lab 2's server turns it on; the other labs
    /// keep a thread per connection.
    pub event_loop: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            limits: Limits::default(),
            idle_timeout: IDLE_TIMEOUT,
            head_timeout: HEAD_TIMEOUT,
            body_timeout: BODY_TIMEOUT,
            write_timeout: WRITE_TIMEOUT,
            clock: Clock::system(),
            quiet: false,
            event_loop: false,
        }
    }
}

impl Config {
    /// The TCP server settings an HTTP server needs: `TCP_NODELAY` (a
    /// response must not wait for Nagle's algorithm) and the write timeout.
    pub fn net_config(&self, max_connections: usize) -> net::Config {
        net::Config {
            max_connections,
            write_timeout: Some(self.write_timeout),
            nodelay: true,
            ..net::Config::default()
        }
    }
}

/// A [`Handler`] served over HTTP/1.1: the [`Service`] the TCP server runs
/// on each connection.
pub struct HttpService<H> {
    app: Arc<App<H>>,
}

/// What every thread serving the connections shares: the handler, the
/// configuration, and the event loops when [`Config::event_loop`] is on.
pub(super) struct App<H> {
    pub(super) handler: H,
    pub(super) config: Config,
    #[cfg(target_os = "linux")]
    pub(super) loops: Option<event_loop::Loops>,
}

impl<H: Handler> HttpService<H> {
    /// Serves `handler` with `config`. With [`Config::event_loop`] this
    /// starts the loops' threads, and fails if it cannot.
    pub fn new(handler: H, config: Config) -> io::Result<HttpService<H>> {
        #[cfg(target_os = "linux")]
        let app = {
            let loops = match config.event_loop {
                true => Some(event_loop::Loops::new()?),
                false => None,
            };
            let app = Arc::new(App {
                handler,
                config,
                loops,
            });
            event_loop::start(&app)?;
            app
        };
        #[cfg(not(target_os = "linux"))]
        let app = Arc::new(App { handler, config });
        Ok(HttpService { app })
    }
}

impl<H: Handler> Service for HttpService<H> {
    fn serve(&self, connection: Connection) {
        let conn = Conn::new(connection, &self.app.config, Buffers::new());
        self.app.serve_on_thread(conn, None);
    }

    /// Over the connection cap: a `503` with `Retry-After`, written into the
    /// fresh socket's empty send buffer (so it cannot block), then close.
    fn refuse(&self, mut stream: TcpStream) {
        let response = Response::error(StatusCode::SERVICE_UNAVAILABLE, "server is at capacity")
            .with_header("Retry-After", "1");
        let exchange = closing_exchange(&self.app.config);
        let _ = response.write_to(&mut stream, &mut Vec::new(), exchange);
    }
}

impl<H: Handler> App<H> {
    /// Serves a connection on the calling thread, starting with what the
    /// event loop could not send, until it closes — or, with an event
    /// loop, until it is idle and waits in the loop.
    pub(super) fn serve_on_thread(&self, conn: Conn<'_>, unsent: Option<Unsent>) {
        let idle = conn.run(&self.handler, unsent);
        #[cfg(target_os = "linux")]
        if let (Some(idle), Some(loops)) = (idle, &self.loops) {
            loops.park(idle);
        }
        #[cfg(not(target_os = "linux"))]
        drop(idle);
    }
}

/// What the connection does after an exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Next {
    KeepAlive,
    Close,
    /// Nothing more to read for now: wait in the event loop.
    Park,
}

/// Why reading stopped.
#[derive(Debug)]
enum ReadStop {
    /// The client closed, went silent while idle, or the socket failed:
    /// nothing to answer.
    Gone,
    /// The request is broken or too slow: answer with its status, then close.
    Bad(RequestError),
    /// Nothing is buffered, and this connection waits in the event loop
    /// between requests rather than in `read`.
    Idle,
}

/// What a complete head told the connection, kept while the body arrives.
#[derive(Clone, Copy, Debug)]
struct HeadInfo {
    len: usize,
    framing: Framing,
    expects_continue: bool,
    version: Version,
}

/// Where the body of a request is, once it has all arrived.
#[derive(Clone, Copy, Debug)]
enum BodyLocation {
    /// This range of the read buffer (after the head).
    InBuffer { start: usize, end: usize },
    /// In the de-chunked body buffer; its chunked form ends at `end` in the
    /// read buffer.
    Decoded { end: usize },
}

impl BodyLocation {
    /// Where the request's bytes end in the read buffer.
    fn end(self) -> usize {
        match self {
            BodyLocation::InBuffer { end, .. } | BodyLocation::Decoded { end } => end,
        }
    }
}

/// The memory a connection works in while it serves a request. An event
/// loop lends its own to each connection it serves, so that idle
/// connections hold none.
pub(super) struct Buffers {
    input: ReadBuffer,
    /// The de-chunked body of the current request.
    decoded: Vec<u8>,
    /// Where responses are assembled before the write.
    output: Vec<u8>,
}

impl Buffers {
    pub(super) fn new() -> Buffers {
        Buffers {
            input: ReadBuffer::new(),
            decoded: Vec::new(),
            output: Vec::with_capacity(1024),
        }
    }

    /// The same memory, with no input left in it: what a closed connection
    /// left unread must never be read as the next connection's request.
    pub(super) fn emptied(mut self) -> Buffers {
        self.input.consume(self.input.len());
        self
    }
}

/// A connection that no thread is serving: parked in an event loop
/// between requests, or on its way from the loop to a thread (its
/// [`Buffers`] going along).
pub(super) struct Idle {
    pub(super) connection: Connection,
    /// The read timeout the socket has (see [`Conn::read_timeout`]).
    read_timeout: Option<Duration>,
    /// Since when it waits, by the clock; the idle timeout counts from here.
    pub(super) since: Instant,
    /// When its last bytes were read, by the clock; the head deadline of a
    /// request begun counts from here.
    last_read_at: Instant,
}

/// One connection's state: the socket, the buffered input, and reusable
/// output space.
pub(super) struct Conn<'a> {
    connection: Connection,
    config: &'a Config,
    buffers: Buffers,
    /// The read timeout the socket has now, so that it is set again only
    /// when it must change (see [`READ_TIMEOUT_SLACK`]).
    read_timeout: Option<Duration>,
    /// When the last bytes were read, by the clock.
    last_read_at: Instant,
    /// Whether the connection waits in an event loop when idle.
    parks: bool,
}

impl<'a> Conn<'a> {
    pub(super) fn new(connection: Connection, config: &'a Config, buffers: Buffers) -> Conn<'a> {
        Conn {
            connection,
            config,
            buffers,
            read_timeout: None,
            last_read_at: config.clock.now(),
            parks: config.event_loop && cfg!(target_os = "linux"),
        }
    }

    /// Takes an idle connection back, to serve its next request.
    pub(super) fn resume(idle: Idle, config: &'a Config, buffers: Buffers) -> Conn<'a> {
        Conn {
            read_timeout: idle.read_timeout,
            last_read_at: idle.last_read_at,
            ..Conn::new(idle.connection, config, buffers)
        }
    }

    /// The connection without its buffers, to wait in an event loop.
    pub(super) fn into_idle(self) -> (Idle, Buffers) {
        let idle = Idle {
            connection: self.connection,
            read_timeout: self.read_timeout,
            since: self.config.clock.now(),
            last_read_at: self.last_read_at,
        };
        (idle, self.buffers)
    }

    /// The connection itself, to close it or watch it.
    pub(super) fn connection(&self) -> &Connection {
        &self.connection
    }

    /// Serves requests, starting with sending what is `unsent`, until the
    /// connection closes (`None`) or is idle and parks (its state).
    fn run(mut self, handler: &dyn Handler, unsent: Option<Unsent>) -> Option<Idle> {
        let mut next = match unsent {
            Some(unsent) => self.send_unsent(unsent),
            None => Next::KeepAlive,
        };
        while next == Next::KeepAlive {
            next = self.exchange(handler);
        }
        match next {
            Next::Park => Some(self.into_idle().0),
            _ => None,
        }
    }

    /// Reads one request, answers it, and says whether to go on.
    fn exchange(&mut self, handler: &dyn Handler) -> Next {
        let head = match self.read_head() {
            Ok(head) => head,
            Err(stop) => return self.stop(handler, stop),
        };
        // The request's time in the log runs from its complete head: the
        // idle wait before it is the client's, not the server's.
        let started = self.config.clock.now();
        let body = match self.read_body(&head) {
            Ok(body) => body,
            Err(stop) => return self.stop(handler, stop),
        };
        let next = match self.answer(handler, head, body, started) {
            Ok(answer) => self.send(answer),
            Err(stop) => self.stop(handler, stop),
        };
        self.consume(body);
        next
    }

    /// Done with a request's bytes.
    fn consume(&mut self, body: BodyLocation) {
        self.buffers.input.consume(body.end());
        self.buffers.input.shrink_if_large();
    }
}

/// Reading.
impl Conn<'_> {
    /// Waits for a request and reads until its head is complete.
    fn read_head(&mut self) -> Result<HeadInfo, ReadStop> {
        let limits = &self.config.limits;
        if self.parks && self.buffers.input.is_empty() {
            return Err(ReadStop::Idle);
        }
        // Waiting for the first byte is the idle phase. From the first byte
        // on, the head has one total deadline, counted from when that byte
        // was read — for a pipelined request already in the buffer, from the
        // read that brought it, not from when its turn came.
        let mut deadline = if self.buffers.input.is_empty() {
            self.config.clock.now() + self.config.idle_timeout
        } else {
            self.last_read_at + self.config.head_timeout
        };
        let mut new_bytes_from = 0;
        loop {
            let buffered = self.buffers.input.filled();
            let worth_parsing =
                buffered[new_bytes_from..].contains(&b'\n') || buffered.len() > limits.head_bytes;
            if worth_parsing {
                match parse_head(buffered, limits) {
                    Ok(Status::Complete(head)) => {
                        return head_info(&head, limits).map_err(ReadStop::Bad);
                    }
                    Ok(Status::Partial) => {}
                    Err(error) => return Err(ReadStop::Bad(error)),
                }
            }
            let was_empty = self.buffers.input.is_empty();
            new_bytes_from = self.buffers.input.len();
            match self.fill(deadline, limits.head_bytes + 1) {
                Ok(()) if was_empty => deadline = self.last_read_at + self.config.head_timeout,
                Ok(()) => {}
                Err(FillError::Timeout) if was_empty => return Err(ReadStop::Gone),
                Err(FillError::Timeout) => return Err(ReadStop::Bad(RequestError::Timeout)),
                Err(FillError::Closed) => return Err(ReadStop::Gone),
            }
        }
    }

    /// Reads the body the head announced; answers `Expect: 100-continue`.
    fn read_body(&mut self, head: &HeadInfo) -> Result<BodyLocation, ReadStop> {
        let deadline = self.config.clock.now() + self.config.body_timeout;
        let limit = self.config.limits.body_bytes;
        if head.expects_continue
            && head.framing != Framing::None
            && self.buffers.input.len() == head.len
        {
            // RFC 9110 §10.1.1: the client waits for this before sending the body.
            self.write_raw(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        }
        match head.framing {
            Framing::None => Ok(BodyLocation::InBuffer {
                start: head.len,
                end: head.len,
            }),
            Framing::Length(length) => {
                let end = head.len + length;
                while self.buffers.input.len() < end {
                    self.fill(deadline, end).map_err(FillError::into_stop)?;
                }
                Ok(BodyLocation::InBuffer {
                    start: head.len,
                    end,
                })
            }
            Framing::Chunked => {
                let mut decoder = ChunkedDecoder::new(limit);
                self.buffers.decoded.clear();
                let mut position = head.len;
                loop {
                    let input = &self.buffers.input.filled()[position..];
                    position += decoder
                        .decode(input, &mut self.buffers.decoded)
                        .map_err(ReadStop::Bad)?;
                    if decoder.is_done() {
                        break;
                    }
                    // Room for the decoded limit plus generous framing overhead.
                    self.fill(deadline, position + limit + self.config.limits.head_bytes)
                        .map_err(FillError::into_stop)?;
                }
                Ok(BodyLocation::Decoded { end: position })
            }
        }
    }

    /// Reads more input into the buffer (up to `max_len` buffered bytes),
    /// waiting no later than `deadline` by the clock.
    fn fill(&mut self, deadline: Instant, max_len: usize) -> Result<(), FillError> {
        loop {
            let now = self.config.clock.now();
            if now >= deadline {
                return Err(FillError::Timeout);
            }
            // A read timeout of zero means "forever" to the OS: keep 1 ms at least.
            let wait = (deadline - now).max(Duration::from_millis(1));
            let close_enough = self
                .read_timeout
                .is_some_and(|set| set.abs_diff(wait) <= READ_TIMEOUT_SLACK);
            if !close_enough {
                self.connection
                    .stream()
                    .set_read_timeout(Some(wait))
                    .map_err(|_| FillError::Closed)?;
                self.read_timeout = Some(wait);
            }
            match self
                .buffers
                .input
                .read_from(&mut self.connection.stream(), max_len)
            {
                Ok(0) => return Err(FillError::Closed),
                Ok(_) => {
                    self.last_read_at = self.config.clock.now();
                    return Ok(());
                }
                // Timed out by the socket: look at the clock again.
                Err(error) if is_timeout(&error) => continue,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return Err(FillError::Closed),
            }
        }
    }
}

/// Why [`Conn::fill`] got no bytes.
#[derive(Clone, Copy, Debug)]
enum FillError {
    Timeout,
    Closed,
}

impl FillError {
    /// While reading a body both mean the request cannot be completed.
    fn into_stop(self) -> ReadStop {
        match self {
            FillError::Timeout => ReadStop::Bad(RequestError::Timeout),
            FillError::Closed => ReadStop::Gone,
        }
    }
}

/// Checks what the connection must know from a complete head before it
/// reads the body.
fn head_info(head: &super::request::Head<'_>, limits: &Limits) -> Result<HeadInfo, RequestError> {
    let framing = request_framing(head, limits)?;
    let expects_continue = match head.headers.get("expect") {
        None => false,
        Some(value) if value.eq_ignore_ascii_case("100-continue") => {
            head.version == Version::Http11
        }
        Some(_) => return Err(RequestError::Expectation),
    };
    Ok(HeadInfo {
        len: head.len,
        framing,
        expects_continue,
        version: head.version,
    })
}

/// A response made and not yet sent, with what the log line needs.
pub(super) struct Answer {
    response: Response,
    exchange: Exchange,
    method: Method,
    /// The request's path, kept only when requests are logged.
    logged_path: Option<String>,
    started: Instant,
}

/// What the event loop leaves for a thread to send: it never waits for a
/// slow client, nor reads a file or runs a stream.
pub(super) enum Unsent {
    /// The rest of a response the client was not yet ready to take, and
    /// what to do once it is sent.
    Bytes(Vec<u8>, Next),
    /// A response whose body is a file or a stream.
    Answer(Answer),
}

/// Handling and writing.
impl Conn<'_> {
    /// Builds the request and calls the handler.
    fn answer(
        &mut self,
        handler: &dyn Handler,
        info: HeadInfo,
        body: BodyLocation,
        started: Instant,
    ) -> Result<Answer, ReadStop> {
        let buffered = self.buffers.input.filled();
        // The head was complete a moment ago; parsing it again borrows it
        // from the buffer as it is now.
        let Ok(Status::Complete(head)) = parse_head(&buffered[..info.len], &self.config.limits)
        else {
            return Err(ReadStop::Bad(RequestError::RequestLine));
        };
        let body = match body {
            BodyLocation::InBuffer { start, end } => Cow::Borrowed(&buffered[start..end]),
            BodyLocation::Decoded { .. } => Cow::Borrowed(self.buffers.decoded.as_slice()),
        };
        let mut request = Request::new(head, body, self.connection.peer);
        let method = request.method();
        let keep_alive = request.wants_keep_alive();
        let response = call_handler(handler, &mut request);
        Ok(Answer {
            response,
            exchange: Exchange {
                version: info.version,
                head_only: method == Method::Head,
                keep_alive,
                now: self.config.clock.wall(),
            },
            method,
            logged_path: (!self.config.quiet).then(|| request.path().to_string()),
            started,
        })
    }

    /// Writes the answer, waiting for the client as long as it takes (up to
    /// the write timeout), and logs it.
    fn send(&mut self, answer: Answer) -> Next {
        let mut stream = self.connection.stream();
        write_and_log(answer, &mut stream, &mut self.buffers.output, self.config)
    }

    /// Finishes what the event loop could not send.
    fn send_unsent(&mut self, unsent: Unsent) -> Next {
        match unsent {
            Unsent::Answer(answer) => self.send(answer),
            Unsent::Bytes(bytes, next) => match self.write_raw(&bytes) {
                Ok(()) => next,
                Err(_) => Next::Close,
            },
        }
    }

    /// Ends the connection after reading stopped: silently if the client
    /// is gone, with the error's status if the request was bad.
    fn stop(&mut self, handler: &dyn Handler, stop: ReadStop) -> Next {
        match stop {
            ReadStop::Idle => return Next::Park,
            ReadStop::Bad(error) => {
                let now = self.config.clock.now();
                self.answer_error(handler.request_error(error), now);
            }
            ReadStop::Gone => {}
        }
        Next::Close
    }

    /// Answers a request that could not be read, then closes gently.
    fn answer_error(&mut self, response: Response, started: Instant) {
        let status = response.status();
        let mut stream = self.connection.stream();
        let bytes = response
            .write_to(
                &mut stream,
                &mut self.buffers.output,
                closing_exchange(self.config),
            )
            .map_or(0, |written| written.body_bytes);
        if !self.config.quiet {
            log_line("-", "-", status, bytes, started, &self.config.clock);
        }
        linger(stream);
    }

    fn write_raw(&mut self, bytes: &[u8]) -> Result<(), ReadStop> {
        let mut stream = self.connection.stream();
        stream.write_all(bytes).map_err(|_| ReadStop::Gone)
    }
}

/// Serving from an event loop (Linux only, like `epoll`).
#[cfg(target_os = "linux")]
mod arrived {
    use super::*;
    use crate::poll::NoWait;

    /// What [`Conn::answer_arrived`] leaves to do.
    pub(in crate::http) enum Arrived {
        /// Every request that arrived is answered: wait for the next.
        Idle,
        /// Reported ready, yet there was nothing to read: wait on, the idle
        /// time still running.
        Nothing,
        /// The client left, or asked to close, or the socket failed.
        Closed,
        /// A request needs waiting — for more of it to arrive, for the client
        /// to take a large answer, for a file or a stream — or is bad and
        /// must be answered with an error: a thread takes the connection over,
        /// sending what is unsent first.
        NeedsThread(Option<Unsent>),
    }

    /// Serving from an event loop: only what can be done without waiting.
    impl Conn<'_> {
        /// Reads what has arrived, and answers every request that is complete
        /// in it — head and body, with nothing more to wait for — writing
        /// each answer only as far as the client takes it now.
        pub(in crate::http) fn answer_arrived(&mut self, handler: &dyn Handler) -> Arrived {
            let limits = &self.config.limits;
            let mut socket = NoWait(self.connection.stream());
            match self
                .buffers
                .input
                .read_from(&mut socket, limits.head_bytes + 1)
            {
                Ok(0) => return Arrived::Closed,
                Ok(_) => self.last_read_at = self.config.clock.now(),
                // Spurious readiness: nothing to read after all.
                Err(error) if is_timeout(&error) => return Arrived::Nothing,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {
                    return Arrived::Nothing;
                }
                Err(_) => return Arrived::Closed,
            }
            while !self.buffers.input.is_empty() {
                let Some((info, body)) = self.arrived_request() else {
                    // Partial, bad, or needing `100 Continue`: the thread's
                    // reading code takes it from here, deadlines and all.
                    return Arrived::NeedsThread(None);
                };
                let started = self.config.clock.now();
                let answer = match self.answer(handler, info, body, started) {
                    Ok(answer) => answer,
                    Err(_) => return Arrived::NeedsThread(None),
                };
                self.consume(body);
                if answer.response.body().as_bytes().is_none() {
                    return Arrived::NeedsThread(Some(Unsent::Answer(answer)));
                }
                let mut out = SendNow::new(self.connection.stream());
                let next = write_and_log(answer, &mut out, &mut self.buffers.output, self.config);
                if let Some(rest) = out.unsent() {
                    return Arrived::NeedsThread(Some(Unsent::Bytes(rest, next)));
                }
                if next != Next::KeepAlive {
                    return Arrived::Closed;
                }
            }
            Arrived::Idle
        }

        /// The next buffered request, when all of it is there and nothing in
        /// it asks the server to wait (`Expect: 100-continue`, a chunked body).
        fn arrived_request(&self) -> Option<(HeadInfo, BodyLocation)> {
            let limits = &self.config.limits;
            let Ok(Status::Complete(head)) = parse_head(self.buffers.input.filled(), limits) else {
                return None;
            };
            let info = head_info(&head, limits).ok()?;
            let length = match info.framing {
                _ if info.expects_continue => return None,
                Framing::None => 0,
                Framing::Length(length) => length,
                Framing::Chunked => return None,
            };
            let end = info.len + length;
            (self.buffers.input.len() >= end).then_some((
                info,
                BodyLocation::InBuffer {
                    start: info.len,
                    end,
                },
            ))
        }
    }

    /// A writer that sends what the socket takes now and keeps the rest, for
    /// a thread to send: an event loop must never wait for one client.
    struct SendNow<'a> {
        socket: NoWait<'a>,
        rest: Vec<u8>,
        failed: bool,
    }

    impl<'a> SendNow<'a> {
        fn new(stream: &'a TcpStream) -> SendNow<'a> {
            SendNow {
                socket: NoWait(stream),
                rest: Vec::new(),
                failed: false,
            }
        }

        /// What is left to send, if anything (and the socket has not failed).
        fn unsent(self) -> Option<Vec<u8>> {
            (!self.rest.is_empty() && !self.failed).then_some(self.rest)
        }
    }

    impl Write for SendNow<'_> {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            if self.failed {
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            let mut sent = 0;
            while self.rest.is_empty() && sent < bytes.len() {
                match self.socket.write(&bytes[sent..]) {
                    Ok(count) => sent += count,
                    Err(error) if is_timeout(&error) => break,
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                    Err(error) => {
                        self.failed = true;
                        return Err(error);
                    }
                }
            }
            self.rest.extend_from_slice(&bytes[sent..]);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
}

/// Writes an answer to `out` (assembling it in `output`), logs it, and
/// says whether the connection goes on.
fn write_and_log(
    answer: Answer,
    out: &mut impl Write,
    output: &mut Vec<u8>,
    config: &Config,
) -> Next {
    let status = answer.response.status();
    let written = answer.response.write_to(out, output, answer.exchange);
    let (next, bytes) = match written {
        Ok(written) if written.keep_alive => (Next::KeepAlive, written.body_bytes),
        Ok(written) => (Next::Close, written.body_bytes),
        Err(_) => (Next::Close, 0),
    };
    if let Some(path) = &answer.logged_path {
        log_line(
            answer.method.as_str(),
            path,
            status,
            bytes,
            answer.started,
            &config.clock,
        );
    }
    next
}

/// The exchange for a response the server sends on its own (an error, a
/// refusal): HTTP/1.1, with a body, and the connection closes after it.
fn closing_exchange(config: &Config) -> Exchange {
    Exchange {
        version: Version::Http11,
        head_only: false,
        keep_alive: false,
        now: config.clock.wall(),
    }
}

/// Calls the handler; a panic inside it becomes a 500 for this request,
/// and the connection — and the server — go on.
fn call_handler(handler: &dyn Handler, request: &mut Request<'_>) -> Response {
    match panic::catch_unwind(AssertUnwindSafe(|| handler.handle(request))) {
        Ok(response) => response,
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|text| text.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            eprintln!(
                "handler panicked on {} {}: {message}",
                request.method(),
                request.path()
            );
            Response::error(StatusCode::INTERNAL_SERVER_ERROR, "the handler failed")
        }
    }
}

/// The request log: `METHOD PATH STATUS BYTES MICROS` on stderr.
fn log_line(
    method: &str,
    path: &str,
    status: StatusCode,
    bytes: u64,
    started: Instant,
    clock: &Clock,
) {
    let micros = clock.now().saturating_duration_since(started).as_micros();
    eprintln!("{method} {path} {} {bytes} {micros}", status.as_u16());
}

/// Closes our sending side, then reads and discards what the client still
/// sends for a short while, so that the kernel does not reset the
/// connection — destroying our last response — while input is unread.
/// Lab 5's peers close a connection after an error frame the same way.
pub fn linger(stream: &TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(LINGER_TIME));
    let deadline = Instant::now() + LINGER_TIME;
    let mut discarded = 0;
    let mut scratch = [0u8; 4096];
    let mut reader = stream;
    while discarded < LINGER_BYTES && Instant::now() < deadline {
        match reader.read(&mut scratch) {
            Ok(0) | Err(_) => break,
            Ok(read) => discarded += read,
        }
    }
}

/// A connection's input: bytes read from the socket and not yet consumed
/// by a request, in `data[start..end]`.
struct ReadBuffer {
    data: Vec<u8>,
    start: usize,
    end: usize,
}

impl ReadBuffer {
    fn new() -> ReadBuffer {
        ReadBuffer {
            data: vec![0; INITIAL_BUFFER_BYTES],
            start: 0,
            end: 0,
        }
    }

    fn filled(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }

    fn len(&self) -> usize {
        self.end - self.start
    }

    fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Drops the first `count` bytes: one request is done with them.
    fn consume(&mut self, count: usize) {
        self.start = (self.start + count).min(self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Reads once from `source`, making room for up to `max_len` buffered
    /// bytes in all (but always for at least one more).
    fn read_from(&mut self, source: &mut impl Read, max_len: usize) -> io::Result<usize> {
        if self.end == self.data.len() {
            self.make_room(max_len);
        }
        let read = source.read(&mut self.data[self.end..])?;
        self.end += read;
        Ok(read)
    }

    /// Moves the unconsumed bytes to the front, and grows the buffer if
    /// that is not enough.
    fn make_room(&mut self, max_len: usize) {
        if self.start > 0 {
            self.data.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.data.len() {
            let wanted = (self.data.len() * 2).min(max_len.max(self.end + 1));
            self.data.resize(wanted.max(self.end + 1), 0);
        }
    }

    /// Gives memory back after a large request, keeping what is unread.
    fn shrink_if_large(&mut self) {
        if self.data.len() > KEEP_BUFFER_BYTES && self.len() <= INITIAL_BUFFER_BYTES {
            let rest = self.filled().to_vec();
            self.data = vec![0; INITIAL_BUFFER_BYTES];
            self.data[..rest.len()].copy_from_slice(&rest);
            self.start = 0;
            self.end = rest.len();
        }
    }
}
