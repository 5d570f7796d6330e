//! Starting the proxy: its settings, its flags, and the start-up shared by
//! the lab binary and the tests.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::config::Config;
use super::conn::ProxyService;
use super::route::Proxy;
use crate::clock::Clock;
use crate::flags::{Args, CliError, Flag, MAX_SECONDS, ServerFlags};
use crate::http::conn::{BODY_TIMEOUT, HEAD_TIMEOUT, IDLE_TIMEOUT, WRITE_TIMEOUT};
use crate::http::request::Limits;
use crate::net::{self, Running, Server};

/// Default for [`Settings::connect_timeout`].
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default for [`Settings::backend_timeout`] (nginx's `proxy_read_timeout`).
pub const BACKEND_TIMEOUT: Duration = Duration::from_secs(60);
/// Default for [`Settings::retry_dead`].
pub const RETRY_DEAD: Duration = Duration::from_secs(10);

/// How the proxy treats clients and backends. The sites come from the
/// configuration file; these come from flags (or a test).
#[derive(Clone, Debug)]
pub struct Settings {
    /// Size limits for request heads, as lab 2's (bodies have none: they
    /// stream through).
    pub limits: Limits,
    /// How long a client's kept-alive connection may sit idle.
    pub idle_timeout: Duration,
    /// How long from a request's first byte to its complete head.
    pub head_timeout: Duration,
    /// The longest gap between two pieces of a client's request body.
    pub body_timeout: Duration,
    /// How long one write to a client may block.
    pub write_timeout: Duration,
    /// How long to wait for a backend to accept a connection.
    pub connect_timeout: Duration,
    /// The longest gap between two pieces of a backend's answer (and the
    /// longest a write to a backend may block).
    pub backend_timeout: Duration,
    /// How long a backend found dead is skipped before it is tried again.
    pub retry_dead: Duration,
    /// Where "now" comes from.
    pub clock: Clock,
    /// Whether the per-request log line is off.
    pub quiet: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            limits: Limits::default(),
            idle_timeout: IDLE_TIMEOUT,
            head_timeout: HEAD_TIMEOUT,
            body_timeout: BODY_TIMEOUT,
            write_timeout: WRITE_TIMEOUT,
            connect_timeout: CONNECT_TIMEOUT,
            backend_timeout: BACKEND_TIMEOUT,
            retry_dead: RETRY_DEAD,
            clock: Clock::system(),
            quiet: false,
        }
    }
}

/// The flags of the proxy, beyond [`crate::flags::SERVER_FLAGS`].
pub const PROXY_FLAGS: &[Flag] = &[
    Flag {
        name: "--config",
        aliases: &[],
        value: Some("FILE"),
        default: None,
        help: "the sites and their backends (required; see labs/proxy.conf)",
    },
    Flag {
        name: "--connect-timeout",
        aliases: &[],
        value: Some("SECS"),
        default: Some("5"),
        help: "give up on a backend that does not accept a connection this long",
    },
    Flag {
        name: "--backend-timeout",
        aliases: &[],
        value: Some("SECS"),
        default: Some("60"),
        help: "give up on a backend silent this long (504)",
    },
    Flag {
        name: "--retry-dead",
        aliases: &[],
        value: Some("SECS"),
        default: Some("10"),
        help: "skip a backend found dead this long before trying it again",
    },
];

/// The checked values of [`crate::flags::SERVER_FLAGS`] and [`PROXY_FLAGS`].
#[derive(Clone, Debug)]
pub struct ProxyFlags {
    /// Where to listen, the connection cap, `--quiet`.
    pub server: ServerFlags,
    /// The configuration file.
    pub config: PathBuf,
    /// Timeouts and the rest.
    pub settings: Settings,
}

impl ProxyFlags {
    /// Reads and checks the flags.
    pub fn from_args(args: &Args) -> Result<ProxyFlags, CliError> {
        let server = ServerFlags::from_args(args)?;
        let settings = Settings {
            connect_timeout: args.seconds("--connect-timeout", 1..=MAX_SECONDS)?,
            backend_timeout: args.seconds("--backend-timeout", 1..=MAX_SECONDS)?,
            retry_dead: args.seconds("--retry-dead", 0..=MAX_SECONDS)?,
            quiet: server.quiet,
            ..Settings::default()
        };
        Ok(ProxyFlags {
            config: args.required("--config")?,
            server,
            settings,
        })
    }

    /// Binds, prints `listening on http://HOST:PORT`, lists the sites on
    /// stderr, and serves until the process is stopped.
    pub fn run(self, config: Config) {
        let addr = SocketAddr::new(self.server.host, self.server.port);
        let server = Server::listen_or_exit(
            addr,
            net_config(&self.settings, self.server.max_connections),
        );
        let proxy = Proxy::new(config, self.settings);
        if !proxy.settings().quiet {
            for site in proxy.sites() {
                let backends: Vec<String> = site
                    .pool
                    .backends()
                    .iter()
                    .map(|backend| backend.addr.to_string())
                    .collect();
                eprintln!(
                    "{} -> {} ({})",
                    site.host.as_deref().unwrap_or("(default)"),
                    backends.join(", "),
                    site.pool.policy().name()
                );
            }
        }
        server.run(ProxyService::new(proxy));
    }
}

/// The TCP server settings for the proxy's client side.
fn net_config(settings: &Settings, max_connections: usize) -> net::Config {
    net::Config {
        max_connections,
        write_timeout: Some(settings.write_timeout),
        nodelay: true,
        ..net::Config::default()
    }
}

/// Serves `proxy` on `addr` (port 0 for a free one) from a background
/// thread; tests start their proxies this way.
pub fn start(addr: SocketAddr, proxy: Proxy, max_connections: usize) -> io::Result<Running> {
    let server = Server::bind(addr, net_config(proxy.settings(), max_connections))?;
    server.start(ProxyService::new(proxy))
}
