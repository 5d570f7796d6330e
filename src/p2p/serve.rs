//! Starting a peer node: its flags, its two listeners, and the keeper
//! thread that retries the outbox and refreshes the registrations.
//!
//! ```text
//! --tracker URL      the tracker (lab 4's server)         default http://127.0.0.1:9000
//! --p2p-port PORT    where other peers connect             default 9101; 0 picks a free port
//! --advertise IP     the address registered for others     default --host, or the way to the tracker
//! --data DIR         messages, outbox, hosted peers        default data/peer-PORT
//! ```
//!
//! The HTTP side takes the flags of every lab ([`crate::flags::SERVER_FLAGS`],
//! with `--port` 9001 by default so as not to take the tracker's 9000,
//! and [`crate::http::serve::HTTP_FLAGS`]). Both listeners use `--host`.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use super::app;
use super::inbox::Inbox;
use super::node::{NodeSettings, PeerNode};
use super::tracker::TrackerClient;
use crate::auth::{Auth, AuthConfig};
use crate::flags::{Args, CliError, Flag, SERVER_FLAGS};
use crate::http::files::StaticFiles;
use crate::http::serve::HttpFlags;
use crate::http::{self, HttpService};
use crate::net::{self, Running, Server};

/// The flags of a peer node, beyond the HTTP labs' flags.
pub const PEER_FLAGS: &[Flag] = &[
    Flag {
        name: "--tracker",
        aliases: &[],
        value: Some("URL"),
        default: Some("http://127.0.0.1:9000"),
        help: "the tracker (lab 4's server) to log in and register with",
    },
    Flag {
        name: "--p2p-port",
        aliases: &[],
        value: Some("PORT"),
        default: Some("9101"),
        help: "port other peers connect to; 0 picks a free port",
    },
    Flag {
        name: "--advertise",
        aliases: &[],
        value: Some("IP"),
        default: None,
        help: "address registered for other peers to connect to \
               (default: --host, or the local address toward the tracker when --host is 0.0.0.0)",
    },
    Flag {
        name: "--data",
        aliases: &[],
        value: Some("DIR"),
        default: None,
        help: "directory of this node's messages, outbox and peers (default data/peer-PORT)",
    },
];

/// The HTTP port of a peer node unless `--port` says otherwise: next to
/// the tracker's 9000.
pub const DEFAULT_HTTP_PORT: &str = "9001";

/// How often the keeper looks at the outbox (what is due is decided by
/// the node's clock).
pub const KEEPER_TICK: Duration = Duration::from_secs(1);

/// How long stopping waits for open connections before closing them.
pub const SHUTDOWN_GRACE: Duration = Duration::from_millis(500);

/// Connections from other peers served at once.
pub const MAX_PEER_CONNECTIONS: usize = 256;

/// [`SERVER_FLAGS`] with `--port` defaulting to [`DEFAULT_HTTP_PORT`].
pub fn server_flags() -> Vec<Flag> {
    SERVER_FLAGS
        .iter()
        .map(|flag| match flag.name {
            "--port" => Flag {
                default: Some(DEFAULT_HTTP_PORT),
                ..*flag
            },
            _ => *flag,
        })
        .collect()
}

/// Everything a peer node needs to start.
#[derive(Clone, Debug)]
pub struct PeerConfig {
    /// The tracker's URL.
    pub tracker: String,
    /// Where the HTTP side listens (port 0 for a free one).
    pub http_addr: SocketAddr,
    /// Where the p2p side listens (port 0 for a free one).
    pub p2p_addr: SocketAddr,
    /// The address registered for other peers; `None` to work it out.
    pub advertise: Option<IpAddr>,
    /// The node's data directory.
    pub data: PathBuf,
    /// The UI's files.
    pub www: PathBuf,
    /// The HTTP side's limits, timeouts and clock.
    pub http: http::Config,
    /// Connections the HTTP side serves at once.
    pub max_connections: usize,
    /// The node's own settings.
    pub node: NodeSettings,
}

impl PeerConfig {
    /// The configuration of the lab binary: the HTTP flags and [`PEER_FLAGS`].
    pub fn from_args(args: &Args) -> Result<PeerConfig, CliError> {
        let http = HttpFlags::from_args(args)?;
        let tracker: String = args.required("--tracker")?;
        if let Err(error) = TrackerClient::new(&tracker) {
            return Err(CliError::Invalid {
                flag: "--tracker",
                value: tracker,
                reason: error.to_string(),
            });
        }
        let p2p_port: u16 = args.required("--p2p-port")?;
        let data = args
            .parsed::<PathBuf>("--data")?
            .unwrap_or_else(|| PathBuf::from(format!("data/peer-{}", http.server.port)));
        let node = NodeSettings {
            clock: http.config.clock.clone(),
            quiet: http.server.quiet,
            ..NodeSettings::default()
        };
        Ok(PeerConfig {
            tracker,
            http_addr: SocketAddr::new(http.server.host, http.server.port),
            p2p_addr: SocketAddr::new(http.server.host, p2p_port),
            advertise: args.parsed("--advertise")?,
            data,
            www: http.www,
            max_connections: http.server.max_connections,
            http: http.config,
            node,
        })
    }
}

/// A peer node, running; [`RunningPeer::shutdown`] stops it (dropping it
/// stops it too, without a grace period).
pub struct RunningPeer {
    http: Running,
    p2p: Running,
    node: Arc<PeerNode>,
    auth: Arc<Auth>,
    keeper: Keeper,
}

impl RunningPeer {
    /// Where the HTTP side listens.
    pub fn addr(&self) -> SocketAddr {
        self.http.addr()
    }

    /// Where the p2p side listens.
    pub fn p2p_addr(&self) -> SocketAddr {
        self.p2p.addr()
    }

    /// The node.
    pub fn node(&self) -> &Arc<PeerNode> {
        &self.node
    }

    /// The local sessions (the cookie's name is in its config).
    pub fn auth(&self) -> &Arc<Auth> {
        &self.auth
    }

    /// Blocks for ever: what a lab binary does once it has started.
    pub fn wait(&self) -> ! {
        loop {
            thread::park();
        }
    }

    /// Stops the keeper, ends the event streams and outgoing links, and
    /// stops both listeners.
    pub fn shutdown(self) {
        let RunningPeer {
            http,
            p2p,
            node,
            keeper,
            ..
        } = self;
        drop(keeper);
        node.close();
        http.shutdown(SHUTDOWN_GRACE);
        p2p.shutdown(SHUTDOWN_GRACE);
    }
}

/// Binds both listeners, opens the node, and serves: the HTTP side for
/// the UI, the p2p side for other peers.
pub fn start(config: PeerConfig) -> io::Result<RunningPeer> {
    let listen = |addr: SocketAddr, net_config| {
        Server::bind(addr, net_config).map_err(|error| {
            io::Error::new(error.kind(), format!("cannot listen on {addr}: {error}"))
        })
    };
    let http_server = listen(
        config.http_addr,
        config.http.net_config(config.max_connections),
    )?;
    let p2p_server = listen(
        config.p2p_addr,
        net::Config {
            max_connections: MAX_PEER_CONNECTIONS,
            nodelay: true,
            write_timeout: Some(config.node.timeouts.io),
            ..net::Config::default()
        },
    )?;
    let (http_addr, p2p_bound) = (http_server.local_addr()?, p2p_server.local_addr()?);
    let tracker = TrackerClient::new(&config.tracker)
        .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error.to_string()))?;
    let advertised = SocketAddr::new(
        advertised_ip(config.advertise, p2p_bound.ip(), &tracker)?,
        p2p_bound.port(),
    );
    let node = PeerNode::open(&config.data, &config.tracker, advertised, config.node).map_err(
        |error| {
            io::Error::new(
                error.kind(),
                format!("--data {}: {error}", config.data.display()),
            )
        },
    )?;
    let node = Arc::new(node);
    let auth = Auth::open(
        &config.data,
        AuthConfig {
            cookie_name: format!("sessionid_{}", http_addr.port()),
            // The node never hashes a password of its own (the tracker
            // checks them): the one hash Auth makes at start may be cheap.
            iterations: std::num::NonZeroU32::MIN,
            ..AuthConfig::default()
        },
        config.http.clock.clone(),
    )?;
    let files = StaticFiles::new(&config.www, config.http.clock.clone())?;
    let router = app::app(&node, &auth, files);
    let http = http_server.start(HttpService::new(router, config.http)?)?;
    let p2p = p2p_server.start(Inbox::new(Arc::clone(&node)))?;
    let keeper = Keeper::start(Arc::clone(&node))?;
    node.log(&format!(
        "registering as {advertised} with the tracker at {}",
        config.tracker
    ));
    Ok(RunningPeer {
        http,
        p2p,
        node,
        auth,
        keeper,
    })
}

/// The IP other peers should connect to: the one given, else the one
/// listened on, else (listening on every interface) the one on the way to
/// the tracker.
fn advertised_ip(
    given: Option<IpAddr>,
    bound: IpAddr,
    tracker: &TrackerClient,
) -> io::Result<IpAddr> {
    match given {
        Some(ip) => Ok(ip),
        None if bound.is_unspecified() => tracker.local_ip(),
        None => Ok(bound),
    }
}

/// The keeper thread: every [`KEEPER_TICK`] it sends what is due in the
/// outbox and, every refresh interval by the node's clock, registers the
/// hosted peers again.
#[derive(Debug)]
struct Keeper {
    /// Set to stop the thread, which waits on the condition variable. The
    /// mutex guards only the flag, and is never held with another lock.
    stopping: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Keeper {
    fn start(node: Arc<PeerNode>) -> io::Result<Keeper> {
        let stopping = Arc::new((Mutex::new(false), Condvar::new()));
        let signal = Arc::clone(&stopping);
        let thread = thread::Builder::new()
            .name("p2p-keeper".to_string())
            .spawn(move || {
                let clock = node.settings().clock.clone();
                let interval = node.settings().refresh_interval;
                let mut next_refresh = clock.now() + interval;
                let (flag, wake) = &*signal;
                loop {
                    let stop = flag.lock().unwrap_or_else(PoisonError::into_inner);
                    let (stop, _) = wake
                        .wait_timeout_while(stop, KEEPER_TICK, |stop| !*stop)
                        .unwrap_or_else(PoisonError::into_inner);
                    if *stop {
                        return;
                    }
                    drop(stop);
                    node.retry_due();
                    if clock.now() >= next_refresh {
                        node.refresh();
                        next_refresh = clock.now() + interval;
                    }
                }
            })?;
        Ok(Keeper {
            stopping,
            thread: Some(thread),
        })
    }

    /// Stops the thread and waits for it.
    fn halt(&mut self) {
        let (flag, wake) = &*self.stopping;
        *flag.lock().unwrap_or_else(PoisonError::into_inner) = true;
        wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Keeper {
    fn drop(&mut self) {
        self.halt();
    }
}
