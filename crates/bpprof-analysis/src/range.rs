//! Which part of the recording is analysed, and whether it is enough.
//!
//! `select` picks the intervals of the range (by default every interval but the warm-up, when
//! skipping it leaves most of the run); [`coverage`] judges the selection: too few intervals, or
//! a small part of the recording, make it [`Coverage::short`], and every command says so
//! ([`Coverage::warning`]). [`AnalysisOptions`] is what every command asks for, and
//! [`AnalysisError`] why a range cannot be analysed.

use bpprof_format::Recording;
use serde::{Deserialize, Serialize};

use crate::units::{plural, seconds, NS_PER_S};
use crate::window::Selection;

/// Which part of the recording to analyse.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AnalysisOptions {
    /// Start of the range, seconds since the recording started. Default (`None`): the end of the
    /// first interval, so the warm-up is skipped, when the intervals after it cover at least
    /// [`MIN_ANALYSED_SHARE`] of the recording; 0 otherwise.
    pub from_s: Option<f64>,
    /// End of the range (exclusive), seconds since the recording started. Default (`None`): the
    /// end of the recording.
    ///
    /// An interval is analysed when its midpoint lies in `[from_s, to_s)`.
    pub to_s: Option<f64>,
    /// Length of the windows the range is cut into for the timeline, seconds: a window is a group
    /// of consecutive intervals (see [`crate::timeline`]). Default (`None`): one interval per window.
    pub window_s: Option<f64>,
}

/// Why a recording could not be analysed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnalysisError {
    /// The recording holds no complete interval at all.
    #[error("the recording holds no complete interval (the program stopped before the first interval ended)")]
    NoIntervals,
    /// No interval's midpoint falls in the requested range.
    #[error(
        "no complete interval between {} s and {} s; the recording covers 0–{} s",
        seconds(*from_s), seconds(*to_s), seconds(*duration_s)
    )]
    EmptyRange {
        /// Start of the requested range, seconds.
        from_s: f64,
        /// End of the requested range, seconds.
        to_s: f64,
        /// Length of the recording, seconds.
        duration_s: f64,
    },
    /// The requested range is malformed (negative, not a number, or empty).
    #[error("invalid range: {reason}")]
    InvalidRange {
        /// What is wrong with it.
        reason: String,
    },
    /// The requested window length is not a positive number of seconds.
    #[error("invalid window: --window must be a positive number of seconds, got {window_s}")]
    InvalidWindow {
        /// The requested length.
        window_s: f64,
    },
}

/// [`AnalysisError::InvalidWindow`] unless `options.window_s` is unset or a positive number.
pub(crate) fn check_window(options: &AnalysisOptions) -> Result<(), AnalysisError> {
    match options.window_s {
        Some(w) if !(w.is_finite() && w > 0.0) => Err(AnalysisError::InvalidWindow { window_s: w }),
        _ => Ok(()),
    }
}

/// By default the first interval (the warm-up) is skipped only when the intervals after it still
/// cover at least this share of the recording; otherwise the analysis starts at 0.
pub const MIN_ANALYSED_SHARE: f64 = 0.75;

/// A range of fewer intervals than this is too short for a reliable verdict.
pub const MIN_INTERVALS: usize = 5;

/// Without an explicit `--from` / `--to`, a range whose intervals cover less than this share of
/// the recording is too short (a small part of the run).
pub const MIN_COVERED_SHARE: f64 = 0.5;

/// The interval the advice suggests when a recording's intervals are longer: the shortest the
/// recorder accepts, and what `bpprof record` uses.
const ADVISED_INTERVAL_MS: u64 = 100;

/// Length of the whole recording, seconds: the end chunk's end, or the end of the last interval.
pub(crate) fn duration_s(recording: &Recording) -> f64 {
    let last = recording
        .intervals
        .iter()
        .map(|i| i.end_ns)
        .max()
        .unwrap_or(0);
    let end = recording.end.as_ref().map_or(0, |e| e.end_ns);
    last.max(end) as f64 / NS_PER_S
}

/// Selects the intervals whose midpoint lies in `[from, to)`.
///
/// Defaults: `to` = the end of the recording; `from` = the end of the first interval (the
/// warm-up is skipped) when the intervals that remain cover at least [`MIN_ANALYSED_SHARE`] of
/// the recording (up to `to`), else 0.
pub(crate) fn select(
    recording: &Recording,
    options: &AnalysisOptions,
) -> Result<Selection, AnalysisError> {
    for (name, value) in [("--from", options.from_s), ("--to", options.to_s)] {
        if let Some(v) = value {
            if !v.is_finite() || v < 0.0 {
                return Err(AnalysisError::InvalidRange {
                    reason: format!("{name} must be a non-negative number of seconds, got {v}"),
                });
            }
        }
    }
    if let (Some(from), Some(to)) = (options.from_s, options.to_s) {
        if from >= to {
            return Err(AnalysisError::InvalidRange {
                reason: format!("--from ({from} s) must be before --to ({to} s)"),
            });
        }
    }
    let duration = duration_s(recording);
    if recording.intervals.is_empty() {
        return Err(AnalysisError::NoIntervals);
    }
    let to = options.to_s.unwrap_or(f64::INFINITY);
    let from = match options.from_s {
        Some(from) => from,
        None => {
            let warm_up_end = recording.intervals[0].end_ns as f64 / NS_PER_S;
            let remaining = seconds_of(recording, &midpoints_in(recording, warm_up_end, to));
            let whole = duration.min(to);
            if recording.intervals.len() > 1 && remaining >= MIN_ANALYSED_SHARE * whole {
                warm_up_end
            } else {
                0.0
            }
        }
    };
    let intervals = midpoints_in(recording, from, to);
    let (Some(&first), Some(&last)) = (intervals.first(), intervals.last()) else {
        return Err(AnalysisError::EmptyRange {
            from_s: from,
            to_s: options.to_s.unwrap_or(duration),
            duration_s: duration,
        });
    };
    Ok(Selection {
        from_s: recording.intervals[first].start_ns as f64 / NS_PER_S,
        to_s: recording.intervals[last].end_ns as f64 / NS_PER_S,
        seconds: seconds_of(recording, &intervals),
        intervals,
    })
}

/// The well-formed intervals whose midpoint lies in `[from, to)`, seconds.
fn midpoints_in(recording: &Recording, from: f64, to: f64) -> Vec<usize> {
    recording
        .intervals
        .iter()
        .enumerate()
        .filter(|(_, i)| {
            let mid = (i.start_ns as f64 + i.end_ns as f64) / 2.0 / NS_PER_S;
            i.end_ns >= i.start_ns && mid >= from && mid < to
        })
        .map(|(n, _)| n)
        .collect()
}

/// The summed lengths of `intervals`, seconds (gaps excluded).
fn seconds_of(recording: &Recording, intervals: &[usize]) -> f64 {
    intervals
        .iter()
        .map(|&n| {
            let i = &recording.intervals[n];
            i.end_ns.saturating_sub(i.start_ns)
        })
        .sum::<u64>() as f64
        / NS_PER_S
}

/// How much of the recording a range analyses, and whether that is enough.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Coverage {
    /// Start of the range (start of its first interval), seconds since the recording started.
    pub from_s: f64,
    /// End of the range (end of its last interval), seconds.
    pub to_s: f64,
    /// Summed length of the analysed intervals, seconds (gaps excluded).
    pub analysed_s: f64,
    /// Length of the whole recording, seconds.
    pub duration_s: f64,
    /// `analysed_s / duration_s` (1 for a recording of length 0).
    pub share: f64,
    /// Intervals analysed.
    pub intervals: usize,
    /// The recording's interval, seconds.
    pub interval_s: f64,
    /// True when the range was chosen with `--from` / `--to`.
    pub explicit: bool,
    /// Why the range is too short for a reliable verdict; `None` when it is enough.
    pub short: Option<ShortReason>,
}

/// Why a range is too short.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShortReason {
    /// Fewer than [`MIN_INTERVALS`] intervals.
    TooFewIntervals,
    /// Without `--from` / `--to`: less than [`MIN_COVERED_SHARE`] of the recording.
    SmallShare,
}

/// Selects the range of `options` (`select`) and judges it.
pub fn coverage(
    recording: &Recording,
    options: &AnalysisOptions,
) -> Result<Coverage, AnalysisError> {
    let selection = select(recording, options)?;
    Ok(assess(recording, options, &selection))
}

/// Judges `selection`, the range `options` chose in `recording`.
pub(crate) fn assess(
    recording: &Recording,
    options: &AnalysisOptions,
    selection: &Selection,
) -> Coverage {
    let duration_s = duration_s(recording);
    let share = if duration_s > 0.0 {
        (selection.seconds / duration_s).min(1.0)
    } else {
        1.0
    };
    let explicit = options.from_s.is_some() || options.to_s.is_some();
    let intervals = selection.intervals.len();
    let short = if intervals < MIN_INTERVALS {
        Some(ShortReason::TooFewIntervals)
    } else if !explicit && share < MIN_COVERED_SHARE {
        Some(ShortReason::SmallShare)
    } else {
        None
    };
    Coverage {
        from_s: selection.from_s,
        to_s: selection.to_s,
        analysed_s: selection.seconds,
        duration_s,
        share,
        intervals,
        interval_s: recording.meta.interval_ns as f64 / NS_PER_S,
        explicit,
        short,
    }
}

impl Coverage {
    /// True when the range is too short for a reliable verdict.
    pub fn is_short(&self) -> bool {
        self.short.is_some()
    }

    /// `analysed 0.1–1 s of 1 s (9 intervals)`.
    pub fn text(&self) -> String {
        crate::units::analysed_text(self.from_s, self.to_s, self.duration_s, self.intervals)
    }

    /// What is wrong with a short range and how to fix it, one sentence; `None` when it is
    /// enough.
    pub fn warning(&self) -> Option<String> {
        let advice = || {
            let interval_ms = (self.interval_s * 1e3).round() as u64;
            if interval_ms > ADVISED_INTERVAL_MS {
                format!(
                    "record longer, or with a shorter interval (BPPROF_INTERVAL_MS={ADVISED_INTERVAL_MS})"
                )
            } else {
                let at_least = (MIN_INTERVALS + 1) as f64 * self.interval_s;
                format!(
                    "record longer (at least {} s at {interval_ms} ms intervals)",
                    seconds(at_least)
                )
            }
        };
        match self.short? {
            ShortReason::TooFewIntervals => Some(format!(
                "only {} ({} s) analysed: too few for a reliable verdict (at least {MIN_INTERVALS} are needed); {}{}",
                plural(self.intervals, "interval"),
                seconds(self.analysed_s),
                advice(),
                if self.explicit { ", or widen --from / --to" } else { "" },
            )),
            ShortReason::SmallShare => Some(format!(
                "only {:.0}% of the {} s recording ({} s) analysed: a small part of the run; {}",
                self.share * 100.0,
                seconds(self.duration_s),
                seconds(self.analysed_s),
                advice()
            )),
        }
    }
}
