//! A deliberately small HTTP/1.1 reader for the graders.
//!
//! The graders speak raw bytes and read responses with this, not with the
//! kit's own client, so that a broken client in the lab cannot make a
//! broken server pass.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};

use super::{Failure, STEP_TIMEOUT, connect, escape};

/// One response as it came off the wire.
#[derive(Clone, Debug)]
pub struct RawResponse {
    /// The status code from the status line.
    pub status: u16,
    /// The status line, without CRLF.
    pub status_line: String,
    /// Header fields in order.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
    /// Every byte of the response, for failure messages.
    pub raw: Vec<u8>,
}

impl RawResponse {
    /// The first value of a header (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Every value of a header (any case).
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
            .collect()
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A request as sent and the response it got, kept together so that a
/// failure can show both. Graders add their own checks to it.
pub struct Answer {
    /// The request's bytes.
    pub sent: Vec<u8>,
    /// What came back.
    pub response: RawResponse,
}

impl Answer {
    /// Fails the test in the kit's format: the step, what was sent, what
    /// came back, what was expected, and the doc section to read.
    pub fn fail(&self, step: &str, expected: &str, doc: &str) -> ! {
        panic!(
            "{}",
            Failure {
                step,
                sent: &self.sent,
                received: &self.response.raw,
                expected,
                doc,
            }
        )
    }
}

/// A client connection that sends raw bytes and reads whole responses.
pub struct HttpConn {
    /// The socket.
    pub stream: TcpStream,
    /// Bytes read past the last response.
    pending: Vec<u8>,
}

impl HttpConn {
    /// Connects to `addr`.
    pub fn open(addr: SocketAddr) -> HttpConn {
        let stream = connect(addr);
        stream.set_nodelay(true).expect("nodelay");
        HttpConn {
            stream,
            pending: Vec::new(),
        }
    }

    /// Sends bytes as they are.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream
            .write_all(bytes)
            .unwrap_or_else(|error| panic!("sending {}: {error}", escape(bytes)));
    }

    /// Reads one response to a request that was not HEAD.
    pub fn response(&mut self) -> RawResponse {
        self.read_response(false)
            .unwrap_or_else(|error| panic!("reading a response: {error}"))
    }

    /// Reads one response to a HEAD request (no body follows the head).
    pub fn head_response(&mut self) -> RawResponse {
        self.read_response(true)
            .unwrap_or_else(|error| panic!("reading a response to HEAD: {error}"))
    }

    /// Reads one response; `Err` says what went wrong and what had arrived.
    pub fn read_response(&mut self, head_only: bool) -> Result<RawResponse, String> {
        let head_end = self.fill_until(|bytes| find(bytes, b"\r\n\r\n").map(|at| at + 4))?;
        let head = String::from_utf8_lossy(&self.pending[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or("").to_string();
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| format!("no status code in {status_line:?}"))?;
        let headers: Vec<(String, String)> = lines
            .filter(|line| !line.is_empty())
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.to_string(), value.trim().to_string()))
            .collect();
        let header = |name: &str| {
            headers
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, value)| value.clone())
        };
        let no_body = head_only || status == 204 || status == 304 || (100..200).contains(&status);
        let (body, end) = if no_body {
            (Vec::new(), head_end)
        } else if header("transfer-encoding").is_some_and(|te| te.contains("chunked")) {
            self.fill_until(|bytes| dechunk(&bytes[head_end..]).map(|(_, used)| head_end + used))?;
            let (body, used) = dechunk(&self.pending[head_end..]).unwrap_or_default();
            (body, head_end + used)
        } else if let Some(length) = header("content-length") {
            let length: usize = length
                .parse()
                .map_err(|_| format!("bad Content-Length {length:?}"))?;
            let end = head_end + length;
            self.fill_until(|bytes| (bytes.len() >= end).then_some(end))?;
            (self.pending[head_end..end].to_vec(), end)
        } else {
            self.read_until_closed()?;
            (self.pending[head_end..].to_vec(), self.pending.len())
        };
        let raw: Vec<u8> = self.pending.drain(..end).collect();
        Ok(RawResponse {
            status,
            status_line,
            headers,
            body,
            raw,
        })
    }

    /// Reads until the server closes; returns whatever came (beyond
    /// responses already read). Fails the test if the server keeps the
    /// connection open for [`STEP_TIMEOUT`].
    pub fn expect_closed(&mut self, why: &str) -> Vec<u8> {
        match self.read_until_closed() {
            Ok(()) => std::mem::take(&mut self.pending),
            Err(error) => panic!("expected the server to close the connection ({why}): {error}"),
        }
    }

    fn read_until_closed(&mut self) -> Result<(), String> {
        let mut chunk = [0u8; 8192];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return Ok(()),
                Ok(read) => self.pending.extend_from_slice(&chunk[..read]),
                Err(error) if error.kind() == ErrorKind::ConnectionReset => return Ok(()),
                Err(error) => {
                    return Err(format!(
                        "{error} after {STEP_TIMEOUT:?}; received {}",
                        escape(&self.pending)
                    ));
                }
            }
        }
    }

    fn fill_until(
        &mut self,
        mut done: impl FnMut(&[u8]) -> Option<usize>,
    ) -> Result<usize, String> {
        let mut chunk = [0u8; 64 * 1024];
        loop {
            if let Some(end) = done(&self.pending) {
                return Ok(end);
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    return Err(format!(
                        "the server closed the connection mid-response; received {}",
                        escape(&self.pending)
                    ));
                }
                Ok(read) => self.pending.extend_from_slice(&chunk[..read]),
                Err(error) => {
                    return Err(format!(
                        "{error}; received so far {}",
                        escape(&self.pending)
                    ));
                }
            }
        }
    }
}

/// Sends `request` on a new connection and reads one response.
pub fn exchange(addr: SocketAddr, request: &[u8]) -> RawResponse {
    let mut conn = HttpConn::open(addr);
    conn.send(request);
    conn.response()
}

/// `GET path` on a new connection, with `Connection: close`.
pub fn get(addr: SocketAddr, path: &str) -> RawResponse {
    exchange(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

/// Decodes a complete chunked body: the data and the bytes it took, or
/// `None` if it has not all arrived.
fn dechunk(bytes: &[u8]) -> Option<(Vec<u8>, usize)> {
    let mut body = Vec::new();
    let mut pos = 0;
    loop {
        let line_end = pos + find(&bytes[pos..], b"\r\n")?;
        let size_text = std::str::from_utf8(&bytes[pos..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        pos = line_end + 2;
        if size == 0 {
            let end = pos + find(&bytes[pos..], b"\r\n")? + 2;
            return Some((body, end));
        }
        if bytes.len() < pos + size + 2 {
            return None;
        }
        body.extend_from_slice(&bytes[pos..pos + size]);
        pos += size + 2;
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}
