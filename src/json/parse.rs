//! The parser: text in, a [`Value`] or an [`Error`] out, by the grammar of
//! RFC 8259.
//!
//! It is a **recursive-descent** parser: one function for each rule of the
//! grammar (§2 to §7), each reading the text from where the previous one
//! stopped, calling the others for the rules nested inside its own. An
//! array calls `value` for each element, and `value` calls `array` again
//! for an array inside an array, so the nesting of the document becomes the
//! nesting of the calls. The grammar needs no backtracking: the first byte
//! of a value says which rule applies (`{` an object, `[` an array, `"` a
//! string, `-` or a digit a number, `t` `f` `n` a literal).
//!
//! Every nested array or object costs stack frames, so a document of
//! 100,000 `[` would overflow the stack and kill the thread. The parser
//! counts the depth and stops at [`MAX_DEPTH`] with an error (§9: "An
//! implementation may set limits on the maximum depth of nesting").
//!
//! The input is a `&str`, so it is valid UTF-8 already (§8.1 requires
//! UTF-8). The parser walks its bytes: every byte the grammar looks at is
//! ASCII, and the bytes of a multi-byte character are all above `0x7F`, so
//! they are never mistaken for one, and a character is only ever copied
//! whole.

use std::fmt;

use crate::json::value::{Number, Object, Value};

/// How deeply arrays and objects may nest: `[[1]]` has depth 2. Deeper
/// documents are refused with [`ErrorKind::TooDeep`].
///
/// Real documents nest a handful of levels; a limit keeps a hostile one from
/// overflowing the stack. 128 levels of parsing take about 80 KiB of stack
/// in a debug build (about 30 KiB when optimised): well within a
/// connection thread's 256 KiB ([`crate::net::DEFAULT_STACK_SIZE`]), and
/// `tests/json.rs` checks that they fit in half of it. `serde_json` stops
/// at 128 too, but refuses the 128th level itself: it accepts 127.
pub const MAX_DEPTH: usize = 128;

/// What was wrong with a JSON text, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// What was wrong.
    pub kind: ErrorKind,
    /// The line of the offending character, from 1; lines end at `\n`.
    pub line: usize,
    /// The column of the offending character, from 1, in characters (not
    /// bytes) from the start of its line.
    pub column: usize,
    /// The offset of the offending character in bytes, from 0; the text's
    /// length when the text ended too early.
    pub offset: usize,
}

/// The ways a text can fail to be JSON, one for each rule it can break.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The grammar needed something else here: `expected` says what, `found`
    /// is the character that was there instead (`None` at the end of the
    /// text).
    Unexpected {
        /// What the grammar allows at this point, in words.
        expected: &'static str,
        /// The character found instead, or `None` for the end of the text.
        found: Option<char>,
    },
    /// A number with a leading zero, such as `012` (§6: `int = zero /
    /// ( digit1-9 *DIGIT )`).
    LeadingZero,
    /// A control character (U+0000 to U+001F) written as is inside a string
    /// (§7: "characters that MUST be escaped").
    UnescapedControl(char),
    /// A `\uXXXX` escape of one half of a UTF-16 surrogate pair without the
    /// other half (§7 and §8.2): it stands for no character at all.
    LoneSurrogate(u16),
    /// Arrays and objects nested deeper than [`MAX_DEPTH`].
    TooDeep,
    /// A key that already appeared in the same object (§4: names SHOULD be
    /// unique; we refuse repeats, see `value.rs`).
    DuplicateKey(String),
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Unexpected { expected, found } => {
                write!(f, "expected {expected}, found ")?;
                match found {
                    Some(character) => write!(f, "{character:?}"),
                    None => f.write_str("the end of the text"),
                }
            }
            ErrorKind::LeadingZero => {
                f.write_str("a number does not start with 0 followed by a digit")
            }
            ErrorKind::UnescapedControl(character) => write!(
                f,
                "control character U+{:04X} must be escaped in a string",
                u32::from(*character)
            ),
            ErrorKind::LoneSurrogate(unit) => write!(
                f,
                "\\u{unit:04x} is half of a surrogate pair, without the other half"
            ),
            ErrorKind::TooDeep => write!(f, "arrays and objects nest deeper than {MAX_DEPTH}"),
            ErrorKind::DuplicateKey(key) => write!(f, "the key {key:?} appears twice"),
        }
    }
}

impl fmt::Display for Error {
    /// `expected ',' or ']' after an array element, found 'x' at line 3,
    /// column 7 (byte 41)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at line {}, column {} (byte {})",
            self.kind, self.line, self.column, self.offset
        )
    }
}

impl std::error::Error for Error {}

impl Error {
    /// An error at byte `offset` of `text`, with its line and column.
    ///
    /// Counting lines costs a pass over the text, so it is done here, once,
    /// and not for every newline the parser skips.
    fn at(text: &str, offset: usize, kind: ErrorKind) -> Error {
        let before = text.get(..offset).unwrap_or(text);
        let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
        Error {
            kind,
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
            offset,
        }
    }
}

/// Parses a whole JSON text (§2: `JSON-text = ws value ws`): one value of
/// any kind, with optional whitespace around it and nothing else.
pub fn parse(text: &str) -> Result<Value, Error> {
    let mut parser = Parser {
        text,
        bytes: text.as_bytes(),
        position: 0,
        depth: 0,
        key_offsets: Vec::new(),
        sorted_keys: Vec::new(),
    };
    parser.skip_whitespace();
    let value = parser.value().map_err(|error| *error)?;
    parser.skip_whitespace();
    if parser.position < parser.bytes.len() {
        return Err(*parser.expected("the end of the text after the value"));
    }
    Ok(value)
}

/// Whether a byte may stand for itself inside a string. §7: `unescaped =
/// %x20-21 / %x23-5B / %x5D-10FFFF`, that is anything but `"`, `\` and the
/// control characters below U+0020. The writer escapes exactly the others.
pub(super) fn is_unescaped(byte: u8) -> bool {
    byte >= 0x20 && byte != b'"' && byte != b'\\'
}

/// What the parser's functions return. The error is boxed: a debug build
/// keeps a few copies of every call's result in the caller's stack frame,
/// and a pointer instead of a whole [`Error`] makes each level of the
/// recursion cost half as much stack (see [`MAX_DEPTH`]).
type Step<T> = Result<T, Box<Error>>;

/// The state of one parse: the text and how far it has been read.
struct Parser<'a> {
    /// The whole text being parsed.
    text: &'a str,
    /// The same text as bytes, for looking at one byte at a time.
    bytes: &'a [u8],
    /// The next byte to read.
    position: usize,
    /// How many arrays and objects enclose the current position.
    depth: usize,
    /// Where each key of the objects being parsed starts, innermost object
    /// last, to point at a repeated key; each object truncates it back when
    /// it ends, so one vector serves them all.
    key_offsets: Vec<usize>,
    /// Scratch space for the repeated-key check, reused by every object.
    sorted_keys: Vec<usize>,
}

impl Parser<'_> {
    /// The next byte, without consuming it; `None` at the end of the text.
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.position).copied()
    }

    /// Consumes `byte` if it comes next.
    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        if found {
            self.position += 1;
        }
        found
    }

    /// An error at the current position, saying what the grammar wanted.
    fn expected(&self, expected: &'static str) -> Box<Error> {
        let found = self
            .text
            .get(self.position..)
            .and_then(|rest| rest.chars().next());
        self.error_at(self.position, ErrorKind::Unexpected { expected, found })
    }

    fn error_at(&self, offset: usize, kind: ErrorKind) -> Box<Error> {
        Box::new(Error::at(self.text, offset, kind))
    }

    /// §2: `ws = *( %x20 / %x09 / %x0A / %x0D )`: space, tab, line feed and
    /// carriage return, nothing else (no form feed, no Unicode spaces).
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.position += 1;
        }
    }

    /// §3: a value; its first byte says which rule applies. Arrays and
    /// objects hold values of their own, so they call this function again:
    /// this is where the recursion happens.
    fn value(&mut self) -> Step<Value> {
        match self.peek() {
            Some(b'[') => self.array(),
            Some(b'{') => self.object(),
            _ => self.scalar(),
        }
    }

    /// A value that holds no other value: a string, a number or a literal.
    fn scalar(&mut self) -> Step<Value> {
        match self.peek() {
            Some(b'"') => Ok(Value::String(self.string()?)),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal("true", "the literal true", Value::Bool(true)),
            Some(b'f') => self.literal("false", "the literal false", Value::Bool(false)),
            Some(b'n') => self.literal("null", "the literal null", Value::Null),
            _ => Err(self.expected("a value")),
        }
    }

    /// §3: `true`, `false` or `null`, in lowercase only. A mismatch is
    /// reported at the first byte that differs (`tRUE` at the `R`).
    fn literal(&mut self, name: &str, expected: &'static str, value: Value) -> Step<Value> {
        for &byte in name.as_bytes() {
            if !self.eat(byte) {
                return Err(self.expected(expected));
            }
        }
        Ok(value)
    }

    /// Steps into an array or object, at its opening bracket, and past the
    /// whitespace after it (§2: `begin-array = ws %x5B ws`): one level
    /// deeper, refused past [`MAX_DEPTH`].
    fn open_nested(&mut self) -> Step<()> {
        if self.depth == MAX_DEPTH {
            return Err(self.error_at(self.position, ErrorKind::TooDeep));
        }
        self.depth += 1;
        self.position += 1;
        self.skip_whitespace();
        Ok(())
    }

    /// After an element or member: `true` past a `,` (another one follows),
    /// `false` past the closing bracket, and an error for anything else.
    /// §2: `value-separator = ws %x2C ws`.
    fn separator(&mut self, close: u8, expected: &'static str) -> Step<bool> {
        self.skip_whitespace();
        if self.eat(close) {
            return Ok(false);
        }
        if !self.eat(b',') {
            return Err(self.expected(expected));
        }
        self.skip_whitespace();
        Ok(true)
    }

    // `array` and `object` call `value`, which calls them again: they are
    // the recursion. They only call other functions, so that each level of
    // nesting costs as little stack as possible.

    /// §5: `[` then values separated by `,` then `]`. No trailing comma.
    fn array(&mut self) -> Step<Value> {
        self.open_nested()?;
        let mut items = Vec::new();
        if !self.eat(b']') {
            loop {
                items.push(self.value()?);
                if !self.separator(b']', "',' or ']' after an array element")? {
                    break;
                }
            }
        }
        self.depth -= 1;
        Ok(Value::Array(items))
    }

    /// §4: `{` then members `"key": value` separated by `,` then `}`. No
    /// trailing comma; keys are strings; a repeated key is an error.
    fn object(&mut self) -> Step<Value> {
        self.open_nested()?;
        let first_key = self.key_offsets.len();
        let mut members = Vec::new();
        if !self.eat(b'}') {
            loop {
                let key = self.member_key(members.is_empty())?;
                members.push((key, self.value()?));
                if !self.separator(b'}', "',' or '}' after an object member")? {
                    break;
                }
            }
        }
        self.close_object(members, first_key)
    }

    /// §4: `member = string name-separator value`: the key and the `:`
    /// after it (with whitespace around, `name-separator = ws %x3A ws`).
    fn member_key(&mut self, first: bool) -> Step<String> {
        if self.peek() != Some(b'"') {
            return Err(self.expected(if first {
                "a string key or '}' after '{'"
            } else {
                "a string key after ','"
            }));
        }
        self.key_offsets.push(self.position);
        let key = self.string()?;
        self.skip_whitespace();
        if !self.eat(b':') {
            return Err(self.expected("':' after an object key"));
        }
        self.skip_whitespace();
        Ok(key)
    }

    /// The end of an object, past its `}`: refuses a repeated key, or
    /// steps out one level.
    fn close_object(&mut self, mut members: Vec<(String, Value)>, first_key: usize) -> Step<Value> {
        if let Some(repeat) = first_repeated_key(&members, &mut self.sorted_keys) {
            let offset = self.key_offsets[first_key + repeat];
            let key = members.swap_remove(repeat).0;
            return Err(self.error_at(offset, ErrorKind::DuplicateKey(key)));
        }
        self.key_offsets.truncate(first_key);
        self.depth -= 1;
        Ok(Value::Object(Object::from_unique_members(members)))
    }

    /// §7: a string from its opening `"` to its closing one, with escapes
    /// decoded.
    ///
    /// The bytes between escapes are copied a run at a time, and a string
    /// without escapes (nearly all of them) is copied once, in one piece.
    fn string(&mut self) -> Step<String> {
        self.position += 1; // the opening quote
        let start = self.position;
        let mut decoded = String::new();
        loop {
            let run_start = self.position;
            let rest = &self.bytes[run_start..];
            self.position += rest
                .iter()
                .position(|&byte| !is_unescaped(byte))
                .unwrap_or(rest.len());
            // The run ends before an ASCII byte (or at the end of the text),
            // so it ends on a character boundary.
            let run = &self.text[run_start..self.position];
            match self.peek() {
                Some(b'"') => {
                    self.position += 1;
                    if run_start == start {
                        return Ok(run.to_owned());
                    }
                    decoded.push_str(run);
                    return Ok(decoded);
                }
                Some(b'\\') => {
                    decoded.push_str(run);
                    let character = self.escape()?;
                    decoded.push(character);
                }
                Some(control) => {
                    let kind = ErrorKind::UnescapedControl(char::from(control));
                    return Err(self.error_at(self.position, kind));
                }
                None => return Err(self.expected("'\"' to end the string")),
            }
        }
    }

    /// §7: one escape, from its `\`: the character it stands for.
    fn escape(&mut self) -> Step<char> {
        let backslash = self.position;
        self.position += 1;
        let character = match self.peek() {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => return self.unicode_escape(backslash),
            _ => {
                return Err(self.expected(
                    "an escape after '\\': one of \" \\ / b f n r t or u and four hex digits",
                ));
            }
        };
        self.position += 1;
        Ok(character)
    }

    /// §7: `\uXXXX`, at its `u`. A character beyond U+FFFF is written as
    /// two escapes, a UTF-16 surrogate pair: a high surrogate (D800 to DBFF)
    /// then a low one (DC00 to DFFF). Either half alone is an error.
    fn unicode_escape(&mut self, backslash: usize) -> Step<char> {
        self.position += 1; // the `u`
        let unit = self.hex_digits()?;
        let lone_surrogate = || ErrorKind::LoneSurrogate(unit);
        let mut code_point = u32::from(unit);
        if let 0xD800..=0xDBFF = unit {
            if !self.bytes[self.position..].starts_with(b"\\u") {
                return Err(self.error_at(backslash, lone_surrogate()));
            }
            self.position += 2;
            let low = u32::from(self.hex_digits()?);
            if !(0xDC00..=0xDFFF).contains(&low) {
                return Err(self.error_at(backslash, lone_surrogate()));
            }
            // Ten bits from each half, above the 0x10000 code points of the
            // Basic Multilingual Plane.
            code_point = 0x10000 + ((code_point - 0xD800) << 10) + (low - 0xDC00);
        }
        // A low surrogate with no high one before it is not a character:
        // `char::from_u32` refuses the surrogate code points.
        char::from_u32(code_point).ok_or_else(|| self.error_at(backslash, lone_surrogate()))
    }

    /// The four hex digits of a `\u` escape, in either case.
    fn hex_digits(&mut self) -> Step<u16> {
        let mut unit = 0;
        for _ in 0..4 {
            let digit = self
                .peek()
                .and_then(|byte| char::from(byte).to_digit(16))
                .ok_or_else(|| self.expected("four hex digits after '\\u'"))?;
            unit = unit * 16 + digit as u16;
            self.position += 1;
        }
        Ok(unit)
    }

    /// §6: `number = [ minus ] int [ frac ] [ exp ]`, kept as its text.
    fn number(&mut self) -> Step<Value> {
        let start = self.position;
        self.eat(b'-');
        // int = zero / ( digit1-9 *DIGIT ): no leading zeros.
        match self.peek() {
            Some(b'0') => {
                self.position += 1;
                if let Some(b'0'..=b'9') = self.peek() {
                    return Err(self.error_at(start, ErrorKind::LeadingZero));
                }
            }
            Some(b'1'..=b'9') => self.skip_digits(),
            // `value` comes here on '-' or a digit: only '-' gets this far.
            _ => return Err(self.expected("a digit after '-'")),
        }
        // frac = decimal-point 1*DIGIT
        if self.eat(b'.') {
            self.digits("a digit after the decimal point")?;
        }
        // exp = e [ minus / plus ] 1*DIGIT
        if let Some(b'e' | b'E') = self.peek() {
            self.position += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.position += 1;
            }
            self.digits("a digit in the exponent")?;
        }
        let text = &self.text[start..self.position];
        Ok(Value::Number(Number::from_valid_text(text)))
    }

    /// One or more digits (`1*DIGIT`).
    fn digits(&mut self, expected: &'static str) -> Step<()> {
        if !matches!(self.peek(), Some(b'0'..=b'9')) {
            return Err(self.expected(expected));
        }
        self.skip_digits();
        Ok(())
    }

    /// Zero or more digits (`*DIGIT`).
    fn skip_digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.position += 1;
        }
    }
}

/// The index of the first member, in document order, whose key repeats an
/// earlier key of the same object; `sorted` is scratch space.
///
/// Sorting the indices by key puts repeats next to each other, which finds
/// them in O(n log n) steps. Comparing every key with every other would be
/// O(n²): a 1 MiB body of 100,000 keys would keep a thread busy for seconds.
fn first_repeated_key(members: &[(String, Value)], sorted: &mut Vec<usize>) -> Option<usize> {
    if members.len() < 2 {
        return None;
    }
    let key = |index: usize| members[index].0.as_str();
    sorted.clear();
    sorted.extend(0..members.len());
    // Equal keys sort by position, so the later one of a pair is the repeat.
    sorted.sort_unstable_by(|&a, &b| key(a).cmp(key(b)).then(a.cmp(&b)));
    sorted
        .windows(2)
        .filter(|pair| key(pair[0]) == key(pair[1]))
        .map(|pair| pair[1])
        .min()
}
