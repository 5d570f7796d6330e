//! The proxy's side as a client of its backends: connecting, keeping a few
//! idle connections per backend for the next request, and reading a
//! response head (RFC 9112 §4).
//!
//! Opening a TCP connection per request costs a round trip and, at the
//! end, a socket left in `TIME_WAIT`; under load that is most of a small
//! request's cost. So after a response whose end was framed (by length or
//! chunks) the connection goes back to its backend's [`IdlePool`], and the
//! next request to that backend takes it. A backend may close an idle
//! connection at any time (lab 2 does after 30 s), so a connection that
//! sat idle is checked with a non-blocking peek before it is reused, and
//! one idle longer than [`IDLE_MAX_AGE`] is not reused at all.
//!
//! The response parser is the request parser's twin, over the same line
//! and header syntax (`http::headers`): bytes in, "partial" or a borrowed
//! [`ResponseHead`] out.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::wire::Wire;
use crate::http::headers::{self, Headers};
use crate::http::method::Version;
use crate::http::request::Status;

/// Idle connections kept per backend; more are closed. It should be at
/// least the number of requests a backend gets at once, or connections are
/// closed and opened again all the time: with 32, a benchmark keeping 64
/// requests in flight reopened one backend connection per 200 requests;
/// with 64, none (`docs/benchmarks.md`, "Reverse proxy (lab 6)").
pub const IDLE_PER_BACKEND: usize = 64;

/// An idle connection older than this is closed, not reused: well under
/// the 30 s after which a lab 2 backend closes it itself, so the two
/// rarely race.
pub const IDLE_MAX_AGE: Duration = Duration::from_secs(10);

/// A connection idle for less than this is reused without the peek that
/// checks it is still open: a backend does not close a connection it just
/// answered on.
const PEEK_AFTER: Duration = Duration::from_secs(1);

/// Largest response head accepted from a backend. Backends are trusted
/// more than clients, but not with unbounded memory.
pub const MAX_RESPONSE_HEAD_BYTES: usize = 64 * 1024;

/// Most header lines in a response head.
pub const MAX_RESPONSE_HEADERS: usize = 200;

/// A backend connection.
pub type Upstream = Wire<TcpStream>;

/// The idle connections to one backend, most recently used last.
#[derive(Debug, Default)]
pub struct IdlePool {
    /// Each connection with when it went idle. Held only to push or pop —
    /// never across I/O — so no thread waits on another's network.
    idle: Mutex<Vec<(Upstream, Instant)>>,
}

impl IdlePool {
    /// The most recently used idle connection that is still open, if any.
    /// With `check`, even a connection idle for a moment is checked first.
    pub fn take(&self, now: Instant, check: bool) -> Option<Upstream> {
        loop {
            let (connection, since) = self
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop()?;
            let idle_for = now.saturating_duration_since(since);
            if idle_for > IDLE_MAX_AGE {
                continue;
            }
            if (check || idle_for >= PEEK_AFTER) && connection.is_stale() {
                continue;
            }
            return Some(connection);
        }
    }

    /// Keeps a connection for the next request (or closes it, when the pool
    /// is full).
    pub fn put(&self, connection: Upstream, now: Instant) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < IDLE_PER_BACKEND {
            idle.push((connection, now));
        }
    }

    /// How many connections are waiting.
    pub fn len(&self) -> usize {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Opens a new connection to a backend, giving up after `connect_timeout`;
/// writes to it give up after `io_timeout`.
pub fn connect(
    addr: SocketAddr,
    connect_timeout: Duration,
    io_timeout: Duration,
) -> io::Result<Upstream> {
    let stream = TcpStream::connect_timeout(&addr, connect_timeout)?;
    stream.set_nodelay(true)?;
    stream.set_write_timeout(Some(io_timeout))?;
    Ok(Wire::new(stream))
}

/// A parsed response head, borrowing from the bytes it was parsed from.
#[derive(Clone, Debug)]
pub struct ResponseHead<'b> {
    /// The version the backend spoke.
    pub version: Version,
    /// The status code (100–999).
    pub status: u16,
    /// The reason phrase, possibly empty.
    pub reason: &'b [u8],
    /// The header fields.
    pub headers: Headers<'b>,
    /// How many bytes the head took, up to and including its empty line.
    pub len: usize,
}

/// Why a backend's response cannot be relayed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadResponse {
    /// The status line is not `HTTP/1.x NNN reason`.
    StatusLine,
    /// A header line is malformed.
    Header,
    /// The head is larger than [`MAX_RESPONSE_HEAD_BYTES`] or has more than
    /// [`MAX_RESPONSE_HEADERS`] lines.
    TooLarge,
    /// `Content-Length` and `Transfer-Encoding` disagree or are invalid.
    Framing,
}

/// Parses a response head from the start of `buf` (RFC 9112 §4):
///
/// ```text
/// status-line = HTTP-version SP status-code SP [ reason-phrase ] CRLF
/// ```
pub fn parse_response_head(buf: &[u8]) -> Result<Status<ResponseHead<'_>>, BadResponse> {
    let Some((line, mut pos)) = headers::next_line(buf, 0).map_err(|_| BadResponse::StatusLine)?
    else {
        return partial(buf);
    };
    let (version, status, reason) = parse_status_line(line)?;
    let mut fields = Headers::new();
    loop {
        let Some((line, next)) = headers::next_line(buf, pos).map_err(|_| BadResponse::Header)?
        else {
            return partial(buf);
        };
        pos = next;
        if line.is_empty() {
            break;
        }
        if fields.len() == MAX_RESPONSE_HEADERS {
            return Err(BadResponse::TooLarge);
        }
        fields.push(headers::parse_field_line(line).map_err(|_| BadResponse::Header)?);
    }
    if pos > MAX_RESPONSE_HEAD_BYTES {
        return Err(BadResponse::TooLarge);
    }
    Ok(Status::Complete(ResponseHead {
        version,
        status,
        reason,
        headers: fields,
        len: pos,
    }))
}

/// "Not complete yet" — unless the head is already too large.
fn partial<T>(buf: &[u8]) -> Result<Status<T>, BadResponse> {
    if buf.len() > MAX_RESPONSE_HEAD_BYTES {
        Err(BadResponse::TooLarge)
    } else {
        Ok(Status::Partial)
    }
}

fn parse_status_line(line: &[u8]) -> Result<(Version, u16, &[u8]), BadResponse> {
    let version = match line.get(..9) {
        Some(b"HTTP/1.1 ") => Version::Http11,
        Some(b"HTTP/1.0 ") => Version::Http10,
        _ => return Err(BadResponse::StatusLine),
    };
    let rest = &line[9..];
    let code = rest.get(..3).ok_or(BadResponse::StatusLine)?;
    if !code.iter().all(u8::is_ascii_digit) || code[0] == b'0' {
        return Err(BadResponse::StatusLine);
    }
    let status = code
        .iter()
        .fold(0u16, |number, digit| number * 10 + u16::from(digit - b'0'));
    // Some servers end the line right after the code, without the space.
    let reason = match &rest[3..] {
        [] => &[][..],
        [b' ', reason @ ..] => reason,
        _ => return Err(BadResponse::StatusLine),
    };
    if !reason.iter().all(|&byte| headers::is_field_byte(byte)) {
        return Err(BadResponse::StatusLine);
    }
    Ok((version, status, reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> Result<Option<(u16, Vec<u8>, usize)>, BadResponse> {
        parse_response_head(bytes).map(|status| match status {
            Status::Complete(head) => Some((head.status, head.reason.to_vec(), head.headers.len())),
            Status::Partial => None,
        })
    }

    /// A response head, and what parsing it gives: its status, reason and
    /// header count when complete, `None` while partial.
    type HeadCase = (
        &'static [u8],
        Result<Option<(u16, &'static [u8], usize)>, BadResponse>,
    );

    #[test]
    fn response_heads_table() {
        let cases: &[HeadCase] = &[
            (
                b"HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\n\r\nbody",
                Ok(Some((200, b"OK", 2))),
            ),
            (
                b"HTTP/1.0 404 Not Found\r\n\r\n",
                Ok(Some((404, b"Not Found", 0))),
            ),
            (b"HTTP/1.1 204\r\n\r\n", Ok(Some((204, b"", 0)))),
            (b"HTTP/1.1 599 \r\n\n", Ok(Some((599, b"", 0)))),
            (b"HTTP/1.1 200 OK\r\nA: 1\r\n", Ok(None)),
            (b"HTTP/1.1 2", Ok(None)),
            (b"HTTP/2 200 OK\r\n\r\n", Err(BadResponse::StatusLine)),
            (b"HTTP/1.1 20 OK\r\n\r\n", Err(BadResponse::StatusLine)),
            (b"HTTP/1.1 099 Low\r\n\r\n", Err(BadResponse::StatusLine)),
            (b"HTTP/1.1 2000 OK\r\n\r\n", Err(BadResponse::StatusLine)),
            (b"HTTP/1.1 200 O\x01K\r\n\r\n", Err(BadResponse::StatusLine)),
            (
                b"HTTP/1.1 200 OK\r\nBad Name: 1\r\n\r\n",
                Err(BadResponse::Header),
            ),
            (
                b"HTTP/1.1 200 OK\r\nA: 1\rB\r\n\r\n",
                Err(BadResponse::Header),
            ),
        ];
        for (bytes, expected) in cases {
            let expected = expected.map(|found| found.map(|(s, r, n)| (s, r.to_vec(), n)));
            assert_eq!(
                parse(bytes),
                expected,
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
        let endless = [
            b"HTTP/1.1 200 OK\r\nX: ".as_slice(),
            &[b'a'; MAX_RESPONSE_HEAD_BYTES],
        ]
        .concat();
        assert_eq!(parse(&endless), Err(BadResponse::TooLarge));
    }

    #[test]
    fn mangled_heads_give_an_answer_never_a_panic() {
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX: y\r\n\r\nhello";
        for at in 0..head.len() {
            let _ = parse_response_head(&head[..at]);
            for byte in [0u8, b'\r', b'\n', b' ', b':', 0xff, b'9'] {
                let mut mangled = head.to_vec();
                mangled[at] = byte;
                if let Ok(Status::Complete(parsed)) = parse_response_head(&mangled) {
                    assert!(parsed.len <= mangled.len() && (100..=999).contains(&parsed.status));
                }
            }
        }
    }

    #[test]
    fn the_idle_pool_returns_live_connections_newest_first() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let timeout = Duration::from_secs(5);
        let pool = IdlePool::default();
        let now = Instant::now();
        let first = connect(addr, timeout, timeout).expect("connect");
        let second = connect(addr, timeout, timeout).expect("connect");
        let second_port = second.stream().local_addr().expect("port").port();
        pool.put(first, now);
        pool.put(second, now);
        let taken = pool.take(now, true).expect("a connection");
        assert_eq!(
            taken.stream().local_addr().expect("port").port(),
            second_port
        );
        assert!(
            pool.take(now + IDLE_MAX_AGE + Duration::from_secs(1), false)
                .is_none(),
            "too old to reuse"
        );
        assert!(pool.is_empty());
    }
}
