//! Async pipelines: the worker threads of an async runtime are shared by its tasks, so a task
//! whose polls hold them (CPU-heavy work, or a blocking call, inside `poll`) slows every other
//! task, which waits to be polled (*scheduled* time) rather than for its input. The rule
//! `workers_held` names that task; the notes say which tasks wait to be polled and which polls
//! are long.

use super::figures::evidence;
use super::thresholds::RUNQUEUE_SHARE_MIN;
use super::view::View;
use crate::report::{Note, NoteKind, SubtaskReport, TaskReport};

/// An async task downstream of backpressure waits for the runtime's workers when at least this
/// share of its busy time is scheduled (woken, not yet polled).
pub const SCHEDULED_SHARE_MIN: f64 = 0.5;

/// The task whose polls hold the workers holds at least this share of all the polled time of
/// the recording's async tasks...
pub const HOLD_SHARE_MIN: f64 = 0.5;

/// ...and at least this many workers on average (the sum of its subtasks' polled shares): a task
/// polled a tenth of the time holds no worker long enough to keep others waiting.
pub const HOLD_WORKERS_MIN: f64 = 0.5;

/// A poll this long (milliseconds) or longer keeps every other task of its worker waiting: the
/// notes name the task (tokio's own advice is to reach an `.await` every 10 to 100 µs).
pub const LONG_POLL_MS: f64 = 10.0;

/// The largest scheduled share of busy time among the async subtasks of `task`.
pub(super) fn scheduled_share(task: &TaskReport) -> Option<f64> {
    task.subtasks
        .iter()
        .filter_map(|s| s.scheduled_share)
        .reduce(f64::max)
}

/// Whether the polls of `i` hold the workers: at least [`HOLD_WORKERS_MIN`] workers and
/// [`HOLD_SHARE_MIN`] of all polled time.
fn holds(view: &View, i: usize) -> bool {
    view.tasks[i]
        .polled_workers
        .is_some_and(|w| w >= HOLD_WORKERS_MIN)
        && held_share(view, i) >= HOLD_SHARE_MIN
}

/// The polled workers of `i` as a share of all async tasks' polled workers.
pub(super) fn held_share(view: &View, i: usize) -> f64 {
    let total: f64 = view.tasks.iter().filter_map(|t| t.polled_workers).sum();
    match view.tasks[i].polled_workers {
        Some(held) if total > 0.0 => held / total,
        _ => 0.0,
    }
}

/// The async task whose polls hold the workers that async task `d`, downstream of
/// backpressure, needs: `d` itself when it holds them (see [`HOLD_SHARE_MIN`] and
/// [`HOLD_WORKERS_MIN`]: its rate is what the workers give it), otherwise, when `d` waits to be
/// polled at least [`SCHEDULED_SHARE_MIN`] of its busy time, the task holding the most, if it
/// holds them.
pub(super) fn holder(view: &View, d: usize) -> Option<usize> {
    view.tasks[d].polled_workers?;
    if holds(view, d) {
        return Some(d);
    }
    scheduled_share(&view.tasks[d]).filter(|&s| s >= SCHEDULED_SHARE_MIN)?;
    (0..view.tasks.len())
        .filter(|&i| view.tasks[i].polled_workers.is_some())
        .max_by(|&a, &b| held_share(view, a).total_cmp(&held_share(view, b)))
        .filter(|&i| holds(view, i))
}

/// Notes on async tasks: a busy subtask that waits to be polled much of its busy time, and a
/// task whose polls are long.
pub(super) fn notes(task: &TaskReport, busiest: &SubtaskReport, name: &str) -> Vec<Note> {
    let mut notes = Vec::new();
    if let Some(share) = busiest.scheduled_share.filter(|&x| x > RUNQUEUE_SHARE_MIN) {
        notes.push(Note::on(
            NoteKind::WaitsForWorker,
            name.to_owned(),
            vec![evidence(
                "scheduled_share",
                busiest.name.clone(),
                share,
                RUNQUEUE_SHARE_MIN,
                true,
            )],
        ));
    }
    notes.extend(long_polls(task));
    notes
}

/// The note on `task` when its longest poll is at least [`LONG_POLL_MS`].
pub(super) fn long_polls(task: &TaskReport) -> Option<Note> {
    let longest = task.max_poll_ms.filter(|&ms| ms >= LONG_POLL_MS)?;
    Some(Note::on(
        NoteKind::LongPolls,
        task.name.clone(),
        vec![
            evidence(
                "max_poll_ms",
                task.name.clone(),
                longest,
                LONG_POLL_MS,
                true,
            ),
            evidence(
                "polled_workers",
                task.name.clone(),
                task.polled_workers.unwrap_or(0.0),
                0.0,
                true,
            ),
        ],
    ))
}
