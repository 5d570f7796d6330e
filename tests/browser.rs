//! The labs in a real browser: headless Chromium, driven through
//! `chromedriver` by the kit's own WebDriver client
//! (`tests/support/webdriver.rs`).
//!
//! ```text
//! sudo apt-get install chromium chromium-driver    # Debian's packages; once
//! cargo test --test browser -- --ignored           # every scenario
//! cargo test --test browser lab3_ -- --ignored     # one lab's
//! ```
//!
//! Every test here is `#[ignore = "needs chromium and chromedriver"]`, so a
//! plain `cargo test` passes on a machine without them; `.ci/run` installs
//! both and runs these with `--ignored`, so in CI they must pass. Set
//! `CHROMEDRIVER` to use a `chromedriver` that is not on the `PATH`.
//!
//! One test also makes the pictures of the docs: `WEAPROUS_SCREENSHOTS=docs/img
//! cargo test --test browser screenshots -- --ignored` writes
//! `docs/img/login.png`, `chat-desktop.png` and `chat-phone.png` (without
//! the variable they go to `target/tmp/screenshots/`, so a run in CI never
//! changes a tracked file).
//!
//! The graders (`tests/labN_*.rs`) check each byte on the wire; these check
//! what only a browser proves: that the pages' scripts, the cookies the
//! browser keeps and the server's answers work together for a person
//! clicking through them.
//!
//! # How a scenario is built
//!
//! - The server under test runs in this process on port 0 ([`Site`]), with
//!   a fresh data directory and the real pages of `www/`.
//! - Each test starts its own `chromedriver` (`Chromedriver::start`) and
//!   opens one `Browser` per simulated user (`driver.browser("alice",
//!   DESKTOP)`): each is a separate Chromium with a profile of its own, so
//!   each has its own cookies and its own login. A `Browser` keeps its
//!   driver running, so a one-user test can write
//!   `Chromedriver::start().browser("admin", DESKTOP)`.
//! - The test acts as a person would — `goto`, `fill`, `click` — and then
//!   *waits* for what the person should see: `wait_for_text(css, text,
//!   WAIT)`, `wait_for_path(path, WAIT)`, or `wait_for(expected, WAIT,
//!   |browser| …)` for anything else. A wait polls the page every 50 ms and
//!   gives up after `WAIT`; no test sleeps a fixed time.
//! - `browser.step(what, doc_section)` names each stage. When a wait or a
//!   command fails, the panic shows the browser, the step, what was
//!   expected, the page's URL, title and text, the path of a screenshot
//!   (under `target/tmp/browser-failures/`) and the doc section.
//!
//! # Adding a lab's scenarios
//!
//! 1. Write `tests/browser/labN.rs` (see `tests/browser/lab3.rs` for one
//!    user, `tests/browser/lab4.rs` for several): a function that starts
//!    the lab's application with [`Site::start`], and one `#[test]
//!    #[ignore = "needs chromium and chromedriver"] fn labN_browser_…()`
//!    per scenario.
//! 2. Declare it below, next to `lab3`, with `#[path = "browser/labN.rs"]
//!    mod labN;`.
//! 3. Run `cargo test --test browser labN_ -- --ignored` three times: a
//!    browser test that passes twice out of three is a broken test.
//!
//! A scenario with two users reads like this (lab 4's tests say the same
//! through small helpers of their own):
//!
//! ```rust,ignore
//! #[test]
//! #[ignore = "needs chromium and chromedriver"]
//! fn lab4_browser_a_broadcast_reaches_the_other_user_on_a_phone() {
//!     let site = lab4_site();
//!     let driver = Chromedriver::start();
//!     let alice = driver.browser("alice", DESKTOP);
//!     let bob = driver.browser("bob", PHONE);
//!     // … both log in with `submit_login` and wait for `#app[data-state=ready]` …
//!     alice.step("alice sends a message to general", "docs/lab4_chat.md, \"What chat.js does\"");
//!     alice.fill("#composer", "hello, bob");
//!     alice.find("#composer").send_keys(ENTER);
//!     bob.step("bob sees it without reloading", "docs/lab4_chat.md, \"What chat.js does\"");
//!     bob.wait_for_text("#message-list .message-text", "hello, bob", WAIT);
//! }
//! ```
//!
//! The helpers, in `support::webdriver` (each documented there):
//!
//! | item | what it does |
//! |---|---|
//! | `Chromedriver::start() -> Chromedriver` | runs the driver on a free port; killed after its last browser |
//! | `driver.browser(label, screen) -> Browser` | a new user: Chromium with its own profile; `DESKTOP` 1280×800, `PHONE` 390×844 (touch, mobile layout); `Screen { pixel_ratio: 2, ..PHONE }` for sharp screenshots |
//! | `goto(url)`, `refresh()`, `url()`, `path()`, `title()`, `page_text()` | navigation and what the page is |
//! | `find(css) -> Element`, `try_find(css) -> Option<Element>`, `find_all(css) -> Vec<Element>` | elements by CSS selector |
//! | `click(css)`, `fill(css, text)`, `text(css)`, `texts(css) -> Vec<String>` | the same by selector; `texts` reads every visible match at once |
//! | `element.click()`, `.clear()`, `.send_keys(text)` (`ENTER` presses Enter), `.text()`, `.attribute(name)`, `.property(name)`, `.is_displayed()`, `.rect()`, `.find_all(css)` | one element |
//! | `execute(script, &[args]) -> serde_json::Value`, `try_execute(…) -> Result` | a script in the page (`document.cookie = …`); `try_` for a wait's probe |
//! | `open_alert() -> Option<String>` | the text of an open `alert()`; a session never dismisses one, and any other command fails the test on it |
//! | `viewport() -> (u32, u32)`, `window_rect() -> Rect`, `set_window_size(w, h)`, `screenshot(path)` | the window |
//! | `wait_for_text(css, text, WAIT) -> Element`, `wait_for_element(css, WAIT)`, `wait_for_path(path, WAIT)`, `wait_until(expected, WAIT, \|b\| bool)`, `wait_for(expected, WAIT, \|b\| Option<T>) -> T` | bounded polls |
//! | `wait_to_click(css, WAIT)` | clicks as soon as it can: for a page that redraws what is clicked |
//! | `step(what, doc)`, `check(condition, expected)`, `fail(expected)` | failure messages with the page in them |
//!
//! And here, for every lab's pages: [`submit_login`] fills and submits
//! `login.html`, [`expect_to_fit_the_width`] checks a phone needs no
//! sideways scrolling.

mod support;

#[path = "browser/lab3.rs"]
mod lab3;
#[path = "browser/lab4.rs"]
mod lab4;
#[path = "browser/lab5.rs"]
mod lab5;

use std::net::SocketAddr;
use std::path::Path;

use support::TempDir;
use support::webdriver::Browser;
use weaprous::clock::Clock;
use weaprous::http::{Config, Handler, serve};
use weaprous::net::Running;

/// The kit's own web pages: the scenarios use the real ones.
pub const WWW: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/www");

/// Connections the in-process server accepts at once: a few browsers
/// open six each, and live updates hold one more.
const MAX_CONNECTIONS: usize = 64;

/// A lab's application, served in-process on `127.0.0.1`, port 0, with a
/// data directory of its own; stopped when dropped.
pub struct Site {
    running: Running,
    /// Kept so that the directory lives as long as the server.
    _data: TempDir,
}

impl Site {
    /// Serves the handler that `build` makes from a fresh data directory
    /// and the system clock (a browser lives in real time: its cookies
    /// expire by the wall clock, its scripts poll on timers).
    pub fn start<H: Handler>(label: &str, build: impl FnOnce(&Path, Clock) -> H) -> Site {
        let data = TempDir::new(label);
        let clock = Clock::system();
        let handler = build(&data.path, clock.clone());
        let config = Config {
            clock,
            quiet: true,
            ..Config::default()
        };
        let running = serve::start(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            handler,
            config,
            MAX_CONNECTIONS,
        )
        .unwrap_or_else(|error| panic!("cannot start the {label} server: {error}"));
        Site {
            running,
            _data: data,
        }
    }

    /// The full URL of `path` on this server (`http://127.0.0.1:PORT/path`).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.running.addr())
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.running.addr().port()
    }
}

/// Fills the form of `login.html` (`#username`, `#password`) and submits
/// it (`#submit`): logging in, or registering after "Create one".
#[track_caller]
pub fn submit_login(browser: &Browser, username: &str, password: &str) {
    browser.fill("#username", username);
    browser.fill("#password", password);
    browser.click("#submit");
}

/// Fails unless the page, and the element matching `css` in it, fit the
/// width of the browser's viewport: nothing to scroll sideways to.
#[track_caller]
pub fn expect_to_fit_the_width(browser: &Browser, css: &str) {
    let (width, _) = browser.viewport();
    let page = browser.execute("return document.documentElement.scrollWidth;", &[]);
    browser.check(
        page.as_u64().is_some_and(|page| page <= u64::from(width)),
        &format!("the page to fit the {width} px wide screen; it is {page} px wide"),
    );
    let element = browser.find(css).rect();
    browser.check(
        element.x >= 0.0 && element.x + element.width <= f64::from(width),
        &format!("`{css}` to be within the {width} px wide screen; its box is {element:?}"),
    );
}
