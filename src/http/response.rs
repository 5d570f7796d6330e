//! Responses (RFC 9112 §4, §6): what a handler returns, and how it is
//! written on the wire.
//!
//! A handler builds a [`Response`]: a status, its own header fields, and a
//! [`Body`]. The connection loop adds the fields every response carries —
//! `Date`, `Server`, the body's framing (`Content-Length` or
//! `Transfer-Encoding: chunked`) and `Connection` — so that no handler can
//! get them wrong, then writes the head and a small body with one `write`.
//!
//! A body is usually bytes, but it can also be a file (sent in pieces, never
//! read whole into memory) or a **stream**: a function that is handed the
//! connection and writes as long as it likes. Lab 4's Server-Sent Events
//! are a stream that writes one event each time a message is posted.

use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::SystemTime;

use super::body::ChunkedWriter;
use super::date;
use super::headers;
use super::method::Version;
use super::status::StatusCode;

/// A body that is at most this large is copied behind the head and the two
/// leave in one `write` (one TCP segment for small pages). Larger bodies
/// follow in their own writes, without the copy.
const COALESCE_BODY_BYTES: usize = 64 * 1024;

/// Size of the pieces a file body is read and sent in.
const FILE_CHUNK_BYTES: usize = 64 * 1024;

/// The function behind a streamed body. It gets a writer that frames what
/// it writes (chunked for HTTP/1.1) and should return when it is done or
/// when a write fails (the client left).
pub type StreamFn = Box<dyn FnOnce(&mut dyn Write) -> io::Result<()> + Send>;

/// The body of a response.
pub enum Body {
    /// No body (`Content-Length: 0`).
    Empty,
    /// Bytes, owned or static.
    Bytes(Cow<'static, [u8]>),
    /// Bytes shared between responses, such as a cached static file.
    Shared(Arc<[u8]>),
    /// A file of a known length, sent in pieces.
    File {
        /// The open file, positioned at its start.
        file: File,
        /// How many bytes to send.
        len: u64,
    },
    /// Written by a function as it goes; its length is not known up front.
    Stream(StreamFn),
}

impl Body {
    /// The length, when it is known before sending.
    pub fn len(&self) -> Option<u64> {
        match self {
            Body::Empty => Some(0),
            Body::Bytes(bytes) => Some(bytes.len() as u64),
            Body::Shared(bytes) => Some(bytes.len() as u64),
            Body::File { len, .. } => Some(*len),
            Body::Stream(_) => None,
        }
    }

    /// Whether the body is known to be empty.
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }

    /// The bytes of an in-memory body; `None` for files and streams.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Body::Empty => Some(&[]),
            Body::Bytes(bytes) => Some(bytes),
            Body::Shared(bytes) => Some(bytes),
            Body::File { .. } | Body::Stream(_) => None,
        }
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Body::Stream(_) => f.write_str("Body::Stream"),
            Body::File { len, .. } => write!(f, "Body::File({len} bytes)"),
            other => write!(f, "Body({} bytes)", other.len().unwrap_or(0)),
        }
    }
}

/// A response a handler returns.
#[derive(Debug)]
pub struct Response {
    status: StatusCode,
    headers: Vec<(Cow<'static, str>, Cow<'static, str>)>,
    body: Body,
}

impl Response {
    /// A response with no body and no headers of its own.
    pub fn new(status: StatusCode) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Body::Empty,
        }
    }

    /// A body of the given type.
    pub fn with_content(
        status: StatusCode,
        content_type: &'static str,
        body: impl Into<Cow<'static, [u8]>>,
    ) -> Response {
        Response::new(status)
            .with_header("Content-Type", content_type)
            .with_body(Body::Bytes(body.into()))
    }

    /// Plain UTF-8 text.
    pub fn text(status: StatusCode, body: impl Into<String>) -> Response {
        Response::with_content(
            status,
            "text/plain; charset=utf-8",
            body.into().into_bytes(),
        )
    }

    /// An HTML page.
    pub fn html(status: StatusCode, body: impl Into<String>) -> Response {
        Response::with_content(status, "text/html; charset=utf-8", body.into().into_bytes())
    }

    /// A JSON document, already written as text (see `crate::json`).
    pub fn json(status: StatusCode, body: impl Into<String>) -> Response {
        Response::with_content(status, "application/json", body.into().into_bytes())
    }

    /// A redirect (301, 303, 307...) to `location`.
    pub fn redirect(status: StatusCode, location: &str) -> Response {
        Response::new(status).with_header("Location", location.to_string())
    }

    /// A body written by `stream` as it goes (for Server-Sent Events).
    pub fn stream(
        status: StatusCode,
        content_type: &'static str,
        stream: impl FnOnce(&mut dyn Write) -> io::Result<()> + Send + 'static,
    ) -> Response {
        Response::new(status)
            .with_header("Content-Type", content_type)
            .with_body(Body::Stream(Box::new(stream)))
    }

    /// A short text answer for an error status: `404 Not Found: why`.
    pub fn error(status: StatusCode, message: &str) -> Response {
        Response::text(status, format!("{status}: {message}\n"))
    }

    /// Adds a header field.
    ///
    /// # Panics
    ///
    /// If `name` is not a token or `value` holds a control character such as
    /// CR or LF. Writing such a header would let whoever chose the value add
    /// headers of their own or split the response in two ("response
    /// splitting"). A handler's panic becomes a 500, so the bad response is
    /// never sent.
    pub fn with_header(
        mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<Cow<'static, str>>,
    ) -> Response {
        let (name, value) = (name.into(), value.into());
        assert!(
            headers::is_token(name.as_bytes()),
            "invalid header name {name:?}"
        );
        assert!(
            value.bytes().all(headers::is_field_byte),
            "header {name} has a control character in its value"
        );
        self.headers.push((name, value));
        self
    }

    /// Replaces the body.
    pub fn with_body(mut self, body: Body) -> Response {
        self.body = body;
        self
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The value of the first header the handler set with this name (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_ref())
    }

    /// The header fields the handler set, in order.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers
            .iter()
            .map(|(name, value)| (name.as_ref(), value.as_ref()))
    }

    /// The body.
    pub fn body(&self) -> &Body {
        &self.body
    }
}

/// What the connection knows about the exchange when it writes a response.
#[derive(Clone, Copy, Debug)]
pub struct Exchange {
    /// The version the client spoke; HTTP/1.0 clients get no chunked bodies.
    pub version: Version,
    /// Whether the request was `HEAD`: headers as for `GET`, no body.
    pub head_only: bool,
    /// Whether the connection should stay open, as far as the request goes.
    pub keep_alive: bool,
    /// The time for the `Date` header.
    pub now: SystemTime,
}

/// What writing a response did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Written {
    /// Body bytes sent (for the log).
    pub body_bytes: u64,
    /// Whether the connection can carry another request.
    pub keep_alive: bool,
}

/// The value of the `Server` header.
pub const SERVER_NAME: &str = "weaprous";

impl Response {
    /// Writes the response to `out`, assembling the head in `buffer` (reused
    /// between responses, so that writing allocates nothing).
    pub fn write_to(
        self,
        out: &mut impl Write,
        buffer: &mut Vec<u8>,
        exchange: Exchange,
    ) -> io::Result<Written> {
        let Response {
            status,
            headers,
            body,
        } = self;
        let has_body = !status.forbids_body();
        // A stream to an HTTP/1.0 client can only end by closing (§6.3, rule 8).
        let length_unknown = body.len().is_none();
        let chunked = has_body && length_unknown && exchange.version == Version::Http11;
        let asked_close = headers.iter().any(|(name, value)| {
            name.eq_ignore_ascii_case("connection") && value.eq_ignore_ascii_case("close")
        });
        let keep_alive =
            exchange.keep_alive && !asked_close && !(has_body && length_unknown && !chunked);

        buffer.clear();
        write_head(buffer, status, &headers, exchange.now);
        match body.len() {
            Some(len) if has_body => {
                buffer.extend_from_slice(b"Content-Length: ");
                append_decimal(buffer, len);
                buffer.extend_from_slice(b"\r\n");
            }
            _ if chunked => buffer.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
            _ => {}
        }
        if !keep_alive {
            buffer.extend_from_slice(b"Connection: close\r\n");
        } else if exchange.version == Version::Http10 {
            buffer.extend_from_slice(b"Connection: keep-alive\r\n");
        }
        buffer.extend_from_slice(b"\r\n");

        let send_body = has_body && !exchange.head_only;
        let body_bytes = if send_body {
            write_body(out, buffer, body, chunked)?
        } else {
            out.write_all(buffer)?;
            0
        };
        out.flush()?;
        Ok(Written {
            body_bytes,
            keep_alive,
        })
    }
}

/// The status line and the fields every response carries, then the
/// handler's own fields. Framing and `Connection` come after.
fn write_head(
    buffer: &mut Vec<u8>,
    status: StatusCode,
    headers: &[(Cow<'static, str>, Cow<'static, str>)],
    now: SystemTime,
) {
    // The status line always says HTTP/1.1: a server sends its own version
    // (RFC 9110 §6.2), and HTTP/1.0 clients understand it.
    buffer.extend_from_slice(b"HTTP/1.1 ");
    append_decimal(buffer, u64::from(status.as_u16()));
    buffer.push(b' ');
    buffer.extend_from_slice(status.reason().as_bytes());
    buffer.extend_from_slice(b"\r\nDate: ");
    date::append_http_date(buffer, now);
    buffer.extend_from_slice(b"\r\nServer: ");
    buffer.extend_from_slice(SERVER_NAME.as_bytes());
    buffer.extend_from_slice(b"\r\n");
    for (name, value) in headers {
        buffer.extend_from_slice(name.as_bytes());
        buffer.extend_from_slice(b": ");
        buffer.extend_from_slice(value.as_bytes());
        buffer.extend_from_slice(b"\r\n");
    }
}

/// Appends `number` in decimal, without the allocation `to_string()` makes.
fn append_decimal(buffer: &mut Vec<u8>, number: u64) {
    // Writing into a `Vec` cannot fail.
    let _ = write!(buffer, "{number}");
}

/// Sends the head (already in `buffer`) and the body; returns the body bytes sent.
fn write_body(
    out: &mut impl Write,
    buffer: &mut Vec<u8>,
    body: Body,
    chunked: bool,
) -> io::Result<u64> {
    match body {
        Body::Empty => {
            out.write_all(buffer)?;
            Ok(0)
        }
        Body::Bytes(bytes) => write_in_memory(out, buffer, &bytes),
        Body::Shared(bytes) => write_in_memory(out, buffer, &bytes),
        Body::File { file, len } => {
            out.write_all(buffer)?;
            copy_file(out, file, len)
        }
        Body::Stream(stream) => {
            out.write_all(buffer)?;
            out.flush()?;
            if !chunked {
                let mut counter = CountingWriter {
                    inner: out,
                    count: 0,
                };
                stream(&mut counter)?;
                return Ok(counter.count);
            }
            let mut chunks = ChunkedWriter::new(out);
            let mut counter = CountingWriter {
                inner: &mut chunks,
                count: 0,
            };
            stream(&mut counter)?;
            let count = counter.count;
            chunks.finish()?;
            Ok(count)
        }
    }
}

fn write_in_memory(out: &mut impl Write, buffer: &mut Vec<u8>, bytes: &[u8]) -> io::Result<u64> {
    if bytes.len() <= COALESCE_BODY_BYTES {
        buffer.extend_from_slice(bytes);
        out.write_all(buffer)?;
    } else {
        out.write_all(buffer)?;
        out.write_all(bytes)?;
    }
    Ok(bytes.len() as u64)
}

/// Sends `len` bytes of `file` in pieces; a file that turns out shorter
/// than announced is an error (the connection must then close, since the
/// announced `Content-Length` can no longer be honoured).
fn copy_file(out: &mut impl Write, file: File, len: u64) -> io::Result<u64> {
    let mut piece = vec![0u8; FILE_CHUNK_BYTES];
    let mut remaining = file.take(len);
    let mut sent = 0;
    loop {
        let read = remaining.read(&mut piece)?;
        if read == 0 {
            break;
        }
        out.write_all(&piece[..read])?;
        sent += read as u64;
    }
    if sent < len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "file shrank while it was being sent",
        ));
    }
    Ok(sent)
}

/// Counts the bytes a stream writes (before chunk framing), for the log.
struct CountingWriter<W> {
    inner: W,
    count: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(data)?;
        self.count += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATE: &str = "Wed, 25 Nov 2026 12:00:00 GMT";

    fn noon() -> SystemTime {
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_795_608_000)
    }

    fn written(
        response: Response,
        version: Version,
        head_only: bool,
        keep_alive: bool,
    ) -> (String, Written) {
        let mut wire = Vec::new();
        let exchange = Exchange {
            version,
            head_only,
            keep_alive,
            now: noon(),
        };
        let outcome = response
            .write_to(&mut wire, &mut Vec::new(), exchange)
            .expect("write to a Vec");
        (String::from_utf8(wire).expect("ASCII"), outcome)
    }

    #[test]
    fn a_text_response_has_every_standard_header() {
        let (wire, outcome) = written(
            Response::text(StatusCode::OK, "hi"),
            Version::Http11,
            false,
            true,
        );
        assert_eq!(
            wire,
            format!(
                "HTTP/1.1 200 OK\r\nDate: {DATE}\r\nServer: weaprous\r\n\
                 Content-Type: text/plain; charset=utf-8\r\nContent-Length: 2\r\n\r\nhi"
            )
        );
        assert_eq!(
            outcome,
            Written {
                body_bytes: 2,
                keep_alive: true
            }
        );
    }

    #[test]
    fn head_keeps_the_length_but_sends_no_body() {
        let (wire, _) = written(
            Response::text(StatusCode::OK, "hello"),
            Version::Http11,
            true,
            true,
        );
        assert!(wire.contains("Content-Length: 5\r\n"), "{wire}");
        assert!(
            wire.ends_with("\r\n\r\n"),
            "no body after the head: {wire:?}"
        );
    }

    #[test]
    fn not_modified_and_no_content_carry_no_length() {
        for status in [StatusCode::NOT_MODIFIED, StatusCode::NO_CONTENT] {
            let (wire, _) = written(Response::new(status), Version::Http11, false, true);
            assert!(!wire.contains("Content-Length"), "{status}: {wire}");
        }
    }

    #[test]
    fn http10_keep_alive_is_announced_and_close_is_honoured() {
        let (wire, outcome) = written(
            Response::text(StatusCode::OK, "x"),
            Version::Http10,
            false,
            true,
        );
        assert!(wire.contains("Connection: keep-alive\r\n"), "{wire}");
        assert!(outcome.keep_alive);
        let (wire, outcome) = written(
            Response::text(StatusCode::OK, "x"),
            Version::Http11,
            false,
            false,
        );
        assert!(wire.contains("Connection: close\r\n"), "{wire}");
        assert!(!outcome.keep_alive);
    }

    #[test]
    fn streams_are_chunked_for_http11_and_close_delimited_for_http10() {
        let stream = || {
            Response::stream(StatusCode::OK, "text/event-stream", |out| {
                out.write_all(b"data: one\n\n")?;
                out.write_all(b"data: two\n\n")
            })
        };
        let (wire, outcome) = written(stream(), Version::Http11, false, true);
        assert!(wire.contains("Transfer-Encoding: chunked\r\n"), "{wire}");
        assert!(
            wire.ends_with("\r\n\r\nb\r\ndata: one\n\n\r\nb\r\ndata: two\n\n\r\n0\r\n\r\n"),
            "{wire:?}"
        );
        assert_eq!(
            outcome,
            Written {
                body_bytes: 22,
                keep_alive: true
            }
        );

        let (wire, outcome) = written(stream(), Version::Http10, false, true);
        assert!(
            wire.ends_with("\r\n\r\ndata: one\n\ndata: two\n\n"),
            "{wire:?}"
        );
        assert!(!outcome.keep_alive, "an HTTP/1.0 stream ends by closing");
    }

    #[test]
    #[should_panic(expected = "control character")]
    fn header_values_cannot_split_the_response() {
        let _ = Response::new(StatusCode::OK).with_header("Location", "/\r\nSet-Cookie: evil=1");
    }
}
