//! JSON, as RFC 8259 defines it: a value type, a parser and a writer.
//!
//! Labs 3 and 4 speak JSON: the login form posts `{"username", "password"}`,
//! the chat API answers with lists of peers and messages. The kit has no
//! dependencies, so the JSON is ours, and it is a lesson of its own: a
//! grammar of six rules, a recursive-descent parser that follows it one
//! function per rule, and an escaping table for the writer.
//!
//! ```
//! use weaprous::json::{self, Value};
//!
//! let body = json::parse(r#"{"username": "admin", "remember": true}"#)?;
//! assert_eq!(body.get("username").and_then(Value::as_str), Some("admin"));
//!
//! let reply = json::object([
//!     ("status", Value::from("authorized")),
//!     ("message", Value::from("Login successful")),
//! ]);
//! assert_eq!(reply.to_string(), r#"{"status":"authorized","message":"Login successful"}"#);
//! # Ok::<(), json::Error>(())
//! ```
//!
//! It follows RFC 8259 to the letter, with these choices where the RFC
//! leaves one open (`docs/json.md` explains each, and every place where
//! `serde_json` decides otherwise):
//!
//! - a [`Number`] keeps the exact text the grammar matched, so integers
//!   beyond 2^53 or beyond `u64`, and `1e400`, lose nothing (§6 lets a
//!   parser limit range and precision; this one does not);
//! - an [`Object`] keeps its keys in order and never holds one key twice: the
//!   parser refuses a document that repeats a key (§4 says names SHOULD be
//!   unique and that parsers disagree about repeats);
//! - nesting is limited to [`MAX_DEPTH`] arrays and objects, so a hostile
//!   `[[[[…` is an error instead of a stack overflow (§9 allows the limit).
//!
//! Left out on purpose: reading from a stream (the HTTP layer hands over a
//! whole body), pretty printing, a byte-order mark (§8.1 allows ignoring
//! it; we refuse it, as `serde_json` does), and the extensions of JSON5
//! (comments, trailing commas, single quotes).
//!
//! | file | what is in it |
//! |---|---|
//! | `value.rs` | [`Value`], [`Number`], [`Object`]: building and reading values |
//! | `parse.rs` | [`parse`], the recursive-descent parser, and its [`Error`] |
//! | `write.rs` | the writer (`Display`) and its escaping table |

mod parse;
mod value;
mod write;

pub use parse::{Error, ErrorKind, MAX_DEPTH, parse};
pub use value::{Number, Object, Value, object};
