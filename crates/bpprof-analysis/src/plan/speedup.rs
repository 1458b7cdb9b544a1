//! A function's share of a task's on-CPU busy samples: what making it faster saves.
//!
//! A sample counts when any frame of its stack is the function (self + callees, each sample once
//! even when the function recurses): making a function `x` times faster shrinks the time of the
//! whole call, callees included. A frame matches when it is the name given or ends with `::`
//! and the name (`score_record` matches `slow_operator::score_record`).

use crate::flame::{escape_frame, fold, FlameError, FlameOptions, Folded, Mode, Selection};
use crate::range::AnalysisOptions;
use bpprof_format::{Recording, SampleState};

/// Samples of one task: how many on-CPU busy samples it has, and how many hold the function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Share {
    pub samples: u64,
    pub matching: u64,
}

/// The on-CPU busy samples of `task` over `range` that hold `function`; `None` when the task has
/// none in the range (or the recording none at all).
pub(crate) fn share(
    recording: &Recording,
    range: &AnalysisOptions,
    task: &str,
    function: &str,
) -> Result<Option<Share>, FlameError> {
    let Some(folded) = on_cpu_busy(recording, range, task)? else {
        return Ok(None);
    };
    let wanted = escape_frame(function);
    let suffix = format!("::{wanted}");
    let matching = folded
        .stacks
        .iter()
        .filter(|(stack, _)| {
            stack
                .split(';')
                .any(|frame| frame == wanted || frame.ends_with(&suffix))
        })
        .map(|(_, &count)| count)
        .sum();
    Ok(Some(Share {
        samples: folded.samples,
        matching,
    }))
}

/// The folded on-CPU busy samples of every subtask of `task` over `range`; `None` when there are
/// none.
fn on_cpu_busy(
    recording: &Recording,
    range: &AnalysisOptions,
    task: &str,
) -> Result<Option<Folded>, FlameError> {
    let options = FlameOptions {
        selection: Selection::Task(task.to_owned()),
        mode: Mode::OnCpu,
        states: [SampleState::Busy].into_iter().collect(),
        from_s: range.from_s,
        to_s: range.to_s,
        operator: None,
    };
    match fold(recording, &options) {
        Ok(folded) => Ok(Some(folded)),
        Err(FlameError::NoSamples { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The frame under which a thread wakes a peer parked on one of bpprof's instrumented channels
/// (they are `crossbeam-channel`'s): the futex wake-up is its callee.
pub(crate) const WAKE_FRAME: &str = "crossbeam_channel::waker::SyncWaker::notify";

/// The share of `task`'s on-CPU busy samples over `range` spent waking parked peers of its
/// channels ([`WAKE_FRAME`]); 0 without samples.
pub(crate) fn wake_share(
    recording: &Recording,
    range: &AnalysisOptions,
    task: &str,
) -> Result<f64, FlameError> {
    Ok(match share(recording, range, task, WAKE_FRAME)? {
        Some(s) if s.samples > 0 => s.matching as f64 / s.samples as f64,
        _ => 0.0,
    })
}

/// Frames of the `tasks`' on-CPU busy samples whose name contains `hint` (case-insensitive), most
/// sampled first, at most `limit`: suggestions for a function that matched nothing.
pub(crate) fn similar_frames(
    recording: &Recording,
    range: &AnalysisOptions,
    tasks: &[String],
    hint: &str,
    limit: usize,
) -> Vec<String> {
    let hint = hint.rsplit("::").next().unwrap_or(hint).to_lowercase();
    let mut counts: std::collections::BTreeMap<String, u64> = Default::default();
    for task in tasks {
        let Ok(Some(folded)) = on_cpu_busy(recording, range, task) else {
            continue;
        };
        for (stack, &count) in &folded.stacks {
            for frame in stack.split(';') {
                if frame.to_lowercase().contains(&hint) {
                    *counts.entry(frame.to_owned()).or_default() += count;
                }
            }
        }
    }
    let mut frames: Vec<(String, u64)> = counts.into_iter().collect();
    frames.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    frames.into_iter().take(limit).map(|(f, _)| f).collect()
}
