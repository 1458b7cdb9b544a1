//! The sampler thread: visits every registered subtask at the configured rate (with jitter),
//! signals busy threads that used CPU, counts blocked threads from the stack they blocked with,
//! and aggregates samples until the recorder takes them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::ring::RawSample;
use super::signal::queue_to_thread;
use super::stack::MAX_DEPTH;
use crate::account::State;
use crate::registry;
use crate::subtask::SubtaskCell;

/// Distinct (subtask, state, on-CPU, stack) keys kept per interval; samples beyond are lost and
/// counted, so memory stays bounded whatever the program does.
pub(crate) const MAX_DISTINCT_SAMPLES: usize = 100_000;

/// Shortest sleep worth taking between rounds; shorter waits accumulate into the next one.
const MIN_SLEEP_NS: u64 = 50_000;

/// A sample key: subtask id, state, on CPU, and lookup addresses innermost first (the exact
/// interrupted address, then return addresses minus one, which point into the call instruction).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct SampleKey {
    pub subtask: u32,
    pub state: State,
    pub on_cpu: bool,
    pub addrs: Box<[usize]>,
    /// The operator the subtask was running (per-subtask operator id), if any.
    pub operator: Option<u32>,
}

/// Samples aggregated since the recorder last took them.
#[derive(Debug, Default)]
pub(crate) struct RawSamples {
    pub counts: HashMap<SampleKey, u32>,
    pub lost: u64,
}

impl RawSamples {
    fn add(&mut self, key: SampleKey) {
        if let Some(count) = self.counts.get_mut(&key) {
            *count = count.saturating_add(1);
        } else if self.counts.len() < MAX_DISTINCT_SAMPLES {
            self.counts.insert(key, 1);
        } else {
            self.lost += 1;
        }
    }

    /// Adds everything in `other` (used when a chunk could not be written and is merged into the
    /// next one).
    pub fn merge(&mut self, other: RawSamples) {
        self.lost += other.lost;
        for (key, count) in other.counts {
            *self.counts.entry(key).or_insert(0) += count;
        }
    }
}

/// A running sampler thread.
#[derive(Debug)]
pub(crate) struct Sampler {
    stop: Arc<AtomicBool>,
    samples: Arc<Mutex<RawSamples>>,
    thread: Option<JoinHandle<()>>,
}

impl Sampler {
    /// Starts sampling every registered subtask `hz` times a second with `signal`.
    pub fn start(hz: u32, signal: i32) -> std::io::Result<Sampler> {
        let stop = Arc::new(AtomicBool::new(false));
        let samples = Arc::new(Mutex::new(RawSamples::default()));
        let (thread_stop, thread_samples) = (Arc::clone(&stop), Arc::clone(&samples));
        let thread = std::thread::Builder::new()
            .name("bpprof-sampler".into())
            .spawn(move || sample_loop(hz, signal, &thread_stop, &thread_samples))?;
        Ok(Sampler {
            stop,
            samples,
            thread: Some(thread),
        })
    }

    /// Takes the samples aggregated so far.
    pub fn take(&self) -> RawSamples {
        std::mem::take(&mut *self.samples.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Stops the thread.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What the sampler remembers of one subtask between visits.
#[derive(Debug, Default)]
struct Visit {
    cpu_ns: u64,
    lost_seen: u64,
    /// The last stack the handler captured while the subtask was busy.
    last_busy: Option<Box<[usize]>>,
}

fn sample_loop(hz: u32, signal: i32, stop: &AtomicBool, samples: &Mutex<RawSamples>) {
    let period_ns = 1_000_000_000 / u64::from(hz.max(1));
    let mut visits: HashMap<u32, Visit> = HashMap::new();
    let mut rng = Jitter::new();
    // The subtasks visited in the previous pass: those that have deregistered since are drained
    // one last time, so that a sample their handler wrote after the last visit is not dropped
    // (deregistration waits for the handler, so nothing is written after this drain).
    let mut previous: Vec<Arc<SubtaskCell>> = Vec::new();
    // When the next visit is due. Visits are paced against this deadline rather than by sleeping
    // a fixed gap after each, so the time a visit and the sleep's own overshoot take does not
    // lower the rate.
    let mut due_ns = crate::clock::now_ns();
    while !stop.load(Ordering::Relaxed) {
        let cells: Vec<Arc<SubtaskCell>> = registry::lock().live.clone();
        drain_departed(&previous, &cells, &mut visits, samples);
        visits.retain(|id, _| cells.iter().any(|c| c.id == *id));
        if cells.is_empty() {
            previous.clear();
            std::thread::sleep(Duration::from_nanos(period_ns));
            due_ns = crate::clock::now_ns();
            continue;
        }
        // One wake-up per period visits every subtask (waking once per subtask would cost a
        // context switch each, which dominates at high rates); the period is jittered so the rate
        // does not alias with periodic work in the pipeline.
        for cell in &cells {
            let visit = visits.entry(cell.id).or_default();
            let mut batch = RawSamples::default();
            visit_subtask(cell, visit, signal, &mut batch);
            samples
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .merge(batch);
            if stop.load(Ordering::Relaxed) {
                break;
            }
        }
        due_ns += (period_ns as f64 * rng.next_factor()) as u64;
        let now = crate::clock::now_ns();
        if due_ns > now + MIN_SLEEP_NS {
            std::thread::sleep(Duration::from_nanos(due_ns - now));
        } else if now > due_ns + period_ns {
            // Far behind (the sampler was not scheduled): skip the missed rounds instead of
            // catching up in a burst.
            due_ns = now;
        }
        previous = cells;
    }
    // Collect what the handlers wrote since the last visit.
    let cells: Vec<Arc<SubtaskCell>> = registry::lock().live.clone();
    drain_departed(&previous, &cells, &mut visits, samples);
    let mut batch = RawSamples::default();
    for cell in &cells {
        let visit = visits.entry(cell.id).or_default();
        drain(cell, visit, &mut batch);
    }
    samples
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .merge(batch);
}

/// Drains, one last time, the subtasks of `previous` that are no longer in `live`.
fn drain_departed(
    previous: &[Arc<SubtaskCell>],
    live: &[Arc<SubtaskCell>],
    visits: &mut HashMap<u32, Visit>,
    samples: &Mutex<RawSamples>,
) {
    let mut batch = RawSamples::default();
    for cell in previous {
        if live.iter().any(|c| c.id == cell.id) {
            continue;
        }
        if let Some(visit) = visits.get_mut(&cell.id) {
            drain(cell, visit, &mut batch);
        }
    }
    if batch.lost > 0 || !batch.counts.is_empty() {
        samples
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .merge(batch);
    }
}

/// Collects the subtask's captured samples, then takes this visit's sample.
fn visit_subtask(cell: &Arc<SubtaskCell>, visit: &mut Visit, signal: i32, out: &mut RawSamples) {
    drain(cell, visit, out);
    let slot = &cell.sampling;
    let state = cell.account.state();
    if state != State::Busy {
        // Blocked in an instrumented channel or scope: the stack it blocked with stands for the
        // whole blocked period; no signal needed.
        let mut addrs = [0usize; MAX_DEPTH];
        let depth = slot.blocked.load(&mut addrs);
        if depth == 0 {
            out.lost += 1;
            return;
        }
        out.add(SampleKey {
            subtask: cell.id,
            state,
            on_cpu: false,
            addrs: addrs[..depth].iter().map(|a| a.saturating_sub(1)).collect(),
            operator: cell.current_operator.load(),
        });
        return;
    }
    let Some(cpu_ns) = cell.cpu_ns() else {
        return; // deregistered since the list was taken
    };
    let on_cpu = cpu_ns > visit.cpu_ns;
    visit.cpu_ns = cpu_ns;
    if let (false, Some(last)) = (on_cpu, &visit.last_busy) {
        // Busy but did not run since the last sample (blocked outside bpprof's view): it is still
        // where it was; count that stack instead of waking the thread.
        out.add(SampleKey {
            subtask: cell.id,
            state,
            on_cpu: false,
            addrs: last.clone(),
            operator: cell.current_operator.load(),
        });
        return;
    }
    // Bound signals in flight to one per thread: real-time signals queue.
    if slot.in_flight.load(Ordering::SeqCst) > 0 {
        out.lost += 1;
        return;
    }
    slot.on_cpu_hint.store(on_cpu as u8, Ordering::Relaxed);
    // Announce the signal before checking `closed`; deregistration sets `closed` before waiting
    // for `in_flight` to drop to zero, so one of the two always sees the other.
    slot.in_flight.fetch_add(1, Ordering::SeqCst);
    if slot.closed.load(Ordering::SeqCst) {
        slot.in_flight.fetch_sub(1, Ordering::SeqCst);
        return;
    }
    if !queue_to_thread(signal, cell.tid, Arc::as_ptr(cell).cast()) {
        slot.in_flight.fetch_sub(1, Ordering::SeqCst);
        out.lost += 1;
    }
}

/// Moves the samples the handler captured for `cell` into `out`.
fn drain(cell: &SubtaskCell, visit: &mut Visit, out: &mut RawSamples) {
    let slot = &cell.sampling;
    slot.drain(|sample: &RawSample| {
        let depth = (sample.depth as usize).min(MAX_DEPTH);
        if depth == 0 {
            out.lost += 1;
            return;
        }
        let addrs: Box<[usize]> = sample.addrs[..depth]
            .iter()
            .enumerate()
            .map(|(i, &a)| if i == 0 { a } else { a.saturating_sub(1) })
            .collect();
        let state = match sample.state {
            1 => State::Idle,
            2 => State::Backpressured,
            _ => State::Busy,
        };
        if state == State::Busy {
            visit.last_busy = Some(addrs.clone());
        }
        out.add(SampleKey {
            subtask: cell.id,
            state,
            on_cpu: sample.on_cpu,
            addrs,
            operator: (sample.operator != crate::operator::NO_OPERATOR).then_some(sample.operator),
        });
    });
    let lost = slot.lost.load(Ordering::Relaxed);
    out.lost += lost.saturating_sub(visit.lost_seen);
    visit.lost_seen = lost;
}

/// A small xorshift generator for jitter factors in [0.5, 1.5).
struct Jitter(u64);

impl Jitter {
    fn new() -> Self {
        Jitter(crate::clock::now_ns() | 1)
    }

    fn next_factor(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        0.5 + (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}
