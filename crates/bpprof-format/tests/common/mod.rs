//! Helpers shared by the format's test binaries.
#![allow(dead_code)] // Each test binary uses a different subset.

use bpprof_format::RecordingMeta;

/// The meta chunk of the test recordings: a 16-CPU build host, 1 s intervals, sampled at 99 Hz.
pub fn meta() -> RecordingMeta {
    RecordingMeta {
        start_unix_ns: 1_717_171_717_000_000_000,
        interval_ns: 1_000_000_000,
        host: "build-07.example.org".into(),
        cpus: 16,
        pid: 41_234,
        program: "wordcount".into(),
        bpprof_version: "0.1.0".into(),
        build: "release x86_64-unknown-linux-gnu".into(),
        sample_hz: 99,
        // Readers of the older formats in these tests give it its empty value.
        sampler: String::new(),
    }
}

/// xorshift64: a tiny deterministic PRNG so the tests need no extra dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        // Never zero (xorshift's fixed point); spread small seeds.
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    /// Uniform-ish in `lo..hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// A chunk header (length, kind, header CRC), implemented from `docs/format.md` rather than with
/// the crate's code.
pub fn header(len: u32, kind: u8) -> Vec<u8> {
    let mut header = len.to_le_bytes().to_vec();
    header.push(kind);
    let crc = crc32fast::hash(&header);
    header.extend_from_slice(&crc.to_le_bytes());
    header
}

/// A whole chunk, implemented from `docs/format.md`.
pub fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut chunk = header(payload.len() as u32, kind);
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&chunk[..5]);
    hasher.update(payload);
    chunk.extend_from_slice(payload);
    chunk.extend_from_slice(&hasher.finalize().to_le_bytes());
    chunk
}
