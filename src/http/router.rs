//! Routing: which handler answers which method and path.
//!
//! The Rust counterpart of the course's decorator routing
//! (`@app.route('/login', methods=['POST'])`):
//!
//! ```
//! use weaprous::http::{Request, Response, Router, StatusCode};
//!
//! let app = Router::new()
//!     .get("/hello", |_: &Request| Response::json(StatusCode::OK, r#"{"message":"hello"}"#))
//!     .get("/users/:name", |request: &Request| {
//!         let name = request.param("name").unwrap_or("stranger");
//!         Response::text(StatusCode::OK, format!("hello, {name}"))
//!     });
//! ```
//!
//! Rules, in the order they apply:
//!
//! - **One trailing slash** does not matter: `/login/` reaches `/login`
//!   (the course writes its routes with the slash, browsers and `curl`
//!   without).
//! - Patterns match **whole segments**; `:name` captures one segment,
//!   percent-decoded.
//! - A `GET` route also answers **`HEAD`** (RFC 9110 §9.3.2).
//! - A path that matches with another method gets **405** and an `Allow`
//!   header listing the methods it takes (§15.5.6); `OPTIONS` gets that
//!   list with 204.
//! - Otherwise the **fallback** handler answers (static files, in the
//!   labs), or **404**.

use std::borrow::Cow;
use std::sync::Arc;

use super::method::Method;
use super::request::{Request, RequestError};
use super::response::Response;
use super::status::StatusCode;
use super::url;

/// Anything that turns a request into a response.
///
/// Closures `Fn(&Request) -> Response` are handlers; so are [`Router`] and
/// the static file server. Handlers run on many connection threads at
/// once, hence `Send + Sync`; shared state goes in an `Arc` the closure
/// captures.
pub trait Handler: Send + Sync + 'static {
    /// Answers one request. The router passes `&mut` so that it can attach
    /// path parameters before calling the handler it picked.
    fn handle(&self, request: &mut Request<'_>) -> Response;

    /// Answers a request the server could not read ([`RequestError`]: a
    /// malformed head, a body over the limit…); the connection closes
    /// after it. Plain text by default; a JSON API answers in JSON
    /// ([`Router::errors`]).
    fn request_error(&self, error: RequestError) -> Response {
        Response::error(error.status(), &error.to_string())
    }
}

impl<F> Handler for F
where
    F: Fn(&Request<'_>) -> Response + Send + Sync + 'static,
{
    fn handle(&self, request: &mut Request<'_>) -> Response {
        self(request)
    }
}

impl<H: Handler + ?Sized> Handler for Arc<H> {
    fn handle(&self, request: &mut Request<'_>) -> Response {
        (**self).handle(request)
    }

    fn request_error(&self, error: RequestError) -> Response {
        (**self).request_error(error)
    }
}

impl Handler for Box<dyn Handler> {
    fn handle(&self, request: &mut Request<'_>) -> Response {
        (**self).handle(request)
    }

    fn request_error(&self, error: RequestError) -> Response {
        (**self).request_error(error)
    }
}

/// One piece of a route pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    /// Must equal the path segment exactly.
    Literal(String),
    /// Matches any one segment and captures it under this name.
    Param(String),
}

struct Route {
    method: Method,
    pattern: Vec<Segment>,
    handler: Box<dyn Handler>,
}

/// Builds an error response from its status and a sentence saying why.
type ErrorFn = Box<dyn Fn(StatusCode, &str) -> Response + Send + Sync>;

/// A table of routes, tried in the order they were added, and a fallback.
#[derive(Default)]
pub struct Router {
    routes: Vec<Route>,
    fallback: Option<Box<dyn Handler>>,
    errors: Option<ErrorFn>,
}

impl Router {
    /// An empty router: everything is 404.
    pub fn new() -> Router {
        Router::default()
    }

    /// Adds a route for `method` and `pattern` (`/users/:name`).
    pub fn route(mut self, method: Method, pattern: &str, handler: impl Handler) -> Router {
        self.routes.push(Route {
            method,
            pattern: parse_pattern(pattern),
            handler: Box::new(handler),
        });
        self
    }

    /// Adds a `GET` (and so also `HEAD`) route.
    pub fn get(self, pattern: &str, handler: impl Handler) -> Router {
        self.route(Method::Get, pattern, handler)
    }

    /// Adds a `POST` route.
    pub fn post(self, pattern: &str, handler: impl Handler) -> Router {
        self.route(Method::Post, pattern, handler)
    }

    /// Adds a `PUT` route.
    pub fn put(self, pattern: &str, handler: impl Handler) -> Router {
        self.route(Method::Put, pattern, handler)
    }

    /// Adds a `DELETE` route.
    pub fn delete(self, pattern: &str, handler: impl Handler) -> Router {
        self.route(Method::Delete, pattern, handler)
    }

    /// Sets the handler for paths no route matches (for example static files).
    pub fn fallback(mut self, handler: impl Handler) -> Router {
        self.fallback = Some(Box::new(handler));
        self
    }

    /// Replaces the plain-text errors the router and the server answer on
    /// their own — 405, 404 without a fallback, a malformed path, and every
    /// request that could not be read (400, 413, 431…) — with the
    /// application's own (a JSON API answers errors in JSON). The function
    /// gets the status and a sentence saying what is wrong; the router adds
    /// the `Allow` header of a 405 itself.
    pub fn errors(
        mut self,
        answer: impl Fn(StatusCode, &str) -> Response + Send + Sync + 'static,
    ) -> Router {
        self.errors = Some(Box::new(answer));
        self
    }

    fn error(&self, status: StatusCode, message: &str) -> Response {
        match &self.errors {
            Some(answer) => answer(status, message),
            None => Response::error(status, message),
        }
    }
}

impl Handler for Router {
    fn handle(&self, request: &mut Request<'_>) -> Response {
        let Some(segments) = path_segments(request.path()) else {
            return self.error(
                StatusCode::BAD_REQUEST,
                "malformed percent-encoding in the path",
            );
        };
        let mut allowed: Vec<Method> = Vec::new();
        for route in &self.routes {
            let Some(params) = match_pattern(&route.pattern, &segments) else {
                continue;
            };
            let method = request.method();
            if route.method == method || (method == Method::Head && route.method == Method::Get) {
                request.set_params(params);
                return route.handler.handle(request);
            }
            allowed.push(route.method);
        }
        if allowed.is_empty() {
            return match &self.fallback {
                Some(fallback) => fallback.handle(request),
                None => self.error(StatusCode::NOT_FOUND, "no such path"),
            };
        }
        let method = request.method();
        if self.errors.is_none() || method == Method::Options {
            return method_not_allowed(method, &allowed);
        }
        let allow = allow_list(&allowed);
        self.error(
            StatusCode::METHOD_NOT_ALLOWED,
            &not_allowed_message(method, &allow),
        )
        .with_header("Allow", allow)
    }

    fn request_error(&self, error: RequestError) -> Response {
        self.error(error.status(), &error.to_string())
    }
}

/// What a 405 says: the method, and what to use instead.
fn not_allowed_message(method: Method, allow: &str) -> String {
    format!("{method} is not allowed here; use {allow}")
}

/// 405 with `Allow` (or, for `OPTIONS`, 204 with `Allow`): the path exists
/// but not with this method.
pub fn method_not_allowed(method: Method, allowed: &[Method]) -> Response {
    let allow = allow_list(allowed);
    let response = if method == Method::Options {
        Response::new(StatusCode::NO_CONTENT)
    } else {
        Response::error(
            StatusCode::METHOD_NOT_ALLOWED,
            &not_allowed_message(method, &allow),
        )
    };
    response.with_header("Allow", allow)
}

/// The `Allow` value for a path's routes: their methods, `HEAD` where
/// there is `GET`, and `OPTIONS`, in a fixed order.
fn allow_list(allowed: &[Method]) -> String {
    let mut methods: Vec<Method> = allowed.to_vec();
    if methods.contains(&Method::Get) {
        methods.push(Method::Head);
    }
    methods.push(Method::Options);
    Method::ALL
        .iter()
        .filter(|candidate| methods.contains(candidate))
        .map(|candidate| candidate.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn parse_pattern(pattern: &str) -> Vec<Segment> {
    split_path(pattern)
        .map(|segment| match segment.strip_prefix(':') {
            Some(name) => Segment::Param(name.to_string()),
            None => Segment::Literal(segment.to_string()),
        })
        .collect()
}

/// The path's segments, percent-decoded (borrowed from the path when there
/// was nothing to decode); `None` if one cannot be decoded. One trailing
/// slash is dropped (see the module docs).
fn path_segments(path: &str) -> Option<Vec<Cow<'_, str>>> {
    split_path(path)
        .map(|segment| url::percent_decode(segment).ok())
        .collect()
}

/// `/a/b/` → `a`, `b`; `/` → nothing.
fn split_path(path: &str) -> impl Iterator<Item = &str> {
    let path = path.strip_prefix('/').unwrap_or(path);
    let path = path.strip_suffix('/').unwrap_or(path);
    path.split('/').filter(|segment| !segment.is_empty())
}

fn match_pattern(pattern: &[Segment], segments: &[Cow<'_, str>]) -> Option<Vec<(String, String)>> {
    if pattern.len() != segments.len() {
        return None;
    }
    let mut params = Vec::new();
    for (expected, actual) in pattern.iter().zip(segments) {
        match expected {
            Segment::Literal(literal) if literal == actual.as_ref() => {}
            Segment::Literal(_) => return None,
            Segment::Param(name) => params.push((name.clone(), actual.to_string())),
        }
    }
    Some(params)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::request::{Limits, Status, parse_head};
    use std::borrow::Cow;

    fn answer(router: &Router, raw: &str) -> Response {
        let Ok(Status::Complete(head)) = parse_head(raw.as_bytes(), &Limits::default()) else {
            panic!("test request did not parse: {raw:?}");
        };
        let mut request = Request::new(head, Cow::Borrowed(b""), ([127, 0, 0, 1], 1).into());
        router.handle(&mut request)
    }

    fn body_text(response: &Response) -> String {
        String::from_utf8_lossy(response.body().as_bytes().unwrap_or_default()).into_owned()
    }

    fn app() -> Router {
        Router::new()
            .get("/hello", |_: &Request| {
                Response::text(StatusCode::OK, "hello")
            })
            .post("/login", |_: &Request| {
                Response::text(StatusCode::OK, "logged in")
            })
            .get("/users/:name", |request: &Request| {
                Response::text(
                    StatusCode::OK,
                    request.param("name").unwrap_or("?").to_string(),
                )
            })
    }

    #[test]
    fn routes_table() {
        let cases = [
            ("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", 200, "hello"),
            ("HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n", 200, "hello"),
            ("GET /hello/ HTTP/1.1\r\nHost: x\r\n\r\n", 200, "hello"),
            ("POST /login/ HTTP/1.1\r\nHost: x\r\n\r\n", 200, "logged in"),
            (
                "GET /users/ann%20lee HTTP/1.1\r\nHost: x\r\n\r\n",
                200,
                "ann lee",
            ),
            ("GET /users/a/b HTTP/1.1\r\nHost: x\r\n\r\n", 404, ""),
            ("GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n", 404, ""),
            ("GET /users/%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400, ""),
        ];
        let router = app();
        for (raw, status, body) in cases {
            let response = answer(&router, raw);
            assert_eq!(response.status().as_u16(), status, "request {raw:?}");
            if status == 200 {
                assert_eq!(body_text(&response), body, "request {raw:?}");
            }
        }
    }

    #[test]
    fn wrong_method_on_a_known_path_is_405_with_allow() {
        let response = answer(&app(), "DELETE /hello HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.header("allow"), Some("GET, HEAD, OPTIONS"));
        let response = answer(&app(), "GET /login HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(response.header("Allow"), Some("POST, OPTIONS"));
        let response = answer(&app(), "OPTIONS /login HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
    }

    #[test]
    fn an_application_can_answer_errors_its_own_way() {
        let router = app().errors(|status, message| {
            Response::json(status, format!(r#"{{"error":"{message}"}}"#))
        });
        let response = answer(&router, "PUT /login HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(
            body_text(&response),
            r#"{"error":"PUT is not allowed here; use POST, OPTIONS"}"#
        );
        assert_eq!(response.header("allow"), Some("POST, OPTIONS"));
        let response = router.request_error(RequestError::BodyTooLarge);
        assert_eq!(response.status(), StatusCode::CONTENT_TOO_LARGE);
        assert_eq!(
            body_text(&response),
            r#"{"error":"request body too large"}"#
        );
    }

    #[test]
    fn the_fallback_answers_unrouted_paths() {
        let router = app().fallback(|_: &Request| Response::text(StatusCode::OK, "fallback"));
        assert_eq!(
            body_text(&answer(&router, "GET /other HTTP/1.1\r\nHost: x\r\n\r\n")),
            "fallback"
        );
    }
}
