//! Message body framing (RFC 9112 §6–§7): where a body ends.
//!
//! TCP gives a byte stream, so HTTP has to say where each body ends, or the
//! next request would be read as part of this one. A request body is framed
//! by exactly one of:
//!
//! - `Content-Length: N` — the next N bytes (§6.2);
//! - `Transfer-Encoding: chunked` — a series of `SIZE CRLF DATA CRLF`
//!   chunks ended by a chunk of size 0 (§7.1), for bodies whose length is
//!   not known in advance;
//! - neither — no body at all (§6.3, rule 7).
//!
//! [`request_framing`] decides which, and refuses the ambiguous cases that
//! request smuggling exploits (both headers at once, disagreeing lengths).
//! [`ChunkedDecoder`] is an incremental state machine: it is fed bytes as
//! they arrive, in pieces of any size. [`ChunkedWriter`] does the reverse
//! for responses streamed without a known length.
//!
//! Left out on purpose: transfer codings other than `chunked` (`gzip`,
//! `deflate`) — answered 501 — and trailer fields, which are read and
//! discarded (§7.1.2 allows it).

use std::io::{self, Write};

use super::method::Version;
use super::request::{Head, Limits, RequestError};

/// Longest chunk-size line accepted (size, extensions): the extensions are
/// ignored, but a client must not make us read an endless line for them.
const MAX_CHUNK_LINE: usize = 4 * 1024;

/// Most hex digits in a chunk size: 15 digits already exceed any body limit.
const MAX_CHUNK_SIZE_DIGITS: usize = 15;

/// Most bytes of framing — size lines, extensions, CRLFs, trailer fields —
/// in one chunked body. The body limit counts only the data; without this,
/// endless trailer lines or extensions would grow the buffer forever (413).
/// Real clients send a few bytes per chunk of kilobytes.
pub const MAX_CHUNK_FRAMING: usize = 64 * 1024;

/// How the body of a request is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// No body.
    None,
    /// Exactly this many bytes follow the head.
    Length(usize),
    /// Chunks follow the head, up to a zero-size chunk.
    Chunked,
}

/// Decides how a request's body is framed (RFC 9112 §6.3), checking the
/// length against the body limit as early as the head allows.
pub fn request_framing(head: &Head<'_>, limits: &Limits) -> Result<Framing, RequestError> {
    // lab2: begin — one framing only: refuse Content-Length with Transfer-Encoding
    let headers = &head.headers;
    let has_length = headers.get_bytes("content-length").is_some();
    if headers.get_bytes("transfer-encoding").is_some() {
        if has_length {
            return Err(RequestError::LengthAndTransferEncoding);
        }
        if head.version == Version::Http10 {
            // §6.1: Transfer-Encoding did not exist in HTTP/1.0.
            return Err(RequestError::TransferEncoding);
        }
        return transfer_coding(head);
    }
    if !has_length {
        return Ok(Framing::None);
    }
    let length = content_length(head)?;
    if length > limits.body_bytes {
        return Err(RequestError::BodyTooLarge);
    }
    Ok(match length {
        0 => Framing::None,
        length => Framing::Length(length),
    })
    // lab2: end
}

/// The codings listed in `Transfer-Encoding` must be exactly `chunked`:
/// chunked must come last (§6.3, rule 4), and it is the only one we decode.
fn transfer_coding(head: &Head<'_>) -> Result<Framing, RequestError> {
    let codings: Vec<&[u8]> = head
        .headers
        .get_all("transfer-encoding")
        .flat_map(|value| value.split(|&byte| byte == b','))
        .map(super::headers::trim_whitespace)
        .filter(|coding| !coding.is_empty())
        .collect();
    let is_chunked = |coding: &&[u8]| coding.eq_ignore_ascii_case(b"chunked");
    if !codings.iter().all(is_chunked) {
        // A coding we do not know, even before a final chunked: 501 (§6.1).
        return Err(RequestError::UnknownTransferCoding);
    }
    match codings.len() {
        1 => Ok(Framing::Chunked),
        // `Transfer-Encoding:` empty, or `chunked, chunked`.
        _ => Err(RequestError::TransferEncoding),
    }
}

/// The value of `Content-Length`: digits only (§8.6 — no sign, no spaces
/// inside). Several fields, or a list, are accepted only if every value is
/// the same number. A number too large to represent is too large a body.
fn content_length(head: &Head<'_>) -> Result<usize, RequestError> {
    // lab2: begin — digits only; several values must all be the same number
    let mut length = None;
    for value in head.headers.get_all("content-length") {
        for item in value.split(|&byte| byte == b',') {
            let item = super::headers::trim_whitespace(item);
            if item.is_empty() || !item.iter().all(u8::is_ascii_digit) {
                return Err(RequestError::ContentLength);
            }
            let parsed = std::str::from_utf8(item)
                .ok()
                .and_then(|digits| digits.parse::<usize>().ok())
                .ok_or(RequestError::BodyTooLarge)?;
            if length.is_some_and(|seen| seen != parsed) {
                return Err(RequestError::ContentLength);
            }
            length = Some(parsed);
        }
    }
    length.ok_or(RequestError::ContentLength)
    // lab2: end
}

/// Where a [`ChunkedDecoder`] is within a chunked body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ChunkState {
    /// Reading the hex digits of a chunk size.
    Size,
    /// After the size: skipping `;name=value` extensions until the line ends.
    Extension,
    /// Reading this many more bytes of chunk data.
    Data(usize),
    /// After the data: expecting its CRLF (or LF).
    DataEnd,
    /// After the last (zero-size) chunk: skipping trailer lines.
    Trailer,
    /// The body is complete.
    Done,
}

/// Decodes a chunked body incrementally (RFC 9112 §7.1).
///
/// ```text
/// chunked-body = *chunk last-chunk trailer-section CRLF
/// chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
/// last-chunk   = 1*("0") [ chunk-ext ] CRLF
/// ```
///
/// Feed it whatever bytes have arrived with [`ChunkedDecoder::decode`]; it
/// appends the data to an output buffer, says how many input bytes it used,
/// and remembers where it stopped, so no byte is ever looked at twice.
#[derive(Clone, Debug)]
pub struct ChunkedDecoder {
    state: ChunkState,
    /// The chunk size being read (hex digits so far).
    size: usize,
    size_digits: usize,
    /// Bytes of the current size line or trailer line so far.
    line_len: usize,
    /// Whether the last byte was a CR, which must be followed by LF.
    after_cr: bool,
    /// Framing bytes so far, checked against [`MAX_CHUNK_FRAMING`].
    framing: usize,
    /// Decoded bytes so far, checked against the body limit.
    decoded: usize,
    limit: usize,
}

impl ChunkedDecoder {
    /// A decoder that refuses bodies larger than `limit` decoded bytes.
    pub fn new(limit: usize) -> ChunkedDecoder {
        ChunkedDecoder {
            state: ChunkState::Size,
            size: 0,
            size_digits: 0,
            line_len: 0,
            after_cr: false,
            framing: 0,
            decoded: 0,
            limit,
        }
    }

    /// Whether the last chunk and the trailer section have been read.
    pub fn is_done(&self) -> bool {
        self.state == ChunkState::Done
    }

    /// Decodes as much of `input` as possible, appending chunk data to
    /// `out`. Returns how many bytes of `input` were used: all of them,
    /// unless the body ended before the input did (the rest belongs to the
    /// next request).
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, RequestError> {
        let mut used = 0;
        while used < input.len() && self.state != ChunkState::Done {
            if let ChunkState::Data(remaining) = self.state {
                let take = remaining.min(input.len() - used);
                out.extend_from_slice(&input[used..used + take]);
                used += take;
                self.state = match remaining - take {
                    0 => ChunkState::DataEnd,
                    left => ChunkState::Data(left),
                };
                continue;
            }
            self.step(input[used])?;
            used += 1;
        }
        Ok(used)
    }

    /// Advances the state machine by one byte of framing (not data).
    fn step(&mut self, byte: u8) -> Result<(), RequestError> {
        self.framing += 1;
        if self.framing > MAX_CHUNK_FRAMING {
            return Err(RequestError::BodyTooLarge);
        }
        if self.after_cr {
            // §2.2: a CR in framing must be followed by LF.
            if byte != b'\n' {
                return Err(RequestError::Chunk);
            }
            self.after_cr = false;
            return self.end_of_line();
        }
        match byte {
            b'\r' => {
                self.after_cr = true;
                return Ok(());
            }
            b'\n' => return self.end_of_line(),
            _ => {}
        }
        self.line_len += 1;
        if self.line_len > MAX_CHUNK_LINE {
            return Err(RequestError::Chunk);
        }
        match self.state {
            ChunkState::Size => self.size_byte(byte),
            // Extensions and trailer fields are skipped (§7.1.1, §7.1.2).
            ChunkState::Extension | ChunkState::Trailer => Ok(()),
            // After chunk data only CRLF may come.
            ChunkState::DataEnd | ChunkState::Data(_) | ChunkState::Done => {
                Err(RequestError::Chunk)
            }
        }
    }

    fn size_byte(&mut self, byte: u8) -> Result<(), RequestError> {
        if let Some(digit) = (byte as char).to_digit(16) {
            self.size_digits += 1;
            if self.size_digits > MAX_CHUNK_SIZE_DIGITS {
                return Err(RequestError::BodyTooLarge);
            }
            self.size = self.size * 16 + digit as usize;
            return Ok(());
        }
        // The size must have at least one digit before anything else.
        if self.size_digits == 0 {
            return Err(RequestError::Chunk);
        }
        match byte {
            b';' | b' ' | b'\t' => {
                self.state = ChunkState::Extension;
                Ok(())
            }
            _ => Err(RequestError::Chunk),
        }
    }

    /// A line of framing has ended: a size line, the CRLF after data, or a
    /// trailer line.
    fn end_of_line(&mut self) -> Result<(), RequestError> {
        let line_was_empty = self.line_len == 0;
        self.line_len = 0;
        self.state = match self.state {
            ChunkState::Size if self.size_digits == 0 => return Err(RequestError::Chunk),
            ChunkState::Size | ChunkState::Extension => self.start_chunk()?,
            ChunkState::DataEnd => ChunkState::Size,
            ChunkState::Trailer if line_was_empty => ChunkState::Done,
            ChunkState::Trailer => ChunkState::Trailer,
            ChunkState::Data(_) | ChunkState::Done => return Err(RequestError::Chunk),
        };
        Ok(())
    }

    /// The size line is complete: begin its data, or the trailer after the
    /// last chunk.
    fn start_chunk(&mut self) -> Result<ChunkState, RequestError> {
        let size = std::mem::take(&mut self.size);
        self.size_digits = 0;
        if size == 0 {
            return Ok(ChunkState::Trailer);
        }
        self.decoded = self
            .decoded
            .checked_add(size)
            .filter(|&total| total <= self.limit)
            .ok_or(RequestError::BodyTooLarge)?;
        Ok(ChunkState::Data(size))
    }
}

/// Writes a body in chunked encoding: each `write` becomes one chunk, and
/// [`ChunkedWriter::finish`] writes the last, empty chunk. For responses
/// whose length is not known when the head is sent (a stream of events).
#[derive(Debug)]
pub struct ChunkedWriter<W: Write> {
    inner: W,
}

impl<W: Write> ChunkedWriter<W> {
    /// Wraps a writer positioned just after a head that said
    /// `Transfer-Encoding: chunked`.
    pub fn new(inner: W) -> ChunkedWriter<W> {
        ChunkedWriter { inner }
    }

    /// Ends the body with the zero-size chunk and an empty trailer.
    pub fn finish(mut self) -> io::Result<W> {
        self.inner.write_all(b"0\r\n\r\n")?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for ChunkedWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if data.is_empty() {
            // An empty chunk would end the body.
            return Ok(0);
        }
        let mut chunk = Vec::with_capacity(data.len() + 12);
        chunk.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
        chunk.extend_from_slice(data);
        chunk.extend_from_slice(b"\r\n");
        self.inner.write_all(&chunk)?;
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::request::{Status, parse_head};

    fn framing(raw: &str) -> Result<Framing, RequestError> {
        let limits = Limits::default();
        match parse_head(raw.as_bytes(), &limits) {
            Ok(Status::Complete(head)) => request_framing(&head, &limits),
            other => panic!("test head did not parse: {other:?}"),
        }
    }

    #[test]
    fn framing_table() {
        use RequestError as E;
        let cases: &[(&str, Result<Framing, RequestError>)] = &[
            ("GET / HTTP/1.1\r\nHost: x\r\n\r\n", Ok(Framing::None)),
            (
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
                Ok(Framing::None),
            ),
            (
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\n",
                Ok(Framing::Length(12)),
            ),
            (
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\n",
                Ok(Framing::Length(5)),
            ),
            (
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
                Ok(Framing::Length(5)),
            ),
            (
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
                Err(E::ContentLength),
            ),
            (
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
                Err(E::ContentLength),
            ),
            (
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +1\r\n\r\n",
                Err(E::ContentLength),
            ),
            (
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1 2\r\n\r\n",
                Err(E::ContentLength),
            ),
            (
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
                Err(E::ContentLength),
            ),
            (
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n\r\n",
                Err(E::ContentLength),
            ),
            (
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n",
                Err(E::BodyTooLarge),
            ),
            (
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1048577\r\n\r\n",
                Err(E::BodyTooLarge),
            ),
            (
                "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
                Ok(Framing::Chunked),
            ),
            (
                "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n",
                Ok(Framing::Chunked),
            ),
            (
                "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
                Err(E::LengthAndTransferEncoding),
            ),
            (
                "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
                Err(E::UnknownTransferCoding),
            ),
            (
                "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                Err(E::UnknownTransferCoding),
            ),
            (
                "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
                Err(E::TransferEncoding),
            ),
            (
                "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
                Err(E::TransferEncoding),
            ),
        ];
        for (raw, expected) in cases {
            assert_eq!(framing(raw), *expected, "head {raw:?}");
        }
    }

    fn decode_all(input: &[u8], piece: usize) -> Result<(Vec<u8>, usize), RequestError> {
        let mut decoder = ChunkedDecoder::new(1024);
        let mut out = Vec::new();
        let mut used = 0;
        for part in input.chunks(piece) {
            used += decoder.decode(part, &mut out)?;
            if decoder.is_done() {
                return Ok((out, used));
            }
        }
        Err(RequestError::Timeout) // stands for "incomplete" in these tests
    }

    #[test]
    fn chunked_bodies_decode_whatever_the_pieces() {
        let body = b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nTrailer: x\r\n\r\nNEXT";
        for piece in 1..body.len() {
            let (decoded, used) = decode_all(body, piece).expect("valid chunked body");
            assert_eq!(decoded, b"hello, world", "fed in pieces of {piece}");
            assert_eq!(used, body.len() - 4, "stops before the next request");
        }
    }

    #[test]
    fn malformed_chunks_are_refused() {
        let cases: &[(&[u8], RequestError)] = &[
            (b"x\r\n", RequestError::Chunk),
            (b"\r\n", RequestError::Chunk),
            (b"5\r\nhelloXX", RequestError::Chunk),
            (b"5\rhello", RequestError::Chunk),
            (b"fffffffffffffffff\r\n", RequestError::BodyTooLarge),
            (b"401\r\n", RequestError::BodyTooLarge),
        ];
        for (input, expected) in cases {
            assert_eq!(
                decode_all(input, input.len()).map(|_| ()),
                Err(*expected),
                "chunked input {:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn chunked_writer_output_decodes_back() {
        let mut writer = ChunkedWriter::new(Vec::new());
        writer.write_all(b"event one").expect("write");
        writer.write_all(b"").expect("empty write");
        writer.write_all(b"two").expect("write");
        let encoded = writer.finish().expect("finish");
        assert_eq!(encoded, b"9\r\nevent one\r\n3\r\ntwo\r\n0\r\n\r\n");
        let (decoded, _) = decode_all(&encoded, 3).expect("decodes");
        assert_eq!(decoded, b"event onetwo");
    }
}
