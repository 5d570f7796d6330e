//! Lab 5 in a real browser: the lab 4 page, unchanged, served by peer
//! nodes — three nodes kept logged in side by side in one browser (their
//! cookies carry their ports), messages going from node to node, a live
//! message, and a peer that cannot be reached reported by the page.
//!
//! The tracker is the lab 4 application with alice, bob and carol
//! (`lab4::lab4_site`); each user's node is the lab 5 library started
//! in-process (`weaprous::p2p::start`) on port 0, with a data directory of
//! its own and the real `www/`. The page helpers are lab 4's.

use std::path::PathBuf;

use super::lab4::{
    ALICE, BOB, CAROL, GENERAL, Lab4, READY, User, channel_item, lab4_site, open_chat_at,
    open_conversation, peer_item, send, wait_for_message, wait_until_ready,
};
use super::support::TempDir;
use super::support::webdriver::{Browser, Chromedriver, DESKTOP, WAIT};
use super::{Site, WWW};
use weaprous::chat::site::CHAT_PAGE;
use weaprous::clock::Clock;
use weaprous::http::Config;
use weaprous::p2p::{NodeSettings, PeerConfig, RunningPeer};

/// `docs/lab5_peer.md, "section"`, for failure messages.
fn see(section: &str) -> String {
    format!("docs/lab5_peer.md, \"{section}\"")
}

/// A tracker and one peer node per user.
struct Class {
    /// Kept running for as long as the nodes.
    _tracker: Lab4,
    /// Each user's node (`None` once stopped) and its data directory.
    nodes: Vec<(Option<RunningPeer>, TempDir)>,
}

impl Class {
    /// The tracker with alice, bob and carol, and a node for each, in that
    /// order.
    fn start() -> Class {
        let tracker = lab4_site();
        let nodes = [ALICE, BOB, CAROL]
            .iter()
            .map(|user| {
                let dir = TempDir::new(&format!("browser-lab5-{}", user.name));
                let node = node(&tracker.site, dir.path.clone());
                (Some(node), dir)
            })
            .collect();
        Class {
            _tracker: tracker,
            nodes,
        }
    }

    /// `http://127.0.0.1:PORT` of the `n`th user's node.
    fn base(&self, n: usize) -> String {
        let node = self.nodes[n].0.as_ref().expect("the node is running");
        format!("http://{}", node.addr())
    }

    /// Stops the `n`th user's node.
    fn stop(&mut self, n: usize) {
        if let Some(node) = self.nodes[n].0.take() {
            node.shutdown();
        }
    }
}

impl Drop for Class {
    fn drop(&mut self) {
        for n in 0..self.nodes.len() {
            self.stop(n);
        }
    }
}

/// A peer node for the tracker of `site`, on data directory `data`, with
/// the system clock (a browser lives in real time).
fn node(site: &Site, data: PathBuf) -> RunningPeer {
    let clock = Clock::system();
    let config = PeerConfig {
        tracker: site.url(""),
        http_addr: ([127, 0, 0, 1], 0).into(),
        p2p_addr: ([127, 0, 0, 1], 0).into(),
        advertise: None,
        data,
        www: PathBuf::from(WWW),
        http: Config {
            clock: clock.clone(),
            quiet: true,
            ..Config::default()
        },
        max_connections: 64,
        node: NodeSettings {
            clock,
            quiet: true,
            ..NodeSettings::default()
        },
    };
    weaprous::p2p::start(config).unwrap_or_else(|error| panic!("cannot start a peer node: {error}"))
}

/// Opens `/chat.html` of the node at `base` in a browser already logged in
/// there, and waits until it is ready as `user`'s peer.
#[track_caller]
fn reopen_chat(browser: &Browser, base: &str, user: User) {
    browser.goto(&format!("{base}{CHAT_PAGE}"));
    wait_until_ready(browser);
    browser.check(
        browser.path() == CHAT_PAGE,
        "to stay on the chat: this node's session cookie is still there",
    );
    browser.wait_for_text("#peer-name-text", user.name, WAIT);
}

#[test]
#[ignore = "needs chromium and chromedriver"]
fn lab5_browser_three_peer_nodes_in_one_browser_keep_their_logins_and_chat() {
    let class = Class::start();
    let driver = Chromedriver::start();
    // One browser: its tabs would share one cookie jar, as this window does.
    let browser = driver.browser("teacher", DESKTOP);
    let users = [ALICE, BOB, CAROL];
    for (n, user) in users.iter().enumerate() {
        open_chat_at(&browser, &class.base(n), *user);
    }

    browser.step(
        "back to alice's node: the logins at bob's and carol's nodes did not log alice out",
        &see("Running three peers"),
    );
    reopen_chat(&browser, &class.base(0), ALICE);
    let news = "Hello from alice's node";
    send(&browser, news);

    browser.step(
        "bob's node has alice's broadcast in its own history",
        &see("Client-server, peer-to-peer, hybrid"),
    );
    reopen_chat(&browser, &class.base(1), BOB);
    wait_for_message(&browser, ALICE.name, news);
    open_conversation(&browser, &peer_item(ALICE.name), "peer:alice");
    let secret = "A secret from bob to alice";
    send(&browser, secret);

    browser.step(
        "carol's node has the broadcast and not bob's direct message",
        &see("Client-server, peer-to-peer, hybrid"),
    );
    reopen_chat(&browser, &class.base(2), CAROL);
    open_conversation(&browser, &channel_item(GENERAL), "channel:general");
    wait_for_message(&browser, ALICE.name, news);
    let text = browser.page_text();
    browser.check(
        !text.contains(secret),
        &format!("nothing of bob's direct message to alice ({secret:?}) at carol's node"),
    );

    browser.step(
        "alice's node has bob's direct message",
        &see("Client-server, peer-to-peer, hybrid"),
    );
    reopen_chat(&browser, &class.base(0), ALICE);
    open_conversation(&browser, &peer_item(BOB.name), "peer:bob");
    wait_for_message(&browser, BOB.name, secret);
}

#[test]
#[ignore = "needs chromium and chromedriver"]
fn lab5_browser_a_message_arrives_live_and_an_unreachable_peer_is_reported() {
    let mut class = Class::start();
    let driver = Chromedriver::start();
    let alice = driver.browser("alice", DESKTOP);
    let bob = driver.browser("bob", DESKTOP);
    let carol = driver.browser("carol", DESKTOP);
    // Carol and bob first, so that alice's side bar lists them at once.
    open_chat_at(&carol, &class.base(2), CAROL);
    open_chat_at(&bob, &class.base(1), BOB);
    open_chat_at(&alice, &class.base(0), ALICE);

    alice.step(
        "alice broadcasts; bob's page shows it without a reload",
        &see("One UI, two architectures"),
    );
    bob.execute("window.sameDocument = true;", &[]);
    let live = "Straight from alice's node to bob's";
    send(&alice, live);
    wait_for_message(&bob, ALICE.name, live);
    let same = bob.execute("return window.sameDocument === true;", &[]);
    bob.check(same == true, "the page not to have been reloaded");

    alice.step(
        "carol's node stops; alice writes to her and is told it is queued",
        &see("Failures"),
    );
    class.stop(2);
    drop(carol);
    open_conversation(&alice, &peer_item(CAROL.name), "peer:carol");
    send(&alice, "Carol, are you there?");
    alice.wait_for_text("#notice-text", "carol (queued, will retry)", READY);
    let notice = alice.find("#notice").attribute("data-kind");
    alice.check(
        notice.as_deref() == Some("info"),
        &format!("a delivery report (`#notice[data-kind=info]`); it is {notice:?}"),
    );
}
