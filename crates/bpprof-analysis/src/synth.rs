//! Synthetic recordings for tests and examples: declare subtasks and channels, then add intervals
//! that say how busy each subtask was. No runtime needed.
//!
//! ```
//! use bpprof_analysis::synth::{Load, Synth};
//!
//! let mut synth = Synth::new();
//! let a = synth.subtask("A", 0, 1);
//! synth.interval(&[(a, Load::new(0.5, 0.25))]);
//! let recording = synth.recording();
//! assert_eq!(recording.intervals.len(), 1);
//! assert_eq!(recording.intervals[0].subtasks[0].busy_ns(), 500_000_000);
//! ```

use std::collections::HashMap;
use std::io;
use std::path::Path;

use bpprof_format::{
    read_recording, ChannelDecl, ChannelEndpoint, ChannelFill, ChannelInterval, ChannelWait,
    EdgeDecl, EndChunk, EndpointRole, FrameDecl, IntervalChunk, OperatorCalls, OperatorDecl,
    OperatorInterval, Recording, RecordingMeta, RecordingWriter, SampleCount, SampleState,
    SamplesChunk, StackDecl, SubtaskBlocking, SubtaskDecl, SubtaskInterval, SubtaskPolls, TaskDecl,
};

/// Sampling frequency that [`Synth::sample`] sets when none was set.
pub const DEFAULT_SAMPLE_HZ: u32 = 99;

/// What one subtask did during one synthetic interval, as fractions of the interval.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Load {
    /// Busy fraction (0..1).
    pub busy: f64,
    /// Backpressured fraction (0..1). Idle is whatever remains.
    pub backpressured: f64,
    /// On-CPU fraction; `None` means equal to `busy`.
    pub on_cpu: Option<f64>,
    /// Fraction runnable but waiting for a CPU; `None` means not reported.
    pub runqueue: Option<f64>,
    /// Records received in the interval.
    pub records_in: u64,
    /// Records sent in the interval.
    pub records_out: u64,
}

impl Load {
    /// A load with the given busy and backpressured fractions, on CPU whenever busy.
    pub fn new(busy: f64, backpressured: f64) -> Load {
        Load {
            busy,
            backpressured,
            ..Load::default()
        }
    }

    /// Sets the on-CPU fraction.
    pub fn on_cpu(mut self, on_cpu: f64) -> Load {
        self.on_cpu = Some(on_cpu);
        self
    }

    /// Sets the fraction spent waiting for a CPU.
    pub fn runqueue(mut self, runqueue: f64) -> Load {
        self.runqueue = Some(runqueue);
        self
    }

    /// Sets the records received and sent.
    pub fn records(mut self, records_in: u64, records_out: u64) -> Load {
        self.records_in = records_in;
        self.records_out = records_out;
        self
    }
}

/// Builds a recording interval by interval. Declarations made between two calls to
/// [`Synth::interval`] go into the next interval written, and so do samples added with
/// [`Synth::sample`] (in a samples chunk written right after that interval's chunk).
#[derive(Debug, Clone)]
pub struct Synth {
    meta: RecordingMeta,
    interval_ns: u64,
    next_subtask: u32,
    next_channel: u32,
    pending: IntervalChunk,
    intervals: Vec<IntervalChunk>,
    /// Interned frames (function name to id) and stacks (frame ids to id).
    frame_ids: HashMap<String, u32>,
    stack_ids: HashMap<Vec<u32>, u32>,
    pending_samples: SamplesChunk,
    samples: Vec<SamplesChunk>,
    /// Next operator id per subtask.
    next_operator: HashMap<u32, u32>,
    /// Every channel's capacity, and the channels each subtask receives from and sends into.
    capacities: HashMap<u32, u64>,
    inputs: HashMap<u32, Vec<u32>>,
    outputs: HashMap<u32, Vec<u32>>,
    /// Waits given with [`Synth::wait`] for the next interval, as fractions of it.
    pending_waits: Vec<(u32, u32, EndpointRole, f64)>,
}

impl Default for Synth {
    fn default() -> Self {
        Synth::new()
    }
}

impl Synth {
    /// A recording of program `synthetic` on host `test` with 1-second intervals and 4 CPUs.
    pub fn new() -> Synth {
        Synth {
            meta: RecordingMeta {
                interval_ns: 1_000_000_000,
                host: "test".into(),
                cpus: 4,
                program: "synthetic".into(),
                ..RecordingMeta::default()
            },
            interval_ns: 1_000_000_000,
            next_subtask: 0,
            next_channel: 0,
            pending: IntervalChunk::default(),
            intervals: Vec::new(),
            frame_ids: HashMap::new(),
            stack_ids: HashMap::new(),
            pending_samples: SamplesChunk::default(),
            capacities: HashMap::new(),
            inputs: HashMap::new(),
            outputs: HashMap::new(),
            pending_waits: Vec::new(),
            samples: Vec::new(),
            next_operator: HashMap::new(),
        }
    }

    /// Sets the wall-clock start of the recording, nanoseconds since the Unix epoch (default 0),
    /// which `merge` aligns recordings by.
    pub fn start_unix_ns(&mut self, ns: u64) {
        self.meta.start_unix_ns = ns;
    }

    /// Sets the stack-sampling frequency recorded in the meta chunk (0 = sampling off, the
    /// default until [`Synth::sample`] is first called).
    pub fn sample_hz(&mut self, hz: u32) {
        self.meta.sample_hz = hz;
    }

    /// Adds `count` samples of `subtask` in `state`, on or off CPU, with the stack `frames`
    /// (function names, outermost caller first) to the next interval. Frames and stacks are
    /// interned across the recording like the runtime does: declared in the first samples chunk
    /// that uses them. Sets the sampling frequency to [`DEFAULT_SAMPLE_HZ`] if it was 0.
    pub fn sample(
        &mut self,
        subtask: u32,
        state: SampleState,
        on_cpu: bool,
        frames: &[&str],
        count: u32,
    ) {
        self.sample_in(subtask, None, state, on_cpu, frames, count);
    }

    /// As [`Synth::sample`], for samples taken while `subtask` ran `operator` (an id returned by
    /// [`Synth::operator`]), or outside every operator scope when `None`.
    pub fn sample_in(
        &mut self,
        subtask: u32,
        operator: Option<u32>,
        state: SampleState,
        on_cpu: bool,
        frames: &[&str],
        count: u32,
    ) {
        if self.meta.sample_hz == 0 {
            self.meta.sample_hz = DEFAULT_SAMPLE_HZ;
        }
        let ids: Vec<u32> = frames
            .iter()
            .map(|&name| {
                if let Some(&id) = self.frame_ids.get(name) {
                    return id;
                }
                let id = self.frame_ids.len() as u32;
                self.frame_ids.insert(name.to_owned(), id);
                self.pending_samples.frames.push(FrameDecl {
                    id,
                    function: name.to_owned(),
                    file: String::new(),
                    line: 0,
                });
                id
            })
            .collect();
        let stack = match self.stack_ids.get(&ids) {
            Some(&id) => id,
            None => {
                let id = self.stack_ids.len() as u32;
                self.stack_ids.insert(ids.clone(), id);
                self.pending_samples
                    .stacks
                    .push(StackDecl { id, frames: ids });
                id
            }
        };
        self.pending_samples.counts.push(SampleCount {
            subtask,
            state,
            on_cpu,
            stack,
            count,
            operator,
        });
    }

    /// Declares operator `name` of `subtask` (one operator of a chain running in its thread);
    /// returns its id within the subtask.
    pub fn operator(&mut self, subtask: u32, name: &str) -> u32 {
        let id = self.next_operator.entry(subtask).or_insert(0);
        let op = *id;
        *id += 1;
        self.pending.declared_operators.push(OperatorDecl {
            subtask,
            id: op,
            name: name.into(),
        });
        op
    }

    /// Records that `subtask` spent `busy` (a fraction of the interval) in operator `operator` in
    /// the next interval.
    pub fn operator_busy(&mut self, subtask: u32, operator: u32, busy: f64) {
        let busy_ns = (busy.clamp(0.0, 1.0) * self.interval_ns as f64).round() as u64;
        self.pending.operators.push(OperatorInterval {
            subtask,
            id: operator,
            busy_ns,
        });
    }

    /// Records that `subtask` entered operator `operator`'s scope `calls` times (processed
    /// `calls` records in it) in the next interval.
    pub fn operator_calls(&mut self, subtask: u32, operator: u32, calls: u64) {
        self.pending.operator_calls.push(OperatorCalls {
            subtask,
            id: operator,
            calls,
        });
    }

    /// Reports `lost` samples in the next interval.
    pub fn lost_samples(&mut self, lost: u64) {
        self.pending_samples.lost += lost;
    }

    /// Declares subtask `index` of `task` (with the task's parallelism); returns its id. Declaring
    /// the same task and index again gives a new id, like a pool thread registering again.
    pub fn subtask(&mut self, task: &str, index: u32, parallelism: u32) -> u32 {
        let id = self.next_subtask;
        self.next_subtask += 1;
        self.pending.declared_subtasks.push(SubtaskDecl {
            id,
            task: task.into(),
            index,
            parallelism,
            tid: 1000 + id,
            registered_ns: self.intervals.len() as u64 * self.interval_ns,
        });
        id
    }

    /// Declares subtask `index` of `task` that is not a thread (an async task: thread id 0, its
    /// CPU time unknown); returns its id.
    pub fn async_subtask(&mut self, task: &str, index: u32, parallelism: u32) -> u32 {
        let id = self.subtask(task, index, parallelism);
        if let Some(decl) = self.pending.declared_subtasks.last_mut() {
            decl.tid = 0;
        }
        id
    }

    /// Declares a task explicitly.
    pub fn task(&mut self, name: &str, parallelism: u32, unaccounted: bool) {
        self.pending.declared_tasks.push(TaskDecl {
            name: name.into(),
            parallelism,
            unaccounted,
        });
    }

    /// Declares a channel of `capacity` used by `senders` and `receivers` (subtask ids); returns
    /// its id.
    pub fn channel(
        &mut self,
        name: &str,
        capacity: u64,
        senders: &[u32],
        receivers: &[u32],
    ) -> u32 {
        let id = self.next_channel;
        self.next_channel += 1;
        self.pending.declared_channels.push(ChannelDecl {
            id,
            name: name.into(),
            capacity,
        });
        self.capacities.insert(id, capacity);
        let ends = senders
            .iter()
            .map(|&s| (s, EndpointRole::Sender))
            .chain(receivers.iter().map(|&r| (r, EndpointRole::Receiver)));
        for (subtask, role) in ends {
            self.pending.endpoints.push(ChannelEndpoint {
                channel: id,
                subtask,
                role,
            });
            let ends = match role {
                EndpointRole::Sender => &mut self.outputs,
                EndpointRole::Receiver => &mut self.inputs,
            };
            ends.entry(subtask).or_default().push(id);
        }
        id
    }

    /// Declares a link (`bpprof::link`: a socket or process boundary) used by `senders` and
    /// `receivers`, like [`Synth::channel`]; returns its id.
    pub fn link(&mut self, name: &str, capacity: u64, senders: &[u32], receivers: &[u32]) -> u32 {
        let id = self.channel(name, capacity, senders, receivers);
        self.pending.declared_links.push(id);
        id
    }

    /// In the next interval, `subtask` waits on the `role` end of `channel` for `fraction` of
    /// the interval. Without any call for a subtask and role, its idle time is spread evenly
    /// over the channels it receives from, and its backpressured time over those it sends into.
    pub fn wait(&mut self, subtask: u32, channel: u32, role: EndpointRole, fraction: f64) {
        self.pending_waits.push((subtask, channel, role, fraction));
    }

    /// Declares an edge explicitly.
    pub fn edge(&mut self, from: &str, to: &str, channel: Option<u32>, partitioning: &str) {
        self.pending.declared_edges.push(EdgeDecl {
            from: from.into(),
            to: to.into(),
            channel,
            partitioning: partitioning.into(),
        });
    }

    /// Reports queue usage of `channel` in the next interval: an average and a maximum fill.
    /// The samples count as all empty when `avg_fill` is 0 and all full when it is the capacity.
    pub fn fill(&mut self, channel: u32, avg_fill: u64, max_fill: u64) {
        self.pending.channels.push(ChannelInterval {
            id: channel,
            fill_samples: 10,
            fill_sum: avg_fill * 10,
            max_fill,
            blocked_sends: 0,
            blocked_recvs: 0,
        });
        let capacity = self.capacities.get(&channel).copied().unwrap_or(u64::MAX);
        let (empty, full) = (
            u32::from(avg_fill == 0) * 10,
            u32::from(avg_fill >= capacity) * 10,
        );
        if empty + full > 0 {
            self.pending.fills.push(ChannelFill {
                id: channel,
                empty_samples: empty,
                full_samples: full,
            });
        }
    }

    /// Reports in the next interval that async `subtask` was polled `polled` of the interval
    /// (in 100 polls, the longest `max_poll_ms`) and was scheduled (woken, not yet polled)
    /// `scheduled` of it, as wake-up latency.
    pub fn polled(&mut self, subtask: u32, polled: f64, scheduled: f64, max_poll_ms: f64) {
        let part = |f: f64| (f.clamp(0.0, 1.0) * self.interval_ns as f64).round() as u64;
        self.pending.polls.push(SubtaskPolls {
            id: subtask,
            polls: 100,
            polled_ns: part(polled),
            max_poll_ns: (max_poll_ms * 1e6) as u64,
        });
        self.pending.blocking.push(SubtaskBlocking {
            id: subtask,
            wake_ns: part(scheduled),
            blocked_cpu_ns: 0,
        });
    }

    /// Reports in the next interval that `sends` sends into `channel` found it full and `recvs`
    /// receives found it empty (no fill level).
    pub fn blocked(&mut self, channel: u32, sends: u64, recvs: u64) {
        self.pending.channels.push(ChannelInterval {
            id: channel,
            blocked_sends: sends,
            blocked_recvs: recvs,
            ..ChannelInterval::default()
        });
    }

    /// Appends an interval in which each listed subtask did what its [`Load`] says.
    pub fn interval(&mut self, loads: &[(u32, Load)]) {
        let wall = self.interval_ns;
        let part = |f: f64| (f.clamp(0.0, 1.0) * wall as f64).round() as u64;
        let mut chunk = std::mem::take(&mut self.pending);
        let seq = self.intervals.len() as u64;
        chunk.seq = seq;
        chunk.start_ns = seq * wall;
        chunk.end_ns = (seq + 1) * wall;
        chunk.subtasks = loads
            .iter()
            .map(|&(id, load)| {
                let busy = part(load.busy);
                let backpressured = part(load.backpressured).min(wall - busy);
                SubtaskInterval {
                    id,
                    wall_ns: wall,
                    idle_ns: wall - busy - backpressured,
                    backpressured_ns: backpressured,
                    cpu_ns: part(load.on_cpu.unwrap_or(load.busy)),
                    runqueue_ns: load.runqueue.map(part),
                    max_idle_stall_ns: (wall - busy - backpressured) / 10,
                    max_backpressure_stall_ns: backpressured / 10,
                    records_in: load.records_in,
                    records_out: load.records_out,
                    ended: false,
                }
            })
            .collect();
        chunk.waits = self.waits_of(&chunk.subtasks, part);
        let mut samples = std::mem::take(&mut self.pending_samples);
        if !samples.counts.is_empty() || !samples.frames.is_empty() || samples.lost > 0 {
            samples.seq = chunk.seq;
            samples.start_ns = chunk.start_ns;
            samples.end_ns = chunk.end_ns;
            self.samples.push(samples);
        }
        self.intervals.push(chunk);
    }

    /// Where the subtasks of an interval waited: the waits given with [`Synth::wait`], else
    /// their idle and backpressured time spread over their channels.
    fn waits_of(
        &mut self,
        subtasks: &[SubtaskInterval],
        part: impl Fn(f64) -> u64,
    ) -> Vec<ChannelWait> {
        let given = std::mem::take(&mut self.pending_waits);
        let mut waits = Vec::new();
        for s in subtasks {
            for (role, total, channels) in [
                (EndpointRole::Receiver, s.idle_ns, self.inputs.get(&s.id)),
                (
                    EndpointRole::Sender,
                    s.backpressured_ns,
                    self.outputs.get(&s.id),
                ),
            ] {
                let explicit: Vec<&(u32, u32, EndpointRole, f64)> = given
                    .iter()
                    .filter(|w| w.0 == s.id && w.2 == role)
                    .collect();
                if !explicit.is_empty() {
                    waits.extend(explicit.iter().map(|w| ChannelWait {
                        subtask: s.id,
                        channel: w.1,
                        role,
                        wait_ns: part(w.3),
                        waits: 1,
                    }));
                    continue;
                }
                let Some(channels) = channels.filter(|c| !c.is_empty() && total > 0) else {
                    continue;
                };
                let each = total / channels.len() as u64;
                waits.extend(channels.iter().map(|&channel| ChannelWait {
                    subtask: s.id,
                    channel,
                    role,
                    wait_ns: each,
                    waits: 1,
                }));
            }
        }
        waits
    }

    /// The recording as bytes, finalised with an end chunk.
    pub fn bytes(&self) -> Vec<u8> {
        self.write(Vec::new()).unwrap_or_default()
    }

    /// Writes the recording to `path`, finalised with an end chunk.
    pub fn write_file(&self, path: impl AsRef<Path>) -> io::Result<()> {
        self.write(std::fs::File::create(path)?).map(drop)
    }

    /// The recording, written and read back through the format crate.
    pub fn recording(&self) -> Recording {
        read_recording(&self.bytes()[..]).unwrap_or_default()
    }

    fn write<W: io::Write>(&self, out: W) -> io::Result<W> {
        let mut writer = RecordingWriter::new(out, &self.meta)?;
        let mut samples = self.samples.iter().peekable();
        for chunk in &self.intervals {
            writer.write_interval(chunk)?;
            // Each interval's samples right after it, as the runtime writes them.
            while let Some(s) = samples.next_if(|s| s.seq == chunk.seq) {
                writer.write_samples(s)?;
            }
        }
        let end_ns = self.intervals.len() as u64 * self.interval_ns;
        writer.finish(&EndChunk {
            end_ns,
            chunks: self.intervals.len() as u64,
            coalesced_intervals: 0,
        })
    }
}
/// A synthetic CPU-bound pipeline for comparisons: Source(1) -> Work(P) -> Sink(1), where Work is
/// the bottleneck and its CPU per record is split between the functions `parse` and `score` (on-CPU
/// samples at 99 Hz, stacks `main;work;parse` and `main;work;score`). Every per-interval value gets
/// seeded uniform noise, so two runs with different seeds differ the way two real runs do.
///
/// ```
/// use bpprof_analysis::synth::Pipeline;
///
/// let slower = Pipeline { score_us: 56.0, ..Pipeline::new(2) };
/// assert_eq!(slower.recording().intervals.len(), 40);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pipeline {
    /// Seed of the noise.
    pub seed: u64,
    /// Number of 1-second intervals.
    pub intervals: usize,
    /// Records per second through the pipeline.
    pub rate: f64,
    /// CPU per record of Work in `parse`, µs.
    pub parse_us: f64,
    /// CPU per record of Work in `score`, µs.
    pub score_us: f64,
    /// Share of Work's time spent waiting for a CPU.
    pub runqueue: f64,
    /// Share of Work's time blocked off the CPU.
    pub off_cpu: f64,
    /// Work's parallelism.
    pub work_parallelism: u32,
    /// Relative noise of the per-interval values (uniform ±).
    pub noise: f64,
    /// Share of Source's time busy (the rest but 5% idle is backpressured).
    pub source_busy: f64,
    /// The part of `source_busy` spent waiting for a CPU.
    pub source_runqueue: f64,
}

impl Pipeline {
    /// The defaults: 40 intervals at 10,000 records/s, `parse` 120 µs and `score` 40 µs per
    /// record, 15% run-queue wait, 2 Work subtasks, ±3% noise; Source busy 5% (never waiting for
    /// a CPU) and backpressured 90%.
    pub fn new(seed: u64) -> Pipeline {
        Pipeline {
            seed,
            intervals: 40,
            rate: 10_000.0,
            parse_us: 120.0,
            score_us: 40.0,
            runqueue: 0.15,
            off_cpu: 0.0,
            work_parallelism: 2,
            noise: 0.03,
            source_busy: 0.05,
            source_runqueue: 0.0,
        }
    }
}

/// xorshift64*, uniform in [-1, 1).
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        (x >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    }
}

impl Pipeline {
    /// The recording of this run.
    pub fn recording(&self) -> Recording {
        read_recording(&self.recording_bytes()[..]).unwrap_or_default()
    }

    /// The recording of this run as the bytes of a `.bpprof` file.
    pub fn recording_bytes(&self) -> Vec<u8> {
        let run = *self;
        let mut noise = Noise(run.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let mut synth = Synth::new();
        synth.sample_hz(99);
        let source = synth.subtask("Source", 0, 1);
        let work: Vec<u32> = (0..run.work_parallelism)
            .map(|i| synth.subtask("Work", i, run.work_parallelism))
            .collect();
        let sink = synth.subtask("Sink", 0, 1);
        synth.channel("source->work", 256, &[source], &work);
        synth.channel("work->sink", 256, &work, &[sink]);
        for _ in 0..run.intervals {
            let mut jitter = |x: f64| x * (1.0 + run.noise * noise.next());
            let records = jitter(run.rate).round() as u64;
            let per_subtask = records / u64::from(run.work_parallelism);
            let mut loads = vec![
                (
                    source,
                    Load::new(run.source_busy, 0.95 - run.source_busy)
                        .on_cpu(run.source_busy - run.source_runqueue)
                        .runqueue(run.source_runqueue)
                        .records(0, records),
                ),
                (sink, Load::new(0.03, 0.0).on_cpu(0.03).records(records, 0)),
            ];
            for &w in &work {
                let parse = jitter(run.parse_us) * per_subtask as f64 / 1e6;
                let score = jitter(run.score_us) * per_subtask as f64 / 1e6;
                let on_cpu = parse + score;
                let busy = (on_cpu + run.runqueue + run.off_cpu).min(1.0);
                loads.push((
                    w,
                    Load::new(busy, 0.0)
                        .on_cpu(on_cpu)
                        .runqueue(run.runqueue)
                        .records(per_subtask, per_subtask),
                ));
                // 99 Hz on-CPU samples, split by where the CPU time went.
                let samples = |seconds: f64| (seconds * 99.0).round() as u32;
                synth.sample(
                    w,
                    SampleState::Busy,
                    true,
                    &["main", "work", "parse"],
                    samples(parse),
                );
                synth.sample(
                    w,
                    SampleState::Busy,
                    true,
                    &["main", "work", "score"],
                    samples(score),
                );
            }
            synth.interval(&loads);
        }
        synth.bytes()
    }
}
