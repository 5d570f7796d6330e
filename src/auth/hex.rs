//! Hexadecimal text for bytes: each byte as two lowercase digits.
//!
//! Session ids, salts and password hashes are raw bytes; cookies and the
//! accounts file need text. Hex (base 16, the "base16" of RFC 4648 §8, in
//! lowercase) is the simplest safe spelling: only `0-9a-f`, so it can never
//! carry a `;`, a space or a newline into a header or a line of a file.
//!
//! Decoding is strict on purpose: lowercase only, an even number of digits,
//! nothing else. The kit only ever reads back what it wrote, so anything
//! else is a damaged or forged value, not a spelling to forgive.

/// The sixteen digits, by value.
const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// `bytes` as lowercase hex: two characters per byte, high half first.
pub fn encode(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

/// The bytes that `text` spells in lowercase hex, or `None` when it is not
/// exactly that (an odd length, an uppercase or non-hex character).
pub fn decode(text: &str) -> Option<Vec<u8>> {
    let pairs = text.as_bytes().chunks_exact(2);
    if !pairs.remainder().is_empty() {
        return None; // an odd number of digits
    }
    pairs
        .map(|pair| Some((digit_value(pair[0])? << 4) | digit_value(pair[1])?))
        .collect()
}

/// True when `text` is exactly `len` bytes spelled in lowercase hex
/// (`2 * len` digits), without decoding it.
pub fn is_hex_of_len(text: &str, len: usize) -> bool {
    text.len() == 2 * len && text.bytes().all(|c| digit_value(c).is_some())
}

/// The value of one lowercase hex digit.
fn digit_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_is_two_lowercase_digits_per_byte() {
        let cases: &[(&[u8], &str)] = &[
            (b"", ""),
            (&[0x00], "00"),
            (&[0x0f, 0xa0, 0xff], "0fa0ff"),
            (b"abc", "616263"),
        ];
        for (bytes, expected) in cases {
            let text = encode(bytes);
            assert_eq!(
                &text, expected,
                "encode({bytes:?}): got {text:?}, expected {expected:?}"
            );
            assert_eq!(
                decode(&text).as_deref(),
                Some(*bytes),
                "decode({text:?}) should give back {bytes:?}"
            );
        }
    }

    #[test]
    fn decoding_refuses_anything_but_lowercase_pairs() {
        for text in ["0", "abc", "0G", "0F", "+f", " 0", "0x00", "é0"] {
            assert_eq!(
                decode(text),
                None,
                "decode({text:?}) should be refused: not lowercase hex pairs"
            );
        }
    }

    #[test]
    fn length_check_counts_bytes_and_digits() {
        let cases: &[(&str, usize, bool)] = &[
            ("00ff", 2, true),
            ("00ff", 1, false),
            ("00fF", 2, false),
            ("00f", 2, false),
            ("", 0, true),
        ];
        for (text, len, expected) in cases {
            assert_eq!(
                is_hex_of_len(text, *len),
                *expected,
                "is_hex_of_len({text:?}, {len}) should be {expected}"
            );
        }
    }
}
