//! Live updates: every new message is pushed at once to the event streams
//! of the accounts that may see it, in the Server-Sent Events format (the
//! HTML Living Standard, §9.2 "Server-sent events").
//!
//! **Fan-out.** Each open `GET /events` stream is a [`Subscription`]: its
//! account, and a bounded queue ([`QUEUE_CAPACITY`] messages). When the
//! store has made a batch durable it calls [`Events::publish`], which
//! *tries* to put each message in the queue of every subscriber that may
//! see it (broadcasts: everyone; direct messages: the two peers'
//! accounts) and never waits. A queue that is full belongs to a stream
//! that is not keeping up — a stalled client, a dead connection not yet
//! noticed — and that subscriber is dropped: its stream sends what is
//! already queued and ends, and the browser's `EventSource` reconnects by
//! itself with `Last-Event-ID` and catches up from the store. So one slow
//! reader costs a reconnection, never a delay for the senders or for the
//! other readers.
//!
//! **Resuming without a gap or a duplicate** ([`pump`]). A stream that
//! resumes after id N must send every visible message above N exactly
//! once, while new messages keep arriving. The order of steps decides it:
//!
//! 1. subscribe: from now on, every new message is also queued;
//! 2. replay from the store every visible message above N, page by page,
//!    until a page comes back short — everything in the store is sent;
//! 3. send from the queue, skipping ids up to the last one replayed.
//!
//! A message stored before step 1 is in the store when step 2 reads it
//! (the store adds a batch to its index *before* publishing it); a message
//! stored after step 1 is queued. One stored in between is in both, and
//! step 3 skips the copy. Subscribing after the replay instead would lose
//! every message stored between the two.
//!
//! **Wire format** (§9.2.6, "Interpreting an event stream"): an event is
//! `id: N` and `data: {EVENT}` lines and a blank line; the browser
//! remembers the last `id` and sends it back as the `Last-Event-ID`
//! header when it reconnects. A line starting with `:` is a comment the
//! browser ignores: the stream opens with one (so a client knows it is
//! subscribed) and sends `: ping` after [`HEARTBEAT`] without news, which
//! keeps proxies from closing an idle connection and makes a write fail
//! soon after the client has gone. Our EVENT JSON never holds a raw line
//! break (the JSON writer escapes them), so one `data:` line is enough.
//!
//! Left out on purpose: named event types (`event:`; every event here is a
//! message), the `retry:` field (the browser's default of a few seconds
//! is fine), and the streams' own ids or filters (one stream per tab
//! carries everything its account may see).

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::Path;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::store::{Message, Store};
use crate::clock::Clock;

/// Default size of a subscriber's queue, in messages. A stream that falls
/// this far behind is dropped (and resumes).
pub const QUEUE_CAPACITY: usize = 1024;

/// Default time without news after which a stream sends a `: ping`.
pub const HEARTBEAT: Duration = Duration::from_secs(15);

/// How many messages a resuming stream reads from the store at a time.
pub const REPLAY_PAGE: usize = 1000;

/// The media type of an event stream (§9.2.2); always UTF-8.
pub const CONTENT_TYPE: &str = "text/event-stream";

/// The comment a stream opens with, once it is subscribed.
pub const OPENING: &[u8] = b": connected\n\n";

/// The heartbeat comment.
pub const PING: &[u8] = b": ping\n\n";

/// Appends `message` to `out` as one event: `id: N`, `data: {EVENT}`, and
/// the blank line that ends an event.
pub fn write_event(out: &mut Vec<u8>, message: &Message) {
    out.extend_from_slice(b"id: ");
    out.extend_from_slice(message.id().to_string().as_bytes());
    out.extend_from_slice(b"\ndata: ");
    out.extend_from_slice(message.event_json().as_bytes());
    out.extend_from_slice(b"\n\n");
}

/// Opens the message store of data directory `dir` with a fan-out of its
/// own: every batch the store makes durable is published to it. What a
/// chat server (and each of lab 5's peer nodes) reads from and streams.
pub fn open_store(dir: &Path, clock: Clock, capacity: usize) -> io::Result<(Store, Arc<Events>)> {
    let events = Arc::new(Events::new(capacity));
    let publisher = Arc::clone(&events);
    let store = Store::open(dir, clock, move |batch: &[Arc<Message>]| {
        publisher.publish(batch)
    })?;
    Ok((store, events))
}

/// The subscribers of one chat; share it with an `Arc`.
pub struct Events {
    capacity: usize,
    /// The subscribers and the count of streams per account. Held only to
    /// add or remove a subscriber, count, or offer a batch — offering only
    /// *tries* to queue, so it never blocks — and never while taking
    /// another lock: it cannot deadlock, and a sender never waits on a
    /// reader.
    table: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    next_key: u64,
    /// Subscribers still being fed, by key.
    live: HashMap<u64, Subscriber>,
    /// Account → how many of its streams are open (fed or not).
    streams: HashMap<String, usize>,
}

/// The sending end of one subscription.
struct Subscriber {
    account: String,
    queue: SyncSender<Arc<Message>>,
}

impl Subscriber {
    /// Queues the messages of `batch` this subscriber may see; `false` if
    /// the queue is full or its stream is gone (drop the subscriber).
    fn offer(&self, batch: &[Arc<Message>]) -> bool {
        // lab4: begin — queue what this account may see; never wait on a full queue
        batch
            .iter()
            .filter(|message| message.visible_to(&self.account))
            .all(|message| self.queue.try_send(Arc::clone(message)).is_ok())
        // lab4: end
    }
}

impl Events {
    /// No subscribers yet; each will get a queue of `capacity` messages.
    pub fn new(capacity: usize) -> Events {
        Events {
            capacity,
            table: Mutex::new(Table::default()),
        }
    }

    /// Subscribes a stream of `account`: from now on, every message it may
    /// see is queued for it, until the subscription is dropped or falls
    /// behind.
    pub fn subscribe(self: &Arc<Self>, account: &str) -> Subscription {
        let (queue, receiver) = mpsc::sync_channel(self.capacity);
        let mut table = self.table();
        let key = table.next_key;
        table.next_key += 1;
        table.live.insert(
            key,
            Subscriber {
                account: account.to_string(),
                queue,
            },
        );
        *table.streams.entry(account.to_string()).or_default() += 1;
        Subscription {
            events: Arc::clone(self),
            key,
            account: account.to_string(),
            receiver,
            delivered_through: 0,
            capacity: self.capacity,
        }
    }

    /// Offers a durable batch (in id order) to every subscriber; drops
    /// those whose queue is full. Never blocks.
    pub fn publish(&self, batch: &[Arc<Message>]) {
        self.table()
            .live
            .retain(|_, subscriber| subscriber.offer(batch));
    }

    /// Whether `account` has an event stream open.
    pub fn has_stream(&self, account: &str) -> bool {
        self.table().streams.contains_key(account)
    }

    /// How many subscribers are being fed (dropped ones not counted).
    pub fn subscribers(&self) -> usize {
        self.table().live.len()
    }

    /// Drops every subscriber: each stream sends what is queued and ends.
    /// For a server that is shutting down.
    pub fn close(&self) {
        self.table().live.clear();
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        // Poisoned only by a panic while it was held; every change to the
        // table is one insert or remove, so it is consistent.
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What [`Subscription::wait`] found.
#[derive(Debug)]
pub enum Wait {
    /// New messages, in id order (none if all were skipped).
    Messages(Vec<Arc<Message>>),
    /// Nothing arrived in time.
    Idle,
    /// The subscriber was dropped (fell behind, or the chat closed) and
    /// everything queued has been taken: the stream should end.
    Closed,
}

/// The receiving end of one event stream. Dropping it unsubscribes.
pub struct Subscription {
    events: Arc<Events>,
    key: u64,
    account: String,
    receiver: Receiver<Arc<Message>>,
    /// The highest id delivered (or replayed); lower ones are skipped.
    delivered_through: u64,
    capacity: usize,
}

impl Subscription {
    /// Skips messages with an id up to `id` from now on: they were sent
    /// already (by a replay from the store).
    pub fn skip_through(&mut self, id: u64) {
        self.delivered_through = self.delivered_through.max(id);
    }

    /// Waits up to `timeout` for news, then takes everything queued.
    pub fn wait(&mut self, timeout: Duration) -> Wait {
        let first = match self.receiver.recv_timeout(timeout) {
            Ok(message) => message,
            Err(RecvTimeoutError::Timeout) => return Wait::Idle,
            Err(RecvTimeoutError::Disconnected) => return Wait::Closed,
        };
        let queued = self.receiver.try_iter().take(self.capacity);
        let mut news: Vec<Arc<Message>> = std::iter::once(first).chain(queued).collect();
        news.retain(|message| message.id() > self.delivered_through);
        if let Some(last) = news.last() {
            self.delivered_through = last.id();
        }
        Wait::Messages(news)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut table = self.events.table();
        table.live.remove(&self.key);
        if let Some(count) = table.streams.get_mut(&self.account) {
            *count -= 1;
            if *count == 0 {
                table.streams.remove(&self.account);
            }
        }
    }
}

/// Runs one event stream on `out` until the subscriber is dropped or a
/// write fails (the client has gone): the opening comment, then, when
/// `last_event_id` is given, every message after it from `replay(after,
/// REPLAY_PAGE)` (the store's visible messages above `after`, oldest
/// first), then live messages from `subscription`, with a ping after
/// `heartbeat` without any. See the module documentation for why this
/// order loses and repeats nothing. Each batch is one write.
pub fn pump(
    mut subscription: Subscription,
    last_event_id: Option<u64>,
    mut replay: impl FnMut(u64, usize) -> Vec<Arc<Message>>,
    heartbeat: Duration,
    out: &mut dyn Write,
) -> io::Result<()> {
    out.write_all(OPENING)?;
    let mut buffer: Vec<u8> = Vec::new();
    // lab4: begin — replay from the store after subscribing, then skip what the replay sent
    if let Some(mut after) = last_event_id {
        loop {
            let page = replay(after, REPLAY_PAGE);
            send(out, &mut buffer, &page)?;
            if let Some(last) = page.last() {
                after = last.id();
            }
            if page.len() < REPLAY_PAGE {
                break;
            }
        }
        subscription.skip_through(after);
    }
    loop {
        match subscription.wait(heartbeat) {
            Wait::Messages(news) => send(out, &mut buffer, &news)?,
            Wait::Idle => out.write_all(PING)?,
            Wait::Closed => return Ok(()),
        }
    }
    // lab4: end
}

/// Writes `messages` as events with one write (none if there are none).
fn send(out: &mut dyn Write, buffer: &mut Vec<u8>, messages: &[Arc<Message>]) -> io::Result<()> {
    if messages.is_empty() {
        return Ok(());
    }
    buffer.clear();
    for message in messages {
        write_event(buffer, message);
    }
    out.write_all(buffer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::store::{Draft, Party, Store};
    use crate::chat::testing::pipe;
    use crate::clock::Clock;
    use crate::durable::TempDir;
    use std::thread;

    /// A store whose commits are published to `events`.
    fn store_for(dir: &TempDir, events: &Arc<Events>) -> Store {
        let events = Arc::clone(events);
        Store::open(
            dir.path(),
            Clock::manual().0,
            move |batch: &[Arc<Message>]| events.publish(batch),
        )
        .expect("open store")
    }

    fn draft(from: (&str, &str), to: Option<(&str, &str)>, text: &str) -> Draft {
        let party = |(peer, account): (&str, &str)| Party {
            peer: peer.to_string(),
            account: account.to_string(),
        };
        Draft {
            from: party(from),
            to: to.map(party),
            channel: Some("general".to_string()),
            text: text.to_string(),
        }
    }

    fn post(store: &Store, text: &str) -> Arc<Message> {
        store
            .append(draft(("ann", "alice"), None, text))
            .expect("append")
    }

    fn texts(news: Wait) -> Vec<String> {
        match news {
            Wait::Messages(messages) => messages.iter().map(|m| m.text().to_string()).collect(),
            other => panic!("expected messages, got {other:?}"),
        }
    }

    #[test]
    fn an_event_is_an_id_line_a_data_line_and_a_blank_line() {
        let dir = TempDir::new("events");
        let events = Arc::new(Events::new(QUEUE_CAPACITY));
        let store = store_for(&dir, &events);
        let message = post(&store, "two\nlines");
        let mut out = Vec::new();
        write_event(&mut out, &message);
        assert_eq!(
            String::from_utf8_lossy(&out),
            format!("id: 1\ndata: {}\n\n", message.event_json()),
        );
        assert!(
            message.event_json().contains(r#""message":"two\nlines""#),
            "a line break in the text is escaped, so the data stays on one line"
        );
    }

    #[test]
    fn direct_messages_reach_only_the_two_accounts() {
        let dir = TempDir::new("events");
        let events = Arc::new(Events::new(QUEUE_CAPACITY));
        let store = store_for(&dir, &events);
        let mut alice = events.subscribe("alice");
        let mut bob = events.subscribe("bob");
        let mut carol = events.subscribe("carol");
        store
            .append(draft(("ann", "alice"), Some(("bo", "bob")), "for bob"))
            .expect("dm");
        post(&store, "for all");
        let wait = Duration::from_secs(10);
        assert_eq!(
            texts(alice.wait(wait)),
            ["for bob", "for all"],
            "the sender's account"
        );
        assert_eq!(
            texts(bob.wait(wait)),
            ["for bob", "for all"],
            "the receiver's account"
        );
        assert_eq!(
            texts(carol.wait(wait)),
            ["for all"],
            "carol must not see the DM"
        );
    }

    #[test]
    fn a_full_queue_drops_the_subscriber_without_blocking_the_sender() {
        let dir = TempDir::new("events");
        let events = Arc::new(Events::new(4));
        let store = store_for(&dir, &events);
        let mut slow = events.subscribe("alice");
        // Ten acknowledged sends while nobody reads: each returns at once.
        for n in 1..=10 {
            post(&store, &format!("m{n}"));
        }
        assert_eq!(events.subscribers(), 0, "the slow subscriber was dropped");
        assert!(
            events.has_stream("alice"),
            "its stream is still open until it ends"
        );
        assert_eq!(
            texts(slow.wait(Duration::from_secs(10))),
            ["m1", "m2", "m3", "m4"],
            "what was queued is still delivered"
        );
        assert!(
            matches!(slow.wait(Duration::from_secs(10)), Wait::Closed),
            "then the stream is told to end"
        );
        drop(slow);
        assert!(!events.has_stream("alice"), "the stream is gone");
    }

    #[test]
    fn open_streams_are_counted_per_account() {
        let events = Arc::new(Events::new(QUEUE_CAPACITY));
        let first = events.subscribe("alice");
        let second = events.subscribe("alice");
        assert!(events.has_stream("alice") && !events.has_stream("bob"));
        drop(first);
        assert!(events.has_stream("alice"), "one stream left");
        drop(second);
        assert!(!events.has_stream("alice"));
        assert_eq!(events.subscribers(), 0);
    }

    #[test]
    fn a_resumed_stream_has_no_gap_and_no_duplicate_while_messages_keep_coming() {
        const TOTAL: u64 = 400;
        const RESUME_AFTER: u64 = 150;
        let dir = TempDir::new("events");
        let events = Arc::new(Events::new(QUEUE_CAPACITY));
        let store = Arc::new(store_for(&dir, &events));
        let (out, mut reader) = pipe();
        thread::scope(|scope| {
            let sender = Arc::clone(&store);
            let sending = scope.spawn(move || {
                for n in 1..=TOTAL {
                    post(&sender, &format!("m{n}"));
                }
            });
            // Resume somewhere while the sender is busy.
            while store.len() < RESUME_AFTER as usize {
                thread::yield_now();
            }
            let subscription = events.subscribe("carol");
            let replay_store = Arc::clone(&store);
            scope.spawn(move || {
                let mut out = out;
                let replay = |after, limit| replay_store.visible_after("carol", after, limit);
                let _ = pump(
                    subscription,
                    Some(RESUME_AFTER),
                    replay,
                    Duration::from_millis(20),
                    &mut out,
                );
            });
            let ids: Vec<u64> = reader
                .events((TOTAL - RESUME_AFTER) as usize)
                .into_iter()
                .map(|(id, _)| id)
                .collect();
            let expected: Vec<u64> = (RESUME_AFTER + 1..=TOTAL).collect();
            assert_eq!(
                ids, expected,
                "resuming after {RESUME_AFTER}: every later id once, in order"
            );
            sending.join().expect("sender");
            events.close();
        });
    }

    #[test]
    fn a_long_replay_comes_in_pages_then_live_messages_follow() {
        let total = 2 * REPLAY_PAGE + 500;
        let dir = TempDir::new("events");
        let events = Arc::new(Events::new(QUEUE_CAPACITY));
        let store = store_for(&dir, &events);
        thread::scope(|scope| {
            for _ in 0..10 {
                scope.spawn(|| {
                    for _ in 0..total / 10 {
                        post(&store, "old");
                    }
                });
            }
        });
        let (mut out, mut reader) = pipe();
        thread::scope(|scope| {
            let subscription = events.subscribe("bob");
            let store = &store;
            scope.spawn(move || {
                let replay = |after, limit| store.visible_after("bob", after, limit);
                pump(
                    subscription,
                    Some(10),
                    replay,
                    Duration::from_millis(20),
                    &mut out,
                )
            });
            let replayed: Vec<u64> = reader
                .events(total - 10)
                .into_iter()
                .map(|(id, _)| id)
                .collect();
            let expected: Vec<u64> = (11..=total as u64).collect();
            assert!(
                replayed == expected,
                "the replay after id 10 holds ids 11 to {total} once each, in order"
            );
            post(store, "new");
            assert_eq!(
                reader.events(1)[0].0,
                total as u64 + 1,
                "then the live message"
            );
            events.close();
        });
    }

    #[test]
    fn an_idle_stream_sends_pings_and_ends_when_closed() {
        let events = Arc::new(Events::new(QUEUE_CAPACITY));
        let (mut out, mut reader) = pipe();
        let subscription = events.subscribe("alice");
        let streaming = thread::spawn(move || {
            pump(
                subscription,
                None,
                |_, _| Vec::new(),
                Duration::from_millis(1),
                &mut out,
            )
        });
        assert_eq!(reader.block(), ": connected", "the opening comment");
        assert_eq!(reader.block(), ": ping", "a heartbeat comment");
        events.close();
        let result = streaming.join().expect("stream thread");
        assert!(result.is_ok(), "a closed stream ends cleanly: {result:?}");
    }
}
