//! Reading a recording without trusting it.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::chunk::{
    chunk_crc, parse_header, ChunkKind, CHUNK_HEADER_LEN, CHUNK_TRAILER_LEN, MAX_CHUNK_PAYLOAD,
};
use crate::{
    ChannelDecl, ChannelEndpoint, ChannelInterval, EdgeDecl, EndChunk, IntervalChunk,
    OperatorCalls, OperatorDecl, OperatorInterval, RecordingMeta, SamplesChunk, SubtaskDecl,
    SubtaskInterval, TaskDecl, FORMAT_MAJOR, FORMAT_MINOR, MAGIC, PREAMBLE_LEN,
};

/// A recording as read from a file: its metadata, its complete interval chunks in file order, and
/// what the reader noticed on the way.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recording {
    /// Format version of the file (major, minor).
    pub version: (u16, u16),
    /// The meta chunk.
    pub meta: RecordingMeta,
    /// Every complete interval chunk.
    pub intervals: Vec<IntervalChunk>,
    /// Every complete samples chunk (empty when sampling was off).
    pub samples: Vec<SamplesChunk>,
    /// The end chunk, when the recording was finalised.
    pub end: Option<EndChunk>,
    /// Problems that did not prevent reading (a truncated tail, a missing end chunk, ...).
    pub warnings: Vec<ReadWarning>,
}

/// Something wrong with a recording that still leaves its complete part usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadWarning {
    /// The recorded program's runtime found a problem while recording (an inconsistent
    /// registration, ...). The message names the call and the fix.
    #[error("{message}")]
    Runtime {
        /// Stable identifier of the problem (`registration`, ...).
        code: String,
        /// One sentence.
        message: String,
    },
    /// The file ends in the middle of a chunk (the recorded process was killed while writing).
    #[error(
        "the recording is truncated at byte {offset} (the recorded process was probably killed); \
         analysing the {complete_chunks} complete chunks before it"
    )]
    Truncated {
        /// Offset of the incomplete chunk.
        offset: u64,
        /// Number of complete chunks read before it (meta chunk included).
        complete_chunks: u64,
    },
    /// All chunks are complete but the end chunk is missing: the process did not finalise the
    /// recording (killed, or exited without dropping the recorder).
    #[error("the recording was not finalised (no end chunk): the recorded process did not stop the recorder")]
    NotFinalised,
    /// Chunks of kinds this version does not know were skipped (written by a newer minor version).
    #[error("skipped {count} chunks of a kind this bpprof does not know (format {major}.{minor}); upgrade bpprof to see them")]
    UnknownChunks {
        /// Number of chunks skipped.
        count: u64,
        /// Major version of the file.
        major: u16,
        /// Minor version of the file.
        minor: u16,
    },
}

/// Why a file could not be read as a recording.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be opened or read.
    #[error("cannot read the recording: {0}")]
    Io(#[from] io::Error),
    /// The file is empty.
    #[error("the file is empty, not a recording (did the recorded program start its recorder?)")]
    Empty,
    /// The file does not start with the recording magic bytes.
    #[error("not a bpprof recording (it does not start with the bpprof magic bytes)")]
    NotARecording,
    /// The file was written by an incompatible (newer or older major) format version.
    #[error(
        "the recording uses format {major}.{minor}, which this bpprof (format {FORMAT_MAJOR}.{FORMAT_MINOR}) cannot read: \
         use a bpprof of the same major version as the recorder"
    )]
    UnsupportedVersion {
        /// Major version found in the file.
        major: u16,
        /// Minor version found in the file.
        minor: u16,
    },
    /// The file ends before its preamble and meta chunk are complete: nothing can be analysed.
    #[error("the recording ends at byte {offset}, before its metadata is complete: it holds no data to analyse")]
    TruncatedHeader {
        /// Where the file ends (its length).
        offset: u64,
    },
    /// A chunk fails its checksum, does not decode, or is out of place (the first chunk is not the
    /// meta chunk, a second meta chunk, a chunk after the end chunk).
    #[error("corrupt recording: chunk {index} at byte {offset}: {reason}")]
    Corrupt {
        /// Byte offset of the chunk.
        offset: u64,
        /// Index of the chunk in the file (0 = meta).
        index: u64,
        /// What is wrong.
        reason: String,
    },
}

/// Reads the recording at `path`.
pub fn read_file(path: impl AsRef<Path>) -> Result<Recording, ReadError> {
    let file = File::open(path)?;
    read_recording(BufReader::with_capacity(1 << 16, file))
}

/// Reads a recording from any reader. Never panics; allocates no more than the input holds plus a
/// bounded amount (about 1 MiB), whatever lengths the input declares.
pub fn read_recording(input: impl Read) -> Result<Recording, ReadError> {
    let mut reader = ChunkReader {
        input,
        offset: 0,
        index: 0,
    };
    let version = reader.read_preamble()?;
    let meta = match reader.next_chunk()? {
        Next::Chunk(chunk) if chunk.kind == ChunkKind::Meta => chunk.decode_meta(version)?,
        Next::Chunk(chunk) => {
            return Err(chunk.corrupt(format!(
                "the first chunk must be the meta chunk, found kind {}",
                chunk.kind.to_byte()
            )))
        }
        Next::Truncated { end, .. } => return Err(ReadError::TruncatedHeader { offset: end }),
        Next::Eof => {
            return Err(ReadError::TruncatedHeader {
                offset: reader.offset,
            })
        }
    };
    let mut recording = Recording {
        version,
        meta,
        ..Recording::default()
    };

    let mut unknown = 0u64;
    loop {
        let chunk = match reader.next_chunk()? {
            Next::Chunk(chunk) => chunk,
            Next::Truncated { start, .. } => {
                recording.warnings.push(ReadWarning::Truncated {
                    offset: start,
                    complete_chunks: reader.index,
                });
                break;
            }
            Next::Eof => {
                if recording.end.is_none() {
                    recording.warnings.push(ReadWarning::NotFinalised);
                }
                break;
            }
        };
        match chunk.kind {
            // Newer minor versions may add kinds anywhere, even after the end chunk.
            ChunkKind::Unknown(_) => unknown += 1,
            _ if recording.end.is_some() => {
                return Err(chunk.corrupt("a chunk after the end chunk"))
            }
            ChunkKind::Interval => {
                let interval = chunk.decode_interval(version)?;
                for w in &interval.warnings {
                    let warning = ReadWarning::Runtime {
                        code: w.code.clone(),
                        message: w.message.clone(),
                    };
                    if !recording.warnings.contains(&warning) {
                        recording.warnings.push(warning);
                    }
                }
                recording.intervals.push(interval);
            }
            ChunkKind::Samples => recording.samples.push(chunk.decode()?),
            ChunkKind::End => recording.end = Some(chunk.decode()?),
            ChunkKind::Meta => return Err(chunk.corrupt("a second meta chunk")),
        }
    }
    if unknown > 0 {
        recording.warnings.push(ReadWarning::UnknownChunks {
            count: unknown,
            major: version.0,
            minor: version.1,
        });
    }
    Ok(recording)
}

/// What [`ChunkReader::next_chunk`] found.
enum Next {
    /// A complete chunk whose checksums match.
    Chunk(Chunk),
    /// The input ends inside the chunk that starts at `start`, at offset `end`.
    Truncated { start: u64, end: u64 },
    /// The input ends cleanly between chunks.
    Eof,
}

/// A complete chunk whose checksums match.
struct Chunk {
    kind: ChunkKind,
    payload: Vec<u8>,
    /// Byte offset of the chunk in the file.
    offset: u64,
    /// Index of the chunk in the file (0 = meta).
    index: u64,
}

impl Chunk {
    fn decode<T: DeserializeOwned>(&self) -> Result<T, ReadError> {
        // Trailing bytes are allowed: a newer minor version may append fields to a payload.
        postcard::take_from_bytes(&self.payload)
            .map(|(value, _rest)| value)
            .map_err(|e| self.corrupt(format!("payload does not decode: {e}")))
    }

    /// An interval chunk of a file of format `version`. A payload ends where its writer's struct
    /// ended, and postcard cannot tell a missing field from a damaged payload, so the payload of
    /// an older minor version is decoded with that version's layout and the fields added since
    /// take their empty values.
    fn decode_interval(&self, version: (u16, u16)) -> Result<IntervalChunk, ReadError> {
        match version.1 {
            0 => self.decode::<IntervalChunk1_0>().map(IntervalChunk::from),
            // A postcard struct is its fields one after the other, so a 1.1 payload reads as the
            // 1.0 fields followed by the one field 1.1 added.
            1 => self.decode::<(IntervalChunk1_0, Vec<OperatorCalls>)>().map(
                |(chunk, operator_calls)| IntervalChunk {
                    operator_calls,
                    ..IntervalChunk::from(chunk)
                },
            ),
            _ => self.decode(),
        }
    }

    /// The meta chunk of a file of format `version` (before 1.2 it ends after `sample_hz`).
    fn decode_meta(&self, version: (u16, u16)) -> Result<RecordingMeta, ReadError> {
        match version.1 {
            0 | 1 => self.decode::<RecordingMeta1_1>().map(RecordingMeta::from),
            _ => self.decode(),
        }
    }

    fn corrupt(&self, reason: impl Into<String>) -> ReadError {
        ReadError::Corrupt {
            offset: self.offset,
            index: self.index,
            reason: reason.into(),
        }
    }
}

/// [`RecordingMeta`] as formats 1.0 and 1.1 wrote it: every field up to `sample_hz`.
#[derive(Deserialize)]
struct RecordingMeta1_1 {
    start_unix_ns: u64,
    interval_ns: u64,
    host: String,
    cpus: u32,
    pid: u32,
    program: String,
    bpprof_version: String,
    build: String,
    sample_hz: u32,
}

impl From<RecordingMeta1_1> for RecordingMeta {
    fn from(m: RecordingMeta1_1) -> Self {
        RecordingMeta {
            start_unix_ns: m.start_unix_ns,
            interval_ns: m.interval_ns,
            host: m.host,
            cpus: m.cpus,
            pid: m.pid,
            program: m.program,
            bpprof_version: m.bpprof_version,
            build: m.build,
            sample_hz: m.sample_hz,
            // Added in 1.2.
            sampler: String::new(),
        }
    }
}

/// [`IntervalChunk`] as format 1.0 wrote it: every field up to `operators`.
#[derive(Deserialize)]
struct IntervalChunk1_0 {
    seq: u64,
    start_ns: u64,
    end_ns: u64,
    coalesced: u32,
    declared_tasks: Vec<TaskDecl>,
    declared_subtasks: Vec<SubtaskDecl>,
    declared_channels: Vec<ChannelDecl>,
    declared_edges: Vec<EdgeDecl>,
    endpoints: Vec<ChannelEndpoint>,
    subtasks: Vec<SubtaskInterval>,
    channels: Vec<ChannelInterval>,
    declared_operators: Vec<OperatorDecl>,
    operators: Vec<OperatorInterval>,
}

impl From<IntervalChunk1_0> for IntervalChunk {
    fn from(c: IntervalChunk1_0) -> Self {
        IntervalChunk {
            seq: c.seq,
            start_ns: c.start_ns,
            end_ns: c.end_ns,
            coalesced: c.coalesced,
            declared_tasks: c.declared_tasks,
            declared_subtasks: c.declared_subtasks,
            declared_channels: c.declared_channels,
            declared_edges: c.declared_edges,
            endpoints: c.endpoints,
            subtasks: c.subtasks,
            channels: c.channels,
            declared_operators: c.declared_operators,
            operators: c.operators,
            // Added in 1.1 and 1.2.
            ..IntervalChunk::default()
        }
    }
}

struct ChunkReader<R> {
    input: R,
    /// Offset of the next chunk.
    offset: u64,
    /// Number of complete chunks read so far, which is the index of the next chunk.
    index: u64,
}

impl<R: Read> ChunkReader<R> {
    fn read_preamble(&mut self) -> Result<(u16, u16), ReadError> {
        let mut preamble = [0u8; PREAMBLE_LEN];
        let got = self.fill(&mut preamble)?;
        if got == 0 {
            return Err(ReadError::Empty);
        }
        let magic_len = got.min(MAGIC.len());
        if preamble[..magic_len] != MAGIC[..magic_len] {
            return Err(ReadError::NotARecording);
        }
        if got < PREAMBLE_LEN {
            return Err(ReadError::TruncatedHeader { offset: got as u64 });
        }
        let major = u16::from_le_bytes([preamble[8], preamble[9]]);
        let minor = u16::from_le_bytes([preamble[10], preamble[11]]);
        if major != FORMAT_MAJOR {
            return Err(ReadError::UnsupportedVersion { major, minor });
        }
        // Bytes 12..16 are reserved: written as zero, ignored when read.
        self.offset = PREAMBLE_LEN as u64;
        Ok((major, minor))
    }

    fn next_chunk(&mut self) -> Result<Next, ReadError> {
        let (start, index) = (self.offset, self.index);
        let truncated = |got: usize| Next::Truncated {
            start,
            end: start + got as u64,
        };
        let corrupt = |reason: String| ReadError::Corrupt {
            offset: start,
            index,
            reason,
        };

        let mut header = [0u8; CHUNK_HEADER_LEN];
        match self.fill(&mut header)? {
            0 => return Ok(Next::Eof),
            n if n < CHUNK_HEADER_LEN => return Ok(truncated(n)),
            _ => {}
        }
        // The header checks itself, so a damaged length is reported as corruption rather than
        // mistaken for a truncated file.
        let Some((kind, len)) = parse_header(&header) else {
            return Err(corrupt("chunk header checksum mismatch".into()));
        };
        if len > MAX_CHUNK_PAYLOAD {
            return Err(corrupt(format!(
                "chunk length {len} exceeds the format's limit of {MAX_CHUNK_PAYLOAD}"
            )));
        }
        // Grow the buffer with the data actually present, never by the declared length alone.
        let mut payload = Vec::new();
        (&mut self.input)
            .take(u64::from(len))
            .read_to_end(&mut payload)?;
        if payload.len() < len as usize {
            return Ok(truncated(CHUNK_HEADER_LEN + payload.len()));
        }
        let mut trailer = [0u8; CHUNK_TRAILER_LEN];
        let got = self.fill(&mut trailer)?;
        if got < CHUNK_TRAILER_LEN {
            return Ok(truncated(CHUNK_HEADER_LEN + payload.len() + got));
        }
        if u32::from_le_bytes(trailer) != chunk_crc(&header, &payload) {
            return Err(corrupt("chunk checksum mismatch".into()));
        }

        let chunk = Chunk {
            kind,
            payload,
            offset: start,
            index,
        };
        self.offset = start + (CHUNK_HEADER_LEN + chunk.payload.len() + CHUNK_TRAILER_LEN) as u64;
        self.index += 1;
        Ok(Next::Chunk(chunk))
    }

    /// Reads until `buf` is full or the input ends; returns how many bytes were read.
    fn fill(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.input.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(filled)
    }
}
