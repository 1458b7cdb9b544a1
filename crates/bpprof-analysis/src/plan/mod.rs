//! Capacity planning from a recording (`bpprof plan`, see `docs/plan.md`): the parallelism each
//! task needs for a target rate within the machine's CPUs, the throughput a change gives and the
//! task that then limits it, and what a faster function buys.
//!
//! ```
//! use bpprof_analysis::plan::{plan, PlanOptions};
//! use bpprof_analysis::synth::{Load, Synth};
//!
//! // Source -> Work(1): Work is busy all the time at 1,000 records/s; Source waits on it.
//! let mut synth = Synth::new();
//! let source = synth.subtask("Source", 0, 1);
//! let work = synth.subtask("Work", 0, 1);
//! synth.channel("in", 64, &[source], &[work]);
//! for _ in 0..6 {
//!     synth.interval(&[
//!         (source, Load::new(0.05, 0.95).records(0, 1000)),
//!         (work, Load::new(1.0, 0.0).records(1000, 0)),
//!     ]);
//! }
//! let options = PlanOptions { target_per_s: Some(3000.0), ..PlanOptions::default() };
//! let report = plan(&synth.recording(), &options).unwrap();
//! let target = report.target.unwrap();
//! // 1 ms of CPU per record: three subtasks of Work, three of the four CPUs.
//! let work = target.parallelism.iter().find(|p| p.task == "Work").unwrap();
//! assert_eq!((work.from, work.to), (1, 3));
//! assert!(target.feasible);
//! ```

mod human;
mod model;
mod report;
mod speedup;

use bpprof_format::Recording;

use crate::flame::FlameError;
use crate::locate::locate;
use crate::range::{AnalysisError, AnalysisOptions};
use crate::report::LocateReport;
use crate::verdict::BUSY_MIN;

pub use human::render_plan;
pub use report::{
    Assumption, CostCut, CpuBudget, Limit, ParallelismChange, PlanReport, Prediction, Scenario,
    SpeedupEffect, SpeedupTask, Step, TargetPlan, TaskModel, TaskPrediction, PLAN_SCHEMA,
    PLAN_SCHEMA_MINOR, PLAN_SCHEMA_VERSION,
};

use model::{predict, Config};

/// At most this many steps in [`PlanReport::steps`].
pub const MAX_STEPS: usize = 16;

/// What to plan for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlanOptions {
    /// The range whose costs are measured; as for [`crate::locate()`].
    pub range: AnalysisOptions,
    /// The target job throughput, records per second. Default: none (no [`TargetPlan`]; the
    /// steps go on until the CPUs are reached).
    pub target_per_s: Option<f64>,
    /// The CPUs the plan may use. Default: the recording's CPU count.
    pub cpus: Option<f64>,
    /// Parallelism changes, `(task, parallelism)`. Default: none.
    pub set: Vec<(String, u32)>,
    /// Functions made faster, `(function, factor)`: `2.0` is twice as fast, `0.5` twice as
    /// slow. Default: none.
    pub speedups: Vec<(String, f64)>,
}

/// Why no plan could be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    /// The range is invalid or selects no interval.
    #[error(transparent)]
    Analysis(#[from] AnalysisError),
    /// Reading the stack samples failed.
    #[error(transparent)]
    Flame(#[from] FlameError),
    /// The target is not a positive number.
    #[error("the target must be a positive number of records per second, got {0}")]
    BadTarget(f64),
    /// The CPU budget is not a positive number.
    #[error("the CPU budget must be a positive number of CPUs, got {0}")]
    BadCpus(f64),
    /// The recording does not say how many CPUs the machine has.
    #[error("the recording does not say how many CPUs its machine has")]
    NoCpus,
    /// A speedup factor is not a positive number.
    #[error("the speedup of '{function}' must be a positive factor, got {factor}")]
    BadFactor {
        /// The function.
        function: String,
        /// The factor given.
        factor: f64,
    },
    /// A parallelism of 0.
    #[error("the parallelism of '{0}' must be at least 1")]
    ZeroParallelism(String),
    /// No task of that name.
    #[error("unknown task '{wanted}'; available: {}", available.join(", "))]
    UnknownTask {
        /// What was asked for.
        wanted: String,
        /// The modelled tasks.
        available: Vec<String>,
    },
    /// A task the model leaves out.
    #[error("task '{0}' has no measured cost per record (declared unaccounted, no data in the range, or no records)")]
    Unmodelled(String),
    /// The job's sources sent no records.
    #[error(
        "the job's source tasks sent no records in the range, so there is no throughput to scale"
    )]
    NoThroughput,
    /// No task has on-CPU samples.
    #[error("the recording has no on-CPU stack samples of any task in the range")]
    NoSamples,
    /// No sample holds the function.
    #[error(
        "no on-CPU sample of any task holds a frame '{function}'{}",
        if similar.is_empty() { String::new() } else { format!("; similar frames: {}", similar.join(", ")) }
    )]
    UnknownFunction {
        /// The function asked for.
        function: String,
        /// Sampled frames whose name contains its last path segment, most sampled first.
        similar: Vec<String>,
    },
}

/// Plans `recording` as `options` asks: measures each task's costs over the range, predicts the
/// recorded configuration and the one of `--set` / `--speedup`, the parallelism for the target,
/// and the chain of steps.
pub fn plan(recording: &Recording, options: &PlanOptions) -> Result<PlanReport, PlanError> {
    if let Some(t) = options.target_per_s {
        if !(t.is_finite() && t > 0.0) {
            return Err(PlanError::BadTarget(t));
        }
    }
    if let Some(c) = options.cpus {
        if !(c.is_finite() && c > 0.0) {
            return Err(PlanError::BadCpus(c));
        }
    }
    let located = locate(recording, &options.range)?;
    let mut measured = model::measure(&located);
    if measured.throughput_per_s <= 0.0 || measured.tasks.is_empty() {
        return Err(PlanError::NoThroughput);
    }
    for t in &mut measured.tasks {
        t.wake_us = t.cpu_us * speedup::wake_share(recording, &options.range, &t.task)?;
    }
    let tasks = &measured.tasks;
    let recorded = Config::recorded(tasks);
    // The CPUs the recorded records got: on-CPU time while busy, wake-ups included.
    let busy_cpus: f64 = tasks
        .iter()
        .map(|t| measured.throughput_per_s * t.share * t.cpu_us / 1e6)
        .sum();
    let (cpus, cpus_from) = budget(options.cpus, &located, busy_cpus)?;
    let mut config = recorded.clone();
    let mut set = Vec::new();
    for (name, parallelism) in &options.set {
        let i = position(&measured, name)?;
        if *parallelism == 0 {
            return Err(PlanError::ZeroParallelism(name.clone()));
        }
        config.parallelism[i] = *parallelism;
        set.push(ParallelismChange {
            task: name.clone(),
            from: tasks[i].parallelism,
            to: *parallelism,
        });
    }
    let mut speedups = Vec::new();
    for (function, factor) in &options.speedups {
        speedups.push(apply_speedup(
            recording,
            &options.range,
            tasks,
            &mut config,
            function,
            *factor,
        )?);
    }
    let scenario = (!set.is_empty() || !speedups.is_empty()).then(|| Scenario {
        set,
        speedups,
        prediction: predict(tasks, &config, cpus),
    });
    let target = options
        .target_per_s
        .map(|t| target_plan(tasks, &config, cpus, t));
    let mut assumptions = vec![
        Assumption::LinearScaling,
        Assumption::SkewCarriedOver,
        Assumption::SharesCarriedOver,
        Assumption::CpuRoofline,
        Assumption::OffCpuUnchanged,
    ];
    assumptions.push(match cpus_from {
        CpuBudget::Available => Assumption::OthersKeepTheirCpu,
        CpuBudget::Machine => Assumption::WholeMachine,
        CpuBudget::Given => Assumption::GivenCpus,
    });
    if !options.speedups.is_empty() {
        assumptions.push(Assumption::SpeedupByOnCpuShare);
    }
    if measured.cpu_unknown {
        assumptions.push(Assumption::UnknownCpuAsBusy);
    }
    if tasks.iter().any(|t| t.wake_us > 0.0) {
        assumptions.push(Assumption::WakeUpsBatched);
    }
    Ok(PlanReport {
        schema: PLAN_SCHEMA.to_owned(),
        schema_version: PLAN_SCHEMA_VERSION,
        schema_minor: PLAN_SCHEMA_MINOR,
        recording: located.recording,
        cpus,
        cpus_from,
        measured_per_s: measured.throughput_per_s,
        baseline: predict(tasks, &recorded, cpus),
        steps: steps(tasks, &config, cpus, options.target_per_s),
        tasks: measured.tasks.clone(),
        unmodelled: measured.unmodelled.clone(),
        scenario,
        target,
        assumptions,
    })
}

/// The CPUs the job's threads must wait for at least (CPUs' worth of run-queue time) for the
/// machine to count as busy with other work, when the job used fewer than all its CPUs.
pub const CONTENDED_WAIT_MIN: f64 = 0.25;

/// The CPU budget: `--cpus`; else, when the job used fewer than the machine's CPUs while its
/// threads waited for one at least [`CONTENDED_WAIT_MIN`] CPUs' worth (other processes took the
/// rest), `busy_cpus`, the CPUs the job's subtasks spent on a CPU while busy; else the machine's
/// CPUs.
///
/// Not all the CPU the job used: its threads also run while idle or backpressured (a channel
/// wait spins and yields before it parks, then parks and is woken), and that CPU is taken only
/// when nobody else wants it: a spinning thread yields to any runnable one. On a machine where
/// other processes take the rest, it is not CPU the job's records could have had, and the cost
/// side of the CPU limit (on-CPU busy time per record) does not count it either. Counting it made
/// the budget of a contended `slow_operator --parallelism Enrich=1` 1.06 CPUs where its records
/// got 0.90, and the prediction 15 % high (`docs/plan.md`, "The CPU budget").
fn budget(
    option: Option<f64>,
    located: &LocateReport,
    busy_cpus: f64,
) -> Result<(f64, CpuBudget), PlanError> {
    if let Some(c) = option {
        return Ok((c, CpuBudget::Given));
    }
    let machine = located.recording.cpus;
    if machine == 0 {
        return Err(PlanError::NoCpus);
    }
    let machine = f64::from(machine);
    match &located.cpu_use {
        Some(u)
            if u.used > 0.0
                && u.used < machine
                && u.waited.unwrap_or(0.0) >= CONTENDED_WAIT_MIN
                && busy_cpus > 0.0 =>
        {
            Ok((busy_cpus.min(machine), CpuBudget::Available))
        }
        _ => Ok((machine, CpuBudget::Machine)),
    }
}

/// The index of task `name` in the model.
fn position(measured: &model::Measured, name: &str) -> Result<usize, PlanError> {
    if let Some(i) = measured.tasks.iter().position(|t| t.task == name) {
        return Ok(i);
    }
    if measured.unmodelled.iter().any(|t| t == name) {
        return Err(PlanError::Unmodelled(name.to_owned()));
    }
    Err(PlanError::UnknownTask {
        wanted: name.to_owned(),
        available: measured.tasks.iter().map(|t| t.task.clone()).collect(),
    })
}

/// Makes `function` `factor` times faster in every task whose on-CPU busy samples hold it.
fn apply_speedup(
    recording: &Recording,
    range: &AnalysisOptions,
    tasks: &[TaskModel],
    config: &mut Config,
    function: &str,
    factor: f64,
) -> Result<SpeedupEffect, PlanError> {
    if !(factor.is_finite() && factor > 0.0) {
        return Err(PlanError::BadFactor {
            function: function.to_owned(),
            factor,
        });
    }
    let mut effect = SpeedupEffect {
        function: function.to_owned(),
        factor,
        tasks: Vec::new(),
    };
    let mut sampled = false;
    for (i, t) in tasks.iter().enumerate() {
        let Some(share) = speedup::share(recording, range, &t.task, function)? else {
            continue;
        };
        sampled |= share.samples > 0;
        if share.matching == 0 {
            continue;
        }
        let fraction = share.matching as f64 / share.samples as f64;
        let before = config.cpu_us[i];
        config.cpu_us[i] = before * (1.0 - fraction + fraction / factor);
        effect.tasks.push(SpeedupTask {
            task: t.task.clone(),
            share: fraction,
            samples: share.samples,
            cpu_us_before: before,
            cpu_us_after: config.cpu_us[i],
        });
    }
    if !sampled {
        return Err(PlanError::NoSamples);
    }
    if effect.tasks.is_empty() {
        let names: Vec<String> = tasks.iter().map(|t| t.task.clone()).collect();
        return Err(PlanError::UnknownFunction {
            function: function.to_owned(),
            similar: speedup::similar_frames(recording, range, &names, function, 5),
        });
    }
    Ok(effect)
}

/// The parallelism every task needs for `target` (or for what the CPUs carry, when they cannot
/// carry the target), and the CPU cost that must drop when they cannot.
fn target_plan(tasks: &[TaskModel], config: &Config, cpus: f64, target: f64) -> TargetPlan {
    let cpu_limit = config.cpu_limit(tasks, cpus);
    let feasible = target <= cpu_limit * (1.0 + 1e-9);
    let rate = target.min(cpu_limit);
    let mut planned = config.clone();
    let parallelism = tasks
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mut to = config.parallelism_for(tasks, i, rate);
            // Never fewer subtasks for a task busy most of the time: its measured rate is what
            // it does saturated, whatever the others' rates say (FLINK-38538).
            if t.busy >= BUSY_MIN {
                to = to.max(t.parallelism);
            }
            planned.parallelism[i] = to;
            ParallelismChange {
                task: t.task.clone(),
                from: t.parallelism,
                to,
            }
        })
        .collect();
    let job_cpu_s = config.cpu_per_job_record_s(tasks);
    TargetPlan {
        target_per_s: target,
        parallelism,
        cpus_needed: target * job_cpu_s,
        feasible,
        cpu_limit_per_s: (!feasible).then_some(cpu_limit),
        cost_cut: (!feasible).then(|| cost_cut(tasks, config, cpus, target)),
        prediction: predict(tasks, &planned, cpus),
    }
}

/// The CPU cost per record the task that spends the most CPU per job record must drop to for
/// `target` to fit `cpus`.
fn cost_cut(tasks: &[TaskModel], config: &Config, cpus: f64, target: f64) -> CostCut {
    let per_job = |i: usize| tasks[i].share * config.work_cpu_us(tasks, i);
    let heaviest = (0..tasks.len())
        .max_by(|&a, &b| per_job(a).total_cmp(&per_job(b)))
        .unwrap_or(0);
    let job_now: f64 = (0..tasks.len()).map(per_job).sum();
    let job_needed = cpus / target * 1e6;
    let others = job_now - per_job(heaviest);
    let needed = (job_needed - others) / tasks[heaviest].share;
    CostCut {
        task: tasks[heaviest].task.clone(),
        cpu_us_now: config.work_cpu_us(tasks, heaviest),
        cpu_us_needed: (needed > 0.0).then_some(needed),
        job_cpu_us_now: job_now,
        job_cpu_us_needed: job_needed,
    }
}

/// From `start`, raises the parallelism of the task that limits the job (of each, when several
/// saturate at the same throughput) just enough to pass the next limit, or to reach `target`;
/// until the target is reached, the CPUs limit, or [`MAX_STEPS`].
fn steps(tasks: &[TaskModel], start: &Config, cpus: f64, target: Option<f64>) -> Vec<Step> {
    let same = |a: f64, b: f64| a <= b * (1.0 + 1e-9);
    let mut config = start.clone();
    let mut steps = Vec::new();
    while steps.len() < MAX_STEPS {
        let cpu_limit = config.cpu_limit(tasks, cpus);
        let at: Vec<f64> = (0..tasks.len())
            .map(|i| config.saturates_at(tasks, i, config.parallelism[i]))
            .collect();
        let lowest = at.iter().copied().fold(cpu_limit, f64::min);
        if same(cpu_limit, lowest) || target.is_some_and(|t| same(t, lowest)) {
            break;
        }
        let limiting: Vec<usize> = (0..tasks.len()).filter(|&i| same(at[i], lowest)).collect();
        let goal = (0..tasks.len())
            .filter(|i| !limiting.contains(i))
            .map(|i| at[i])
            .fold(cpu_limit, f64::min)
            .min(target.unwrap_or(f64::INFINITY));
        let changes = limiting
            .iter()
            .map(|&i| {
                let from = config.parallelism[i];
                let to = config.parallelism_for(tasks, i, goal).max(from + 1);
                config.parallelism[i] = to;
                ParallelismChange {
                    task: tasks[i].task.clone(),
                    from,
                    to,
                }
            })
            .collect();
        steps.push(Step {
            changes,
            prediction: predict(tasks, &config, cpus),
        });
    }
    steps
}
