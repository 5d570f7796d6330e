//! What a proxy changes in the heads it passes on (RFC 9110 §7.6), and how
//! it frames each body for the next hop (RFC 9112 §6.3).
//!
//! **Hop-by-hop fields** describe one connection, not the message: the
//! `Connection` field, every field it names, and `Keep-Alive`,
//! `Proxy-Connection`, `TE`, `Transfer-Encoding` and `Upgrade`
//! (§7.6.1). They are dropped in both directions, and the body is framed
//! again: `Content-Length` when its length is known, chunked otherwise
//! (or, for an HTTP/1.0 client, by closing the connection). `Trailer` is
//! dropped too, since trailers are not forwarded (the chunked decoder
//! skips them, RFC 9112 §7.1.2).
//!
//! **Added to a request**: `X-Forwarded-For` (the client's address, after
//! the list a proxy before us may have started), `X-Forwarded-Host` (the
//! `Host` the client asked for), `X-Forwarded-Proto`, and `Via` (§7.6.3).
//! `Host` becomes the backend's `IP:PORT` — nginx's default — unless the
//! site says `proxy_set_header Host $host`. A `proxy_set_header` replaces
//! the client's field of that name; an empty value removes it. `Expect`
//! is not forwarded: the proxy answers `100 Continue` itself.
//!
//! **Added to a response**: `Via`, and for `dist_policy sticky` the
//! cookie that names the backend.

use std::borrow::Cow;

use super::balance::STICKY_COOKIE;
use super::config::{SetHeader, Vars};
use super::upstream::{BadResponse, ResponseHead};
use super::wire::Framing;
use crate::auth::cookie::{SameSite, SetCookie};
use crate::http::body::{Framing as RequestFraming, request_framing};
use crate::http::headers::{Headers, trim_whitespace};
use crate::http::method::{Method, Version};
use crate::http::request::{Head, Limits};
use crate::http::url;

/// How the proxy names itself in `Via`: the protocol it received, and a
/// pseudonym in place of its host name (§7.6.3).
pub const VIA: &str = "1.1 weaprous";

/// Fields dropped from every forwarded message, besides those the
/// `Connection` field names (RFC 9110 §7.6.1, plus `Trailer`).
pub const HOP_BY_HOP: [&str; 7] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "transfer-encoding",
    "upgrade",
    "trailer",
];

/// Writes the head of the request as it goes to a backend (whose address
/// is `vars.proxy_host`): the request line in origin form, the client's
/// end-to-end fields, the proxy's own, and the body's framing.
pub fn write_request_head(
    out: &mut Vec<u8>,
    head: &Head<'_>,
    framing: Framing,
    vars: &Vars<'_>,
    set_headers: &[SetHeader],
) {
    // lab6: begin — drop hop-by-hop fields, add the forwarding ones, frame the body again
    let fields = &head.headers;
    out.extend_from_slice(head.method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(origin_form(head.target).as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");

    // The fields this proxy decides, by name; `None` removes the field.
    let client_ip = vars.remote_addr.to_string();
    let mut own: Vec<(&str, Option<Vec<u8>>)> = vec![
        ("Host", Some(vars.proxy_host.to_string().into_bytes())),
        (
            "X-Forwarded-For",
            Some(append_to_list(fields, "x-forwarded-for", &client_ip)),
        ),
        (
            "X-Forwarded-Host",
            (!vars.http_host.is_empty()).then(|| vars.http_host.as_bytes().to_vec()),
        ),
        ("X-Forwarded-Proto", Some(b"http".to_vec())),
        ("Via", Some(append_to_list(fields, "via", VIA))),
    ];
    for set in set_headers {
        let mut value = set.value.expand(vars).into_bytes();
        if value.is_empty() && set.name.eq_ignore_ascii_case("host") {
            // HTTP/1.1 requires a Host (RFC 9112 §3.2): one that expands to
            // nothing — `$host` for an HTTP/1.0 client that sent none —
            // stays the backend's address.
            value = vars.proxy_host.to_string().into_bytes();
        }
        let value = (!value.is_empty()).then_some(value);
        match own
            .iter_mut()
            .find(|(name, _)| name.eq_ignore_ascii_case(&set.name))
        {
            Some(field) => field.1 = value,
            None => own.push((&set.name, value)),
        }
    }

    let named = connection_options(fields);
    for field in fields.iter() {
        let replaced = own
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case(field.name));
        let reframed = ["content-length", "expect"]
            .iter()
            .any(|name| field.name.eq_ignore_ascii_case(name));
        if !replaced && !reframed && !is_hop_by_hop(field.name, &named) {
            push_field(out, field.name, field.value);
        }
    }
    for (name, value) in &own {
        if let Some(value) = value {
            push_field(out, name, value);
        }
    }
    push_framing(out, framing);
    out.extend_from_slice(b"\r\n");
    // lab6: end
}

/// Writes the head of the response as it goes to the client: the backend's
/// status and end-to-end fields, `Via`, the sticky cookie if one is to be
/// set, and the framing and `Connection` fields for the client's hop.
pub fn write_response_head(
    out: &mut Vec<u8>,
    head: &ResponseHead<'_>,
    framing: Framing,
    keep_alive: bool,
    client_version: Version,
    sticky_id: Option<&str>,
) {
    // The proxy speaks HTTP/1.1 on every hop (RFC 9110 §6.2); the backend's
    // reason phrase is kept.
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(head.status.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(head.reason);
    out.extend_from_slice(b"\r\n");
    let named = connection_options(&head.headers);
    for field in head.headers.iter() {
        // A response without a body keeps its Content-Length: for HEAD and
        // 304 it tells the size of the body not sent.
        let reframed =
            field.name.eq_ignore_ascii_case("content-length") && framing != Framing::Empty;
        let via = field.name.eq_ignore_ascii_case("via");
        if !reframed && !via && !is_hop_by_hop(field.name, &named) {
            push_field(out, field.name, field.value);
        }
    }
    push_field(out, "Via", &append_to_list(&head.headers, "via", VIA));
    if let Some(cookie) = sticky_id.and_then(sticky_set_cookie) {
        push_field(out, "Set-Cookie", cookie.as_bytes());
    }
    push_framing(out, framing);
    if !keep_alive {
        out.extend_from_slice(b"Connection: close\r\n");
    } else if client_version == Version::Http10 {
        out.extend_from_slice(b"Connection: keep-alive\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// The `Set-Cookie` value that sticks a client to the backend `id`: a
/// session cookie (no `Max-Age`, gone when the browser closes), for the
/// whole site, out of scripts' reach.
fn sticky_set_cookie(id: &str) -> Option<String> {
    let cookie = SetCookie::new(STICKY_COOKIE, id).and_then(|cookie| cookie.path("/"));
    cookie
        .ok()
        .map(|cookie| cookie.http_only().same_site(SameSite::Lax).to_string())
}

/// How a response's body is delimited (RFC 9112 §6.3): none for `HEAD`,
/// 1xx, 204 and 304 (rule 1); otherwise as the fields say.
pub fn response_framing(head: &ResponseHead<'_>, method: Method) -> Result<Framing, BadResponse> {
    if method == Method::Head || head.status < 200 || head.status == 204 || head.status == 304 {
        return Ok(Framing::Empty);
    }
    // Rules 3–5 are the same for requests and responses: the request
    // framing check (which refuses both fields at once, or lengths that
    // disagree) reads the response's fields too.
    let as_request = Head {
        method,
        target: "",
        version: head.version,
        headers: head.headers.clone(),
        len: head.len,
    };
    let unlimited = Limits {
        body_bytes: usize::MAX,
        ..Limits::default()
    };
    match request_framing(&as_request, &unlimited) {
        Ok(RequestFraming::Chunked) => Ok(Framing::Chunked),
        Ok(RequestFraming::Length(length)) => Ok(Framing::Length(length as u64)),
        // `Content-Length: 0`
        Ok(RequestFraming::None) if head.headers.get_bytes("content-length").is_some() => {
            Ok(Framing::Length(0))
        }
        // Neither field: the body runs until the backend closes (rule 8).
        Ok(RequestFraming::None) => Ok(Framing::UntilClose),
        Err(_) => Err(BadResponse::Framing),
    }
}

/// How the body is framed for the client: as it came when the length is
/// known; chunked when it is not, if the client speaks HTTP/1.1; by
/// closing the connection for an HTTP/1.0 client, which knows no chunks.
pub fn client_framing(incoming: Framing, client_version: Version) -> Framing {
    match incoming {
        Framing::Chunked | Framing::UntilClose if client_version == Version::Http11 => {
            Framing::Chunked
        }
        Framing::Chunked | Framing::UntilClose => Framing::UntilClose,
        known => known,
    }
}

/// Whether a backend's response leaves its connection open (RFC 9112 §9.3).
pub fn keeps_alive(head: &ResponseHead<'_>) -> bool {
    let fields = &head.headers;
    !fields.has_token("connection", "close")
        && (head.version == Version::Http11 || fields.has_token("connection", "keep-alive"))
}

/// The request target a backend gets: a path and query (origin form, RFC
/// 9112 §3.2.1), even when the client sent an absolute URL (§3.2.2).
fn origin_form(target: &str) -> Cow<'_, str> {
    if !(target.starts_with("http://") || target.starts_with("https://")) {
        return Cow::Borrowed(target);
    }
    match url::split_target(target) {
        (path, Some(query)) => Cow::Owned(format!("{path}?{query}")),
        (path, None) => Cow::Borrowed(path),
    }
}

/// The options of the `Connection` fields: the names of more hop-by-hop
/// fields (§7.6.1), and `close` or `keep-alive`.
fn connection_options<'h>(fields: &Headers<'h>) -> Vec<&'h [u8]> {
    fields
        .get_all("connection")
        .flat_map(|value| value.split(|&byte| byte == b','))
        .map(trim_whitespace)
        .filter(|option| !option.is_empty())
        .collect()
}

fn is_hop_by_hop(name: &str, named: &[&[u8]]) -> bool {
    HOP_BY_HOP.iter().any(|hop| name.eq_ignore_ascii_case(hop))
        || named
            .iter()
            .any(|option| option.eq_ignore_ascii_case(name.as_bytes()))
}

/// The values of every field called `name`, as one list, with `last`
/// added at its end: `X-Forwarded-For: 203.0.113.7, 127.0.0.1`.
fn append_to_list(fields: &Headers<'_>, name: &str, last: &str) -> Vec<u8> {
    let mut list = Vec::new();
    for value in fields.get_all(name) {
        list.extend_from_slice(value);
        list.extend_from_slice(b", ");
    }
    list.extend_from_slice(last.as_bytes());
    list
}

fn push_field(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

fn push_framing(out: &mut Vec<u8>, framing: Framing) {
    match framing {
        Framing::Length(length) => {
            out.extend_from_slice(format!("Content-Length: {length}\r\n").as_bytes());
        }
        Framing::Chunked => out.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
        Framing::Empty | Framing::UntilClose => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::request::{Status, parse_head};
    use crate::proxy::config::{self, Config};
    use crate::proxy::upstream::parse_response_head;
    use std::net::{IpAddr, SocketAddr};

    fn vars() -> Vars<'static> {
        Vars {
            host: "app.local",
            http_host: "App.local:8080",
            remote_addr: IpAddr::from([192, 0, 2, 1]),
            proxy_host: SocketAddr::from(([127, 0, 0, 1], 9001)),
        }
    }

    fn rewritten_request(raw: &str, framing: Framing, set_headers: &[SetHeader]) -> String {
        let Ok(Status::Complete(head)) = parse_head(raw.as_bytes(), &Limits::default()) else {
            panic!("test request does not parse: {raw:?}");
        };
        let mut out = Vec::new();
        write_request_head(&mut out, &head, framing, &vars(), set_headers);
        String::from_utf8(out).expect("ASCII")
    }

    fn set_headers(lines: &str) -> Vec<SetHeader> {
        let text = format!("host a {{\n proxy_pass http://127.0.0.1:1\n{lines}\n}}");
        let Config { sites, .. } = config::parse(&text).expect("valid test config");
        sites
            .into_iter()
            .next()
            .map(|site| site.set_headers)
            .unwrap_or_default()
    }

    #[test]
    fn requests_lose_hop_by_hop_fields_and_gain_forwarding_ones() {
        let got = rewritten_request(
            "POST http://app.local:8080/a?b=1 HTTP/1.1\r\nHost: App.local:8080\r\n\
             Connection: keep-alive, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\n\
             Upgrade: websocket\r\nProxy-Connection: keep-alive\r\nTransfer-Encoding: chunked\r\n\
             Expect: 100-continue\r\nX-Forwarded-For: 203.0.113.7\r\nVia: 1.0 edge\r\n\
             Cookie: a=1\r\n\r\n",
            Framing::Chunked,
            &[],
        );
        assert_eq!(
            got,
            "POST /a?b=1 HTTP/1.1\r\nCookie: a=1\r\nHost: 127.0.0.1:9001\r\n\
             X-Forwarded-For: 203.0.113.7, 192.0.2.1\r\nX-Forwarded-Host: App.local:8080\r\n\
             X-Forwarded-Proto: http\r\nVia: 1.0 edge, 1.1 weaprous\r\n\
             Transfer-Encoding: chunked\r\n\r\n"
        );
    }

    #[test]
    fn proxy_set_header_replaces_adds_and_removes() {
        let got = rewritten_request(
            "GET / HTTP/1.1\r\nHost: App.local:8080\r\nX-Secret: s\r\nContent-Length: 3\r\n\r\n",
            Framing::Length(3),
            &set_headers(
                "proxy_set_header Host $host\nproxy_set_header X-Real-IP $remote_addr\n\
                 proxy_set_header X-Secret \"\"\nproxy_set_header X-Forwarded-Proto \"\"",
            ),
        );
        assert_eq!(
            got,
            "GET / HTTP/1.1\r\nHost: app.local\r\nX-Forwarded-For: 192.0.2.1\r\n\
             X-Forwarded-Host: App.local:8080\r\nVia: 1.1 weaprous\r\nX-Real-IP: 192.0.2.1\r\n\
             Content-Length: 3\r\n\r\n"
        );
    }

    #[test]
    fn a_host_that_expands_to_nothing_stays_the_backends() {
        let Ok(Status::Complete(head)) = parse_head(b"GET / HTTP/1.0\r\n\r\n", &Limits::default())
        else {
            panic!("test request does not parse");
        };
        let no_host = Vars {
            host: "",
            http_host: "",
            ..vars()
        };
        let mut out = Vec::new();
        let set = set_headers("proxy_set_header Host $host");
        write_request_head(&mut out, &head, Framing::Empty, &no_host, &set);
        let got = String::from_utf8(out).expect("ASCII");
        assert!(
            got.contains("\r\nHost: 127.0.0.1:9001\r\n"),
            "an HTTP/1.0 request without Host, with `proxy_set_header Host $host`: the \
             backend still gets a Host; got {got:?}"
        );
    }

    fn rewritten_response(
        raw: &str,
        method: Method,
        version: Version,
        sticky: Option<&str>,
    ) -> String {
        let Ok(Status::Complete(head)) = parse_response_head(raw.as_bytes()) else {
            panic!("test response does not parse: {raw:?}");
        };
        let incoming = response_framing(&head, method).expect("valid framing");
        let framing = client_framing(incoming, version);
        let keep_alive = framing != Framing::UntilClose;
        let mut out = Vec::new();
        write_response_head(&mut out, &head, framing, keep_alive, version, sticky);
        String::from_utf8(out).expect("ASCII")
    }

    #[test]
    fn responses_are_reframed_for_the_client() {
        let chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: X-B\r\nX-B: 1\r\n\
                       Keep-Alive: timeout=9\r\nX-Kept: yes\r\nVia: 1.1 app\r\n\r\n";
        assert_eq!(
            rewritten_response(chunked, Method::Get, Version::Http11, None),
            "HTTP/1.1 200 OK\r\nX-Kept: yes\r\nVia: 1.1 app, 1.1 weaprous\r\n\
             Transfer-Encoding: chunked\r\n\r\n"
        );
        assert_eq!(
            rewritten_response(chunked, Method::Get, Version::Http10, None),
            "HTTP/1.1 200 OK\r\nX-Kept: yes\r\nVia: 1.1 app, 1.1 weaprous\r\n\
             Connection: close\r\n\r\n",
            "an HTTP/1.0 client gets the body until the connection closes"
        );
        let unframed = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n";
        assert_eq!(
            rewritten_response(unframed, Method::Get, Version::Http11, Some("0a1b2c3d")),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nVia: 1.1 weaprous\r\n\
             Set-Cookie: weaprous_backend=0a1b2c3d; Path=/; HttpOnly; SameSite=Lax\r\n\
             Transfer-Encoding: chunked\r\n\r\n"
        );
        let head = "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n";
        assert_eq!(
            rewritten_response(head, Method::Head, Version::Http10, None),
            "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nVia: 1.1 weaprous\r\n\
             Connection: keep-alive\r\n\r\n",
            "HEAD keeps the length of the body it does not get"
        );
    }

    #[test]
    fn response_framing_table() {
        let cases: &[(&str, Method, Result<Framing, BadResponse>)] = &[
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
                Method::Get,
                Ok(Framing::Length(5)),
            ),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
                Method::Get,
                Ok(Framing::Length(0)),
            ),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
                Method::Head,
                Ok(Framing::Empty),
            ),
            (
                "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n",
                Method::Get,
                Ok(Framing::Empty),
            ),
            (
                "HTTP/1.1 204 No Content\r\n\r\n",
                Method::Post,
                Ok(Framing::Empty),
            ),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                Method::Get,
                Ok(Framing::Chunked),
            ),
            (
                "HTTP/1.1 200 OK\r\n\r\n",
                Method::Get,
                Ok(Framing::UntilClose),
            ),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
                Method::Get,
                Err(BadResponse::Framing),
            ),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
                Method::Get,
                Err(BadResponse::Framing),
            ),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
                Method::Get,
                Err(BadResponse::Framing),
            ),
        ];
        for (raw, method, expected) in cases {
            let Ok(Status::Complete(head)) = parse_response_head(raw.as_bytes()) else {
                panic!("test response does not parse: {raw:?}");
            };
            assert_eq!(
                response_framing(&head, *method),
                *expected,
                "{method} {raw:?}"
            );
        }
    }
}
