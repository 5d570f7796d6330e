//! Lab 4: the hybrid chat's server — the tracker that lets peers find
//! each other, channels, broadcast and direct messages, a durable history
//! and live updates (`docs/lab4_chat.md`; the API in `docs/protocol.md`).
//!
//! Read from the bottom up:
//!
//! | module | what it does | follows |
//! |---|---|---|
//! | [`error`] | why a request fails, and its status code | RFC 9110 §15 |
//! | `fields` | typed fields of JSON objects, shared by the others | RFC 8259 |
//! | [`store`] | messages: an append-only log, group commit, history pages | JSON Lines, `fdatasync(2)` |
//! | [`tracker`] | peers, their owners and addresses, channels, who is online | |
//! | [`events`] | the live fan-out, resuming without gaps, the wire format | HTML §9.2 Server-sent events |
//! | [`service`] | [`Chat`]: the operations, with the rules that span the parts | |
//! | [`api`] | the course's routes, JSON in and out | the lab 4 issue's table |
//! | [`site`] | lab 4's whole application: login, API, static files | |
//!
//! The chat knows accounts only by name: lab 3's session check finds the
//! account of a request and hands its username to the routes
//! ([`api::mount`]).

pub mod api;
pub mod error;
pub mod events;
mod fields;
pub mod service;
pub mod site;
pub mod store;
#[cfg(test)]
mod testing;
pub mod tracker;

pub use error::ChatError;
pub use service::{Chat, Settings};
