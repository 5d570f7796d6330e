//! Lab 3's application: the auth routes, and the site's static files with
//! the home page behind the login.
//!
//! | path | who may | what |
//! |---|---|---|
//! | `POST /login`, `/logout`, `/register`, `GET /whoami` | see [`super::routes`] | the course's contract |
//! | `/`, `/index.html` | logged-in users | the greeting page; others get a 401 page linking to `/login.html` |
//! | every other file of `--www` (`/login.html`, `/style.css` …) | anyone | static files |

use std::sync::Arc;

use super::app::Auth;
use crate::http::Router;
use crate::http::files::StaticFiles;

/// The pages of `--www` that need a login.
pub const PROTECTED_PAGES: &[&str] = &["/index.html"];

/// The lab 3 application over `auth` and a static file root.
pub fn app(auth: &Arc<Auth>, files: StaticFiles) -> Router {
    auth.routes(Router::new())
        .fallback(auth.protect_files(files, PROTECTED_PAGES))
}
