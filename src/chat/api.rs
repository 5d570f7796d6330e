//! The chat's HTTP routes: the course's endpoint names with the JSON
//! shapes of the course's reference UI (the lab 4 issue's table;
//! `docs/protocol.md` has every route with an example).
//!
//! | route | body | answer |
//! |---|---|---|
//! | `POST /submit-info` | `{"username","ip","port"}` | `{"status":"ok","peer":{"username","ip","port"}}` |
//! | `POST /add-list` | `{"username"?,"channel"}` | `{"status":"ok","channel","members":[...]}` |
//! | `GET /get-list` | — | `{"status":"ok","peers":[{"username","ip","port","online","channels"}],"channels":[...]}` |
//! | `POST /connect-peer` | `{"from"?,"to","ticket"?}` | `{"status":"ok","to":{"username","ip","port"}}`, and `"ticket"` when asked for (lab 5) |
//! | `POST /broadcast-peer` | `{"from"?,"channel","message"}` | `{"status":"sent","message":EVENT}` |
//! | `POST /send-peer` | `{"from"?,"to","channel"?,"message"}` | `{"status":"sent","message":EVENT}` |
//! | `POST /channel/messages` | `{"channel"}` or `{"peer"}`, `"after"`/`"before"`, `"limit"` | `{"status":"ok","messages":[EVENT...]}` |
//! | `GET /events` | — | `text/event-stream` of EVENTs |
//! | `POST /check-ticket` | `{"ticket","from","to"}` | lab 5: `{"status":"ok","from","to","receipt"}` |
//!
//! Every route needs a logged-in account, which this module does not
//! check: a handler here is an [`AccountHandler`], called with the request
//! *and the account's username*, and lab 3's session check wraps each one
//! ([`mount`]). Bodies are read as JSON whatever their `Content-Type` says
//! (`fetch` with a string body sends `text/plain`); unknown fields are
//! ignored, and `null` counts as absent. Every answer is JSON, errors
//! included: `{"status":"error","message":...}` with the status of
//! [`ChatError::status`].
//!
//! Names that a request *creates* (a peer in `/submit-info`, a channel in
//! `/add-list`) must follow the name rule (else 400); names it only
//! *refers to* are looked up, and a name that breaks the rule is simply
//! not found (403 for a `from`, 404 otherwise).

use std::io::{self, Write};
use std::net::IpAddr;
use std::sync::Arc;

use super::error::ChatError;
use super::events;
use super::fields;
use super::service::Chat;
use super::store::{Conversation, Cursor, Message};
use super::ticket::Ticket;
use super::tracker::{Listing, Peer, valid_port};
use crate::auth::reply;
use crate::http::{Handler, Method, Request, Response, Router, StatusCode};
use crate::json::{self, Object, Value};

/// Messages in a history page when the request gives no `limit`.
pub const DEFAULT_LIMIT: usize = 100;

/// Most messages in a history page; a larger `limit` is lowered to it.
pub const MAX_LIMIT: usize = 1000;

/// A chat route's handler: the request, and the username of the account
/// whose session sent it. Lab 3's session check turns one into an
/// [`http::Handler`](crate::http::Handler).
pub type AccountHandler = Box<dyn Fn(&Request<'_>, &str) -> Response + Send + Sync>;

/// One route of the chat.
pub struct Route {
    /// Its method (`GET` routes also answer `HEAD`).
    pub method: Method,
    /// Its path (the router also takes it with a trailing slash).
    pub path: &'static str,
    /// Its handler, still to be wrapped by the session check.
    pub handler: AccountHandler,
}

/// A route that answers JSON: a value for 200, or an error.
type JsonRoute = fn(&Chat, &Request<'_>, &str) -> Result<Value, ChatError>;

/// The routes that answer JSON, in the order of the issue's table, then
/// lab 5's.
const JSON_ROUTES: [(Method, &str, JsonRoute); 8] = [
    (Method::Post, "/submit-info", submit_info),
    (Method::Post, "/add-list", add_list),
    (Method::Get, "/get-list", get_list),
    (Method::Post, "/connect-peer", connect_peer),
    (Method::Post, "/broadcast-peer", broadcast_peer),
    (Method::Post, "/send-peer", send_peer),
    (Method::Post, "/channel/messages", channel_messages),
    (Method::Post, "/check-ticket", check_ticket),
];

/// The path of the event stream.
pub const EVENTS_PATH: &str = "/events";

/// Every chat route, serving `chat`.
pub fn routes(chat: &Arc<Chat>) -> Vec<Route> {
    let mut routes: Vec<Route> = JSON_ROUTES
        .iter()
        .map(|&(method, path, route)| {
            let chat = Arc::clone(chat);
            let handler: AccountHandler =
                Box::new(move |request, account| json_answer(route(&chat, request, account)));
            Route {
                method,
                path,
                handler,
            }
        })
        .collect();
    let chat = Arc::clone(chat);
    routes.push(Route {
        method: Method::Get,
        path: EVENTS_PATH,
        handler: Box::new(move |request, account| event_stream(&chat, request, account)),
    });
    routes
}

/// Adds every chat route to `router`, each wrapped by `protect` — lab 3's
/// session check, which answers 401 without a session and otherwise calls
/// the handler with the session's username:
///
/// ```ignore
/// let router = api::mount(router, &chat, |handler| sessions.protect(handler));
/// ```
pub fn mount<H: Handler>(
    router: Router,
    chat: &Arc<Chat>,
    protect: impl Fn(AccountHandler) -> H,
) -> Router {
    routes(chat).into_iter().fold(router, |router, route| {
        router.route(route.method, route.path, protect(route.handler))
    })
}

/// What happened to a message beyond the server: lab 5's peer node fills
/// it (peers it could not reach, messages it keeps to retry); the lab 4
/// server, which relays everything itself, leaves it empty.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Delivery {
    /// Peers that could not be reached (`"unreached"`).
    pub unreached: Vec<String>,
    /// Peers for which the message waits in a queue (`"queued"`).
    pub queued: Vec<String>,
}

/// The answer to a send: `{"status":"sent","message":EVENT}`, with
/// `"unreached"` and `"queued"` only when they are not empty.
pub fn sent_answer(message: &Message, delivery: &Delivery) -> Value {
    let mut answer = Object::new()
        .with("status", "sent")
        .with("message", message.event());
    for (key, names) in [
        ("unreached", &delivery.unreached),
        ("queued", &delivery.queued),
    ] {
        if !names.is_empty() {
            answer.insert(key, names.clone());
        }
    }
    Value::Object(answer)
}

/// The answer to a refused request: `{"status":"error","message":...}`
/// with the error's status.
pub fn error_answer(error: &ChatError) -> Response {
    reply::json_status(error.status(), "error", &error.to_string())
}

fn json_answer(result: Result<Value, ChatError>) -> Response {
    match result {
        Ok(value) => Response::json(StatusCode::OK, value.to_string()),
        Err(error) => error_answer(&error),
    }
}

/// `POST /submit-info`.
fn submit_info(chat: &Chat, request: &Request<'_>, account: &str) -> Result<Value, ChatError> {
    let body = body_object(request)?;
    let name = required_text(&body, "username")?;
    let peer = chat.register_peer(account, name, ip_field(&body)?, port_field(&body)?)?;
    Ok(ok_with([("peer", peer_value(&peer).into())]))
}

/// `POST /add-list`.
fn add_list(chat: &Chat, request: &Request<'_>, account: &str) -> Result<Value, ChatError> {
    let body = body_object(request)?;
    let peer = optional_text(&body, "username")?;
    let channel = required_text(&body, "channel")?;
    let members = chat.join(account, peer, channel)?;
    Ok(ok_with([
        ("channel", channel.into()),
        ("members", members.into()),
    ]))
}

/// `GET /get-list`.
fn get_list(chat: &Chat, _: &Request<'_>, account: &str) -> Result<Value, ChatError> {
    let Listing { peers, channels } = chat.listing(account);
    let peers: Vec<Value> = peers
        .into_iter()
        .map(|row| {
            peer_value(&row.peer)
                .with("online", row.online)
                .with("channels", row.channels)
                .into()
        })
        .collect();
    Ok(ok_with([
        ("peers", peers.into()),
        ("channels", channels.into()),
    ]))
}

/// `POST /connect-peer`; with `"ticket": true` (lab 5's peers ask for
/// it) the answer also carries a ticket, `{"id","receipt","expires_in"}`.
fn connect_peer(chat: &Chat, request: &Request<'_>, account: &str) -> Result<Value, ChatError> {
    let body = body_object(request)?;
    let from = optional_text(&body, "from")?;
    let to = required_text(&body, "to")?;
    if !fields::optional_bool(&body, "ticket").map_err(ChatError::BadRequest)? {
        let peer = chat.connect(account, from, to)?;
        return Ok(ok_with([("to", peer_value(&peer).into())]));
    }
    let (peer, ticket) = chat.introduce(account, from, to)?;
    Ok(ok_with([
        ("to", peer_value(&peer).into()),
        ("ticket", ticket_value(&ticket).into()),
    ]))
}

/// `POST /check-ticket` (lab 5): a peer of the caller's was shown a ticket.
fn check_ticket(chat: &Chat, request: &Request<'_>, account: &str) -> Result<Value, ChatError> {
    let body = body_object(request)?;
    let ticket = required_text(&body, "ticket")?;
    let from = required_text(&body, "from")?;
    let to = required_text(&body, "to")?;
    let receipt = chat.check_ticket(account, ticket, from, to)?;
    Ok(ok_with([
        ("from", from.into()),
        ("to", to.into()),
        ("receipt", receipt.into()),
    ]))
}

/// `POST /broadcast-peer`.
fn broadcast_peer(chat: &Chat, request: &Request<'_>, account: &str) -> Result<Value, ChatError> {
    let body = body_object(request)?;
    let from = optional_text(&body, "from")?;
    let channel = required_text(&body, "channel")?;
    let text = required_text(&body, "message")?;
    let message = chat.broadcast(account, from, channel, text)?;
    Ok(sent_answer(&message, &Delivery::default()))
}

/// `POST /send-peer`.
fn send_peer(chat: &Chat, request: &Request<'_>, account: &str) -> Result<Value, ChatError> {
    let body = body_object(request)?;
    let from = optional_text(&body, "from")?;
    let to = required_text(&body, "to")?;
    let channel = optional_text(&body, "channel")?;
    let text = required_text(&body, "message")?;
    let message = chat.send(account, from, to, channel, text)?;
    Ok(sent_answer(&message, &Delivery::default()))
}

/// `POST /channel/messages`.
fn channel_messages(chat: &Chat, request: &Request<'_>, account: &str) -> Result<Value, ChatError> {
    let (conversation, cursor, limit) = history_query(request)?;
    let messages = chat.history(account, &conversation, cursor, limit)?;
    Ok(messages_answer(&messages))
}

/// `{"status":"ok","messages":[EVENT...]}`.
pub(crate) fn messages_answer(messages: &[Arc<Message>]) -> Value {
    let messages: Vec<Value> = messages.iter().map(|message| message.event()).collect();
    ok_with([("messages", messages.into())])
}

/// What a `POST /channel/messages` body asks for: the conversation, where
/// the page starts, and how many messages at most.
pub(crate) fn history_query(
    request: &Request<'_>,
) -> Result<(Conversation, Cursor, usize), ChatError> {
    let body = body_object(request)?;
    let conversation = match (
        optional_text(&body, "channel")?,
        optional_text(&body, "peer")?,
    ) {
        (Some(channel), None) => Conversation::Channel(channel.to_string()),
        (None, Some(peer)) => Conversation::Peer(peer.to_string()),
        (None, None) => return Err(bad("give \"channel\" or \"peer\"")),
        (Some(_), Some(_)) => return Err(bad("give \"channel\" or \"peer\", not both")),
    };
    let cursor = match (
        optional_number(&body, "after")?,
        optional_number(&body, "before")?,
    ) {
        (None, None) => Cursor::Newest,
        (Some(after), None) => Cursor::After(after),
        (None, Some(before)) => Cursor::Before(before),
        (Some(_), Some(_)) => return Err(bad("give \"after\" or \"before\", not both")),
    };
    let limit = match optional_number(&body, "limit")? {
        None => DEFAULT_LIMIT,
        Some(0) => return Err(bad("\"limit\" must be at least 1")),
        Some(limit) => usize::try_from(limit).map_or(MAX_LIMIT, |limit| limit.min(MAX_LIMIT)),
    };
    Ok((conversation, cursor, limit))
}

/// `GET /events`: a Server-Sent Events stream, resumed after the
/// `Last-Event-ID` header when the browser sends one.
fn event_stream(chat: &Arc<Chat>, request: &Request<'_>, account: &str) -> Response {
    let chat = Arc::clone(chat);
    let account = account.to_string();
    event_stream_answer(request, move |last_event_id, out| {
        chat.stream_events(&account, last_event_id, out)
    })
}

/// The answer to `GET /events`: a stream that `run` writes, given the
/// `Last-Event-ID` the browser sent (400 when it is not a message id).
pub(crate) fn event_stream_answer(
    request: &Request<'_>,
    run: impl FnOnce(Option<u64>, &mut dyn Write) -> io::Result<()> + Send + 'static,
) -> Response {
    let last_event_id = match request.header("last-event-id").map(str::trim) {
        None | Some("") => None,
        Some(text) => match text.parse::<u64>() {
            Ok(id) => Some(id),
            Err(_) => return error_answer(&bad("Last-Event-ID must be a message id")),
        },
    };
    Response::stream(StatusCode::OK, events::CONTENT_TYPE, move |out| {
        run(last_event_id, out)
    })
    .with_header("Cache-Control", "no-cache")
}

/// `{"status":"ok"}` followed by `members`: a successful answer.
fn ok_with<const N: usize>(members: [(&str, Value); N]) -> Value {
    let mut answer = Object::new().with("status", "ok");
    for (key, value) in members {
        answer.insert(key, value);
    }
    Value::Object(answer)
}

/// `{"id","receipt","expires_in"}`, a ticket as `/connect-peer` hands it out.
fn ticket_value(ticket: &Ticket) -> Object {
    Object::new()
        .with("id", ticket.id.as_str())
        .with("receipt", ticket.receipt.as_str())
        .with("expires_in", ticket.lifetime.as_secs())
}

/// `{"username","ip","port"}`, the peer as answers show it.
fn peer_value(peer: &Peer) -> Object {
    Object::new()
        .with("username", peer.username.as_str())
        .with("ip", peer.ip.to_string())
        .with("port", peer.port)
}

/// The request body as a JSON object, whatever its `Content-Type`.
pub(crate) fn body_object(request: &Request<'_>) -> Result<Object, ChatError> {
    let text =
        std::str::from_utf8(request.body()).map_err(|_| bad("the body is not UTF-8 text"))?;
    match json::parse(text) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(bad("the body must be a JSON object")),
        Err(error) => Err(bad(&format!("the body is not valid JSON: {error}"))),
    }
}

fn bad(reason: &str) -> ChatError {
    ChatError::BadRequest(reason.to_string())
}

/// The string `key` of a request body; 400 when it is missing or not a string.
pub(crate) fn required_text<'a>(body: &'a Object, key: &str) -> Result<&'a str, ChatError> {
    fields::required_str(body, key).map_err(ChatError::BadRequest)
}

/// The string `key` of a request body, if present; 400 when it is not a string.
pub(crate) fn optional_text<'a>(body: &'a Object, key: &str) -> Result<Option<&'a str>, ChatError> {
    fields::optional_str(body, key).map_err(ChatError::BadRequest)
}

fn optional_number(body: &Object, key: &str) -> Result<Option<u64>, ChatError> {
    fields::optional_u64(body, key).map_err(ChatError::BadRequest)
}

/// `"ip"`: an IPv4 or IPv6 address literal (no host names).
fn ip_field(body: &Object) -> Result<IpAddr, ChatError> {
    let text = required_text(body, "ip")?;
    text.parse().map_err(|_| {
        bad(&format!(
            "\"ip\" must be an IP address such as 127.0.0.1, not {text:?}"
        ))
    })
}

/// `"port"`: 1–65535, as a number or as a string of digits (the course's
/// UI sends `"9100"`).
fn port_field(body: &Object) -> Result<u16, ChatError> {
    let number = match body.get("port") {
        None | Some(Value::Null) => return Err(bad("\"port\" is missing")),
        Some(Value::Number(number)) => number.as_u64(),
        Some(Value::String(text)) if text.bytes().all(|byte| byte.is_ascii_digit()) => {
            text.parse().ok()
        }
        Some(_) => None,
    };
    number
        .and_then(valid_port)
        .ok_or_else(|| bad("\"port\" must be a whole number from 1 to 65535"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::service::{MAX_MESSAGE_BYTES, Settings};
    use crate::chat::testing::STEP_TIMEOUT;
    use crate::chat::testing::{SseReader, pipe};
    use crate::clock::Clock;
    use crate::durable::TempDir;
    use crate::http::Version;
    use crate::http::request::{Limits, Status, parse_head};
    use crate::http::response::Exchange;
    use crate::http::{Config, serve};
    use std::borrow::Cow;
    use std::collections::HashSet;
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::thread;
    use std::time::{Duration, SystemTime};

    /// The header a test uses to say which account is logged in; stands in
    /// for lab 3's session check.
    const ACCOUNT_HEADER: &str = "x-test-account";

    /// The chat behind a router, as a lab binary mounts it.
    struct App {
        chat: Arc<Chat>,
        router: Router,
    }

    impl App {
        fn open(dir: &TempDir) -> App {
            let settings = Settings {
                clock: Clock::manual().0,
                heartbeat: Duration::from_millis(20),
                ..Settings::default()
            };
            let accounts = |name: &str| ["alice", "bob", "carol"].contains(&name);
            let chat = Arc::new(Chat::open(dir.path(), settings, accounts).expect("open chat"));
            let router = mount(Router::new(), &chat, |handler| {
                move |request: &Request<'_>| {
                    let account = request.header(ACCOUNT_HEADER).unwrap_or_default();
                    handler(request, account)
                }
            });
            App { chat, router }
        }

        /// Sends `METHOD PATH` with `body` as `account`, plus `headers`.
        fn respond(&self, account: &str, line: &str, headers: &str, body: &str) -> Response {
            let raw = format!(
                "{line} HTTP/1.1\r\nHost: x\r\n{ACCOUNT_HEADER}: {account}\r\n{headers}\r\n"
            );
            let Ok(Status::Complete(head)) = parse_head(raw.as_bytes(), &Limits::default()) else {
                panic!("test request did not parse: {raw:?}");
            };
            let body = Cow::Owned(body.as_bytes().to_vec());
            let mut request = Request::new(head, body, ([127, 0, 0, 1], 1).into());
            self.router.handle(&mut request)
        }

        /// The status and JSON body of `line` with `body`, as `account`.
        fn call(&self, account: &str, line: &str, body: &str) -> (u16, Value) {
            let response = self.respond(account, line, "", body);
            let text = response
                .body()
                .as_bytes()
                .map(String::from_utf8_lossy)
                .unwrap_or_default();
            assert_eq!(
                response.header("content-type"),
                Some("application/json"),
                "{account}: {line} {body} → {} {text}: every answer is JSON",
                response.status()
            );
            let value = json::parse(&text).unwrap_or_else(|error| {
                panic!("{account}: {line} {body} → answer is not JSON ({error}): {text}")
            });
            (response.status().as_u16(), value)
        }

        /// `call`, expecting `status`; returns the body.
        fn expect(&self, account: &str, line: &str, body: &str, status: u16) -> Value {
            let (got, answer) = self.call(account, line, body);
            assert_eq!(
                got, status,
                "{account}: {line} {body}\n→ {got} {answer}\nexpected {status} (docs/protocol.md)"
            );
            if status >= 400 {
                assert_eq!(
                    answer.get("status").and_then(Value::as_str),
                    Some("error"),
                    "an error answer is {{\"status\":\"error\",...}}: {answer}"
                );
                assert!(answer.get("message").and_then(Value::as_str).is_some());
            }
            answer
        }

        /// Broadcasts `text` to general as `account`'s first peer.
        fn broadcast(&self, account: &str, text: &str) -> Value {
            let body = format!(r#"{{"channel":"general","message":"{text}"}}"#);
            self.expect(account, "POST /broadcast-peer", &body, 200)
        }

        /// Alice has peers ann and ann2, bob has bo, carol has cy; ann and
        /// bo are in general.
        fn with_peers(dir: &TempDir) -> App {
            let app = App::open(dir);
            for (account, name, port) in [
                ("alice", "ann", 9100),
                ("alice", "ann2", 9101),
                ("bob", "bo", 9200),
                ("carol", "cy", 9300),
            ] {
                let body = format!(r#"{{"username":"{name}","ip":"127.0.0.1","port":{port}}}"#);
                app.expect(account, "POST /submit-info", &body, 200);
            }
            app.expect("alice", "POST /add-list", r#"{"channel":"general"}"#, 200);
            app.expect("bob", "POST /add-list", r#"{"channel":"general"}"#, 200);
            app
        }
    }

    fn parse(text: &str) -> Value {
        json::parse(text).unwrap_or_else(|error| panic!("test JSON {text}: {error}"))
    }

    #[test]
    fn submit_info_registers_and_refuses_bad_bodies() {
        let dir = TempDir::new("api");
        let app = App::open(&dir);
        let answer = app.expect(
            "alice",
            "POST /submit-info/",
            r#"{"username":"ann","ip":"127.0.0.1","port":"9100"}"#,
            200,
        );
        assert_eq!(
            answer,
            parse(r#"{"status":"ok","peer":{"username":"ann","ip":"127.0.0.1","port":9100}}"#),
            "a port given as a string is answered as a number"
        );
        let cases = [
            ("", 400),
            ("not json", 400),
            ("[1]", 400),
            (r#"{"ip":"127.0.0.1","port":1}"#, 400),
            (r#"{"username":7,"ip":"127.0.0.1","port":1}"#, 400),
            (r#"{"username":"a b","ip":"127.0.0.1","port":1}"#, 400),
            (r#"{"username":"ann3","ip":"localhost","port":1}"#, 400),
            (r#"{"username":"ann3","ip":"1.2.3","port":1}"#, 400),
            (r#"{"username":"ann3","ip":"127.0.0.1"}"#, 400),
            (r#"{"username":"ann3","ip":"127.0.0.1","port":0}"#, 400),
            (r#"{"username":"ann3","ip":"127.0.0.1","port":65536}"#, 400),
            (r#"{"username":"ann3","ip":"127.0.0.1","port":-1}"#, 400),
            (r#"{"username":"ann3","ip":"127.0.0.1","port":9100.5}"#, 400),
            (
                r#"{"username":"ann3","ip":"127.0.0.1","port":"9100.0"}"#,
                400,
            ),
            (
                r#"{"username":"ann3","ip":"127.0.0.1","port":"+9100"}"#,
                400,
            ),
            (
                r#"{"username":"ann3","ip":"127.0.0.1","port":"99999999999999999999"}"#,
                400,
            ),
            (r#"{"username":"ann3","ip":"127.0.0.1","port":true}"#, 400),
            (r#"{"username":"ann3","ip":"::1","port":65535}"#, 200),
            (r#"{"username":"ann","ip":"127.0.0.1","port":1}"#, 409),
            (r#"{"username":"bob","ip":"127.0.0.1","port":1}"#, 409),
            (r#"{"username":"carol","ip":"127.0.0.1","port":1}"#, 200),
        ];
        for (body, status) in cases {
            app.expect("carol", "POST /submit-info", body, status);
        }
        let bytes = b"\xff\xfe";
        let response = app.respond(
            "alice",
            "POST /submit-info",
            "",
            &String::from_utf8_lossy(bytes),
        );
        assert_eq!(
            response.status(),
            StatusCode::BAD_REQUEST,
            "a body that is not JSON"
        );
    }

    #[test]
    fn peers_channels_and_the_list_have_the_documented_shapes() {
        let dir = TempDir::new("api");
        let app = App::with_peers(&dir);
        let answer = app.expect(
            "alice",
            "POST /add-list",
            r#"{"username":"ann2","channel":"rust"}"#,
            200,
        );
        assert_eq!(
            answer,
            parse(r#"{"status":"ok","channel":"rust","members":["ann2"]}"#)
        );
        app.expect(
            "alice",
            "POST /add-list",
            r#"{"username":"bo","channel":"rust"}"#,
            403,
        );
        app.expect("alice", "POST /add-list", r#"{"channel":"no way"}"#, 400);
        app.expect("alice", "POST /add-list", r#"{"channel":5}"#, 400);
        app.expect("alice", "POST /add-list", r#"{}"#, 400);
        app.expect(
            "alice",
            "POST /add-list",
            r#"{"channel":"x","username":null}"#,
            200,
        );
        let no_peer = app.expect("admin", "POST /add-list", r#"{"channel":"rust"}"#, 400);
        assert_eq!(
            no_peer.get("message").and_then(Value::as_str),
            Some("register a peer first (POST /submit-info)")
        );
        let list = app.expect("bob", "GET /get-list", "", 200);
        assert_eq!(
            list,
            parse(
                r#"{"status":"ok","peers":[
                {"username":"ann","ip":"127.0.0.1","port":9100,"online":true,"channels":["general","x"]},
                {"username":"ann2","ip":"127.0.0.1","port":9101,"online":true,"channels":["rust"]},
                {"username":"bo","ip":"127.0.0.1","port":9200,"online":true,"channels":["general"]},
                {"username":"cy","ip":"127.0.0.1","port":9300,"online":true,"channels":[]}],
                "channels":["general","rust","x"]}"#
            )
        );
        let answer = app.expect("bob", "POST /connect-peer", r#"{"to":"ann2"}"#, 200);
        assert_eq!(
            answer,
            parse(r#"{"status":"ok","to":{"username":"ann2","ip":"127.0.0.1","port":9101}}"#)
        );
        app.expect("bob", "POST /connect-peer", r#"{"to":"ghost"}"#, 404);
        app.expect(
            "bob",
            "POST /connect-peer",
            r#"{"from":"ann","to":"cy"}"#,
            403,
        );
        app.expect("bob", "POST /connect-peer", r#"{"from":"bo"}"#, 400);
        app.expect("admin", "POST /connect-peer", r#"{"to":"bo"}"#, 400);
        let wrong_method = app.respond("bob", "GET /connect-peer", "", "");
        assert_eq!(wrong_method.status(), StatusCode::METHOD_NOT_ALLOWED);
    }

    #[test]
    fn sending_checks_every_rule_and_answers_the_event() {
        let dir = TempDir::new("api");
        let app = App::with_peers(&dir);
        let answer = app.expect(
            "alice",
            "POST /broadcast-peer",
            r#"{"channel":"general","message":"hello"}"#,
            200,
        );
        assert_eq!(answer.get("status").and_then(Value::as_str), Some("sent"));
        let event = answer.get("message").expect("message");
        let keys: Vec<&str> = event
            .as_object()
            .expect("EVENT object")
            .iter()
            .map(|(key, _)| key)
            .collect();
        assert_eq!(
            keys,
            [
                "id",
                "type",
                "from",
                "to",
                "channel",
                "message",
                "timestamp"
            ],
            "the EVENT's fields (docs/protocol.md, \"EVENT\")"
        );
        assert_eq!(event.get("from").and_then(Value::as_str), Some("ann"));
        assert_eq!(event.get("type").and_then(Value::as_str), Some("broadcast"));
        assert!(event.get("to").is_some_and(Value::is_null));
        assert!(answer.get("unreached").is_none() && answer.get("queued").is_none());

        let dm = app.expect(
            "bob",
            "POST /send-peer",
            r#"{"to":"ann2","message":"psst"}"#,
            200,
        );
        let event = dm.get("message").expect("message");
        assert_eq!(event.get("type").and_then(Value::as_str), Some("direct"));
        assert_eq!(event.get("to").and_then(Value::as_str), Some("ann2"));
        assert!(event.get("channel").is_some_and(Value::is_null));

        let long = "x".repeat(MAX_MESSAGE_BYTES + 1);
        let too_long = format!(r#"{{"channel":"general","message":"{long}"}}"#);
        let cases: Vec<(&str, &str, &str, u16)> = vec![
            (
                "alice",
                "POST /broadcast-peer",
                r#"{"from":"bo","channel":"general","message":"x"}"#,
                403,
            ),
            (
                "alice",
                "POST /broadcast-peer",
                r#"{"from":"ann2","channel":"general","message":"x"}"#,
                403,
            ),
            (
                "alice",
                "POST /broadcast-peer",
                r#"{"channel":"nope","message":"x"}"#,
                404,
            ),
            (
                "alice",
                "POST /broadcast-peer",
                r#"{"channel":"general","message":""}"#,
                400,
            ),
            (
                "alice",
                "POST /broadcast-peer",
                r#"{"channel":"general","message":7}"#,
                400,
            ),
            (
                "alice",
                "POST /broadcast-peer",
                r#"{"channel":"general"}"#,
                400,
            ),
            ("alice", "POST /broadcast-peer", &too_long, 413),
            (
                "admin",
                "POST /broadcast-peer",
                r#"{"channel":"general","message":"x"}"#,
                400,
            ),
            (
                "carol",
                "POST /send-peer",
                r#"{"from":"ann","to":"bo","message":"x"}"#,
                403,
            ),
            (
                "carol",
                "POST /send-peer",
                r#"{"to":"ghost","message":"x"}"#,
                404,
            ),
            (
                "carol",
                "POST /send-peer",
                r#"{"to":"bo","channel":"nope","message":"x"}"#,
                404,
            ),
            (
                "carol",
                "POST /send-peer",
                r#"{"to":"bo","channel":"general","message":"x"}"#,
                200,
            ),
            (
                "carol",
                "POST /send-peer",
                r#"{"to":"bo","message":"  "}"#,
                400,
            ),
            (
                "carol",
                "POST /send-peer",
                r#"{"to":["bo"],"message":"x"}"#,
                400,
            ),
        ];
        for (account, line, body, status) in cases {
            app.expect(account, line, body, status);
        }
    }

    #[test]
    fn connect_peer_hands_out_a_ticket_that_only_the_receivers_account_redeems_once() {
        let dir = TempDir::new("api");
        let app = App::with_peers(&dir);
        let plain = app.expect("bob", "POST /connect-peer", r#"{"to":"ann"}"#, 200);
        assert!(
            plain.get("ticket").is_none(),
            "lab 4's answer is unchanged without \"ticket\": {plain}"
        );
        let answer = app.expect(
            "bob",
            "POST /connect-peer",
            r#"{"to":"ann","ticket":true}"#,
            200,
        );
        let ticket = answer.get("ticket").expect("a ticket");
        let field = |key: &str| ticket.get(key).and_then(Value::as_str).expect(key);
        let (id, receipt) = (field("id"), field("receipt"));
        assert_eq!(
            ticket.get("expires_in").and_then(Value::as_u64),
            Some(crate::chat::ticket::TICKET_LIFETIME.as_secs())
        );
        let check = format!(r#"{{"ticket":"{id}","from":"bo","to":"ann"}}"#);
        let forged = format!(r#"{{"ticket":"{id}","from":"cy","to":"ann"}}"#);
        app.expect("bob", "POST /check-ticket", &check, 403);
        app.expect("carol", "POST /check-ticket", &check, 403);
        app.expect("alice", "POST /check-ticket", &forged, 403);
        let redeemed = app.expect("alice", "POST /check-ticket", &check, 200);
        assert_eq!(
            redeemed.get("receipt").and_then(Value::as_str),
            Some(receipt),
            "the receipt the sender was given: {redeemed}"
        );
        app.expect("alice", "POST /check-ticket", &check, 403);
        for (body, status) in [
            (r#"{"to":"ann","ticket":"yes"}"#, 400),
            (r#"{"to":"ghost","ticket":true}"#, 404),
            (r#"{"from":"ann","to":"bo","ticket":true}"#, 403),
        ] {
            app.expect("bob", "POST /connect-peer", body, status);
        }
        app.expect(
            "alice",
            "POST /check-ticket",
            r#"{"from":"bo","to":"ann"}"#,
            400,
        );
    }

    #[test]
    fn the_answer_to_a_send_carries_lab_5s_fields_when_set() {
        let dir = TempDir::new("api");
        let app = App::with_peers(&dir);
        let message = app
            .chat
            .broadcast("alice", None, "general", "hi")
            .expect("broadcast");
        let delivery = Delivery {
            unreached: vec!["bo".to_string()],
            queued: vec![],
        };
        let answer = sent_answer(&message, &delivery);
        assert_eq!(
            answer.get("unreached"),
            Some(&parse(r#"["bo"]"#)),
            "unreached peers are listed"
        );
        assert!(answer.get("queued").is_none(), "an empty list is left out");
    }

    #[test]
    fn history_is_paged_and_private() {
        let dir = TempDir::new("api");
        let app = App::with_peers(&dir);
        for n in 1..=5 {
            app.broadcast("alice", &format!("g{n}"));
        }
        app.expect(
            "bob",
            "POST /send-peer",
            r#"{"to":"ann","channel":"general","message":"dm"}"#,
            200,
        );
        let texts = |account: &str, body: &str| -> Vec<String> {
            let answer = app.expect(account, "POST /channel/messages", body, 200);
            answer
                .get("messages")
                .and_then(Value::as_array)
                .expect("messages")
                .iter()
                .filter_map(|event| event.get("message").and_then(Value::as_str))
                .map(str::to_string)
                .collect()
        };
        let cases = [
            (
                "carol",
                r#"{"channel":"general"}"#,
                vec!["g1", "g2", "g3", "g4", "g5"],
            ),
            (
                "bob",
                r#"{"channel":"general"}"#,
                vec!["g1", "g2", "g3", "g4", "g5", "dm"],
            ),
            (
                "alice",
                r#"{"channel":"general","limit":2}"#,
                vec!["g5", "dm"],
            ),
            (
                "alice",
                r#"{"channel":"general","after":1,"limit":2}"#,
                vec!["g2", "g3"],
            ),
            (
                "alice",
                r#"{"channel":"general","before":3}"#,
                vec!["g1", "g2"],
            ),
            ("alice", r#"{"peer":"bo"}"#, vec!["dm"]),
            ("carol", r#"{"peer":"bo"}"#, vec![]),
            ("carol", r#"{"peer":"ann"}"#, vec![]),
        ];
        for (account, body, expected) in cases {
            assert_eq!(texts(account, body), expected, "{account} reads {body}");
        }
        for (body, status) in [
            (r#"{}"#, 400),
            (r#"{"channel":"general","peer":"bo"}"#, 400),
            (r#"{"channel":"general","after":1,"before":3}"#, 400),
            (r#"{"channel":"general","limit":0}"#, 400),
            (r#"{"channel":"general","limit":-5}"#, 400),
            (r#"{"channel":"general","after":"1"}"#, 400),
            (r#"{"channel":"nope"}"#, 404),
            (r#"{"peer":"ghost"}"#, 404),
        ] {
            app.expect("carol", "POST /channel/messages", body, status);
        }
    }

    #[test]
    fn concurrent_senders_are_stored_once_in_one_order_for_every_reader() {
        let dir = TempDir::new("api");
        let app = App::with_peers(&dir);
        thread::scope(|scope| {
            for thread in 0..20 {
                let app = &app;
                scope.spawn(move || {
                    for n in 0..50 {
                        app.broadcast("alice", &format!("t{thread}-{n}"));
                    }
                });
            }
        });
        app.broadcast("bob", "last");
        let read = |account: &str| -> Vec<(u64, String)> {
            let body = r#"{"channel":"general","limit":5000}"#;
            let answer = app.expect(account, "POST /channel/messages", body, 200);
            let messages = answer
                .get("messages")
                .and_then(Value::as_array)
                .expect("messages");
            messages
                .iter()
                .map(|event| {
                    let id = event.get("id").and_then(Value::as_u64).expect("id");
                    let text = event.get("message").and_then(Value::as_str).expect("text");
                    (id, text.to_string())
                })
                .collect()
        };
        let newest = read("bob");
        assert_eq!(
            newest.len(),
            MAX_LIMIT,
            "a limit above {MAX_LIMIT} is lowered to it"
        );
        assert_eq!(read("alice"), newest, "every reader sees the same order");
        let body = format!(r#"{{"channel":"general","before":{}}}"#, newest[0].0);
        let older = app.expect("carol", "POST /channel/messages", &body, 200);
        let older = older
            .get("messages")
            .and_then(Value::as_array)
            .expect("messages");
        assert_eq!(
            older.len(),
            1,
            "the page before the newest 1,000 holds the first one"
        );
        let first_text = older[0]
            .get("message")
            .and_then(Value::as_str)
            .expect("text");
        let mut texts: Vec<&str> = newest.iter().map(|(_, text)| text.as_str()).collect();
        assert!(
            newest.windows(2).all(|pair| pair[0].0 < pair[1].0)
                && older[0].get("id").and_then(Value::as_u64) < Some(newest[0].0),
            "ids strictly increase"
        );
        assert_eq!(
            texts.pop(),
            Some("last"),
            "bob's message came after all the others"
        );
        texts.push(first_text);
        let stored: HashSet<&str> = texts.iter().copied().collect();
        let sent: HashSet<String> = (0..20)
            .flat_map(|thread| (0..50).map(move |n| format!("t{thread}-{n}")))
            .collect();
        assert_eq!(texts.len(), 1000, "1,000 sends, 1,000 messages");
        assert_eq!(
            stored,
            sent.iter().map(String::as_str).collect::<HashSet<&str>>(),
            "each of the 1,000 sends is stored exactly once"
        );
    }

    /// Runs the response's stream into a pipe; returns the reader, past the
    /// response head and the opening comment.
    fn open_stream(response: Response) -> SseReader {
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.header("content-type"), Some(events::CONTENT_TYPE));
        assert_eq!(response.header("cache-control"), Some("no-cache"));
        let (mut out, mut reader) = pipe();
        thread::spawn(move || {
            let exchange = Exchange {
                version: Version::Http10,
                head_only: false,
                keep_alive: false,
                now: SystemTime::now(),
            };
            let _ = response.write_to(&mut out, &mut Vec::new(), exchange);
        });
        let first = reader.block();
        assert!(
            first.ends_with("\r\n\r\n: connected"),
            "the head, then the opening comment: {first:?}"
        );
        reader
    }

    #[test]
    fn events_stream_live_messages_and_resume_after_last_event_id() {
        let dir = TempDir::new("api");
        let app = App::with_peers(&dir);
        for n in 1..=3 {
            app.broadcast("alice", &format!("m{n}"));
        }
        app.expect(
            "alice",
            "POST /send-peer",
            r#"{"to":"bo","message":"dm"}"#,
            200,
        );
        let mut carol = open_stream(app.respond("carol", "GET /events", "", ""));
        let mut resumed =
            open_stream(app.respond("carol", "GET /events/", "Last-Event-ID: 1\r\n", ""));
        app.broadcast("bob", "m5");
        let ids =
            |events: Vec<(u64, Value)>| events.into_iter().map(|(id, _)| id).collect::<Vec<_>>();
        assert_eq!(
            ids(carol.events(1)),
            [5],
            "a fresh stream gets only new messages"
        );
        assert_eq!(
            ids(resumed.events(3)),
            [2, 3, 5],
            "a resumed stream gets what it missed (not the DM it may not see), then new ones"
        );
        let online = app.expect("alice", "GET /get-list", "", 200);
        assert!(
            online
                .to_string()
                .contains(r#""username":"cy","ip":"127.0.0.1","port":9300,"online":true"#),
            "carol holds a stream, so her peer is online: {online}"
        );
        let refused = app.respond("carol", "GET /events", "Last-Event-ID: abc\r\n", "");
        assert_eq!(
            refused.status(),
            StatusCode::BAD_REQUEST,
            "a Last-Event-ID that is no id"
        );
        app.chat.close_streams();
    }

    /// Reads from `stream` until what has arrived contains `needle`.
    fn read_until(stream: &mut TcpStream, received: &mut Vec<u8>, needle: &str) {
        let mut piece = [0u8; 4096];
        while !String::from_utf8_lossy(received).contains(needle) {
            match stream.read(&mut piece) {
                Ok(0) => panic!(
                    "the server closed before sending {needle:?}; received: {:?}",
                    String::from_utf8_lossy(received)
                ),
                Ok(read) => received.extend_from_slice(&piece[..read]),
                Err(error) => panic!(
                    "waiting for {needle:?}: {error}; received: {:?}",
                    String::from_utf8_lossy(received)
                ),
            }
        }
    }

    #[test]
    fn events_arrive_over_a_real_http_connection_as_chunks() {
        let dir = TempDir::new("api");
        let app = App::with_peers(&dir);
        let router = mount(Router::new(), &app.chat, |handler| {
            move |request: &Request<'_>| handler(request, "carol")
        });
        let config = Config {
            clock: Clock::manual().0,
            quiet: true,
            ..Config::default()
        };
        let running = serve::start(([127, 0, 0, 1], 0).into(), router, config, 16).expect("start");
        let mut stream = TcpStream::connect(running.addr()).expect("connect");
        stream
            .set_read_timeout(Some(STEP_TIMEOUT))
            .expect("read timeout");
        stream
            .write_all(b"GET /events HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .expect("send request");
        let mut received = Vec::new();
        read_until(&mut stream, &mut received, ": connected\n\n");
        let head = String::from_utf8_lossy(&received).into_owned();
        assert!(
            head.starts_with("HTTP/1.1 200 OK\r\n")
                && head.contains("Content-Type: text/event-stream\r\n")
                && head.contains("Transfer-Encoding: chunked\r\n"),
            "an event stream over HTTP/1.1 is chunked: {head:?}"
        );
        let sent = app.broadcast("alice", "live");
        let event = sent.get("message").expect("EVENT").to_string();
        read_until(
            &mut stream,
            &mut received,
            &format!("id: 1\ndata: {event}\n\n"),
        );
        app.chat.close_streams();
        read_until(&mut stream, &mut received, "\r\n0\r\n\r\n");
        running.shutdown(Duration::from_secs(1));
    }
}
