//! Helpers for the graders of the measuring tools (`labs/tools/`): run a
//! tool to completion and read its `--json` report, or check that it
//! refuses a bad command line as every binary of the kit does.

use serde_json::Value;

use super::run_example;

/// Runs example `name` with `--json` and `args`; it must exit 0 and print
/// one JSON object, which is returned.
pub fn json_report(name: &str, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let (code, stdout, stderr) = run_example(name, &all);
    assert_eq!(
        code,
        Some(0),
        "{name} {all:?} should succeed; stdout {stdout:?}, stderr {stderr:?}"
    );
    serde_json::from_str(&stdout)
        .unwrap_or_else(|error| panic!("{name} --json printed {stdout:?}, not JSON: {error}"))
}

/// The number at `path` (keys, outermost first) in a report.
pub fn number(report: &Value, path: &[&str]) -> f64 {
    let mut value = report;
    for key in path {
        value = &value[key];
    }
    value
        .as_f64()
        .unwrap_or_else(|| panic!("{path:?} should be a number in {report}"))
}

/// Checks that p50 ≤ p90 ≤ p99 ≤ max, all above zero, in the latency
/// object `object` of a report (milliseconds).
pub fn assert_percentiles_in_order(report: &Value, object: &str) {
    let [p50, p90, p99, max] =
        ["p50", "p90", "p99", "max"].map(|name| number(report, &[object, name]));
    assert!(
        0.0 < p50 && p50 <= p90 && p90 <= p99 && p99 <= max,
        "{object}: percentiles out of order: {report}"
    );
}

/// Checks that example `name` refuses each command line of `cases` as the
/// kit's conventions say (README.md, "Start"): one line on stderr, nothing on
/// stdout, exit code 2.
pub fn assert_bad_flags_refused(name: &str, cases: &[&[&str]]) {
    for args in cases {
        let (code, stdout, stderr) = run_example(name, args);
        assert_eq!(
            code,
            Some(2),
            "{name} {args:?}: stdout {stdout:?}, stderr {stderr:?}"
        );
        assert_eq!(
            stderr.lines().count(),
            1,
            "{name} {args:?} should explain in one line: {stderr:?}"
        );
        assert!(stdout.is_empty(), "{name} {args:?}: {stdout:?}");
    }
}
