// weaprous chat: the web UI of lab 4 (and of lab 5's peer node, which
// answers the same routes). Plain modern JavaScript: no framework, no build
// step, nothing loaded from elsewhere. The API it speaks is docs/protocol.md.
//
// What happens, in order (see docs/lab4_chat.md, "The web UI"):
//   1. GET /whoami — who is logged in; a 401 (here or from any later call)
//      sends the browser to /login.html?next=/chat.html.
//   2. The tab picks a peer name (the account's name in the first tab; kept
//      per tab in sessionStorage) and registers it: POST /submit-info with
//      ip 127.0.0.1 and the page's port — in lab 4 the tracker only records
//      them; lab 5's peer node fills in real ones. Then POST /add-list general.
//   3. GET /get-list fills the side bar (and again every few seconds, for
//      the online dots and new peers and channels).
//   4. GET /events (Server-Sent Events) brings every new message; each goes
//      to its conversation, de-duplicated by id. If the stream keeps failing
//      or does not exist, the open conversation is polled every 2 seconds
//      (POST /channel/messages with "after"), as the course's own UI does.
//   5. Opening a conversation loads its newest 100 messages; scrolling to
//      the top loads older ones ("before").
//
// Safety: text that comes from users or the server is only ever put into
// the page with textContent (or as an attribute value through the DOM), so
// a message "<img src=x onerror=alert(1)>" is shown as those characters.
// There is no innerHTML in this file, on purpose.

"use strict";

// ---------------------------------------------------------------------------
// Settings

/** How often the open conversation is polled when there is no live stream. */
const POLL_INTERVAL_MS = 2000;
/** How often the side bar (peers, online dots, channels) is refreshed. */
const LIST_INTERVAL_MS = 8000;
/** Failed (re)connections of the event stream before falling back to polling. */
const STREAM_FAILURES_BEFORE_POLLING = 3;
/**
 * At most this many tabs of one browser hold an event stream. A browser
 * opens about 6 HTTP/1.1 connections to a server, shared by its tabs, and
 * each stream holds one for good: with 6 streams nothing else could be
 * sent. The other tabs poll (docs/lab4_chat.md, "Polling and Server-Sent Events").
 */
const MAX_STREAMS_PER_BROWSER = 4;
/** The Web Locks that count the streams of this browser: one lock per stream. */
const STREAM_LOCK_PREFIX = "weaprous-stream-";
/** While polling, how long to wait before trying the event stream again. */
const STREAM_RETRY_MS = 30000;
/** Messages per history page (the server's default). */
const PAGE_SIZE = 100;
/** Messages of one sender closer than this are drawn as one group. */
const GROUP_WINDOW_MS = 5 * 60 * 1000;
/** How long a new tab waits for the other tabs to say which names they use. */
const TAB_QUERY_MS = 200;
/** Closer than this to the bottom, new messages scroll into view by themselves. */
const STICK_TO_BOTTOM_PX = 120;
/** Closer than this to the top, older messages are loaded. */
const LOAD_OLDER_PX = 40;
/** Peer and channel names: the server's rule (docs/protocol.md, "Conventions"). */
const NAME_RULE = /^[A-Za-z0-9_.-]{1,32}$/;
/** Where a visitor without a session goes; the login page comes back here. */
const LOGIN_URL = "/login.html?next=/chat.html";
/** The address a tab registers for its peer (recorded only, in lab 4). */
const PEER_IP = "127.0.0.1";
/** The channel every peer joins on arrival; it always exists. */
const HOME_CHANNEL = "general";
/** sessionStorage keys: this tab's peer name (+ "." + account) and its open conversation. */
const TAB_PEER_KEY = "weaprous.peer";
const TAB_OPEN_KEY = "weaprous.open";
/** localStorage key prefix: the peer names this browser registered for an account. */
const MINE_KEY_PREFIX = "weaprous.peers.";
/** The BroadcastChannel on which the tabs of this browser tell their names. */
const TABS_CHANNEL = "weaprous-tabs";
/** The phone layout (the same width as in style.css): the side bar is a drawer. */
const PHONE = window.matchMedia("(max-width: 760px)");

// ---------------------------------------------------------------------------
// State

const state = {
  account: "",            // the logged-in account (GET /whoami)
  me: "",                 // this tab's peer name
  mine: new Set(),        // peer names this browser registered for the account
  peers: [],              // GET /get-list "peers"
  channels: [],           // GET /get-list "channels"
  listSignature: "",      // what the side bar was last drawn from
  conversations: new Map(), // key ("channel:x" or "peer:y") → conversation
  open: "",               // key of the open conversation
  connection: "connecting", // "connecting" | "live" | "polling" | "offline"
  leaving: false,         // on the way to the login page: stop everything
};

const live = {
  source: null,           // the EventSource, while there is one
  failures: 0,            // errors since it was last open
  pollTimer: 0,           // setInterval id while polling
  retryTimer: 0,          // setTimeout id of the next stream attempt
  streaming: false,       // this tab holds one of the browser's stream locks
};

// The page's elements, by id.
const $ = (id) => document.getElementById(id);
const ui = {
  app: $("app"), sidebar: $("sidebar"), backdrop: $("backdrop"),
  toggle: $("sidebar-toggle"), toggleUnread: $("toggle-unread"),
  logout: $("logout"), meAvatar: $("me-avatar"), meAccount: $("me-account"),
  peerName: $("peer-name"), peerNameText: $("peer-name-text"),
  newChannel: $("new-channel"), joinForm: $("join-form"), joinChannel: $("join-channel"),
  joinError: $("join-error"), channelList: $("channel-list"), peerList: $("peer-list"),
  peersEmpty: $("peers-empty"),
  modeTitle: $("mode-title"), modeSubtitle: $("mode-subtitle"), modeBadge: $("mode-badge"),
  status: $("status"), statusText: $("status-text"),
  messages: $("messages"), loadOlder: $("load-older"), list: $("message-list"),
  empty: $("empty"), emptyTitle: $("empty-title"), emptyText: $("empty-text"),
  jump: $("jump-latest"), membership: $("membership"), membershipText: $("membership-text"),
  membershipJoin: $("membership-join"),
  notice: $("notice"), noticeText: $("notice-text"), noticeAction: $("notice-action"),
  noticeClose: $("notice-close"),
  form: $("composer-form"), composer: $("composer"), composerLabel: $("composer-label"),
  send: $("send"),
  dialog: $("peer-dialog"), peerForm: $("peer-form"), peerInput: $("peer-name-input"),
  peerError: $("peer-error"), peerCancel: $("peer-cancel"), peerSave: $("peer-save"),
  dialogAccount: $("peer-dialog-account"), lockTemplate: $("lock-template"),
};

// ---------------------------------------------------------------------------
// Talking to the server

/**
 * Calls the API: GET without a body, POST with a JSON one. Resolves to
 * { ok, status, data, message }; a network failure is status 0. A 401
 * (the session is gone) sends the browser to the login page.
 */
async function api(path, body) {
  const init = body === undefined
    ? { headers: { Accept: "application/json" } }
    : { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    wentOffline();
    return { ok: false, status: 0, data: null, message: "Cannot reach the server." };
  }
  if (response.status === 401) {
    toLogin();
    return { ok: false, status: 401, data: null, message: "Your session has ended." };
  }
  let data = null;
  try {
    data = await response.json();
  } catch (_) { /* not JSON: the status says enough */ }
  const message = data && typeof data.message === "string"
    ? data.message
    : "The server answered " + response.status + ".";
  return { ok: response.ok, status: response.status, data, message };
}

/** Leaves for the login page, which comes back to the chat after logging in. */
function toLogin() {
  if (state.leaving) return;
  state.leaving = true;
  stopLive();
  location.assign(LOGIN_URL);
}

// ---------------------------------------------------------------------------
// Small DOM helpers: every piece of text goes in through textContent.

/** A new element with a class and, optionally, text. */
function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Text that only screen readers see. */
function srOnly(text) {
  return el("span", "sr-only", text);
}

/** A hue from a name, so that each person keeps one colour everywhere. */
function hue(name) {
  let hash = 0;
  for (const char of name) hash = (hash * 31 + char.codePointAt(0)) >>> 0;
  return hash % 360;
}

/** Up to two letters for an avatar: "alice" → "A", "alice-phone" → "AP". */
function initials(name) {
  const words = name.split(/[-_.]+/).filter(Boolean);
  const letters = words.length > 1 ? words[0][0] + words[1][0] : (words[0] || name || "?")[0];
  return letters.toUpperCase();
}

/** Makes `node` an avatar of `name`: coloured initials. */
function paintAvatar(node, name) {
  node.textContent = initials(name);
  node.style.setProperty("--avatar-hue", String(hue(name)));
  return node;
}

/** A fresh copy of the lock icon. */
function lockIcon() {
  return ui.lockTemplate.content.firstElementChild.cloneNode(true);
}

// ---------------------------------------------------------------------------
// Times: the server's RFC 3339 UTC timestamps, shown in local time.

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long" });
const fullDayFormat = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long", year: "numeric" });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "medium" });

function dateOf(message) {
  const date = new Date(message.timestamp);
  return Number.isNaN(date.getTime()) ? new Date(0) : date;
}

function localDay(date) {
  return date.getFullYear() + "-" + date.getMonth() + "-" + date.getDate();
}

/** "Today", "Yesterday", or the date. */
function dayLabel(date) {
  const today = new Date();
  const yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
  if (localDay(date) === localDay(today)) return "Today";
  if (localDay(date) === localDay(yesterday)) return "Yesterday";
  return (date.getFullYear() === today.getFullYear() ? dayFormat : fullDayFormat).format(date);
}

// ---------------------------------------------------------------------------
// Conversations: a channel ("channel:general") or a peer ("peer:bob").

const channelKey = (name) => "channel:" + name;
const peerKey = (name) => "peer:" + name;

/** The conversation of `key`, created empty on first use. */
function conversation(key) {
  let found = state.conversations.get(key);
  if (!found) {
    const colon = key.indexOf(":");
    found = {
      key,
      kind: key.slice(0, colon),   // "channel" | "peer"
      name: key.slice(colon + 1),
      messages: [],                // EVENTs, by increasing id
      ids: new Set(),
      notes: new Map(),            // id → delivery note of a send answer
      loaded: false,               // its newest page has been fetched
      stale: false,                // events may have been missed: fetch again on opening
      hasOlder: false,
      loading: null,               // the promise of a newest-page fetch in flight
      loadingOlder: false,
      unread: 0,
    };
    state.conversations.set(key, found);
  }
  return found;
}

/** The open conversation. */
function current() {
  return conversation(state.open);
}

/** What POST /channel/messages needs to name a conversation. */
function target(c) {
  return c.kind === "channel" ? { channel: c.name } : { peer: c.name };
}

/**
 * The other side of a direct message, from this tab: the peer that is not
 * ours. The server shows an account the direct messages of all its peers.
 */
function otherParty(event) {
  if (event.from === state.me) return event.to;
  if (event.to === state.me) return event.from;
  if (state.mine.has(event.from)) return event.to;
  return event.from;
}

/** The conversations an EVENT belongs to (a direct message sent "in" a channel shows in both). */
function conversationsOf(event) {
  if (event.type === "broadcast") return [channelKey(event.channel)];
  const keys = [peerKey(otherParty(event))];
  if (typeof event.channel === "string") keys.push(channelKey(event.channel));
  return keys;
}

/** An EVENT as docs/protocol.md defines it; anything else is ignored. */
function isEvent(value) {
  return value !== null && typeof value === "object" && Number.isInteger(value.id)
    && (value.type === "broadcast" || value.type === "direct")
    && typeof value.from === "string" && typeof value.message === "string"
    && typeof value.timestamp === "string";
}

/** Adds `event` to `c` in id order; false if it was already there. */
function insert(c, event) {
  if (c.ids.has(event.id)) return false;
  c.ids.add(event.id);
  let index = c.messages.length;
  while (index > 0 && c.messages[index - 1].id > event.id) index -= 1;
  c.messages.splice(index, 0, event);
  return true;
}

/** Adds `event` to `c`: drawn if `c` is open, else counted as unread. */
function file(c, event) {
  if (!insert(c, event)) return;
  if (c.key === state.open) showArrival(c, event);
  else if (event.from !== state.me) c.unread += 1;
  updateSidebarItem(c.key);
}

/** A message arrived (stream or send answer): file it in each of its conversations. */
function receive(event) {
  if (!isEvent(event)) return;
  const keys = conversationsOf(event);
  keys.forEach((key) => file(conversation(key), event));
  updateUnreadTotal();
  if (keys.some((key) => !sidebarButton(key))) refreshList();   // a new peer or channel
}

// ---------------------------------------------------------------------------
// History

/** The EVENTs of a /channel/messages answer (oldest first). */
function eventsOf(result) {
  const messages = result.data && result.data.messages;
  return Array.isArray(messages) ? messages.filter(isEvent) : [];
}

/** Fetches the newest page of `c` and merges it in; true if it worked. */
function loadNewest(c) {
  if (!c.loading) {
    c.loading = fetchNewest(c).finally(() => { c.loading = null; });
  }
  return c.loading;
}

async function fetchNewest(c) {
  const result = await api("/channel/messages", target(c));
  if (!result.ok) {
    if (result.status !== 401 && c.key === state.open) showNotice(result.message, "error");
    return false;
  }
  const page = eventsOf(result);
  page.forEach((event) => insert(c, event));
  if (!c.loaded) c.hasOlder = page.length >= PAGE_SIZE;
  c.loaded = true;
  c.stale = false;
  updateSidebarItem(c.key);
  return true;
}

/** Fetches the page before the oldest message shown, keeping the view still. */
async function loadOlder() {
  const c = current();
  if (!c.hasOlder || c.loadingOlder || c.messages.length === 0) return;
  c.loadingOlder = true;
  ui.loadOlder.disabled = true;
  const before = c.messages[0].id;
  const result = await api("/channel/messages", { ...target(c), before, limit: PAGE_SIZE });
  c.loadingOlder = false;
  ui.loadOlder.disabled = false;
  if (!result.ok) {
    if (result.status !== 401) showNotice(result.message, "error");
    return;
  }
  const page = eventsOf(result);
  page.forEach((event) => insert(c, event));
  c.hasOlder = page.length >= PAGE_SIZE;
  if (c.key !== state.open) return;
  const fromBottom = ui.messages.scrollHeight - ui.messages.scrollTop;
  renderMessages(c);
  ui.messages.scrollTop = ui.messages.scrollHeight - fromBottom;
}

/**
 * Asks for what is new in the open conversation: each poll, and once when
 * a stream opens (to cover the moments without one).
 */
async function catchUp() {
  if (!state.open) return;
  const c = current();
  if (!c.loaded || c.stale) {
    if (await loadNewest(c) && c.key === state.open) renderMessages(c, { scroll: "keep" });
    return;
  }
  const last = c.messages.length ? c.messages[c.messages.length - 1].id : 0;
  const result = await api("/channel/messages", { ...target(c), after: last, limit: PAGE_SIZE });
  if (!result.ok) return;
  if (state.connection !== "live") setConnection(live.source ? "connecting" : "polling");
  const page = eventsOf(result);
  for (const event of page) {
    file(c, event);   // the page is this conversation's, whatever receive() would guess
    receive(event);   // and its other conversations, if any, count it as unread
  }
}

// ---------------------------------------------------------------------------
// Drawing the messages

/** True if `b` continues the group of `a`: same sender, same day, soon after. */
function continues(a, b, c) {
  if (!a || a.from !== b.from) return false;
  if (c.kind === "channel" && a.type !== b.type) return false;
  const gap = dateOf(b) - dateOf(a);
  return gap >= 0 && gap < GROUP_WINDOW_MS && localDay(dateOf(a)) === localDay(dateOf(b));
}

/** A line across the conversation with the day's name. */
function daySeparator(date) {
  const line = el("div", "day-separator");
  line.append(el("span", "", dayLabel(date)));
  return line;
}

/** One message: avatar, name, bubble with the text and the time. */
function messageNode(c, event, continued) {
  const own = event.from === state.me;
  const row = el("div", "message " + (own ? "own" : "other") + (continued ? " continued" : ""));
  row.dataset.id = String(event.id);
  row.dataset.from = event.from;
  row.dataset.type = event.type;
  if (!own) {
    const avatar = paintAvatar(el("span", "avatar"), event.from);
    avatar.setAttribute("aria-hidden", "true");
    row.append(avatar);
  }
  const body = el("div", "message-body");
  if (!own && !continued) {
    body.append(el("span", "message-from", event.from));
  } else {
    body.append(srOnly(own ? "You (" + event.from + "): " : event.from + ": "));
  }
  const bubble = el("div", "bubble");
  bubble.append(el("span", "message-text", event.message));   // text, never HTML
  const date = dateOf(event);
  const time = el("time", "message-time", timeFormat.format(date));
  time.dateTime = event.timestamp;
  time.title = fullFormat.format(date);
  bubble.append(time);
  body.append(bubble);
  if (event.type === "direct" && c.kind === "channel") {
    const tag = el("span", "private-tag");
    tag.append(lockIcon(), document.createTextNode("private: " + event.from + " → " + (event.to || "?")));
    body.append(tag);
  }
  const note = c.notes.get(event.id);
  if (note) body.append(el("span", "delivery-note", note));
  row.append(body);
  return row;
}

/** Draws every message of `c`; `scroll`: "bottom" (default) or "keep". */
function renderMessages(c, { scroll = "bottom" } = {}) {
  const wasAtBottom = nearBottom();
  const nodes = [];
  let previous = null;
  for (const event of c.messages) {
    const date = dateOf(event);
    const newDay = !previous || localDay(dateOf(previous)) !== localDay(date);
    if (newDay) nodes.push(daySeparator(date));
    nodes.push(messageNode(c, event, !newDay && continues(previous, event, c)));
    previous = event;
  }
  ui.list.setAttribute("aria-busy", "true");   // a redraw is not news to announce
  ui.list.replaceChildren(...nodes);
  ui.list.removeAttribute("aria-busy");
  renderEmpty(c);
  ui.loadOlder.hidden = !c.hasOlder;
  if (scroll === "bottom" || wasAtBottom) scrollToBottom();
}

/** Adds one new message at the end (or redraws, if it is older than the last one shown). */
function showArrival(c, event) {
  const shown = ui.list.lastElementChild;
  const lastId = shown && shown.dataset.id ? Number(shown.dataset.id) : 0;
  const index = c.messages.indexOf(event);
  if (index !== c.messages.length - 1 || event.id < lastId) {
    renderMessages(c, { scroll: "keep" });
    return;
  }
  const stick = nearBottom() || event.from === state.me;
  const previous = c.messages[index - 1];
  const date = dateOf(event);
  const newDay = !previous || localDay(dateOf(previous)) !== localDay(date);
  if (newDay) ui.list.append(daySeparator(date));
  ui.list.append(messageNode(c, event, !newDay && continues(previous, event, c)));
  renderEmpty(c);
  if (stick) scrollToBottom();
  else ui.jump.hidden = false;
}

/** The empty state of a conversation without messages. */
function renderEmpty(c) {
  ui.empty.hidden = !c.loaded || c.messages.length > 0;
  if (c.kind === "channel") {
    ui.emptyTitle.textContent = "No messages in #" + c.name + " yet";
    ui.emptyText.textContent = "Say hello: everyone in #" + c.name + " will see it.";
  } else {
    ui.emptyTitle.textContent = "This is the start of your conversation with " + c.name;
    ui.emptyText.textContent = "Direct messages are private: only you and " + c.name + " can read them.";
  }
}

function nearBottom() {
  const box = ui.messages;
  return box.scrollHeight - box.scrollTop - box.clientHeight < STICK_TO_BOTTOM_PX;
}

function scrollToBottom() {
  ui.messages.scrollTop = ui.messages.scrollHeight;
  ui.jump.hidden = true;
}

// ---------------------------------------------------------------------------
// The side bar

/** The peers of the tracker, except this tab's own; online first. */
function otherPeers() {
  return state.peers
    .filter((peer) => peer.username !== state.me)
    .sort((a, b) => Number(b.online) - Number(a.online) || a.username.localeCompare(b.username));
}

function peerInfo(name) {
  return state.peers.find((peer) => peer.username === name);
}

/** The peers that have joined `channel`. */
function membersOf(channel) {
  return state.peers.filter((peer) => Array.isArray(peer.channels) && peer.channels.includes(channel));
}

/** "1 member", "3 members". */
function members(channel) {
  const count = membersOf(channel).length;
  return count + (count === 1 ? " member" : " members");
}

function isMember(channel) {
  const me = peerInfo(state.me);
  return Boolean(me && Array.isArray(me.channels) && me.channels.includes(channel));
}

/** The side bar's button of a conversation, if it is listed. */
function sidebarButton(key) {
  for (const button of document.querySelectorAll(".conversation")) {
    if (button.dataset.key === key) return button;
  }
  return null;
}

function channelItem(name) {
  const button = el("button", "conversation channel");
  button.type = "button";
  button.dataset.key = channelKey(name);
  button.dataset.channel = name;
  button.dataset.member = String(isMember(name));
  const icon = el("span", "conv-icon", "#");
  icon.setAttribute("aria-hidden", "true");
  button.append(icon, conversationText(name), unreadBadge());
  const item = el("li");
  item.append(button);
  return item;
}

function peerItem(peer) {
  const button = el("button", "conversation peer");
  button.type = "button";
  button.dataset.key = peerKey(peer.username);
  button.dataset.peer = peer.username;
  button.dataset.online = String(Boolean(peer.online));
  const avatar = paintAvatar(el("span", "avatar"), peer.username);
  avatar.setAttribute("aria-hidden", "true");
  const presence = el("span", "presence");
  avatar.append(presence);
  button.append(avatar, conversationText(peer.username), unreadBadge());
  const item = el("li");
  item.append(button);
  return item;
}

function conversationText(name) {
  const text = el("span", "conv-text");
  text.append(el("span", "conv-name", name), el("span", "conv-sub"));
  return text;
}

function unreadBadge() {
  const badge = el("span", "unread");
  badge.hidden = true;
  return badge;
}

/** Redraws the lists if what they show has changed, keeping the keyboard focus. */
function renderSidebar() {
  const signature = JSON.stringify([state.me, state.peers, state.channels]);
  if (signature === state.listSignature) return;
  state.listSignature = signature;
  const focused = document.activeElement && document.activeElement.dataset
    ? document.activeElement.dataset.key : undefined;
  ui.channelList.replaceChildren(...state.channels.map(channelItem));
  const others = otherPeers();
  ui.peerList.replaceChildren(...others.map(peerItem));
  ui.peersEmpty.hidden = others.length > 0;
  for (const button of document.querySelectorAll(".conversation")) updateSidebarItem(button.dataset.key);
  if (focused) {
    const again = sidebarButton(focused);
    if (again) again.focus();
  }
  renderHeader();
}

/** One item's second line, unread count and selection. */
function updateSidebarItem(key) {
  const button = sidebarButton(key);
  if (!button) return;
  const c = conversation(key);
  const open = key === state.open;
  if (open) button.setAttribute("aria-current", "true");
  else button.removeAttribute("aria-current");
  button.dataset.unread = String(c.unread);
  const badge = button.querySelector(".unread");
  badge.hidden = c.unread === 0;
  badge.replaceChildren(document.createTextNode(String(c.unread)), srOnly(" unread"));
  button.querySelector(".conv-sub").textContent = preview(c);
}

/** A conversation's second line: its last message, else a fact about it. */
function preview(c) {
  const last = c.messages[c.messages.length - 1];
  if (last) return (last.from === state.me ? "You" : last.from) + ": " + last.message.replace(/\s+/g, " ");
  if (c.kind === "channel") {
    return members(c.name) + (isMember(c.name) ? "" : " · not joined");
  }
  const peer = peerInfo(c.name);
  const status = peer && peer.online ? "online" : "offline";
  return state.mine.has(c.name) ? "also yours · " + status : status;
}

/** The total of unread messages, on the phone's menu button and in the title. */
function updateUnreadTotal() {
  let total = 0;
  for (const c of state.conversations.values()) total += c.unread;
  ui.toggleUnread.hidden = total === 0;
  ui.toggleUnread.textContent = String(total);
  const c = state.open ? current() : null;
  const where = c ? (c.kind === "channel" ? "#" + c.name : c.name) : "Chat";
  document.title = (total ? "(" + total + ") " : "") + where + " · weaprous";
}

/** GET /get-list: peers, online dots, channels. */
async function refreshList() {
  const result = await api("/get-list");
  if (!result.ok) return;
  if (state.connection === "offline") setConnection(live.source ? "connecting" : "polling");
  state.peers = Array.isArray(result.data.peers) ? result.data.peers.filter((p) => p && typeof p.username === "string") : [];
  state.channels = Array.isArray(result.data.channels) ? result.data.channels.filter((n) => typeof n === "string") : [];
  renderSidebar();
}

// ---------------------------------------------------------------------------
// The header: the two modes look different on purpose.

function renderHeader() {
  if (!state.open) return;
  const c = current();
  const direct = c.kind === "peer";
  ui.app.dataset.mode = direct ? "direct" : "broadcast";
  ui.app.dataset.conversation = c.key;
  if (direct) {
    const peer = peerInfo(c.name);
    ui.modeTitle.textContent = "Direct message with " + c.name;
    ui.modeSubtitle.textContent = (peer && peer.online ? "Online" : "Offline") + " · private: only you two can read this";
    ui.modeBadge.replaceChildren(lockIcon(), document.createTextNode("Direct"));
    ui.composer.placeholder = "Message " + c.name + " privately…";
    ui.composerLabel.textContent = "Direct message to " + c.name;
    ui.membership.hidden = true;
  } else {
    ui.modeTitle.textContent = "# " + c.name;
    ui.modeSubtitle.textContent = "Broadcast to " + members(c.name);
    ui.modeBadge.replaceChildren(document.createTextNode("Broadcast"));
    ui.composer.placeholder = "Message #" + c.name + " as " + state.me + "…";
    ui.composerLabel.textContent = "Message to #" + c.name;
    const member = isMember(c.name) || state.peers.length === 0;
    ui.membership.hidden = member;
    ui.membershipText.textContent = "You are reading #" + c.name + ". Join it to post.";
  }
  updateUnreadTotal();
}

/** Opens a conversation: header, cached messages at once, then its history. */
async function openConversation(key, { focus = false } = {}) {
  state.open = key;
  sessionStorage.setItem(TAB_OPEN_KEY, key);
  const c = current();
  c.unread = 0;
  for (const button of document.querySelectorAll(".conversation")) updateSidebarItem(button.dataset.key);
  hideNotice();
  renderHeader();
  renderMessages(c);
  closeDrawer(false);
  if (focus) ui.composer.focus();
  if (!c.loaded || c.stale) {
    const loaded = await loadNewest(c);
    if (loaded && state.open === key) renderMessages(c);
  }
}

// ---------------------------------------------------------------------------
// Sending

async function send(event) {
  event.preventDefault();
  const text = ui.composer.value;
  if (!text.trim() || !state.open || ui.send.disabled) return;
  const c = current();
  const [path, body] = c.kind === "channel"
    ? ["/broadcast-peer", { from: state.me, channel: c.name, message: text }]
    : ["/send-peer", { from: state.me, to: c.name, message: text }];
  ui.send.disabled = true;
  const result = await api(path, body);
  ui.send.disabled = false;
  if (result.ok) {
    ui.composer.value = "";
    fitComposer();
    hideNotice();
    const sent = result.data && result.data.message;
    const note = deliveryNote(result.data);
    if (note && isEvent(sent)) {
      for (const key of conversationsOf(sent)) conversation(key).notes.set(sent.id, note);
      showNotice(note, "info");
    }
    receive(sent);
    scrollToBottom();
    return;
  }
  if (result.status === 401) return;
  if (result.status === 403 && c.kind === "channel") {
    showNotice(result.message, "error", { label: "Join #" + c.name, run: () => joinChannel(c.name) });
  } else {
    showNotice(result.message, "error");
  }
}

/** Lab 5's extra fields of a send answer, as one line; "" when all went well. */
function deliveryNote(data) {
  const names = (field) => (data && Array.isArray(data[field]) ? data[field].filter((n) => typeof n === "string") : []);
  const queued = names("queued");
  const unreached = names("unreached").filter((name) => !queued.includes(name));
  const parts = [...unreached, ...queued.map((name) => name + " (queued, will retry)")];
  return parts.length ? "Not delivered to: " + parts.join(", ") : "";
}

/** Enter sends; Shift+Enter (or an input method composing a word) adds a line. */
function composerKey(event) {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
    event.preventDefault();
    ui.form.requestSubmit();
  }
}

/** The composer grows with its text, up to a limit set in the CSS. */
function fitComposer() {
  ui.composer.style.height = "auto";
  ui.composer.style.height = ui.composer.scrollHeight + "px";
}

// ---------------------------------------------------------------------------
// Notices near the composer: errors, and delivery reports.

function showNotice(text, kind, action) {
  ui.notice.dataset.kind = kind;
  ui.noticeText.textContent = text;
  ui.noticeAction.hidden = !action;
  ui.noticeAction.onclick = null;
  if (action) {
    ui.noticeAction.textContent = action.label;
    ui.noticeAction.onclick = action.run;
  }
  ui.notice.hidden = false;
}

function hideNotice() {
  ui.notice.hidden = true;
}

// ---------------------------------------------------------------------------
// Channels

/** POST /add-list as this tab's peer, then open the channel. */
async function joinChannel(name) {
  const result = await api("/add-list", { username: state.me, channel: name });
  if (!result.ok) {
    if (result.status !== 401) showNotice(result.message, "error");
    return result;
  }
  hideNotice();
  await refreshList();
  await openConversation(channelKey(name), { focus: !PHONE.matches });
  return result;
}

async function submitJoinForm(event) {
  event.preventDefault();
  const name = ui.joinChannel.value.trim().replace(/^#/, "");
  if (!NAME_RULE.test(name)) {
    showJoinError("A channel name is 1–32 letters, digits, _, - or .");
    return;
  }
  ui.joinError.hidden = true;
  const result = await joinChannel(name);
  if (result.ok) {
    ui.joinChannel.value = "";
    toggleJoinForm(false);
  } else if (result.status !== 401) {
    showJoinError(result.message);
  }
}

function showJoinError(text) {
  ui.joinError.textContent = text;
  ui.joinError.hidden = false;
}

function toggleJoinForm(show) {
  ui.joinForm.hidden = !show;
  ui.newChannel.setAttribute("aria-expanded", String(show));
  ui.joinError.hidden = true;
  if (show) ui.joinChannel.focus();
}

// ---------------------------------------------------------------------------
// This tab's peer

/** The names the other open tabs of this browser use for this account. */
function namesOfOtherTabs() {
  if (!("BroadcastChannel" in window)) return Promise.resolve(new Set());
  return new Promise((resolve) => {
    const names = new Set();
    const channel = new BroadcastChannel(TABS_CHANNEL);
    channel.onmessage = (message) => {
      const data = message.data;
      if (data && data.type === "here" && data.account === state.account) names.add(data.name);
    };
    channel.postMessage({ type: "who" });
    setTimeout(() => { channel.close(); resolve(names); }, TAB_QUERY_MS);
  });
}

/** Answers other tabs asking which names are in use. */
function answerOtherTabs() {
  if (!("BroadcastChannel" in window)) return;
  const channel = new BroadcastChannel(TABS_CHANNEL);
  channel.onmessage = (message) => {
    if (message.data && message.data.type === "who" && state.me) {
      channel.postMessage({ type: "here", account: state.account, name: state.me });
    }
  };
}

/**
 * The name to try first: this tab's own (sessionStorage) unless another
 * open tab uses it (a duplicated tab copies sessionStorage), else the
 * account's name, else the account's name with the first free number.
 */
async function firstChoiceOfName() {
  const taken = await namesOfOtherTabs();
  const saved = sessionStorage.getItem(TAB_PEER_KEY + "." + state.account);
  if (saved && NAME_RULE.test(saved) && !taken.has(saved)) return saved;
  let name = state.account;
  for (let n = 2; taken.has(name); n += 1) {
    const suffix = "-" + n;
    name = state.account.slice(0, 32 - suffix.length) + suffix;
  }
  return name;
}

/** POST /submit-info for `name`; null when registered, else the reason. */
async function register(name) {
  if (!NAME_RULE.test(name)) return "A name is 1–32 letters, digits, _, - or .";
  const port = Number(location.port) || (location.protocol === "https:" ? 443 : 80);
  const result = await api("/submit-info", { username: name, ip: PEER_IP, port });
  if (!result.ok) return result.message;
  state.me = name;
  sessionStorage.setItem(TAB_PEER_KEY + "." + state.account, name);
  state.mine.add(name);
  try {
    localStorage.setItem(MINE_KEY_PREFIX + state.account, JSON.stringify([...state.mine]));
  } catch (_) { /* storage full or refused: only the "your other tab" hint is lost */ }
  renderMe();
  return null;
}

function loadMine() {
  try {
    const saved = JSON.parse(localStorage.getItem(MINE_KEY_PREFIX + state.account) || "[]");
    if (Array.isArray(saved)) saved.filter((n) => typeof n === "string").forEach((n) => state.mine.add(n));
  } catch (_) { /* nothing usable saved */ }
}

function renderMe() {
  paintAvatar(ui.meAvatar, state.me || state.account);
  ui.peerNameText.textContent = state.me || "…";
  ui.peerName.setAttribute("aria-label", "You are " + (state.me || "not registered yet") + ". Change this tab's peer name");
  ui.meAccount.textContent = state.me && state.me !== state.account ? "account " + state.account : "";
}

/**
 * Asks for a name until one is registered. `required`: there is no name
 * yet (the default was refused), so the dialog cannot be dismissed.
 * Resolves to true when a new name was registered.
 */
function askForName(reason, required) {
  return new Promise((resolve) => {
    ui.dialogAccount.textContent = state.account;
    ui.peerInput.value = state.me || state.account;
    ui.peerCancel.hidden = required;
    ui.peerError.textContent = reason || "";
    ui.peerError.hidden = !reason;
    let done = false;
    const finish = (registered) => {
      done = true;
      ui.peerForm.onsubmit = null;
      ui.peerCancel.onclick = null;
      ui.dialog.oncancel = null;
      ui.dialog.onclose = null;
      if (ui.dialog.open) ui.dialog.close();
      resolve(registered);
    };
    ui.peerForm.onsubmit = async (event) => {
      event.preventDefault();
      const name = ui.peerInput.value.trim();
      if (name === state.me) return finish(false);
      ui.peerSave.disabled = true;
      const refused = await register(name);
      ui.peerSave.disabled = false;
      if (!refused) return finish(true);
      ui.peerError.textContent = refused;
      ui.peerError.hidden = false;
      ui.peerInput.focus();
      ui.peerInput.select();
    };
    ui.peerCancel.onclick = () => finish(false);
    ui.dialog.oncancel = (event) => {   // Escape
      if (required) event.preventDefault();
    };
    ui.dialog.onclose = () => {         // closed some other way (a second Escape)
      if (done) return;
      if (required) ui.dialog.showModal();
      else finish(false);
    };
    ui.dialog.showModal();
    ui.peerInput.focus();
    ui.peerInput.select();
  });
}

/** Registers this tab's peer: the first choice, or whatever the user picks. */
async function claimName() {
  const first = await firstChoiceOfName();
  const refused = await register(first);
  if (!refused) return;
  if (state.leaving) return;
  await askForName("“" + first + "” cannot be used (" + refused + "). Choose another name for this tab.", true);
}

/** The user picked a new name: the new peer joins the old one's channels. */
async function renamePeer() {
  const oldChannels = (peerInfo(state.me) || {}).channels || [HOME_CHANNEL];
  const renamed = await askForName("", false);
  if (!renamed) return;
  for (const channel of new Set([HOME_CHANNEL, ...oldChannels])) {
    await api("/add-list", { username: state.me, channel });
  }
  state.listSignature = "";
  await refreshList();
  const c = current();
  renderMessages(c);
  renderHeader();
}

// ---------------------------------------------------------------------------
// Live updates: Server-Sent Events, or polling when there is no stream.

function setConnection(connection) {
  state.connection = connection;
  ui.status.dataset.state = connection;
  ui.statusText.textContent = {
    connecting: "Connecting…",
    live: "Live",
    polling: "Polling every 2 s",
    offline: "Offline — retrying",
  }[connection];
}

function wentOffline() {
  if (state.connection !== "live") setConnection("offline");
}

/**
 * Starts live updates: an event stream if this tab gets one of the
 * browser's MAX_STREAMS_PER_BROWSER stream locks, else polling until a
 * lock frees up (a tab with one closes). Web Locks are shared by the tabs
 * of a browser and released when a tab goes; where there are none (a page
 * not on localhost or HTTPS), every tab streams.
 */
async function startLive() {
  if (!("EventSource" in window)) {
    startPolling();
    return;
  }
  if (!navigator.locks) {
    startStream();
    return;
  }
  const slots = Array.from({ length: MAX_STREAMS_PER_BROWSER }, (_, i) => STREAM_LOCK_PREFIX + i);
  for (const slot of slots) {
    if (await holdStreamLock(slot, { ifAvailable: true })) return;
  }
  startPolling();
  const waiting = new AbortController();
  for (const slot of slots) {
    holdStreamLock(slot, { signal: waiting.signal }, waiting).catch(() => { /* aborted: another slot came first */ });
  }
}

/**
 * Asks for one stream lock; once granted, opens the stream and keeps the
 * lock for the life of the page. Resolves to false if it was not free
 * (with ifAvailable). `waiting`: the other requests to cancel when granted.
 */
function holdStreamLock(slot, options, waiting) {
  return new Promise((resolve, reject) => {
    navigator.locks.request(slot, options, (lock) => {
      if (!lock || live.streaming) {
        resolve(false);
        return undefined;           // not free, or another slot came first: let it go
      }
      live.streaming = true;
      if (waiting) waiting.abort();
      resolve(true);
      startStream();
      return new Promise(() => {}); // never settles: held until the tab closes
    }).catch(reject);
  });
}

/** Opens the event stream; after repeated failures, polls and tries again later. */
function startStream() {
  clearTimeout(live.retryTimer);
  const source = new EventSource("/events");
  live.source = source;
  live.failures = 0;
  source.onopen = () => {
    live.failures = 0;
    stopPolling();
    setConnection("live");
    // Messages stored while no stream was open are not in it: fetch the
    // open conversation's news, and refetch the others when opened.
    for (const c of state.conversations.values()) if (c.key !== state.open && c.loaded) c.stale = true;
    catchUp();
  };
  source.onmessage = (message) => {
    let event;
    try {
      event = JSON.parse(message.data);
    } catch (_) {
      return;
    }
    receive(event);
  };
  source.onerror = () => {
    if (live.source !== source) return;
    live.failures += 1;
    // CLOSED: the server refused the stream (a 401, or too many streams);
    // the browser will not retry. CONNECTING: it is retrying by itself.
    if (source.readyState === EventSource.CLOSED || live.failures >= STREAM_FAILURES_BEFORE_POLLING) {
      source.close();
      live.source = null;
      startPolling();
      live.retryTimer = setTimeout(startStream, STREAM_RETRY_MS);
      api("/whoami");   // a 401 here means the session is gone: go to the login page
    } else if (!live.pollTimer) {
      setConnection("connecting");
    }
  };
}

function startPolling() {
  if (live.pollTimer) return;
  if (state.connection !== "offline") setConnection("polling");
  live.pollTimer = setInterval(catchUp, POLL_INTERVAL_MS);
  catchUp();
}

function stopPolling() {
  clearInterval(live.pollTimer);
  live.pollTimer = 0;
}

function stopLive() {
  stopPolling();
  clearTimeout(live.retryTimer);
  if (live.source) live.source.close();
  live.source = null;
}

// ---------------------------------------------------------------------------
// The phone's drawer

function openDrawer() {
  ui.app.classList.add("sidebar-open");
  ui.backdrop.hidden = false;
  ui.toggle.setAttribute("aria-expanded", "true");
  const first = ui.sidebar.querySelector(".conversation[aria-current]") || ui.sidebar.querySelector("button");
  if (first) first.focus();
}

function closeDrawer(returnFocus) {
  if (!ui.app.classList.contains("sidebar-open")) return;
  ui.app.classList.remove("sidebar-open");
  ui.backdrop.hidden = true;
  ui.toggle.setAttribute("aria-expanded", "false");
  if (returnFocus) ui.toggle.focus();
}

// ---------------------------------------------------------------------------
// Wiring and start

function wire() {
  ui.form.addEventListener("submit", send);
  ui.composer.addEventListener("keydown", composerKey);
  ui.composer.addEventListener("input", fitComposer);
  ui.sidebar.addEventListener("click", (event) => {
    const button = event.target.closest(".conversation");
    // On a phone, focusing the composer would pop up the keyboard.
    if (button) openConversation(button.dataset.key, { focus: !PHONE.matches });
  });
  ui.newChannel.addEventListener("click", () => toggleJoinForm(ui.joinForm.hidden));
  ui.joinForm.addEventListener("submit", submitJoinForm);
  ui.membershipJoin.addEventListener("click", () => joinChannel(current().name));
  ui.peerName.addEventListener("click", renamePeer);
  ui.noticeClose.addEventListener("click", hideNotice);
  ui.loadOlder.addEventListener("click", loadOlder);
  ui.messages.addEventListener("scroll", () => {
    if (ui.messages.scrollTop < LOAD_OLDER_PX) loadOlder();
    if (nearBottom()) ui.jump.hidden = true;
  });
  ui.jump.addEventListener("click", scrollToBottom);
  ui.toggle.addEventListener("click", () => {
    if (ui.app.classList.contains("sidebar-open")) closeDrawer(true);
    else openDrawer();
  });
  ui.backdrop.addEventListener("click", () => closeDrawer(true));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") closeDrawer(true);
  });
  ui.logout.addEventListener("click", async () => {
    state.leaving = true;
    stopLive();
    try {
      await fetch("/logout", { method: "POST" });
    } catch (_) { /* the login page is the right place either way */ }
    location.assign("/login.html");
  });
}

async function start() {
  wire();
  setConnection("connecting");
  const who = await api("/whoami");
  if (!who.ok) {
    if (who.status !== 401) {
      ui.app.dataset.state = "failed";
      ui.modeTitle.textContent = "Cannot start the chat";
      showNotice(who.message + " Reload the page to try again.", "error");
    }
    return;
  }
  state.account = String(who.data.username);
  loadMine();
  renderMe();
  answerOtherTabs();
  await claimName();
  if (state.leaving) return;
  await api("/add-list", { username: state.me, channel: HOME_CHANNEL });
  await refreshList();
  const saved = sessionStorage.getItem(TAB_OPEN_KEY);
  const known = saved && (saved.startsWith("channel:") || saved.startsWith("peer:"));
  startLive();
  await openConversation(known ? saved : channelKey(HOME_CHANNEL));
  if (!PHONE.matches) ui.composer.focus();
  setInterval(refreshList, LIST_INTERVAL_MS);
  ui.app.dataset.state = "ready";
}

start();
