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
use crate::cell::{SubtaskCell, ThreadTimes};
use crate::probe::ChannelProbe;
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
                    snapshotter.operator_bases.insert(
                        (cell.id, op.id),
                        OperatorBase {
                            busy_ns: op.busy_ns,
                            calls: op.calls,
                        },
                    );
                }
            }
            let reading = cell.read_thread();
            let totals = cell.account.totals(reading.at_ns);
            let (records_in, records_out) = cell.account.records();
            cell.account.take_max_stalls();
            snapshotter.baselines.insert(
                cell.id,
                Baseline {
                    at_ns: reading.at_ns,
                    idle_ns: totals.idle_ns,
                    backpressured_ns: totals.backpressured_ns,
                    times: reading.times,
                    records_in,
                    records_out,
                    wake_ns: totals.wake_ns,
                    blocked_cpu_ns: totals.blocked_cpu_ns,
                    sites: site_values(&totals),
                    ..Baseline::default()
                },
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

    /// Builds the chunk for the interval ending at `now_ns`.
    pub fn tick(&mut self, now_ns: u64) -> Pending {
        let (live, retired, tasks, edges) = {
            let mut registry = registry::lock();
            for warning in registry.take_warnings() {
                if self.unwritten_warnings.len() < MAX_PENDING_WARNINGS
                    && !self.unwritten_warnings.contains(&warning)
                {
                    self.unwritten_warnings.push(warning);
                }
            }
            let retired = std::mem::take(&mut registry.retired);
            (
                registry.live().to_vec(),
                retired,
                registry.tasks.clone(),
                registry.edges.clone(),
            )
        };
        self.ended.extend(
            retired
                .into_iter()
                .filter(|c| !c.end_reported.load(Ordering::Relaxed)),
        );

        let mut chunk = IntervalChunk {
            seq: self.seq,
            start_ns: self.interval_start_ns.saturating_sub(self.start_ns),
            end_ns: now_ns.saturating_sub(self.start_ns),
            coalesced: self.coalesced,
            ..IntervalChunk::default()
        };
        let mut baselines = Vec::new();
        let mut ended = Vec::new();
        let mut operator_bases = Vec::new();
        let channels: HashMap<u32, Arc<dyn ChannelProbe>> = live_channels()
            .into_iter()
            .map(|c| (c.info().id, c))
            .collect();
        let ready = |site: WaitSite| {
            channels
                .get(&site.channel)
                .and_then(|c| c.info().pending_ready_ns(site.role))
        };
        for cell in live.iter().chain(self.ended.iter()) {
            if let Some(operators) = cell.operators.get() {
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
                    operator_bases.push((
                        key,
                        OperatorBase {
                            busy_ns: op.busy_ns,
                            calls: op.calls,
                        },
                    ));
                }
            }
            let known = self.baselines.get(&cell.id).copied();
            if !known.is_some_and(|b| b.declared) {
                chunk.declared_subtasks.push(SubtaskDecl {
                    id: cell.id,
                    task: cell.task.to_string(),
                    index: cell.index,
                    parallelism: cell.parallelism,
                    tid: cell.tid,
                    registered_ns: cell.registered_ns.saturating_sub(self.start_ns),
                });
            }
            let base = known.unwrap_or(Baseline {
                at_ns: cell.registered_ns,
                times: cell.start,
                ..Baseline::default()
            });
            let reading = cell.read_thread();
            let at_ns = if reading.ended {
                reading.at_ns
            } else {
                reading.at_ns.min(now_ns.max(base.at_ns))
            };
            let totals = cell.account.totals_with(at_ns, ready);
            let (records_in, records_out) = cell.account.records();
            let (taken_idle, taken_bp) = cell.account.take_max_stalls();
            let max_idle = taken_idle
                .max(base.max_idle_stall_ns)
                .max(totals.ongoing_idle_ns);
            let max_bp = taken_bp
                .max(base.max_backpressured_stall_ns)
                .max(totals.ongoing_backpressured_ns);
            chunk.subtasks.push(SubtaskInterval {
                id: cell.id,
                wall_ns: at_ns.saturating_sub(base.at_ns),
                idle_ns: totals.idle_ns.saturating_sub(base.idle_ns),
                backpressured_ns: totals
                    .backpressured_ns
                    .saturating_sub(base.backpressured_ns),
                cpu_ns: reading.times.cpu_ns.saturating_sub(base.times.cpu_ns),
                runqueue_ns: match (reading.times.runqueue_ns, base.times.runqueue_ns) {
                    (Some(now), Some(then)) => Some(now.saturating_sub(then)),
                    _ => None,
                },
                max_idle_stall_ns: max_idle,
                max_backpressure_stall_ns: max_bp,
                records_in: records_in.wrapping_sub(base.records_in),
                records_out: records_out.wrapping_sub(base.records_out),
                ended: reading.ended,
            });
            let sites = site_values(&totals);
            for (slot, site) in totals.sites.iter().enumerate() {
                let Some(site) = site else { break };
                let (wait_ns, waits) = (
                    sites[slot].0.saturating_sub(base.sites[slot].0),
                    sites[slot].1.saturating_sub(base.sites[slot].1),
                );
                if wait_ns > 0 || waits > 0 {
                    chunk.waits.push(ChannelWait {
                        subtask: cell.id,
                        channel: site.site.channel,
                        role: site.site.role,
                        wait_ns,
                        waits,
                    });
                }
            }
            // A wait in progress at the last chunk was reported as idle (or backpressured) up to
            // then; if it turned out that part of that was wake-up latency, the total went back
            // down. That part was reported already: it is not reported again as wake-up latency.
            let reported_early = base.idle_ns.saturating_sub(totals.idle_ns)
                + base
                    .backpressured_ns
                    .saturating_sub(totals.backpressured_ns);
            let blocking = SubtaskBlocking {
                id: cell.id,
                wake_ns: totals
                    .wake_ns
                    .saturating_sub(base.wake_ns)
                    .saturating_sub(reported_early),
                // An estimate (one channel wait in 16 is measured and scaled up), so it is kept
                // within the CPU the thread used in the interval.
                blocked_cpu_ns: totals
                    .blocked_cpu_ns
                    .saturating_sub(base.blocked_cpu_ns)
                    .min(reading.times.cpu_ns.saturating_sub(base.times.cpu_ns)),
            };
            if blocking.wake_ns > 0 || blocking.blocked_cpu_ns > 0 {
                chunk.blocking.push(blocking);
            }
            let (polls, polled_ns, ongoing_ns) = cell.account.polls(at_ns);
            // Cumulative, never below what was reported (a poll that ended between the reads).
            let polled_ns = polled_ns.max(base.polled_ns);
            let max_poll_ns = cell
                .account
                .take_max_poll()
                .max(base.max_poll_ns)
                .max(ongoing_ns);
            if polls != base.polls || polled_ns != base.polled_ns {
                chunk.polls.push(SubtaskPolls {
                    id: cell.id,
                    polls: polls.wrapping_sub(base.polls),
                    polled_ns: polled_ns.wrapping_sub(base.polled_ns),
                    max_poll_ns,
                });
            }
            if reading.ended {
                ended.push(Arc::clone(cell));
            }
            baselines.push((
                cell.id,
                Baseline {
                    at_ns,
                    idle_ns: totals.idle_ns,
                    backpressured_ns: totals.backpressured_ns,
                    times: reading.times,
                    records_in,
                    records_out,
                    wake_ns: totals.wake_ns,
                    blocked_cpu_ns: totals.blocked_cpu_ns,
                    sites,
                    // Kept only if this chunk is dropped; cleared on commit.
                    max_idle_stall_ns: max_idle,
                    max_backpressured_stall_ns: max_bp,
                    polls,
                    polled_ns,
                    max_poll_ns,
                    declared: true,
                },
            ));
        }

        let mut channel_bases = Vec::new();
        let mut endpoint_cursors = Vec::new();
        let mut dead_channels = Vec::new();
        let mut saw_full = Vec::new();
        for channel in live_channels() {
            let info = channel.info();
            // The registry's `Arc` and this one: no handle of the channel is left.
            if Arc::strong_count(&channel) <= 2 {
                dead_channels.push(info.id);
            }
            if !self.declared_channels.contains(&info.id) {
                chunk.declared_channels.push(ChannelDecl {
                    id: info.id,
                    name: info.name.clone(),
                    capacity: info.capacity as u64,
                });
                if info.is_link {
                    chunk.declared_links.push(info.id);
                }
            }
            let cursor = self.endpoint_cursors.get(&info.id).copied().unwrap_or(0);
            let endpoints = info.endpoints.lock().unwrap_or_else(|p| p.into_inner());
            if endpoints.len() > cursor {
                chunk
                    .endpoints
                    .extend(endpoints[cursor..].iter().map(|(_, e)| e.clone()));
                endpoint_cursors.push((info.id, endpoints.len()));
            }
            drop(endpoints);
            let stats = self.fills.get(&info.id).copied().unwrap_or_default();
            let blocked_sends = info.blocked_sends.load(Ordering::Relaxed);
            let blocked_recvs = info.blocked_recvs.load(Ordering::Relaxed);
            let mut max_fill = stats.max;
            // Taken, not read: a sender that finds the queue full after this belongs to the next
            // chunk (a dropped chunk gives it back, see `discard`).
            if info.saw_full.swap(false, Ordering::Relaxed) {
                max_fill = info.capacity as u64;
                saw_full.push(Arc::clone(&channel));
            }
            chunk.channels.push(ChannelInterval {
                id: info.id,
                fill_samples: stats.samples,
                fill_sum: stats.sum,
                max_fill,
                blocked_sends: blocked_sends.saturating_sub(stats.blocked_sends_base),
                blocked_recvs: blocked_recvs.saturating_sub(stats.blocked_recvs_base),
            });
            if stats.empty > 0 || stats.full > 0 {
                chunk.fills.push(ChannelFill {
                    id: info.id,
                    empty_samples: stats.empty,
                    full_samples: stats.full,
                });
            }
            channel_bases.push((info.id, blocked_sends, blocked_recvs));
        }

        let declared_tasks: Vec<TaskDecl> = tasks
            .into_iter()
            .filter(|t| !self.declared_tasks.contains(t))
            .collect();
        let declared_edges: Vec<EdgeDecl> = edges
            .into_iter()
            .filter(|e| !self.declared_edges.contains(e))
            .collect();
        chunk.warnings = self.unwritten_warnings.clone();
        chunk.declared_tasks = declared_tasks.clone();
        chunk.declared_edges = declared_edges.clone();

        Pending {
            chunk,
            baselines,
            ended,
            channel_bases,
            declared_tasks,
            declared_edges,
            endpoint_cursors,
            dead_channels,
            operator_bases,
            saw_full,
        }
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
