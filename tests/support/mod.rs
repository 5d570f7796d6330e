//! Helpers shared by every lab's grader.
//!
//! - [`connect`]: a client socket with timeouts, so a hang fails the test
//!   with a message instead of freezing the run.
//! - [`escape`] and [`Failure`]: failure messages that show the wire bytes
//!   (`\r\n` as such), what was expected, and where the docs explain it.
//! - [`Example`]: runs a lab's real binary, built first with the `cargo`
//!   that built the test, and reads its `listening on` line.
//!
//! Each test file includes this module with `mod support;` and uses only
//! part of it, so unused-item warnings are expected and silenced here.
#![allow(dead_code)]

pub mod http;
pub mod tools;
pub mod webdriver;

use std::env;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// The longest any single network step of a test may take. Generous: it is
/// only there so that a server that hangs fails the test instead of hanging it.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// Waits (at most [`STEP_TIMEOUT`]) until `done` holds, polling: for a
/// state another process or thread reaches in its own time (a file
/// written, a node registered), which nothing can signal to the test.
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    const POLL: Duration = Duration::from_millis(10);
    let deadline = Instant::now() + STEP_TIMEOUT;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "waited {STEP_TIMEOUT:?} for {what}"
        );
        thread::sleep(POLL);
    }
}

/// Connects to `addr` with [`STEP_TIMEOUT`] on connect, read and write.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect_timeout(&addr, STEP_TIMEOUT)
        .unwrap_or_else(|error| panic!("cannot connect to {addr}: {error}"));
    stream
        .set_read_timeout(Some(STEP_TIMEOUT))
        .expect("set read timeout");
    stream
        .set_write_timeout(Some(STEP_TIMEOUT))
        .expect("set write timeout");
    stream
}

/// Reads until the server closes the connection (or [`STEP_TIMEOUT`]).
pub fn read_to_end(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    match stream.read_to_end(&mut received) {
        Ok(_) => received,
        // A reset after the answer still leaves us the answer.
        Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => received,
        Err(error) => panic!(
            "waiting for the server to close the connection: {error}; received so far: {}",
            escape(&received)
        ),
    }
}

/// Shows bytes the way a student wants to see them in a failure: printable
/// ASCII as is, `\r`, `\n`, `\t` and `\0` as escapes, anything else as
/// `\xNN`; long inputs cut to their first and last 300 bytes.
pub fn escape(bytes: &[u8]) -> String {
    const SHOWN: usize = 300;
    if bytes.len() > 2 * SHOWN {
        return format!(
            "{} …[{} bytes]… {}",
            escape(&bytes[..SHOWN]),
            bytes.len() - 2 * SHOWN,
            escape(&bytes[bytes.len() - SHOWN..])
        );
    }
    let mut text = String::with_capacity(bytes.len() + 2);
    text.push('"');
    for &byte in bytes {
        match byte {
            b'\r' => text.push_str("\\r"),
            b'\n' => text.push_str("\\n"),
            b'\t' => text.push_str("\\t"),
            b'\0' => text.push_str("\\0"),
            b'"' => text.push_str("\\\""),
            b'\\' => text.push_str("\\\\"),
            0x20..=0x7e => text.push(byte as char),
            _ => {
                let _ = write!(text, "\\x{byte:02x}");
            }
        }
    }
    text.push('"');
    text
}

/// A failure message in the kit's format: the step, what was sent, what
/// came back, what was expected, and the doc section that explains it.
pub struct Failure<'a> {
    /// What the test was doing, in a few words.
    pub step: &'a str,
    /// The bytes the test sent.
    pub sent: &'a [u8],
    /// The bytes that came back.
    pub received: &'a [u8],
    /// What should have come back, in words.
    pub expected: &'a str,
    /// Where to read about it: `docs/lab1_echo.md, "Half-close"`.
    pub doc: &'a str,
}

impl std::fmt::Display for Failure<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "\n  step:     {}\n  sent:     {}\n  received: {}\n  expected: {}\n  see:      {}\n",
            self.step,
            escape(self.sent),
            escape(self.received),
            self.expected,
            self.doc
        )
    }
}

/// A lab's real binary, running; killed when dropped.
pub struct Example {
    child: Child,
    /// The address from its `listening on http://HOST:PORT` line.
    pub addr: SocketAddr,
    /// Every line it wrote on stderr so far (its log).
    stderr: Arc<Log>,
    /// Lines on stdout after the first one.
    pub stdout: mpsc::Receiver<String>,
}

impl Example {
    /// Builds (if needed) and starts `cargo run --example NAME -- ARGS`,
    /// and waits for its first stdout line.
    pub fn start(name: &str, args: &[&str]) -> Example {
        let mut command = Command::new(example_binary(name));
        command.args(args);
        Example::spawn(command, name)
    }

    /// Starts a prepared command (for example the binary under `sh -c
    /// 'ulimit -n 16; exec …'`) and waits for its first stdout line.
    pub fn spawn(mut command: Command, name: &str) -> Example {
        let mut child = command
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {name}: {error}"));
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let log = Arc::new(Log::default());
        let log_writer = Arc::clone(&log);
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                log_writer.push(line);
            }
        });
        let (lines_tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = lines.recv_timeout(STEP_TIMEOUT);
        let mut example = Example {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            stderr: log,
            stdout: lines,
        };
        let first = match first {
            Ok(line) => line,
            Err(_) => panic!(
                "{name} printed no first line on stdout within {STEP_TIMEOUT:?}; \
                 expected `listening on http://HOST:PORT` (README.md, \"Start\"); stderr: {:?}",
                example.stderr_lines()
            ),
        };
        example.addr = parse_listening_line(&first).unwrap_or_else(|| {
            panic!(
                "{name}: first stdout line was {first:?}; expected exactly \
                 `listening on http://HOST:PORT` with the real port"
            )
        });
        example
    }

    /// How many threads the process runs now (from `/proc/PID/status`).
    pub fn threads(&self) -> usize {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("read /proc/PID/status");
        status
            .lines()
            .find_map(|line| line.strip_prefix("Threads:"))
            .and_then(|count| count.trim().parse().ok())
            .expect("a Threads: line in /proc/PID/status")
    }

    /// A copy of what it has logged on stderr so far.
    pub fn stderr_lines(&self) -> Vec<String> {
        self.stderr.lines.lock().expect("log lock").clone()
    }

    /// Waits (at most [`STEP_TIMEOUT`]) until a line on stderr contains
    /// `needle`, and returns it.
    pub fn wait_for_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + STEP_TIMEOUT;
        let mut lines = self.stderr.lines.lock().expect("log lock");
        loop {
            if let Some(line) = lines.iter().find(|line| line.contains(needle)) {
                return line.clone();
            }
            let now = Instant::now();
            if now >= deadline {
                panic!("expected a log line containing {needle:?} on stderr; got {lines:?}");
            }
            lines = self
                .stderr
                .grew
                .wait_timeout(lines, deadline - now)
                .expect("log lock")
                .0;
        }
    }

    /// Stops the process and returns its exit status.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The lines a child process writes on stderr, and a signal when one arrives.
#[derive(Default)]
struct Log {
    lines: Mutex<Vec<String>>,
    grew: Condvar,
}

impl Log {
    fn push(&self, line: String) {
        self.lines.lock().expect("log lock").push(line);
        self.grew.notify_all();
    }
}

impl Drop for Example {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Parses `listening on http://127.0.0.1:9000` into its address.
pub fn parse_listening_line(line: &str) -> Option<SocketAddr> {
    line.strip_prefix("listening on http://")?.parse().ok()
}

/// Runs a lab binary to completion (for flag errors and `--help`): its exit
/// code, stdout and stderr.
pub fn run_example(name: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let output = Command::new(example_binary(name))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| panic!("cannot run {name}: {error}"));
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The path of a lab's example binary, built first.
///
/// `cargo test --test lab1_echo` builds the test, not the examples, so the
/// binary might be missing or stale. This runs `cargo build --example NAME`
/// with the `cargo` that runs the tests, into the same target directory and
/// profile, once per test process.
pub fn example_binary(name: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    let built = BUILT.get_or_init(|| Mutex::new(Vec::new()));
    let mut built = built.lock().unwrap_or_else(|poison| poison.into_inner());

    // The test binary lives in target/<profile>/deps/; examples in
    // target/<profile>/examples/.
    let test_binary = env::current_exe().expect("path of the test binary");
    let profile_dir = test_binary
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test binary is in target/<profile>/deps")
        .to_path_buf();
    let binary = profile_dir.join("examples").join(name);
    if built.iter().any(|done| done == name) {
        return binary;
    }
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut command = Command::new(cargo);
    command
        .args(["build", "--quiet", "--example", name, "--manifest-path"])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"));
    if let Some(target_dir) = profile_dir.parent() {
        command.env("CARGO_TARGET_DIR", target_dir);
    }
    if profile_dir.file_name().is_some_and(|dir| dir == "release") {
        command.arg("--release");
    }
    let status = command
        .status()
        .unwrap_or_else(|error| panic!("cannot run cargo to build example {name}: {error}"));
    assert!(
        status.success(),
        "`cargo build --example {name}` failed ({status})"
    );
    built.push(name.to_string());
    binary
}

/// A small deterministic random generator (xorshift64*), so that tests use
/// random inputs a hard-coded answer cannot match, and a failure can be
/// replayed from the seed it prints.
pub struct Rng {
    state: u64,
    /// The seed, to print in failure messages.
    pub seed: u64,
}

impl Rng {
    /// A generator seeded from the clock (a different input every run).
    pub fn from_time() -> Rng {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_nanos() as u64)
            .unwrap_or(0x5eed);
        Rng::new(nanos)
    }

    /// A generator with a fixed seed.
    pub fn new(seed: u64) -> Rng {
        Rng {
            state: seed | 1,
            seed,
        }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..bound` (bound > 0).
    pub fn below(&mut self, bound: usize) -> usize {
        (self.next_u64() % bound as u64) as usize
    }

    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }
}

/// A directory under the system's temp dir, removed when dropped.
pub struct TempDir {
    /// Its path.
    pub path: PathBuf,
}

impl TempDir {
    /// A new, empty, uniquely named directory.
    pub fn new(label: &str) -> TempDir {
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let unique = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let path = env::temp_dir().join(format!(
            "weaprous-{label}-{}-{unique}-{}",
            std::process::id(),
            Rng::from_time().next_u64() % 1_000_000
        ));
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|error| panic!("cannot create {}: {error}", path.display()));
        TempDir { path }
    }

    /// Writes a file (creating parent directories) and returns its path.
    pub fn write(&self, relative: &str, contents: &[u8]) -> PathBuf {
        let path = self.path.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create parent directories");
        }
        std::fs::write(&path, contents)
            .unwrap_or_else(|error| panic!("cannot write {}: {error}", path.display()));
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
