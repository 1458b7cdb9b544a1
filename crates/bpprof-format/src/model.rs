//! The chunk payloads. Field order is part of the format (postcard encoding, see `docs/format.md`):
//! never reorder or remove fields within a major version. A minor version may append fields only at
//! the end of a chunk's payload struct ([`RecordingMeta`], [`IntervalChunk`], [`EndChunk`],
//! [`SamplesChunk`]), since
//! readers ignore trailing bytes of a payload but not of a struct nested in it.

use serde::{Deserialize, Serialize};

/// Describes the recorded process. Payload of the first chunk ([`crate::ChunkKind::Meta`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingMeta {
    /// Wall-clock time when recording started, nanoseconds since the Unix epoch.
    pub start_unix_ns: u64,
    /// The recording interval requested, in nanoseconds (an interval chunk may be longer when the
    /// writer fell behind; see [`IntervalChunk::coalesced`]).
    pub interval_ns: u64,
    /// Host name of the machine.
    pub host: String,
    /// Number of CPUs the process could use.
    pub cpus: u32,
    /// Process id.
    pub pid: u32,
    /// Program name (file name of the executable).
    pub program: String,
    /// Version of the bpprof runtime that wrote the recording.
    pub bpprof_version: String,
    /// Build information of the recorded program (profile, target), free text.
    pub build: String,
    /// Stack-sampling frequency per subtask in Hz; 0 when sampling was off.
    pub sample_hz: u32,
    /// How stacks were sampled, e.g. `cpu-timer signal 23` (per-thread CPU-time timers delivering
    /// signal 23); empty when sampling was off or in recordings before format 1.2.
    pub sampler: String,
}

/// Payload of an [`crate::ChunkKind::Interval`] chunk: what every subtask did during one interval,
/// plus the declarations (tasks, subtasks, channels, edges) first seen in it.
///
/// Declarations appear once, in the first chunk after they were made; a reader accumulates them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IntervalChunk {
    /// Sequence number of this chunk, starting at 0, incremented by one for each chunk written.
    pub seq: u64,
    /// Start of the interval, nanoseconds since the recording started (monotonic clock).
    pub start_ns: u64,
    /// End of the interval, nanoseconds since the recording started (monotonic clock).
    pub end_ns: u64,
    /// How many scheduled intervals were merged into this one because the writer fell behind.
    pub coalesced: u32,
    /// Tasks declared explicitly (with their properties) since the previous chunk.
    pub declared_tasks: Vec<TaskDecl>,
    /// Subtasks registered since the previous chunk.
    pub declared_subtasks: Vec<SubtaskDecl>,
    /// Instrumented channels created since the previous chunk.
    pub declared_channels: Vec<ChannelDecl>,
    /// Edges declared explicitly since the previous chunk.
    pub declared_edges: Vec<EdgeDecl>,
    /// Subtasks seen sending to or receiving from a channel for the first time.
    pub endpoints: Vec<ChannelEndpoint>,
    /// Per-subtask accounting for this interval; subtasks not registered during it are absent.
    pub subtasks: Vec<SubtaskInterval>,
    /// Per-channel queue usage for this interval.
    pub channels: Vec<ChannelInterval>,
    /// Operators (of operator chains run inside subtasks) first seen since the previous chunk.
    pub declared_operators: Vec<OperatorDecl>,
    /// Per-operator busy time for this interval; operators without busy time in it are absent.
    pub operators: Vec<OperatorInterval>,
    /// Per-operator call counts (scope entries) for this interval; operators not entered in it are
    /// absent. Added in format 1.1: empty when read from a 1.0 recording.
    pub operator_calls: Vec<OperatorCalls>,
    /// Where each subtask waited: its blocked time per channel end (format 1.2; empty when read
    /// from older recordings). A subtask's idle time not listed here was spent in `bpprof::idle`
    /// scopes (or in a wait still in progress when an older runtime wrote the chunk).
    pub waits: Vec<ChannelWait>,
    /// Per subtask: wake-up latency of its blocked waits and CPU used inside them (format 1.2).
    pub blocking: Vec<SubtaskBlocking>,
    /// Per channel: how often its fill level was sampled empty and full (format 1.2).
    pub fills: Vec<ChannelFill>,
    /// Problems the runtime found since the previous chunk (an inconsistent registration, ...),
    /// one each (format 1.2).
    pub warnings: Vec<RuntimeWarning>,
    /// Channels declared in this chunk ([`ChannelDecl::id`]) that are links (`bpprof::link`): an
    /// exchange across a socket or process boundary rather than an in-process queue (format 1.2).
    pub declared_links: Vec<u32>,
    /// Per async subtask: its polls that ended during the interval (format 1.3; empty for
    /// threads, and when read from older recordings).
    pub polls: Vec<SubtaskPolls>,
}

/// The polls of one async subtask that ended during one interval: how long the threads that
/// poll it were held by it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubtaskPolls {
    /// The subtask ([`SubtaskDecl::id`]).
    pub id: u32,
    /// Polls that ended.
    pub polls: u64,
    /// Wall time of its polls within the interval, ns (a poll in progress counts up to the
    /// interval's end, the rest in the next): time a worker thread was running the subtask's
    /// code (or blocked inside it), part of busy time.
    pub polled_ns: u64,
    /// Longest of the polls that ended, or of the one in progress so far, ns.
    pub max_poll_ns: u64,
}

/// Time one subtask spent blocked on one end of one channel (or link) during one interval.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelWait {
    /// The subtask ([`SubtaskDecl::id`]).
    pub subtask: u32,
    /// The channel ([`ChannelDecl::id`]).
    pub channel: u32,
    /// Which end: a receiver's wait is idle time, a sender's is backpressured time.
    pub role: EndpointRole,
    /// Time blocked, ns, up to the instant the operation could proceed (the wake-up latency after
    /// it is in [`SubtaskBlocking::wake_ns`], not here). Counts a wait in progress up to the
    /// interval's end.
    pub wait_ns: u64,
    /// Blocking operations that ended during the interval.
    pub waits: u64,
}

/// How one subtask's blocked waits ended during one interval.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubtaskBlocking {
    /// The subtask ([`SubtaskDecl::id`]).
    pub id: u32,
    /// Wake-up latency, ns: time between a blocked channel operation becoming able to proceed
    /// (a record arrived, room was freed) and the thread running again. It is part of busy time
    /// (the subtask has work and waits for a CPU), not of idle or backpressured time.
    pub wake_ns: u64,
    /// CPU time used inside blocking waits (spinning before parking, the system calls), ns. It
    /// is part of [`SubtaskInterval::cpu_ns`] but was spent idle or backpressured, not busy. An
    /// estimate: the runtime measures one channel wait in 16 (every `idle` / `backpressured`
    /// scope) and scales, within the interval's `cpu_ns`.
    pub blocked_cpu_ns: u64,
}

/// How often one channel was sampled empty and full during one interval.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelFill {
    /// The channel ([`ChannelDecl::id`]).
    pub id: u32,
    /// Fill samples (of [`ChannelInterval::fill_samples`]) that found no message queued.
    pub empty_samples: u32,
    /// Fill samples that found the queue at its capacity.
    pub full_samples: u32,
}

/// A problem the runtime found, kept in the recording so that every command shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeWarning {
    /// Stable identifier of the problem, e.g. `registration`.
    pub code: String,
    /// One sentence naming the call and the fix.
    pub message: String,
}

/// An operator run inside a subtask (one operator of a chain sharing the subtask's thread).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorDecl {
    /// The subtask ([`SubtaskDecl::id`]).
    pub subtask: u32,
    /// Identifier of the operator within that subtask (not across subtasks).
    pub id: u32,
    /// Operator name (`other` for the operators beyond the runtime's per-subtask limit).
    pub name: String,
}

/// Busy time of one operator of one subtask during one interval.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorInterval {
    /// The subtask ([`SubtaskDecl::id`]).
    pub subtask: u32,
    /// The operator ([`OperatorDecl::id`] within the subtask).
    pub id: u32,
    /// Busy time inside the operator's scopes (minus idle and backpressured time in them), ns.
    pub busy_ns: u64,
}

/// How many times one operator of one subtask was entered during one interval (format 1.1).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorCalls {
    /// The subtask ([`SubtaskDecl::id`]).
    pub subtask: u32,
    /// The operator ([`OperatorDecl::id`] within the subtask).
    pub id: u32,
    /// Scopes of the operator entered during the interval (for an operator run once per record,
    /// the records it processed). Nested scopes count for their own operator.
    pub calls: u64,
}

/// A task declared explicitly through the API.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskDecl {
    /// Task name, unique in the job.
    pub name: String,
    /// Number of subtasks.
    pub parallelism: u32,
    /// True when the task's work runs in threads that bpprof does not see (its busy time is unknown).
    pub unaccounted: bool,
}

/// One registration of a thread as a subtask. A thread that registers again (a pool thread taking
/// another subtask) gets a new id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubtaskDecl {
    /// Identifier, unique within the recording.
    pub id: u32,
    /// Name of the task this subtask belongs to.
    pub task: String,
    /// 0-based index of the subtask within its task.
    pub index: u32,
    /// Parallelism of the task as declared by this subtask.
    pub parallelism: u32,
    /// Kernel thread id (`gettid`) of the thread.
    pub tid: u32,
    /// When it registered, nanoseconds since the recording started (0 if before).
    pub registered_ns: u64,
}

/// An instrumented bounded channel.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelDecl {
    /// Identifier, unique within the recording.
    pub id: u32,
    /// Name given by the user; empty when unnamed.
    pub name: String,
    /// Capacity in messages.
    pub capacity: u64,
}

/// An edge of the job graph declared explicitly (in addition to the inferred ones).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EdgeDecl {
    /// Upstream task.
    pub from: String,
    /// Downstream task.
    pub to: String,
    /// Channel carrying the edge, when it is an instrumented channel.
    pub channel: Option<u32>,
    /// Partitioning (e.g. `forward`, `hash`, `rebalance`, `broadcast`); empty when unknown.
    pub partitioning: String,
}

/// Which end of a channel a subtask uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EndpointRole {
    /// The subtask sends into the channel.
    #[default]
    Sender,
    /// The subtask receives from the channel.
    Receiver,
}

/// A subtask was seen at one end of a channel: the evidence from which edges are inferred.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelEndpoint {
    /// The channel.
    pub channel: u32,
    /// The subtask.
    pub subtask: u32,
    /// Which end it used.
    pub role: EndpointRole,
}

/// What one subtask did during one interval. All durations in nanoseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubtaskInterval {
    /// The subtask ([`SubtaskDecl::id`]).
    pub id: u32,
    /// Wall time during which the subtask was registered within the interval.
    pub wall_ns: u64,
    /// Time blocked waiting for input.
    pub idle_ns: u64,
    /// Time blocked waiting for output capacity.
    pub backpressured_ns: u64,
    /// CPU time the thread used (its per-thread CPU clock).
    pub cpu_ns: u64,
    /// Time the thread was runnable but waiting for a CPU (from the kernel's schedstat), when known.
    pub runqueue_ns: Option<u64>,
    /// Longest single idle stall that overlapped the interval (its length so far if ongoing).
    pub max_idle_stall_ns: u64,
    /// Longest single backpressure stall that overlapped the interval.
    pub max_backpressure_stall_ns: u64,
    /// Records received through instrumented channels (or counted by hand).
    pub records_in: u64,
    /// Records sent through instrumented channels (or counted by hand).
    pub records_out: u64,
    /// True when the subtask deregistered during this interval (this is its last entry).
    pub ended: bool,
}

impl SubtaskInterval {
    /// Busy time: the part of the wall time that was neither idle nor backpressured (Flink's rule).
    pub fn busy_ns(&self) -> u64 {
        self.wall_ns
            .saturating_sub(self.idle_ns.saturating_add(self.backpressured_ns))
    }
}

/// Queue usage of one channel during one interval.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelInterval {
    /// The channel ([`ChannelDecl::id`]).
    pub id: u32,
    /// How many times the fill level was sampled.
    pub fill_samples: u32,
    /// Sum of the sampled fill levels (messages); average fill = `fill_sum / fill_samples`.
    pub fill_sum: u64,
    /// Highest fill level seen (sampled, or the capacity when a sender found the queue full).
    pub max_fill: u64,
    /// Sends that found the queue full and blocked.
    pub blocked_sends: u64,
    /// Receives that found the queue empty and blocked.
    pub blocked_recvs: u64,
}

/// Payload of the [`crate::ChunkKind::End`] chunk: the recording was finalised cleanly.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndChunk {
    /// End of the recording, nanoseconds since it started.
    pub end_ns: u64,
    /// Number of interval chunks written.
    pub chunks: u64,
    /// Total number of scheduled intervals merged into others because the writer fell behind.
    pub coalesced_intervals: u64,
}

/// Payload of a [`crate::ChunkKind::Samples`] chunk: stack samples of the subtasks during one
/// interval, counted by (subtask, state, on/off CPU, stack). Frames and stacks are interned: each
/// is declared once, in the first chunk that uses it, and referred to by id afterwards.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamplesChunk {
    /// Sequence number of the interval chunk these samples belong to.
    pub seq: u64,
    /// Start of the interval, nanoseconds since the recording started.
    pub start_ns: u64,
    /// End of the interval, nanoseconds since the recording started.
    pub end_ns: u64,
    /// Frames first used in this chunk.
    pub frames: Vec<FrameDecl>,
    /// Stacks first used in this chunk.
    pub stacks: Vec<StackDecl>,
    /// Sample counts.
    pub counts: Vec<SampleCount>,
    /// Samples lost during the interval (a full buffer, a frame walk that failed, a signal that
    /// was not delivered in time).
    pub lost: u64,
    /// On-CPU samples of threads that poll async subtasks taken between two polls: the async
    /// runtime's own work (scheduling, I/O and timer drivers), no subtask's (format 1.3; 0 when
    /// read from older recordings).
    pub between_polls: u64,
}

/// One symbolised frame.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameDecl {
    /// Identifier, unique within the recording.
    pub id: u32,
    /// Demangled function name, without the hash suffix; `0x...` when it could not be resolved.
    pub function: String,
    /// Source file, or empty when unknown.
    pub file: String,
    /// Source line, or 0 when unknown.
    pub line: u32,
}

/// One interned stack.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackDecl {
    /// Identifier, unique within the recording.
    pub id: u32,
    /// Frame ids, outermost caller first, the sampled function last.
    pub frames: Vec<u32>,
}

/// What a subtask was doing when a sample was taken.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SampleState {
    /// Neither waiting for input nor for output capacity.
    #[default]
    Busy,
    /// Blocked waiting for input.
    Idle,
    /// Blocked waiting for output capacity.
    Backpressured,
}

/// How many samples of one subtask had one (state, on/off CPU, stack).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SampleCount {
    /// The subtask ([`SubtaskDecl::id`]).
    pub subtask: u32,
    /// Its state when sampled.
    pub state: SampleState,
    /// True when the thread used CPU since its previous sample.
    pub on_cpu: bool,
    /// The stack ([`StackDecl::id`]).
    pub stack: u32,
    /// Number of samples.
    pub count: u32,
    /// The operator the subtask was running ([`OperatorDecl::id`] within the subtask), or `None`
    /// outside every operator scope.
    pub operator: Option<u32>,
}
