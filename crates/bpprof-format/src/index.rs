//! The index of a finished recording (format 1.4): where each interval chunk and its samples
//! chunk start, so that a reader of a time range seeks to them instead of reading the file. See
//! `docs/format.md`, "6 — index" and "7 — index locator".
//!
//! The writer puts the index chunk (kind 6) and a fixed-size locator chunk (kind 7, the index
//! chunk's offset) right before the end chunk. A file without them (the recorder was killed, or
//! an older writer) or whose index does not check out is read by scanning, as always.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};

use serde::{Deserialize, Serialize};

use crate::chunk::{chunk_crc, parse_header, ChunkKind, CHUNK_HEADER_LEN, CHUNK_TRAILER_LEN};
use crate::scan::{Chunk, Next, Scanner};
use crate::{EndChunk, IntervalChunk, SamplesChunk};

/// Length of the locator chunk's payload: the index chunk's offset, u64 LE.
pub(crate) const LOCATOR_PAYLOAD_LEN: usize = 8;
/// Length of the whole locator chunk.
const LOCATOR_LEN: usize = CHUNK_HEADER_LEN + LOCATOR_PAYLOAD_LEN + CHUNK_TRAILER_LEN;
/// The longest end chunk: three u64 varints of at most 10 bytes, framed.
const MAX_END_LEN: usize = CHUNK_HEADER_LEN + 30 + CHUNK_TRAILER_LEN;

/// Flag of an entry whose interval chunk declares something (a task, subtask, channel, edge,
/// endpoint, operator, link) or carries a runtime warning: a ranged read always reads it.
pub(crate) const INTERVAL_DECLARES: u8 = 1;
/// Flag of an entry whose samples chunk declares frames or stacks.
pub(crate) const SAMPLES_DECLARE: u8 = 2;

/// One interval of the index.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct IndexEntry {
    pub seq: u64,
    pub start_ns: u64,
    pub end_ns: u64,
    /// Offset of its interval chunk.
    pub interval: u64,
    /// Offset of its samples chunk; 0 when it has none.
    pub samples: u64,
    /// [`INTERVAL_DECLARES`], [`SAMPLES_DECLARE`].
    pub flags: u8,
}

/// Payload of the index chunk.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct IndexChunk {
    pub entries: Vec<IndexEntry>,
}

/// Whether `interval` declares something a later chunk may refer to, or carries a warning.
pub(crate) fn declares(interval: &IntervalChunk) -> bool {
    !(interval.declared_tasks.is_empty()
        && interval.declared_subtasks.is_empty()
        && interval.declared_channels.is_empty()
        && interval.declared_edges.is_empty()
        && interval.endpoints.is_empty()
        && interval.declared_operators.is_empty()
        && interval.declared_links.is_empty()
        && interval.warnings.is_empty())
}

/// Whether `samples` declares frames or stacks.
pub(crate) fn samples_declare(samples: &SamplesChunk) -> bool {
    !(samples.frames.is_empty() && samples.stacks.is_empty())
}

/// What a finished file's tail says: its end chunk and its index, when both check out.
pub(crate) struct Tail {
    pub end: EndChunk,
    pub entries: Vec<IndexEntry>,
}

/// The end chunk and the index of the file, or `None` when the file does not end with an end
/// chunk preceded by a locator chunk pointing at a valid index chunk.
pub(crate) fn read_tail(file: &mut File) -> Option<Tail> {
    let len = file.metadata().ok()?.len();
    let tail_len = len.min((MAX_END_LEN + LOCATOR_LEN) as u64) as usize;
    let mut tail = vec![0; tail_len];
    file.seek(SeekFrom::Start(len - tail_len as u64)).ok()?;
    file.read_exact(&mut tail).ok()?;
    // The end chunk is the last chunk: the position where a whole end chunk ends the file.
    let (at, end) = (0..tail
        .len()
        .saturating_sub(CHUNK_HEADER_LEN + CHUNK_TRAILER_LEN))
        .rev()
        .find_map(|at| {
            let payload = whole_chunk(&tail[at..], ChunkKind::End)?;
            let (end, _): (EndChunk, _) = postcard::take_from_bytes(payload).ok()?;
            Some((at, end))
        })?;
    let locator = whole_chunk(
        tail[..at].get(at.checked_sub(LOCATOR_LEN)?..)?,
        ChunkKind::IndexLocator,
    )?;
    let index_at = u64::from_le_bytes(locator.try_into().ok()?);
    let chunk = chunk_at(file, index_at)?;
    if chunk.kind != ChunkKind::Index {
        return None;
    }
    let (index, _): (IndexChunk, _) = postcard::take_from_bytes(&chunk.payload).ok()?;
    Some(Tail {
        end,
        entries: index.entries,
    })
}

/// The payload of `bytes` when it is exactly one whole chunk of `kind` with matching checksums.
fn whole_chunk(bytes: &[u8], kind: ChunkKind) -> Option<&[u8]> {
    let header: [u8; CHUNK_HEADER_LEN] = bytes.get(..CHUNK_HEADER_LEN)?.try_into().ok()?;
    let (found, len) = parse_header(&header)?;
    let payload_end = CHUNK_HEADER_LEN + len as usize;
    if found != kind || bytes.len() != payload_end + CHUNK_TRAILER_LEN {
        return None;
    }
    let payload = &bytes[CHUNK_HEADER_LEN..payload_end];
    (bytes[payload_end..] == chunk_crc(&header, payload).to_le_bytes()).then_some(payload)
}

/// The complete, checksummed chunk at `offset`, or `None` when there is none.
pub(crate) fn chunk_at(file: &mut File, offset: u64) -> Option<Chunk> {
    file.seek(SeekFrom::Start(offset)).ok()?;
    match Scanner::new(BufReader::with_capacity(1 << 14, &mut *file), offset).next_chunk() {
        Ok(Next::Chunk(chunk)) => Some(chunk),
        _ => None,
    }
}
