//! What the recorder and the sampler read of an instrumented channel or link, whatever its
//! message type: its identity, its endpoints, its counts and the notes that tell a woken waiter's
//! wake-up latency from its wait.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bpprof_format::{ChannelEndpoint, EndpointRole};

use crate::account::{State, WaitSite};
use crate::clock;

/// What the recorder reads of a channel, whatever its message type.
pub(crate) trait ChannelProbe: Send + Sync {
    /// The channel's identity and name.
    fn info(&self) -> &ChannelInfo;
    /// Messages queued now, or `None` when every sender is gone.
    fn len(&self) -> Option<usize>;
}

/// The parts of a channel that do not depend on its message type.
#[derive(Debug)]
pub(crate) struct ChannelInfo {
    pub id: u32,
    pub name: String,
    pub capacity: usize,
    /// A link (`bpprof::link`), not an in-process queue.
    pub is_link: bool,
    /// Subtasks that used each end, one per (task, role) at most.
    pub endpoints: Mutex<Vec<(Arc<str>, ChannelEndpoint)>>,
    pub blocked_sends: AtomicU64,
    pub blocked_recvs: AtomicU64,
    /// A sender found the queue full since the recorder last looked.
    pub saw_full: AtomicBool,
    /// Receivers and senders blocked on the channel now.
    waiting_receivers: AtomicU32,
    waiting_senders: AtomicU32,
    /// When a record last arrived while a receiver was blocked, and when room was last freed
    /// while a sender was blocked (monotonic ns; 0: never). A woken waiter's time from then until
    /// it runs again is wake-up latency.
    record_ready_ns: AtomicU64,
    room_ready_ns: AtomicU64,
    /// When a receiver, and a sender, last began to block on the channel (monotonic ns). A ready
    /// note older than that is stale: it belongs to no waiter still waiting.
    receiver_blocked_ns: AtomicU64,
    sender_blocked_ns: AtomicU64,
}

impl ChannelInfo {
    /// A channel's (or, `is_link`, a link's) info with no endpoint and no count yet.
    pub(crate) fn new(id: u32, name: &str, capacity: usize, is_link: bool) -> ChannelInfo {
        ChannelInfo {
            id,
            name: name.to_string(),
            capacity,
            is_link,
            endpoints: Mutex::new(Vec::new()),
            blocked_sends: AtomicU64::new(0),
            blocked_recvs: AtomicU64::new(0),
            saw_full: AtomicBool::new(false),
            waiting_receivers: AtomicU32::new(0),
            waiting_senders: AtomicU32::new(0),
            record_ready_ns: AtomicU64::new(0),
            room_ready_ns: AtomicU64::new(0),
            receiver_blocked_ns: AtomicU64::new(0),
            sender_blocked_ns: AtomicU64::new(0),
        }
    }

    /// The cells of the waiters on the `role` end: how many wait, when one last began to, and the
    /// ready note for them.
    fn waiters(&self, role: EndpointRole) -> (&AtomicU32, &AtomicU64, &AtomicU64) {
        match role {
            EndpointRole::Receiver => (
                &self.waiting_receivers,
                &self.receiver_blocked_ns,
                &self.record_ready_ns,
            ),
            EndpointRole::Sender => (
                &self.waiting_senders,
                &self.sender_blocked_ns,
                &self.room_ready_ns,
            ),
        }
    }

    /// A send or receive is about to make the other side able to proceed: when someone on the
    /// other side (`waiter`) is blocked and no note is pending for it, note the time, so that the
    /// woken thread can tell its wake-up latency from its wait. A pending note (one newer than
    /// the latest start of a wait) is kept: the waiter could proceed from the first record (or
    /// room) on, not the last. Costs one relaxed load when nobody waits; a clock read otherwise,
    /// on a path that is about to wake a thread anyway.
    #[inline]
    pub(crate) fn note_ready_for(&self, waiter: EndpointRole) {
        let (waiting, blocked_ns, ready) = self.waiters(waiter);
        if waiting.load(Ordering::Relaxed) != 0
            && ready.load(Ordering::Relaxed) < blocked_ns.load(Ordering::Relaxed)
        {
            ready.store(clock::now_ns(), Ordering::Relaxed);
        }
    }

    /// A wait on the `role` end begins at `now_ns`: counts it and marks someone waiting there.
    /// Returns the state the waiter is in.
    pub(crate) fn begin_wait(&self, role: EndpointRole, now_ns: u64) -> State {
        // First when the wait begins, then that someone waits: a note made from now on is newer
        // than the start, so it stays pending for this waiter until it takes it.
        self.waiters(role).1.fetch_max(now_ns, Ordering::SeqCst);
        match role {
            EndpointRole::Sender => {
                self.blocked_sends.fetch_add(1, Ordering::Relaxed);
                self.waiting_senders.fetch_add(1, Ordering::SeqCst);
                State::Backpressured
            }
            EndpointRole::Receiver => {
                self.blocked_recvs.fetch_add(1, Ordering::Relaxed);
                self.waiting_receivers.fetch_add(1, Ordering::SeqCst);
                State::Idle
            }
        }
    }

    /// A wait on the `role` end ends. When the operation `proceeded` (it got a record, or room),
    /// the pending ready note is taken and returned: the time from it to now was wake-up latency.
    /// A wait that timed out or found the channel disconnected was not woken by a record: it
    /// takes no note.
    pub(crate) fn end_wait(&self, role: EndpointRole, proceeded: bool) -> Option<u64> {
        let (waiting, _, ready) = self.waiters(role);
        waiting.fetch_sub(1, Ordering::SeqCst);
        let note = if proceeded {
            ready.swap(0, Ordering::Relaxed)
        } else {
            0
        };
        (note != 0).then_some(note)
    }

    /// The ready note pending for the waiters on the `role` end, if any: when their operation
    /// became able to proceed.
    pub(crate) fn pending_ready_ns(&self, role: EndpointRole) -> Option<u64> {
        let (_, blocked_ns, ready) = self.waiters(role);
        let note = ready.load(Ordering::Relaxed);
        (note != 0 && note >= blocked_ns.load(Ordering::Relaxed)).then_some(note)
    }

    /// The `role` end of this channel, as a place where a subtask waits.
    pub(crate) fn site(&self, role: EndpointRole) -> WaitSite {
        WaitSite {
            channel: self.id,
            role,
        }
    }
}
