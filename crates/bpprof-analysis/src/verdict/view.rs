//! How the rules read the job graph: the tasks, the edges with their evidence, and per edge
//! whether its upstream is backpressured on it.

use super::thresholds::{
    BUSY_MIN, CONTENDED_FULL_QUEUE_MIN, INPUT_WAIT_MIN, LEVEL_OK_MAX, RUNNABLE_FLOOR,
    STARVED_ON_CPU_MIN,
};
use crate::graph::JobGraph;
use crate::report::{EdgeRef, EdgeReport, Level, Rule, TaskReport};

/// How the analysis sees the graph: the tasks, the edges with their evidence, and which edges
/// carry backpressure.
pub(super) struct View<'a> {
    pub graph: &'a JobGraph,
    pub tasks: &'a [TaskReport],
    pub edges: &'a [EdgeReport],
}

impl View<'_> {
    /// The load of task `i` (busy without wake-up latency; Flink's busy when unknown).
    pub(super) fn load(&self, i: usize) -> Option<f64> {
        self.tasks[i].load.or(self.tasks[i].busy)
    }

    pub(super) fn loaded(&self, i: usize) -> bool {
        self.load(i).is_some_and(|l| l >= BUSY_MIN)
    }

    /// Whether task `i` is busy (Flink's busy) at least [`BUSY_MIN`] while not loaded, and runs
    /// on a CPU at least [`STARVED_ON_CPU_MIN`] of that busy time.
    pub(super) fn starved(&self, i: usize) -> bool {
        let task = &self.tasks[i];
        match (task.busy, task.on_cpu) {
            (Some(busy), Some(on_cpu)) => {
                busy >= BUSY_MIN && !self.loaded(i) && on_cpu >= STARVED_ON_CPU_MIN * busy
            }
            _ => false,
        }
    }

    pub(super) fn level(&self, i: usize) -> Option<Level> {
        self.tasks[i].level
    }

    /// Whether the upstream task of edge `e` is backpressured on it: blocked sending into it
    /// more than [`View::pressure_min`] of the time, or, when the recording does not say where
    /// waits happened, backpressured at level LOW or HIGH.
    pub(super) fn pressured(&self, e: usize) -> bool {
        let edge = &self.edges[e];
        match edge.upstream_blocked {
            Some(blocked) => blocked > self.pressure_min(e),
            None => matches!(
                self.level(self.graph.edges[e].from),
                Some(Level::Low | Level::High)
            ),
        }
    }

    /// The share of its time the upstream task of edge `e` must be blocked sending into it for
    /// the edge to carry backpressure: [`LEVEL_OK_MAX`], or, when the edge's queue is on
    /// average at least [`CONTENDED_FULL_QUEUE_MIN`] full, [`LEVEL_OK_MAX`] of the time the
    /// upstream task was not waiting for a CPU ([`View::runnable_share`]).
    pub(super) fn pressure_min(&self, e: usize) -> f64 {
        let full = self.edges[e]
            .fill_ratio
            .is_some_and(|f| f >= CONTENDED_FULL_QUEUE_MIN);
        if full {
            LEVEL_OK_MAX * self.runnable_share(self.graph.edges[e].from)
        } else {
            LEVEL_OK_MAX
        }
    }

    /// The backpressured ratio at which task `i` counts as backpressured: [`LEVEL_OK_MAX`], or
    /// the lowest [`View::pressure_min`] of the edges out of it that carry backpressure (a task
    /// that waits for a CPU most of its time is backpressured on a full queue below it at less).
    pub(super) fn backpressure_min(&self, i: usize) -> f64 {
        self.edges_out_of(i)
            .filter(|&e| self.pressured(e))
            .map(|e| self.pressure_min(e))
            .fold(LEVEL_OK_MAX, f64::min)
    }

    /// The upstream task's backpressure on edge `e` (its blocked share, or its whole
    /// backpressured ratio when unknown).
    pub(super) fn pressure(&self, e: usize) -> f64 {
        self.edges[e]
            .upstream_blocked
            .or(self.tasks[self.graph.edges[e].from].backpressured)
            .unwrap_or(0.0)
    }

    pub(super) fn edges_into(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        (0..self.graph.edges.len()).filter(move |&e| self.graph.edges[e].to == i)
    }

    pub(super) fn edges_out_of(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        (0..self.graph.edges.len()).filter(move |&e| self.graph.edges[e].from == i)
    }

    pub(super) fn edge_name(&self, e: usize) -> String {
        format!("{} -> {}", self.edges[e].from, self.edges[e].to)
    }

    pub(super) fn edge_ref(&self, e: usize) -> EdgeRef {
        EdgeRef {
            from: self.edges[e].from.clone(),
            to: self.edges[e].to.clone(),
        }
    }

    /// The share of its time task `i` was not waiting for a CPU (that of its subtask that waited
    /// most), but no less than [`RUNNABLE_FLOOR`]: the time it had to wait for anything else.
    pub(super) fn runnable_share(&self, i: usize) -> f64 {
        let cpu_wait = self.tasks[i]
            .subtasks
            .iter()
            .filter_map(|s| Some(s.busy? * s.runqueue_share?))
            .fold(0.0, f64::max);
        (1.0 - cpu_wait).clamp(RUNNABLE_FLOOR, 1.0)
    }

    /// The share of its time task `i` must be blocked on an input to be waiting for it:
    /// [`INPUT_WAIT_MIN`] of the time it was not waiting for a CPU (a task that waits for a CPU
    /// most of the time has little time left to wait for its input), but never less than
    /// [`INPUT_WAIT_MIN`] × [`RUNNABLE_FLOOR`].
    pub(super) fn input_wait_min(&self, i: usize) -> f64 {
        INPUT_WAIT_MIN * self.runnable_share(i)
    }

    /// The input edge of task `d`, other than `except`, that `d` waits on most, when it waits on
    /// it at least [`View::input_wait_min`] of the time and longer than on `except`.
    pub(super) fn waited_input(&self, d: usize, except: usize) -> Option<usize> {
        let on_except = self.edges[except].downstream_blocked.unwrap_or(0.0);
        let min = self.input_wait_min(d);
        self.edges_into(d)
            .filter(|&e| e != except)
            .filter_map(|e| self.edges[e].downstream_blocked.map(|w| (e, w)))
            .filter(|&(_, w)| w >= min && w > on_except)
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(e, _)| e)
    }

    /// Follows the inputs a task waits for, from edge `e`, to the first loaded task; `None` when
    /// the trail ends without one (a source that is not loaded, a cycle).
    pub(super) fn slowest_input(&self, e: usize) -> Option<(usize, Vec<usize>)> {
        let mut trail = vec![e];
        let mut at = self.graph.edges[e].from;
        while !self.loaded(at) {
            let min = self.input_wait_min(at);
            let next = self
                .edges_into(at)
                .filter_map(|e| self.edges[e].downstream_blocked.map(|w| (e, w)))
                .filter(|&(_, w)| w >= min)
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
pub(super) type Named = (usize, Rule, usize, Option<(usize, usize)>);
