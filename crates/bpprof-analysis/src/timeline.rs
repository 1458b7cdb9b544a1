//! The timeline: the bottleneck of every window, and whether it moves between tasks.
//!
//! The analysed range is cut into windows of consecutive intervals (one interval each by default,
//! see [`crate::AnalysisOptions::window_s`]) and each window goes through the same rules as the
//! whole range ([`crate::verdict`]). A task's *share* is the fraction of the analysed time in
//! which it is a bottleneck. Tasks *take turns* when at least two of them each have a share of at
//! least [`TURN_MIN_SHARE`] and below [`TURN_MAX_SHARE`] (and are bottlenecks in at least
//! [`TURN_MIN_WINDOWS`] windows): the bottleneck then *moves*, and the averaged verdict, which can
//! name a task that is never the bottleneck, is replaced by a timeline verdict. A task that is a
//! bottleneck [`TURN_MAX_SHARE`] of the time or more keeps the averaged verdict.
//!
//! The task that takes over (the turn-taker with the smallest share) is *periodic* when it has at
//! least [`PERIOD_MIN_RUNS`] turns whose start is seen and the gaps between those starts are all
//! within [`PERIOD_TOLERANCE`] of their median: the period is that median, the duration the median
//! length of its turns.

use std::collections::BTreeSet;

use bpprof_format::Recording;

use crate::graph::JobGraph;
use crate::locate::tasks::analyse;
use crate::median::median;
use crate::report::{Bottleneck, Level, StripRow, TaskReport, TaskShare, Timeline, WindowVerdict};
use crate::units::{pct, seconds};
use crate::verdict::thresholds::BUSY_MIN;
use crate::window::{self, Selection};

/// A task takes turns as the bottleneck when it is one at least this share of the time...
pub const TURN_MIN_SHARE: f64 = 0.10;
/// ...and less than this share (a task that is the bottleneck this much keeps the averaged
/// verdict)...
pub const TURN_MAX_SHARE: f64 = 0.90;
/// ...in at least this many windows.
pub const TURN_MIN_WINDOWS: usize = 2;
/// Fewest turns (with a seen start) of the task that takes over for a period to be reported.
pub const PERIOD_MIN_RUNS: usize = 3;
/// The gaps between the starts of those turns must all be within this fraction of their median.
pub const PERIOD_TOLERANCE: f64 = 0.30;

pub use crate::report::{CELL_BACKPRESSURED, CELL_BOTTLENECK, CELL_BUSY, CELL_IDLE, CELL_UNKNOWN};

/// What the timeline adds to the report.
pub(crate) struct Built {
    pub windows: Vec<WindowVerdict>,
    pub timeline: Timeline,
    /// Present when the bottleneck moves: the verdict and bottlenecks that replace the averaged
    /// ones.
    pub moving: Option<Moving>,
}

/// The timeline verdict of a moving bottleneck.
pub(crate) struct Moving {
    pub verdict: String,
    pub bottlenecks: Vec<Bottleneck>,
}

/// Analyses every window of `selection` and finds whether the bottleneck moves.
pub(crate) fn build(
    recording: &Recording,
    graph: &JobGraph,
    selection: &Selection,
    window_s: Option<f64>,
) -> Built {
    let windows = window::split(recording, selection, window_s);
    let mut verdicts = Vec::with_capacity(windows.len());
    let mut strip: Vec<String> = vec![String::new(); graph.tasks.len()];
    for w in &windows {
        let (tasks, _, conclusion) = analyse(recording, graph, w);
        let names: Vec<String> = conclusion
            .bottlenecks
            .iter()
            .map(|b| b.task.clone())
            .collect();
        for (row, task) in strip.iter_mut().zip(&tasks) {
            row.push(cell(task, names.contains(&task.name)));
        }
        verdicts.push(WindowVerdict {
            from_s: w.from_s,
            to_s: w.to_s,
            kind: conclusion.bottlenecks.first().map(|b| b.kind),
            bottlenecks: names,
        });
    }

    let total: f64 = windows.iter().map(|w| w.seconds).sum();
    let named: BTreeSet<&str> = verdicts
        .iter()
        .flat_map(|v| v.bottlenecks.iter().map(String::as_str))
        .collect();
    let mut shares: Vec<(TaskShare, usize)> = graph
        .tasks
        .iter()
        .filter(|t| named.contains(t.name.as_str()))
        .map(|t| {
            let mut time = 0.0;
            let mut count = 0;
            for (v, w) in verdicts.iter().zip(&windows) {
                if v.bottlenecks.contains(&t.name) {
                    time += w.seconds;
                    count += 1;
                }
            }
            let share = if total > 0.0 { time / total } else { 0.0 };
            let share = TaskShare {
                task: t.name.clone(),
                share,
            };
            (share, count)
        })
        .collect();
    // Largest share first; graph order on ties (the sort is stable).
    shares.sort_by(|a, b| b.0.share.total_cmp(&a.0.share));
    let turns: Vec<&TaskShare> = shares
        .iter()
        .filter(|(s, count)| {
            s.share >= TURN_MIN_SHARE && s.share < TURN_MAX_SHARE && *count >= TURN_MIN_WINDOWS
        })
        .map(|(s, _)| s)
        .collect();
    let moving_now = turns.len() >= 2;

    let (period_s, duration_s) = match turns.last() {
        Some(taker) if moving_now => period(&verdicts, &taker.task),
        _ => (None, None),
    };
    let moving = moving_now.then(|| {
        let taker = turns.last().map(|s| s.task.as_str()).unwrap_or_default();
        let listed: Vec<&TaskShare> = shares
            .iter()
            .map(|(s, _)| s)
            .filter(|s| s.share >= TURN_MIN_SHARE)
            .collect();
        let verdict = moving_verdict(
            &listed, total, &verdicts, &windows, taker, period_s, duration_s,
        );
        let bottlenecks = listed
            .iter()
            .filter_map(|s| turn_bottleneck(recording, graph, &windows, &verdicts, &s.task))
            .collect();
        Moving {
            verdict,
            bottlenecks,
        }
    });

    Built {
        windows: verdicts,
        timeline: Timeline {
            moving: moving_now,
            shares: shares.into_iter().map(|(s, _)| s).collect(),
            period_s,
            duration_s,
            strip: graph
                .tasks
                .iter()
                .zip(strip)
                .map(|(t, cells)| StripRow {
                    task: t.name.clone(),
                    cells,
                })
                .collect(),
        },
        moving,
    }
}

fn cell(task: &TaskReport, bottleneck: bool) -> char {
    if bottleneck {
        CELL_BOTTLENECK
    } else if matches!(task.level, Some(Level::Low | Level::High)) {
        CELL_BACKPRESSURED
    } else if task.busy.is_none() {
        CELL_UNKNOWN
    } else if task.busy.is_some_and(|b| b >= BUSY_MIN) {
        CELL_BUSY
    } else {
        CELL_IDLE
    }
}

/// The period and duration of `task`'s turns, when they are regular (see the module docs).
fn period(verdicts: &[WindowVerdict], task: &str) -> (Option<f64>, Option<f64>) {
    let is = |i: usize| verdicts[i].bottlenecks.iter().any(|t| t == task);
    // Runs of consecutive windows: (first, last) window index.
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for i in 0..verdicts.len() {
        if !is(i) {
            continue;
        }
        match runs.last_mut() {
            Some(run) if run.1 + 1 == i => run.1 = i,
            _ => runs.push((i, i)),
        }
    }
    let last = verdicts.len().saturating_sub(1);
    // A turn under way when the range starts has no known start; one under way when it ends has
    // no known length.
    let starts: Vec<f64> = runs
        .iter()
        .filter(|r| r.0 > 0)
        .map(|r| verdicts[r.0].from_s)
        .collect();
    if starts.len() < PERIOD_MIN_RUNS {
        return (None, None);
    }
    let gaps: Vec<f64> = starts.windows(2).map(|p| p[1] - p[0]).collect();
    let gap = median(&mut gaps.clone()).unwrap_or(0.0);
    if gap <= 0.0
        || gaps
            .iter()
            .any(|g| (g - gap).abs() > PERIOD_TOLERANCE * gap)
    {
        return (None, None);
    }
    let length = |r: &(usize, usize)| verdicts[r.1].to_s - verdicts[r.0].from_s;
    let mut whole: Vec<f64> = runs
        .iter()
        .filter(|r| r.0 > 0 && r.1 < last)
        .map(length)
        .collect();
    if whole.is_empty() {
        whole = runs.iter().map(length).collect();
    }
    (Some(gap), Some(median(&mut whole).unwrap_or(0.0)))
}

/// "The bottleneck moves: SlidingWindow is the bottleneck 62% of the time, Check 38%; Check takes
/// over every ~4 s for ~1.5 s."
fn moving_verdict(
    listed: &[&TaskShare],
    total: f64,
    verdicts: &[WindowVerdict],
    windows: &[Selection],
    taker: &str,
    period_s: Option<f64>,
    duration_s: Option<f64>,
) -> String {
    let mut parts = Vec::new();
    for (i, s) in listed.iter().enumerate() {
        if i == 0 {
            parts.push(format!(
                "{} is the bottleneck {} of the time",
                s.task,
                pct(s.share)
            ));
        } else {
            parts.push(format!("{} {}", s.task, pct(s.share)));
        }
    }
    let mut text = format!("The bottleneck moves: {}", parts.join(", "));
    let none: f64 = verdicts
        .iter()
        .zip(windows)
        .filter(|(v, _)| v.bottlenecks.is_empty())
        .map(|(_, w)| w.seconds)
        .sum();
    if total > 0.0 && none / total >= TURN_MIN_SHARE {
        text.push_str(&format!(", none {}", pct(none / total)));
    }
    if let (Some(p), Some(d)) = (period_s, duration_s) {
        text.push_str(&format!(
            "; {taker} takes over every ~{} s for ~{} s",
            round(p),
            round(d)
        ));
    }
    text.push('.');
    text
}

/// Seconds rounded for a sentence: one decimal below 10 s, whole seconds above.
fn round(s: f64) -> String {
    if s >= 10.0 {
        seconds(s.round())
    } else {
        seconds((s * 10.0).round() / 10.0)
    }
}

/// `task` as a bottleneck over the windows in which it is one: the rules applied to those
/// windows together (the first window's finding when the union does not name it).
fn turn_bottleneck(
    recording: &Recording,
    graph: &JobGraph,
    windows: &[Selection],
    verdicts: &[WindowVerdict],
    task: &str,
) -> Option<Bottleneck> {
    let mine: Vec<&Selection> = windows
        .iter()
        .zip(verdicts)
        .filter(|(_, v)| v.bottlenecks.iter().any(|t| t == task))
        .map(|(w, _)| w)
        .collect();
    let first = mine.first()?;
    let union = Selection {
        intervals: mine
            .iter()
            .flat_map(|w| w.intervals.iter().copied())
            .collect(),
        from_s: first.from_s,
        to_s: mine.last().map_or(first.to_s, |w| w.to_s),
        seconds: mine.iter().map(|w| w.seconds).sum(),
    };
    let find = |s: &Selection| {
        analyse(recording, graph, s)
            .2
            .bottlenecks
            .into_iter()
            .find(|b| b.task == task)
    };
    find(&union).or_else(|| find(first))
}
