//! Lab 1: a TCP echo server.
//!
//! ```text
//! cargo run --example lab1_echo            # listens on 127.0.0.1:9000
//! nc 127.0.0.1 9000                        # type a line: it comes back
//! cargo test --test lab1_echo              # grades the lab
//! ```
//!
//! Everything it does lives in the library (`weaprous::net`,
//! `weaprous::echo`); this file only reads the flags and wires the pieces.
//! Read `docs/lab1_echo.md` beside it.

use std::net::SocketAddr;

use weaprous::echo::EchoService;
use weaprous::flags::{Cli, Flag, MAX_SECONDS, SERVER_FLAGS, ServerFlags};
use weaprous::net::{Config, Server};

/// Flags of lab 1 beyond the ones every server takes.
const LAB1_FLAGS: &[Flag] = &[Flag {
    name: "--idle-timeout",
    aliases: &[],
    value: Some("SECS"),
    default: Some("60"),
    help: "close a connection that sends nothing for this long",
}];

fn main() {
    let cli = Cli::new("lab1_echo", "a TCP echo server: every byte comes back")
        .flags(SERVER_FLAGS)
        .flags(LAB1_FLAGS);
    let args = cli.parse_env_or_exit();
    let flags = ServerFlags::from_args(&args).unwrap_or_else(|error| error.exit());
    let idle = args
        .seconds("--idle-timeout", 1..=MAX_SECONDS)
        .unwrap_or_else(|error| error.exit());

    let idle = Some(idle);
    let config = Config {
        max_connections: flags.max_connections,
        read_timeout: idle,
        write_timeout: idle,
        ..Config::default()
    };
    // Prints `listening on http://HOST:PORT`, the line scripts wait for.
    let server = Server::listen_or_exit(SocketAddr::new(flags.host, flags.port), config);
    server.run(EchoService { quiet: flags.quiet });
}
