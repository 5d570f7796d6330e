//! Unpredictable bytes from the operating system, for session ids and salts.
//!
//! A session id is a password in disguise: whoever can guess one is logged
//! in. So it must come from a cryptographically secure random source, never
//! from a counter, the time, or a general-purpose generator seeded from
//! them. The kernel keeps such a source, mixed from hardware events, and
//! hands it out as the file `/dev/urandom` (on Linux, `random(4)`; the BSDs
//! and macOS have the same file). Once the kernel's pool is seeded at boot,
//! it never blocks and never runs out.
//!
//! Reading it is ordinary file I/O, so it can fail (a chroot without
//! `/dev`, a process out of file descriptors): every function here returns
//! the error instead of panicking, and the caller answers 500 rather than
//! hand out a weak id.
//!
//! Left out on purpose: the `getrandom(2)` system call, which needs `unsafe`
//! or a dependency, and any fallback to a weaker source when the file is
//! missing — failing loudly is safer.

use std::fs::File;
use std::io::{self, Read};

use super::hex;

/// The operating system's random source.
pub const RANDOM_SOURCE: &str = "/dev/urandom";

/// Fills `buffer` with random bytes from [`RANDOM_SOURCE`].
pub fn fill_random(buffer: &mut [u8]) -> io::Result<()> {
    File::open(RANDOM_SOURCE)?.read_exact(buffer)
}

/// `bytes` random bytes, as `2 * bytes` lowercase hex characters.
pub fn random_hex(bytes: usize) -> io::Result<String> {
    let mut buffer = vec![0u8; bytes];
    fill_random(&mut buffer)?;
    Ok(hex::encode(&buffer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_hex_has_two_lowercase_digits_per_byte() {
        for bytes in [0, 1, 16, 33] {
            let text = random_hex(bytes).expect("/dev/urandom is readable");
            assert!(
                hex::is_hex_of_len(&text, bytes),
                "random_hex({bytes}) gave {text:?}: expected {} lowercase hex digits",
                2 * bytes
            );
        }
    }

    #[test]
    fn successive_values_differ() {
        // 128 random bits twice: equal only with probability 2^-128, so a
        // repeat means the source is not random (a constant, a counter reset).
        let first = random_hex(16).expect("/dev/urandom is readable");
        let second = random_hex(16).expect("/dev/urandom is readable");
        assert_ne!(first, second, "two 128-bit random values came out equal");
    }
}
