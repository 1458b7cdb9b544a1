//! The throughput model: each task's costs measured in the recording ([`measure`]), and the job
//! throughput a configuration of parallelism and costs gives ([`predict`]).
//!
//! A task `t` processes `share_t` records per job record. Its busiest subtask takes `skew_t / p_t`
//! of the task's records, each costing it `service_t` (on-CPU + off-CPU time), so the task
//! saturates at a job throughput of `p_t / (skew_t · share_t · service_t)`. The CPUs saturate at
//! `cpus / Σ share_t · cpu_t`. The job runs at the lowest of these limits.

use crate::report::{LocateReport, TaskReport};

use super::report::{Limit, Prediction, TaskModel, TaskPrediction};

const US_PER_S: f64 = 1e6;

/// The modelled tasks of `report`, the names of those left out, the job's measured throughput
/// (records per second its source tasks sent) and whether some task's CPU time is unknown.
pub(crate) struct Measured {
    pub tasks: Vec<TaskModel>,
    pub unmodelled: Vec<String>,
    pub throughput_per_s: f64,
    pub cpu_unknown: bool,
}

/// Measures every task's costs in `report`. A task is modelled when it has accounting data and
/// processed records; its share of the job's records is its own measured rate over the job's
/// (never derived from its upstream's output ratios).
pub(crate) fn measure(report: &LocateReport) -> Measured {
    let sources = report
        .tasks
        .iter()
        .filter(|t| !report.edges.iter().any(|e| e.to == t.name));
    let throughput_per_s: f64 = sources.map(|t| t.records_out_per_s).sum();
    let mut measured = Measured {
        tasks: Vec::new(),
        unmodelled: Vec::new(),
        throughput_per_s,
        cpu_unknown: false,
    };
    for t in &report.tasks {
        match model(t, throughput_per_s) {
            Some((model, cpu_known)) => {
                measured.cpu_unknown |= !cpu_known;
                measured.tasks.push(model);
            }
            None => measured.unmodelled.push(t.name.clone()),
        }
    }
    measured
}

/// One task's model, and whether its CPU time is known.
fn model(t: &TaskReport, job_per_s: f64) -> Option<(TaskModel, bool)> {
    let c = t.capacity.as_ref()?;
    let busy_us = c.busy_per_record_us?;
    if t.unaccounted || c.records == 0 || job_per_s <= 0.0 {
        return None;
    }
    let cpu = c.cpu_per_record_us;
    let service_us = match (cpu, c.off_cpu_per_record_us) {
        (Some(cpu), Some(off)) => cpu + off,
        _ => busy_us,
    };
    Some((
        TaskModel {
            task: t.name.clone(),
            parallelism: t.parallelism.max(1),
            busy: t.busy.unwrap_or(0.0),
            share: c.records_per_s / job_per_s,
            service_us,
            cpu_us: cpu.unwrap_or(busy_us),
            wake_us: 0.0,
            skew: c.skew.unwrap_or(1.0).max(1.0),
        },
        cpu.is_some(),
    ))
}

/// A configuration: per modelled task (in the order of [`Measured::tasks`]), its parallelism and
/// its on-CPU time per record (what a faster function changes).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Config {
    pub parallelism: Vec<u32>,
    pub cpu_us: Vec<f64>,
}

impl Config {
    /// The recorded configuration.
    pub fn recorded(tasks: &[TaskModel]) -> Config {
        Config {
            parallelism: tasks.iter().map(|t| t.parallelism).collect(),
            cpu_us: tasks.iter().map(|t| t.cpu_us).collect(),
        }
    }

    /// Task `i`'s time per record without waiting for a CPU: its off-CPU time is kept, its
    /// on-CPU time is the configuration's.
    pub fn service_us(&self, tasks: &[TaskModel], i: usize) -> f64 {
        (tasks[i].service_us - tasks[i].cpu_us).max(0.0) + self.cpu_us[i]
    }

    /// The job throughput at which task `i`'s busiest subtask saturates with `parallelism`.
    pub fn saturates_at(&self, tasks: &[TaskModel], i: usize, parallelism: u32) -> f64 {
        let t = &tasks[i];
        // The busiest subtask takes at most all the records.
        let skew = t.skew.min(f64::from(parallelism));
        let demand = skew * t.share * self.service_us(tasks, i) / US_PER_S;
        if demand > 0.0 {
            f64::from(parallelism) / demand
        } else {
            f64::INFINITY
        }
    }

    /// The smallest parallelism with which task `i` carries `throughput_per_s`.
    pub fn parallelism_for(&self, tasks: &[TaskModel], i: usize, throughput_per_s: f64) -> u32 {
        let t = &tasks[i];
        let needed = throughput_per_s * t.skew * t.share * self.service_us(tasks, i) / US_PER_S;
        // A hair under a whole number is that number (floating-point noise, not a need).
        (needed - 1e-9).ceil().clamp(1.0, f64::from(u32::MAX)) as u32
    }

    /// Task `i`'s on-CPU time per record where the CPUs limit: without the time it spent waking
    /// parked peers, since a woken thread then waits for a CPU and one wake-up serves many
    /// records (`docs/plan.md`, "Wake-ups").
    pub fn work_cpu_us(&self, tasks: &[TaskModel], i: usize) -> f64 {
        (self.cpu_us[i] - tasks[i].wake_us).max(0.0)
    }

    /// The job's on-CPU time per job record where the CPUs limit, seconds.
    pub fn cpu_per_job_record_s(&self, tasks: &[TaskModel]) -> f64 {
        (0..tasks.len())
            .map(|i| tasks[i].share * self.work_cpu_us(tasks, i) / US_PER_S)
            .sum()
    }

    /// The job throughput at which the job's CPU time fills `cpus`.
    pub fn cpu_limit(&self, tasks: &[TaskModel], cpus: f64) -> f64 {
        let per_record = self.cpu_per_job_record_s(tasks);
        if per_record > 0.0 {
            cpus / per_record
        } else {
            f64::INFINITY
        }
    }
}

/// The throughput of `config` on `cpus`: the lowest limit, the next one, and each task's load.
pub(crate) fn predict(tasks: &[TaskModel], config: &Config, cpus: f64) -> Prediction {
    // The CPUs first: on a tie they are the limit, since more subtasks would not help.
    let mut limits: Vec<Limit> = [Limit {
        task: None,
        at_per_s: config.cpu_limit(tasks, cpus),
    }]
    .into_iter()
    .chain((0..tasks.len()).map(|i| Limit {
        task: Some(tasks[i].task.clone()),
        at_per_s: config.saturates_at(tasks, i, config.parallelism[i]),
    }))
    .filter(|l| l.at_per_s.is_finite())
    .collect();
    let limit = take_lowest(&mut limits).unwrap_or(Limit {
        task: None,
        at_per_s: 0.0,
    });
    let throughput = limit.at_per_s;
    Prediction {
        throughput_per_s: throughput,
        next: take_lowest(&mut limits),
        limit,
        cpus_used: throughput * config.cpu_per_job_record_s(tasks),
        tasks: (0..tasks.len())
            .map(|i| {
                let at = config.saturates_at(tasks, i, config.parallelism[i]);
                TaskPrediction {
                    task: tasks[i].task.clone(),
                    parallelism: config.parallelism[i],
                    cpu_us: config.cpu_us[i],
                    saturates_at_per_s: at.is_finite().then_some(at),
                    busy: if at.is_finite() { throughput / at } else { 0.0 },
                }
            })
            .collect(),
    }
}

/// Removes and returns the lowest limit: the first of those within a relative 1e-9 of the lowest
/// (floating-point noise is no difference).
fn take_lowest(limits: &mut Vec<Limit>) -> Option<Limit> {
    let lowest = limits.iter().map(|l| l.at_per_s).reduce(f64::min)?;
    let i = limits
        .iter()
        .position(|l| l.at_per_s <= lowest * (1.0 + 1e-9))?;
    Some(limits.remove(i))
}
