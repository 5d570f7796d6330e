//! Test helpers shared by the chat's modules: a pipe that an event stream
//! writes into, and a reader that takes Server-Sent Events back out of it.

use std::io::{self, Write};
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::Duration;

use crate::json::{self, Value};

/// The longest a test waits for a stream to produce the next event.
pub(crate) const STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// The writing end: each write is sent to the reader as one chunk. Fails
/// once the reader is dropped, as a socket does once the client has gone.
pub(crate) struct Pipe(Sender<Vec<u8>>);

impl Write for Pipe {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0
            .send(bytes.to_vec())
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the reader is gone"))?;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The reading end, which splits the stream into blocks at blank lines.
pub(crate) struct SseReader {
    chunks: Receiver<Vec<u8>>,
    pending: Vec<u8>,
}

/// A connected pipe.
pub(crate) fn pipe() -> (Pipe, SseReader) {
    let (sender, chunks) = mpsc::channel();
    (
        Pipe(sender),
        SseReader {
            chunks,
            pending: Vec::new(),
        },
    )
}

impl SseReader {
    /// The next block of lines before a blank line (an event or a comment),
    /// waiting at most [`STEP_TIMEOUT`] for it.
    pub(crate) fn block(&mut self) -> String {
        loop {
            if let Some(end) = self.pending.windows(2).position(|pair| pair == b"\n\n") {
                let block = String::from_utf8_lossy(&self.pending[..end]).into_owned();
                self.pending.drain(..end + 2);
                return block;
            }
            match self.chunks.recv_timeout(STEP_TIMEOUT) {
                Ok(chunk) => self.pending.extend_from_slice(&chunk),
                Err(error) => panic!(
                    "no complete event within {STEP_TIMEOUT:?} ({error}); received so far: {:?}",
                    String::from_utf8_lossy(&self.pending)
                ),
            }
        }
    }

    /// The next `count` events as (id, EVENT), skipping comments.
    pub(crate) fn events(&mut self, count: usize) -> Vec<(u64, Value)> {
        let mut events = Vec::with_capacity(count);
        while events.len() < count {
            let block = self.block();
            if block.starts_with(':') {
                continue;
            }
            let (id, data) = match block.split_once('\n') {
                Some((id, data)) => (id.strip_prefix("id: "), data.strip_prefix("data: ")),
                None => (None, None),
            };
            let (Some(Ok(id)), Some(Ok(event))) = (id.map(str::parse), data.map(json::parse))
            else {
                panic!("expected \"id: N\\ndata: {{...}}\", got {block:?}");
            };
            events.push((id, event));
        }
        events
    }
}
