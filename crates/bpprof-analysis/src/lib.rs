//! Finds the bottleneck of a multi-threaded pipeline from a bpprof recording, after Apache Flink's
//! busy / idle / backpressured metrics.
//!
//! ```
//! use bpprof_analysis::synth::{Load, Synth};
//! use bpprof_analysis::{locate, render_human, AnalysisOptions, BottleneckKind};
//!
//! // A two-task pipeline: Source is blocked on a full queue, Sink computes all the time.
//! let mut synth = Synth::new();
//! let source = synth.subtask("Source", 0, 1);
//! let sink = synth.subtask("Sink", 0, 1);
//! synth.channel("events", 1024, &[source], &[sink]);
//! for _ in 0..5 {
//!     synth.interval(&[
//!         (source, Load::new(0.10, 0.90)),
//!         (sink, Load::new(0.97, 0.0)),
//!     ]);
//! }
//! let recording = synth.recording();
//!
//! let report = locate(&recording, &AnalysisOptions::default()).unwrap();
//! assert_eq!(report.bottlenecks[0].task, "Sink");
//! assert_eq!(report.bottlenecks[0].kind, BottleneckKind::Cpu);
//!
//! let mut text = Vec::new();
//! render_human(&report, &mut text).unwrap();
//! assert!(String::from_utf8(text).unwrap().starts_with("Sink is the bottleneck"));
//! ```
//!
//! The library is organised as one module per step: [`graph`] builds the job graph, a private
//! [`range`] selects the range (and judges whether it is enough), a private `window` module
//! sums each subtask over it, [`verdict`] applies the
//! bottleneck rules (every threshold is a named constant there), [`report`] holds the public,
//! serialisable result types (JSON schema in `docs/json.md`) and [`render_human`] prints them for
//! people. [`timeline`] analyses each window of the range with the same rules and finds whether
//! the bottleneck moves between tasks. [`flame`] folds the stack samples of one subtask into a flame graph (`bpprof flame`,
//! see `docs/flame.md`); [`diff`] compares one subtask's flame graphs of two recordings per record
//! processed (`bpprof diff`). [`stacks`] tells stacks cut short by missing frame pointers (a
//! `short_stacks` note of `locate`, a warning of `bpprof flame`). [`export`] writes the samples as pprof profiles and the states over time as Chrome traces. [`synth`] builds synthetic recordings for tests and examples.
//!
//! # Feature flags
//!
//! None.
#![deny(missing_docs)]

pub mod capacity;
pub mod check;
pub mod diff;
mod evidence;
mod explain;
pub mod export;
pub mod flame;
pub mod graph;
mod median;
pub mod merge;
pub mod picture;
pub mod plan;
pub mod range;
mod render;
pub mod report;
pub mod stacks;
pub mod synth;
mod table;
pub mod timeline;
pub mod units;
pub mod verdict;
mod window;
mod xml;

use std::collections::BTreeMap;

use bpprof_format::Recording;

pub use graph::JobGraph;
pub use render::{render_human, render_human_with, RenderOptions};
pub use report::{
    Bottleneck, BottleneckKind, Capacity, CpuUse, EdgeRef, EdgeReport, Evidence, Level,
    LocateReport, OperatorShare, RecordingSummary, Rule, StripRow, SubtaskReport, TaskReport,
    TaskShare, Timeline, UpstreamPressure, WindowVerdict, SCHEMA, SCHEMA_MINOR, SCHEMA_VERSION,
};
pub(crate) use units::seconds;

/// Which part of the recording to analyse.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AnalysisOptions {
    /// Start of the range, seconds since the recording started. Default (`None`): the end of the
    /// first interval, so the warm-up is skipped, when the intervals after it cover at least
    /// [`range::MIN_ANALYSED_SHARE`] of the recording; 0 otherwise.
    pub from_s: Option<f64>,
    /// End of the range (exclusive), seconds since the recording started. Default (`None`): the
    /// end of the recording.
    ///
    /// An interval is analysed when its midpoint lies in `[from_s, to_s)`.
    pub to_s: Option<f64>,
    /// Length of the windows the range is cut into for the timeline, seconds: a window is a group
    /// of consecutive intervals (see [`timeline`]). Default (`None`): one interval per window.
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

/// Analyses `recording` over the range chosen by `options` and locates its bottlenecks.
///
/// Errors only when the range selects no interval (or is malformed); a recording with warnings
/// (e.g. truncated) is analysed as far as it is complete, and its warnings are copied into
/// [`RecordingSummary::warnings`].
pub fn locate(
    recording: &Recording,
    options: &AnalysisOptions,
) -> Result<LocateReport, AnalysisError> {
    check_window(options)?;
    let selection = range::select(recording, options)?;
    let graph = JobGraph::from_recording(recording);
    let (tasks, edges, mut averaged) = analyse(recording, &graph, &selection);
    // Once for the whole range, not per window: it reads every sample.
    let seqs = selection
        .intervals
        .iter()
        .map(|&n| recording.intervals[n].seq)
        .collect();
    if let Some(note) = stacks::note(recording, &graph, &seqs, &tasks) {
        averaged
            .notes
            .push(explain::note(&note, recording.meta.cpus));
        averaged.findings.push(note);
    }
    let mut timeline = timeline::build(recording, &graph, &selection, options.window_s);
    // A moving bottleneck replaces the averaged verdict, which may name a task that is never the
    // bottleneck; the notes stay those of the whole range.
    let (verdict, bottlenecks) = match timeline.moving.take() {
        Some(moving) => (moving.verdict, moving.bottlenecks),
        None => (averaged.verdict, averaged.bottlenecks),
    };

    let timeline::Built {
        windows,
        timeline,
        moving: _,
    } = timeline;
    let cpu_use = capacity::cpu_use(&tasks, recording.meta.cpus);
    Ok(LocateReport {
        schema: SCHEMA.to_owned(),
        schema_version: SCHEMA_VERSION,
        schema_minor: SCHEMA_MINOR,
        recording: RecordingSummary {
            program: recording.meta.program.clone(),
            host: recording.meta.host.clone(),
            cpus: recording.meta.cpus,
            duration_s: range::duration_s(recording),
            from_s: selection.from_s,
            to_s: selection.to_s,
            intervals: selection.intervals.len(),
            warnings: recording.warnings.iter().map(|w| w.to_string()).collect(),
            coverage_warning: range::assess(recording, options, &selection).warning(),
        },
        verdict,
        bottlenecks,
        tasks,
        edges,
        notes: averaged.notes,
        findings: averaged.findings,
        cpu_use,
        windows,
        timeline,
    })
}

/// [`AnalysisError::InvalidWindow`] unless `options.window_s` is unset or a positive number.
pub(crate) fn check_window(options: &AnalysisOptions) -> Result<(), AnalysisError> {
    match options.window_s {
        Some(w) if !(w.is_finite() && w > 0.0) => Err(AnalysisError::InvalidWindow { window_s: w }),
        _ => Ok(()),
    }
}

/// The task reports of `selection` (in graph order, skew marked) and what the rules conclude from
/// them: the one analysis every range and every window goes through.
pub(crate) fn analyse(
    recording: &Recording,
    graph: &JobGraph,
    selection: &window::Selection,
) -> (Vec<TaskReport>, Vec<EdgeReport>, verdict::Conclusion) {
    let sums = window::subtask_sums(recording, graph, selection);
    let mut tasks: Vec<TaskReport> = graph
        .tasks
        .iter()
        .enumerate()
        .map(|(i, task)| task_report(i, task, &sums, selection.seconds))
        .collect();
    let edges = evidence::edge_reports(recording, graph, selection, &sums);
    let conclusion =
        verdict::conclude_range(recording, graph, selection, &sums, &mut tasks, &edges);
    (tasks, edges, conclusion)
}

/// `part / whole`, `None` when `whole` is 0.
fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

fn per_s(count: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        0.0
    }
}

/// A logical subtask's busy time split into on-CPU, waiting for a CPU and off-CPU parts (ns),
/// which add up to its busy time exactly, plus the measured parts that fall outside busy time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BusySplit {
    on_cpu: u64,
    cpu_wait: Option<u64>,
    off_cpu: u64,
    /// CPU used while idle or backpressured: inside waits as measured, plus any CPU time beyond
    /// the busy time (waits too short to tell apart).
    blocked_cpu: u64,
    /// Run-queue time beyond what busy time leaves for it: waiting for a CPU while counted idle
    /// or backpressured (after a wait whose end bpprof cannot time).
    cpu_wait_outside: Option<u64>,
}

/// Splits `s.busy`: on-CPU first (the threads' CPU time minus what they used inside waits),
/// then waiting for a CPU (the run-queue time), the rest off-CPU. What does not fit is reported
/// apart, as CPU inside waits or CPU wait outside busy, never dropped.
fn busy_split(s: &window::SubtaskSums) -> BusySplit {
    let on_cpu = s.busy_cpu().min(s.busy);
    let blocked_cpu = s.cpu - on_cpu;
    let room = s.busy - on_cpu;
    let cpu_wait = s.runqueue.map(|rq| rq.min(room));
    BusySplit {
        on_cpu,
        cpu_wait,
        off_cpu: room - cpu_wait.unwrap_or(0),
        blocked_cpu,
        cpu_wait_outside: s.runqueue.zip(cpu_wait).map(|(rq, w)| rq - w),
    }
}

/// The part of a subtask's busy time that is not its load: the wake-up latency after its
/// receives for a thread (after a send, a thread waiting for a CPU is in the middle of its own
/// work), all of its scheduled time for an async subtask (woken or yielded, waiting for a worker
/// that other tasks hold).
fn waiting_to_run(s: &window::SubtaskSums) -> u64 {
    if s.threadless > 0 {
        s.wake
    } else {
        s.wake_after_input()
    }
}

pub(crate) fn task_report(
    position: usize,
    task: &graph::Task,
    sums: &BTreeMap<(usize, u32), window::SubtaskSums>,
    seconds: f64,
) -> TaskReport {
    let mut parts = Vec::with_capacity(task.indices.len());
    let subtasks: Vec<SubtaskReport> = task
        .indices
        .iter()
        .map(|&index| {
            let s = sums.get(&(position, index)).copied().unwrap_or_default();
            // A declared-unaccounted task's ratios are unknown, whatever its threads reported.
            let wall = if task.unaccounted { 0 } else { s.wall };
            let split = busy_split(&s);
            // Async subtasks' CPU time is not measured: their busy time is not split.
            let cpu_known = s.threadless == 0;
            let busy = ratio(s.busy, wall);
            let backpressured = ratio(s.backpressured, wall);
            let known = |part: u64| (wall > 0).then(|| ratio(part, s.busy)).flatten();
            let part = capacity::Parts::new(&s, &split, cpu_known);
            if wall > 0 {
                parts.push(part);
            }
            SubtaskReport {
                index,
                name: format!("{}#{index}", task.name),
                busy,
                backpressured,
                idle: ratio(s.idle, wall),
                on_cpu: ratio(split.on_cpu, wall).filter(|_| cpu_known),
                off_cpu_share: match (cpu_known, s.polls > 0) {
                    (true, _) => known(split.off_cpu),
                    // An async subtask is off-CPU while pending on something that is not an
                    // instrumented wait and not scheduled (a socket, a timer): neither polled
                    // nor waiting for a worker.
                    (false, true) => known(s.busy.saturating_sub(s.polled + s.wake)),
                    (false, false) => None,
                },
                runqueue_share: split.cpu_wait.and_then(known).filter(|_| cpu_known),
                blocked_cpu: ratio(split.blocked_cpu, wall).filter(|_| cpu_known),
                wake: ratio(s.wake, wall),
                cpu_wait_outside_busy: split.cpu_wait_outside.and_then(|x| ratio(x, wall)),
                unregistered: ratio(s.unregistered, wall),
                level: backpressured.map(Level::of),
                skewed: false,
                records_in: s.records_in,
                records_out: s.records_out,
                records_in_per_s: per_s(s.records_in, seconds),
                records_out_per_s: per_s(s.records_out, seconds),
                max_idle_stall_ms: s.max_idle_stall as f64 / 1e6,
                max_backpressure_stall_ms: s.max_backpressure_stall as f64 / 1e6,
                load: ratio(s.busy.saturating_sub(waiting_to_run(&s)), wall),
                polled: ratio(s.polled, wall).filter(|_| s.polls > 0),
                scheduled_share: known(s.wake).filter(|_| s.polls > 0).map(|x| x.min(1.0)),
                max_poll_ms: (s.polls > 0).then(|| s.max_poll as f64 / 1e6),
                capacity: capacity::subtask(&part, busy, seconds),
            }
        })
        .collect();
    let max = |f: fn(&SubtaskReport) -> Option<f64>| subtasks.iter().filter_map(f).reduce(f64::max);
    let backpressured = max(|s| s.backpressured);
    TaskReport {
        name: task.name.clone(),
        parallelism: task.parallelism,
        unaccounted: task.unaccounted,
        busy: max(|s| s.busy),
        backpressured,
        idle: max(|s| s.idle),
        on_cpu: max(|s| s.on_cpu),
        load: max(|s| s.load),
        polled_workers: subtasks
            .iter()
            .filter_map(|s| s.polled)
            .reduce(|a, b| a + b),
        max_poll_ms: max(|s| s.max_poll_ms),
        level: backpressured.map(Level::of),
        records_in_per_s: per_s(subtasks.iter().map(|s| s.records_in).sum(), seconds),
        records_out_per_s: per_s(subtasks.iter().map(|s| s.records_out).sum(), seconds),
        capacity: capacity::task(
            &parts,
            &subtasks.iter().map(|s| s.busy).collect::<Vec<_>>(),
            seconds,
        ),
        subtasks,
        operators: Vec::new(),
    }
}
