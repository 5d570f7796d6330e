//! One client connection to the proxy: read a request head, find its site,
//! forward it, and go on while both sides keep the connection open.
//!
//! Why not lab 2's server with a [`Handler`](crate::http::Handler)? Lab 2's
//! connection loop reads a request's whole body into memory (up to its
//! limit, 1 MiB by default) before it calls the handler, and a handler's
//! response either has a known length or is always sent chunked, with lab
//! 2's own `Date` and `Server`. That is right for an application, and
//! wrong for a proxy: an upload of 1 GiB would need 1 GiB of memory (or be
//! refused with 413), the backend's `Content-Length` would be lost, and
//! the client would see two `Date` fields. So the proxy has its own loop,
//! built from lab 2's parts — the head parser and its limits
//! ([`parse_head`]), the body framing rules ([`request_framing`]), the
//! chunked decoder and writer, and [`Response`] for the answers the proxy
//! makes itself (404, 502…) — and streams bodies through
//! (`docs/lab6_proxy.md`, "Streaming").
//!
//! Deadlines are lab 2's: an idle kept-alive connection is closed after
//! the idle timeout; a head must be complete within the head timeout of
//! its first byte (one total deadline, by the [`Clock`](crate::clock::Clock),
//! so that a slowloris client cannot hold the connection); a body may
//! pause at most the body timeout between two pieces.

use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::forward::{self, ClientWire, Forwarded, Incoming};
use super::route::{Proxy, RequestHost};
use super::wire::{Framing, ReadError, Wire, copy_body};
use crate::http::body::{Framing as RequestFraming, request_framing};
use crate::http::method::{Method, Version};
use crate::http::request::{Head, Limits, RequestError, Status, parse_head};
use crate::http::response::{Exchange, Response};
use crate::http::status::StatusCode;
use crate::net::{Connection, Service};

/// A request body the proxy answers itself (an unknown host, say) is read
/// and thrown away, so that the connection can go on, if it is at most
/// this large; a larger one closes the connection instead.
const MAX_DISCARDED_BODY: u64 = 1024 * 1024;

/// After an error that closes the connection, how much the proxy still
/// reads and throws away, and for how long, so that the kernel does not
/// reset the connection — and destroy the answer — over unread input.
const LINGER_BYTES: usize = 256 * 1024;
const LINGER_TIME: Duration = Duration::from_secs(1);

/// The proxy as the TCP server runs it on each connection.
pub struct ProxyService {
    proxy: Arc<Proxy>,
}

impl ProxyService {
    /// Serves `proxy`.
    pub fn new(proxy: Proxy) -> ProxyService {
        ProxyService {
            proxy: Arc::new(proxy),
        }
    }
}

impl Service for ProxyService {
    fn serve(&self, connection: Connection) {
        let mut client = ClientConn {
            proxy: &self.proxy,
            wire: Wire::new(connection.stream()),
            peer: connection.peer,
            head: Vec::new(),
            out: Vec::with_capacity(1024),
            last_read_at: self.proxy.settings().clock.now(),
        };
        while client.exchange() == Next::KeepAlive {}
    }

    /// Over the connection cap: a `503` with `Retry-After`, written into the
    /// fresh socket's empty send buffer (so it cannot block), then close.
    fn refuse(&self, mut stream: TcpStream) {
        let response = Response::error(StatusCode::SERVICE_UNAVAILABLE, "proxy is at capacity")
            .with_header("Retry-After", "1");
        let exchange = Exchange {
            version: Version::Http11,
            head_only: false,
            keep_alive: false,
            now: self.proxy.settings().clock.wall(),
        };
        let _ = response.write_to(&mut stream, &mut Vec::new(), exchange);
    }
}

/// What the connection does after an exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Next {
    KeepAlive,
    Close,
}

/// Why no request head was read.
enum Stop {
    /// The client closed, or stayed idle too long: nothing to answer.
    Gone,
    /// The head is broken or too slow: answer, then close.
    Bad(RequestError),
}

/// One client connection's state.
struct ClientConn<'a> {
    proxy: &'a Proxy,
    wire: ClientWire<'a>,
    peer: SocketAddr,
    /// The current request's head, copied out of the read buffer so that
    /// the buffer can take the body while the head is in use.
    head: Vec<u8>,
    /// Where the heads the proxy writes are assembled.
    out: Vec<u8>,
    /// When bytes last arrived, by the clock.
    last_read_at: Instant,
}

impl ClientConn<'_> {
    /// Reads one request, has it answered, and says whether to go on.
    fn exchange(&mut self) -> Next {
        let started = self.proxy.settings().clock.now();
        let len = match self.read_head() {
            Ok(len) => len,
            Err(Stop::Gone) => return Next::Close,
            Err(Stop::Bad(error)) => {
                self.answer_and_close(error.status(), &error.to_string(), started);
                return Next::Close;
            }
        };
        let mut head_bytes = std::mem::take(&mut self.head);
        head_bytes.clear();
        head_bytes.extend_from_slice(&self.wire.buffered()[..len]);
        self.wire.consume(len);
        let next = match parse_head(&head_bytes, &self.proxy.settings().limits) {
            Ok(Status::Complete(head)) => self.handle(&head, started),
            // The same bytes parsed a moment ago; this cannot happen.
            _ => {
                self.answer_and_close(StatusCode::BAD_REQUEST, "unreadable request", started);
                Next::Close
            }
        };
        self.head = head_bytes;
        next
    }

    /// Routes a request and has it forwarded, or answers it here.
    fn handle(&mut self, head: &Head<'_>, started: Instant) -> Next {
        let settings = self.proxy.settings();
        let unlimited = Limits {
            body_bytes: usize::MAX,
            ..settings.limits
        };
        let framing = match request_framing(head, &unlimited) {
            Ok(RequestFraming::None) => Framing::Empty,
            Ok(RequestFraming::Length(length)) => Framing::Length(length as u64),
            Ok(RequestFraming::Chunked) => Framing::Chunked,
            Err(error) => {
                self.answer_and_close(error.status(), &error.to_string(), started);
                return Next::Close;
            }
        };
        let expects_continue = match head.headers.get("expect") {
            None => false,
            Some(value) if value.eq_ignore_ascii_case("100-continue") => {
                head.version == Version::Http11
            }
            Some(_) => {
                let error = RequestError::Expectation;
                self.answer_and_close(error.status(), &error.to_string(), started);
                return Next::Close;
            }
        };
        let host = requested_host(head);
        let Some(site) = self.proxy.route(host.as_ref()) else {
            let (status, message) = match &host {
                Some(host) => (
                    StatusCode::NOT_FOUND,
                    format!("no site here is called {}", host.name),
                ),
                None => (
                    StatusCode::BAD_REQUEST,
                    "a Host header is needed to choose a site".to_string(),
                ),
            };
            let reply = Reply::to(head, wants_keep_alive(head), started);
            return self.answer_here(reply, framing, expects_continue, status, &message);
        };
        let (http_host, name) = host
            .as_ref()
            .map_or(("", ""), |host| (host.as_sent.as_str(), host.name.as_str()));
        let request = Incoming {
            head,
            framing,
            expects_continue,
            peer: self.peer,
            http_host,
            host: name,
            keep_alive: wants_keep_alive(head),
        };
        let forwarded = forward::forward(settings, site, &request, &mut self.wire, &mut self.out);
        let reply = Reply::to(head, request.keep_alive, started);
        match forwarded {
            Forwarded::Relayed(outcome) => {
                self.log(&reply, outcome.status, outcome.body_bytes);
                if outcome.keep_alive {
                    Next::KeepAlive
                } else {
                    Next::Close
                }
            }
            Forwarded::Unanswered {
                status,
                message,
                body_read,
            } => self.answer_after_body(reply, body_read, status, message),
            Forwarded::ClientGone => Next::Close,
        }
    }
}

/// Reading a head.
impl ClientConn<'_> {
    /// Waits for a request and reads until its head is complete; returns
    /// its length in the buffer.
    fn read_head(&mut self) -> Result<usize, Stop> {
        let settings = self.proxy.settings();
        let limits = &settings.limits;
        // Waiting for the first byte is the idle phase. From it on, the
        // head has one total deadline — for a pipelined request already
        // buffered, counted from the read that brought it.
        let mut deadline =
            (!self.wire.buffered().is_empty()).then(|| self.last_read_at + settings.head_timeout);
        let mut parsed_up_to = 0;
        loop {
            let buffered = self.wire.buffered();
            // Parse again only once a line has ended since the last try: a
            // head sent a byte at a time must not cost a parse per byte.
            if buffered[parsed_up_to..].contains(&b'\n') || buffered.len() > limits.head_bytes {
                match parse_head(buffered, limits) {
                    Ok(Status::Complete(head)) => return Ok(head.len),
                    Ok(Status::Partial) => {}
                    Err(error) => return Err(Stop::Bad(error)),
                }
            }
            parsed_up_to = buffered.len();
            let wait = match deadline {
                None => settings.idle_timeout,
                Some(deadline) => {
                    let now = settings.clock.now();
                    if now >= deadline {
                        return Err(Stop::Bad(RequestError::Timeout));
                    }
                    deadline - now
                }
            };
            match self.wire.read_more(wait, limits.head_bytes + 1) {
                Ok(_) => {
                    self.last_read_at = settings.clock.now();
                    deadline.get_or_insert(self.last_read_at + settings.head_timeout);
                }
                // Idle too long: close without a word.
                Err(ReadError::Timeout) if deadline.is_none() => return Err(Stop::Gone),
                // The socket's wait is over; the clock decides above.
                Err(ReadError::Timeout) => {}
                Err(ReadError::Closed) => return Err(Stop::Gone),
                Err(ReadError::Full) => return Err(Stop::Bad(RequestError::HeadTooLarge)),
            }
        }
    }
}

/// What the proxy needs to answer a request and log it.
#[derive(Clone, Copy, Debug)]
struct Reply<'h> {
    method: Method,
    path: &'h str,
    version: Version,
    keep_alive: bool,
    started: Instant,
}

impl<'h> Reply<'h> {
    fn to(head: &Head<'h>, keep_alive: bool, started: Instant) -> Reply<'h> {
        Reply {
            method: head.method,
            path: head.target,
            version: head.version,
            keep_alive,
            started,
        }
    }
}

/// Answering here.
impl ClientConn<'_> {
    /// Answers a request the proxy does not forward. Its body is read and
    /// thrown away first, if it is small, so the connection can go on —
    /// unless the client waits for `100 Continue` before sending it: then
    /// the answer goes at once, and the connection closes after it (RFC
    /// 9110 §10.1.1; whether the body will still come is unknown).
    fn answer_here(
        &mut self,
        reply: Reply<'_>,
        framing: Framing,
        expects_continue: bool,
        status: StatusCode,
        message: &str,
    ) -> Next {
        let settings = self.proxy.settings();
        let waiting =
            expects_continue && framing != Framing::Empty && self.wire.buffered().is_empty();
        let drained = !waiting
            && copy_body(
                &mut self.wire,
                framing,
                settings.body_timeout,
                MAX_DISCARDED_BODY,
                &mut io::sink(),
            )
            .is_ok();
        self.answer_after_body(reply, drained, status, message)
    }

    /// Answers; the connection goes on only if the request's body was read
    /// to its end (`body_read`), since otherwise the next request's start
    /// is unknown — and then it closes gently.
    fn answer_after_body(
        &mut self,
        reply: Reply<'_>,
        body_read: bool,
        status: StatusCode,
        message: &str,
    ) -> Next {
        let reply = Reply {
            keep_alive: reply.keep_alive && body_read,
            ..reply
        };
        let next = self.answer(&reply, status, message);
        if !body_read {
            self.linger();
        }
        next
    }

    /// Writes the proxy's own short answer (`404 Not Found: …`).
    fn answer(&mut self, reply: &Reply<'_>, status: StatusCode, message: &str) -> Next {
        let exchange = Exchange {
            version: reply.version,
            head_only: reply.method == Method::Head,
            keep_alive: reply.keep_alive,
            now: self.proxy.settings().clock.wall(),
        };
        let mut stream = self.wire.stream();
        let written =
            Response::error(status, message).write_to(&mut stream, &mut self.out, exchange);
        let (next, bytes) = match written {
            Ok(written) if written.keep_alive => (Next::KeepAlive, written.body_bytes),
            Ok(written) => (Next::Close, written.body_bytes),
            Err(_) => (Next::Close, 0),
        };
        self.log(reply, status.as_u16(), bytes);
        next
    }

    /// Answers a request that could not be read, then closes gently.
    fn answer_and_close(&mut self, status: StatusCode, message: &str, started: Instant) {
        let reply = Reply {
            method: Method::Get,
            path: "-",
            version: Version::Http11,
            keep_alive: false,
            started,
        };
        self.answer(&reply, status, message);
        self.linger();
    }

    /// Closes the sending side, then reads and throws away what the client
    /// still sends for a moment, so that the kernel does not reset the
    /// connection — destroying the last answer — over unread input.
    fn linger(&mut self) {
        let _ = self.wire.stream().shutdown(Shutdown::Write);
        let until = Instant::now() + LINGER_TIME;
        let mut discarded = 0;
        while discarded < LINGER_BYTES && Instant::now() < until {
            match self.wire.read_more(LINGER_TIME, LINGER_BYTES) {
                Ok(read) => discarded += read,
                Err(_) => break,
            }
            let all = self.wire.buffered().len();
            self.wire.consume(all);
        }
    }

    /// The request log: `METHOD PATH STATUS BYTES MICROS` on stderr.
    fn log(&self, reply: &Reply<'_>, status: u16, bytes: u64) {
        let settings = self.proxy.settings();
        if settings.quiet {
            return;
        }
        let micros = settings
            .clock
            .now()
            .saturating_duration_since(reply.started)
            .as_micros();
        let method = if reply.path == "-" {
            "-"
        } else {
            reply.method.as_str()
        };
        let mut log = io::stderr().lock();
        let _ = writeln!(log, "{method} {} {status} {bytes} {micros}", reply.path);
    }
}

/// The host a request is for: the authority of an absolute URL target
/// (RFC 9112 §3.2.2), or else the `Host` header; `None` for an HTTP/1.0
/// request without either.
fn requested_host(head: &Head<'_>) -> Option<RequestHost> {
    let from_target = ["http://", "https://"].iter().find_map(|scheme| {
        let rest = head.target.strip_prefix(scheme)?;
        rest.split(['/', '?']).next()
    });
    from_target
        .or_else(|| head.headers.get("host"))
        .filter(|host| !host.is_empty())
        .map(RequestHost::parse)
}

/// Whether the client wants its connection kept open (RFC 9112 §9.3):
/// HTTP/1.1 unless it says `close`; HTTP/1.0 only if it says `keep-alive`.
fn wants_keep_alive(head: &Head<'_>) -> bool {
    let fields = &head.headers;
    !fields.has_token("connection", "close")
        && (head.version == Version::Http11 || fields.has_token("connection", "keep-alive"))
}
