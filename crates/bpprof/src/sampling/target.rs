//! What the signal handler may touch, as one data-only type: a sampled thread's id and stack
//! bounds, the state and operator its samples are tagged with, and its sample buffer. No
//! pointer to anything else, no lock, nothing allocated after registration: the handler gets a
//! `&SampleTarget` from the token table and the compiler keeps it from reaching more.

use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};

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
}

impl SampleTarget {
    /// The target of thread `tid`, with its buffer allocated.
    pub fn new(tid: u32, bounds: StackBounds) -> Self {
        SampleTarget {
            tid,
            bounds,
            state: AtomicU8::new(State::Busy as u8),
            operator: CurrentOperator::default(),
            ring: Ring::new(),
        }
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
