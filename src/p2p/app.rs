//! The peer node's HTTP side: the routes of lab 4's UI, answered by this
//! node, so that the same `www/chat.html` works unchanged on top of a
//! different architecture (`docs/lab5_peer.md`, "One UI, two
//! architectures").
//!
//! | route | answered by | how |
//! |---|---|---|
//! | `POST /login` | the tracker, then the node | the credentials go to the tracker; on success the node keeps the tracker session and starts a local one (cookie `sessionid_PORT`) |
//! | `POST /logout` | the node | ends the local session and the tracker session |
//! | `POST /register` | the tracker | passed through |
//! | `GET /whoami` | the node | the local session's account |
//! | `POST /submit-info` | the tracker | the node puts its own p2p address in; the peer is hosted here |
//! | `POST /add-list`, `GET /get-list`, `POST /connect-peer` | the tracker | passed through with the tracker session |
//! | `POST /broadcast-peer`, `POST /send-peer` | the node | stored here, delivered peer to peer; `"unreached"`, `"queued"` |
//! | `POST /channel/messages`, `GET /events` | the node | from this node's own store |
//! | every file of `--www` | the node | the UI |
//!
//! Every route but the first three and the files needs a local session
//! whose account still has a tracker session here; without, the answer is
//! lab 3's JSON 401, and the UI goes to the login page.
//!
//! **Why the cookie carries the port.** Cookies do not tell ports apart
//! (RFC 6265 §8.5): a browser sends a cookie set by `127.0.0.1:9001` to
//! `127.0.0.1:9002` too. Three peer nodes on one machine, in three tabs of
//! one browser, would each overwrite the others' `sessionid`; named
//! `sessionid_9001`, `sessionid_9002`, … they live side by side.

use std::sync::Arc;

use super::node::{NodeError, PeerNode};
use super::tracker::{TrackerError, session_cookie};
use crate::auth::credentials::Credentials;
use crate::auth::reply::{NO_STORE, json_status};
use crate::auth::{Auth, Unauthorized};
use crate::chat::api::{self, sent_answer};
use crate::chat::site::CHAT_PAGE;
use crate::http::client::ClientResponse;
use crate::http::files::StaticFiles;
use crate::http::{Body, Handler, Method, Request, Response, Router, StatusCode};
use crate::json::{self, Value};

/// The headers of a tracker's answer that the node passes on to the
/// browser. Not `Set-Cookie`: the tracker session stays in the node.
const RELAYED_HEADERS: [&str; 5] = [
    "Content-Type",
    "Cache-Control",
    "Location",
    "Retry-After",
    "Allow",
];

/// A logged-in request: the account, and its tracker session.
struct Caller<'a> {
    account: &'a str,
    session: String,
}

/// A route for logged-in requests.
type NodeRoute = fn(&Arc<PeerNode>, &Request<'_>, &Caller<'_>) -> Result<Response, NodeError>;

/// The routes for logged-in requests.
const ROUTES: [(Method, &str, NodeRoute); 9] = [
    (Method::Get, "/whoami", whoami),
    (Method::Post, "/submit-info", submit_info),
    (Method::Post, "/add-list", relay),
    (Method::Get, "/get-list", relay),
    (Method::Post, "/connect-peer", relay),
    (Method::Post, "/broadcast-peer", broadcast_peer),
    (Method::Post, "/send-peer", send_peer),
    (Method::Post, "/channel/messages", channel_messages),
    (Method::Get, api::EVENTS_PATH, events),
];

/// The peer node's application: its routes, then the UI's files. `auth`
/// keeps the local sessions (its accounts are not used: the tracker has
/// them).
pub fn app(node: &Arc<PeerNode>, auth: &Arc<Auth>, files: StaticFiles) -> Router {
    let router = Router::new()
        .get("/", |_: &Request<'_>| {
            Response::redirect(StatusCode::SEE_OTHER, CHAT_PAGE)
        })
        .post("/login", with(node, auth, login))
        .post("/logout", with(node, auth, logout))
        .post("/register", with(node, auth, register))
        // Every answer of the API is JSON, errors included, as lab 4's.
        .errors(|status, message| json_status(status, "error", message));
    ROUTES
        .iter()
        .fold(router, |router, &(method, path, route)| {
            router.route(method, path, protect(node, auth, route))
        })
        .fallback(files)
}

/// A handler that calls `route` with the node and the sessions.
fn with(
    node: &Arc<PeerNode>,
    auth: &Arc<Auth>,
    route: fn(&PeerNode, &Auth, &Request<'_>) -> Response,
) -> impl Handler {
    let (node, auth) = (Arc::clone(node), Arc::clone(auth));
    move |request: &Request<'_>| route(&node, &auth, request)
}

/// `route`, for requests with a local session whose account is still
/// logged in at the tracker through this node.
fn protect(node: &Arc<PeerNode>, auth: &Arc<Auth>, route: NodeRoute) -> impl Handler {
    let (node, sessions) = (Arc::clone(node), Arc::clone(auth));
    auth.protect(move |request, account| {
        let Some(session) = node.session(account) else {
            // The tracker session ended: so does the local one.
            if let Some(id) = sessions.session_id(request) {
                sessions.sessions().remove(id);
            }
            return sessions.unauthorized(Unauthorized::Json, request);
        };
        let caller = Caller { account, session };
        route(&node, request, &caller).unwrap_or_else(|error| match error {
            NodeError::Chat(error) => api::error_answer(&error),
            NodeError::Tracker(TrackerError::LoggedOut) => {
                sessions.unauthorized(Unauthorized::Json, request)
            }
            NodeError::Tracker(error) => tracker_error(&error),
        })
    })
}

/// `POST /login`: the tracker checks the password; the node keeps the
/// tracker session and starts a local one.
fn login(node: &PeerNode, auth: &Auth, request: &Request<'_>) -> Response {
    let content_type = request.header("content-type");
    let credentials = match Credentials::read(content_type, request.body()) {
        Ok(credentials) => credentials,
        Err(error) => {
            return json_status(StatusCode::BAD_REQUEST, "bad_request", &error.to_string());
        }
    };
    let answer =
        match node
            .tracker()
            .forward(Method::Post, "/login", None, content_type, request.body())
        {
            Ok(answer) => answer,
            Err(error) => return tracker_error(&error),
        };
    // A refusal (401, 429, 400) is the tracker's to explain.
    let Some(tracker_session) = session_cookie(&answer) else {
        return relayed(&answer);
    };
    // A fresh local id at every login (no session fixation), as lab 3.
    if let Some(old) = auth.session_id(request) {
        auth.sessions().remove(old);
    }
    let local = match auth.sessions().create(&credentials.username) {
        Ok(id) => id,
        Err(error) => return internal_error("making a session id", &error),
    };
    node.link(&credentials.username, &tracker_session);
    auth.with_login_cookies(relayed(&answer), local.as_str())
        .unwrap_or_else(|error| internal_error("writing the cookies", &error))
}

/// `POST /logout`: ends the local session and the account's tracker
/// session (so this node stops taking messages for its peers: senders
/// queue them until the user is back).
fn logout(node: &PeerNode, auth: &Auth, request: &Request<'_>) -> Response {
    if let Some(id) = auth.session_id(request) {
        if let Some(account) = auth.sessions().lookup(id) {
            node.unlink(&account);
        }
        auth.sessions().remove(id);
    }
    let body = json::object([("status", Value::from("logged_out"))]);
    let response =
        Response::json(StatusCode::OK, body.to_string()).with_header("Cache-Control", NO_STORE);
    auth.with_logout_cookies(response)
        .unwrap_or_else(|error| internal_error("writing the cookies", &error))
}

/// `POST /register`: accounts live at the tracker.
fn register(node: &PeerNode, _: &Auth, request: &Request<'_>) -> Response {
    match node.tracker().forward(
        Method::Post,
        "/register",
        None,
        request.header("content-type"),
        request.body(),
    ) {
        Ok(answer) => relayed(&answer),
        Err(error) => tracker_error(&error),
    }
}

/// `GET /whoami`.
fn whoami(_: &Arc<PeerNode>, _: &Request<'_>, caller: &Caller<'_>) -> Result<Response, NodeError> {
    let body = json::object([("username", Value::from(caller.account))]);
    Ok(Response::json(StatusCode::OK, body.to_string()).with_header("Cache-Control", NO_STORE))
}

/// `POST /submit-info`: registered at this node's p2p address.
fn submit_info(
    node: &Arc<PeerNode>,
    request: &Request<'_>,
    caller: &Caller<'_>,
) -> Result<Response, NodeError> {
    let body = api::body_object(request)?;
    let name = api::required_text(&body, "username")?;
    let answer = node.register_peer(caller.account, &caller.session, name)?;
    Ok(ok_json(&Value::Object(answer)))
}

/// `/add-list`, `/get-list`, `/connect-peer`: the tracker's answer.
fn relay(
    node: &Arc<PeerNode>,
    request: &Request<'_>,
    caller: &Caller<'_>,
) -> Result<Response, NodeError> {
    let answer = node
        .tracker()
        .forward(
            request.method(),
            request.path(),
            Some(&caller.session),
            request.header("content-type"),
            request.body(),
        )
        .map_err(NodeError::Tracker)?;
    if answer.status == StatusCode::UNAUTHORIZED.as_u16() {
        return Err(node.tracker_failed(caller.account, TrackerError::LoggedOut));
    }
    Ok(relayed(&answer))
}

/// `POST /broadcast-peer`.
fn broadcast_peer(
    node: &Arc<PeerNode>,
    request: &Request<'_>,
    caller: &Caller<'_>,
) -> Result<Response, NodeError> {
    let body = api::body_object(request)?;
    let from = api::optional_text(&body, "from")?;
    let channel = api::required_text(&body, "channel")?;
    let text = api::required_text(&body, "message")?;
    let sent = node.broadcast(caller.account, from, channel, text)?;
    Ok(ok_json(&sent_answer(&sent.message, &sent.delivery)))
}

/// `POST /send-peer`.
fn send_peer(
    node: &Arc<PeerNode>,
    request: &Request<'_>,
    caller: &Caller<'_>,
) -> Result<Response, NodeError> {
    let body = api::body_object(request)?;
    let from = api::optional_text(&body, "from")?;
    let to = api::required_text(&body, "to")?;
    let channel = api::optional_text(&body, "channel")?;
    let text = api::required_text(&body, "message")?;
    let sent = node.send(caller.account, from, to, channel, text)?;
    Ok(ok_json(&sent_answer(&sent.message, &sent.delivery)))
}

/// `POST /channel/messages`: this node's history.
fn channel_messages(
    node: &Arc<PeerNode>,
    request: &Request<'_>,
    caller: &Caller<'_>,
) -> Result<Response, NodeError> {
    let (conversation, cursor, limit) = api::history_query(request)?;
    let messages = node.history(caller.account, &conversation, cursor, limit)?;
    Ok(ok_json(&api::messages_answer(&messages)))
}

/// `GET /events`: this node's new messages, live.
fn events(
    node: &Arc<PeerNode>,
    request: &Request<'_>,
    caller: &Caller<'_>,
) -> Result<Response, NodeError> {
    let node = Arc::clone(node);
    let account = caller.account.to_string();
    Ok(api::event_stream_answer(
        request,
        move |last_event_id, out| node.stream_events(&account, last_event_id, out),
    ))
}

/// A 200 with a JSON body.
fn ok_json(value: &Value) -> Response {
    Response::json(StatusCode::OK, value.to_string())
}

/// The answer for a tracker that refused (its status and message) or
/// failed (502).
fn tracker_error(error: &TrackerError) -> Response {
    let status = match error {
        TrackerError::Refused { status, .. } => {
            StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY)
        }
        TrackerError::LoggedOut => StatusCode::UNAUTHORIZED,
        TrackerError::Unreachable(_) | TrackerError::BadAnswer(_) => StatusCode::BAD_GATEWAY,
    };
    let message = match error {
        TrackerError::Refused { message, .. } => message.clone(),
        error => error.to_string(),
    };
    json_status(status, "error", &message)
}

/// The tracker's answer, for the browser: its status, its body and the
/// [`RELAYED_HEADERS`].
fn relayed(answer: &ClientResponse) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY);
    RELAYED_HEADERS
        .iter()
        .filter_map(|name| answer.header(name).map(|value| (*name, value)))
        .fold(Response::new(status), |response, (name, value)| {
            response.with_header(name, value.to_string())
        })
        .with_body(Body::Bytes(answer.body.clone().into()))
}

/// 500 for a failure of the node's own; the details go to the log.
fn internal_error(doing: &str, error: &dyn std::error::Error) -> Response {
    eprintln!("error: {doing}: {error}");
    json_status(
        StatusCode::INTERNAL_SERVER_ERROR,
        "error",
        &format!("the node failed while {doing}"),
    )
}
