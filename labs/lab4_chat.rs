//! Lab 4: the hybrid chat's server — tracker, channels, broadcast and
//! direct messages, live updates, durable history, and the web UI.
//!
//! ```text
//! cargo run --example lab4_chat            # http://127.0.0.1:9000/ (admin / password)
//! cargo test --test lab4_chat              # grades the lab
//! ```
//!
//! Lab 3's login and lab 4's chat API (`weaprous::chat::site`), the UI in
//! `--www`, and the state in `--data` (accounts, the message log, the
//! tracker). Read `docs/lab4_chat.md` beside it; the API is in
//! `docs/protocol.md`.

use weaprous::auth::serve::{AUTH_FLAGS, AuthFlags};
use weaprous::chat::{Settings, site};
use weaprous::flags::{Cli, SERVER_FLAGS};
use weaprous::http::serve::{HTTP_FLAGS, HttpFlags};

fn main() {
    let cli = Cli::new(
        "lab4_chat",
        "the hybrid chat's server: tracker, channels, messages, live updates",
    )
    .flags(SERVER_FLAGS)
    .flags(HTTP_FLAGS)
    .flags(AUTH_FLAGS);
    let args = cli.parse_env_or_exit();
    let flags = HttpFlags::from_args(&args).unwrap_or_else(|error| error.exit());
    let auth_flags = AuthFlags::from_args(&args).unwrap_or_else(|error| error.exit());
    let clock = flags.config.clock.clone();
    let files = flags.static_files();
    let data = auth_flags.data.clone();
    let auth = auth_flags.open_or_exit(clock.clone());
    let settings = Settings {
        clock,
        ..Settings::default()
    };
    let chat = site::open_chat(&auth, &data, settings).unwrap_or_else(|error| {
        eprintln!("error: --data {}: {error}", data.display());
        std::process::exit(1);
    });
    flags.run(site::app(&auth, &chat, files));
}
