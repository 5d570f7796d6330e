//! The writer: a [`Value`] as compact JSON text, through `Display`, so
//! `value.to_string()` is the whole API (and `write!(out, "{value}")`
//! writes into any buffer without building a `String` first).
//!
//! Compact means no whitespace at all (RFC 8259 §2 makes it optional).
//! Numbers are written as their text, which is valid by construction
//! (`value.rs`). Strings are written by the escaping table of §7:
//!
//! | character | written as |
//! |---|---|
//! | `"` | `\"` |
//! | `\` | `\\` |
//! | U+0008, U+000C, U+000A, U+000D, U+0009 | `\b`, `\f`, `\n`, `\r`, `\t` |
//! | any other below U+0020 | `\u00XX`, lowercase hex (`\u001f`) |
//! | everything else, `/` and non-ASCII included | itself, in UTF-8 |
//!
//! That is exactly what §7 requires and no more: escaping `/` or non-ASCII
//! characters is allowed but only makes the text longer. Every `String`
//! is valid Unicode, so the output never holds a lone surrogate either:
//! whatever the writer writes, a JSON parser reads back.

use std::fmt::{self, Write as _};

use crate::json::parse::is_unescaped;
use crate::json::value::{Number, Object, Value};

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(true) => f.write_str("true"),
            Value::Bool(false) => f.write_str("false"),
            Value::Number(number) => number.fmt(f),
            Value::String(text) => write_string(f, text),
            Value::Array(items) => {
                f.write_char('[')?;
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        f.write_char(',')?;
                    }
                    item.fmt(f)?;
                }
                f.write_char(']')
            }
            Value::Object(object) => object.fmt(f),
        }
    }
}

impl fmt::Display for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('{')?;
        for (index, (key, value)) in self.iter().enumerate() {
            if index > 0 {
                f.write_char(',')?;
            }
            write_string(f, key)?;
            f.write_char(':')?;
            value.fmt(f)?;
        }
        f.write_char('}')
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Writes `text` as a JSON string: quoted, escaped by the table above.
/// Runs of characters that need no escape are written in one piece.
fn write_string(out: &mut impl fmt::Write, text: &str) -> fmt::Result {
    out.write_char('"')?;
    let mut run_start = 0;
    for (index, byte) in text.bytes().enumerate() {
        if is_unescaped(byte) {
            continue;
        }
        // `byte` is ASCII, so both slices end on character boundaries.
        out.write_str(&text[run_start..index])?;
        match short_escape(byte) {
            Some(escape) => out.write_str(escape)?,
            None => write!(out, "\\u{byte:04x}")?,
        }
        run_start = index + 1;
    }
    out.write_str(&text[run_start..])?;
    out.write_char('"')
}

/// The two-character escape of §7 for `byte`, if it has one.
fn short_escape(byte: u8) -> Option<&'static str> {
    match byte {
        b'"' => Some("\\\""),
        b'\\' => Some("\\\\"),
        0x08 => Some("\\b"),
        0x0c => Some("\\f"),
        b'\n' => Some("\\n"),
        b'\r' => Some("\\r"),
        b'\t' => Some("\\t"),
        _ => None,
    }
}
