//! Password hashing for storage: salted PBKDF2-HMAC-SHA-256, in one string.
//!
//! A server must be able to check a password without being able to give it
//! back, so that a stolen accounts file does not hand out every password
//! (which people reuse elsewhere). It stores a *slow, salted hash*:
//!
//! - **salted**: 16 random bytes per password, stored beside the hash, so
//!   two users with the same password get different hashes and an attacker
//!   must attack each hash on its own (no precomputed "rainbow" tables);
//! - **slow**: PBKDF2 ([`super::pbkdf2`]) with many iterations, so each
//!   guess costs the attacker what one login costs the server.
//!
//! The stored form keeps everything needed to check a password again, in
//! the `$`-separated style of the PHC string format (and of Django's
//! `pbkdf2_sha256$...`), all lowercase hex:
//!
//! ```text
//! pbkdf2-sha256$600000$9f2c…(16 bytes)…$41d7…(32 bytes)…
//! scheme        count  salt              hash
//! ```
//!
//! Because each string carries its own count, the count for new passwords
//! can be raised later without breaking the old ones.
//!
//! Checking compares the hashes with [`constant_time_eq`], whose running
//! time does not depend on where the first differing byte is.
//!
//! Left out on purpose: rehashing old passwords at a higher count on login,
//! a "pepper" (a server-wide secret key), and the PHC format's base64.

use std::fmt;
use std::io;
use std::num::NonZeroU32;

use super::hex;
use super::pbkdf2::pbkdf2_hmac_sha256;
use super::random::fill_random;

/// The scheme name that starts every stored hash.
pub const SCHEME: &str = "pbkdf2-sha256";

/// The iteration count for real use: what OWASP's Password Storage Cheat
/// Sheet recommends for PBKDF2-HMAC-SHA256 (600,000, as of 2023). One hash
/// costs a fraction of a second in a release build (`docs/lab3_auth.md`
/// has the measurement). The `unwrap` runs at compile time: a zero here
/// would not compile.
pub const DEFAULT_ITERATIONS: NonZeroU32 = NonZeroU32::new(600_000).unwrap();

/// A low iteration count for tests, so that a test suite creating dozens of
/// accounts stays fast even in a debug build. Never for real passwords: it
/// makes guessing 600 times cheaper than [`DEFAULT_ITERATIONS`].
pub const TEST_ITERATIONS: NonZeroU32 = NonZeroU32::new(1_000).unwrap();

/// Bytes of random salt per password: 128 bits, as NIST SP 800-132 §5.1
/// asks at least.
pub const SALT_LEN: usize = 16;

/// Bytes of hash stored: one SHA-256 output, PBKDF2's natural size.
pub const HASH_LEN: usize = 32;

/// Separates the fields of the stored string.
const SEPARATOR: char = '$';

/// Hashes `password` with a fresh random salt and `iterations` rounds, and
/// returns the string to store (`pbkdf2-sha256$ITER$SALT_HEX$HASH_HEX`).
///
/// Fails only if the operating system's random source cannot be read.
pub fn hash_password(password: &str, iterations: NonZeroU32) -> io::Result<String> {
    let mut salt = [0u8; SALT_LEN];
    fill_random(&mut salt)?;
    let hash = derive(password, &salt, iterations);
    Ok(StoredHash {
        iterations,
        salt,
        hash,
    }
    .to_string())
}

/// True when `password` is the one `stored` was made from.
///
/// `stored` is read, not trusted: a string that is not exactly a stored hash
/// (another scheme, a bad count, hex of the wrong length) verifies as
/// `false`, never panics.
pub fn verify_password(password: &str, stored: &str) -> bool {
    // lab3: begin — take the stored string apart, derive again with its salt and count, compare in constant time
    let Some(stored) = StoredHash::parse(stored) else {
        return false;
    };
    let derived = derive(password, &stored.salt, stored.iterations);
    constant_time_eq(&derived, &stored.hash)
    // lab3: end
}

/// True when `a` and `b` are equal, taking the same time wherever they
/// differ.
///
/// `a == b` stops at the first differing byte, so how long it takes tells
/// an attacker how many leading bytes they got right — and lets them find a
/// secret byte by byte. Here every byte pair is looked at; only the lengths
/// (not secret: a hash's length is public) may end it early.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    // lab3: begin — OR together the XOR of every byte pair; never return at the first difference
    if a.len() != b.len() {
        return false;
    }
    let difference = a.iter().zip(b).fold(0u8, |seen, (x, y)| seen | (x ^ y));
    // `black_box` asks the optimiser not to reason about the value, so it
    // cannot turn the loop back into an early exit.
    std::hint::black_box(difference) == 0
    // lab3: end
}

/// A stored password hash, taken apart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredHash {
    /// The PBKDF2 iteration count it was made with.
    pub iterations: NonZeroU32,
    /// Its random salt.
    pub salt: [u8; SALT_LEN],
    /// PBKDF2's output for the password, salt and count.
    pub hash: [u8; HASH_LEN],
}

impl StoredHash {
    /// Reads `pbkdf2-sha256$ITER$SALT_HEX$HASH_HEX`; `None` for anything
    /// else (wrong scheme, a count that is not a positive number, hex that
    /// is not lowercase or not of the right length, extra fields).
    pub fn parse(stored: &str) -> Option<StoredHash> {
        let mut fields = stored.split(SEPARATOR);
        let (Some(SCHEME), Some(iterations), Some(salt), Some(hash), None) = (
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
        ) else {
            return None;
        };
        Some(StoredHash {
            iterations: iterations.parse().ok()?,
            salt: hex::decode(salt)?.try_into().ok()?,
            hash: hex::decode(hash)?.try_into().ok()?,
        })
    }
}

impl fmt::Display for StoredHash {
    /// The stored form, the inverse of [`StoredHash::parse`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{SCHEME}{SEPARATOR}{}{SEPARATOR}{}{SEPARATOR}{}",
            self.iterations,
            hex::encode(&self.salt),
            hex::encode(&self.hash)
        )
    }
}

/// PBKDF2-HMAC-SHA-256 of the password, to [`HASH_LEN`] bytes.
fn derive(password: &str, salt: &[u8], iterations: NonZeroU32) -> [u8; HASH_LEN] {
    let mut hash = [0u8; HASH_LEN];
    pbkdf2_hmac_sha256(password.as_bytes(), salt, iterations, &mut hash);
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small count, so the tests below are quick even unoptimised.
    const FEW: NonZeroU32 = NonZeroU32::new(3).unwrap();

    #[test]
    fn a_hash_has_the_documented_shape_and_verifies_its_password() {
        let stored = hash_password("correct horse", FEW).expect("random source readable");
        let fields: Vec<&str> = stored.split('$').collect();
        assert_eq!(
            fields.len(),
            4,
            "stored hash {stored:?}: expected scheme$count$salt$hash"
        );
        assert_eq!(fields[0], SCHEME, "stored hash {stored:?}: wrong scheme");
        assert_eq!(fields[1], "3", "stored hash {stored:?}: count should be 3");
        assert!(
            hex::is_hex_of_len(fields[2], SALT_LEN) && hex::is_hex_of_len(fields[3], HASH_LEN),
            "stored hash {stored:?}: expected a 16-byte salt and 32-byte hash in lowercase hex"
        );
        assert!(
            verify_password("correct horse", &stored),
            "the right password should verify against {stored:?}"
        );
        for wrong in ["correct hors", "correct horsE", "correct horse ", ""] {
            assert!(
                !verify_password(wrong, &stored),
                "password {wrong:?} should not verify against the hash of \"correct horse\""
            );
        }
    }

    #[test]
    fn the_same_password_gets_a_different_salt_each_time() {
        let first = hash_password("same", FEW).expect("random source readable");
        let second = hash_password("same", FEW).expect("random source readable");
        assert_ne!(
            first, second,
            "two hashes of one password should differ by their salt"
        );
    }

    #[test]
    fn verification_uses_the_count_stored_in_the_string() {
        // A hash made by hand at count 2: verify must read the 2 back from
        // the string, not assume a default.
        let salt = [0x01; SALT_LEN];
        let two = NonZeroU32::new(2).expect("2 is positive");
        let stored = StoredHash {
            iterations: two,
            salt,
            hash: derive("password", &salt, two),
        }
        .to_string();
        assert!(
            verify_password("password", &stored),
            "{stored:?} should verify \"password\" at its own count of 2"
        );
        let recounted = stored.replacen("$2$", "$3$", 1);
        assert!(
            !verify_password("password", &recounted),
            "{recounted:?} claims count 3 for a count-2 hash: should not verify"
        );
    }

    #[test]
    fn malformed_stored_strings_verify_false() {
        let good = hash_password("pw", FEW).expect("random source readable");
        let salt_and_hash = good.splitn(3, '$').nth(2).expect("three fields");
        let cases = [
            String::new(),
            "pbkdf2-sha256".to_string(),
            format!("pbkdf2-sha1$3${salt_and_hash}"),
            format!("pbkdf2-sha256$0${salt_and_hash}"),
            format!("pbkdf2-sha256$-3${salt_and_hash}"),
            format!("pbkdf2-sha256$three${salt_and_hash}"),
            format!("pbkdf2-sha256$99999999999${salt_and_hash}"),
            format!("{good}$extra"),
            good.to_uppercase(),
            good[..good.len() - 2].to_string(),
            format!("{good}00"),
            good.replacen('$', ":", 1),
        ];
        for stored in &cases {
            assert!(
                StoredHash::parse(stored).is_none(),
                "{stored:?} should not parse as a stored hash"
            );
            assert!(
                !verify_password("pw", stored),
                "malformed stored string {stored:?} verified true; expected false"
            );
        }
    }

    #[test]
    fn parse_and_display_are_inverses() {
        let stored = hash_password("pw", FEW).expect("random source readable");
        let parsed = StoredHash::parse(&stored).expect("our own output parses");
        assert_eq!(parsed.to_string(), stored, "parse then display changed it");
    }

    /// Not a check but a measurement: prints what one hash costs at each
    /// count (the figures in `docs/lab3_auth.md`, "How slow is slow").
    /// `cargo test --release --lib cost_of_one_hash -- --ignored --nocapture`
    #[test]
    #[ignore = "a measurement, not a check"]
    fn cost_of_one_hash_at_each_count() {
        for iterations in [DEFAULT_ITERATIONS, TEST_ITERATIONS] {
            let started = std::time::Instant::now();
            let stored = hash_password("password", iterations).expect("random source readable");
            let elapsed = started.elapsed();
            assert!(
                verify_password("password", &stored),
                "the hash made at {iterations} iterations should verify"
            );
            eprintln!("{iterations} iterations: one hash took {elapsed:?}");
        }
    }

    #[test]
    fn constant_time_eq_is_plain_equality_in_result() {
        let cases: &[(&[u8], &[u8], bool)] = &[
            (b"", b"", true),
            (b"abc", b"abc", true),
            (b"abc", b"abd", false),
            (b"abc", b"xbc", false),
            (b"abc", b"ab", false),
            (b"", b"a", false),
            (&[0x80], &[0x00], false),
        ];
        for (a, b, expected) in cases {
            assert_eq!(
                constant_time_eq(a, b),
                *expected,
                "constant_time_eq({a:?}, {b:?}) should be {expected}"
            );
        }
    }
}
