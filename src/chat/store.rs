//! The message store: an append-only log on disk, an index in memory, and
//! group commit, so that an acknowledged message survives a crash without
//! every sender paying for its own disk flush.
//!
//! **On disk**, the messages live in `DIR/messages.jsonl` (JSON Lines: one
//! JSON object a line, in id order). A line is the message's EVENT (the
//! shape the API sends, see [`Message::event`]) plus the accounts that
//! owned its two peers when it was sent:
//!
//! ```text
//! {"id":1,"type":"broadcast","from":"ann","to":null,"channel":"general","message":"hi","timestamp":"2026-11-25T12:00:00.123Z","from_account":"alice","to_account":null}
//! {"id":2,"type":"direct","from":"ann","to":"bo","channel":null,"message":"psst","timestamp":"2026-11-25T12:00:01.007Z","from_account":"alice","to_account":"bob"}
//! ```
//!
//! Messages are never edited or deleted (the course's assignment says so),
//! so the file is only ever appended to.
//!
//! **Acknowledged means on the disk.** [`Store::append`] returns a message
//! only after its line has been written and flushed with `fdatasync(2)`
//! (`File::sync_data`, which also flushes the file's new length). A crash a
//! moment later loses nothing that any sender was told was sent.
//!
//! **Group commit.** A flush costs the same for one line as for a
//! thousand, so concurrent appenders share one: appenders hand their
//! message to one *writer thread* over a channel and wait for its answer.
//! The writer takes the first waiting message, then every other one that
//! has arrived meanwhile (up to [`MAX_BATCH`]); it numbers them, writes them
//! with one `write`, flushes once, and answers each appender. While it
//! flushes, new messages queue up in the channel and form the next batch;
//! so the busier the store, the larger the batches, and throughput grows
//! with the number of senders instead of being one flush per message.
//!
//! ```text
//!  appender 1 ─┐                     ┌─ write(batch) ─ sync_data ─┐
//!  appender 2 ─┼─► channel ─► writer ┤                            ├─► index ─► on_commit ─► answers
//!  appender 3 ─┘   (waits)           └─ ids 7, 8, 9 ──────────────┘
//! ```
//!
//! One thread doing all the numbering and writing makes the order simple:
//! ids are given in the order lines are written, so they strictly increase
//! through the file; the index is extended in that same order, after the
//! flush, so a reader never sees a message that is not yet durable; and
//! the `on_commit` hook (the event fan-out) is called in that order too,
//! before any appender hears back.
//!
//! **Ids** are integers from 1, one more than the last id in the file, so
//! they continue after a restart. **Timestamps** are RFC 3339 in UTC with
//! milliseconds, taken from the [`Clock`] once per batch.
//!
//! **Crashes.** A crash in the middle of a write leaves the last line torn
//! (cut short, or filled with garbage by the file system). At start the
//! store replays the file, and a bad line at the end — every bad line after
//! the last good one — is skipped with a warning on stderr and *cut off*
//! (the file is truncated after the last good line), so that the next
//! append starts on a fresh line. A bad line in the *middle*, followed by
//! good ones, cannot come from a crash of this writer (each batch is
//! appended after everything before it was flushed): it is outside damage.
//! It is skipped with a warning and left in the file, since cutting it off
//! would also cut the good messages after it. Neither ever stops the start.
//! A write that fails while running (disk full) is undone by truncating the
//! file back to its length before the batch; the batch's appenders get an
//! error and the store goes on. If even the truncation fails, the store
//! refuses further appends ([`StoreError::Unusable`]) until a restart
//! repairs the file.
//!
//! **Visibility.** A broadcast is visible to every account; a direct
//! message only to the accounts that owned its two peers when it was sent
//! (recorded in the line, so that what someone may read never changes
//! afterwards). Queries filter by it.
//!
//! **Memory.** Every message is kept in memory (its fields and its EVENT
//! text, ready to send), with a list of positions per channel and per peer
//! for the history queries: about 300 bytes plus twice the text per
//! message, so a million short messages take about 400 MB. Enough for a
//! course; a bigger chat would keep only recent messages in memory and
//! read older pages from the file through an offset index.
//!
//! Left out on purpose: rotating or compacting the log, and two servers on
//! one data directory (their lines would interleave and their ids clash).

use std::collections::HashMap;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::Path;
use std::str;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};
use std::thread::{self, JoinHandle};

use super::fields;
use crate::clock::Clock;
use crate::durable;
use crate::http::date::format_rfc3339;
use crate::json::{self, Object, Value};

/// The log's file name inside the data directory.
pub const LOG_FILE: &str = "messages.jsonl";

/// Most messages one write and one flush carry. Only a bound on the batch
/// buffer: at 64 concurrent senders a batch holds at most 64.
pub const MAX_BATCH: usize = 1024;

/// A peer and the account that owned it when a message was sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Party {
    /// The peer name, as shown in the EVENT's `from` or `to`.
    pub peer: String,
    /// The account that owned the peer; never shown, used for visibility.
    pub account: String,
}

/// A broadcast to a channel, or a direct message to one peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// To a channel; everyone may read it.
    Broadcast,
    /// To one peer; only the two peers' accounts may read it.
    Direct,
}

impl Kind {
    /// The EVENT's `type`: `"broadcast"` or `"direct"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Broadcast => "broadcast",
            Kind::Direct => "direct",
        }
    }
}

/// A message before the store gives it an id and a time.
#[derive(Clone, Debug)]
pub struct Draft {
    /// The sender.
    pub from: Party,
    /// The receiver of a direct message; `None` for a broadcast.
    pub to: Option<Party>,
    /// The channel: always set for a broadcast, optional for a direct message.
    pub channel: Option<String>,
    /// The text.
    pub text: String,
}

/// A stored message. Immutable; shared (`Arc`) between the index, the
/// event queues and the answers.
#[derive(Debug, PartialEq, Eq)]
pub struct Message {
    id: u64,
    from: Party,
    to: Option<Party>,
    channel: Option<String>,
    text: String,
    timestamp: String,
    /// [`Message::event`] written out once, so that sending the message to a
    /// hundred event streams costs no hundred encodings.
    event_json: String,
}

impl Message {
    fn new(id: u64, draft: Draft, timestamp: String) -> Message {
        let mut message = Message {
            id,
            from: draft.from,
            to: draft.to,
            channel: draft.channel,
            text: draft.text,
            timestamp,
            event_json: String::new(),
        };
        message.event_json = message.event().to_string();
        message
    }

    /// The id: unique, and increasing in the order messages were stored.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Broadcast or direct.
    pub fn kind(&self) -> Kind {
        if self.to.is_some() {
            Kind::Direct
        } else {
            Kind::Broadcast
        }
    }

    /// The sender.
    pub fn from(&self) -> &Party {
        &self.from
    }

    /// The receiver of a direct message.
    pub fn to(&self) -> Option<&Party> {
        self.to.as_ref()
    }

    /// The channel it was sent in, if any.
    pub fn channel(&self) -> Option<&str> {
        self.channel.as_deref()
    }

    /// The text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// When it was stored, RFC 3339 in UTC with milliseconds.
    pub fn timestamp(&self) -> &str {
        &self.timestamp
    }

    /// The EVENT the API sends: `{"id","type","from","to","channel",
    /// "message","timestamp"}`, `to` null for a broadcast, `channel` null
    /// for a direct message sent without one. The owning accounts are not
    /// in it.
    pub fn event(&self) -> Value {
        Value::Object(self.event_object())
    }

    fn event_object(&self) -> Object {
        Object::new()
            .with("id", self.id)
            .with("type", self.kind().as_str())
            .with("from", self.from.peer.as_str())
            .with("to", self.to.as_ref().map(|to| to.peer.as_str()))
            .with("channel", self.channel.as_deref())
            .with("message", self.text.as_str())
            .with("timestamp", self.timestamp.as_str())
    }

    /// [`Message::event`] as compact JSON text.
    pub fn event_json(&self) -> &str {
        &self.event_json
    }

    /// Whether `account` may read it: anyone for a broadcast, the owners of
    /// its two peers for a direct message.
    pub fn visible_to(&self, account: &str) -> bool {
        // lab4: begin — broadcasts are public; a direct message only for its two owners
        match &self.to {
            None => true,
            Some(to) => to.account == account || self.from.account == account,
        }
        // lab4: end
    }

    /// Whether it is a direct message between `peer` and a peer of
    /// `account` (in either direction).
    pub fn is_between(&self, peer: &str, account: &str) -> bool {
        let Some(to) = &self.to else {
            return false;
        };
        (self.from.peer == peer && to.account == account)
            || (to.peer == peer && self.from.account == account)
    }

    /// The line of the log file, without its end of line.
    fn log_line(&self) -> String {
        let line = self
            .event_object()
            .with("from_account", self.from.account.as_str())
            .with("to_account", self.to.as_ref().map(|to| to.account.as_str()));
        Value::Object(line).to_string()
    }

    /// Reads a line of the log file (without its end of line).
    fn from_log_line(line: &str) -> Result<Message, String> {
        let value = json::parse(line).map_err(|error| format!("not JSON: {error}"))?;
        let line = value.as_object().ok_or("not a JSON object")?;
        let kind = match fields::required_str(line, "type")? {
            "broadcast" => Kind::Broadcast,
            "direct" => Kind::Direct,
            other => return Err(format!("unknown type {other:?}")),
        };
        let to = match kind {
            Kind::Broadcast => None,
            Kind::Direct => Some(party(line, "to", "to_account")?),
        };
        let draft = Draft {
            from: party(line, "from", "from_account")?,
            to,
            channel: fields::optional_str(line, "channel")?.map(str::to_string),
            text: fields::required_str(line, "message")?.to_string(),
        };
        if kind == Kind::Broadcast && draft.channel.is_none() {
            return Err("a broadcast without a channel".to_string());
        }
        let timestamp = fields::required_str(line, "timestamp")?.to_string();
        Ok(Message::new(
            fields::required_u64(line, "id")?,
            draft,
            timestamp,
        ))
    }
}

/// The party named by fields `peer_key` and `account_key` of a log line.
fn party(line: &Object, peer_key: &str, account_key: &str) -> Result<Party, String> {
    Ok(Party {
        peer: fields::required_str(line, peer_key)?.to_string(),
        account: fields::required_str(line, account_key)?.to_string(),
    })
}

/// Which messages a history query is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Conversation {
    /// A channel: its broadcasts, and the direct messages sent in it that
    /// the caller may see.
    Channel(String),
    /// A peer: the direct messages between it and any of the caller's peers.
    Peer(String),
}

/// Where a page of history starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cursor {
    /// The newest messages.
    Newest,
    /// The oldest messages with an id above this one (paging forward, or
    /// polling for what is new).
    After(u64),
    /// The newest messages with an id below this one (paging back).
    Before(u64),
}

/// Why an append was not acknowledged. Nothing of it is on the disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreError {
    /// Writing or flushing the batch failed (disk full, I/O error); the
    /// file was truncated back and the store goes on.
    Write(String),
    /// An earlier failed write could not be undone, so the end of the file
    /// is unknown; appends are refused until a restart repairs it.
    Unusable,
    /// The writer thread is gone (it panicked): a bug.
    Stopped,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Write(reason) => write!(f, "writing the message log failed: {reason}"),
            StoreError::Unusable => {
                f.write_str("the message log is damaged by a failed write; restart the server")
            }
            StoreError::Stopped => f.write_str("the message log's writer has stopped"),
        }
    }
}

impl std::error::Error for StoreError {}

/// Called by the writer thread with each batch, in id order, once it is
/// durable and in the index, before the appenders hear back. It must not
/// block: the event fan-out only tries to queue.
pub type OnCommit = Box<dyn Fn(&[Arc<Message>]) + Send>;

/// The message store of one data directory; share it with an `Arc` (or
/// inside the chat's).
pub struct Store {
    /// Where appenders hand their drafts to the writer thread. `None` only
    /// while dropping, so that the writer sees the channel close.
    requests: Option<Sender<Append>>,
    /// The writer thread, joined when the store is dropped so that the file
    /// is closed before anyone reopens it.
    writer: Option<JoinHandle<()>>,
    /// Every message, for queries. The writer takes it for writing only to
    /// add a flushed batch; readers copy out a page and let go, and nobody
    /// holds it while taking another lock or doing I/O, so it cannot
    /// deadlock.
    index: Arc<RwLock<Index>>,
}

/// One appender's request to the writer thread.
struct Append {
    draft: Draft,
    /// Carries the answer back; room for exactly one.
    reply: SyncSender<Result<Arc<Message>, StoreError>>,
}

impl Store {
    /// Opens the store of data directory `dir` (created if missing),
    /// replaying its log, and starts the writer thread. `on_commit` is
    /// called with every batch (see [`OnCommit`]).
    ///
    /// A torn or corrupt end of the log is cut off with a warning, and a
    /// corrupt line in the middle skipped with one (see the module
    /// documentation); it fails only if the directory or the file cannot be
    /// created, read or truncated.
    pub fn open(
        dir: &Path,
        clock: Clock,
        on_commit: impl Fn(&[Arc<Message>]) + Send + 'static,
    ) -> io::Result<Store> {
        fs::create_dir_all(dir)?;
        let path = dir.join(LOG_FILE);
        let existed = path.exists();
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)?;
        if !existed {
            // The new file's name must survive a crash too.
            durable::sync_dir(dir)?;
        }
        let Replayed {
            index,
            good_len,
            file_len,
        } = replay(&file, &path)?;
        if good_len < file_len {
            file.set_len(good_len)?;
            file.sync_data()?;
        }
        let next_id = index.last_id() + 1;
        let index = Arc::new(RwLock::new(index));
        let (requests, incoming) = mpsc::channel();
        let writer = Writer {
            file,
            len: good_len,
            next_id,
            clock,
            index: Arc::clone(&index),
            on_commit: Box::new(on_commit),
            unusable: false,
            buffer: Vec::new(),
        };
        let writer = thread::Builder::new()
            .name("chat-store-writer".to_string())
            .spawn(move || writer.run(incoming))?;
        Ok(Store {
            requests: Some(requests),
            writer: Some(writer),
            index,
        })
    }

    /// Stores a message and returns it with its id and timestamp, once it
    /// is on the disk. Blocks for one flush of the disk, shared with every
    /// other append that arrives meanwhile.
    pub fn append(&self, draft: Draft) -> Result<Arc<Message>, StoreError> {
        let (reply, answer) = mpsc::sync_channel(1);
        let requests = self.requests.as_ref().ok_or(StoreError::Stopped)?;
        requests
            .send(Append { draft, reply })
            .map_err(|_| StoreError::Stopped)?;
        answer.recv().map_err(|_| StoreError::Stopped)?
    }

    /// A page of the history of `conversation` that `account` may see, at
    /// most `limit` messages from `cursor`, oldest first.
    pub fn history(
        &self,
        account: &str,
        conversation: &Conversation,
        cursor: Cursor,
        limit: usize,
    ) -> Vec<Arc<Message>> {
        let index = self.index();
        match conversation {
            Conversation::Channel(channel) => {
                index.page_of(&index.by_channel, channel, cursor, limit, |message| {
                    message.visible_to(account)
                })
            }
            Conversation::Peer(peer) => {
                index.page_of(&index.by_peer, peer, cursor, limit, |message| {
                    message.is_between(peer, account)
                })
            }
        }
    }

    /// The oldest `limit` messages with an id above `after` that `account`
    /// may see, in any conversation: what an event stream resuming from
    /// `Last-Event-ID: after` has missed.
    pub fn visible_after(&self, account: &str, after: u64, limit: usize) -> Vec<Arc<Message>> {
        let index = self.index();
        page(
            index.messages.len(),
            |n| &index.messages[n],
            Cursor::After(after),
            limit,
            |message| message.visible_to(account),
        )
    }

    /// The id of the newest message; 0 when there is none.
    pub fn last_id(&self) -> u64 {
        self.index().last_id()
    }

    /// How many messages the store holds.
    pub fn len(&self) -> usize {
        self.index().messages.len()
    }

    /// Whether the store holds no message yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn index(&self) -> RwLockReadGuard<'_, Index> {
        // Poisoned only by a panic while the writer extended it; a push is
        // complete or not there, so the index is consistent.
        self.index.read().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        // Closing the channel ends the writer's loop once it has answered
        // every append already sent.
        self.requests = None;
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// The messages in memory, in id order, and where each channel's and
/// each peer's messages are among them.
#[derive(Default)]
struct Index {
    messages: Vec<Arc<Message>>,
    /// Channel → positions of its broadcasts and of the direct messages
    /// sent in it.
    by_channel: HashMap<String, Vec<usize>>,
    /// Peer → positions of the direct messages it sent or received.
    by_peer: HashMap<String, Vec<usize>>,
}

impl Index {
    fn push(&mut self, message: Arc<Message>) {
        let position = self.messages.len();
        if let Some(channel) = &message.channel {
            self.by_channel
                .entry(channel.clone())
                .or_default()
                .push(position);
        }
        if let Some(to) = &message.to {
            let from = &message.from.peer;
            self.by_peer.entry(from.clone()).or_default().push(position);
            if to.peer != *from {
                self.by_peer
                    .entry(to.peer.clone())
                    .or_default()
                    .push(position);
            }
        }
        self.messages.push(message);
    }

    fn last_id(&self) -> u64 {
        self.messages.last().map_or(0, |message| message.id)
    }

    /// A [`page`] of the messages that `positions` lists under `key`.
    fn page_of(
        &self,
        positions: &HashMap<String, Vec<usize>>,
        key: &str,
        cursor: Cursor,
        limit: usize,
        keep: impl Fn(&Message) -> bool,
    ) -> Vec<Arc<Message>> {
        let positions = positions.get(key).map(Vec::as_slice).unwrap_or_default();
        page(
            positions.len(),
            |n| &self.messages[positions[n]],
            cursor,
            limit,
            keep,
        )
    }
}

/// Up to `limit` of the messages `at(0)`, …, `at(len - 1)` (in id order)
/// for which `keep` holds, from `cursor`, oldest first.
fn page<'a>(
    len: usize,
    at: impl Fn(usize) -> &'a Arc<Message>,
    cursor: Cursor,
    limit: usize,
    keep: impl Fn(&Message) -> bool,
) -> Vec<Arc<Message>> {
    let kept = |message: &&Arc<Message>| keep(message);
    match cursor {
        Cursor::After(after) => {
            let start = partition_point(len, |index| at(index).id <= after);
            (start..len)
                .map(&at)
                .filter(kept)
                .take(limit)
                .cloned()
                .collect()
        }
        Cursor::Before(_) | Cursor::Newest => {
            let end = match cursor {
                Cursor::Before(before) => partition_point(len, |index| at(index).id < before),
                _ => len,
            };
            let mut newest_first: Vec<Arc<Message>> = (0..end)
                .rev()
                .map(&at)
                .filter(kept)
                .take(limit)
                .cloned()
                .collect();
            newest_first.reverse();
            newest_first
        }
    }
}

/// The first index in `0..len` for which `test` is false, when it holds
/// for a prefix of the range and not after: a binary search, as
/// `slice::partition_point` does, over positions rather than a slice.
fn partition_point(len: usize, test: impl Fn(usize) -> bool) -> usize {
    let (mut low, mut high) = (0, len);
    while low < high {
        let middle = low + (high - low) / 2;
        if test(middle) {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    low
}

/// What reading the log at start found.
struct Replayed {
    index: Index,
    /// Where the last good line ends: the file is cut here.
    good_len: u64,
    file_len: u64,
}

/// Reads the log line by line into an index, warning about bad lines.
fn replay(file: &File, path: &Path) -> io::Result<Replayed> {
    let mut reader = BufReader::new(file);
    let mut index = Index::default();
    let (mut offset, mut good_len) = (0u64, 0u64);
    // Bad lines since the last good one: kept if a good line follows,
    // cut off if not.
    let mut bad: Vec<String> = Vec::new();
    let mut line: Vec<u8> = Vec::new();
    // lab4: begin — replay good lines; warn about bad ones, and cut off a bad end
    for number in 1.. {
        line.clear();
        let read = reader.read_until(b'\n', &mut line)?;
        if read == 0 {
            break;
        }
        offset += read as u64;
        match parse_line(&line, index.last_id()) {
            Ok(message) => {
                for problem in bad.drain(..) {
                    eprintln!(
                        "warning: {}: {problem}; skipped (left in the file: good lines follow it)",
                        path.display()
                    );
                }
                index.push(Arc::new(message));
                good_len = offset;
            }
            Err(problem) => bad.push(format!("line {number}: {problem}")),
        }
    }
    for problem in bad {
        eprintln!(
            "warning: {}: {problem}; cut off (the end of a write torn by a crash)",
            path.display()
        );
    }
    // lab4: end
    Ok(Replayed {
        index,
        good_len,
        file_len: offset,
    })
}

/// The largest message id: the largest integer a JavaScript number holds
/// exactly (2^53 − 1), so that a browser reads every id right. A log line
/// with a larger id is damage: numbering on from it would overflow.
pub const MAX_MESSAGE_ID: u64 = (1 << 53) - 1;

/// One line of the log, with its end of line; its id must follow `last_id`.
fn parse_line(line: &[u8], last_id: u64) -> Result<Message, String> {
    let line = line
        .strip_suffix(b"\n")
        .ok_or("no end of line: the write was torn")?;
    let line = str::from_utf8(line).map_err(|_| "not UTF-8 text")?;
    let message = Message::from_log_line(line)?;
    if message.id > MAX_MESSAGE_ID {
        return Err(format!("id {} is past the largest id", message.id));
    }
    if message.id <= last_id {
        return Err(format!("id {} does not follow id {last_id}", message.id));
    }
    Ok(message)
}

/// The writer thread's state: the only code that touches the file after
/// the replay, and the only one that gives out ids.
struct Writer {
    file: File,
    /// The file's length: where the next batch starts, and where a failed
    /// write is cut back to.
    len: u64,
    next_id: u64,
    clock: Clock,
    index: Arc<RwLock<Index>>,
    on_commit: OnCommit,
    /// Set when a failed write could not be undone.
    unusable: bool,
    /// The lines of a batch, reused from batch to batch.
    buffer: Vec<u8>,
}

impl Writer {
    /// Commits batches until every [`Store`] handle is gone.
    fn run(mut self, incoming: Receiver<Append>) {
        // lab4: begin — group commit: wait for one append, take all that queued meanwhile
        while let Ok(first) = incoming.recv() {
            let mut batch = vec![first];
            batch.extend(incoming.try_iter().take(MAX_BATCH - 1));
            self.commit(batch);
        }
        // lab4: end
    }

    /// Numbers, writes, flushes and publishes one batch, then answers its
    /// appenders.
    fn commit(&mut self, batch: Vec<Append>) {
        let timestamp = format_rfc3339(self.clock.wall());
        let (drafts, replies): (Vec<Draft>, Vec<_>) = batch
            .into_iter()
            .map(|append| (append.draft, append.reply))
            .unzip();
        let messages: Vec<Arc<Message>> = drafts
            .into_iter()
            .zip(self.next_id..)
            .map(|(draft, id)| Arc::new(Message::new(id, draft, timestamp.clone())))
            .collect();
        self.buffer.clear();
        for message in &messages {
            self.buffer.extend_from_slice(message.log_line().as_bytes());
            self.buffer.push(b'\n');
        }
        let result = self.write_batch().map(|()| {
            self.next_id += messages.len() as u64;
            let mut index = self.index.write().unwrap_or_else(PoisonError::into_inner);
            for message in &messages {
                index.push(Arc::clone(message));
            }
            drop(index);
            (self.on_commit)(&messages);
        });
        for (reply, message) in replies.into_iter().zip(messages) {
            // The appender waits for this answer; if it is gone, no one cares.
            let _ = reply.send(result.clone().map(|()| message));
        }
    }

    /// Appends the buffer to the file and flushes it; on failure, cuts the
    /// file back to where it was.
    fn write_batch(&mut self) -> Result<(), StoreError> {
        if self.unusable {
            return Err(StoreError::Unusable);
        }
        let written = self
            .file
            .write_all(&self.buffer)
            .and_then(|()| self.file.sync_data());
        match written {
            Ok(()) => {
                self.len += self.buffer.len() as u64;
                Ok(())
            }
            Err(error) => {
                if self.file.set_len(self.len).is_err() {
                    self.unusable = true;
                }
                Err(StoreError::Write(error.to_string()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::durable::TempDir;
    use std::collections::HashSet;
    use std::sync::Mutex;
    use std::time::{Duration, Instant};

    fn party(peer: &str, account: &str) -> Party {
        Party {
            peer: peer.to_string(),
            account: account.to_string(),
        }
    }

    fn broadcast(peer: &str, account: &str, channel: &str, text: &str) -> Draft {
        Draft {
            from: party(peer, account),
            to: None,
            channel: Some(channel.to_string()),
            text: text.to_string(),
        }
    }

    fn direct(from: (&str, &str), to: (&str, &str), channel: Option<&str>, text: &str) -> Draft {
        Draft {
            from: party(from.0, from.1),
            to: Some(party(to.0, to.1)),
            channel: channel.map(str::to_string),
            text: text.to_string(),
        }
    }

    fn open(dir: &TempDir) -> Store {
        Store::open(dir.path(), Clock::manual().0, |_: &[Arc<Message>]| {}).expect("open store")
    }

    fn append(store: &Store, draft: Draft) -> Arc<Message> {
        store.append(draft).expect("append acknowledged")
    }

    fn ids(messages: &[Arc<Message>]) -> Vec<u64> {
        messages.iter().map(|message| message.id()).collect()
    }

    fn texts(messages: &[Arc<Message>]) -> Vec<&str> {
        messages.iter().map(|message| message.text()).collect()
    }

    fn log_path(dir: &TempDir) -> std::path::PathBuf {
        dir.path().join(LOG_FILE)
    }

    /// Every message, whoever may see it.
    fn all(store: &Store) -> Vec<Arc<Message>> {
        store.index().messages.clone()
    }

    #[test]
    fn events_have_the_exact_shape_and_ids_count_up() {
        let dir = TempDir::new("store");
        let (clock, hand) = Clock::manual();
        let store = Store::open(dir.path(), clock.clone(), |_: &[Arc<Message>]| {}).expect("open");
        let first = append(&store, broadcast("ann", "alice", "general", "hi \"all\""));
        hand.advance(Duration::from_millis(1500));
        let second = append(
            &store,
            direct(("ann", "alice"), ("bo", "bob"), None, "psst"),
        );
        let expected_time = |offset| format_rfc3339(clock.wall() - offset);
        assert_eq!(
            first.event_json(),
            format!(
                r#"{{"id":1,"type":"broadcast","from":"ann","to":null,"channel":"general","message":"hi \"all\"","timestamp":"{}"}}"#,
                expected_time(Duration::from_millis(1500))
            ),
            "the EVENT of a broadcast (docs/protocol.md, \"EVENT\")"
        );
        assert_eq!(
            second.event_json(),
            format!(
                r#"{{"id":2,"type":"direct","from":"ann","to":"bo","channel":null,"message":"psst","timestamp":"{}"}}"#,
                expected_time(Duration::ZERO)
            ),
            "the EVENT of a direct message without a channel"
        );
        assert!(
            second.timestamp().ends_with('Z') && second.timestamp().len() == 24,
            "RFC 3339 UTC with milliseconds: {}",
            second.timestamp()
        );
    }

    #[test]
    fn a_restart_keeps_every_message_and_ids_continue() {
        let dir = TempDir::new("store");
        let store = open(&dir);
        append(&store, broadcast("ann", "alice", "general", "one"));
        append(
            &store,
            direct(("ann", "alice"), ("bo", "bob"), Some("general"), "two"),
        );
        let before = all(&store);
        drop(store);
        let store = open(&dir);
        let after = all(&store);
        assert_eq!(after, before, "the replayed messages equal the stored ones");
        let third = append(&store, broadcast("bo", "bob", "general", "three"));
        assert_eq!(third.id(), 3, "ids continue after a restart");
        assert!(
            after[1].visible_to("bob") && !after[1].visible_to("carol"),
            "the owning accounts survive the restart"
        );
    }

    /// Writes `tail` after the log's current contents, as a crash would.
    fn damage(dir: &TempDir, tail: &[u8]) {
        let mut file = OpenOptions::new()
            .append(true)
            .open(log_path(dir))
            .expect("open log to damage it");
        file.write_all(tail).expect("write damage");
    }

    #[test]
    fn a_torn_last_line_is_cut_off_and_the_next_append_reads_back() {
        for tail in [
            &b"{\"id\":3,\"type\":\"broad"[..],
            b"\0\0\0\0\0\0",
            b"{\"id\":3,\"type\":\"broadcast\"}\n",
            b"garbage\n\xff\xfe\n{\"id\":3",
        ] {
            let dir = TempDir::new("store");
            let store = open(&dir);
            append(&store, broadcast("ann", "alice", "general", "one"));
            append(&store, broadcast("ann", "alice", "general", "two"));
            drop(store);
            let good_len = fs::metadata(log_path(&dir)).expect("log").len();
            damage(&dir, tail);

            let store = open(&dir);
            assert_eq!(
                texts(&all(&store)),
                ["one", "two"],
                "with a damaged end {tail:?} the store starts with the good lines"
            );
            assert_eq!(
                fs::metadata(log_path(&dir)).expect("log").len(),
                good_len,
                "the damaged end {tail:?} is cut off"
            );
            assert_eq!(
                append(&store, broadcast("bo", "bob", "general", "three")).id(),
                3
            );
            drop(store);
            let store = open(&dir);
            assert_eq!(
                texts(&all(&store)),
                ["one", "two", "three"],
                "after the damage {tail:?}, a later append survives another restart"
            );
        }
    }

    #[test]
    fn an_id_too_large_to_number_on_from_is_damage() {
        let dir = TempDir::new("store");
        let store = open(&dir);
        append(&store, broadcast("ann", "alice", "general", "one"));
        drop(store);
        let line = fs::read_to_string(log_path(&dir)).expect("log");
        let huge = line.replace("\"id\":1", &format!("\"id\":{}", u64::MAX));
        damage(&dir, huge.as_bytes());

        let store = open(&dir);
        assert_eq!(
            texts(&all(&store)),
            ["one"],
            "the line with id 2^64 − 1 is cut off"
        );
        assert_eq!(
            append(&store, broadcast("bo", "bob", "general", "two")).id(),
            2,
            "ids go on from the last good line"
        );
    }

    #[test]
    fn a_corrupt_line_in_the_middle_is_skipped_and_kept() {
        let dir = TempDir::new("store");
        let store = open(&dir);
        for text in ["one", "two", "three"] {
            append(&store, broadcast("ann", "alice", "general", text));
        }
        drop(store);
        // Outside damage between good lines: garbage, and a line whose id
        // goes backwards.
        let text = fs::read_to_string(log_path(&dir)).expect("log");
        let lines: Vec<&str> = text.lines().collect();
        let old_id = lines[0].replace("\"one\"", "\"old id\"");
        let damaged = format!(
            "{}\nnot json\n{}\n{old_id}\n{}\n",
            lines[0], lines[1], lines[2]
        );
        fs::write(log_path(&dir), &damaged).expect("write damaged log");

        let store = open(&dir);
        assert_eq!(texts(&all(&store)), ["one", "two", "three"]);
        assert_eq!(
            fs::read_to_string(log_path(&dir)).expect("log"),
            damaged,
            "bad lines followed by good ones stay in the file"
        );
        assert_eq!(
            append(&store, broadcast("ann", "alice", "general", "four")).id(),
            4
        );
        drop(store);
        let store = open(&dir);
        assert_eq!(
            ids(&all(&store)),
            [1, 2, 3, 4],
            "and are skipped at every start"
        );
    }

    #[test]
    fn history_pages_are_oldest_first_and_respect_visibility() {
        let dir = TempDir::new("store");
        let store = open(&dir);
        for n in 1..=5 {
            append(
                &store,
                broadcast("ann", "alice", "general", &format!("g{n}")),
            );
        }
        append(&store, broadcast("ann", "alice", "random", "elsewhere"));
        append(
            &store,
            direct(
                ("ann", "alice"),
                ("bo", "bob"),
                Some("general"),
                "dm-in-general",
            ),
        );
        append(
            &store,
            direct(("bo", "bob"), ("ann2", "alice"), None, "dm-back"),
        );
        append(
            &store,
            direct(("cy", "carol"), ("bo", "bob"), None, "carol-to-bob"),
        );
        let general = Conversation::Channel("general".to_string());
        let bob_peer = Conversation::Peer("bo".to_string());
        let unknown = Conversation::Channel("none".to_string());
        // (account, conversation, cursor, limit, expected texts)
        let cases: Vec<(&str, &Conversation, Cursor, usize, Vec<&str>)> = vec![
            (
                "carol",
                &general,
                Cursor::Newest,
                100,
                vec!["g1", "g2", "g3", "g4", "g5"],
            ),
            (
                "bob",
                &general,
                Cursor::Newest,
                100,
                vec!["g1", "g2", "g3", "g4", "g5", "dm-in-general"],
            ),
            (
                "alice",
                &general,
                Cursor::Newest,
                2,
                vec!["g5", "dm-in-general"],
            ),
            ("alice", &general, Cursor::After(2), 2, vec!["g3", "g4"]),
            ("alice", &general, Cursor::Before(4), 2, vec!["g2", "g3"]),
            ("alice", &general, Cursor::Before(1), 5, vec![]),
            ("alice", &general, Cursor::After(100), 5, vec![]),
            (
                "alice",
                &bob_peer,
                Cursor::Newest,
                100,
                vec!["dm-in-general", "dm-back"],
            ),
            (
                "carol",
                &bob_peer,
                Cursor::Newest,
                100,
                vec!["carol-to-bob"],
            ),
            ("bob", &bob_peer, Cursor::Newest, 100, vec![]),
            ("alice", &unknown, Cursor::Newest, 100, vec![]),
        ];
        for (account, conversation, cursor, limit, expected) in cases {
            let page = store.history(account, conversation, cursor, limit);
            assert_eq!(
                texts(&page),
                expected,
                "{account} reading {conversation:?} from {cursor:?}, limit {limit}"
            );
        }
        assert_eq!(
            texts(&store.visible_after("carol", 5, 100)),
            ["elsewhere", "carol-to-bob"],
            "what carol's event stream missed after id 5"
        );
    }

    /// Appends `per_thread` messages from each of `threads` threads at once;
    /// returns every acknowledged message.
    fn append_concurrently(store: &Store, threads: usize, per_thread: usize) -> Vec<Arc<Message>> {
        let acknowledged = Mutex::new(Vec::new());
        thread::scope(|scope| {
            for thread in 0..threads {
                let acknowledged = &acknowledged;
                scope.spawn(move || {
                    for n in 0..per_thread {
                        let text = format!("t{thread}-{n}");
                        let message = append(store, broadcast("ann", "alice", "general", &text));
                        acknowledged
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .push(message);
                    }
                });
            }
        });
        acknowledged
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
    }

    #[test]
    fn concurrent_appends_are_stored_once_in_one_order_that_survives_a_restart() {
        let dir = TempDir::new("store");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let hook = Arc::clone(&seen);
        let store = Store::open(
            dir.path(),
            Clock::manual().0,
            move |batch: &[Arc<Message>]| {
                hook.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .extend(batch.iter().map(|message| message.id()));
            },
        )
        .expect("open");
        let acknowledged = append_concurrently(&store, 20, 50);
        let stored = all(&store);
        assert_eq!(stored.len(), 1000, "20 threads × 50 appends");
        let unique: HashSet<&str> = stored.iter().map(|message| message.text()).collect();
        assert_eq!(unique.len(), 1000, "every message is stored exactly once");
        assert!(
            stored.windows(2).all(|pair| pair[0].id() < pair[1].id()),
            "ids strictly increase in log order"
        );
        let mut acknowledged_ids = ids(&acknowledged);
        acknowledged_ids.sort_unstable();
        assert_eq!(
            acknowledged_ids,
            ids(&stored),
            "every acknowledged id is stored"
        );
        assert_eq!(
            *seen.lock().unwrap_or_else(PoisonError::into_inner),
            ids(&stored),
            "the commit hook sees every message once, in log order"
        );
        drop(store);
        let replayed = all(&open(&dir));
        assert_eq!(
            replayed, stored,
            "a restart replays the same messages in the same order"
        );
    }

    /// The figure for docs/benchmarks.md: acknowledged appends per second
    /// with 64 concurrent appenders, each flushed to the disk, and how many
    /// flushes they shared. Run with
    /// `cargo test --release --lib store_appends_per_second -- --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement, not a check: run it by hand in release"]
    fn store_appends_per_second_with_64_appenders() {
        const APPENDERS: usize = 64;
        const PER_APPENDER: usize = 500;
        let dir = TempDir::new("store-bench");
        let batches = Arc::new(Mutex::new(0usize));
        let counter = Arc::clone(&batches);
        let store = Store::open(dir.path(), Clock::system(), move |_: &[Arc<Message>]| {
            *counter.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        })
        .expect("open");
        let started = Instant::now();
        let count = append_concurrently(&store, APPENDERS, PER_APPENDER).len();
        let seconds = started.elapsed().as_secs_f64();
        let batches = *batches.lock().unwrap_or_else(PoisonError::into_inner);
        println!(
            "{count} acknowledged appends from {APPENDERS} threads in {seconds:.3} s: \
             {:.0} appends/s; {batches} flushes, {:.1} appends per flush",
            count as f64 / seconds,
            count as f64 / batches as f64
        );
        assert_eq!(count, APPENDERS * PER_APPENDER);
    }
}
