//! Framing of one chunk: `len: u32 LE | kind: u8 | payload (len bytes) | crc32: u32 LE`.
//!
//! The CRC-32 (IEEE) covers the length, the kind and the payload, so a chunk checks itself and a
//! torn or overwritten chunk is detected.

/// Bytes before the payload: the payload length (u32 LE) and the kind (u8).
pub const CHUNK_HEADER_LEN: usize = 5;
/// Bytes after the payload: the CRC-32 (u32 LE).
pub const CHUNK_TRAILER_LEN: usize = 4;
/// Largest payload a reader accepts (64 MiB). A larger length is treated as corruption, so hostile
/// input cannot make the reader allocate absurd sizes.
pub const MAX_CHUNK_PAYLOAD: u32 = 64 << 20;

/// What a chunk holds. Unknown kinds are skipped by readers, which lets minor versions add kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkKind {
    /// [`crate::RecordingMeta`]: exactly one, the first chunk.
    Meta,
    /// [`crate::IntervalChunk`]: one per recording interval.
    Interval,
    /// [`crate::EndChunk`]: written when the recording is finalised; absent after a crash.
    End,
    /// A kind this version does not know (from a newer minor version).
    Unknown(u8),
}

impl ChunkKind {
    /// The byte that identifies this kind in the file.
    pub fn to_byte(self) -> u8 {
        match self {
            ChunkKind::Meta => 1,
            ChunkKind::Interval => 2,
            ChunkKind::End => 3,
            ChunkKind::Unknown(b) => b,
        }
    }

    /// The kind that a byte in the file stands for.
    pub fn from_byte(b: u8) -> Self {
        match b {
            1 => ChunkKind::Meta,
            2 => ChunkKind::Interval,
            3 => ChunkKind::End,
            other => ChunkKind::Unknown(other),
        }
    }
}

/// The CRC of a chunk: over its header (length and kind) and its payload.
pub(crate) fn chunk_crc(header: &[u8; CHUNK_HEADER_LEN], payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(header);
    hasher.update(payload);
    hasher.finalize()
}

/// The header bytes of a chunk.
pub(crate) fn chunk_header(kind: ChunkKind, payload_len: u32) -> [u8; CHUNK_HEADER_LEN] {
    let len = payload_len.to_le_bytes();
    [len[0], len[1], len[2], len[3], kind.to_byte()]
}
