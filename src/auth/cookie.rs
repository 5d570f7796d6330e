//! Cookies: reading the `Cookie` request header and writing `Set-Cookie`
//! (RFC 6265, "HTTP State Management Mechanism").
//!
//! A server gives the browser a name and a value in a `Set-Cookie` response
//! header; the browser sends them back in the `Cookie` header of every later
//! request to that site. That round trip is all a cookie is — the browser
//! stores it, the user can read and change it, and anyone can send any
//! `Cookie` header with `curl`. So a cookie can carry a reference (a session
//! id the server looks up), never a fact the server believes (`auth=true`).
//!
//! - [`Cookies::parse`] reads `Cookie: a=1; b=2` (the `cookie-string` of
//!   RFC 6265 §4.2.1, as browsers send it per §5.4). It is tolerant where
//!   real clients differ — missing or extra spaces around `;`, a value in
//!   double quotes — and skips a pair that is malformed (no `=`, a name that
//!   is not a token, a forbidden character in the value) instead of failing
//!   the whole header. When a name comes twice, the first one counts: §5.4
//!   has browsers list cookies with longer, more specific paths first.
//! - [`SetCookie`] builds a `Set-Cookie` value (§4.1) and its attributes
//!   (`Path`, `Max-Age`, `Secure`, `HttpOnly`, and `SameSite` from the
//!   draft that updates RFC 6265, "rfc6265bis" §4.1.2.7). It refuses a name,
//!   value or path with a character §4.1.1 forbids: a `;`, `,`, space, or a
//!   control character such as `\r\n` in a value would let the value inject
//!   attributes or whole headers of its own.
//!
//! Left out on purpose: the `Domain` attribute (a cookie without it goes back
//! only to the host that set it, the safest choice), `Expires` (`Max-Age`
//! says the same without a date format), and a browser's side of RFC 6265
//! (storing cookies, matching domains and paths).

use std::error::Error;
use std::fmt;

// A cookie name is a `token` (RFC 6265 §4.1.1, by way of RFC 9110 §5.6.2).
use crate::http::headers::is_token;

/// The cookies of one `Cookie` request header, in the order they were sent.
///
/// Borrows from the header text: parsing copies nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cookies<'a> {
    pairs: Vec<(&'a str, &'a str)>,
}

impl<'a> Cookies<'a> {
    /// Reads a `Cookie` header's value: `name=value` pairs separated by `;`.
    /// Malformed pairs are skipped; a value in double quotes is returned
    /// without them.
    pub fn parse(header: &'a str) -> Cookies<'a> {
        // lab3: begin — split the header on ';' and each pair on the first '='; skip malformed pairs
        let mut pairs = Vec::new();
        for pair in header.split(';') {
            // §4.2.1 separates pairs with "; "; tolerate any spaces and tabs.
            let Some((name, value)) = pair.split_once('=') else {
                continue; // no '=': not a cookie at all
            };
            let name = name.trim_matches(is_space);
            let value = value.trim_matches(is_space);
            // §4.1.1: cookie-value = *cookie-octet / ( DQUOTE *cookie-octet DQUOTE )
            let value = value
                .strip_prefix('"')
                .and_then(|inner| inner.strip_suffix('"'))
                .unwrap_or(value);
            if is_token(name.as_bytes()) && is_cookie_value(value) {
                pairs.push((name, value));
            }
        }
        Cookies { pairs }
        // lab3: end
    }

    /// The value of the first cookie called `name` (names are
    /// case-sensitive), or `None` if there is none.
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.pairs
            .iter()
            .find(|(candidate, _)| *candidate == name)
            .map(|(_, value)| *value)
    }

    /// Every well-formed pair, in the order sent (duplicates included).
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &'a str)> + '_ {
        self.pairs.iter().copied()
    }
}

/// The `SameSite` attribute (rfc6265bis §4.1.2.7): whether the browser sends
/// the cookie on requests that another site starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SameSite {
    /// Only on requests started by this site itself: a link, form or script
    /// on another site cannot make the browser send it (stops CSRF).
    Strict,
    /// Also on top-level navigations from other sites (following a link),
    /// but not on their forms' `POST`s, images or scripts.
    Lax,
    /// On every request, from any site; browsers accept it only together
    /// with [`SetCookie::secure`].
    None,
}

impl SameSite {
    /// The attribute's value as written in the header.
    fn as_str(self) -> &'static str {
        match self {
            SameSite::Strict => "Strict",
            SameSite::Lax => "Lax",
            SameSite::None => "None",
        }
    }
}

/// A `Set-Cookie` header value under construction; its [`Display`]
/// (`to_string()`) is the header value:
///
/// ```
/// use weaprous::auth::cookie::{SameSite, SetCookie};
///
/// # fn main() -> Result<(), weaprous::auth::cookie::CookieError> {
/// let cookie = SetCookie::new("sessionid", "3f2a")?
///     .path("/")?
///     .max_age(3600)
///     .http_only()
///     .same_site(SameSite::Strict);
/// assert_eq!(
///     cookie.to_string(),
///     "sessionid=3f2a; Path=/; Max-Age=3600; HttpOnly; SameSite=Strict"
/// );
/// # Ok(())
/// # }
/// ```
///
/// [`Display`]: fmt::Display
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetCookie {
    name: String,
    value: String,
    path: Option<String>,
    max_age: Option<u64>,
    secure: bool,
    http_only: bool,
    same_site: Option<SameSite>,
}

impl SetCookie {
    /// A cookie `name=value` with no attributes: the browser keeps it until
    /// it closes and sends it back to this host only.
    ///
    /// Refused if `name` is not a token or `value` has a character outside
    /// §4.1.1's `cookie-octet` (no space, `"`, `,`, `;`, `\`, control or
    /// non-ASCII character). An empty value is allowed.
    pub fn new(name: &str, value: &str) -> Result<SetCookie, CookieError> {
        if !is_token(name.as_bytes()) {
            return Err(CookieError::Name(name.to_string()));
        }
        if !is_cookie_value(value) {
            return Err(CookieError::Value(value.to_string()));
        }
        Ok(SetCookie {
            name: name.to_string(),
            value: value.to_string(),
            path: None,
            max_age: None,
            secure: false,
            http_only: false,
            same_site: None,
        })
    }

    /// `Path`: the browser sends the cookie only for URLs under `path`
    /// (§5.1.4). Refused unless it starts with `/` and has only printable
    /// ASCII other than `;` (§4.1.1's `path-value`).
    pub fn path(mut self, path: &str) -> Result<SetCookie, CookieError> {
        let printable = path.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b';');
        if !path.starts_with('/') || !printable {
            return Err(CookieError::Path(path.to_string()));
        }
        self.path = Some(path.to_string());
        Ok(self)
    }

    /// `Max-Age`: the browser forgets the cookie after `seconds`. `0` makes
    /// it forget the cookie at once (§5.2.2), which is how a server deletes
    /// one (§4.1.1's grammar wants a non-zero number, but §5.2.2 defines 0
    /// and every browser follows it).
    pub fn max_age(mut self, seconds: u64) -> SetCookie {
        self.max_age = Some(seconds);
        self
    }

    /// `Secure`: the browser sends the cookie over HTTPS only (§4.1.2.5).
    /// Leave it off for the labs' plain-HTTP servers, or the browser never
    /// sends the cookie back.
    pub fn secure(mut self) -> SetCookie {
        self.secure = true;
        self
    }

    /// `HttpOnly`: page scripts cannot read the cookie (`document.cookie`),
    /// so an injected script cannot steal it (§4.1.2.6).
    pub fn http_only(mut self) -> SetCookie {
        self.http_only = true;
        self
    }

    /// `SameSite`: whether other sites' requests carry the cookie.
    pub fn same_site(mut self, same_site: SameSite) -> SetCookie {
        self.same_site = Some(same_site);
        self
    }
}

impl fmt::Display for SetCookie {
    /// The header value: `name=value`, then each attribute set, after `; `
    /// (§4.1.1).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.name, self.value)?;
        if let Some(path) = &self.path {
            write!(f, "; Path={path}")?;
        }
        if let Some(seconds) = self.max_age {
            write!(f, "; Max-Age={seconds}")?;
        }
        if self.secure {
            f.write_str("; Secure")?;
        }
        if self.http_only {
            f.write_str("; HttpOnly")?;
        }
        if let Some(same_site) = self.same_site {
            write!(f, "; SameSite={}", same_site.as_str())?;
        }
        Ok(())
    }
}

/// Why a [`SetCookie`] was refused: the part that would have broken the
/// header, as given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CookieError {
    /// The name is empty or has a character that is not allowed in a token.
    Name(String),
    /// The value has a character outside `cookie-octet`.
    Value(String),
    /// The path does not start with `/` or has `;` or a control character.
    Path(String),
}

impl fmt::Display for CookieError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CookieError::Name(name) => write!(
                f,
                "cookie name {name:?} is not a token (RFC 6265 §4.1.1): it must be \
                 non-empty, without spaces, control characters or ()<>@,;:\\\"/[]?={{}}"
            ),
            CookieError::Value(value) => write!(
                f,
                "cookie value {value:?} has a character RFC 6265 §4.1.1 forbids \
                 (space, '\"', ',', ';', '\\', control or non-ASCII)"
            ),
            CookieError::Path(path) => write!(
                f,
                "cookie path {path:?} must start with '/' and have no ';' or control characters"
            ),
        }
    }
}

impl Error for CookieError {}

/// Space or tab: the whitespace allowed around `;` and `=`.
fn is_space(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Only `cookie-octet`s (§4.1.1): `%x21 / %x23-2B / %x2D-3A / %x3C-5B /
/// %x5D-7E` — visible ASCII except `"`, `,`, `;` and `\`.
fn is_cookie_value(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b',' | b';' | b'\\'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_headers_parse_into_their_pairs() {
        let cases: &[(&str, &[(&str, &str)])] = &[
            ("", &[]),
            ("a=1", &[("a", "1")]),
            ("a=1; b=2", &[("a", "1"), ("b", "2")]),
            ("a=1;b=2", &[("a", "1"), ("b", "2")]),
            ("  a = 1 ;\tb=2 ; ", &[("a", "1"), ("b", "2")]),
            ("a=\"quoted\"", &[("a", "quoted")]),
            ("a=", &[("a", "")]),
            // '=' is a cookie-octet: only the first one splits (base64 values end in '=')
            ("a==b", &[("a", "=b")]),
            ("a=eHk=", &[("a", "eHk=")]),
            (
                "sessionid=3f2a; auth=true",
                &[("sessionid", "3f2a"), ("auth", "true")],
            ),
            // malformed pairs are skipped, the rest kept
            ("novalue; a=1", &[("a", "1")]),
            ("=1; a=1", &[("a", "1")]),
            ("bad name=1; a=1", &[("a", "1")]),
            ("a=two words; b=2", &[("b", "2")]),
            ("a=\"; b=2", &[("b", "2")]),
            ("a=\"x; b=2", &[("b", "2")]),
            ("a=caf\u{e9}; b=2", &[("b", "2")]),
            (";;; a=1 ;;", &[("a", "1")]),
        ];
        for (header, expected) in cases {
            let cookies = Cookies::parse(header);
            let pairs: Vec<(&str, &str)> = cookies.iter().collect();
            assert_eq!(
                &pairs, expected,
                "Cookie: {header:?} parsed to {pairs:?}, expected {expected:?}"
            );
        }
    }

    #[test]
    fn the_first_cookie_of_a_name_wins() {
        let cookies = Cookies::parse("sessionid=first; other=x; sessionid=second");
        assert_eq!(
            cookies.get("sessionid"),
            Some("first"),
            "with sessionid sent twice, the first should count"
        );
        assert_eq!(cookies.get("missing"), None, "an absent name gives None");
        assert_eq!(
            cookies.get("SessionId"),
            None,
            "names are case-sensitive: SessionId is not sessionid"
        );
    }

    #[test]
    fn set_cookie_writes_attributes_in_order() {
        let cases: Vec<(SetCookie, &str)> = vec![
            (SetCookie::new("a", "1").expect("valid"), "a=1"),
            (
                SetCookie::new("sessionid", "00ff")
                    .and_then(|c| c.path("/"))
                    .expect("valid")
                    .http_only()
                    .same_site(SameSite::Strict)
                    .max_age(3600),
                "sessionid=00ff; Path=/; Max-Age=3600; HttpOnly; SameSite=Strict",
            ),
            (
                SetCookie::new("auth", "").expect("valid").max_age(0),
                "auth=; Max-Age=0",
            ),
            (
                SetCookie::new("t", "v")
                    .expect("valid")
                    .same_site(SameSite::None)
                    .secure(),
                "t=v; Secure; SameSite=None",
            ),
            (
                SetCookie::new("t", "v")
                    .expect("valid")
                    .same_site(SameSite::Lax),
                "t=v; SameSite=Lax",
            ),
        ];
        for (cookie, expected) in cases {
            let written = cookie.to_string();
            assert_eq!(
                written, expected,
                "Set-Cookie built as {cookie:?}: got {written:?}, expected {expected:?}"
            );
        }
    }

    #[test]
    fn set_cookie_refuses_characters_that_could_inject() {
        let names = [
            "",
            "a b",
            "a;b",
            "a=b",
            "a,b",
            "a\r\nX: y",
            "caf\u{e9}",
            "a\0",
        ];
        for name in names {
            assert_eq!(
                SetCookie::new(name, "v"),
                Err(CookieError::Name(name.to_string())),
                "cookie name {name:?} should be refused"
            );
        }
        let values = [
            "x; Path=/",
            "x\r\nSet-Cookie: admin=1",
            "a b",
            "a,b",
            "\"quoted\"",
            "back\\slash",
            "caf\u{e9}",
            "tab\there",
        ];
        for value in values {
            assert_eq!(
                SetCookie::new("n", value),
                Err(CookieError::Value(value.to_string())),
                "cookie value {value:?} should be refused"
            );
        }
        for path in ["", "relative", "/a;HttpOnly", "/a\r\nX: y", "/caf\u{e9}"] {
            let result = SetCookie::new("n", "v").and_then(|c| c.path(path));
            assert_eq!(
                result,
                Err(CookieError::Path(path.to_string())),
                "cookie path {path:?} should be refused"
            );
        }
    }

    #[test]
    fn what_set_cookie_writes_parses_back() {
        let cookie = SetCookie::new("sessionid", "0123abcd").expect("valid");
        let written = cookie.to_string();
        assert_eq!(
            Cookies::parse(&written).get("sessionid"),
            Some("0123abcd"),
            "the pair of {written:?} should read back as a Cookie header"
        );
    }
}
