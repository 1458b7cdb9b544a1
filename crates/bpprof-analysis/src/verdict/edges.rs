//! What explains the backpressure on each edge (a loaded task below, a join waiting for another
//! input, a slow link, or nothing recorded), and which queues out of unaccounted tasks count as
//! backpressure.

use bpprof_format::Recording;

use super::thresholds::{EXCHANGE_IDLE_MIN, UNACCOUNTED_FULL_QUEUE_MIN};
use super::view::View;
use super::workers;
use crate::graph::JobGraph;
use crate::report::{Level, TaskReport};
use crate::window::{self, Selection};

/// What explains the backpressure on one edge.
pub(super) enum Cause {
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
    /// The downstream task is busy (Flink's busy) but not loaded: it spends much of its time
    /// waiting for a CPU after its input arrived.
    Starved(usize),
    /// The downstream task (async) waits to be polled: the polls of `task` hold the workers.
    WorkersHeld { task: usize, waiting: usize },
    /// Nothing downstream explains it.
    Unexplained,
}

pub(super) fn cause(view: &View, e: usize) -> Cause {
    let edge = &view.graph.edges[e];
    let d = edge.to;
    if d == edge.from {
        return Cause::Unexplained;
    }
    // An async task that holds the workers is the bottleneck whatever its load (it also waits
    // for the workers, held by its own subtasks).
    if workers::holder(view, d) == Some(d) {
        return Cause::WorkersHeld {
            task: d,
            waiting: d,
        };
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
    if let Some(task) = workers::holder(view, d).filter(|&h| h != d) {
        return Cause::WorkersHeld { task, waiting: d };
    }
    if view.starved(d) {
        return Cause::Starved(d);
    }
    Cause::Unexplained
}

/// The queues out of unaccounted tasks that are full enough to count as backpressure:
/// `(from, to, average fill / capacity)` per edge.
pub(super) fn full_queues_from_unaccounted(
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
