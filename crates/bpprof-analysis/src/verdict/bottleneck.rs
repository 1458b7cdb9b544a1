//! Builds the [`Bottleneck`]s the rules name, each with the evidence that decided it; the
//! sentences are rendered from that evidence by [`crate::explain`].

use super::figures::{busiest, evidence, slowest_operator};
use super::thresholds::{
    BUSY_MIN, EXCHANGE_IDLE_MIN, OFF_CPU_SHARE_MIN, STARVED_ON_CPU_MIN, UNACCOUNTED_FULL_QUEUE_MIN,
};
use super::view::{Named, View};
use super::workers::{self, HOLD_SHARE_MIN, SCHEDULED_SHARE_MIN};
use crate::explain;
use crate::report::{
    Bottleneck, BottleneckKind, Evidence, Rule, SubtaskReport, TaskReport, UpstreamPressure,
};

/// A loaded task that a rule named (`loaded_below_backpressure` or `slowest_input`). `fed` lists
/// the unaccounted tasks that keep its input queue full, with the fill.
pub(super) fn loaded(
    view: &View,
    named: Named,
    upstream: Vec<UpstreamPressure>,
    fed: &[(String, f64)],
) -> Bottleneck {
    let (i, rule, e, input) = named;
    let task = &view.tasks[i];
    let mut b = Bottleneck {
        edge: Some(view.edge_ref(e)),
        ..of_task(task, rule, upstream)
    };
    let from = &view.tasks[view.graph.edges[e].from];
    let fed_fill = fed.iter().find(|f| f.0 == from.name).map(|f| f.1);
    b.evidence.push(match fed_fill {
        // An unaccounted upstream's backpressure is unknown: its full queue is the evidence.
        Some(fill) if from.unaccounted => evidence(
            "fill_ratio",
            view.edge_name(e),
            fill,
            UNACCOUNTED_FULL_QUEUE_MIN,
            true,
        ),
        _ => evidence(
            "upstream_blocked",
            view.edge_name(e),
            view.pressure(e),
            view.pressure_min(e),
            true,
        ),
    });
    let held = rule == Rule::WorkersHeld;
    if let (true, Some((waiting, _))) = (held, input) {
        b.waited_by = Some(view.tasks[waiting].name.clone());
        b.evidence.extend(workers_held_evidence(view, i, waiting));
        b.reason = explain::workers_held(&b, task, &view.tasks[waiting]);
        return b;
    }
    if let Some((waiting, via)) = input {
        b.waited_by = Some(view.tasks[waiting].name.clone());
        b.evidence.push(evidence(
            "load",
            view.tasks[waiting].name.clone(),
            view.load(waiting).unwrap_or(0.0),
            BUSY_MIN,
            false,
        ));
        b.evidence.push(evidence(
            "downstream_blocked",
            view.edge_name(via),
            view.edges[via].downstream_blocked.unwrap_or(0.0),
            view.input_wait_min(waiting),
            true,
        ));
    }
    let starved = rule == Rule::StarvedBelowBackpressure;
    if starved {
        // Busy by Flink's measure, and below the load threshold only by its wait for a CPU.
        b.evidence
            .push(evidence("busy", task.name.clone(), b.busy, BUSY_MIN, true));
        b.evidence.push(evidence(
            "on_cpu",
            task.name.clone(),
            task.on_cpu.unwrap_or(0.0),
            STARVED_ON_CPU_MIN * b.busy,
            true,
        ));
    }
    b.evidence.push(evidence(
        "load",
        task.name.clone(),
        view.load(i).unwrap_or(0.0),
        BUSY_MIN,
        !starved,
    ));
    b.reason = match input {
        Some((waiting, _)) => explain::slowest_input(&b, task, &view.tasks[waiting]),
        None if starved => explain::starved(&b, task),
        None => explain::loaded(&b, task, fed),
    };
    b
}

/// What kind of bottleneck a loaded task is, and which of its subtasks to look at: the skewed
/// ones, else the busiest.
fn kind_of(task: &TaskReport) -> (BottleneckKind, Vec<u32>) {
    let hot: Vec<u32> = task
        .subtasks
        .iter()
        .filter(|s| s.skewed)
        .map(|s| s.index)
        .collect();
    if !hot.is_empty() {
        return (BottleneckKind::Skew, hot);
    }
    match busiest(task) {
        Some(s) if s.off_cpu_share.is_some_and(|x| x > OFF_CPU_SHARE_MIN) => {
            (BottleneckKind::OffCpu, vec![s.index])
        }
        Some(s) => (BottleneckKind::Cpu, vec![s.index]),
        None => (BottleneckKind::Cpu, Vec::new()),
    }
}

/// Async task `holder` is the bottleneck without any backpressure: its polls hold the workers
/// that the source `source` waits for (see [`workers::holder`]), so the source produces only at
/// the rate the workers leave it and no queue fills.
pub(super) fn starving_source(view: &View, holder: usize, source: usize) -> Bottleneck {
    let task = &view.tasks[holder];
    let waiting = &view.tasks[source];
    let mut b = Bottleneck {
        waited_by: Some(waiting.name.clone()),
        evidence: workers_held_evidence(view, holder, source).to_vec(),
        ..of_task(task, Rule::WorkersHeld, Vec::new())
    };
    b.reason = explain::workers_held(&b, task, waiting);
    b
}

/// A bottleneck on `task` named by `rule`, before its edge, evidence and reason are known.
fn of_task(task: &TaskReport, rule: Rule, upstream: Vec<UpstreamPressure>) -> Bottleneck {
    let (kind, subtasks) = kind_of(task);
    Bottleneck {
        operator: slowest_operator(task).map(|o| o.name.clone()),
        ..on_task(task, kind, subtasks, rule, upstream)
    }
}

/// A bottleneck of `kind` on `task` named by `rule`, with the `subtasks` to look at, before its
/// operator, downstream, edge, evidence and reason are known.
fn on_task(
    task: &TaskReport,
    kind: BottleneckKind,
    subtasks: Vec<u32>,
    rule: Rule,
    upstream: Vec<UpstreamPressure>,
) -> Bottleneck {
    Bottleneck {
        task: task.name.clone(),
        subtasks,
        kind,
        reason: String::new(),
        busy: task.busy.unwrap_or(0.0),
        upstream,
        operator: None,
        downstream: None,
        rule: Some(rule),
        edge: None,
        waited_by: None,
        evidence: Vec::new(),
    }
}

/// The evidence of rule `workers_held`: task `waiting` waits to be polled, task `holder`'s
/// polls hold the workers.
fn workers_held_evidence(view: &View, holder: usize, waiting: usize) -> [Evidence; 2] {
    [
        evidence(
            "scheduled_share",
            view.tasks[waiting].name.clone(),
            workers::scheduled_share(&view.tasks[waiting]).unwrap_or(0.0),
            SCHEDULED_SHARE_MIN,
            true,
        ),
        evidence(
            "held_share",
            view.tasks[holder].name.clone(),
            workers::held_share(view, holder),
            HOLD_SHARE_MIN,
            true,
        ),
    ]
}

/// A bottleneck of `kind` on the backpressured `task` named by `rule` (its most backpressured
/// subtask the one to look at), before its downstream, edge, evidence and reason are known.
fn of_backpressured(
    task: &TaskReport,
    kind: BottleneckKind,
    rule: Rule,
    upstream: Vec<UpstreamPressure>,
) -> Bottleneck {
    let subtasks = most_backpressured(task)
        .map(|s| s.index)
        .into_iter()
        .collect();
    on_task(task, kind, subtasks, rule, upstream)
}

/// The subtask of `task` that is backpressured the most.
fn most_backpressured(task: &TaskReport) -> Option<&SubtaskReport> {
    task.subtasks
        .iter()
        .filter(|s| s.backpressured.is_some())
        .fold(None, |best: Option<&SubtaskReport>, s| match best {
            Some(b) if b.backpressured >= s.backpressured => Some(b),
            _ => Some(s),
        })
}

/// The link of edge `e` is the bottleneck: its writer is blocked on it while its reader waits.
pub(super) fn exchange(view: &View, e: usize, upstream: Vec<UpstreamPressure>) -> Bottleneck {
    let (u, d) = (view.graph.edges[e].from, view.graph.edges[e].to);
    let (up, down) = (&view.tasks[u], &view.tasks[d]);
    let waited = view.edges[e].downstream_blocked.unwrap_or(0.0);
    let mut b = Bottleneck {
        downstream: Some(down.name.clone()),
        edge: Some(view.edge_ref(e)),
        evidence: vec![
            evidence(
                "upstream_blocked",
                view.edge_name(e),
                view.pressure(e),
                view.pressure_min(e),
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
        ..of_backpressured(up, BottleneckKind::Exchange, Rule::Exchange, upstream)
    };
    b.reason = explain::exchange(&b);
    b
}

/// A backpressured task that nothing recorded below explains. `unknown_downstream`: its direct
/// downstream tasks without accounting data (the likely bottleneck).
pub(super) fn external(
    view: &View,
    i: usize,
    upstream: Vec<UpstreamPressure>,
    unknown_downstream: &[&str],
) -> Bottleneck {
    let task = &view.tasks[i];
    let bp = task.backpressured.unwrap_or(0.0);
    let mut b = Bottleneck {
        evidence: vec![evidence(
            "backpressured",
            task.name.clone(),
            bp,
            view.backpressure_min(i),
            true,
        )],
        ..of_backpressured(task, BottleneckKind::External, Rule::External, upstream)
    };
    b.reason = explain::external(&b, unknown_downstream);
    b
}
