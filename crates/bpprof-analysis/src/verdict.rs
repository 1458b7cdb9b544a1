//! The bottleneck rules, with every threshold as a named constant.
//!
//! A task is a *candidate bottleneck* when it is not backpressured itself (level OK), at least one
//! of its direct upstream tasks is (level LOW or HIGH), and it is busy (task busy >=
//! [`BUSY_MIN`]): the busiest (red) task downstream of backpressured (black) ones, as Flink's
//! documentation puts it. Every candidate is reported, so independent branches each get theirs.
//! Backpressured tasks with no candidate anywhere downstream are reported as `external`.

use std::collections::BTreeMap;

use bpprof_format::Recording;

use crate::explain;
use crate::graph::JobGraph;
use crate::report::{
    Bottleneck, BottleneckKind, EdgeRef, EdgeReport, Evidence, Level, OperatorShare, Rule,
    SubtaskReport, TaskReport, UpstreamPressure,
};
use crate::window::{self, Selection, SubtaskSums};

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

/// Whether a subtask with busy ratio `busy` is skewed among siblings whose median busy is `median`.
pub fn is_skewed(busy: f64, median: f64) -> bool {
    busy >= SKEW_MIN_BUSY && busy >= median + SKEW_MIN_MARGIN && busy >= SKEW_MIN_FACTOR * median
}

/// What the rules concluded.
pub(crate) struct Conclusion {
    pub verdict: String,
    pub bottlenecks: Vec<Bottleneck>,
    pub notes: Vec<String>,
}

/// Marks the skewed subtasks of every task (sets [`SubtaskReport::skewed`]).
pub(crate) fn mark_skew(tasks: &mut [TaskReport]) {
    for task in tasks {
        if task.parallelism < SKEW_MIN_PARALLELISM {
            continue;
        }
        let busy: Vec<f64> = task.subtasks.iter().filter_map(|s| s.busy).collect();
        if busy.len() < 2 {
            continue;
        }
        let median = median(busy);
        for s in &mut task.subtasks {
            s.skewed = s.busy.is_some_and(|b| is_skewed(b, median));
        }
    }
}

/// The busy time of a task declared unaccounted is unknown, so its backpressure is too; instead,
/// its queue into a downstream task counts as backpressure when it is on average at least this
/// full (Flink's signal before 1.13: output buffer usage).
pub const UNACCOUNTED_FULL_QUEUE_MIN: f64 = 0.5;

/// A chain's slowest operator is named in a bottleneck's reason only when the chain has at least
/// two operators and that operator takes at least this share of the task's busy time.
pub const OPERATOR_SHARE_MIN: f64 = 0.25;

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
    attach_operators(recording, graph, selection, sums, tasks);
    mark_skew(tasks);
    let full = full_queues_from_unaccounted(recording, graph, selection, tasks);
    let mut conclusion = conclude(graph, tasks, edges, recording.meta.cpus, &full);
    for (_, channel, receivers) in window::unseen_producers(recording, graph, selection) {
        let names: Vec<String> = receivers
            .iter()
            .filter_map(|&t| tasks.get(t).map(|t| t.name.clone()))
            .collect();
        let unaccounted_upstream: Vec<String> = receivers
            .iter()
            .flat_map(|&t| graph.upstream(t).collect::<Vec<_>>())
            .filter(|&u| tasks.get(u).is_some_and(|t| t.unaccounted))
            .map(|u| tasks[u].name.clone())
            .collect();
        let into = if names.is_empty() {
            String::new()
        } else {
            format!(" into {}", join_and(&names))
        };
        conclusion.notes.push(if unaccounted_upstream.is_empty() {
            format!(
                "records flow through {channel}{into} but no registered subtask sends into it: its producer runs in threads bpprof does not see, so its busy time is unknown; register that thread, or declare its task with bpprof::declare_task(name, parallelism, true)"
            )
        } else {
            format!(
                "records flow through {channel}{into} from threads bpprof does not see ({} is declared unaccounted)",
                join_and(&unaccounted_upstream)
            )
        });
    }
    conclusion
}

/// The queues out of unaccounted tasks that are full enough to count as backpressure:
/// `(from, to, average fill / capacity)` per edge.
fn full_queues_from_unaccounted(
    recording: &Recording,
    graph: &JobGraph,
    selection: &Selection,
    tasks: &[TaskReport],
) -> Vec<(usize, usize, f64)> {
    if !tasks.iter().any(|t| t.unaccounted) {
        return Vec::new();
    }
    let channel_sums = window::channel_sums(recording, selection);
    let unseen = window::unseen_producers(recording, graph, selection);
    let mut out = Vec::new();
    for e in &graph.edges {
        if !tasks.get(e.from).is_some_and(|t| t.unaccounted) {
            continue;
        }
        // A declared edge without a channel: the channels into `to` that no registered subtask
        // sends into are the unaccounted task's.
        let channels: Vec<u32> = if e.channels.is_empty() {
            unseen
                .iter()
                .filter(|u| u.2.contains(&e.to))
                .map(|u| u.0)
                .collect()
        } else {
            e.channels.to_vec()
        };
        let capacity: u64 = channels
            .iter()
            .filter_map(|id| graph.channels.get(id).map(|c| c.1))
            .sum();
        let fill: f64 = channels
            .iter()
            .filter_map(|id| channel_sums.get(id))
            .filter(|c| c.fill_samples > 0)
            .map(|c| c.fill_sum as f64 / c.fill_samples as f64)
            .sum();
        if capacity > 0 && fill / capacity as f64 >= UNACCOUNTED_FULL_QUEUE_MIN {
            out.push((e.from, e.to, (fill / capacity as f64).min(1.0)));
        }
    }
    out
}

/// A link is the bottleneck (kind `exchange`) when its writer is blocked on it at least
/// [`LEVEL_OK_MAX`] of the time while its reader waits on it at least this share of the time.
/// Only links qualify: an in-process queue cannot be full for its writer and empty for its
/// reader at once, so such a pair of figures means the pressure comes and goes.
pub const EXCHANGE_IDLE_MIN: f64 = 0.5;
/// A task that is not loaded and whose upstream is blocked on one input waits for another input
/// when it is blocked receiving from that input at least this share of the time (and more than
/// from the blocked one): the task on that input is what holds it back (rule `slowest_input`).
pub const INPUT_WAIT_MIN: f64 = 0.3;

/// How the analysis sees the graph: the tasks, the edges with their evidence, and which edges
/// carry backpressure.
struct View<'a> {
    graph: &'a JobGraph,
    tasks: &'a [TaskReport],
    edges: &'a [EdgeReport],
}

impl View<'_> {
    /// The load of task `i` (busy without wake-up latency; Flink's busy when unknown).
    fn load(&self, i: usize) -> Option<f64> {
        self.tasks[i].load.or(self.tasks[i].busy)
    }

    fn loaded(&self, i: usize) -> bool {
        self.load(i).is_some_and(|l| l >= BUSY_MIN)
    }

    fn level(&self, i: usize) -> Option<Level> {
        self.tasks[i].level
    }

    /// Whether the upstream task of edge `e` is backpressured on it: blocked sending into it at
    /// least [`LEVEL_OK_MAX`] of the time, or, when the recording does not say where waits
    /// happened, backpressured at level LOW or HIGH.
    fn pressured(&self, e: usize) -> bool {
        let edge = &self.edges[e];
        match edge.upstream_blocked {
            Some(blocked) => blocked > LEVEL_OK_MAX,
            None => matches!(
                self.level(self.graph.edges[e].from),
                Some(Level::Low | Level::High)
            ),
        }
    }

    /// The upstream task's backpressure on edge `e` (its blocked share, or its whole
    /// backpressured ratio when unknown).
    fn pressure(&self, e: usize) -> f64 {
        self.edges[e]
            .upstream_blocked
            .or(self.tasks[self.graph.edges[e].from].backpressured)
            .unwrap_or(0.0)
    }

    fn edges_into(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        (0..self.graph.edges.len()).filter(move |&e| self.graph.edges[e].to == i)
    }

    fn edges_out_of(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        (0..self.graph.edges.len()).filter(move |&e| self.graph.edges[e].from == i)
    }

    fn edge_name(&self, e: usize) -> String {
        format!("{} -> {}", self.edges[e].from, self.edges[e].to)
    }

    fn edge_ref(&self, e: usize) -> EdgeRef {
        EdgeRef {
            from: self.edges[e].from.clone(),
            to: self.edges[e].to.clone(),
        }
    }

    /// The input edge of task `d`, other than `except`, that `d` waits on most, when it waits on
    /// it at least [`INPUT_WAIT_MIN`] of the time and longer than on `except`.
    fn waited_input(&self, d: usize, except: usize) -> Option<usize> {
        let on_except = self.edges[except].downstream_blocked.unwrap_or(0.0);
        self.edges_into(d)
            .filter(|&e| e != except)
            .filter_map(|e| self.edges[e].downstream_blocked.map(|w| (e, w)))
            .filter(|&(_, w)| w >= INPUT_WAIT_MIN && w > on_except)
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(e, _)| e)
    }

    /// Follows the inputs a task waits for, from edge `e`, to the first loaded task; `None` when
    /// the trail ends without one (a source that is not loaded, a cycle).
    fn slowest_input(&self, e: usize) -> Option<(usize, Vec<usize>)> {
        let mut trail = vec![e];
        let mut at = self.graph.edges[e].from;
        while !self.loaded(at) {
            let next = self
                .edges_into(at)
                .filter_map(|e| self.edges[e].downstream_blocked.map(|w| (e, w)))
                .filter(|&(_, w)| w >= INPUT_WAIT_MIN)
                .max_by(|a, b| a.1.total_cmp(&b.1))?;
            if trail.contains(&next.0) {
                return None;
            }
            trail.push(next.0);
            at = self.graph.edges[next.0].from;
        }
        Some((at, trail))
    }
}

/// A task named by a rule: (task, rule, the backpressured edge, for `slowest_input` the waiting
/// task and the edge it waits on).
type Named = (usize, Rule, usize, Option<(usize, usize)>);

/// What explains the backpressure on one edge.
enum Cause {
    /// The downstream task is loaded.
    Loaded(usize),
    /// The downstream task waits for another input, whose trail leads to this loaded task.
    Input {
        task: usize,
        waiting: usize,
        via: usize,
    },
    /// A link whose reader waits on it.
    Exchange,
    /// The downstream task is itself backpressured: explained further down.
    Further,
    /// Nothing downstream explains it.
    Unexplained,
}

fn cause(view: &View, e: usize) -> Cause {
    let edge = &view.graph.edges[e];
    let d = edge.to;
    if d == edge.from {
        return Cause::Unexplained;
    }
    if view.loaded(d) {
        return Cause::Loaded(d);
    }
    let report = &view.edges[e];
    if report.link
        && report
            .downstream_blocked
            .is_some_and(|w| w >= EXCHANGE_IDLE_MIN)
    {
        return Cause::Exchange;
    }
    if let Some(input) = view.waited_input(d, e) {
        if let Some((task, _)) = view.slowest_input(input) {
            return Cause::Input {
                task,
                waiting: d,
                via: input,
            };
        }
    }
    if view.edges_out_of(d).any(|o| view.pressured(o))
        || matches!(view.level(d), Some(Level::Low | Level::High))
    {
        return Cause::Further;
    }
    Cause::Unexplained
}

/// Fills [`TaskReport::operators`]: each operator's share of its task's busy time, its records
/// (calls) and its busy time per record.
fn attach_operators(
    recording: &Recording,
    graph: &JobGraph,
    selection: &Selection,
    sums: &BTreeMap<(usize, u32), SubtaskSums>,
    tasks: &mut [TaskReport],
) {
    for (position, operators) in window::operator_sums(recording, graph, selection) {
        let Some(task) = tasks.get_mut(position) else {
            continue;
        };
        if task.unaccounted || task.busy.is_none() {
            continue;
        }
        let busy: u64 = sums
            .range((position, 0)..=(position, u32::MAX))
            .map(|(_, s)| s.busy)
            .sum();
        let total: u64 = operators.iter().map(|o| o.busy).sum();
        // Operator time is measured separately from busy time; never report more than all of it.
        let whole = busy.max(total);
        task.operators = operators
            .into_iter()
            .map(|o| OperatorShare {
                busy_share: if whole > 0 {
                    o.busy as f64 / whole as f64
                } else {
                    0.0
                },
                records: o.calls,
                records_per_s: if selection.seconds > 0.0 {
                    o.calls as f64 / selection.seconds
                } else {
                    0.0
                },
                busy_per_record_us: (o.calls > 0).then(|| o.busy as f64 / 1e3 / o.calls as f64),
                name: o.name,
            })
            .collect();
    }
}

/// The operator of a chain taking the largest share of the task's busy time, when the task runs
/// at least two operators and it takes at least [`OPERATOR_SHARE_MIN`].
pub(crate) fn slowest_operator(task: &TaskReport) -> Option<&OperatorShare> {
    if task.operators.len() < 2 {
        return None;
    }
    task.operators
        .iter()
        .fold(None::<&OperatorShare>, |best, o| match best {
            Some(b) if b.busy_share >= o.busy_share => Some(b),
            _ => Some(o),
        })
        .filter(|o| o.busy_share >= OPERATOR_SHARE_MIN)
}

/// "Enrich (in chain Parse -> Filter -> Enrich) takes 85% of the busy time".
fn operator_sentence(task: &TaskReport, op: &OperatorShare) -> String {
    let chain: Vec<&str> = task.operators.iter().map(|o| o.name.as_str()).collect();
    format!(
        "{} (in chain {}) takes {} of the busy time",
        op.name,
        chain.join(" -> "),
        pct(op.busy_share)
    )
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
    let pressured_edges: Vec<usize> = (0..graph.edges.len())
        .filter(|&e| view.pressured(e))
        .collect();
    let upstream_of = |i: usize| -> Vec<UpstreamPressure> {
        let mut up: Vec<UpstreamPressure> = pressured_edges
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

    // Every loaded task that explains backpressure on some edge, with how.
    let mut found: Vec<Named> = Vec::new();
    let mut unexplained: Vec<usize> = Vec::new();
    let mut exchanges: Vec<usize> = Vec::new();
    for &e in &pressured_edges {
        match cause(&view, e) {
            Cause::Loaded(d) => found.push((d, Rule::LoadedBelowBackpressure, e, None)),
            Cause::Input { task, waiting, via } => {
                found.push((task, Rule::SlowestInput, e, Some((waiting, via))))
            }
            Cause::Exchange => exchanges.push(e),
            Cause::Further => {}
            Cause::Unexplained => unexplained.push(e),
        }
    }
    for f in full {
        if view.loaded(f.1) {
            if let Some(e) = (0..graph.edges.len())
                .find(|&e| graph.edges[e].from == f.0 && graph.edges[e].to == f.1)
            {
                found.push((f.1, Rule::LoadedBelowBackpressure, e, None));
            }
        }
    }
    // A task backpressured most of the time (level HIGH) is not the bottleneck, nor is a task
    // backpressured at level LOW whose backpressure a loaded task further down explains.
    let explained_below = |i: usize| {
        found
            .iter()
            .any(|&(t, _, e, _)| t != i && graph.reachable(i).contains(&graph.edges[e].to))
    };
    let keep: Vec<bool> = found
        .iter()
        .map(|&(t, _, _, _)| match view.level(t) {
            Some(Level::High) => false,
            Some(Level::Low) => !explained_below(t),
            _ => true,
        })
        .collect();
    let mut keep = keep.into_iter();
    found.retain(|_| keep.next().unwrap_or(false));
    // One entry per task: the first rule that named it, most loaded first.
    let mut named: Vec<Named> = Vec::new();
    for f in found {
        if !named.iter().any(|n| n.0 == f.0) {
            named.push(f);
        }
    }
    named.sort_by(|a, b| {
        let load = |i: usize| view.load(i).unwrap_or(0.0);
        load(b.0).total_cmp(&load(a.0))
    });
    let mut bottlenecks: Vec<Bottleneck> = named
        .iter()
        .map(|&(i, rule, e, input)| {
            let fed: Vec<(String, f64)> = full
                .iter()
                .filter(|f| f.1 == i)
                .map(|f| (tasks[f.0].name.clone(), f.2))
                .collect();
            let mut b = candidate(&tasks[i], upstream_of(i), &fed);
            b.rule = Some(rule);
            b.edge = Some(view.edge_ref(e));
            b.evidence.push(evidence(
                "upstream_blocked",
                view.edge_name(e),
                view.pressure(e),
                LEVEL_OK_MAX,
                true,
            ));
            if let Some((waiting, via)) = input {
                b.waited_by = Some(tasks[waiting].name.clone());
                b.evidence.push(evidence(
                    "load",
                    tasks[waiting].name.clone(),
                    view.load(waiting).unwrap_or(0.0),
                    BUSY_MIN,
                    false,
                ));
                b.evidence.push(evidence(
                    "downstream_blocked",
                    view.edge_name(via),
                    edges[via].downstream_blocked.unwrap_or(0.0),
                    INPUT_WAIT_MIN,
                    true,
                ));
                b.reason = explain::slowest_input(&b, &tasks[i], &tasks[waiting], view.pressure(e));
            }
            b.evidence.push(evidence(
                "load",
                tasks[i].name.clone(),
                view.load(i).unwrap_or(0.0),
                BUSY_MIN,
                true,
            ));
            b
        })
        .collect();
    for &e in &exchanges {
        let up = graph.edges[e].from;
        if bottlenecks.iter().any(|b| b.task == tasks[up].name) {
            continue;
        }
        bottlenecks.push(exchange_bottleneck(&view, e, upstream_of(up)));
    }

    // Backpressure that nothing explains: the most downstream of those tasks, once each. A task
    // backpressured on no edge it has (a `backpressured` scope, a sink) counts too.
    let pressured_elsewhere = (0..tasks.len()).filter(|&i| {
        matches!(view.level(i), Some(Level::Low | Level::High))
            && !view.edges_out_of(i).any(|o| view.pressured(o))
    });
    let mut starts: Vec<usize> = unexplained.iter().map(|&e| graph.edges[e].from).collect();
    starts.extend(pressured_elsewhere);
    let mut external: Vec<usize> = Vec::new();
    for up in starts {
        let below_named = bottlenecks
            .iter()
            .any(|b| graph.reachable(up).iter().any(|&r| tasks[r].name == b.task));
        if !below_named && !external.contains(&up) {
            external.push(up);
        }
    }
    let all = external.clone();
    external.retain(|&i| {
        !all.iter()
            .any(|&j| j != i && graph.reachable(i).contains(&j))
    });
    if bottlenecks.is_empty() && external.is_empty() {
        // Only possible on a cycle of backpressured edges: name the most backpressured task.
        external.extend(
            pressured_edges
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
        bottlenecks.push(external_bottleneck(&tasks[i], upstream_of(i), &unknown));
    }

    let mut notes = Vec::new();
    for task in tasks {
        if task.busy.is_none() {
            notes.push(if task.unaccounted {
                format!(
                    "{} is declared unaccounted: its work runs in threads bpprof does not see, so its busy time is unknown",
                    task.name
                )
            } else {
                format!("{} has no accounting data in the analysed range", task.name)
            });
            continue;
        }
        let Some(s) = busiest(task) else { continue };
        if s.busy.is_some_and(|b| b >= BUSY_MIN) {
            let name = display_name(task, s);
            if s.off_cpu_share.is_some_and(|x| x > OFF_CPU_SHARE_MIN) {
                notes.push(off_cpu_sentence(&name, s));
            }
            if s.runqueue_share.is_some_and(|x| x > RUNQUEUE_SHARE_MIN) {
                notes.push(runqueue_sentence(&name, s, cpus));
            }
        }
    }

    let verdict = match bottlenecks.as_slice() {
        [] => {
            let busiest =
                tasks
                    .iter()
                    .filter(|t| t.busy.is_some())
                    .fold(None::<&TaskReport>, |best, t| match best {
                        Some(b) if b.busy >= t.busy => Some(b),
                        _ => Some(t),
                    });
            match busiest {
                Some(t) => format!(
                    "No backpressure: no task is a bottleneck. The busiest task is {} (busy {}): the job is limited by its sources or under-loaded.",
                    t.name,
                    pct(t.busy.unwrap_or(0.0))
                ),
                None => "No backpressure: no task is a bottleneck. No task has accounting data in the analysed range.".to_owned(),
            }
        }
        [one] => one.reason.clone(),
        many => {
            let list: Vec<String> = many
                .iter()
                .map(|b| match b.kind {
                    BottleneckKind::External => format!("{} (external)", b.task),
                    BottleneckKind::Exchange => format!(
                        "{} -> {} (exchange)",
                        b.task,
                        b.downstream.as_deref().unwrap_or_default()
                    ),
                    kind => format!("{} (busy {}, {})", b.task, pct(b.busy), kind_word(kind)),
                })
                .collect();
            format!("{} bottlenecks: {}.", many.len(), list.join(", "))
        }
    };
    Conclusion {
        verdict,
        bottlenecks,
        notes,
    }
}

fn candidate(
    task: &TaskReport,
    upstream: Vec<UpstreamPressure>,
    fed_by_unaccounted: &[(String, f64)],
) -> Bottleneck {
    let busy = task.busy.unwrap_or(0.0);
    let up = match upstream.as_slice() {
        [] => {
            let queues: Vec<String> = fed_by_unaccounted
                .iter()
                .map(|(name, fill)| format!("{name} keeps its input queue {} full", pct(*fill)))
                .collect();
            format!("its unaccounted upstream {}", join_and(&queues))
        }
        [one] => format!(
            "its upstream {} is backpressured {}",
            one.task,
            pct(one.backpressured)
        ),
        many => {
            let names: Vec<String> = many
                .iter()
                .map(|u| format!("{} ({})", u.task, pct(u.backpressured)))
                .collect();
            format!("its upstream tasks {} are backpressured", join_and(&names))
        }
    };
    let mut reason = format!(
        "{} is the bottleneck: busy {} while {}",
        task.name,
        pct(busy),
        up
    );
    let hot: Vec<&SubtaskReport> = task.subtasks.iter().filter(|s| s.skewed).collect();
    let top = busiest(task);
    let (kind, subtasks) = if !hot.is_empty() {
        reason.push_str(". ");
        reason.push_str(&skew_sentence(task, &hot));
        (BottleneckKind::Skew, hot.iter().map(|s| s.index).collect())
    } else if let Some(s) = top {
        reason.push_str(&format!("; {} is the busiest subtask", s.name));
        let off_cpu = s.off_cpu_share.is_some_and(|x| x > OFF_CPU_SHARE_MIN);
        if off_cpu {
            reason.push_str(". ");
            reason.push_str(&off_cpu_sentence(&display_name(task, s), s));
        }
        let kind = if off_cpu {
            BottleneckKind::OffCpu
        } else {
            BottleneckKind::Cpu
        };
        (kind, vec![s.index])
    } else {
        (BottleneckKind::Cpu, Vec::new())
    };
    let operator = slowest_operator(task);
    if let Some(op) = operator {
        reason.push_str(". ");
        reason.push_str(&operator_sentence(task, op));
    }
    Bottleneck {
        task: task.name.clone(),
        subtasks,
        kind,
        reason,
        busy,
        upstream,
        operator: operator.map(|o| o.name.clone()),
        downstream: None,
        rule: None,
        edge: None,
        waited_by: None,
        evidence: Vec::new(),
    }
}

/// One checked figure.
fn evidence(metric: &str, subject: String, value: f64, threshold: f64, at_least: bool) -> Evidence {
    Evidence {
        metric: metric.to_owned(),
        subject,
        value,
        threshold,
        at_least,
    }
}

/// The link of edge `e` is the bottleneck: its writer is blocked on it while its reader waits.
fn exchange_bottleneck(view: &View, e: usize, upstream: Vec<UpstreamPressure>) -> Bottleneck {
    let (u, d) = (view.graph.edges[e].from, view.graph.edges[e].to);
    let (up, down) = (&view.tasks[u], &view.tasks[d]);
    let waited = view.edges[e].downstream_blocked.unwrap_or(0.0);
    let most = up
        .subtasks
        .iter()
        .filter(|s| s.backpressured.is_some())
        .fold(None::<&SubtaskReport>, |best, s| match best {
            Some(b) if b.backpressured >= s.backpressured => Some(b),
            _ => Some(s),
        });
    let mut b = Bottleneck {
        task: up.name.clone(),
        subtasks: most.map(|s| s.index).into_iter().collect(),
        kind: BottleneckKind::Exchange,
        reason: String::new(),
        busy: up.busy.unwrap_or(0.0),
        upstream,
        operator: None,
        downstream: Some(down.name.clone()),
        rule: Some(Rule::Exchange),
        edge: Some(view.edge_ref(e)),
        waited_by: None,
        evidence: vec![
            evidence(
                "upstream_blocked",
                view.edge_name(e),
                view.pressure(e),
                LEVEL_OK_MAX,
                true,
            ),
            evidence(
                "downstream_blocked",
                view.edge_name(e),
                waited,
                EXCHANGE_IDLE_MIN,
                true,
            ),
            evidence(
                "load",
                down.name.clone(),
                view.load(d).unwrap_or(0.0),
                BUSY_MIN,
                false,
            ),
        ],
    };
    b.reason = explain::exchange(&b, up, down, view.pressure(e), waited);
    b
}

fn external_bottleneck(
    task: &TaskReport,
    upstream: Vec<UpstreamPressure>,
    unknown_downstream: &[&str],
) -> Bottleneck {
    let bp = task.backpressured.unwrap_or(0.0);
    let reason = if unknown_downstream.is_empty() {
        format!(
            "{} is backpressured {} with no busy task downstream: it is blocked by something outside the recorded pipeline",
            task.name,
            pct(bp)
        )
    } else {
        let names: Vec<String> = unknown_downstream.iter().map(|s| s.to_string()).collect();
        format!(
            "{} is backpressured {} and its downstream {} has no accounting data: {} is probably the bottleneck",
            task.name,
            pct(bp),
            join_and(&names),
            join_and(&names)
        )
    };
    let most = task
        .subtasks
        .iter()
        .filter(|s| s.backpressured.is_some())
        .fold(None::<&SubtaskReport>, |best, s| match best {
            Some(b) if b.backpressured >= s.backpressured => Some(b),
            _ => Some(s),
        });
    Bottleneck {
        task: task.name.clone(),
        subtasks: most.map(|s| s.index).into_iter().collect(),
        kind: BottleneckKind::External,
        reason,
        busy: task.busy.unwrap_or(0.0),
        upstream,
        operator: None,
        downstream: None,
        rule: Some(Rule::External),
        edge: None,
        waited_by: None,
        evidence: vec![evidence(
            "backpressured",
            task.name.clone(),
            bp,
            LEVEL_OK_MAX,
            true,
        )],
    }
}

/// "Count#2 is hot: busy 99% vs a median of 12% across Count; it received 812,000 records vs a
/// median of 95,000: the partitioning is skewed".
fn skew_sentence(task: &TaskReport, hot: &[&SubtaskReport]) -> String {
    let median_busy = median(task.subtasks.iter().filter_map(|s| s.busy).collect());
    let median_records = median(task.subtasks.iter().map(|s| s.records_in as f64).collect());
    let names: Vec<String> = hot.iter().map(|s| s.name.clone()).collect();
    let busy: Vec<String> = hot.iter().map(|s| pct(s.busy.unwrap_or(0.0))).collect();
    let records: Vec<String> = hot.iter().map(|s| thousands(s.records_in)).collect();
    let (verb, pronoun) = if hot.len() == 1 {
        ("is", "it")
    } else {
        ("are", "they")
    };
    format!(
        "{} {verb} hot: busy {} vs a median of {} across {}; {pronoun} received {} records vs a median of {}: the partitioning is skewed",
        join_and(&names),
        join_and(&busy),
        pct(median_busy),
        task.name,
        join_and(&records),
        thousands(median_records.round() as u64),
    )
}

/// "Sink is busy 95% but on CPU 8%: it waits on something outside the pipeline (I/O, a lock, a sleep)".
fn off_cpu_sentence(name: &str, s: &SubtaskReport) -> String {
    format!(
        "{name} is busy {} but on CPU {}: it waits on something outside the pipeline (I/O, a lock, a sleep)",
        pct(s.busy.unwrap_or(0.0)),
        pct(s.on_cpu.unwrap_or(0.0))
    )
}

/// "Enrich waits for a CPU 45% of its busy time: more runnable threads than CPUs".
fn runqueue_sentence(name: &str, s: &SubtaskReport, cpus: u32) -> String {
    let cpus = if cpus > 0 {
        format!(" ({cpus} CPUs)")
    } else {
        String::new()
    };
    format!(
        "{name} waits for a CPU {} of its busy time: more runnable threads than CPUs{cpus}, the machine is oversubscribed",
        pct(s.runqueue_share.unwrap_or(0.0))
    )
}

/// The task's name when it has one subtask, else the subtask's.
fn display_name(task: &TaskReport, s: &SubtaskReport) -> String {
    if task.subtasks.len() <= 1 {
        task.name.clone()
    } else {
        s.name.clone()
    }
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

fn kind_word(kind: BottleneckKind) -> &'static str {
    match kind {
        BottleneckKind::Cpu => "cpu",
        BottleneckKind::Skew => "skew",
        BottleneckKind::OffCpu => "off-CPU",
        BottleneckKind::External => "external",
        BottleneckKind::Exchange => "exchange",
    }
}

/// Median of `values` (mean of the two middle ones for an even count); 0 when empty.
pub(crate) fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// A ratio as a whole percentage: `0.974` -> `"97%"`.
pub(crate) fn pct(ratio: f64) -> String {
    format!("{:.0}%", ratio * 100.0)
}

/// `812000` -> `"812,000"`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// "A", "A and B", "A, B and C".
fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(812_000), "812,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn median_of_even_and_odd_counts() {
        assert_eq!(median(vec![]), 0.0);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
    }

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
