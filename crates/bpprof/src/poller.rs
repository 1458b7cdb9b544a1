//! Threads that poll async subtasks (tokio workers, a `current_thread` runtime's thread, a
//! `LocalSet`'s): each is sampled like a subtask thread, with a CPU-time timer of its own, and
//! its samples belong to the async subtask it polls at that instant (see
//! `sampling::SampleTarget::polled`); a sample taken between polls belongs to none. A thread
//! becomes a poller at its first poll while a sampler runs and stops being one when it exits. A
//! poller is not a subtask: it is listed in the registry apart from the live subtasks and never
//! appears in a recording.

use std::cell::OnceCell;
use std::sync::Arc;

use crate::cell::SubtaskCell;
use crate::sampling::{self, CurrentOperator, SampleTarget, StackBounds};
use crate::{registry, sampler};

/// The calling thread as a poller; its drop (at thread exit) stops its timer and leaves the
/// registry.
struct Poller(Arc<SubtaskCell>);

impl Drop for Poller {
    fn drop(&mut self) {
        self.0.sampling.stop_timer();
        registry::lock().remove_poller(self.0.id);
        self.0.end();
    }
}

thread_local! {
    static POLLER: OnceCell<Poller> = const { OnceCell::new() };
}

/// A poll of async subtask `subtask` on the calling thread: its samples belong to that subtask
/// and are tagged with the operator in `operator` until the scope drops. Nothing (one relaxed
/// load) while no sampler runs.
pub(crate) struct PollScope {
    target: *const SampleTarget,
}

impl PollScope {
    /// Begins the poll; `operator` must outlive the scope (the polled subtask's slot).
    pub(crate) fn begin(subtask: u32, operator: &CurrentOperator) -> PollScope {
        if !sampling::is_active() {
            return PollScope {
                target: std::ptr::null(),
            };
        }
        let target = POLLER
            .try_with(|poller| {
                let target: *const SampleTarget =
                    &poller.get_or_init(become_poller).0.sampling.target;
                target
            })
            .unwrap_or(std::ptr::null());
        // SAFETY: a non-null target belongs to this thread's poller, which lives until the
        // thread exits, after this scope (created and dropped within one poll on this thread).
        if let Some(target) = unsafe { target.as_ref() } {
            target.begin_poll(subtask, operator);
        }
        PollScope { target }
    }
}

impl Drop for PollScope {
    fn drop(&mut self) {
        // SAFETY: as in `begin`.
        if let Some(target) = unsafe { self.target.as_ref() } {
            target.end_poll();
        }
    }
}

/// The calling thread's stack bounds, when it is a poller (known without a system call).
pub(crate) fn current_bounds() -> Option<StackBounds> {
    POLLER
        .try_with(|poller| poller.get().map(|p| p.0.sampling.target.bounds))
        .ok()
        .flatten()
}

/// Registers the calling thread as a poller and starts its timer.
fn become_poller() -> Poller {
    let cell = Arc::new(SubtaskCell::poller());
    registry::lock().add_poller(Arc::clone(&cell));
    sampler::on_registration(&cell);
    Poller(cell)
}
