//! Readiness notification with Linux's `epoll(7)`, and reads and writes
//! that never wait: what an event loop needs and `std` does not have.
//!
//! A thread blocked in `read` is put to sleep and woken for every request
//! that arrives on its connection. An event loop asks the kernel instead
//! "which of these sockets can I read without waiting?" (`epoll_wait`), and
//! one wake-up then serves every connection that has a request: under
//! load, no wake-up at all, since there is always one ready. Lab 2's server
//! uses it for its idle connections (`crate::http`, `docs/lab2_http.md`,
//! "Where idle connections wait").
//!
//! This is the one module of the kit with `unsafe` code: `std` offers
//! neither `epoll` nor a `recv` or `send` that does not wait, so the five C
//! functions below are declared as `epoll_create1(2)`, `epoll_ctl(2)`,
//! `epoll_wait(2)`, `recv(2)` and `send(2)` give them, and called through a safe
//! interface: each call is given only memory it may use, and each file
//! descriptor is owned by a Rust value that closes it.

use std::io;
use std::net::TcpStream;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// One event as the kernel reads and writes it: the ready flags, and the
/// 64 bits we chose when the socket was added (a token naming it). On
/// x86-64 the kernel's struct is packed (no padding between the fields).
#[derive(Clone, Copy, Debug, Default)]
#[cfg_attr(target_arch = "x86_64", repr(C, packed))]
#[cfg_attr(not(target_arch = "x86_64"), repr(C))]
struct EpollEvent {
    events: u32,
    data: u64,
}

// The C library's functions, linked in by `std` already (no dependency).
unsafe extern "C" {
    fn epoll_create1(flags: i32) -> i32;
    fn epoll_ctl(epfd: i32, op: i32, fd: i32, event: *mut EpollEvent) -> i32;
    fn epoll_wait(epfd: i32, events: *mut EpollEvent, maxevents: i32, timeout: i32) -> i32;
    fn send(fd: i32, buf: *const u8, len: usize, flags: i32) -> isize;
    fn recv(fd: i32, buf: *mut u8, len: usize, flags: i32) -> isize;
}

// Values from the Linux headers (`<sys/epoll.h>`, `<sys/socket.h>`), as
// on x86, ARM and RISC-V (alpha, parisc and sparc number `EPOLL_CLOEXEC`,
// which is `O_CLOEXEC`, differently).
const EPOLL_CLOEXEC: i32 = 0o2_000_000;
const EPOLL_CTL_ADD: i32 = 1;
const EPOLL_CTL_DEL: i32 = 2;
/// Readable: data, or the end of the stream.
const EPOLLIN: u32 = 0x001;
/// The peer closed its side: reported even before its data is read.
const EPOLLRDHUP: u32 = 0x2000;
/// Fail with `EAGAIN` rather than wait.
const MSG_DONTWAIT: i32 = 0x40;
/// A peer that has gone away is an `EPIPE` error, not a `SIGPIPE` signal.
const MSG_NOSIGNAL: i32 = 0x4000;

/// A set of sockets watched for readability (an epoll instance).
///
/// Level-triggered: a socket with unread input is reported by every
/// [`Poller::wait`] until it is read, so an event never gets lost between
/// two waits.
#[derive(Debug)]
pub struct Poller {
    epoll: OwnedFd,
}

impl Poller {
    /// A new, empty set.
    pub fn new() -> io::Result<Poller> {
        // SAFETY: no pointers; the result is a new descriptor or -1.
        let fd = unsafe { epoll_create1(EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just created, and nothing else owns it.
        Ok(Poller {
            epoll: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Watches `socket` for input; [`Poller::wait`] reports it by `token`.
    pub fn add(&self, socket: &TcpStream, token: u64) -> io::Result<()> {
        let mut event = EpollEvent {
            events: EPOLLIN | EPOLLRDHUP,
            data: token,
        };
        self.control(EPOLL_CTL_ADD, socket.as_raw_fd(), &mut event)
    }

    /// Stops watching `socket`. (Closing a socket also removes it.)
    pub fn remove(&self, socket: &TcpStream) -> io::Result<()> {
        // Since Linux 2.6.9 the event is ignored for a removal, but must
        // not be null.
        let mut unused = EpollEvent::default();
        self.control(EPOLL_CTL_DEL, socket.as_raw_fd(), &mut unused)
    }

    fn control(&self, op: i32, fd: RawFd, event: &mut EpollEvent) -> io::Result<()> {
        // SAFETY: `event` is a valid, writable struct for the call's duration.
        let result = unsafe { epoll_ctl(self.epoll.as_raw_fd(), op, fd, event) };
        if result < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Waits until a watched socket is readable or `timeout` has passed,
    /// and puts the tokens of the ready sockets in `ready` (at most its
    /// capacity; the rest are reported by the next call).
    pub fn wait(&self, ready: &mut Ready, timeout: Duration) -> io::Result<()> {
        ready.len = 0;
        let millis = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        let capacity = i32::try_from(ready.events.len()).unwrap_or(i32::MAX);
        // SAFETY: the kernel writes at most `capacity` events into the array.
        let count = unsafe {
            epoll_wait(
                self.epoll.as_raw_fd(),
                ready.events.as_mut_ptr(),
                capacity,
                millis,
            )
        };
        if count < 0 {
            let error = io::Error::last_os_error();
            // A signal cut the wait short: nothing is ready, which is fine.
            return match error.kind() {
                io::ErrorKind::Interrupted => Ok(()),
                _ => Err(error),
            };
        }
        ready.len = count as usize;
        Ok(())
    }
}

/// The tokens of the sockets one [`Poller::wait`] found ready.
#[derive(Debug)]
pub struct Ready {
    events: Vec<EpollEvent>,
    len: usize,
}

impl Ready {
    /// Room for `capacity` events per wait.
    pub fn with_capacity(capacity: usize) -> Ready {
        Ready {
            events: vec![EpollEvent::default(); capacity.max(1)],
            len: 0,
        }
    }

    /// The tokens, in the order the kernel gave them.
    pub fn tokens(&self) -> impl Iterator<Item = u64> + '_ {
        // Copied out: a packed field cannot be borrowed.
        self.events[..self.len].iter().map(|event| event.data)
    }
}

/// A socket read and written without ever waiting: `Read` and `Write`
/// return `ErrorKind::WouldBlock` where a blocking socket would wait. The
/// socket itself stays blocking, so a thread can go on with it as usual.
#[derive(Debug)]
pub struct NoWait<'a>(pub &'a TcpStream);

impl io::Read for NoWait<'_> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        // SAFETY: the kernel writes at most `buffer.len()` bytes into it.
        let read = unsafe {
            recv(
                self.0.as_raw_fd(),
                buffer.as_mut_ptr(),
                buffer.len(),
                MSG_DONTWAIT,
            )
        };
        if read < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(read as usize)
    }
}

impl io::Write for NoWait<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        // SAFETY: the kernel reads at most `bytes.len()` bytes from it.
        let sent = unsafe {
            send(
                self.0.as_raw_fd(),
                bytes.as_ptr(),
                bytes.len(),
                MSG_DONTWAIT | MSG_NOSIGNAL,
            )
        };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(sent as usize)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::loopback_pair as pair;
    use std::io::{Read, Write};

    #[test]
    fn a_socket_is_reported_by_its_token_once_it_has_input() {
        let (mut client, server) = pair();
        let poller = Poller::new().expect("epoll");
        poller.add(&server, 42).expect("add");
        let mut ready = Ready::with_capacity(8);
        poller.wait(&mut ready, Duration::ZERO).expect("wait");
        assert_eq!(ready.tokens().count(), 0, "nothing sent yet, nothing ready");
        client.write_all(b"x").expect("send");
        poller
            .wait(&mut ready, Duration::from_secs(10))
            .expect("wait");
        assert_eq!(ready.tokens().collect::<Vec<_>>(), [42]);
        poller.remove(&server).expect("remove");
        poller.wait(&mut ready, Duration::ZERO).expect("wait");
        assert_eq!(
            ready.tokens().count(),
            0,
            "a removed socket is not reported"
        );
    }

    #[test]
    fn no_wait_reads_and_writes_say_would_block_instead_of_waiting() {
        let (client, server) = pair();
        let mut scratch = [0u8; 16];
        let error = NoWait(&server).read(&mut scratch).expect_err("no input");
        assert_eq!(error.kind(), io::ErrorKind::WouldBlock);
        // The client never reads: the send buffers fill, then writes refuse.
        let block = vec![0u8; 64 * 1024];
        let mut sent = 0usize;
        let refused = loop {
            match NoWait(&server).write(&block) {
                Ok(count) => sent += count,
                Err(error) => break error,
            }
            assert!(sent < 1 << 30, "1 GiB sent to a client that never reads");
        };
        assert_eq!(refused.kind(), io::ErrorKind::WouldBlock);
        drop(client);
    }
}
