//! Registering a thread as a subtask, and the per-thread state that instrumented channels and
//! scopes update.

use std::cell::{Cell, RefCell};
use std::marker::PhantomData;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bpprof_format::{EndpointRole, RuntimeWarning};

use crate::account::{Account, State, WaitEnd, WaitSite};
use crate::cell::{SubtaskCell, ThreadTimes};
use crate::clock;
use crate::operator_table::OwnerOperators;
use crate::registry::{self, RegisterError};
use crate::sampler;
use crate::sampling::{self, capture_blocked_stack};

/// The registration of the calling thread.
struct Current {
    cell: Arc<SubtaskCell>,
    /// Nesting depth of blocking scopes; only the outermost one is accounted.
    depth: u32,
    /// Channels this registration has used, so that each endpoint is reported once.
    endpoints: Vec<(u32, EndpointRole)>,
    /// Open operator scopes and interned operator names.
    operators: OwnerOperators,
    /// Blocking waits entered so far (every [`CPU_MEASURE_EVERY`]th has its CPU measured).
    waits_seen: u64,
}

impl Current {
    /// The registration of `cell`, before any scope or channel is used.
    fn new(cell: Arc<SubtaskCell>) -> Current {
        Current {
            cell,
            depth: 0,
            endpoints: Vec::new(),
            operators: OwnerOperators::default(),
            waits_seen: 0,
        }
    }
}

/// A thread that exits while registered (its guard forgotten, or leaked in a thread-local of its
/// own) is deregistered by the thread-local's destructor: its subtask ends with the thread, its
/// timer is deleted, and its kernel thread id, which the kernel may give to a new thread, is no
/// longer read. Deregistration is idempotent, so a guard dropped before does no harm here.
impl Drop for Current {
    fn drop(&mut self) {
        deregister(&self.cell);
    }
}

thread_local! {
    /// The thread's own registration (as a thread, by [`register`]). Its destructor
    /// deregisters a thread that exits registered.
    static CURRENT: RefCell<Option<Box<Current>>> = const { RefCell::new(None) };
    /// The cell of `CURRENT`'s registration (null when the thread is not registered), kept in a
    /// thread-local without destructor so that the end of a poll can restore [`FAST_CELL`]
    /// without touching `CURRENT`.
    static THREAD_CELL: Cell<*const SubtaskCell> = const { Cell::new(std::ptr::null()) };
    /// The cell the thread's records count to: the polled async subtask's during a poll, else
    /// `THREAD_CELL`'s. A plain pointer in a thread-local without destructor, so reading it
    /// costs no state check and no borrow. Cleared before the owner of the cell drops it.
    static FAST_CELL: Cell<*const SubtaskCell> = const { Cell::new(std::ptr::null()) };
}

#[cfg(feature = "tokio")]
thread_local! {
    /// The registration of the async subtask being polled on this thread (null between polls),
    /// which [`with_current`] uses before `CURRENT`; [`BORROWED`] while `with_current` runs on
    /// it. Without destructor, so a poll sets and restores it with two plain stores.
    static POLLED: Cell<*mut Current> = const { Cell::new(std::ptr::null_mut()) };
}

/// `POLLED` while [`with_current`] lends the polled registration out: a nested call finds no
/// registration instead of a second mutable reference. Never a real registration's address
/// (those are heap addresses, far above the alignment of `Current`).
#[cfg(feature = "tokio")]
const BORROWED: *mut Current = std::ptr::NonNull::<Current>::dangling().as_ptr();

/// Sets the cell records count to when the thread registers or deregisters as a thread; a poll
/// in progress keeps its own, and restores the new one when it ends.
fn set_thread_cell(cell: *const SubtaskCell) {
    THREAD_CELL.set(cell);
    #[cfg(feature = "tokio")]
    if !POLLED.get().is_null() {
        return;
    }
    FAST_CELL.set(cell);
}

/// Proof that the calling thread is registered as a subtask; dropping it deregisters the thread.
///
/// The guard cannot be sent to another thread: it belongs to the thread it registered.
#[must_use = "the thread is deregistered as soon as the guard is dropped"]
#[derive(Debug)]
pub struct SubtaskGuard {
    cell: Arc<SubtaskCell>,
    _not_send: PhantomData<*const ()>,
}

impl SubtaskGuard {
    /// The subtask's name, `TASK#INDEX`.
    pub fn name(&self) -> String {
        self.cell.name()
    }

    /// The kernel thread id of the registered thread.
    pub fn tid(&self) -> u32 {
        self.cell.tid
    }
}

/// Registers the calling thread as subtask `index` (0-based) of `task`, which has `parallelism`
/// subtasks, and returns a guard that deregisters it when dropped.
///
/// From now until the guard drops, the thread's wall time is accounted as busy, idle (blocked in
/// [`Receiver::recv`](crate::Receiver::recv) or an [`idle`] scope) or backpressured
/// (blocked in [`Sender::send`](crate::Sender::send) or a [`backpressured`]
/// scope). A thread of a pool may register again after dropping its guard, as another subtask. If
/// the thread is still registered, the earlier registration ends here.
///
/// An inconsistent registration (see [`try_register`]) still registers, so no data is lost,
/// and leaves one warning naming the call in the recording, which every `bpprof` command
/// prints. An empty task name is registered as `(unnamed)`, an index not below the parallelism
/// raises the parallelism to index + 1.
///
/// ```
/// let worker = std::thread::spawn(|| {
///     let _subtask = bpprof::register("Enrich", 0, 1);
///     // ... the subtask's loop ...
/// });
/// worker.join().unwrap();
/// ```
pub fn register(task: &str, index: u32, parallelism: u32) -> SubtaskGuard {
    register_checked(task, index, parallelism, Check::Warn)
        .unwrap_or_else(|_| unreachable!("a registration that warns never fails"))
}

/// Like [`register`], but an inconsistent registration (an empty task name, a parallelism of 0,
/// an index not below the parallelism, a parallelism other than the task's earlier one)
/// returns the error instead of registering with a warning.
///
/// ```
/// let err = bpprof::try_register("Enrich", 4, 4).unwrap_err();
/// assert!(err.to_string().contains("index 4 is not below the parallelism 4"));
/// ```
pub fn try_register(
    task: &str,
    index: u32,
    parallelism: u32,
) -> Result<SubtaskGuard, RegisterError> {
    register_checked(task, index, parallelism, Check::Refuse)
}

/// What an inconsistent registration does.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Check {
    /// Registers anyway (under a name and parallelism that keep the data readable) and leaves a
    /// warning in the recording.
    Warn,
    /// Returns the error.
    Refuse,
}

/// The task name an empty one is registered under.
const UNNAMED_TASK: &str = "(unnamed)";

/// The task name and parallelism a registration is recorded under, whatever was passed: an
/// empty name becomes [`UNNAMED_TASK`], a parallelism not above the index is raised to index + 1.
fn recorded_identity(task: &str, index: u32, parallelism: u32) -> (Arc<str>, u32) {
    let task = if task.is_empty() { UNNAMED_TASK } else { task };
    (Arc::from(task), parallelism.max(index.saturating_add(1)))
}

fn register_checked(
    task: &str,
    index: u32,
    parallelism: u32,
    check: Check,
) -> Result<SubtaskGuard, RegisterError> {
    // Checked before the thread's earlier registration ends, so that a refused call changes
    // nothing.
    let problem = registry::lock()
        .check_registration(task, index, parallelism)
        .err();
    if let Some(problem) = &problem {
        if check == Check::Refuse {
            return Err(problem.clone());
        }
    }
    // A thread that switches subtasks (a pool thread taking its next job) starts the new one
    // where the old one ended, so the switch itself is the new subtask's time, not lost.
    let previous_end = end_current_registration();
    let (registered_ns, start) = match previous_end {
        Some(end) => end,
        None => (clock::now_ns(), ThreadTimes::of_current_thread()),
    };
    let (task, parallelism) = recorded_identity(task, index, parallelism);
    // Everything that allocates or asks the kernel is done before the registry is locked.
    let cell = Arc::new(SubtaskCell::new(
        task,
        index,
        parallelism,
        registered_ns,
        start,
    ));
    add_live(&cell, problem);
    sampler::on_registration(&cell);
    let _ = CURRENT.try_with(|current| {
        *current.borrow_mut() = Some(Box::new(Current::new(Arc::clone(&cell))));
    });
    set_thread_cell(Arc::as_ptr(&cell));
    Ok(SubtaskGuard {
        cell,
        _not_send: PhantomData,
    })
}

impl Drop for SubtaskGuard {
    fn drop(&mut self) {
        if THREAD_CELL.get() == Arc::as_ptr(&self.cell) {
            set_thread_cell(std::ptr::null());
        }
        let _ = CURRENT.try_with(|current| {
            let mut current = current.borrow_mut();
            if current
                .as_ref()
                .is_some_and(|c| Arc::ptr_eq(&c.cell, &self.cell))
            {
                *current = None;
            }
        });
        deregister(&self.cell);
    }
}

/// Adds `cell` to the registry's live subtasks, with the warning of an inconsistent
/// registration.
fn add_live(cell: &Arc<SubtaskCell>, problem: Option<RegisterError>) {
    let mut registry = registry::lock();
    if let Some(problem) = problem {
        registry.warn(RuntimeWarning {
            code: "registration".to_owned(),
            message: problem.to_string(),
        });
    }
    registry.add_live(Arc::clone(cell));
}

/// Ends the calling thread's registration, if any, without a guard (used when it registers again).
/// Returns when it ended and the thread's times then.
fn end_current_registration() -> Option<(u64, ThreadTimes)> {
    set_thread_cell(std::ptr::null());
    let previous = CURRENT
        .try_with(|current| current.borrow_mut().take())
        .ok()
        .flatten()?;
    deregister(&previous.cell)
}

/// Ends `cell`'s registration; returns when it ended and its thread's times then (`None` when
/// it had ended already).
fn deregister(cell: &Arc<SubtaskCell>) -> Option<(u64, ThreadTimes)> {
    // No sampling signal can reach the cell after this: its token is out of the table (a signal
    // already on its way finds nothing) and its timer is deleted.
    cell.sampling.stop_timer();
    // Leave `live` before the end is recorded: the recorder takes a subtask's end from `retired`
    // and drops it from `live` once reported, so an ended subtask still in `live` (this thread
    // preempted between the two steps across two ticks) would be declared and ended twice.
    registry::lock().retire(cell.id);
    cell.end()
}

/// Counts one record through `channel` for the calling subtask, and reports the endpoint the
/// first time this registration uses that end of that channel (`publish` then runs with the
/// subtask's id and task). The per-record path: two thread-local reads, one counter store.
#[inline]
pub(crate) fn count_channel_record(
    channel: u32,
    role: EndpointRole,
    publish: impl FnOnce(u32, &Arc<str>),
) {
    let cell = FAST_CELL.get();
    if cell.is_null() {
        return;
    }
    // SAFETY: FAST_CELL points to the cell of this thread's live registration: it is set when
    // the thread registers and cleared (on this thread) before the guard, which owns the cell,
    // is dropped; a cell whose guard was forgotten is leaked, so never freed.
    let cell = unsafe { &*cell };
    let last = match role {
        EndpointRole::Sender => {
            cell.account.add_records_out(1);
            &cell.last_sent
        }
        EndpointRole::Receiver => {
            cell.account.add_records_in(1);
            &cell.last_received
        }
    };
    if last.load(Ordering::Relaxed) != u64::from(channel) {
        last.store(u64::from(channel), Ordering::Relaxed);
        with_current(|current| current.note_endpoint(channel, role, publish));
    }
}

/// Runs `f` with the calling thread's registration, if it has one.
#[inline]
pub(crate) fn with_current<R>(f: impl FnOnce(&mut CurrentHandle<'_>) -> R) -> Option<R> {
    #[cfg(feature = "tokio")]
    {
        let polled = POLLED.get();
        if polled == BORROWED {
            return None;
        }
        if !polled.is_null() {
            /// Gives the registration back when `f` returns or unwinds.
            struct GiveBack(*mut Current);
            impl Drop for GiveBack {
                fn drop(&mut self) {
                    POLLED.set(self.0);
                }
            }
            let _lent = GiveBack(POLLED.replace(BORROWED));
            // SAFETY: a non-null `POLLED` other than BORROWED points to the registration of
            // the subtask polled on this thread, owned by its `Detached`, which is mutably
            // borrowed by the [`Lent`] that set it and that clears it before the borrow ends;
            // while `f` runs `POLLED` is BORROWED, so no second reference is made.
            return Some(f(&mut CurrentHandle(unsafe { &mut *polled })));
        }
    }
    CURRENT
        .try_with(|current| {
            let mut current = current.try_borrow_mut().ok()?;
            let current = current.as_deref_mut()?;
            Some(f(&mut CurrentHandle(current)))
        })
        .ok()
        .flatten()
}

/// Runs `f` with the calling thread's registration cell and its operator stack, if registered.
#[inline]
pub(crate) fn with_current_cell<R>(
    f: impl FnOnce(&SubtaskCell, &mut OwnerOperators) -> R,
) -> Option<R> {
    with_current(|current| {
        let current = &mut *current.0;
        f(&current.cell, &mut current.operators)
    })
}

/// Access to the calling thread's registration for channels and scopes.
pub(crate) struct CurrentHandle<'a>(&'a mut Current);

impl CurrentHandle<'_> {
    pub fn account(&self) -> &Account {
        &self.0.cell.account
    }

    /// Reports that this subtask uses `channel` at the given end; `publish` runs the first time,
    /// with the subtask's id and task name.
    #[inline]
    pub fn note_endpoint(
        &mut self,
        channel: u32,
        role: EndpointRole,
        publish: impl FnOnce(u32, &Arc<str>),
    ) {
        if !self.0.endpoints.contains(&(channel, role)) {
            self.0.endpoints.push((channel, role));
            publish(self.0.cell.id, &self.0.cell.task);
        }
    }
}

/// An open blocking scope: the calling thread is idle or backpressured until it drops.
///
/// Created by [`enter`]; the closures [`idle`] and [`backpressured`] are usually simpler.
#[must_use = "the blocking state ends as soon as the scope is dropped"]
#[derive(Debug)]
pub struct BlockingScope {
    /// The registration whose outermost blocking scope this is; `None` for nested scopes, `Busy`
    /// and unregistered threads, which account nothing.
    cell: Option<Arc<SubtaskCell>>,
    nested: bool,
    /// The thread's CPU time when the wait began (read only while a recorder is active, and for
    /// channel waits only one in [`CPU_MEASURE_EVERY`]), and how many waits the measured one
    /// stands for.
    cpu_at_entry: Option<u64>,
    cpu_weight: u64,
    /// Set once the scope has been accounted (by [`BlockingScope::end`] or by `Drop`).
    closed: bool,
    _not_send: PhantomData<*const ()>,
}

/// Marks the calling thread as `state` until the returned scope drops. Use it around a blocking
/// call that is not an instrumented channel: a socket read (idle), a socket write or a send on
/// another library's channel (backpressured). Nested scopes count once, as the outermost one.
/// On a thread that is not registered it does nothing.
pub fn enter(state: State) -> BlockingScope {
    enter_wait(state, None)
}

/// [`enter`] for a wait on one end of an instrumented channel or link (`site`), so that the
/// recording tells where the subtask waited.
pub(crate) fn enter_wait(state: State, site: Option<WaitSite>) -> BlockingScope {
    let mut scope = BlockingScope {
        cell: None,
        nested: false,
        cpu_at_entry: None,
        cpu_weight: 0,
        closed: false,
        _not_send: PhantomData,
    };
    if state == State::Busy {
        return scope;
    }
    with_current(|current| {
        current.0.depth += 1;
        if current.0.depth == 1 {
            let cell = &current.0.cell;
            note_blocked_stack(cell);
            // Scopes wrap slow calls (a socket, a lock): their CPU is always measured. Channel
            // waits are frequent and short: one in CPU_MEASURE_EVERY is.
            let measure = match site {
                None => Some(1),
                Some(_) => {
                    measures_this_wait(&mut current.0.waits_seen).then_some(CPU_MEASURE_EVERY)
                }
            };
            if let (true, Some(weight)) = (registry::is_recording(), measure) {
                scope.cpu_at_entry = clock::read_clock(libc::CLOCK_THREAD_CPUTIME_ID);
                scope.cpu_weight = weight;
            }
            cell.enter_wait(state, clock::now_ns(), site);
            scope.cell = Some(Arc::clone(&current.0.cell));
        } else {
            scope.nested = true;
        }
    });
    scope
}

/// While a sampler runs, keeps the stack `cell`'s thread blocks with, for its off-CPU samples.
fn note_blocked_stack(cell: &SubtaskCell) {
    if sampling::is_active() {
        capture_blocked_stack(&cell.sampling.blocked, cell.sampling.target.bounds);
    }
}

/// CPU used inside channel waits is measured on one wait in this many (the thread's CPU clock is a
/// system call of about 0.65 µs here, two per measured wait) and scaled up: an unbiased estimate
/// at a sixteenth of the cost. See docs/performance.md.
pub(crate) const CPU_MEASURE_EVERY: u64 = 16;

/// Whether this wait is one of the measured ones (counts the waits of the registration).
fn measures_this_wait(waits_seen: &mut u64) -> bool {
    *waits_seen = waits_seen.wrapping_add(1);
    *waits_seen % CPU_MEASURE_EVERY == 0
}

impl BlockingScope {
    /// Ends the wait, which became able to proceed at `ready_ns` (monotonic ns, when known): the
    /// time from then to now is wake-up latency, busy time, not idle or backpressured.
    pub(crate) fn end(mut self, ready_ns: Option<u64>) {
        self.close(ready_ns);
    }

    fn close(&mut self, ready_ns: Option<u64>) {
        if self.closed || (self.cell.is_none() && !self.nested) {
            return;
        }
        self.closed = true;
        with_current(|current| current.0.depth = current.0.depth.saturating_sub(1));
        if let Some(cell) = &self.cell {
            // A measured channel wait stands for the CPU_MEASURE_EVERY waits around it.
            let cpu_ns = match self.cpu_at_entry {
                Some(before) => clock::read_clock(libc::CLOCK_THREAD_CPUTIME_ID)
                    .map_or(0, |now| now.saturating_sub(before))
                    .saturating_mul(self.cpu_weight),
                None => 0,
            };
            cell.exit_wait(WaitEnd {
                now: clock::now_ns(),
                ready_ns,
                cpu_ns,
            });
        }
    }
}

impl Drop for BlockingScope {
    fn drop(&mut self) {
        self.close(None);
    }
}

#[cfg(feature = "tokio")]
/// A subtask that is not a thread, such as an async task: registered like a thread, and the
/// registration of whichever thread polls it, one poll at a time ([`Detached::lend`]). Its
/// cell has no thread ([`crate::cell::NO_THREAD`]): no CPU clock, no timer.
pub(crate) struct Detached {
    /// The registration; lent to the polling thread through `POLLED` during a poll.
    current: Box<Current>,
}

#[cfg(feature = "tokio")]
impl Detached {
    /// Registers subtask `index` of `task` (of `parallelism`); an inconsistent registration
    /// registers anyway with a warning, as [`register`] does.
    pub(crate) fn register(task: &str, index: u32, parallelism: u32) -> Detached {
        let problem = registry::lock()
            .check_registration(task, index, parallelism)
            .err();
        let (task, parallelism) = recorded_identity(task, index, parallelism);
        let cell = Arc::new(SubtaskCell::detached(task, index, parallelism));
        add_live(&cell, problem);
        Detached {
            current: Box::new(Current::new(cell)),
        }
    }

    /// The subtask was woken at `woken_ns` and is polled from `now_ns`: the time between is
    /// scheduled time (busy, as wake-up latency), unless an instrumented wait is open, whose end
    /// counts it from the instant its record or room arrived.
    pub(crate) fn polled_after_wake(&self, woken_ns: u64, now_ns: u64) {
        if self.current.depth == 0 {
            let scheduled = now_ns.saturating_sub(woken_ns);
            self.current.cell.account.add_wake(scheduled);
        }
    }

    /// Makes the subtask the calling thread's registration until the returned scope drops (one
    /// poll, or the drop of its future): channels and scopes used meanwhile account to it, not
    /// to the thread's own registration, if any. Two thread-local stores, no borrow flag, no
    /// destructor check: the whole cost of a poll while no recorder runs.
    #[inline]
    pub(crate) fn lend(&mut self) -> Lent<'_> {
        FAST_CELL.set(Arc::as_ptr(&self.current.cell));
        let saved_polled = POLLED.replace(std::ptr::from_mut(&mut *self.current));
        Lent {
            detached: self,
            saved_polled,
        }
    }

    /// A poll while a recorder runs, begun at `started_ns`: the registration is lent as by
    /// [`Detached::lend`], the thread's samples belong to the subtask, and the poll is timed
    /// (one more clock read when it ends).
    pub(crate) fn observe_poll(&mut self, started_ns: u64) -> ObservedPoll<'_> {
        let cell = &self.current.cell;
        cell.account.begin_poll(started_ns);
        // Samples of this thread belong to the subtask until the poll ends.
        let sampled = crate::poller::PollScope::begin(cell.id, cell.current_operator());
        ObservedPoll {
            lent: self.lend(),
            _sampled: sampled,
            started_ns,
        }
    }
}

#[cfg(feature = "tokio")]
/// The registration of a [`Detached`] subtask lent to the calling thread; the drop gives it back.
pub(crate) struct Lent<'a> {
    /// Borrowed while lent, so that nothing else reaches the registration `POLLED` points to.
    detached: &'a mut Detached,
    /// `POLLED` before: null, or the registration of a subtask whose poll polls this one (a
    /// subtask nested in another's future).
    saved_polled: *mut Current,
}

#[cfg(feature = "tokio")]
impl Drop for Lent<'_> {
    #[inline]
    fn drop(&mut self) {
        POLLED.set(self.saved_polled);
        // BORROWED: lent inside `with_current`, which no caller does.
        let outer = if self.saved_polled == BORROWED {
            None
        } else {
            // SAFETY: a saved registration other than BORROWED belongs to the enclosing poll,
            // still in progress (polls nest on one thread), whose `Detached` outlives this one.
            unsafe { self.saved_polled.as_ref() }
        };
        FAST_CELL.set(outer.map_or_else(|| THREAD_CELL.get(), |c| Arc::as_ptr(&c.cell)));
    }
}

#[cfg(feature = "tokio")]
/// One poll of a [`Detached`] subtask while a recorder runs (see [`Detached::observe_poll`]).
pub(crate) struct ObservedPoll<'a> {
    /// Given back after the poll's timing is noted (fields drop after `drop`'s body).
    lent: Lent<'a>,
    /// Ends the poll for the sampler; the subtask's cell (and the operator slot the scope
    /// points to) outlives it, as `lent` borrows its owner.
    _sampled: crate::poller::PollScope,
    /// When the poll began.
    started_ns: u64,
}

#[cfg(feature = "tokio")]
impl Drop for ObservedPoll<'_> {
    fn drop(&mut self) {
        let account = &self.lent.detached.current.cell.account;
        account.end_poll(self.started_ns, clock::now_ns());
    }
}

#[cfg(feature = "tokio")]
/// A wait of an async subtask on one end of an instrumented channel, from the poll that found it
/// blocked to the poll that completes it (possibly on another thread). Several waits pending at
/// once in one task (a `select!`) count as one: the task is idle or backpressured from the first
/// to the last.
pub(crate) struct AsyncWait {
    cell: Option<Arc<SubtaskCell>>,
}

#[cfg(feature = "tokio")]
impl AsyncWait {
    /// The calling subtask begins to wait in `state` on `site` at `now_ns` (nothing when the
    /// thread polls no subtask).
    pub(crate) fn begin(state: State, site: WaitSite, now_ns: u64) -> AsyncWait {
        let cell = with_current(|current| {
            current.0.depth += 1;
            let cell = &current.0.cell;
            if current.0.depth == 1 {
                // The stack of the poll that goes pending: where the task awaits.
                if let Some(bounds) = crate::poller::current_bounds() {
                    capture_blocked_stack(&cell.sampling.blocked, bounds);
                }
                cell.enter_wait(state, now_ns, Some(site));
            }
            Arc::clone(cell)
        });
        AsyncWait { cell }
    }

    /// The wait ends, able to proceed since `ready_ns` when known (the time since then was
    /// scheduled time: woken, not yet polled).
    pub(crate) fn end(mut self, ready_ns: Option<u64>) {
        self.close(ready_ns);
    }

    fn close(&mut self, ready_ns: Option<u64>) {
        let Some(cell) = self.cell.take() else {
            return;
        };
        // Normally the same subtask polls (or drops) the wait; a wait dropped elsewhere still
        // ends its subtask's wait.
        let last = with_current(|current| {
            if !Arc::ptr_eq(&current.0.cell, &cell) {
                return true;
            }
            current.0.depth = current.0.depth.saturating_sub(1);
            current.0.depth == 0
        })
        .unwrap_or(true);
        if last {
            cell.exit_wait(WaitEnd {
                now: clock::now_ns(),
                ready_ns,
                cpu_ns: 0,
            });
        }
    }
}

#[cfg(feature = "tokio")]
impl Drop for AsyncWait {
    fn drop(&mut self) {
        self.close(None);
    }
}

/// Runs `f` with the calling thread marked idle (blocked waiting for input), for example a socket
/// read or a receive on another library's channel.
pub fn idle<R>(f: impl FnOnce() -> R) -> R {
    let _scope = enter(State::Idle);
    f()
}

/// Runs `f` with the calling thread marked backpressured (blocked waiting for output capacity),
/// for example a socket write or a send on another library's channel.
pub fn backpressured<R>(f: impl FnOnce() -> R) -> R {
    let _scope = enter(State::Backpressured);
    f()
}

/// Counts `n` records received by the calling subtask (instrumented channels count by themselves).
pub fn count_records_in(n: u64) {
    with_current(|current| current.account().add_records_in(n));
}

/// Counts `n` records sent by the calling subtask (instrumented channels count by themselves).
pub fn count_records_out(n: u64) {
    with_current(|current| current.account().add_records_out(n));
}

/// The state of the calling thread's subtask, or `None` when the thread is not registered.
pub fn current_state() -> Option<State> {
    with_current(|current| current.account().state())
}
