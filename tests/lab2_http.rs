//! Grades lab 2: the HTTP/1.1 server. `cargo test --test lab2_http`.
//!
//! Every request is sent as raw bytes over a real socket — whole, one byte
//! at a time, pipelined, or deliberately broken — and every answer is read
//! off the wire. After each hostile request the server must still answer a
//! normal one. Failures name the section of `docs/lab2_http.md` to read.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use support::http::{HttpConn, RawResponse, exchange, get};
use support::{Example, Rng, TempDir, escape};
use weaprous::clock::{Clock, ManualClock};
use weaprous::http::client::Client;
use weaprous::http::files::StaticFiles;
use weaprous::http::{Config, Method, Request, Response, Router, StatusCode, demo, serve};
use weaprous::net::Running;

/// A lab 2 server over a fixture web root, with its clock and files.
struct Lab2 {
    running: Running,
    clock: Arc<ManualClock>,
    site: TempDir,
    index: Vec<u8>,
}

impl Lab2 {
    fn addr(&self) -> SocketAddr {
        self.running.addr()
    }
}

/// The fixture site: a random index page, one file of each type, a large
/// file, a subdirectory, and — outside the root — a secret that symlinks
/// inside the root point at.
fn fixture_site() -> (TempDir, Vec<u8>) {
    let site = TempDir::new("lab2");
    let mut rng = Rng::from_time();
    let index = format!(
        "<!doctype html><title>fixture</title><p>token {}</p>",
        rng.next_u64()
    )
    .into_bytes();
    site.write("www/index.html", &index);
    for (name, contents) in [
        ("www/style.css", &b"body { color: red }"[..]),
        ("www/app.js", b"console.log(1)"),
        ("www/data.json", b"{\"a\":1}"),
        ("www/pic.png", b"\x89PNG\r\n\x1a\n"),
        ("www/photo.jpg", b"\xff\xd8\xff"),
        ("www/logo.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
        ("www/favicon.ico", b"\0\0\x01\0"),
        ("www/notes.txt", b"plain text"),
        ("www/mod.wasm", b"\0asm\x01\0\0\0"),
        ("www/docs/index.html", b"<p>docs index</p>"),
        ("www/a file.txt", b"spaced"),
        ("www/.hidden", b"hidden"),
        ("secret.txt", b"TOP SECRET"),
    ] {
        site.write(name, contents);
    }
    site.write("www/big.bin", &rng.bytes(3 * 1024 * 1024 + 17));
    let www = site.path.join("www");
    let _ = std::os::unix::fs::symlink(site.path.join("secret.txt"), www.join("leak.txt"));
    let _ = std::os::unix::fs::symlink(&site.path, www.join("up"));
    (site, index)
}

fn start_with(config: Config, max_connections: usize) -> Lab2 {
    let (clock, hand) = Clock::manual();
    let (site, index) = fixture_site();
    let files = StaticFiles::new(site.path.join("www"), clock.clone()).expect("fixture root");
    let config = Config {
        clock,
        quiet: true,
        ..config
    };
    let running = serve::start(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        demo::app(files),
        config,
        max_connections,
    )
    .expect("start lab 2");
    Lab2 {
        running,
        clock: hand,
        site,
        index,
    }
}

/// Lab 2's server as its binary runs it: idle connections wait in the
/// event loop, whole requests are answered there.
fn start() -> Lab2 {
    start_with(lab2_config(), 64)
}

fn lab2_config() -> Config {
    Config {
        event_loop: true,
        ..Config::default()
    }
}

/// Asserts a status, showing the exchange when it is not.
fn expect_status(response: &RawResponse, sent: &[u8], status: u16, doc: &str) {
    assert_eq!(
        response.status,
        status,
        "\n  sent:     {}\n  received: {}\n  expected: status {status}\n  see:      docs/lab2_http.md, {doc}\n",
        escape(sent),
        escape(&response.raw)
    );
}

/// After a hostile request, the server must still answer a normal one.
fn expect_alive(addr: SocketAddr, after: &str) {
    let response = get(addr, "/hello");
    assert_eq!(
        response.status,
        200,
        "after {after}, a normal GET /hello should still get 200; got {}",
        escape(&response.raw)
    );
}

#[test]
fn lab2_get_serves_a_file_with_every_standard_header() {
    let lab = start();
    let sent = b"GET /index.html HTTP/1.1\r\nHost: test\r\n\r\n";
    let response = exchange(lab.addr(), sent);
    expect_status(&response, sent, 200, "\"Static files\"");
    assert_eq!(
        response.body, lab.index,
        "the body is the file, byte for byte"
    );
    for (name, expected) in [
        ("content-type", Some("text/html; charset=utf-8")),
        ("content-length", Some(lab.index.len().to_string().as_str())),
        ("server", Some("weaprous")),
    ] {
        assert_eq!(
            response.header(name),
            expected,
            "header {name} in {}",
            escape(&response.raw)
        );
    }
    for name in ["date", "etag", "last-modified"] {
        assert!(
            response.header(name).is_some(),
            "missing {name}: {}",
            escape(&response.raw)
        );
    }
    let date = response.header("date").unwrap_or_default();
    assert!(
        date.ends_with(" GMT") && date.len() == 29,
        "Date must be an IMF-fixdate like `Wed, 25 Nov 2026 12:00:00 GMT`, got {date:?} \
         (docs/lab2_http.md, \"Anatomy of a response\")"
    );
}

#[test]
fn lab2_slash_and_directories_serve_index_html() {
    let lab = start();
    let root = get(lab.addr(), "/");
    assert_eq!(root.status, 200, "{}", escape(&root.raw));
    assert_eq!(root.body, lab.index, "/ serves index.html");
    let docs = get(lab.addr(), "/docs/");
    assert_eq!(
        docs.text(),
        "<p>docs index</p>",
        "/docs/ serves docs/index.html"
    );
    let redirect = get(lab.addr(), "/docs");
    assert_eq!(
        (redirect.status, redirect.header("location")),
        (301, Some("/docs/")),
        "a directory without its slash is redirected to it, so relative links work: {}",
        escape(&redirect.raw)
    );
    let sneaky = get(lab.addr(), "//docs");
    assert_eq!(
        (sneaky.status, sneaky.header("location")),
        (301, Some("/docs/")),
        "GET //docs: the redirect keeps one leading slash (`//docs/` would send the browser to \
         the host `docs`); got {} (docs/lab2_http.md, \"Static files\")",
        escape(&sneaky.raw)
    );
    let spaced = get(lab.addr(), "/a%20file.txt");
    assert_eq!(
        spaced.text(),
        "spaced",
        "percent-decoded paths find their file"
    );
}

#[test]
fn lab2_content_types_follow_the_extension() {
    let lab = start();
    for (path, expected) in [
        ("/index.html", "text/html"),
        ("/style.css", "text/css"),
        ("/app.js", "text/javascript"),
        ("/data.json", "application/json"),
        ("/pic.png", "image/png"),
        ("/photo.jpg", "image/jpeg"),
        ("/logo.svg", "image/svg+xml"),
        ("/favicon.ico", "image/x-icon"),
        ("/notes.txt", "text/plain"),
        ("/mod.wasm", "application/wasm"),
    ] {
        let response = get(lab.addr(), path);
        let content_type = response.header("content-type").unwrap_or_default();
        assert!(
            content_type.starts_with(expected),
            "GET {path}: Content-Type {content_type:?}, expected {expected} \
             (docs/lab2_http.md, \"Static files\")"
        );
    }
}

#[test]
fn lab2_head_answers_like_get_without_the_body() {
    let lab = start();
    let mut conn = HttpConn::open(lab.addr());
    conn.send(b"HEAD /index.html HTTP/1.1\r\nHost: test\r\n\r\n");
    let head = conn.head_response();
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-length"),
        Some(lab.index.len().to_string().as_str())
    );
    // If the server had sent a body, it would be read as the next response.
    conn.send(b"GET /hello HTTP/1.1\r\nHost: test\r\n\r\n");
    let next = conn.response();
    assert_eq!(
        next.status,
        200,
        "after HEAD the next response must start right away — a HEAD response has no body \
         (docs/lab2_http.md, \"HEAD\"); got {}",
        escape(&next.raw)
    );
}

#[test]
fn lab2_etag_and_if_modified_since_give_304_until_the_file_changes() {
    let lab = start();
    let first = get(lab.addr(), "/notes.txt");
    let etag = first.header("etag").expect("an ETag").to_string();
    let modified = first
        .header("last-modified")
        .expect("Last-Modified")
        .to_string();

    for condition in [
        format!("If-None-Match: {etag}"),
        format!("If-None-Match: \"nope\", {etag}"),
        "If-None-Match: *".to_string(),
        format!("If-Modified-Since: {modified}"),
    ] {
        let sent = format!("GET /notes.txt HTTP/1.1\r\nHost: t\r\n{condition}\r\n\r\n");
        let response = exchange(lab.addr(), sent.as_bytes());
        expect_status(&response, sent.as_bytes(), 304, "\"Caching: ETag and 304\"");
        assert!(response.body.is_empty(), "a 304 has no body");
    }
    let stale = b"GET /notes.txt HTTP/1.1\r\nHost: t\r\nIf-None-Match: \"other\"\r\n\r\n";
    expect_status(
        &exchange(lab.addr(), stale),
        stale,
        200,
        "\"Caching: ETag and 304\"",
    );

    // Change the file, and let the cache's revalidation interval pass.
    lab.site
        .write("www/notes.txt", b"edited text, longer than before");
    lab.clock.advance(Duration::from_secs(2));
    let sent = format!("GET /notes.txt HTTP/1.1\r\nHost: t\r\nIf-None-Match: {etag}\r\n\r\n");
    let changed = exchange(lab.addr(), sent.as_bytes());
    expect_status(&changed, sent.as_bytes(), 200, "\"Caching: ETag and 304\"");
    assert_eq!(changed.text(), "edited text, longer than before");
    assert_ne!(
        changed.header("etag"),
        Some(etag.as_str()),
        "a changed file has a new ETag"
    );
}

#[test]
fn lab2_large_files_arrive_whole() {
    let lab = start();
    let expected = std::fs::read(lab.site.path.join("www/big.bin")).expect("fixture");
    let response = get(lab.addr(), "/big.bin");
    assert_eq!(response.status, 200);
    assert!(
        response.body == expected,
        "a {} byte file came back as {} bytes (docs/lab2_http.md, \"Static files\")",
        expected.len(),
        response.body.len()
    );
}

#[test]
fn lab2_paths_never_leave_the_root() {
    let lab = start();
    let hostile = [
        "/../secret.txt",
        "/../../../../../../etc/passwd",
        "/%2e%2e/secret.txt",
        "/%2E%2E/%2E%2E/etc/passwd",
        "/..%2fsecret.txt",
        "/docs/..%2f..%2fsecret.txt",
        "/docs/%2e%2e/%2e%2e/secret.txt",
        "/.%2e/secret.txt",
        "/%2e%2e%5csecret.txt",
        "/index.html%00.png",
        "/leak.txt",
        "/up/secret.txt",
        "/.hidden",
        "/%2ehidden",
    ];
    for path in hostile {
        let sent = format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        let response = exchange(lab.addr(), sent.as_bytes());
        assert!(
            (response.status == 404 || response.status == 403 || response.status == 400)
                && !response.text().contains("TOP SECRET")
                && response.text() != "hidden",
            "\n  sent:     {}\n  received: {}\n  expected: 404 (or 403/400), never the file\n  \
             see:      docs/lab2_http.md, \"Safe paths\"\n",
            escape(sent.as_bytes()),
            escape(&response.raw)
        );
    }
    expect_alive(lab.addr(), "path traversal attempts");
}

#[test]
fn lab2_hello_and_debug_request_routes() {
    let lab = start();
    let hello = get(lab.addr(), "/hello");
    assert_eq!(hello.text(), r#"{"message":"hello"}"#);
    assert_eq!(hello.header("content-type"), Some("application/json"));
    let sent = b"POST /debug/request?name=ann+lee HTTP/1.1\r\nHost: t\r\nX-Custom: yes\r\n\
                 Content-Length: 11\r\n\r\nhello world";
    let debug = exchange(lab.addr(), sent);
    let text = debug.text();
    for expected in [
        "POST",
        "\"name\" = \"ann lee\"",
        "X-Custom: yes",
        "11 bytes",
        "hello world",
    ] {
        assert!(
            text.contains(expected),
            "/debug/request should show {expected:?}; got:\n{text}"
        );
    }
    // A URL inside the query is the query's business, not the path's.
    let sent = b"GET /debug/request?next=http://x/index.html HTTP/1.1\r\nHost: t\r\n\r\n";
    let debug = exchange(lab.addr(), sent);
    assert!(
        debug.text().contains("path:       /debug/request\n"),
        "\n  sent:     {}\n  received: {}\n  expected: path /debug/request (the `://` is in the \
         query)\n  see:      docs/lab2_http.md, \"Routing\"\n",
        escape(sent),
        escape(&debug.raw)
    );
}

#[test]
fn lab2_keep_alive_by_version_and_connection_header() {
    let lab = start();
    // HTTP/1.1: persistent by default.
    let mut conn = HttpConn::open(lab.addr());
    for _ in 0..3 {
        conn.send(b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(
            conn.response().status,
            200,
            "three requests on one HTTP/1.1 connection"
        );
    }
    // HTTP/1.1 with Connection: close: the server closes after answering.
    conn.send(b"GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    let last = conn.response();
    assert_eq!(
        last.header("connection"),
        Some("close"),
        "{}",
        escape(&last.raw)
    );
    conn.expect_closed("the client sent Connection: close (docs/lab2_http.md, \"Keep-alive\")");

    // HTTP/1.0: closes by default...
    let mut conn = HttpConn::open(lab.addr());
    conn.send(b"GET /hello HTTP/1.0\r\n\r\n");
    assert_eq!(conn.response().status, 200);
    conn.expect_closed("HTTP/1.0 without keep-alive (docs/lab2_http.md, \"Keep-alive\")");
    // ...unless it asks for keep-alive.
    let mut conn = HttpConn::open(lab.addr());
    conn.send(b"GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let response = conn.response();
    assert_eq!(
        response.header("connection"),
        Some("keep-alive"),
        "{}",
        escape(&response.raw)
    );
    conn.send(b"GET /hello HTTP/1.0\r\n\r\n");
    assert_eq!(
        conn.response().status,
        200,
        "the HTTP/1.0 keep-alive connection stayed open"
    );
}

#[test]
fn lab2_pipelined_requests_are_answered_in_order() {
    let lab = start();
    let mut conn = HttpConn::open(lab.addr());
    conn.send(
        b"GET /notes.txt HTTP/1.1\r\nHost: t\r\n\r\n\
          POST /debug/request HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nfirst\
          GET /hello HTTP/1.1\r\nHost: t\r\n\r\n\
          GET /style.css HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    let bodies: Vec<String> = (0..4).map(|_| conn.response().text()).collect();
    assert_eq!(bodies[0], "plain text", "pipelined response 1 of 4");
    assert!(
        bodies[1].contains("first"),
        "pipelined response 2 of 4: {}",
        bodies[1]
    );
    assert_eq!(
        bodies[2], r#"{"message":"hello"}"#,
        "pipelined response 3 of 4"
    );
    assert_eq!(
        bodies[3], "body { color: red }",
        "pipelined response 4 of 4"
    );
    conn.expect_closed("the last pipelined request said Connection: close");
}

#[test]
fn lab2_a_request_written_one_byte_at_a_time_works() {
    let lab = start();
    let mut conn = HttpConn::open(lab.addr());
    let request = b"POST /debug/request HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nbody";
    for byte in request {
        conn.send(&[*byte]);
    }
    let response = conn.response();
    assert!(
        response.status == 200 && response.text().contains("4 bytes"),
        "one read is not one request: the server must keep reading until the head and the \
         body are complete (docs/lab2_http.md, \"The parser\"); got {}",
        escape(&response.raw)
    );
}

#[test]
fn lab2_chunked_request_bodies_are_decoded() {
    let lab = start();
    let sent = b"POST /debug/request HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
                 5\r\nhello\r\n7;note=ext\r\n, world\r\n0\r\n\r\n";
    let mut conn = HttpConn::open(lab.addr());
    conn.send(sent);
    let response = conn.response();
    expect_status(
        &response,
        sent,
        200,
        "\"Bodies: Content-Length and chunked\"",
    );
    assert!(
        response.text().contains("12 bytes") && response.text().contains("hello, world"),
        "the handler should see the decoded body `hello, world`; got {}",
        response.text()
    );
    conn.send(b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(
        conn.response().status,
        200,
        "the connection goes on after a chunked body"
    );
}

#[test]
fn lab2_expect_100_continue_is_answered_before_the_body() {
    let lab = start();
    let mut conn = HttpConn::open(lab.addr());
    conn.send(b"POST /debug/request HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\nExpect: 100-continue\r\n\r\n");
    let interim = conn.response();
    assert_eq!(
        interim.status,
        100,
        "the client waits for `100 Continue` before it sends the body \
         (docs/lab2_http.md, \"Expect: 100-continue\"); got {}",
        escape(&interim.raw)
    );
    conn.send(b"a body");
    let response = conn.response();
    assert!(response.status == 200 && response.text().contains("a body"));

    // Too large: the final status comes at once, no 100.
    let sent = b"POST /debug/request HTTP/1.1\r\nHost: t\r\nContent-Length: 2000000\r\nExpect: 100-continue\r\n\r\n";
    let response = exchange(lab.addr(), sent);
    expect_status(&response, sent, 413, "\"Expect: 100-continue\"");
}

/// Hostile and malformed requests: each gets its status, then the
/// connection closes, and the server lives on.
#[test]
fn lab2_malformed_requests_get_their_status_and_a_closed_connection() {
    let lab = start();
    let long_uri = format!("GET /{} HTTP/1.1\r\nHost: t\r\n\r\n", "a".repeat(9 * 1024));
    let many_headers = format!(
        "GET / HTTP/1.1\r\nHost: t\r\n{}\r\n",
        (0..101)
            .map(|i| format!("X-H{i}: v\r\n"))
            .collect::<String>()
    );
    let big_head = format!(
        "GET / HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n",
        "b".repeat(17 * 1024)
    );
    // Within every line limit, but 80 KiB of trailer fields after one byte
    // of data: framing has a total limit of its own, like the data.
    let endless_trailer = format!(
        "POST /debug/request HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
         1\r\na\r\n0\r\n{}\r\n",
        format!("X-Trailer: {}\r\n", "t".repeat(1000)).repeat(80)
    );
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("garbage request line", b"HELLO\r\n\r\n".to_vec(), 400, "\"Errors\""),
        ("two spaces in the request line", b"GET  / HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(), 400, "\"Errors\""),
        ("target without a slash", b"GET index.html HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(), 400, "\"Errors\""),
        ("header without a colon", b"GET / HTTP/1.1\r\nHost: t\r\nBroken\r\n\r\n".to_vec(), 400, "\"Errors\""),
        ("space before the colon", b"GET / HTTP/1.1\r\nHost : t\r\n\r\n".to_vec(), 400, "\"Errors\""),
        ("bare CR", b"GET / HTTP/1.1\r\nHost: t\rX: y\r\n\r\n".to_vec(), 400, "\"Errors\""),
        ("NUL in a header", b"GET / HTTP/1.1\r\nHost: t\r\nX: a\0b\r\n\r\n".to_vec(), 400, "\"Errors\""),
        ("folded header", b"GET / HTTP/1.1\r\nHost: t\r\nX: a\r\n  b\r\n\r\n".to_vec(), 400, "\"Errors\""),
        ("HTTP/1.1 without Host", b"GET / HTTP/1.1\r\n\r\n".to_vec(), 400, "\"Host\""),
        ("two Host headers", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n".to_vec(), 400, "\"Host\""),
        ("non-numeric Content-Length", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: ten\r\n\r\n".to_vec(), 400, "\"Bodies: Content-Length and chunked\""),
        ("negative Content-Length", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: -5\r\n\r\n".to_vec(), 400, "\"Bodies: Content-Length and chunked\""),
        ("conflicting Content-Length", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd".to_vec(), 400, "\"Bodies: Content-Length and chunked\""),
        ("Content-Length with Transfer-Encoding", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".to_vec(), 400, "\"Request smuggling\""),
        ("malformed chunk", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".to_vec(), 400, "\"Bodies: Content-Length and chunked\""),
        ("unknown transfer coding", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n".to_vec(), 501, "\"Errors\""),
        ("unknown method", b"BREW /pot HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(), 501, "\"Errors\""),
        ("HTTP/2.0", b"GET / HTTP/2.0\r\nHost: t\r\n\r\n".to_vec(), 505, "\"Errors\""),
        ("HTTP/3.0", b"GET / HTTP/3.0\r\nHost: t\r\n\r\n".to_vec(), 505, "\"Errors\""),
        ("URI over 8 KiB", long_uri.into_bytes(), 414, "\"Limits\""),
        ("101 headers", many_headers.into_bytes(), 431, "\"Limits\""),
        ("head over 16 KiB", big_head.into_bytes(), 431, "\"Limits\""),
        ("body over 1 MiB", b"POST /debug/request HTTP/1.1\r\nHost: t\r\nContent-Length: 1048577\r\n\r\n".to_vec(), 413, "\"Limits\""),
        ("chunked body over 1 MiB", b"POST /debug/request HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n100001\r\n".to_vec(), 413, "\"Limits\""),
        ("80 KiB of chunked trailer fields", endless_trailer.into_bytes(), 413, "\"Limits\""),
        ("Expect other than 100-continue", b"POST / HTTP/1.1\r\nHost: t\r\nExpect: magic\r\nContent-Length: 1\r\n\r\nx".to_vec(), 417, "\"Expect: 100-continue\""),
    ];
    for (name, sent, status, doc) in &cases {
        let mut conn = HttpConn::open(lab.addr());
        conn.send(sent);
        let response = conn.response();
        assert_eq!(
            response.status,
            *status,
            "\n  case:     {name}\n  sent:     {}\n  received: {}\n  expected: status {status}\n  see:      docs/lab2_http.md, {doc}\n",
            escape(sent),
            escape(&response.raw)
        );
        conn.expect_closed(&format!(
            "after {status} for {name} the server cannot know where the next request starts"
        ));
        expect_alive(lab.addr(), name);
    }
}

#[test]
fn lab2_route_errors_keep_the_connection_open() {
    let lab = start();
    let mut conn = HttpConn::open(lab.addr());
    conn.send(b"DELETE /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    let not_allowed = conn.response();
    assert_eq!(not_allowed.status, 405, "{}", escape(&not_allowed.raw));
    assert_eq!(
        not_allowed.header("allow"),
        Some("GET, HEAD, OPTIONS"),
        "a 405 lists the methods the path takes (docs/lab2_http.md, \"Routing\")"
    );
    conn.send(b"GET /no/such/file HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(conn.response().status, 404);
    conn.send(b"GET /hello/ HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(
        conn.response().status,
        200,
        "after a 405 and a 404 the connection is still open, and /hello/ reaches /hello"
    );
}

#[test]
fn lab2_slowloris_is_cut_off_by_one_total_head_deadline() {
    let lab = start();
    let mut conn = HttpConn::open(lab.addr());
    // One write: a whole request, then the start of a second one. When the
    // first answer arrives, the server has read the second request's first
    // bytes too, at the test clock's time 0 — its head deadline is running.
    conn.send(b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\nGET /hello HTTP/1.1\r\nHost: t\r\n");
    assert_eq!(conn.response().status, 200);
    // Trickle a header every 4 s (by the test's clock): each arrives well
    // before a 10 s deadline that every byte would reset. But the deadline
    // is one total for the whole head, and 12 s have passed.
    for header in [&b"X-A: 1\r\n"[..], b"X-B: 2\r\n", b"X-C: 3\r\n"] {
        lab.clock.advance(Duration::from_secs(4));
        conn.send(header);
    }
    let response = conn.response();
    assert_eq!(
        response.status,
        408,
        "the head took 12 s to arrive, past the 10 s head deadline, even though bytes kept \
         coming (docs/lab2_http.md, \"Slowloris\"); got {}",
        escape(&response.raw)
    );
    conn.expect_closed("after 408");
    expect_alive(lab.addr(), "a slowloris client");
}

#[test]
fn lab2_a_body_that_stalls_is_cut_off_by_its_deadline() {
    let lab = start();
    let mut conn = HttpConn::open(lab.addr());
    // `100 Continue` proves the server has the head and its body deadline runs.
    conn.send(b"POST /debug/request HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n");
    assert_eq!(conn.response().status, 100);
    conn.send(b"12345");
    lab.clock.advance(Duration::from_secs(31));
    conn.send(b"6");
    let response = conn.response();
    assert_eq!(
        response.status,
        408,
        "half a body, then nothing for 31 s (past the 30 s body deadline): expected 408 \
         (docs/lab2_http.md, \"Slowloris\"); got {}",
        escape(&response.raw)
    );
    conn.expect_closed("after 408");
}

#[test]
fn lab2_idle_keep_alive_connections_are_closed() {
    // The real clock here: an idle connection sends nothing that would make
    // the server look at a test clock, so the server's own timer must
    // notice — the event loop's sweep, or a thread's socket timeout. The
    // test only waits for the close; it never sleeps.
    for event_loop in [true, false] {
        let (site, _) = fixture_site();
        let files = StaticFiles::new(site.path.join("www"), Clock::system()).expect("fixture root");
        let config = Config {
            idle_timeout: Duration::from_millis(100),
            quiet: true,
            event_loop,
            ..Config::default()
        };
        let running = serve::start(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            demo::app(files),
            config,
            8,
        )
        .expect("start");
        let mut conn = HttpConn::open(running.addr());
        conn.send(b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(conn.response().status, 200);
        let extra = conn.expect_closed(&format!(
            "idle keep-alive timeout, with event_loop: {event_loop} \
             (docs/lab2_http.md, \"Keep-alive\")"
        ));
        assert!(
            extra.is_empty(),
            "an idle close sends nothing, got {}",
            escape(&extra)
        );
    }
}

#[test]
fn lab2_a_client_that_does_not_read_its_answers_holds_up_no_one() {
    // Two answers of 8 MiB, more than the socket buffers hold, to a client
    // that does not read them: the event loop must not wait for it.
    const BIG: usize = 8 * 1024 * 1024;
    let big: Arc<[u8]> = (0..BIG).map(|i| (i % 251) as u8).collect();
    let body = Arc::clone(&big);
    let router = Router::new()
        .get("/big", move |_: &Request| {
            Response::new(StatusCode::OK).with_body(weaprous::http::Body::Shared(Arc::clone(&body)))
        })
        .get("/small", |_: &Request| {
            Response::text(StatusCode::OK, "small")
        });
    let running = serve::start(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        router,
        Config {
            quiet: true,
            ..lab2_config()
        },
        64,
    )
    .expect("start");
    let mut slow = HttpConn::open(running.addr());
    slow.send(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\nGET /big HTTP/1.1\r\nHost: t\r\n\r\n");
    // Connections are spread over the loops by number (one loop per core,
    // at most 16): among the next 16, one shares the slow client's loop.
    for others in 0..16 {
        let mut conn = HttpConn::open(running.addr());
        conn.send(b"GET /small HTTP/1.1\r\nHost: t\r\n\r\n");
        let why = format!(
            "client {others} asked for /small while another client left 16 MiB of answers \
             unread; the server must go on serving everyone (docs/lab2_http.md, \
             \"Where idle connections wait\")"
        );
        let response = conn
            .read_response(false)
            .unwrap_or_else(|error| panic!("{why}; no answer: {error}"));
        assert_eq!(
            (response.status, response.text()),
            (200, "small".to_string()),
            "{why}; got {}",
            escape(&response.raw)
        );
    }
    for which in ["first", "second"] {
        let response = slow.response();
        assert!(
            response.status == 200 && response.body[..] == big[..],
            "the {which} 8 MiB answer, read late, must arrive whole and in order: \
             status {}, {} bytes",
            response.status,
            response.body.len()
        );
    }
}

#[test]
fn lab2_bytes_left_after_a_close_never_reach_another_client() {
    let lab = start();
    // An HTTP/1.0 request closes its connection after the answer; the
    // start of a POST sent behind it is never read as a request...
    let mut closing = HttpConn::open(lab.addr());
    closing.send(
        b"GET /hello HTTP/1.0\r\n\r\n\
          POST /debug/request HTTP/1.1\r\nHost: a\r\nContent-Length: 300\r\n\r\n",
    );
    assert_eq!(closing.response().status, 200);
    closing.expect_closed("after an HTTP/1.0 answer");
    // ...and must not become the start of the next client's request, on
    // whichever loop it is served (one per core, at most 16).
    for client in 0..16 {
        let mut conn = HttpConn::open(lab.addr());
        conn.send(b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
        let why = format!(
            "client {client} sent GET /hello after another client's connection closed with \
             unread bytes; it must get its own answer (docs/lab2_http.md, \"Where idle \
             connections wait\")"
        );
        let response = conn
            .read_response(false)
            .unwrap_or_else(|error| panic!("{why}; no answer: {error}"));
        assert_eq!(
            response.text(),
            r#"{"message":"hello"}"#,
            "{why}; got {}",
            escape(&response.raw)
        );
    }
}

#[test]
fn lab2_idle_connections_wait_without_a_thread_each() {
    let (site, _) = fixture_site();
    let www = site.path.join("www");
    let server = Example::start(
        "lab2_http",
        &[
            "--port",
            "0",
            "--quiet",
            "--www",
            www.to_str().expect("UTF-8 path"),
        ],
    );
    // A burst of new connections may start a few dozen threads, which then
    // wait in the pool for more work (at most 64, `src/workers.rs`), beside
    // the loops (one per core, at most 16) and the accept thread: far fewer
    // than a thread for each of 300 connections.
    const IDLE: usize = 300;
    let mut conns: Vec<HttpConn> = (0..IDLE).map(|_| HttpConn::open(server.addr)).collect();
    for conn in &mut conns {
        conn.send(b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(conn.response().status, 200);
    }
    let threads = server.threads();
    assert!(
        threads < IDLE / 2,
        "with {IDLE} idle keep-alive connections open, lab2_http runs {threads} threads; idle \
         connections should wait in the event loop, not in a thread each \
         (docs/lab2_http.md, \"Where idle connections wait\")"
    );
    for conn in &mut conns {
        conn.send(b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(
            conn.response().status,
            200,
            "an idle connection is served again"
        );
    }
}

#[test]
fn lab2_a_panicking_handler_is_a_500_and_the_server_lives_on() {
    let router = Router::new()
        .get("/boom", |_: &Request| -> Response {
            panic!("deliberate test panic")
        })
        .get("/ok", |_: &Request| Response::text(StatusCode::OK, "fine"));
    let config = Config {
        quiet: true,
        ..Config::default()
    };
    let running =
        serve::start(SocketAddr::from(([127, 0, 0, 1], 0)), router, config, 8).expect("start");
    let mut conn = HttpConn::open(running.addr());
    conn.send(b"GET /boom HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(
        conn.response().status,
        500,
        "a panic in a handler becomes 500"
    );
    conn.send(b"GET /ok HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(
        conn.response().text(),
        "fine",
        "the same connection goes on after the 500"
    );
}

#[test]
fn lab2_over_the_connection_cap_clients_get_503() {
    let lab = start_with(Config::default(), 1);
    let mut first = HttpConn::open(lab.addr());
    first.send(b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(first.response().status, 200);
    let mut second = HttpConn::open(lab.addr());
    let refused = second
        .read_response(false)
        .expect("a response, not silence");
    assert_eq!(
        (refused.status, refused.header("retry-after").is_some()),
        (503, true),
        "with --max-connections 1 and one client connected, the next gets 503 with Retry-After; got {}",
        escape(&refused.raw)
    );
}

#[test]
fn lab2_client_reuses_its_connection_and_reads_every_framing() {
    let router = Router::new()
        .get("/port", |request: &Request| {
            Response::text(StatusCode::OK, request.peer().port().to_string())
        })
        .get("/stream", |_: &Request| {
            Response::stream(StatusCode::OK, "text/plain", |out| {
                for part in ["one ", "two ", "three"] {
                    out.write_all(part.as_bytes())?;
                }
                Ok(())
            })
        })
        .post("/echo", |request: &Request| {
            Response::with_content(
                StatusCode::OK,
                "application/octet-stream",
                request.body().to_vec(),
            )
        });
    let config = Config {
        quiet: true,
        ..Config::default()
    };
    let running =
        serve::start(SocketAddr::from(([127, 0, 0, 1], 0)), router, config, 8).expect("start");
    let (mut client, _) = Client::for_url(&format!("http://{}/", running.addr())).expect("URL");
    let first = client.get("/port").expect("first request");
    let second = client.get("/port").expect("second request");
    assert_eq!(
        first.text(),
        second.text(),
        "both requests came from the same client port: one connection"
    );
    let streamed = client.get("/stream").expect("chunked response");
    assert_eq!(streamed.text(), "one two three");
    let payload = Rng::from_time().bytes(200_000);
    let echoed = client
        .request(
            Method::Post,
            "/echo",
            &[("Content-Type", "application/octet-stream")],
            &payload,
        )
        .expect("large POST");
    assert!(
        echoed.body == payload,
        "200,000 bytes posted and echoed back"
    );
}

#[test]
fn lab2_client_times_out_on_a_silent_server() {
    // A listener that accepts and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = silent.local_addr().expect("addr");
    let mut client = Client::new(addr).with_timeout(Duration::from_millis(200));
    let error = client.get("/").expect_err("no answer is an error");
    assert!(error.is_timeout(), "expected a timeout, got {error}");
}

#[test]
fn lab2_real_binary_serves_files_and_logs_each_request() {
    let (site, index) = fixture_site();
    let www = site.path.join("www");
    let server = Example::start(
        "lab2_http",
        &["--port", "0", "--www", www.to_str().expect("UTF-8 path")],
    );
    let response = get(server.addr, "/");
    assert_eq!(response.body, index, "the binary serves --www");
    let hello = get(server.addr, "/hello");
    assert_eq!(hello.status, 200);
    let line = server.wait_for_log("GET /hello 200");
    let fields: Vec<&str> = line.split(' ').collect();
    assert!(
        fields.len() == 5 && fields[3] == "19" && fields[4].parse::<u64>().is_ok(),
        "expected a log line `METHOD PATH STATUS BYTES MICROS` like `GET /hello 200 19 153`, \
         got {line:?} (docs/lab2_http.md, \"Running it\")"
    );
    // Values that would break the server later — a timeout of 0 means
    // "never" to a socket, one of 2^64 s overflows the clock — are flag
    // errors: one line, exit code 2.
    for args in [
        &["--www", "/no/such/dir"][..],
        &["--head-timeout", "0"],
        &["--idle-timeout", "18446744073709551615"],
        &["--max-body", "18446744073709551615"],
    ] {
        let (code, _, stderr) = support::run_example("lab2_http", args);
        assert!(
            code == Some(2)
                && stderr.starts_with("error: ")
                && stderr.trim_end().lines().count() == 1,
            "lab2_http {args:?} is a flag error: expected one `error:` line and exit code 2, \
             got {code:?} {stderr:?} (docs/lab2_http.md, \"Running it\")"
        );
    }
}
