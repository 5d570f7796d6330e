//! Lab 3: cookie sessions and login.
//!
//! ```text
//! cargo run --example lab3_auth            # http://127.0.0.1:9000/login.html (admin / password)
//! curl -i -H 'Cookie: auth=true' http://127.0.0.1:9000/whoami    # 401: auth=true is no login
//! cargo test --test lab3_auth              # grades the lab
//! ```
//!
//! `POST /login`, `/logout`, `/register` and `GET /whoami`, the static
//! files of `--www` with `/` and `/index.html` behind the login, and the
//! accounts in `--data/accounts.txt` (`weaprous::auth::demo`). Read
//! `docs/lab3_auth.md` beside it.

use weaprous::auth::demo;
use weaprous::auth::serve::{AUTH_FLAGS, AuthFlags};
use weaprous::flags::{Cli, SERVER_FLAGS};
use weaprous::http::serve::{HTTP_FLAGS, HttpFlags};

fn main() {
    let cli = Cli::new(
        "lab3_auth",
        "login with cookie sessions: the course's Task 1A, made safe",
    )
    .flags(SERVER_FLAGS)
    .flags(HTTP_FLAGS)
    .flags(AUTH_FLAGS);
    let args = cli.parse_env_or_exit();
    let flags = HttpFlags::from_args(&args).unwrap_or_else(|error| error.exit());
    let auth_flags = AuthFlags::from_args(&args).unwrap_or_else(|error| error.exit());
    let files = flags.static_files();
    // Hashes the demo account's password: a fraction of a second at the
    // default iteration count.
    let auth = auth_flags.open_or_exit(flags.config.clock.clone());
    flags.run(demo::app(&auth, files));
}
