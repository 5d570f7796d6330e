//! Lab 4 in a real browser: the chat's page (`www/chat.html`, `chat.js`)
//! as two or three people use it, each in a Chromium of their own — a
//! broadcast arriving live, a direct message that only its receiver sees,
//! the two modes, a hostile message shown as text, history kept over a
//! reload, logging out, a phone's screen, and a newcomer registering. One
//! more test sets up a conversation and saves the screenshots of
//! `docs/img/`.
//!
//! The server is the lab 4 application as `labs/lab4_chat.rs` builds it
//! (`chat::site::app` over lab 3's auth and `www/`), with a fresh data
//! directory, the test iteration count for passwords, and three accounts
//! made at start: alice, bob and carol. The tests find things on the page
//! by the hooks of `docs/lab4_chat.md`, "Hooks for browser tests".
//!
//! Lab 5's scenarios, with peer nodes, are in `lab5.rs`; they use the
//! page helpers here.

use std::env;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::support::Rng;
use super::support::webdriver::{Browser, Chromedriver, DESKTOP, ENTER, PHONE, Rect, Screen, WAIT};
use super::{Site, WWW, expect_to_fit_the_width, submit_login};
use weaprous::auth::app::{Auth, AuthConfig};
use weaprous::auth::guard::LOGIN_PAGE;
use weaprous::auth::password::TEST_ITERATIONS;
use weaprous::chat::site::{self, CHAT_PAGE};
use weaprous::chat::{Chat, Settings};
use weaprous::http::files::StaticFiles;

/// The doc that explains what these scenarios check.
const DOC: &str = "docs/lab4_chat.md";

/// `docs/lab4_chat.md, "section"`, for failure messages.
fn see(section: &str) -> String {
    format!("{DOC}, \"{section}\"")
}

/// How long the chat page may take to be ready: it loads, asks who is
/// logged in, registers the tab's peer, joins `general`, lists the peers
/// and loads the history. On a busy 2-core machine that has taken 8 s.
pub(super) const READY: Duration = Duration::from_secs(30);

/// How long something may take to show in another user's browser: a
/// message comes at once over the event stream (within 2 s when the page
/// polls instead), a new peer with the side bar's refresh every 8 s.
pub(super) const ARRIVE: Duration = Duration::from_secs(30);

/// An account that the site creates at start.
#[derive(Clone, Copy, Debug)]
pub(super) struct User {
    pub(super) name: &'static str,
    pub(super) password: &'static str,
}

pub(super) const ALICE: User = User {
    name: "alice",
    password: "alice-password",
};
pub(super) const BOB: User = User {
    name: "bob",
    password: "bob-password",
};
pub(super) const CAROL: User = User {
    name: "carol",
    password: "carol-password",
};

/// The channel every peer joins on arrival (`chat.js`, `HOME_CHANNEL`).
pub(super) const GENERAL: &str = "general";

/// The message that would run a script if a page put it in as HTML.
const HOSTILE_MESSAGE: &str = "<img src=x onerror=alert(1)>";

/// Shift down (§15.4.2, the table of normalised keys); [`RELEASE_KEYS`]
/// lets it go. `"a" + SHIFT + ENTER + RELEASE_KEYS + "b"` types a line
/// break the way a person does in the composer.
const SHIFT: &str = "\u{E008}";

/// Releases the modifier keys held down (§15.4.2, "Null").
const RELEASE_KEYS: &str = "\u{E000}";

/// The environment variable that names the directory the screenshot test
/// writes its PNGs into: `WEAPROUS_SCREENSHOTS=docs/img` regenerates the
/// docs' pictures. Without it, they go to `target/tmp/screenshots/`.
const SCREENSHOTS_VARIABLE: &str = "WEAPROUS_SCREENSHOTS";

/// The lab 4 server, and its chat, for a scenario that sets up history
/// without a browser. The chat's event streams are closed when dropped.
pub(super) struct Lab4 {
    pub(super) site: Site,
    chat: Arc<Chat>,
}

impl Drop for Lab4 {
    fn drop(&mut self) {
        // No connection thread is left waiting for a heartbeat.
        self.chat.close_streams();
    }
}

/// The lab 4 application, built as `labs/lab4_chat.rs` builds it, with
/// the accounts of alice, bob and carol.
pub(super) fn lab4_site() -> Lab4 {
    let mut opened = None;
    let site = Site::start("browser-lab4", |data: &Path, clock| {
        let config = AuthConfig {
            iterations: TEST_ITERATIONS,
            ..AuthConfig::default()
        };
        let auth = Auth::open(data, config, clock.clone()).unwrap_or_else(|error| {
            panic!("cannot open the accounts in {}: {error}", data.display())
        });
        for user in [ALICE, BOB, CAROL] {
            if let Err(error) = auth.accounts().register(user.name, user.password) {
                panic!("cannot create the account {}: {error}", user.name);
            }
        }
        let settings = Settings {
            clock: clock.clone(),
            ..Settings::default()
        };
        let accounts = Arc::clone(&auth);
        let chat = Chat::open(data, settings, move |name| {
            accounts.accounts().contains(name)
        })
        .unwrap_or_else(|error| panic!("cannot open the chat in {}: {error}", data.display()));
        let chat = Arc::new(chat);
        let files = StaticFiles::new(WWW, clock)
            .unwrap_or_else(|error| panic!("cannot serve {WWW}: {error}"));
        opened = Some(Arc::clone(&chat));
        site::app(&auth, &chat, files)
    });
    let chat = opened.expect("Site::start runs the builder before it returns");
    Lab4 { site, chat }
}

/// Where the chat sends a visitor without a session, and where the login
/// page returns after logging in.
pub(super) fn login_then_chat() -> String {
    format!("{LOGIN_PAGE}?next={CHAT_PAGE}")
}

// ---- The chat page ------------------------------------------------------

/// One of `#app`'s `data-` attributes (`state`, `mode`, `conversation`),
/// or `None` while the page is not there.
fn app_data(browser: &Browser, key: &str) -> Option<String> {
    let script = "const app = document.getElementById('app'); \
                  return app ? (app.dataset[arguments[0]] || null) : null;";
    let value = browser.try_execute(script, &[json!(key)]).ok()?;
    value.as_str().map(str::to_string)
}

/// Waits for `#app[data-state=ready]`: the tab's peer registered, the
/// side bar listed and the first conversation open. Fails at once on
/// `failed`.
#[track_caller]
pub(super) fn wait_until_ready(browser: &Browser) {
    let expected = "the chat to be ready (`#app[data-state=ready]`)";
    browser.wait_for(expected, READY, |browser| {
        match app_data(browser, "state").as_deref() {
            Some("ready") => Some(()),
            Some("failed") => browser.fail(&format!("{expected}; it says `failed`")),
            _ => None,
        }
    });
}

/// Logs `user` in on the login page the chat sends visitors to, and waits
/// until the chat is ready.
#[track_caller]
fn open_chat(browser: &Browser, lab: &Lab4, user: User) {
    open_chat_at(browser, &lab.site.url(""), user);
}

/// [`open_chat`] on the server at `base` (`http://127.0.0.1:PORT`): lab 5
/// opens the same page on each peer node.
#[track_caller]
pub(super) fn open_chat_at(browser: &Browser, base: &str, user: User) {
    browser.step(
        &format!("log in as {} at {base} and open the chat", user.name),
        &see("What chat.js does"),
    );
    browser.goto(&format!("{base}{}", login_then_chat()));
    submit_login(browser, user.name, user.password);
    browser.wait_for_path(CHAT_PAGE, READY);
    wait_until_ready(browser);
}

/// A message as the page shows it: `#message-list .message`, its
/// `data-id`, `data-from`, `data-type`, whether it is `.own`, and the text
/// of its `.message-text`.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Shown {
    pub(super) id: String,
    pub(super) from: String,
    pub(super) kind: String,
    pub(super) own: bool,
    pub(super) text: String,
}

/// The script behind [`shown_messages`].
const SHOWN_MESSAGES: &str = "return Array.from(document.querySelectorAll('#message-list .message')) \
     .map((m) => { const text = m.querySelector('.message-text'); \
       return [m.dataset.id || '', m.dataset.from || '', m.dataset.type || '', \
               m.classList.contains('own'), text ? text.textContent : '']; });";

/// Every message of the open conversation, in the page's order; empty
/// while the page cannot be read.
pub(super) fn shown_messages(browser: &Browser) -> Vec<Shown> {
    let value = browser.try_execute(SHOWN_MESSAGES, &[]).unwrap_or_default();
    let rows = value.as_array().map(Vec::as_slice).unwrap_or_default();
    let text = |row: &Value, index: usize| row[index].as_str().unwrap_or_default().to_string();
    rows.iter()
        .map(|row| Shown {
            id: text(row, 0),
            from: text(row, 1),
            kind: text(row, 2),
            own: row[3] == Value::Bool(true),
            text: text(row, 4),
        })
        .collect()
}

/// Waits until the open conversation shows a message from `from` whose
/// text is exactly `text`, and returns it.
#[track_caller]
pub(super) fn wait_for_message(browser: &Browser, from: &str, text: &str) -> Shown {
    let expected = format!("a message from {from} reading {text:?} in `#message-list`");
    browser.wait_for(&expected, ARRIVE, |browser| {
        let shown = shown_messages(browser);
        shown
            .into_iter()
            .find(|message| message.from == from && message.text == text)
    })
}

/// Types `keys` into the composer and presses Enter, as a person sends on
/// a desktop; waits until a new message of the user's own shows, checks
/// that it reads `text` (what the keys type), and returns it.
#[track_caller]
fn send_typed(browser: &Browser, keys: &str, text: &str) -> Shown {
    let before: Vec<String> = shown_messages(browser)
        .into_iter()
        .map(|message| message.id)
        .collect();
    browser.fill("#composer", keys);
    browser.find("#composer").send_keys(ENTER);
    let expected = format!("our own new message {text:?} in `#message-list`");
    let sent = browser.wait_for(&expected, ARRIVE, |browser| {
        let shown = shown_messages(browser);
        shown
            .into_iter()
            .find(|message| message.own && !before.contains(&message.id))
    });
    browser.check(
        sent.text == text,
        &format!("our new message to read {text:?}; it reads {:?}", sent.text),
    );
    let left = browser.find("#composer").property("value");
    browser.check(
        left == "",
        &format!("the composer to be empty after sending; it holds {left}"),
    );
    sent
}

/// Waits until the open conversation shows the message `id`, and returns
/// it.
#[track_caller]
fn wait_for_id(browser: &Browser, id: &str) -> Shown {
    let expected = format!("the message {id} in `#message-list`");
    browser.wait_for(&expected, ARRIVE, |browser| {
        let shown = shown_messages(browser);
        shown.into_iter().find(|message| message.id == id)
    })
}

/// [`send_typed`] for a text without line breaks.
#[track_caller]
pub(super) fn send(browser: &Browser, text: &str) -> Shown {
    send_typed(browser, text, text)
}

/// Clicks a conversation in the side bar (it may take the side bar's
/// refresh to appear) and waits until it is the open one.
#[track_caller]
pub(super) fn open_conversation(browser: &Browser, css: &str, key: &str) {
    browser.wait_to_click(css, ARRIVE);
    browser.wait_until(
        &format!("`#app[data-conversation]` to be {key:?} after clicking `{css}`"),
        WAIT,
        |browser| app_data(browser, "conversation").as_deref() == Some(key),
    );
}

/// The side bar's entry of the channel `name`.
pub(super) fn channel_item(name: &str) -> String {
    format!(".conversation[data-channel=\"{name}\"]")
}

/// The side bar's entry of the peer `name`.
pub(super) fn peer_item(name: &str) -> String {
    format!(".conversation[data-peer=\"{name}\"]")
}

/// What the header shows: `#app[data-mode]`, `#app[data-conversation]`,
/// `#mode-title`, `#mode-badge`, and the badge's colour.
#[derive(Clone, Debug, PartialEq)]
struct Header {
    mode: String,
    conversation: String,
    title: String,
    badge: String,
    badge_colour: String,
}

/// The script behind [`header`].
const HEADER: &str = "const app = document.getElementById('app'); \
     const title = document.getElementById('mode-title'); \
     const badge = document.getElementById('mode-badge'); \
     if (!app || !title || !badge) return null; \
     return [app.dataset.mode || '', app.dataset.conversation || '', \
             title.textContent.trim(), badge.textContent.trim(), \
             getComputedStyle(badge).backgroundColor];";

fn header(browser: &Browser) -> Option<Header> {
    let value = browser.try_execute(HEADER, &[]).ok()?;
    let text = |index: usize| value.get(index)?.as_str().map(str::to_string);
    Some(Header {
        mode: text(0)?,
        conversation: text(1)?,
        title: text(2)?,
        badge: text(3)?,
        badge_colour: text(4)?,
    })
}

/// Waits until the header shows `mode` (`broadcast` or `direct`) for
/// `conversation`, with `title` and `badge`, and returns it.
#[track_caller]
fn expect_header(
    browser: &Browser,
    mode: &str,
    conversation: &str,
    title: &str,
    badge: &str,
) -> Header {
    let expected = format!(
        "the header of {conversation}: data-mode {mode:?}, title {title:?}, badge {badge:?}"
    );
    let mut last = None;
    let found = browser.wait_for(&expected, ARRIVE, |browser| {
        last = header(browser);
        last.clone().filter(|shown| {
            shown.mode == mode
                && shown.conversation == conversation
                && shown.title == title
                && shown.badge == badge
        })
    });
    let current = browser.execute(
        "const e = document.querySelector('.conversation[aria-current]'); \
         return e ? e.dataset.key : null;",
        &[],
    );
    browser.check(
        current == conversation,
        &format!("the side bar to mark {conversation:?} as open; it marks {current}"),
    );
    found
}

/// Replaces the page's `alert` with a recorder ([`alerts_called`] reads
/// it), so that a script that calls it is caught even if nothing shows.
#[track_caller]
fn record_alerts(browser: &Browser) {
    browser.execute(
        "window.alertsCalled = []; \
         window.alert = (text) => { window.alertsCalled.push(String(text)); };",
        &[],
    );
}

/// What was passed to `alert` since [`record_alerts`].
#[track_caller]
fn alerts_called(browser: &Browser) -> Value {
    browser.execute("return window.alertsCalled;", &[])
}

/// Fails if an `alert()` is open, or the page has an `img` element.
#[track_caller]
fn expect_no_markup_ran(browser: &Browser) {
    if let Some(alert) = browser.open_alert() {
        browser.fail(&format!("no alert; one is open, saying {alert:?}"));
    }
    let images = browser.execute("return document.querySelectorAll('img').length;", &[]);
    browser.check(
        images == 0,
        &format!("no `img` element in the page (the chat has none of its own); it has {images}"),
    );
}

/// An element's box in the viewport (`getBoundingClientRect`).
#[track_caller]
fn viewport_box(browser: &Browser, css: &str) -> Rect {
    let value = browser.execute(
        "const e = document.querySelector(arguments[0]); if (!e) return null; \
         const r = e.getBoundingClientRect(); return [r.left, r.top, r.width, r.height];",
        &[json!(css)],
    );
    let number = |index: usize| value.get(index).and_then(Value::as_f64);
    match (number(0), number(1), number(2), number(3)) {
        (Some(x), Some(y), Some(width), Some(height)) => Rect {
            x,
            y,
            width,
            height,
        },
        _ => browser.fail(&format!(
            "an element matching `{css}` to measure; got {value}"
        )),
    }
}

/// Fails unless the element matching `css` is wholly inside the viewport,
/// and returns its box.
#[track_caller]
fn expect_in_viewport(browser: &Browser, css: &str) -> Rect {
    let (width, height) = browser.viewport();
    let found = viewport_box(browser, css);
    browser.check(
        found.width > 0.0
            && found.height > 0.0
            && found.x >= 0.0
            && found.y >= 0.0
            && found.x + found.width <= f64::from(width)
            && found.y + found.height <= f64::from(height),
        &format!("`{css}` to be wholly inside the {width}×{height} viewport; its box is {found:?}"),
    );
    found
}

/// Alice and bob in the chat, each in a desktop browser of their own. Bob
/// logs in first, so that alice's side bar lists him from the start.
fn alice_and_bob(lab: &Lab4) -> (Browser, Browser) {
    let driver = Chromedriver::start();
    let alice = driver.browser("alice", DESKTOP);
    let bob = driver.browser("bob", DESKTOP);
    open_chat(&bob, lab, BOB);
    open_chat(&alice, lab, ALICE);
    (alice, bob)
}

// ---- The scenarios ------------------------------------------------------

#[test]
#[ignore = "needs chromium and chromedriver"]
fn lab4_browser_a_broadcast_reaches_the_other_user_without_a_reload() {
    let lab = lab4_site();
    let (alice, bob) = alice_and_bob(&lab);
    // A reload would start a new document, without this mark.
    for browser in [&alice, &bob] {
        browser.execute("window.sameDocument = true;", &[]);
    }

    alice.step(
        "alice sends a message to #general",
        &see("What chat.js does"),
    );
    let hello = "Hello bob! Can you see this?";
    let sent = send(&alice, hello);
    alice.check(
        sent.from == ALICE.name && sent.kind == "broadcast",
        &format!("alice's message to be a broadcast from alice; it shows as {sent:?}"),
    );

    bob.step(
        "bob sees it without reloading",
        &see("The stream, and polling when there is none"),
    );
    let arrived = wait_for_message(&bob, ALICE.name, hello);
    bob.check(
        arrived.kind == "broadcast" && !arrived.own && arrived.id == sent.id,
        &format!(
            "alice's broadcast, id {}, as another's; it shows as {arrived:?}",
            sent.id
        ),
    );

    bob.step(
        "bob answers with two lines (Shift+Enter), alice sees them",
        &see("The web UI"),
    );
    let keys = format!("Yes, live.{SHIFT}{ENTER}{RELEASE_KEYS}No reload needed.");
    let answer = "Yes, live.\nNo reload needed.";
    send_typed(&bob, &keys, answer);
    alice.step(
        "alice sees bob's two lines without reloading",
        &see("The stream, and polling when there is none"),
    );
    wait_for_message(&alice, BOB.name, answer);
    for browser in [&alice, &bob] {
        let same = browser.execute("return window.sameDocument === true;", &[]);
        browser.check(same == true, "the page not to have been reloaded");
    }
}

#[test]
#[ignore = "needs chromium and chromedriver"]
fn lab4_browser_a_direct_message_reaches_its_receiver_and_nobody_else() {
    let lab = lab4_site();
    let driver = Chromedriver::start();
    let alice = driver.browser("alice", DESKTOP);
    let bob = driver.browser("bob", DESKTOP);
    let carol = driver.browser("carol", DESKTOP);
    open_chat(&bob, &lab, BOB);
    open_chat(&carol, &lab, CAROL);
    open_chat(&alice, &lab, ALICE);
    let mut rng = Rng::from_time();
    let secret = format!("Only for bob: the code is {}", rng.below(1_000_000));

    alice.step(
        &format!(
            "alice opens bob and sends a direct message (seed {})",
            rng.seed
        ),
        &see("What chat.js does"),
    );
    open_conversation(&alice, &peer_item(BOB.name), "peer:bob");
    let sent = send(&alice, &secret);
    alice.check(
        sent.kind == "direct",
        &format!("a direct message; it shows as {sent:?}"),
    );

    bob.step(
        "bob is told of it in the side bar, and reads it",
        &see("What chat.js does"),
    );
    let unread = format!("{}[data-unread=\"1\"]", peer_item(ALICE.name));
    bob.wait_for_element(&unread, ARRIVE);
    open_conversation(&bob, &peer_item(ALICE.name), "peer:alice");
    let arrived = wait_for_message(&bob, ALICE.name, &secret);
    bob.check(
        arrived.kind == "direct" && arrived.id == sent.id,
        &format!(
            "alice's direct message, id {}; it shows as {arrived:?}",
            sent.id
        ),
    );

    alice.step(
        "alice broadcasts in #general after the direct message",
        &see("Ordering and durability"),
    );
    open_conversation(&alice, &channel_item(GENERAL), "channel:general");
    let after = "A broadcast, sent after the direct message";
    send(&alice, after);

    carol.step(
        "carol gets the later broadcast, so she would have had the direct message",
        &see("Peers belong to accounts"),
    );
    wait_for_message(&carol, ALICE.name, after);
    let text = carol.page_text();
    carol.check(
        !text.contains(&secret),
        &format!("nothing of alice's direct message to bob ({secret:?}) on carol's page"),
    );
    carol.step(
        "carol opens her conversation with alice: it is empty",
        &see("Peers belong to accounts"),
    );
    open_conversation(&carol, &peer_item(ALICE.name), "peer:alice");
    carol.wait_for_text(
        "#empty-title",
        "start of your conversation with alice",
        ARRIVE,
    );
    let shown = shown_messages(&carol);
    carol.check(
        shown.is_empty(),
        &format!("no message between carol and alice; the page shows {shown:?}"),
    );
}

#[test]
#[ignore = "needs chromium and chromedriver"]
fn lab4_browser_clicking_a_peer_switches_to_direct_mode_and_a_channel_back() {
    let lab = lab4_site();
    // Bob's browser only has to be there, as a peer for alice to click.
    let (alice, _bob) = alice_and_bob(&lab);

    alice.step(
        "the chat opens #general, in broadcast mode",
        &see("The web UI"),
    );
    let broadcast = expect_header(
        &alice,
        "broadcast",
        "channel:general",
        "# general",
        "Broadcast",
    );

    alice.step("click bob: direct mode", &see("The web UI"));
    alice.wait_to_click(&peer_item(BOB.name), ARRIVE);
    let direct = expect_header(
        &alice,
        "direct",
        "peer:bob",
        "Direct message with bob",
        "Direct",
    );
    alice.check(
        direct.badge_colour != broadcast.badge_colour,
        &format!(
            "the two modes to look different; the badge is {} in both",
            direct.badge_colour
        ),
    );
    let placeholder = alice.find("#composer").attribute("placeholder");
    alice.check(
        placeholder.as_deref() == Some("Message bob privately…"),
        &format!("the composer to say it writes to bob privately; it says {placeholder:?}"),
    );

    alice.step("click #general: broadcast mode again", &see("The web UI"));
    alice.wait_to_click(&channel_item(GENERAL), ARRIVE);
    let back = expect_header(
        &alice,
        "broadcast",
        "channel:general",
        "# general",
        "Broadcast",
    );
    alice.check(
        back.badge_colour == broadcast.badge_colour,
        &format!(
            "the broadcast colours again; the badge is {} (it was {})",
            back.badge_colour, broadcast.badge_colour
        ),
    );
}

#[test]
#[ignore = "needs chromium and chromedriver"]
fn lab4_browser_a_message_of_markup_is_shown_as_text_and_runs_nothing() {
    let lab = lab4_site();
    let (alice, bob) = alice_and_bob(&lab);
    for browser in [&alice, &bob] {
        record_alerts(browser);
    }

    alice.step(
        &format!("alice sends {HOSTILE_MESSAGE:?}"),
        &see("Why only textContent"),
    );
    let sent = send(&alice, HOSTILE_MESSAGE);

    bob.step(
        "bob gets it live, as its characters",
        &see("Why only textContent"),
    );
    let arrived = wait_for_id(&bob, &sent.id);
    for (browser, shown) in [(&alice, &sent), (&bob, &arrived)] {
        browser.step(
            "the message is text: no image, no alert",
            &see("Why only textContent"),
        );
        browser.check(
            shown.text == HOSTILE_MESSAGE,
            &format!(
                "the message to read {HOSTILE_MESSAGE:?}; it reads {:?}",
                shown.text
            ),
        );
        let markup = browser.execute(
            "const row = document.querySelector(`#message-list .message[data-id=\"${arguments[0]}\"]`); \
             return row ? row.querySelector('.message-text').children.length : null;",
            &[json!(shown.id)],
        );
        browser.check(
            markup == 0,
            &format!("the message's text to hold no element; it holds {markup}"),
        );
        let called = alerts_called(browser);
        browser.check(
            called == json!([]),
            &format!("`alert` never to be called; it was called with {called}"),
        );
        expect_no_markup_ran(browser);
    }

    bob.step(
        "bob reloads: the history draws it as text too",
        &see("Why only textContent"),
    );
    bob.refresh();
    wait_until_ready(&bob);
    let reloaded = wait_for_id(&bob, &sent.id);
    bob.check(
        reloaded.text == HOSTILE_MESSAGE,
        &format!(
            "the message to read {HOSTILE_MESSAGE:?}; it reads {:?}",
            reloaded.text
        ),
    );
    expect_no_markup_ran(&bob);
}

#[test]
#[ignore = "needs chromium and chromedriver"]
fn lab4_browser_a_reload_keeps_the_history() {
    let lab = lab4_site();
    let (alice, bob) = alice_and_bob(&lab);

    alice.step("alice and bob talk in #general", &see("What chat.js does"));
    send(&alice, "First, from alice.");
    send(&bob, "Second, from bob.");
    let last = send(&alice, "Third, from alice.");
    wait_for_message(&bob, ALICE.name, &last.text);
    let before = [shown_messages(&alice), shown_messages(&bob)];
    let ids = |shown: &[Shown]| -> Vec<String> {
        shown.iter().map(|message| message.id.clone()).collect()
    };
    bob.check(
        before[0].len() == 3 && ids(&before[0]) == ids(&before[1]),
        &format!(
            "both to show the same three messages in the same order; alice shows {:?}, bob {:?}",
            before[0], before[1]
        ),
    );

    for (browser, before) in [(&alice, &before[0]), (&bob, &before[1])] {
        browser.step(
            "reload: the same messages, in the same order",
            &see("Ordering and durability"),
        );
        browser.refresh();
        wait_until_ready(browser);
        let mut after = Vec::new();
        let expected = format!("the {} messages shown before the reload", before.len());
        browser.wait_until(&expected, ARRIVE, |browser| {
            after = shown_messages(browser);
            after.len() >= before.len()
        });
        browser.check(
            &after == before,
            &format!("after the reload {after:?}; before it {before:?}"),
        );
    }
}

#[test]
#[ignore = "needs chromium and chromedriver"]
fn lab4_browser_logout_returns_to_login_and_the_chat_then_refuses() {
    let lab = lab4_site();
    let alice = Chromedriver::start().browser("alice", DESKTOP);
    open_chat(&alice, &lab, ALICE);

    alice.step("click \"Log out\"", &see("What chat.js does"));
    alice.click("#logout");
    alice.wait_for_path(LOGIN_PAGE, READY);

    alice.step(
        "open the chat again: it sends the browser to the login page",
        &see("What chat.js does"),
    );
    alice.goto(&lab.site.url(CHAT_PAGE));
    alice.wait_for_path(&login_then_chat(), READY);
    alice.wait_for_text("h1", "Log in", WAIT);

    alice.step(
        "log in there: it returns to the chat",
        &see("What chat.js does"),
    );
    submit_login(&alice, ALICE.name, ALICE.password);
    alice.wait_for_path(CHAT_PAGE, READY);
    wait_until_ready(&alice);
}

#[test]
#[ignore = "needs chromium and chromedriver"]
fn lab4_browser_on_a_phone_the_composer_stays_in_view_and_sends() {
    let lab = lab4_site();
    // Carol has talked for a while: more than a phone's screen of messages.
    let earlier = 30;
    let chat = &lab.chat;
    let seeded = chat
        .register_peer(
            CAROL.name,
            CAROL.name,
            IpAddr::from([127, 0, 0, 1]),
            lab.site.port(),
        )
        .and_then(|_| chat.join(CAROL.name, None, GENERAL))
        .and_then(|_| {
            (1..=earlier).try_for_each(|n| {
                let text = format!("Earlier message {n} of {earlier}.");
                chat.broadcast(CAROL.name, None, GENERAL, &text).map(drop)
            })
        });
    if let Err(error) = seeded {
        panic!("cannot post carol's earlier messages: {error}");
    }
    let driver = Chromedriver::start();
    let bob = driver.browser("bob", PHONE);
    let alice = driver.browser("alice", DESKTOP);
    open_chat(&bob, &lab, BOB);
    open_chat(&alice, &lab, ALICE);

    bob.step(
        "a 390 px phone: the conversation fills the screen, the composer is in view",
        &see("The web UI"),
    );
    let (width, height) = bob.viewport();
    bob.check(
        (width, height) == (PHONE.width, PHONE.height),
        &format!(
            "a {}×{} viewport; it is {width}×{height}",
            PHONE.width, PHONE.height
        ),
    );
    expect_to_fit_the_width(&bob, "#composer");
    bob.check(
        bob.find("#sidebar-toggle").is_displayed(),
        "the side bar's menu button (`#sidebar-toggle`) on a phone",
    );
    let latest = format!("Earlier message {earlier} of {earlier}.");
    wait_for_message(&bob, CAROL.name, &latest);
    let overflows = bob.execute(
        "const box = document.getElementById('messages'); \
         return box.scrollHeight > box.clientHeight;",
        &[],
    );
    bob.check(
        overflows == true,
        "more messages than fit the screen (the test needs them to mean anything)",
    );
    let composer = expect_in_viewport(&bob, "#composer");
    expect_in_viewport(&bob, "#send");
    let newest = format!(
        "#message-list .message[data-from=\"{}\"]:last-child",
        CAROL.name
    );
    let shown = expect_in_viewport(&bob, &newest);
    bob.check(
        shown.y + shown.height <= composer.y,
        &format!(
            "the newest message above the composer; it is at {shown:?}, the composer at {composer:?}"
        ),
    );

    bob.step("bob types and taps the send button", &see("The web UI"));
    let text = "Sent from my phone.";
    bob.find("#composer").click();
    bob.fill("#composer", text);
    bob.click("#send");
    let sent = bob.wait_for("bob's own message in `#message-list`", ARRIVE, |browser| {
        shown_messages(browser)
            .into_iter()
            .find(|message| message.own && message.text == text)
    });
    let composer = expect_in_viewport(&bob, "#composer");
    let own = expect_in_viewport(
        &bob,
        &format!("#message-list .message[data-id=\"{}\"]", sent.id),
    );
    bob.check(
        own.y + own.height <= composer.y,
        &format!("bob's message in view above the composer; it is at {own:?}, the composer at {composer:?}"),
    );

    alice.step("alice, on a desktop, gets it", &see("What chat.js does"));
    wait_for_message(&alice, BOB.name, text);
}

#[test]
#[ignore = "needs chromium and chromedriver"]
fn lab4_browser_a_newcomer_registers_on_the_login_page_and_reaches_the_chat() {
    let lab = lab4_site();
    let browser = Chromedriver::start().browser("newcomer", DESKTOP);
    let mut rng = Rng::from_time();
    let username = format!("newcomer{}", rng.below(1_000_000));
    let password = format!("secret-{}", rng.next_u64());

    browser.step(
        "open the site without an account: the login page",
        &see("What chat.js does"),
    );
    browser.goto(&lab.site.url("/"));
    browser.wait_for_path(&login_then_chat(), READY);

    browser.step(
        &format!("register {username} (seed {})", rng.seed),
        &see("What chat.js does"),
    );
    browser.click("#switch");
    browser.wait_for_text("h1", "Create an account", WAIT);
    submit_login(&browser, &username, &password);
    browser.wait_for_path(CHAT_PAGE, READY);
    wait_until_ready(&browser);

    browser.step(
        "the chat knows the newcomer and lets them post",
        &see("What chat.js does"),
    );
    let me = browser.text("#peer-name-text");
    browser.check(
        me == username,
        &format!("\"you are {username}\"; the page says {me:?}"),
    );
    expect_header(
        &browser,
        "broadcast",
        "channel:general",
        "# general",
        "Broadcast",
    );
    send(&browser, "Hello, I am new here.");
}

// ---- Screenshots for the docs ---------------------------------------------

/// The login page's screenshot is this size: the card and a margin
/// around it. The chat at this width still has its side bar.
const SMALL_DESKTOP: Screen = Screen {
    width: 1000,
    height: 560,
    ..DESKTOP
};

/// The phone's screenshot has two device pixels per CSS pixel, to look
/// sharp when the docs show it small.
const SHARP_PHONE: Screen = Screen {
    pixel_ratio: 2,
    ..PHONE
};

/// Where the screenshots go: `$WEAPROUS_SCREENSHOTS` (relative to the
/// crate), else `target/tmp/screenshots/`.
fn screenshot_dir() -> PathBuf {
    match env::var_os(SCREENSHOTS_VARIABLE) {
        Some(dir) => Path::new(env!("CARGO_MANIFEST_DIR")).join(dir),
        None => Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots"),
    }
}

/// Saves a screenshot and says where.
#[track_caller]
fn save(browser: &Browser, dir: &Path, name: &str) {
    let path = dir.join(name);
    browser.screenshot(&path);
    println!("saved {}", path.display());
}

/// Waits until the side bar shows `css` (an entry and its state).
#[track_caller]
fn wait_for_sidebar(browser: &Browser, css: &str) {
    browser.wait_for_element(css, ARRIVE);
}

/// A morning in the class's chat, through the UI, then screenshots:
/// `login.png` (the login page), `chat-desktop.png` (alice in #general,
/// with a direct message from bob waiting) and `chat-phone.png` (bob's
/// phone, in his direct conversation with alice). Written to
/// `$WEAPROUS_SCREENSHOTS` (`WEAPROUS_SCREENSHOTS=docs/img` regenerates
/// the docs' pictures) or else `target/tmp/screenshots/`.
#[test]
#[ignore = "needs chromium and chromedriver"]
fn lab4_browser_screenshots_for_the_docs() {
    let dir = screenshot_dir();
    let lab = lab4_site();
    let driver = Chromedriver::start();
    let carol = driver.browser("carol", SMALL_DESKTOP);
    let bob = driver.browser("bob", SHARP_PHONE);
    let alice = driver.browser("alice", DESKTOP);

    carol.step("the login page", &see("Running it"));
    carol.goto(&lab.site.url(&login_then_chat()));
    carol.wait_for_text("h1", "Log in", WAIT);
    save(&carol, &dir, "login.png");

    carol.step("carol, bob and alice talk in #general", &see("The web UI"));
    open_chat(&carol, &lab, CAROL);
    send(
        &carol,
        "Morning everyone! Lab 4 is up: the chat runs on our own HTTP server.",
    );
    open_chat(&bob, &lab, BOB);
    open_chat(&alice, &lab, ALICE);
    send(
        &alice,
        "Hi Carol! So the tracker is the part that keeps the list of peers?",
    );
    send(
        &bob,
        "Yes: /submit-info registers you, and /get-list is how we find each other.",
    );
    send(
        &bob,
        "And /events pushes each new message as it is stored. No polling!",
    );
    send(&carol, HOSTILE_MESSAGE);
    send(
        &carol,
        "(That was a test: it must show up as plain text, and it does.)",
    );
    let keys = format!("Shift+Enter for a new line,{SHIFT}{ENTER}{RELEASE_KEYS}Enter to send.");
    send_typed(&alice, &keys, "Shift+Enter for a new line,\nEnter to send.");

    carol.step("carol opens #networks and posts there", &see("The web UI"));
    carol.click("#new-channel");
    carol.fill("#join-channel", "networks");
    carol.click("#join-submit");
    expect_header(
        &carol,
        "broadcast",
        "channel:networks",
        "# networks",
        "Broadcast",
    );
    send(
        &carol,
        "Slides for Thursday are up: TCP congestion control, with the trace from class.",
    );

    bob.step(
        "bob opens the menu, picks alice, and writes to her",
        &see("The web UI"),
    );
    bob.click("#sidebar-toggle");
    open_conversation(&bob, &peer_item(ALICE.name), "peer:alice");
    send(&bob, "Want to pair on lab 5 tonight?");

    alice.step(
        "alice's desktop: #general, with bob's message and #networks waiting",
        &see("The web UI"),
    );
    for waiting in [peer_item(BOB.name), channel_item("networks")] {
        wait_for_sidebar(&alice, &format!("{waiting}[data-unread=\"1\"]"));
    }
    for person in [BOB.name, CAROL.name] {
        wait_for_sidebar(
            &alice,
            &format!("{}[data-online=\"true\"]", peer_item(person)),
        );
    }
    alice.wait_for_element("#status[data-state=live]", ARRIVE);
    save(&alice, &dir, "chat-desktop.png");

    alice.step(
        "alice answers bob in their direct conversation",
        &see("The web UI"),
    );
    open_conversation(&alice, &peer_item(BOB.name), "peer:bob");
    send(&alice, "Sure! 8 pm in the lab?");
    wait_for_message(&bob, ALICE.name, "Sure! 8 pm in the lab?");
    send(&bob, "Deal. I'll bring my notes on the peer protocol.");
    send(
        &alice,
        "Let's start with the framing: a length, then the JSON.",
    );
    send(&bob, "And a test that cuts a frame in half.");
    send(&alice, "Great, see you there.");

    bob.step(
        "bob's phone: the direct conversation with alice",
        &see("The web UI"),
    );
    wait_for_message(&bob, ALICE.name, "Great, see you there.");
    bob.wait_for_element("#status[data-state=live]", ARRIVE);
    save(&bob, &dir, "chat-phone.png");
}
