//! How much a task can process: its true processing rate (records per busy second, as Flink's
//! autoscaler computes it), its cost per record split like its busy time, the input rate at which
//! it saturates, and the CPUs it uses (`docs/locate.md`, "Capacity").
//!
//! Busy time includes the time a subtask waits for a CPU, so the rate per busy second is the rate
//! at the CPU contention of the recording; the rate per on-CPU second is what the subtask would
//! reach if it never waited for a CPU and did no off-CPU work, the better figure when the machine
//! is oversubscribed.

use crate::report::{Capacity, CpuUse, TaskReport};
use crate::units::NS_PER_S;
use crate::window::{BusySplit, SubtaskSums};

const NS_PER_US: f64 = 1e3;

/// One logical subtask's parts, ns, as far as they are known.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Parts {
    records: u64,
    busy: u64,
    /// On-CPU, waiting-for-CPU and off-CPU parts of `busy`; `None` when CPU time is unknown
    /// (async subtasks).
    split: Option<(u64, Option<u64>, u64)>,
    /// All CPU time, inside waits too; `None` when unknown.
    cpu: Option<u64>,
    /// Run-queue time, inside and outside busy time; `None` when not recorded.
    runqueue: Option<u64>,
}

impl Parts {
    /// The parts of a subtask with these sums and busy split; `cpu_known` is false for async
    /// subtasks.
    pub(crate) fn new(s: &SubtaskSums, split: &BusySplit, cpu_known: bool) -> Parts {
        Parts {
            records: s.records_processed(),
            busy: s.busy,
            split: cpu_known.then_some((split.on_cpu, split.cpu_wait, split.off_cpu)),
            cpu: cpu_known.then_some(s.cpu),
            runqueue: s.runqueue,
        }
    }
}

/// The capacity of one subtask whose `parts` cover `seconds` of the range, at `busy` (its busy
/// ratio); `None` without accounting data.
pub(crate) fn subtask(parts: &Parts, busy: Option<f64>, seconds: f64) -> Option<Capacity> {
    capacity(std::slice::from_ref(parts), busy?, seconds, None)
}

/// The capacity of a task from its subtasks' `parts` and busy ratios (`None` without data):
/// rates and costs over all its subtasks together; it saturates when its busiest subtask does,
/// with its records split among the subtasks as in the recording (skew carried over).
pub(crate) fn task(parts: &[Parts], busy: &[Option<f64>], seconds: f64) -> Option<Capacity> {
    let known: Vec<f64> = busy.iter().flatten().copied().collect();
    let max = known.iter().copied().reduce(f64::max)?;
    let mean = known.iter().sum::<f64>() / known.len() as f64;
    let skew = (mean > 0.0).then(|| max / mean);
    capacity(parts, max, seconds, skew)
}

fn capacity(parts: &[Parts], busiest: f64, seconds: f64, skew: Option<f64>) -> Option<Capacity> {
    if seconds <= 0.0 {
        return None;
    }
    let records: u64 = parts.iter().map(|p| p.records).sum();
    let busy: u64 = parts.iter().map(|p| p.busy).sum();
    let all =
        |f: fn(&Parts) -> Option<u64>| -> Option<u64> { parts.iter().map(f).sum::<Option<u64>>() };
    let on_cpu = all(|p| p.split.map(|s| s.0));
    let cpu_wait = all(|p| p.split.and_then(|s| s.1));
    let off_cpu = all(|p| p.split.map(|s| s.2));
    let records_per_s = records as f64 / seconds;
    let per_record = |ns: u64| (records > 0).then(|| ns as f64 / NS_PER_US / records as f64);
    let rate = |ns: u64| (records > 0 && ns > 0).then(|| records as f64 * NS_PER_S / ns as f64);
    let saturation = (records > 0 && busiest > 0.0).then(|| records_per_s / busiest);
    Some(Capacity {
        records,
        records_per_s,
        rate_per_busy_s: rate(busy),
        rate_per_on_cpu_s: on_cpu.and_then(rate),
        busy_per_record_us: per_record(busy),
        cpu_per_record_us: on_cpu.and_then(per_record),
        cpu_wait_per_record_us: cpu_wait.and_then(per_record),
        off_cpu_per_record_us: off_cpu.and_then(per_record),
        saturation_per_s: saturation,
        headroom: saturation.map(|s| (s / records_per_s - 1.0).max(0.0)),
        cpus_used: all(|p| p.cpu).map(|ns| ns as f64 / NS_PER_S / seconds),
        cpus_waited: all(|p| p.runqueue).map(|ns| ns as f64 / NS_PER_S / seconds),
        skew,
    })
}

/// The share of the machine's `cpus` that the job's subtasks used: the sum of the tasks' CPUs
/// used. `None` when no task's CPU time is known.
pub(crate) fn cpu_use(tasks: &[TaskReport], cpus: u32) -> Option<CpuUse> {
    let capacities: Vec<&Capacity> = tasks.iter().filter_map(|t| t.capacity.as_ref()).collect();
    let used = capacities
        .iter()
        .filter_map(|c| c.cpus_used)
        .reduce(|a, b| a + b)?;
    let waited = capacities
        .iter()
        .filter_map(|c| c.cpus_waited)
        .reduce(|a, b| a + b);
    Some(CpuUse {
        cpus,
        used,
        share: (cpus > 0).then(|| used / f64::from(cpus)),
        waited,
    })
}
