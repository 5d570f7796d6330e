//! Status codes (RFC 9110 §15): a number and its reason phrase.
//!
//! A `StatusCode` is a number in 100–999 with names for the codes the kit
//! sends, so handlers write `StatusCode::NOT_FOUND`, not `404`, and the
//! reason phrase on the status line always matches the number.

use std::fmt;

/// An HTTP status code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StatusCode(u16);

impl StatusCode {
    /// 100: the client may send the body it announced with `Expect: 100-continue` (§15.2.1).
    pub const CONTINUE: StatusCode = StatusCode(100);
    /// 200 (§15.3.1).
    pub const OK: StatusCode = StatusCode(200);
    /// 201: a resource was created (§15.3.2).
    pub const CREATED: StatusCode = StatusCode(201);
    /// 204: success, and no body (§15.3.5).
    pub const NO_CONTENT: StatusCode = StatusCode(204);
    /// 301: moved for good; used to add the slash to a directory (§15.4.2).
    pub const MOVED_PERMANENTLY: StatusCode = StatusCode(301);
    /// 303: go and GET this other page (Post/Redirect/Get, §15.4.4).
    pub const SEE_OTHER: StatusCode = StatusCode(303);
    /// 304: the client's cached copy is still good (§15.4.5).
    pub const NOT_MODIFIED: StatusCode = StatusCode(304);
    /// 400: the request is malformed (§15.5.1).
    pub const BAD_REQUEST: StatusCode = StatusCode(400);
    /// 401: no valid credentials (§15.5.2).
    pub const UNAUTHORIZED: StatusCode = StatusCode(401);
    /// 403: understood, and refused (§15.5.4).
    pub const FORBIDDEN: StatusCode = StatusCode(403);
    /// 404 (§15.5.5).
    pub const NOT_FOUND: StatusCode = StatusCode(404);
    /// 405: the path exists, not with this method; comes with `Allow` (§15.5.6).
    pub const METHOD_NOT_ALLOWED: StatusCode = StatusCode(405);
    /// 408: the request took too long to arrive (§15.5.9).
    pub const REQUEST_TIMEOUT: StatusCode = StatusCode(408);
    /// 409: conflicts with the current state, e.g. a name already taken (§15.5.10).
    pub const CONFLICT: StatusCode = StatusCode(409);
    /// 411: a body without a length (§15.5.12).
    pub const LENGTH_REQUIRED: StatusCode = StatusCode(411);
    /// 413: the body is larger than the server accepts (§15.5.14).
    pub const CONTENT_TOO_LARGE: StatusCode = StatusCode(413);
    /// 414: the request target is longer than the server accepts (§15.5.15).
    pub const URI_TOO_LONG: StatusCode = StatusCode(414);
    /// 417: an `Expect` the server cannot meet (§15.5.18).
    pub const EXPECTATION_FAILED: StatusCode = StatusCode(417);
    /// 429: too many requests; comes with `Retry-After` (RFC 6585 §4).
    pub const TOO_MANY_REQUESTS: StatusCode = StatusCode(429);
    /// 431: the header section is too large (RFC 6585 §5).
    pub const REQUEST_HEADER_FIELDS_TOO_LARGE: StatusCode = StatusCode(431);
    /// 500: the server failed (§15.6.1).
    pub const INTERNAL_SERVER_ERROR: StatusCode = StatusCode(500);
    /// 501: the server does not support this method or coding (§15.6.2).
    pub const NOT_IMPLEMENTED: StatusCode = StatusCode(501);
    /// 502: an upstream server answered badly or not at all (§15.6.3).
    pub const BAD_GATEWAY: StatusCode = StatusCode(502);
    /// 503: overloaded; try again later (§15.6.4).
    pub const SERVICE_UNAVAILABLE: StatusCode = StatusCode(503);
    /// 504: an upstream server took too long (§15.6.5).
    pub const GATEWAY_TIMEOUT: StatusCode = StatusCode(504);
    /// 505: the HTTP version is not supported (§15.6.6).
    pub const HTTP_VERSION_NOT_SUPPORTED: StatusCode = StatusCode(505);

    /// A status code from its number; `None` outside 100–999.
    pub fn from_u16(code: u16) -> Option<StatusCode> {
        (100..=999).contains(&code).then_some(StatusCode(code))
    }

    /// The number.
    pub fn as_u16(self) -> u16 {
        self.0
    }

    /// 1xx: an interim answer; the final one follows.
    pub fn is_informational(self) -> bool {
        self.0 < 200
    }

    /// Whether a response with this status never has a body: 1xx, 204 and
    /// 304 (RFC 9112 §6.3, rule 1).
    pub fn forbids_body(self) -> bool {
        self.is_informational() || self.0 == 204 || self.0 == 304
    }

    /// The reason phrase for the status line. It is informational only
    /// (RFC 9112 §4): clients must not depend on it.
    pub fn reason(self) -> &'static str {
        match self.0 {
            100 => "Continue",
            200 => "OK",
            201 => "Created",
            204 => "No Content",
            301 => "Moved Permanently",
            302 => "Found",
            303 => "See Other",
            304 => "Not Modified",
            307 => "Temporary Redirect",
            400 => "Bad Request",
            401 => "Unauthorized",
            403 => "Forbidden",
            404 => "Not Found",
            405 => "Method Not Allowed",
            408 => "Request Timeout",
            409 => "Conflict",
            411 => "Length Required",
            413 => "Content Too Large",
            414 => "URI Too Long",
            415 => "Unsupported Media Type",
            417 => "Expectation Failed",
            429 => "Too Many Requests",
            431 => "Request Header Fields Too Large",
            500 => "Internal Server Error",
            501 => "Not Implemented",
            502 => "Bad Gateway",
            503 => "Service Unavailable",
            504 => "Gateway Timeout",
            505 => "HTTP Version Not Supported",
            _ => "Unknown",
        }
    }
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.0, self.reason())
    }
}
