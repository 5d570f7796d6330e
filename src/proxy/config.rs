//! The proxy's configuration file, in the course's nginx-like format.
//!
//! ```text
//! # A comment runs from '#' to the end of the line.
//! host "app1.local" {
//!     proxy_pass http://127.0.0.1:9001;
//! }
//! host "app2.local" {
//!     proxy_set_header Host $host;
//!     proxy_pass http://127.0.0.1:9002;
//!     proxy_pass http://127.0.0.1:9003;
//!     dist_policy round-robin
//! }
//! default {                         # optional: hosts no block names
//!     proxy_pass http://127.0.0.1:9001;
//! }
//! ```
//!
//! The grammar, informally:
//!
//! ```text
//! file      = *( block )
//! block     = ( "host" NAME | "default" ) "{" *( directive ) "}"
//! directive = WORD *( ARG ) ( ";" | end of line | before "}" )
//! ```
//!
//! A directive ends at `;` or at the end of its line — the `;` is optional,
//! as in the course's own sample — so one directive cannot run over two
//! lines. `NAME` and `ARG` are bare words or `"quoted strings"`. Three
//! directives exist inside a block: `proxy_pass URL` (repeat it to make a
//! pool), `proxy_set_header NAME VALUE` and `dist_policy POLICY`.
//!
//! Every error names the line it is on, and [`parse`] stops at the first
//! one: a proxy with a half-understood configuration must not start.
//!
//! Left out on purpose: `include`, `upstream` blocks shared between hosts,
//! per-backend weights, `https://` backends, and host names as backend
//! addresses (an address is an IP literal or `localhost`: resolving names
//! at start-up would make the proxy depend on DNS, which is not this lab's
//! subject).

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;

use super::balance::Policy;
use super::rewrite;
use crate::http::headers;

/// The whole file: the virtual hosts in the order written, and the block
/// for every other host, if there is one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    /// The `host "NAME" { … }` blocks.
    pub sites: Vec<SiteConfig>,
    /// The `default { … }` block.
    pub default: Option<SiteConfig>,
}

/// One block: which requests it takes, and where they go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteConfig {
    /// The name after `host`, lowercased (`app1.local`, or `app1.local:8080`
    /// to match one port only); `None` for the `default` block.
    pub host: Option<String>,
    /// The line the block starts on, for messages.
    pub line: usize,
    /// The `proxy_pass` addresses, in order: the pool.
    pub backends: Vec<SocketAddr>,
    /// How a request picks its backend (`dist_policy`; round-robin if absent).
    pub policy: Policy,
    /// The `proxy_set_header` lines, in order.
    pub set_headers: Vec<SetHeader>,
}

/// `proxy_set_header NAME VALUE`: a header the proxy sends to the backend
/// in place of the client's. An empty value removes the header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetHeader {
    /// The header name, as written.
    pub name: String,
    /// The value, with its `$variables`.
    pub value: Template,
}

/// A header value with `$variables` in it, expanded for each request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Text(String),
    Var(Variable),
}

/// The variables a `proxy_set_header` value may use (nginx's names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variable {
    /// `$host`: the requested host name, lowercased, without its port.
    Host,
    /// `$http_host`: the `Host` header exactly as the client sent it.
    HttpHost,
    /// `$remote_addr`: the client's IP address.
    RemoteAddr,
    /// `$proxy_host`: the backend's `IP:PORT`, as in `proxy_pass`.
    ProxyHost,
    /// `$scheme`: always `http` here.
    Scheme,
}

impl Variable {
    /// Every variable with its name in a file (without the `$`).
    const ALL: [(&'static str, Variable); 5] = [
        ("host", Variable::Host),
        ("http_host", Variable::HttpHost),
        ("remote_addr", Variable::RemoteAddr),
        ("proxy_host", Variable::ProxyHost),
        ("scheme", Variable::Scheme),
    ];
}

/// What the variables stand for in one request to one backend.
#[derive(Clone, Copy, Debug)]
pub struct Vars<'a> {
    /// See [`Variable::Host`].
    pub host: &'a str,
    /// See [`Variable::HttpHost`].
    pub http_host: &'a str,
    /// See [`Variable::RemoteAddr`].
    pub remote_addr: IpAddr,
    /// See [`Variable::ProxyHost`].
    pub proxy_host: SocketAddr,
}

impl Template {
    /// Parses a value: `$name` is a variable, anything else is text. A `$`
    /// that does not start a name (`$`, `$1`) is text too.
    fn parse(value: &str) -> Result<Template, String> {
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut rest = value;
        while let Some(dollar) = rest.find('$') {
            text.push_str(&rest[..dollar]);
            let after = &rest[dollar + 1..];
            let name_len = after
                .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
                .unwrap_or(after.len());
            if name_len == 0 {
                text.push('$');
                rest = after;
                continue;
            }
            let name = &after[..name_len];
            let Some(&(_, variable)) = Variable::ALL.iter().find(|(known, _)| *known == name)
            else {
                let known: Vec<String> = Variable::ALL
                    .iter()
                    .map(|(known, _)| format!("${known}"))
                    .collect();
                return Err(format!(
                    "unknown variable ${name} (known: {})",
                    known.join(", ")
                ));
            };
            if !text.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut text)));
            }
            pieces.push(Piece::Var(variable));
            rest = &after[name_len..];
        }
        text.push_str(rest);
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Ok(Template { pieces })
    }

    /// The value for one request.
    pub fn expand(&self, vars: &Vars<'_>) -> String {
        let mut value = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => value.push_str(text),
                Piece::Var(Variable::Host) => value.push_str(vars.host),
                Piece::Var(Variable::HttpHost) => value.push_str(vars.http_host),
                Piece::Var(Variable::RemoteAddr) => value.push_str(&vars.remote_addr.to_string()),
                Piece::Var(Variable::ProxyHost) => value.push_str(&vars.proxy_host.to_string()),
                Piece::Var(Variable::Scheme) => value.push_str("http"),
            }
        }
        value
    }
}

/// A mistake in the file, and the line it is on (counted from 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The line.
    pub line: usize,
    /// What is wrong, in one line.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Why [`load`] gave no configuration.
#[derive(Debug)]
pub enum LoadError {
    /// The file could not be read.
    Read(io::Error),
    /// The file has a mistake.
    Syntax(ConfigError),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Read(error) => write!(f, "cannot read it: {error}"),
            LoadError::Syntax(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for LoadError {}

/// Reads and parses a configuration file.
pub fn load(path: &Path) -> Result<Config, LoadError> {
    let text = std::fs::read_to_string(path).map_err(LoadError::Read)?;
    parse(&text).map_err(LoadError::Syntax)
}

/// Splits `host[:port]` (or `[v6]:port`) into the host and its port text.
/// The port is only split off when it is all digits, so `::1` stays whole.
pub fn split_port(authority: &str) -> (&str, Option<&str>) {
    if let Some(inside) = authority.strip_prefix('[') {
        return match inside.split_once(']') {
            Some((host, rest)) => (host, rest.strip_prefix(':')),
            None => (authority, None),
        };
    }
    match authority.rsplit_once(':') {
        Some((host, port))
            if !host.contains(':')
                && !port.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit()) =>
        {
            (host, Some(port))
        }
        _ => (authority, None),
    }
}

/// One piece of the file.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    /// A bare word: `host`, `proxy_pass`, `http://127.0.0.1:9001`.
    Word(String),
    /// A `"quoted string"`, without its quotes.
    Quoted(String),
    /// `{`
    Open,
    /// `}`
    Close,
    /// `;`
    Semicolon,
    /// The end of a line, which also ends a directive.
    Newline,
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Word(word) => write!(f, "`{word}`"),
            Token::Quoted(text) => write!(f, "\"{text}\""),
            Token::Open => f.write_str("`{`"),
            Token::Close => f.write_str("`}`"),
            Token::Semicolon => f.write_str("`;`"),
            Token::Newline => f.write_str("the end of the line"),
        }
    }
}

/// Cuts the text into tokens, each with its line number. Comments and
/// blanks disappear here.
fn tokenize(text: &str) -> Result<Vec<(Token, usize)>, ConfigError> {
    let mut tokens = Vec::new();
    let mut line = 1;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let token = match c {
            '\n' => Token::Newline,
            ' ' | '\t' | '\r' => continue,
            '#' => {
                while chars.next_if(|&next| next != '\n').is_some() {}
                continue;
            }
            '{' => Token::Open,
            '}' => Token::Close,
            ';' => Token::Semicolon,
            '"' => {
                let mut quoted = String::new();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\n') | None => {
                            return Err(error(line, "a quoted string is not closed on its line"));
                        }
                        Some(c) if c.is_control() => return Err(control_character(line, c)),
                        Some(c) => quoted.push(c),
                    }
                }
                Token::Quoted(quoted)
            }
            c if c.is_control() => return Err(control_character(line, c)),
            c => {
                let mut word = c.to_string();
                while let Some(next) =
                    chars.next_if(|&next| !next.is_whitespace() && !"{};#\"".contains(next))
                {
                    if next.is_control() {
                        return Err(control_character(line, next));
                    }
                    word.push(next);
                }
                Token::Word(word)
            }
        };
        tokens.push((token, line));
        if c == '\n' {
            line += 1;
        }
    }
    Ok(tokens)
}

fn error(line: usize, message: impl Into<String>) -> ConfigError {
    ConfigError {
        line,
        message: message.into(),
    }
}

fn control_character(line: usize, c: char) -> ConfigError {
    error(line, format!("control character {c:?} in the file"))
}

/// Parses the text of a configuration file.
pub fn parse(text: &str) -> Result<Config, ConfigError> {
    let mut parser = Parser {
        tokens: tokenize(text)?,
        position: 0,
        last_line: text.lines().count().max(1),
    };
    let mut config = Config::default();
    while let Some((token, line)) = parser.next_significant() {
        match token {
            Token::Word(word) if word == "host" => {
                let name = parser.host_name(line)?;
                if config
                    .sites
                    .iter()
                    .any(|site| site.host.as_deref() == Some(&name))
                {
                    return Err(error(line, format!("host \"{name}\" is configured twice")));
                }
                let site = parser.block(Some(name), line)?;
                config.sites.push(site);
            }
            Token::Word(word) if word == "default" => {
                if config.default.is_some() {
                    return Err(error(line, "a second `default` block"));
                }
                config.default = Some(parser.block(None, line)?);
            }
            other => {
                return Err(error(
                    line,
                    format!("expected `host \"NAME\" {{` or `default {{`, found {other}"),
                ));
            }
        }
    }
    if config.sites.is_empty() && config.default.is_none() {
        return Err(error(
            parser.last_line,
            "no `host` block: the proxy would have nowhere to send requests",
        ));
    }
    Ok(config)
}

/// A cursor over the tokens.
struct Parser {
    tokens: Vec<(Token, usize)>,
    position: usize,
    /// The file's last line, for mistakes found at its end.
    last_line: usize,
}

impl Parser {
    fn next(&mut self) -> Option<(Token, usize)> {
        let token = self.tokens.get(self.position).cloned();
        self.position += 1;
        token
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.position).map(|(token, _)| token)
    }

    /// The next token that is not a line end or a stray `;`.
    fn next_significant(&mut self) -> Option<(Token, usize)> {
        while matches!(self.peek(), Some(Token::Newline | Token::Semicolon)) {
            self.position += 1;
        }
        self.next()
    }

    /// The name after `host`: a quoted string or a word, checked and lowercased.
    fn host_name(&mut self, line: usize) -> Result<String, ConfigError> {
        let name = match self.next() {
            Some((Token::Quoted(name) | Token::Word(name), _)) => name,
            _ => return Err(error(line, "`host` needs a name: host \"example.local\" {")),
        };
        let allowed = |c: char| c.is_ascii_alphanumeric() || "-._:[]".contains(c);
        if name.is_empty() || !name.chars().all(allowed) {
            return Err(error(
                line,
                format!(
                    "\"{name}\" is not a host name (letters, digits, '-', '.', and an optional :port)"
                ),
            ));
        }
        // Stored as a request's `Host` is looked up (`route::RequestHost`):
        // lowercase, no trailing dot, an IPv6 address without brackets.
        let lower = name.to_ascii_lowercase();
        let (host, port) = split_port(&lower);
        let host = host.trim_end_matches('.');
        if host.is_empty() || (host.contains(':') && !lower.starts_with('[')) {
            return Err(error(
                line,
                format!("\"{name}\" is not a host name (an IPv6 address goes in brackets: [::1])"),
            ));
        }
        match port {
            None => Ok(host.to_string()),
            Some(port) if port.parse::<u16>().is_ok() => Ok(format!("{host}:{port}")),
            Some(port) => Err(error(
                line,
                format!("\"{port}\" in \"{name}\" is not a port"),
            )),
        }
    }

    /// A block's `{ … }`, from the `{`.
    fn block(&mut self, host: Option<String>, line: usize) -> Result<SiteConfig, ConfigError> {
        let label = match &host {
            Some(name) => format!("host \"{name}\""),
            None => "default".to_string(),
        };
        match self.next_significant() {
            Some((Token::Open, _)) => {}
            _ => return Err(error(line, format!("expected `{{` after `{label}`"))),
        }
        let mut site = SiteConfig {
            host,
            line,
            backends: Vec::new(),
            policy: Policy::RoundRobin,
            set_headers: Vec::new(),
        };
        let mut policy_line = None;
        loop {
            let (token, at) = self.next_significant().ok_or_else(|| {
                error(
                    line,
                    format!("the block `{label}` is never closed: a `}}` is missing"),
                )
            })?;
            let directive = match token {
                Token::Close => break,
                Token::Word(word) => word,
                other => return Err(error(at, format!("expected a directive, found {other}"))),
            };
            let args = self.arguments(at)?;
            match directive.as_str() {
                "proxy_pass" => site.backends.push(proxy_pass(&args, at)?),
                "proxy_set_header" => site.set_headers.push(set_header(&args, at)?),
                "dist_policy" => {
                    if let Some(first) = policy_line {
                        return Err(error(
                            at,
                            format!("a second `dist_policy` (the first is on line {first})"),
                        ));
                    }
                    site.policy = dist_policy(&args, at)?;
                    policy_line = Some(at);
                }
                other => {
                    return Err(error(
                        at,
                        format!(
                            "unknown directive `{other}` (expected proxy_pass, proxy_set_header or dist_policy)"
                        ),
                    ));
                }
            }
        }
        if site.backends.is_empty() {
            return Err(error(
                line,
                format!("`{label}` has no `proxy_pass`: where should its requests go?"),
            ));
        }
        Ok(site)
    }

    /// A directive's arguments, up to `;`, the end of the line, or a `}`
    /// (which is left for the block to read).
    fn arguments(&mut self, line: usize) -> Result<Vec<String>, ConfigError> {
        let mut args = Vec::new();
        loop {
            match self.peek() {
                None | Some(Token::Close) => return Ok(args),
                Some(Token::Semicolon | Token::Newline) => {
                    self.position += 1;
                    return Ok(args);
                }
                Some(Token::Open) => {
                    return Err(error(line, "unexpected `{` inside a directive"));
                }
                Some(Token::Word(arg) | Token::Quoted(arg)) => {
                    args.push(arg.clone());
                    self.position += 1;
                }
            }
        }
    }
}

/// `proxy_pass http://IP:PORT` → the backend's address.
fn proxy_pass(args: &[String], line: usize) -> Result<SocketAddr, ConfigError> {
    let [url] = args else {
        return Err(error(
            line,
            "`proxy_pass` takes one URL, like `proxy_pass http://127.0.0.1:9001;`",
        ));
    };
    backend_address(url).map_err(|why| error(line, format!("proxy_pass {url}: {why}")))
}

/// Reads `http://IP[:PORT][/]`; the port defaults to 80.
fn backend_address(url: &str) -> Result<SocketAddr, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or("the URL must start with http:// (https is not supported)")?;
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.contains(['/', '?', '@']) {
        return Err("only http://IP:PORT is supported, without a path".to_string());
    }
    let (host, port) = split_port(authority);
    let port = match port {
        None => 80,
        Some(port) => match port.parse::<u16>() {
            Ok(port) if port != 0 => port,
            _ => return Err(format!("{port} is not a port (1-65535)")),
        },
    };
    let ip = if host.eq_ignore_ascii_case("localhost") {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        host.parse().map_err(|_| {
            format!(
                "{host:?} is not an IP address (names are not resolved; use 127.0.0.1 or localhost)"
            )
        })?
    };
    Ok(SocketAddr::new(ip, port))
}

/// `proxy_set_header NAME VALUE`.
fn set_header(args: &[String], line: usize) -> Result<SetHeader, ConfigError> {
    let [name, value] = args else {
        return Err(error(
            line,
            "`proxy_set_header` takes a name and a value, like `proxy_set_header Host $host;`",
        ));
    };
    if !headers::is_token(name.as_bytes()) {
        return Err(error(line, format!("\"{name}\" is not a header name")));
    }
    // The proxy frames every message itself: a configured framing field
    // would sit beside its own, and a backend reading the other one would
    // see a different body — request smuggling (RFC 9112 §11.2).
    let framing = ["content-length", "expect"];
    if rewrite::HOP_BY_HOP
        .iter()
        .chain(&framing)
        .any(|field| name.eq_ignore_ascii_case(field))
    {
        return Err(error(
            line,
            format!("\"{name}\" is the proxy's own to set: it frames or routes the message"),
        ));
    }
    let value = Template::parse(value).map_err(|why| error(line, why))?;
    Ok(SetHeader {
        name: name.clone(),
        value,
    })
}

/// `dist_policy POLICY`.
fn dist_policy(args: &[String], line: usize) -> Result<Policy, ConfigError> {
    let names: Vec<&str> = Policy::ALL.iter().map(|policy| policy.name()).collect();
    match args {
        [name] => Policy::from_name(name).ok_or_else(|| {
            error(
                line,
                format!(
                    "unknown dist_policy `{name}` (expected one of {})",
                    names.join(", ")
                ),
            )
        }),
        _ => Err(error(
            line,
            format!("`dist_policy` takes one of {}", names.join(", ")),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COURSE_SAMPLE: &str = r#"
host "app1.local" {
    proxy_pass http://127.0.0.1:9001;
}
host "app2.local" {
    proxy_set_header Host $host;
    proxy_pass http://127.0.0.1:9002;
    proxy_pass http://127.0.0.1:9003;
    dist_policy round-robin
}
"#;

    #[test]
    fn the_course_sample_parses() {
        let config = parse(COURSE_SAMPLE).expect("the course's sample is valid");
        assert_eq!(config.sites.len(), 2);
        let app2 = &config.sites[1];
        assert_eq!(app2.host.as_deref(), Some("app2.local"));
        assert_eq!(app2.line, 5);
        assert_eq!(
            app2.backends,
            [
                SocketAddr::from(([127, 0, 0, 1], 9002)),
                SocketAddr::from(([127, 0, 0, 1], 9003))
            ]
        );
        assert_eq!(app2.policy, Policy::RoundRobin);
        assert_eq!(app2.set_headers[0].name, "Host");
        assert!(config.default.is_none());
    }

    #[test]
    fn the_shipped_example_serves_chat_and_static_localhost() {
        let config =
            parse(include_str!("../../labs/proxy.conf")).expect("labs/proxy.conf is valid");
        let site = |name: &str| {
            config
                .sites
                .iter()
                .find(|site| site.host.as_deref() == Some(name))
                .unwrap_or_else(|| panic!("labs/proxy.conf has no host {name}"))
        };
        let port = |addr: &SocketAddr| (addr.ip().is_loopback(), addr.port());
        let chat: Vec<_> = site("chat.localhost").backends.iter().map(port).collect();
        assert_eq!(chat, [(true, 9000)], "the chat is one lab 4 server");
        let pages = site("static.localhost");
        let pool: Vec<_> = pages.backends.iter().map(port).collect();
        assert_eq!(pool, [(true, 9001), (true, 9002), (true, 9003)]);
        assert_eq!(pages.policy, Policy::RoundRobin);
    }

    #[test]
    fn semicolons_comments_quotes_and_layout_are_free() {
        let text = "# all on one line, then spread out\n\
                    host APP.Local { proxy_pass http://localhost:81/; dist_policy least-conn; }\n\
                    default\n{\n  proxy_pass http://[::1]:82 # trailing comment\n\n}\n";
        let config = parse(text).expect("valid");
        assert_eq!(config.sites[0].host.as_deref(), Some("app.local"));
        assert_eq!(
            config.sites[0].backends,
            [SocketAddr::from(([127, 0, 0, 1], 81))]
        );
        assert_eq!(config.sites[0].policy, Policy::LeastConn);
        let default = config.default.expect("a default block");
        assert_eq!(default.backends[0].to_string(), "[::1]:82");
    }

    #[test]
    fn templates_expand_variables() {
        let template =
            Template::parse("$scheme://$http_host from $remote_addr via $proxy_host, $host $ $1")
                .expect("valid template");
        let vars = Vars {
            host: "chat.localhost",
            http_host: "Chat.localhost:8080",
            remote_addr: IpAddr::from([10, 0, 0, 7]),
            proxy_host: SocketAddr::from(([127, 0, 0, 1], 9000)),
        };
        assert_eq!(
            template.expand(&vars),
            "http://Chat.localhost:8080 from 10.0.0.7 via 127.0.0.1:9000, chat.localhost $ $1"
        );
    }

    #[test]
    fn ports_split_off_host_names_and_addresses() {
        for (authority, expected) in [
            ("a.local", ("a.local", None)),
            ("a.local:8080", ("a.local", Some("8080"))),
            ("a.local:", ("a.local:", None)),
            ("[::1]:9000", ("::1", Some("9000"))),
            ("[::1]", ("::1", None)),
            ("::1", ("::1", None)),
        ] {
            assert_eq!(split_port(authority), expected, "{authority:?}");
        }
    }

    #[test]
    fn mangled_files_give_an_answer_never_a_panic() {
        // Every cut, and every byte replaced by each of the characters the
        // grammar cares about: parse must say yes, or no with a line that
        // exists, and never panic.
        let sample = format!("{COURSE_SAMPLE}default {{ proxy_pass http://[::1]:1 }} # é\n");
        let lines = sample.lines().count().max(1);
        let mut inputs = Vec::new();
        for (at, _) in sample.char_indices() {
            inputs.push(sample[..at].to_string());
            for replacement in ['{', '}', ';', '"', '#', '$', '\n', ':', ' ', 'é', '\0'] {
                let mut mangled = sample.clone();
                let end = at + sample[at..].chars().next().map_or(0, char::len_utf8);
                mangled.replace_range(at..end, &replacement.to_string());
                inputs.push(mangled);
            }
        }
        for input in inputs {
            if let Err(error) = parse(&input) {
                assert!(
                    (1..=lines + 1).contains(&error.line) && !error.message.contains('\n'),
                    "{input:?}: {error:?}"
                );
            }
        }
    }

    #[test]
    fn mistakes_are_reported_with_their_line() {
        let cases: &[(&str, usize, &str)] = &[
            (
                "host \"a\" {\n  proxy_pas http://127.0.0.1:1;\n}\n",
                2,
                "unknown directive `proxy_pas`",
            ),
            (
                "host \"a\" {\n  proxy_pass http://127.0.0.1:1;\n",
                1,
                "never closed",
            ),
            ("host \"a\" {\n}\n", 1, "no `proxy_pass`"),
            (
                "\n\nhost \"a\" {\n proxy_pass 127.0.0.1:1\n}",
                4,
                "must start with http://",
            ),
            (
                "host a { proxy_pass http://127.0.0.1:99999 }",
                1,
                "not a port",
            ),
            (
                "host a { proxy_pass http://example.com:80 }",
                1,
                "not an IP address",
            ),
            (
                "host a:99999 { proxy_pass http://127.0.0.1:1 }",
                1,
                "not a port",
            ),
            (
                "host a:b:c:9 { proxy_pass http://127.0.0.1:1 }",
                1,
                "in brackets",
            ),
            (
                "host a { proxy_pass http://127.0.0.1:1/app }",
                1,
                "without a path",
            ),
            (
                "host a {\n proxy_pass http://127.0.0.1:1\n proxy_set_header Content-Length 5\n}",
                3,
                "the proxy's own",
            ),
            (
                "host a {\n proxy_pass http://127.0.0.1:1\n proxy_set_header transfer-encoding chunked\n}",
                3,
                "the proxy's own",
            ),
            (
                "host a {\n proxy_pass http://127.0.0.1:1\n dist_policy fastest\n}",
                3,
                "unknown dist_policy `fastest`",
            ),
            (
                "host a {\n proxy_pass http://127.0.0.1:1\n dist_policy random\n dist_policy sticky\n}",
                4,
                "second `dist_policy`",
            ),
            (
                "host a {\n proxy_set_header Host $hots\n proxy_pass http://127.0.0.1:1 }",
                2,
                "unknown variable $hots",
            ),
            (
                "host a {\n proxy_set_header Host\n}",
                2,
                "takes a name and a value",
            ),
            (
                "proxy_pass http://127.0.0.1:1;\n",
                1,
                "expected `host \"NAME\" {`",
            ),
            (
                "host a { proxy_pass http://127.0.0.1:1 }\n\nhost A { proxy_pass http://127.0.0.1:2 }",
                3,
                "configured twice",
            ),
            (
                "host \"a b\" { proxy_pass http://127.0.0.1:1 }",
                1,
                "not a host name",
            ),
            ("host \"a {\n", 1, "not closed on its line"),
            (
                "host a\n proxy_pass http://127.0.0.1:1\n",
                1,
                "expected `{` after `host \"a\"`",
            ),
            ("# nothing but a comment\n\n", 2, "no `host` block"),
            (
                "host a { proxy_pass http://127.0.0.1:1 }\ndefault { proxy_pass http://127.0.0.1:1 }\ndefault { proxy_pass http://127.0.0.1:1 }",
                3,
                "second `default`",
            ),
        ];
        for (text, line, message) in cases {
            let got = parse(text).expect_err("should be refused");
            assert!(
                got.line == *line && got.message.contains(message) && !got.message.contains('\n'),
                "config {text:?}: got {got:?}, expected line {line} and a one-line message containing {message:?}"
            );
        }
    }
}
