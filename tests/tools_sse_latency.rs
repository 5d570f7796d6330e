//! Checks the event-latency tool (`labs/tools/sse_latency.rs`): it runs
//! the real binary for a fraction of a second against a lab 4 chat server
//! in this process, and reads its `--json` report. Nothing here measures
//! speed (`docs/benchmarks.md` does); it checks that what is counted is
//! right: every acknowledged message, on every stream, once.

mod support;

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use support::tools::{assert_bad_flags_refused, assert_percentiles_in_order, json_report, number};
use support::{TempDir, run_example};
use weaprous::auth::app::{Auth, AuthConfig};
use weaprous::auth::password::TEST_ITERATIONS;
use weaprous::chat::{Chat, Settings, site};
use weaprous::clock::Clock;
use weaprous::http::files::StaticFiles;
use weaprous::http::{Config, serve};
use weaprous::net::Running;

/// The kit's web pages, served as the lab binary serves them.
const WWW: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/www");

/// A lab 4 server, built as `labs/lab4_chat.rs` builds it, on a fresh
/// data directory.
struct Lab4 {
    running: Running,
    chat: Arc<Chat>,
    _data: TempDir,
}

impl Lab4 {
    fn start() -> Lab4 {
        let data = TempDir::new("sse-latency");
        let clock = Clock::manual().0;
        let config = AuthConfig {
            iterations: TEST_ITERATIONS,
            ..AuthConfig::default()
        };
        let auth = Auth::open(&data.path, config, clock.clone()).expect("open the accounts");
        let settings = Settings {
            clock: clock.clone(),
            ..Settings::default()
        };
        let chat = site::open_chat(&auth, &data.path, settings).expect("open the chat");
        let files = StaticFiles::new(WWW, clock.clone()).expect("the kit's www directory");
        let quiet = Config {
            clock,
            quiet: true,
            ..Config::default()
        };
        let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
        let running = serve::start(any_port, site::app(&auth, &chat, files), quiet, 128)
            .expect("start lab 4");
        Lab4 {
            running,
            chat,
            _data: data,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.running.addr())
    }

    /// Ends the event streams that are still open, then the server.
    fn stop(self) {
        self.chat.close_streams();
        self.running.shutdown(Duration::from_secs(1));
    }
}

#[test]
fn tools_sse_latency_counts_every_message_on_every_stream() {
    let lab = Lab4::start();
    let url = lab.url();
    // One at a time, then in bursts; the second run logs in to the
    // accounts the first one created.
    for (burst, messages) in [("1", 12u64), ("4", 16)] {
        let args = [
            "--url",
            url.as_str(),
            "--subscribers",
            "5",
            "--accounts",
            "2",
            "--messages",
            &messages.to_string(),
            "--rate",
            "400",
            "--burst",
            burst,
        ];
        let report = json_report("sse_latency", &args);
        let messages = messages as f64;
        assert_eq!(number(&report, &["acknowledged"]), messages, "{report}");
        assert_eq!(number(&report, &["send_failed"]), 0.0, "{report}");
        assert_eq!(number(&report, &["expected"]), messages * 5.0, "{report}");
        assert_eq!(
            number(&report, &["delivered"]),
            messages * 5.0,
            "every message on each of the 5 streams: {report}"
        );
        for counter in [
            "missing",
            "duplicates",
            "out_of_order",
            "streams_ended_early",
        ] {
            assert_eq!(number(&report, &[counter]), 0.0, "{counter}: {report}");
        }
        assert_percentiles_in_order(&report, "latency_ms");
        assert_percentiles_in_order(&report, "ack_latency_ms");
    }
    lab.stop();
}

#[test]
fn tools_sse_latency_bad_flags_are_one_line_and_exit_2() {
    let url = "http://127.0.0.1:1";
    assert_bad_flags_refused(
        "sse_latency",
        &[
            &[],
            &["--url", "ftp://127.0.0.1/"],
            // Refused before anything is sent: not a loopback address.
            &["--url", "http://192.0.2.1/"],
            &["--url", url, "--subscribers", "0"],
            &["--url", url, "--accounts", "5", "-s", "4"],
            &["--url", url, "--rate", "0"],
            &["--url", url, "--rate", "fast"],
            &["--url", url, "--burst", "-1"],
            &["--url", url, "--timeout", "0"],
            &["--bogus"],
        ],
    );
}

#[test]
fn tools_sse_latency_reports_a_failed_set_up_in_one_line() {
    // A server that hangs up on its first connection, without an answer.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let hanging_up = thread::spawn(move || {
        if let Ok((connection, _)) = listener.accept() {
            drop(connection);
        }
    });
    let (code, stdout, stderr) = run_example("sse_latency", &["--url", &url]);
    hanging_up.join().expect("the listener thread");
    assert_eq!(code, Some(1), "stdout {stdout:?}, stderr {stderr:?}");
    assert!(
        stderr.starts_with("sse_latency: POST /register") && stderr.lines().count() == 1,
        "one line saying which step failed: {stderr:?}"
    );
}
