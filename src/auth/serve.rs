//! The flags of every lab with logins (3, 4, 5), beyond those of
//! [`crate::http::serve`], and opening an [`Auth`] from them.
//!
//! ```text
//! --data DIR            where the accounts file lives (created if missing)
//! --iterations N        PBKDF2 iterations for new password hashes
//! --session-idle SECS   a session unused this long ends
//! --session-max SECS    every session ends this long after its login
//! ```

use std::path::PathBuf;
use std::sync::Arc;

use super::app::{Auth, AuthConfig};
use super::password::DEFAULT_ITERATIONS;
use super::session::SessionConfig;
use crate::clock::Clock;
use crate::flags::{Args, CliError, Flag, MAX_SECONDS};

/// The flags of the labs with logins.
pub const AUTH_FLAGS: &[Flag] = &[
    Flag {
        name: "--data",
        aliases: &[],
        value: Some("DIR"),
        default: Some("data"),
        help: "directory of the server's state (accounts.txt); created if missing",
    },
    Flag {
        name: "--iterations",
        aliases: &[],
        value: Some("N"),
        // `password::DEFAULT_ITERATIONS`; a test checks they agree.
        default: Some("600000"),
        help: "PBKDF2 iterations for new password hashes (lower only for tests)",
    },
    Flag {
        name: "--session-idle",
        aliases: &[],
        value: Some("SECS"),
        // `session::DEFAULT_IDLE_TIMEOUT`
        default: Some("1800"),
        help: "end a session that is not used for this long",
    },
    Flag {
        name: "--session-max",
        aliases: &[],
        value: Some("SECS"),
        // `session::DEFAULT_ABSOLUTE_TIMEOUT`
        default: Some("43200"),
        help: "end every session this long after its login, however busy",
    },
];

/// The checked values of [`AUTH_FLAGS`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthFlags {
    /// The data directory.
    pub data: PathBuf,
    /// The settings for [`Auth::open`]; the cookie name and the throttle
    /// keep their defaults.
    pub config: AuthConfig,
}

impl AuthFlags {
    /// Reads and checks the flags.
    pub fn from_args(args: &Args) -> Result<AuthFlags, CliError> {
        let session = SessionConfig {
            idle_timeout: args.seconds("--session-idle", 1..=MAX_SECONDS)?,
            absolute_timeout: args.seconds("--session-max", 1..=MAX_SECONDS)?,
            ..SessionConfig::default()
        };
        Ok(AuthFlags {
            data: args.required("--data")?,
            config: AuthConfig {
                iterations: args.required("--iterations")?,
                session,
                ..AuthConfig::default()
            },
        })
    }

    /// Opens the accounts in the data directory, reading time from `clock`.
    /// A lab cannot run without them, so a failure ends the process with one
    /// `error:` line and exit code 1.
    ///
    /// An iteration count below the recommended one is allowed — tests use
    /// it — but warned about, since hashes made with it are cheap to guess.
    pub fn open_or_exit(self, clock: Clock) -> Arc<Auth> {
        if self.config.iterations < DEFAULT_ITERATIONS {
            eprintln!(
                "warning: --iterations {} is below the recommended {DEFAULT_ITERATIONS}: \
                 new password hashes are cheap to guess; use it for tests only",
                self.config.iterations
            );
        }
        Auth::open(&self.data, self.config, clock).unwrap_or_else(|error| {
            eprintln!("error: --data {}: {error}", self.data.display());
            std::process::exit(1);
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flags::Cli;
    use std::time::Duration;

    fn parse(args: &[&str]) -> Result<AuthFlags, CliError> {
        let cli = Cli::new("test", "a test server").flags(AUTH_FLAGS);
        AuthFlags::from_args(&cli.parse(args.iter().copied())?)
    }

    #[test]
    fn the_defaults_are_the_library_defaults() {
        let flags = parse(&[]).expect("no flags is valid");
        assert_eq!(flags.data, PathBuf::from("data"));
        assert_eq!(
            flags.config,
            AuthConfig::default(),
            "the flag defaults should spell the library's default settings"
        );
    }

    #[test]
    fn values_are_read_and_checked() {
        let flags = parse(&[
            "--data",
            "/tmp/x",
            "--iterations",
            "1000",
            "--session-idle",
            "5",
        ])
        .expect("valid flags");
        assert_eq!(flags.data, PathBuf::from("/tmp/x"));
        assert_eq!(flags.config.iterations.get(), 1000);
        assert_eq!(flags.config.session.idle_timeout, Duration::from_secs(5));
        for (args, expected) in [
            (
                &["--iterations", "0"][..],
                "--iterations: invalid value \"0\"",
            ),
            (&["--iterations", "many"][..], "--iterations: invalid value"),
            (
                &["--session-idle", "0"][..],
                "--session-idle: invalid value \"0\"",
            ),
            (&["--session-max", "-1"][..], "--session-max: invalid value"),
        ] {
            let message = parse(args).expect_err("should be refused").to_string();
            assert!(
                message.contains(expected),
                "args {args:?}: got {message:?}, expected it to contain {expected:?}"
            );
        }
    }
}
