//! One connection between two peers, as frames: a TCP stream, a buffer of
//! what has been received but not yet used, and deadlines.
//!
//! Both sides use it: the node that connects ([`super::dial`]) and the node
//! that accepts ([`super::inbox`]). Receiving reads into the buffer until
//! [`frame::parse`] finds a whole frame — however the bytes were cut into
//! `read`s (lab 1's lesson) — and keeps whatever came after it for the next
//! call. A frame must arrive whole before a deadline, taken from a
//! [`Clock`]: a total deadline, not one reset by each byte, so a peer that
//! trickles a byte now and then cannot hold a connection for ever (the
//! slowloris attack of lab 2).
//!
//! Writing sends a frame's line with one `write_all`; the socket's write
//! timeout (set by whoever made the stream) bounds it when the other side
//! stops reading.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use super::frame::{self, Frame, FrameError};
use crate::clock::Clock;
use crate::http::conn::linger;
use crate::http::request::Status;

/// Bytes asked of the socket at a time.
const READ_CHUNK: usize = 8 * 1024;

/// The shortest socket read timeout used: zero would mean "wait for ever".
const MIN_WAIT: Duration = Duration::from_millis(1);

/// Why no frame was received.
#[derive(Debug)]
pub enum WireError {
    /// The other side closed the connection (between frames, or in the
    /// middle of one).
    Closed,
    /// The deadline passed before a whole frame arrived.
    Timeout,
    /// The bytes are not a frame; the connection cannot go on.
    Frame(FrameError),
    /// The socket failed.
    Io(io::Error),
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WireError::Closed => f.write_str("the connection was closed"),
            WireError::Timeout => f.write_str("no complete frame in time"),
            WireError::Frame(error) => write!(f, "bad frame: {error}"),
            WireError::Io(error) => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for WireError {}

/// A framed connection.
#[derive(Debug)]
pub struct Wire {
    stream: TcpStream,
    /// Received bytes not yet part of a returned frame.
    buffer: Vec<u8>,
    /// Where deadlines are read from.
    clock: Clock,
}

impl Wire {
    /// Frames over `stream`, with deadlines by `clock`.
    pub fn new(stream: TcpStream, clock: Clock) -> Wire {
        Wire {
            stream,
            buffer: Vec::new(),
            clock,
        }
    }

    /// Sends one frame.
    pub fn send(&mut self, frame: &Frame) -> io::Result<()> {
        self.stream.write_all(&frame.to_line())
    }

    /// Receives the next frame, which must be complete within `limit`.
    pub fn receive(&mut self, limit: Duration) -> Result<Frame, WireError> {
        let deadline = self.clock.now() + limit;
        loop {
            if let Status::Complete((frame, len)) =
                frame::parse(&self.buffer).map_err(WireError::Frame)?
            {
                self.buffer.drain(..len);
                return Ok(frame);
            }
            let now = self.clock.now();
            if now >= deadline {
                return Err(WireError::Timeout);
            }
            self.stream
                .set_read_timeout(Some((deadline - now).max(MIN_WAIT)))
                .map_err(WireError::Io)?;
            let mut chunk = [0u8; READ_CHUNK];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(WireError::Closed),
                Ok(read) => self.buffer.extend_from_slice(&chunk[..read]),
                // Timed out by the socket: the loop looks at the clock again.
                Err(error)
                    if matches!(
                        error.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) => {}
                Err(error) => return Err(WireError::Io(error)),
            }
        }
    }

    /// Sends `frame` (an error, a last word) and closes the connection,
    /// lingering as lab 2's server does after an error response
    /// ([`linger`]): input left unread at close makes the kernel reset the
    /// connection, which could destroy the frame before it is read.
    pub fn close_with(mut self, frame: &Frame) {
        let _ = self.send(frame);
        linger(&self.stream);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::loopback_pair as pair;
    use crate::p2p::frame::ErrorCode;

    #[test]
    fn frames_split_and_glued_by_the_network_come_out_whole() {
        let (mut writer, reader) = pair();
        let mut wire = Wire::new(reader, Clock::system());
        let frames = [
            Frame::Ack { id: "a".into() },
            Frame::error(ErrorCode::Busy, "later"),
            Frame::Ack { id: "b".into() },
        ];
        let bytes: Vec<u8> = frames.iter().flat_map(Frame::to_line).collect();
        // The first frame in two writes; the rest glued together.
        let cut = 5;
        writer.write_all(&bytes[..cut]).expect("write");
        writer.flush().expect("flush");
        writer.write_all(&bytes[cut..]).expect("write");
        for expected in &frames {
            let got = wire.receive(Duration::from_secs(10)).expect("a frame");
            assert_eq!(&got, expected);
        }
        drop(writer);
        assert!(matches!(
            wire.receive(Duration::from_secs(10)),
            Err(WireError::Closed)
        ));
    }

    #[test]
    fn a_frame_must_be_whole_by_its_deadline_by_the_clock() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let (mut writer, reader) = pair();
        let (clock, hand) = Clock::manual();
        let mut wire = Wire::new(reader, clock);
        writer.write_all(b"{\"type\":").expect("write");
        let done = AtomicBool::new(false);
        let outcome = std::thread::scope(|scope| {
            scope.spawn(|| {
                // Moves the clock past the deadline, and wakes the reader with
                // a byte (white space, so the frame stays incomplete), until
                // the reader gives up: a bounded poll of its outcome.
                for _ in 0..500 {
                    if done.load(Ordering::SeqCst) {
                        return;
                    }
                    hand.advance(Duration::from_secs(11));
                    let _ = writer.write_all(b" ");
                    std::thread::sleep(Duration::from_millis(10));
                }
            });
            let outcome = wire.receive(Duration::from_secs(10));
            done.store(true, Ordering::SeqCst);
            outcome
        });
        assert!(matches!(outcome, Err(WireError::Timeout)), "{outcome:?}");
    }

    #[test]
    fn garbage_is_a_frame_error() {
        let (mut writer, reader) = pair();
        let mut wire = Wire::new(reader, Clock::system());
        writer.write_all(b"hello there\n").expect("write");
        assert!(matches!(
            wire.receive(Duration::from_secs(10)),
            Err(WireError::Frame(FrameError::NotJson(_)))
        ));
    }
}
