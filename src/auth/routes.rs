//! The lab 3 routes, the course's contract: `POST /login`, `POST /logout`,
//! `GET /whoami`, `POST /register` (`docs/lab3_auth.md`, "The contract").
//!
//! | route | answers |
//! |---|---|
//! | `POST /login` | 200 `{"status":"authorized","message":"Login successful"}` + two cookies (JSON body); 303 to `/` + the cookies (form body); 401 wrong name or password; 400 bad body; 429 locked |
//! | `POST /logout` | 200 `{"status":"logged_out"}`; the session ends, both cookies expire |
//! | `GET /whoami` | 200 `{"username":"…"}`; 401 without a live session |
//! | `POST /register` | 201 created; 409 name taken; 400 bad name, short password or bad body |
//!
//! Failures of a form login (401, 429) are HTML pages, because a person
//! sees them in place of the page; everything else is JSON. A 400 is always
//! JSON: a body without the two fields comes from a broken program, not
//! from a person typing.
//!
//! A login checks, in this order: the body ([`super::credentials`]), the
//! lockout ([`super::throttle`], before any hashing, so a locked pair costs
//! the server nothing), the password ([`super::accounts`]). A wrong name and
//! a wrong password get one message, so the answer does not tell which
//! names exist.
//!
//! Left out on purpose: logging in again after registering (the login page
//! does it with a second request), changing or deleting accounts, a limit
//! on registrations per address, and making the check and the count of a
//! failure one step — a burst of parallel guesses is checked before any of
//! its failures is counted (`docs/lab3_auth.md`, exercises).

use std::sync::Arc;
use std::time::Duration;

use super::accounts::RegisterError;
use super::app::Auth;
use super::credentials::{BodyFormat, Credentials};
use super::guard::LOGIN_PAGE;
use super::reply::{NO_STORE, html_page, json_status, retry_after};
use super::session::SessionId;
use crate::http::{Handler, Request, Response, Router, StatusCode};
use crate::json::{self, Value};

/// `POST`: log in.
pub const LOGIN_PATH: &str = "/login";

/// `POST`: log out.
pub const LOGOUT_PATH: &str = "/logout";

/// `GET`: who is logged in.
pub const WHOAMI_PATH: &str = "/whoami";

/// `POST`: create an account.
pub const REGISTER_PATH: &str = "/register";

/// Where a successful form login is sent (303 See Other).
pub const HOME_PAGE: &str = "/";

/// The message of a successful login (the course's).
pub const LOGIN_SUCCESSFUL: &str = "Login successful";

/// The message of a failed login, for a wrong name and a wrong password
/// alike (the course's).
pub const INVALID_CREDENTIALS: &str = "Invalid username or password";

impl Auth {
    /// `router` with the four auth routes added. One trailing slash is
    /// accepted on each (`/login/`), as [`Router`] does for every route.
    pub fn routes(self: &Arc<Self>, router: Router) -> Router {
        router
            .post(LOGIN_PATH, self.route(Auth::login))
            .post(LOGOUT_PATH, self.route(Auth::logout))
            .post(REGISTER_PATH, self.route(Auth::register))
            .get(WHOAMI_PATH, self.protect(whoami))
    }

    /// A handler that calls `method` on this `Auth`.
    fn route(self: &Arc<Self>, method: fn(&Auth, &Request<'_>) -> Response) -> impl Handler {
        let auth = Arc::clone(self);
        move |request: &Request<'_>| method(&auth, request)
    }

    /// `POST /login`.
    fn login(&self, request: &Request<'_>) -> Response {
        let Credentials {
            username,
            password,
            format,
        } = match read_credentials(request) {
            Ok(credentials) => credentials,
            Err(response) => return response,
        };
        let id = match self.open_session(request, &username, &password, format) {
            Ok(id) => id,
            Err(refusal) => return refusal,
        };
        let response = match format {
            BodyFormat::Json => json_status(StatusCode::OK, "authorized", LOGIN_SUCCESSFUL),
            // Post/Redirect/Get: the browser follows with `GET /`, so a
            // reload repeats the GET, not the POST of the password.
            BodyFormat::Form => Response::redirect(StatusCode::SEE_OTHER, HOME_PAGE)
                .with_header("Cache-Control", NO_STORE),
        };
        self.with_login_cookies(response, id.as_str())
            .unwrap_or_else(|error| internal_error("writing the cookies", &error))
    }

    /// Checks the lockout and the password, then opens a fresh session for
    /// `username`: its id, or the response that refuses the login.
    fn open_session(
        &self,
        request: &Request<'_>,
        username: &str,
        password: &str,
        format: BodyFormat,
    ) -> Result<SessionId, Response> {
        let ip = request.peer().ip();
        // lab3: begin — lockout first, then the password; a success clears the count and starts a fresh session
        if let Err(wait) = self.throttle().check(username, ip) {
            return Err(too_many_failures(format, wait));
        }
        if !self.accounts().verify(username, password) {
            self.throttle().record_failure(username, ip);
            return Err(invalid_credentials(format));
        }
        self.throttle().record_success(username, ip);
        // Always a new id (no session fixation); the one the browser
        // brought, if any, ends now.
        if let Some(old) = self.session_id(request) {
            self.sessions().remove(old);
        }
        self.sessions()
            .create(username)
            .map_err(|error| internal_error("making a session id", &error))
        // lab3: end
    }

    /// `POST /logout`: ends the request's session, if it has one, and
    /// expires both cookies. Without a session it answers the same: the
    /// client is logged out either way.
    fn logout(&self, request: &Request<'_>) -> Response {
        if let Some(id) = self.session_id(request) {
            self.sessions().remove(id);
        }
        let body = json::object([("status", Value::from("logged_out"))]);
        let response =
            Response::json(StatusCode::OK, body.to_string()).with_header("Cache-Control", NO_STORE);
        self.with_logout_cookies(response)
            .unwrap_or_else(|error| internal_error("writing the cookies", &error))
    }

    /// `POST /register`.
    fn register(&self, request: &Request<'_>) -> Response {
        let credentials = match read_credentials(request) {
            Ok(credentials) => credentials,
            Err(response) => return response,
        };
        let taken = || json_status(StatusCode::CONFLICT, "conflict", "That username is taken");
        if self.is_reserved(&credentials.username) {
            return taken();
        }
        match self
            .accounts()
            .register(&credentials.username, &credentials.password)
        {
            Ok(()) => json_status(StatusCode::CREATED, "created", "Account created"),
            Err(RegisterError::Invalid(message)) => {
                json_status(StatusCode::BAD_REQUEST, "bad_request", &message)
            }
            Err(RegisterError::Taken) => taken(),
            Err(RegisterError::Io(error)) => internal_error("saving the account", &error),
        }
    }
}

/// `GET /whoami`, behind [`Auth::protect`].
fn whoami(_: &Request<'_>, user: &str) -> Response {
    let body = json::object([("username", Value::from(user))]);
    Response::json(StatusCode::OK, body.to_string()).with_header("Cache-Control", NO_STORE)
}

/// The request's credentials, or the 400 that says what is wrong with them.
fn read_credentials(request: &Request<'_>) -> Result<Credentials, Response> {
    Credentials::read(request.header("content-type"), request.body())
        .map_err(|error| json_status(StatusCode::BAD_REQUEST, "bad_request", &error.to_string()))
}

/// 401 for a wrong name or password.
fn invalid_credentials(format: BodyFormat) -> Response {
    match format {
        BodyFormat::Json => json_status(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            INVALID_CREDENTIALS,
        ),
        BodyFormat::Form => html_page(
            StatusCode::UNAUTHORIZED,
            "Login failed",
            &format!("{INVALID_CREDENTIALS}."),
            LOGIN_PAGE,
            "Try again",
        ),
    }
}

/// 429 with `Retry-After` for a locked (username, address) pair.
fn too_many_failures(format: BodyFormat, wait: Duration) -> Response {
    let (message, seconds) = retry_after(wait);
    let response = match format {
        BodyFormat::Json => {
            json_status(StatusCode::TOO_MANY_REQUESTS, "too_many_requests", &message)
        }
        BodyFormat::Form => html_page(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many failed logins",
            &format!("{message}."),
            LOGIN_PAGE,
            "Back to the login page",
        ),
    };
    response.with_header("Retry-After", seconds.to_string())
}

/// 500 for a failure of the server's own (the random source, the disk, a
/// cookie it could not write); the details go to the log, not the client.
fn internal_error(doing: &str, error: &dyn std::error::Error) -> Response {
    eprintln!("error: {doing}: {error}");
    json_status(
        StatusCode::INTERNAL_SERVER_ERROR,
        "error",
        &format!("The server failed while {doing}"),
    )
}
