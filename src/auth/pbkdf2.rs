//! PBKDF2 with HMAC-SHA-256: a deliberately slow hash for passwords
//! (RFC 8018 §5.2, "Password-Based Key Derivation Function 2").
//!
//! A fast hash is the wrong tool for passwords: an attacker who steals the
//! hashes can try billions of guesses a second. PBKDF2 makes each guess cost
//! `c` (the *iteration count*) chained HMACs, and mixes in a *salt* so that
//! equal passwords give different hashes and precomputed tables are useless.
//! For each 32-byte block `i` of output (RFC 8018 §5.2, step 3):
//!
//! ```text
//! U1 = HMAC(P, S ‖ INT(i))
//! Uj = HMAC(P, Uj-1)                  for j = 2..c
//! Ti = U1 ⊕ U2 ⊕ … ⊕ Uc
//! ```
//!
//! and the output is `T1 ‖ T2 ‖ …`, cut to the length asked for.
//!
//! Every HMAC here uses the same key, the password, so the two padded key
//! blocks are hashed once per call ([`HmacSha256::new`]) and each iteration
//! starts from a clone of that state: two SHA-256 blocks per iteration
//! instead of four. This also means a very long password costs one extra
//! hash, not one per iteration.
//!
//! Left out on purpose: other pseudorandom functions (RFC 8018 allows any;
//! the kit needs HMAC-SHA-256 only) and PBKDF1. Memory-hard functions
//! (scrypt, Argon2) resist graphics-card attackers better; PBKDF2 is here
//! because it is small, standard and built from pieces a student can check.

use std::num::NonZeroU32;

use super::hmac::HmacSha256;
use super::sha256::DIGEST_LEN;

/// Fills `output` with the key PBKDF2-HMAC-SHA-256 derives from `password`
/// and `salt` with `iterations` rounds (the RFC's `c`, a positive number —
/// hence the type). `output.len()` is the RFC's `dkLen`.
///
/// RFC 8018 §5.2 step 1 caps `dkLen` at (2^32 − 1) × 32 bytes, about
/// 128 GiB; bytes of `output` beyond that are left as they are.
pub fn pbkdf2_hmac_sha256(password: &[u8], salt: &[u8], iterations: NonZeroU32, output: &mut [u8]) {
    let keyed = HmacSha256::new(password);
    // Step 3: the blocks are numbered from 1, as 32-bit big-endian INT(i).
    for (block, index) in output.chunks_mut(DIGEST_LEN).zip(1..=u32::MAX) {
        let t = block_function(&keyed, salt, iterations, index);
        // Step 4: the last block is cut to what is left of dkLen.
        block.copy_from_slice(&t[..block.len()]);
    }
}

/// The RFC's `F(P, S, c, i)` (§5.2 step 3): `U1 ⊕ U2 ⊕ … ⊕ Uc`, with the
/// password already in `keyed`.
fn block_function(
    keyed: &HmacSha256,
    salt: &[u8],
    iterations: NonZeroU32,
    index: u32,
) -> [u8; DIGEST_LEN] {
    let mut mac = keyed.clone();
    mac.update(salt);
    mac.update(&index.to_be_bytes());
    let mut u = mac.finish();
    let mut t = u;
    for _ in 1..iterations.get() {
        let mut mac = keyed.clone();
        mac.update(&u);
        u = mac.finish();
        for (t_byte, u_byte) in t.iter_mut().zip(u) {
            *t_byte ^= u_byte;
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::hex;

    /// One published vector: inputs and the expected key, in hex.
    struct Vector {
        password: &'static [u8],
        salt: &'static [u8],
        count: u32,
        length: usize,
        expected: &'static str,
    }

    /// The widely published PBKDF2-HMAC-SHA256 vectors (the RFC 6070 inputs,
    /// which RFC 6070 gives for SHA-1, recomputed for SHA-256).
    const VECTORS: &[Vector] = &[
        Vector {
            password: b"password",
            salt: b"salt",
            count: 1,
            length: 32,
            expected: "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b",
        },
        Vector {
            password: b"password",
            salt: b"salt",
            count: 2,
            length: 32,
            expected: "ae4d0c95af6b46d32d0adff928f06dd02a303f8ef3c251dfd6e2d85a95474c43",
        },
        Vector {
            password: b"password",
            salt: b"salt",
            count: 4096,
            length: 32,
            expected: "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a",
        },
        Vector {
            password: b"passwordPASSWORDpassword",
            salt: b"saltSALTsaltSALTsaltSALTsaltSALTsalt",
            count: 4096,
            length: 40,
            expected: "348c89dbcbd32b2f32d814b8116e84cf2b17347ebc1800181c4e2a1fb8dd53e1c635518c7dac47e9",
        },
        Vector {
            password: b"pass\0word",
            salt: b"sa\0lt",
            count: 4096,
            length: 16,
            expected: "89b69d0516f829893c696226650a8687",
        },
    ];

    #[test]
    fn published_vectors_derive_their_keys() {
        for vector in VECTORS {
            let Vector {
                password,
                salt,
                count,
                length,
                expected,
            } = *vector;
            let iterations = NonZeroU32::new(count).expect("vector counts are positive");
            let mut key = vec![0u8; length];
            pbkdf2_hmac_sha256(password, salt, iterations, &mut key);
            let derived = hex::encode(&key);
            assert_eq!(
                derived,
                expected,
                "PBKDF2 of password {:?}, salt {:?}, c={count}, dkLen={length}: got {derived}, expected {expected}",
                String::from_utf8_lossy(password),
                String::from_utf8_lossy(salt),
            );
        }
    }

    #[test]
    fn a_shorter_output_is_a_prefix_of_a_longer_one() {
        let iterations = NonZeroU32::MIN;
        let mut long = [0u8; 70];
        let mut short = [0u8; 33];
        pbkdf2_hmac_sha256(b"pw", b"salt", iterations, &mut long);
        pbkdf2_hmac_sha256(b"pw", b"salt", iterations, &mut short);
        assert_eq!(
            hex::encode(&short),
            hex::encode(&long[..33]),
            "a 33-byte key should be the first 33 bytes of a 70-byte key"
        );
    }
}
