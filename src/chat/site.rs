//! Lab 4's application: lab 3's login, the chat's API behind it, and the
//! web UI's static files.
//!
//! | path | who may | what |
//! |---|---|---|
//! | `GET /` | anyone | 303 to `/chat.html` |
//! | `POST /login`, `/logout`, `/register`, `GET /whoami` | see [`crate::auth::routes`] | lab 3's contract |
//! | the chat routes ([`super::api`]) | logged-in accounts | 401 JSON otherwise |
//! | every file of `--www` | anyone | the UI; `chat.js` sends a visitor without a session to `/login.html` |

use std::sync::Arc;

use super::api;
use super::service::Chat;
use crate::auth::Auth;
use crate::http::files::StaticFiles;
use crate::http::{Response, Router, StatusCode};
use crate::json::{self, Value};

/// Where `GET /` sends the browser.
pub const CHAT_PAGE: &str = "/chat.html";

/// The lab 4 application over `auth`, `chat` and a static file root.
///
/// It also tells `auth` that peer names are taken, so that `/register`
/// cannot create an account named like another account's peer (the
/// tracker already refuses a peer named like an account).
pub fn app(auth: &Arc<Auth>, chat: &Arc<Chat>, files: StaticFiles) -> Router {
    let peers = Arc::clone(chat);
    auth.reserve_names(move |name| peers.tracker().peer(name).is_ok());
    let router = Router::new()
        .get("/", |_: &crate::http::Request<'_>| {
            Response::redirect(StatusCode::SEE_OTHER, CHAT_PAGE)
        })
        .not_allowed(|method, allow| {
            let message = format!("{method} is not allowed here; use {allow}");
            let body = json::object([
                ("status", Value::from("error")),
                ("message", Value::from(message)),
            ]);
            Response::json(StatusCode::METHOD_NOT_ALLOWED, body.to_string())
        });
    let router = api::mount(auth.routes(router), chat, |handler| auth.protect(handler));
    router.fallback(files)
}
