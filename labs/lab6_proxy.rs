//! Lab 6: a reverse proxy — virtual hosts and pools of backends.
//!
//! ```text
//! cargo run --example lab6_proxy -- --port 8080 --config labs/proxy.conf
//! curl -v http://static.localhost:8080/hello     # one of three lab 2 servers
//! cargo test --test lab6_proxy                   # grades the lab
//! ```
//!
//! The sites and their backends come from `--config` (`labs/proxy.conf` is
//! a commented example; `weaprous::proxy::config` reads it). Read
//! `docs/lab6_proxy.md` beside it.

use weaprous::flags::{Cli, SERVER_FLAGS};
use weaprous::proxy::config;
use weaprous::proxy::serve::{PROXY_FLAGS, ProxyFlags};

fn main() {
    let cli = Cli::new(
        "lab6_proxy",
        "a reverse proxy: virtual hosts by Host, load-balanced backends",
    )
    .flags(SERVER_FLAGS)
    .flags(PROXY_FLAGS);
    let args = cli.parse_env_or_exit();
    let flags = ProxyFlags::from_args(&args).unwrap_or_else(|error| error.exit());
    // A configuration error is one line, with the line number, and exit code 2.
    let config = config::load(&flags.config).unwrap_or_else(|error| {
        eprintln!("error: {}, {error}", flags.config.display());
        std::process::exit(2);
    });
    flags.run(config);
}
