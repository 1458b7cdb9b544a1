//! The operators of a chain: each one's share of its task's busy time (the slowest one is
//! picked in `figures`).

use std::collections::BTreeMap;

use bpprof_format::Recording;

use crate::graph::JobGraph;
use crate::report::{OperatorShare, TaskReport};
use crate::window::{self, Selection, SubtaskSums};

/// Fills [`TaskReport::operators`]: each operator's share of its task's busy time, its records
/// (calls) and its busy time per record.
pub(super) fn attach_operators(
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
