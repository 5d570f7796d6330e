//! Grades lab 3: cookie sessions and login. `cargo test --test lab3_auth`.
//!
//! Every exchange is raw bytes over a real socket, read back with the
//! graders' own reader (`support::http`), against the lab 3 application
//! started in-process on port 0 with a manual clock (sessions expire and
//! lockouts end without a single sleep) and the low test iteration count.
//! One test runs the real `lab3_auth` binary. Failures name the section of
//! `docs/lab3_auth.md` to read.

mod support;

use std::borrow::Cow;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use support::http::{HttpConn, RawResponse, exchange};
use support::{Example, Failure, TempDir};
use weaprous::auth::app::{Auth, AuthConfig};
use weaprous::auth::demo;
use weaprous::auth::password::TEST_ITERATIONS;
use weaprous::auth::session::{DEFAULT_ABSOLUTE_TIMEOUT, DEFAULT_IDLE_TIMEOUT};
use weaprous::auth::throttle::{DEFAULT_LOCKOUT, DEFAULT_MAX_FAILURES};
use weaprous::clock::{Clock, ManualClock};
use weaprous::http::files::StaticFiles;
use weaprous::http::request::{Limits, Status, parse_head};
use weaprous::http::{Config, Handler, Request, Response, Router, StatusCode, serve};
use weaprous::net::Running;

/// The kit's own web pages: the grader checks the real login and home pages.
const WWW: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/www");

const DOC: &str = "docs/lab3_auth.md";
const LOGIN_OK: &str = r#"{"status":"authorized","message":"Login successful"}"#;
const LOGIN_BAD: &str = r#"{"status":"unauthorized","message":"Invalid username or password"}"#;
const JSON: &str = "application/json";
const FORM: &str = "application/x-www-form-urlencoded";
const ADMIN: &str = r#"{"username":"admin","password":"password"}"#;

/// A lab 3 server started in-process, its clock, and its data directory.
struct Lab3 {
    running: Running,
    clock: Arc<ManualClock>,
    /// Kept so that the directory lives as long as the server.
    _data: TempDir,
}

impl Lab3 {
    fn addr(&self) -> SocketAddr {
        self.running.addr()
    }
}

fn test_config() -> AuthConfig {
    AuthConfig {
        iterations: TEST_ITERATIONS,
        ..AuthConfig::default()
    }
}

/// Opens the accounts in `data` and serves the lab 3 application on port 0.
fn serve_lab3(data: &Path, clock: Clock) -> (Running, Arc<Auth>) {
    let auth = Auth::open(data, test_config(), clock.clone()).expect("open the accounts");
    let files = StaticFiles::new(WWW, clock.clone()).expect("the kit's www directory");
    let config = Config {
        clock,
        quiet: true,
        ..Config::default()
    };
    let running = serve::start(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        demo::app(&auth, files),
        config,
        64,
    )
    .expect("start lab 3");
    (running, auth)
}

fn start() -> Lab3 {
    let (clock, hand) = Clock::manual();
    let data = TempDir::new("lab3");
    let (running, _) = serve_lab3(&data.path, clock);
    Lab3 {
        running,
        clock: hand,
        _data: data,
    }
}

/// A request's bytes: `method path`, the given headers, and the body with
/// its `Content-Length`.
fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: test\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if method == "POST" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// Sends a request on a new connection; returns what was sent and the answer.
fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (Vec<u8>, RawResponse) {
    let sent = request(method, path, headers, body);
    let response = exchange(addr, &sent);
    (sent, response)
}

/// Fails with the kit's message unless `check` holds.
fn expect(
    check: bool,
    step: &str,
    sent: &[u8],
    response: &RawResponse,
    expected: &str,
    section: &str,
) {
    assert!(
        check,
        "{}",
        Failure {
            step,
            sent,
            received: &response.raw,
            expected,
            doc: &format!("{DOC}, \"{section}\""),
        }
    );
}

/// Fails unless the answer has `status` and, when given, exactly `body`.
fn expect_answer(
    (sent, response): &(Vec<u8>, RawResponse),
    step: &str,
    status: u16,
    body: Option<&str>,
    section: &str,
) {
    let expected = match body {
        Some(body) => format!("status {status} with body {body}"),
        None => format!("status {status}"),
    };
    let ok = response.status == status && body.is_none_or(|body| response.text() == body);
    expect(ok, step, sent, response, &expected, section);
}

/// The `Set-Cookie` header for cookie `name`, if any.
fn set_cookie<'r>(response: &'r RawResponse, name: &str) -> Option<&'r str> {
    response
        .header_all("set-cookie")
        .into_iter()
        .find(|value| value.starts_with(&format!("{name}=")))
}

/// The value of cookie `name` in a `Set-Cookie` header.
fn cookie_value<'r>(response: &'r RawResponse, name: &str) -> Option<&'r str> {
    let header = set_cookie(response, name)?;
    header[name.len() + 1..].split(';').next()
}

/// Logs in with a JSON body and returns the session id.
fn login(addr: SocketAddr, username: &str, password: &str) -> String {
    let body = format!(r#"{{"username":"{username}","password":"{password}"}}"#);
    let exchange = send(
        addr,
        "POST",
        "/login",
        &[("Content-Type", JSON)],
        body.as_bytes(),
    );
    expect_answer(
        &exchange,
        &format!("log in as {username}"),
        200,
        Some(LOGIN_OK),
        "The contract",
    );
    let (sent, response) = &exchange;
    let id = cookie_value(response, "sessionid");
    expect(
        id.is_some(),
        "log in: the session cookie",
        sent,
        response,
        "a Set-Cookie: sessionid=<32 hex>",
        "The contract",
    );
    id.unwrap_or_default().to_string()
}

/// `GET /whoami` with the given `Cookie` header (or none).
fn whoami(addr: SocketAddr, cookie: Option<&str>) -> (Vec<u8>, RawResponse) {
    let headers: Vec<(&str, &str)> = cookie
        .map(|cookie| ("Cookie", cookie))
        .into_iter()
        .collect();
    send(addr, "GET", "/whoami", &headers, b"")
}

/// `GET /whoami` with `Cookie: cookie`; fails unless the answer is `200
/// {"username": user}` when a `user` is given, `401` when it is not.
fn expect_whoami(addr: SocketAddr, cookie: &str, user: Option<&str>, step: &str, section: &str) {
    let exchange = whoami(addr, Some(cookie));
    match user {
        Some(user) => {
            let body = format!(r#"{{"username":"{user}"}}"#);
            expect_answer(&exchange, step, 200, Some(&body), section);
        }
        None => expect_answer(&exchange, step, 401, None, section),
    }
}

fn session_cookie(id: &str) -> String {
    format!("sessionid={id}")
}

fn is_32_hex(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[test]
fn lab3_json_login_answers_200_with_both_cookies() {
    let lab = start();
    let exchange = send(
        lab.addr(),
        "POST",
        "/login",
        &[("Content-Type", JSON)],
        ADMIN.as_bytes(),
    );
    expect_answer(
        &exchange,
        "log in as admin",
        200,
        Some(LOGIN_OK),
        "The contract",
    );
    let (sent, response) = &exchange;
    let session = set_cookie(response, "sessionid").unwrap_or_default();
    let id = cookie_value(response, "sessionid").unwrap_or_default();
    let attributes: Vec<&str> = session.split("; ").skip(1).collect();
    let max_age = format!("Max-Age={}", DEFAULT_ABSOLUTE_TIMEOUT.as_secs());
    for wanted in ["HttpOnly", "SameSite=Strict", "Path=/", max_age.as_str()] {
        expect(
            attributes.contains(&wanted),
            &format!("the session cookie's attribute {wanted}"),
            sent,
            response,
            &format!(
                "Set-Cookie: sessionid=<32 hex>; Path=/; {max_age}; HttpOnly; SameSite=Strict"
            ),
            "What each cookie attribute stops",
        );
    }
    expect(
        is_32_hex(id),
        "the session id",
        sent,
        response,
        "32 lowercase hex characters (128 random bits)",
        "Session ids",
    );
    expect(
        cookie_value(response, "auth") == Some("true"),
        "the course's cookie",
        sent,
        response,
        "a Set-Cookie: auth=true as well",
        "The contract",
    );
    expect(
        response.header("content-type") == Some(JSON),
        "the content type",
        sent,
        response,
        "Content-Type: application/json",
        "The contract",
    );
    expect_whoami(
        lab.addr(),
        &session_cookie(id),
        Some("admin"),
        "whoami with the new session",
        "The contract",
    );
}

#[test]
fn lab3_login_accepts_what_the_course_clients_send() {
    let lab = start();
    // (what sends it, path, Content-Type, body)
    let cases: &[(&str, &str, Option<&str>, &str)] = &[
        (
            "fetch with a JSON string body",
            "/login",
            Some("text/plain;charset=UTF-8"),
            ADMIN,
        ),
        ("a JSON client", "/login", Some(JSON), ADMIN),
        (
            "a JSON client, with the route's trailing slash",
            "/login/",
            Some(JSON),
            ADMIN,
        ),
        (
            "curl -d with JSON (labelled as a form)",
            "/login",
            Some(FORM),
            ADMIN,
        ),
        ("a client that sends no Content-Type", "/login", None, ADMIN),
        (
            "JSON with spaces, other fields and escapes",
            "/login",
            Some(JSON),
            "\r\n {\"remember\": true, \"password\": \"pass\\u0077ord\", \"username\": \"admin\"} ",
        ),
    ];
    for (client, path, content_type, body) in cases {
        let headers: Vec<(&str, &str)> = content_type
            .map(|value| ("Content-Type", value))
            .into_iter()
            .collect();
        let exchange = send(lab.addr(), "POST", path, &headers, body.as_bytes());
        expect_answer(
            &exchange,
            client,
            200,
            Some(LOGIN_OK),
            "Which bodies a login accepts",
        );
        let (sent, response) = &exchange;
        expect(
            cookie_value(response, "sessionid").is_some_and(is_32_hex),
            client,
            sent,
            response,
            "a session cookie",
            "Which bodies a login accepts",
        );
    }
}

#[test]
fn lab3_form_login_redirects_with_303_and_a_failed_one_gets_a_401_page() {
    let lab = start();
    let exchange = send(
        lab.addr(),
        "POST",
        "/login/",
        &[("Content-Type", FORM)],
        b"username=admin&password=password",
    );
    let (sent, response) = &exchange;
    expect(
        response.status == 303 && response.header("location") == Some("/"),
        "a plain HTML form logs in",
        sent,
        response,
        "303 See Other with Location: / (Post/Redirect/Get)",
        "Post/Redirect/Get",
    );
    let id = cookie_value(response, "sessionid").unwrap_or_default();
    expect(
        is_32_hex(id) && cookie_value(response, "auth") == Some("true"),
        "the form login's cookies",
        sent,
        response,
        "the same two cookies as a JSON login",
        "The contract",
    );
    // The browser follows the redirect with the cookie: the home page.
    let (sent, home) = send(
        lab.addr(),
        "GET",
        "/",
        &[("Cookie", &session_cookie(id))],
        b"",
    );
    let page = std::fs::read(Path::new(WWW).join("index.html")).expect("www/index.html");
    expect(
        home.status == 200 && home.body == page,
        "GET / after the form login",
        &sent,
        &home,
        "200 with www/index.html",
        "The contract",
    );

    let exchange = send(
        lab.addr(),
        "POST",
        "/login",
        &[("Content-Type", FORM)],
        b"username=admin&password=wrong",
    );
    let (sent, failed) = &exchange;
    expect(
        failed.status == 401
            && failed
                .header("content-type")
                .is_some_and(|t| t.starts_with("text/html"))
            && failed.text().contains("Invalid username or password")
            && failed.text().contains("/login.html")
            && set_cookie(failed, "sessionid").is_none(),
        "a failed form login",
        sent,
        failed,
        "401, an HTML page saying `Invalid username or password` with a link to /login.html, no cookie",
        "The contract",
    );
}

#[test]
fn lab3_wrong_name_or_password_is_401_with_one_message() {
    let lab = start();
    let cases = [
        (
            "a wrong password",
            r#"{"username":"admin","password":"Password"}"#,
        ),
        (
            "an unknown user",
            r#"{"username":"nobody","password":"password"}"#,
        ),
        (
            "an empty name and password",
            r#"{"username":"","password":""}"#,
        ),
        (
            "the password as the name",
            r#"{"username":"password","password":"admin"}"#,
        ),
    ];
    for (case, body) in cases {
        let exchange = send(
            lab.addr(),
            "POST",
            "/login",
            &[("Content-Type", JSON)],
            body.as_bytes(),
        );
        expect_answer(&exchange, case, 401, Some(LOGIN_BAD), "The contract");
        let (sent, response) = &exchange;
        expect(
            response.header_all("set-cookie").is_empty(),
            case,
            sent,
            response,
            "no Set-Cookie on a failed login",
            "The contract",
        );
    }
}

/// A hostile body: the case, its Content-Type, the body, the status
/// expected, and a part of the answer's text expected.
type BodyCase<'a> = (&'a str, Option<&'a str>, Vec<u8>, u16, &'a str);

#[test]
fn lab3_hostile_bodies_get_a_400_that_says_what_is_wrong() {
    let lab = start();
    let long_name = "a".repeat(400 * 1024);
    let huge_fields = format!(r#"{{"username":"{long_name}","password":"{long_name}"}}"#);
    let cases: Vec<BodyCase> = vec![
        (
            "an empty body",
            Some(JSON),
            b"".to_vec(),
            400,
            "not valid JSON",
        ),
        (
            "malformed JSON",
            Some(JSON),
            b"{\"username\":\"admin\",".to_vec(),
            400,
            "not valid JSON",
        ),
        (
            "single quotes",
            Some(JSON),
            b"{'username':'admin','password':'password'}".to_vec(),
            400,
            "not valid JSON",
        ),
        (
            "a trailing comma",
            Some(JSON),
            b"{\"username\":\"admin\",\"password\":\"password\",}".to_vec(),
            400,
            "not valid JSON",
        ),
        (
            "a duplicated field",
            Some(JSON),
            br#"{"username":"nobody","username":"admin","password":"password"}"#.to_vec(),
            400,
            "appears twice",
        ),
        (
            "a missing password",
            Some(JSON),
            br#"{"username":"admin"}"#.to_vec(),
            400,
            "\\\"password\\\" is missing",
        ),
        (
            "a missing username",
            Some(JSON),
            br#"{"password":"password"}"#.to_vec(),
            400,
            "\\\"username\\\" is missing",
        ),
        (
            "a number for a name",
            Some(JSON),
            br#"{"username":42,"password":"password"}"#.to_vec(),
            400,
            "must be a string",
        ),
        (
            "null for a password",
            Some(JSON),
            br#"{"username":"admin","password":null}"#.to_vec(),
            400,
            "must be a string",
        ),
        (
            "an object for a name",
            Some(JSON),
            br#"{"username":{"$ne":""},"password":"x"}"#.to_vec(),
            400,
            "must be a string",
        ),
        (
            "an array",
            Some(JSON),
            br#"["admin","password"]"#.to_vec(),
            400,
            "JSON object",
        ),
        (
            "deep nesting",
            Some(JSON),
            "[".repeat(100_000).into_bytes(),
            400,
            "not valid JSON",
        ),
        (
            "bytes that are not UTF-8",
            Some(JSON),
            b"{\"username\":\"\xff\xfe\"}".to_vec(),
            400,
            "not UTF-8",
        ),
        (
            "a form as text/plain",
            Some("text/plain"),
            b"username=admin&password=password".to_vec(),
            400,
            "not valid JSON",
        ),
        (
            "multipart/form-data",
            Some("multipart/form-data; boundary=x"),
            b"--x\r\n".to_vec(),
            400,
            "not valid JSON",
        ),
        (
            "a form missing its password",
            Some(FORM),
            b"username=admin".to_vec(),
            400,
            "is missing",
        ),
        (
            "a form with the name twice",
            Some(FORM),
            b"username=x&username=admin&password=password".to_vec(),
            400,
            "more than once",
        ),
        (
            "a form with a bad escape",
            Some(FORM),
            b"username=admin&password=%zz".to_vec(),
            400,
            "does not decode",
        ),
        (
            "400 KiB name and password",
            Some(JSON),
            huge_fields.into_bytes(),
            401,
            "Invalid username or password",
        ),
    ];
    for (case, content_type, body, status, part) in &cases {
        let headers: Vec<(&str, &str)> = content_type
            .map(|value| ("Content-Type", value))
            .into_iter()
            .collect();
        let exchange = send(lab.addr(), "POST", "/login", &headers, body);
        let (sent, response) = &exchange;
        let json: Option<serde_json::Value> = serde_json::from_slice(&response.body).ok();
        let status_word = if *status == 400 {
            "bad_request"
        } else {
            "unauthorized"
        };
        expect(
            response.status == *status
                && json.as_ref().and_then(|v| v["status"].as_str()) == Some(status_word)
                && response.text().contains(part),
            case,
            sent,
            response,
            &format!(
                "{status} with JSON {{\"status\":\"{status_word}\",\"message\":…}} mentioning {part:?}"
            ),
            "Which bodies a login accepts",
        );
    }
    // Over lab 2's body limit, with a Content-Length or chunked: 413 before
    // the login ever runs.
    for (case, sent) in [
        ("a body over 1 MiB", b"POST /login HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 1048577\r\n\r\n{\"username\":\"".to_vec()),
        ("a chunked body over 1 MiB", b"POST /login HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n100001\r\n{".to_vec()),
    ] {
        let response = exchange(lab.addr(), &sent);
        expect(response.status == 413, case, &sent, &response, "413 Content Too Large", "Which bodies a login accepts");
    }
    // After all that, a normal login still works.
    login(lab.addr(), "admin", "password");
}

#[test]
fn lab3_session_ids_are_distinct_and_128_bits() {
    let lab = start();
    let mut seen = HashSet::new();
    for round in 0..200 {
        let id = login(lab.addr(), "admin", "password");
        assert!(
            is_32_hex(&id),
            "login {round}: session id {id:?} is not 32 lowercase hex characters \
             ({DOC}, \"Session ids\")"
        );
        assert!(
            seen.insert(id.clone()),
            "login {round}: session id {id} was handed out before ({DOC}, \"Session ids\")"
        );
    }
}

#[test]
fn lab3_only_a_live_session_opens_a_protected_route() {
    let lab = start();
    let live = login(lab.addr(), "admin", "password");
    let ended = login(lab.addr(), "admin", "password");
    let (sent, response) = send(
        lab.addr(),
        "POST",
        "/logout",
        &[("Cookie", &session_cookie(&ended))],
        b"",
    );
    expect(
        response.status == 200,
        "log out a second session",
        &sent,
        &response,
        "200",
        "The contract",
    );
    let forged = "0123456789abcdef0123456789abcdef";
    let cases = [
        ("no cookie at all".to_string(), None),
        (
            "only the course's auth=true".to_string(),
            Some("auth=true".to_string()),
        ),
        (
            "auth=true and an empty sessionid".to_string(),
            Some("auth=true; sessionid=".to_string()),
        ),
        (
            "a forged id of the right shape".to_string(),
            Some(format!("auth=true; sessionid={forged}")),
        ),
        ("a logged-out id".to_string(), Some(session_cookie(&ended))),
        (
            "the live id in upper case".to_string(),
            Some(session_cookie(&live.to_uppercase())),
        ),
        (
            "the live id cut short".to_string(),
            Some(session_cookie(&live[..31])),
        ),
        (
            "the live id under another name".to_string(),
            Some(format!("session={live}; SESSIONID={live}")),
        ),
    ];
    for (case, cookie) in &cases {
        let (sent, response) = whoami(lab.addr(), cookie.as_deref());
        let json: Option<serde_json::Value> = serde_json::from_slice(&response.body).ok();
        expect(
            response.status == 401
                && json.as_ref().and_then(|v| v["status"].as_str()) == Some("unauthorized")
                && response.header("www-authenticate").is_some(),
            &format!("GET /whoami with {case}"),
            &sent,
            &response,
            "401 with {\"status\":\"unauthorized\",…} and a WWW-Authenticate challenge",
            "Why `auth=true` is not a login",
        );
    }
    for cookie in [
        session_cookie(&live),
        format!("auth=false; sessionid={live}; theme=dark"),
        format!("sessionid=\"{live}\""),
    ] {
        expect_whoami(
            lab.addr(),
            &cookie,
            Some("admin"),
            &format!("GET /whoami with Cookie: {cookie}"),
            "The contract",
        );
    }
}

#[test]
fn lab3_the_home_page_is_protected_however_it_is_spelt_and_the_rest_is_public() {
    let lab = start();
    for target in [
        "/",
        "/index.html",
        "/index.html/",
        "//index.html",
        "/./index.html",
        "/Index.HTML",
        "/%69ndex.html",
        "/%2e/index.html",
        "/?x=1",
    ] {
        for cookie in [None, Some("auth=true")] {
            let headers: Vec<(&str, &str)> = cookie.map(|c| ("Cookie", c)).into_iter().collect();
            let (sent, response) = send(lab.addr(), "GET", target, &headers, b"");
            expect(
                response.status == 401
                    && response
                        .header("content-type")
                        .is_some_and(|t| t.starts_with("text/html"))
                    && response.text().contains("href=\"/login.html"),
                &format!("GET {target} without a session"),
                &sent,
                &response,
                "401 with an HTML page linking to /login.html",
                "The contract",
            );
        }
    }
    let sent = request("HEAD", "/", &[], b"");
    let mut conn = HttpConn::open(lab.addr());
    conn.send(&sent);
    let head = conn.head_response();
    expect(
        head.status == 401,
        "HEAD / without a session",
        &sent,
        &head,
        "401",
        "The contract",
    );
    for (path, content_type) in [("/login.html", "text/html"), ("/style.css", "text/css")] {
        let (sent, response) = send(lab.addr(), "GET", path, &[], b"");
        expect(
            response.status == 200
                && response
                    .header("content-type")
                    .is_some_and(|t| t.starts_with(content_type)),
            &format!("GET {path} without a session"),
            &sent,
            &response,
            &format!("200 {content_type}: it is public"),
            "The contract",
        );
    }
}

#[test]
fn lab3_sessions_expire_when_idle_and_at_the_absolute_timeout() {
    let lab = start();
    let id = login(lab.addr(), "admin", "password");
    let cookie = session_cookie(&id);
    let minute = Duration::from_secs(60);
    let idle_minutes = (DEFAULT_IDLE_TIMEOUT.as_secs() / 60) as u32;
    for step in 1..=3 {
        lab.clock.advance(minute * (idle_minutes - 1));
        expect_whoami(
            lab.addr(),
            &cookie,
            Some("admin"),
            &format!(
                "used again {} min after the last use, step {step}",
                idle_minutes - 1
            ),
            "Expiry is the server's job",
        );
    }
    lab.clock.advance(DEFAULT_IDLE_TIMEOUT);
    expect_whoami(
        lab.addr(),
        &cookie,
        None,
        "used again after the whole idle timeout",
        "Expiry is the server's job",
    );

    // A busy session still ends 12 h after its login.
    let id = login(lab.addr(), "admin", "password");
    let cookie = session_cookie(&id);
    let step = minute * 25;
    let mut used = Duration::ZERO;
    while used + step < DEFAULT_ABSOLUTE_TIMEOUT {
        lab.clock.advance(step);
        used += step;
        expect_whoami(
            lab.addr(),
            &cookie,
            Some("admin"),
            &format!("a busy session, {} min after login", used.as_secs() / 60),
            "Expiry is the server's job",
        );
    }
    lab.clock.advance(DEFAULT_ABSOLUTE_TIMEOUT - used);
    expect_whoami(
        lab.addr(),
        &cookie,
        None,
        "a busy session at the absolute timeout",
        "Expiry is the server's job",
    );
}

#[test]
fn lab3_logout_ends_the_session_and_expires_both_cookies() {
    let lab = start();
    let id = login(lab.addr(), "admin", "password");
    let cookie = format!("{}; auth=true", session_cookie(&id));
    let exchange = send(lab.addr(), "POST", "/logout/", &[("Cookie", &cookie)], b"");
    expect_answer(
        &exchange,
        "log out",
        200,
        Some(r#"{"status":"logged_out"}"#),
        "The contract",
    );
    let (sent, response) = &exchange;
    for name in ["sessionid", "auth"] {
        let header = set_cookie(response, name).unwrap_or_default();
        expect(
            header.contains("Max-Age=0") && header.contains("Path=/"),
            &format!("the logout's {name} cookie"),
            sent,
            response,
            &format!("Set-Cookie: {name}=; Path=/; Max-Age=0 …, which makes the browser delete it"),
            "The contract",
        );
    }
    expect_whoami(
        lab.addr(),
        &cookie,
        None,
        "the old session id after logout",
        "How a cookie makes a session",
    );
    let exchange = send(lab.addr(), "POST", "/logout", &[], b"");
    expect_answer(
        &exchange,
        "log out without a session",
        200,
        Some(r#"{"status":"logged_out"}"#),
        "The contract",
    );
    let exchange = send(lab.addr(), "GET", "/logout", &[], b"");
    expect_answer(
        &exchange,
        "GET /logout (the route is POST only)",
        405,
        None,
        "The contract",
    );
}

#[test]
fn lab3_a_new_login_replaces_the_session_it_was_sent_with() {
    let lab = start();
    let first = login(lab.addr(), "admin", "password");
    let (sent, response) = send(
        lab.addr(),
        "POST",
        "/login",
        &[("Content-Type", JSON), ("Cookie", &session_cookie(&first))],
        ADMIN.as_bytes(),
    );
    let second = cookie_value(&response, "sessionid")
        .unwrap_or_default()
        .to_string();
    expect(
        response.status == 200 && is_32_hex(&second) && second != first,
        "log in again with the old cookie",
        &sent,
        &response,
        "200 and a new session id, never the one the browser brought",
        "Session ids",
    );
    expect_whoami(
        lab.addr(),
        &session_cookie(&first),
        None,
        "the replaced session",
        "Session ids",
    );
    expect_whoami(
        lab.addr(),
        &session_cookie(&second),
        Some("admin"),
        "the new session",
        "Session ids",
    );
}

#[test]
fn lab3_register_creates_accounts_and_refuses_bad_or_taken_names() {
    let lab = start();
    let register = |body: &str| {
        send(
            lab.addr(),
            "POST",
            "/register",
            &[("Content-Type", JSON)],
            body.as_bytes(),
        )
    };
    let exchange = register(r#"{"username":"alice","password":"correct horse"}"#);
    expect_answer(&exchange, "register alice", 201, None, "The contract");
    let id = login(lab.addr(), "alice", "correct horse");
    expect_whoami(
        lab.addr(),
        &session_cookie(&id),
        Some("alice"),
        "whoami as alice",
        "The contract",
    );
    let long = "n".repeat(33);
    let cases = [
        (
            "alice again",
            r#"{"username":"alice","password":"another one"}"#.to_string(),
            409,
        ),
        (
            "the demo account's name",
            r#"{"username":"admin","password":"12345678"}"#.to_string(),
            409,
        ),
        (
            "a 7-character password",
            r#"{"username":"bob","password":"1234567"}"#.to_string(),
            400,
        ),
        (
            "a name with a space",
            r#"{"username":"bo b","password":"12345678"}"#.to_string(),
            400,
        ),
        (
            "a name with markup",
            r#"{"username":"<b>","password":"12345678"}"#.to_string(),
            400,
        ),
        (
            "a 33-character name",
            format!(r#"{{"username":"{long}","password":"12345678"}}"#),
            400,
        ),
        (
            "an empty name",
            r#"{"username":"","password":"12345678"}"#.to_string(),
            400,
        ),
        ("no password", r#"{"username":"bob"}"#.to_string(), 400),
    ];
    for (case, body, status) in &cases {
        let exchange = register(body);
        expect_answer(
            &exchange,
            &format!("register {case}"),
            *status,
            None,
            "The contract",
        );
    }
    let exchange = send(
        lab.addr(),
        "POST",
        "/register/",
        &[("Content-Type", FORM)],
        b"username=bob.b-1_x&password=12345678",
    );
    expect_answer(
        &exchange,
        "register with a form and a trailing slash",
        201,
        None,
        "The contract",
    );
    let exchange = send(
        lab.addr(),
        "POST",
        "/login",
        &[("Content-Type", JSON)],
        br#"{"username":"alice","password":"another one"}"#,
    );
    expect_answer(
        &exchange,
        "alice's password after a refused re-registration",
        401,
        Some(LOGIN_BAD),
        "The contract",
    );
}

#[test]
fn lab3_repeated_failures_lock_the_pair_with_429_and_retry_after() {
    let lab = start();
    let wrong = br#"{"username":"admin","password":"guess"}"#;
    for attempt in 1..=DEFAULT_MAX_FAILURES {
        let exchange = send(
            lab.addr(),
            "POST",
            "/login",
            &[("Content-Type", JSON)],
            wrong,
        );
        expect_answer(
            &exchange,
            &format!("wrong password, attempt {attempt}"),
            401,
            Some(LOGIN_BAD),
            "Throttling",
        );
    }
    let lockout = DEFAULT_LOCKOUT.as_secs().to_string();
    for (case, content_type, body) in [
        ("the right password while locked", JSON, ADMIN.as_bytes()),
        (
            "a form login while locked",
            FORM,
            &b"username=admin&password=password"[..],
        ),
    ] {
        let (sent, response) = send(
            lab.addr(),
            "POST",
            "/login",
            &[("Content-Type", content_type)],
            body,
        );
        expect(
            response.status == 429
                && response.header("retry-after") == Some(lockout.as_str())
                && set_cookie(&response, "sessionid").is_none(),
            case,
            &sent,
            &response,
            &format!("429 Too Many Requests with Retry-After: {lockout} and no cookie"),
            "Throttling",
        );
    }
    let (sent, response) = send(
        lab.addr(),
        "POST",
        "/login",
        &[("Content-Type", JSON)],
        ADMIN.as_bytes(),
    );
    let json: Option<serde_json::Value> = serde_json::from_slice(&response.body).ok();
    expect(
        json.as_ref().and_then(|v| v["status"].as_str()) == Some("too_many_requests"),
        "the JSON of a 429",
        &sent,
        &response,
        "{\"status\":\"too_many_requests\",\"message\":…}",
        "Throttling",
    );
    // Another user from the same address is not locked.
    let register = send(
        lab.addr(),
        "POST",
        "/register",
        &[("Content-Type", JSON)],
        br#"{"username":"bob","password":"12345678"}"#,
    );
    expect_answer(&register, "register bob", 201, None, "Throttling");
    login(lab.addr(), "bob", "12345678");
    // After the lockout, admin may try again, and the right password works.
    lab.clock.advance(DEFAULT_LOCKOUT);
    login(lab.addr(), "admin", "password");
}

/// Answers `POST /login` for `body` as if it came from `ip`, in-process:
/// every test socket comes from 127.0.0.1, so the grader builds the request
/// itself to see the throttle key on the client's address.
fn login_from(app: &Router, ip: [u8; 4], body: &str) -> Response {
    let raw = request("POST", "/login", &[("Content-Type", JSON)], b"");
    let Ok(Status::Complete(head)) = parse_head(&raw, &Limits::default()) else {
        panic!("the grader's own request did not parse: {raw:?}");
    };
    let mut request = Request::new(
        head,
        Cow::Borrowed(body.as_bytes()),
        SocketAddr::from((ip, 40000)),
    );
    app.handle(&mut request)
}

#[test]
fn lab3_the_lockout_is_per_username_and_client_address() {
    let (clock, _) = Clock::manual();
    let data = TempDir::new("lab3-ip");
    let auth = Auth::open(&data.path, test_config(), clock.clone()).expect("open the accounts");
    let app = demo::app(&auth, StaticFiles::new(WWW, clock).expect("www"));
    let home = [192, 0, 2, 1];
    let cafe = [198, 51, 100, 7];
    let wrong = r#"{"username":"admin","password":"guess"}"#;
    for _ in 0..DEFAULT_MAX_FAILURES {
        login_from(&app, home, wrong);
    }
    let locked = login_from(&app, home, ADMIN);
    assert_eq!(
        locked.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "admin from 192.0.2.1 after {DEFAULT_MAX_FAILURES} failures: expected 429 ({DOC}, \"Throttling\")"
    );
    let elsewhere = login_from(&app, cafe, ADMIN);
    assert_eq!(
        elsewhere.status(),
        StatusCode::OK,
        "admin from 198.51.100.7 should not be locked by failures from 192.0.2.1 ({DOC}, \"Throttling\")"
    );
}

#[test]
fn lab3_accounts_survive_a_restart_on_the_same_data_directory() {
    let (clock, _) = Clock::manual();
    let data = TempDir::new("lab3-restart");
    let (running, _) = serve_lab3(&data.path, clock.clone());
    let exchange = send(
        running.addr(),
        "POST",
        "/register",
        &[("Content-Type", JSON)],
        br#"{"username":"carol","password":"s3cret-pass"}"#,
    );
    expect_answer(&exchange, "register carol", 201, None, "The accounts file");
    let id = login(running.addr(), "carol", "s3cret-pass");
    running.shutdown(Duration::from_secs(5));

    let (running, _) = serve_lab3(&data.path, clock);
    login(running.addr(), "carol", "s3cret-pass");
    expect_whoami(
        running.addr(),
        &session_cookie(&id),
        None,
        "a session from before the restart",
        "Expiry is the server's job",
    );
    let text = std::fs::read_to_string(data.path.join("accounts.txt")).unwrap_or_default();
    assert!(
        text.lines()
            .any(|line| line.starts_with("carol:pbkdf2-sha256$"))
            && !text.contains("s3cret"),
        "accounts.txt should hold carol's salted hash, never her password; it holds:\n{text}\n\
         ({DOC}, \"The accounts file\")"
    );
}

#[test]
fn lab3_the_cookie_name_is_a_setting_for_protected_routes() {
    let (clock, _) = Clock::manual();
    let data = TempDir::new("lab3-name");
    let config = AuthConfig {
        cookie_name: "sessionid_9101".to_string(),
        ..test_config()
    };
    let auth = Auth::open(&data.path, config, clock.clone()).expect("open the accounts");
    let app = auth.routes(Router::new()).post(
        "/echo",
        auth.protect(|request, user| {
            Response::text(
                StatusCode::OK,
                format!("{user}:{}", String::from_utf8_lossy(request.body())),
            )
        }),
    );
    let running = serve::start(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        app,
        Config {
            clock,
            quiet: true,
            ..Config::default()
        },
        8,
    )
    .expect("start");
    let (_, response) = send(
        running.addr(),
        "POST",
        "/login",
        &[("Content-Type", JSON)],
        ADMIN.as_bytes(),
    );
    let id = cookie_value(&response, "sessionid_9101")
        .unwrap_or_default()
        .to_string();
    assert!(
        is_32_hex(&id),
        "login should set sessionid_9101: {}",
        support::escape(&response.raw)
    );
    let exchange = send(
        running.addr(),
        "POST",
        "/echo",
        &[("Cookie", &format!("sessionid_9101={id}"))],
        b"hi",
    );
    expect_answer(
        &exchange,
        "a protected route with the named cookie",
        200,
        Some("admin:hi"),
        "Protecting routes in later labs",
    );
    let exchange = send(
        running.addr(),
        "POST",
        "/echo",
        &[("Cookie", &format!("sessionid={id}"))],
        b"hi",
    );
    expect_answer(
        &exchange,
        "the same id under the default name",
        401,
        None,
        "Protecting routes in later labs",
    );
}

#[test]
fn lab3_real_binary_logs_in_and_refuses_a_forged_auth_cookie() {
    let data = TempDir::new("lab3-binary");
    let data_dir = data.path.join("state");
    let server = Example::start(
        "lab3_auth",
        &[
            "--port",
            "0",
            "--iterations",
            "1000",
            "--data",
            data_dir.to_str().expect("UTF-8 path"),
        ],
    );
    let forged = send(server.addr, "GET", "/", &[("Cookie", "auth=true")], b"");
    expect_answer(
        &forged,
        "GET / with a forged auth=true",
        401,
        None,
        "Why `auth=true` is not a login",
    );
    let register = send(
        server.addr,
        "POST",
        "/register",
        &[("Content-Type", JSON)],
        br#"{"username":"dave","password":"12345678"}"#,
    );
    expect_answer(
        &register,
        "register dave on the binary",
        201,
        None,
        "Running it",
    );
    let id = login(server.addr, "dave", "12345678");
    expect_whoami(
        server.addr,
        &session_cookie(&id),
        Some("dave"),
        "whoami on the binary",
        "Running it",
    );
    server.wait_for_log("GET /whoami 200");
    assert!(
        data_dir.join("accounts.txt").is_file(),
        "the binary should create --data and keep accounts.txt in it ({DOC}, \"Running it\")"
    );
    let (code, _, stderr) = support::run_example("lab3_auth", &["--iterations", "0"]);
    assert_eq!(code, Some(2), "--iterations 0 is a flag error: {stderr}");
}
