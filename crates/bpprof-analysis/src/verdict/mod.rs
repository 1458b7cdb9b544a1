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
//! The steps live in submodules: `view` is how the rules read the graph and its figures, `edges`
//! explains each backpressured edge, `bottleneck` builds the findings, `operators` handles
//! operator chains and `workers` async runtimes. They share `thresholds` (every constant, also
//! re-exported here) and `figures` (the busiest subtask, the slowest operator, one checked
//! figure), the two leaves of the module.

mod bottleneck;
mod edges;
pub(crate) mod figures;
mod operators;
pub(crate) mod thresholds;
mod view;
mod workers;

use std::collections::BTreeMap;

use bpprof_format::Recording;

pub use thresholds::*;
pub use workers::{HOLD_SHARE_MIN, HOLD_WORKERS_MIN, LONG_POLL_MS, SCHEDULED_SHARE_MIN};

use crate::explain;
use crate::graph::JobGraph;
use crate::median::median;
use crate::report::{
    Bottleneck, EdgeReport, Level, Note, NoteKind, Rule, TaskReport, UpstreamPressure,
};
use crate::window::{self, Selection, SubtaskSums};
use edges::Cause;
use figures::{busiest, evidence};
use view::{Named, View};

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
    let upstream_of = |i: usize| upstream_pressure(&view, &pressured, i);

    let explained = explain_edges(&view, &pressured, full);
    let mut bottlenecks = loaded_bottlenecks(&view, explained.named, full, upstream_of);
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
        external.extend(most_backpressured_sender(&view, &pressured));
    }
    for i in external {
        let unknown: Vec<&str> = graph
            .downstream(i)
            .filter(|&d| tasks[d].busy.is_none())
            .map(|d| tasks[d].name.as_str())
            .collect();
        bottlenecks.push(bottleneck::external(&view, i, upstream_of(i), &unknown));
    }

    let findings = task_notes(tasks);
    Conclusion {
        verdict: explain::verdict_line(&bottlenecks, tasks),
        bottlenecks,
        notes: findings.iter().map(|n| explain::note(n, cpus)).collect(),
        findings,
    }
}

/// The tasks backpressured on the `pressured` edges into task `i`, with their pressure, one
/// entry per task.
fn upstream_pressure(view: &View, pressured: &[usize], i: usize) -> Vec<UpstreamPressure> {
    let graph = view.graph;
    let mut up: Vec<UpstreamPressure> = pressured
        .iter()
        .filter(|&&e| graph.edges[e].to == i)
        .map(|&e| UpstreamPressure {
            task: view.tasks[graph.edges[e].from].name.clone(),
            backpressured: view.pressure(e),
        })
        .collect();
    up.dedup_by(|a, b| a.task == b.task);
    up
}

/// The bottlenecks of the loaded tasks the rules named (those [`keep_bottlenecks`] keeps), each
/// with the tasks backpressured on it and the unaccounted tasks that keep its queue full.
fn loaded_bottlenecks(
    view: &View,
    named: Vec<Named>,
    full: &[(usize, usize, f64)],
    upstream_of: impl Fn(usize) -> Vec<UpstreamPressure>,
) -> Vec<Bottleneck> {
    keep_bottlenecks(view, named)
        .into_iter()
        .map(|named| {
            let fed: Vec<(String, f64)> = full
                .iter()
                .filter(|f| f.1 == named.0)
                .map(|f| (view.tasks[f.0].name.clone(), f.2))
                .collect();
            bottleneck::loaded(view, named, upstream_of(named.0), &fed)
        })
        .collect()
}

/// The most backpressured sender of the `pressured` edges (the first in graph order on ties).
fn most_backpressured_sender(view: &View, pressured: &[usize]) -> Option<usize> {
    pressured
        .iter()
        .map(|&e| view.graph.edges[e].from)
        .max_by(|&a, &b| {
            let bp = |i: usize| view.tasks[i].backpressured.unwrap_or(0.0);
            bp(a).total_cmp(&bp(b)).then(b.cmp(&a))
        })
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
        let busy_figure = evidence("busy", s.name.clone(), busy, BUSY_MIN, true);
        if let Some(off) = s.off_cpu_share.filter(|&x| x > OFF_CPU_SHARE_MIN) {
            notes.push(note(
                NoteKind::OffCpu,
                name.clone(),
                vec![
                    busy_figure.clone(),
                    evidence(
                        "off_cpu_share",
                        s.name.clone(),
                        off,
                        OFF_CPU_SHARE_MIN,
                        true,
                    ),
                    match (s.on_cpu, s.polled) {
                        (None, Some(polled)) => {
                            evidence("polled", s.name.clone(), polled, busy, false)
                        }
                        (on_cpu, _) => {
                            evidence("on_cpu", s.name.clone(), on_cpu.unwrap_or(0.0), busy, false)
                        }
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
                    evidence(
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
