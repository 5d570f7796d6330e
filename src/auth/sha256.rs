//! SHA-256, the hash function of FIPS 180-4 ("Secure Hash Standard").
//!
//! A hash turns any number of bytes into 32 bytes (a *digest*) such that
//! nobody can find two inputs with the same digest, nor an input for a given
//! digest. The kit uses it for nothing directly: it is the building block of
//! HMAC (`hmac.rs`), which is the building block of PBKDF2 (`pbkdf2.rs`),
//! which stretches passwords (`password.rs`).
//!
//! The algorithm, in the standard's own steps: pad the message to a whole
//! number of 64-byte blocks (§5.1.1), then feed each block through the
//! compression function (§6.2.2), which mixes it into eight 32-bit words of
//! state that start at fixed values (§5.3.3). The final state is the digest.
//!
//! [`Sha256`] takes the message in pieces ([`Sha256::update`]) because HMAC
//! hashes a key block and then the message without gluing them together, and
//! because a state that has absorbed the key block can be cloned and reused.
//! [`sha256`] is the one-call form.
//!
//! Left out on purpose: the other members of the family (SHA-224, -384,
//! -512), messages that are not a whole number of bytes (the standard allows
//! any number of bits; nothing in the kit needs it), and speed tricks
//! (hardware SHA instructions, unrolled rounds). Checked against the NIST
//! example vectors in the tests below.

/// Bytes per block: the compression function eats 512 bits at a time (§5.2.1).
pub const BLOCK_LEN: usize = 64;

/// Bytes in a digest: 256 bits.
pub const DIGEST_LEN: usize = 32;

/// Where the 64-bit message length goes in the last block: its final 8 bytes
/// (§5.1.1).
const LENGTH_OFFSET: usize = BLOCK_LEN - 8;

/// The initial hash value H(0) (§5.3.3): the first 32 bits of the fractional
/// parts of the square roots of the first eight primes.
const INITIAL_STATE: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// The round constants K0..K63 (§4.2.2): the first 32 bits of the fractional
/// parts of the cube roots of the first 64 primes ("nothing up my sleeve").
const ROUND_CONSTANTS: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

/// The SHA-256 digest of `data`, in one call.
pub fn sha256(data: &[u8]) -> [u8; DIGEST_LEN] {
    let mut hasher = Sha256::new();
    hasher.update(data);
    hasher.finish()
}

/// A SHA-256 computation in progress: feed it bytes with
/// [`update`](Sha256::update), as many times as needed, then take the digest
/// with [`finish`](Sha256::finish).
///
/// Cloning it copies the state, so a prefix hashed once (HMAC's key block)
/// can be continued with many different messages.
#[derive(Clone, Debug)]
pub struct Sha256 {
    /// The eight working words H0..H7 after every whole block so far.
    state: [u32; 8],
    /// Bytes of the current, incomplete block.
    block: [u8; BLOCK_LEN],
    /// How many bytes of `block` are filled (always less than a block).
    filled: usize,
    /// Message bytes seen so far, for the length field of the padding.
    length: u64,
}

impl Default for Sha256 {
    fn default() -> Self {
        Sha256::new()
    }
}

impl Sha256 {
    /// A computation that has seen no bytes yet.
    pub fn new() -> Sha256 {
        Sha256 {
            state: INITIAL_STATE,
            block: [0; BLOCK_LEN],
            filled: 0,
            length: 0,
        }
    }

    /// Adds `data` to the message. Splitting a message into pieces in any way
    /// gives the same digest as hashing it whole.
    pub fn update(&mut self, mut data: &[u8]) {
        self.length = self.length.wrapping_add(data.len() as u64);
        // First top up a block left incomplete by an earlier call.
        if self.filled > 0 {
            let taken = data.len().min(BLOCK_LEN - self.filled);
            self.block[self.filled..self.filled + taken].copy_from_slice(&data[..taken]);
            self.filled += taken;
            data = &data[taken..];
            if self.filled < BLOCK_LEN {
                return;
            }
            compress(&mut self.state, &self.block);
            self.filled = 0;
        }
        // Whole blocks straight from the input, without copying.
        let mut blocks = data.chunks_exact(BLOCK_LEN);
        for block in &mut blocks {
            compress(&mut self.state, block);
        }
        // Keep the tail for the next call (or for the padding).
        let tail = blocks.remainder();
        self.block[..tail.len()].copy_from_slice(tail);
        self.filled = tail.len();
    }

    /// Pads the message and returns its digest.
    pub fn finish(mut self) -> [u8; DIGEST_LEN] {
        // §5.1.1: the message length in bits, as a 64-bit big-endian number.
        // The standard limits messages to fewer than 2^64 bits; wrapping
        // keeps a longer one (over 2 EiB) from panicking.
        let bit_length = self.length.wrapping_mul(8);
        // §5.1.1: one "1" bit (the byte 0x80), then zero bytes until exactly
        // 8 bytes remain in the block, then the length.
        let zeros = (BLOCK_LEN + LENGTH_OFFSET - 1 - self.filled) % BLOCK_LEN;
        let mut padding = [0u8; BLOCK_LEN];
        padding[0] = 0x80;
        self.update(&padding[..1 + zeros]);
        self.update(&bit_length.to_be_bytes());

        // §6.2.2 step 4 done for the last block: the state is the digest,
        // each word written big-endian.
        let mut digest = [0u8; DIGEST_LEN];
        for (bytes, word) in digest.chunks_exact_mut(4).zip(self.state) {
            bytes.copy_from_slice(&word.to_be_bytes());
        }
        digest
    }
}

/// The SHA-256 compression function (§6.2.2): mixes one 64-byte block into
/// the state.
fn compress(state: &mut [u32; 8], block: &[u8]) {
    // Step 1: the message schedule W0..W63. The first 16 words are the block
    // read as big-endian 32-bit words; each later one mixes four earlier ones.
    let mut schedule = [0u32; 64];
    for (word, bytes) in schedule.iter_mut().zip(block.chunks_exact(4)) {
        *word = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    }
    for t in 16..64 {
        schedule[t] = small_sigma1(schedule[t - 2])
            .wrapping_add(schedule[t - 7])
            .wrapping_add(small_sigma0(schedule[t - 15]))
            .wrapping_add(schedule[t - 16]);
    }

    // Step 2: the eight working variables start as the current state.
    let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = *state;

    // Step 3: 64 rounds. All additions are modulo 2^32 (§3.2).
    for (constant, word) in ROUND_CONSTANTS.iter().zip(schedule) {
        let t1 = h
            .wrapping_add(big_sigma1(e))
            .wrapping_add(choose(e, f, g))
            .wrapping_add(*constant)
            .wrapping_add(word);
        let t2 = big_sigma0(a).wrapping_add(majority(a, b, c));
        h = g;
        g = f;
        f = e;
        e = d.wrapping_add(t1);
        d = c;
        c = b;
        b = a;
        a = t1.wrapping_add(t2);
    }

    // Step 4: add the working variables into the state.
    for (word, worked) in state.iter_mut().zip([a, b, c, d, e, f, g, h]) {
        *word = word.wrapping_add(worked);
    }
}

/// Ch (§4.1.2, 4.2): each bit of `x` chooses the bit of `y` (1) or `z` (0).
fn choose(x: u32, y: u32, z: u32) -> u32 {
    (x & y) ^ (!x & z)
}

/// Maj (§4.1.2, 4.3): each bit is the majority of the three inputs' bits.
fn majority(x: u32, y: u32, z: u32) -> u32 {
    (x & y) ^ (x & z) ^ (y & z)
}

/// Σ0 (§4.1.2, 4.4), used on the working variable `a`.
fn big_sigma0(x: u32) -> u32 {
    x.rotate_right(2) ^ x.rotate_right(13) ^ x.rotate_right(22)
}

/// Σ1 (§4.1.2, 4.5), used on the working variable `e`.
fn big_sigma1(x: u32) -> u32 {
    x.rotate_right(6) ^ x.rotate_right(11) ^ x.rotate_right(25)
}

/// σ0 (§4.1.2, 4.6), used in the message schedule.
fn small_sigma0(x: u32) -> u32 {
    x.rotate_right(7) ^ x.rotate_right(18) ^ (x >> 3)
}

/// σ1 (§4.1.2, 4.7), used in the message schedule.
fn small_sigma1(x: u32) -> u32 {
    x.rotate_right(17) ^ x.rotate_right(19) ^ (x >> 10)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::hex;

    /// NIST's published SHA-256 examples (the "abc", two-block and
    /// million-'a' messages from the FIPS 180 example documents), plus the
    /// empty message, with their digests.
    fn vectors() -> Vec<(&'static str, Vec<u8>, &'static str)> {
        vec![
            (
                "the empty message",
                Vec::new(),
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            ),
            (
                "\"abc\" (one block)",
                b"abc".to_vec(),
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            ),
            (
                "the 448-bit message (padding needs a second block)",
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".to_vec(),
                "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
            ),
            (
                "the 896-bit message",
                b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu".to_vec(),
                "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1",
            ),
            (
                "one million 'a'",
                vec![b'a'; 1_000_000],
                "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
            ),
        ]
    }

    #[test]
    fn nist_vectors_hash_to_their_published_digests() {
        for (name, message, expected) in vectors() {
            let digest = hex::encode(&sha256(&message));
            assert_eq!(
                digest, expected,
                "sha256 of {name}: got {digest}, expected {expected}"
            );
        }
    }

    #[test]
    fn any_split_into_updates_gives_the_one_shot_digest() {
        // Lengths around the block and padding boundaries (55, 56, 63, 64),
        // split at every point, in two pieces and in single bytes.
        let message: Vec<u8> = (0..=200u8).collect();
        for length in [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 200] {
            let whole = sha256(&message[..length]);
            for split in 0..=length {
                let mut hasher = Sha256::new();
                hasher.update(&message[..split]);
                hasher.update(&message[split..length]);
                assert_eq!(
                    hasher.finish(),
                    whole,
                    "{length}-byte message split at {split}: digest differs from one-shot"
                );
            }
            let mut bytewise = Sha256::new();
            for byte in &message[..length] {
                bytewise.update(std::slice::from_ref(byte));
            }
            assert_eq!(
                bytewise.finish(),
                whole,
                "{length}-byte message fed a byte at a time: digest differs from one-shot"
            );
        }
    }

    #[test]
    fn a_cloned_state_continues_independently() {
        let mut prefix = Sha256::new();
        prefix.update(b"ab");
        let mut first = prefix.clone();
        first.update(b"c");
        prefix.update(b"x");
        assert_eq!(
            hex::encode(&first.finish()),
            hex::encode(&sha256(b"abc")),
            "\"ab\" cloned then \"c\" should hash like \"abc\""
        );
        assert_eq!(
            prefix.finish(),
            sha256(b"abx"),
            "the original state should be untouched by its clone"
        );
    }
}
