//! Per-subtask sample buffers: allocated when the thread registers (before it can be signalled),
//! written only by the signal handler on that thread, drained by the sampler thread.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};

use super::stack::{BlockedStack, StackBounds, MAX_DEPTH};

/// Samples a buffer holds between two drains by the sampler.
pub(crate) const RING_CAPACITY: usize = 32;

/// One stack captured by the signal handler.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawSample {
    /// Subtask state when sampled (`State as u8`).
    pub state: u8,
    /// Whether the thread used CPU since its previous sample (decided by the sampler).
    pub on_cpu: bool,
    /// Operator the subtask was running (`u32::MAX`: none).
    pub operator: u32,
    /// Frames written in `addrs`.
    pub depth: u32,
    /// The interrupted instruction, then return addresses, innermost first.
    pub addrs: [usize; MAX_DEPTH],
}

const EMPTY_SAMPLE: RawSample = RawSample {
    state: 0,
    on_cpu: false,
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
    /// Set by deregistration; from then on the sampler sends no signal.
    pub closed: AtomicBool,
    /// Signals sent and not yet handled.
    pub in_flight: AtomicU32,
    /// Written by the sampler before it signals: the `on_cpu` value for the sample.
    pub on_cpu_hint: AtomicU8,
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
            in_flight: AtomicU32::new(0),
            on_cpu_hint: AtomicU8::new(0),
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

    /// Producer: makes the cell returned by `next_cell` visible to the consumer.
    pub fn publish(&self) {
        let head = self.head.load(Ordering::Relaxed);
        self.head.store(head.wrapping_add(1), Ordering::Release);
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
