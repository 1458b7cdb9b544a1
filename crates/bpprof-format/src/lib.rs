//! The bpprof recording file format.
//!
//! A recording is a 16-byte preamble followed by self-checking chunks (see `docs/format.md` in the
//! repository for the byte-level specification). This crate holds the chunk types, a
//! [`RecordingWriter`] that appends them, and [`read_recording`], a reader that never panics, never
//! allocates more than the input justifies, reports a truncated tail as a warning, skips a damaged
//! chunk with a warning (reading on from the next intact one) and rejects foreign input, or a
//! recording whose meta chunk is damaged, with a typed [`ReadError`]. [`read_file_with`] reads
//! only part of a recording ([`ReadOptions`]): the stack samples of some subtasks, or the chunks
//! of a time range, found through the index a finished recording ends with (format 1.4).
//! [`read_path`] reads a series of files (a recording the recorder rotated: `NAME.000000.bpprof`,
//! `NAME.000001.bpprof`, ...) named by a directory, a glob pattern or the base name, as one
//! recording.
//!
//! It depends on neither libc nor signal handling, so analysis tools can link it alone.
//!
//! ```
//! use bpprof_format::{read_recording, IntervalChunk, RecordingMeta, RecordingWriter, EndChunk};
//!
//! let mut writer = RecordingWriter::new(Vec::new(), &RecordingMeta::default()).unwrap();
//! writer.write_interval(&IntervalChunk { seq: 0, start_ns: 0, end_ns: 1_000_000_000, ..Default::default() }).unwrap();
//! let bytes = writer.finish(&EndChunk { end_ns: 1_000_000_000, ..Default::default() }).unwrap();
//!
//! let recording = read_recording(&bytes[..]).unwrap();
//! assert_eq!(recording.intervals.len(), 1);
//! assert!(recording.warnings.is_empty());
//! ```
#![deny(missing_docs)]

mod chunk;
mod damage;
pub mod env;
mod index;
mod model;
mod packed;
mod read;
mod scan;
mod series;
mod write;

pub use chunk::{ChunkKind, CHUNK_HEADER_LEN, CHUNK_TRAILER_LEN, MAX_CHUNK_PAYLOAD};
pub use damage::{IntervalMark, Lost};
pub use model::*;
pub use read::{
    read_file, read_file_with, read_recording, read_recording_with, ReadError, ReadOptions,
    ReadWarning, Recording,
};
pub use series::{
    read_path, read_path_with, recording_files, series_file, series_files, series_part, SeriesError,
};
pub use write::RecordingWriter;

/// The eight bytes every recording starts with.
pub const MAGIC: [u8; 8] = *b"\x89BPPROF\n";
/// Major version of the format written by this crate. A reader rejects other majors.
pub const FORMAT_MAJOR: u16 = 1;
/// Minor version of the format written by this crate. Newer minors stay readable (see `docs/format.md`).
pub const FORMAT_MINOR: u16 = 5;
/// Length of the preamble: magic, major, minor and four reserved bytes.
pub const PREAMBLE_LEN: usize = 16;
