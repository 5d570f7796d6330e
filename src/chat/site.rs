//! Lab 4's application: lab 3's login, the chat's API behind it, and the
//! web UI's static files.
//!
//! | path | who may | what |
//! |---|---|---|
//! | `GET /` | anyone | 303 to `/chat.html` |
//! | `POST /login`, `/logout`, `/register`, `GET /whoami` | see [`crate::auth::routes`] | lab 3's contract |
//! | the chat routes ([`super::api`]) | logged-in accounts | 401 JSON otherwise |
//! | every file of `--www` | anyone | the UI; `chat.js` sends a visitor without a session to `/login.html` |

use std::io;
use std::path::Path;
use std::sync::Arc;

use super::api;
use super::service::{Chat, Settings};
use crate::auth::Auth;
use crate::auth::reply;
use crate::http::files::StaticFiles;
use crate::http::{Response, Router, StatusCode};

/// Where `GET /` sends the browser.
pub const CHAT_PAGE: &str = "/chat.html";

/// Opens the chat kept in `data` for the accounts of `auth`: a peer may
/// not take the name of an account (see [`Chat::open`]).
pub fn open_chat(auth: &Arc<Auth>, data: &Path, settings: Settings) -> io::Result<Arc<Chat>> {
    let accounts = Arc::clone(auth);
    let chat = Chat::open(data, settings, move |name| {
        accounts.accounts().contains(name)
    })?;
    Ok(Arc::new(chat))
}

/// The lab 4 application over `auth`, `chat` and a static file root.
///
/// It also tells `auth` that peer names are taken, so that `/register`
/// cannot create an account named like another account's peer (the
/// tracker already refuses a peer named like an account). That check
/// holds the chat weakly: the chat holds `auth` (through
/// [`open_chat`]), and a strong reference back would keep both alive for
/// ever — and the message log's writer thread with them — after the
/// server that used them has stopped.
pub fn app(auth: &Arc<Auth>, chat: &Arc<Chat>, files: StaticFiles) -> Router {
    let peers = Arc::downgrade(chat);
    auth.reserve_names(move |name| {
        peers
            .upgrade()
            .is_some_and(|chat| chat.tracker().peer(name).is_ok())
    });
    let router = Router::new()
        .get("/", |_: &crate::http::Request<'_>| {
            Response::redirect(StatusCode::SEE_OTHER, CHAT_PAGE)
        })
        // Every answer of the API is JSON, errors included — also those
        // the router and the server give before a handler runs.
        .errors(|status, message| reply::json_status(status, "error", message));
    let router = api::mount(auth.routes(router), chat, |handler| auth.protect(handler));
    router.fallback(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::AuthConfig;
    use crate::auth::password::TEST_ITERATIONS;
    use crate::clock::Clock;
    use crate::durable::TempDir;
    use std::net::{IpAddr, Ipv4Addr};

    #[test]
    fn the_app_and_the_chat_are_freed_once_the_server_lets_go() {
        let dir = TempDir::new("site");
        let clock = Clock::manual().0;
        let config = AuthConfig {
            iterations: TEST_ITERATIONS,
            ..AuthConfig::default()
        };
        let auth = Auth::open(dir.path(), config, clock.clone()).expect("open auth");
        let settings = Settings {
            clock: clock.clone(),
            ..Settings::default()
        };
        let chat = open_chat(&auth, dir.path(), settings).expect("open chat");
        let files = StaticFiles::new(dir.path(), clock).expect("files");
        let router = app(&auth, &chat, files);
        chat.register_peer("alice", "ann", IpAddr::V4(Ipv4Addr::LOCALHOST), 9100)
            .expect("register");
        assert!(
            auth.is_reserved("ann"),
            "a peer's name is taken for accounts"
        );
        let (chat_left, auth_left) = (Arc::downgrade(&chat), Arc::downgrade(&auth));
        drop((router, chat, auth));
        assert!(
            chat_left.upgrade().is_none() && auth_left.upgrade().is_none(),
            "no reference cycle keeps the chat (and its writer thread) alive"
        );
    }
}
