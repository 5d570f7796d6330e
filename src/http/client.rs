//! A small blocking HTTP/1.1 client, the other side of the same protocol.
//!
//! The tests, lab 5's peers (which talk to the tracker) and the load
//! generator use it. It keeps one connection open and reuses it for the
//! next request (keep-alive), reads bodies framed by `Content-Length`, by
//! chunked encoding (with the server's own [`ChunkedDecoder`]) or by the
//! server closing, and gives every step a timeout.
//!
//! ```no_run
//! use weaprous::http::client::Client;
//!
//! let (mut client, path) = Client::for_url("http://127.0.0.1:9000/hello").expect("valid URL");
//! let response = client.get(&path).expect("server answers");
//! assert_eq!(response.status, 200);
//! ```
//!
//! Left out on purpose: TLS (`https://`), redirects (the caller decides),
//! cookies (the caller sends the `Cookie` header it wants), and proxies.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use super::body::ChunkedDecoder;
use super::headers::{self, Headers};
use super::method::{Method, Version};
use super::status::StatusCode;
use crate::net::is_timeout;

/// Default for every connect, read and write.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest response head accepted.
const MAX_RESPONSE_HEAD_BYTES: usize = 64 * 1024;

/// Largest response body accepted.
pub const MAX_RESPONSE_BODY_BYTES: usize = 64 * 1024 * 1024;

/// A kept-alive connection idle for longer than this is checked before it
/// is reused: the server may have closed it in the meantime.
const STALE_CHECK_AFTER: Duration = Duration::from_secs(1);

/// A response, read whole.
#[derive(Clone, Debug)]
pub struct ClientResponse {
    /// The status code.
    pub status: u16,
    /// The header fields, in order, with their values as text (bytes that
    /// are not UTF-8 are replaced).
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl ClientResponse {
    /// The first value of a header (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Every value of a header (any case), in order: `Set-Cookie` repeats.
    pub fn header_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.headers
            .iter()
            .filter(move |(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Why a request got no response.
#[derive(Debug)]
pub enum ClientError {
    /// The URL is not `http://host[:port]/path`.
    Url(String),
    /// Connecting, sending or receiving failed.
    Io(io::Error),
    /// The server closed the connection before a complete response.
    Closed,
    /// The response is not valid HTTP/1.x.
    BadResponse(&'static str),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Url(url) => write!(f, "not an http:// URL: {url}"),
            ClientError::Io(error) if is_timeout(error) => write!(f, "timed out: {error}"),
            ClientError::Io(error) => write!(f, "{error}"),
            ClientError::Closed => f.write_str("connection closed before a complete response"),
            ClientError::BadResponse(what) => write!(f, "malformed response: {what}"),
        }
    }
}

impl std::error::Error for ClientError {}

impl From<io::Error> for ClientError {
    fn from(error: io::Error) -> Self {
        ClientError::Io(error)
    }
}

impl ClientError {
    /// Whether the failure was a timeout (connect, read or write).
    pub fn is_timeout(&self) -> bool {
        matches!(self, ClientError::Io(error) if is_timeout(error))
    }
}

/// A client for one server, keeping one connection to it open.
#[derive(Debug)]
pub struct Client {
    addr: SocketAddr,
    host: String,
    timeout: Duration,
    connection: Option<Connection>,
}

#[derive(Debug)]
struct Connection {
    stream: TcpStream,
    /// Bytes received past the end of the last response.
    buffer: Vec<u8>,
    last_used: Instant,
}

impl Client {
    /// A client for the server at `addr`; the `Host` header names it too.
    pub fn new(addr: SocketAddr) -> Client {
        Client {
            addr,
            host: addr.to_string(),
            timeout: DEFAULT_TIMEOUT,
            connection: None,
        }
    }

    /// A client for the server of an `http://host[:port]/path` URL, and the
    /// path (with its query) to ask it for.
    pub fn for_url(url: &str) -> Result<(Client, String), ClientError> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| ClientError::Url(url.to_string()))?;
        let (authority, path) = match rest.find(['/', '?']) {
            Some(at) => (&rest[..at], rest[at..].to_string()),
            None => (rest, "/".to_string()),
        };
        let path = if path.starts_with('?') {
            format!("/{path}")
        } else {
            path
        };
        let addr = resolve(authority).ok_or_else(|| ClientError::Url(url.to_string()))?;
        let mut client = Client::new(addr);
        client.host = authority.to_string();
        Ok((client, path))
    }

    /// Sets the timeout for connecting and for each read and write.
    pub fn with_timeout(mut self, timeout: Duration) -> Client {
        self.timeout = timeout;
        self
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The value of the `Host` header this client sends (`127.0.0.1:9000`).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// `GET path`.
    pub fn get(&mut self, path: &str) -> Result<ClientResponse, ClientError> {
        self.request(Method::Get, path, &[], b"")
    }

    /// `POST path` with a body of the given type.
    pub fn post(
        &mut self,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> Result<ClientResponse, ClientError> {
        self.request(Method::Post, path, &[("Content-Type", content_type)], body)
    }

    /// Sends a request and reads its whole response. `Host`,
    /// `Content-Length` (when there is a body) are added.
    ///
    /// On a reused connection that turns out to be closed by the server
    /// before any byte of the response arrived, an idempotent request is
    /// sent once more on a new connection.
    pub fn request(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<ClientResponse, ClientError> {
        let reused = self.connection.is_some();
        match self.try_request(method, path, headers, body) {
            Err(ClientError::Closed) if reused && method.is_idempotent() => {
                self.connection = None;
                self.try_request(method, path, headers, body)
            }
            outcome => outcome,
        }
    }

    fn try_request(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<ClientResponse, ClientError> {
        let message = encode_request(method, path, &self.host, headers, body);
        let timeout = self.timeout;
        let connection = self.connection()?;
        let outcome = connection
            .stream
            .write_all(&message)
            .map_err(ClientError::from)
            .and_then(|()| read_response(connection, method == Method::Head, timeout));
        match outcome {
            Ok((response, keep_alive)) => {
                if keep_alive {
                    connection.last_used = Instant::now();
                } else {
                    self.connection = None;
                }
                Ok(response)
            }
            Err(error) => {
                self.connection = None;
                Err(error)
            }
        }
    }

    /// The open connection, or a new one.
    fn connection(&mut self) -> Result<&mut Connection, ClientError> {
        if self.connection.as_ref().is_some_and(|connection| {
            connection.last_used.elapsed() > STALE_CHECK_AFTER && connection.is_closed()
        }) {
            self.connection = None;
        }
        if self.connection.is_none() {
            let stream = TcpStream::connect_timeout(&self.addr, self.timeout)?;
            stream.set_read_timeout(Some(self.timeout))?;
            stream.set_write_timeout(Some(self.timeout))?;
            stream.set_nodelay(true)?;
            self.connection = Some(Connection {
                stream,
                buffer: Vec::new(),
                last_used: Instant::now(),
            });
        }
        self.connection.as_mut().ok_or(ClientError::Closed)
    }
}

impl Connection {
    /// Whether the server has closed this idle connection: a non-blocking
    /// peek sees end-of-stream (or an error) instead of "nothing yet".
    fn is_closed(&self) -> bool {
        if self.stream.set_nonblocking(true).is_err() {
            return true;
        }
        let mut probe = [0u8; 1];
        let closed = match self.stream.peek(&mut probe) {
            Ok(0) => true,
            Ok(_) => false,
            Err(error) => error.kind() != io::ErrorKind::WouldBlock,
        };
        closed || self.stream.set_nonblocking(false).is_err()
    }
}

/// `host:port` (or `host`, port 80) to an address. Names under `localhost`
/// are loopback without asking DNS (RFC 6761 §6.3), as browsers do.
fn resolve(authority: &str) -> Option<SocketAddr> {
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || authority.starts_with('[') => {
            (host, port.parse().ok()?)
        }
        _ => (authority, 80),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.eq_ignore_ascii_case("localhost") || host.to_ascii_lowercase().ends_with(".localhost") {
        return Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, port));
    }
    (host, port).to_socket_addrs().ok()?.next()
}

/// The bytes of a request: the request line, `Host`, the given header
/// fields, `Content-Length` when there is a body (or the method expects
/// one), the empty line, and the body.
pub fn encode_request(
    method: Method,
    path: &str,
    host: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    let mut message = Vec::with_capacity(256 + body.len());
    message.extend_from_slice(format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n").as_bytes());
    for (name, value) in headers {
        message.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    if !body.is_empty() || matches!(method, Method::Post | Method::Put | Method::Patch) {
        message.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    message.extend_from_slice(b"\r\n");
    message.extend_from_slice(body);
    message
}

/// Reads one final response (skipping `1xx` interim ones); returns it and
/// whether the connection may be reused.
fn read_response(
    connection: &mut Connection,
    head_only: bool,
    timeout: Duration,
) -> Result<(ClientResponse, bool), ClientError> {
    loop {
        let head_len = fill_until(connection, timeout, MAX_RESPONSE_HEAD_BYTES, find_head_end)?;
        let head = ResponseHead::parse(&connection.buffer[..head_len])?;
        let (status, keep_alive) = (head.status, head.keep_alive());
        let framing = head.framing(head_only)?;
        let headers = head
            .headers
            .iter()
            .map(|field| {
                let value = String::from_utf8_lossy(field.value).into_owned();
                (field.name.to_string(), value)
            })
            .collect();
        connection.buffer.drain(..head_len);
        if StatusCode::from_u16(status).is_some_and(StatusCode::is_informational) {
            continue;
        }
        let (body, framed) = read_body(connection, framing, timeout)?;
        let response = ClientResponse {
            status,
            headers,
            body,
        };
        return Ok((response, framed && keep_alive));
    }
}

/// How a response's body is delimited (RFC 9112 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseFraming {
    /// No body: the answer to `HEAD`, or a 1xx, 204 or 304 status.
    None,
    /// Exactly this many bytes (`Content-Length`).
    Length(usize),
    /// Chunks, up to a zero-size one (`Transfer-Encoding: chunked`).
    Chunked,
    /// Everything until the server closes the connection.
    UntilClose,
}

/// A response's status line and header fields, borrowed from the bytes
/// they were read from: parsing one copies nothing (the load generator
/// reads tens of thousands a second).
#[derive(Clone, Debug)]
pub struct ResponseHead<'b> {
    /// The status code.
    pub status: u16,
    /// The version the server spoke.
    pub version: Version,
    /// The header fields.
    pub headers: Headers<'b>,
}

impl<'b> ResponseHead<'b> {
    /// Parses a complete head: `HTTP/1.1 200 OK`, then the header lines, up
    /// to the empty line ([`find_head_end`] says where that is).
    pub fn parse(head: &'b [u8]) -> Result<ResponseHead<'b>, ClientError> {
        let bad = ClientError::BadResponse;
        let Ok(Some((status_line, mut pos))) = headers::next_line(head, 0) else {
            return Err(bad("no status line"));
        };
        let (version, rest) = status_line
            .split_at_checked(9)
            .ok_or(bad("short status line"))?;
        let version = match version {
            b"HTTP/1.1 " => Version::Http11,
            b"HTTP/1.0 " => Version::Http10,
            _ => return Err(bad("not HTTP/1.x")),
        };
        let status = rest
            .get(..3)
            .filter(|digits| digits.iter().all(u8::is_ascii_digit))
            .and_then(|digits| std::str::from_utf8(digits).ok())
            .and_then(|digits| digits.parse::<u16>().ok())
            .ok_or(bad("status code is not three digits"))?;
        let mut fields = Headers::new();
        while let Ok(Some((line, next))) = headers::next_line(head, pos) {
            pos = next;
            if line.is_empty() {
                break;
            }
            fields.push(headers::parse_field_line(line).map_err(|_| bad("malformed header line"))?);
        }
        Ok(ResponseHead {
            status,
            version,
            headers: fields,
        })
    }

    /// Whether the server keeps the connection open after this response
    /// (RFC 9112 §9.3): HTTP/1.1 unless it says `close`, HTTP/1.0 only if it
    /// says `keep-alive`. A body delimited by the close ends it anyway.
    pub fn keep_alive(&self) -> bool {
        match self.version {
            Version::Http11 => !self.headers.has_token("connection", "close"),
            Version::Http10 => self.headers.has_token("connection", "keep-alive"),
        }
    }

    /// How the body that follows is delimited (RFC 9112 §6.3); `head_only`
    /// when the request was `HEAD`, whose response never has one.
    pub fn framing(&self, head_only: bool) -> Result<ResponseFraming, ClientError> {
        let forbids_body = StatusCode::from_u16(self.status).is_some_and(StatusCode::forbids_body);
        if head_only || forbids_body {
            return Ok(ResponseFraming::None);
        }
        if self.headers.has_token("transfer-encoding", "chunked") {
            return Ok(ResponseFraming::Chunked);
        }
        match self.headers.get("content-length") {
            Some(length) => length
                .trim()
                .parse()
                .map(ResponseFraming::Length)
                .map_err(|_| ClientError::BadResponse("invalid Content-Length")),
            None => Ok(ResponseFraming::UntilClose),
        }
    }
}

/// Reads the body; returns it and whether it was framed (so that the
/// connection can carry another exchange).
fn read_body(
    connection: &mut Connection,
    framing: ResponseFraming,
    timeout: Duration,
) -> Result<(Vec<u8>, bool), ClientError> {
    match framing {
        ResponseFraming::None => Ok((Vec::new(), true)),
        ResponseFraming::Chunked => {
            let mut decoder = ChunkedDecoder::new(MAX_RESPONSE_BODY_BYTES);
            let mut body = Vec::new();
            let mut used = 0;
            let end = fill_until(connection, timeout, usize::MAX, |buffer| {
                used += decoder
                    .decode(&buffer[used..], &mut body)
                    .map_err(|_| ClientError::BadResponse("malformed chunked body"))?;
                Ok(decoder.is_done().then_some(used))
            })?;
            connection.buffer.drain(..end);
            Ok((body, true))
        }
        ResponseFraming::Length(length) => {
            if length > MAX_RESPONSE_BODY_BYTES {
                return Err(ClientError::BadResponse("body too large"));
            }
            fill_until(connection, timeout, usize::MAX, |buffer| {
                Ok((buffer.len() >= length).then_some(length))
            })?;
            let body = connection.buffer.drain(..length).collect();
            Ok((body, true))
        }
        // No framing: the body ends when the server closes (RFC 9112 §6.3, rule 8).
        ResponseFraming::UntilClose => {
            let mut body = std::mem::take(&mut connection.buffer);
            let limit = MAX_RESPONSE_BODY_BYTES.saturating_sub(body.len()) as u64;
            (&connection.stream).take(limit).read_to_end(&mut body)?;
            Ok((body, false))
        }
    }
}

/// Reads until `complete` finds what it needs in the buffer (it is given
/// the whole buffer each time), and returns its answer. Refuses to buffer
/// more than `limit` bytes.
fn fill_until<T>(
    connection: &mut Connection,
    timeout: Duration,
    limit: usize,
    mut complete: impl FnMut(&[u8]) -> Result<Option<T>, ClientError>,
) -> Result<T, ClientError> {
    let mut scratch = [0u8; 16 * 1024];
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(found) = complete(&connection.buffer)? {
            return Ok(found);
        }
        if connection.buffer.len() > limit {
            return Err(ClientError::BadResponse("response too large"));
        }
        if Instant::now() > deadline {
            return Err(ClientError::Io(io::ErrorKind::TimedOut.into()));
        }
        let read = connection.stream.read(&mut scratch)?;
        if read == 0 {
            return Err(ClientError::Closed);
        }
        connection.buffer.extend_from_slice(&scratch[..read]);
    }
}

/// Where a response head ends in `buffer` (just after its empty line), if
/// all of it has arrived.
pub fn find_head_end(buffer: &[u8]) -> Result<Option<usize>, ClientError> {
    let mut pos = 0;
    loop {
        match headers::next_line(buffer, pos) {
            Ok(Some((b"", next))) => return Ok(Some(next)),
            Ok(Some((_, next))) => pos = next,
            Ok(None) => return Ok(None),
            Err(_) => return Err(ClientError::BadResponse("bare CR in the head")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A response head, whether it was a HEAD request, and what the client
    /// should conclude: the framing and keep-alive.
    type FramingCase = (&'static [u8], bool, ResponseFraming, bool);

    #[test]
    fn response_heads_say_how_the_body_ends() {
        use ResponseFraming as F;
        let cases: &[FramingCase] = &[
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n",
                false,
                F::Length(12),
                true,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n",
                true,
                F::None,
                true,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                false,
                F::Chunked,
                true,
            ),
            (
                b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n",
                false,
                F::UntilClose,
                false,
            ),
            (
                b"HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n",
                false,
                F::None,
                true,
            ),
            (b"HTTP/1.1 204 No Content\r\n\r\n", false, F::None, true),
            (
                b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n",
                false,
                F::Length(1),
                false,
            ),
            (
                b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 1\r\n\r\n",
                false,
                F::Length(1),
                true,
            ),
        ];
        for &(raw, head_only, framing, keep_alive) in cases {
            let shown = String::from_utf8_lossy(raw);
            assert_eq!(
                find_head_end(raw).ok().flatten(),
                Some(raw.len()),
                "{shown:?}"
            );
            let head = ResponseHead::parse(raw).expect("valid head");
            assert_eq!(head.framing(head_only).ok(), Some(framing), "{shown:?}");
            assert_eq!(head.keep_alive(), keep_alive, "{shown:?}");
        }
    }

    #[test]
    fn malformed_response_heads_are_refused() {
        for raw in [
            &b"HTTP/2 200 OK\r\n\r\n"[..],
            b"HTTP/1.1 2x0 OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
        ] {
            assert!(
                ResponseHead::parse(raw).is_err(),
                "{:?}",
                String::from_utf8_lossy(raw)
            );
        }
        let head = ResponseHead::parse(b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n")
            .expect("the head itself is well-formed");
        assert!(head.framing(false).is_err(), "a negative length is refused");
    }
}
