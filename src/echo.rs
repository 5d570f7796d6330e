//! Lab 1's service: every byte a client sends comes back unchanged.
//!
//! Echo (RFC 862 describes it on port 7) is the smallest protocol there is,
//! which makes it the right place to learn what TCP does and does not give:
//! a reliable, ordered **byte stream** in each direction — not messages. One
//! `read` may return half of what the client wrote in one `write`, or two
//! writes at once. The echo loop below never cares: it copies whatever bytes
//! arrive, as they arrive, until the client closes its sending side.
//!
//! See `docs/lab1_echo.md` for the walk-through and the exercises.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::net::{Connection, Service, is_timeout};

/// Size of the buffer each connection copies through. Larger buffers mean
/// fewer system calls for bulk data; 16 KiB is what a loopback socket
/// usually hands over in one `read`.
const ECHO_BUFFER: usize = 16 * 1024;

/// How one echo connection went, for the log line written when it ends.
#[derive(Debug)]
pub struct EchoReport {
    /// Bytes received and sent back.
    pub bytes: u64,
    /// From the first `read` until the connection ended.
    pub duration: Duration,
    /// Why it ended early, if it did (a timeout, a reset); `None` when the
    /// client closed its side cleanly.
    pub error: Option<io::Error>,
}

/// Copies everything the client sends back to it, until the client shuts
/// down its sending side (a `read` that returns 0 bytes: end of stream).
///
/// Reading and writing alternate on one thread. That cannot deadlock with a
/// client that reads while it writes: each chunk is written back before the
/// next is read, so at most one chunk waits in our hands.
pub fn echo(mut stream: &TcpStream) -> EchoReport {
    // lab1: begin — read a chunk, write it all back, until read returns 0
    let started = Instant::now();
    let mut buffer = [0u8; ECHO_BUFFER];
    let mut bytes: u64 = 0;
    let error = loop {
        let received = match stream.read(&mut buffer) {
            Ok(0) => break None, // the client half-closed: all bytes are back
            Ok(received) => received,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => break Some(error),
        };
        if let Err(error) = stream.write_all(&buffer[..received]) {
            break Some(error);
        }
        bytes += received as u64;
    };
    EchoReport {
        bytes,
        duration: started.elapsed(),
        error,
    }
    // lab1: end
}

/// The echo [`Service`]: runs [`echo`] on each connection and logs one line
/// on stderr when it ends (unless quiet).
#[derive(Clone, Copy, Debug)]
pub struct EchoService {
    /// Whether to skip the per-connection log line.
    pub quiet: bool,
}

impl Service for EchoService {
    fn serve(&self, connection: Connection) {
        let report = echo(connection.stream());
        if self.quiet {
            return;
        }
        let ending = match &report.error {
            None => "closed by client".to_string(),
            Some(error) if is_timeout(error) => "idle timeout".to_string(),
            Some(error) => format!("error: {error}"),
        };
        eprintln!(
            "{} echoed {} bytes in {:.1} ms ({ending})",
            connection.peer,
            report.bytes,
            report.duration.as_secs_f64() * 1000.0
        );
    }
}
