//! The result of `bpprof check`: public, serialisable types (JSON schema `bpprof.check`, documented
//! in `docs/ci.md`). Every renderer (text, Markdown, JUnit, GitHub annotations) reads only these.

use serde::{Deserialize, Serialize};

use crate::units::{self, MISSING};

/// Name of the JSON schema of [`CheckReport`].
pub const CHECK_SCHEMA: &str = "bpprof.check";

/// Version of the JSON schema of [`CheckReport`]: incremented when a field changes meaning or is
/// removed (adding fields does not change it).
pub const CHECK_SCHEMA_VERSION: u32 = 1;

/// What `bpprof check` found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckReport {
    /// Always [`CHECK_SCHEMA`].
    pub schema: String,
    /// Always [`CHECK_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The overall outcome.
    pub status: Status,
    /// The verdict in one line, e.g. `REGRESSION: throughput -12.4% [-14.0, -10.9]; ...`.
    pub summary: String,
    /// The baseline recordings (empty when only budgets were checked).
    pub baseline: Vec<RecordingInfo>,
    /// The current recordings.
    pub current: Vec<RecordingInfo>,
    /// Advisory messages (different hosts, few windows, ...).
    pub warnings: Vec<String>,
    /// How the intervals were computed; `None` when only budgets were checked.
    pub statistics: Option<Statistics>,
    /// Job throughput: records per second into the sink tasks (the tasks without downstream).
    pub throughput: Option<Comparison>,
    /// The bottleneck tasks before and after.
    pub bottleneck: Option<BottleneckChange>,
    /// Per-task comparisons, in graph order (sources first).
    pub tasks: Vec<TaskComparison>,
    /// What the verdict rests on, most severe first: regressions, then inconclusive results and
    /// a moved bottleneck, then improvements.
    pub findings: Vec<Finding>,
    /// Functions whose cost per record changed most, for the bottleneck task and for every task
    /// whose CPU per record regressed.
    pub functions: Vec<FunctionDiff>,
    /// Budgets (`--assert`) evaluated on the current recordings.
    pub budgets: Vec<BudgetResult>,
}

/// The overall outcome of a check (and its exit code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// No regression, no exceeded budget (improvements included). Exit code 0.
    Pass,
    /// At least one regression or exceeded budget. Exit code 1.
    Regression,
    /// No regression, but at least one comparison could not be decided. Exit code 0, or 3 with
    /// `--strict`.
    Inconclusive,
}

impl Status {
    /// `PASS`, `REGRESSION` or `INCONCLUSIVE`, as the verdict line starts.
    pub fn label(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Regression => "REGRESSION",
            Status::Inconclusive => "INCONCLUSIVE",
        }
    }
}

/// One input recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordingInfo {
    /// The path as given on the command line.
    pub path: String,
    /// Program name.
    pub program: String,
    /// Host name.
    pub host: String,
    /// CPUs the process could use.
    pub cpus: u32,
    /// Build information of the recorded program.
    pub build: String,
    /// Length of the recording, seconds.
    pub duration_s: f64,
    /// Windows compared (after the warm-up and short windows were left out).
    pub windows: usize,
    /// The compared range and whether it is enough data (see `docs/locate.md`, "The range").
    /// Absent in documents written before it existed.
    #[serde(default)]
    pub range: Option<crate::range::Coverage>,
}

/// How the confidence intervals were computed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statistics {
    /// Family-wise confidence level asked for (e.g. 0.95).
    pub confidence: f64,
    /// Number of gated comparisons (the family the confidence holds for).
    pub tests: usize,
    /// Confidence level of each interval after the Bonferroni correction:
    /// `1 - (1 - confidence) / tests`.
    pub interval_level: f64,
    /// Bootstrap resamples per interval of a gated comparison (comparisons without a limit,
    /// shown for information, use at most 1,000).
    pub resamples: usize,
    /// Seed of the resampling (the same inputs and seed give the same intervals).
    pub seed: u64,
    /// Minimum number of windows per side below which a comparison is inconclusive.
    pub min_windows: usize,
    /// Length of a window, seconds (`None`: one recording interval per window).
    pub window_s: Option<f64>,
}

/// A metric compared between baseline and current, or budgeted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Job throughput: records per second into the sink tasks. Job level only.
    Throughput,
    /// Records the task processed per second (received; sent, for a source).
    RecordsPerS,
    /// CPU time per record processed, microseconds (all subtasks of the task together).
    CpuPerRecord,
    /// Busy ratio (0–1) of the task's busiest subtask.
    Busy,
    /// Backpressured ratio (0–1) of the task's most backpressured subtask.
    Backpressured,
    /// Idle ratio (0–1) of the task's idlest subtask.
    Idle,
}

/// Every metric, in the order they are shown.
pub const ALL_METRICS: [Metric; 6] = [
    Metric::Throughput,
    Metric::RecordsPerS,
    Metric::CpuPerRecord,
    Metric::Busy,
    Metric::Backpressured,
    Metric::Idle,
];

/// The metrics compared for each task, in the order they are shown: every metric but the
/// job-level [`Metric::Throughput`].
pub const TASK_METRICS: [Metric; 5] = [
    Metric::RecordsPerS,
    Metric::CpuPerRecord,
    Metric::Busy,
    Metric::Backpressured,
    Metric::Idle,
];

/// Which way a metric gets worse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Worse {
    /// Worse when it goes up (CPU per record, backpressure, busy).
    Up,
    /// Worse when it goes down (throughput, idle).
    Down,
}

impl Metric {
    /// The name used on the command line, in `bpprof.toml` and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Throughput => "throughput",
            Metric::RecordsPerS => "records_per_s",
            Metric::CpuPerRecord => "cpu_per_record",
            Metric::Busy => "busy",
            Metric::Backpressured => "backpressured",
            Metric::Idle => "idle",
        }
    }

    /// A short label for tables and verdicts (`CPU/record`, `records/s`, ...).
    pub fn label(self) -> &'static str {
        match self {
            Metric::Throughput => "throughput",
            Metric::RecordsPerS => "records/s",
            Metric::CpuPerRecord => "CPU/record",
            Metric::Busy => "busy",
            Metric::Backpressured => "backpressured",
            Metric::Idle => "idle",
        }
    }

    /// The metric named `name` ([`Metric::name`]).
    pub fn from_name(name: &str) -> Option<Metric> {
        ALL_METRICS.into_iter().find(|m| m.name() == name)
    }

    /// True when changes are relative (a fraction of the baseline: throughput, records/s, CPU
    /// per record); false when absolute (the ratios busy, backpressured and idle).
    pub fn relative(self) -> bool {
        matches!(
            self,
            Metric::Throughput | Metric::RecordsPerS | Metric::CpuPerRecord
        )
    }

    /// Which way the metric gets worse.
    pub fn worse(self) -> Worse {
        match self {
            Metric::Throughput | Metric::RecordsPerS | Metric::Idle => Worse::Down,
            Metric::CpuPerRecord | Metric::Busy | Metric::Backpressured => Worse::Up,
        }
    }

    /// Unit of the values: `records/s`, `µs`, or empty for ratios.
    pub fn unit(self) -> &'static str {
        match self {
            Metric::Throughput | Metric::RecordsPerS => "records/s",
            Metric::CpuPerRecord => "µs",
            Metric::Busy | Metric::Backpressured | Metric::Idle => "",
        }
    }

    /// A value of the metric as tables show it: records/s as `25,417` (3 significant digits
    /// below 100), µs as `12.35 µs`, ratios as `93%`.
    pub fn format(self, v: f64) -> String {
        match self.unit() {
            "" => units::pct(v),
            "µs" => units::micros_2(v),
            _ => units::number(v),
        }
    }

    /// [`Metric::format`] with the unit of rates, for sentences: `25,417 records/s`, `12.35 µs`,
    /// `93%`.
    pub fn format_with_unit(self, v: f64) -> String {
        match self.unit() {
            "records/s" => format!("{} records/s", self.format(v)),
            _ => self.format(v),
        }
    }

    /// A value in the scale of a budget's bound (`busy < 0.9`): ratios as `0.930`, the other
    /// metrics as [`Metric::format`].
    pub fn format_as_bound(self, v: f64) -> String {
        match self.unit() {
            "" => units::ratio(v),
            _ => self.format(v),
        }
    }
}

/// The comparison of one metric of one task (or of the job).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The task; `None` for the job-level throughput.
    pub task: Option<String>,
    /// The metric.
    pub metric: Metric,
    /// Median of the baseline's windows.
    pub baseline: Option<f64>,
    /// Median of the current windows.
    pub current: Option<f64>,
    /// Change of the median: a fraction of the baseline for relative metrics (`-0.124` is
    /// -12.4%), a difference for ratios (`0.06` is +0.06).
    pub change: Option<f64>,
    /// Confidence interval of `change`, `[low, high]`, at [`Statistics::interval_level`].
    pub interval: Option<[f64; 2]>,
    /// True when `change` is relative ([`Metric::relative`]).
    pub relative: bool,
    /// The limit in the worse direction (a positive magnitude: 0.05 is 5% or 0.05); `None` when the
    /// metric is not gated for this task.
    pub limit: Option<f64>,
    /// The noise band (a positive magnitude): the whole interval must lie beyond it.
    pub noise: Option<f64>,
    /// Windows compared: baseline, current.
    pub windows: [usize; 2],
    /// The outcome.
    pub status: ComparisonStatus,
    /// Why, when the status needs explaining (inconclusive, not gated).
    pub reason: Option<String>,
}

/// The outcome of one comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComparisonStatus {
    /// Within the limit (or the interval reaches into the noise band on the good side).
    Unchanged,
    /// Beyond the limit in the worse direction, the whole interval beyond the noise band.
    Regression,
    /// Beyond the limit in the better direction, the whole interval beyond the noise band.
    Improvement,
    /// Too few windows, or beyond the limit but the interval reaches into the noise band.
    Inconclusive,
    /// Shown for information; no limit applies.
    NotGated,
}

/// The bottleneck tasks of each side (as `bpprof locate` finds them; the most frequent answer
/// over the side's recordings).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BottleneckChange {
    /// Bottleneck tasks of the baseline.
    pub baseline: Vec<String>,
    /// Bottleneck tasks of the current recordings.
    pub current: Vec<String>,
    /// True when they differ.
    pub moved: bool,
}

/// The comparisons of one task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskComparison {
    /// Task name.
    pub name: String,
    /// Parallelism (the same on both sides: the compatibility gate checks it).
    pub parallelism: u32,
    /// One comparison per metric ([`Metric::Throughput`] excluded).
    pub metrics: Vec<Comparison>,
}

/// A finding: what a verdict rests on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// How serious.
    pub severity: Severity,
    /// A short title (`Enrich CPU/record +21.0%`).
    pub title: String,
    /// One or two sentences: the change, its interval, the limit, where in the code.
    pub message: String,
    /// The task, when the finding is about one.
    pub task: Option<String>,
    /// The metric, when the finding is about one.
    pub metric: Option<Metric>,
    /// The function (and its callers) the change is attributed to, when known.
    pub function: Option<String>,
}

/// Severity of a [`Finding`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// A regression or an exceeded budget: the check fails.
    Error,
    /// Inconclusive, or the bottleneck moved.
    Warning,
    /// An improvement.
    Notice,
}

/// Functions of one task whose cost per record changed most (from the on-CPU stack samples).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionDiff {
    /// The task (all its subtasks together).
    pub task: String,
    /// Why this task: `bottleneck`, `regression` or both (`bottleneck, regression`).
    pub why: String,
    /// Records processed by the task over the compared range: baseline, current (summed over
    /// each side's recordings).
    pub records: [u64; 2],
    /// On-CPU samples of the task: baseline, current.
    pub samples: [u64; 2],
    /// Unit of the costs: `ns/record`.
    pub unit: String,
    /// The functions, largest absolute change of self or total cost first (frames that enclose
    /// every sample, such as thread entry points, are left out).
    pub rows: Vec<FunctionChange>,
    /// The call path (outermost first) whose cost per record grew most, when one grew.
    pub hottest_path: Vec<String>,
}

/// How one function's cost per record changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionChange {
    /// The function (as symbolised; frames escaped as in folded stacks).
    pub function: String,
    /// Self cost (samples where it is the innermost frame), baseline, ns per record.
    pub self_baseline: f64,
    /// Self cost, current, ns per record.
    pub self_current: f64,
    /// Total cost (samples where it is on the stack), baseline, ns per record.
    pub total_baseline: f64,
    /// Total cost, current, ns per record.
    pub total_current: f64,
    /// Whether the function is new, vanished or on both sides.
    pub status: FunctionStatus,
}

/// Presence of a function on each side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FunctionStatus {
    /// Sampled on both sides.
    Changed,
    /// Only in the current recordings.
    New,
    /// Only in the baseline.
    Vanished,
}

/// A budget (`--assert 'Enrich.busy < 0.8'`) evaluated on the current recordings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BudgetResult {
    /// The expression as given.
    pub expression: String,
    /// The task; `None` for the job-level throughput.
    pub task: Option<String>,
    /// The metric.
    pub metric: Metric,
    /// The comparison operator: `<`, `<=`, `>` or `>=`.
    pub operator: String,
    /// The bound.
    pub bound: f64,
    /// The measured value over the whole range (the median over the current recordings).
    pub value: Option<f64>,
    /// True when the value satisfies the bound (false when inconclusive).
    pub passed: bool,
    /// Why the budget could not be decided (a current recording's range is too short); `None`
    /// when it was. An inconclusive budget neither passes nor fails. Absent in documents written
    /// before it existed.
    #[serde(default)]
    pub inconclusive: Option<String>,
}

impl BudgetResult {
    /// `pass`, `FAIL` or `inconclusive`.
    pub fn result_word(&self) -> &'static str {
        if self.inconclusive.is_some() {
            "inconclusive"
        } else if self.passed {
            "pass"
        } else {
            "FAIL"
        }
    }
}

impl Comparison {
    /// The change as text: `+21.0%` for relative metrics, `+0.06` for ratios, `-` when unknown.
    pub fn change_text(&self) -> String {
        self.change
            .map_or_else(|| MISSING.to_owned(), |c| units::change(c, self.relative))
    }

    /// The interval as the verdict line writes it: `[+19.2, +22.8]` (percent, like the change
    /// before it, for relative metrics), `[+0.04, +0.08]` for ratios, `-` when unknown.
    pub fn interval_text(&self) -> String {
        self.interval.map_or_else(
            || MISSING.to_owned(),
            |i| units::change_interval_short(i, self.relative),
        )
    }

    /// The limit as text: `5%` for relative metrics, `0.05` for ratios, `-` when not gated.
    pub fn limit_text(&self) -> String {
        self.limit
            .map_or_else(|| MISSING.to_owned(), |l| units::limit(l, self.relative))
    }

    /// `Enrich CPU/record` (`throughput` for the job).
    pub fn name(&self) -> String {
        match &self.task {
            Some(task) => format!("{task} {}", self.metric.label()),
            None => self.metric.label().to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_formatted_by_unit() {
        assert_eq!(Metric::Throughput.format(25417.4), "25,417");
        assert_eq!(Metric::RecordsPerS.format(12.345), "12.3");
        assert_eq!(Metric::RecordsPerS.format(0.5), "0.500");
        assert_eq!(Metric::CpuPerRecord.format(12.345), "12.35 µs");
        assert_eq!(Metric::Busy.format(0.934), "93%");
        assert_eq!(
            Metric::Throughput.format_with_unit(25417.4),
            "25,417 records/s"
        );
        assert_eq!(Metric::Busy.format_with_unit(0.934), "93%");
        assert_eq!(Metric::Busy.format_as_bound(0.93), "0.930");
        assert_eq!(Metric::CpuPerRecord.format_as_bound(12.345), "12.35 µs");
    }
}
