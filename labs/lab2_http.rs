//! Lab 2: an HTTP/1.1 server.
//!
//! ```text
//! cargo run --example lab2_http            # http://127.0.0.1:9000/
//! curl -v http://127.0.0.1:9000/hello
//! cargo test --test lab2_http              # grades the lab
//! ```
//!
//! Static files from `--www`, plus `GET /hello` and `/debug/request`
//! (`weaprous::http::demo`). Read `docs/lab2_http.md` beside it.

use weaprous::flags::{Cli, SERVER_FLAGS};
use weaprous::http::demo;
use weaprous::http::serve::{HTTP_FLAGS, HttpFlags};

fn main() {
    let cli = Cli::new(
        "lab2_http",
        "an HTTP/1.1 server: static files and a tiny API",
    )
    .flags(SERVER_FLAGS)
    .flags(HTTP_FLAGS);
    let args = cli.parse_env_or_exit();
    let mut flags = HttpFlags::from_args(&args).unwrap_or_else(|error| error.exit());
    // Static files and `/hello` never wait: idle connections can wait in
    // an event loop instead of a thread each (docs/lab2_http.md, "Where
    // idle connections wait").
    flags.config.event_loop = true;
    let files = flags.static_files();
    flags.run(demo::app(files));
}
