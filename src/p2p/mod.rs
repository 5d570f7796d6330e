//! Lab 5: the peer node — the peer-to-peer half of the hybrid chat
//! (`docs/lab5_peer.md`; the threats in `docs/security.md`).
//!
//! Each user runs a process of their own: it serves the lab 4 UI to its
//! user's browser, finds the other peers through the tracker (lab 4's
//! server, over lab 2's HTTP client), and sends messages straight to them
//! over its own small framed protocol on TCP (lab 1). The tracker only
//! introduces peers and vouches for them; it never sees a message.
//!
//! Read from the bottom up:
//!
//! | module | what it does | follows |
//! |---|---|---|
//! | [`frame`] | the wire protocol: frames, one JSON object a line | JSON Lines, RFC 8259 |
//! | [`wire`] | a connection as frames: read until a frame is whole, deadlines | |
//! | [`tracker`] | the node's calls to the tracker, with its session | lab 4's API |
//! | [`outbox`] | messages waiting for an unreachable peer; backoff; on disk | |
//! | [`dial`] | links to other peers: ticket, hello, message, ack; reuse, reopen | |
//! | [`node`] | [`PeerNode`]: the store, hosted peers, sessions, history | |
//! | [`send`] | broadcast and direct messages: store, deliver in parallel, queue | |
//! | [`inbox`] | other peers' connections: check the ticket, store, ack | |
//! | [`app`] | the UI's routes, answered by the node | lab 4's API |
//! | [`serve`] | flags, the two listeners, the keeper thread | |
//!
//! The tracker's side of the trust design (tickets) is lab 4's
//! [`crate::chat::ticket`].

pub mod app;
pub mod dial;
pub mod frame;
pub mod inbox;
pub mod node;
pub mod outbox;
pub mod send;
pub mod serve;
pub mod tracker;
pub mod wire;

pub use node::{NodeSettings, PeerNode};
pub use serve::{PeerConfig, RunningPeer, start};
