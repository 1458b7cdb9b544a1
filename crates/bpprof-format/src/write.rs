//! Appending chunks to a recording.

use std::io::{self, Write};

use serde::Serialize;

use crate::chunk::{
    chunk_crc, chunk_header, ChunkKind, CHUNK_HEADER_LEN, CHUNK_TRAILER_LEN, MAX_CHUNK_PAYLOAD,
};
use crate::index::{self, IndexChunk, IndexEntry};
use crate::{
    EndChunk, IntervalChunk, RecordingMeta, SamplesChunk, FORMAT_MAJOR, FORMAT_MINOR, MAGIC,
};

/// Writes a recording: the preamble and the meta chunk on creation, then one chunk per call.
///
/// Each chunk is encoded in memory and handed to the underlying writer with a single `write_all`
/// followed by a `flush`, so that a process killed at any instant leaves every earlier chunk
/// complete on disk. After a failed write the output may end in a partial chunk, so every later
/// call fails too: appending after a partial chunk would turn a truncated recording into a corrupt
/// one.
#[derive(Debug)]
pub struct RecordingWriter<W: Write> {
    out: W,
    buf: Vec<u8>,
    /// An earlier write failed.
    failed: bool,
    /// Bytes written so far: the offset of the next chunk.
    offset: u64,
    /// Where each interval chunk and its samples chunk went, for the index `finish` writes;
    /// `None` once a samples chunk came without its interval chunk before it, or twice (the
    /// index then cannot describe the file, and none is written).
    index: Option<Vec<IndexEntry>>,
}

impl<W: Write> RecordingWriter<W> {
    /// Starts a recording: writes the preamble and `meta`.
    pub fn new(out: W, meta: &RecordingMeta) -> io::Result<Self> {
        let mut writer = RecordingWriter {
            out,
            buf: Vec::with_capacity(4096),
            failed: false,
            offset: 0,
            index: Some(Vec::new()),
        };
        let mut preamble = Vec::with_capacity(crate::PREAMBLE_LEN);
        preamble.extend_from_slice(&MAGIC);
        preamble.extend_from_slice(&FORMAT_MAJOR.to_le_bytes());
        preamble.extend_from_slice(&FORMAT_MINOR.to_le_bytes());
        preamble.extend_from_slice(&[0; 4]);
        writer.out.write_all(&preamble)?;
        writer.offset = preamble.len() as u64;
        writer.write_chunk(ChunkKind::Meta, meta)?;
        Ok(writer)
    }

    /// Bytes written so far (preamble and meta chunk included): the file's length while every
    /// write succeeded.
    pub fn bytes_written(&self) -> u64 {
        self.offset
    }

    /// The most that [`RecordingWriter::finish`] appends now: the index with its locator, and the
    /// end chunk. A writer keeping a file within a size limit keeps this much room.
    pub fn finish_bound(&self) -> u64 {
        // Each index entry is five varints of up to 10 bytes and a byte of flags; the end chunk
        // three varints. Every chunk adds its header and trailer.
        let framing = (CHUNK_HEADER_LEN + CHUNK_TRAILER_LEN) as u64;
        let entries = self.index.as_ref().map_or(0, Vec::len) as u64;
        (10 + entries * 51 + framing) + (8 + framing) + (30 + framing)
    }

    /// Appends one interval.
    pub fn write_interval(&mut self, interval: &IntervalChunk) -> io::Result<()> {
        let entry = IndexEntry {
            seq: interval.seq,
            start_ns: interval.start_ns,
            end_ns: interval.end_ns,
            interval: self.offset,
            samples: 0,
            flags: if index::declares(interval) {
                index::INTERVAL_DECLARES
            } else {
                0
            },
        };
        self.write_chunk(ChunkKind::Interval, interval)?;
        if let Some(index) = &mut self.index {
            index.push(entry);
        }
        Ok(())
    }

    /// Appends the stack samples of one interval (written before, not necessarily last), packed
    /// (a chunk of kind 5: the counts delta-coded per subtask, each subtask's block coded on its
    /// own behind a directory, so that a reader of one subtask decodes only its block; the
    /// reader gives back the same counts, sorted by subtask, stack, state, on/off CPU and
    /// operator).
    pub fn write_samples(&mut self, samples: &SamplesChunk) -> io::Result<()> {
        let payload = crate::packed::encode(samples)?;
        self.write_packed(samples, &payload)
    }

    /// Appends the stack samples of one interval packed as format 1.4 wrote them (a chunk of
    /// kind 5 whose compressed body holds every subtask's counts), for tests of readers of older
    /// recordings. A reader takes it for a 1.4 chunk only in a file whose preamble says 1.4 (the
    /// test rewrites the minor version, bytes 10 and 11).
    #[doc(hidden)]
    pub fn write_samples_packed_1_4(&mut self, samples: &SamplesChunk) -> io::Result<()> {
        let payload = crate::packed::encode_1_4(samples)?;
        self.write_packed(samples, &payload)
    }

    /// Writes the packed samples chunk `payload` of `samples` and indexes it.
    fn write_packed(&mut self, samples: &SamplesChunk, payload: &[u8]) -> io::Result<()> {
        let at = self.offset;
        self.write_payload(ChunkKind::PackedSamples, payload)?;
        // Its interval is usually the last one written, but may be a few earlier: a recorder
        // writes intervals as they come and samples once symbolised.
        let entry = self
            .index
            .as_mut()
            .and_then(|index| index.iter_mut().rev().find(|e| e.seq == samples.seq));
        match entry {
            Some(entry) if entry.seq == samples.seq && entry.samples == 0 => {
                entry.samples = at;
                if index::samples_declare(samples) {
                    entry.flags |= index::SAMPLES_DECLARE;
                }
            }
            _ => self.index = None,
        }
        Ok(())
    }

    /// Appends the stack samples of one interval as format 1.3 wrote them (a chunk of kind 4,
    /// every count in full), for tests of readers of older recordings.
    #[doc(hidden)]
    pub fn write_samples_unpacked(&mut self, samples: &SamplesChunk) -> io::Result<()> {
        self.index = None;
        self.write_chunk(ChunkKind::Samples, samples)
    }

    /// Appends the end chunk and returns the underlying writer.
    ///
    /// A writer dropped without `finish` leaves a recording that readers report as not finalised.
    /// Before the end chunk it writes the index (a chunk of kind 6, where each interval chunk
    /// and its samples chunk start) and its locator (kind 7), when at least one interval was
    /// written and the index is smaller than a chunk's limit.
    pub fn finish(mut self, end: &EndChunk) -> io::Result<W> {
        if let Some(entries) = self.index.take().filter(|e| !e.is_empty()) {
            let payload = postcard::to_stdvec(&IndexChunk { entries }).map_err(encoding_error)?;
            if payload.len() <= MAX_CHUNK_PAYLOAD as usize {
                let at = self.offset;
                self.write_payload(ChunkKind::Index, &payload)?;
                self.write_payload(ChunkKind::IndexLocator, &at.to_le_bytes())?;
            }
        }
        self.write_chunk(ChunkKind::End, end)?;
        Ok(self.out)
    }

    /// Encodes `payload` as a chunk of `kind` and writes it.
    fn write_chunk<T: Serialize>(&mut self, kind: ChunkKind, payload: &T) -> io::Result<()> {
        if self.failed {
            return Err(io::Error::other(
                "an earlier write to the recording failed, leaving it truncated",
            ));
        }
        let encoded = postcard::to_stdvec(payload).map_err(encoding_error)?;
        self.write_payload(kind, &encoded)
    }

    /// Writes an encoded payload as a chunk of `kind`.
    fn write_payload(&mut self, kind: ChunkKind, encoded: &[u8]) -> io::Result<()> {
        if self.failed {
            return Err(io::Error::other(
                "an earlier write to the recording failed, leaving it truncated",
            ));
        }
        let len = u32::try_from(encoded.len())
            .ok()
            .filter(|&len| len <= MAX_CHUNK_PAYLOAD)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "chunk payload of {} bytes exceeds the format's limit",
                        encoded.len()
                    ),
                )
            })?;
        let header = chunk_header(kind, len);
        self.buf.clear();
        self.buf.extend_from_slice(&header);
        self.buf.extend_from_slice(encoded);
        self.buf
            .extend_from_slice(&chunk_crc(&header, encoded).to_le_bytes());
        let written = self
            .out
            .write_all(&self.buf)
            .and_then(|()| self.out.flush());
        self.failed = written.is_err();
        self.offset += self.buf.len() as u64;
        written
    }
}

/// A payload that postcard could not encode, as an I/O error.
fn encoding_error(e: postcard::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}
