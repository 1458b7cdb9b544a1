//! The public report types: what [`crate::locate()`] returns and what `bpprof locate --format json`
//! prints. The JSON schema is documented in `docs/json.md`; every field here is part of it.

use serde::{Deserialize, Serialize};

use crate::verdict::thresholds::{LEVEL_LOW_MAX, LEVEL_OK_MAX};

/// Value of [`LocateReport::schema`].
pub const SCHEMA: &str = "bpprof.locate";
/// Value of [`LocateReport::schema_version`]. Additive changes (new fields, new enum values) keep
/// it; removing or renaming a field, or changing its meaning or unit, increments it.
pub const SCHEMA_VERSION: u32 = 1;
/// Value of [`LocateReport::schema_minor`]: incremented by additive changes. 1: per-edge
/// evidence, the busy split, structured bottleneck evidence. 2: rule
/// `starved_below_backpressure`. 3: capacity per task and subtask, the job's CPU use. 4: async
/// tasks' polls (`polled`, `scheduled_share`, `max_poll_ms`, `polled_workers`), rule
/// `workers_held`, notes `waits_for_worker` and `long_polls`.
pub const SCHEMA_MINOR: u32 = 4;

/// Where a pipeline's bottleneck is, and the figures behind the verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocateReport {
    /// Always [`SCHEMA`] (`"bpprof.locate"`).
    pub schema: String,
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// [`SCHEMA_MINOR`]; 0 in documents written before it existed.
    #[serde(default)]
    pub schema_minor: u32,
    /// The recording and the range analysed.
    pub recording: RecordingSummary,
    /// One-sentence conclusion (the bottleneck's reason when there is exactly one).
    pub verdict: String,
    /// The bottlenecks found, most busy first (external ones last). Empty when nothing is
    /// backpressured.
    pub bottlenecks: Vec<Bottleneck>,
    /// Every task, in graph order (sources first).
    pub tasks: Vec<TaskReport>,
    /// Every edge of the job graph, in graph order of their upstream task.
    pub edges: Vec<EdgeReport>,
    /// Further observations (off-CPU work, CPU oversubscription, tasks without data), as
    /// sentences: `findings` rendered.
    pub notes: Vec<String>,
    /// The same observations as data, in the same order.
    #[serde(default)]
    pub findings: Vec<Note>,
    /// The verdict of each window of the analysed range, in time order (see
    /// [`crate::AnalysisOptions::window_s`]). Absent in documents written before it existed.
    #[serde(default)]
    pub windows: Vec<WindowVerdict>,
    /// How the bottleneck moves between windows.
    #[serde(default)]
    pub timeline: Timeline,
    /// How much of the machine's CPUs the job's subtasks used; `null` when no CPU time is known.
    /// Minor 3.
    #[serde(default)]
    pub cpu_use: Option<CpuUse>,
}

/// The CPUs the job's subtasks used over the range (see `docs/locate.md`, "Capacity").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CpuUse {
    /// CPUs the process could use (0 when unknown), from the recording.
    pub cpus: u32,
    /// CPUs used on average: the subtasks' CPU time (inside waits too) / the range's length.
    pub used: f64,
    /// `used / cpus`; `null` when the CPU count is unknown.
    pub share: Option<f64>,
    /// CPUs' worth of time the subtasks spent runnable but waiting for a CPU, on average; `null`
    /// without run-queue data. `used + waited` above `cpus` means more runnable threads than CPUs.
    pub waited: Option<f64>,
}

/// What a task (or one subtask) can process, from its own measured records and busy time (see
/// [`crate::capacity`]). Per-record times add up: `busy = cpu + cpu_wait + off_cpu`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Capacity {
    /// Records processed in the range: received, or sent by a task that receives none (a source).
    pub records: u64,
    /// `records` per second of the range.
    pub records_per_s: f64,
    /// True processing rate: records per busy second (Flink's autoscaler), at the recording's
    /// CPU contention (busy time includes waiting for a CPU). `null` without records or busy time.
    pub rate_per_busy_s: Option<f64>,
    /// Records per on-CPU second: the rate without waiting for a CPU or off-CPU work. `null`
    /// when CPU time is unknown (async subtasks).
    pub rate_per_on_cpu_s: Option<f64>,
    /// Busy time per record, microseconds.
    pub busy_per_record_us: Option<f64>,
    /// On-CPU time per record (CPU cost per record), microseconds.
    pub cpu_per_record_us: Option<f64>,
    /// Time per record runnable but waiting for a CPU, microseconds.
    pub cpu_wait_per_record_us: Option<f64>,
    /// Busy time per record neither on a CPU nor waiting for one (I/O, locks, sleeps),
    /// microseconds.
    pub off_cpu_per_record_us: Option<f64>,
    /// The input rate (records per second) at which it saturates: `records_per_s` / the busy
    /// ratio of its busiest subtask, its records split as in the recording. For a subtask, its
    /// rate per busy second.
    pub saturation_per_s: Option<f64>,
    /// How much more input it takes before it saturates, as a fraction of its current rate:
    /// `saturation_per_s / records_per_s - 1` (0 when saturated).
    pub headroom: Option<f64>,
    /// CPUs it used on average (its CPU time, inside waits too, / the range's length); `null`
    /// when unknown.
    pub cpus_used: Option<f64>,
    /// CPUs' worth of run-queue time on average; `null` without run-queue data.
    pub cpus_waited: Option<f64>,
    /// For a task: its busiest subtask's busy ratio / the mean over its subtasks (1 without skew);
    /// `null` for a subtask.
    pub skew: Option<f64>,
}

/// The bottleneck(s) of one window: a group of consecutive intervals analysed on its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowVerdict {
    /// Start of the window (start of its first interval), seconds since recording start.
    pub from_s: f64,
    /// End of the window (end of its last interval), seconds since recording start.
    pub to_s: f64,
    /// The tasks the rules name as bottlenecks in this window, busiest first, external ones last;
    /// empty when nothing is backpressured in it.
    pub bottlenecks: Vec<String>,
    /// Kind of the first bottleneck; `null` when there is none.
    pub kind: Option<BottleneckKind>,
}

/// How the bottleneck moves over the windows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    /// True when tasks take turns as the bottleneck: the verdict is then a timeline verdict, and
    /// no averaged single-task verdict is given.
    pub moving: bool,
    /// For every task that is a bottleneck in some window: the share of the analysed time (0..1)
    /// it is one, largest first.
    pub shares: Vec<TaskShare>,
    /// When the task that takes over does so periodically: the median time between the starts
    /// of its turns, seconds; `null` otherwise.
    pub period_s: Option<f64>,
    /// ... and the median length of its turns, seconds; `null` when not periodic.
    pub duration_s: Option<f64>,
    /// One row per task in graph order: one character per window (see `docs/locate.md`):
    /// `*` bottleneck, `B` backpressured, `#` busy, `.` idle-ish, `-` no data.
    pub strip: Vec<StripRow>,
}

/// A task's share of the time as the bottleneck.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskShare {
    /// Task name.
    pub task: String,
    /// Share of the analysed time (0..1) in which it is a bottleneck.
    pub share: f64,
}

/// One task's row of the timeline strip.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StripRow {
    /// Task name.
    pub task: String,
    /// One character per window, in time order.
    pub cells: String,
}

/// Strip character: the task is a bottleneck in the window.
pub const CELL_BOTTLENECK: char = '*';
/// Strip character: the task is backpressured (level LOW or HIGH) in the window.
pub const CELL_BACKPRESSURED: char = 'B';
/// Strip character: the task is busy (at least [`crate::verdict::BUSY_MIN`]) in the window.
pub const CELL_BUSY: char = '#';
/// Strip character: none of the above (mostly idle).
pub const CELL_IDLE: char = '.';
/// Strip character: no accounting data for the task in the window.
pub const CELL_UNKNOWN: char = '-';

/// The recording and the analysed range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordingSummary {
    /// Program name of the recorded process.
    pub program: String,
    /// Host it ran on.
    pub host: String,
    /// CPUs the process could use (0 when unknown).
    pub cpus: u32,
    /// Length of the whole recording, seconds.
    pub duration_s: f64,
    /// Start of the analysed range (start of its first interval), seconds since recording start.
    pub from_s: f64,
    /// End of the analysed range (end of its last interval), seconds since recording start.
    pub to_s: f64,
    /// Number of intervals analysed.
    pub intervals: usize,
    /// Problems found while reading the recording (a truncated tail, ...), one sentence each.
    pub warnings: Vec<String>,
    /// When the analysed range is too short for a reliable verdict (too few intervals, or a
    /// small part of the recording): what is wrong and how to fix it, one sentence; `null` when
    /// it is enough (see [`crate::range::Coverage::warning`]). Absent in documents written
    /// before it existed.
    #[serde(default)]
    pub coverage_warning: Option<String>,
}

/// What kind of bottleneck a task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BottleneckKind {
    /// The task computes: its busy time is mostly on a CPU (or waiting for one).
    Cpu,
    /// Some subtasks of the task are much busier than the others: the partitioning is skewed.
    Skew,
    /// The task is busy but mostly off-CPU: it waits on I/O, a lock or a sleep.
    OffCpu,
    /// A backpressured task with no busy task downstream: the cause is outside the recording.
    External,
    /// A backpressured task whose direct downstream task is mostly idle: the link between them
    /// (a network exchange, a serialisation step) is too slow. [`Bottleneck::task`] is the
    /// upstream task, [`Bottleneck::downstream`] the downstream one.
    Exchange,
}

/// Flink's backpressure level of a ratio (see [`Level::of`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Level {
    /// Backpressured at most [`crate::verdict::LEVEL_OK_MAX`] of the time.
    #[serde(rename = "OK")]
    Ok,
    /// Backpressured at most [`crate::verdict::LEVEL_LOW_MAX`] of the time.
    #[serde(rename = "LOW")]
    Low,
    /// Backpressured more than [`crate::verdict::LEVEL_LOW_MAX`] of the time.
    #[serde(rename = "HIGH")]
    High,
}

impl Level {
    /// The level of a backpressured ratio (0..1): OK if <= 0.10, LOW if <= 0.50, else HIGH.
    pub fn of(backpressured: f64) -> Level {
        if backpressured <= LEVEL_OK_MAX {
            Level::Ok
        } else if backpressured <= LEVEL_LOW_MAX {
            Level::Low
        } else {
            Level::High
        }
    }

    /// `"OK"`, `"LOW"` or `"HIGH"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "OK",
            Level::Low => "LOW",
            Level::High => "HIGH",
        }
    }
}

/// One bottleneck.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bottleneck {
    /// Name of the task.
    pub task: String,
    /// Indices of the subtasks to look at: the skewed ones, else the busiest (for `external`,
    /// the most backpressured).
    pub subtasks: Vec<u32>,
    /// What kind of bottleneck.
    pub kind: BottleneckKind,
    /// Why, in one sentence or two, with the figures.
    pub reason: String,
    /// The task's busy ratio (0..1, max over its subtasks; 0 when unknown).
    pub busy: f64,
    /// Its direct upstream tasks that are backpressured (level LOW or HIGH).
    pub upstream: Vec<UpstreamPressure>,
    /// When the task runs a chain of operators: the one taking the largest share of its busy
    /// time; `null` otherwise.
    #[serde(default)]
    pub operator: Option<String>,
    /// For kind `exchange`: the downstream task at the other end of the slow link; `null`
    /// otherwise.
    #[serde(default)]
    pub downstream: Option<String>,
    /// The rule that named it (see `docs/locate.md`). Absent in documents of schema 1.0.
    #[serde(default)]
    pub rule: Option<Rule>,
    /// The edge the decisive backpressure (or, for `exchange`, the slow link) is on.
    #[serde(default)]
    pub edge: Option<EdgeRef>,
    /// For rule `slowest_input`: the task downstream that waits for this one.
    #[serde(default)]
    pub waited_by: Option<String>,
    /// The figures and thresholds that decided, in the order the rule checks them.
    #[serde(default)]
    pub evidence: Vec<Evidence>,
}

/// A note: something the analysis noticed beside the bottlenecks, as data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Note {
    /// What kind of observation.
    pub kind: NoteKind,
    /// The task, subtask or channel it is about.
    pub subject: String,
    /// For `unseen_producer`: the tasks receiving from the channel.
    #[serde(default)]
    pub tasks: Vec<String>,
    /// For `unseen_producer`: upstream tasks of those declared unaccounted.
    #[serde(default)]
    pub unaccounted_upstream: Vec<String>,
    /// The figures and thresholds behind it.
    #[serde(default)]
    pub evidence: Vec<Evidence>,
    /// For `short_stacks`: the most frames a cut-short stack had; `null` otherwise.
    #[serde(default)]
    pub max_frames: Option<u32>,
}

impl Note {
    /// A note of `kind` on `subject` (a task or subtask) with the figures behind it.
    pub(crate) fn on(kind: NoteKind, subject: String, evidence: Vec<Evidence>) -> Note {
        Note {
            kind,
            subject,
            tasks: Vec::new(),
            unaccounted_upstream: Vec::new(),
            evidence,
            max_frames: None,
        }
    }
}

/// The kinds of [`Note`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoteKind {
    /// A busy subtask spends most of its busy time neither on a CPU nor waiting for one.
    OffCpu,
    /// A busy subtask waits for a CPU a large share of its busy time: the machine is
    /// oversubscribed.
    WaitsForCpu,
    /// A task declared unaccounted.
    Unaccounted,
    /// A task without accounting data in the range.
    NoData,
    /// Records flow through a channel that no registered subtask sends into.
    UnseenProducer,
    /// A busy async subtask waits to be polled a large share of its busy time: the async
    /// runtime's workers are busy with other tasks.
    WaitsForWorker,
    /// An async task's polls last long: while one runs, its worker polls nothing else.
    LongPolls,
    /// Most on-CPU stack samples of the tasks in [`Note::tasks`] stop after a few frames without
    /// reaching the thread's entry: the program was probably built without frame pointers (see
    /// [`crate::stacks`]).
    ShortStacks,
}

/// The rules that name bottlenecks (thresholds in [`crate::verdict`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// A loaded task downstream of an edge that its upstream is backpressured on (Flink's rule).
    LoadedBelowBackpressure,
    /// A task whose downstream waits for its records while the downstream's other input is
    /// backpressured: a join held back by its slowest input.
    SlowestInput,
    /// A task busy most of the time (Flink's busy) but not loaded, because much of its busy time
    /// is waiting for a CPU after its input arrived, downstream of an edge that nothing else
    /// explains: on an oversubscribed machine its own rate is what the CPUs give it.
    StarvedBelowBackpressure,
    /// An async task whose polls hold the runtime's worker threads, while an async task
    /// downstream of backpressure waits to be polled (schema minor 4).
    WorkersHeld,
    /// A link whose writer is blocked on it while its reader waits on it.
    Exchange,
    /// Backpressure that nothing recorded downstream explains.
    External,
}

/// An edge named by its two tasks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EdgeRef {
    /// Upstream task.
    pub from: String,
    /// Downstream task.
    pub to: String,
}

/// One figure a rule checked against its threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// What was measured: `load`, `busy`, `backpressured`, `upstream_blocked`,
    /// `downstream_blocked`, `empty_share`, ...
    pub metric: String,
    /// Of which task (`Enrich`), subtask (`Enrich#2`) or edge (`Parse -> Enrich`).
    pub subject: String,
    /// Its value (a ratio 0..1).
    pub value: f64,
    /// The threshold it was compared with.
    pub threshold: f64,
    /// True when the rule needed `value >= threshold`, false when it needed `value < threshold`.
    pub at_least: bool,
}

/// A backpressured upstream task of a bottleneck.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpstreamPressure {
    /// Name of the upstream task.
    pub task: String,
    /// Its backpressured ratio (0..1).
    pub backpressured: f64,
}

/// One task over the analysed range. Ratios are fractions of wall time (0..1), `null` when the
/// task has no accounting data (declared unaccounted, or no subtask data in the range).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskReport {
    /// Task name.
    pub name: String,
    /// Parallelism: the largest declared, or the number of distinct subtask indices if larger.
    pub parallelism: u32,
    /// True when the task was declared unaccounted (its work runs in threads bpprof does not see).
    pub unaccounted: bool,
    /// Busy ratio: the maximum over its subtasks (as Flink shows it).
    pub busy: Option<f64>,
    /// Backpressured ratio: the maximum over its subtasks (may come from another subtask than
    /// `busy`).
    pub backpressured: Option<f64>,
    /// Idle ratio: the maximum over its subtasks.
    pub idle: Option<f64>,
    /// On-CPU ratio (CPU time / wall time): the maximum over its subtasks.
    pub on_cpu: Option<f64>,
    /// Load (busy without wake-up latency, see [`SubtaskReport::load`]): the maximum over its
    /// subtasks.
    #[serde(default)]
    pub load: Option<f64>,
    /// Of an async task: the worker threads its polls held on average, the sum of its subtasks'
    /// `polled` (2.0: two workers all the time); `null` for threads (schema minor 4).
    #[serde(default)]
    pub polled_workers: Option<f64>,
    /// Of an async task: its longest poll, milliseconds; `null` for threads.
    #[serde(default)]
    pub max_poll_ms: Option<f64>,
    /// Backpressure level of `backpressured`; `null` when unknown.
    pub level: Option<Level>,
    /// Records received per second, summed over subtasks.
    pub records_in_per_s: f64,
    /// Records sent per second, summed over subtasks.
    pub records_out_per_s: f64,
    /// Its subtasks, by index.
    pub subtasks: Vec<SubtaskReport>,
    /// The operators of the chain its subtasks run (see `bpprof::operator`), in order of first
    /// use; empty when it declares none or its busy time is unknown.
    #[serde(default)]
    pub operators: Vec<OperatorShare>,
    /// What it can process; `null` without accounting data. Minor 3.
    #[serde(default)]
    pub capacity: Option<Capacity>,
}

/// One operator of a chain running inside a task's subtasks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperatorShare {
    /// Operator name.
    pub name: String,
    /// Share (0..1) of the task's busy time (summed over its subtasks) spent in this operator.
    pub busy_share: f64,
    /// Times its scope was entered over the range, summed over the task's subtasks: for an
    /// operator run once per record, the records it processed (Flink's numRecordsIn). 0 when the
    /// recording has no call counts (format 1.0).
    #[serde(default)]
    pub records: u64,
    /// `records` per second of the analysed range.
    #[serde(default)]
    pub records_per_s: f64,
    /// Its busy time per record, microseconds: its busy time / `records`, both summed over the
    /// task's subtasks; `null` when `records` is 0.
    #[serde(default)]
    pub busy_per_record_us: Option<f64>,
}

/// One subtask over the analysed range (every registration of the same task and index merged).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubtaskReport {
    /// 0-based index within the task.
    pub index: u32,
    /// `TASK#INDEX`, e.g. `Enrich#2`.
    pub name: String,
    /// Busy ratio: (wall - idle - backpressured) / wall; `null` without data.
    pub busy: Option<f64>,
    /// Backpressured ratio (blocked waiting for output capacity).
    pub backpressured: Option<f64>,
    /// Idle ratio (blocked waiting for input).
    pub idle: Option<f64>,
    /// CPU time used while busy / wall time (never more than `busy`; CPU used inside blocking
    /// waits is `blocked_cpu`).
    pub on_cpu: Option<f64>,
    /// Share of the busy time spent neither on a CPU nor waiting for one (I/O, locks, sleeps);
    /// `null` when busy is 0 or unknown. `on_cpu / busy + runqueue_share + off_cpu_share = 1`.
    pub off_cpu_share: Option<f64>,
    /// Share of the busy time spent runnable but waiting for a CPU (the wake-up latency after
    /// waits included); `null` when the recording has no run-queue data or busy is 0.
    pub runqueue_share: Option<f64>,
    /// CPU time used inside blocking waits (spinning before parking, system calls) / wall time:
    /// spent idle or backpressured, so not part of `on_cpu`. `null` without data.
    #[serde(default)]
    pub blocked_cpu: Option<f64>,
    /// Wake-up latency / wall time: blocked channel operations that could proceed but whose
    /// thread waited for a CPU (part of busy and of `runqueue_share`). `null` without data.
    #[serde(default)]
    pub wake: Option<f64>,
    /// Time waiting for a CPU that falls outside busy time / wall time (after a wait that bpprof
    /// cannot time the end of, such as an `idle` scope); kept apart, never hidden. `null` without
    /// run-queue data.
    #[serde(default)]
    pub cpu_wait_outside_busy: Option<f64>,
    /// Share of the wall time in which no thread held the subtask (a pool's logical subtask
    /// between jobs); counted in `idle`.
    #[serde(default)]
    pub unregistered: Option<f64>,
    /// Backpressure level of `backpressured`.
    pub level: Option<Level>,
    /// True when the subtask is much busier than its siblings (see [`crate::verdict::is_skewed`]).
    pub skewed: bool,
    /// Records received in the range.
    pub records_in: u64,
    /// Records sent in the range.
    pub records_out: u64,
    /// Records received per second of the range.
    pub records_in_per_s: f64,
    /// Records sent per second of the range.
    pub records_out_per_s: f64,
    /// Longest single idle stall, milliseconds.
    pub max_idle_stall_ms: f64,
    /// Longest single backpressure stall, milliseconds.
    pub max_backpressure_stall_ms: f64,
    /// Busy ratio without the wake-up latency after waits: the share of the time the subtask
    /// worked, or was preempted while working. What the rules call *loaded*.
    #[serde(default)]
    pub load: Option<f64>,
    /// An async subtask's polls / wall time: the share of the time a worker thread ran its code
    /// (or was blocked inside it); `null` for threads and without poll data (schema minor 4).
    #[serde(default)]
    pub polled: Option<f64>,
    /// An async subtask's share of its busy time woken but not yet polled (scheduled: waiting
    /// for a worker); `null` for threads, whose equivalent is `runqueue_share`.
    #[serde(default)]
    pub scheduled_share: Option<f64>,
    /// An async subtask's longest poll, milliseconds; `null` for threads and without polls.
    #[serde(default)]
    pub max_poll_ms: Option<f64>,
    /// What it can process; `null` without accounting data. Minor 3.
    #[serde(default)]
    pub capacity: Option<Capacity>,
}

/// An edge of the job graph: data flows from `from` to `to`. All channels between the same two
/// tasks form one edge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EdgeReport {
    /// Upstream task.
    pub from: String,
    /// Downstream task.
    pub to: String,
    /// Name of the (first) channel carrying the edge; `null` for a declared edge without a
    /// recorded channel.
    pub channel: Option<String>,
    /// Names of all channels carrying the edge.
    pub channels: Vec<String>,
    /// Total capacity of those channels, messages; `null` without channels.
    pub capacity: Option<u64>,
    /// Average number of queued messages (summed over the channels); `null` without samples.
    pub avg_fill: Option<f64>,
    /// Highest fill level seen in any one of the channels; `null` without data.
    pub max_fill: Option<u64>,
    /// Sends that found a queue full and blocked.
    pub blocked_sends: u64,
    /// Receives that found a queue empty and blocked.
    pub blocked_recvs: u64,
    /// Partitioning, when declared (`forward`, `hash`, ...).
    pub partitioning: Option<String>,
    /// True when the edge crosses a link (`bpprof::link`: a socket or process boundary) rather
    /// than in-process queues.
    #[serde(default)]
    pub link: bool,
    /// Average fill / capacity (0..1), time-weighted (sampled every 10 ms); `null` without
    /// samples.
    #[serde(default)]
    pub fill_ratio: Option<f64>,
    /// Share of the fill samples that found the queues empty; `null` without samples (format 1.2
    /// on).
    #[serde(default)]
    pub empty_share: Option<f64>,
    /// Share of the fill samples that found a queue at its capacity; `null` without samples.
    #[serde(default)]
    pub full_share: Option<f64>,
    /// Share of the time the upstream task's most blocked subtask spent blocked sending into
    /// this edge: its backpressure on this edge (the maximum over subtasks, as for a task's
    /// backpressure). `null` when the recording does not say where waits
    /// happened (format before 1.2, or an edge without channels).
    #[serde(default)]
    pub upstream_blocked: Option<f64>,
    /// Share of the time the downstream task's most blocked subtask spent blocked receiving from
    /// this edge: its idleness on this edge. `null` as for `upstream_blocked`.
    #[serde(default)]
    pub downstream_blocked: Option<f64>,
}
