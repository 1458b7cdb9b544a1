//! Stack sampling inside a subtask's thread: a CPU-time timer per registered subtask thread
//! signals it while it runs (never while it is blocked); the handler walks frame pointers into a
//! buffer allocated at registration. The sampler thread that drains the buffers, counts blocked
//! and off-CPU time and resolves symbols is `crate::sampler`; this module depends on nothing of
//! the subtask but its [`SampleSlot`].

mod handler;
mod ring;
mod signal;
mod slot;
mod stack;
mod target;
mod timer;
pub(crate) mod tokens;
pub(crate) mod wake;

pub(crate) use ring::RawSample;
pub use signal::SamplingError;
pub(crate) use signal::{default_signal, handler_is_ours, install, thread_blocks};
pub(crate) use slot::SampleSlot;
pub(crate) use stack::{capture_blocked_stack, StackBounds, MAX_DEPTH};
#[cfg(feature = "tokio")]
pub(crate) use target::SampleTarget;
pub(crate) use target::{CurrentOperator, NOT_POLLING};
pub(crate) use timer::CpuTimer;

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
