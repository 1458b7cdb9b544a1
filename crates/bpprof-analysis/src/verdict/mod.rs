//! The bottleneck rules, with one named threshold per rule (see `docs/locate.md`).
//!
//! The rules start from the *backpressured edges* (those whose upstream task was blocked sending
//! into them more than [`LEVEL_OK_MAX`] of the time) and ask what explains each: a *loaded* task
//! below it (load, busy time without wake-up latency, at least [`BUSY_MIN`]: Flink's "busiest
//! task downstream of backpressured ones"), a downstream task waiting for another input (a join
//! held back by its slowest input), a slow link (an exchange), or nothing recorded (external).
//! Every named bottleneck carries the figures and thresholds that decided it; the sentences are
//! rendered from them by the crate's `explain` module.
//!
//! The steps live in submodules: `edges` reads the graph and explains each backpressured edge,
//! `bottleneck` builds the findings, `operators` handles operator chains.

mod bottleneck;
mod edges;
mod operators;
mod workers;

use std::collections::BTreeMap;

use bpprof_format::Recording;

pub(crate) use operators::slowest_operator;
pub use workers::{HOLD_SHARE_MIN, HOLD_WORKERS_MIN, LONG_POLL_MS, SCHEDULED_SHARE_MIN};

use crate::explain;
use crate::graph::JobGraph;
use crate::median::median;
use crate::report::{
    Bottleneck, EdgeReport, Level, Note, NoteKind, Rule, SubtaskReport, TaskReport,
    UpstreamPressure,
};
use crate::window::{self, Selection, SubtaskSums};
use edges::{Cause, Named, View};

/// A backpressured ratio up to this is level OK (Flink's threshold).
pub const LEVEL_OK_MAX: f64 = 0.10;

/// A backpressured ratio up to this (and above [`LEVEL_OK_MAX`]) is level LOW; above it, HIGH
/// (Flink's threshold).
pub const LEVEL_LOW_MAX: f64 = 0.50;

/// A task (or subtask) is *busy* when its busy ratio is at least this. Below it, a task downstream
/// of backpressure is not called the bottleneck, and no off-CPU / run-queue note is made.
pub const BUSY_MIN: f64 = 0.5;

/// A skewed subtask is busy at least this much...
pub const SKEW_MIN_BUSY: f64 = 0.5;

/// ...at least this much more than the median busy ratio of its task's subtasks...
pub const SKEW_MIN_MARGIN: f64 = 0.25;

/// ...and at least this many times the median. Skew is only looked for in tasks with parallelism
/// of at least [`SKEW_MIN_PARALLELISM`].
pub const SKEW_MIN_FACTOR: f64 = 1.5;

/// Smallest parallelism in which skew is looked for.
pub const SKEW_MIN_PARALLELISM: u32 = 2;

/// A bottleneck is of kind `off_cpu` when more than this share of its busy time is spent neither
/// on a CPU nor waiting for one (I/O, locks, sleeps).
pub const OFF_CPU_SHARE_MIN: f64 = 0.5;

/// A busy task that spends more than this share of its busy time runnable but waiting for a CPU
/// gets a note that the machine is oversubscribed. Lower than one half on purpose: a quarter of
/// the working time lost to the scheduler already distorts every other figure.
pub const RUNQUEUE_SHARE_MIN: f64 = 0.25;

/// The busy time of a task declared unaccounted is unknown, so its backpressure is too; instead,
/// its queue into a downstream task counts as backpressure when it is on average at least this
/// full (Flink's signal before 1.13: output buffer usage).
pub const UNACCOUNTED_FULL_QUEUE_MIN: f64 = 0.5;

/// A chain's slowest operator is named in a bottleneck's reason only when the chain has at least
/// two operators and that operator takes at least this share of the task's busy time.
pub const OPERATOR_SHARE_MIN: f64 = 0.25;

/// A link is the bottleneck (kind `exchange`) when its writer is blocked on it at least
/// [`LEVEL_OK_MAX`] of the time while its reader waits on it at least this share of the time.
/// Only links qualify: an in-process queue cannot be full for its writer and empty for its
/// reader at once, so such a pair of figures means the pressure comes and goes.
pub const EXCHANGE_IDLE_MIN: f64 = 0.5;

/// A task that is not loaded and whose upstream is blocked on one input waits for another input
/// when it is blocked receiving from that input at least this share of the time (and more than
/// from the blocked one): the task on that input is what holds it back (rule `slowest_input`).
/// Low on purpose: on an oversubscribed machine a join spends much of the rest waiting for a CPU
/// (measured: 25% on its slow input, 0% on the full one, in a debug build beside a CPU-bound
/// input).
pub const INPUT_WAIT_MIN: f64 = 0.2;

/// [`INPUT_WAIT_MIN`] applies to the share of time a task was not waiting for a CPU, but to no
/// less than this share of its time: a task that waits for a CPU 95% of the time still has to
/// wait for an input 5% (0.2 × 0.25) of its time to be waiting for it.
pub const RUNNABLE_FLOOR: f64 = 0.25;

/// A task that is busy but not loaded (rule `starved_below_backpressure`) is named only when it
/// runs on a CPU at least this share of its busy time: one whose busy time is nearly all waiting
/// for a CPU after wake-ups has little work of its own, one that computes a good part of it is
/// short of CPU time.
pub const STARVED_ON_CPU_MIN: f64 = 0.25;

/// Whether a subtask with busy ratio `busy` is skewed among siblings whose median busy is `median`.
pub fn is_skewed(busy: f64, median: f64) -> bool {
    busy >= SKEW_MIN_BUSY && busy >= median + SKEW_MIN_MARGIN && busy >= SKEW_MIN_FACTOR * median
}

/// What the rules concluded.
pub(crate) struct Conclusion {
    pub verdict: String,
    pub bottlenecks: Vec<Bottleneck>,
    /// The notes, as sentences ([`Conclusion::findings`] rendered).
    pub notes: Vec<String>,
    /// The notes as data.
    pub findings: Vec<Note>,
}

/// Marks the skewed subtasks of every task (sets [`SubtaskReport::skewed`]).
pub(crate) fn mark_skew(tasks: &mut [TaskReport]) {
    for task in tasks {
        if task.parallelism < SKEW_MIN_PARALLELISM {
            continue;
        }
        let mut busy: Vec<f64> = task.subtasks.iter().filter_map(|s| s.busy).collect();
        if busy.len() < 2 {
            continue;
        }
        let median = median(&mut busy).unwrap_or(0.0);
        for s in &mut task.subtasks {
            s.skewed = s.busy.is_some_and(|b| is_skewed(b, median));
        }
    }
}

/// The whole analysis of a range after the task reports are built: attaches the operators of
/// every task, marks skew, applies the rules and adds the notes that need the recording itself
/// (records arriving from threads bpprof does not see).
pub(crate) fn conclude_range(
    recording: &Recording,
    graph: &JobGraph,
    selection: &Selection,
    sums: &BTreeMap<(usize, u32), SubtaskSums>,
    tasks: &mut [TaskReport],
    edges: &[EdgeReport],
) -> Conclusion {
    operators::attach_operators(recording, graph, selection, sums, tasks);
    mark_skew(tasks);
    let full = edges::full_queues_from_unaccounted(recording, graph, selection, tasks);
    let mut findings = Vec::new();
    for (_, channel, receivers) in window::unseen_producers(recording, graph, selection) {
        findings.push(Note {
            kind: NoteKind::UnseenProducer,
            subject: channel,
            tasks: receivers
                .iter()
                .filter_map(|&t| tasks.get(t).map(|t| t.name.clone()))
                .collect(),
            unaccounted_upstream: receivers
                .iter()
                .flat_map(|&t| graph.upstream(t).collect::<Vec<_>>())
                .filter(|&u| tasks.get(u).is_some_and(|t| t.unaccounted))
                .map(|u| tasks[u].name.clone())
                .collect(),
            evidence: Vec::new(),
            max_frames: None,
        });
    }
    let mut conclusion = conclude(graph, tasks, edges, recording.meta.cpus, &full);
    conclusion.notes.extend(
        findings
            .iter()
            .map(|n| explain::note(n, recording.meta.cpus)),
    );
    conclusion.findings.extend(findings);
    conclusion
}

/// What the backpressured edges come to: the loaded tasks that explain some (with how), the
/// slow links, and the edges nothing explains.
#[derive(Default)]
struct Explained {
    named: Vec<Named>,
    exchanges: Vec<usize>,
    unexplained: Vec<usize>,
}

/// Explains every backpressured edge, and the queues out of unaccounted tasks (`full`).
fn explain_edges(view: &View, pressured: &[usize], full: &[(usize, usize, f64)]) -> Explained {
    let mut out = Explained::default();
    for &e in pressured {
        match edges::cause(view, e) {
            Cause::Loaded(d) => out.named.push((d, Rule::LoadedBelowBackpressure, e, None)),
            Cause::Input { task, waiting, via } => {
                out.named
                    .push((task, Rule::SlowestInput, e, Some((waiting, via))))
            }
            Cause::Starved(d) => out.named.push((d, Rule::StarvedBelowBackpressure, e, None)),
            Cause::WorkersHeld { task, waiting } => {
                out.named
                    .push((task, Rule::WorkersHeld, e, Some((waiting, e))))
            }
            Cause::Exchange => out.exchanges.push(e),
            Cause::Further => {}
            Cause::Unexplained => out.unexplained.push(e),
        }
    }
    for f in full {
        if view.loaded(f.1) {
            let edge = (0..view.graph.edges.len())
                .find(|&e| view.graph.edges[e].from == f.0 && view.graph.edges[e].to == f.1);
            if let Some(e) = edge {
                out.named
                    .push((f.1, Rule::LoadedBelowBackpressure, e, None));
            }
        }
    }
    out
}

/// The named tasks that are bottlenecks, one entry each, most loaded first: not a task
/// backpressured most of the time (level HIGH), nor one at level LOW whose backpressure a loaded
/// task further down explains. A task named only for its waits for a CPU
/// (`starved_below_backpressure`) is a last resort: it is not kept when a loaded task is named
/// above it on its edge, and it does not explain away a loaded task above it.
fn keep_bottlenecks(view: &View, found: Vec<Named>) -> Vec<Named> {
    let graph = view.graph;
    let starved = |rule: Rule| rule == Rule::StarvedBelowBackpressure;
    let explained_below = |i: usize| {
        found.iter().any(|&(t, rule, e, _)| {
            t != i && !starved(rule) && graph.reachable(i).contains(&graph.edges[e].to)
        })
    };
    let named_loaded = |i: usize| {
        found
            .iter()
            .any(|&(t, rule, _, _)| t == i && !starved(rule))
    };
    let mut kept: Vec<Named> = Vec::new();
    for &f in &found {
        let keep = match view.level(f.0) {
            Some(Level::High) => false,
            Some(Level::Low) => !explained_below(f.0),
            _ => true,
        } && !(starved(f.1) && named_loaded(graph.edges[f.2].from));
        if keep && !kept.iter().any(|k| k.0 == f.0) {
            kept.push(f);
        }
    }
    kept.sort_by(|a, b| {
        let load = |i: usize| view.load(i).unwrap_or(0.0);
        load(b.0).total_cmp(&load(a.0))
    });
    kept
}

/// The tasks whose backpressure nothing explains and below which no bottleneck was named: the
/// unexplained edges' upstream tasks and the tasks backpressured on no edge they have (a
/// `backpressured` scope, a sink), the most downstream of them.
fn external_tasks(view: &View, unexplained: &[usize], named: &[Bottleneck]) -> Vec<usize> {
    let (graph, tasks) = (view.graph, view.tasks);
    let pressured_elsewhere = (0..tasks.len()).filter(|&i| {
        matches!(view.level(i), Some(Level::Low | Level::High))
            && !view.edges_out_of(i).any(|o| view.pressured(o))
    });
    let mut starts: Vec<usize> = unexplained.iter().map(|&e| graph.edges[e].from).collect();
    starts.extend(pressured_elsewhere);
    let mut external: Vec<usize> = Vec::new();
    for up in starts {
        // A task already named (or with a named task below it) is explained.
        let below = graph.reachable(up);
        let below_named = named
            .iter()
            .any(|b| b.task == tasks[up].name || below.iter().any(|&r| tasks[r].name == b.task));
        if !below_named && !external.contains(&up) {
            external.push(up);
        }
    }
    let all = external.clone();
    external.retain(|&i| {
        !all.iter()
            .any(|&j| j != i && graph.reachable(i).contains(&j))
    });
    external
}

/// Applies the rules to `tasks` (in the order of `graph.tasks`) and `edges` (in the order of
/// `graph.edges`).
///
/// `full` lists the queues out of unaccounted tasks that count as backpressure (`from`, `to`,
/// fill ratio), see [`UNACCOUNTED_FULL_QUEUE_MIN`].
pub(crate) fn conclude(
    graph: &JobGraph,
    tasks: &[TaskReport],
    edges: &[EdgeReport],
    cpus: u32,
    full: &[(usize, usize, f64)],
) -> Conclusion {
    let view = View {
        graph,
        tasks,
        edges,
    };
    let pressured: Vec<usize> = (0..graph.edges.len())
        .filter(|&e| view.pressured(e))
        .collect();
    let upstream_of = |i: usize| -> Vec<UpstreamPressure> {
        let mut up: Vec<UpstreamPressure> = pressured
            .iter()
            .filter(|&&e| graph.edges[e].to == i)
            .map(|&e| UpstreamPressure {
                task: tasks[graph.edges[e].from].name.clone(),
                backpressured: view.pressure(e),
            })
            .collect();
        up.dedup_by(|a, b| a.task == b.task);
        up
    };

    let explained = explain_edges(&view, &pressured, full);
    let mut bottlenecks: Vec<Bottleneck> = keep_bottlenecks(&view, explained.named)
        .into_iter()
        .map(|named| {
            let fed: Vec<(String, f64)> = full
                .iter()
                .filter(|f| f.1 == named.0)
                .map(|f| (tasks[f.0].name.clone(), f.2))
                .collect();
            bottleneck::loaded(&view, named, upstream_of(named.0), &fed)
        })
        .collect();
    for &e in &explained.exchanges {
        let up = graph.edges[e].from;
        if !bottlenecks.iter().any(|b| b.task == tasks[up].name) {
            bottlenecks.push(bottleneck::exchange(&view, e, upstream_of(up)));
        }
    }
    if pressured.is_empty() {
        bottlenecks.extend(starving_sources(&view));
    }
    let mut external = external_tasks(&view, &explained.unexplained, &bottlenecks);
    if bottlenecks.is_empty() && external.is_empty() {
        // Only possible on a cycle of backpressured edges: name the most backpressured task.
        external.extend(
            pressured
                .iter()
                .map(|&e| graph.edges[e].from)
                .max_by(|&a, &b| {
                    let bp = |i: usize| tasks[i].backpressured.unwrap_or(0.0);
                    bp(a).total_cmp(&bp(b)).then(b.cmp(&a))
                }),
        );
    }
    for i in external {
        let unknown: Vec<&str> = graph
            .downstream(i)
            .filter(|&d| tasks[d].busy.is_none())
            .map(|d| tasks[d].name.as_str())
            .collect();
        bottlenecks.push(bottleneck::external(&tasks[i], upstream_of(i), &unknown));
    }

    let findings = task_notes(tasks);
    Conclusion {
        verdict: explain::verdict_line(&bottlenecks, tasks),
        bottlenecks,
        notes: findings.iter().map(|n| explain::note(n, cpus)).collect(),
        findings,
    }
}

/// Without backpressure, an async pipeline can still be held back by one task: when a source
/// waits to be polled most of its busy time while another task's polls hold the workers, that
/// task is the bottleneck (rule `workers_held`, without an edge). One per holder.
fn starving_sources(view: &View) -> Vec<Bottleneck> {
    let mut named: Vec<Bottleneck> = Vec::new();
    for source in (0..view.tasks.len()).filter(|&i| view.graph.upstream(i).next().is_none()) {
        if view.tasks[source].busy.is_none_or(|b| b < BUSY_MIN) {
            continue;
        }
        let Some(holder) = workers::holder(view, source).filter(|&h| h != source) else {
            continue;
        };
        if !named.iter().any(|b| b.task == view.tasks[holder].name) {
            named.push(bottleneck::starving_source(view, holder, source));
        }
    }
    named
}

/// The notes on the tasks: no data, declared unaccounted, a busy subtask mostly off-CPU or
/// waiting for a CPU.
fn task_notes(tasks: &[TaskReport]) -> Vec<Note> {
    let mut notes = Vec::new();
    let note = Note::on;
    for task in tasks {
        if task.busy.is_none() {
            let kind = if task.unaccounted {
                NoteKind::Unaccounted
            } else {
                NoteKind::NoData
            };
            notes.push(note(kind, task.name.clone(), Vec::new()));
            continue;
        }
        let Some(s) = busiest(task) else { continue };
        let busy = s.busy.unwrap_or(0.0);
        if busy < BUSY_MIN {
            continue;
        }
        let name = explain::display_name(task, s);
        let busy_figure = bottleneck::evidence("busy", s.name.clone(), busy, BUSY_MIN, true);
        if let Some(off) = s.off_cpu_share.filter(|&x| x > OFF_CPU_SHARE_MIN) {
            notes.push(note(
                NoteKind::OffCpu,
                name.clone(),
                vec![
                    busy_figure.clone(),
                    bottleneck::evidence(
                        "off_cpu_share",
                        s.name.clone(),
                        off,
                        OFF_CPU_SHARE_MIN,
                        true,
                    ),
                    match (s.on_cpu, s.polled) {
                        (None, Some(polled)) => {
                            bottleneck::evidence("polled", s.name.clone(), polled, busy, false)
                        }
                        (on_cpu, _) => bottleneck::evidence(
                            "on_cpu",
                            s.name.clone(),
                            on_cpu.unwrap_or(0.0),
                            busy,
                            false,
                        ),
                    },
                ],
            ));
        }
        notes.extend(workers::notes(task, s, &name));
        if let Some(rq) = s.runqueue_share.filter(|&x| x > RUNQUEUE_SHARE_MIN) {
            notes.push(note(
                NoteKind::WaitsForCpu,
                name,
                vec![
                    busy_figure,
                    bottleneck::evidence(
                        "runqueue_share",
                        s.name.clone(),
                        rq,
                        RUNQUEUE_SHARE_MIN,
                        true,
                    ),
                ],
            ));
        }
    }
    notes
}

/// The subtask with the highest busy ratio (lowest index on ties).
pub(crate) fn busiest(task: &TaskReport) -> Option<&SubtaskReport> {
    task.subtasks.iter().filter(|s| s.busy.is_some()).fold(
        None,
        |best: Option<&SubtaskReport>, s| match best {
            Some(b) if b.busy >= s.busy => Some(b),
            _ => Some(s),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skew_needs_all_three_conditions() {
        assert!(is_skewed(0.99, 0.12));
        assert!(!is_skewed(0.45, 0.0), "below the busy minimum");
        assert!(!is_skewed(0.8, 0.6), "within the margin of the median");
        assert!(!is_skewed(0.9, 0.62), "less than 1.5x the median");
    }

    #[test]
    fn levels_follow_flink() {
        assert_eq!(Level::of(0.10), Level::Ok);
        assert_eq!(Level::of(0.11), Level::Low);
        assert_eq!(Level::of(0.50), Level::Low);
        assert_eq!(Level::of(0.51), Level::High);
    }
}
