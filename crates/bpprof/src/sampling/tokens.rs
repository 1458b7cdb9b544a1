//! The table through which a sampling signal finds its subtask: the timer's signal value is a
//! token (slot index and generation), never a pointer, so a signal that arrives late — after its
//! subtask deregistered, in a thread that had blocked the signal, after the timer was deleted —
//! finds an empty or reused slot and is ignored instead of reading freed memory.
//!
//! The table is a static array of atomics: no allocation, no lazy initialisation, readable by the
//! signal handler with two loads.

use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering};

use super::target::SampleTarget;

/// Subtasks that can be sampled on CPU at once; further ones are not sampled on CPU (their
/// blocked and off-CPU time still is), and the sampler says so once.
pub(crate) const MAX_SAMPLED_THREADS: usize = 4096;

struct Entry {
    target: AtomicPtr<SampleTarget>,
    generation: AtomicU32,
}

// A `const` item is the array initialiser: every entry starts empty.
#[allow(clippy::declare_interior_mutable_const)]
const EMPTY: Entry = Entry {
    target: AtomicPtr::new(std::ptr::null_mut()),
    generation: AtomicU32::new(0),
};

static TABLE: [Entry; MAX_SAMPLED_THREADS] = [EMPTY; MAX_SAMPLED_THREADS];

/// Claims an empty slot for `target` and returns its token (never 0), or `None` when the table is
/// full. The target must stay alive until [`release`] of that token.
pub(crate) fn claim(target: &SampleTarget) -> Option<u64> {
    let ptr = target as *const SampleTarget as *mut SampleTarget;
    for (index, entry) in TABLE.iter().enumerate() {
        if entry
            .target
            .compare_exchange(
                std::ptr::null_mut(),
                ptr,
                Ordering::AcqRel,
                Ordering::Relaxed,
            )
            .is_ok()
        {
            let generation = entry.generation.load(Ordering::Relaxed);
            return Some(token(index, generation));
        }
    }
    None
}

/// Empties the slot of `token` and moves its generation on, so that signals still carrying the
/// token find nothing.
pub(crate) fn release(token: u64) {
    let (index, generation) = split(token);
    let Some(entry) = TABLE.get(index) else {
        return;
    };
    if entry.generation.load(Ordering::Relaxed) != generation {
        return;
    }
    entry
        .generation
        .store(generation.wrapping_add(1), Ordering::Release);
    entry.target.store(std::ptr::null_mut(), Ordering::Release);
}

/// The target of `token`, if its slot still holds it. Async-signal-safe: two atomic loads.
///
/// The reference is valid while the slot holds the target: the owner thread releases the slot
/// before its target can be freed, and the handler that calls this runs on that owner thread, so
/// the release cannot happen in the middle of the handler.
pub(crate) fn lookup<'a>(token: u64) -> Option<&'a SampleTarget> {
    let (index, generation) = split(token);
    let entry = TABLE.get(index)?;
    let ptr = entry.target.load(Ordering::Acquire);
    if ptr.is_null() || entry.generation.load(Ordering::Acquire) != generation {
        return None;
    }
    // SAFETY: a non-null pointer in a slot of the current generation is a live target (see
    // above).
    Some(unsafe { &*ptr })
}

fn token(index: usize, generation: u32) -> u64 {
    (u64::from(generation) << 32) | (index as u64 + 1)
}

fn split(token: u64) -> (usize, u32) {
    (
        ((token & 0xffff_ffff) as usize).wrapping_sub(1),
        (token >> 32) as u32,
    )
}
