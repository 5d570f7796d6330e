//! A socket with a read buffer, and bodies copied from one socket to
//! another as they arrive (RFC 9112 §6–§7).
//!
//! The proxy reads from two kinds of sockets — its clients and its
//! backends — and both need the same two things: a buffer in which a head
//! can arrive in pieces (the parsers say "more" or "complete"), and a way
//! to move a body of any size to the other side without holding all of it.
//! [`Wire`] is the first; [`copy_body`] is the second. A body goes through
//! in pieces of at most the buffer's size: a 5 GiB upload uses the same
//! memory as a 5 KiB one.
//!
//! [`copy_body`] reads the body in its incoming framing ([`Framing`]) and
//! writes plain bytes: the caller chooses the outgoing framing by what it
//! writes into (the socket itself, or a [`ChunkedWriter`] around it).
//!
//! [`ChunkedWriter`]: crate::http::body::ChunkedWriter

use std::borrow::Borrow;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::http::body::ChunkedDecoder;
use crate::http::request::RequestError;
use crate::net::is_timeout;

/// Size of a wire's buffer to start with. It grows only for a head larger
/// than this, and a body never makes it grow: each piece read is written
/// out before the next is read.
const INITIAL_BUFFER_BYTES: usize = 16 * 1024;

/// How a body is delimited on the wire (RFC 9112 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// No body.
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunks, up to a zero-size chunk (§7.1).
    Chunked,
    /// Everything until the sender closes (responses only, §6.3 rule 8).
    UntilClose,
}

/// Why a read brought no bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadError {
    /// The other side closed the connection (or reset it).
    Closed,
    /// Nothing arrived in time.
    Timeout,
    /// The buffer holds as much as the caller allows and more is needed.
    Full,
}

/// Why a body could not be copied.
#[derive(Debug)]
pub enum CopyError {
    /// Reading from the source failed.
    Read(ReadError),
    /// The source's chunked framing is broken.
    Malformed,
    /// The body is larger than the caller allows.
    TooLarge,
    /// Writing to the destination failed.
    Write(io::Error),
}

/// A socket and the bytes read from it that no one has used yet.
///
/// `S` is an owned `TcpStream` (a backend connection, kept in a pool) or a
/// borrowed `&TcpStream` (a client's, owned by the TCP server).
#[derive(Debug)]
pub struct Wire<S> {
    stream: S,
    /// `data[start..end]` are read and not yet consumed.
    data: Vec<u8>,
    start: usize,
    end: usize,
    /// The read timeout the socket has now, so it is set only on change.
    read_timeout: Option<Duration>,
}

impl<S: Borrow<TcpStream>> Wire<S> {
    /// Wraps a connected socket.
    pub fn new(stream: S) -> Wire<S> {
        Wire {
            stream,
            data: vec![0; INITIAL_BUFFER_BYTES],
            start: 0,
            end: 0,
            read_timeout: None,
        }
    }

    /// The socket.
    pub fn stream(&self) -> &TcpStream {
        self.stream.borrow()
    }

    /// The bytes read and not yet consumed.
    pub fn buffered(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }

    /// Marks the first `count` buffered bytes as used.
    pub fn consume(&mut self, count: usize) {
        self.start = (self.start + count).min(self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Reads once from the socket, waiting at most `wait`, and keeps what
    /// came after what is buffered. The buffer grows up to `max_buffered`
    /// bytes if it must; past that, [`ReadError::Full`].
    pub fn read_more(&mut self, wait: Duration, max_buffered: usize) -> Result<usize, ReadError> {
        self.make_room(max_buffered)?;
        // A zero timeout means "wait forever" to the OS: keep 1 ms at least.
        let wait = Some(wait.max(Duration::from_millis(1)));
        if self.read_timeout != wait {
            self.stream()
                .set_read_timeout(wait)
                .map_err(|_| ReadError::Closed)?;
            self.read_timeout = wait;
        }
        loop {
            let mut stream = self.stream.borrow();
            match stream.read(&mut self.data[self.end..]) {
                Ok(0) => return Err(ReadError::Closed),
                Ok(read) => {
                    self.end += read;
                    return Ok(read);
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) if is_timeout(&error) => return Err(ReadError::Timeout),
                Err(_) => return Err(ReadError::Closed),
            }
        }
    }

    /// Makes sure there is space after the buffered bytes: moves them to
    /// the front, or grows the buffer (never past `max_buffered`).
    fn make_room(&mut self, max_buffered: usize) -> Result<(), ReadError> {
        if self.end < self.data.len() {
            return Ok(());
        }
        if self.start > 0 {
            self.data.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            return Ok(());
        }
        if self.data.len() >= max_buffered {
            return Err(ReadError::Full);
        }
        let grown = (self.data.len() * 2).min(max_buffered);
        self.data.resize(grown, 0);
        Ok(())
    }

    /// Whether the other side has closed this idle connection: a peek that
    /// does not wait sees the end of the stream, an error, or bytes nobody
    /// asked for (which would be read as the next response).
    pub fn is_stale(&self) -> bool {
        let stream = self.stream();
        if !self.buffered().is_empty() || stream.set_nonblocking(true).is_err() {
            return true;
        }
        let mut probe = [0u8; 1];
        let stale = match stream.peek(&mut probe) {
            Err(error) => error.kind() != io::ErrorKind::WouldBlock,
            Ok(_) => true,
        };
        stale || stream.set_nonblocking(false).is_err()
    }
}

/// Copies one body from `from`, framed as `framing`, to `to` as plain
/// bytes, reading as it goes. Each read waits at most `wait` (a gap
/// between two pieces, not a deadline for the whole body). A body of more
/// than `limit` bytes is refused with [`CopyError::TooLarge`]. Returns the
/// bytes copied.
pub fn copy_body<S: Borrow<TcpStream>>(
    from: &mut Wire<S>,
    framing: Framing,
    wait: Duration,
    limit: u64,
    to: &mut dyn Write,
) -> Result<u64, CopyError> {
    // lab6: begin — move the body across piece by piece, never all of it at once
    match framing {
        Framing::Empty => Ok(0),
        Framing::Length(length) if length > limit => Err(CopyError::TooLarge),
        Framing::Length(length) => copy_length(from, length, wait, to),
        Framing::Chunked => copy_chunked(from, wait, limit, to),
        Framing::UntilClose => copy_until_close(from, wait, limit, to),
    }
    // lab6: end
}

/// Reads more, or fails with why it could not.
fn refill<S: Borrow<TcpStream>>(from: &mut Wire<S>, wait: Duration) -> Result<(), CopyError> {
    // Bodies never need more than the buffer's current size: every piece
    // is written out before the next read.
    let max = from.data.len();
    from.read_more(wait, max)
        .map(|_| ())
        .map_err(CopyError::Read)
}

fn copy_length<S: Borrow<TcpStream>>(
    from: &mut Wire<S>,
    length: u64,
    wait: Duration,
    to: &mut dyn Write,
) -> Result<u64, CopyError> {
    let mut remaining = length;
    while remaining > 0 {
        if from.buffered().is_empty() {
            refill(from, wait)?;
        }
        let piece = from.buffered();
        let take = piece
            .len()
            .min(usize::try_from(remaining).unwrap_or(usize::MAX));
        to.write_all(&piece[..take]).map_err(CopyError::Write)?;
        from.consume(take);
        remaining -= take as u64;
    }
    Ok(length)
}

fn copy_chunked<S: Borrow<TcpStream>>(
    from: &mut Wire<S>,
    wait: Duration,
    limit: u64,
    to: &mut dyn Write,
) -> Result<u64, CopyError> {
    let mut decoder = ChunkedDecoder::new(usize::try_from(limit).unwrap_or(usize::MAX));
    let mut piece = Vec::new();
    let mut copied = 0;
    loop {
        let used = decoder
            .decode(from.buffered(), &mut piece)
            .map_err(|error| match error {
                RequestError::BodyTooLarge => CopyError::TooLarge,
                _ => CopyError::Malformed,
            })?;
        from.consume(used);
        if !piece.is_empty() {
            to.write_all(&piece).map_err(CopyError::Write)?;
            copied += piece.len() as u64;
            piece.clear();
        }
        if decoder.is_done() {
            return Ok(copied);
        }
        refill(from, wait)?;
    }
}

fn copy_until_close<S: Borrow<TcpStream>>(
    from: &mut Wire<S>,
    wait: Duration,
    limit: u64,
    to: &mut dyn Write,
) -> Result<u64, CopyError> {
    let mut copied = 0;
    loop {
        let piece = from.buffered();
        copied += piece.len() as u64;
        if copied > limit {
            return Err(CopyError::TooLarge);
        }
        to.write_all(piece).map_err(CopyError::Write)?;
        let len = piece.len();
        from.consume(len);
        match refill(from, wait) {
            Err(CopyError::Read(ReadError::Closed)) => return Ok(copied),
            Err(error) => return Err(error),
            Ok(()) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};
    use std::thread;

    /// A wire whose other end has sent `bytes` and closed.
    fn wire_receiving(bytes: &[u8]) -> Wire<TcpStream> {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let bytes = bytes.to_vec();
        let sender = thread::spawn(move || {
            let mut stream = TcpStream::connect(addr).expect("connect");
            stream.write_all(&bytes).expect("send");
        });
        let (stream, _) = listener.accept().expect("accept");
        sender.join().expect("sender");
        Wire::new(stream)
    }

    const WAIT: Duration = Duration::from_secs(10);

    /// A framing, the bytes that arrive, the body copied, and what is left.
    type CopyCase = (Framing, &'static [u8], &'static [u8], &'static [u8]);

    #[test]
    fn each_framing_copies_its_body_and_leaves_the_rest() {
        let cases: &[CopyCase] = &[
            (Framing::Length(5), b"helloNEXT", b"hello", b"NEXT"),
            (Framing::Empty, b"NEXT", b"", b"NEXT"),
            (
                Framing::Chunked,
                b"3\r\nhel\r\n2;ext=1\r\nlo\r\n0\r\nTrailer: x\r\n\r\nNEXT",
                b"hello",
                b"NEXT",
            ),
            (
                Framing::UntilClose,
                b"hello, all of it",
                b"hello, all of it",
                b"",
            ),
        ];
        for (framing, input, body, rest) in cases {
            let mut wire = wire_receiving(input);
            let mut copied = Vec::new();
            let count = copy_body(&mut wire, *framing, WAIT, u64::MAX, &mut copied)
                .unwrap_or_else(|error| panic!("{framing:?}: {error:?}"));
            assert_eq!(
                (copied.as_slice(), count),
                (*body, body.len() as u64),
                "{framing:?}"
            );
            if !rest.is_empty() {
                while wire.buffered().len() < rest.len() {
                    wire.read_more(WAIT, 1024).expect("the rest");
                }
            }
            assert_eq!(
                wire.buffered(),
                *rest,
                "{framing:?} leaves the next message"
            );
        }
    }

    #[test]
    fn broken_short_and_oversized_bodies_are_errors() {
        let mut short = wire_receiving(b"abc");
        assert!(matches!(
            copy_body(
                &mut short,
                Framing::Length(10),
                WAIT,
                u64::MAX,
                &mut Vec::new()
            ),
            Err(CopyError::Read(ReadError::Closed))
        ));
        let mut broken = wire_receiving(b"zz\r\n");
        assert!(matches!(
            copy_body(
                &mut broken,
                Framing::Chunked,
                WAIT,
                u64::MAX,
                &mut Vec::new()
            ),
            Err(CopyError::Malformed)
        ));
        let mut large = wire_receiving(b"5\r\nhello\r\n0\r\n\r\n");
        assert!(matches!(
            copy_body(&mut large, Framing::Chunked, WAIT, 4, &mut Vec::new()),
            Err(CopyError::TooLarge)
        ));
    }

    #[test]
    fn a_large_body_goes_through_a_small_buffer() {
        let body: Vec<u8> = (0..3 * 1024 * 1024).map(|i| (i * 7 % 251) as u8).collect();
        let mut wire = wire_receiving(&body);
        let mut copied = Vec::new();
        copy_body(
            &mut wire,
            Framing::Length(body.len() as u64),
            WAIT,
            u64::MAX,
            &mut copied,
        )
        .expect("copied");
        assert!(copied == body, "the body arrives unchanged");
        assert_eq!(
            wire.data.len(),
            INITIAL_BUFFER_BYTES,
            "the buffer did not grow"
        );
    }
}
