//! The answers of the auth routes: small JSON objects for scripts, small
//! HTML pages for people.
//!
//! Every JSON answer has the course's shape, `{"status": WORD, "message":
//! TEXT}` (`{"status":"unauthorized","message":"Invalid username or
//! password"}`), where `WORD` is for programs and `TEXT` for people. Every
//! HTML page is one short paragraph and one link, styled by the site's
//! `/style.css`; the text is escaped ([`escape_html`]), so nothing a client
//! sent can become markup.
//!
//! Both carry `Cache-Control: no-store` (RFC 9111 §5.2.2.5): an answer
//! about a login, or one that sets a cookie, is about one person at one
//! moment, and no cache — the browser's, or a shared one — may keep it.

use std::time::Duration;

use super::throttle::retry_after_seconds;
use crate::http::{Response, StatusCode};
use crate::json::{self, Value};

/// The `Cache-Control` of every answer here.
pub const NO_STORE: &str = "no-store";

/// `{"status": word, "message": message}` with `status`.
pub fn json_status(status: StatusCode, word: &str, message: &str) -> Response {
    let body = json::object([
        ("status", Value::from(word)),
        ("message", Value::from(message)),
    ]);
    Response::json(status, body.to_string()).with_header("Cache-Control", NO_STORE)
}

/// A page with a title, one paragraph and one link. `message` and the link
/// text are escaped; `href` must already be safe in an attribute (the
/// callers build it from fixed text and checked paths).
pub fn html_page(
    status: StatusCode,
    title: &str,
    message: &str,
    href: &str,
    link: &str,
) -> Response {
    let page = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<link rel=\"stylesheet\" href=\"/style.css\">\n</head>\n\
         <body>\n<main class=\"card\">\n<h1>{title}</h1>\n<p>{message}</p>\n\
         <p><a class=\"button\" href=\"{href}\">{link}</a></p>\n</main>\n</body>\n</html>\n",
        title = escape_html(title),
        message = escape_html(message),
        href = escape_html(href),
        link = escape_html(link),
    );
    Response::html(status, page).with_header("Cache-Control", NO_STORE)
}

/// The sentence that tells a client how long to wait, and the
/// `Retry-After` header that says it to programs (RFC 9110 §10.2.3; RFC
/// 6585 §4 for 429).
pub fn retry_after(wait: Duration) -> (String, u64) {
    let seconds = retry_after_seconds(wait);
    let unit = if seconds == 1 { "second" } else { "seconds" };
    (
        format!("Too many failed logins; try again in {seconds} {unit}"),
        seconds,
    )
}

/// `text` with the five characters that mean something in HTML (`& < > " '`)
/// written as character references, safe between tags and inside a quoted
/// attribute.
pub fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(response: &Response) -> String {
        String::from_utf8_lossy(response.body().as_bytes().unwrap_or_default()).into_owned()
    }

    #[test]
    fn json_status_has_the_course_shape_and_escapes() {
        let response = json_status(StatusCode::UNAUTHORIZED, "unauthorized", "say \"hi\"");
        assert_eq!(
            body(&response),
            r#"{"status":"unauthorized","message":"say \"hi\""}"#
        );
        assert_eq!(response.header("content-type"), Some("application/json"));
        assert_eq!(response.header("cache-control"), Some(NO_STORE));
    }

    #[test]
    fn html_pages_escape_what_they_show() {
        let response = html_page(
            StatusCode::UNAUTHORIZED,
            "<t>",
            "a & b <script>",
            "/x?a=1&b=\"2\"",
            "go'",
        );
        let page = body(&response);
        for expected in [
            "<title>&lt;t&gt;</title>",
            "<p>a &amp; b &lt;script&gt;</p>",
            "href=\"/x?a=1&amp;b=&quot;2&quot;\"",
            ">go&#39;</a>",
        ] {
            assert!(
                page.contains(expected),
                "page should contain {expected:?}:\n{page}"
            );
        }
        assert!(!page.contains("<script>"), "raw markup leaked:\n{page}");
    }

    #[test]
    fn retry_after_rounds_up_and_says_the_unit() {
        assert_eq!(
            retry_after(Duration::from_millis(59_500)),
            (
                "Too many failed logins; try again in 60 seconds".to_string(),
                60
            )
        );
        assert_eq!(retry_after(Duration::from_millis(1)).1, 1);
        assert!(retry_after(Duration::from_secs(1)).0.ends_with("1 second"));
    }
}
