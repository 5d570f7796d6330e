//! Forwarding one request to a backend, and its response back to the
//! client, each body piece by piece as it arrives.
//!
//! ```text
//!   client ──head──► rewrite (rewrite.rs) ──────────► backend
//!   client ──body──► copy_body, a piece at a time ──► backend
//!   client ◄──head── rewrite ◄─────────────────────── backend
//!   client ◄──body── copy_body, a piece at a time ◄── backend
//! ```
//!
//! **Failures** (`docs/lab6_proxy.md`, "Failure handling"). A backend
//! that refuses the connection, breaks it, or does not answer in time is
//! marked dead (see `balance.rs`) and the request goes to the next
//! candidate — always when nothing of it was sent yet, and otherwise only
//! when sending it twice is harmless: an idempotent method (RFC 9110
//! §9.2.2) without a body, which the proxy still has whole. When no
//! candidate answered, the client gets 502 Bad Gateway, or 504 Gateway
//! Timeout if the last one timed out. Once a response head has gone to the
//! client nothing can be taken back: a backend that fails mid-body leaves
//! the client a body cut short, and the connection is closed so that the
//! client can tell.
//!
//! Left out on purpose: `Upgrade` (WebSocket tunnels), trailers, and
//! reading the response while the request body is still being sent (the
//! body goes first; a backend that answers early, a 413 say, is still
//! relayed, and the client's connection then closes).

use std::io::Write;
use std::net::{SocketAddr, TcpStream};

use super::balance::{Backend, Policy, STICKY_COOKIE};
use super::config::Vars;
use super::rewrite::{
    client_framing, keeps_alive, response_framing, write_request_head, write_response_head,
};
use super::route::Site;
use super::serve::Settings;
use super::upstream::{self, MAX_RESPONSE_HEAD_BYTES, Upstream, parse_response_head};
use super::wire::{CopyError, Framing, ReadError, Wire, copy_body};
use crate::auth::cookie::Cookies;
use crate::http::body::ChunkedWriter;
use crate::http::headers::Headers;
use crate::http::request::{Head, Status};
use crate::http::status::StatusCode;
use crate::net::is_timeout;

/// A client's connection, as forwarding reads and writes it.
pub type ClientWire<'s> = Wire<&'s TcpStream>;

/// A request ready to be forwarded: its head, and what the connection
/// loop learnt from it.
#[derive(Debug)]
pub struct Incoming<'r> {
    /// The parsed head.
    pub head: &'r Head<'r>,
    /// How its body is framed.
    pub framing: Framing,
    /// Whether the client waits for `100 Continue` before sending the body.
    pub expects_continue: bool,
    /// The client's address.
    pub peer: SocketAddr,
    /// The `Host` the client asked for, as sent (`Chat.localhost:8080`).
    pub http_host: &'r str,
    /// The host name alone, lowercased (`chat.localhost`).
    pub host: &'r str,
    /// Whether the client wants its connection kept open.
    pub keep_alive: bool,
}

/// How a forwarded exchange ended.
#[derive(Debug)]
pub enum Forwarded {
    /// A response went to the client (whole, or cut short).
    Relayed(Outcome),
    /// No response reached the client; the proxy answers with `status`.
    /// `body_read` says whether the request body was read to its end (if
    /// not, the connection cannot carry another request).
    Unanswered {
        /// The status to answer with.
        status: StatusCode,
        /// Why, for the client.
        message: &'static str,
        /// Whether the client's body was read to its end.
        body_read: bool,
    },
    /// The client went away: there is no one to answer.
    ClientGone,
}

/// What a relayed response was, for the log and the connection loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The backend's status code.
    pub status: u16,
    /// Body bytes sent to the client.
    pub body_bytes: u64,
    /// Whether the client's connection can carry another request.
    pub keep_alive: bool,
}

/// Why one try on one backend failed.
enum Failure {
    /// The backend failed: the request may go to the next candidate.
    /// `sent` says whether any of it may have reached the backend;
    /// `stale`, that it failed on a kept-alive connection the backend had
    /// closed, which says nothing about the backend's health.
    Backend {
        sent: bool,
        timed_out: bool,
        stale: bool,
    },
    /// Forwarding is over, whatever the other backends could do.
    Over(Forwarded),
}

/// Where the request's body is, across tries.
#[derive(Clone, Copy, Debug, Default)]
struct Progress {
    /// The whole body has been read from the client (or there was none).
    body_read: bool,
    /// `100 Continue` went to the client.
    continue_sent: bool,
}

/// Forwards `request` to a backend of `site`, trying the candidates its
/// pool gives in order, and relays the response to `client`. `out` is
/// scratch space for heads.
pub fn forward(
    settings: &Settings,
    site: &Site,
    request: &Incoming<'_>,
    client: &mut ClientWire<'_>,
    out: &mut Vec<u8>,
) -> Forwarded {
    // lab6: begin — try each candidate; move on only when that cannot repeat an effect
    let replayable = request.head.method.is_idempotent() && request.framing == Framing::Empty;
    let sticky = match site.pool.policy() {
        Policy::Sticky => sticky_cookie(&request.head.headers),
        _ => None,
    };
    let mut progress = Progress {
        body_read: request.framing == Framing::Empty,
        ..Progress::default()
    };
    let mut timed_out = false;
    for index in site.pool.candidates(sticky, settings.clock.now()) {
        let backend = &site.pool.backends()[index];
        let attempt = Attempt {
            settings,
            site,
            backend,
            request,
            replayable,
            sticky,
        };
        match attempt.run(client, &mut progress, out) {
            Ok(outcome) => {
                backend.mark_alive();
                return Forwarded::Relayed(outcome);
            }
            Err(Failure::Over(forwarded)) => return forwarded,
            Err(Failure::Backend {
                sent,
                timed_out: timeout,
                stale,
            }) => {
                if !stale {
                    backend.mark_dead(settings.clock.now() + settings.retry_dead);
                }
                if !settings.quiet && !stale {
                    eprintln!(
                        "backend {} {}; skipped for {:?}",
                        backend.addr,
                        if timeout { "timed out" } else { "failed" },
                        settings.retry_dead
                    );
                }
                timed_out = timeout;
                if sent && !replayable {
                    break;
                }
            }
        }
    }
    let (status, message) = if timed_out {
        (
            StatusCode::GATEWAY_TIMEOUT,
            "the backend did not answer in time",
        )
    } else {
        (StatusCode::BAD_GATEWAY, "no backend could answer")
    };
    Forwarded::Unanswered {
        status,
        message,
        body_read: progress.body_read,
    }
    // lab6: end
}

/// The value of the sticky cookie in a request's `Cookie` headers.
fn sticky_cookie<'h>(fields: &Headers<'h>) -> Option<&'h str> {
    fields
        .get_all("cookie")
        .filter_map(|value| std::str::from_utf8(value).ok())
        .find_map(|value| Cookies::parse(value).get(STICKY_COOKIE))
}

/// One try of one request on one backend.
struct Attempt<'a> {
    settings: &'a Settings,
    site: &'a Site,
    backend: &'a Backend,
    request: &'a Incoming<'a>,
    replayable: bool,
    sticky: Option<&'a str>,
}

impl Attempt<'_> {
    /// Takes an idle connection or opens one, and runs the exchange on it.
    /// A kept-alive connection that the backend closed meanwhile shows up
    /// as a failure before any response byte; then a replayable request is
    /// sent again on a new connection to the same backend.
    fn run(
        &self,
        client: &mut ClientWire<'_>,
        progress: &mut Progress,
        out: &mut Vec<u8>,
    ) -> Result<Outcome, Failure> {
        let _in_flight = self.backend.start_request();
        // A request that cannot be sent twice only goes on an idle
        // connection just checked to be open.
        let mut pooled = self
            .backend
            .idle
            .take(self.settings.clock.now(), !self.replayable);
        loop {
            let reused = pooled.is_some();
            let upstream = match pooled.take() {
                Some(connection) => connection,
                None => upstream::connect(
                    self.backend.addr,
                    self.settings.connect_timeout,
                    self.settings.backend_timeout,
                )
                .map_err(|error| Failure::Backend {
                    sent: false,
                    timed_out: is_timeout(&error),
                    stale: false,
                })?,
            };
            match self.exchange(upstream, client, progress, out) {
                Err(Failure::Backend {
                    sent,
                    timed_out: false,
                    ..
                }) if reused => {
                    if self.replayable {
                        continue;
                    }
                    return Err(Failure::Backend {
                        sent,
                        timed_out: false,
                        stale: true,
                    });
                }
                outcome => return outcome,
            }
        }
    }

    /// Sends the request on `upstream`, relays the response, and keeps the
    /// connection for the next request if both ends of it allow.
    fn exchange(
        &self,
        mut upstream: Upstream,
        client: &mut ClientWire<'_>,
        progress: &mut Progress,
        out: &mut Vec<u8>,
    ) -> Result<Outcome, Failure> {
        let request = self.request;
        let vars = Vars {
            host: request.host,
            http_host: request.http_host,
            remote_addr: request.peer.ip(),
            proxy_host: self.backend.addr,
        };
        out.clear();
        write_request_head(
            out,
            request.head,
            request.framing,
            &vars,
            &self.site.set_headers,
        );
        upstream
            .stream()
            .write_all(out)
            .map_err(|error| backend_failed(is_timeout(&error)))?;
        let backend_took_body = self.send_body(&upstream, client, progress)?;
        let head_len = read_response_head(&mut upstream, self.settings)?;
        let relayed = self.relay(&mut upstream, head_len, client, out, progress.body_read)?;
        if relayed.upstream_reusable && backend_took_body {
            let now = self.settings.clock.now();
            self.backend.idle.put(upstream, now);
        }
        Ok(relayed.outcome)
    }

    /// Sends the request body, reading it from the client as it comes.
    /// Returns whether the backend took all of it: a backend may stop
    /// reading and answer early (a 413, say), and that answer is relayed.
    fn send_body(
        &self,
        upstream: &Upstream,
        client: &mut ClientWire<'_>,
        progress: &mut Progress,
    ) -> Result<bool, Failure> {
        let framing = self.request.framing;
        if framing == Framing::Empty {
            return Ok(true);
        }
        if self.request.expects_continue && !progress.continue_sent {
            // RFC 9110 §10.1.1: the client waits for this before its body.
            client
                .stream()
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .map_err(|_| Failure::Over(Forwarded::ClientGone))?;
            progress.continue_sent = true;
        }
        let copied = copy_framed(
            client,
            framing,
            framing,
            self.settings.body_timeout,
            upstream.stream(),
        );
        match copied {
            Ok(_) => {
                progress.body_read = true;
                Ok(true)
            }
            Err(CopyError::Write(_)) => Ok(false),
            Err(CopyError::Read(ReadError::Timeout)) => Err(unanswered(
                StatusCode::REQUEST_TIMEOUT,
                "the request body stopped arriving",
            )),
            Err(CopyError::Read(_)) => Err(Failure::Over(Forwarded::ClientGone)),
            Err(CopyError::Malformed | CopyError::TooLarge) => Err(unanswered(
                StatusCode::BAD_REQUEST,
                "malformed chunked request body",
            )),
        }
    }

    /// Writes the response head, rewritten, and streams the body to the
    /// client. The response's first `head_len` buffered bytes are its head.
    fn relay(
        &self,
        upstream: &mut Upstream,
        head_len: usize,
        client: &mut ClientWire<'_>,
        out: &mut Vec<u8>,
        body_read: bool,
    ) -> Result<Relayed, Failure> {
        let request = self.request;
        let Ok(Status::Complete(head)) = parse_response_head(&upstream.buffered()[..head_len])
        else {
            return Err(backend_failed(false));
        };
        let incoming =
            response_framing(&head, request.head.method).map_err(|_| backend_failed(false))?;
        let outgoing = client_framing(incoming, request.head.version);
        let keep_alive = request.keep_alive && body_read && outgoing != Framing::UntilClose;
        let status = head.status;
        let upstream_keeps_alive = keeps_alive(&head) && incoming != Framing::UntilClose;
        let stick_to = (self.site.pool.policy() == Policy::Sticky
            && self.sticky != Some(self.backend.sticky_id()))
        .then(|| self.backend.sticky_id());
        out.clear();
        write_response_head(
            out,
            &head,
            outgoing,
            keep_alive,
            request.head.version,
            stick_to,
        );
        upstream.consume(head_len);

        // The body bytes that came with the head leave with it: one write
        // for a small response.
        let mut rest = incoming;
        let mut early = 0;
        if let (Framing::Length(length), Framing::Length(_)) = (incoming, outgoing) {
            let buffered = upstream.buffered();
            early = buffered
                .len()
                .min(usize::try_from(length).unwrap_or(usize::MAX));
            out.extend_from_slice(&buffered[..early]);
            upstream.consume(early);
            rest = Framing::Length(length - early as u64);
        }
        client
            .stream()
            .write_all(out)
            .map_err(|_| Failure::Over(Forwarded::ClientGone))?;
        let copied = copy_framed(
            upstream,
            rest,
            outgoing,
            self.settings.backend_timeout,
            client.stream(),
        )
        .map_err(|_| {
            // Too late for an error status: the client sees the body cut
            // short, and the connection closes.
            Failure::Over(Forwarded::Relayed(Outcome {
                status,
                body_bytes: early as u64,
                keep_alive: false,
            }))
        })?;
        Ok(Relayed {
            outcome: Outcome {
                status,
                body_bytes: early as u64 + copied,
                keep_alive,
            },
            upstream_reusable: upstream_keeps_alive && upstream.buffered().is_empty(),
        })
    }
}

/// Copies a body framed as `incoming` from `from` to `to`, framed as
/// `outgoing` (chunked, or as plain bytes). Returns the body bytes copied.
fn copy_framed<S: std::borrow::Borrow<TcpStream>>(
    from: &mut Wire<S>,
    incoming: Framing,
    outgoing: Framing,
    wait: std::time::Duration,
    mut to: &TcpStream,
) -> Result<u64, CopyError> {
    if outgoing != Framing::Chunked {
        return copy_body(from, incoming, wait, u64::MAX, &mut to);
    }
    let mut chunks = ChunkedWriter::new(to);
    let copied = copy_body(from, incoming, wait, u64::MAX, &mut chunks)?;
    chunks.finish().map_err(CopyError::Write)?;
    Ok(copied)
}

/// Reads a response head from the backend, skipping interim 1xx responses
/// (RFC 9110 §15.2), and returns its length in the buffer.
fn read_response_head(upstream: &mut Upstream, settings: &Settings) -> Result<usize, Failure> {
    loop {
        match parse_response_head(upstream.buffered()) {
            // 101 would switch protocols, but the proxy never forwards
            // `Upgrade`, so a backend that sends it is broken.
            Ok(Status::Complete(head)) if head.status == 101 => return Err(backend_failed(false)),
            Ok(Status::Complete(head)) if head.status < 200 => {
                let len = head.len;
                upstream.consume(len);
                continue;
            }
            Ok(Status::Complete(head)) => return Ok(head.len),
            Ok(Status::Partial) => {}
            Err(_) => return Err(backend_failed(false)),
        }
        upstream
            .read_more(settings.backend_timeout, MAX_RESPONSE_HEAD_BYTES + 1)
            .map_err(|error| backend_failed(error == ReadError::Timeout))?;
    }
}

/// A response relayed, and whether its backend connection can be reused.
struct Relayed {
    outcome: Outcome,
    upstream_reusable: bool,
}

/// The backend failed after (some of) the request may have reached it.
fn backend_failed(timed_out: bool) -> Failure {
    Failure::Backend {
        sent: true,
        timed_out,
        stale: false,
    }
}

fn unanswered(status: StatusCode, message: &'static str) -> Failure {
    Failure::Over(Forwarded::Unanswered {
        status,
        message,
        body_read: false,
    })
}
