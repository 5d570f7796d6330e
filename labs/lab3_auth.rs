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
use weaprous::auth::password::DEFAULT_ITERATIONS;
use weaprous::auth::serve::{AUTH_FLAGS, AuthFlags};
use weaprous::flags::{Cli, SERVER_FLAGS};
use weaprous::http::files::StaticFiles;
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
    if auth_flags.config.iterations < DEFAULT_ITERATIONS {
        eprintln!(
            "warning: --iterations {} is below the recommended {DEFAULT_ITERATIONS}: \
             new password hashes are cheap to guess; use it for tests only",
            auth_flags.config.iterations
        );
    }
    let clock = flags.config.clock.clone();
    let files = StaticFiles::new(&flags.www, clock.clone()).unwrap_or_else(|error| {
        eprintln!("error: --www: {error}");
        std::process::exit(2);
    });
    // Hashes the demo account's password: a fraction of a second at the
    // default iteration count.
    let auth = auth_flags.open_or_exit(clock);
    flags.run(demo::app(&auth, files));
}
