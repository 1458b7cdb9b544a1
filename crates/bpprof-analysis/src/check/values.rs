//! Every metric of a recording, per window and over the whole compared range.

use std::collections::BTreeMap;

use bpprof_format::Recording;

use super::report::Metric;
use crate::graph::JobGraph;
use crate::locate::tasks::task_report;
use crate::range::{AnalysisError, AnalysisOptions, Coverage};
use crate::window::{self, Selection};

/// A window shorter than this share of the nominal window (the recording interval, or
/// `--window`) is left out: the last interval of a recording is cut short when it stops.
pub const MIN_WINDOW_SHARE: f64 = 0.5;

/// What a metric is measured on: one task, or the job (`None`).
pub(crate) type Key = (Option<String>, Metric);

/// The metrics of one recording.
#[derive(Debug, Clone, Default)]
pub(crate) struct RecordingValues {
    /// Windows compared.
    pub windows: usize,
    /// Length of the compared range, seconds (gaps excluded).
    pub range_s: f64,
    /// The compared range and whether it is enough data.
    pub coverage: Option<Coverage>,
    /// Per-window values of each metric (windows where it is undefined are skipped).
    pub per_window: BTreeMap<Key, Vec<f64>>,
    /// Each metric over the whole compared range.
    pub whole: BTreeMap<Key, f64>,
    /// Each task's share of the CPU time of all tasks over the whole range.
    pub cpu_share: BTreeMap<String, f64>,
    /// Records each task processed over the whole range.
    pub records: BTreeMap<String, u64>,
    /// Per-window busy time of each task per record processed, and the part of it spent
    /// runnable but waiting for a CPU, µs. Windows without records or run-queue data are skipped.
    pub busy_parts: BTreeMap<(String, BusyPart), Vec<f64>>,
    /// Per-window share of each task's wall time spent runnable but waiting for a CPU (all of
    /// its subtasks together). Windows without run-queue data are skipped.
    pub runqueue_share: BTreeMap<String, Vec<f64>>,
}

/// A part of a task's busy time per record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum BusyPart {
    /// All of it: on the CPU, waiting for a CPU, and blocked off the CPU.
    Busy,
    /// Runnable, waiting for a CPU: time the machine, not the code, took.
    RunQueue,
}

/// Computes the metrics of `recording` over the range of `options`, cut into windows of
/// `options.window_s` (one interval each by default).
pub(crate) fn measure(
    recording: &Recording,
    graph: &JobGraph,
    options: &AnalysisOptions,
) -> Result<RecordingValues, AnalysisError> {
    let range_options = AnalysisOptions {
        window_s: None,
        ..*options
    };
    let range = crate::range::select(recording, &range_options)?;
    let nominal_s = options
        .window_s
        .unwrap_or(recording.meta.interval_ns as f64 / 1e9);
    let mut values = RecordingValues {
        range_s: range.seconds,
        coverage: Some(crate::range::assess(recording, &range_options, &range)),
        ..RecordingValues::default()
    };
    for w in window::split(recording, &range, options.window_s) {
        if w.seconds < MIN_WINDOW_SHARE * nominal_s {
            continue;
        }
        values.windows += 1;
        let measured = metrics_of(recording, graph, &w);
        for (key, value) in measured.values {
            values.per_window.entry(key).or_default().push(value);
        }
        for (key, value) in measured.busy_parts {
            values.busy_parts.entry(key).or_default().push(value);
        }
        for (task, share) in measured.runqueue_share {
            values.runqueue_share.entry(task).or_default().push(share);
        }
    }
    let whole = metrics_of(recording, graph, &range);
    values.whole = whole.values.into_iter().collect();
    let total_cpu: u64 = whole.cpu.values().sum();
    for (task, cpu) in &whole.cpu {
        let share = if total_cpu > 0 {
            *cpu as f64 / total_cpu as f64
        } else {
            0.0
        };
        values.cpu_share.insert(task.clone(), share);
    }
    values.records = whole.records;
    Ok(values)
}

/// The metrics of one selection.
struct Measured {
    values: Vec<(Key, f64)>,
    /// CPU time per task, ns.
    cpu: BTreeMap<String, u64>,
    /// Records processed per task.
    records: BTreeMap<String, u64>,
    /// Busy time per record and its run-queue part per task, µs.
    busy_parts: Vec<((String, BusyPart), f64)>,
    /// Waiting for a CPU as a share of wall time per task.
    runqueue_share: Vec<(String, f64)>,
}

/// Every defined metric of every task, and the job throughput, over `selection`.
fn metrics_of(recording: &Recording, graph: &JobGraph, selection: &Selection) -> Measured {
    let sums = window::subtask_sums(recording, graph, selection, None);
    let mut measured = Measured {
        values: Vec::new(),
        cpu: BTreeMap::new(),
        records: BTreeMap::new(),
        busy_parts: Vec::new(),
        runqueue_share: Vec::new(),
    };
    let mut throughput: Option<f64> = None;
    for (position, task) in graph.tasks.iter().enumerate() {
        let report = task_report(position, task, &sums, selection.seconds);
        let (mut cpu, mut records, mut busy, mut wall) = (0u64, 0u64, 0u64, 0u64);
        let mut runqueue = None::<u64>;
        for s in task
            .indices
            .iter()
            .filter_map(|&i| sums.get(&(position, i)))
        {
            cpu = cpu.saturating_add(s.cpu);
            records = records.saturating_add(s.records_processed());
            busy = busy.saturating_add(s.busy);
            wall = wall.saturating_add(s.wall.saturating_sub(s.threadless));
            if let Some(rq) = s.runqueue {
                runqueue = Some(runqueue.unwrap_or(0).saturating_add(rq));
            }
        }
        if let (Some(rq), false, true) = (runqueue, task.unaccounted, records > 0) {
            let per_record = |ns: u64| ns as f64 / records as f64 / 1e3;
            for (part, ns) in [(BusyPart::Busy, busy), (BusyPart::RunQueue, rq.min(busy))] {
                measured
                    .busy_parts
                    .push(((task.name.clone(), part), per_record(ns)));
            }
        }
        if let (Some(rq), false, true) = (runqueue, task.unaccounted, wall > 0) {
            let share = (rq.min(wall) as f64 / wall as f64).min(1.0);
            measured.runqueue_share.push((task.name.clone(), share));
        }
        let name = || Some(task.name.clone());
        let records_per_s = if report.records_in_per_s > 0.0 {
            report.records_in_per_s
        } else {
            report.records_out_per_s
        };
        measured
            .values
            .push(((name(), Metric::RecordsPerS), records_per_s));
        if !task.unaccounted {
            measured.cpu.insert(task.name.clone(), cpu);
            if records > 0 {
                let us_per_record = cpu as f64 / records as f64 / 1e3;
                measured
                    .values
                    .push(((name(), Metric::CpuPerRecord), us_per_record));
            }
        }
        measured.records.insert(task.name.clone(), records);
        for (metric, value) in [
            (Metric::Busy, report.busy),
            (Metric::Backpressured, report.backpressured),
            (Metric::Idle, report.idle),
        ] {
            if let Some(v) = value {
                measured.values.push(((name(), metric), v));
            }
        }
        // A sink fed by an instrumented channel counts its records even when it received none
        // (the job then had no throughput, which is a value, not a gap).
        let is_sink = graph.downstream(position).next().is_none();
        let counted = graph
            .edges
            .iter()
            .any(|e| e.to == position && !e.channels.is_empty());
        if is_sink && (counted || report.records_in_per_s > 0.0) {
            *throughput.get_or_insert(0.0) += report.records_in_per_s;
        }
    }
    if let Some(t) = throughput {
        measured.values.push(((None, Metric::Throughput), t));
    }
    measured
}
