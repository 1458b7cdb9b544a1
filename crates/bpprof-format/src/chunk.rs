//! Framing of one chunk:
//! `len: u32 LE | kind: u8 | header_crc: u32 LE | payload (len bytes) | crc: u32 LE`.
//!
//! `header_crc` is the CRC-32 of the length and the kind, so a damaged length is told apart from a
//! truncated file; `crc` is the CRC-32 of the length, the kind and the payload, so a torn or
//! overwritten chunk is detected.

/// Bytes before the payload: the payload length (u32 LE), the kind (u8) and the CRC-32 of these
/// five bytes (u32 LE).
pub const CHUNK_HEADER_LEN: usize = 9;
/// Bytes after the payload: the CRC-32 (u32 LE) of the length, the kind and the payload.
pub const CHUNK_TRAILER_LEN: usize = 4;
/// Largest payload a reader accepts (64 MiB). A larger length is treated as corruption, so hostile
/// input cannot make the reader allocate absurd sizes.
pub const MAX_CHUNK_PAYLOAD: u32 = 64 << 20;

/// Bytes of the header covered by the header CRC: the length and the kind.
const CHECKED_HEADER_LEN: usize = 5;

/// What a chunk holds. Unknown kinds are skipped by readers, which lets minor versions add kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkKind {
    /// [`crate::RecordingMeta`]: exactly one, the first chunk.
    Meta,
    /// [`crate::IntervalChunk`]: one per recording interval.
    Interval,
    /// [`crate::EndChunk`]: written when the recording is finalised; absent after a crash.
    End,
    /// [`crate::SamplesChunk`]: the stack samples of one interval (after its interval chunk).
    Samples,
    /// [`crate::SamplesChunk`] packed (format 1.4): counts delta-coded per subtask, compressed.
    PackedSamples,
    /// The index of a finished recording (format 1.4), before its end chunk.
    Index,
    /// Where the index chunk starts (format 1.4): a fixed-size chunk right before the end chunk.
    IndexLocator,
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
            ChunkKind::Samples => 4,
            ChunkKind::PackedSamples => 5,
            ChunkKind::Index => 6,
            ChunkKind::IndexLocator => 7,
            ChunkKind::Unknown(b) => b,
        }
    }

    /// The kind that a byte in the file stands for.
    pub fn from_byte(b: u8) -> Self {
        match b {
            1 => ChunkKind::Meta,
            2 => ChunkKind::Interval,
            3 => ChunkKind::End,
            4 => ChunkKind::Samples,
            5 => ChunkKind::PackedSamples,
            6 => ChunkKind::Index,
            7 => ChunkKind::IndexLocator,
            other => ChunkKind::Unknown(other),
        }
    }
}

/// The header bytes of a chunk.
pub(crate) fn chunk_header(kind: ChunkKind, payload_len: u32) -> [u8; CHUNK_HEADER_LEN] {
    let mut header = [0; CHUNK_HEADER_LEN];
    header[..4].copy_from_slice(&payload_len.to_le_bytes());
    header[4] = kind.to_byte();
    let crc = crc32fast::hash(&header[..CHECKED_HEADER_LEN]);
    header[CHECKED_HEADER_LEN..].copy_from_slice(&crc.to_le_bytes());
    header
}

/// The kind and payload length a header declares, or `None` when its CRC does not match.
pub(crate) fn parse_header(header: &[u8; CHUNK_HEADER_LEN]) -> Option<(ChunkKind, u32)> {
    let [l0, l1, l2, l3, kind, c0, c1, c2, c3] = *header;
    (crc32fast::hash(&header[..CHECKED_HEADER_LEN]) == u32::from_le_bytes([c0, c1, c2, c3])).then(
        || {
            (
                ChunkKind::from_byte(kind),
                u32::from_le_bytes([l0, l1, l2, l3]),
            )
        },
    )
}

/// The CRC of a chunk: over the length and kind of its header, and its payload.
pub(crate) fn chunk_crc(header: &[u8; CHUNK_HEADER_LEN], payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&header[..CHECKED_HEADER_LEN]);
    hasher.update(payload);
    hasher.finalize()
}
