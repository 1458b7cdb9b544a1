//! The figures the rules pick and record: the busiest subtask of a task, the slowest operator of
//! a chain, and one checked figure ([`Evidence`]). A leaf of the rules, which the sentences
//! (`explain`) read too.

use super::thresholds::OPERATOR_SHARE_MIN;
use crate::report::{Evidence, OperatorShare, SubtaskReport, TaskReport};

/// One checked figure.
pub(super) fn evidence(
    metric: &str,
    subject: String,
    value: f64,
    threshold: f64,
    at_least: bool,
) -> Evidence {
    Evidence {
        metric: metric.to_owned(),
        subject,
        value,
        threshold,
        at_least,
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
