//! The waker an async subtask's future is polled with: it forwards every wake to the task's own
//! waker and notes when the first wake since the last poll came, so that the time from the wake
//! to the next poll — woken, not yet polled — is counted as scheduled time, whatever woke the
//! task (a channel, a timer, a socket), or from the instant a poll yields because tokio's
//! cooperative budget ran out (tokio defers that wake-up). Used only while a recorder runs
//! (without one the subtask polls its future with the runtime's waker); then, per poll, the
//! runtime's waker is registered (two atomic operations, no clone while it does not change) and
//! the clock is read once per wake and once per poll that follows a wake.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Wake, Waker};

use atomic_waker::AtomicWaker;

use crate::clock;

/// What a subtask's waker shares with the subtask.
#[derive(Debug, Default)]
pub(crate) struct WakeNote {
    /// The waker of the task that polls the subtask (the runtime's), as of the last poll.
    task: AtomicWaker,
    /// Monotonic time of the first wake since the last poll (0: none).
    woken_ns: AtomicU64,
}

impl WakeNote {
    /// A note whose subtask counts as woken now (a spawned task waits for its first poll), and
    /// the waker to poll the subtask's future with.
    pub(crate) fn new() -> (Arc<WakeNote>, Waker) {
        let note = Arc::new(WakeNote {
            task: AtomicWaker::new(),
            woken_ns: AtomicU64::new(clock::now_ns().max(1)),
        });
        let waker = Waker::from(Arc::clone(&note));
        (note, waker)
    }

    /// At the start of a poll with the runtime's waker `task`: remembers it and takes the time
    /// of the wake that led to this poll, if one was noted.
    pub(crate) fn poll_begins(&self, task: &Waker) -> Option<u64> {
        self.task.register(task);
        match self.woken_ns.load(Ordering::Relaxed) {
            0 => None,
            _ => Some(self.woken_ns.swap(0, Ordering::Relaxed)).filter(|&at| at != 0),
        }
    }

    /// At the end of a poll that returned pending: when tokio's cooperative budget ran out in
    /// it, the task yielded while it could go on, and tokio wakes it only later (deferred, at
    /// the worker's next maintenance): it is runnable, so scheduled, from now.
    pub(crate) fn pending(&self) {
        if !tokio::task::coop::has_budget_remaining() {
            self.note_runnable();
        }
    }

    /// The subtask can run from now on (unless it could already). Noted only while a recorder
    /// runs: a wake through this note after the recorder stopped reads no clock.
    fn note_runnable(&self) {
        if crate::registry::is_recording() && self.woken_ns.load(Ordering::Relaxed) == 0 {
            let now = clock::now_ns().max(1);
            let _ = self
                .woken_ns
                .compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
        }
    }

    fn note_wake(&self) {
        self.note_runnable();
        self.task.wake();
    }
}

impl Wake for WakeNote {
    fn wake(self: Arc<Self>) {
        self.note_wake();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.note_wake();
    }
}
