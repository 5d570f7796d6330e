//! Header fields (RFC 9110 §5) and the line syntax shared by requests and
//! responses (RFC 9112 §2.2, §5).
//!
//! A message head is a start line, then header field lines `name: value`,
//! then an empty line. The parser borrows each name and value from the
//! bytes it was given — no copy and no allocation per header — and a
//! [`Headers`] list looks names up case-insensitively (§5.1), so callers
//! never have to remember to lowercase.
//!
//! Left out on purpose: obsolete line folding (a value continued on a line
//! that starts with a space). RFC 9112 §5.2 lets a server reject it, and
//! accepting it is how request-smuggling bugs start.

use std::str;

/// One header field line, borrowed from the request buffer: the name, and
/// the value without its surrounding whitespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header<'b> {
    /// The field name as sent (case preserved; compare with `eq_ignore_ascii_case`).
    pub name: &'b str,
    /// The field value. Usually ASCII; RFC 9110 §5.5 allows other bytes
    /// ("obs-text"), which is why this is bytes and not `str`.
    pub value: &'b [u8],
}

/// The header fields of a message, in the order they were sent. Repeated
/// fields are all kept.
#[derive(Clone, Debug, Default)]
pub struct Headers<'b> {
    fields: Vec<Header<'b>>,
}

/// What is wrong with a header line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// The name is empty, has a character outside `tchar`, or is followed
    /// by whitespace before the colon (RFC 9112 §5.1 requires a 400).
    Name,
    /// The value has a control character (NUL, DEL, a bare CR...).
    Value,
    /// There is no colon.
    MissingColon,
    /// The line starts with whitespace: obsolete line folding (§5.2).
    Folded,
}

impl<'b> Headers<'b> {
    /// An empty list with room for a typical request's headers.
    pub fn new() -> Headers<'b> {
        Headers {
            fields: Vec::with_capacity(16),
        }
    }

    /// Adds a field at the end.
    pub fn push(&mut self, header: Header<'b>) {
        self.fields.push(header);
    }

    /// How many field lines there are.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Every field line, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Header<'b>> {
        self.fields.iter()
    }

    /// The value of the first field called `name` (any case), if it is
    /// valid UTF-8. A value with other bytes reads as absent here; use
    /// [`Headers::get_bytes`] for it.
    pub fn get(&self, name: &str) -> Option<&'b str> {
        self.get_bytes(name)
            .and_then(|value| str::from_utf8(value).ok())
    }

    /// The raw value of the first field called `name` (any case).
    pub fn get_bytes(&self, name: &str) -> Option<&'b [u8]> {
        self.get_all(name).next()
    }

    /// The values of every field called `name` (any case), in order.
    pub fn get_all<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'b [u8]> + 's {
        self.fields
            .iter()
            .filter(move |field| field.name.eq_ignore_ascii_case(name))
            .map(|field| field.value)
    }

    /// Whether any field called `name` holds `token` in its comma-separated
    /// list, ignoring case: `Connection: keep-alive, Upgrade` holds `upgrade`.
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.get_all(name)
            .flat_map(|value| value.split(|&byte| byte == b','))
            .any(|item| trim_whitespace(item).eq_ignore_ascii_case(token.as_bytes()))
    }
}

/// A set of bytes as a table of 256 yes/no answers, built at compile time:
/// `set[byte as usize]` is one memory read, where searching a string of
/// the allowed characters would scan it for every byte of every request.
pub(crate) const fn byte_set(members: &[u8]) -> [bool; 256] {
    let mut set = [false; 256];
    let mut index = 0;
    while index < members.len() {
        set[members[index] as usize] = true;
        index += 1;
    }
    set
}

/// The symbols allowed in a token, besides letters and digits.
const TCHAR_SYMBOLS: [bool; 256] = byte_set(b"!#$%&'*+-.^_`|~");

/// Whether `byte` may appear in a token (RFC 9110 §5.6.2): the characters
/// allowed in method names and header names.
pub fn is_tchar(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || TCHAR_SYMBOLS[byte as usize]
}

/// Whether `bytes` is a non-empty token.
pub fn is_token(bytes: &[u8]) -> bool {
    !bytes.is_empty() && bytes.iter().all(|&byte| is_tchar(byte))
}

/// Whether `byte` may appear inside a field value (RFC 9110 §5.5): visible
/// characters, space, tab, and bytes ≥ 0x80. Every other control character
/// — NUL, CR, LF, DEL — is refused.
pub fn is_field_byte(byte: u8) -> bool {
    matches!(byte, b'\t' | b' '..=b'~' | 0x80..=0xff)
}

/// Splits one field line into its name and trimmed value.
pub fn parse_field_line(line: &[u8]) -> Result<Header<'_>, HeaderError> {
    if line
        .first()
        .is_some_and(|&byte| byte == b' ' || byte == b'\t')
    {
        return Err(HeaderError::Folded);
    }
    let colon = line
        .iter()
        .position(|&byte| byte == b':')
        .ok_or(HeaderError::MissingColon)?;
    let (name, value) = (&line[..colon], &line[colon + 1..]);
    // `is_token` also refuses "Host :", whose name ends in a space (§5.1).
    if !is_token(name) {
        return Err(HeaderError::Name);
    }
    let value = trim_whitespace(value);
    if !value.iter().all(|&byte| is_field_byte(byte)) {
        return Err(HeaderError::Value);
    }
    // A token is ASCII, so it is always valid UTF-8.
    let name = str::from_utf8(name).map_err(|_| HeaderError::Name)?;
    Ok(Header { name, value })
}

/// A line was ended by a CR that is not followed by LF (RFC 9112 §2.2:
/// a bare CR must be rejected).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BareCr;

/// Finds the line starting at `start`: returns it without its ending, and
/// where the next line starts; `None` when no line ending has arrived yet.
///
/// A line ends with CRLF, or with a lone LF, which RFC 9112 §2.2 lets a
/// recipient accept — it is what `nc` sends when you type a request by hand.
pub fn next_line(buf: &[u8], start: usize) -> Result<Option<(&[u8], usize)>, BareCr> {
    let rest = &buf[start..];
    let Some(lf) = rest.iter().position(|&byte| byte == b'\n') else {
        // A CR that is followed by something other than LF is already wrong.
        return match rest.iter().position(|&byte| byte == b'\r') {
            Some(cr) if cr + 1 < rest.len() => Err(BareCr),
            _ => Ok(None),
        };
    };
    let line = rest[..lf].strip_suffix(b"\r").unwrap_or(&rest[..lf]);
    if line.contains(&b'\r') {
        return Err(BareCr);
    }
    Ok(Some((line, start + lf + 1)))
}

/// `bytes` without leading and trailing spaces and tabs (RFC 9110 §5.6.3, OWS).
pub fn trim_whitespace(bytes: &[u8]) -> &[u8] {
    let is_ows = |byte: &u8| *byte == b' ' || *byte == b'\t';
    let start = bytes
        .iter()
        .position(|byte| !is_ows(byte))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|byte| !is_ows(byte))
        .map_or(start, |end| end + 1);
    &bytes[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header line and what parsing it should give: its name and value.
    type FieldCase = (
        &'static [u8],
        Result<(&'static str, &'static [u8]), HeaderError>,
    );

    #[test]
    fn field_lines_table() {
        let cases: &[FieldCase] = &[
            (b"Host: example.com", Ok(("Host", b"example.com"))),
            (b"host:example.com", Ok(("host", b"example.com"))),
            (b"X-Empty:", Ok(("X-Empty", b""))),
            (b"X-Pad: \t value \t", Ok(("X-Pad", b"value"))),
            (b"X-Inner: a  b", Ok(("X-Inner", b"a  b"))),
            (b"X-Utf8: caf\xc3\xa9", Ok(("X-Utf8", b"caf\xc3\xa9"))),
            (b"Host : example.com", Err(HeaderError::Name)),
            (b": no name", Err(HeaderError::Name)),
            (b"Bad Name: x", Err(HeaderError::Name)),
            (b"Bad(Name): x", Err(HeaderError::Name)),
            (b"NoColon", Err(HeaderError::MissingColon)),
            (b" folded: x", Err(HeaderError::Folded)),
            (b"\tfolded", Err(HeaderError::Folded)),
            (b"X-Nul: a\0b", Err(HeaderError::Value)),
            (b"X-Del: a\x7fb", Err(HeaderError::Value)),
        ];
        for (line, expected) in cases {
            let got = parse_field_line(line).map(|header| (header.name, header.value));
            assert_eq!(
                &got,
                expected,
                "field line {:?}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn lines_end_with_crlf_or_lf_and_never_a_bare_cr() {
        assert_eq!(
            next_line(b"GET / HTTP/1.1\r\nrest", 0),
            Ok(Some((&b"GET / HTTP/1.1"[..], 16)))
        );
        assert_eq!(next_line(b"abc\ndef", 0), Ok(Some((&b"abc"[..], 4))));
        assert_eq!(next_line(b"abc\ndef\r\n", 4), Ok(Some((&b"def"[..], 9))));
        assert_eq!(next_line(b"abc", 0), Ok(None));
        assert_eq!(next_line(b"abc\r", 0), Ok(None), "the LF may still come");
        assert_eq!(next_line(b"a\rb\r\n", 0), Err(BareCr));
        assert_eq!(next_line(b"a\rb", 0), Err(BareCr));
    }

    #[test]
    fn lookups_ignore_case_and_keep_repeats() {
        let mut headers = Headers::new();
        for line in [
            &b"Accept: a"[..],
            b"CONNECTION: keep-alive, Upgrade",
            b"accept: b",
        ] {
            headers.push(parse_field_line(line).expect("valid line"));
        }
        assert_eq!(headers.get("accept"), Some("a"));
        assert_eq!(
            headers.get_all("ACCEPT").collect::<Vec<_>>(),
            [&b"a"[..], b"b"]
        );
        assert!(headers.has_token("connection", "upgrade"));
        assert!(headers.has_token("Connection", "Keep-Alive"));
        assert!(!headers.has_token("connection", "close"));
        assert_eq!(headers.get("missing"), None);
    }
}
