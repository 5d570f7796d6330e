//! Lab 2: HTTP/1.1 over the TCP server of lab 1.
//!
//! Read the modules in this order — it is the order a request travels:
//!
//! | module | what it does |
//! |---|---|
//! | [`headers`] | header fields and the line syntax (RFC 9110 §5, RFC 9112 §2) |
//! | [`method`], [`status`] | methods, versions, status codes |
//! | [`request`] | the request-head parser, limits, and [`Request`] |
//! | [`body`] | body framing: `Content-Length`, chunked |
//! | [`conn`] | the per-connection loop: keep-alive, pipelining, deadlines |
//! | [`event_loop`] | where lab 2's idle connections wait: `epoll`, not a thread each |
//! | [`response`] | [`Response`] and how it is written |
//! | [`router`] | method + path → handler; 404 and 405 |
//! | [`files`] | static files, safely, with `ETag` and 304 |
//! | [`url`] | percent-decoding, query strings, forms |
//! | [`date`] | HTTP dates and RFC 3339 timestamps |
//! | [`client`] | a small blocking client |
//! | [`serve`] | flags and start-up shared by the HTTP labs |
//! | [`demo`] | lab 2's own application |
//!
//! `http` knows nothing of sessions or chat: those labs are handlers.

pub mod body;
pub mod client;
pub mod conn;
pub mod date;
pub mod demo;
#[cfg(target_os = "linux")]
pub mod event_loop;
pub mod files;
pub mod headers;
pub mod method;
pub mod request;
pub mod response;
pub mod router;
pub mod serve;
pub mod status;
pub mod url;

pub use conn::{Config, HttpService};
pub use method::{Method, Version};
pub use request::{Limits, Request};
pub use response::{Body, Response};
pub use router::{Handler, Router};
pub use status::StatusCode;
