//! Why a chat request fails, and the one place that maps each reason to
//! its HTTP status.
//!
//! The tracker and the chat operations return a [`ChatError`]; the routes
//! (`api.rs`) turn it into `{"status":"error","message":...}` with
//! [`ChatError::status`]. The `Display` text is that message: a sentence
//! for the person at the keyboard, saying what to change.

use std::error::Error;
use std::fmt;

use super::service::MAX_MESSAGE_BYTES;
use crate::http::StatusCode;

/// One reason a chat request was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChatError {
    /// The body is not a JSON object, a field is missing or has the wrong
    /// type, or a new name breaks the name rule; the text says which (400).
    BadRequest(String),
    /// The request names no peer and the account has none yet (400).
    NoPeer,
    /// The message text is empty or only white space (400).
    EmptyMessage,
    /// The message text is longer than [`MAX_MESSAGE_BYTES`] (413).
    MessageTooLong,
    /// The request acts as a peer that the account does not own (403).
    NotYourPeer(String),
    /// The sending peer is not a member of the channel (403).
    NotMember {
        /// The sending peer.
        peer: String,
        /// The channel it tried to post in.
        channel: String,
    },
    /// No peer has this name (404).
    NoSuchPeer(String),
    /// No channel has this name (404).
    NoSuchChannel(String),
    /// The name is another account's peer, or another account's username (409).
    NameTaken(String),
    /// The disk refused a write; nothing was acknowledged (500).
    Storage(String),
}

impl ChatError {
    /// The status code that answers this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ChatError::BadRequest(_) | ChatError::NoPeer | ChatError::EmptyMessage => {
                StatusCode::BAD_REQUEST
            }
            ChatError::MessageTooLong => StatusCode::CONTENT_TOO_LARGE,
            ChatError::NotYourPeer(_) | ChatError::NotMember { .. } => StatusCode::FORBIDDEN,
            ChatError::NoSuchPeer(_) | ChatError::NoSuchChannel(_) => StatusCode::NOT_FOUND,
            ChatError::NameTaken(_) => StatusCode::CONFLICT,
            ChatError::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl fmt::Display for ChatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChatError::BadRequest(reason) => f.write_str(reason),
            ChatError::NoPeer => f.write_str("register a peer first (POST /submit-info)"),
            ChatError::EmptyMessage => f.write_str("the message is empty"),
            ChatError::MessageTooLong => write!(
                f,
                "the message is too long: {MAX_MESSAGE_BYTES} bytes at most"
            ),
            ChatError::NotYourPeer(peer) => write!(f, "{peer:?} is not one of your peers"),
            ChatError::NotMember { peer, channel } => write!(
                f,
                "{peer:?} is not a member of {channel:?}; join it first (POST /add-list)"
            ),
            ChatError::NoSuchPeer(peer) => write!(f, "no peer is called {peer:?}"),
            ChatError::NoSuchChannel(channel) => write!(f, "no channel is called {channel:?}"),
            ChatError::NameTaken(name) => {
                write!(f, "the name {name:?} belongs to another account")
            }
            ChatError::Storage(reason) => write!(f, "the server could not save it: {reason}"),
        }
    }
}

impl Error for ChatError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_has_the_status_of_the_contract() {
        let cases = [
            (ChatError::BadRequest("x".into()), 400),
            (ChatError::NoPeer, 400),
            (ChatError::EmptyMessage, 400),
            (ChatError::MessageTooLong, 413),
            (ChatError::NotYourPeer("a".into()), 403),
            (
                ChatError::NotMember {
                    peer: "a".into(),
                    channel: "c".into(),
                },
                403,
            ),
            (ChatError::NoSuchPeer("a".into()), 404),
            (ChatError::NoSuchChannel("c".into()), 404),
            (ChatError::NameTaken("a".into()), 409),
            (ChatError::Storage("disk full".into()), 500),
        ];
        for (error, status) in cases {
            assert_eq!(error.status().as_u16(), status, "status of {error:?}");
        }
        assert_eq!(
            ChatError::NoPeer.to_string(),
            "register a peer first (POST /submit-info)",
            "the issue fixes this message"
        );
    }
}
