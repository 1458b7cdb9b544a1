//! Per-subtask stack sampling: a CPU-time timer per registered subtask thread signals it while
//! it runs (never while it is blocked); the handler walks frame pointers into a buffer allocated
//! at registration; the sampler thread counts blocked and off-CPU time from the stacks captured
//! before; symbols are resolved later, on the writer thread.

mod collect;
mod handler;
mod ring;
mod signal;
mod stack;
mod symbolize;
mod timer;
mod tokens;
mod wake;

pub(crate) use collect::{on_registration, RawSamples, Sampler};
pub(crate) use ring::SampleSlot;
pub use signal::SamplingError;
pub(crate) use signal::{default_signal, install};
pub(crate) use stack::{capture_blocked_stack, StackBounds};
pub(crate) use symbolize::Symbolizer;

use std::sync::atomic::{AtomicBool, Ordering};

/// How stacks are sampled, for the recording's meta chunk.
pub(crate) fn mechanism(signal: i32) -> String {
    format!("cpu-timer signal {signal}")
}

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
