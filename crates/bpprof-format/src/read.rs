//! Reading a recording without trusting it.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::chunk::ChunkKind;
use crate::damage::{lost_declarations, IntervalMark, Lost};
use crate::scan::{Chunk, Next, Scanner};
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
    /// A stretch of chunks fails its checksums (a damaged disk sector, a flipped bit) and was
    /// skipped: reading resumed at the next intact chunk. What was lost is told by the interval
    /// chunks around it; declarations made in the lost chunks are lost with them.
    #[error(
        "the recording is damaged at byte {offset} ({} skipped{}): {lost}; analysing the intact chunks",
        crate::damage::plural(*.skipped, "byte"),
        if .lost.before.is_some() { ", reading on from the next intact chunk" } else { " to the end of the file" }
    )]
    Damaged {
        /// Offset of the first damaged chunk.
        offset: u64,
        /// Bytes skipped: the damaged chunks, up to the next intact chunk (or the end of the file).
        /// Intact chunks inside the stretch (between two damaged ones with no interval chunk
        /// between them) are read, and not counted.
        skipped: u64,
        /// What was lost, told by the interval chunks read around it.
        lost: Lost,
    },
    /// Bytes after the end chunk fail their checksums (something was appended to a finished
    /// recording, or the damage is there): nothing of the recording is lost.
    #[error(
        "the recording has {} of unreadable data after its end chunk (from byte {offset}), which are ignored; nothing of the recording is lost",
        crate::damage::plural(*.count, "byte")
    )]
    TrailingBytes {
        /// Offset of the first of them.
        offset: u64,
        /// How many were skipped.
        count: u64,
    },
    /// Damaged chunks held declarations that intact chunks refer to: the data of these subtasks
    /// and channels cannot be attributed to a task or an edge.
    #[error(
        "the damaged chunks also held the declarations of {} that intact chunks refer to: their data cannot be attributed to a task or an edge",
        crate::damage::declarations(*.subtasks, *.channels)
    )]
    LostDeclarations {
        /// Subtasks whose accounting is in intact chunks but whose declaration is not.
        subtasks: u64,
        /// Channels whose queue usage is in intact chunks but whose declaration is not.
        channels: u64,
    },
    /// A problem in one file of a series (a recording the recorder rotated into several files,
    /// read as one): the warning of that file, named.
    #[error("{file}: {warning}")]
    InFile {
        /// The file, as named to the reader.
        file: String,
        /// What the reader noticed in it.
        warning: Box<ReadWarning>,
    },
    /// Two consecutive files of a series do not join: the intervals between them are in no file
    /// read (a file of the series was removed or not given).
    #[error("a file of the series is missing: {lost}; analysing the files around the gap")]
    SeriesGap {
        /// What is missing, told by the last interval of the file before the gap and the first of
        /// the file after it.
        lost: Lost,
    },
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
    /// The meta chunk fails its checksum (nothing can be read without it), or a chunk that passes
    /// its checksums does not decode, declares a length beyond the limit or is out of place (the
    /// first chunk is not the meta chunk, a second meta chunk, a chunk after the end chunk): it
    /// was written that way, so the file is not a recording this reader can trust. A damaged chunk
    /// after the meta chunk is skipped instead, with a [`ReadWarning::Damaged`].
    #[error("corrupt recording: chunk {index} at byte {offset}: {reason}")]
    Corrupt {
        /// Byte offset of the chunk.
        offset: u64,
        /// Index of the chunk in the file (0 = meta; each stretch of damaged bytes skipped before
        /// it counts as one chunk).
        index: u64,
        /// What is wrong.
        reason: String,
    },
    /// The path names no recording file, or files that are not one recording (see
    /// [`crate::read_path`]).
    #[error("{0}")]
    Series(#[from] crate::SeriesError),
}

/// Reads the recording at `path`.
pub fn read_file(path: impl AsRef<Path>) -> Result<Recording, ReadError> {
    read_file_with(path, &ReadOptions::default())
}

/// Reads the recording at `path`, keeping what `options` asks for.
///
/// With [`ReadOptions::from_ns`] set and a file that ends with a valid index (every file a
/// writer finished), only the chunks of that range and those that declare something are read,
/// by seeking; the chunks left out are not checked either, so damage in them goes unreported.
/// Otherwise (no index: the recorder was killed, or the tail is damaged) the whole file is
/// scanned, as by [`read_recording_with`].
pub fn read_file_with(
    path: impl AsRef<Path>,
    options: &ReadOptions<'_>,
) -> Result<Recording, ReadError> {
    let mut file = File::open(path)?;
    if let Some(from) = options.from_ns {
        if let Some(recording) = read_range(&mut file, from, options) {
            return Ok(recording);
        }
        file.seek(SeekFrom::Start(0))?;
    }
    read_recording_with(BufReader::with_capacity(1 << 16, file), options)
}

/// The chunks of `file` in `[from, options.to_ns]` (interval and samples chunks overlapping it)
/// and those that declare something, through the file's index; `None` when it has no index or
/// anything the index points to does not check out (the caller then scans the file).
fn read_range(file: &mut File, from: u64, options: &ReadOptions<'_>) -> Option<Recording> {
    let tail = crate::index::read_tail(file)?;
    file.seek(SeekFrom::Start(0)).ok()?;
    let mut scanner = Scanner::new(BufReader::with_capacity(1 << 14, &mut *file), 0);
    let version = read_preamble(&mut scanner).ok()?;
    let meta = match scanner.next_chunk().ok()? {
        Next::Chunk(chunk) if chunk.kind == ChunkKind::Meta => decode_meta(&chunk, version).ok()?,
        _ => return None,
    };
    drop(scanner);
    let to = options.to_ns.unwrap_or(u64::MAX);
    let mut filter = SampleFilter {
        accepts: options.samples_of,
        kept: Default::default(),
    };
    let mut recording = Recording {
        version,
        meta,
        end: Some(tail.end),
        ..Recording::default()
    };
    // Interval chunks lie in the order of their entries, and so do samples chunks, each after
    // its interval chunk (not necessarily right after: a recorder writes the intervals that come
    // while samples are symbolised first), so no chunk is read twice and a ranged read never
    // reads more than the file.
    let (mut last_interval, mut last_samples) = (0, 0);
    for entry in &tail.entries {
        if entry.interval <= last_interval
            || (entry.samples != 0
                && (entry.samples <= entry.interval || entry.samples <= last_samples))
        {
            return None;
        }
        last_interval = entry.interval;
        last_samples = last_samples.max(entry.samples);
        let in_range = entry.end_ns >= from && entry.start_ns <= to;
        if in_range || entry.flags & crate::index::INTERVAL_DECLARES != 0 {
            let chunk = crate::index::chunk_at(file, entry.interval)?;
            if chunk.kind != ChunkKind::Interval {
                return None;
            }
            let interval = decode_interval(&chunk, version).ok()?;
            if interval.seq != entry.seq {
                return None;
            }
            filter.add_interval(&mut recording, interval);
        }
        if entry.samples != 0 && (in_range || entry.flags & crate::index::SAMPLES_DECLARE != 0) {
            let chunk = crate::index::chunk_at(file, entry.samples)?;
            let none = |_: u32| false;
            let keep = |s: u32| filter.keeps(s);
            // Out of the range only the frames and stacks it declares are kept.
            let keep: &dyn Fn(u32) -> bool = if in_range { &keep } else { &none };
            let samples = match chunk.kind {
                ChunkKind::PackedSamples => {
                    crate::packed::decode(&chunk.payload, keep, version.1).ok()?
                }
                _ => return None,
            };
            if samples.seq != entry.seq {
                return None;
            }
            recording.samples.push(samples);
        }
    }
    if let Some(warning) = lost_declarations(&recording) {
        recording.warnings.push(warning);
    }
    Some(recording)
}

/// What a reader keeps of a recording. The default keeps everything.
#[derive(Default, Clone, Copy)]
pub struct ReadOptions<'a> {
    /// Keep the stack-sample counts of only the subtasks this accepts (told by their
    /// declaration); `None` keeps every subtask's. Frames and stacks are kept whatever it says,
    /// and so is every interval chunk. A command about one subtask needs a fraction of the memory.
    pub samples_of: Option<&'a dyn Fn(&SubtaskDecl) -> bool>,
    /// The start of the time range a command analyses, ns since the recording started. When
    /// set, [`read_file_with`] may leave out the interval and samples chunks that end before it
    /// or start after [`ReadOptions::to_ns`] and declare nothing, reading through the file's
    /// index. `None` reads every chunk.
    pub from_ns: Option<u64>,
    /// The end of that range (`None`: the end of the recording); used only with `from_ns`.
    pub to_ns: Option<u64>,
}

impl std::fmt::Debug for ReadOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadOptions")
            .field("samples_of", &self.samples_of.map(|_| "a filter"))
            .field("from_ns", &self.from_ns)
            .field("to_ns", &self.to_ns)
            .finish()
    }
}

/// Which subtasks' samples a read keeps: the ids whose declaration the filter accepted.
struct SampleFilter<'a> {
    accepts: Option<&'a dyn Fn(&SubtaskDecl) -> bool>,
    /// Asked once per subtask block of every samples chunk, where a search of the few ids a
    /// command draws is cheaper than hashing.
    kept: std::collections::BTreeSet<u32>,
}

impl SampleFilter<'_> {
    fn declared(&mut self, decl: &SubtaskDecl) {
        if self.accepts.is_some_and(|accepts| accepts(decl)) {
            self.kept.insert(decl.id);
        }
    }
    fn keeps(&self, subtask: u32) -> bool {
        self.accepts.is_none() || self.kept.contains(&subtask)
    }

    /// Adds `interval` to `recording`: its declarations pass through the filter, its runtime
    /// warnings are kept once each.
    fn add_interval(&mut self, recording: &mut Recording, interval: IntervalChunk) {
        interval
            .declared_subtasks
            .iter()
            .for_each(|d| self.declared(d));
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
}

/// Reads a recording from any reader. Never panics; allocates no more than the input holds plus a
/// bounded amount (about 1 MiB), whatever lengths the input declares. A chunk damaged after the
/// meta chunk is skipped with a [`ReadWarning::Damaged`] and reading resumes at the next intact
/// chunk.
pub fn read_recording(input: impl Read) -> Result<Recording, ReadError> {
    read_recording_with(input, &ReadOptions::default())
}

/// Reads a recording from any reader, keeping what `options` asks for; otherwise as
/// [`read_recording`].
pub fn read_recording_with(
    input: impl Read,
    options: &ReadOptions<'_>,
) -> Result<Recording, ReadError> {
    let mut filter = SampleFilter {
        accepts: options.samples_of,
        kept: Default::default(),
    };
    let mut reader = Scanner::new(input, 0);
    let version = read_preamble(&mut reader)?;
    let meta = match reader.next_chunk()? {
        Next::Chunk(chunk) if chunk.kind == ChunkKind::Meta => decode_meta(&chunk, version)?,
        Next::Chunk(chunk) => {
            return Err(chunk.corrupt(format!(
                "the first chunk must be the meta chunk, found kind {}",
                chunk.kind.to_byte()
            )))
        }
        Next::Damaged { start, reason, .. } => {
            return Err(ReadError::Corrupt {
                offset: start,
                index: 0,
                reason: format!(
                    "the meta chunk is damaged ({reason}), and nothing in a recording can be read without it"
                ),
            })
        }
        Next::Truncated { end, .. } => return Err(ReadError::TruncatedHeader { offset: end }),
        Next::Eof => {
            return Err(ReadError::TruncatedHeader {
                offset: reader.offset(),
            })
        }
    };
    let mut recording = Recording {
        version,
        meta,
        ..Recording::default()
    };

    let mut unknown = 0u64;
    // A damaged stretch not yet followed by an interval chunk, which tells what it lost.
    let mut gap: Option<Gap> = None;
    // Where damaged bytes after the end chunk start and how many there are: they lose nothing.
    let mut trailing: Option<(u64, u64)> = None;
    loop {
        let chunk = match reader.next_chunk()? {
            Next::Chunk(chunk) => chunk,
            Next::Damaged { start, end, .. } if recording.end.is_some() => {
                trailing.get_or_insert((start, 0)).1 += end - start;
                continue;
            }
            Next::Damaged { start, end, .. } => {
                let after = recording.intervals.last().map(|i| IntervalMark {
                    seq: i.seq,
                    ns: i.end_ns,
                });
                gap.get_or_insert(Gap {
                    offset: start,
                    skipped: 0,
                    after,
                })
                .skipped += end - start;
                continue;
            }
            Next::Truncated { start, .. } => {
                close_gap(&mut gap, None, &mut recording);
                recording.warnings.push(ReadWarning::Truncated {
                    offset: start,
                    complete_chunks: reader.complete_chunks(),
                });
                break;
            }
            Next::Eof => {
                // Damage at the end may have taken the end chunk: the warning says so already.
                let damaged_tail = gap.is_some();
                close_gap(&mut gap, None, &mut recording);
                if recording.end.is_none() && !damaged_tail {
                    recording.warnings.push(ReadWarning::NotFinalised);
                }
                break;
            }
        };
        match chunk.kind {
            // Newer minor versions may add kinds anywhere, even after the end chunk.
            ChunkKind::Unknown(_) => unknown += 1,
            // A ranged read uses the index (`index.rs`); a scan has no use for it.
            ChunkKind::Index | ChunkKind::IndexLocator => {}
            _ if recording.end.is_some() => {
                return Err(chunk.corrupt("a chunk after the end chunk"))
            }
            ChunkKind::Interval => {
                let interval = decode_interval(&chunk, version)?;
                let mark = IntervalMark {
                    seq: interval.seq,
                    ns: interval.start_ns,
                };
                close_gap(&mut gap, Some(mark), &mut recording);
                filter.add_interval(&mut recording, interval);
            }
            ChunkKind::Samples => {
                let mut samples = decode_samples(&chunk, version)?;
                if filter.accepts.is_some() {
                    samples.counts.retain(|c| filter.keeps(c.subtask));
                    samples.counts.shrink_to_fit();
                }
                recording.samples.push(samples);
            }
            ChunkKind::PackedSamples => {
                let samples = crate::packed::decode(&chunk.payload, &|s| filter.keeps(s), version.1)
                    .map_err(|problem| {
                        chunk.corrupt(format!(
                            "the packed samples payload passes its checksums but does not decode ({problem}): it was written by a faulty or incompatible writer"
                        ))
                    })?;
                recording.samples.push(samples);
            }
            ChunkKind::End => {
                let end: EndChunk = decode(&chunk)?;
                let mark = IntervalMark {
                    seq: end.chunks,
                    ns: end.end_ns,
                };
                close_gap(&mut gap, Some(mark), &mut recording);
                recording.end = Some(end);
            }
            ChunkKind::Meta => return Err(chunk.corrupt("a second meta chunk")),
        }
    }
    if let Some((offset, count)) = trailing {
        recording
            .warnings
            .push(ReadWarning::TrailingBytes { offset, count });
    }
    if let Some(warning) = lost_declarations(&recording) {
        recording.warnings.push(warning);
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

/// A damaged stretch whose end is not known yet: the damaged chunks since the last interval
/// chunk read.
struct Gap {
    /// Offset of its first damaged chunk.
    offset: u64,
    /// Bytes of damaged chunks skipped.
    skipped: u64,
    /// The last interval chunk read before it.
    after: Option<IntervalMark>,
}

/// Ends the open damaged stretch, if any, at `before` (the interval chunk, or end chunk, read
/// after it; `None` at the end of the input) and warns about what it lost.
fn close_gap(gap: &mut Option<Gap>, before: Option<IntervalMark>, recording: &mut Recording) {
    if let Some(gap) = gap.take() {
        recording.warnings.push(ReadWarning::Damaged {
            offset: gap.offset,
            skipped: gap.skipped,
            lost: Lost {
                after: gap.after,
                before,
            },
        });
    }
}

/// Reads and checks the preamble; returns the format version.
fn read_preamble(reader: &mut Scanner<impl Read>) -> Result<(u16, u16), ReadError> {
    let mut preamble = [0u8; PREAMBLE_LEN];
    let got = reader.read_exact_or_less(&mut preamble)?;
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
    Ok((major, minor))
}

/// The payload of `chunk`, decoded. Trailing bytes are allowed: a newer minor version may append
/// fields to a payload.
fn decode<T: DeserializeOwned>(chunk: &Chunk) -> Result<T, ReadError> {
    postcard::take_from_bytes(&chunk.payload)
        .map(|(value, _rest)| value)
        .map_err(|e| {
            chunk.corrupt(format!(
                "the {} payload passes its checksums but does not decode ({}): it was written by a faulty or incompatible writer",
                kind_name(chunk.kind),
                decode_problem(&e)
            ))
        })
}

/// The name of a chunk kind, for messages.
fn kind_name(kind: ChunkKind) -> &'static str {
    match kind {
        ChunkKind::Meta => "meta",
        ChunkKind::Interval => "interval",
        ChunkKind::End => "end",
        ChunkKind::Samples => "samples",
        ChunkKind::PackedSamples => "packed samples",
        ChunkKind::Index => "index",
        ChunkKind::IndexLocator => "index locator",
        ChunkKind::Unknown(_) => "unknown",
    }
}

/// What is wrong with a payload, in the terms of `docs/format.md` rather than postcard's own
/// (`Found a bool that wasn't 0 or 1`).
fn decode_problem(error: &postcard::Error) -> &'static str {
    use postcard::Error as E;
    match error {
        E::DeserializeUnexpectedEnd => "it ends before its last field",
        E::DeserializeBadVarint => {
            "a number takes more bytes than its type allows, or does not fit it"
        }
        E::DeserializeBadBool => "a true/false field holds a byte other than 00 or 01",
        E::DeserializeBadOption => "an optional field's tag is neither 00 nor 01",
        E::DeserializeBadChar | E::DeserializeBadUtf8 => "a text field is not valid UTF-8",
        E::DeserializeBadEnum | E::SerdeDeCustom => {
            "a field holds a value its type does not have, such as an unknown enum variant"
        }
        _ => "its fields are not encoded as the format specifies",
    }
}

/// An interval chunk of a file of format `version`. A payload ends where its writer's struct
/// ended, and postcard cannot tell a missing field from a damaged payload, so the payload of an
/// older minor version is decoded with that version's layout and the fields added since take
/// their empty values.
fn decode_interval(chunk: &Chunk, version: (u16, u16)) -> Result<IntervalChunk, ReadError> {
    match version.1 {
        0 => decode::<IntervalChunk1_0>(chunk).map(IntervalChunk::from),
        // A postcard struct is its fields one after the other, so a 1.1 payload reads as the 1.0
        // fields followed by the one field 1.1 added.
        1 => decode::<(IntervalChunk1_0, Vec<OperatorCalls>)>(chunk).map(
            |(interval, operator_calls)| IntervalChunk {
                operator_calls,
                ..IntervalChunk::from(interval)
            },
        ),
        2 => decode_with_empty_tail(chunk, INTERVAL_FIELDS_SINCE_1_2),
        _ => decode(chunk),
    }
}

/// Fields appended to [`IntervalChunk`] since format 1.2 (`polls`).
const INTERVAL_FIELDS_SINCE_1_2: usize = 1;

/// Fields appended to [`SamplesChunk`] since format 1.2 (`between_polls`).
const SAMPLES_FIELDS_SINCE_1_2: usize = 1;

/// A samples chunk of a file of format `version`.
fn decode_samples(chunk: &Chunk, version: (u16, u16)) -> Result<SamplesChunk, ReadError> {
    match version.1 {
        0..=2 => decode_with_empty_tail(chunk, SAMPLES_FIELDS_SINCE_1_2),
        _ => decode(chunk),
    }
}

/// The payload of a chunk written before `fields` fields were appended to its type, decoded
/// with those fields empty. Every field added since 1.2 is a number, a list or an option, whose
/// empty value (0, no element, none) postcard encodes as a single zero byte: the old payload
/// followed by one zero byte per missing field is the payload the new writer would write.
fn decode_with_empty_tail<T: DeserializeOwned>(
    chunk: &Chunk,
    fields: usize,
) -> Result<T, ReadError> {
    let mut payload = Vec::with_capacity(chunk.payload.len() + fields);
    payload.extend_from_slice(&chunk.payload);
    payload.resize(chunk.payload.len() + fields, 0);
    decode(&Chunk {
        kind: chunk.kind,
        payload,
        offset: chunk.offset,
        index: chunk.index,
    })
}

/// The meta chunk of a file of format `version` (before 1.2 it ends after `sample_hz`).
fn decode_meta(chunk: &Chunk, version: (u16, u16)) -> Result<RecordingMeta, ReadError> {
    match version.1 {
        0 | 1 => decode::<RecordingMeta1_1>(chunk).map(RecordingMeta::from),
        _ => decode(chunk),
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
