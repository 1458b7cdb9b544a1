//! Per-subtask stack sampling: a sampler thread signals each registered subtask thread with a
//! real-time signal; the handler walks frame pointers into a buffer allocated at registration;
//! blocked subtasks are counted from the stack they blocked with; symbols are resolved later, on
//! the writer thread.

mod collect;
mod handler;
mod ring;
mod signal;
mod stack;
mod symbolize;

pub(crate) use collect::{RawSamples, Sampler};
pub(crate) use ring::SampleSlot;
pub use signal::SamplingError;
pub(crate) use signal::{default_signal, install};
pub(crate) use stack::{capture_blocked_stack, StackBounds};
pub(crate) use symbolize::Symbolizer;

use std::sync::atomic::{AtomicBool, Ordering};

/// Whether a sampler runs: blocking scopes capture their stack only then.
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// True while a sampler runs.
#[inline]
pub(crate) fn is_active() -> bool {
    ACTIVE.load(Ordering::Relaxed)
}

/// Marks the sampler as running or stopped.
pub(crate) fn set_active(active: bool) {
    ACTIVE.store(active, Ordering::Relaxed);
}
