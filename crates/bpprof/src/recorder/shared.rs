//! What the recorder handle, its threads, the process-exit hook and the fork handler share: the
//! recorder's control block and the symbolizer's fork flags. A leaf of the recorder.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

/// Shared between the recorder handle, its threads and the process-exit hook.
#[derive(Debug)]
pub(super) struct Control {
    pub(super) path: PathBuf,
    pub(super) stop_timeout: Duration,
    /// The process that started the recorder, and its fork generation then.
    pub(super) pid: u32,
    pub(super) generation: u64,
    /// Asks the snapshot thread to stop, with the deadline of the stop.
    pub(super) stop_tx: Sender<Instant>,
    pub(super) outcome: Mutex<Outcome>,
    /// Signalled when the writer sets `outcome.finished`.
    pub(super) done: Condvar,
    /// Set when a stop gave up on the writer: it then writes nothing more.
    pub(super) abandoned: AtomicBool,
}

#[derive(Debug, Default)]
pub(super) struct Outcome {
    pub(super) chunks: u64,
    pub(super) coalesced: u64,
    /// Interval chunks written completely.
    pub(super) written: u64,
    pub(super) error: Option<String>,
    pub(super) finished: bool,
}

/// Writer threads symbolizing stack samples right now. Symbolizing takes the `backtrace` crate's
/// process-global lock: a child forked while a parent thread held it finds it locked for ever.
pub(super) static SYMBOLIZING: AtomicU32 = AtomicU32::new(0);

/// Set in a child forked while a parent thread was symbolizing: symbolizing would deadlock there,
/// so its recordings carry no stack samples (and say so).
pub(super) static SYMBOLIZER_LOST: AtomicBool = AtomicBool::new(false);

impl Control {
    /// Asks the recorder to stop and waits until the file is finalised or `deadline` passes; in
    /// the latter case, abandons the writer. Returns whether the writer finished.
    pub(super) fn stop_and_wait(&self, deadline: Instant) -> bool {
        // A stop already asked for keeps its deadline.
        let _ = self.stop_tx.try_send(deadline);
        let mut outcome = self.outcome.lock().unwrap_or_else(|p| p.into_inner());
        while !outcome.finished {
            let now = Instant::now();
            if now >= deadline {
                self.abandoned.store(true, Ordering::Release);
                return false;
            }
            outcome = self
                .done
                .wait_timeout(outcome, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        true
    }
}
