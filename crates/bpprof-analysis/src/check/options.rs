//! What `bpprof check` is given: the recordings ([`CheckInput`]), how to compare them
//! ([`CheckOptions`] and its defaults), and why a check could not be made ([`CheckError`]).

use bpprof_format::Recording;

use super::budget::Budget;
use super::limits::Limits;
use crate::range::{AnalysisError, AnalysisOptions};

/// Default family-wise confidence level.
pub const DEFAULT_CONFIDENCE: f64 = 0.95;
/// Default number of bootstrap resamples per interval.
pub const DEFAULT_RESAMPLES: usize = 5_000;
/// Default seed of the resampling.
pub const DEFAULT_SEED: u64 = 0x6270_7072_6f66;
/// Default minimum number of windows per side for a comparison to be decided.
pub const DEFAULT_MIN_WINDOWS: usize = 10;
/// Bootstrap resamples of the comparisons that have no limit (shown for information only).
pub const INFO_RESAMPLES: usize = 1_000;
/// What to do when the recordings have too few windows.
pub(crate) const TOO_SHORT_ADVICE: &str =
    "record longer, repeat the recordings, or record with `bpprof record` (100 ms intervals)";

/// One input recording and the name to show for it.
#[derive(Debug, Clone, Copy)]
pub struct CheckInput<'a> {
    /// The path (or any name) shown in messages.
    pub path: &'a str,
    /// The recording.
    pub recording: &'a Recording,
}

/// How to compare.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckOptions {
    /// The range of each recording to compare, and the window length (`window_s`; default one
    /// recording interval per window).
    pub range: AnalysisOptions,
    /// Family-wise confidence level, in (0, 1). Default [`DEFAULT_CONFIDENCE`].
    pub confidence: f64,
    /// Bootstrap resamples per interval (at least 100). Default [`DEFAULT_RESAMPLES`].
    pub resamples: usize,
    /// Seed of the resampling. Default [`DEFAULT_SEED`].
    pub seed: u64,
    /// Fewer windows than this on a side make a comparison inconclusive (at least 2). Default
    /// [`DEFAULT_MIN_WINDOWS`].
    pub min_windows: usize,
    /// The limits.
    pub limits: Limits,
    /// Budgets evaluated on the current recordings.
    pub budgets: Vec<Budget>,
    /// The (baseline index, current index) pairs that are one file, as the caller found by file
    /// identity (device and inode: `./run.bpprof` and a link to it are `run.bpprof`); a current
    /// recording in one of them, or with the same name as a baseline, is compared with itself,
    /// which the report warns of. Default: none (only equal names are seen).
    pub same_files: Vec<(usize, usize)>,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            range: AnalysisOptions::default(),
            confidence: DEFAULT_CONFIDENCE,
            resamples: DEFAULT_RESAMPLES,
            seed: DEFAULT_SEED,
            min_windows: DEFAULT_MIN_WINDOWS,
            limits: Limits::default(),
            budgets: Vec::new(),
            same_files: Vec::new(),
        }
    }
}

/// Why a check could not be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CheckError {
    /// No current recording was given.
    #[error("no recording to check")]
    NoCurrent,
    /// Neither a baseline nor a budget: nothing to check.
    #[error("nothing to check: give --baseline recordings to compare with, or --assert budgets")]
    NothingToCheck,
    /// The recordings ran different job graphs.
    #[error("the recordings ran different job graphs: {}", differences.join("; "))]
    Incompatible {
        /// What differs, one sentence each.
        differences: Vec<String>,
    },
    /// A recording could not be analysed over the range.
    #[error("{path}: {source}")]
    Analysis {
        /// The recording.
        path: String,
        /// Why.
        source: AnalysisError,
    },
    /// A limit or budget names a task the recordings do not have.
    #[error("{used_in} names task '{wanted}', which the recordings do not have; tasks: {}", available.join(", "))]
    UnknownTask {
        /// The task named.
        wanted: String,
        /// Where (`--limit Enrch.busy=0.1`).
        used_in: String,
        /// The tasks of the recordings.
        available: Vec<String>,
    },
    /// An option is out of range.
    #[error("invalid option: {reason}")]
    InvalidOption {
        /// What is wrong.
        reason: String,
    },
}
