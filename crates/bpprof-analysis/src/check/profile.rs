//! Which functions of a task got more (or less) expensive per record: the on-CPU stack samples of
//! every subtask of the task, normalised per record processed, compared between the sides.

use std::collections::{BTreeMap, BTreeSet};

use bpprof_format::Recording;

use super::report::{FunctionChange, FunctionDiff, FunctionStatus};
use crate::flame::{fold, FlameOptions, Mode, Selection};
use crate::range::AnalysisOptions;

/// Functions listed per task, largest change first.
pub const FUNCTION_ROWS: usize = 20;
/// Frames of the hottest path shown (the innermost ones).
pub const PATH_FRAMES: usize = 3;
/// A frame whose total is at least this share of the task's cost on both sides, and whose self
/// cost is at most the rest, encloses everything (a thread entry point) and is not listed.
pub const ENCLOSING_SHARE: f64 = 0.99;

/// Cost per record of one side, ns: per function (self and total) and per innermost path.
#[derive(Debug, Default)]
struct SideCost {
    self_ns: BTreeMap<String, f64>,
    total_ns: BTreeMap<String, f64>,
    /// Innermost [`PATH_FRAMES`] frames (outermost first, joined by `;`) to cost.
    paths: BTreeMap<String, f64>,
    /// Sum of the costs of all samples, ns per record.
    total: f64,
    records: u64,
    samples: u64,
}

/// The per-function comparison of `task` between the sides, from on-CPU samples; `None` when a
/// side has no usable samples (sampling off, or no records processed).
///
/// Each on-CPU sample stands for an equal part of the task's measured CPU time over the range
/// ([`crate::flame::Folded::ns_per_sample`]; not for one sampling period: a runnable thread
/// waiting for a CPU is sampled late), so the self costs add up to the task's CPU per record.
pub(crate) fn function_diff(
    task: &str,
    why: &str,
    baseline: &[&Recording],
    current: &[&Recording],
    range: &AnalysisOptions,
) -> Option<FunctionDiff> {
    let base = side_cost(task, baseline, range)?;
    let cur = side_cost(task, current, range)?;
    let names: BTreeSet<&String> = base.total_ns.keys().chain(cur.total_ns.keys()).collect();
    let mut rows: Vec<FunctionChange> = names
        .into_iter()
        .map(|name| {
            let get = |m: &BTreeMap<String, f64>| m.get(name).copied().unwrap_or(0.0);
            let (total_baseline, total_current) = (get(&base.total_ns), get(&cur.total_ns));
            FunctionChange {
                function: name.clone(),
                self_baseline: get(&base.self_ns),
                self_current: get(&cur.self_ns),
                total_baseline,
                total_current,
                status: if total_baseline == 0.0 {
                    FunctionStatus::New
                } else if total_current == 0.0 {
                    FunctionStatus::Vanished
                } else {
                    FunctionStatus::Changed
                },
            }
        })
        .collect();
    // Frames under which (almost) every sample lies on both sides, with (almost) no cost of their
    // own (thread entry points, the subtask's loop), say nothing about where the change is.
    let enclosing = |total: f64, own: f64, all: f64| {
        total >= ENCLOSING_SHARE * all && own <= (1.0 - ENCLOSING_SHARE) * all
    };
    let everywhere = |r: &FunctionChange| {
        enclosing(r.total_baseline, r.self_baseline, base.total)
            && enclosing(r.total_current, r.self_current, cur.total)
    };
    rows.retain(|r| !everywhere(r));
    let change = |r: &FunctionChange| {
        (r.self_current - r.self_baseline)
            .abs()
            .max((r.total_current - r.total_baseline).abs())
    };
    rows.sort_by(|a, b| change(b).total_cmp(&change(a)));
    rows.truncate(FUNCTION_ROWS);
    let hottest_path = cur
        .paths
        .iter()
        .map(|(path, &c)| (path, c - base.paths.get(path).copied().unwrap_or(0.0)))
        .filter(|&(_, growth)| growth > 0.0)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(path, _)| path.split(';').map(str::to_owned).collect())
        .unwrap_or_default();
    Some(FunctionDiff {
        task: task.to_owned(),
        why: why.to_owned(),
        records: [base.records, cur.records],
        samples: [base.samples, cur.samples],
        unit: "ns/record".to_owned(),
        rows,
        hottest_path,
    })
}

/// The mean over `recordings` of each function's cost per record (recordings without samples or
/// records of the task, or without a time per sample, are left out). A sample stands for its
/// share of the task's CPU time ([`crate::flame::Folded::ns_per_sample`]), or for one sampling
/// period when the task's CPU time is not measured (an unaccounted task).
fn side_cost(task: &str, recordings: &[&Recording], range: &AnalysisOptions) -> Option<SideCost> {
    let options = FlameOptions {
        selection: Selection::Task(task.to_owned()),
        mode: Mode::OnCpu,
        from_s: range.from_s,
        to_s: range.to_s,
        ..FlameOptions::default()
    };
    let mut side = SideCost::default();
    let mut used = 0usize;
    for &recording in recordings {
        let Ok(folded) = fold(recording, &options) else {
            continue;
        };
        if folded.records == 0 || folded.samples == 0 {
            continue;
        }
        let Some(ns_per_sample) = folded
            .ns_per_sample()
            .or_else(|| (folded.sample_hz > 0).then(|| 1e9 / f64::from(folded.sample_hz)))
        else {
            continue;
        };
        used += 1;
        side.records += folded.records;
        side.samples += folded.samples;
        for (stack, &count) in &folded.stacks {
            let cost = count as f64 * ns_per_sample / folded.records as f64;
            let frames: Vec<&str> = stack.split(';').collect();
            if let Some(leaf) = frames.last() {
                *side.self_ns.entry((*leaf).to_owned()).or_default() += cost;
            }
            let distinct: BTreeSet<&str> = frames.iter().copied().collect();
            for frame in distinct {
                *side.total_ns.entry(frame.to_owned()).or_default() += cost;
            }
            side.total += cost;
            let inner = &frames[frames.len().saturating_sub(PATH_FRAMES)..];
            *side.paths.entry(inner.join(";")).or_default() += cost;
        }
    }
    if used == 0 {
        return None;
    }
    let n = used as f64;
    for map in [&mut side.self_ns, &mut side.total_ns, &mut side.paths] {
        map.values_mut().for_each(|v| *v /= n);
    }
    side.total /= n;
    Some(side)
}
