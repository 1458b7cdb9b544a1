//! The public, serialisable result of [`super::plan`]: what `bpprof plan --format json` prints
//! (schema `bpprof.plan`, documented in `docs/plan.md`).

use serde::{Deserialize, Serialize};

use crate::report::RecordingSummary;

/// Value of [`PlanReport::schema`].
pub const PLAN_SCHEMA: &str = "bpprof.plan";
/// Value of [`PlanReport::schema_version`]; the same rules as `bpprof.locate`'s (`docs/json.md`).
pub const PLAN_SCHEMA_VERSION: u32 = 1;
/// Value of [`PlanReport::schema_minor`]: the additive changes within the version (1:
/// `wake_us` of tasks, the assumption `wake_ups_batched`).
pub const PLAN_SCHEMA_MINOR: u32 = 1;

/// What a pipeline needs for a target rate, and what a change would buy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanReport {
    /// Always [`PLAN_SCHEMA`].
    pub schema: String,
    /// Always [`PLAN_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// [`PLAN_SCHEMA_MINOR`]; 0 in documents without it.
    #[serde(default)]
    pub schema_minor: u32,
    /// The recording and the range the costs were measured over.
    pub recording: RecordingSummary,
    /// The CPUs the plan may use (see `cpus_from`).
    pub cpus: f64,
    /// Where `cpus` comes from.
    pub cpus_from: CpuBudget,
    /// The job's measured throughput: records per second its source tasks sent.
    pub measured_per_s: f64,
    /// Every task the model covers, in graph order, with its measured costs.
    pub tasks: Vec<TaskModel>,
    /// Tasks left out of the model: declared unaccounted, without data in the range, or that
    /// processed no record.
    pub unmodelled: Vec<String>,
    /// The model applied to the recorded configuration (compare with `measured_per_s`).
    pub baseline: Prediction,
    /// The configuration of `--set` and `--speedup`; `null` without them.
    pub scenario: Option<Scenario>,
    /// What the target rate needs; `null` without `--target`.
    pub target: Option<TargetPlan>,
    /// From the scenario (or the recorded configuration), one task's parallelism raised at a
    /// time, each just enough to move the bottleneck, until the target or the CPUs are reached.
    pub steps: Vec<Step>,
    /// What the predictions assume.
    pub assumptions: Vec<Assumption>,
}

/// One task's measured costs, the inputs of the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskModel {
    /// Task name.
    pub task: String,
    /// Its recorded parallelism.
    pub parallelism: u32,
    /// Busy ratio of its busiest subtask.
    pub busy: f64,
    /// Records it processes per record of the job's throughput, as measured (its own records
    /// per second / the job's).
    pub share: f64,
    /// Time per record a subtask needs when it never waits for a CPU: on-CPU + off-CPU time per
    /// record, microseconds.
    pub service_us: f64,
    /// On-CPU time per record, microseconds (its busy time per record when CPU time is unknown).
    pub cpu_us: f64,
    /// The part of `cpu_us` spent waking threads parked on its channels (the share of its
    /// on-CPU busy samples under `crossbeam_channel::waker::SyncWaker::notify`), microseconds;
    /// left out of the CPU limit. 0 without stack samples.
    #[serde(default)]
    pub wake_us: f64,
    /// The busiest subtask's busy ratio / the mean over the subtasks.
    pub skew: f64,
}

/// A configuration's predicted throughput and what limits it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// The predicted job throughput, records per second: the lowest of the limits.
    pub throughput_per_s: f64,
    /// What limits it.
    pub limit: Limit,
    /// The next limit: what would limit the job once `limit` is lifted; `null` when there is
    /// none.
    pub next: Option<Limit>,
    /// The CPUs the job uses at that throughput.
    pub cpus_used: f64,
    /// Every modelled task at that throughput, in graph order.
    pub tasks: Vec<TaskPrediction>,
}

/// One limit of a configuration's throughput.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Limit {
    /// The task whose busiest subtask saturates, or `null` for the CPUs.
    pub task: Option<String>,
    /// The job throughput at which it is reached, records per second.
    pub at_per_s: f64,
}

/// One task in a predicted configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskPrediction {
    /// Task name.
    pub task: String,
    /// Its parallelism in the configuration.
    pub parallelism: u32,
    /// On-CPU time per record in the configuration, microseconds.
    pub cpu_us: f64,
    /// The job throughput at which its busiest subtask saturates, records per second; `null`
    /// when it costs no time.
    pub saturates_at_per_s: Option<f64>,
    /// Predicted busy ratio of its busiest subtask at the predicted throughput.
    pub busy: f64,
}

/// The configuration given with `--set` and `--speedup`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scenario {
    /// The parallelism changes.
    pub set: Vec<ParallelismChange>,
    /// The faster (or slower) functions, with what they save where.
    pub speedups: Vec<SpeedupEffect>,
    /// The predicted throughput of the configuration.
    pub prediction: Prediction,
}

/// A task's parallelism set to a new value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParallelismChange {
    /// Task name.
    pub task: String,
    /// Its recorded parallelism.
    pub from: u32,
    /// Its parallelism in the configuration.
    pub to: u32,
}

/// What making one function faster changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpeedupEffect {
    /// The function, as given.
    pub function: String,
    /// How many times faster it gets (below 1: slower).
    pub factor: f64,
    /// Every modelled task with on-CPU samples in the function.
    pub tasks: Vec<SpeedupTask>,
}

/// One task's share of a function and its new cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpeedupTask {
    /// Task name.
    pub task: String,
    /// Share of the task's on-CPU busy samples whose stack holds the function (self + callees).
    pub share: f64,
    /// Samples behind `share`: the task's on-CPU busy samples.
    pub samples: u64,
    /// On-CPU time per record before, microseconds.
    pub cpu_us_before: f64,
    /// ... and after.
    pub cpu_us_after: f64,
}

/// What a target rate needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetPlan {
    /// The target job throughput, records per second.
    pub target_per_s: f64,
    /// The parallelism every modelled task needs for it (never fewer subtasks than recorded for a
    /// task busy at least `verdict::BUSY_MIN` of the time).
    pub parallelism: Vec<ParallelismChange>,
    /// CPUs the target needs.
    pub cpus_needed: f64,
    /// True when the CPUs carry it.
    pub feasible: bool,
    /// When they do not: the highest throughput the CPUs carry, records per second.
    pub cpu_limit_per_s: Option<f64>,
    /// When they do not: the CPU cost per record that must drop, in the task that spends the
    /// most CPU per job record.
    pub cost_cut: Option<CostCut>,
    /// The predicted throughput with `parallelism`.
    pub prediction: Prediction,
}

/// The CPU cost per record a task must get down to for a target to fit the CPUs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostCut {
    /// Task name.
    pub task: String,
    /// Its on-CPU time per record now, microseconds, as the CPU limit counts it (without
    /// wake-ups of parked peers).
    pub cpu_us_now: f64,
    /// What it must be at most, microseconds; `null` when even 0 is not enough (the other tasks'
    /// CPU alone exceeds the CPUs).
    pub cpu_us_needed: Option<f64>,
    /// The whole job's on-CPU time per job record now, microseconds.
    pub job_cpu_us_now: f64,
    /// What it must be at most, microseconds.
    pub job_cpu_us_needed: f64,
}

/// One step of the chain: the limiting task's parallelism raised (of each, when several saturate
/// at the same throughput), and what limits the job after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// The changes.
    pub changes: Vec<ParallelismChange>,
    /// The predicted throughput after it.
    pub prediction: Prediction,
}

/// Where the CPU budget of a plan comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CpuBudget {
    /// Given (`--cpus`).
    Given,
    /// The machine's CPU count, from the recording.
    Machine,
    /// The CPUs the job's records got (its subtasks' on-CPU time while busy): it used fewer
    /// than the machine's while its threads waited for a CPU, so other processes took the rest.
    Available,
}

/// What the predictions assume (see `docs/plan.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Assumption {
    /// A task's rate grows in proportion to its subtasks, up to the CPUs.
    LinearScaling,
    /// Records are split among a task's subtasks as in the recording.
    SkewCarriedOver,
    /// Every task keeps its measured share of the job's records.
    SharesCarriedOver,
    /// With a CPU free, a record costs its on-CPU plus off-CPU time: waiting for a CPU is left
    /// to the CPU limit, which is reached when the job's CPU time fills the CPUs.
    CpuRoofline,
    /// Off-CPU time (I/O, locks, sleeps) shrinks neither with more CPUs nor with a faster
    /// function.
    OffCpuUnchanged,
    /// The budget is the machine's CPUs: other processes' CPU use is not deducted.
    WholeMachine,
    /// The budget is the CPUs the job's records got: other processes keep the CPU they took,
    /// and the CPU the job's threads spent waiting on channels is not the job's to use.
    OthersKeepTheirCpu,
    /// The budget is `--cpus`.
    GivenCpus,
    /// A faster function saves its share of the task's on-CPU busy samples (self + callees).
    SpeedupByOnCpuShare,
    /// Some task's CPU time is unknown (async subtasks): its busy time is counted as CPU.
    UnknownCpuAsBusy,
    /// Where the CPUs limit, a thread woken from a channel wait waits for a CPU, so one wake-up
    /// serves many records: the CPU tasks spent waking parked peers is left out of the CPU
    /// limit (kept in their time per record).
    WakeUpsBatched,
}
