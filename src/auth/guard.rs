//! Protected routes: a wrapper that lets a handler run only for a request
//! with a live session, and hands it the username.
//!
//! Labs 4 and 5 protect their routes with it:
//!
//! ```no_run
//! # use weaprous::auth::app::{Auth, AuthConfig};
//! # use weaprous::clock::Clock;
//! use weaprous::http::{Response, Router, StatusCode};
//!
//! # let auth = Auth::open("data".as_ref(), AuthConfig::default(), Clock::system())?;
//! let router = Router::new()
//!     // an API: without a session, 401 and {"status":"unauthorized",…}
//!     .post("/broadcast-peer", auth.protect(move |request, user| {
//!         Response::text(StatusCode::OK, format!("{user} sent {} bytes", request.body().len()))
//!     }))
//!     // a page: without a session, 401 and an HTML page linking to /login.html
//!     .get("/account", auth.protect_page(|_request, user| {
//!         Response::html(StatusCode::OK, format!("<p>{user}</p>"))
//!     }));
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! The wrapper decides only by the session cookie ([`Auth::user`]): the
//! `auth=true` cookie, a `Referer`, or anything else a client could write
//! itself opens nothing.
//!
//! **JSON or HTML?** The route says, not the request: [`Auth::protect`] is
//! for paths that scripts call (the answer is JSON), [`Auth::protect_page`]
//! for paths a person opens (the answer is a page with a link to the login
//! form). Deciding by the `Accept` header would also work for browsers,
//! but `fetch` sends `Accept: */*`, as `curl` does, so a script's 401 would
//! depend on a header it never thought about; a fixed answer per route is
//! one less surprise. Both answers carry `WWW-Authenticate` (RFC 9110
//! §15.5.2 asks every 401 for a challenge) naming the `Cookie` scheme of
//! the expired draft "draft-broyer-http-cookie-auth"; browsers show no
//! password dialog for a scheme they do not know.
//!
//! **Static files** are protected by the file they resolve to, not by the
//! request path ([`Auth::protect_files`]): `/index.html`, `/`, `/./index.html`
//! and `/%69ndex.html` are one file, and a route for `/index.html` alone
//! would leave the other three open.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::app::Auth;
use super::reply::{html_page, json_status};
use crate::http::files::{StaticFiles, safe_relative_path};
use crate::http::{Handler, Request, Response, StatusCode};

/// The login page a refused person is sent to.
pub const LOGIN_PAGE: &str = "/login.html";

/// The message of a JSON 401 from a protected route.
pub const LOGIN_REQUIRED: &str = "Login required";

/// The file [`StaticFiles`] serves for a directory: a protected
/// `/docs/index.html` is also protected as `/docs/`.
const DIRECTORY_INDEX: &str = "index.html";

/// How a protected route answers a request without a live session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unauthorized {
    /// `401` with `{"status":"unauthorized","message":"Login required"}`,
    /// for paths that scripts call.
    Json,
    /// `401` with a short HTML page that links to the login page (with
    /// `?next=` the page asked for, when that path is plain), for pages
    /// that people open.
    Page,
}

/// A handler that runs only with a live session: made by
/// [`Auth::protect`] and [`Auth::protect_page`].
pub struct Protected<F> {
    auth: Arc<Auth>,
    unauthorized: Unauthorized,
    handler: F,
}

impl<F> Handler for Protected<F>
where
    F: Fn(&Request<'_>, &str) -> Response + Send + Sync + 'static,
{
    fn handle(&self, request: &mut Request<'_>) -> Response {
        // lab3: begin — no live session, no handler: the auth cookie counts for nothing
        match self.auth.user(request) {
            Some(user) => (self.handler)(request, &user),
            None => self.auth.unauthorized(self.unauthorized, request),
        }
        // lab3: end
    }
}

/// Static files of which some pages need a login: made by
/// [`Auth::protect_files`].
pub struct ProtectedFiles {
    auth: Arc<Auth>,
    files: StaticFiles,
    /// The protected pages, as paths relative to the root, in lower case.
    pages: Vec<PathBuf>,
}

impl ProtectedFiles {
    /// Whether the request path names one of the protected pages, directly
    /// or as the index of its directory. A path the static files refuse
    /// anyway (`..`, a hidden name) is not: they answer 404 for it.
    ///
    /// Letters are compared without regard to case: on a case-insensitive
    /// file system (macOS's by default) `/INDEX.html` is the same file.
    fn needs_login(&self, path: &str) -> bool {
        let Some(relative) = safe_relative_path(path).map(|path| fold_case(&path)) else {
            return false;
        };
        let as_directory = relative.join(DIRECTORY_INDEX);
        self.pages
            .iter()
            .any(|page| *page == relative || *page == as_directory)
    }
}

impl Handler for ProtectedFiles {
    fn handle(&self, request: &mut Request<'_>) -> Response {
        if self.needs_login(request.path()) && self.auth.user(request).is_none() {
            return self.auth.unauthorized(Unauthorized::Page, request);
        }
        self.files.handle(request)
    }
}

impl Auth {
    /// Wraps `handler` so that it runs only for a request with a live
    /// session, and gets the session's username; without one, the answer is
    /// [`Unauthorized::Json`]. For API paths.
    pub fn protect<F>(self: &Arc<Self>, handler: F) -> Protected<F>
    where
        F: Fn(&Request<'_>, &str) -> Response + Send + Sync + 'static,
    {
        self.protected(Unauthorized::Json, handler)
    }

    /// Like [`Auth::protect`], but the refusal is [`Unauthorized::Page`].
    /// For paths that people open in a browser.
    pub fn protect_page<F>(self: &Arc<Self>, handler: F) -> Protected<F>
    where
        F: Fn(&Request<'_>, &str) -> Response + Send + Sync + 'static,
    {
        self.protected(Unauthorized::Page, handler)
    }

    /// Wraps a static file server so that the listed `pages` (paths under
    /// its root, such as `"/index.html"`) need a login, and every other file
    /// is public. A protected page is found by the file a request resolves
    /// to, however the path is spelt (see the module docs).
    pub fn protect_files(self: &Arc<Self>, files: StaticFiles, pages: &[&str]) -> ProtectedFiles {
        ProtectedFiles {
            auth: Arc::clone(self),
            files,
            // A page that could never be served (`/../x`) needs no guard.
            pages: pages
                .iter()
                .filter_map(|page| safe_relative_path(page))
                .map(|page| fold_case(&page))
                .collect(),
        }
    }

    /// The 401 answer of a protected route, of the given kind. Handlers that
    /// check [`Auth::user`] themselves answer with it too.
    pub fn unauthorized(&self, kind: Unauthorized, request: &Request<'_>) -> Response {
        let response = match kind {
            Unauthorized::Json => {
                json_status(StatusCode::UNAUTHORIZED, "unauthorized", LOGIN_REQUIRED)
            }
            Unauthorized::Page => html_page(
                StatusCode::UNAUTHORIZED,
                "Log in first",
                "This page is for logged-in users only.",
                &login_link(request.path()),
                "Log in",
            ),
        };
        let challenge = format!(
            "Cookie realm=\"weaprous\", form-action=\"/login\", cookie-name=\"{}\"",
            self.config().cookie_name
        );
        response.with_header("WWW-Authenticate", challenge)
    }

    fn protected<F>(self: &Arc<Self>, unauthorized: Unauthorized, handler: F) -> Protected<F> {
        Protected {
            auth: Arc::clone(self),
            unauthorized,
            handler,
        }
    }
}

/// `path` with ASCII letters in lower case, for comparing file names.
fn fold_case(path: &Path) -> PathBuf {
    PathBuf::from(path.to_string_lossy().to_ascii_lowercase())
}

/// The link to the login page from a refused `path`: with `?next=path`
/// when the path is a plain local one (letters, digits, `/ . _ -`, not `/`
/// itself and not starting with `//`, which a browser would read as another
/// host), so the login page can come back to it.
pub fn login_link(path: &str) -> String {
    let plain = path
        .bytes()
        .all(|byte| byte.is_ascii_alphanumeric() || b"/._-".contains(&byte));
    if plain && path.starts_with('/') && !path.starts_with("//") && path != "/" {
        format!("{LOGIN_PAGE}?next={path}")
    } else {
        LOGIN_PAGE.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_login_link_keeps_only_plain_local_paths() {
        let cases = [
            ("/chat.html", "/login.html?next=/chat.html"),
            ("/a/b-c_d.e", "/login.html?next=/a/b-c_d.e"),
            ("/", "/login.html"),
            ("//evil.example", "/login.html"),
            ("/a%20b", "/login.html"),
            ("/a?b", "/login.html"),
            ("/\"><script>", "/login.html"),
            ("/a\\b", "/login.html"),
            ("relative", "/login.html"),
            ("", "/login.html"),
        ];
        for (path, expected) in cases {
            assert_eq!(login_link(path), expected, "login link from {path:?}");
        }
    }
}
