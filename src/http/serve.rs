//! Starting an HTTP server: the flags every HTTP lab takes, and the
//! start-up that every HTTP lab binary (and test) shares.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use super::conn::{Config, HttpService};
use super::files::StaticFiles;
use super::router::Handler;
use crate::clock::Clock;
use crate::flags::{Args, CliError, Flag, MAX_SECONDS, ServerFlags};
use crate::net::{Running, Server};

/// The largest `--max-body`: a body is held in memory whole.
pub const MAX_BODY_BYTES: usize = 1 << 30;

/// The flags of every HTTP lab, beyond [`crate::flags::SERVER_FLAGS`].
pub const HTTP_FLAGS: &[Flag] = &[
    Flag {
        name: "--www",
        aliases: &[],
        value: Some("DIR"),
        default: Some("www"),
        help: "directory of static files to serve",
    },
    Flag {
        name: "--idle-timeout",
        aliases: &[],
        value: Some("SECS"),
        default: Some("30"),
        help: "close a kept-alive connection idle this long",
    },
    Flag {
        name: "--head-timeout",
        aliases: &[],
        value: Some("SECS"),
        default: Some("10"),
        help: "most time from a request's first byte to its complete head",
    },
    Flag {
        name: "--max-body",
        aliases: &[],
        value: Some("BYTES"),
        default: Some("1048576"),
        help: "largest request body accepted (413 above)",
    },
];

/// The checked values of [`crate::flags::SERVER_FLAGS`] and [`HTTP_FLAGS`].
#[derive(Clone, Debug)]
pub struct HttpFlags {
    /// Where to listen, the connection cap, `--quiet`.
    pub server: ServerFlags,
    /// The static file root.
    pub www: PathBuf,
    /// Limits and timeouts for the HTTP connections.
    pub config: Config,
}

impl HttpFlags {
    /// Reads and checks the flags.
    pub fn from_args(args: &Args) -> Result<HttpFlags, CliError> {
        let server = ServerFlags::from_args(args)?;
        let mut config = Config {
            idle_timeout: args.seconds("--idle-timeout", 1..=MAX_SECONDS)?,
            head_timeout: args.seconds("--head-timeout", 1..=MAX_SECONDS)?,
            clock: Clock::system(),
            quiet: server.quiet,
            ..Config::default()
        };
        config.limits.body_bytes = args.required_in("--max-body", 0..=MAX_BODY_BYTES)?;
        let www: PathBuf = args.required("--www")?;
        if !www.is_dir() {
            return Err(CliError::Invalid {
                flag: "--www",
                value: www.display().to_string(),
                reason: "not a directory".to_string(),
            });
        }
        Ok(HttpFlags {
            server,
            www,
            config,
        })
    }

    /// The static files of `--www`. `from_args` checked that it is a
    /// directory; if it cannot be opened all the same, that is a bad flag:
    /// one `error:` line and exit code 2.
    pub fn static_files(&self) -> StaticFiles {
        StaticFiles::new(&self.www, self.config.clock.clone()).unwrap_or_else(|error| {
            eprintln!("error: --www: {error}");
            std::process::exit(2);
        })
    }

    /// Binds, prints `listening on http://HOST:PORT`, and serves `handler`
    /// until the process is stopped.
    pub fn run(self, handler: impl Handler) {
        let addr = SocketAddr::new(self.server.host, self.server.port);
        let net_config = self.config.net_config(self.server.max_connections);
        let server = Server::listen_or_exit(addr, net_config);
        let service = HttpService::new(handler, self.config).unwrap_or_else(|error| {
            eprintln!("error: cannot start the event loop: {error}");
            std::process::exit(1);
        });
        server.run(service);
    }
}

/// Serves `handler` on `addr` (port 0 for a free one) from a background
/// thread; tests start their servers this way.
pub fn start(
    addr: SocketAddr,
    handler: impl Handler,
    config: Config,
    max_connections: usize,
) -> io::Result<Running> {
    let server = Server::bind(addr, config.net_config(max_connections))?;
    server.start(HttpService::new(handler, config)?)
}
