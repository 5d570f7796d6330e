//! A small W3C WebDriver client, for the browser tests (`tests/browser.rs`).
//!
//! WebDriver (<https://www.w3.org/TR/webdriver2/>) is a JSON-over-HTTP
//! protocol for remote-controlling a browser: a *driver* process
//! (`chromedriver`) listens on a port, a client creates a *session* (one
//! browser with its own profile) with `POST /session`, and every command is
//! one HTTP request under `/session/{id}/…` whose answer is `{"value": …}`
//! (§6.3), or, on failure, an error status and `{"value": {"error",
//! "message"}}` (§6.6). The requests go out with the kit's own
//! [`Client`]; the JSON is built and read with `serde_json`.
//!
//! - [`Chromedriver::start`] runs `chromedriver --port=0`, reads the port it
//!   picked from its first lines, and polls `GET /status` (§8.3) until it is
//!   ready. It is killed when the last handle to it is dropped.
//! - [`Chromedriver::browser`] opens a session: headless Chromium with a
//!   fresh profile in a temporary directory, so that each simulated user has
//!   cookies of their own (the tabs of one browser share them). Dropping the
//!   [`Browser`] deletes the session (§8.2), which closes Chromium.
//! - [`Browser`] navigates, finds [`Element`]s by CSS selector (§12.3),
//!   clicks and types (§12.5), runs scripts (§13.2.1), sizes the window
//!   (§11.8), takes screenshots (§17.1), and says whether a page's
//!   `alert()` is open (§16.3).
//! - Waits ([`Browser::wait_for`], [`Browser::wait_for_text`], …) poll the
//!   page every [`POLL_INTERVAL`] up to a timeout: a test never sleeps a
//!   fixed time hoping the page is ready. When a wait or a command fails,
//!   the panic says which browser, which step ([`Browser::step`]), what was
//!   expected, the page's URL and title, what it showed, where a screenshot
//!   of it was saved, and which doc section explains the behaviour.
//!
//! The public methods panic on failure, with that message: they are for
//! tests. Reading text goes through one script per read (texts of every
//! match at once), so a page that re-renders between a find and a read
//! cannot make a wait fail with a stale element.
//!
//! A page's `alert()` (or `confirm()`, `prompt()`) is left open, never
//! dismissed unseen: the next command fails the test at once, saying what
//! the dialog says, and [`Browser::open_alert`] asks whether one is open.
//!
//! Left out on purpose: the actions API (§15: drag, hover, key chords),
//! frames and windows (§11), answering dialogs (§16.1, §16.2), cookies by
//! command (§14: tests set them with `document.cookie`, as a page's script
//! would), asynchronous scripts, and browsers other than Chromium.

use std::cell::RefCell;
use std::env;
use std::fmt;
use std::fs;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use weaprous::http::Method;
use weaprous::http::client::Client;

use super::{STEP_TIMEOUT, TempDir};

/// How long the waits of a scenario allow by default. Generous: a page
/// that is right shows its state in milliseconds; the bound only turns a
/// page that never gets there into a failure instead of a hang.
pub const WAIT: Duration = Duration::from_secs(10);

/// How often a wait looks at the page again.
pub const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// The longest one WebDriver command may take. A new session starts a
/// browser, and a command after a navigation waits for the page to load,
/// both slower on a busy 2-core machine than any single network step.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// How long Chromium may take to load a page before navigation fails
/// (the session's `pageLoad` timeout, §9). Below [`COMMAND_TIMEOUT`], so
/// that the driver answers with the error before the client gives up.
const PAGE_LOAD_TIMEOUT: Duration = Duration::from_secs(20);

/// The key that names a web element in JSON (§12.1, "web element
/// identifier"): an element travels as `{"element-6066-…": "<id>"}`.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The key code of Enter in [`Element::send_keys`] text (§15.4.2, the
/// table of normalised keys): `send_keys("hello\u{E007}")` types and
/// submits.
pub const ENTER: &str = "\u{E007}";

/// How much of the page's text a failure message shows.
const SHOWN_TEXT_CHARS: usize = 600;

/// Where `chromedriver` is, unless the `CHROMEDRIVER` variable names it.
const CHROMEDRIVER: &str = "chromedriver";

/// What to run to install the browser and its driver on Debian or Ubuntu.
const INSTALL_HINT: &str = "sudo apt-get install chromium chromium-driver \
                            (README.md, \"Browser tests\")";

/// Chromium's switches for every session, beyond the window size and the
/// profile directory.
const CHROMIUM_ARGS: &[&str] = &[
    // No window: the tests run on machines without a display.
    "--headless=new",
    // As root (CI), Chromium refuses to start with its sandbox on. The
    // sandbox guards a desktop against hostile web pages; these pages are
    // the kit's own.
    "--no-sandbox",
    "--disable-gpu",
    // /dev/shm is tiny in containers; Chromium crashes when it fills.
    "--disable-dev-shm-usage",
    // No traffic of the browser's own: every request goes to 127.0.0.1.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
];

/// The screen a session pretends to have: the page's viewport in CSS
/// pixels, exactly, and whether it is a phone.
///
/// Chromium's `--window-size` alone cannot do this: the window includes
/// room for the browser's own bars (a 1280×800 window has a 1280×657
/// viewport), and a headless window is never narrower than 500 pixels. So
/// each session also emulates the screen (chromedriver's
/// `mobileEmulation.deviceMetrics`), and a phone gets a phone's behaviour
/// too: touch events, overlay scroll bars, and the page's `<meta
/// name="viewport">` obeyed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Screen {
    /// Width of the viewport.
    pub width: u32,
    /// Height of the viewport.
    pub height: u32,
    /// A touch screen with a mobile browser's layout rules.
    pub phone: bool,
    /// Device pixels per CSS pixel: 1, so that one CSS pixel is one pixel
    /// of a screenshot; 2 for the sharp screenshots of a phone's screen
    /// (the layout is the same, the picture twice as wide).
    pub pixel_ratio: u32,
}

/// A laptop screen.
pub const DESKTOP: Screen = Screen {
    width: 1280,
    height: 800,
    phone: false,
    pixel_ratio: 1,
};

/// A phone held upright (an iPhone 12 to 15 is 390 × 844 CSS pixels).
pub const PHONE: Screen = Screen {
    width: 390,
    height: 844,
    phone: true,
    pixel_ratio: 1,
};

/// A rectangle in CSS pixels: an element's box (§12.4.7) or the window's
/// (§11.8.1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rect {
    /// Left edge.
    pub x: f64,
    /// Top edge.
    pub y: f64,
    /// Width.
    pub width: f64,
    /// Height.
    pub height: f64,
}

impl Rect {
    fn from_json(value: &Value) -> Option<Rect> {
        Some(Rect {
            x: value.get("x")?.as_f64()?,
            y: value.get("y")?.as_f64()?,
            width: value.get("width")?.as_f64()?,
            height: value.get("height")?.as_f64()?,
        })
    }
}

/// A command that failed: the driver's error code (§6.6, "no such
/// element", "stale element reference" …) and message, or why no answer
/// came.
#[derive(Clone, Debug)]
pub struct WebDriverError {
    /// The command, as `METHOD path`.
    pub command: String,
    /// The W3C error code, or `no answer` when the driver did not reply.
    pub code: String,
    /// The driver's message.
    pub message: String,
}

impl fmt::Display for WebDriverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Chromium's messages repeat a long stack trace after a newline.
        let message = self.message.lines().next().unwrap_or_default();
        write!(f, "{}: {}: {message}", self.command, self.code)
    }
}

/// The `chromedriver` process, running. Cloning shares it; it is killed
/// when the last clone and the last [`Browser`] opened through it are
/// dropped, so sessions always end before their driver does. One user:
/// `Chromedriver::start().browser("admin", DESKTOP)`; several: keep the
/// driver and call [`Chromedriver::browser`] once per user.
#[derive(Clone)]
pub struct Chromedriver {
    process: Arc<DriverProcess>,
}

struct DriverProcess {
    child: Child,
    addr: SocketAddr,
    /// What it wrote on stderr, for failure messages.
    log: Arc<Mutex<Vec<String>>>,
}

impl Drop for DriverProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Chromedriver {
    /// Starts `chromedriver --port=0` (or the program the `CHROMEDRIVER`
    /// variable names), reads the port it listens on, and waits until
    /// `GET /status` says it is ready. Panics, with how to install it, when
    /// it is missing.
    pub fn start() -> Chromedriver {
        let program = env::var("CHROMEDRIVER").unwrap_or_else(|_| CHROMEDRIVER.to_string());
        let mut child = Command::new(&program)
            // Port 0: it picks a free port and says which on stdout.
            .args(["--port=0", "--log-level=WARNING"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| {
                panic!("cannot run {program}: {error}; install it with {INSTALL_HINT}")
            });
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let log = Arc::new(Mutex::new(Vec::new()));
        let log_writer = Arc::clone(&log);
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                log_writer
                    .lock()
                    .unwrap_or_else(|poison| poison.into_inner())
                    .push(line);
            }
        });
        let (ports, port) = mpsc::channel();
        thread::spawn(move || {
            // Every line is read, the first with a port sent: a driver whose
            // stdout pipe fills up would stop.
            let mut sent = false;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if !sent && let Some(port) = started_on_port(&line) {
                    sent = ports.send(port).is_ok();
                }
            }
        });
        let mut process = DriverProcess {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            log,
        };
        let port = port.recv_timeout(STEP_TIMEOUT).unwrap_or_else(|_| {
            panic!(
                "{program} did not say which port it listens on within {STEP_TIMEOUT:?} \
                 (expected a line \"ChromeDriver was started successfully on port N.\"); \
                 its stderr: {:?}",
                process.log_lines()
            )
        });
        process.addr = SocketAddr::from(([127, 0, 0, 1], port));
        process.wait_until_ready();
        Chromedriver {
            process: Arc::new(process),
        }
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.process.addr
    }

    /// Opens a new session: headless Chromium with `screen`, and a fresh
    /// profile of its own. `label` names the browser in failure messages
    /// (`"alice"`).
    pub fn browser(&self, label: &str, screen: Screen) -> Browser {
        let profile = TempDir::new(&format!("chromium-{label}"));
        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|arg| arg.to_string()).collect();
        args.push(format!("--window-size={},{}", screen.width, screen.height));
        args.push(format!("--user-data-dir={}", profile.path.display()));
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    // A page's `alert()` stays open (§16.1, "user prompt
                    // handler"): the next command fails, and the test can
                    // see it, instead of the driver dismissing it unseen
                    // in the middle of a wait.
                    "unhandledPromptBehavior": "ignore",
                    "timeouts": {
                        "implicit": 0,
                        "pageLoad": PAGE_LOAD_TIMEOUT.as_millis() as u64,
                        "script": STEP_TIMEOUT.as_millis() as u64,
                    },
                    "goog:chromeOptions": {
                        "args": args,
                        // See `Screen`.
                        "mobileEmulation": {
                            "deviceMetrics": {
                                "width": screen.width,
                                "height": screen.height,
                                "pixelRatio": screen.pixel_ratio,
                                "mobile": screen.phone,
                                "touch": screen.phone,
                            },
                        },
                        // The password manager checks typed passwords
                        // against a leak list online: off, like the rest
                        // of the browser's own traffic.
                        "prefs": {
                            "credentials_enable_service": false,
                            "profile.password_manager_enabled": false,
                            "profile.password_manager_leak_detection": false,
                        },
                    },
                },
            },
        });
        let mut client = self.process.client();
        let answer = send(&mut client, Method::Post, "/session", Some(&capabilities));
        let session = answer
            .as_ref()
            .ok()
            .and_then(|value| value.get("sessionId")?.as_str())
            .map(str::to_string)
            .unwrap_or_else(|| {
                panic!(
                    "cannot open a browser session for {label}: {}; is Chromium installed? \
                     ({INSTALL_HINT}); chromedriver's stderr: {:?}",
                    match &answer {
                        Ok(value) => format!("no sessionId in {value}"),
                        Err(error) => error.to_string(),
                    },
                    self.process.log_lines()
                )
            });
        Browser {
            label: label.to_string(),
            session,
            client: RefCell::new(client),
            step: RefCell::new(None),
            _profile: profile,
            _driver: Arc::clone(&self.process),
        }
    }
}

impl DriverProcess {
    /// A client for the driver's HTTP port.
    fn client(&self) -> Client {
        Client::new(self.addr).with_timeout(COMMAND_TIMEOUT)
    }

    fn log_lines(&self) -> Vec<String> {
        self.log
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone()
    }

    /// Polls `GET /status` (§8.3) until `value.ready` is true.
    fn wait_until_ready(&self) {
        let mut client = Client::new(self.addr).with_timeout(STEP_TIMEOUT);
        let mut last = String::new();
        let ready = poll(STEP_TIMEOUT, || {
            match send(&mut client, Method::Get, "/status", None) {
                Ok(status) if status.get("ready") == Some(&Value::Bool(true)) => return Some(()),
                Ok(status) => last = status.to_string(),
                Err(error) => last = error.to_string(),
            }
            None
        });
        if ready.is_some() {
            return;
        }
        panic!(
            "chromedriver on {} was not ready within {STEP_TIMEOUT:?}; last status: {last}; \
             its stderr: {:?}",
            self.addr,
            self.log_lines()
        );
    }
}

/// The port in chromedriver's "ChromeDriver was started successfully on
/// port 41877." line.
fn started_on_port(line: &str) -> Option<u16> {
    let (_, rest) = line.split_once("started successfully on port ")?;
    rest.trim_end_matches('.').trim().parse().ok()
}

/// Sends one command and returns the `value` of its answer (§6.3), or the
/// error the driver reported (§6.6).
fn send(
    client: &mut Client,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> Result<Value, WebDriverError> {
    let command = format!("{method} {path}");
    let fail = |code: &str, message: String| WebDriverError {
        command: command.clone(),
        code: code.to_string(),
        message,
    };
    let body = body.map(Value::to_string).unwrap_or_default();
    let headers: &[(&str, &str)] = if body.is_empty() {
        &[]
    } else {
        &[("Content-Type", "application/json; charset=utf-8")]
    };
    let response = client
        .request(method, path, headers, body.as_bytes())
        .map_err(|error| fail("no answer", error.to_string()))?;
    let mut answer: Value = serde_json::from_slice(&response.body).map_err(|error| {
        fail(
            "bad answer",
            format!(
                "status {}, not JSON ({error}): {}",
                response.status,
                response.text()
            ),
        )
    })?;
    let value = answer
        .get_mut("value")
        .map(Value::take)
        .unwrap_or(Value::Null);
    if response.status == 200 {
        return Ok(value);
    }
    let text = |key: &str| {
        value
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    Err(fail(&text("error"), text("message")))
}

/// One browser session: one simulated user. Every method takes `&self`, so
/// that [`Element`]s, which borrow the browser, can be used alongside it.
pub struct Browser {
    label: String,
    session: String,
    /// The connection to the driver. A `RefCell` because commands need the
    /// client mutably; one test thread drives a browser, so a borrow never
    /// overlaps another.
    client: RefCell<Client>,
    /// The current step and its doc section, for failure messages.
    step: RefCell<Option<(String, String)>>,
    /// Chromium's profile; removed after the session ends (fields drop
    /// after [`Browser::drop`] has run).
    _profile: TempDir,
    /// Keeps the driver alive while the session is open.
    _driver: Arc<DriverProcess>,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Deleting the session closes Chromium (§8.2).
        let path = format!("/session/{}", self.session);
        let _ = send(self.client.get_mut(), Method::Delete, &path, None);
    }
}

impl Browser {
    // ---- Failure messages -------------------------------------------------

    /// Names what the test is doing now and the doc section that explains
    /// the expected behaviour, both shown if a later command or wait fails:
    /// `browser.step("log in with a wrong password", "docs/lab3_auth.md, \"The contract\"")`.
    pub fn step(&self, step: &str, doc: &str) {
        *self.step.borrow_mut() = Some((step.to_string(), doc.to_string()));
    }

    /// Fails the test with `expected` and everything the page shows.
    #[track_caller]
    pub fn fail(&self, expected: &str) -> ! {
        panic!("{}", self.failure(expected, None));
    }

    /// Fails the test, as [`Browser::fail`] does, unless `condition` holds.
    #[track_caller]
    pub fn check(&self, condition: bool, expected: &str) {
        if !condition {
            self.fail(expected);
        }
    }

    /// The failure message: browser, step, what was expected, what went
    /// wrong, the page (URL, title, text), a screenshot, the doc section.
    fn failure(&self, expected: &str, error: Option<String>) -> String {
        self.report(expected, error, &self.describe_page())
    }

    /// A failure message around `page`, the lines that describe the page.
    fn report(&self, expected: &str, error: Option<String>, page: &str) -> String {
        let (step, doc) = self.step.borrow().clone().unwrap_or_default();
        let mut message = format!(
            "\n  browser:  {}\n  step:     {step}\n  expected: {expected}\n",
            self.label
        );
        if let Some(error) = error {
            message.push_str(&format!("  error:    {error}\n"));
        }
        message.push_str(page);
        if !doc.is_empty() {
            message.push_str(&format!("  see:      {doc}\n"));
        }
        message
    }

    /// The page's URL, title and text, and where a screenshot of it was
    /// saved; anything that cannot be read is said so, never panicked on.
    fn describe_page(&self) -> String {
        let show = |result: Result<String, WebDriverError>| {
            result.unwrap_or_else(|error| format!("(cannot read: {error})"))
        };
        let url = show(self.try_url());
        let title = show(self.try_title());
        let text = show(
            self.try_page_text()
                .map(|text| shorten(&text, SHOWN_TEXT_CHARS)),
        );
        let screenshot = match self.save_failure_screenshot() {
            Ok(path) => path.display().to_string(),
            Err(error) => format!("(none: {error})"),
        };
        format!(
            "  page:     {url} (title {title:?})\n  shows:    {text:?}\n  screenshot: {screenshot}\n"
        )
    }

    /// Saves a screenshot under `target/tmp/browser-failures/`, named after
    /// the test (libtest names each test's thread after it) and the browser.
    fn save_failure_screenshot(&self) -> Result<PathBuf, String> {
        let test = thread::current()
            .name()
            .unwrap_or("test")
            .replace("::", "-");
        let path = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("browser-failures")
            .join(format!("{test}-{}.png", self.label));
        let png = self
            .try_screenshot_png()
            .map_err(|error| error.to_string())?;
        write_file(&path, &png)?;
        Ok(path)
    }

    /// Panics with the failure message if `result` is an error.
    #[track_caller]
    fn expect<T>(&self, result: Result<T, WebDriverError>, doing: &str) -> T {
        match result {
            Ok(value) => value,
            Err(error) => panic!("{}", self.failure(doing, Some(error.to_string()))),
        }
    }

    // ---- Commands -------------------------------------------------------

    /// Sends one command of this session (`path` is below
    /// `/session/{id}`).
    fn command(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, WebDriverError> {
        // A POST always carries a JSON object, `{}` when it has no
        // parameters (§6.3).
        let body = match (method, body) {
            (Method::Post, None) => Some(json!({})),
            (_, body) => body,
        };
        let path = format!("/session/{}{path}", self.session);
        let result = send(&mut self.client.borrow_mut(), method, &path, body.as_ref());
        match result {
            // The session leaves a page's dialog open (`unhandledPromptBehavior`),
            // so every later command would fail the same way: fail now,
            // without trying to read the page that the dialog blocks.
            Err(error) if error.code == UNEXPECTED_ALERT_OPEN => {
                let page = "  page:     (blocked by the dialog)\n";
                let expected = "no alert, confirm or prompt from the page";
                panic!("{}", self.report(expected, Some(error.to_string()), page))
            }
            result => result,
        }
    }

    /// Opens `url` and waits until it has loaded (§10.1).
    #[track_caller]
    pub fn goto(&self, url: &str) {
        let result = self.command(Method::Post, "/url", Some(json!({ "url": url })));
        self.expect(result, &format!("to open {url}"));
    }

    /// Reloads the page (§10.5) and waits until it has loaded.
    #[track_caller]
    pub fn refresh(&self) {
        let result = self.command(Method::Post, "/refresh", None);
        self.expect(result, "to reload the page");
    }

    /// The page's URL (§10.2).
    #[track_caller]
    pub fn url(&self) -> String {
        self.expect(self.try_url(), "to read the page's URL")
    }

    /// The page's path and query: `/login.html?next=/` for
    /// `http://127.0.0.1:41877/login.html?next=/`.
    #[track_caller]
    pub fn path(&self) -> String {
        path_of(&self.url()).to_string()
    }

    /// The page's title (§10.6).
    #[track_caller]
    pub fn title(&self) -> String {
        self.expect(self.try_title(), "to read the page's title")
    }

    /// The text of the whole page, as rendered (hidden parts left out).
    #[track_caller]
    pub fn page_text(&self) -> String {
        self.expect(self.try_page_text(), "to read the page's text")
    }

    /// The first element matching a CSS selector (§12.3.2); fails the test
    /// if there is none.
    #[track_caller]
    pub fn find(&self, css: &str) -> Element<'_> {
        match self.try_find(css) {
            Some(element) => element,
            None => self.fail(&format!("an element matching `{css}`")),
        }
    }

    /// The first element matching a CSS selector, or `None`.
    #[track_caller]
    pub fn try_find(&self, css: &str) -> Option<Element<'_>> {
        let result = self.command(Method::Post, "/element", Some(css_locator(css)));
        match result {
            Err(error) if error.code == "no such element" => None,
            result => {
                let value = self.expect(result, &format!("to look for `{css}`"));
                Some(self.element(&value, css))
            }
        }
    }

    /// Every element matching a CSS selector, in document order (§12.3.3).
    #[track_caller]
    pub fn find_all(&self, css: &str) -> Vec<Element<'_>> {
        let result = self.command(Method::Post, "/elements", Some(css_locator(css)));
        let value = self.expect(result, &format!("to look for `{css}`"));
        self.elements(&value, css)
    }

    /// Clicks the first element matching `css` (§12.5.1: scrolled into
    /// view, and refused if something else covers it).
    #[track_caller]
    pub fn click(&self, css: &str) {
        self.find(css).click();
    }

    /// Empties the first field matching `css` and types `text` into it.
    #[track_caller]
    pub fn fill(&self, css: &str, text: &str) {
        let field = self.find(css);
        field.clear();
        field.send_keys(text);
    }

    /// The rendered text of the first element matching `css`.
    #[track_caller]
    pub fn text(&self, css: &str) -> String {
        self.find(css).text()
    }

    /// The rendered text of every *visible* element matching `css`, in
    /// document order, read at one instant by one script (an element hidden
    /// with `hidden` or `display: none` is left out).
    #[track_caller]
    pub fn texts(&self, css: &str) -> Vec<String> {
        self.expect(self.try_texts(css), &format!("to read the text of `{css}`"))
    }

    /// Runs `script` as the body of a function in the page (§13.2.1), with
    /// `args` as `arguments[0]`, `arguments[1]` …; returns what it returns
    /// (elements come back as `{"element-6066-…": id}`).
    #[track_caller]
    pub fn execute(&self, script: &str, args: &[Value]) -> Value {
        self.expect(
            self.try_execute(script, args),
            &format!("to run the script {script:?}"),
        )
    }

    /// The window's position and outer size (§11.8.1).
    #[track_caller]
    pub fn window_rect(&self) -> Rect {
        let value = self.expect(
            self.command(Method::Get, "/window/rect", None),
            "to read the window's size",
        );
        match Rect::from_json(&value) {
            Some(rect) => rect,
            None => self.fail(&format!("a window rect, got {value}")),
        }
    }

    /// Resizes the window (§11.8.2). The page's viewport keeps the
    /// session's [`Screen`]: to see a page at another size, open another
    /// browser.
    #[track_caller]
    pub fn set_window_size(&self, width: u32, height: u32) {
        let body = json!({ "width": width, "height": height });
        let result = self.command(Method::Post, "/window/rect", Some(body));
        self.expect(result, &format!("to resize the window to {width}×{height}"));
    }

    /// The page's viewport in CSS pixels, `(innerWidth, innerHeight)`:
    /// what a layout responds to.
    #[track_caller]
    pub fn viewport(&self) -> (u32, u32) {
        let value = self.execute("return [window.innerWidth, window.innerHeight];", &[]);
        let size = |index: usize| value.get(index).and_then(Value::as_u64).map(|n| n as u32);
        match (size(0), size(1)) {
            (Some(width), Some(height)) => (width, height),
            _ => self.fail(&format!("a viewport size, got {value}")),
        }
    }

    /// The text of the `alert()`, `confirm()` or `prompt()` open on the
    /// page (§16.3), or `None` when there is none. Sessions leave such a
    /// dialog open, so one opened since the last command is caught here
    /// (and any other command fails the test on it).
    #[track_caller]
    pub fn open_alert(&self) -> Option<String> {
        match self.command(Method::Get, "/alert/text", None) {
            Err(error) if error.code == "no such alert" => None,
            result => Some(string_of(self.expect(result, "to ask for an open alert"))),
        }
    }

    /// Saves a screenshot of the viewport as a PNG file (§17.1), creating
    /// its directory.
    #[track_caller]
    pub fn screenshot(&self, path: &Path) {
        let png = self.expect(self.try_screenshot_png(), "to take a screenshot");
        if let Err(error) = write_file(path, &png) {
            self.fail(&format!("to save the screenshot: {error}"));
        }
    }

    // ---- Waits ----------------------------------------------------------

    /// Polls `probe` every [`POLL_INTERVAL`] until it returns `Some`, for at
    /// most `timeout`; returns what it found. On timeout the test fails with
    /// `expected` and the page as it was.
    ///
    /// The probe may use any method of the browser; reads through
    /// [`Browser::texts`] and [`Browser::try_find`] cannot go stale.
    #[track_caller]
    pub fn wait_for<'b, T>(
        &'b self,
        expected: &str,
        timeout: Duration,
        mut probe: impl FnMut(&'b Browser) -> Option<T>,
    ) -> T {
        match poll(timeout, || probe(self)) {
            Some(found) => found,
            None => self.fail(&format!("{expected} (waited {timeout:?})")),
        }
    }

    /// [`Browser::wait_for`] with a yes-or-no condition.
    #[track_caller]
    pub fn wait_until(
        &self,
        expected: &str,
        timeout: Duration,
        mut condition: impl FnMut(&Browser) -> bool,
    ) {
        self.wait_for(expected, timeout, |browser| {
            condition(browser).then_some(())
        });
    }

    /// Waits until a visible element matching `css` has a rendered text
    /// that contains `text`, and returns it (to click it, for example). On
    /// timeout the failure lists the texts the matches had.
    #[track_caller]
    pub fn wait_for_text(&self, css: &str, text: &str, timeout: Duration) -> Element<'_> {
        let args = [json!(css), json!(text)];
        let found = poll(timeout, || {
            let found = self.try_execute(FIND_VISIBLE_WITH_TEXT, &args);
            found.ok().filter(|value| !value.is_null())
        });
        if let Some(value) = found {
            return self.element(&value, css);
        }
        let seen = match self.try_texts(css) {
            Ok(texts) => format!("{texts:?}"),
            Err(error) => format!("nothing readable ({error})"),
        };
        self.fail(&format!(
            "a visible `{css}` with text containing {text:?} (waited {timeout:?}); \
             the visible `{css}` showed {seen}"
        ))
    }

    /// Waits until an element matching `css` exists (visible or not) and
    /// returns it.
    #[track_caller]
    pub fn wait_for_element(&self, css: &str, timeout: Duration) -> Element<'_> {
        let expected = format!("an element matching `{css}`");
        self.wait_for(&expected, timeout, |browser| browser.try_find(css))
    }

    /// Waits until an element matching `css` exists and a click on it
    /// works, for at most `timeout`. A page that redraws the element
    /// between the find and the click (a `stale element reference`), or
    /// still covers it with something that is going away, is tried again.
    #[track_caller]
    pub fn wait_to_click(&self, css: &str, timeout: Duration) {
        let mut last = format!("no element matches `{css}`");
        let clicked = poll(timeout, || {
            let found = self.command(Method::Post, "/element", Some(css_locator(css)));
            let attempt = found.and_then(|element| {
                let id = element.get(ELEMENT_KEY).and_then(Value::as_str);
                let path = format!("/element/{}/click", id.unwrap_or_default());
                self.command(Method::Post, &path, None)
            });
            attempt.map_err(|error| last = error.to_string()).ok()
        });
        if clicked.is_none() {
            self.fail(&format!(
                "to click `{css}` (waited {timeout:?}); the last try: {last}"
            ));
        }
    }

    /// Waits until the page's path and query ([`Browser::path`]) are
    /// `path`.
    #[track_caller]
    pub fn wait_for_path(&self, path: &str, timeout: Duration) {
        let mut last = String::new();
        let arrived = poll(timeout, || {
            last = self.try_url().unwrap_or_default();
            (path_of(&last) == path).then_some(())
        });
        if arrived.is_none() {
            self.fail(&format!(
                "to arrive at {path} (waited {timeout:?}); the URL stayed {last:?}"
            ));
        }
    }

    // ---- The same reads, as results (for failure messages and waits) ------

    fn try_url(&self) -> Result<String, WebDriverError> {
        self.command(Method::Get, "/url", None).map(string_of)
    }

    fn try_title(&self) -> Result<String, WebDriverError> {
        self.command(Method::Get, "/title", None).map(string_of)
    }

    fn try_page_text(&self) -> Result<String, WebDriverError> {
        self.try_execute("return document.body ? document.body.innerText : '';", &[])
            .map(string_of)
    }

    fn try_texts(&self, css: &str) -> Result<Vec<String>, WebDriverError> {
        let value = self.try_execute(VISIBLE_TEXTS, &[json!(css)])?;
        let texts = value.as_array().map(Vec::as_slice).unwrap_or_default();
        Ok(texts
            .iter()
            .map(|text| text.as_str().unwrap_or_default().to_string())
            .collect())
    }

    /// [`Browser::execute`], returning the error instead of failing: for
    /// the probe of a wait, which may run while the page is between two
    /// documents. (An open `alert()` still fails the test.)
    pub fn try_execute(&self, script: &str, args: &[Value]) -> Result<Value, WebDriverError> {
        let body = json!({ "script": script, "args": args });
        self.command(Method::Post, "/execute/sync", Some(body))
    }

    fn try_screenshot_png(&self) -> Result<Vec<u8>, WebDriverError> {
        let value = self.command(Method::Get, "/screenshot", None)?;
        let png = value
            .as_str()
            .and_then(decode_base64)
            .filter(|png| png.starts_with(PNG_SIGNATURE));
        png.ok_or_else(|| WebDriverError {
            command: "GET /screenshot".to_string(),
            code: "bad answer".to_string(),
            message: "not a base64 PNG".to_string(),
        })
    }

    // ---- Elements -------------------------------------------------------

    /// The element that a JSON element reference names; `css` is kept for
    /// messages.
    #[track_caller]
    fn element(&self, value: &Value, css: &str) -> Element<'_> {
        match value.get(ELEMENT_KEY).and_then(Value::as_str) {
            Some(id) => Element {
                browser: self,
                id: id.to_string(),
                css: css.to_string(),
            },
            None => self.fail(&format!("an element reference for `{css}`, got {value}")),
        }
    }

    #[track_caller]
    fn elements(&self, value: &Value, css: &str) -> Vec<Element<'_>> {
        let mut elements = Vec::new();
        for value in value.as_array().map(Vec::as_slice).unwrap_or_default() {
            elements.push(self.element(value, css));
        }
        elements
    }
}

/// The script behind [`Browser::texts`]: `innerText` of every match that
/// is rendered (`checkVisibility`: no `display: none` on it or above it).
const VISIBLE_TEXTS: &str = "return Array.from(document.querySelectorAll(arguments[0])) \
     .filter((e) => e.checkVisibility()).map((e) => e.innerText);";

/// The script behind [`Browser::wait_for_text`]: the first rendered match
/// whose text contains `arguments[1]`, or `null`.
const FIND_VISIBLE_WITH_TEXT: &str = "return Array.from(document.querySelectorAll(arguments[0])) \
     .find((e) => e.checkVisibility() && e.innerText.includes(arguments[1])) || null;";

/// The error of a command sent while a page's `alert()`, `confirm()` or
/// `prompt()` is open (§6.6).
const UNEXPECTED_ALERT_OPEN: &str = "unexpected alert open";

/// The first eight bytes of every PNG file (PNG specification §5.2).
const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// One element of a page, found by [`Browser::find`] and friends. It stays
/// valid while the element is in the page; after a navigation or a
/// re-render, commands on it fail with `stale element reference`, so find
/// it again (or read through [`Browser::texts`]).
pub struct Element<'b> {
    browser: &'b Browser,
    id: String,
    /// The selector it was found by, for messages.
    css: String,
}

impl<'b> Element<'b> {
    /// Sends a command about this element (`path` below
    /// `/session/{id}/element/{element}`), failing the test on error.
    #[track_caller]
    fn command(&self, method: Method, path: &str, body: Option<Value>, doing: &str) -> Value {
        let path = format!("/element/{}{path}", self.id);
        let result = self.browser.command(method, &path, body);
        self.browser
            .expect(result, &format!("{doing} `{}`", self.css))
    }

    /// Clicks it (§12.5.1). Fails if it is hidden or covered by another
    /// element ("element click intercepted"), as a user could not click it.
    #[track_caller]
    pub fn click(&self) {
        self.command(Method::Post, "/click", None, "to click");
    }

    /// Empties an input or text area (§12.5.2).
    #[track_caller]
    pub fn clear(&self) {
        self.command(Method::Post, "/clear", None, "to clear");
    }

    /// Types `text` into it (§12.5.3), key by key; [`ENTER`] presses Enter.
    #[track_caller]
    pub fn send_keys(&self, text: &str) {
        self.command(
            Method::Post,
            "/value",
            Some(json!({ "text": text })),
            "to type into",
        );
    }

    /// Its rendered text (§12.4.5), as a user sees it.
    #[track_caller]
    pub fn text(&self) -> String {
        string_of(self.command(Method::Get, "/text", None, "to read the text of"))
    }

    /// An attribute as written in the HTML (§12.4.2), or `None`.
    #[track_caller]
    pub fn attribute(&self, name: &str) -> Option<String> {
        let value = self.command(
            Method::Get,
            &format!("/attribute/{name}"),
            None,
            "to read an attribute of",
        );
        value.as_str().map(str::to_string)
    }

    /// A DOM property (§12.4.3): `value` of an input, `disabled`,
    /// `scrollTop` …
    #[track_caller]
    pub fn property(&self, name: &str) -> Value {
        self.command(
            Method::Get,
            &format!("/property/{name}"),
            None,
            "to read a property of",
        )
    }

    /// Whether it is shown (WebDriver's "element displayedness", Appendix
    /// C).
    #[track_caller]
    pub fn is_displayed(&self) -> bool {
        self.command(Method::Get, "/displayed", None, "to ask whether it shows")
            == Value::Bool(true)
    }

    /// Its box in the page (§12.4.7).
    #[track_caller]
    pub fn rect(&self) -> Rect {
        let value = self.command(Method::Get, "/rect", None, "to read the box of");
        match Rect::from_json(&value) {
            Some(rect) => rect,
            None => self
                .browser
                .fail(&format!("a rect for `{}`, got {value}", self.css)),
        }
    }

    /// Every element inside it matching `css` (§12.3.5).
    #[track_caller]
    pub fn find_all(&self, css: &str) -> Vec<Element<'b>> {
        let value = self.command(
            Method::Post,
            "/elements",
            Some(css_locator(css)),
            "to look inside",
        );
        self.browser.elements(&value, css)
    }
}

/// Calls `probe` every [`POLL_INTERVAL`] until it returns `Some`, for at
/// most `timeout` (and at least once); `None` if it never did.
fn poll<T>(timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(found) = probe() {
            return Some(found);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(POLL_INTERVAL);
    }
}

/// A locator by CSS selector (§12.3.1).
fn css_locator(css: &str) -> Value {
    json!({ "using": "css selector", "value": css })
}

/// A JSON string's text, or empty for anything else.
fn string_of(value: Value) -> String {
    value.as_str().unwrap_or_default().to_string()
}

/// The path and query of an `http://host:port/path?query` URL.
fn path_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.find('/').map_or("/", |at| &rest[at..])
}

/// `text` cut to `limit` characters, marked when cut.
fn shorten(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// Writes a file, creating its directory.
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), String> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|error| format!("{}: {error}", parent.display()))?;
    }
    fs::write(path, bytes).map_err(|error| format!("{}: {error}", path.display()))
}

/// Decodes standard base64 with padding (RFC 4648 §4), as screenshots
/// come; `None` for any other character.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let mut bytes = Vec::with_capacity(text.len() / 4 * 3);
    let mut bits: u32 = 0;
    let mut held = 0;
    for symbol in text.trim_end_matches('=').bytes() {
        let sextet = match symbol {
            b'A'..=b'Z' => symbol - b'A',
            b'a'..=b'z' => symbol - b'a' + 26,
            b'0'..=b'9' => symbol - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(sextet);
        held += 6;
        if held >= 8 {
            held -= 8;
            bytes.push((bits >> held) as u8);
            bits &= (1 << held) - 1;
        }
    }
    Some(bytes)
}
