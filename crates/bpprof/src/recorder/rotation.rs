//! Rotation: a recording written as a series of files (`NAME.000000.bpprof`,
//! `NAME.000001.bpprof`, ...), each within a size or age limit, the series within a total size
//! on disk (its oldest files removed). The settings ([`Rotation`]), and the bookkeeping of the
//! series on the writer thread ([`Series`]): when the file in progress is full, which files to
//! remove. What a new file must declare again is in `declarations.rs`.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bpprof_format::env::{self, SettingError};
use bpprof_format::{series_file, series_files};

/// The smallest size limit per file accepted: a file holds its preamble, its meta chunk, the
/// declarations it repeats and the frames and stacks its samples use, and then a few intervals.
pub const MIN_FILE_BYTES: u64 = 64 * 1024;
/// The size limit per file when only a total is given: a tenth of it, so that the oldest
/// tenth of the series goes at a time.
const FILES_PER_TOTAL: u64 = 10;

/// How a recording is split into a series of files (see `docs/runtime.md`, "Rotation"). At
/// least one limit must be given. A new file is started when the one being written would
/// exceed [`Rotation::max_file_bytes`] with its next interval, or is older than
/// [`Rotation::max_file_age`]; after each new file, the oldest files are removed while the
/// series could exceed [`Rotation::max_total_bytes`] on disk.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rotation {
    /// Size limit of one file, bytes; at least [`MIN_FILE_BYTES`]. Default: none, or a tenth
    /// of [`Rotation::max_total_bytes`] when that is given.
    pub max_file_bytes: Option<u64>,
    /// Age limit of one file. Default: none.
    pub max_file_age: Option<Duration>,
    /// Limit of the whole series on disk, bytes (the file being written included); at least
    /// two files' size limit. Default: none (no file is removed).
    pub max_total_bytes: Option<u64>,
}

impl Rotation {
    /// No limit yet (not a valid rotation until one is set).
    pub fn new() -> Self {
        Rotation::default()
    }

    /// Sets the size limit of one file (see [`Rotation::max_file_bytes`]).
    pub fn max_file_bytes(mut self, bytes: u64) -> Self {
        self.max_file_bytes = Some(bytes);
        self
    }

    /// Sets the age limit of one file (see [`Rotation::max_file_age`]).
    pub fn max_file_age(mut self, age: Duration) -> Self {
        self.max_file_age = Some(age);
        self
    }

    /// Sets the limit of the whole series on disk (see [`Rotation::max_total_bytes`]).
    pub fn max_total_bytes(mut self, bytes: u64) -> Self {
        self.max_total_bytes = Some(bytes);
        self
    }

    /// The rotation the environment asks for: [`env::ENV_OUT_MAX_FILE`],
    /// [`env::ENV_OUT_MAX_AGE`] and [`env::ENV_OUT_MAX_TOTAL`]; `None` when none is set (or all
    /// are empty).
    pub fn from_env() -> Result<Option<Rotation>, RotationError> {
        let var = |name: &'static str| {
            std::env::var_os(name)
                .map(|v| v.to_string_lossy().into_owned())
                .filter(|v| !v.trim().is_empty())
        };
        let setting =
            |name: &'static str| move |source| RotationError::Setting { var: name, source };
        let file = var(env::ENV_OUT_MAX_FILE);
        let age = var(env::ENV_OUT_MAX_AGE);
        let total = var(env::ENV_OUT_MAX_TOTAL);
        if file.is_none() && age.is_none() && total.is_none() {
            return Ok(None);
        }
        Ok(Some(Rotation {
            max_file_bytes: file
                .map(|v| env::parse_size(&v))
                .transpose()
                .map_err(setting(env::ENV_OUT_MAX_FILE))?,
            max_file_age: age
                .map(|v| env::parse_duration(&v))
                .transpose()
                .map_err(setting(env::ENV_OUT_MAX_AGE))?,
            max_total_bytes: total
                .map(|v| env::parse_size(&v))
                .transpose()
                .map_err(setting(env::ENV_OUT_MAX_TOTAL))?,
        }))
    }

    /// The limits in force, checked.
    pub(crate) fn limits(&self) -> Result<Limits, RotationError> {
        let max_file = self
            .max_file_bytes
            .or(self.max_total_bytes.map(|t| t / FILES_PER_TOTAL));
        if max_file.is_none() && self.max_file_age.is_none() {
            return Err(RotationError::NoLimit);
        }
        if self.max_file_age == Some(Duration::ZERO) {
            return Err(RotationError::ZeroAge);
        }
        if let Some(bytes) = max_file.filter(|&b| b < MIN_FILE_BYTES) {
            return Err(RotationError::FileTooSmall { bytes });
        }
        if let (Some(total), Some(file)) = (self.max_total_bytes, max_file) {
            if total < file.saturating_mul(2) {
                return Err(RotationError::TotalTooSmall { total, file });
            }
        }
        Ok(Limits {
            max_file,
            max_age: self.max_file_age,
            max_total: self.max_total_bytes,
        })
    }
}

/// Why a [`Rotation`] cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RotationError {
    /// Neither a size nor an age limit per file (nor a total, which implies a size).
    #[error("no limit given: set a size per file, an age per file or a total size (for example {}=64MiB)", env::ENV_OUT_MAX_FILE)]
    NoLimit,
    /// The size limit per file is below [`MIN_FILE_BYTES`].
    #[error("a file limit of {bytes} bytes is too small: a file must hold the declarations it repeats and a few intervals; give at least 64KiB")]
    FileTooSmall {
        /// The limit given (or derived from the total).
        bytes: u64,
    },
    /// The total is less than two files: the file being written and the last finished one.
    #[error("a total of {total} bytes is less than two files of {file} bytes: give a total of at least twice the file limit")]
    TotalTooSmall {
        /// The total given.
        total: u64,
        /// The size limit per file.
        file: u64,
    },
    /// An age limit of zero would start a new file for every interval.
    #[error("a file age limit of zero would start a file for every interval: give a duration such as 10m")]
    ZeroAge,
    /// An environment variable does not parse.
    #[error("{var}: {source}")]
    Setting {
        /// The variable.
        var: &'static str,
        /// What is wrong with its value.
        source: SettingError,
    },
}

/// The checked limits of a rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    pub max_file: Option<u64>,
    pub max_age: Option<Duration>,
    pub max_total: Option<u64>,
}

/// Removes the files of an earlier series of `base` (and a plain recording at `base`), as a
/// recording without rotation truncates its file: left there, they would be read as part of the
/// new series, and count against its total. Errors are left to the creation of the first file.
pub(crate) fn remove_earlier(base: &Path) {
    for (_, file) in series_files(base).unwrap_or_default() {
        let _ = std::fs::remove_file(file);
    }
    if base.is_file() {
        let _ = std::fs::remove_file(base);
    }
}

/// The series being written, on the writer thread: its files, their sizes, and the room the
/// next interval needs.
#[derive(Debug)]
pub(crate) struct Series {
    base: PathBuf,
    limits: Limits,
    /// Part number of the file being written.
    part: u64,
    /// When the file being written was started.
    started: Instant,
    /// The finished files still on disk, oldest first, with their sizes.
    finished: VecDeque<(PathBuf, u64)>,
    /// Largest interval chunk written, bytes, but for the first of each file (which declares
    /// everything again: the next interval of a file is never one).
    largest_interval: u64,
    /// Largest first interval of a file, bytes: the estimate before any other was written.
    largest_first: u64,
    /// Largest samples chunk written, bytes.
    largest_samples: u64,
    /// Whether a file could not be removed (told once).
    warned_remove: bool,
}

impl Series {
    /// The series of `base`, writing its first file.
    pub fn new(base: PathBuf, limits: Limits) -> Series {
        Series {
            base,
            limits,
            part: 0,
            started: Instant::now(),
            finished: VecDeque::new(),
            largest_interval: 0,
            largest_first: 0,
            largest_samples: 0,
            warned_remove: false,
        }
    }

    /// The file being written.
    pub fn current(&self) -> PathBuf {
        series_file(&self.base, self.part)
    }

    /// An interval chunk of `bytes` was written, the first of its file when `first`.
    pub fn wrote_interval(&mut self, bytes: u64, first: bool) {
        if first {
            self.largest_first = self.largest_first.max(bytes);
        } else {
            self.largest_interval = self.largest_interval.max(bytes);
        }
    }

    /// A samples chunk of `bytes` was written.
    pub fn wrote_samples(&mut self, bytes: u64) {
        self.largest_samples = self.largest_samples.max(bytes);
    }

    /// Whether the file being written must be finished before the next interval: it is older
    /// than the age limit, or the next interval, the `pending_samples` samples chunks still to
    /// come (of the intervals written, and the next one's) and what finishing the file appends
    /// (`finish_bound`, and the next interval's index entry) could take it past its size limit.
    /// Chunks are taken to be as large as the largest of their kind written so far (before the
    /// first, as large as the largest interval chunk). A file without an interval is never
    /// full.
    pub fn full(
        &self,
        written: u64,
        intervals: u64,
        pending_samples: u64,
        finish_bound: u64,
    ) -> bool {
        if intervals == 0 {
            return false;
        }
        if self
            .limits
            .max_age
            .is_some_and(|age| self.started.elapsed() >= age)
        {
            return true;
        }
        let Some(max) = self.limits.max_file else {
            return false;
        };
        let interval = match self.largest_interval {
            0 => self.largest_first,
            n => n,
        };
        let samples = match self.largest_samples {
            0 => interval,
            n => n,
        };
        let room = interval
            .saturating_add(samples.saturating_mul(pending_samples))
            .saturating_add(finish_bound)
            .saturating_add(INDEX_ENTRY_BOUND);
        written.saturating_add(room) > max
    }

    /// The file being written was finished at `bytes`: starts the next one (returned), after
    /// removing the oldest files while the series could exceed its total (the finished files
    /// and a whole next file). Failures to remove are told once, on stderr and in the
    /// recording (through `warn`).
    pub fn next_file(&mut self, bytes: u64, warn: impl FnOnce(String)) -> PathBuf {
        self.finished.push_back((self.current(), bytes));
        if let (Some(total), Some(file)) = (self.limits.max_total, self.limits.max_file) {
            let mut kept: u64 = self.finished.iter().map(|(_, b)| b).sum();
            let mut failure = None;
            while kept.saturating_add(file) > total {
                let Some((oldest, size)) = self.finished.pop_front() else {
                    break;
                };
                kept -= size;
                if let Err(e) = std::fs::remove_file(&oldest) {
                    if e.kind() != std::io::ErrorKind::NotFound {
                        failure.get_or_insert(format!(
                            "cannot remove the old recording file '{}' to keep the series within {total} bytes: {e}; remove old files of the series by hand",
                            oldest.display()
                        ));
                    }
                }
            }
            if let Some(message) = failure.filter(|_| !self.warned_remove) {
                self.warned_remove = true;
                warn(message);
            }
        }
        self.part += 1;
        self.started = Instant::now();
        self.current()
    }
}

/// What one more index entry adds to `finish_bound` (five varints and a byte of flags).
const INDEX_ENTRY_BOUND: u64 = 51;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_total_alone_gives_files_of_a_tenth() {
        let limits = Rotation::new()
            .max_total_bytes(10_000_000)
            .limits()
            .unwrap();
        assert_eq!(limits.max_file, Some(1_000_000));
        assert_eq!(limits.max_total, Some(10_000_000));
    }

    #[test]
    fn limits_that_cannot_work_are_refused() {
        assert_eq!(Rotation::new().limits(), Err(RotationError::NoLimit));
        assert_eq!(
            Rotation::new().max_file_bytes(1000).limits(),
            Err(RotationError::FileTooSmall { bytes: 1000 })
        );
        assert_eq!(
            Rotation::new().max_total_bytes(100_000).limits(),
            Err(RotationError::FileTooSmall { bytes: 10_000 })
        );
        assert_eq!(
            Rotation::new()
                .max_file_bytes(1 << 20)
                .max_total_bytes(3 << 19)
                .limits(),
            Err(RotationError::TotalTooSmall {
                total: 3 << 19,
                file: 1 << 20
            })
        );
        assert_eq!(
            Rotation::new().max_file_age(Duration::ZERO).limits(),
            Err(RotationError::ZeroAge)
        );
        // An age alone is enough.
        assert!(Rotation::new()
            .max_file_age(Duration::from_secs(600))
            .limits()
            .is_ok());
    }

    #[test]
    fn a_file_is_full_when_the_next_interval_and_its_samples_might_not_fit() {
        let limits = Rotation::new()
            .max_file_bytes(MIN_FILE_BYTES)
            .limits()
            .unwrap();
        let mut series = Series::new(PathBuf::from("out.bpprof"), limits);
        // The first interval of a file is larger (it declares everything again), and never the
        // next one.
        series.wrote_interval(30_000, true);
        series.wrote_interval(1000, false);
        series.wrote_samples(4000);
        let bound = 200;
        let room = 1000 + 4000 + bound + INDEX_ENTRY_BOUND;
        assert!(!series.full(MIN_FILE_BYTES - room, 3, 1, bound));
        assert!(series.full(MIN_FILE_BYTES - room + 1, 3, 1, bound));
        // Samples still being symbolised need room too.
        assert!(series.full(MIN_FILE_BYTES - room, 3, 2, bound));
        // A file without an interval is never full, however large the chunks.
        assert!(!series.full(MIN_FILE_BYTES, 0, 1, bound));
    }

    #[test]
    fn the_oldest_files_go_while_the_finished_ones_and_a_whole_next_file_exceed_the_total() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("out.bpprof");
        let file = 100_000;
        let limits = Rotation::new()
            .max_file_bytes(file)
            .max_total_bytes(3 * file + 50_000)
            .limits()
            .unwrap();
        let mut series = Series::new(base.clone(), limits);
        for part in 0..6 {
            std::fs::write(series_file(&base, part), b"x").unwrap();
            let next = series.next_file(file, |m| panic!("{m}"));
            assert_eq!(next, series_file(&base, part + 1));
            // 3.5 files: the finished files may take 2.5, so two stay.
            let kept: Vec<u64> = series_files(&base)
                .unwrap()
                .iter()
                .map(|(p, _)| *p)
                .collect();
            let expected: Vec<u64> = (part.saturating_sub(1)..=part).collect();
            assert_eq!(kept, expected, "after part {part}");
        }
    }
}
