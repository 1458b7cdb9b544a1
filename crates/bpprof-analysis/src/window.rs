//! The per-subtask and per-channel sums over the selected intervals (chosen by [`crate::range`]).

use std::collections::{BTreeMap, HashMap, HashSet};

use bpprof_format::{EndpointRole, Recording};

use crate::graph::JobGraph;
use crate::units::NS_PER_S;

/// The intervals selected for analysis.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Selection {
    /// Indices into `recording.intervals`.
    pub intervals: Vec<usize>,
    /// Start of the first selected interval, seconds.
    pub from_s: f64,
    /// End of the last selected interval, seconds.
    pub to_s: f64,
    /// Sum of the lengths of the selected intervals, seconds (gaps excluded).
    pub seconds: f64,
}

/// One subtask's totals over the selection, nanoseconds and counts.
///
/// A subtask is *logical*: every registration with its task and index adds to it, and its time
/// base `wall` is the time during which it existed (from its first registration to its last
/// deregistration), so that the subtasks of a pool, whose threads register per job, compare
/// fairly. The part of `wall` during which no thread held it is `unregistered`, counted as idle.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SubtaskSums {
    pub wall: u64,
    /// Idle time, including `unregistered`.
    pub idle: u64,
    pub backpressured: u64,
    /// `wall - idle - backpressured`: working, or waiting for a CPU to work.
    pub busy: u64,
    /// CPU time of the threads while they held the subtask (in waits too).
    pub cpu: u64,
    /// Wall time of registrations that are not threads (async tasks, declared with thread id
    /// 0): their CPU time and run-queue time are unknown, not 0.
    pub threadless: u64,
    /// CPU time used inside blocking waits (part of `cpu`, not of busy).
    pub blocked_cpu: u64,
    /// Wake-up latency of waits (part of busy).
    pub wake: u64,
    /// Blocking receives and blocking sends that ended (format 1.2 on): the wake-up latency
    /// is shared between the two kinds of wait in proportion to their counts.
    pub recv_waits: u64,
    pub send_waits: u64,
    /// Sum of the known run-queue times; `None` when no interval reported one.
    pub runqueue: Option<u64>,
    /// Time within `wall` during which no thread held the subtask.
    pub unregistered: u64,
    pub records_in: u64,
    pub records_out: u64,
    pub max_idle_stall: u64,
    pub max_backpressure_stall: u64,
    /// An async subtask's polls (format 1.3 on): how many ended, their wall time, the longest.
    pub polls: u64,
    pub polled: u64,
    pub max_poll: u64,
}

impl SubtaskSums {
    /// Records the subtask processed: those it received, or those it sent when it received none
    /// (a source).
    pub fn records_processed(&self) -> u64 {
        if self.records_in > 0 {
            self.records_in
        } else {
            self.records_out
        }
    }

    /// Wake-up latency after receives: a subtask woken by its input and then waiting for a CPU
    /// had nothing to do before; after a send it is in the middle of its own work. Estimated by
    /// sharing the wake-up latency in proportion to the numbers of blocking receives and sends.
    pub fn wake_after_input(&self) -> u64 {
        let waits = self.recv_waits + self.send_waits;
        if waits == 0 {
            return self.wake;
        }
        (self.wake as u128 * self.recv_waits as u128 / waits as u128) as u64
    }

    /// CPU time spent busy: the threads' CPU time minus what they used inside waits.
    pub fn busy_cpu(&self) -> u64 {
        self.cpu.saturating_sub(self.blocked_cpu)
    }

    /// Splits `busy`: on-CPU first (the threads' CPU time minus what they used inside waits),
    /// then waiting for a CPU (the run-queue time), the rest off-CPU. What does not fit is reported
    /// apart, as CPU inside waits or CPU wait outside busy, never dropped.
    pub fn busy_split(&self) -> BusySplit {
        let on_cpu = self.busy_cpu().min(self.busy);
        let blocked_cpu = self.cpu - on_cpu;
        let room = self.busy - on_cpu;
        let cpu_wait = self.runqueue.map(|rq| rq.min(room));
        BusySplit {
            on_cpu,
            cpu_wait,
            off_cpu: room - cpu_wait.unwrap_or(0),
            blocked_cpu,
            cpu_wait_outside: self.runqueue.zip(cpu_wait).map(|(rq, w)| rq - w),
        }
    }
}

/// A logical subtask's busy time split into on-CPU, waiting for a CPU and off-CPU parts (ns),
/// which add up to its busy time exactly, plus the measured parts that fall outside busy time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BusySplit {
    pub on_cpu: u64,
    pub cpu_wait: Option<u64>,
    pub off_cpu: u64,
    /// CPU used while idle or backpressured: inside waits as measured, plus any CPU time beyond
    /// the busy time (waits too short to tell apart).
    pub blocked_cpu: u64,
    /// Run-queue time beyond what busy time leaves for it: waiting for a CPU while counted idle
    /// or backpressured (after a wait whose end bpprof cannot time).
    pub cpu_wait_outside: Option<u64>,
}

/// Sums every subtask's intervals in the selection, merging the registrations that share a task
/// and index into one logical subtask (see [`SubtaskSums`]). Keyed by (task position in the
/// graph, subtask index); only the logical subtasks in `only` when given (what `flame` draws).
/// Data of undeclared subtask ids is ignored.
pub(crate) fn subtask_sums(
    recording: &Recording,
    graph: &JobGraph,
    selection: &Selection,
    only: Option<&HashSet<(usize, u32)>>,
) -> BTreeMap<(usize, u32), SubtaskSums> {
    let kept = |key: &(usize, u32)| only.is_none_or(|keys| keys.contains(key));
    let key_of = |id: &u32| graph.subtasks.get(id).copied().filter(kept);
    let mut sums: BTreeMap<(usize, u32), SubtaskSums> = BTreeMap::new();
    for &n in &selection.intervals {
        let interval = &recording.intervals[n];
        let blocking: HashMap<u32, (u64, u64)> = interval
            .blocking
            .iter()
            .map(|b| (b.id, (b.wake_ns, b.blocked_cpu_ns)))
            .collect();
        for w in &interval.waits {
            if let Some(key) = key_of(&w.subtask) {
                let sum = sums.entry(key).or_default();
                match w.role {
                    EndpointRole::Receiver => sum.recv_waits += w.waits,
                    EndpointRole::Sender => sum.send_waits += w.waits,
                }
            }
        }
        for p in &interval.polls {
            if let Some(key) = key_of(&p.id) {
                let sum = sums.entry(key).or_default();
                sum.polls = sum.polls.saturating_add(p.polls);
                sum.polled = sum.polled.saturating_add(p.polled_ns);
                sum.max_poll = sum.max_poll.max(p.max_poll_ns);
            }
        }
        let mut registered_wall: HashMap<(usize, u32), u64> = HashMap::new();
        for s in &interval.subtasks {
            let Some(key) = key_of(&s.id) else {
                continue;
            };
            let sum = sums.entry(key).or_default();
            *registered_wall.entry(key).or_default() += s.wall_ns;
            // Clamp each interval's parts to its wall time so the ratios stay within 0..1.
            let idle = s.idle_ns.min(s.wall_ns);
            sum.idle = sum.idle.saturating_add(idle);
            sum.backpressured = sum
                .backpressured
                .saturating_add(s.backpressured_ns.min(s.wall_ns - idle));
            sum.busy = sum.busy.saturating_add(s.busy_ns());
            sum.cpu = sum.cpu.saturating_add(s.cpu_ns.min(s.wall_ns));
            if graph.threadless.contains(&s.id) {
                sum.threadless = sum.threadless.saturating_add(s.wall_ns);
            }
            if let Some(&(wake, blocked_cpu)) = blocking.get(&s.id) {
                sum.wake = sum.wake.saturating_add(wake);
                sum.blocked_cpu = sum.blocked_cpu.saturating_add(blocked_cpu);
            }
            if let Some(rq) = s.runqueue_ns {
                sum.runqueue = Some(sum.runqueue.unwrap_or(0).saturating_add(rq.min(s.wall_ns)));
            }
            sum.records_in = sum.records_in.saturating_add(s.records_in);
            sum.records_out = sum.records_out.saturating_add(s.records_out);
            sum.max_idle_stall = sum.max_idle_stall.max(s.max_idle_stall_ns);
            sum.max_backpressure_stall =
                sum.max_backpressure_stall.max(s.max_backpressure_stall_ns);
        }
        // The logical subtask's time base in this interval: the part of it during which the
        // subtask existed, or the registrations' wall time if that is more (overlapping ones).
        for (key, &(start, end)) in graph.lifetimes.iter().filter(|(key, _)| kept(key)) {
            let from = start.max(interval.start_ns);
            let to = end.unwrap_or(u64::MAX).min(interval.end_ns);
            let existed = to.saturating_sub(from);
            let held = registered_wall.get(key).copied().unwrap_or(0);
            if existed == 0 && held == 0 {
                continue;
            }
            let sum = sums.entry(*key).or_default();
            let wall = existed.max(held);
            let gap = wall - held;
            sum.wall = sum.wall.saturating_add(wall);
            sum.unregistered = sum.unregistered.saturating_add(gap);
            sum.idle = sum.idle.saturating_add(gap);
        }
    }
    sums
}

/// Where each logical subtask waited over the selection: blocked ns and waits per ((task
/// position, subtask index), channel, role), its registrations merged.
pub(crate) type SiteSums = HashMap<((usize, u32), u32, EndpointRole), (u64, u64)>;

/// The [`SiteSums`] of `selection`.
pub(crate) fn site_sums(
    recording: &Recording,
    graph: &JobGraph,
    selection: &Selection,
) -> SiteSums {
    let mut sums = SiteSums::new();
    for &n in &selection.intervals {
        for w in &recording.intervals[n].waits {
            let Some(&key) = graph.subtasks.get(&w.subtask) else {
                continue;
            };
            let sum = sums.entry((key, w.channel, w.role)).or_default();
            sum.0 = sum.0.saturating_add(w.wait_ns);
            sum.1 = sum.1.saturating_add(w.waits);
        }
    }
    sums
}

/// One channel's totals over the selection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ChannelSums {
    pub fill_samples: u64,
    pub fill_sum: u64,
    pub max_fill: u64,
    pub blocked_sends: u64,
    pub blocked_recvs: u64,
    /// Fill samples that found the queue empty, and at its capacity (format 1.2 on).
    pub empty_samples: u64,
    pub full_samples: u64,
    /// At least one interval reported the channel.
    pub seen: bool,
}

/// Sums every channel's queue usage over the selection, keyed by channel id.
pub(crate) fn channel_sums(
    recording: &Recording,
    selection: &Selection,
) -> HashMap<u32, ChannelSums> {
    let mut sums: HashMap<u32, ChannelSums> = HashMap::new();
    for &n in &selection.intervals {
        for c in &recording.intervals[n].channels {
            let sum = sums.entry(c.id).or_default();
            sum.seen = true;
            sum.fill_samples = sum.fill_samples.saturating_add(u64::from(c.fill_samples));
            sum.fill_sum = sum.fill_sum.saturating_add(c.fill_sum);
            sum.max_fill = sum.max_fill.max(c.max_fill);
            sum.blocked_sends = sum.blocked_sends.saturating_add(c.blocked_sends);
            sum.blocked_recvs = sum.blocked_recvs.saturating_add(c.blocked_recvs);
        }
        for f in &recording.intervals[n].fills {
            let sum = sums.entry(f.id).or_default();
            sum.empty_samples = sum.empty_samples.saturating_add(u64::from(f.empty_samples));
            sum.full_samples = sum.full_samples.saturating_add(u64::from(f.full_samples));
        }
    }
    sums
}

/// Splits `selection` into windows of consecutive intervals: a new window starts with the first
/// interval whose midpoint is at least `window_s` after the start of the current window. Without
/// `window_s`, every interval is its own window.
pub(crate) fn split(
    recording: &Recording,
    selection: &Selection,
    window_s: Option<f64>,
) -> Vec<Selection> {
    let span = |n: usize| {
        let i = &recording.intervals[n];
        (
            i.start_ns as f64 / NS_PER_S,
            i.end_ns as f64 / NS_PER_S,
            i.end_ns.saturating_sub(i.start_ns) as f64 / NS_PER_S,
        )
    };
    let mut windows: Vec<Selection> = Vec::new();
    for &n in &selection.intervals {
        let (start, end, length) = span(n);
        let mid = (start + end) / 2.0;
        match windows.last_mut() {
            Some(w) if window_s.is_some_and(|len| mid < w.from_s + len) => {
                w.intervals.push(n);
                w.to_s = end;
                w.seconds += length;
            }
            _ => windows.push(Selection {
                intervals: vec![n],
                from_s: start,
                to_s: end,
                seconds: length,
            }),
        }
    }
    windows
}

/// One operator of a task over a selection, summed over the task's subtasks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OperatorSums {
    pub name: String,
    /// Busy ns inside its scopes.
    pub busy: u64,
    /// Scope entries (0 throughout in a format 1.0 recording, which has no call counts).
    pub calls: u64,
}

/// Busy time and calls per operator of every task over the selection: for each task position,
/// its operators in order of first declaration (merged by name across subtasks and
/// registrations). Tasks without operators are absent.
pub(crate) fn operator_sums(
    recording: &Recording,
    graph: &JobGraph,
    selection: &Selection,
) -> BTreeMap<usize, Vec<OperatorSums>> {
    // Declarations accumulate over the whole file, whatever range is analysed.
    let names = &graph.operator_names;
    let mut out: BTreeMap<usize, Vec<OperatorSums>> = graph
        .task_operators
        .iter()
        .map(|(&task, ops)| {
            let sums = ops
                .iter()
                .map(|name| OperatorSums {
                    name: name.clone(),
                    busy: 0,
                    calls: 0,
                })
                .collect();
            (task, sums)
        })
        .collect();
    for &n in &selection.intervals {
        let interval = &recording.intervals[n];
        let busy = interval
            .operators
            .iter()
            .map(|o| (o.subtask, o.id, o.busy_ns, 0));
        let calls = interval
            .operator_calls
            .iter()
            .map(|o| (o.subtask, o.id, 0, o.calls));
        for (subtask, id, busy, calls) in busy.chain(calls) {
            let (Some(&(task, _)), Some(name)) =
                (graph.subtasks.get(&subtask), names.get(&(subtask, id)))
            else {
                continue;
            };
            let op = entry(out.entry(task).or_default(), name);
            op.busy = op.busy.saturating_add(busy);
            op.calls = op.calls.saturating_add(calls);
        }
    }
    out
}

/// The sums of operator `name` in `ops`, added at the end when not there yet.
fn entry<'a>(ops: &'a mut Vec<OperatorSums>, name: &str) -> &'a mut OperatorSums {
    let at = match ops.iter().position(|o| o.name == name) {
        Some(at) => at,
        None => {
            ops.push(OperatorSums {
                name: name.to_owned(),
                busy: 0,
                calls: 0,
            });
            ops.len() - 1
        }
    };
    &mut ops[at]
}

/// Channels whose receivers got records in the selection but into which no registered subtask
/// ever sent: their producers run in threads bpprof does not see. For each: the channel's name
/// id, its name (quoted, or `channel#ID`) and the receiving tasks (positions).
pub(crate) fn unseen_producers(
    recording: &Recording,
    graph: &JobGraph,
    selection: &Selection,
) -> Vec<(u32, String, Vec<usize>)> {
    let mut senders: HashSet<u32> = HashSet::new();
    let mut receivers: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for &(channel, subtask, role) in &graph.endpoints {
        match role {
            EndpointRole::Sender => {
                senders.insert(channel);
            }
            EndpointRole::Receiver => receivers.entry(channel).or_default().push(subtask),
        }
    }
    let mut received: HashMap<u32, u64> = HashMap::new();
    for &n in &selection.intervals {
        for s in &recording.intervals[n].subtasks {
            *received.entry(s.id).or_default() += s.records_in;
        }
    }
    let mut out = Vec::new();
    for (channel, subtasks) in receivers {
        if senders.contains(&channel) {
            continue;
        }
        if !subtasks
            .iter()
            .any(|s| received.get(s).copied().unwrap_or(0) > 0)
        {
            continue;
        }
        let mut tasks: Vec<usize> = subtasks
            .iter()
            .filter_map(|s| graph.subtasks.get(s).map(|&(t, _)| t))
            .collect();
        tasks.sort_unstable();
        tasks.dedup();
        let name = match graph.channels.get(&channel) {
            Some((name, _)) if !name.is_empty() => format!("'{name}'"),
            _ => format!("channel#{channel}"),
        };
        out.push((channel, name, tasks));
    }
    out
}
