//! The task reports of one selection (a range or a window) and what the rules conclude from them.

use std::collections::BTreeMap;

use bpprof_format::Recording;

use crate::graph::{self, JobGraph};
use crate::report::{EdgeReport, Level, SubtaskReport, TaskReport};
use crate::{capacity, evidence, verdict, window};

/// The task reports of `selection` (in graph order, skew marked) and what the rules conclude from
/// them: the one analysis every range and every window goes through.
pub(crate) fn analyse(
    recording: &Recording,
    graph: &JobGraph,
    selection: &window::Selection,
) -> (Vec<TaskReport>, Vec<EdgeReport>, verdict::Conclusion) {
    let sums = window::subtask_sums(recording, graph, selection, None);
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

/// The report of the task at `position` of the graph: each subtask's, and the task's figures
/// over them (the highest ratio of its subtasks, the sum of their rates).
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
            let split = s.busy_split();
            // Async subtasks' CPU time is not measured: their busy time is not split.
            let part = capacity::Parts::new(&s, &split, s.threadless == 0);
            if wall > 0 {
                parts.push(part);
            }
            subtask_report(&task.name, index, &s, wall, &split, &part, seconds)
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

/// The report of subtask `index` of task `task`, from its sums over `wall` ns of the range
/// (0 when its ratios are unknown) and their busy split and capacity parts.
fn subtask_report(
    task: &str,
    index: u32,
    s: &window::SubtaskSums,
    wall: u64,
    split: &window::BusySplit,
    part: &capacity::Parts,
    seconds: f64,
) -> SubtaskReport {
    let cpu_known = s.threadless == 0;
    let busy = ratio(s.busy, wall);
    let backpressured = ratio(s.backpressured, wall);
    let known = |part: u64| (wall > 0).then(|| ratio(part, s.busy)).flatten();
    SubtaskReport {
        index,
        name: format!("{task}#{index}"),
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
        load: ratio(s.busy.saturating_sub(waiting_to_run(s)), wall),
        polled: ratio(s.polled, wall).filter(|_| s.polls > 0),
        scheduled_share: known(s.wake).filter(|_| s.polls > 0).map(|x| x.min(1.0)),
        max_poll_ms: (s.polls > 0).then(|| s.max_poll as f64 / 1e6),
        capacity: capacity::subtask(part, busy, seconds),
    }
}
