//! URLs as HTTP sees them: splitting a request target into path and query,
//! percent-decoding (RFC 3986 §2.1), and form-urlencoded pairs (the WHATWG
//! URL standard's `application/x-www-form-urlencoded`, which HTML forms and
//! query strings use).
//!
//! Decoding is strict: `%` must be followed by two hex digits and the result
//! must be UTF-8, otherwise the caller answers 400. A lenient decoder that
//! passed `%zz` through would let two parts of a system disagree about what
//! a path means — the root of many path-traversal bugs.

use std::borrow::Cow;
use std::fmt;

/// Why a piece of a URL could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UrlError {
    /// A `%` not followed by two hex digits.
    BadEscape,
    /// The decoded bytes are not UTF-8.
    NotUtf8,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UrlError::BadEscape => "a '%' must be followed by two hex digits",
            UrlError::NotUtf8 => "percent-decoded text is not UTF-8",
        })
    }
}

impl std::error::Error for UrlError {}

/// Splits a request target into its path and its query (without the `?`).
///
/// The origin form (`/a/b?x=1`, RFC 9112 §3.2.1) is the usual one; the
/// absolute form (`http://host/a/b?x=1`, §3.2.2) must be accepted too, and
/// has its scheme and authority dropped here. A fragment (`#...`) is never
/// sent by clients; if one is, it is cut off.
pub fn split_target(target: &str) -> (&str, Option<&str>) {
    let target = target.split('#').next().unwrap_or(target);
    // Only a target that does not start with `/` can be absolute: in
    // `/go?to=http://a/b` the `://` belongs to the query.
    let origin_form = match target.split_once("://") {
        Some((_scheme, rest)) if !target.starts_with('/') => {
            let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
            &rest[authority_end..]
        }
        _ => target,
    };
    let (path, query) = match origin_form.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (origin_form, None),
    };
    (if path.is_empty() { "/" } else { path }, query)
}

/// Decodes `%XX` escapes. `+` stays `+`: in a path it is just a plus.
pub fn percent_decode(input: &str) -> Result<Cow<'_, str>, UrlError> {
    decode(input, false)
}

/// Decodes one name or value of a form or query string: `%XX` escapes,
/// and `+` for a space.
pub fn form_decode(input: &str) -> Result<Cow<'_, str>, UrlError> {
    decode(input, true)
}

/// Parses `a=1&b=two+words` into its decoded pairs, in order. A pair
/// without `=` has an empty value; empty pairs (`a=1&&b=2`) are skipped.
pub fn parse_form(input: &str) -> Result<Vec<(String, String)>, UrlError> {
    input
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((
                form_decode(name)?.into_owned(),
                form_decode(value)?.into_owned(),
            ))
        })
        .collect()
}

/// Encodes text for a URL path: every byte except unreserved characters
/// (RFC 3986 §2.3) and `/` becomes `%XX`.
pub fn percent_encode_path(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for &byte in input.as_bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn decode(input: &str, plus_is_space: bool) -> Result<Cow<'_, str>, UrlError> {
    if !input
        .bytes()
        .any(|byte| byte == b'%' || (plus_is_space && byte == b'+'))
    {
        return Ok(Cow::Borrowed(input));
    }
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let high = bytes.get(i + 1).and_then(|&b| hex_value(b));
                let low = bytes.get(i + 2).and_then(|&b| hex_value(b));
                let (Some(high), Some(low)) = (high, low) else {
                    return Err(UrlError::BadEscape);
                };
                out.push(high << 4 | low);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out)
        .map(Cow::Owned)
        .map_err(|_| UrlError::NotUtf8)
}

fn hex_value(byte: u8) -> Option<u8> {
    (byte as char).to_digit(16).map(|digit| digit as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_split_into_path_and_query() {
        let cases = [
            ("/", ("/", None)),
            ("/a/b?x=1&y=2", ("/a/b", Some("x=1&y=2"))),
            ("/a?", ("/a", Some(""))),
            ("/a#frag", ("/a", None)),
            ("http://example.com/a?q", ("/a", Some("q"))),
            ("http://example.com", ("/", None)),
            ("http://example.com?q", ("/", Some("q"))),
            (
                "/go?to=http://a/index.html",
                ("/go", Some("to=http://a/index.html")),
            ),
            ("*", ("*", None)),
        ];
        for (target, expected) in cases {
            assert_eq!(split_target(target), expected, "target {target:?}");
        }
    }

    #[test]
    fn percent_decoding_table() {
        let cases: &[(&str, Result<&str, UrlError>)] = &[
            ("plain", Ok("plain")),
            ("a%20b", Ok("a b")),
            ("a+b", Ok("a+b")),
            ("%2e%2E", Ok("..")),
            ("%2F", Ok("/")),
            ("caf%C3%A9", Ok("café")),
            ("%", Err(UrlError::BadEscape)),
            ("%4", Err(UrlError::BadEscape)),
            ("%zz", Err(UrlError::BadEscape)),
            ("%C3", Err(UrlError::NotUtf8)),
            ("%FF", Err(UrlError::NotUtf8)),
        ];
        for (input, expected) in cases {
            assert_eq!(
                percent_decode(input).as_deref().map_err(|e| *e),
                *expected,
                "decoding {input:?}"
            );
        }
    }

    #[test]
    fn forms_decode_plus_as_space_and_keep_order() {
        let pairs = parse_form("username=ann+lee&password=p%26ss%3D1&&flag").expect("valid form");
        let expected = [
            ("username", "ann lee"),
            ("password", "p&ss=1"),
            ("flag", ""),
        ];
        assert_eq!(pairs.len(), expected.len());
        for ((name, value), (want_name, want_value)) in pairs.iter().zip(expected) {
            assert_eq!((name.as_str(), value.as_str()), (want_name, want_value));
        }
        assert_eq!(parse_form("a=%zz"), Err(UrlError::BadEscape));
    }

    #[test]
    fn path_encoding_round_trips() {
        let original = "/docs/a file/ü?#%";
        let encoded = percent_encode_path(original);
        assert_eq!(encoded, "/docs/a%20file/%C3%BC%3F%23%25");
        assert_eq!(percent_decode(&encoded).as_deref(), Ok(original));
    }
}
