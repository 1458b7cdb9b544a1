//! A subtask thread's sample buffer: allocated when the thread registers (before its timer
//! exists), written only by the signal handler on that thread, drained by the sampler thread.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use super::stack::MAX_DEPTH;
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
    /// On a thread that polls async subtasks, the subtask being polled (`NOT_POLLING`: none).
    pub subtask: u32,
    /// Frames written in `addrs`.
    pub depth: u32,
    /// The interrupted instruction, then return addresses, innermost first.
    pub addrs: [usize; MAX_DEPTH],
}

const EMPTY_SAMPLE: RawSample = RawSample {
    state: 0,
    weight: 0,
    operator: u32::MAX,
    subtask: u32::MAX,
    depth: 0,
    addrs: [0; MAX_DEPTH],
};

/// A single-producer (the handler), single-consumer (the sampler thread) ring of samples.
#[derive(Debug)]
pub(crate) struct Ring {
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
unsafe impl Sync for Ring {}

impl Ring {
    /// Allocates the buffer.
    pub fn new() -> Self {
        Ring {
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
