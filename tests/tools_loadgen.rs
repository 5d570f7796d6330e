//! Checks the load generator (`labs/tools/loadgen.rs`): it runs the real
//! binary for a fraction of a second against a lab 2 server in this
//! process, and reads its `--json` report. Nothing here measures speed
//! (`docs/benchmarks.md` does); it checks that what is counted is right.

mod support;

use std::net::SocketAddr;

use support::TempDir;
use support::tools::{assert_bad_flags_refused, assert_percentiles_in_order, json_report, number};
use weaprous::clock::Clock;
use weaprous::http::files::StaticFiles;
use weaprous::http::{Config, demo, serve};
use weaprous::net::Running;

/// A lab 2 server over a one-page site.
fn lab2() -> (Running, TempDir) {
    let site = TempDir::new("loadgen");
    site.write("index.html", b"<!doctype html><p>load</p>");
    let files = StaticFiles::new(&site.path, Clock::system()).expect("fixture root");
    let quiet = Config {
        quiet: true,
        ..Config::default()
    };
    let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
    let running = serve::start(any_port, demo::app(files), quiet, 64).expect("start lab 2");
    (running, site)
}

/// Runs loadgen with `args` for a short time; its `--json` report.
fn run_loadgen(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["-d", "0.3"];
    all.extend_from_slice(args);
    json_report("loadgen", &all)
}

#[test]
fn tools_loadgen_counts_requests_latencies_and_statuses() {
    let (running, _site) = lab2();
    let base = format!("http://{}", running.addr());
    for (path, extra, status) in [
        ("/hello", &[][..], "200"),
        ("/index.html", &["--close"][..], "200"),
        ("/missing", &["-c", "3", "-t", "2"][..], "404"),
    ] {
        let url = format!("{base}{path}");
        let mut args = vec!["--url", url.as_str(), "-c", "4", "-t", "1"];
        args.extend_from_slice(extra);
        let report = run_loadgen(&args);
        let requests = number(&report, &["requests"]);
        assert!(requests > 0.0, "{args:?}: no request completed: {report}");
        assert_eq!(number(&report, &["error_total"]), 0.0, "{args:?}: {report}");
        let non_2xx = &report["non_2xx"];
        if status == "200" {
            assert_eq!(non_2xx, &serde_json::json!({}), "{args:?}: {report}");
        } else {
            assert_eq!(
                non_2xx[status].as_f64(),
                Some(requests),
                "{args:?}: {report}"
            );
        }
        assert_percentiles_in_order(&report, "latency_ms");
        assert_eq!(
            report["keep_alive"].as_bool(),
            Some(!extra.contains(&"--close")),
            "{report}"
        );
    }
}

#[test]
fn tools_loadgen_holds_idle_connections_open() {
    let (running, _site) = lab2();
    let url = format!("http://{}/hello", running.addr());
    let report = run_loadgen(&["--url", &url, "-c", "1", "-t", "1", "--idle", "5"]);
    assert_eq!(number(&report, &["idle_held"]), 5.0, "{report}");
    assert!(number(&report, &["requests"]) > 0.0, "{report}");
    // With -c 0 it only holds them.
    let holding = run_loadgen(&["--url", &url, "-c", "0", "--idle", "3"]);
    assert_eq!(number(&holding, &["idle_held"]), 3.0, "{holding}");
    assert_eq!(number(&holding, &["requests"]), 0.0, "{holding}");
}

#[test]
fn tools_loadgen_bad_flags_are_one_line_and_exit_2() {
    assert_bad_flags_refused(
        "loadgen",
        &[
            &[],
            &["--url", "ftp://127.0.0.1/"],
            &["--url", "http://127.0.0.1:1/", "-c", "0"],
            &["--url", "http://127.0.0.1:1/", "-t", "0"],
            &[
                "--url",
                "http://127.0.0.1:1/",
                "-c",
                "1000000",
                "-t",
                "1000000",
            ],
            &["--url", "http://127.0.0.1:1/", "--idle", "100000000000"],
            &["--url", "http://127.0.0.1:1/", "-d", "soon"],
            &["--url", "http://127.0.0.1:1/", "-d", "0"],
            &["--url", "http://127.0.0.1:1/", "-H", "no colon"],
            &["--url", "http://127.0.0.1:1/", "--method", "BREW"],
            // Refused before anything is sent: not a loopback address.
            &["--url", "http://192.0.2.1/"],
            &["--bogus"],
        ],
    );
}
