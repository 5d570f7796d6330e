//! Request methods (RFC 9110 §9) and protocol versions (RFC 9112 §2.3).

use std::fmt;

/// The methods this server knows. A syntactically valid method that is not
/// one of these is answered with 501 Not Implemented (RFC 9110 §9.1);
/// a known method that a route does not take is answered with 405.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// Fetch a representation (§9.3.1).
    Get,
    /// Like GET, without the body (§9.3.2).
    Head,
    /// Process the enclosed body (§9.3.3).
    Post,
    /// Replace the target with the body (§9.3.4).
    Put,
    /// Remove the target (§9.3.5).
    Delete,
    /// Open a tunnel, for proxies (§9.3.6).
    Connect,
    /// Ask which methods a target takes (§9.3.7).
    Options,
    /// Echo the request back, for debugging (§9.3.8).
    Trace,
    /// Partially modify the target (RFC 5789).
    Patch,
}

impl Method {
    /// Every method, in the order `Allow` headers list them.
    pub const ALL: [Method; 9] = [
        Method::Get,
        Method::Head,
        Method::Post,
        Method::Put,
        Method::Delete,
        Method::Patch,
        Method::Options,
        Method::Trace,
        Method::Connect,
    ];

    /// The method named by `token`, or `None` for a method this server does
    /// not know. Methods are case-sensitive (§9.1): `get` is not `GET`.
    pub fn from_token(token: &[u8]) -> Option<Method> {
        Method::ALL
            .into_iter()
            .find(|method| method.as_str().as_bytes() == token)
    }

    /// The method's name as it appears on the request line.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Connect => "CONNECT",
            Method::Options => "OPTIONS",
            Method::Trace => "TRACE",
            Method::Patch => "PATCH",
        }
    }

    /// Safe methods only read (§9.2.1); idempotent ones may be retried
    /// (§9.2.2), which a proxy or client relies on after a failure.
    pub fn is_idempotent(self) -> bool {
        !matches!(self, Method::Post | Method::Patch | Method::Connect)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The HTTP versions this server speaks. Anything else is answered with
/// 505 HTTP Version Not Supported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    /// HTTP/1.0 (RFC 1945): one request per connection unless the client
    /// asks for `keep-alive`; no chunked encoding.
    Http10,
    /// HTTP/1.1 (RFC 9112): persistent connections by default, chunked
    /// encoding, `Host` required.
    Http11,
}

impl Version {
    /// The version as written on the request and status lines.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
