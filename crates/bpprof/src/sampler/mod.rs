//! The sampler thread. On-CPU samples come from the kernel: every subtask thread gets a timer on
//! its own CPU clock that signals it each sampling period of CPU time it uses (see `timer`), so
//! the thread is interrupted only while it runs, never in a blocking call, and the sampler wakes
//! no thread. The sampler thread wakes every [`BASE_VISIT_NS`] while some subtask is busy (earlier
//! when a handler finds its buffer half full), and ever more rarely (down to once every
//! [`IDLE_VISIT_NS`]) while none is, whatever the number of subtasks, to start timers for new
//! subtasks, collect what the handlers captured, and count the wall-clock samples of the time
//! subtasks spent off CPU: a blocked subtask's from the stack it blocked with, a busy one's that
//! did not run from its last on-CPU stack. Each such sample stands for the wall time since the
//! previous visit at the configured rate. The recorder visits too when it takes the samples at
//! the end of an interval, so that the interval's samples end where its accounting does. A
//! subtask blocked in one wait costs a few loads per visit: its stack is read once per wait and
//! its samples are added to one pending count, handed over when the recorder takes the samples.

mod symbolize;

pub(crate) use symbolize::Symbolizer;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use bpprof_format::RuntimeWarning;

use crate::account::{State, WaitSite};
use crate::cell::SubtaskCell;
use crate::probe::ChannelProbe;
use crate::registry;
use crate::sampling::{
    self, handler_is_ours, thread_blocks, tokens, wake, CpuTimer, RawSample, MAX_DEPTH,
};

/// Distinct (subtask, state, on-CPU, stack) keys kept per interval; samples beyond are lost and
/// counted, so memory stays bounded whatever the program does.
pub(crate) const MAX_DISTINCT_SAMPLES: usize = 100_000;

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
    /// On-CPU samples of threads that poll async subtasks taken between polls: the runtime's
    /// own work (scheduling, I/O and timer drivers), no subtask's.
    pub between_polls: u64,
}

impl RawSamples {
    /// Counts `weight` samples of `key`; beyond [`MAX_DISTINCT_SAMPLES`] distinct keys, a new key
    /// is counted as lost.
    fn add(&mut self, key: SampleKey, weight: u32) {
        if weight == 0 {
            return;
        }
        if let Some(count) = self.counts.get_mut(&key) {
            *count = count.saturating_add(weight);
        } else if self.counts.len() < MAX_DISTINCT_SAMPLES {
            self.counts.insert(key, weight);
        } else {
            self.lost += u64::from(weight);
        }
    }

    /// Adds everything in `other` (a visit's batch, or a chunk that could not be written and is
    /// merged into the next one), within the same bound.
    pub fn merge(&mut self, other: RawSamples) {
        self.lost += other.lost;
        self.between_polls += other.between_polls;
        for (key, count) in other.counts {
            self.add(key, count);
        }
    }
}

/// A running sampler thread.
#[derive(Debug)]
pub(crate) struct Sampler {
    stop: Arc<AtomicBool>,
    shared: Arc<Mutex<Shared>>,
    thread: Option<JoinHandle<()>>,
}

/// What the sampler thread and the recorder share: the samples aggregated since the recorder
/// last took them, and the subtasks the sampler follows, whose off-CPU samples not yet handed
/// over are added when the recorder takes the samples.
struct Shared {
    samples: RawSamples,
    tracked: Vec<Tracked>,
    hz: u32,
    signal: i32,
    period_ns: u64,
    /// The registry generation the tracked subtasks and `channels` were read at.
    generation: Option<u64>,
    /// Weak, so that a channel no sender or receiver holds any more is seen dead by the
    /// recorder (which forgets it once its last interval is written).
    channels: HashMap<u32, Weak<dyn ChannelProbe>>,
    /// Set once the handler was found replaced: no timer is started any more.
    disabled: bool,
}

impl Sampler {
    /// Starts sampling every registered subtask `hz` times per second of its time with `signal`.
    pub fn start(hz: u32, signal: i32) -> std::io::Result<Sampler> {
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Mutex::new(Shared::new(hz, signal)));
        let (thread_stop, thread_shared) = (Arc::clone(&stop), Arc::clone(&shared));
        PERIOD_NS.store(1_000_000_000 / u64::from(hz.max(1)), Ordering::Relaxed);
        SIGNAL.store(signal, Ordering::Relaxed);
        let thread = std::thread::Builder::new()
            .name("bpprof-sampler".into())
            .spawn(move || run(&thread_stop, &thread_shared))?;
        Ok(Sampler {
            stop,
            shared,
            thread: Some(thread),
        })
    }

    /// Takes the samples aggregated so far: the calling thread visits every subtask (without
    /// starting timers), so that their off-CPU samples are counted up to now and an interval's
    /// samples end where its accounting does. Waits at most for the visit in progress.
    pub fn take(&self) -> RawSamples {
        let mut shared = lock(&self.shared);
        shared.visit(false);
        let Shared {
            samples, tracked, ..
        } = &mut *shared;
        for t in tracked.iter_mut() {
            t.visit.hand_over(samples);
        }
        std::mem::take(samples)
    }

    /// Stops the thread (which deletes every timer).
    pub fn stop(&mut self) {
        SIGNAL.store(0, Ordering::Relaxed);
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

fn lock(shared: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

/// A list of subtasks, as copied from the registry.
type Cells = Vec<Arc<SubtaskCell>>;

/// A subtask the sampler follows, and what it remembers of it.
#[derive(Debug)]
struct Tracked {
    cell: Arc<SubtaskCell>,
    visit: Visit,
}

impl Tracked {
    /// A subtask is counted from its registration (its account starts at zero then).
    fn new(cell: Arc<SubtaskCell>) -> Tracked {
        let visit = Visit {
            at_ns: cell.registered_ns,
            cpu_ns: Some(cell.start.cpu_ns),
            ..Visit::default()
        };
        Tracked { cell, visit }
    }
}

/// An off-CPU sample counted but not yet handed over, with its weight so far.
type Pending = Option<(SampleKey, u32)>;

/// What the sampler remembers of one subtask between visits.
#[derive(Debug, Default)]
struct Visit {
    /// Wall clock at the previous visit, and the thread's CPU time at the last visit that read
    /// it (`None`: never read).
    at_ns: u64,
    cpu_ns: Option<u64>,
    /// The subtask's cumulative idle and backpressured time at the previous visit.
    idle_ns: u64,
    backpressured_ns: u64,
    blocked_cpu_ns: u64,
    wake_ns: u64,
    /// Busy time and CPU inside waits since `cpu_ns` was read.
    busy_unread: u64,
    blocked_cpu_unread: u64,
    lost_seen: u64,
    /// Whether the sampler tried to start the subtask's timer (it tries once).
    timer_tried: bool,
    /// Wall-clock samples owed but not yet counted, per state (fractions carry over).
    owed: [f64; 3],
    /// The last stack the handler captured while the subtask was busy.
    last_busy: Option<(Box<[usize]>, Option<u32>)>,
    /// The stack the subtask last blocked with, as lookup addresses, and the version of the
    /// subtask's blocked stack it was read at: read again only when the subtask blocked anew.
    blocked: Option<(u64, Box<[usize]>)>,
    /// Per state, the off-CPU sample of the previous visits not yet handed over: a subtask
    /// blocked in one wait for many visits adds to one count, which is handed over when its key
    /// changes or the recorder takes the samples (no hashing or allocation per visit).
    pending: [Pending; 3],
}

impl Visit {
    /// Hands every pending off-CPU sample over to `out`.
    fn hand_over(&mut self, out: &mut RawSamples) {
        for pending in &mut self.pending {
            if let Some((key, weight)) = pending.take() {
                out.add(key, weight);
            }
        }
    }
}

/// The sampler's period while some subtask is busy. A handler whose buffer is half full wakes
/// it earlier (see `sampling::wake`), so a buffer never fills between visits whatever the rate.
const BASE_VISIT_NS: u64 = 100_000_000;

/// The longest visit period, reached while no subtask is busy: an idle pipeline wakes the
/// sampler this rarely (the recorder's own visit at each interval counts idle time up to then).
const IDLE_VISIT_NS: u64 = 1_000_000_000;

/// The sampler thread: visits until `stop`, then stops every timer and collects what the
/// handlers wrote since the last visit.
fn run(stop: &AtomicBool, shared: &Mutex<Shared>) {
    let mut jitter = Jitter::new();
    let mut sleep_ns = BASE_VISIT_NS;
    while !stop.load(Ordering::Relaxed) {
        let busy = lock(shared).visit(true);
        // While nothing is busy, visits become rarer (a blocked subtask's samples are counted
        // exactly at any visit); anything busy brings the base period back at once.
        sleep_ns = if busy {
            BASE_VISIT_NS
        } else {
            (sleep_ns * 2).min(IDLE_VISIT_NS)
        };
        // Jittered so that visits do not alias with periodic work in the pipeline; cut short by
        // a handler whose buffer is half full.
        let sleep = (sleep_ns as f64 * jitter.next_factor()) as u64;
        wake::sleep(Duration::from_nanos(sleep));
    }
    let cells: Vec<Arc<SubtaskCell>> = registry::lock().live().to_vec();
    for cell in &cells {
        cell.sampling.stop_timer();
    }
    let mut shared = lock(shared);
    for t in &shared.tracked {
        t.cell.sampling.stop_timer();
    }
    shared.visit(false);
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("samples", &self.samples)
            .field("tracked", &self.tracked.len())
            .field("hz", &self.hz)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

impl Shared {
    fn new(hz: u32, signal: i32) -> Shared {
        Shared {
            samples: RawSamples::default(),
            tracked: Vec::new(),
            hz,
            signal,
            period_ns: 1_000_000_000 / u64::from(hz.max(1)),
            generation: None,
            channels: HashMap::new(),
            disabled: false,
        }
    }

    /// One visit of every subtask (starting the timers of new ones when `start_timers`); true
    /// when some subtask was busy since the previous visit.
    fn visit(&mut self, start_timers: bool) -> bool {
        let fresh = self.refresh();
        let Shared {
            samples,
            tracked,
            hz,
            signal,
            period_ns,
            channels,
            disabled,
            ..
        } = self;
        let ready = |site: WaitSite| {
            channels
                .get(&site.channel)
                .and_then(Weak::upgrade)
                .and_then(|c| c.info().pending_ready_ns(site.role))
        };
        if let Some((cells, ended)) = fresh {
            retrack(tracked, cells, ended, *hz, &ready, samples);
        }
        if !*disabled && !tracked.is_empty() && !handler_is_ours(*signal) {
            *disabled = true;
            disable(*signal, tracked);
        }
        let now = crate::clock::now_ns();
        let mut busy = false;
        for Tracked { cell, visit } in tracked.iter_mut() {
            if start_timers && !*disabled && !visit.timer_tried && cell.has_thread() {
                visit.timer_tried = true;
                start_timer(cell, *signal, *period_ns, |tid, signal| {
                    thread_blocks(tid, signal)
                });
            }
            busy |= drain(cell, visit, samples);
            if !cell.is_poller {
                busy |= count_off_cpu(cell, visit, now, None, *hz, &ready, samples);
            }
        }
        busy
    }

    /// The registry's subtasks and those that ended since the last call, and its channels into
    /// `self.channels`, when they changed since the last call (one atomic load when they did
    /// not).
    fn refresh(&mut self) -> Option<(Cells, Cells)> {
        if self.generation == Some(registry::generation()) {
            return None;
        }
        let mut registry = registry::lock();
        self.generation = Some(registry::generation());
        self.channels = registry
            .channels()
            .iter()
            .map(|c| (c.info().id, Arc::downgrade(c)))
            .collect();
        let ended = registry.take_unsampled_ends();
        let followed = registry.live().iter().chain(registry.pollers()).cloned();
        Some((followed.collect(), ended))
    }
}

/// Follows the subtasks `cells` from now on. Those that deregistered since are counted a last
/// time: what their handler captured, and their time from the previous visit (or, for one that
/// `ended` between two visits, from its registration) to their end.
fn retrack(
    tracked: &mut Vec<Tracked>,
    cells: Vec<Arc<SubtaskCell>>,
    ended: Vec<Arc<SubtaskCell>>,
    hz: u32,
    ready: &impl Fn(WaitSite) -> Option<u64>,
    out: &mut RawSamples,
) {
    let live: HashSet<u32> = cells.iter().map(|c| c.id).collect();
    let was_tracked: HashSet<u32> = tracked.iter().map(|t| t.cell.id).collect();
    let unseen = ended
        .into_iter()
        .filter(|c| !was_tracked.contains(&c.id) && !live.contains(&c.id))
        .map(Tracked::new);
    let mut kept: HashMap<u32, Tracked> = HashMap::new();
    for mut t in tracked.drain(..).chain(unseen) {
        if live.contains(&t.cell.id) {
            kept.insert(t.cell.id, t);
            continue;
        }
        drain(&t.cell, &mut t.visit, out);
        if t.cell.is_poller {
            continue;
        }
        let end = t.cell.read_thread();
        let cpu = Some(end.times.cpu_ns);
        count_off_cpu(&t.cell, &mut t.visit, end.at_ns, cpu, hz, ready, out);
        t.visit.hand_over(out);
    }
    tracked.extend(
        cells
            .into_iter()
            .map(|cell| kept.remove(&cell.id).unwrap_or_else(|| Tracked::new(cell))),
    );
}

/// The host replaced the sampling signal's handler: stop every timer for good, say so once.
fn disable(signal: i32, tracked: &[Tracked]) {
    SIGNAL.store(0, Ordering::Relaxed);
    for t in tracked {
        t.cell.sampling.stop_timer();
    }
    warn(format!(
        "the handler of the sampling signal {signal} was replaced (by the program or a library): on-CPU stack sampling stopped; choose another signal with BPPROF_SAMPLE_SIGNAL"
    ));
}

/// The signal and period of the running sampler (0: none), for registrations that start their
/// own timer.
static SIGNAL: AtomicI32 = AtomicI32::new(0);
static PERIOD_NS: AtomicU64 = AtomicU64::new(0);

/// Starts the CPU-time timer of `cell` (once: whoever claims it first, the registering thread or
/// the sampler), unless its thread blocks the signal (`blocks(tid, signal)`): then one warning and
/// no timer for this registration.
fn start_timer(
    cell: &SubtaskCell,
    signal: i32,
    period_ns: u64,
    blocks: impl FnOnce(u32, i32) -> bool,
) {
    let slot = &cell.sampling;
    if !slot.claim_timer() {
        return;
    }
    if blocks(cell.tid, signal) {
        slot.closed.store(true, Ordering::SeqCst);
        warn(format!(
            "{} blocks the sampling signal {signal}: it is not sampled on CPU (its blocked and off-CPU time still is); unblock the signal in that thread, or choose another with BPPROF_SAMPLE_SIGNAL",
            cell.name()
        ));
        return;
    }
    let Some(token) = tokens::claim(&cell.sampling.target) else {
        if !TABLE_FULL_WARNED.swap(true, Ordering::Relaxed) {
            warn(format!(
                "more than {} subtasks are registered at once: the ones beyond are not sampled on CPU",
                tokens::MAX_SAMPLED_THREADS
            ));
        }
        return;
    };
    // Created while the thread is known to be alive: a timer on the clock of a thread that has
    // exited would be on whichever new thread got its kernel id.
    let timer =
        cell.with_cpu_clock(|clock| CpuTimer::start(clock, cell.tid, signal, token, period_ns));
    match timer {
        Some(Ok(timer)) => slot.set_timer(token, timer),
        Some(Err(error)) => {
            tokens::release(token);
            warn(format!(
                "a CPU-time sampling timer could not be created ({error}): the subtasks concerned are sampled off CPU only (their accounting is complete); timer_create is refused by some seccomp filters and when RLIMIT_SIGPENDING is exhausted"
            ));
        }
        None => tokens::release(token), // the thread has ended: nothing to sample
    }
}

/// Warned once per process: the token table is full.
static TABLE_FULL_WARNED: AtomicBool = AtomicBool::new(false);

/// The registering thread starts its own timer when a sampler runs, so that it is sampled on CPU
/// from its first instant (a subtask registered before sampling started gets its timer from the
/// sampler's next visit).
pub(crate) fn on_registration(cell: &SubtaskCell) {
    let signal = SIGNAL.load(Ordering::Relaxed);
    if signal == 0 || !sampling::is_active() {
        return;
    }
    start_timer(
        cell,
        signal,
        PERIOD_NS.load(Ordering::Relaxed),
        |_, signal| own_thread_blocks(signal),
    );
}

/// Whether the calling thread blocks `signal`.
fn own_thread_blocks(signal: i32) -> bool {
    // SAFETY: `set` is a valid sigset to write into; a null new set only queries the mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut set) == 0
            && libc::sigismember(&set, signal) == 1
    }
}

/// Leaves `message` in the recording (and so in every command's output).
fn warn(message: String) {
    registry::lock().warn(RuntimeWarning {
        code: "sampling".to_owned(),
        message,
    });
}

/// Counts the wall-clock samples of the time `cell` spent off CPU since its previous visit, from
/// its accounting (so that samples and accounting agree): its idle and backpressured time from
/// the stack it last blocked with, and its busy time that its CPU clock did not cover (waiting
/// for a CPU, or blocked outside bpprof's view) from its last on-CPU stack. Its on-CPU time is
/// sampled by its timer. `ready` splits a wait in progress at its ready note, as the recorder
/// does. Returns whether the subtask was busy since the previous visit.
#[allow(clippy::too_many_arguments)] // one visit's inputs; grouping them would only rename them
fn count_off_cpu(
    cell: &SubtaskCell,
    visit: &mut Visit,
    now: u64,
    final_cpu_ns: Option<u64>,
    hz: u32,
    ready: &impl Fn(WaitSite) -> Option<u64>,
    out: &mut RawSamples,
) -> bool {
    let totals = cell.account.totals_with(now, ready);
    let wall = now.saturating_sub(visit.at_ns);
    let idle = totals.idle_ns.saturating_sub(visit.idle_ns);
    let backpressured = totals
        .backpressured_ns
        .saturating_sub(visit.backpressured_ns);
    let blocked_cpu = totals.blocked_cpu_ns.saturating_sub(visit.blocked_cpu_ns);
    let wake = totals.wake_ns.saturating_sub(visit.wake_ns);
    let busy = wall.saturating_sub(idle + backpressured);
    // Busy time not covered by CPU time, since the last reading of the thread's CPU clock. That
    // is a system call, made only for subtasks that were busy since: an idle subtask costs none
    // (the CPU it uses while blocked is its CPU inside waits, subtracted when it is read). An
    // async subtask has no clock: its on-CPU samples come from the threads that poll it, and its
    // busy time while not polled is not sampled.
    let busy_unread = visit.busy_unread + busy;
    let blocked_cpu_unread = visit.blocked_cpu_unread + blocked_cpu;
    let mut busy_off_cpu = 0;
    let mut cpu_read = None;
    if busy_unread > 0 && cell.has_thread() {
        // A subtask that ended is read at its end. One that ended since the list was taken is
        // left as it was at the previous visit: `now` is past its end, and its time up to the
        // end is counted from there when the next visit finds it ended.
        let Some(cpu) = final_cpu_ns.or_else(|| cell.cpu_ns()) else {
            return true;
        };
        if let Some(before) = visit.cpu_ns {
            let busy_cpu = cpu
                .saturating_sub(before)
                .saturating_sub(blocked_cpu_unread);
            busy_off_cpu = busy_unread.saturating_sub(busy_cpu);
        }
        cpu_read = Some(cpu);
    }
    visit.wake_ns = totals.wake_ns;
    visit.at_ns = now;
    visit.idle_ns = totals.idle_ns;
    visit.backpressured_ns = totals.backpressured_ns;
    visit.blocked_cpu_ns = totals.blocked_cpu_ns;
    match cpu_read {
        Some(cpu) => {
            visit.cpu_ns = Some(cpu);
            visit.busy_unread = 0;
            visit.blocked_cpu_unread = 0;
        }
        None => {
            visit.busy_unread = busy_unread;
            visit.blocked_cpu_unread = blocked_cpu_unread;
        }
    }
    let per_ns = f64::from(hz) / 1e9;
    let operator = cell.current_operator().load();
    for (state, ns) in [
        (State::Idle, idle),
        (State::Backpressured, backpressured),
        (State::Busy, busy_off_cpu),
    ] {
        let owed = &mut visit.owed[state as usize];
        *owed += ns as f64 * per_ns;
        let whole = owed.floor();
        *owed -= whole;
        let weight = whole as u32;
        if weight == 0 {
            continue;
        }
        // Busy time off CPU that is mostly wake-up latency was spent returning from a wait: the
        // stack it blocked with shows where; other busy time off CPU (a sleep, a lock outside
        // bpprof's view, a preemption) is shown at the last on-CPU stack, with the operator of
        // that sample (the one running now may differ).
        let at_blocked_stack = state != State::Busy || wake * 2 >= ns || visit.last_busy.is_none();
        let (addrs, operator) = match &visit.last_busy {
            Some((addrs, op)) if !at_blocked_stack => (Some(&**addrs), *op),
            _ => (blocked_stack(&mut visit.blocked, cell), operator),
        };
        match addrs.filter(|a| !a.is_empty()) {
            Some(addrs) => {
                let pending = &mut visit.pending[state as usize];
                add_pending(pending, cell.id, state, operator, addrs, weight, out);
            }
            None => out.lost += u64::from(weight),
        }
    }
    busy > 0
}

/// The stack `cell` last blocked with, as lookup addresses (return addresses minus one, which
/// point into the call instruction), from `cache` while the subtask did not block anew.
fn blocked_stack<'c>(
    cache: &'c mut Option<(u64, Box<[usize]>)>,
    cell: &SubtaskCell,
) -> Option<&'c [usize]> {
    let stack = &cell.sampling.blocked;
    let current = matches!(cache, Some((version, _)) if *version == stack.version());
    if !current {
        let mut addrs = [0usize; MAX_DEPTH];
        let (version, depth) = stack.load(&mut addrs)?;
        let lookup = addrs[..depth].iter().map(|a| a.saturating_sub(1)).collect();
        *cache = Some((version, lookup));
    }
    cache.as_ref().map(|(_, addrs)| &**addrs)
}

/// Counts `weight` off-CPU samples of (`subtask`, `state`, `operator`, `addrs`): added to
/// `pending` when it holds the same sample; otherwise `pending` is handed over to `out` and
/// replaced.
fn add_pending(
    pending: &mut Pending,
    subtask: u32,
    state: State,
    operator: Option<u32>,
    addrs: &[usize],
    weight: u32,
    out: &mut RawSamples,
) {
    if let Some((key, count)) = pending {
        if key.operator == operator && *key.addrs == *addrs {
            *count = count.saturating_add(weight);
            return;
        }
    }
    if let Some((key, count)) = pending.take() {
        out.add(key, count);
    }
    let key = SampleKey {
        subtask,
        state,
        on_cpu: false,
        addrs: addrs.into(),
        operator,
    };
    *pending = Some((key, weight));
}

/// Moves the samples the handler captured for `cell` into `out`: a subtask thread's are its
/// own, a poller's belong to the async subtask it was polling (or to none, between polls).
/// Returns whether there were any.
fn drain(cell: &SubtaskCell, visit: &mut Visit, out: &mut RawSamples) -> bool {
    let ring = &cell.sampling.target.ring;
    // The last busy sample of this drain (a copy, no allocation): the last on-CPU stack.
    let mut last_busy: Option<RawSample> = None;
    let mut any = false;
    ring.drain(|sample: &RawSample| {
        any = true;
        let subtask = match cell.is_poller {
            false => cell.id,
            true if sample.subtask == sampling::NOT_POLLING => {
                out.between_polls += u64::from(sample.weight);
                return;
            }
            true => sample.subtask,
        };
        let Some(addrs) = lookup_addrs(sample) else {
            out.lost += u64::from(sample.weight);
            return;
        };
        let state = match sample.state {
            1 => State::Idle,
            2 => State::Backpressured,
            _ => State::Busy,
        };
        if state == State::Busy {
            last_busy = Some(*sample);
        }
        let key = SampleKey {
            subtask,
            state,
            on_cpu: true,
            addrs,
            operator: operator_of(sample),
        };
        out.add(key, sample.weight);
    });
    if let Some(sample) = last_busy {
        visit.last_busy = lookup_addrs(&sample).map(|addrs| (addrs, operator_of(&sample)));
    }
    let lost = ring.lost.load(Ordering::Relaxed);
    out.lost += lost.saturating_sub(visit.lost_seen);
    visit.lost_seen = lost;
    any
}

/// A sample's lookup addresses: the exact interrupted address, then return addresses minus one
/// (which point into the call instruction); `None` for an empty stack.
fn lookup_addrs(sample: &RawSample) -> Option<Box<[usize]>> {
    let depth = (sample.depth as usize).min(MAX_DEPTH);
    (depth > 0).then(|| {
        sample.addrs[..depth]
            .iter()
            .enumerate()
            .map(|(i, &a)| if i == 0 { a } else { a.saturating_sub(1) })
            .collect()
    })
}

/// The operator a sample's subtask was running, if any.
fn operator_of(sample: &RawSample) -> Option<u32> {
    (sample.operator != crate::operator_table::NO_OPERATOR).then_some(sample.operator)
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
