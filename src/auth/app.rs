//! [`Auth`]: accounts, sessions and the login throttle of one server, in one
//! value that every connection thread shares.
//!
//! The modules below this one know nothing of HTTP. This is where they meet
//! a request: [`Auth::user`] reads the session cookie of a request and asks
//! the [`SessionStore`] whose it is; the routes ([`super::routes`]) and the
//! protection wrappers ([`super::guard`]) are methods on the same value, so
//! a lab needs one `Arc<Auth>` and nothing else:
//!
//! ```no_run
//! use weaprous::auth::app::{Auth, AuthConfig};
//! use weaprous::clock::Clock;
//! use weaprous::http::{Response, Router, StatusCode};
//!
//! let auth = Auth::open("data".as_ref(), AuthConfig::default(), Clock::system())?;
//! let router = auth
//!     .routes(Router::new())
//!     .get("/secret", auth.protect(|_request, user| {
//!         Response::text(StatusCode::OK, format!("hello, {user}"))
//!     }));
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! Two cookies come out of a login (RFC 6265 §4.1): the session cookie,
//! named by [`AuthConfig::cookie_name`] (`sessionid` unless a lab says
//! otherwise), which carries the random id; and the course's `auth=true`,
//! which carries nothing the server believes. Only the first is ever read.
//!
//! Left out on purpose: trusting a proxy's `X-Forwarded-For` for the client
//! address (behind lab 6's proxy every client looks like the proxy to the
//! throttle), and cookies for HTTPS (`Secure`: the labs speak plain HTTP).

use std::fmt;
use std::fs;
use std::io;
use std::num::NonZeroU32;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use super::accounts::Accounts;
use super::cookie::{CookieError, Cookies, SameSite, SetCookie};
use super::password::DEFAULT_ITERATIONS;
use super::session::{SessionConfig, SessionStore};
use super::throttle::{Throttle, ThrottleConfig};
use crate::clock::Clock;
use crate::http::{Request, Response};

/// The session cookie's name unless [`AuthConfig::cookie_name`] says
/// otherwise: the course's.
pub const DEFAULT_COOKIE_NAME: &str = "sessionid";

/// The course's second cookie, `auth=true`. It is set at login and expired
/// at logout so that the course's clients see what they expect, and it is
/// never read: a client can send it without logging in.
pub const AUTH_COOKIE_NAME: &str = "auth";

/// The value of [`AUTH_COOKIE_NAME`] after a login.
pub const AUTH_COOKIE_VALUE: &str = "true";

/// Every cookie here is for the whole site (RFC 6265 §5.1.4): without a
/// `Path`, a cookie set by `/api/login` would never reach `/`.
const COOKIE_PATH: &str = "/";

/// The settings of an [`Auth`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthConfig {
    /// The session cookie's name. Cookies do not tell ports apart (RFC 6265
    /// §8.5): two servers on one host share them, so lab 5's peers each
    /// use their own name (`sessionid_9101`) to keep their sessions apart.
    /// Must be a token (no spaces, `=`, `;` …).
    pub cookie_name: String,
    /// PBKDF2 iterations for new password hashes (the demo account's too).
    pub iterations: NonZeroU32,
    /// How long sessions live, and how many are kept.
    pub session: SessionConfig,
    /// When failed logins lock a (username, address) pair.
    pub throttle: ThrottleConfig,
}

impl Default for AuthConfig {
    /// `sessionid`, [`DEFAULT_ITERATIONS`], and the defaults of the session
    /// store and the throttle.
    fn default() -> Self {
        AuthConfig {
            cookie_name: DEFAULT_COOKIE_NAME.to_string(),
            iterations: DEFAULT_ITERATIONS,
            session: SessionConfig::default(),
            throttle: ThrottleConfig::default(),
        }
    }
}

/// A check that a name is already used by something other than an account
/// (see [`Auth::reserve_names`]).
type NameCheck = Box<dyn Fn(&str) -> bool + Send + Sync>;

/// One server's accounts, sessions and throttle. Share it as an
/// `Arc<Auth>` ([`Auth::open`] returns one): every method takes `&self`,
/// and each part guards itself with its own lock.
pub struct Auth {
    config: AuthConfig,
    accounts: Accounts,
    sessions: SessionStore,
    throttle: Throttle,
    /// Set once, at start-up, by a lab whose other names share the
    /// accounts' name space (lab 4's peer names).
    reserved: OnceLock<NameCheck>,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("config", &self.config)
            .field("accounts", &self.accounts)
            .field("sessions", &self.sessions)
            .field("throttle", &self.throttle)
            .finish_non_exhaustive()
    }
}

impl Auth {
    /// Opens the accounts file in `data_dir` (creating the directory if it
    /// is missing) and starts with no sessions, reading time from `clock`.
    ///
    /// Fails if the cookie name is not a token, or if the directory or the
    /// accounts file cannot be read.
    pub fn open(data_dir: &Path, config: AuthConfig, clock: Clock) -> io::Result<Arc<Auth>> {
        if let Err(error) = SetCookie::new(&config.cookie_name, "") {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, error));
        }
        fs::create_dir_all(data_dir).map_err(|error| {
            io::Error::new(
                error.kind(),
                format!("data directory {}: {error}", data_dir.display()),
            )
        })?;
        Ok(Arc::new(Auth {
            accounts: Accounts::open(data_dir, config.iterations)?,
            sessions: SessionStore::new(config.session, clock.clone()),
            throttle: Throttle::new(config.throttle, clock),
            config,
            reserved: OnceLock::new(),
        }))
    }

    /// Makes `/register` refuse (409) every name for which `is_taken` says
    /// yes, as if an account had it. Lab 4 passes "a peer has this name",
    /// so that no account is created under another account's peer name.
    /// Only the first call counts.
    pub fn reserve_names(&self, is_taken: impl Fn(&str) -> bool + Send + Sync + 'static) {
        let _ = self.reserved.set(Box::new(is_taken));
    }

    /// Whether [`Auth::reserve_names`] reserved `name`.
    pub fn is_reserved(&self, name: &str) -> bool {
        self.reserved.get().is_some_and(|is_taken| is_taken(name))
    }

    /// The settings it was opened with.
    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    /// The accounts.
    pub fn accounts(&self) -> &Accounts {
        &self.accounts
    }

    /// The live sessions.
    pub fn sessions(&self) -> &SessionStore {
        &self.sessions
    }

    /// The failed-login counts.
    pub fn throttle(&self) -> &Throttle {
        &self.throttle
    }

    /// The username of the request's session, or `None` when the request
    /// has no session cookie or its id is not a live session (forged,
    /// expired, logged out). Using a session keeps it alive: its idle
    /// timeout starts again. The `auth` cookie plays no part.
    pub fn user(&self, request: &Request<'_>) -> Option<String> {
        // lab3: begin — find the session cookie, then ask the store whose id it is
        self.sessions.lookup(self.session_id(request)?)
        // lab3: end
    }

    /// The value of the request's session cookie, live or not.
    ///
    /// A browser sends one `Cookie` header (RFC 6265 §5.4), but nothing
    /// stops a client from sending several: each is searched, in order.
    pub fn session_id<'b>(&self, request: &Request<'b>) -> Option<&'b str> {
        request
            .headers()
            .get_all("cookie")
            .filter_map(|value| std::str::from_utf8(value).ok())
            .find_map(|header| Cookies::parse(header).get(&self.config.cookie_name))
    }

    /// `response` with the two login cookies for session `id`: the session
    /// cookie, and `auth=true`. Both last as long as the session can
    /// ([`SessionConfig::absolute_timeout`]); the server ends it sooner if
    /// it goes idle.
    pub(crate) fn with_login_cookies(
        &self,
        response: Response,
        id: &str,
    ) -> Result<Response, CookieError> {
        let seconds = self.config.session.absolute_timeout.as_secs();
        self.with_cookies(response, id, AUTH_COOKIE_VALUE, seconds)
    }

    /// `response` with both cookies emptied and `Max-Age=0`, which makes
    /// the browser delete them (RFC 6265 §5.2.2).
    pub(crate) fn with_logout_cookies(&self, response: Response) -> Result<Response, CookieError> {
        self.with_cookies(response, "", "", 0)
    }

    fn with_cookies(
        &self,
        response: Response,
        session_value: &str,
        auth_value: &str,
        max_age: u64,
    ) -> Result<Response, CookieError> {
        let session = self.session_cookie(session_value, max_age)?;
        // Not HttpOnly: the course's pages may read `auth` from a script,
        // and it holds no secret.
        let auth = SetCookie::new(AUTH_COOKIE_NAME, auth_value)?
            .path(COOKIE_PATH)?
            .max_age(max_age)
            .same_site(SameSite::Strict);
        Ok(response
            .with_header("Set-Cookie", session.to_string())
            .with_header("Set-Cookie", auth.to_string()))
    }

    /// The session cookie with the attributes that protect it.
    fn session_cookie(&self, value: &str, max_age: u64) -> Result<SetCookie, CookieError> {
        // lab3: begin — HttpOnly keeps the id from page scripts, SameSite=Strict from other sites
        Ok(SetCookie::new(&self.config.cookie_name, value)?
            .path(COOKIE_PATH)?
            .max_age(max_age)
            .http_only()
            .same_site(SameSite::Strict))
        // lab3: end
    }
}
