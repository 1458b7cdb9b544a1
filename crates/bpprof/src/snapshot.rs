//! Turns the registry's cumulative counters into one interval chunk per tick.
//!
//! A chunk's deltas are taken against the last chunk that reached the writer. When the writer's
//! queue is full the chunk is discarded without moving the baselines, so the next chunk covers
//! both intervals: nothing is lost, only resolution, and the merge is counted.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bpprof_format::{
    ChannelDecl, ChannelFill, ChannelInterval, ChannelWait, EdgeDecl, IntervalChunk, OperatorCalls,
    OperatorDecl, OperatorInterval, RuntimeWarning, SubtaskBlocking, SubtaskDecl, SubtaskInterval,
    SubtaskPolls, TaskDecl,
};

use crate::account::{Totals, WaitSite, MAX_WAIT_CHANNELS};
use crate::cell::{SubtaskCell, ThreadReading, ThreadTimes};
use crate::operator_table::OperatorReading;
use crate::probe::{ChannelInfo, ChannelProbe};
use crate::registry::{self, MAX_PENDING_WARNINGS};

/// Cumulative values of one subtask at the end of the last chunk that was written.
#[derive(Debug, Clone, Copy, Default)]
struct Baseline {
    at_ns: u64,
    idle_ns: u64,
    backpressured_ns: u64,
    times: ThreadTimes,
    records_in: u64,
    records_out: u64,
    wake_ns: u64,
    blocked_cpu_ns: u64,
    /// Blocked time and waits per wait-site slot of the subtask's account.
    sites: [(u64, u64); MAX_WAIT_CHANNELS],
    /// Longest stalls seen in chunks that could not be written (carried into the next one).
    max_idle_stall_ns: u64,
    max_backpressured_stall_ns: u64,
    /// An async subtask's polls and their wall time, and its longest poll in chunks that could
    /// not be written.
    polls: u64,
    polled_ns: u64,
    max_poll_ns: u64,
    /// Whether a written chunk declared the subtask (false for those registered before the
    /// recording started, until the first chunk declares them).
    declared: bool,
}

/// Fill levels of one channel sampled since the last written chunk.
#[derive(Debug, Clone, Copy, Default)]
struct FillStats {
    samples: u32,
    sum: u64,
    max: u64,
    empty: u32,
    full: u32,
    blocked_sends_base: u64,
    blocked_recvs_base: u64,
}

/// What a tick would commit if its chunk is accepted.
#[derive(Default)]
pub(crate) struct Pending {
    pub chunk: IntervalChunk,
    baselines: Vec<(u32, Baseline)>,
    ended: Vec<Arc<SubtaskCell>>,
    channel_bases: Vec<(u32, u64, u64)>,
    declared_tasks: Vec<TaskDecl>,
    declared_edges: Vec<EdgeDecl>,
    endpoint_cursors: Vec<(u32, usize)>,
    /// Channels whose every handle was gone at the tick: forgotten once this chunk is written.
    dead_channels: Vec<u32>,
    /// Cumulative busy ns and calls per (subtask, operator) at the end of this chunk.
    operator_bases: Vec<((u32, u32), OperatorBase)>,
    /// Channels whose `saw_full` flag this chunk took.
    saw_full: Vec<Arc<dyn ChannelProbe>>,
}

/// The recorder's view of what it has already written.
pub(crate) struct Snapshotter {
    /// Monotonic time the recording started.
    start_ns: u64,
    interval_start_ns: u64,
    seq: u64,
    coalesced: u32,
    baselines: HashMap<u32, Baseline>,
    /// Subtasks that ended and whose last interval is not written yet.
    ended: Vec<Arc<SubtaskCell>>,
    fills: HashMap<u32, FillStats>,
    endpoint_cursors: HashMap<u32, usize>,
    declared_channels: HashSet<u32>,
    declared_tasks: Vec<TaskDecl>,
    declared_edges: Vec<EdgeDecl>,
    /// Cumulative busy ns and calls per (subtask, operator) at the end of the last written
    /// chunk; an operator present here has been declared.
    operator_bases: HashMap<(u32, u32), OperatorBase>,
    /// Runtime warnings not yet in a written chunk (bounded by the registry's bound).
    unwritten_warnings: Vec<RuntimeWarning>,
}

/// Cumulative counters of one operator of one subtask at the end of the last written chunk.
#[derive(Debug, Clone, Copy, Default)]
struct OperatorBase {
    busy_ns: u64,
    calls: u64,
}

impl OperatorBase {
    /// The counters of `op` as read now.
    fn of(op: &OperatorReading) -> OperatorBase {
        OperatorBase {
            busy_ns: op.busy_ns,
            calls: op.calls,
        }
    }
}

/// What a tick copies from the registry, under one lock, besides its warnings and retired
/// subtasks (which it takes).
struct RegistryState {
    /// The subtasks registered now.
    live: Vec<Arc<SubtaskCell>>,
    /// Every task and edge declared so far; the tick writes those no written chunk declared.
    tasks: Vec<TaskDecl>,
    edges: Vec<EdgeDecl>,
}

impl Snapshotter {
    /// Starts at `start_ns`, taking the subtasks already registered as they are now.
    pub fn new(start_ns: u64) -> Self {
        let mut snapshotter = Snapshotter {
            start_ns,
            interval_start_ns: start_ns,
            seq: 0,
            coalesced: 0,
            baselines: HashMap::new(),
            ended: Vec::new(),
            fills: HashMap::new(),
            endpoint_cursors: HashMap::new(),
            declared_channels: HashSet::new(),
            declared_tasks: Vec::new(),
            declared_edges: Vec::new(),
            operator_bases: HashMap::new(),
            unwritten_warnings: Vec::new(),
        };
        let live = registry::lock().live().to_vec();
        for cell in live {
            if let Some(operators) = cell.operators.get() {
                for op in operators.read() {
                    snapshotter
                        .operator_bases
                        .insert((cell.id, op.id), OperatorBase::of(&op));
                }
            }
            let reading = cell.read_thread();
            let totals = cell.account.totals(reading.at_ns);
            let records = cell.account.records();
            cell.account.take_max_stalls();
            snapshotter.baselines.insert(
                cell.id,
                Baseline::of(reading.at_ns, reading.times, &totals, records),
            );
        }
        snapshotter
    }

    /// Samples the fill level of every live channel (called many times per interval).
    pub fn sample_fills(&mut self) {
        let channels = live_channels();
        for channel in channels {
            if let Some(len) = channel.len() {
                let stats = self.fills.entry(channel.info().id).or_default();
                stats.samples = stats.samples.saturating_add(1);
                stats.sum = stats.sum.saturating_add(len as u64);
                stats.max = stats.max.max(len as u64);
                stats.empty = stats.empty.saturating_add(u32::from(len == 0));
                stats.full = stats
                    .full
                    .saturating_add(u32::from(len >= channel.info().capacity));
            }
        }
    }

    /// Builds the chunk for the interval ending at `now_ns`: the operators and the interval of
    /// every live subtask and of every ended one not yet written, then every channel the
    /// registry lists, then the declarations and warnings not yet written.
    pub fn tick(&mut self, now_ns: u64) -> Pending {
        let registry = self.take_registry();
        let mut pending = Pending {
            chunk: self.chunk_header(now_ns),
            ..Pending::default()
        };
        // One handle of each channel the registry lists, held until the tick returns: with the
        // registry's, a channel that no sender or receiver holds any more has two.
        let channels = live_channels();
        let by_id: HashMap<u32, &Arc<dyn ChannelProbe>> =
            channels.iter().map(|c| (c.info().id, c)).collect();
        let ready = |site: WaitSite| {
            by_id
                .get(&site.channel)
                .and_then(|c| c.info().pending_ready_ns(site.role))
        };
        for cell in registry.live.iter().chain(self.ended.iter()) {
            self.operators(cell, &mut pending);
            self.subtask(cell, now_ns, ready, &mut pending);
        }
        for channel in &channels {
            self.channel(channel, &mut pending);
        }
        self.declarations(registry.tasks, registry.edges, &mut pending);
        pending
    }

    /// Under the registry's lock: keeps its new warnings (at most [`MAX_PENDING_WARNINGS`]
    /// unwritten ones, each once), takes its retired subtasks and copies its live subtasks and
    /// declarations. The retired subtasks whose end no written chunk reported join `ended`.
    fn take_registry(&mut self) -> RegistryState {
        let (state, retired) = {
            let mut registry = registry::lock();
            for warning in registry.take_warnings() {
                if self.unwritten_warnings.len() < MAX_PENDING_WARNINGS
                    && !self.unwritten_warnings.contains(&warning)
                {
                    self.unwritten_warnings.push(warning);
                }
            }
            let retired = std::mem::take(&mut registry.retired);
            let state = RegistryState {
                live: registry.live().to_vec(),
                tasks: registry.tasks.clone(),
                edges: registry.edges.clone(),
            };
            (state, retired)
        };
        self.ended.extend(
            retired
                .into_iter()
                .filter(|c| !c.end_reported.load(Ordering::Relaxed)),
        );
        state
    }

    /// A chunk with only its header: its sequence number, its span from the end of the last
    /// written chunk (or the start) to `now_ns`, both relative to the start of the recording, and
    /// the number of dropped chunks it covers.
    fn chunk_header(&self, now_ns: u64) -> IntervalChunk {
        IntervalChunk {
            seq: self.seq,
            start_ns: self.interval_start_ns.saturating_sub(self.start_ns),
            end_ns: now_ns.saturating_sub(self.start_ns),
            coalesced: self.coalesced,
            ..IntervalChunk::default()
        }
    }

    /// The operators of `cell`: a declaration of each one no written chunk declared, its busy
    /// time and its calls since the last written chunk (each only when not zero), and its
    /// cumulative counters, to commit.
    fn operators(&self, cell: &SubtaskCell, pending: &mut Pending) {
        let Some(operators) = cell.operators.get() else {
            return;
        };
        let chunk = &mut pending.chunk;
        for op in operators.read() {
            let key = (cell.id, op.id);
            let base = match self.operator_bases.get(&key) {
                Some(&base) => base,
                None => {
                    chunk.declared_operators.push(OperatorDecl {
                        subtask: cell.id,
                        id: op.id,
                        name: op.name.to_string(),
                    });
                    OperatorBase::default()
                }
            };
            let busy_ns = op.busy_ns.saturating_sub(base.busy_ns);
            if busy_ns > 0 {
                chunk.operators.push(OperatorInterval {
                    subtask: cell.id,
                    id: op.id,
                    busy_ns,
                });
            }
            let calls = op.calls.wrapping_sub(base.calls);
            if calls > 0 {
                chunk.operator_calls.push(OperatorCalls {
                    subtask: cell.id,
                    id: op.id,
                    calls,
                });
            }
            pending.operator_bases.push((key, OperatorBase::of(&op)));
        }
    }

    /// The interval of subtask `cell` since its baseline: its declaration if no written chunk
    /// made it, its times, longest stalls and records, and, where there is any, its waits per
    /// channel end, its wake-up latency and CPU inside waits, and its polls. Its cumulative
    /// values become the baseline to commit; an ended subtask is listed, to be forgotten on
    /// commit.
    ///
    /// `ready` tells when a channel end became ready for a wait still in progress
    /// (`ChannelInfo::pending_ready_ns`).
    fn subtask(
        &self,
        cell: &Arc<SubtaskCell>,
        now_ns: u64,
        ready: impl Fn(WaitSite) -> Option<u64>,
        pending: &mut Pending,
    ) {
        let known = self.baselines.get(&cell.id).copied();
        if !known.is_some_and(|b| b.declared) {
            pending.chunk.declared_subtasks.push(self.declaration(cell));
        }
        // A subtask registered since the last written chunk is measured from its registration.
        let base = known.unwrap_or(Baseline {
            at_ns: cell.registered_ns,
            times: cell.start,
            ..Baseline::default()
        });
        let reading = cell.read_thread();
        // A live thread is read a moment after `now_ns`: its interval ends at `now_ns` (or at its
        // baseline, if that is later); an ended one's, when it ended.
        let at_ns = if reading.ended {
            reading.at_ns
        } else {
            reading.at_ns.min(now_ns.max(base.at_ns))
        };
        let totals = cell.account.totals_with(at_ns, ready);
        let next = Baseline::next(cell, at_ns, &reading, &totals, &base);
        let chunk = &mut pending.chunk;
        chunk
            .subtasks
            .push(next.interval_since(&base, cell.id, reading.ended));
        chunk
            .waits
            .extend(next.waits_since(&base, cell.id, &totals));
        chunk.blocking.extend(next.blocking_since(&base, cell.id));
        chunk.polls.extend(next.polls_since(&base, cell.id));
        if reading.ended {
            pending.ended.push(Arc::clone(cell));
        }
        pending.baselines.push((cell.id, next));
    }

    /// The declaration of subtask `cell`, its registration time relative to the start.
    fn declaration(&self, cell: &SubtaskCell) -> SubtaskDecl {
        SubtaskDecl {
            id: cell.id,
            task: cell.task.to_string(),
            index: cell.index,
            parallelism: cell.parallelism,
            tid: cell.tid,
            registered_ns: cell.registered_ns.saturating_sub(self.start_ns),
        }
    }

    /// One channel the registry lists: its declaration (and, for a link, its link declaration)
    /// if no written chunk made it, the endpoints added since, and its interval; whether it is
    /// dead, to forget it on commit.
    fn channel(&self, channel: &Arc<dyn ChannelProbe>, pending: &mut Pending) {
        let info = channel.info();
        // The registry's `Arc` and the tick's: no handle of the channel is left.
        if Arc::strong_count(channel) <= 2 {
            pending.dead_channels.push(info.id);
        }
        if !self.declared_channels.contains(&info.id) {
            pending.chunk.declared_channels.push(ChannelDecl {
                id: info.id,
                name: info.name.clone(),
                capacity: info.capacity as u64,
            });
            if info.is_link {
                pending.chunk.declared_links.push(info.id);
            }
        }
        self.new_endpoints(info, pending);
        self.channel_interval(channel, pending);
    }

    /// The endpoints of channel `info` added since the last written chunk, and their count, to
    /// commit as its cursor (only when there are new ones).
    fn new_endpoints(&self, info: &ChannelInfo, pending: &mut Pending) {
        let cursor = self.endpoint_cursors.get(&info.id).copied().unwrap_or(0);
        let endpoints = info.endpoints.lock().unwrap_or_else(|p| p.into_inner());
        if endpoints.len() > cursor {
            pending
                .chunk
                .endpoints
                .extend(endpoints[cursor..].iter().map(|(_, e)| e.clone()));
            pending.endpoint_cursors.push((info.id, endpoints.len()));
        }
    }

    /// The interval of `channel`: its fill samples since the last written chunk (and its empty
    /// and full samples, when any), its largest fill (its capacity if a sender found it full)
    /// and its blocked sends and receives; its blocked counts, to commit as their bases.
    fn channel_interval(&self, channel: &Arc<dyn ChannelProbe>, pending: &mut Pending) {
        let info = channel.info();
        let stats = self.fills.get(&info.id).copied().unwrap_or_default();
        let blocked_sends = info.blocked_sends.load(Ordering::Relaxed);
        let blocked_recvs = info.blocked_recvs.load(Ordering::Relaxed);
        let mut max_fill = stats.max;
        // Taken, not read: a sender that finds the queue full after this belongs to the next
        // chunk (a dropped chunk gives it back, see `discard`).
        if info.saw_full.swap(false, Ordering::Relaxed) {
            max_fill = info.capacity as u64;
            pending.saw_full.push(Arc::clone(channel));
        }
        pending.chunk.channels.push(ChannelInterval {
            id: info.id,
            fill_samples: stats.samples,
            fill_sum: stats.sum,
            max_fill,
            blocked_sends: blocked_sends.saturating_sub(stats.blocked_sends_base),
            blocked_recvs: blocked_recvs.saturating_sub(stats.blocked_recvs_base),
        });
        if stats.empty > 0 || stats.full > 0 {
            pending.chunk.fills.push(ChannelFill {
                id: info.id,
                empty_samples: stats.empty,
                full_samples: stats.full,
            });
        }
        pending
            .channel_bases
            .push((info.id, blocked_sends, blocked_recvs));
    }

    /// The tasks and edges of `tasks` and `edges` that no written chunk declared, in the chunk
    /// and to commit, and the runtime warnings not yet written.
    fn declarations(&self, tasks: Vec<TaskDecl>, edges: Vec<EdgeDecl>, pending: &mut Pending) {
        let declared_tasks: Vec<TaskDecl> = tasks
            .into_iter()
            .filter(|t| !self.declared_tasks.contains(t))
            .collect();
        let declared_edges: Vec<EdgeDecl> = edges
            .into_iter()
            .filter(|e| !self.declared_edges.contains(e))
            .collect();
        pending.chunk.warnings = self.unwritten_warnings.clone();
        pending.chunk.declared_tasks = declared_tasks.clone();
        pending.chunk.declared_edges = declared_edges.clone();
        pending.declared_tasks = declared_tasks;
        pending.declared_edges = declared_edges;
    }

    /// The chunk of `pending` reached the writer: move the baselines to its end.
    pub fn commit(&mut self, pending: Pending, now_ns: u64) {
        for (id, mut base) in pending.baselines {
            base.max_idle_stall_ns = 0;
            base.max_backpressured_stall_ns = 0;
            base.max_poll_ns = 0;
            self.baselines.insert(id, base);
        }
        self.operator_bases.extend(pending.operator_bases);
        for cell in &pending.ended {
            cell.end_reported.store(true, Ordering::Relaxed);
            self.baselines.remove(&cell.id);
            self.operator_bases
                .retain(|&(subtask, _), _| subtask != cell.id);
        }
        self.ended
            .retain(|c| !pending.ended.iter().any(|e| Arc::ptr_eq(c, e)));
        for decl in &pending.chunk.declared_channels {
            self.declared_channels.insert(decl.id);
        }
        let channel_ids: HashSet<u32> = pending.channel_bases.iter().map(|c| c.0).collect();
        self.declared_channels.retain(|id| channel_ids.contains(id));
        self.endpoint_cursors
            .retain(|id, _| channel_ids.contains(id));
        self.fills.clear();
        for (id, sends, recvs) in pending.channel_bases {
            self.fills.insert(
                id,
                FillStats {
                    blocked_sends_base: sends,
                    blocked_recvs_base: recvs,
                    ..FillStats::default()
                },
            );
        }
        for (id, cursor) in pending.endpoint_cursors {
            self.endpoint_cursors.insert(id, cursor);
        }
        self.unwritten_warnings.clear();
        self.declared_tasks.extend(pending.declared_tasks);
        self.declared_edges.extend(pending.declared_edges);
        registry::lock().remove_channels(&pending.dead_channels);
        self.seq += 1;
        self.coalesced = 0;
        self.interval_start_ns = now_ns;
    }

    /// The chunk of `pending` was dropped: keep the stall maxima it carried, count the merge.
    pub fn discard(&mut self, pending: Pending) {
        for (id, base) in pending.baselines {
            if let Some(known) = self.baselines.get_mut(&id) {
                known.max_idle_stall_ns = base.max_idle_stall_ns;
                known.max_backpressured_stall_ns = base.max_backpressured_stall_ns;
                known.max_poll_ns = base.max_poll_ns;
            }
        }
        for channel in pending.saw_full {
            channel.info().saw_full.store(true, Ordering::Relaxed);
        }
        self.coalesced = self.coalesced.saturating_add(1);
    }

    /// Number of chunks accepted so far.
    pub fn chunks(&self) -> u64 {
        self.seq
    }
}

/// A subtask's baselines, and what a chunk reports of it: the change from the last written
/// baseline (`base`) to the next one (`self`).
impl Baseline {
    /// Cumulative values at `at_ns`: the thread's times, the account's totals and records (no
    /// stall or poll maxima, no polls, not declared).
    fn of(at_ns: u64, times: ThreadTimes, totals: &Totals, records: (u64, u64)) -> Baseline {
        Baseline {
            at_ns,
            idle_ns: totals.idle_ns,
            backpressured_ns: totals.backpressured_ns,
            times,
            records_in: records.0,
            records_out: records.1,
            wake_ns: totals.wake_ns,
            blocked_cpu_ns: totals.blocked_cpu_ns,
            sites: site_values(totals),
            ..Baseline::default()
        }
    }

    /// The baseline of `cell` at `at_ns` after `base`, declared: `reading`'s times, `totals`, the
    /// records, polls and polled time read now, and the longest stalls and poll since `base`
    /// (taken from the account, which starts them again).
    fn next(
        cell: &SubtaskCell,
        at_ns: u64,
        reading: &ThreadReading,
        totals: &Totals,
        base: &Baseline,
    ) -> Baseline {
        let records = cell.account.records();
        let (taken_idle, taken_bp) = cell.account.take_max_stalls();
        let (polls, polled_ns, ongoing_ns) = cell.account.polls(at_ns);
        let max_poll_ns = cell
            .account
            .take_max_poll()
            .max(base.max_poll_ns)
            .max(ongoing_ns);
        Baseline {
            // The maxima are kept only if this chunk is dropped; cleared on commit.
            max_idle_stall_ns: taken_idle
                .max(base.max_idle_stall_ns)
                .max(totals.ongoing_idle_ns),
            max_backpressured_stall_ns: taken_bp
                .max(base.max_backpressured_stall_ns)
                .max(totals.ongoing_backpressured_ns),
            polls,
            // Cumulative, never below what was reported (a poll that ended between the reads).
            polled_ns: polled_ns.max(base.polled_ns),
            max_poll_ns,
            declared: true,
            ..Baseline::of(at_ns, reading.times, totals, records)
        }
    }

    /// The interval of subtask `id` from `base` to `self`.
    fn interval_since(&self, base: &Baseline, id: u32, ended: bool) -> SubtaskInterval {
        SubtaskInterval {
            id,
            wall_ns: self.at_ns.saturating_sub(base.at_ns),
            idle_ns: self.idle_ns.saturating_sub(base.idle_ns),
            backpressured_ns: self.backpressured_ns.saturating_sub(base.backpressured_ns),
            cpu_ns: self.times.cpu_ns.saturating_sub(base.times.cpu_ns),
            runqueue_ns: match (self.times.runqueue_ns, base.times.runqueue_ns) {
                (Some(now), Some(then)) => Some(now.saturating_sub(then)),
                _ => None,
            },
            max_idle_stall_ns: self.max_idle_stall_ns,
            max_backpressure_stall_ns: self.max_backpressured_stall_ns,
            records_in: self.records_in.wrapping_sub(base.records_in),
            records_out: self.records_out.wrapping_sub(base.records_out),
            ended,
        }
    }

    /// The waits of subtask `id` from `base` to `self` at each channel end of `totals` (the
    /// totals `self` was made of) where it waited.
    fn waits_since<'a>(
        &'a self,
        base: &'a Baseline,
        id: u32,
        totals: &'a Totals,
    ) -> impl Iterator<Item = ChannelWait> + 'a {
        let sites = totals.sites.iter().map_while(Option::as_ref);
        sites.enumerate().filter_map(move |(slot, site)| {
            let wait_ns = self.sites[slot].0.saturating_sub(base.sites[slot].0);
            let waits = self.sites[slot].1.saturating_sub(base.sites[slot].1);
            (wait_ns > 0 || waits > 0).then_some(ChannelWait {
                subtask: id,
                channel: site.site.channel,
                role: site.site.role,
                wait_ns,
                waits,
            })
        })
    }

    /// The wake-up latency and CPU inside waits of subtask `id` from `base` to `self`, unless
    /// both are zero.
    fn blocking_since(&self, base: &Baseline, id: u32) -> Option<SubtaskBlocking> {
        // A wait in progress at the last chunk was reported as idle (or backpressured) up to
        // then; if it turned out that part of that was wake-up latency, the total went back
        // down. That part was reported already: it is not reported again as wake-up latency.
        let reported_early = base.idle_ns.saturating_sub(self.idle_ns)
            + base.backpressured_ns.saturating_sub(self.backpressured_ns);
        let blocking = SubtaskBlocking {
            id,
            wake_ns: self
                .wake_ns
                .saturating_sub(base.wake_ns)
                .saturating_sub(reported_early),
            // An estimate (one channel wait in 16 is measured and scaled up), so it is kept
            // within the CPU the thread used in the interval.
            blocked_cpu_ns: self
                .blocked_cpu_ns
                .saturating_sub(base.blocked_cpu_ns)
                .min(self.times.cpu_ns.saturating_sub(base.times.cpu_ns)),
        };
        (blocking.wake_ns > 0 || blocking.blocked_cpu_ns > 0).then_some(blocking)
    }

    /// The polls of subtask `id` from `base` to `self`, unless their count and time are
    /// unchanged.
    fn polls_since(&self, base: &Baseline, id: u32) -> Option<SubtaskPolls> {
        (self.polls != base.polls || self.polled_ns != base.polled_ns).then(|| SubtaskPolls {
            id,
            polls: self.polls.wrapping_sub(base.polls),
            polled_ns: self.polled_ns.wrapping_sub(base.polled_ns),
            max_poll_ns: self.max_poll_ns,
        })
    }
}

/// The cumulative (blocked ns, waits) of every wait-site slot in `totals`.
fn site_values(totals: &Totals) -> [(u64, u64); MAX_WAIT_CHANNELS] {
    let mut values = [(0, 0); MAX_WAIT_CHANNELS];
    for (value, site) in values.iter_mut().zip(&totals.sites) {
        if let Some(site) = site {
            *value = (site.wait_ns, site.waits);
        }
    }
    values
}

/// The channels the registry knows: alive, or dead and not yet written.
fn live_channels() -> Vec<Arc<dyn ChannelProbe>> {
    registry::lock().channels().to_vec()
}
