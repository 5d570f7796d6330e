//! Reading `{"username", "password"}` from a login or registration body.
//!
//! Three kinds of client post these two fields, and each labels its body
//! differently:
//!
//! | client | `Content-Type` it sends | body |
//! |---|---|---|
//! | `fetch("/login", {method: "POST", body: JSON.stringify(…)})` (the course's UI) | `text/plain;charset=UTF-8` | JSON |
//! | a plain HTML `<form method="post">` (the course's Task 1A) | `application/x-www-form-urlencoded` | a form |
//! | `curl -d '{"username":…}'` | `application/x-www-form-urlencoded` | JSON |
//!
//! So the label alone cannot decide, and neither can the body alone. The
//! rule here, [`BodyFormat::of`]: a body whose first non-blank byte is `{`
//! is JSON, whatever its label (a form body starts with a field name, never
//! with `{`); otherwise a body labelled `application/x-www-form-urlencoded`
//! is a form; anything else is read as JSON — and fails as JSON, with the
//! parser's message, if it is not.
//!
//! Both formats are read strictly: the two fields must be there, be strings
//! (JSON) and come once. A repeated field is refused rather than resolved,
//! because two parts of a system that pick different copies (the first, the
//! last) disagree about who is logging in. The JSON parser already refuses a
//! repeated key ([`crate::json::ErrorKind::DuplicateKey`]); forms get the
//! same rule here. Other fields are ignored, so a client may send more.
//!
//! Left out on purpose: `multipart/form-data` (what a form with
//! `enctype="multipart/form-data"` sends; it is for file uploads) and
//! character sets other than UTF-8.

use std::fmt;
use std::str;

use crate::http::url::{self, UrlError};
use crate::json;

/// The name of the username field, in JSON and in forms.
pub const USERNAME_FIELD: &str = "username";

/// The name of the password field, in JSON and in forms.
pub const PASSWORD_FIELD: &str = "password";

/// The media type of an HTML form's body (HTML's "application/x-www-form-urlencoded
/// encoding algorithm").
pub const FORM_MEDIA_TYPE: &str = "application/x-www-form-urlencoded";

/// How a body was written. It also decides how the login answers: JSON
/// for a JSON body, a redirect or an HTML page for a form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyFormat {
    /// A JSON object.
    Json,
    /// `username=…&password=…`, as an HTML form posts it.
    Form,
}

impl BodyFormat {
    /// The format of `body`, given the request's `Content-Type` (see the
    /// module's rule).
    pub fn of(content_type: Option<&str>, body: &[u8]) -> BodyFormat {
        if body.trim_ascii_start().starts_with(b"{") {
            return BodyFormat::Json;
        }
        // RFC 9110 §8.3.1: a media type is case-insensitive, and parameters
        // (`; charset=UTF-8`) may follow it.
        let media_type = content_type
            .and_then(|value| value.split(';').next())
            .map(str::trim);
        match media_type {
            Some(media_type) if media_type.eq_ignore_ascii_case(FORM_MEDIA_TYPE) => {
                BodyFormat::Form
            }
            _ => BodyFormat::Json,
        }
    }
}

/// A username and password, and the format they came in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    /// The `username` field, as sent (not checked against the name rule:
    /// a login with any name simply fails).
    pub username: String,
    /// The `password` field, as sent.
    pub password: String,
    /// The body's format.
    pub format: BodyFormat,
}

/// Why a body did not hold the two fields. Every case is the client's
/// mistake: 400 Bad Request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BodyError {
    /// The body is not UTF-8 text.
    NotUtf8,
    /// The body is not JSON (a repeated key is one way).
    Json(json::Error),
    /// A form whose `%` escapes do not decode.
    Form(UrlError),
    /// JSON, but not an object.
    NotAnObject,
    /// The field is absent.
    Missing(&'static str),
    /// The field is there but is not a JSON string.
    NotAString(&'static str),
    /// The form has the field more than once.
    Repeated(&'static str),
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyError::NotUtf8 => f.write_str("the body is not UTF-8 text"),
            BodyError::Json(error) => write!(
                f,
                "the body is not valid JSON ({error}); send {{\"{USERNAME_FIELD}\": \"…\", \
                 \"{PASSWORD_FIELD}\": \"…\"}} or a form {USERNAME_FIELD}=…&{PASSWORD_FIELD}=… \
                 as {FORM_MEDIA_TYPE}"
            ),
            BodyError::Form(error) => write!(f, "the form does not decode: {error}"),
            BodyError::NotAnObject => write!(
                f,
                "the body must be a JSON object with \"{USERNAME_FIELD}\" and \"{PASSWORD_FIELD}\""
            ),
            BodyError::Missing(field) => write!(f, "the field \"{field}\" is missing"),
            BodyError::NotAString(field) => write!(f, "the field \"{field}\" must be a string"),
            BodyError::Repeated(field) => write!(f, "the field \"{field}\" appears more than once"),
        }
    }
}

impl std::error::Error for BodyError {}

impl Credentials {
    /// Reads the two fields from a request's `Content-Type` and body.
    pub fn read(content_type: Option<&str>, body: &[u8]) -> Result<Credentials, BodyError> {
        let format = BodyFormat::of(content_type, body);
        let text = str::from_utf8(body).map_err(|_| BodyError::NotUtf8)?;
        let (username, password) = match format {
            BodyFormat::Json => from_json(text)?,
            BodyFormat::Form => from_form(text)?,
        };
        Ok(Credentials {
            username,
            password,
            format,
        })
    }
}

/// The two fields of a JSON object.
fn from_json(text: &str) -> Result<(String, String), BodyError> {
    let value = json::parse(text).map_err(BodyError::Json)?;
    let object = value.as_object().ok_or(BodyError::NotAnObject)?;
    let field = |name: &'static str| {
        object
            .get(name)
            .ok_or(BodyError::Missing(name))?
            .as_str()
            .map(str::to_string)
            .ok_or(BodyError::NotAString(name))
    };
    Ok((field(USERNAME_FIELD)?, field(PASSWORD_FIELD)?))
}

/// The two fields of a form body.
fn from_form(text: &str) -> Result<(String, String), BodyError> {
    let pairs = url::parse_form(text).map_err(BodyError::Form)?;
    let field = |name: &'static str| {
        let mut values = pairs.iter().filter(|(key, _)| key == name);
        match (values.next(), values.next()) {
            (Some((_, value)), None) => Ok(value.clone()),
            (Some(_), Some(_)) => Err(BodyError::Repeated(name)),
            (None, _) => Err(BodyError::Missing(name)),
        }
    };
    Ok((field(USERNAME_FIELD)?, field(PASSWORD_FIELD)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORM: Option<&str> = Some(FORM_MEDIA_TYPE);

    #[test]
    fn the_format_follows_the_first_byte_then_the_label() {
        // (Content-Type, body, expected format)
        let cases: &[(Option<&str>, &str, BodyFormat)] = &[
            (
                Some("application/json"),
                r#"{"username":"a"}"#,
                BodyFormat::Json,
            ),
            (
                Some("text/plain;charset=UTF-8"),
                r#"{"a":1}"#,
                BodyFormat::Json,
            ),
            (None, r#"{"a":1}"#, BodyFormat::Json),
            // curl -d '{...}' labels JSON as a form
            (FORM, r#"{"username":"a"}"#, BodyFormat::Json),
            (FORM, " \r\n\t{}", BodyFormat::Json),
            (FORM, "username=a&password=b", BodyFormat::Form),
            (
                Some("Application/X-WWW-Form-URLEncoded ; charset=UTF-8"),
                "username=a",
                BodyFormat::Form,
            ),
            (
                Some("text/plain"),
                "username=a&password=b",
                BodyFormat::Json,
            ),
            (
                Some("multipart/form-data; boundary=x"),
                "--x",
                BodyFormat::Json,
            ),
            (None, "", BodyFormat::Json),
            (FORM, "", BodyFormat::Form),
        ];
        for (content_type, body, expected) in cases {
            assert_eq!(
                BodyFormat::of(*content_type, body.as_bytes()),
                *expected,
                "Content-Type {content_type:?} with body {body:?}"
            );
        }
    }

    #[test]
    fn good_bodies_give_both_fields() {
        let cases: &[(Option<&str>, &str, &str, &str)] = &[
            (
                None,
                r#"{"username":"admin","password":"password"}"#,
                "admin",
                "password",
            ),
            (
                None,
                r#" {"password": "p\u00e9 \"q\"", "username": "b", "remember": true} "#,
                "b",
                "p\u{e9} \"q\"",
            ),
            (
                FORM,
                "username=admin&password=password",
                "admin",
                "password",
            ),
            (
                FORM,
                "password=a+b%26c%3D&username=x.y&submit=Log+in",
                "x.y",
                "a b&c=",
            ),
            (FORM, "username=&password=", "", ""),
        ];
        for (content_type, body, username, password) in cases {
            let credentials = Credentials::read(*content_type, body.as_bytes());
            assert_eq!(
                credentials
                    .as_ref()
                    .map(|c| (c.username.as_str(), c.password.as_str())),
                Ok((*username, *password)),
                "body {body:?}"
            );
        }
    }

    #[test]
    fn bad_bodies_say_what_is_wrong() {
        // (Content-Type, body, a part of the expected message)
        let cases: &[(Option<&str>, &[u8], &str)] = &[
            (None, b"", "not valid JSON"),
            (None, b"{", "not valid JSON"),
            (None, b"username=a&password=b", "not valid JSON"),
            (
                None,
                br#"{"username":"a","username":"b","password":"c"}"#,
                "the key \"username\" appears twice",
            ),
            (None, b"[\"admin\",\"password\"]", "must be a JSON object"),
            (None, b"\"admin\"", "must be a JSON object"),
            (None, br#"{"username":"a"}"#, "\"password\" is missing"),
            (None, br#"{"password":"a"}"#, "\"username\" is missing"),
            (
                None,
                br#"{"username":1,"password":"a"}"#,
                "\"username\" must be a string",
            ),
            (
                None,
                br#"{"username":"a","password":null}"#,
                "\"password\" must be a string",
            ),
            (
                None,
                br#"{"username":["a"],"password":"b"}"#,
                "must be a string",
            ),
            (None, b"{\"username\":\"\xff\"}", "not UTF-8"),
            (FORM, b"username=a", "\"password\" is missing"),
            (
                FORM,
                b"username=a&username=b&password=c",
                "\"username\" appears more than once",
            ),
            (FORM, b"username=a&password=%zz", "does not decode"),
            (FORM, b"username=a&password=%ff", "does not decode"),
        ];
        for (content_type, body, expected) in cases {
            let result = Credentials::read(*content_type, body);
            let message = match &result {
                Err(error) => error.to_string(),
                Ok(credentials) => panic!("body {body:?} was accepted as {credentials:?}"),
            };
            assert!(
                message.contains(expected),
                "body {body:?}: message {message:?} should contain {expected:?}"
            );
        }
    }
}
