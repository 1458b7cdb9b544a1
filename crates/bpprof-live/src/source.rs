//! Where an endpoint reads its intervals.

use crate::history::History;

/// Where an [`Endpoint`](crate::Endpoint) reads its intervals: the runtime's process-wide history, or a recording
/// loaded whole.
pub trait Source: Send + Sync {
    /// Calls `read` with the history, if there is one yet (the runtime has none before its
    /// recorder started); holds whatever lock guards it only while `read` runs.
    fn read(&self, read: &mut dyn FnMut(&History));
}

/// A fixed history (a recording loaded whole) is its own source.
impl Source for History {
    fn read(&self, read: &mut dyn FnMut(&History)) {
        read(self);
    }
}

/// Runs `read` on the history of `source`, `None` when it has none.
pub(crate) fn with_history<T>(source: &dyn Source, read: impl FnOnce(&History) -> T) -> Option<T> {
    let mut read = Some(read);
    let mut out = None;
    source.read(&mut |history| {
        if let Some(read) = read.take() {
            out = Some(read(history));
        }
    });
    out
}
