//! What the two measuring tools, `loadgen` and `sse_latency`, share:
//! reading the target URL and flags given in seconds, and writing a
//! latency histogram as text and as JSON, so that both read their flags
//! and report their percentiles the same way. Each tool includes this
//! file as its module `measuring`.

use std::fmt::Write as _;
use std::time::Duration;

use weaprous::flags::{Args, CliError, Flag};
use weaprous::histogram::Histogram;
use weaprous::http::client::Client;
use weaprous::json::{Object, Value};

/// Longest duration a flag accepts, so that a typo cannot start a day-long test.
pub const MAX_SECONDS: Duration = Duration::from_secs(3600);

/// `--json`: the report as one JSON object, for scripts.
pub const JSON_FLAG: Flag = Flag {
    name: "--json",
    aliases: &[],
    value: None,
    default: None,
    help: "print the report as one JSON object",
};

/// The percentiles reported, with their names.
pub const PERCENTILES: [(&str, f64); 3] = [("p50", 50.0), ("p90", 90.0), ("p99", 99.0)];

/// The `--url` flag: its text, a client for its server, and its path. A
/// load generator is a denial-of-service tool, so the server must be on a
/// loopback address unless `allow_remote`; `remote_hint` ends the refusal
/// (how to allow a remote one, where the tool can).
pub fn target(
    args: &Args,
    allow_remote: bool,
    remote_hint: &str,
) -> Result<(String, Client, String), CliError> {
    let url = args
        .text("--url")
        .ok_or(CliError::MissingValue("--url"))?
        .to_string();
    let (client, path) =
        Client::for_url(&url).map_err(|error| invalid("--url", &url, &error.to_string()))?;
    if !client.addr().ip().is_loopback() && !allow_remote {
        let reason = format!("not a loopback address{remote_hint}");
        return Err(invalid("--url", &url, &reason));
    }
    Ok((url, client, path))
}

/// The error for a flag's `value` that is not valid, and why.
pub fn invalid(flag: &'static str, value: &str, reason: &str) -> CliError {
    CliError::Invalid {
        flag,
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

/// A flag's value in seconds: a positive number (0.5 is fine), at most
/// [`MAX_SECONDS`].
pub fn seconds(args: &Args, flag: &'static str) -> Result<Duration, CliError> {
    let value: f64 = args.required(flag)?;
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|duration| !duration.is_zero() && *duration <= MAX_SECONDS)
        .ok_or_else(|| CliError::Invalid {
            flag,
            value: value.to_string(),
            reason: format!("expected seconds, more than 0 and at most {MAX_SECONDS:?}"),
        })
}

/// `p50 0.412 ms, p90 0.530 ms, p99 1.204 ms, max 3.100 ms, mean 0.450 ms`.
pub fn latency_text(latency: &Histogram) -> String {
    let mut text = String::new();
    for (name, percent) in PERCENTILES {
        let _ = write!(
            text,
            "{name} {:.3} ms, ",
            millis(latency.percentile(percent))
        );
    }
    let _ = write!(
        text,
        "max {:.3} ms, mean {:.3} ms",
        millis(latency.max()),
        millis(latency.mean())
    );
    text
}

/// `{"p50":0.412,"p90":0.53,"p99":1.204,"max":3.1,"mean":0.45}`, in milliseconds.
pub fn latency_json(latency: &Histogram) -> Value {
    let mut figures = Object::new();
    for (name, percent) in PERCENTILES {
        figures.insert(name, millis(latency.percentile(percent)));
    }
    figures.insert("max", millis(latency.max()));
    figures.insert("mean", millis(latency.mean()));
    Value::from(figures)
}

/// A duration in milliseconds, as a float for reports.
pub fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
