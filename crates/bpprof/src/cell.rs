//! One registration of a thread as a subtask: what the registry, the recorder and the sampler
//! read of it (its identity, accounting, sample buffers, operators and thread clocks).

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use crate::account::{Account, WaitEnd};
use crate::account::{State, WaitSite};
use crate::clock;
use crate::operator_table::Operators;
use crate::sampling::{CurrentOperator, SampleSlot, StackBounds};

/// The next subtask id: allocated without the registry's lock, so that a registration
/// prepares its cell before locking the registry.
static NEXT_SUBTASK_ID: AtomicU32 = AtomicU32::new(0);

/// A fresh subtask id, unique within the process (ids wrap after 2^32 registrations).
pub(crate) fn next_subtask_id() -> u32 {
    NEXT_SUBTASK_ID.fetch_add(1, Ordering::Relaxed)
}

/// The thread a registration runs on: what registering reads of it.
struct Thread {
    tid: u32,
    bounds: StackBounds,
    cpu_clock: Option<libc::clockid_t>,
}

impl Thread {
    /// The calling thread.
    fn current() -> Thread {
        Thread {
            tid: clock::current_tid(),
            bounds: StackBounds::of_current_thread(),
            cpu_clock: clock::current_thread_cpu_clock(),
        }
    }
}

/// The thread id of a subtask that is not a thread (no kernel thread has id 0).
pub(crate) const NO_THREAD: u32 = 0;

/// One registration of a thread as subtask `index` of `task`.
#[derive(Debug)]
pub(crate) struct SubtaskCell {
    pub id: u32,
    pub task: Arc<str>,
    pub index: u32,
    pub parallelism: u32,
    /// Kernel thread id of the registered thread.
    pub tid: u32,
    /// Monotonic time of registration.
    pub registered_ns: u64,
    /// CPU time and run-queue delay of the thread when it registered.
    pub start: ThreadTimes,
    pub account: Account,
    /// Stack sampling buffers, allocated before the thread can be signalled.
    pub sampling: SampleSlot,
    /// Per-operator busy time, allocated by the subtask's first operator scope.
    pub operators: OnceLock<Box<Operators>>,
    cpu_clock: Option<libc::clockid_t>,
    /// Set by the recorder once a written chunk holds the subtask's last (`ended`) interval. A
    /// recorder may read the end through `live` just before the subtask moves to `retired`; this
    /// keeps it from being reported (and declared) a second time from there.
    pub end_reported: AtomicBool,
    /// A thread that polls async subtasks, not a subtask itself (see `crate::poller`): its
    /// samples belong to the subtasks it polls.
    pub is_poller: bool,
    /// Guards reads of the thread's clocks against the thread going away.
    life: Mutex<Life>,
    /// Owner only: the last channel this registration sent to / received from (`u64::MAX`:
    /// none), so that endpoint bookkeeping runs only when the subtask switches channels. In the
    /// cell, so that it follows an async subtask from poll to poll without being swapped.
    pub last_sent: AtomicU64,
    pub last_received: AtomicU64,
}

/// CPU time and run-queue delay of a thread at an instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ThreadTimes {
    pub cpu_ns: u64,
    pub runqueue_ns: Option<u64>,
}

#[derive(Debug, Default)]
struct Life {
    /// Set by deregistration: when it ended and the thread's times at that instant.
    ended: Option<(u64, ThreadTimes)>,
}

/// A reading of a subtask's thread by the recorder.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ThreadReading {
    /// The instant the reading stands for: now, or when the subtask ended.
    pub at_ns: u64,
    pub times: ThreadTimes,
    pub ended: bool,
}

impl SubtaskCell {
    /// A registration of the calling thread as subtask `index` of `task` (of `parallelism`),
    /// starting at `registered_ns` with the thread's times `start`. Allocates its sample buffers
    /// and reads the thread's stack bounds and clock: done before the registry is locked.
    pub fn new(
        task: Arc<str>,
        index: u32,
        parallelism: u32,
        registered_ns: u64,
        start: ThreadTimes,
    ) -> SubtaskCell {
        let thread = Thread::current();
        SubtaskCell::on(thread, task, index, parallelism, registered_ns, start)
    }

    #[cfg(feature = "tokio")]
    /// A subtask that is not a thread (an async task, polled by whichever thread runs it),
    /// registered now: no thread id, CPU clock or stack bounds, and so no timer; its sample
    /// buffer is allocated all the same (it is never written).
    pub fn detached(task: Arc<str>, index: u32, parallelism: u32) -> SubtaskCell {
        let thread = Thread {
            tid: NO_THREAD,
            bounds: StackBounds::default(),
            cpu_clock: None,
        };
        let (now, start) = (clock::now_ns(), ThreadTimes::default());
        SubtaskCell::on(thread, task, index, parallelism, now, start)
    }

    #[cfg(feature = "tokio")]
    /// The calling thread as a poller of async subtasks (see `crate::poller`): sampled like a
    /// subtask thread, never recorded as one.
    pub fn poller() -> SubtaskCell {
        let thread = Thread::current();
        let cell = SubtaskCell::on(
            thread,
            "(poller)".into(),
            0,
            1,
            clock::now_ns(),
            ThreadTimes::default(),
        );
        SubtaskCell {
            is_poller: true,
            ..cell
        }
    }

    /// A registration on `thread`.
    fn on(
        thread: Thread,
        task: Arc<str>,
        index: u32,
        parallelism: u32,
        registered_ns: u64,
        start: ThreadTimes,
    ) -> SubtaskCell {
        SubtaskCell {
            id: next_subtask_id(),
            task,
            index,
            parallelism,
            tid: thread.tid,
            registered_ns,
            start,
            account: Account::default(),
            sampling: SampleSlot::new(thread.tid, thread.bounds),
            operators: OnceLock::new(),
            cpu_clock: thread.cpu_clock,
            end_reported: AtomicBool::new(false),
            is_poller: false,
            life: Mutex::new(Life::default()),
            last_sent: AtomicU64::new(u64::MAX),
            last_received: AtomicU64::new(u64::MAX),
        }
    }

    /// Whether the subtask is a thread (not an async task).
    pub fn has_thread(&self) -> bool {
        self.tid != NO_THREAD
    }

    /// Owner thread: enters a blocking state at `now` (on `site` when it is a channel end); the
    /// account and the samples' state tag change together.
    pub fn enter_wait(&self, state: State, now: u64, site: Option<WaitSite>) {
        self.account.enter(state, now, site);
        self.sampling.target.set_state(state);
    }

    /// Owner thread: leaves the blocking state (see [`crate::account::Account::exit`]).
    pub fn exit_wait(&self, end: WaitEnd) {
        self.sampling.target.set_state(State::Busy);
        self.account.exit(end);
    }

    /// The operator the thread runs now, as its samples are tagged.
    pub fn current_operator(&self) -> &CurrentOperator {
        &self.sampling.target.operator
    }

    /// The owning thread ends the registration: a blocking scope still open ends with it, and
    /// the thread's times are kept for readers. Returns when it ended and the times then
    /// (`None` when it had ended already).
    pub fn end(&self) -> Option<(u64, ThreadTimes)> {
        // Read before taking `life`, which the recorder holds while it reads this thread's
        // clocks: the /proc read is the slow part, and no lock should wait for it.
        let times = if self.has_thread() {
            ThreadTimes::of_current_thread()
        } else {
            self.start
        };
        let mut life = self.life.lock().unwrap_or_else(|p| p.into_inner());
        if life.ended.is_some() {
            return None;
        }
        let now = clock::now_ns();
        self.exit_wait(WaitEnd {
            now,
            ..WaitEnd::default()
        });
        let end = (now, times);
        life.ended = Some(end);
        Some(end)
    }

    /// Reads the thread's CPU time and run-queue delay now, or the values it had when it
    /// deregistered. Holding `life` guarantees the thread (and so its clock id and tid) is alive.
    pub fn read_thread(&self) -> ThreadReading {
        let life = self.life.lock().unwrap_or_else(|p| p.into_inner());
        match life.ended {
            Some((at_ns, times)) => ThreadReading {
                at_ns,
                times,
                ended: true,
            },
            None => ThreadReading {
                at_ns: clock::now_ns(),
                times: ThreadTimes {
                    cpu_ns: self.cpu_clock.and_then(clock::read_clock).unwrap_or(0),
                    runqueue_ns: self
                        .has_thread()
                        .then(|| clock::runqueue_delay_ns(self.tid))
                        .flatten(),
                },
                ended: false,
            },
        }
    }

    /// The thread's CPU time now, or `None` once it has deregistered.
    pub fn cpu_ns(&self) -> Option<u64> {
        let life = self.life.lock().unwrap_or_else(|p| p.into_inner());
        match life.ended {
            Some(_) => None,
            None => self.cpu_clock.and_then(clock::read_clock),
        }
    }

    /// Runs `f` with the thread's CPU clock while the thread is registered, holding the lock that
    /// deregistration takes: the thread (and so its kernel id, which the clock id encodes) cannot
    /// go away, and its id cannot be reused by a new thread, until `f` returns.
    pub fn with_cpu_clock<R>(&self, f: impl FnOnce(libc::clockid_t) -> R) -> Option<R> {
        let life = self.life.lock().unwrap_or_else(|p| p.into_inner());
        match (life.ended, self.cpu_clock) {
            (None, Some(clock)) => Some(f(clock)),
            _ => None,
        }
    }

    /// `TASK#INDEX`.
    pub fn name(&self) -> String {
        format!("{}#{}", self.task, self.index)
    }
}

impl ThreadTimes {
    /// The times of the calling thread.
    pub fn of_current_thread() -> ThreadTimes {
        ThreadTimes {
            cpu_ns: clock::read_clock(libc::CLOCK_THREAD_CPUTIME_ID).unwrap_or(0),
            runqueue_ns: clock::runqueue_delay_ns(clock::current_tid()),
        }
    }
}
