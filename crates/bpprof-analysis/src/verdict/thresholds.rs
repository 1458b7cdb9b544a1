//! The thresholds of the rules, one named constant per rule, and the predicates that read only
//! them. A leaf: the report types (a [`crate::Level`]) and every rule module read these, and
//! this module reads none of them.

/// A backpressured ratio up to this is level OK (Flink's threshold).
pub const LEVEL_OK_MAX: f64 = 0.10;

/// A backpressured ratio up to this (and above [`LEVEL_OK_MAX`]) is level LOW; above it, HIGH
/// (Flink's threshold).
pub const LEVEL_LOW_MAX: f64 = 0.50;

/// A task (or subtask) is *busy* when its busy ratio is at least this. Below it, a task downstream
/// of backpressure is not called the bottleneck, and no off-CPU / run-queue note is made.
pub const BUSY_MIN: f64 = 0.5;

/// A skewed subtask is busy at least this much...
pub const SKEW_MIN_BUSY: f64 = 0.5;

/// ...at least this much more than the median busy ratio of its task's subtasks...
pub const SKEW_MIN_MARGIN: f64 = 0.25;

/// ...and at least this many times the median. Skew is only looked for in tasks with parallelism
/// of at least [`SKEW_MIN_PARALLELISM`].
pub const SKEW_MIN_FACTOR: f64 = 1.5;

/// Smallest parallelism in which skew is looked for.
pub const SKEW_MIN_PARALLELISM: u32 = 2;

/// A bottleneck is of kind `off_cpu` when more than this share of its busy time is spent neither
/// on a CPU nor waiting for one (I/O, locks, sleeps).
pub const OFF_CPU_SHARE_MIN: f64 = 0.5;

/// A busy task that spends more than this share of its busy time runnable but waiting for a CPU
/// gets a note that the machine is oversubscribed. Lower than one half on purpose: a quarter of
/// the working time lost to the scheduler already distorts every other figure.
pub const RUNQUEUE_SHARE_MIN: f64 = 0.25;

/// The busy time of a task declared unaccounted is unknown, so its backpressure is too; instead,
/// its queue into a downstream task counts as backpressure when it is on average at least this
/// full (Flink's signal before 1.13: output buffer usage).
pub const UNACCOUNTED_FULL_QUEUE_MIN: f64 = 0.5;

/// A chain's slowest operator is named in a bottleneck's reason only when the chain has at least
/// two operators and that operator takes at least this share of the task's busy time.
pub const OPERATOR_SHARE_MIN: f64 = 0.25;

/// A link is the bottleneck (kind `exchange`) when its writer is blocked on it at least
/// [`LEVEL_OK_MAX`] of the time while its reader waits on it at least this share of the time.
/// Only links qualify: an in-process queue cannot be full for its writer and empty for its
/// reader at once, so such a pair of figures means the pressure comes and goes.
pub const EXCHANGE_IDLE_MIN: f64 = 0.5;

/// A task that is not loaded and whose upstream is blocked on one input waits for another input
/// when it is blocked receiving from that input at least this share of the time (and more than
/// from the blocked one): the task on that input is what holds it back (rule `slowest_input`).
/// Low on purpose: on an oversubscribed machine a join spends much of the rest waiting for a CPU
/// (measured: 25% on its slow input, 0% on the full one, in a debug build beside a CPU-bound
/// input).
pub const INPUT_WAIT_MIN: f64 = 0.2;

/// [`INPUT_WAIT_MIN`] applies to the share of time a task was not waiting for a CPU, but to no
/// less than this share of its time: a task that waits for a CPU 95% of the time still has to
/// wait for an input 5% (0.2 × 0.25) of its time to be waiting for it.
pub const RUNNABLE_FLOOR: f64 = 0.25;

/// A queue on average at least this full (time-weighted fill over capacity) carries backpressure
/// when its writer is blocked on it [`LEVEL_OK_MAX`] of the time the writer was not waiting for a
/// CPU (floored at [`RUNNABLE_FLOOR`] of its time), not of all its time: on an oversubscribed
/// machine a writer that waits for a CPU most of the time has little time left to be blocked in
/// (measured: sources blocked 5–8% of their time on queues 91–99% full, waiting for a CPU 99% of
/// their busy time, in a fan-in under contention).
pub const CONTENDED_FULL_QUEUE_MIN: f64 = 0.5;

/// A task that is busy but not loaded (rule `starved_below_backpressure`) is named only when it
/// runs on a CPU at least this share of its busy time: one whose busy time is nearly all waiting
/// for a CPU after wake-ups has little work of its own, one that computes a good part of it is
/// short of CPU time.
pub const STARVED_ON_CPU_MIN: f64 = 0.25;

/// Whether a subtask with busy ratio `busy` is skewed among siblings whose median busy is `median`.
pub fn is_skewed(busy: f64, median: f64) -> bool {
    busy >= SKEW_MIN_BUSY && busy >= median + SKEW_MIN_MARGIN && busy >= SKEW_MIN_FACTOR * median
}
