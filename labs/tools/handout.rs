//! Makes a student handout of one lab: a copy of the kit with that lab's
//! core cut out.
//!
//! ```text
//! cargo run --example handout -- --lab 2 --out /tmp/lab2-handout
//! cd /tmp/lab2-handout && cargo test --test lab2_http     # fails, with the hints
//! ```
//!
//! The code a student writes is marked in the kit's sources, inside
//! function bodies, by a pair of comments:
//!
//! ```text
//!     // lab2: begin — decide keep-alive from the version and Connection
//!     …the finished code…
//!     // lab2: end
//! ```
//!
//! In the handout, each marked region of the chosen lab becomes
//! `todo!("lab 2: decide keep-alive from the version and Connection");` —
//! function signatures, types and docs stay — and everything else is
//! copied unchanged. The markers of every lab are checked: a `begin`
//! without its `end` (or the reverse) is an error, so a broken marker never
//! produces a handout that silently keeps the answer in.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process;

use weaprous::flags::{Cli, CliError, Flag};

const FLAGS: &[Flag] = &[
    Flag {
        name: "--lab",
        aliases: &[],
        value: Some("N"),
        default: None,
        help: "which lab's code to cut out (1 to 6)",
    },
    Flag {
        name: "--out",
        aliases: &[],
        value: Some("DIR"),
        default: None,
        help: "where to write the handout (must not exist, or be empty)",
    },
    Flag {
        name: "--from",
        aliases: &[],
        value: Some("DIR"),
        default: Some(env!("CARGO_MANIFEST_DIR")),
        help: "the finished kit to copy",
    },
];

/// What a handout copies: the files a student needs to build, read and
/// grade the kit. (`target/`, `.git/`, `.ci/` and `data/` are left out.)
const COPIED: &[&str] = &[
    "Cargo.toml",
    "Cargo.lock",
    "README.md",
    ".gitignore",
    "src",
    "labs",
    "www",
    "tests",
    "docs",
];

/// The labs that exist, with their grader's name.
const LABS: &[(u32, &str)] = &[
    (1, "lab1_echo"),
    (2, "lab2_http"),
    (3, "lab3_auth"),
    (4, "lab4_chat"),
    (5, "lab5_peer"),
    (6, "lab6_proxy"),
];

/// Why no handout was made. Every variant is one line for the user.
#[derive(Debug)]
enum HandoutError {
    Usage(String),
    Markers(String),
    Io(PathBuf, io::Error),
}

impl fmt::Display for HandoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandoutError::Usage(message) | HandoutError::Markers(message) => f.write_str(message),
            HandoutError::Io(path, error) => write!(f, "{}: {error}", path.display()),
        }
    }
}

/// One marked region: where it is, and its hint.
#[derive(Debug)]
struct Region {
    file: PathBuf,
    line: usize,
    hint: String,
}

fn main() {
    let cli = Cli::new("handout", "make a student handout of one lab").flags(FLAGS);
    let args = cli.parse_env_or_exit();
    let outcome = args
        .required::<u32>("--lab")
        .map_err(usage)
        .and_then(|lab| {
            let out: PathBuf = args.required("--out").map_err(usage)?;
            let from: PathBuf = args.required("--from").map_err(usage)?;
            make_handout(lab, &from, &out)
        });
    match outcome {
        Ok(report) => print!("{report}"),
        Err(error) => {
            eprintln!("error: {error}");
            process::exit(2);
        }
    }
}

fn usage(error: CliError) -> HandoutError {
    HandoutError::Usage(error.to_string())
}

/// Writes the handout of `lab` from the kit at `from` into `out`, and
/// returns what it did, for the user.
fn make_handout(lab: u32, from: &Path, out: &Path) -> Result<String, HandoutError> {
    let grader = LABS
        .iter()
        .find(|(number, _)| *number == lab)
        .map(|(_, grader)| *grader)
        .ok_or_else(|| HandoutError::Usage(format!("--lab {lab}: there are labs 1 to 6")))?;
    if !from.join("tests").join(format!("{grader}.rs")).is_file() {
        return Err(HandoutError::Usage(format!(
            "--lab {lab}: this kit has no {grader} yet"
        )));
    }
    if fs::read_dir(out).is_ok_and(|mut entries| entries.next().is_some()) {
        return Err(HandoutError::Usage(format!(
            "--out {}: exists and is not empty",
            out.display()
        )));
    }
    // Read and cut every file before writing anything, so that an error
    // leaves no half-made handout behind.
    let mut files = Vec::new();
    for entry in COPIED {
        collect_files(from, Path::new(entry), &mut files)?;
    }
    let mut regions = Vec::new();
    let mut outputs = Vec::new();
    for relative in files {
        let path = from.join(&relative);
        let bytes = fs::read(&path).map_err(|error| HandoutError::Io(path.clone(), error))?;
        let is_rust = relative
            .extension()
            .is_some_and(|extension| extension == "rs");
        let contents = match String::from_utf8(bytes) {
            Ok(text) if is_rust => cut_regions(&text, lab, &relative, &mut regions)?.into_bytes(),
            Ok(text) => text.into_bytes(),
            Err(not_text) => not_text.into_bytes(),
        };
        outputs.push((relative, contents));
    }
    if regions.is_empty() {
        return Err(HandoutError::Markers(format!(
            "--lab {lab}: no `// lab{lab}: begin` markers in the kit"
        )));
    }
    let intro = handout_intro(lab, grader, &regions);
    for (relative, mut contents) in outputs {
        if relative == Path::new("README.md") {
            contents.splice(0..0, intro.bytes());
        }
        let target = out.join(&relative);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(|error| HandoutError::Io(parent.into(), error))?;
        }
        fs::write(&target, contents).map_err(|error| HandoutError::Io(target.clone(), error))?;
    }
    Ok(intro)
}

/// Adds `relative` (a file, or every file under a directory) to `files`.
fn collect_files(
    root: &Path,
    relative: &Path,
    files: &mut Vec<PathBuf>,
) -> Result<(), HandoutError> {
    let path = root.join(relative);
    let metadata = fs::metadata(&path).map_err(|error| HandoutError::Io(path.clone(), error))?;
    if !metadata.is_dir() {
        files.push(relative.to_path_buf());
        return Ok(());
    }
    let entries = fs::read_dir(&path).map_err(|error| HandoutError::Io(path.clone(), error))?;
    let mut names: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| relative.join(entry.file_name()))
        .collect();
    names.sort();
    for name in names {
        collect_files(root, &name, files)?;
    }
    Ok(())
}

/// A marker comment, parsed: `// lab2: begin — hint` or `// lab2: end`.
#[derive(Debug, PartialEq, Eq)]
enum Marker {
    Begin { lab: u32, hint: String },
    End { lab: u32 },
}

/// Recognises a marker line (whatever its indentation).
fn parse_marker(line: &str) -> Option<Marker> {
    let rest = line.trim_start().strip_prefix("// lab")?;
    let (number, rest) = rest.split_once(':')?;
    let lab = number.parse().ok()?;
    let rest = rest.trim();
    if rest == "end" {
        return Some(Marker::End { lab });
    }
    let hint = rest.strip_prefix("begin")?.trim_start();
    let hint = hint.strip_prefix('—').or_else(|| hint.strip_prefix("--"))?;
    Some(Marker::Begin {
        lab,
        hint: hint.trim().to_string(),
    })
}

/// Replaces each region of `lab` in one source file by a `todo!` with its
/// hint, and checks that every lab's markers are balanced and not nested.
fn cut_regions(
    text: &str,
    lab: u32,
    file: &Path,
    regions: &mut Vec<Region>,
) -> Result<String, HandoutError> {
    let mut out = String::with_capacity(text.len());
    let mut open: Option<(u32, usize)> = None;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let number = index + 1;
        let at = || format!("{}:{number}", file.display());
        match (parse_marker(line), open) {
            (Some(Marker::Begin { lab: begun, .. }), Some((_, since))) => {
                return Err(HandoutError::Markers(format!(
                    "{}: lab{begun}: begin inside the region opened at line {since}",
                    at()
                )));
            }
            (Some(Marker::Begin { lab: begun, hint }), None) => {
                open = Some((begun, number));
                if begun == lab {
                    let indent = &line[..line.len() - line.trim_start().len()];
                    // `{:?}` writes the message as a Rust string literal, escapes and all.
                    let message = format!("lab {lab}: {hint}");
                    out.push_str(&format!("{indent}todo!({message:?});\n"));
                    regions.push(Region {
                        file: file.to_path_buf(),
                        // Where the `todo!` is in the handout, not in the kit.
                        line: out.lines().count(),
                        hint,
                    });
                    continue;
                }
            }
            (Some(Marker::End { lab: ended }), Some((begun, since))) if ended != begun => {
                return Err(HandoutError::Markers(format!(
                    "{}: lab{ended}: end closes the lab{begun} region opened at line {since}",
                    at()
                )));
            }
            (Some(Marker::End { lab: ended }), Some(_)) => {
                open = None;
                if ended == lab {
                    continue;
                }
            }
            (Some(Marker::End { lab: ended }), None) => {
                return Err(HandoutError::Markers(format!(
                    "{}: lab{ended}: end without a begin",
                    at()
                )));
            }
            (None, Some((begun, _))) if begun == lab => continue,
            (None, _) => {}
        }
        out.push_str(line);
    }
    if let Some((begun, since)) = open {
        return Err(HandoutError::Markers(format!(
            "{}:{since}: lab{begun}: begin without an end",
            file.display()
        )));
    }
    Ok(out)
}

/// The section put at the top of the handout's README.
fn handout_intro(lab: u32, grader: &str, regions: &[Region]) -> String {
    let mut intro = format!(
        "# Handout: lab {lab}\n\n\
         This copy of the kit has the core of lab {lab} cut out. Read \
         `docs/{grader}.md`, then write the code where the kit now says \
         `todo!(\"lab {lab}: …\")`:\n\n"
    );
    for region in regions {
        intro.push_str(&format!(
            "- `{}:{}` — {}\n",
            region.file.display(),
            region.line,
            region.hint
        ));
    }
    intro.push_str(&format!(
        "\nGrade your work with:\n\n```text\ncargo test --test {grader}\n```\n\n\
         Each failing test says what it sent, what came back, what it expected, and \
         which section of the doc explains it. Earlier labs' graders must keep \
         passing too.\n\n---\n\n"
    ));
    intro
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = "fn f() -> u32 {\n    let a = 1;\n    // lab2: begin — add one\n    a + 1\n    // lab2: end\n}\n\
                          fn g() {\n    // lab3: begin -- say \"hi\"\n    println!(\"hi\");\n    // lab3: end\n}\n";

    fn cut(text: &str, lab: u32) -> Result<(String, Vec<Region>), String> {
        let mut regions = Vec::new();
        cut_regions(text, lab, Path::new("src/x.rs"), &mut regions)
            .map(|out| (out, regions))
            .map_err(|error| error.to_string())
    }

    #[test]
    fn the_chosen_lab_is_cut_and_the_others_kept() {
        let (out, regions) = cut(SOURCE, 2).expect("balanced markers");
        assert!(out.contains("    todo!(\"lab 2: add one\");\n}"), "{out}");
        assert!(!out.contains("a + 1"), "the answer is gone: {out}");
        assert!(
            out.contains("println!(\"hi\")"),
            "lab 3's code stays: {out}"
        );
        assert_eq!(regions.len(), 1);
        assert_eq!(regions[0].line, 3);
        let (out, _) = cut(SOURCE, 3).expect("balanced markers");
        assert!(
            out.contains(r#"todo!("lab 3: say \"hi\"");"#),
            "quotes escaped: {out}"
        );
    }

    #[test]
    fn unbalanced_markers_are_errors_with_their_line() {
        let cases = [
            (
                "// lab2: begin — x\n",
                "src/x.rs:1: lab2: begin without an end",
            ),
            ("x\n// lab2: end\n", "src/x.rs:2: lab2: end without a begin"),
            (
                "// lab2: begin — x\n// lab2: begin — y\n",
                "src/x.rs:2: lab2: begin inside",
            ),
            (
                "// lab2: begin — x\n// lab3: end\n",
                "src/x.rs:2: lab3: end closes the lab2",
            ),
        ];
        for (text, expected) in cases {
            let error = cut(text, 2).expect_err("unbalanced");
            assert!(error.starts_with(expected), "{text:?}: got {error:?}");
        }
    }

    #[test]
    fn markers_parse_with_either_dash() {
        assert_eq!(
            parse_marker("  // lab4: begin — append, then sync"),
            Some(Marker::Begin {
                lab: 4,
                hint: "append, then sync".to_string()
            })
        );
        assert_eq!(
            parse_marker("// lab4: begin -- ascii"),
            Some(Marker::Begin {
                lab: 4,
                hint: "ascii".to_string()
            })
        );
        assert_eq!(parse_marker("// lab4: end"), Some(Marker::End { lab: 4 }));
        assert_eq!(parse_marker("// lab4 is about chat"), None);
        assert_eq!(parse_marker("let x = 1; // lab4: end"), None);
    }
}
