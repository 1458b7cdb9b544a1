//! Cumulative counters per logical subtask (a task and index, over all its registrations), summed
//! interval by interval as the recorder writes them: what `/metrics` exposes as `_total` counters.

use std::collections::{BTreeMap, HashMap};

use bpprof_format::IntervalChunk;

/// Most declarations of one kind a [`History`](crate::History) keeps (subtask registrations, channel endpoints,
/// operators, frames, stacks); later ones are counted (`dropped_declarations` of
/// `/api/v1/status`). Samples of an undeclared stack draw as `[unknown]`; an undeclared
/// subtask's intervals are not analysed.
pub const MAX_DECLARATIONS: usize = 32_768;

/// A logical subtask's totals since the recording started, nanoseconds and records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SubtaskTotals {
    /// Wall time registered.
    pub(crate) wall_ns: u64,
    /// Busy: registered, neither idle nor backpressured.
    pub(crate) busy_ns: u64,
    /// Idle: blocked waiting for input.
    pub(crate) idle_ns: u64,
    /// Backpressured: blocked waiting for output capacity.
    pub(crate) backpressured_ns: u64,
    /// The threads' CPU time.
    pub(crate) cpu_ns: u64,
    /// CPU time outside blocking waits (the CPU time minus the CPU used inside waits).
    pub(crate) on_cpu_ns: u64,
    /// Runnable but waiting for a CPU (the kernel's run-queue time); `None` when the kernel does
    /// not say.
    pub(crate) cpu_wait_ns: Option<u64>,
    /// Records received.
    pub(crate) records_in: u64,
    /// Records sent.
    pub(crate) records_out: u64,
}

/// Totals of every logical subtask seen, by task name and index.
#[derive(Debug, Clone, Default)]
pub(crate) struct Totals {
    subtasks: BTreeMap<(String, u32), SubtaskTotals>,
}

impl Totals {
    /// Adds `interval`, whose subtask ids `declarations` declares.
    pub(crate) fn add(&mut self, declarations: &IntervalChunk, interval: &IntervalChunk) {
        let names: HashMap<u32, (&str, u32)> = declarations
            .declared_subtasks
            .iter()
            .map(|d| (d.id, (d.task.as_str(), d.index)))
            .collect();
        let blocked_cpu: HashMap<u32, u64> = interval
            .blocking
            .iter()
            .map(|b| (b.id, b.blocked_cpu_ns))
            .collect();
        for s in &interval.subtasks {
            let Some(&(task, index)) = names.get(&s.id) else {
                continue;
            };
            let key = (task.to_owned(), index);
            if !self.subtasks.contains_key(&key) && self.subtasks.len() >= MAX_DECLARATIONS {
                continue;
            }
            let t = self.subtasks.entry(key).or_default();
            let busy = s.busy_ns();
            t.wall_ns += s.wall_ns;
            t.busy_ns += busy;
            t.idle_ns += s.idle_ns;
            t.backpressured_ns += s.backpressured_ns;
            t.cpu_ns += s.cpu_ns;
            t.on_cpu_ns += s
                .cpu_ns
                .saturating_sub(blocked_cpu.get(&s.id).copied().unwrap_or(0));
            t.cpu_wait_ns = match (t.cpu_wait_ns, s.runqueue_ns) {
                (_, None) => t.cpu_wait_ns,
                (sum, Some(rq)) => Some(sum.unwrap_or(0) + rq),
            };
            t.records_in += s.records_in;
            t.records_out += s.records_out;
        }
    }

    /// Every logical subtask's totals, by task name then index.
    pub(crate) fn subtasks(&self) -> impl Iterator<Item = (&str, u32, &SubtaskTotals)> {
        self.subtasks
            .iter()
            .map(|((task, index), t)| (task.as_str(), *index, t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpprof_format::{SubtaskBlocking, SubtaskDecl, SubtaskInterval};

    #[test]
    fn registrations_of_one_subtask_add_up() {
        let declarations = IntervalChunk {
            declared_subtasks: (0..2)
                .map(|id| SubtaskDecl {
                    id,
                    task: "Score".into(),
                    index: 1,
                    parallelism: 2,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let interval = IntervalChunk {
            subtasks: (0..2)
                .map(|id| SubtaskInterval {
                    id,
                    wall_ns: 100,
                    idle_ns: 10,
                    backpressured_ns: 20,
                    cpu_ns: 60,
                    records_in: 3,
                    ..Default::default()
                })
                .collect(),
            blocking: vec![SubtaskBlocking {
                id: 1,
                blocked_cpu_ns: 5,
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut totals = Totals::default();
        totals.add(&declarations, &interval);
        totals.add(&declarations, &interval);
        let all: Vec<_> = totals.subtasks().collect();
        assert_eq!(all.len(), 1);
        let (task, index, t) = all[0];
        assert_eq!((task, index), ("Score", 1));
        assert_eq!(t.wall_ns, 400);
        assert_eq!(t.busy_ns, 280);
        assert_eq!(t.idle_ns, 40);
        assert_eq!(t.backpressured_ns, 80);
        assert_eq!(t.on_cpu_ns, 240 - 10);
        assert_eq!(t.cpu_wait_ns, None);
        assert_eq!(t.records_in, 12);
    }
}
