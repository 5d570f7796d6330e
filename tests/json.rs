//! Checks the hand-rolled JSON (`src/json/`). `cargo test --test json`.
//!
//! Three kinds of checks, read them in this order:
//!
//! 1. **Tables**: valid documents with what the writer makes of them, and
//!    invalid ones with the error and where it points. One row per rule of
//!    RFC 8259, both ways.
//! 2. **Limits and the API**: numbers kept exactly, the writer's escapes,
//!    the depth limit on a connection thread's stack, building values.
//! 3. **Differential tests** against `serde_json`, on documents from a
//!    small deterministic generator: our writer read by `serde_json`,
//!    `serde_json`'s writer read by us, and mutated documents that both must
//!    accept or refuse alike, except for the divergences listed in
//!    `docs/json.md` ("Where we differ from serde_json").
//!
//! A failure shows the document (escaped), both verdicts and the seed.
//! The benchmark at the end is `#[ignore]`d; `docs/benchmarks.md` says how
//! to run it.

mod support;

use std::collections::BTreeMap;
use std::fmt::Display;
use std::hint::black_box;
use std::thread;
use std::time::{Duration, Instant};

use support::{Rng, escape};
use weaprous::json::{self, ErrorKind, MAX_DEPTH, Number, Object, Value};
use weaprous::net::DEFAULT_STACK_SIZE;

/// A document as the failure messages show it.
fn show(text: &str) -> String {
    escape(text.as_bytes())
}

/// What a parser said about a document, for failure messages.
fn verdict<T: Display, E: Display>(result: &Result<T, E>) -> String {
    match result {
        Ok(value) => format!("accepted, as {}", show(&value.to_string())),
        Err(error) => format!("refused: {error}"),
    }
}

// ---------------------------------------------------------------------------
// 1. Tables
// ---------------------------------------------------------------------------

/// Valid documents, and what our writer makes of them (compact, escapes
/// only where RFC 8259 §7 requires them, numbers as written).
#[rustfmt::skip]
const VALID: &[(&str, &str)] = &[
    // §3: the literals, lowercase; any value may stand alone (§2).
    ("true",                        "true"),
    ("false",                       "false"),
    ("null",                        "null"),
    ("\"alone\"",                   "\"alone\""),
    ("42",                          "42"),
    // §2: whitespace is space, tab, line feed, carriage return, anywhere
    // between tokens and around the text.
    (" \t\r\n true \t\r\n ",        "true"),
    ("[ 1 , 2 ]",                   "[1,2]"),
    ("{ \"a\" : 1 , \"b\" : [ ] }", "{\"a\":1,\"b\":[]}"),
    ("\n[\n\t{\r\n}\n]\n",          "[{}]"),
    // §6: numbers, kept as written.
    ("0",                           "0"),
    ("-0",                          "-0"),
    ("10",                          "10"),
    ("-10",                         "-10"),
    ("0.5",                         "0.5"),
    ("-0.0",                        "-0.0"),
    ("1.50",                        "1.50"),
    ("1e5",                         "1e5"),
    ("1E5",                         "1E5"),
    ("1e+5",                        "1e+5"),
    ("1e-5",                        "1e-5"),
    ("1e007",                       "1e007"),
    ("-12.34E-0",                   "-12.34E-0"),
    ("9007199254740993",            "9007199254740993"),
    ("18446744073709551616",        "18446744073709551616"),
    ("-99999999999999999999999999999", "-99999999999999999999999999999"),
    ("1e400",                       "1e400"),
    ("1e-400",                      "1e-400"),
    // §7: strings, and the escapes every one of them.
    ("\"\"",                        "\"\""),
    ("\"\\\"\"",                    "\"\\\"\""),
    ("\"\\\\\"",                    "\"\\\\\""),
    ("\"\\/\"",                     "\"/\""),
    ("\"\\b\\f\\n\\r\\t\"",         "\"\\b\\f\\n\\r\\t\""),
    ("\"\\u0041\"",                 "\"A\""),
    ("\"\\u00e9\\u00E9\"",          "\"éé\""),
    ("\"\\u4e2d\"",                 "\"中\""),
    ("\"\\u0000\"",                 "\"\\u0000\""),
    ("\"\\u001F\"",                 "\"\\u001f\""),
    ("\"\\u007f\"",                 "\"\u{7f}\""),
    ("\"\\u2028\"",                 "\"\u{2028}\""),
    ("\"\\ud83d\\ude00\"",          "\"😀\""),
    ("\"\\uD83D\\uDE00\"",          "\"😀\""),
    ("\"\\udbff\\udfff\"",          "\"\u{10ffff}\""),
    ("\"\\uffff\"",                 "\"\u{ffff}\""),
    ("\"é中😀\u{7f}\"",               "\"é中😀\u{7f}\""),
    ("\"a/b\"",                     "\"a/b\""),
    ("\"'\"",                       "\"'\""),
    // §5: arrays.
    ("[]",                          "[]"),
    ("[ ]",                         "[]"),
    ("[[]]",                        "[[]]"),
    ("[1,[2,[3,[]]]]",              "[1,[2,[3,[]]]]"),
    ("[null,true,false,\"\",0,{},[]]", "[null,true,false,\"\",0,{},[]]"),
    // §4: objects keep the order their keys were written in.
    ("{}",                          "{}"),
    ("{ }",                         "{}"),
    ("{\"b\":1,\"a\":2}",           "{\"b\":1,\"a\":2}"),
    ("{\"\":0}",                    "{\"\":0}"),
    ("{\"a\":1,\"A\":2}",           "{\"a\":1,\"A\":2}"),
    ("{\"\\u0061\":{\"b\":[{}]}}",  "{\"a\":{\"b\":[{}]}}"),
    ("{\"a\":{\"a\":{\"a\":1}}}",   "{\"a\":{\"a\":{\"a\":1}}}"),
];

#[test]
fn json_valid_documents_parse_and_write_back_compact() {
    for &(text, written) in VALID {
        let value = match json::parse(text) {
            Ok(value) => value,
            Err(error) => panic!(
                "document {} is valid JSON, but was refused: {error} (docs/json.md, \"The grammar\")",
                show(text)
            ),
        };
        assert_eq!(
            value.to_string(),
            written,
            "document {} should be written back as {}",
            show(text),
            show(written)
        );
        let again = json::parse(written).map_err(|error| error.to_string());
        assert_eq!(
            again.as_ref(),
            Ok(&value),
            "what the writer wrote, {}, should read back as the same value",
            show(written)
        );
    }
}

/// Invalid documents: the byte the error points at, and a piece of its message.
#[rustfmt::skip]
const INVALID: &[(&str, usize, &str)] = &[
    // §2: one value, nothing else.
    ("",                      0,  "expected a value, found the end of the text"),
    ("   ",                   3,  "expected a value, found the end of the text"),
    ("1 2",                   2,  "the end of the text after the value, found '2'"),
    ("[1]]",                  3,  "the end of the text after the value, found ']'"),
    ("{}x",                   2,  "the end of the text after the value, found 'x'"),
    ("[1]\0",                 3,  "the end of the text after the value, found '\\0'"),
    // §2: only four whitespace characters; a byte-order mark is not one.
    ("\u{c}1",                0,  "expected a value, found '\\u{c}'"),
    ("\u{a0}1",               0,  "expected a value, found '\\u{a0}'"),
    ("\u{feff}1",             0,  "expected a value, found '\\u{feff}'"),
    ("//c\n1",                0,  "expected a value, found '/'"),
    // §3: literals are lowercase and whole.
    ("True",                  0,  "expected a value, found 'T'"),
    ("tRUE",                  1,  "expected the literal true, found 'R'"),
    ("tru",                   3,  "expected the literal true, found the end of the text"),
    ("falsy",                 4,  "expected the literal false, found 'y'"),
    ("nul",                   3,  "expected the literal null, found the end of the text"),
    ("undefined",             0,  "expected a value, found 'u'"),
    ("'a'",                   0,  "expected a value, found '\\''"),
    // §6: numbers by the grammar.
    ("+1",                    0,  "expected a value, found '+'"),
    ("-",                     1,  "expected a digit after '-', found the end of the text"),
    ("-a",                    1,  "expected a digit after '-', found 'a'"),
    ("NaN",                   0,  "expected a value, found 'N'"),
    ("-Infinity",             1,  "expected a digit after '-', found 'I'"),
    ("01",                    0,  "a number does not start with 0 followed by a digit"),
    ("-012",                  0,  "a number does not start with 0 followed by a digit"),
    ("00",                    0,  "a number does not start with 0 followed by a digit"),
    (".5",                    0,  "expected a value, found '.'"),
    ("1.",                    2,  "expected a digit after the decimal point, found the end"),
    ("1.e5",                  2,  "expected a digit after the decimal point, found 'e'"),
    ("1e",                    2,  "expected a digit in the exponent, found the end of the text"),
    ("1e+",                   3,  "expected a digit in the exponent, found the end of the text"),
    ("1e-x",                  3,  "expected a digit in the exponent, found 'x'"),
    ("0x10",                  1,  "the end of the text after the value, found 'x'"),
    ("1_000",                 1,  "the end of the text after the value, found '_'"),
    // §5: arrays.
    ("[",                     1,  "expected a value, found the end of the text"),
    ("]",                     0,  "expected a value, found ']'"),
    ("[1",                    2,  "expected ',' or ']' after an array element, found the end"),
    ("[1 2]",                 3,  "expected ',' or ']' after an array element, found '2'"),
    ("[1,]",                  3,  "expected a value, found ']'"),
    ("[,1]",                  1,  "expected a value, found ','"),
    ("[1,,2]",                3,  "expected a value, found ','"),
    ("[1:2]",                 2,  "expected ',' or ']' after an array element, found ':'"),
    // §4: objects.
    ("{",                     1,  "expected a string key or '}' after '{', found the end"),
    ("{a:1}",                 1,  "expected a string key or '}' after '{', found 'a'"),
    ("{'a':1}",               1,  "expected a string key or '}' after '{', found '\\''"),
    ("{1:1}",                 1,  "expected a string key or '}' after '{', found '1'"),
    ("{\"a\"}",               4,  "expected ':' after an object key, found '}'"),
    ("{\"a\" 1}",             5,  "expected ':' after an object key, found '1'"),
    ("{\"a\":}",              5,  "expected a value, found '}'"),
    ("{\"a\":1,}",            7,  "expected a string key after ',', found '}'"),
    ("{\"a\":1 \"b\":2}",     7,  "expected ',' or '}' after an object member, found '\"'"),
    ("{\"a\":1]",             6,  "expected ',' or '}' after an object member, found ']'"),
    ("[1}",                   2,  "expected ',' or ']' after an array element, found '}'"),
    // §4: a repeated key is refused (docs/json.md, "Repeated keys").
    ("{\"a\":1,\"a\":2}",     7,  "the key \"a\" appears twice"),
    ("{\"a\":1,\"b\":2,\"\\u0061\":3}", 13, "the key \"a\" appears twice"),
    ("[{\"x\":{\"k\":1}},{\"k\":1,\"y\":0,\"k\":2}]", 28, "the key \"k\" appears twice"),
    // §7: strings.
    ("\"abc",                 4,  "expected '\"' to end the string, found the end of the text"),
    ("\"a\nb\"",              2,  "control character U+000A must be escaped in a string"),
    ("\"\t\"",                1,  "control character U+0009 must be escaped in a string"),
    ("\"\0\"",                1,  "control character U+0000 must be escaped in a string"),
    ("\"\u{1f}\"",            1,  "control character U+001F must be escaped in a string"),
    ("\"\\x\"",               2,  "expected an escape after '\\': one of"),
    ("\"\\'\"",               2,  "expected an escape after '\\': one of"),
    ("\"\\U0041\"",           2,  "expected an escape after '\\': one of"),
    ("\"\\",                  2,  "expected an escape after '\\': one of"),
    ("\"\\u12\"",             5,  "expected four hex digits after '\\u', found '\"'"),
    ("\"\\uGGGG\"",           3,  "expected four hex digits after '\\u', found 'G'"),
    ("\"\\u 123\"",           3,  "expected four hex digits after '\\u', found ' '"),
    // §7 and §8.2: surrogates come in pairs, high then low.
    ("\"\\ud800\"",           1,  "\\ud800 is half of a surrogate pair, without the other half"),
    ("\"\\udc00\"",           1,  "\\udc00 is half of a surrogate pair, without the other half"),
    ("\"a\\udfff\"",          2,  "\\udfff is half of a surrogate pair, without the other half"),
    ("\"\\ud800\\u0041\"",    1,  "\\ud800 is half of a surrogate pair"),
    ("\"\\ud800\\ud800\"",    1,  "\\ud800 is half of a surrogate pair"),
    ("\"\\ud800x\"",          1,  "\\ud800 is half of a surrogate pair"),
    ("\"\\ude00\\ud83d\"",    1,  "\\ude00 is half of a surrogate pair"),
    ("\"\\ud83d\\u12\"",      11, "expected four hex digits after '\\u', found '\"'"),
];

#[test]
fn json_invalid_documents_are_refused_with_what_and_where() {
    for &(text, offset, message) in INVALID {
        let error = match json::parse(text) {
            Ok(value) => panic!(
                "document {} is not JSON ({message}), but was accepted as {} \
                 (docs/json.md, \"The grammar\")",
                show(text),
                show(&value.to_string())
            ),
            Err(error) => error,
        };
        let shown = error.to_string();
        assert!(
            shown.contains(message) && error.offset == offset,
            "document {}: expected an error containing {message:?} at byte {offset}, got {shown:?}",
            show(text)
        );
        assert!(
            shown.ends_with(&format!(
                " at line {}, column {} (byte {offset})",
                error.line, error.column
            )),
            "every error ends with where it is: {shown:?}"
        );
    }
}

#[test]
fn json_error_positions_count_lines_and_characters() {
    let text = "{\n  \"names\": [\"é\",\n    \"ü\" x]\n}";
    let error = json::parse(text).expect_err("'x' where ',' or ']' belongs");
    assert_eq!(
        error.to_string(),
        "expected ',' or ']' after an array element, found 'x' at line 3, column 9 (byte 29)",
        "document {}",
        show(text)
    );
    assert_eq!((error.line, error.column, error.offset), (3, 9, 29));
    assert_eq!(
        error.kind,
        ErrorKind::Unexpected {
            expected: "',' or ']' after an array element",
            found: Some('x')
        }
    );

    // CR LF ends a line once (lines are counted at LF); a text that ends
    // too early points just past its end.
    let error = json::parse("[\r\n1,\r\n").expect_err("unfinished array");
    assert_eq!((error.line, error.column, error.offset), (3, 1, 7));

    // Columns count characters, not bytes: "😀" is four bytes, one column.
    let error = json::parse("[\"😀\" 1]").expect_err("missing comma");
    assert_eq!((error.line, error.column, error.offset), (1, 6, 8));

    // The error is a std error, so `?` turns it into a boxed one.
    let boxed: Box<dyn std::error::Error> = Box::new(error);
    assert!(boxed.to_string().contains("line 1, column 6"));
}

// ---------------------------------------------------------------------------
// 2. Limits and the API
// ---------------------------------------------------------------------------

#[test]
fn json_numbers_are_kept_exactly_and_converted_on_request() {
    let number = |text: &str| match json::parse(text) {
        Ok(Value::Number(number)) => number,
        other => panic!("{text} should parse as a number, got {other:?}"),
    };
    // 2^53 + 1: an f64 would make it 2^53.
    let id = number("9007199254740993");
    assert_eq!(id.as_i64(), Some(9_007_199_254_740_993));
    assert_eq!(id.as_u64(), Some(9_007_199_254_740_993));
    assert_eq!(id.as_f64(), Some(9_007_199_254_740_992.0));
    assert_eq!(id.as_str(), "9007199254740993");

    assert_eq!(number("-9223372036854775808").as_i64(), Some(i64::MIN));
    assert_eq!(number("-9223372036854775809").as_i64(), None);
    assert_eq!(number("18446744073709551615").as_u64(), Some(u64::MAX));
    let beyond_u64 = number("18446744073709551616");
    assert_eq!((beyond_u64.as_u64(), beyond_u64.as_i64()), (None, None));
    assert_eq!(beyond_u64.as_f64(), Some(18_446_744_073_709_551_616.0));
    assert_eq!(beyond_u64.to_string(), "18446744073709551616");

    // Only integers written as integers convert to integers.
    for text in ["1.0", "1e0", "1E2", "0.5"] {
        assert_eq!(
            number(text).as_i64(),
            None,
            "{text} is not written as an integer"
        );
    }
    assert_eq!(number("1e2").as_f64(), Some(100.0));
    assert_eq!(
        (number("-0").as_i64(), number("-0").as_u64()),
        (Some(0), None)
    );
    assert_eq!(number("-5").as_u64(), None);

    // Beyond f64: kept, but no f64. Below f64's smallest: zero.
    assert_eq!(number("1e400").as_f64(), None);
    assert_eq!(number("-1e400").as_f64(), None);
    assert_eq!(number("1e400").as_str(), "1e400");
    assert_eq!(number("1e-400").as_f64(), Some(0.0));
    // Correctly rounded (serde_json's default parser reads this one a unit
    // in the last place too high).
    assert_eq!(
        number("2.2250738585072011e-308").as_f64(),
        Some(2.225_073_858_507_201e-308)
    );
    assert_eq!(number("0.1").as_f64(), Some(0.1));

    // Values compare by text: 1.0 and 1 are different numbers, as written.
    assert_ne!(json::parse("1.0").ok(), json::parse("1").ok());
}

#[test]
fn json_numbers_from_rust_values() {
    let cases: &[(Value, &str)] = &[
        (Value::from(3), "3"),
        (Value::from(-7i8), "-7"),
        (Value::from(u64::MAX), "18446744073709551615"),
        (Value::from(i64::MIN), "-9223372036854775808"),
        (
            Value::from(u128::MAX),
            "340282366920938463463374607431768211455",
        ),
        (Value::from(usize::MIN), "0"),
        (Value::from(1.0), "1.0"),
        (Value::from(-2.5), "-2.5"),
        (Value::from(0.1), "0.1"),
        (Value::from(-0.0), "-0.0"),
        (Value::from(0.0), "0.0"),
        (Value::from(1e20), "100000000000000000000.0"),
        (Value::from(1e21), "1e21"),
        (Value::from(0.000001), "0.000001"),
        (Value::from(1.5e-7), "1.5e-7"),
        (Value::from(f64::MAX), "1.7976931348623157e308"),
        (Value::from(5e-324), "5e-324"),
        // §6: NaN and the infinities cannot be written; they become null.
        (Value::from(f64::NAN), "null"),
        (Value::from(f64::INFINITY), "null"),
        (Value::from(f64::NEG_INFINITY), "null"),
    ];
    for (value, written) in cases {
        assert_eq!(&value.to_string(), written, "writing {value:?}");
        assert_eq!(
            json::parse(written).ok().as_ref(),
            Some(value),
            "{written} reads back"
        );
    }
    assert_eq!(Number::from_f64(f64::NAN), None);

    // Any finite f64 survives the trip through text, bit for bit.
    let mut rng = Rng::new(0xf10a7);
    for _ in 0..20_000 {
        let float = f64::from_bits(rng.next_u64());
        let Some(number) = Number::from_f64(float) else {
            continue;
        };
        let back = json::parse(&number.to_string()).ok();
        assert_eq!(
            back.as_ref().and_then(Value::as_f64).map(f64::to_bits),
            Some(float.to_bits()),
            "{float:e} was written as {number} (seed {})",
            rng.seed
        );
    }
}

#[test]
fn json_writer_escapes_what_rfc_8259_requires_and_nothing_else() {
    let cases: &[(&str, &str)] = &[
        ("plain", "\"plain\""),
        ("\"", "\"\\\"\""),
        ("\\", "\"\\\\\""),
        ("/", "\"/\""),
        ("\u{8}\u{c}\n\r\t", "\"\\b\\f\\n\\r\\t\""),
        ("\0", "\"\\u0000\""),
        ("\u{1}\u{1f}", "\"\\u0001\\u001f\""),
        ("\u{7f}", "\"\u{7f}\""),
        ("é中😀\u{2028}\u{feff}", "\"é中😀\u{2028}\u{feff}\""),
        ("say \"hi\"\\\n", "\"say \\\"hi\\\"\\\\\\n\""),
    ];
    for &(text, written) in cases {
        assert_eq!(
            Value::from(text).to_string(),
            written,
            "writing the string {}",
            show(text)
        );
    }
    // Every character below U+0100, alone and inside text, reads back.
    for code in 0..=0xffu32 {
        let Some(character) = char::from_u32(code) else {
            continue;
        };
        let text = format!("a{character}b{character}");
        let written = Value::from(text.as_str()).to_string();
        let back = json::parse(&written).map_err(|error| error.to_string());
        assert_eq!(
            back,
            Ok(Value::from(text.as_str())),
            "U+{code:04X} was written as {}",
            show(&written)
        );
    }
    // Keys are strings too.
    let object = json::object([("a\"\n", Value::Null)]);
    assert_eq!(object.to_string(), "{\"a\\\"\\n\":null}");
}

/// `levels` arrays (or objects, under the key "k") one inside the other.
fn nested(levels: usize, objects: bool) -> String {
    let (open, close) = if objects {
        ("{\"k\":", "}")
    } else {
        ("[", "]")
    };
    format!("{}0{}", open.repeat(levels), close.repeat(levels))
}

/// Runs `work` on a thread with `stack_size` bytes of stack, the way the
/// server runs a connection. A stack overflow would abort the whole test
/// run, which is also a failure, only a louder one.
fn on_stack<T: Send + 'static>(stack_size: usize, work: impl FnOnce() -> T + Send + 'static) -> T {
    thread::Builder::new()
        .stack_size(stack_size)
        .spawn(work)
        .expect("spawn a thread")
        .join()
        .expect("the thread ended without a panic")
}

#[test]
fn json_depth_limit_accepts_128_levels_and_refuses_129() {
    for objects in [false, true] {
        let deepest = nested(MAX_DEPTH, objects);
        assert!(
            json::parse(&deepest).is_ok(),
            "{MAX_DEPTH} levels are allowed: {}",
            show(&deepest)
        );
        let error = json::parse(&nested(MAX_DEPTH + 1, objects)).expect_err("one level too deep");
        assert_eq!(error.kind, ErrorKind::TooDeep);
        // It points at the bracket that opens level 129.
        let open_len = if objects { 5 } else { 1 };
        assert_eq!(error.offset, MAX_DEPTH * open_len);
        assert!(
            error
                .to_string()
                .starts_with("arrays and objects nest deeper than 128 at "),
            "{error}"
        );
    }
}

#[test]
fn json_100000_levels_are_an_error_not_a_stack_overflow() {
    // On a connection thread's stack, as the server would parse a body.
    on_stack(DEFAULT_STACK_SIZE, || {
        for text in [
            "[".repeat(100_000),
            nested(100_000, false),
            "{\"a\":".repeat(100_000),
            "[{\"a\":".repeat(50_000),
        ] {
            let error = json::parse(&text).expect_err("far too deep");
            assert_eq!(
                error.kind,
                ErrorKind::TooDeep,
                "document {}: {error}",
                show(&text)
            );
        }
    });
}

#[test]
fn json_depth_128_fits_in_half_a_connection_stack() {
    // Every level of nesting costs stack frames: about 600 bytes in a debug
    // build (docs/json.md, "Depth and the stack"). The deepest document
    // allowed must leave most of a connection thread's stack to the server,
    // so it has to fit in half of it: parsed, written back and dropped.
    on_stack(DEFAULT_STACK_SIZE / 2, || {
        let mixed = format!(
            "{}0{}",
            "[{\"k\":".repeat(MAX_DEPTH / 2),
            "}]".repeat(MAX_DEPTH / 2)
        );
        for text in [nested(MAX_DEPTH, true), nested(MAX_DEPTH, false), mixed] {
            let value = json::parse(&text).unwrap_or_else(|error| panic!("{error}"));
            assert_eq!(value.to_string(), text);
        }
    });
}

#[test]
fn json_repeated_keys_are_refused_even_in_huge_objects() {
    // 100,000 keys: the check sorts instead of comparing every pair, so this
    // takes milliseconds, not minutes.
    let keys: Vec<String> = (0..100_000)
        .map(|index| format!("\"k{index}\":0"))
        .collect();
    let unique = format!("{{{}}}", keys.join(","));
    let parsed = json::parse(&unique).expect("100,000 different keys");
    assert_eq!(parsed.as_object().map(Object::len), Some(100_000));

    let repeated = format!("{{{},\"k5\":1}}", keys.join(","));
    let error = json::parse(&repeated).expect_err("k5 twice");
    assert_eq!(error.kind, ErrorKind::DuplicateKey("k5".to_string()));
    assert_eq!(
        Some(error.offset),
        repeated.rfind("\"k5\""),
        "the error points at the second \"k5\""
    );
}

#[test]
fn json_objects_keep_order_and_compare_without_it() {
    let value = json::parse(r#"{"z":1,"a":{"y":[],"b":null},"m":true}"#).expect("valid");
    let keys: Vec<&str> = value
        .as_object()
        .map(|object| object.iter().map(|(key, _)| key).collect())
        .unwrap_or_default();
    assert_eq!(keys, ["z", "a", "m"]);
    assert_eq!(
        value,
        json::parse(r#"{"m":true,"a":{"b":null,"y":[]},"z":1}"#).expect("valid"),
        "the same members in another order are the same object (RFC 8259 §4)"
    );
    assert_ne!(
        value,
        json::parse(r#"{"z":1,"a":{"y":[]},"m":true}"#).expect("valid")
    );
    // Arrays are ordered.
    assert_ne!(json::parse("[1,2]").ok(), json::parse("[2,1]").ok());
}

#[test]
fn json_building_values_for_responses() {
    let reply = json::object([
        ("status", Value::from("authorized")),
        ("message", Value::from("Login successful")),
    ]);
    assert_eq!(
        reply.to_string(),
        r#"{"status":"authorized","message":"Login successful"}"#
    );

    let peer = Object::new()
        .with("name", "alice")
        .with("port", 9001u16)
        .with("online", true)
        .with("load", 0.25)
        .with("note", None::<String>)
        .with("channels", vec!["general", "random"])
        .with(
            "scores",
            vec![Value::from(1), Value::from("two"), Value::Null],
        );
    assert_eq!(
        Value::from(peer).to_string(),
        r#"{"name":"alice","port":9001,"online":true,"load":0.25,"note":null,"channels":["general","random"],"scores":[1,"two",null]}"#
    );

    // Setting a key again replaces its value and keeps its place.
    let mut object = Object::new().with("a", 1).with("b", 2);
    assert_eq!(object.insert("a", "one"), Some(Value::from(1)));
    assert_eq!(object.insert("c", 3), None);
    assert_eq!(
        Value::from(object.clone()).to_string(),
        r#"{"a":"one","b":2,"c":3}"#
    );
    assert_eq!((object.len(), object.is_empty()), (3, false));
    let owned: Vec<(String, Value)> = object.into_iter().collect();
    assert_eq!(owned[0], ("a".to_string(), Value::from("one")));

    let collected: Object = [("x", 1), ("y", 2), ("x", 3)].into_iter().collect();
    assert_eq!(Value::from(collected).to_string(), r#"{"x":3,"y":2}"#);
    assert_eq!(json::object::<&str, _>([]).to_string(), "{}");
    assert_eq!(Value::from(Vec::<Value>::new()).to_string(), "[]");
    assert_eq!(Value::from(String::from("s")), Value::from("s"));
    assert_eq!(Value::from(Some(5)), Value::from(5));
}

#[test]
fn json_accessors_answer_only_for_their_own_kind() {
    let value = json::parse(
        r#"{"name":"bob","age":42,"ratio":0.5,"admin":false,"tags":["a"],"none":null,"big":18446744073709551616}"#,
    )
    .expect("valid");
    assert_eq!(value.get("name").and_then(Value::as_str), Some("bob"));
    assert_eq!(value.get("age").and_then(Value::as_i64), Some(42));
    assert_eq!(value.get("age").and_then(Value::as_u64), Some(42));
    assert_eq!(value.get("age").and_then(Value::as_f64), Some(42.0));
    assert_eq!(value.get("ratio").and_then(Value::as_f64), Some(0.5));
    assert_eq!(value.get("ratio").and_then(Value::as_i64), None);
    assert_eq!(value.get("admin").and_then(Value::as_bool), Some(false));
    assert_eq!(
        value.get("tags").and_then(Value::as_array),
        Some(&[Value::from("a")][..])
    );
    assert!(value.get("none").is_some_and(Value::is_null));
    assert_eq!(
        value
            .get("big")
            .and_then(Value::as_number)
            .map(Number::as_str),
        Some("18446744073709551616")
    );
    assert_eq!(value.get("missing"), None);
    assert_eq!(value.as_object().map(Object::len), Some(7));

    // Asking a value for another kind is None, never a panic.
    let name = value.get("name").expect("name");
    assert_eq!(
        (
            name.as_i64(),
            name.as_bool(),
            name.as_array(),
            name.get("x")
        ),
        (None, None, None, None)
    );
    assert!(name.as_object().is_none() && !name.is_null() && name.as_number().is_none());
    assert_eq!(Value::Bool(true).as_str(), None);
    assert_eq!(Value::from(vec![1]).get("0"), None);
}

// ---------------------------------------------------------------------------
// 3. Differential tests against serde_json
// ---------------------------------------------------------------------------

/// How many units in the last place `serde_json` may be off when it reads
/// a float. Its default parser trades exactness for speed (its
/// `float_roundtrip` feature, not enabled here, makes it exact); we measured
/// up to 2 units off. Our parser uses `f64::from_str`, which is exact.
const SERDE_FLOAT_ULPS: u64 = 2;

/// `serde_json`'s own nesting limit: it refuses a document at this depth.
const SERDE_DEPTH_LIMIT: usize = 128;

/// Whether two floats are within `ulps` units in the last place.
fn close_floats(ours: f64, theirs: f64, ulps: u64) -> bool {
    ours == theirs
        || (ours.is_sign_negative() == theirs.is_sign_negative()
            && ours.to_bits().abs_diff(theirs.to_bits()) <= ulps)
}

/// Whether our value and `serde_json`'s are the same JSON: objects in any
/// order (serde_json sorts keys), numbers by what they stand for (it keeps
/// integers as `u64`/`i64` and everything else as `f64`).
fn same(ours: &Value, theirs: &serde_json::Value, ulps: u64) -> bool {
    use serde_json::Value as Their;
    match (ours, theirs) {
        (Value::Null, Their::Null) => true,
        (Value::Bool(a), Their::Bool(b)) => a == b,
        (Value::String(a), Their::String(b)) => a == b,
        (Value::Number(a), Their::Number(b)) => same_number(a, b, ulps),
        (Value::Array(a), Their::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same(a, b, ulps))
        }
        (Value::Object(a), Their::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(key, a)| b.get(key).is_some_and(|b| same(a, b, ulps)))
        }
        _ => false,
    }
}

fn same_number(ours: &Number, theirs: &serde_json::Number, ulps: u64) -> bool {
    if let Some(theirs) = theirs.as_u64() {
        return ours.as_u64() == Some(theirs);
    }
    if let Some(theirs) = theirs.as_i64() {
        return ours.as_i64() == Some(theirs);
    }
    match (ours.as_f64(), theirs.as_f64()) {
        (Some(ours), Some(theirs)) => close_floats(ours, theirs, ulps),
        _ => false,
    }
}

/// Our value as a `serde_json` value, for its writer.
fn to_serde(value: &Value) -> serde_json::Value {
    use serde_json::Value as Their;
    match value {
        Value::Null => Their::Null,
        Value::Bool(flag) => Their::Bool(*flag),
        Value::String(text) => Their::String(text.clone()),
        Value::Array(items) => Their::Array(items.iter().map(to_serde).collect()),
        Value::Object(object) => Their::Object(
            object
                .iter()
                .map(|(key, value)| (key.to_string(), to_serde(value)))
                .collect(),
        ),
        Value::Number(number) => {
            if let Some(unsigned) = number.as_u64() {
                Their::from(unsigned)
            } else if let Some(signed) = number.as_i64() {
                Their::from(signed)
            } else {
                // Generated numbers are within f64's range.
                Their::from(number.as_f64().expect("a generated number fits an f64"))
            }
        }
    }
}

/// How deeply a value nests arrays and objects.
fn depth(value: &Value) -> usize {
    let deepest = |values: &mut dyn Iterator<Item = &Value>| values.map(depth).max().unwrap_or(0);
    match value {
        Value::Array(items) => 1 + deepest(&mut items.iter()),
        Value::Object(object) => 1 + deepest(&mut object.iter().map(|(_, value)| value)),
        _ => 0,
    }
}

/// Whether a value holds a number beyond the range of `f64`.
fn has_number_beyond_f64(value: &Value) -> bool {
    match value {
        Value::Number(number) => number.as_f64().is_none(),
        Value::Array(items) => items.iter().any(has_number_beyond_f64),
        Value::Object(object) => object.iter().any(|(_, value)| has_number_beyond_f64(value)),
        _ => false,
    }
}

/// Characters strings are made of: every kind the escaping table treats
/// differently, and characters of one to four bytes in UTF-8.
const STRING_CHARACTERS: &[char] = &[
    '"',
    '\\',
    '/',
    '\0',
    '\u{8}',
    '\t',
    '\n',
    '\u{c}',
    '\r',
    '\u{1f}',
    '\u{7f}',
    'é',
    'ß',
    '中',
    '\u{2028}',
    '\u{feff}',
    '\u{d7ff}',
    '\u{e000}',
    '\u{ffff}',
    '😀',
    '\u{10000}',
    '\u{10ffff}',
];

/// Random JSON values, within the bounds `serde_json` can represent
/// (numbers within `f64`'s range, nesting below its limit).
struct Generator {
    rng: Rng,
}

impl Generator {
    fn new(seed: u64) -> Generator {
        Generator {
            rng: Rng::new(seed),
        }
    }

    fn chance(&mut self, one_in: usize) -> bool {
        self.rng.below(one_in) == 0
    }

    /// A document: usually a small tree, sometimes a deep chain.
    fn document(&mut self) -> Value {
        if self.chance(20) {
            let levels = self.rng.below(SERDE_DEPTH_LIMIT - 2);
            self.chain(levels)
        } else {
            let depth = 1 + self.rng.below(4);
            self.value(depth)
        }
    }

    /// A value nesting at most `depth` arrays and objects.
    fn value(&mut self, depth: usize) -> Value {
        let kinds = if depth == 0 { 4 } else { 6 };
        match self.rng.below(kinds) {
            0 => Value::Null,
            1 => Value::Bool(self.chance(2)),
            2 => Value::Number(self.number()),
            3 => Value::String(self.string()),
            4 => {
                let len = self.rng.below(6);
                Value::Array((0..len).map(|_| self.value(depth - 1)).collect())
            }
            _ => {
                let mut object = Object::new();
                for _ in 0..self.rng.below(6) {
                    object.insert(self.string(), self.value(depth - 1));
                }
                Value::Object(object)
            }
        }
    }

    /// A small value inside `levels` arrays and objects, one in another.
    fn chain(&mut self, levels: usize) -> Value {
        let mut value = self.value(1);
        for _ in 0..levels {
            value = if self.chance(2) {
                Value::Array(vec![value])
            } else {
                Value::Object(Object::new().with(self.string(), value))
            };
        }
        value
    }

    fn number(&mut self) -> Number {
        let number = match self.rng.below(6) {
            0 => Value::from(self.rng.below(2001) as i64 - 1000),
            1 => Value::from(self.rng.next_u64() as i64),
            2 => Value::from(self.rng.next_u64()),
            3 => Value::from(f64::from_bits(self.rng.next_u64())),
            4 => Value::from((self.rng.next_u64() as i64 as f64) / 1000.0),
            _ => json::parse(&self.number_text()).unwrap_or(Value::Null),
        };
        match number {
            Value::Number(number) => number,
            // NaN and the infinities became null: try again.
            _ => self.number(),
        }
    }

    /// Number text straight from the grammar of RFC 8259 §6: sign, integer
    /// part, fraction, exponent, each random (including integers far beyond
    /// `u64` and exponents with leading zeros), magnitude within `f64`.
    fn number_text(&mut self) -> String {
        let mut text = String::new();
        if self.chance(2) {
            text.push('-');
        }
        if self.chance(4) {
            text.push('0');
        } else {
            text.push(char::from(b'1' + self.rng.below(9) as u8));
            let len = self.rng.below(26);
            self.push_digits(&mut text, len);
        }
        if self.chance(2) {
            text.push('.');
            let len = 1 + self.rng.below(20);
            self.push_digits(&mut text, len);
        }
        if self.chance(2) {
            text.push(if self.chance(2) { 'e' } else { 'E' });
            match self.rng.below(3) {
                0 => text.push('+'),
                1 => text.push('-'),
                _ => {}
            }
            let zeros = "0".repeat(self.rng.below(3));
            text.push_str(&format!("{zeros}{}", self.rng.below(250)));
        }
        text
    }

    fn push_digits(&mut self, text: &mut String, len: usize) {
        for _ in 0..len {
            text.push(char::from(b'0' + self.rng.below(10) as u8));
        }
    }

    /// A string: mostly printable ASCII, with every special character now
    /// and then; usually short, sometimes a few hundred characters.
    fn string(&mut self) -> String {
        let len = if self.chance(10) {
            self.rng.below(300)
        } else {
            self.rng.below(10)
        };
        (0..len)
            .map(|_| {
                if self.chance(3) {
                    STRING_CHARACTERS[self.rng.below(STRING_CHARACTERS.len())]
                } else {
                    char::from(b' ' + self.rng.below(95) as u8)
                }
            })
            .collect()
    }

    /// `text` with one to three random edits: a character deleted, inserted,
    /// replaced or repeated, a span doubled, or the end cut off. Edits work
    /// on characters, so the result is still UTF-8 (`parse` takes a `&str`).
    fn mutate(&mut self, text: &str) -> String {
        let mut chars: Vec<char> = text.chars().collect();
        for _ in 0..1 + self.rng.below(3) {
            let at = self.rng.below(chars.len() + 1);
            let end = (at + 1 + self.rng.below(8)).min(chars.len());
            match self.rng.below(5) {
                0 if at < chars.len() => {
                    chars.remove(at);
                }
                1 => {
                    let inserted = self.mutation_character();
                    chars.insert(at, inserted);
                }
                2 if at < chars.len() => chars[at] = self.mutation_character(),
                3 if at < chars.len() => {
                    let span = chars[at..end].to_vec();
                    chars.splice(end..end, span);
                }
                _ => chars.truncate(at),
            }
        }
        chars.into_iter().collect()
    }

    /// A character likely to change what a document means.
    fn mutation_character(&mut self) -> char {
        const SYNTAX: &[char] = &[
            '{', '}', '[', ']', ',', ':', '"', '\\', '-', '+', '.', '0', '1', '9', 'e', 'E', 'u',
            'd', '8', 'c', 't', 'f', 'n', 'l', 'x', ' ', '\t', '\n', '\r', '\0', '\u{c}', '\u{a0}',
            '\u{feff}', 'é', '😀',
        ];
        SYNTAX[self.rng.below(SYNTAX.len())]
    }
}

/// How many generated documents each round-trip test checks.
const ROUND_TRIP_DOCUMENTS: usize = 10_000;

/// How many mutated documents the verdict test checks.
const MUTATED_DOCUMENTS: usize = 50_000;

#[test]
fn json_differential_our_writer_is_read_by_serde_json_as_the_same_value() {
    let mut generator = Generator::new(0x6a73_6f6e);
    for _ in 0..ROUND_TRIP_DOCUMENTS {
        let value = generator.document();
        let text = value.to_string();
        let theirs = serde_json::from_str::<serde_json::Value>(&text);
        let agrees = theirs
            .as_ref()
            .is_ok_and(|theirs| same(&value, theirs, SERDE_FLOAT_ULPS));
        assert!(
            agrees,
            "our writer wrote {}; serde_json: {} (seed {})",
            show(&text),
            verdict(&theirs),
            generator.rng.seed
        );
        // And we read our own writing back exactly, numbers' text included.
        let ours = json::parse(&text);
        assert!(
            ours.as_ref().is_ok_and(|ours| *ours == value),
            "our writer wrote {}; reading it back: {}",
            show(&text),
            verdict(&ours)
        );
    }
}

#[test]
fn json_differential_serde_json_writer_is_read_by_us_as_the_same_value() {
    let mut generator = Generator::new(0x5e4d_e000);
    for index in 0..ROUND_TRIP_DOCUMENTS {
        let theirs = to_serde(&generator.document());
        // Half compact, half pretty (newlines and indentation between tokens).
        let text = if index % 2 == 0 {
            serde_json::to_string(&theirs)
        } else {
            serde_json::to_string_pretty(&theirs)
        }
        .expect("serde_json writes any value");
        let ours = json::parse(&text);
        // serde_json writes the shortest digits that read back exactly, and
        // so do we read them: no tolerance here.
        assert!(
            ours.as_ref().is_ok_and(|ours| same(ours, &theirs, 0)),
            "serde_json wrote {}; we: {} (seed {})",
            show(&text),
            verdict(&ours),
            generator.rng.seed
        );
    }
}

/// Which known, documented divergence a disagreement with `serde_json` is
/// (docs/json.md, "Where we differ from serde_json"), if it is one.
fn known_divergence(
    ours: &Result<Value, json::Error>,
    theirs: &Result<serde_json::Value, serde_json::Error>,
) -> Option<&'static str> {
    let (ours, theirs) = match (ours, theirs) {
        (Err(error), Ok(_)) if matches!(error.kind, ErrorKind::DuplicateKey(_)) => {
            return Some("we refuse a repeated key, serde_json keeps the last value");
        }
        (Ok(ours), Err(theirs)) => (ours, theirs.to_string()),
        _ => return None,
    };
    if theirs.starts_with("number out of range") && has_number_beyond_f64(ours) {
        Some("we keep numbers beyond f64's range, serde_json refuses them")
    } else if theirs.starts_with("recursion limit exceeded") && depth(ours) == SERDE_DEPTH_LIMIT {
        Some("we allow 128 levels of nesting, serde_json 127")
    } else {
        None
    }
}

#[test]
fn json_differential_mutated_documents_get_the_same_verdict_as_serde_json() {
    let mut generator = Generator::new(0x6d75_7461_7465);
    let (mut accepted, mut refused) = (0, 0);
    let mut divergences: BTreeMap<&str, usize> = BTreeMap::new();
    for index in 0..MUTATED_DOCUMENTS {
        // Small documents, so that an edit often lands on something that
        // matters; some pretty-printed, for whitespace to edit.
        let value = generator.value(2);
        let original = if index % 3 == 0 {
            serde_json::to_string_pretty(&to_serde(&value)).expect("serde_json writes any value")
        } else {
            value.to_string()
        };
        let text = generator.mutate(&original);
        let ours = json::parse(&text);
        let theirs = serde_json::from_str::<serde_json::Value>(&text);
        match (&ours, &theirs) {
            (Ok(ours_value), Ok(theirs_value)) => {
                accepted += 1;
                assert!(
                    same(ours_value, theirs_value, SERDE_FLOAT_ULPS),
                    "document {} (mutated from {}): both accept it, but as different values: \
                     we {}, serde_json {} (seed {})",
                    show(&text),
                    show(&original),
                    verdict(&ours),
                    verdict(&theirs),
                    generator.rng.seed
                );
            }
            (Err(_), Err(_)) => refused += 1,
            _ => match known_divergence(&ours, &theirs) {
                Some(divergence) => *divergences.entry(divergence).or_default() += 1,
                None => panic!(
                    "document {} (mutated from {}): we {}; serde_json {} (seed {}; \
                 docs/json.md, \"Where we differ from serde_json\")",
                    show(&text),
                    show(&original),
                    verdict(&ours),
                    verdict(&theirs),
                    generator.rng.seed
                ),
            },
        }
    }
    println!("mutated documents: {accepted} accepted by both, {refused} refused by both");
    for (divergence, count) in &divergences {
        println!("  {count} known divergences: {divergence}");
    }
    // A grader that only ever saw one verdict would check nothing.
    assert!(
        accepted > MUTATED_DOCUMENTS / 10 && refused > MUTATED_DOCUMENTS / 10,
        "the mutations should give both verdicts often: {accepted} accepted, {refused} refused"
    );
}

#[test]
fn json_differential_known_divergences_are_what_docs_json_md_says() {
    let cases: &[(&str, bool, bool)] = &[
        // (document, we accept, serde_json accepts)
        ("{\"a\":1,\"a\":2}", false, true),
        ("1e400", true, false),
        ("-1e400", true, false),
        ("[1e99999999999999999999]", true, false),
        (&nested(SERDE_DEPTH_LIMIT, false), true, false),
        (&nested(SERDE_DEPTH_LIMIT - 1, false), true, true),
        ("18446744073709551616", true, true),
    ];
    for (text, we_accept, serde_accepts) in cases {
        let ours = json::parse(text);
        let theirs = serde_json::from_str::<serde_json::Value>(text);
        assert_eq!(
            (ours.is_ok(), theirs.is_ok()),
            (*we_accept, *serde_accepts),
            "document {}: we {}; serde_json {}",
            show(text),
            verdict(&ours),
            verdict(&theirs)
        );
        assert_eq!(
            known_divergence(&ours, &theirs).is_some(),
            ours.is_ok() != theirs.is_ok(),
            "document {}: a disagreement, and only one, is a known divergence",
            show(text)
        );
    }
    // serde_json reads this float one unit in the last place too high.
    let text = "2.2250738585072011e-308";
    let theirs: serde_json::Value = serde_json::from_str(text).expect("serde_json reads it");
    let ours = json::parse(text).expect("we read it");
    assert!(!same(&ours, &theirs, 0) && same(&ours, &theirs, SERDE_FLOAT_ULPS));
}

// ---------------------------------------------------------------------------
// Benchmark (ignored): docs/benchmarks.md, "JSON parse and write (issue 4)"
// ---------------------------------------------------------------------------

/// How big the benchmark documents are.
const BENCH_BYTES: usize = 1_000_000;

/// How many times each side runs; the median is reported.
const BENCH_RUNS: usize = 21;

/// A chat history of about [`BENCH_BYTES`]: what lab 4 sends most.
fn chat_history(rng: &mut Rng) -> Value {
    const WORDS: &[&str] = &[
        "hello",
        "peer",
        "channel",
        "message",
        "tracker",
        "socket",
        "xin chào",
        "bạn",
        "😀",
        "\"quoted\"",
        "line\nbreak",
        "tab\there",
        "C:\\path",
        "ok",
    ];
    let mut messages = Vec::new();
    let mut size = 0;
    while size < BENCH_BYTES {
        let words = 3 + rng.below(20);
        let text: Vec<&str> = (0..words).map(|_| WORDS[rng.below(WORDS.len())]).collect();
        let message = json::object([
            ("id", Value::from(messages.len())),
            (
                "channel",
                Value::from(["general", "random", "lab4"][rng.below(3)]),
            ),
            ("from", Value::from(format!("peer-{}", rng.below(100)))),
            (
                "to",
                Value::from((rng.below(4) == 0).then(|| format!("peer-{}", rng.below(100)))),
            ),
            ("text", Value::from(text.join(" "))),
            (
                "time",
                Value::from(1_700_000_000.0 + rng.below(10_000_000) as f64 / 1000.0),
            ),
            ("direct", Value::from(rng.below(4) == 0)),
            ("reactions", Value::from(vec![rng.below(10), rng.below(10)])),
        ]);
        size += message.to_string().len() + 1;
        messages.push(message);
    }
    json::object([("messages", Value::from(messages))])
}

/// Generated documents, escapes and all, until about [`BENCH_BYTES`].
fn generated(seed: u64) -> Value {
    let mut generator = Generator::new(seed);
    let mut documents = Vec::new();
    let mut size = 0;
    while size < BENCH_BYTES {
        let document = generator.value(4);
        size += document.to_string().len() + 1;
        documents.push(document);
    }
    Value::from(documents)
}

/// The median of [`BENCH_RUNS`] runs of each contender, run in turns so
/// that both see the same machine.
fn medians(contenders: &mut [&mut dyn FnMut()]) -> Vec<Duration> {
    let mut times = vec![Vec::new(); contenders.len()];
    for _ in 0..BENCH_RUNS {
        for (contender, times) in contenders.iter_mut().zip(&mut times) {
            let start = Instant::now();
            contender();
            times.push(start.elapsed());
        }
    }
    times
        .into_iter()
        .map(|mut times| {
            times.sort();
            times[times.len() / 2]
        })
        .collect()
}

#[test]
#[ignore = "a benchmark: cargo test --release --test json -- --ignored --nocapture json_bench"]
fn json_bench_parse_and_write_one_megabyte_against_serde_json() {
    let mut rng = Rng::new(0xbe4c4);
    println!("median of {BENCH_RUNS} runs each, the two taken in turns");
    println!("| document | step | weaprous::json | serde_json::Value | ratio |");
    println!("|---|---|---|---|---|");
    for (name, document) in [
        ("chat history", chat_history(&mut rng)),
        ("generated", generated(0xbe4c4)),
    ] {
        let text = document.to_string();
        let theirs: serde_json::Value = serde_json::from_str(&text).expect("serde_json reads it");
        assert!(same(
            &json::parse(&text).expect("valid"),
            &theirs,
            SERDE_FLOAT_ULPS
        ));
        let parse = medians(&mut [
            &mut || drop(black_box(json::parse(black_box(&text)))),
            &mut || {
                drop(black_box(serde_json::from_str::<serde_json::Value>(
                    black_box(&text),
                )))
            },
        ]);
        let write = medians(&mut [
            &mut || drop(black_box(black_box(&document).to_string())),
            &mut || drop(black_box(serde_json::to_string(black_box(&theirs)))),
        ]);
        let megabytes = text.len() as f64 / 1e6;
        let row = |step: &str, times: &[Duration]| {
            println!(
                "| {name}, {} bytes | {step} | {:.2} ms ({:.0} MB/s) | {:.2} ms ({:.0} MB/s) | {:.2} |",
                text.len(),
                times[0].as_secs_f64() * 1e3,
                megabytes / times[0].as_secs_f64(),
                times[1].as_secs_f64() * 1e3,
                megabytes / times[1].as_secs_f64(),
                times[0].as_secs_f64() / times[1].as_secs_f64(),
            );
        };
        row("parse", &parse);
        row("write", &write);
    }
}
