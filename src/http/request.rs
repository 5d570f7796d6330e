//! Parsing a request head (RFC 9112 §2–§5), and the [`Request`] handlers see.
//!
//! [`parse_head`] is a pure function over bytes, in the spirit of
//! `httparse`: it does no I/O and keeps no state. Given what has arrived so
//! far it answers [`Status::Partial`] (keep reading), [`Status::Complete`]
//! with the parsed head and its length, or an error — as early as the bytes
//! allow, so that a hostile client is stopped before it has sent everything.
//! The connection loop (`conn.rs`) owns the socket and the buffer and calls
//! it again when more bytes arrive.
//!
//! ```text
//!   request-line   = method SP request-target SP HTTP-version CRLF   (§3)
//!   field-line     = field-name ":" OWS field-value OWS CRLF          (§5)
//!   head           = request-line *( field-line ) CRLF
//! ```
//!
//! Every limit is a named constant, and every way a head can be wrong is one
//! variant of [`RequestError`], mapped to its status code in one place
//! ([`RequestError::status`]).
//!
//! Left out on purpose: the obsolete HTTP/0.9 one-line request, obsolete
//! header line folding, and request targets in authority form (only
//! `CONNECT` uses them, and this server is not a tunnel).

use std::borrow::Cow;
use std::fmt;
use std::net::SocketAddr;
use std::str;

use super::headers::{self, BareCr, HeaderError, Headers};
use super::method::{Method, Version};
use super::status::StatusCode;
use super::url;

/// Largest request head (request line and header lines) accepted: 16 KiB.
/// Browsers send 1–2 KiB; a larger head is almost always an attack or a
/// runaway cookie. Above it: 431.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// Most header lines in one request. Above it: 431.
pub const MAX_HEADERS: usize = 100;

/// Longest request target accepted: 8 KiB (RFC 9112 §3 recommends
/// supporting at least 8000 octets). Above it: 414.
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// Largest request body accepted by default: 1 MiB. Above it: 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Longest method name this parser waits for before calling the request
/// line malformed. The longest real one, `OPTIONS`, has 7 letters.
const MAX_METHOD_BYTES: usize = 32;

/// Blank lines tolerated before a request line. RFC 9112 §2.2 asks servers
/// to ignore at least one (some clients send a CRLF after a POST body).
const MAX_LEADING_BLANK_LINES: usize = 4;

/// The size limits a server enforces while reading a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// See [`MAX_HEAD_BYTES`].
    pub head_bytes: usize,
    /// See [`MAX_HEADERS`].
    pub headers: usize,
    /// See [`MAX_URI_BYTES`].
    pub uri_bytes: usize,
    /// See [`MAX_BODY_BYTES`].
    pub body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            head_bytes: MAX_HEAD_BYTES,
            headers: MAX_HEADERS,
            uri_bytes: MAX_URI_BYTES,
            body_bytes: MAX_BODY_BYTES,
        }
    }
}

/// The answer of an incremental parser.
#[derive(Debug, PartialEq, Eq)]
pub enum Status<T> {
    /// Everything needed has arrived.
    Complete(T),
    /// More bytes are needed; nothing seen so far is wrong.
    Partial,
}

/// Why a request could not be read. Each variant is one protocol violation
/// (or limit), and [`RequestError::status`] is the one place that maps it to
/// a status code. After any of these the connection is closed: the server
/// can no longer tell where the next request would start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestError {
    /// The request line is not `METHOD SP TARGET SP VERSION`.
    RequestLine,
    /// A well-formed method this server does not implement (`BREW`).
    UnknownMethod,
    /// The request target is not a path, an absolute URL, or `*`.
    Target,
    /// The request target is longer than the limit.
    UriTooLong,
    /// The version is not `HTTP/x.y`.
    Version,
    /// A version other than HTTP/1.0 and HTTP/1.1.
    UnsupportedVersion,
    /// A CR not followed by LF (RFC 9112 §2.2).
    BareCr,
    /// A malformed header line.
    Header(HeaderError),
    /// The head is larger than the limit.
    HeadTooLarge,
    /// More header lines than the limit.
    TooManyHeaders,
    /// An HTTP/1.1 request without `Host`, with two, or with an invalid one
    /// (RFC 9112 §3.2).
    Host,
    /// `Content-Length` that is not a number, or several that disagree.
    ContentLength,
    /// Both `Transfer-Encoding` and `Content-Length` (RFC 9112 §6.3: the
    /// classic request-smuggling setup).
    LengthAndTransferEncoding,
    /// `Transfer-Encoding` whose last coding is not `chunked`, or on HTTP/1.0.
    TransferEncoding,
    /// A transfer coding this server does not implement (`gzip`).
    UnknownTransferCoding,
    /// The body is larger than the limit.
    BodyTooLarge,
    /// A malformed chunk in a chunked body (RFC 9112 §7.1).
    Chunk,
    /// `Expect` with something other than `100-continue`.
    Expectation,
    /// The head or body did not arrive within its deadline.
    Timeout,
}

impl RequestError {
    /// The status code that answers this error.
    pub fn status(self) -> StatusCode {
        match self {
            RequestError::UnknownMethod | RequestError::UnknownTransferCoding => {
                StatusCode::NOT_IMPLEMENTED
            }
            RequestError::UriTooLong => StatusCode::URI_TOO_LONG,
            RequestError::UnsupportedVersion => StatusCode::HTTP_VERSION_NOT_SUPPORTED,
            RequestError::HeadTooLarge | RequestError::TooManyHeaders => {
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
            }
            RequestError::BodyTooLarge => StatusCode::CONTENT_TOO_LARGE,
            RequestError::Expectation => StatusCode::EXPECTATION_FAILED,
            RequestError::Timeout => StatusCode::REQUEST_TIMEOUT,
            RequestError::RequestLine
            | RequestError::Target
            | RequestError::Version
            | RequestError::BareCr
            | RequestError::Header(_)
            | RequestError::Host
            | RequestError::ContentLength
            | RequestError::LengthAndTransferEncoding
            | RequestError::TransferEncoding
            | RequestError::Chunk => StatusCode::BAD_REQUEST,
        }
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RequestError::RequestLine => {
                "malformed request line: expected METHOD SP TARGET SP VERSION"
            }
            RequestError::UnknownMethod => "method not implemented",
            RequestError::Target => "malformed request target: expected a path starting with /",
            RequestError::UriTooLong => "request target too long",
            RequestError::Version => "malformed HTTP version",
            RequestError::UnsupportedVersion => "only HTTP/1.0 and HTTP/1.1 are supported",
            RequestError::BareCr => "bare CR in the request head: lines end with CRLF",
            RequestError::Header(HeaderError::Name) => {
                "malformed header name (no space is allowed before the colon)"
            }
            RequestError::Header(HeaderError::Value) => "control character in a header value",
            RequestError::Header(HeaderError::MissingColon) => "header line without a colon",
            RequestError::Header(HeaderError::Folded) => {
                "obsolete header line folding is not accepted"
            }
            RequestError::HeadTooLarge => "request head too large",
            RequestError::TooManyHeaders => "too many header fields",
            RequestError::Host => "HTTP/1.1 needs exactly one valid Host header",
            RequestError::ContentLength => "invalid or conflicting Content-Length",
            RequestError::LengthAndTransferEncoding => {
                "Content-Length and Transfer-Encoding together"
            }
            RequestError::TransferEncoding => {
                "Transfer-Encoding must end with chunked (HTTP/1.1 only)"
            }
            RequestError::UnknownTransferCoding => "transfer coding not implemented",
            RequestError::BodyTooLarge => "request body too large",
            RequestError::Chunk => "malformed chunked body",
            RequestError::Expectation => "only Expect: 100-continue is supported",
            RequestError::Timeout => "request took too long to arrive",
        })
    }
}

impl std::error::Error for RequestError {}

impl From<BareCr> for RequestError {
    fn from(_: BareCr) -> Self {
        RequestError::BareCr
    }
}

impl From<HeaderError> for RequestError {
    fn from(error: HeaderError) -> Self {
        RequestError::Header(error)
    }
}

/// A parsed request head, borrowing from the bytes it was parsed from.
#[derive(Clone, Debug)]
pub struct Head<'b> {
    /// The method.
    pub method: Method,
    /// The request target exactly as sent (`/search?q=a%20b`).
    pub target: &'b str,
    /// The protocol version.
    pub version: Version,
    /// The header fields.
    pub headers: Headers<'b>,
    /// How many bytes the head took, up to and including its empty line.
    pub len: usize,
}

/// Parses a request head from the start of `buf`.
///
/// Returns [`Status::Partial`] while the head is incomplete but valid so
/// far — each complete line is checked as soon as it has arrived — and an
/// error as soon as the bytes show one, including a head or target that
/// has already grown past its limit.
pub fn parse_head<'b>(buf: &'b [u8], limits: &Limits) -> Result<Status<Head<'b>>, RequestError> {
    // lab2: begin — parse the request line, then header lines until the empty line
    let mut pos = skip_leading_blank_lines(buf)?;
    let Some((line, after_line)) = headers::next_line(buf, pos)? else {
        check_partial_request_line(&buf[pos..], limits)?;
        return Ok(Status::Partial);
    };
    let (method, target, version) = parse_request_line(line, limits)?;
    pos = after_line;

    let mut fields = Headers::new();
    loop {
        if pos > limits.head_bytes {
            return Err(RequestError::HeadTooLarge);
        }
        let Some((line, next)) = headers::next_line(buf, pos)? else {
            if buf.len() > limits.head_bytes {
                return Err(RequestError::HeadTooLarge);
            }
            return Ok(Status::Partial);
        };
        pos = next;
        if line.is_empty() {
            break;
        }
        if fields.len() == limits.headers {
            return Err(RequestError::TooManyHeaders);
        }
        fields.push(headers::parse_field_line(line)?);
    }
    if pos > limits.head_bytes {
        return Err(RequestError::HeadTooLarge);
    }
    if version == Version::Http11 {
        check_host(&fields)?;
    }
    Ok(Status::Complete(Head {
        method,
        target,
        version,
        headers: fields,
        len: pos,
    }))
    // lab2: end
}

/// Skips the empty lines RFC 9112 §2.2 tells a server to ignore before a
/// request line, and returns where the request line starts.
fn skip_leading_blank_lines(buf: &[u8]) -> Result<usize, RequestError> {
    let mut pos = 0;
    for _ in 0..MAX_LEADING_BLANK_LINES {
        match headers::next_line(buf, pos)? {
            Some((b"", next)) => pos = next,
            _ => break,
        }
    }
    Ok(pos)
}

/// Checks a request line that has not ended yet, so that a client cannot
/// make the server buffer an endless line before saying no.
fn check_partial_request_line(partial: &[u8], limits: &Limits) -> Result<(), RequestError> {
    match partial.iter().position(|&byte| byte == b' ') {
        None if partial.len() > MAX_METHOD_BYTES => Err(RequestError::RequestLine),
        Some(space) if partial.len() - space - 1 > limits.uri_bytes => {
            Err(RequestError::UriTooLong)
        }
        _ if partial.len() > limits.head_bytes => Err(RequestError::HeadTooLarge),
        _ => Ok(()),
    }
}

/// Parses `METHOD SP TARGET SP VERSION` (RFC 9112 §3). Exactly one space
/// between the parts: being strict here is what keeps a server and a proxy
/// in front of it from reading one line two ways.
fn parse_request_line<'b>(
    line: &'b [u8],
    limits: &Limits,
) -> Result<(Method, &'b str, Version), RequestError> {
    let mut parts = line.split(|&byte| byte == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(RequestError::RequestLine);
    };
    if !headers::is_token(method) {
        return Err(RequestError::RequestLine);
    }
    if target.len() > limits.uri_bytes {
        return Err(RequestError::UriTooLong);
    }
    let version = parse_version(version)?;
    let method = Method::from_token(method).ok_or(RequestError::UnknownMethod)?;
    let target = parse_target(target, method)?;
    Ok((method, target, version))
}

/// `HTTP/1.1` or `HTTP/1.0`; any other `HTTP/d.d` is well-formed but not
/// supported (505); anything else is malformed (400).
fn parse_version(version: &[u8]) -> Result<Version, RequestError> {
    match version {
        b"HTTP/1.1" => Ok(Version::Http11),
        b"HTTP/1.0" => Ok(Version::Http10),
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            Err(RequestError::UnsupportedVersion)
        }
        _ => Err(RequestError::Version),
    }
}

/// Checks the request target's form (RFC 9112 §3.2): a path (origin form),
/// an absolute URL, or `*` for `OPTIONS`. Only visible ASCII is allowed.
fn parse_target(target: &[u8], method: Method) -> Result<&str, RequestError> {
    if !target.iter().all(|byte| byte.is_ascii_graphic()) {
        return Err(RequestError::Target);
    }
    let target = str::from_utf8(target).map_err(|_| RequestError::Target)?;
    let origin_form = target.starts_with('/');
    let absolute_form = target.starts_with("http://") || target.starts_with("https://");
    let asterisk_form = target == "*" && method == Method::Options;
    if origin_form || absolute_form || asterisk_form {
        Ok(target)
    } else {
        Err(RequestError::Target)
    }
}

/// The symbols allowed in a `Host` value besides letters and digits
/// (RFC 3986 §3.2.2): unreserved and sub-delims characters, `:` before a
/// port, `[]` around an IPv6 address, `%` of an escape.
const HOST_SYMBOLS: [bool; 256] = headers::byte_set(b"-._~!$&'()*+,;=:[]%");

/// RFC 9112 §3.2: an HTTP/1.1 request must carry exactly one `Host`, and
/// its value must look like `host[:port]`.
fn check_host(fields: &Headers<'_>) -> Result<(), RequestError> {
    let mut hosts = fields.get_all("host");
    let (Some(host), None) = (hosts.next(), hosts.next()) else {
        return Err(RequestError::Host);
    };
    let allowed = |byte: &u8| byte.is_ascii_alphanumeric() || HOST_SYMBOLS[*byte as usize];
    if host.iter().all(allowed) {
        Ok(())
    } else {
        Err(RequestError::Host)
    }
}

/// A complete request, as a handler sees it.
///
/// It borrows from the connection's buffer (the head, and the body when it
/// arrived with a `Content-Length`), so building one copies nothing.
#[derive(Clone, Debug)]
pub struct Request<'b> {
    head: Head<'b>,
    path: &'b str,
    query: Option<&'b str>,
    body: Cow<'b, [u8]>,
    peer: SocketAddr,
    params: Vec<(String, String)>,
}

impl<'b> Request<'b> {
    /// A request from its parsed head, its (already decoded) body, and the
    /// client's address.
    pub fn new(head: Head<'b>, body: Cow<'b, [u8]>, peer: SocketAddr) -> Request<'b> {
        let (path, query) = url::split_target(head.target);
        Request {
            head,
            path,
            query,
            body,
            peer,
            params: Vec::new(),
        }
    }

    /// The method.
    pub fn method(&self) -> Method {
        self.head.method
    }

    /// The protocol version the client spoke.
    pub fn version(&self) -> Version {
        self.head.version
    }

    /// The request target exactly as sent.
    pub fn target(&self) -> &'b str {
        self.head.target
    }

    /// The path part of the target, still percent-encoded (`/a%20b`).
    pub fn path(&self) -> &'b str {
        self.path
    }

    /// The query string without its `?`, still encoded.
    pub fn query(&self) -> Option<&'b str> {
        self.query
    }

    /// The decoded value of a query parameter (`?after=12` → `"12"`); the
    /// first one if it is repeated. `None` when absent or not decodable.
    pub fn query_param(&self, name: &str) -> Option<String> {
        url::parse_form(self.query?)
            .ok()?
            .into_iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value)
    }

    /// The header fields.
    pub fn headers(&self) -> &Headers<'b> {
        &self.head.headers
    }

    /// The first value of a header (any case), if it is UTF-8.
    pub fn header(&self, name: &str) -> Option<&'b str> {
        self.head.headers.get(name)
    }

    /// The body, de-chunked if it came chunked; empty when there was none.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The client's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// A path parameter captured by the router (`/users/:name` → `"name"`).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Sets the path parameters; the router calls this on a match.
    pub fn set_params(&mut self, params: Vec<(String, String)>) {
        self.params = params;
    }

    /// Whether the client wants the connection kept open after this
    /// exchange (RFC 9112 §9.3).
    pub fn wants_keep_alive(&self) -> bool {
        // lab2: begin — decide keep-alive from the version and Connection
        let headers = &self.head.headers;
        if headers.has_token("connection", "close") {
            return false;
        }
        match self.head.version {
            // HTTP/1.1 connections persist unless one side says `close`.
            Version::Http11 => true,
            // HTTP/1.0 closes after each response unless the client asks.
            Version::Http10 => headers.has_token("connection", "keep-alive"),
        }
        // lab2: end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> Result<Status<Head<'_>>, RequestError> {
        parse_head(bytes, &Limits::default())
    }

    #[test]
    fn complete_heads_parse_with_their_length() {
        let raw = b"GET /a?b=c HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\nNEXT";
        let Ok(Status::Complete(head)) = parse(raw) else {
            panic!("expected a complete head");
        };
        assert_eq!(head.method, Method::Get);
        assert_eq!(head.target, "/a?b=c");
        assert_eq!(head.version, Version::Http11);
        assert_eq!(head.headers.get("accept"), Some("*/*"));
        assert_eq!(head.len, raw.len() - 4, "the head ends before NEXT");
    }

    #[test]
    fn every_prefix_of_a_valid_head_is_partial() {
        let raw = b"POST /submit HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n";
        for end in 0..raw.len() {
            assert_eq!(
                parse(&raw[..end]).map(|status| matches!(status, Status::Partial)),
                Ok(true),
                "prefix {:?}",
                String::from_utf8_lossy(&raw[..end])
            );
        }
    }

    #[test]
    fn malformed_heads_table() {
        use RequestError as E;
        let cases: &[(&[u8], RequestError)] = &[
            (b"GET\r\n\r\n", E::RequestLine),
            (b"GET  / HTTP/1.1\r\nHost: x\r\n\r\n", E::RequestLine),
            (b"GET / HTTP/1.1 extra\r\n\r\n", E::RequestLine),
            (b"G(T / HTTP/1.1\r\n\r\n", E::RequestLine),
            (b"BREW / HTTP/1.1\r\nHost: x\r\n\r\n", E::UnknownMethod),
            (b"get / HTTP/1.1\r\nHost: x\r\n\r\n", E::UnknownMethod),
            (b"GET index.html HTTP/1.1\r\nHost: x\r\n\r\n", E::Target),
            (b"GET * HTTP/1.1\r\nHost: x\r\n\r\n", E::Target),
            (b"GET / HTTP/2.0\r\n\r\n", E::UnsupportedVersion),
            (b"GET / HTTP/1.2\r\n\r\n", E::UnsupportedVersion),
            (b"GET / HTTP/1\r\n\r\n", E::Version),
            (b"GET / http/1.1\r\n\r\n", E::Version),
            (b"GET / HTTP/1.1\r\n\r\n", E::Host),
            (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", E::Host),
            (b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", E::Host),
            (
                b"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
                E::Header(HeaderError::Name),
            ),
            (
                b"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
                E::Header(HeaderError::Folded),
            ),
            (b"GET / HTTP/1.1\r\nHost: x\rX: y\r\n\r\n", E::BareCr),
            (
                b"GET / HTTP/1.1\r\nHost: x\r\nX: a\0b\r\n\r\n",
                E::Header(HeaderError::Value),
            ),
        ];
        for (raw, expected) in cases {
            let got = parse(raw).map(|status| matches!(status, Status::Complete(_)));
            assert_eq!(
                got,
                Err(*expected),
                "head {:?}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    #[test]
    fn http10_needs_no_host_and_lf_only_lines_are_accepted() {
        assert!(matches!(
            parse(b"GET / HTTP/1.0\r\n\r\n"),
            Ok(Status::Complete(_))
        ));
        assert!(matches!(
            parse(b"GET / HTTP/1.1\nHost: x\n\n"),
            Ok(Status::Complete(_))
        ));
        assert!(matches!(
            parse(b"\r\nGET / HTTP/1.0\r\n\r\n"),
            Ok(Status::Complete(_))
        ));
    }

    #[test]
    fn limits_are_enforced_before_the_head_is_complete() {
        let long_target = format!("GET /{} ", "a".repeat(MAX_URI_BYTES));
        assert_eq!(
            parse(long_target.as_bytes()).map(|_| ()),
            Err(RequestError::UriTooLong)
        );
        let long_method = "A".repeat(MAX_METHOD_BYTES + 1);
        assert_eq!(
            parse(long_method.as_bytes()).map(|_| ()),
            Err(RequestError::RequestLine)
        );
        let mut big = b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec();
        while big.len() <= MAX_HEAD_BYTES {
            big.extend_from_slice(b"X-Filler: 0123456789012345678901234567890123456789\r\n");
        }
        assert_eq!(parse(&big).map(|_| ()), Err(RequestError::TooManyHeaders));
        let mut few_but_big = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
        few_but_big.extend(std::iter::repeat_n(b'a', MAX_HEAD_BYTES));
        assert_eq!(
            parse(&few_but_big).map(|_| ()),
            Err(RequestError::HeadTooLarge)
        );
    }
}
