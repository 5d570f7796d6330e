//! A reusable TCP server: bind, accept in a loop, one thread per connection.
//!
//! This is the ground floor of every lab. It follows the socket calls that
//! every server makes (`socket`, `bind`, `listen`, then `accept` in a loop;
//! `std::net::TcpListener::bind` does the first three) and gives each
//! accepted connection a thread of its own, so that one slow client never
//! holds up the others (`docs/lab1_echo.md`, "One thread per connection").
//!
//! What it adds to a bare accept loop, because a real server needs it:
//!
//! - a **cap** on connections served at once ([`Config::max_connections`]):
//!   a flood of connections is refused instead of exhausting threads and
//!   file descriptors;
//! - an `accept` that **fails** (too many open files, say) is logged and
//!   retried after a growing back-off, never a crash;
//! - read and write **timeouts** applied to every connection;
//! - a **shutdown** handle ([`Running::shutdown`]): stop accepting, give
//!   in-flight connections a grace period, then close what is left.
//!
//! It knows nothing of what travels on the connection: lab 1 echoes bytes,
//! lab 2 speaks HTTP, lab 5 speaks its own framed protocol. Each of them is a
//! [`Service`].
//!
//! A thread that has served its connection waits a little for the next
//! one instead of ending ([`crate::workers`]): under a stream of short
//! connections, starting and ending a thread would be most of the work.
//!
//! Left out on purpose: a fixed thread pool and non-blocking I/O (`epoll`).
//! A thread per connection is the simplest model that is correct, and with
//! small stacks it holds thousands of connections (see
//! `docs/benchmarks.md`). Lab 2's HTTP server adds an event loop above
//! this one, for the wait between two requests only
//! (`crate::http::event_loop`): a [`Connection`] lives as long as it is
//! kept, not only while [`Service::serve`] runs.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::workers::Workers;

/// Connections served at once before new ones are refused.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// Stack size of a connection thread. The default of 2 MiB would reserve
/// 2 GiB of address space for 1,000 connections; what a handler really
/// uses is a few tens of KiB, and the kernel only backs touched pages.
pub const DEFAULT_STACK_SIZE: usize = 256 * 1024;

/// First pause after a failed `accept`; it doubles up to [`ACCEPT_BACKOFF_MAX`].
const ACCEPT_BACKOFF_START: Duration = Duration::from_millis(10);

/// Longest pause between retries of a failing `accept`.
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// After the grace period, how long shutdown waits for force-closed
/// connections' threads to notice and end.
const FORCED_CLOSE_WAIT: Duration = Duration::from_secs(2);

/// How a [`Server`] treats each connection.
#[derive(Clone, Debug)]
pub struct Config {
    /// Connections served at once; one more is handed to [`Service::refuse`].
    pub max_connections: usize,
    /// Applied to every accepted socket: a `read` that waits longer fails
    /// with `WouldBlock`/`TimedOut`. `None` waits forever.
    pub read_timeout: Option<Duration>,
    /// Applied to every accepted socket: a `write` to a client that stopped
    /// reading fails after this long. `None` waits forever.
    pub write_timeout: Option<Duration>,
    /// Sets `TCP_NODELAY` (turns off Nagle's algorithm), for protocols that
    /// write small replies and wait for the next request.
    pub nodelay: bool,
    /// Stack size of each connection thread.
    pub stack_size: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            read_timeout: None,
            write_timeout: None,
            nodelay: false,
            stack_size: DEFAULT_STACK_SIZE,
        }
    }
}

/// One accepted connection, handed to a [`Service`] on its own thread.
///
/// It counts as live — against [`Config::max_connections`], and for
/// shutdown — until it is dropped, which is normally when
/// [`Service::serve`] returns; a service that keeps connections between
/// requests somewhere else (lab 2's event loop, `crate::http`) keeps it
/// alive by keeping it.
#[derive(Debug)]
pub struct Connection {
    /// The socket, shared with the server so that shutdown can close it.
    stream: Arc<TcpStream>,
    /// The client's address.
    pub peer: SocketAddr,
    /// A number unique within this server, for logs.
    pub id: u64,
    /// Frees the connection's place in the live set when dropped.
    _slot: LiveSlot,
}

impl Connection {
    /// The socket. `Read` and `Write` are implemented for `&TcpStream`, so
    /// `let mut stream = connection.stream();` is all a service needs. The
    /// connection closes when it is dropped (or earlier, with
    /// `stream.shutdown(..)`).
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }
}

/// What a server does with its connections.
///
/// Any `Fn(Connection)` closure is a service that refuses by closing.
pub trait Service: Send + Sync + 'static {
    /// Serves one connection; runs on the connection's own thread. When the
    /// connection is dropped (at the latest, when this returns), it counts
    /// as finished.
    fn serve(&self, connection: Connection);

    /// Called on the accept thread, instead of [`Service::serve`], for a
    /// connection over the cap. It must not block: the default closes the
    /// socket at once; an HTTP server writes a short `503` first (a fresh
    /// socket's send buffer always has room for it).
    fn refuse(&self, stream: TcpStream) {
        drop(stream);
    }
}

impl<F> Service for F
where
    F: Fn(Connection) + Send + Sync + 'static,
{
    fn serve(&self, connection: Connection) {
        self(connection)
    }
}

/// A bound listening socket, ready to accept.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    config: Config,
}

/// A server accepting on its own thread; the handle to stop it.
///
/// Dropping it stops the server at once (no grace period), so a test that
/// fails halfway never leaves a server behind.
#[derive(Debug)]
pub struct Running {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept_thread: Option<JoinHandle<()>>,
}

/// What [`Running::shutdown`] had to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Connections still open when the grace period ended, which were closed
    /// by force.
    pub forced: usize,
    /// Connections whose threads had not ended even after being closed.
    pub stuck: usize,
}

/// State shared by the accept loop, the connection threads and the handle.
#[derive(Debug)]
struct Shared {
    /// Set once by shutdown; the accept loop checks it after every `accept`.
    stopping: AtomicBool,
    /// The live connections. The lock is held only to insert, remove,
    /// count or shut down sockets — never across I/O that could block — so
    /// it cannot deadlock, and no connection ever waits on another.
    live: Mutex<Live>,
    /// Signalled when a connection ends and someone waits for it (paired
    /// with `live`).
    connection_ended: Condvar,
    /// The connections' threads, kept for the next connection when done.
    workers: Workers,
}

/// The connections being served, and how many threads wait for one to end.
#[derive(Debug, Default)]
struct Live {
    /// Every live connection's socket, by id, so that shutdown can close them.
    streams: HashMap<u64, Arc<TcpStream>>,
    /// Threads waiting on `connection_ended` (shutdown, and tests). A
    /// connection that ends wakes them only when there are some: a wake-up
    /// is a system call, which every connection would pay otherwise.
    waiters: usize,
}

impl Shared {
    fn live(&self) -> MutexGuard<'_, Live> {
        // A poisoned lock only means a thread panicked while holding it; the
        // map itself is still consistent, because every change is one call.
        self.live.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Removes its connection from the live set when the connection is
/// dropped, even by a panic, so the cap never leaks a slot.
#[derive(Debug)]
struct LiveSlot {
    shared: Arc<Shared>,
    id: u64,
}

impl Drop for LiveSlot {
    fn drop(&mut self) {
        let mut live = self.shared.live();
        live.streams.remove(&self.id);
        let someone_waits = live.waiters > 0;
        drop(live);
        if someone_waits {
            self.shared.connection_ended.notify_all();
        }
    }
}

impl Server {
    /// Binds to `addr` (port 0 picks a free port) and starts listening.
    pub fn bind(addr: SocketAddr, config: Config) -> io::Result<Server> {
        Ok(Server {
            listener: TcpListener::bind(addr)?,
            config,
        })
    }

    /// The address actually bound, with the real port when 0 was asked for.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Binds to `addr` and prints the line every lab binary starts with,
    /// `listening on http://HOST:PORT` (with the real port), on stdout.
    /// A lab binary cannot go on without its socket, so failing to bind
    /// ends the process with one `error:` line and exit code 1.
    pub fn listen_or_exit(addr: SocketAddr, config: Config) -> Server {
        let server = Server::bind(addr, config).unwrap_or_else(|error| {
            eprintln!("error: cannot listen on {addr}: {error}");
            std::process::exit(1);
        });
        println!(
            "listening on http://{}",
            server.local_addr().unwrap_or(addr)
        );
        server
    }

    /// Accepts on a new thread and returns at once with the handle that
    /// stops it. Tests use this.
    pub fn start(self, service: impl Service) -> io::Result<Running> {
        let addr = self.local_addr()?;
        let shared = Arc::new(Shared::new(self.config.stack_size));
        let accept_shared = Arc::clone(&shared);
        let accept_thread = thread::Builder::new()
            .name("accept".to_string())
            .spawn(move || self.accept_loop(Arc::new(service), accept_shared))?;
        Ok(Running {
            addr,
            shared,
            accept_thread: Some(accept_thread),
        })
    }

    /// Accepts on the calling thread, forever. Lab binaries use this.
    pub fn run(self, service: impl Service) {
        let shared = Arc::new(Shared::new(self.config.stack_size));
        self.accept_loop(Arc::new(service), shared);
    }

    fn accept_loop<S: Service>(self, service: Arc<S>, shared: Arc<Shared>) {
        // lab1: begin — accept in a loop; back off when accept fails; dispatch each connection
        let mut backoff = ACCEPT_BACKOFF_START;
        let mut next_id: u64 = 0;
        loop {
            let accepted = self.listener.accept();
            if shared.stopping.load(Ordering::SeqCst) {
                return;
            }
            let (stream, peer) = match accepted {
                Ok(pair) => {
                    backoff = ACCEPT_BACKOFF_START;
                    pair
                }
                // The client gave up between its SYN and our accept: nothing to do.
                Err(error) if is_transient(&error) => continue,
                // Typically EMFILE/ENFILE (out of file descriptors) or ENOBUFS.
                // Waiting lets connections finish and free what we ran out of.
                Err(error) => {
                    eprintln!("accept failed: {error}; retrying in {backoff:?}");
                    thread::sleep(backoff);
                    backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                    continue;
                }
            };
            next_id += 1;
            self.dispatch(&service, &shared, next_id, stream, peer);
        }
        // lab1: end
    }

    /// Hands one accepted socket to a thread of its own, or refuses it.
    fn dispatch<S: Service>(
        &self,
        service: &Arc<S>,
        shared: &Arc<Shared>,
        id: u64,
        stream: TcpStream,
        peer: SocketAddr,
    ) {
        // Only this thread inserts into `live`, so the count cannot grow
        // between this check and the insert below.
        if shared.live().streams.len() >= self.config.max_connections {
            service.refuse(stream);
            return;
        }
        let stream = Arc::new(stream);
        shared.live().streams.insert(id, Arc::clone(&stream));
        let slot = LiveSlot {
            shared: Arc::clone(shared),
            id,
        };
        let service = Arc::clone(service);
        let config = self.config.clone();
        // Everything else happens on the connection's thread, so that this
        // thread gets back to `accept` quickly.
        let started = shared.workers.run(move || {
            if let Err(error) = configure(&stream, &config) {
                eprintln!("{peer}: cannot configure socket: {error}");
                return; // `stream` and `slot` drop here: the connection closes.
            }
            service.serve(Connection {
                stream,
                peer,
                id,
                _slot: slot,
            });
        });
        if let Err(error) = started {
            // The job, with its slot and socket, was dropped: closed.
            eprintln!("{peer}: cannot start a thread: {error}");
        }
    }
}

/// Applies the configured timeouts and options to an accepted socket.
fn configure(stream: &TcpStream, config: &Config) -> io::Result<()> {
    // An accepted socket starts without timeouts (its listener has none):
    // only a configured one costs a system call.
    if config.read_timeout.is_some() {
        stream.set_read_timeout(config.read_timeout)?;
    }
    if config.write_timeout.is_some() {
        stream.set_write_timeout(config.write_timeout)?;
    }
    if config.nodelay {
        stream.set_nodelay(true)?;
    }
    Ok(())
}

impl Shared {
    fn new(stack_size: usize) -> Shared {
        Shared {
            stopping: AtomicBool::new(false),
            live: Mutex::new(Live::default()),
            connection_ended: Condvar::new(),
            workers: Workers::new(stack_size),
        }
    }
}

/// Whether an I/O error is a socket's read or write timeout running out:
/// it shows up as `WouldBlock` or `TimedOut`, depending on the platform.
pub fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Errors from `accept` that concern one client only, not the listener.
fn is_transient(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}

impl Running {
    /// The address the server listens on (with its real port).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many connections are being served right now.
    pub fn connections(&self) -> usize {
        self.shared.live().streams.len()
    }

    /// Waits up to `limit` until at most `count` connections are being
    /// served; returns whether that happened. Tests use it to know that the
    /// server has noticed a client leave, without sleeping.
    pub fn wait_for_connections_at_most(&self, count: usize, limit: Duration) -> bool {
        self.wait_until_at_most(self.shared.live(), count, limit)
            .streams
            .len()
            <= count
    }

    /// Stops accepting, waits up to `grace` for in-flight connections to
    /// finish, then closes whatever is still open and waits for those
    /// threads to end.
    pub fn shutdown(mut self, grace: Duration) -> ShutdownReport {
        self.stop(grace)
    }

    fn stop(&mut self, grace: Duration) -> ShutdownReport {
        let Some(accept_thread) = self.accept_thread.take() else {
            return ShutdownReport {
                forced: 0,
                stuck: 0,
            };
        };
        self.shared.stopping.store(true, Ordering::SeqCst);
        // `accept` blocks; a connection of our own wakes it so that it sees
        // the flag. If even that fails the listener is already broken and the
        // accept loop will not block for long either.
        let _ = TcpStream::connect_timeout(&wake_address(self.addr), Duration::from_secs(1));
        let _ = accept_thread.join();

        let mut live = self.wait_until_at_most(self.shared.live(), 0, grace);
        let forced = live.streams.len();
        for stream in live.streams.values() {
            // Wakes a thread blocked in `read` or `write` on this socket
            // (or the event loop a parked connection waits in, crate::http).
            let _ = stream.shutdown(Shutdown::Both);
        }
        live = self.wait_until_at_most(live, 0, FORCED_CLOSE_WAIT);
        self.shared.workers.stop();
        ShutdownReport {
            forced,
            stuck: live.streams.len(),
        }
    }

    /// Waits until at most `count` connections are live or `limit` has passed.
    fn wait_until_at_most<'a>(
        &'a self,
        mut live: MutexGuard<'a, Live>,
        count: usize,
        limit: Duration,
    ) -> MutexGuard<'a, Live> {
        let deadline = Instant::now() + limit;
        while live.streams.len() > count {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            live.waiters += 1;
            live = self
                .shared
                .connection_ended
                .wait_timeout(live, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            live.waiters -= 1;
        }
        live
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop(Duration::ZERO);
    }
}

/// Where to connect to reach a listener bound to `addr`: a listener on the
/// "any" address (`0.0.0.0`, `::`) is reached through loopback.
fn wake_address(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

/// Two ends of a loopback TCP connection (client, server), for the unit
/// tests of the modules that read and write sockets.
#[cfg(test)]
pub(crate) fn loopback_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
    let (server, _) = listener.accept().expect("accept");
    (client, server)
}
