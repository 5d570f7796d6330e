//! The peer node's line to the tracker: the client-server half of the
//! hybrid chat, spoken with lab 2's HTTP client ([`crate::http::client`])
//! to lab 4's routes (`docs/protocol.md`).
//!
//! A peer node keeps no accounts of its own. When its user logs in, it
//! passes the login to the tracker and keeps the tracker's session cookie
//! (a *tracker session*, [`TRACKER_COOKIE`]); every later call carries it,
//! so the tracker knows which account is asking, exactly as it knows a
//! browser in lab 4. What the node asks:
//!
//! | call | route | what for |
//! |---|---|---|
//! | [`TrackerClient::forward`] | `/login`, `/register`, `/add-list`, `/get-list`, `/connect-peer` | the UI's requests the tracker answers, passed through |
//! | [`TrackerClient::submit_info`] | `POST /submit-info` | registering a peer at the node's own p2p address |
//! | [`TrackerClient::listing`] | `GET /get-list` | who is in a channel; whether a peer exists |
//! | [`TrackerClient::introduce`] | `POST /connect-peer` with `"ticket":true` | a peer's address, and a ticket to show it |
//! | [`TrackerClient::check_ticket`] | `POST /check-ticket` | whether a connecting peer is who it says |
//! | [`TrackerClient::logout`] | `POST /logout` | ending the tracker session |
//!
//! Message text never goes this way: that is the point of lab 5.
//!
//! One connection to the tracker is kept open (HTTP keep-alive) and shared
//! by every thread of the node, one request at a time; each request has a
//! timeout ([`TRACKER_TIMEOUT`]), so a tracker that hangs makes calls fail,
//! never wait for ever.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crate::auth::app::DEFAULT_COOKIE_NAME;
use crate::http::Method;
use crate::http::client::{Client, ClientError, ClientResponse};
use crate::json::{self, Object, Value};

/// The longest the node waits for the tracker to connect, or for each
/// read and write of a request.
pub const TRACKER_TIMEOUT: Duration = Duration::from_secs(5);

/// The name of the tracker's session cookie: lab 4's, which is lab 3's
/// default.
pub const TRACKER_COOKIE: &str = DEFAULT_COOKIE_NAME;

/// A peer's address and a ticket to show it, from `/connect-peer`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Introduction {
    /// Where the peer says it can be reached.
    pub addr: SocketAddr,
    /// The ticket's id, for the hello.
    pub ticket: String,
    /// The receipt the peer must show back in its welcome.
    pub receipt: String,
}

/// Why the tracker gave no useful answer.
#[derive(Debug)]
pub enum TrackerError {
    /// No answer: the tracker is down, slow, or not an HTTP server.
    Unreachable(String),
    /// 401: the tracker session has ended (expired, or the tracker
    /// restarted); the user must log in again.
    LoggedOut,
    /// Any other refusal, with the tracker's status and its message.
    Refused {
        /// The status code.
        status: u16,
        /// The `message` of `{"status":"error","message":...}`, or the body.
        message: String,
    },
    /// A 200 whose body is not what the route promises.
    BadAnswer(String),
}

impl fmt::Display for TrackerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrackerError::Unreachable(reason) => {
                write!(f, "the tracker cannot be reached: {reason}")
            }
            TrackerError::LoggedOut => f.write_str("the tracker session has ended; log in again"),
            TrackerError::Refused { status, message } => {
                write!(f, "the tracker refused ({status}): {message}")
            }
            TrackerError::BadAnswer(problem) => {
                write!(f, "the tracker's answer makes no sense: {problem}")
            }
        }
    }
}

impl std::error::Error for TrackerError {}

/// The node's client of one tracker.
#[derive(Debug)]
pub struct TrackerClient {
    url: String,
    addr: SocketAddr,
    /// The kept-alive connection. Held for one request and its answer
    /// (bounded by [`TRACKER_TIMEOUT`]), never while taking another lock:
    /// it cannot deadlock, and a slow tracker delays only tracker calls.
    client: Mutex<Client>,
}

impl TrackerClient {
    /// A client of the tracker at `url` (`http://HOST:PORT`; a path is
    /// ignored). Nothing is sent yet.
    pub fn new(url: &str) -> Result<TrackerClient, ClientError> {
        let (client, _) = Client::for_url(url)?;
        Ok(TrackerClient {
            url: url.to_string(),
            addr: client.addr(),
            client: Mutex::new(client.with_timeout(TRACKER_TIMEOUT)),
        })
    }

    /// The tracker's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The address of this machine on the way to the tracker: what other
    /// peers that reach the tracker can most likely reach this node at
    /// (unless a NAT stands between; `docs/lab5_peer.md`, "NAT"). A UDP
    /// socket "connected" to the tracker sends nothing, but the kernel
    /// picks the route and so the local address.
    pub fn local_ip(&self) -> io::Result<IpAddr> {
        let any = match self.addr {
            SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        };
        let socket = UdpSocket::bind(SocketAddr::new(any, 0))?;
        socket.connect(self.addr)?;
        Ok(socket.local_addr()?.ip())
    }

    /// Sends `method path` with `body` (of `content_type`) as `session`,
    /// and returns the tracker's answer as it is.
    pub fn forward(
        &self,
        method: Method,
        path: &str,
        session: Option<&str>,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<ClientResponse, TrackerError> {
        let cookie = session.map(|session| format!("{TRACKER_COOKIE}={session}"));
        let mut headers = Vec::new();
        if let Some(cookie) = &cookie {
            headers.push(("Cookie", cookie.as_str()));
        }
        if let Some(content_type) = content_type {
            headers.push(("Content-Type", content_type));
        }
        let mut client = self.client.lock().unwrap_or_else(PoisonError::into_inner);
        client
            .request(method, path, &headers, body)
            .map_err(|error| TrackerError::Unreachable(error.to_string()))
    }

    /// `method path` with a JSON body as `session`: the answer's JSON
    /// object if it is a 200, else why not.
    pub fn call(
        &self,
        method: Method,
        path: &str,
        session: &str,
        body: Option<&Value>,
    ) -> Result<Object, TrackerError> {
        let body = body.map(Value::to_string).unwrap_or_default();
        let content_type = (!body.is_empty()).then_some("application/json");
        let answer = self.forward(method, path, Some(session), content_type, body.as_bytes())?;
        let text = answer.text();
        match answer.status {
            200 => match json::parse(&text) {
                Ok(Value::Object(object)) => Ok(object),
                _ => Err(TrackerError::BadAnswer(format!("{path}: {text}"))),
            },
            401 => Err(TrackerError::LoggedOut),
            status => Err(TrackerError::Refused {
                status,
                message: error_message(&text),
            }),
        }
    }

    /// `POST /submit-info`: registers peer `name` of the session's account
    /// at `addr`.
    pub fn submit_info(
        &self,
        session: &str,
        name: &str,
        addr: SocketAddr,
    ) -> Result<Object, TrackerError> {
        let body = json::object([
            ("username", Value::from(name)),
            ("ip", addr.ip().to_string().into()),
            ("port", addr.port().into()),
        ]);
        self.call(Method::Post, "/submit-info", session, Some(&body))
    }

    /// `GET /get-list`: every peer (with its channels) and channel.
    pub fn listing(&self, session: &str) -> Result<Object, TrackerError> {
        self.call(Method::Get, "/get-list", session, None)
    }

    /// `POST /connect-peer` with a ticket: where peer `to` is, and a ticket
    /// that vouches for peer `from` to it.
    pub fn introduce(
        &self,
        session: &str,
        from: &str,
        to: &str,
    ) -> Result<Introduction, TrackerError> {
        let body = json::object([
            ("from", Value::from(from)),
            ("to", to.into()),
            ("ticket", true.into()),
        ]);
        let answer = self.call(Method::Post, "/connect-peer", session, Some(&body))?;
        let bad =
            || TrackerError::BadAnswer(format!("/connect-peer: {}", Value::from(answer.clone())));
        let peer = answer.get("to").ok_or_else(bad)?;
        let ticket = answer.get("ticket").ok_or_else(bad)?;
        let ip: IpAddr = text_at(peer, "ip")
            .and_then(|ip| ip.parse().ok())
            .ok_or_else(bad)?;
        let port = peer
            .get("port")
            .and_then(Value::as_u64)
            .and_then(|port| u16::try_from(port).ok())
            .ok_or_else(bad)?;
        Ok(Introduction {
            addr: SocketAddr::new(ip, port),
            ticket: text_at(ticket, "id").ok_or_else(bad)?.to_string(),
            receipt: text_at(ticket, "receipt").ok_or_else(bad)?.to_string(),
        })
    }

    /// `POST /check-ticket`: peer `to` (of the session's account) was
    /// shown ticket `ticket` by peer `from`. The ticket's receipt if the
    /// tracker redeemed it.
    pub fn check_ticket(
        &self,
        session: &str,
        ticket: &str,
        from: &str,
        to: &str,
    ) -> Result<String, TrackerError> {
        let body = json::object([
            ("ticket", Value::from(ticket)),
            ("from", from.into()),
            ("to", to.into()),
        ]);
        let answer = self.call(Method::Post, "/check-ticket", session, Some(&body))?;
        answer
            .get("receipt")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| TrackerError::BadAnswer("/check-ticket: no receipt".to_string()))
    }

    /// `POST /logout`: ends the tracker session (its failure changes
    /// nothing: the session then ends by itself).
    pub fn logout(&self, session: &str) {
        let _ = self.forward(Method::Post, "/logout", Some(session), None, b"");
    }
}

/// The value of the tracker's session cookie in a login answer's
/// `Set-Cookie` headers.
pub fn session_cookie(answer: &ClientResponse) -> Option<String> {
    answer.header_all("set-cookie").find_map(|header| {
        let pair = header.split(';').next()?.trim();
        let (name, value) = pair.split_once('=')?;
        (name.trim() == TRACKER_COOKIE && !value.is_empty()).then(|| value.trim().to_string())
    })
}

/// The `message` of an error answer, or its text.
fn error_message(text: &str) -> String {
    json::parse(text)
        .ok()
        .and_then(|value| {
            value
                .get("message")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| text.to_string())
}

fn text_at<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(headers: &[(&str, &str)]) -> ClientResponse {
        ClientResponse {
            status: 200,
            headers: headers
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect(),
            body: Vec::new(),
        }
    }

    #[test]
    fn the_session_cookie_is_found_among_the_set_cookies() {
        let login = answer(&[
            ("Set-Cookie", "auth=true; Path=/"),
            ("set-cookie", "sessionid=abc123; HttpOnly; Path=/"),
        ]);
        assert_eq!(session_cookie(&login), Some("abc123".to_string()));
        let cases = [
            answer(&[("Set-Cookie", "sessionid=; Max-Age=0")]),
            answer(&[("Set-Cookie", "sessionid_9001=abc")]),
            answer(&[]),
        ];
        for case in cases {
            assert_eq!(session_cookie(&case), None, "{:?}", case.headers);
        }
    }

    #[test]
    fn error_messages_are_read_from_json_or_kept_as_text() {
        assert_eq!(
            error_message(r#"{"status":"error","message":"no peer is called \"x\""}"#),
            "no peer is called \"x\""
        );
        assert_eq!(error_message("Bad Gateway"), "Bad Gateway");
    }

    #[test]
    fn the_local_address_toward_a_loopback_tracker_is_loopback() {
        let tracker = TrackerClient::new("http://127.0.0.1:9").expect("a valid URL");
        assert_eq!(
            tracker.local_ip().expect("a route to loopback"),
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        );
    }
}
