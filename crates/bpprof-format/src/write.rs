//! Appending chunks to a recording.

use std::io::{self, Write};

use serde::Serialize;

use crate::chunk::{chunk_crc, chunk_header, ChunkKind, MAX_CHUNK_PAYLOAD};
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
}

impl<W: Write> RecordingWriter<W> {
    /// Starts a recording: writes the preamble and `meta`.
    pub fn new(out: W, meta: &RecordingMeta) -> io::Result<Self> {
        let mut writer = RecordingWriter {
            out,
            buf: Vec::with_capacity(4096),
            failed: false,
        };
        let mut preamble = Vec::with_capacity(crate::PREAMBLE_LEN);
        preamble.extend_from_slice(&MAGIC);
        preamble.extend_from_slice(&FORMAT_MAJOR.to_le_bytes());
        preamble.extend_from_slice(&FORMAT_MINOR.to_le_bytes());
        preamble.extend_from_slice(&[0; 4]);
        writer.out.write_all(&preamble)?;
        writer.write_chunk(ChunkKind::Meta, meta)?;
        Ok(writer)
    }

    /// Appends one interval.
    pub fn write_interval(&mut self, interval: &IntervalChunk) -> io::Result<()> {
        self.write_chunk(ChunkKind::Interval, interval)
    }

    /// Appends the stack samples of one interval, packed (a chunk of kind 5: the counts
    /// delta-coded per subtask and compressed; the reader gives back the same counts, sorted by
    /// subtask, stack, state, on/off CPU and operator).
    pub fn write_samples(&mut self, samples: &SamplesChunk) -> io::Result<()> {
        let payload = crate::packed::encode(samples).map_err(encoding_error)?;
        self.write_payload(ChunkKind::PackedSamples, &payload)
    }

    /// Appends the stack samples of one interval as format 1.3 wrote them (a chunk of kind 4,
    /// every count in full), for tests of readers of older recordings.
    #[doc(hidden)]
    pub fn write_samples_unpacked(&mut self, samples: &SamplesChunk) -> io::Result<()> {
        self.write_chunk(ChunkKind::Samples, samples)
    }

    /// Appends the end chunk and returns the underlying writer.
    ///
    /// A writer dropped without `finish` leaves a recording that readers report as not finalised.
    pub fn finish(mut self, end: &EndChunk) -> io::Result<W> {
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
        written
    }
}

/// A payload that postcard could not encode, as an I/O error.
fn encoding_error(e: postcard::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}
