//! The peers' wire protocol: the frames two peer nodes exchange over a
//! TCP connection, and how a stream of bytes is cut into them
//! (`docs/lab5_peer.md`, "The wire protocol").
//!
//! **Framing.** TCP carries bytes, not messages (lab 1): one `read` may
//! return half a frame, or two and a half. So every frame ends with a
//! delimiter: a frame is one JSON object (RFC 8259) on one line, ended by
//! `\n` — the JSON Lines format. The JSON writer escapes every control
//! character inside strings, so a frame never holds a raw line break
//! before its end. A reader keeps what it has received in a buffer and
//! calls [`parse`] on it: [`Status::Partial`] means "read more",
//! [`Status::Complete`] gives a frame and how many bytes it used. A frame
//! longer than [`MAX_FRAME_BYTES`] is an error, found as soon as that many
//! bytes have arrived without a line end, so a peer cannot make another
//! buffer without limit. (A length prefix would do as well; a line can be
//! typed into `nc`, which helps when you write your own peer.)
//!
//! **Frames** (every one has a `"type"`; unknown fields are ignored):
//!
//! | type | sent by | fields |
//! |---|---|---|
//! | `hello` | the connecting peer, first | `version`, `from`, `to`, `ticket` |
//! | `welcome` | the accepting peer, after checking the ticket | `version`, `peer`, `receipt` |
//! | `message` | the connecting peer | `id`, `kind`, `from`, `to`, `channel`, `message`, `timestamp` |
//! | `ack` | the accepting peer, once the message is stored | `id` |
//! | `error` | the accepting peer | `id` (when about one message), `code`, `message` |
//!
//! Left out on purpose: a frame for the accepting peer to send messages
//! back on the same connection (each direction opens its own), keep-alive
//! pings (an idle connection is simply closed and opened again), and
//! compression or encryption.

use std::fmt;
use std::str;

use crate::chat::store::Kind;
use crate::http::request::Status;
use crate::json::{self, Object, Value};

/// The protocol's version, in every `hello` and `welcome`. A peer that
/// speaks another answers with an `error` of code `version`.
pub const PROTOCOL_VERSION: u64 = 1;

/// Longest frame accepted, its `\n` included. A message of 4 KiB whose
/// every byte must be escaped (`\u0001`) takes 24 KiB of JSON; the rest is
/// room for the other fields.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

/// The frame's end.
const DELIMITER: u8 = b'\n';

/// A chat message as it travels between peers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// Chosen by the sender, unique: 32 random hex digits. The receiver
    /// stores a message with an id it has already stored only once, so a
    /// sender that did not hear the ack may safely send it again.
    pub id: String,
    /// The sending peer.
    pub from: String,
    /// The receiving peer of a direct message; `None` for a broadcast.
    pub to: Option<String>,
    /// The channel: always set for a broadcast, optional for a direct
    /// message (as in lab 4).
    pub channel: Option<String>,
    /// The text.
    pub text: String,
    /// When the sender stored it: RFC 3339, UTC, milliseconds.
    pub timestamp: String,
}

impl Envelope {
    /// Broadcast or direct.
    pub fn kind(&self) -> Kind {
        if self.to.is_some() {
            Kind::Direct
        } else {
            Kind::Broadcast
        }
    }

    /// The `message` frame's fields, without `type`.
    pub fn to_object(&self) -> Object {
        Object::new()
            .with("id", self.id.as_str())
            .with("kind", self.kind().as_str())
            .with("from", self.from.as_str())
            .with("to", self.to.as_deref())
            .with("channel", self.channel.as_deref())
            .with("message", self.text.as_str())
            .with("timestamp", self.timestamp.as_str())
    }

    /// Reads the fields of a `message` frame (or of a line of the outbox).
    pub fn from_object(object: &Object) -> Result<Envelope, String> {
        let envelope = Envelope {
            id: message_id(object)?,
            from: text(object, "from")?,
            to: optional_text(object, "to")?,
            channel: optional_text(object, "channel")?,
            text: text(object, "message")?,
            timestamp: text(object, "timestamp")?,
        };
        let kind = text(object, "kind")?;
        match (kind.as_str(), envelope.kind()) {
            ("direct", Kind::Direct) => Ok(envelope),
            ("broadcast", Kind::Broadcast) if envelope.channel.is_some() => Ok(envelope),
            ("broadcast", Kind::Broadcast) => Err("a broadcast needs a \"channel\"".to_string()),
            ("direct", Kind::Broadcast) => Err("a direct message needs a \"to\"".to_string()),
            ("broadcast", Kind::Direct) => Err("a broadcast has \"to\": null".to_string()),
            (other, _) => Err(format!("unknown kind {other:?}")),
        }
    }
}

/// Why a peer refused: the `code` of an `error` frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// Not a frame of this protocol, or not the frame expected now.
    BadFrame,
    /// The `hello` asked for another protocol version.
    Version,
    /// No peer of that name lives at this node.
    UnknownPeer,
    /// The receiving peer's user is not logged in here, or the node cannot
    /// reach the tracker: it cannot check tickets now.
    Offline,
    /// The tracker did not redeem the ticket.
    BadTicket,
    /// A message whose `from` is not the peer the connection was opened by.
    ForgedSender,
    /// A broadcast from a peer that is not a member of its channel.
    NotMember,
    /// A message the receiver will never take: empty, too long, or for
    /// another peer.
    BadMessage,
    /// The same message is being stored right now; send it again later.
    Busy,
    /// The receiver could not store the message.
    Storage,
    /// A code this node does not know (from a newer or another peer).
    Other(String),
}

impl ErrorCode {
    /// The code as it is written in a frame.
    pub fn as_str(&self) -> &str {
        match self {
            ErrorCode::BadFrame => "bad-frame",
            ErrorCode::Version => "version",
            ErrorCode::UnknownPeer => "unknown-peer",
            ErrorCode::Offline => "offline",
            ErrorCode::BadTicket => "bad-ticket",
            ErrorCode::ForgedSender => "forged-sender",
            ErrorCode::NotMember => "not-member",
            ErrorCode::BadMessage => "bad-message",
            ErrorCode::Busy => "busy",
            ErrorCode::Storage => "storage",
            ErrorCode::Other(code) => code,
        }
    }

    /// The code written as `code`.
    pub fn parse(code: &str) -> ErrorCode {
        [
            ErrorCode::BadFrame,
            ErrorCode::Version,
            ErrorCode::UnknownPeer,
            ErrorCode::Offline,
            ErrorCode::BadTicket,
            ErrorCode::ForgedSender,
            ErrorCode::NotMember,
            ErrorCode::BadMessage,
            ErrorCode::Busy,
            ErrorCode::Storage,
        ]
        .into_iter()
        .find(|known| known.as_str() == code)
        .unwrap_or_else(|| ErrorCode::Other(code.to_string()))
    }

    /// Whether sending the same message again can never succeed, so that
    /// the sender drops it instead of queueing it: the receiver refused the
    /// message itself, not the moment.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            ErrorCode::BadFrame
                | ErrorCode::Version
                | ErrorCode::ForgedSender
                | ErrorCode::NotMember
                | ErrorCode::BadMessage
        )
    }
}

/// One frame of the protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// The connecting peer says who it is, whom it wants, and shows the
    /// tracker's ticket that vouches for it.
    Hello {
        /// The protocol version it speaks.
        version: u64,
        /// The connecting peer.
        from: String,
        /// The peer it wants to talk to.
        to: String,
        /// The ticket's id, from `/connect-peer`.
        ticket: String,
    },
    /// The accepting peer took the ticket, and proves who it is with the
    /// receipt the tracker gave it.
    Welcome {
        /// The protocol version it speaks.
        version: u64,
        /// The accepting peer (the hello's `to`).
        peer: String,
        /// The ticket's receipt, from `/check-ticket`.
        receipt: String,
    },
    /// A chat message.
    Message(Envelope),
    /// The message with this id is stored (or was already).
    Ack {
        /// The message's id.
        id: String,
    },
    /// A refusal: of one message when `id` is set (the connection goes on),
    /// else of the connection, which the sender of the error then closes.
    Error {
        /// The refused message's id, if one message was refused.
        id: Option<String>,
        /// Why, for programs.
        code: ErrorCode,
        /// Why, for people.
        message: String,
    },
}

impl Frame {
    /// An `error` frame about the whole connection.
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Frame {
        Frame::Error {
            id: None,
            code,
            message: message.into(),
        }
    }

    /// The frame as it goes on the wire: compact JSON and `\n`.
    pub fn to_line(&self) -> Vec<u8> {
        let object = match self {
            Frame::Hello {
                version,
                from,
                to,
                ticket,
            } => Object::new()
                .with("type", "hello")
                .with("version", *version)
                .with("from", from.as_str())
                .with("to", to.as_str())
                .with("ticket", ticket.as_str()),
            Frame::Welcome {
                version,
                peer,
                receipt,
            } => Object::new()
                .with("type", "welcome")
                .with("version", *version)
                .with("peer", peer.as_str())
                .with("receipt", receipt.as_str()),
            Frame::Message(envelope) => {
                let mut object = Object::new().with("type", "message");
                for (key, value) in envelope.to_object() {
                    object.insert(key, value);
                }
                object
            }
            Frame::Ack { id } => Object::new().with("type", "ack").with("id", id.as_str()),
            Frame::Error { id, code, message } => {
                let mut object = Object::new().with("type", "error");
                if let Some(id) = id {
                    object.insert("id", id.as_str());
                }
                object
                    .with("code", code.as_str())
                    .with("message", message.as_str())
            }
        };
        let mut line = Value::Object(object).to_string().into_bytes();
        line.push(DELIMITER);
        line
    }

    /// Reads one frame from the JSON text of a line (without its `\n`).
    fn from_json(text: &str) -> Result<Frame, FrameError> {
        let value = json::parse(text).map_err(|error| FrameError::NotJson(error.to_string()))?;
        let object = value.as_object().ok_or(FrameError::NotAnObject)?;
        let frame = match text_of(object, "type")?.as_str() {
            "hello" => Frame::Hello {
                version: version_of(object)?,
                from: text_of(object, "from")?,
                to: text_of(object, "to")?,
                ticket: text_of(object, "ticket")?,
            },
            "welcome" => Frame::Welcome {
                version: version_of(object)?,
                peer: text_of(object, "peer")?,
                receipt: text_of(object, "receipt")?,
            },
            "message" => Frame::Message(Envelope::from_object(object).map_err(FrameError::Field)?),
            "ack" => Frame::Ack {
                id: text_of(object, "id")?,
            },
            "error" => Frame::Error {
                id: optional_text(object, "id").map_err(FrameError::Field)?,
                code: ErrorCode::parse(&text_of(object, "code")?),
                message: text_of(object, "message")?,
            },
            other => return Err(FrameError::UnknownType(other.to_string())),
        };
        Ok(frame)
    }
}

/// Why bytes are not a frame. After any of these the reader cannot trust
/// where the next frame starts, and closes the connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// More than [`MAX_FRAME_BYTES`] without a line end.
    TooLong,
    /// The line is not UTF-8.
    NotUtf8,
    /// The line is not JSON.
    NotJson(String),
    /// The line is JSON but not an object.
    NotAnObject,
    /// A field is missing or has the wrong type.
    Field(String),
    /// A `type` this protocol does not have.
    UnknownType(String),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::TooLong => write!(
                f,
                "a frame is one line of at most {MAX_FRAME_BYTES} bytes, ended by \\n"
            ),
            FrameError::NotUtf8 => f.write_str("a frame must be UTF-8 text"),
            FrameError::NotJson(error) => write!(f, "a frame must be JSON: {error}"),
            FrameError::NotAnObject => f.write_str("a frame must be a JSON object"),
            FrameError::Field(problem) => f.write_str(problem),
            FrameError::UnknownType(kind) => write!(f, "no frame has the type {kind:?}"),
        }
    }
}

impl std::error::Error for FrameError {}

/// Looks for one frame at the start of `buffer`: `Complete((frame, len))`
/// when the first `len` bytes are a whole frame, `Partial` when its line
/// end has not arrived yet.
pub fn parse(buffer: &[u8]) -> Result<Status<(Frame, usize)>, FrameError> {
    // lab5: begin — find the line end (never past MAX_FRAME_BYTES), then read the JSON before it
    let Some(end) = buffer
        .iter()
        .take(MAX_FRAME_BYTES)
        .position(|&byte| byte == DELIMITER)
    else {
        return if buffer.len() >= MAX_FRAME_BYTES {
            Err(FrameError::TooLong)
        } else {
            Ok(Status::Partial)
        };
    };
    let line = str::from_utf8(&buffer[..end]).map_err(|_| FrameError::NotUtf8)?;
    Ok(Status::Complete((Frame::from_json(line)?, end + 1)))
    // lab5: end
}

fn text_of(object: &Object, key: &str) -> Result<String, FrameError> {
    text(object, key).map_err(FrameError::Field)
}

/// Longest message id accepted. Senders use 32 hex digits; a receiver
/// remembers thousands of ids (`inbox::SEEN_CAPACITY`), so an id of
/// kilobytes would be a way to fill its memory.
pub const MAX_MESSAGE_ID_LEN: usize = 64;

/// A message's `id`: 1 to [`MAX_MESSAGE_ID_LEN`] letters, digits, `-` or `_`.
fn message_id(object: &Object) -> Result<String, String> {
    let id = text(object, "id")?;
    let well_formed = (1..=MAX_MESSAGE_ID_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-_".contains(&byte));
    if !well_formed {
        return Err(format!(
            "\"id\" must be 1 to {MAX_MESSAGE_ID_LEN} letters, digits, '-' or '_'"
        ));
    }
    Ok(id)
}

fn text(object: &Object, key: &str) -> Result<String, String> {
    optional_text(object, key)?.ok_or_else(|| format!("{key:?} is missing"))
}

fn optional_text(object: &Object, key: &str) -> Result<Option<String>, String> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(format!("{key:?} must be a string")),
    }
}

fn version_of(object: &Object) -> Result<u64, FrameError> {
    object
        .get("version")
        .and_then(Value::as_u64)
        .ok_or_else(|| FrameError::Field("\"version\" must be a whole number".to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(to: Option<&str>, channel: Option<&str>) -> Envelope {
        Envelope {
            id: "0123456789abcdef0123456789abcdef".to_string(),
            from: "alice".to_string(),
            to: to.map(str::to_string),
            channel: channel.map(str::to_string),
            text: "line one\nline \"two\" ☕".to_string(),
            timestamp: "2026-11-25T12:00:00.123Z".to_string(),
        }
    }

    fn every_frame() -> Vec<Frame> {
        vec![
            Frame::Hello {
                version: PROTOCOL_VERSION,
                from: "alice".into(),
                to: "bob".into(),
                ticket: "t1".into(),
            },
            Frame::Welcome {
                version: PROTOCOL_VERSION,
                peer: "bob".into(),
                receipt: "r1".into(),
            },
            Frame::Message(envelope(Some("bob"), None)),
            Frame::Message(envelope(None, Some("general"))),
            Frame::Ack { id: "m1".into() },
            Frame::Error {
                id: Some("m1".into()),
                code: ErrorCode::NotMember,
                message: "join first".into(),
            },
            Frame::error(ErrorCode::Other("new-code".into()), "?"),
        ]
    }

    #[test]
    fn every_frame_is_one_line_and_reads_back() {
        for frame in every_frame() {
            let line = frame.to_line();
            assert_eq!(
                line.iter().filter(|&&byte| byte == b'\n').count(),
                1,
                "one line: {:?}",
                String::from_utf8_lossy(&line)
            );
            assert_eq!(
                parse(&line),
                Ok(Status::Complete((frame.clone(), line.len())))
            );
        }
    }

    #[test]
    fn frames_are_found_however_the_bytes_arrive() {
        let frames = every_frame();
        let stream: Vec<u8> = frames.iter().flat_map(Frame::to_line).collect();
        // Cut the stream at every possible point into reads of 1, 7 and 500 bytes.
        for read_size in [1, 7, 500, stream.len()] {
            let (mut buffer, mut got) = (Vec::new(), Vec::new());
            for piece in stream.chunks(read_size) {
                buffer.extend_from_slice(piece);
                while let Ok(Status::Complete((frame, len))) = parse(&buffer) {
                    got.push(frame);
                    buffer.drain(..len);
                }
            }
            assert_eq!(got, frames, "reads of {read_size} bytes");
            assert!(buffer.is_empty());
        }
    }

    #[test]
    fn the_exact_wire_text_of_a_hello_and_a_message() {
        let hello = every_frame().remove(0).to_line();
        assert_eq!(
            String::from_utf8_lossy(&hello),
            "{\"type\":\"hello\",\"version\":1,\"from\":\"alice\",\"to\":\"bob\",\"ticket\":\"t1\"}\n"
        );
        let message = Frame::Message(envelope(None, Some("general"))).to_line();
        assert_eq!(
            String::from_utf8_lossy(&message),
            "{\"type\":\"message\",\"id\":\"0123456789abcdef0123456789abcdef\",\"kind\":\"broadcast\",\
             \"from\":\"alice\",\"to\":null,\"channel\":\"general\",\"message\":\"line one\\nline \\\"two\\\" ☕\",\
             \"timestamp\":\"2026-11-25T12:00:00.123Z\"}\n"
        );
    }

    #[test]
    fn bad_lines_are_errors_and_long_ones_are_found_early() {
        let long_id = format!(
            "{{\"type\":\"message\",\"id\":\"{}\",\"kind\":\"direct\",\"from\":\"a\",\"to\":\"b\",\"channel\":null,\"message\":\"m\",\"timestamp\":\"t\"}}\n",
            "f".repeat(MAX_MESSAGE_ID_LEN + 1)
        );
        let cases: Vec<(&[u8], FrameError)> = vec![
            (b"not json\n", FrameError::NotJson(String::new())),
            (b"[1,2]\n", FrameError::NotAnObject),
            (b"\xff\n", FrameError::NotUtf8),
            (b"{\"type\":\"shout\"}\n", FrameError::UnknownType("shout".into())),
            (b"{\"type\":\"ack\"}\n", FrameError::Field(String::new())),
            (b"{\"type\":\"hello\",\"version\":\"1\",\"from\":\"a\",\"to\":\"b\",\"ticket\":\"t\"}\n", FrameError::Field(String::new())),
            (b"{\"type\":\"message\",\"id\":\"1\",\"kind\":\"direct\",\"from\":\"a\",\"to\":null,\"channel\":\"c\",\"message\":\"m\",\"timestamp\":\"t\"}\n", FrameError::Field(String::new())),
            (b"{\"type\":\"message\",\"id\":\"1\",\"kind\":\"broadcast\",\"from\":\"a\",\"to\":null,\"channel\":null,\"message\":\"m\",\"timestamp\":\"t\"}\n", FrameError::Field(String::new())),
            (b"{\"type\":\"message\",\"id\":\"\",\"kind\":\"direct\",\"from\":\"a\",\"to\":\"b\",\"channel\":null,\"message\":\"m\",\"timestamp\":\"t\"}\n", FrameError::Field(String::new())),
            (b"{\"type\":\"message\",\"id\":\"a b\",\"kind\":\"direct\",\"from\":\"a\",\"to\":\"b\",\"channel\":null,\"message\":\"m\",\"timestamp\":\"t\"}\n", FrameError::Field(String::new())),
            (long_id.as_bytes(), FrameError::Field(String::new())),
            (b"\n", FrameError::NotJson(String::new())),
        ];
        for (bytes, expected) in cases {
            let got = parse(bytes);
            let same_kind = matches!(
                (&got, &expected),
                (Err(FrameError::NotJson(_)), FrameError::NotJson(_))
                    | (Err(FrameError::Field(_)), FrameError::Field(_))
            ) || got == Err(expected.clone());
            assert!(
                same_kind,
                "{:?}: got {got:?}, expected {expected:?}",
                String::from_utf8_lossy(bytes)
            );
        }
        assert_eq!(parse(b"{\"type\":"), Ok(Status::Partial));
        let long = vec![b' '; MAX_FRAME_BYTES];
        assert_eq!(
            parse(&long),
            Err(FrameError::TooLong),
            "no end within the limit"
        );
        assert_eq!(parse(&long[..MAX_FRAME_BYTES - 1]), Ok(Status::Partial));
        let mut fits = vec![b' '; MAX_FRAME_BYTES - 20];
        fits.extend_from_slice(b"{\"type\":\"ack\",\"id\":\"x\"}\n");
        assert_eq!(
            parse(&fits),
            Err(FrameError::TooLong),
            "its end is past the limit"
        );
    }

    #[test]
    fn only_refusals_of_the_message_itself_are_permanent() {
        for code in [
            "bad-frame",
            "version",
            "forged-sender",
            "not-member",
            "bad-message",
        ] {
            assert!(ErrorCode::parse(code).is_permanent(), "{code}");
        }
        for code in [
            "unknown-peer",
            "offline",
            "bad-ticket",
            "busy",
            "storage",
            "new",
        ] {
            assert!(!ErrorCode::parse(code).is_permanent(), "{code}");
        }
        assert_eq!(ErrorCode::parse("busy").as_str(), "busy");
        assert_eq!(ErrorCode::parse("new").as_str(), "new");
    }
}
