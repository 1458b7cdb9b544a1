//! Instrumented bounded multi-producer multi-consumer channels.
//!
//! A thin layer over `crossbeam-channel`'s bounded channel. The non-blocking path (a send that
//! finds room, a receive that finds a message) reads no clock: it counts the record and goes on.
//! Only a send that finds the queue full (backpressured) or a receive that finds it empty (idle)
//! opens a blocking scope around the blocking call.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bpprof_format::{ChannelEndpoint, EndpointRole};
pub use crossbeam_channel::{RecvError, RecvTimeoutError, SendError, TryRecvError, TrySendError};

use crate::probe::{ChannelInfo, ChannelProbe};
use crate::registry;
use crate::subtask::{count_channel_record, enter_wait, BlockingScope};

struct Shared<T> {
    info: ChannelInfo,
    /// Number of user-held [`Sender`]s.
    senders: AtomicUsize,
    /// A sender kept for reading the fill level; dropped with the last user sender so that
    /// receivers still see the channel disconnect.
    probe: Mutex<Option<crossbeam_channel::Sender<T>>>,
}

impl<T: Send> ChannelProbe for Shared<T> {
    fn info(&self) -> &ChannelInfo {
        &self.info
    }

    fn len(&self) -> Option<usize> {
        let probe = self.probe.lock().unwrap_or_else(|p| p.into_inner());
        probe.as_ref().map(|tx| tx.len())
    }
}

/// Creates an instrumented bounded channel holding at most `capacity` messages (at least 1).
pub fn bounded<T: Send + 'static>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    bounded_named("", capacity)
}

/// Creates an instrumented bounded channel with a name that outputs show for its edge
/// (for example `"parse->enrich"`).
pub fn bounded_named<T: Send + 'static>(name: &str, capacity: usize) -> (Sender<T>, Receiver<T>) {
    let capacity = capacity.max(1);
    let (tx, rx) = crossbeam_channel::bounded(capacity);
    let shared = register_probe(|id| Shared {
        info: ChannelInfo::new(id, name, capacity, false),
        senders: AtomicUsize::new(1),
        probe: Mutex::new(Some(tx.clone())),
    });
    (
        Sender {
            tx,
            shared: Arc::clone(&shared),
        },
        Receiver { rx, shared },
    )
}

/// Marks the calling subtask blocked on the `role` end of `info` until the returned wait ends.
pub(crate) fn block(info: &ChannelInfo, role: EndpointRole) -> ChannelWaitScope<'_> {
    let state = info.begin_wait(role, crate::clock::now_ns());
    let scope = enter_wait(state, Some(info.site(role)));
    ChannelWaitScope {
        info,
        role,
        scope: Some(scope),
    }
}

/// A subtask blocked on one end of an instrumented channel; [`ChannelWaitScope::finish`] (or
/// dropping it) ends the wait.
pub(crate) struct ChannelWaitScope<'a> {
    info: &'a ChannelInfo,
    role: EndpointRole,
    scope: Option<BlockingScope>,
}

impl ChannelWaitScope<'_> {
    /// Ends the wait. When the operation `proceeded` (it got a record, or room), the pending
    /// ready note is taken: the time from it to now was wake-up latency. A wait that timed out or
    /// found the channel disconnected was not woken by a record: it takes no note.
    pub(crate) fn finish(mut self, proceeded: bool) {
        self.close(proceeded);
    }

    fn close(&mut self, proceeded: bool) {
        if let Some(scope) = self.scope.take() {
            scope.end(self.info.end_wait(self.role, proceeded));
        }
    }
}

impl Drop for ChannelWaitScope<'_> {
    fn drop(&mut self) {
        self.close(false);
    }
}

/// Builds a probe with a fresh channel id (`make(id)`) and registers it for the recorder.
pub(crate) fn register_probe<P: ChannelProbe + 'static>(make: impl FnOnce(u32) -> P) -> Arc<P> {
    let mut registry = registry::lock();
    let probe = Arc::new(make(registry.allocate_channel_id()));
    registry.prune_channels();
    registry.add_channel(probe.clone());
    probe
}

/// Records that the calling subtask used `info`'s `role` end (first use only) and counts a record.
#[inline]
pub(crate) fn account_record(info: &ChannelInfo, role: EndpointRole) {
    count_channel_record(info.id, role, |subtask, task| {
        let mut endpoints = info.endpoints.lock().unwrap_or_else(|p| p.into_inner());
        if !endpoints.iter().any(|(t, e)| e.role == role && t == task) {
            let endpoint = ChannelEndpoint {
                channel: info.id,
                subtask,
                role,
            };
            endpoints.push((Arc::clone(task), endpoint));
        }
    });
}

/// The sending end of an instrumented channel. Cloning it adds a producer.
pub struct Sender<T: Send + 'static> {
    tx: crossbeam_channel::Sender<T>,
    shared: Arc<Shared<T>>,
}

impl<T: Send + 'static> Sender<T> {
    /// Sends `msg`, blocking while the queue is full; the time blocked is backpressure.
    /// Fails only when every receiver is gone.
    #[inline]
    pub fn send(&self, msg: T) -> Result<(), SendError<T>> {
        let info = &self.shared.info;
        info.note_ready_for(EndpointRole::Receiver);
        match self.tx.try_send(msg) {
            Ok(()) => {}
            Err(TrySendError::Full(msg)) => {
                info.saw_full.store(true, Ordering::Relaxed);
                let wait = block(info, EndpointRole::Sender);
                let sent = self.tx.send(msg);
                wait.finish(sent.is_ok());
                sent?;
            }
            Err(TrySendError::Disconnected(msg)) => return Err(SendError(msg)),
        }
        account_record(&self.shared.info, EndpointRole::Sender);
        Ok(())
    }

    /// Sends `msg` if there is room now, without blocking.
    #[inline]
    pub fn try_send(&self, msg: T) -> Result<(), TrySendError<T>> {
        self.shared.info.note_ready_for(EndpointRole::Receiver);
        self.tx.try_send(msg)?;
        account_record(&self.shared.info, EndpointRole::Sender);
        Ok(())
    }

    /// Messages queued now.
    pub fn len(&self) -> usize {
        self.tx.len()
    }

    /// True when no message is queued.
    pub fn is_empty(&self) -> bool {
        self.tx.is_empty()
    }

    /// True when the queue is at capacity.
    pub fn is_full(&self) -> bool {
        self.tx.is_full()
    }

    /// The channel's capacity.
    pub fn capacity(&self) -> usize {
        self.shared.info.capacity
    }
}

impl<T: Send + 'static> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.shared.senders.fetch_add(1, Ordering::Relaxed);
        Sender {
            tx: self.tx.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T: Send + 'static> Drop for Sender<T> {
    fn drop(&mut self) {
        if self.shared.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            let probe = self
                .shared
                .probe
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take();
            drop(probe);
        }
    }
}

impl<T: Send + 'static> std::fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("channel", &self.shared.info.name)
            .field("len", &self.tx.len())
            .finish()
    }
}

/// The receiving end of an instrumented channel. Cloning it adds a consumer.
pub struct Receiver<T: Send + 'static> {
    rx: crossbeam_channel::Receiver<T>,
    shared: Arc<Shared<T>>,
}

impl<T: Send + 'static> Receiver<T> {
    /// Receives a message, blocking while the queue is empty; the time blocked is idle time.
    /// Fails when the queue is empty and every sender is gone.
    #[inline]
    pub fn recv(&self) -> Result<T, RecvError> {
        let info = &self.shared.info;
        info.note_ready_for(EndpointRole::Sender);
        let msg = match self.rx.try_recv() {
            Ok(msg) => msg,
            Err(TryRecvError::Empty) => {
                let wait = block(info, EndpointRole::Receiver);
                let got = self.rx.recv();
                wait.finish(got.is_ok());
                got?
            }
            Err(TryRecvError::Disconnected) => return Err(RecvError),
        };
        account_record(&self.shared.info, EndpointRole::Receiver);
        Ok(msg)
    }

    /// Like [`recv`](Self::recv), but gives up after `timeout` (the wait still counts as idle).
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        let info = &self.shared.info;
        info.note_ready_for(EndpointRole::Sender);
        let msg = match self.rx.try_recv() {
            Ok(msg) => msg,
            Err(TryRecvError::Empty) => {
                let wait = block(info, EndpointRole::Receiver);
                let got = self.rx.recv_timeout(timeout);
                wait.finish(got.is_ok());
                got?
            }
            Err(TryRecvError::Disconnected) => return Err(RecvTimeoutError::Disconnected),
        };
        account_record(&self.shared.info, EndpointRole::Receiver);
        Ok(msg)
    }

    /// Receives a message if one is queued now, without blocking.
    #[inline]
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.shared.info.note_ready_for(EndpointRole::Sender);
        let msg = self.rx.try_recv()?;
        account_record(&self.shared.info, EndpointRole::Receiver);
        Ok(msg)
    }

    /// A blocking iterator over received messages; it ends when every sender is gone.
    pub fn iter(&self) -> impl Iterator<Item = T> + '_ {
        std::iter::from_fn(move || self.recv().ok())
    }

    /// Messages queued now.
    pub fn len(&self) -> usize {
        self.rx.len()
    }

    /// True when no message is queued.
    pub fn is_empty(&self) -> bool {
        self.rx.is_empty()
    }

    /// The channel's capacity.
    pub fn capacity(&self) -> usize {
        self.shared.info.capacity
    }
}

impl<T: Send + 'static> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        Receiver {
            rx: self.rx.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T: Send + 'static> std::fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("channel", &self.shared.info.name)
            .field("len", &self.rx.len())
            .finish()
    }
}

impl<'a, T: Send + 'static> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Box<dyn Iterator<Item = T> + 'a>;
    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}
