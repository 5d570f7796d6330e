//! Proof that every grader grades: each lab's handout (the kit with that
//! lab's core cut out) must build, and its grader must fail on it — with
//! the `todo!` hints in its output — while passing on the finished kit
//! (which the rest of `cargo test` shows).
//!
//! A grader that passes with the lab's core missing is a bug in the grader.
//!
//! These tests build a copy of the kit per lab, which takes minutes, so
//! they are ignored by a plain `cargo test`; `.ci/run` runs them with
//! `cargo test --test handout -- --ignored`.

mod support;

use std::path::Path;
use std::process::Command;

use support::{TempDir, example_binary, run_example};

/// The labs whose graders are checked, with the grader's name.
const LABS: &[(u32, &str)] = &[
    (1, "lab1_echo"),
    (2, "lab2_http"),
    (3, "lab3_auth"),
    (4, "lab4_chat"),
    (5, "lab5_peer"),
    (6, "lab6_proxy"),
];

/// Runs a command to completion; returns whether it succeeded and its
/// stdout and stderr together.
fn run(command: &mut Command) -> (bool, String) {
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("cannot run {command:?}: {error}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

fn cargo(dir: &Path, target: &Path) -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .env_remove("RUSTFLAGS");
    command
}

#[test]
#[ignore = "slow: builds a copy of the kit for each lab; .ci/run runs it"]
fn handout_every_grader_fails_on_its_own_handout() {
    let work = TempDir::new("handouts");
    // One target directory for every handout, so dependencies build once.
    let target = work.path.join("target");
    for (lab, grader) in LABS {
        let out = work.path.join(format!("lab{lab}"));
        let (code, report, stderr) = run_example(
            "handout",
            &[
                "--lab",
                &lab.to_string(),
                "--out",
                out.to_str().expect("UTF-8 temp path"),
            ],
        );
        assert_eq!(code, Some(0), "handout --lab {lab} failed: {stderr}");
        assert!(
            report.contains(&format!("cargo test --test {grader}")),
            "the handout's README says how to grade it:\n{report}"
        );

        let (built, log) = run(cargo(&out, &target).args(["build", "--tests", "--examples"]));
        assert!(built, "the lab {lab} handout must build:\n{log}");

        let (passed, log) = run(cargo(&out, &target).args(["test", "--test", grader]));
        assert!(
            !passed,
            "the lab {lab} grader PASSED on the handout, whose lab {lab} code is all todo!(): \
             the grader does not test what the student writes.\n{log}"
        );
        assert!(
            log.contains(&format!("not yet implemented: lab {lab}:")),
            "the lab {lab} grader failed, but its output does not show the todo! hints \
             (`not yet implemented: lab {lab}: …`) that tell the student where to start:\n{log}"
        );
    }
}

#[test]
fn handout_refuses_bad_arguments_with_one_line_and_exit_code_2() {
    let occupied = TempDir::new("handout-occupied");
    occupied.write("something.txt", b"already here");
    let occupied_path = occupied.path.to_str().expect("UTF-8 temp path").to_string();
    let fresh = TempDir::new("handout-fresh");
    let fresh_path = fresh.path.join("out");
    let fresh_path = fresh_path.to_str().expect("UTF-8 temp path");
    for (args, expected) in [
        (
            vec!["--lab", "9", "--out", fresh_path],
            "there are labs 1 to 6",
        ),
        (vec!["--lab", "two", "--out", fresh_path], "--lab"),
        (
            vec!["--lab", "2", "--out", &occupied_path],
            "exists and is not empty",
        ),
        (vec!["--out", fresh_path], "--lab needs a value"),
    ] {
        let (code, stdout, stderr) = run_example("handout", &args);
        assert_eq!(
            code,
            Some(2),
            "handout {args:?}: expected exit code 2; stderr {stderr:?}"
        );
        assert!(
            stderr.starts_with("error: ")
                && stderr.trim_end().lines().count() == 1
                && stderr.contains(expected),
            "handout {args:?}: expected one `error:` line mentioning {expected:?}, got {stderr:?}"
        );
        assert!(stdout.is_empty(), "nothing on stdout on error: {stdout:?}");
    }
    assert!(
        !fresh.path.join("out").exists(),
        "a refused handout writes nothing"
    );
    // The binary exists and builds: a sanity check for the ignored test above.
    assert!(example_binary("handout").is_file());
}
