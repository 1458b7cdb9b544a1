//! A series of files read as one recording: the recorder, rotating, writes `NAME.000000.bpprof`,
//! `NAME.000001.bpprof`, ... (see `docs/format.md`, "Series of files"). Every file of a series
//! is a complete recording that reads alone: it repeats the meta chunk and, in its first chunks,
//! every declaration its chunks refer to. [`read_path`] finds the files of a series (a
//! directory, a glob pattern, or the base name) and joins them: the declarations once, the
//! intervals and samples one file after the other.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::{
    read_file_with, ChannelEndpoint, EdgeDecl, IntervalChunk, IntervalMark, Lost, ReadError,
    ReadOptions, ReadWarning, Recording, RuntimeWarning, SamplesChunk, TaskDecl,
};

/// The extension of recording files.
const EXTENSION: &str = "bpprof";
/// Digits of the part number in a series file's name (more when the number needs them).
const PART_DIGITS: usize = 6;

/// Why a path does not name a recording's files, or they are not one recording. Its message is
/// one line: the problem ([`SeriesError::problem`]), then the fix ([`SeriesError::fix`]).
#[derive(Debug, thiserror::Error)]
pub enum SeriesError {
    /// A glob pattern matched no file.
    NoMatch {
        /// The pattern.
        pattern: String,
    },
    /// A directory holds no `.bpprof` file.
    EmptyDirectory {
        /// The directory.
        dir: String,
    },
    /// A path with glob characters (`*`, `?`, `[`) is not a valid pattern.
    BadPattern {
        /// The pattern.
        pattern: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Two files were written by different recordings (another run, another process).
    NotOneRecording {
        /// A file of the series.
        first: String,
        /// A file written by another recording.
        other: String,
    },
    /// A file of the series could not be read.
    File {
        /// The file.
        file: String,
        /// Why.
        error: Box<ReadError>,
    },
}

impl SeriesError {
    /// What is wrong.
    pub fn problem(&self) -> String {
        match self {
            SeriesError::NoMatch { pattern } => format!("no file matches '{pattern}'"),
            SeriesError::EmptyDirectory { dir } => {
                format!("the directory '{dir}' holds no .bpprof file")
            }
            SeriesError::BadPattern { pattern, reason } => {
                format!("'{pattern}' is not a valid pattern ({reason})")
            }
            SeriesError::NotOneRecording { first, other } => format!(
                "'{first}' and '{other}' are not files of one recording (their metadata differ: another run wrote one of them)"
            ),
            SeriesError::File { file, error } => format!("'{file}': {error}"),
        }
    }

    /// How to fix it (empty for [`SeriesError::File`], whose error says).
    pub fn fix(&self) -> &'static str {
        match self {
            SeriesError::NoMatch { .. } => "give a recording, a directory of recordings or a pattern naming them, such as 'out.*.bpprof'",
            SeriesError::EmptyDirectory { .. } => "give the directory the recorder wrote its series to, or a recording file",
            SeriesError::BadPattern { .. } => "use *, ? and [...] as in 'out.*.bpprof', and quote it from the shell",
            SeriesError::NotOneRecording { .. } => "give the files of one series only",
            SeriesError::File { .. } => "",
        }
    }
}

impl std::fmt::Display for SeriesError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.fix() {
            "" => f.write_str(&self.problem()),
            fix => write!(f, "{}: {fix}", self.problem()),
        }
    }
}

/// The name of part `part` of the series whose base name is `base`: `NAME.000042.bpprof` for
/// `NAME.bpprof` (and for `NAME`).
pub fn series_file(base: &Path, part: u64) -> PathBuf {
    let mut name = stem(base).to_os_string();
    name.push(format!(".{part:0PART_DIGITS$}.{EXTENSION}"));
    base.with_file_name(name)
}

/// The file name of `base` without its `.bpprof` extension.
fn stem(base: &Path) -> &std::ffi::OsStr {
    let name = base.file_name().unwrap_or_default();
    match base.extension() {
        Some(ext) if ext == EXTENSION => base.file_stem().unwrap_or(name),
        _ => name,
    }
}

/// The part number of `name` if it is a file of the series of `base` (`NAME.NNNNNN.bpprof`).
pub fn series_part(base: &Path, name: &Path) -> Option<u64> {
    let stem = stem(base).to_str()?;
    let name = name.file_name()?.to_str()?;
    let digits = name
        .strip_prefix(stem)?
        .strip_prefix('.')?
        .strip_suffix(EXTENSION)?
        .strip_suffix('.')?;
    if digits.len() < PART_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The files of the series of `base` on disk, by part number.
pub fn series_files(base: &Path) -> std::io::Result<Vec<(u64, PathBuf)>> {
    let dir = match base.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if let Some(part) = series_part(base, &path) {
            files.push((
                part,
                base.with_file_name(path.file_name().unwrap_or_default()),
            ));
        }
    }
    files.sort();
    Ok(files)
}

/// The files `path` names: a file is itself; a directory, its `*.bpprof` files; a glob pattern,
/// the files it matches; a base name `NAME.bpprof` that does not exist, the files of its series
/// (`NAME.NNNNNN.bpprof`). A path that is none of these is itself (reading it then fails). The
/// files come sorted by name.
pub fn recording_files(path: &Path) -> Result<Vec<PathBuf>, SeriesError> {
    let name = path.display().to_string();
    if let Ok(meta) = std::fs::metadata(path) {
        if !meta.is_dir() {
            return Ok(vec![path.to_path_buf()]);
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| SeriesError::File {
                file: name.clone(),
                error: Box::new(ReadError::Io(e)),
            })?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == EXTENSION) && p.is_file())
            .collect();
        if files.is_empty() {
            return Err(SeriesError::EmptyDirectory { dir: name });
        }
        files.sort();
        return Ok(files);
    }
    if name.contains(['*', '?', '[']) {
        let matches = glob::glob(&name).map_err(|e| SeriesError::BadPattern {
            pattern: name.clone(),
            reason: e.msg.to_owned(),
        })?;
        let mut files: Vec<PathBuf> = matches
            .filter_map(Result::ok)
            .filter(|p| p.is_file())
            .collect();
        if files.is_empty() {
            return Err(SeriesError::NoMatch { pattern: name });
        }
        files.sort();
        return Ok(files);
    }
    match series_files(path) {
        Ok(files) if !files.is_empty() => Ok(files.into_iter().map(|(_, p)| p).collect()),
        _ => Ok(vec![path.to_path_buf()]),
    }
}

/// Reads the recording `path` names (see [`recording_files`]): one file as [`crate::read_file`]
/// does, a series joined into one recording.
pub fn read_path(path: impl AsRef<Path>) -> Result<Recording, ReadError> {
    read_path_with(path, &ReadOptions::default())
}

/// Reads the recording `path` names, keeping what `options` asks for (each file is read with
/// them, see [`read_file_with`]).
///
/// The files of a series must be of one recording (the same start time, process, host, program
/// and interval), else [`SeriesError::NotOneRecording`]. They are joined in the order of their
/// intervals; each file's warnings come wrapped in [`ReadWarning::InFile`] (but the runtime's
/// own warnings, once each, and the [`ReadWarning::NotFinalised`] of the newest file, the one
/// still being written or whose writer was killed), and a [`ReadWarning::SeriesGap`] tells
/// where intervals are missing between two files (not in a ranged read, which leaves intervals
/// out on purpose). A file that ends before its first chunk is complete (the recorder was killed
/// as it started the file) holds nothing and is skipped with a [`ReadWarning::Truncated`].
pub fn read_path_with(
    path: impl AsRef<Path>,
    options: &ReadOptions<'_>,
) -> Result<Recording, ReadError> {
    let path = path.as_ref();
    let files = recording_files(path)?;
    if let [file] = &files[..] {
        return read_file_with(file, options);
    }
    let mut read: Vec<(String, Recording)> = Vec::with_capacity(files.len());
    let mut skipped = Vec::new();
    for file in &files {
        let name = file.display().to_string();
        match read_file_with(file, options) {
            Ok(recording) => read.push((name, recording)),
            Err(ReadError::Empty) => skipped.push(empty_file(name, 0)),
            Err(ReadError::TruncatedHeader { offset }) => skipped.push(empty_file(name, offset)),
            Err(error) => {
                return Err(SeriesError::File {
                    file: name,
                    error: Box::new(error),
                }
                .into())
            }
        }
    }
    if read.is_empty() {
        // Nothing but empty files: the first one's error, as if it had been given alone.
        return read_file_with(&files[0], options);
    }
    check_one_recording(&read)?;
    read.sort_by_key(|(name, r)| {
        (
            r.intervals.first().map_or(u64::MAX, |i| i.seq),
            name.clone(),
        )
    });
    let mut joined = join(read, options.from_ns.is_none());
    joined.warnings.extend(skipped);
    Ok(joined)
}

/// The warning for a file of a series that holds no complete chunk.
fn empty_file(file: String, offset: u64) -> ReadWarning {
    ReadWarning::InFile {
        file,
        warning: Box::new(ReadWarning::Truncated {
            offset,
            complete_chunks: 0,
        }),
    }
}

/// Whether the files read are of one recording: the same meta, but for what may change while
/// it runs.
fn check_one_recording(read: &[(String, Recording)]) -> Result<(), SeriesError> {
    let (first, one) = &read[0];
    let key = |r: &Recording| {
        let m = &r.meta;
        (
            m.start_unix_ns,
            m.pid,
            m.host.clone(),
            m.program.clone(),
            m.interval_ns,
        )
    };
    let expected = key(one);
    match read.iter().find(|(_, r)| key(r) != expected) {
        Some((other, _)) => Err(SeriesError::NotOneRecording {
            first: first.clone(),
            other: other.clone(),
        }),
        None => Ok(()),
    }
}

/// Joins the files of one recording, in order; `whole`: every interval was read (gaps between
/// files are then missing files).
fn join(read: Vec<(String, Recording)>, whole: bool) -> Recording {
    let count = read.len();
    let mut seen = Declared::default();
    let mut joined: Option<Recording> = None;
    let mut last_interval: Option<IntervalMark> = None;
    for (n, (name, mut recording)) in read.into_iter().enumerate() {
        let newest = n + 1 == count;
        let mut warnings = Vec::with_capacity(recording.warnings.len() + 1);
        if let (Some(before), Some(first)) = (last_interval, recording.intervals.first()) {
            if whole && first.seq != before.seq.saturating_add(1) {
                warnings.push(ReadWarning::SeriesGap {
                    lost: Lost {
                        after: Some(before),
                        before: Some(IntervalMark {
                            seq: first.seq,
                            ns: first.start_ns,
                        }),
                    },
                });
            }
        }
        for warning in recording.warnings.drain(..) {
            warnings.push(match warning {
                ReadWarning::Runtime { .. } => warning,
                ReadWarning::NotFinalised if newest => warning,
                other => ReadWarning::InFile {
                    file: name.clone(),
                    warning: Box::new(other),
                },
            });
        }
        if let Some(last) = recording.intervals.last() {
            last_interval = Some(IntervalMark {
                seq: last.seq,
                ns: last.end_ns,
            });
        }
        for interval in &mut recording.intervals {
            seen.keep_new(interval);
        }
        for samples in &mut recording.samples {
            seen.keep_new_samples(samples);
        }
        match &mut joined {
            None => {
                recording.warnings = Vec::new();
                joined = Some(recording);
            }
            Some(all) => {
                all.intervals.append(&mut recording.intervals);
                all.samples.append(&mut recording.samples);
                all.end = recording.end;
            }
        }
        let all = joined.as_mut().expect("set above");
        for warning in warnings {
            // Runtime warnings are repeated by every file that carries them.
            if !matches!(warning, ReadWarning::Runtime { .. }) || !all.warnings.contains(&warning) {
                all.warnings.push(warning);
            }
        }
    }
    joined.unwrap_or_default()
}

/// The declarations of the files joined so far: each file repeats those its chunks refer to,
/// the joined recording keeps them once.
#[derive(Default)]
struct Declared {
    tasks: Vec<TaskDecl>,
    subtasks: HashSet<u32>,
    channels: HashSet<u32>,
    links: HashSet<u32>,
    edges: Vec<EdgeDecl>,
    endpoints: HashSet<(u32, u32, bool)>,
    operators: HashSet<(u32, u32)>,
    warnings: Vec<RuntimeWarning>,
    frames: HashSet<u32>,
    stacks: HashSet<u32>,
}

impl Declared {
    /// Removes from `interval` what was declared before it, and notes what it declares.
    fn keep_new(&mut self, interval: &mut IntervalChunk) {
        interval
            .declared_tasks
            .retain(|t| first_time(&mut self.tasks, t));
        interval
            .declared_subtasks
            .retain(|s| self.subtasks.insert(s.id));
        interval
            .declared_channels
            .retain(|c| self.channels.insert(c.id));
        interval.declared_links.retain(|&l| self.links.insert(l));
        interval
            .declared_edges
            .retain(|e| first_time(&mut self.edges, e));
        interval
            .endpoints
            .retain(|e: &ChannelEndpoint| self.endpoints.insert(endpoint_key(e)));
        interval
            .declared_operators
            .retain(|o| self.operators.insert((o.subtask, o.id)));
        interval
            .warnings
            .retain(|w| first_time(&mut self.warnings, w));
    }

    /// Removes from `samples` the frames and stacks declared before it.
    fn keep_new_samples(&mut self, samples: &mut SamplesChunk) {
        samples.frames.retain(|f| self.frames.insert(f.id));
        samples.stacks.retain(|s| self.stacks.insert(s.id));
    }
}

fn endpoint_key(e: &ChannelEndpoint) -> (u32, u32, bool) {
    (
        e.channel,
        e.subtask,
        e.role == crate::EndpointRole::Receiver,
    )
}

/// Whether `item` is not in `seen` yet; adds it.
fn first_time<T: PartialEq + Clone>(seen: &mut Vec<T>, item: &T) -> bool {
    if seen.contains(item) {
        return false;
    }
    seen.push(item.clone());
    true
}

#[cfg(test)]
mod tests;
