//! HMAC-SHA-256: a keyed hash, as RFC 2104 defines HMAC, over SHA-256.
//!
//! A plain hash can be computed by anyone; an HMAC only by whoever holds the
//! key. RFC 2104 §2 builds it from any hash `H` with block size `B` (64 bytes
//! for SHA-256):
//!
//! ```text
//! HMAC(K, text) = H((K' ⊕ opad) ‖ H((K' ⊕ ipad) ‖ text))
//! ```
//!
//! where `K'` is the key padded with zeros to `B` bytes (a key longer than
//! `B` is hashed first), `ipad` is the byte `0x36` repeated and `opad` the
//! byte `0x5c` repeated. The two nested hashes are what makes it safe where
//! the naive `H(K ‖ text)` is not (SHA-256 lets anyone extend such a digest
//! to a longer message without knowing `K`).
//!
//! The kit uses it inside PBKDF2 (`pbkdf2.rs`), which calls it
//! hundreds of thousands of times with one key. So [`HmacSha256`] hashes
//! the two padded key blocks once, in [`HmacSha256::new`], and can be cloned
//! to start each message from there (RFC 2104 §4 suggests exactly this).
//!
//! Left out on purpose: truncated outputs (RFC 2104 §5) and a `verify`
//! method; comparing MACs in constant time is the job of
//! `password::constant_time_eq`. Checked against the
//! RFC 4231 test cases below.

use super::sha256::{BLOCK_LEN, DIGEST_LEN, Sha256, sha256};

/// The inner padding byte, `ipad` (RFC 2104 §2).
const IPAD: u8 = 0x36;

/// The outer padding byte, `opad` (RFC 2104 §2).
const OPAD: u8 = 0x5c;

/// The HMAC-SHA-256 of `data` under `key`, in one call.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; DIGEST_LEN] {
    let mut mac = HmacSha256::new(key);
    mac.update(data);
    mac.finish()
}

/// An HMAC-SHA-256 computation under one key, in progress.
///
/// Clone a freshly keyed one to MAC many messages under the same key without
/// hashing the key again.
#[derive(Clone, Debug)]
pub struct HmacSha256 {
    /// SHA-256 that has absorbed `K' ⊕ ipad`; the message goes in next.
    inner: Sha256,
    /// SHA-256 that has absorbed `K' ⊕ opad`; the inner digest goes in last.
    outer: Sha256,
}

impl HmacSha256 {
    /// Starts a MAC under `key` (any length).
    pub fn new(key: &[u8]) -> HmacSha256 {
        let key_block = key_block(key);
        HmacSha256 {
            inner: hash_xored(&key_block, IPAD),
            outer: hash_xored(&key_block, OPAD),
        }
    }

    /// Adds `data` to the message.
    pub fn update(&mut self, data: &[u8]) {
        self.inner.update(data);
    }

    /// Finishes both hashes and returns the MAC.
    pub fn finish(self) -> [u8; DIGEST_LEN] {
        let inner_digest = self.inner.finish();
        let mut outer = self.outer;
        outer.update(&inner_digest);
        outer.finish()
    }
}

/// `K'` of RFC 2104 §2: the key, first hashed if it is longer than a block,
/// then padded with zeros to a whole block.
fn key_block(key: &[u8]) -> [u8; BLOCK_LEN] {
    let mut block = [0u8; BLOCK_LEN];
    if key.len() > BLOCK_LEN {
        block[..DIGEST_LEN].copy_from_slice(&sha256(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    block
}

/// A SHA-256 state that has absorbed `key_block` with every byte XORed with
/// `pad`.
fn hash_xored(key_block: &[u8; BLOCK_LEN], pad: u8) -> Sha256 {
    let mut hasher = Sha256::new();
    hasher.update(&key_block.map(|byte| byte ^ pad));
    hasher
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::hex;

    /// RFC 4231 §4: test cases 1–4, 6 and 7 (case 5 is about truncated
    /// output, which the kit does not offer). Cases 6 and 7 have a 131-byte
    /// key, longer than a block, so it is hashed first.
    fn rfc4231_cases() -> Vec<(u32, Vec<u8>, Vec<u8>, &'static str)> {
        vec![
            (
                1,
                vec![0x0b; 20],
                b"Hi There".to_vec(),
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            ),
            (
                2,
                b"Jefe".to_vec(),
                b"what do ya want for nothing?".to_vec(),
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                3,
                vec![0xaa; 20],
                vec![0xdd; 50],
                "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
            ),
            (
                4,
                (0x01..=0x19).collect(),
                vec![0xcd; 50],
                "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
            ),
            (
                6,
                vec![0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
            (
                7,
                vec![0xaa; 131],
                b"This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.".to_vec(),
                "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
            ),
        ]
    }

    #[test]
    fn rfc4231_test_cases_give_their_published_macs() {
        for (case, key, data, expected) in rfc4231_cases() {
            let mac = hex::encode(&hmac_sha256(&key, &data));
            assert_eq!(
                mac,
                expected,
                "RFC 4231 test case {case} ({}-byte key): got {mac}, expected {expected}",
                key.len()
            );
        }
    }

    #[test]
    fn a_cloned_keyed_mac_equals_a_fresh_one() {
        let keyed = HmacSha256::new(b"Jefe");
        for message in [&b"first"[..], b"second", b""] {
            let mut reused = keyed.clone();
            reused.update(message);
            assert_eq!(
                reused.finish(),
                hmac_sha256(b"Jefe", message),
                "MAC of {message:?} from a cloned keyed state differs from a fresh one"
            );
        }
    }
}
