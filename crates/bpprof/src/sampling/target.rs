//! What the signal handler may touch, as one data-only type: a sampled thread's id and stack
//! bounds, the state and operator its samples are tagged with, and its sample buffer. No lock,
//! nothing allocated after registration, and one pointer only: on a thread that polls async
//! subtasks, the operator slot of the subtask being polled, which that poll (interrupted by the
//! handler on the same thread) keeps alive. The handler gets a `&SampleTarget` from the token
//! table and the compiler keeps it from reaching more.

use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU8, Ordering};

use super::ring::Ring;
use super::stack::StackBounds;
use crate::account::State;

/// A sampled thread, as its signal handler sees it.
#[derive(Debug)]
pub(crate) struct SampleTarget {
    /// Kernel thread id of the thread.
    pub tid: u32,
    /// Range of the thread's stack.
    pub bounds: StackBounds,
    /// The thread's state (`State as u8`), written by the thread at every transition (a copy of
    /// its account's state, which the handler cannot read consistently without the account's
    /// sequence lock).
    pub state: AtomicU8,
    /// The operator the thread runs now.
    pub operator: CurrentOperator,
    /// The samples the handler took, until the sampler drains them.
    pub ring: Ring,
    /// On a thread that polls async subtasks: the one being polled now ([`NOT_POLLING`]
    /// between polls), whose id the samples carry.
    pub polled: AtomicU32,
    /// On a thread that polls async subtasks: the operator slot of the one being polled now
    /// (null between polls). Set and cleared by the polling thread around each poll, so the
    /// handler, which interrupts that very thread, finds it alive whenever it is not null.
    pub polled_operator: AtomicPtr<CurrentOperator>,
}

/// [`SampleTarget::polled`] between polls, and on threads that are subtasks themselves.
pub(crate) const NOT_POLLING: u32 = u32::MAX;

impl SampleTarget {
    /// The target of thread `tid`, with its buffer allocated.
    pub fn new(tid: u32, bounds: StackBounds) -> Self {
        SampleTarget {
            tid,
            bounds,
            state: AtomicU8::new(State::Busy as u8),
            operator: CurrentOperator::default(),
            ring: Ring::new(),
            polled: AtomicU32::new(NOT_POLLING),
            polled_operator: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    #[cfg(feature = "tokio")]
    /// Owner thread: from now until [`end_poll`](Self::end_poll), samples belong to subtask
    /// `subtask`, running the operator in `operator`, which must stay alive until then.
    pub fn begin_poll(&self, subtask: u32, operator: &CurrentOperator) {
        self.polled_operator.store(
            operator as *const CurrentOperator as *mut CurrentOperator,
            Ordering::Relaxed,
        );
        self.polled.store(subtask, Ordering::Relaxed);
    }

    #[cfg(feature = "tokio")]
    /// Owner thread: the poll ended; samples belong to no subtask.
    pub fn end_poll(&self) {
        self.polled.store(NOT_POLLING, Ordering::Relaxed);
        self.polled_operator
            .store(std::ptr::null_mut(), Ordering::Relaxed);
    }

    /// Handler: the subtask being polled and the operator it runs, or this thread's own
    /// operator when it polls none.
    pub fn sampled_subtask_and_operator(&self) -> (u32, Option<u32>) {
        let operator = self.polled_operator.load(Ordering::Relaxed);
        if operator.is_null() {
            return (NOT_POLLING, self.operator.load());
        }
        // SAFETY: a non-null pointer was stored by this thread at the start of a poll that has
        // not ended (it is cleared before the poll returns), and the handler runs on this thread
        // while that poll is interrupted: the polled subtask, which owns the slot, is alive.
        let operator = unsafe { &*operator }.load();
        (self.polled.load(Ordering::Relaxed), operator)
    }

    /// Owner thread: the state its samples are tagged with from now on.
    pub fn set_state(&self, state: State) {
        self.state.store(state as u8, Ordering::Relaxed);
    }
}

/// Current-operator slot of a subtask, read by the sampling signal handler.
#[derive(Debug)]
pub(crate) struct CurrentOperator(AtomicU32);

impl Default for CurrentOperator {
    fn default() -> Self {
        CurrentOperator(AtomicU32::new(crate::operator_table::NO_OPERATOR))
    }
}

impl CurrentOperator {
    pub fn store(&self, id: u32, order: Ordering) {
        self.0.store(id, order);
    }

    /// The operator the subtask runs now, `None` outside every operator scope. A relaxed atomic
    /// load: async-signal-safe.
    pub fn load(&self) -> Option<u32> {
        let id = self.0.load(Ordering::Relaxed);
        (id != crate::operator_table::NO_OPERATOR).then_some(id)
    }
}
