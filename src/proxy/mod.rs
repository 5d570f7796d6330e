//! Lab 6: a reverse proxy — virtual hosts by `Host`, pools of backends.
//!
//! Clients talk to the proxy as if it were the web server. For each
//! request it finds the site the `Host` header names, picks one of that
//! site's backends, forwards the request, and streams the answer back.
//! Read the modules in the order a request travels:
//!
//! | module | what it does |
//! |---|---|
//! | [`config`] | the configuration file: `host "NAME" { proxy_pass …; }` |
//! | [`route`] | virtual hosting: `Host` → site (RFC 9110 §7.2) |
//! | [`conn`] | a client connection: heads, deadlines, keep-alive, the proxy's own answers |
//! | [`balance`] | which backend: round-robin, least-conn, random, sticky; dead ones skipped |
//! | [`forward`] | one request to a backend and back; retries, 502 and 504 |
//! | [`rewrite`] | what changes in the heads: hop-by-hop fields, `X-Forwarded-*`, `Via` (RFC 9110 §7.6) |
//! | [`upstream`] | connections to backends, kept alive in a small pool; response heads |
//! | [`wire`] | a buffered socket, and bodies copied piece by piece (RFC 9112 §6–§7) |
//! | [`serve`] | settings, flags and start-up |
//!
//! The proxy builds on lab 2's parts — the head parser, the framing rules,
//! the chunked decoder and writer, `Response` — but not on lab 2's
//! connection loop, which reads whole bodies before a handler runs
//! ([`conn`] says why).

pub mod balance;
pub mod config;
pub mod conn;
pub mod forward;
pub mod rewrite;
pub mod route;
pub mod serve;
pub mod upstream;
pub mod wire;

pub use balance::Policy;
pub use config::{Config, ConfigError};
pub use route::Proxy;
pub use serve::{Settings, start};
