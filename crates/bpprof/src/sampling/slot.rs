//! A registered subtask's sampling state: the data its signal handler may touch (the
//! [`SampleTarget`]), the stack it last blocked with, and its timer and token, owned by whichever
//! of the sampler and the deregistering thread takes them last.

use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};

use super::stack::{BlockedStack, StackBounds};
use super::target::SampleTarget;
use super::timer::CpuTimer;
use super::tokens;

/// The sampling state of one registered subtask.
#[derive(Debug)]
pub(crate) struct SampleSlot {
    /// What the signal handler reads and writes: nothing else of the subtask.
    pub target: SampleTarget,
    /// Stack captured when the subtask last started to block.
    pub blocked: BlockedStack,
    /// Set by deregistration; from then on the sampler starts no timer for the subtask.
    pub closed: AtomicBool,
    /// Set by whoever starts the subtask's timer (the registering thread, or the sampler for a
    /// subtask registered before sampling started): one timer and one token per subtask.
    pub timer_claimed: AtomicBool,
    /// The subtask's token in the token table (0: none).
    pub token: AtomicU64,
    /// The subtask's CPU-time timer, boxed and leaked into a pointer (null: none); taken (and
    /// deleted) by whoever swaps it out first.
    pub timer: AtomicPtr<CpuTimer>,
}

impl SampleSlot {
    /// The sampling state of thread `tid`, whose stack is `bounds`: its buffer allocated.
    pub fn new(tid: u32, bounds: StackBounds) -> Self {
        SampleSlot {
            target: SampleTarget::new(tid, bounds),
            blocked: BlockedStack::default(),
            closed: AtomicBool::new(false),
            timer_claimed: AtomicBool::new(false),
            token: AtomicU64::new(0),
            timer: AtomicPtr::new(std::ptr::null_mut()),
        }
    }
}

impl SampleSlot {
    /// Stops sampling this subtask on CPU, from either side: marks it closed, frees its token
    /// (a signal still on its way then finds nothing) and deletes its timer. Safe to call from
    /// the sampler and from the deregistering thread, in any order, any number of times: each
    /// resource is taken by one swap.
    pub fn stop_timer(&self) {
        self.closed.store(true, Ordering::SeqCst);
        let token = self.token.swap(0, Ordering::SeqCst);
        if token != 0 {
            tokens::release(token);
        }
        let timer = self.timer.swap(std::ptr::null_mut(), Ordering::SeqCst);
        if !timer.is_null() {
            // SAFETY: the pointer came from `Box::into_raw` in `set_timer` and the swap above
            // made this call its only owner.
            drop(unsafe { Box::from_raw(timer) });
        }
    }

    /// Sampler: gives the subtask its token and timer; undoes both if deregistration closed the
    /// slot meanwhile.
    pub fn set_timer(&self, token: u64, timer: CpuTimer) {
        self.token.store(token, Ordering::SeqCst);
        let old = self
            .timer
            .swap(Box::into_raw(Box::new(timer)), Ordering::SeqCst);
        if !old.is_null() {
            // SAFETY: as in `stop_timer`: this swap made us its only owner.
            drop(unsafe { Box::from_raw(old) });
        }
        if self.closed.load(Ordering::SeqCst) {
            self.stop_timer();
        }
    }

    /// Claims the right to start the subtask's timer; false when someone has, or it is closed.
    pub fn claim_timer(&self) -> bool {
        !self.closed.load(Ordering::SeqCst)
            && self
                .timer_claimed
                .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
    }
}
