//! Per-subtask sample buffers: allocated when the thread registers (before its timer exists),
//! written only by the signal handler on that thread, drained by the sampler thread; and the
//! subtask's timer and token, owned by whichever of the sampler and the deregistering thread
//! takes them last.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, Ordering};

use super::stack::{BlockedStack, StackBounds, MAX_DEPTH};
use super::timer::CpuTimer;
use super::tokens;

/// Samples a buffer holds between two drains by the sampler.
pub(crate) const RING_CAPACITY: usize = 32;

/// One stack captured by the signal handler.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawSample {
    /// Subtask state when sampled (`State as u8`).
    pub state: u8,
    /// Sampling periods of CPU time the sample stands for (1 + the timer's overrun).
    pub weight: u32,
    /// Operator the subtask was running (`u32::MAX`: none).
    pub operator: u32,
    /// Frames written in `addrs`.
    pub depth: u32,
    /// The interrupted instruction, then return addresses, innermost first.
    pub addrs: [usize; MAX_DEPTH],
}

const EMPTY_SAMPLE: RawSample = RawSample {
    state: 0,
    weight: 0,
    operator: u32::MAX,
    depth: 0,
    addrs: [0; MAX_DEPTH],
};

/// The sampling state of one registered subtask.
#[derive(Debug)]
pub(crate) struct SampleSlot {
    /// Range of the thread's stack.
    pub bounds: StackBounds,
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
    /// Samples lost: buffer full, or the stack could not be walked.
    pub lost: AtomicU64,
    head: AtomicU32,
    tail: AtomicU32,
    buffer: Box<[UnsafeCell<RawSample>]>,
}

// SAFETY: the buffer cells are written only by the handler on the owning thread (single
// producer) at indices in [tail, head + 1) that the consumer does not read until `head` is
// published with Release, and read only by the single consumer (the sampler thread) at indices
// below `head`, which the producer does not reuse until `tail` passes them.
unsafe impl Sync for SampleSlot {}

impl SampleSlot {
    /// Allocates the buffer for a thread whose stack is `bounds`.
    pub fn new(bounds: StackBounds) -> Self {
        SampleSlot {
            bounds,
            blocked: BlockedStack::default(),
            closed: AtomicBool::new(false),
            timer_claimed: AtomicBool::new(false),
            token: AtomicU64::new(0),
            timer: AtomicPtr::new(std::ptr::null_mut()),
            lost: AtomicU64::new(0),
            head: AtomicU32::new(0),
            tail: AtomicU32::new(0),
            buffer: (0..RING_CAPACITY)
                .map(|_| UnsafeCell::new(EMPTY_SAMPLE))
                .collect(),
        }
    }

    /// Producer (the signal handler): the buffer cell to fill next, or `None` when full.
    ///
    /// # Safety
    /// Only the owning thread's signal handler may call this, and it must call
    /// [`publish`](Self::publish) before returning if it got a cell.
    pub unsafe fn next_cell(&self) -> Option<*mut RawSample> {
        let head = self.head.load(Ordering::Relaxed);
        let tail = self.tail.load(Ordering::Acquire);
        if head.wrapping_sub(tail) as usize >= RING_CAPACITY {
            return None;
        }
        Some(self.buffer[head as usize % RING_CAPACITY].get())
    }

    /// Producer: makes the cell returned by `next_cell` visible to the consumer; returns whether
    /// the buffer is now at least half full.
    pub fn publish(&self) -> bool {
        let head = self.head.load(Ordering::Relaxed).wrapping_add(1);
        self.head.store(head, Ordering::Release);
        head.wrapping_sub(self.tail.load(Ordering::Relaxed)) as usize >= RING_CAPACITY / 2
    }

    /// Consumer (the sampler thread): hands every published sample to `f`, oldest first.
    pub fn drain(&self, mut f: impl FnMut(&RawSample)) {
        let head = self.head.load(Ordering::Acquire);
        let mut tail = self.tail.load(Ordering::Relaxed);
        while tail != head {
            // SAFETY: cells in [tail, head) were published by the producer (Release on head,
            // Acquire above) and are not written again until `tail` moves past them.
            let sample = unsafe { &*self.buffer[tail as usize % RING_CAPACITY].get() };
            f(sample);
            tail = tail.wrapping_add(1);
        }
        self.tail.store(tail, Ordering::Release);
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
