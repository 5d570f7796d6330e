//! Lab 5: a peer node of the hybrid chat — the lab 4 UI for its own user,
//! and messages straight to the other peers.
//!
//! ```text
//! cargo run --example lab4_chat                                  # the tracker, on :9000
//! cargo run --example lab5_peer -- --port 9001 --p2p-port 9101   # http://127.0.0.1:9001/
//! cargo run --example lab5_peer -- --port 9002 --p2p-port 9102   # http://127.0.0.1:9002/
//! cargo test --test lab5_peer                                    # grades the lab
//! ```
//!
//! Two listeners: `--port` serves the UI (`--www`) to this node's user,
//! `--p2p-port` takes other peers' connections. The first stdout line is
//! `listening on http://HOST:PORT`, the second `p2p on HOST:PORT`. Read
//! `docs/lab5_peer.md` beside it.

use weaprous::flags::Cli;
use weaprous::http::serve::HTTP_FLAGS;
use weaprous::p2p::serve::{PEER_FLAGS, PeerConfig, server_flags, start};

fn main() {
    let cli = Cli::new(
        "lab5_peer",
        "a peer node of the hybrid chat: the UI on --port, other peers on --p2p-port",
    )
    .flags(&server_flags())
    .flags(HTTP_FLAGS)
    .flags(PEER_FLAGS);
    let args = cli.parse_env_or_exit();
    let config = PeerConfig::from_args(&args).unwrap_or_else(|error| error.exit());
    let running = start(config).unwrap_or_else(|error| {
        eprintln!("error: {error}");
        std::process::exit(1);
    });
    println!("listening on http://{}", running.addr());
    println!("p2p on {}", running.p2p_addr());
    running.wait();
}
