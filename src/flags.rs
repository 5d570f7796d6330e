//! Command-line flags, shared by every lab binary.
//!
//! A lab declares the flags it takes as a table of [`Flag`]s, parses
//! `std::env::args()` once, and reads typed values back. Every binary in the
//! kit follows the same conventions (README.md, "Start"): `--host` and `--port`
//! with the course's aliases `--server-ip` and `--server-port`, `--help`, and
//! a bad value is one line on stderr and exit code 2 — never a panic.
//!
//! A flag may have short aliases (`-c` for `--connections`), and may be
//! given several times: [`Args::text`] reads the last value, as most Unix
//! tools do, and [`Args::all`] reads every one, for flags that add up
//! (`-H 'Accept: text/html' -H 'Cookie: a=b'`).
//!
//! Left out on purpose: short flag bundles (`-abc`), subcommands and
//! positional arguments. The labs need none of them, and each would make the
//! parser longer than the lesson it serves.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::process;
use std::str::FromStr;
use std::time::Duration;

/// One flag a program accepts.
#[derive(Clone, Copy, Debug)]
pub struct Flag {
    /// The canonical name, with its dashes: `--port`.
    pub name: &'static str,
    /// Other names that mean the same flag: `--server-port`, or a short
    /// form with one dash, `-c`.
    pub aliases: &'static [&'static str],
    /// The placeholder shown in `--help` (`PORT`), or `None` for a switch
    /// that takes no value (`--quiet`).
    pub value: Option<&'static str>,
    /// The value used when the flag is not given.
    pub default: Option<&'static str>,
    /// One line for `--help`.
    pub help: &'static str,
}

/// The longest duration a flag may give: a year, far more than any timeout
/// needs, and far from overflowing the clock's arithmetic.
pub const MAX_SECONDS: u64 = 365 * 24 * 60 * 60;

/// The flags every server binary takes: where to listen, how many
/// connections at most, and whether to log each request.
pub const SERVER_FLAGS: &[Flag] = &[
    Flag {
        name: "--host",
        aliases: &["--server-ip"],
        value: Some("IP"),
        default: Some("127.0.0.1"),
        help: "address to listen on (0.0.0.0 for every interface)",
    },
    Flag {
        name: "--port",
        aliases: &["--server-port"],
        value: Some("PORT"),
        default: Some("9000"),
        help: "port to listen on; 0 picks a free port",
    },
    Flag {
        name: "--max-connections",
        aliases: &[],
        value: Some("N"),
        default: Some("1024"),
        help: "most connections served at once; more are refused",
    },
    Flag {
        name: "--quiet",
        aliases: &[],
        value: None,
        default: None,
        help: "do not log each connection or request on stderr",
    },
];

/// A program's description and the flags it accepts.
#[derive(Clone, Debug)]
pub struct Cli {
    program: &'static str,
    about: &'static str,
    flags: Vec<Flag>,
}

/// The flags found on one command line, by canonical name.
#[derive(Clone, Debug, Default)]
pub struct Args {
    /// Each flag's last value, or its default.
    values: HashMap<&'static str, String>,
    /// Every value given, in command-line order (no defaults).
    given: Vec<(&'static str, String)>,
    switches: Vec<&'static str>,
}

/// Why a command line was not accepted (or `--help` was asked for).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CliError {
    /// `--help` or `-h`: the text to print on stdout, then exit 0.
    Help(String),
    /// A flag the program does not know.
    Unknown(String),
    /// A flag that needs a value came last, without one.
    MissingValue(&'static str),
    /// A switch given a value (`--quiet=yes`).
    UnexpectedValue(&'static str),
    /// An argument that is not a flag.
    Positional(String),
    /// A value that does not parse or is out of range.
    Invalid {
        /// The flag's canonical name.
        flag: &'static str,
        /// The value as given.
        value: String,
        /// Why it was refused, for the user.
        reason: String,
    },
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Help(text) => f.write_str(text),
            CliError::Unknown(flag) => write!(f, "unknown flag {flag} (see --help)"),
            CliError::MissingValue(flag) => write!(f, "{flag} needs a value (see --help)"),
            CliError::UnexpectedValue(flag) => write!(f, "{flag} takes no value"),
            CliError::Positional(arg) => {
                write!(f, "unexpected argument {arg:?}: every argument is a --flag")
            }
            CliError::Invalid {
                flag,
                value,
                reason,
            } => write!(f, "{flag}: invalid value {value:?}: {reason}"),
        }
    }
}

impl std::error::Error for CliError {}

impl CliError {
    /// Ends the program as the kit's conventions say: the help text on stdout
    /// with exit code 0, or one `error:` line on stderr with exit code 2.
    pub fn exit(&self) -> ! {
        if let CliError::Help(text) = self {
            print!("{text}");
            process::exit(0);
        }
        eprintln!("error: {self}");
        process::exit(2);
    }
}

impl Cli {
    /// A program that takes no flags yet; add them with [`Cli::flags`].
    pub fn new(program: &'static str, about: &'static str) -> Cli {
        Cli {
            program,
            about,
            flags: Vec::new(),
        }
    }

    /// Adds a table of flags (for example [`SERVER_FLAGS`]).
    pub fn flags(mut self, flags: &[Flag]) -> Cli {
        self.flags.extend_from_slice(flags);
        self
    }

    /// The text `--help` prints: the program, what it does, every flag.
    pub fn help(&self) -> String {
        let mut text = format!(
            "{}: {}\n\nusage: {} [FLAGS]\n\nflags:\n",
            self.program, self.about, self.program
        );
        let mut lines: Vec<(String, String)> = self
            .flags
            .iter()
            .map(|flag| {
                // Short forms first, as in `-c, --connections N`.
                let (short, long): (Vec<&str>, Vec<&str>) = flag
                    .aliases
                    .iter()
                    .partition(|alias| !alias.starts_with("--"));
                let names_in_order = short.iter().chain([&flag.name]).chain(long.iter());
                let mut names = String::new();
                for name in names_in_order {
                    if !names.is_empty() {
                        names.push_str(", ");
                    }
                    names.push_str(name);
                }
                if let Some(value) = flag.value {
                    names.push(' ');
                    names.push_str(value);
                }
                let help = match flag.default {
                    Some(default) => format!("{} (default {default})", flag.help),
                    None => flag.help.to_string(),
                };
                (names, help)
            })
            .collect();
        lines.push(("-h, --help".to_string(), "print this help".to_string()));
        let width = lines
            .iter()
            .map(|(names, _)| names.len())
            .max()
            .unwrap_or(0);
        for (names, help) in lines {
            text.push_str(&format!("  {names:width$}  {help}\n"));
        }
        text
    }

    /// Parses a command line (without the program name).
    ///
    /// Accepts `--flag value` and `--flag=value` (and the same with a short
    /// alias: `-c 64`, `-c=64`); a flag given twice keeps every value, and
    /// [`Args::text`] reads the last one.
    pub fn parse<I, S>(&self, args: I) -> Result<Args, CliError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut parsed = Args::default();
        let mut args = args.into_iter().map(Into::into);
        while let Some(arg) = args.next() {
            if arg == "--help" || arg == "-h" {
                return Err(CliError::Help(self.help()));
            }
            if !arg.starts_with('-') {
                return Err(CliError::Positional(arg));
            }
            let (given_name, inline_value) = match arg.split_once('=') {
                Some((name, value)) => (name.to_string(), Some(value.to_string())),
                None => (arg.clone(), None),
            };
            let flag = self
                .find(&given_name)
                .ok_or_else(|| CliError::Unknown(given_name.clone()))?;
            if flag.value.is_none() {
                if inline_value.is_some() {
                    return Err(CliError::UnexpectedValue(flag.name));
                }
                parsed.switches.push(flag.name);
                continue;
            }
            let value = match inline_value {
                Some(value) => value,
                None => args.next().ok_or(CliError::MissingValue(flag.name))?,
            };
            parsed.given.push((flag.name, value.clone()));
            parsed.values.insert(flag.name, value);
        }
        for flag in &self.flags {
            if let Some(default) = flag.default {
                parsed
                    .values
                    .entry(flag.name)
                    .or_insert_with(|| default.to_string());
            }
        }
        Ok(parsed)
    }

    /// Parses this process's own command line; on `--help` or an error,
    /// ends the process as [`CliError::exit`] says.
    pub fn parse_env_or_exit(&self) -> Args {
        self.parse(std::env::args().skip(1))
            .unwrap_or_else(|error| error.exit())
    }

    fn find(&self, name: &str) -> Option<&Flag> {
        self.flags
            .iter()
            .find(|flag| flag.name == name || flag.aliases.contains(&name))
    }
}

impl Args {
    /// The value of a flag as text, or `None` when it was not given and has
    /// no default.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// The value of a flag, parsed as `T`; `None` when absent without a default.
    pub fn parsed<T>(&self, flag: &'static str) -> Result<Option<T>, CliError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        let Some(value) = self.values.get(flag) else {
            return Ok(None);
        };
        value
            .parse()
            .map(Some)
            .map_err(|error: T::Err| CliError::Invalid {
                flag,
                value: value.clone(),
                reason: error.to_string(),
            })
    }

    /// The value of a flag that has a default (or must be given), parsed as `T`.
    pub fn required<T>(&self, flag: &'static str) -> Result<T, CliError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        self.parsed(flag)?.ok_or(CliError::MissingValue(flag))
    }

    /// The value of a flag that has a default (or must be given), parsed as
    /// `T` and within `range`: a one-line error names the range otherwise.
    pub fn required_in<T>(
        &self,
        flag: &'static str,
        range: RangeInclusive<T>,
    ) -> Result<T, CliError>
    where
        T: FromStr + PartialOrd + fmt::Display,
        T::Err: fmt::Display,
    {
        let value: T = self.required(flag)?;
        if !range.contains(&value) {
            return Err(CliError::Invalid {
                flag,
                reason: format!("must be from {} to {}", range.start(), range.end()),
                value: value.to_string(),
            });
        }
        Ok(value)
    }

    /// A duration flag in whole seconds, within `range` — at most
    /// [`MAX_SECONDS`]: zero means "never" to a socket timeout, and a time
    /// far enough ahead overflows the clock's arithmetic.
    pub fn seconds(
        &self,
        flag: &'static str,
        range: RangeInclusive<u64>,
    ) -> Result<Duration, CliError> {
        self.required_in(flag, range).map(Duration::from_secs)
    }

    /// Every value given for a flag, in command-line order (its default is
    /// not included): for a flag that may be repeated, such as `--header`.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.given
            .iter()
            .filter(move |(flag, _)| *flag == name)
            .map(|(_, value)| value.as_str())
    }

    /// Whether a switch such as `--quiet` was given.
    pub fn switch(&self, name: &str) -> bool {
        self.switches.contains(&name)
    }
}

/// The values of [`SERVER_FLAGS`], checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerFlags {
    /// The address to listen on.
    pub host: IpAddr,
    /// The port to listen on; 0 lets the operating system pick one.
    pub port: u16,
    /// The connection cap handed to [`crate::net::Config::max_connections`].
    pub max_connections: usize,
    /// Whether per-connection and per-request logging is off.
    pub quiet: bool,
}

impl ServerFlags {
    /// Reads and checks the server flags from parsed arguments.
    pub fn from_args(args: &Args) -> Result<ServerFlags, CliError> {
        let host_text: String = args.required("--host")?;
        // `localhost` is accepted as a convenience; any other name must be an
        // IP literal, because resolving names is not this lab's business.
        let host = if host_text.eq_ignore_ascii_case("localhost") {
            IpAddr::from([127, 0, 0, 1])
        } else {
            host_text.parse().map_err(|_| CliError::Invalid {
                flag: "--host",
                value: host_text.clone(),
                reason: "expected an IP address such as 127.0.0.1 or 0.0.0.0".to_string(),
            })?
        };
        let max_connections: usize = args.required("--max-connections")?;
        if max_connections == 0 {
            return Err(CliError::Invalid {
                flag: "--max-connections",
                value: "0".to_string(),
                reason: "must be at least 1".to_string(),
            });
        }
        Ok(ServerFlags {
            host,
            port: args.required("--port")?,
            max_connections,
            quiet: args.switch("--quiet"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server_cli() -> Cli {
        Cli::new("test", "a test server").flags(SERVER_FLAGS)
    }

    fn server_flags(args: &[&str]) -> Result<ServerFlags, CliError> {
        ServerFlags::from_args(&server_cli().parse(args.iter().copied())?)
    }

    #[test]
    fn defaults_follow_the_conventions() {
        let flags = server_flags(&[]).expect("no flags is valid");
        assert_eq!(flags.host.to_string(), "127.0.0.1");
        assert_eq!(flags.port, 9000);
        assert_eq!(flags.max_connections, 1024);
        assert!(!flags.quiet);
    }

    #[test]
    fn course_aliases_and_equals_form_are_accepted() {
        let flags = server_flags(&["--server-ip", "0.0.0.0", "--server-port=8080", "--quiet"])
            .expect("valid flags");
        assert_eq!(flags.host.to_string(), "0.0.0.0");
        assert_eq!(flags.port, 8080);
        assert!(flags.quiet);
    }

    #[test]
    fn bad_values_are_clear_errors() {
        let cases: &[(&[&str], &str)] = &[
            (&["--port", "abc"], "--port: invalid value \"abc\""),
            (&["--port", "70000"], "--port: invalid value \"70000\""),
            (&["--port", "-1"], "--port: invalid value \"-1\""),
            (&["--host", "example"], "--host: invalid value \"example\""),
            (&["--max-connections", "0"], "--max-connections"),
            (&["--port"], "--port needs a value"),
            (&["--bogus"], "unknown flag --bogus"),
            (&["--quiet=1"], "--quiet takes no value"),
            (&["stray"], "unexpected argument \"stray\""),
        ];
        for (args, expected) in cases {
            let error = server_flags(args).expect_err("should be refused");
            let message = error.to_string();
            assert!(
                message.contains(expected),
                "args {args:?}: got error {message:?}, expected it to contain {expected:?}"
            );
            assert!(!message.contains('\n'), "errors are one line: {message:?}");
        }
    }

    /// A load generator's flags: short aliases and a repeatable one.
    const TOOL_FLAGS: &[Flag] = &[
        Flag {
            name: "--connections",
            aliases: &["-c"],
            value: Some("N"),
            default: Some("64"),
            help: "connections",
        },
        Flag {
            name: "--header",
            aliases: &["-H"],
            value: Some("NAME:VALUE"),
            default: None,
            help: "extra header (repeatable)",
        },
    ];

    #[test]
    fn short_aliases_and_repeated_flags() {
        let cli = Cli::new("tool", "a tool").flags(TOOL_FLAGS);
        let args = cli
            .parse(["-c", "8", "-H", "A: 1", "--header=B: x=y", "-H", "A: 2"])
            .expect("valid flags");
        assert_eq!(args.required::<usize>("--connections"), Ok(8));
        assert_eq!(
            args.all("--header").collect::<Vec<_>>(),
            ["A: 1", "B: x=y", "A: 2"],
            "every value, in order; only the first `=` of --flag=value splits"
        );
        assert_eq!(
            args.text("--header"),
            Some("A: 2"),
            "text() is the last one"
        );
        let defaults = cli.parse(Vec::<String>::new()).expect("no flags");
        assert_eq!(defaults.text("--connections"), Some("64"));
        assert_eq!(
            defaults.all("--connections").count(),
            0,
            "defaults are not given values"
        );
        assert_eq!(defaults.all("--header").count(), 0);
        assert_eq!(
            cli.parse(["-x"]).map(|_| ()),
            Err(CliError::Unknown("-x".to_string()))
        );
    }

    #[test]
    fn help_puts_short_aliases_first() {
        let Err(CliError::Help(text)) = Cli::new("tool", "a tool").flags(TOOL_FLAGS).parse(["-h"])
        else {
            panic!("-h should ask for the help text");
        };
        assert!(text.contains("-c, --connections N"), "{text}");
        assert!(text.contains("-H, --header NAME:VALUE"), "{text}");
    }

    #[test]
    fn help_lists_every_flag_and_alias() {
        let Err(CliError::Help(text)) = server_cli().parse(["--help"]) else {
            panic!("--help should ask for the help text");
        };
        for name in [
            "--host",
            "--server-ip",
            "--port",
            "--server-port",
            "--quiet",
        ] {
            assert!(text.contains(name), "help should list {name}:\n{text}");
        }
    }
}
