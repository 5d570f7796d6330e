//! # weaprous — a teaching kit for computer networks
//!
//! A socket-level HTTP server with cookie sessions and a hybrid chat, built
//! as a ladder of labs on the standard library alone. Read the modules
//! bottom-up, in the order of the labs:
//!
//! | lab | modules |
//! |---|---|
//! | 1 — TCP echo | [`net`] (its threads recycled by [`workers`]), [`echo`], with [`flags`], [`clock`] and [`durable`] shared by all |
//! | 2 — HTTP/1.1 | [`http`] |
//! | 3 — cookie sessions and login | [`auth`]: cookies, sessions, accounts, password hashing, throttling; [`json`] for request and response bodies |
//! | 4 — the hybrid chat | [`chat`]: the tracker, channels, the message store, live events, the routes |
//! | 5 — the peer node | [`p2p`]: the peers' wire protocol, tickets, delivery, retries, the node's UI routes |
//! | 6 — reverse proxy | [`proxy`]: virtual hosts, load balancing, streaming |
//!
//! For measuring them: [`histogram`], the latency histogram of the load
//! generator (`labs/tools/loadgen.rs`, `docs/benchmarks.md`).
//!
//! Lower layers never import higher ones: [`net`] knows nothing of what
//! travels on its connections, [`http`] nothing of sessions, [`auth`]
//! nothing of the chat.

// Students read every public item: each says what it is and why.
#![warn(missing_docs)]
// One module talks to the kernel directly, and says why: `poll`.
#![deny(unsafe_code)]

pub mod auth;
pub mod chat;
pub mod clock;
pub mod durable;
pub mod echo;
pub mod flags;
pub mod histogram;
pub mod http;
pub mod json;
pub mod net;
pub mod p2p;
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
pub mod poll;
pub mod proxy;
pub mod workers;
