//! The process-wide history that the recorder's writer fills ([`tee`]) and the endpoint reads.
//!
//! One mutex, taken by the writer thread once per interval and by the endpoint for a few pointer
//! copies; no pipeline thread ever takes it. While no endpoint runs only the declarations and the
//! per-subtask counters are kept (so that an endpoint started later sees the whole recording).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use bpprof_format::{IntervalChunk, RecordingMeta, SamplesChunk};
use bpprof_live::{History, Limits};

use crate::fork;

/// Endpoints running: the recorder keeps intervals only while this is above 0.
static SERVERS: AtomicUsize = AtomicUsize::new(0);

/// The history of the current recording, with the fork generation of the process that made it.
static SHARED: Mutex<Shared> = Mutex::new(Shared {
    limits: Limits {
        age_ns: super::DEFAULT_HISTORY.as_nanos() as u64,
        bytes: super::DEFAULT_HISTORY_BYTES,
    },
    history: None,
});

struct Shared {
    limits: Limits,
    history: Option<(u64, History)>,
}

fn lock() -> MutexGuard<'static, Shared> {
    SHARED.lock().unwrap_or_else(|p| p.into_inner())
}

/// A recording starts: the history starts over with its meta data.
pub(crate) fn begin(meta: &RecordingMeta) {
    let mut shared = lock();
    let limits = shared.limits;
    shared.history = Some((fork::generation(), History::new(meta.clone(), limits)));
}

/// The recorder's writer wrote `interval` (and `samples`): keep them while an endpoint runs.
pub(crate) fn tee(interval: &IntervalChunk, samples: Option<&SamplesChunk>) {
    let keep = SERVERS.load(Ordering::Acquire) > 0;
    let mut shared = lock();
    // A child forked while the lock was free: the history belongs to the parent's recording.
    if let Some((generation, history)) = shared.history.as_mut() {
        if *generation == fork::generation() {
            // This runs on the recorder's writer thread: a bug here must not stop the recording.
            let pushed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                history.push(interval, samples, keep)
            }));
            if pushed.is_err() {
                shared.history = None;
            }
        }
    }
}

/// An endpoint starts with these limits (the last started sets them).
pub(crate) fn server_started(limits: Limits) {
    SERVERS.fetch_add(1, Ordering::AcqRel);
    let mut shared = lock();
    shared.limits = limits;
    if let Some((_, history)) = shared.history.as_mut() {
        history.set_limits(limits);
    }
}

/// An endpoint stopped; with the last one, the intervals are dropped.
pub(crate) fn server_stopped() {
    if SERVERS.fetch_sub(1, Ordering::AcqRel) == 1 {
        if let Some((_, history)) = lock().history.as_mut() {
            history.clear_ring();
        }
    }
}

/// The endpoint's source: the history of the current recording (none before one started).
pub(crate) struct Process;

impl bpprof_live::Source for Process {
    fn read(&self, read: &mut dyn FnMut(&History)) {
        let shared = lock();
        if let Some((_, history)) = shared.history.as_ref() {
            read(history);
        }
    }
}
