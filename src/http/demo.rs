//! Lab 2's application: static files, plus two routes that show the
//! parser at work.
//!
//! - `GET /hello` → `{"message":"hello"}`, the smallest JSON API;
//! - `GET` or `POST /debug/request` → the request as the server parsed it,
//!   as plain text: try it with `curl -v`, with a body, with odd headers.

use std::fmt::Write as _;

use super::files::StaticFiles;
use super::request::Request;
use super::response::Response;
use super::router::Router;
use super::status::StatusCode;
use super::url;

/// How much of a request body `/debug/request` shows.
const SHOWN_BODY_BYTES: usize = 1024;

/// The lab 2 application over a static file root.
pub fn app(files: StaticFiles) -> Router {
    Router::new()
        .get("/hello", hello)
        .get("/debug/request", debug_request)
        .post("/debug/request", debug_request)
        .fallback(files)
}

/// `GET /hello`.
pub fn hello(_: &Request<'_>) -> Response {
    Response::json(StatusCode::OK, r#"{"message":"hello"}"#)
}

/// `/debug/request`: the parsed request, field by field.
pub fn debug_request(request: &Request<'_>) -> Response {
    let mut text = String::new();
    let _ = writeln!(text, "method:     {}", request.method());
    let _ = writeln!(text, "target:     {}", request.target());
    let _ = writeln!(text, "path:       {}", request.path());
    let _ = writeln!(text, "version:    {}", request.version());
    let _ = writeln!(text, "keep-alive: {}", request.wants_keep_alive());
    let _ = writeln!(text, "peer:       {}", request.peer());
    if let Some(query) = request.query() {
        let _ = writeln!(text, "query:      {query}");
        match url::parse_form(query) {
            Ok(pairs) => {
                for (name, value) in pairs {
                    let _ = writeln!(text, "  {name:?} = {value:?}");
                }
            }
            Err(error) => {
                let _ = writeln!(text, "  (cannot decode: {error})");
            }
        }
    }
    let _ = writeln!(text, "headers:    {}", request.headers().len());
    for header in request.headers().iter() {
        let _ = writeln!(
            text,
            "  {}: {}",
            header.name,
            String::from_utf8_lossy(header.value)
        );
    }
    let body = request.body();
    let _ = writeln!(text, "body:       {} bytes", body.len());
    if !body.is_empty() {
        let shown = &body[..body.len().min(SHOWN_BODY_BYTES)];
        let _ = writeln!(text, "{}", String::from_utf8_lossy(shown));
    }
    Response::text(StatusCode::OK, text)
}
