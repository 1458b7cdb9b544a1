//! Instrumented links: the two ends of an exchange that crosses a process or socket boundary.
//!
//! A [`Link`] registers like an instrumented channel. The writer wraps each blocking write in
//! [`Link::write`] (the time blocked is backpressure), the reader wraps each blocking read in
//! [`Link::read`] (the time blocked is idle time). Both processes name the link the same, so that
//! `bpprof merge` joins their recordings into one edge; within one process the edge is inferred
//! from the link's endpoints, as for channels.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bpprof_format::EndpointRole;

use crate::account::State;
use crate::channel::{account_record, register_probe};
use crate::probe::{ChannelInfo, ChannelProbe};
use crate::subtask::enter_wait;

/// No fill level is known (see [`Link::set_fill`]).
const UNKNOWN_FILL: u64 = u64::MAX;

struct LinkShared {
    info: ChannelInfo,
    fill: AtomicU64,
}

impl ChannelProbe for LinkShared {
    fn info(&self) -> &ChannelInfo {
        &self.info
    }

    fn len(&self) -> Option<usize> {
        match self.fill.load(Ordering::Relaxed) {
            UNKNOWN_FILL => None,
            n => Some(n as usize),
        }
    }
}

/// One end (or both ends) of an instrumented link. Cloning it shares the link.
#[derive(Clone)]
pub struct Link {
    shared: Arc<LinkShared>,
}

/// Creates an instrumented link called `name` whose buffer holds about `capacity_hint` records
/// (at least 1). Name both ends of a link that crosses processes the same.
pub fn link(name: &str, capacity_hint: usize) -> Link {
    let capacity = capacity_hint.max(1);
    Link {
        shared: register_probe(|id| LinkShared {
            info: ChannelInfo::new(id, name, capacity, true),
            fill: AtomicU64::new(UNKNOWN_FILL),
        }),
    }
}

impl Link {
    /// Runs `f`, a blocking write of one record into the link, with the calling subtask marked
    /// backpressured, and counts one record out of the writer's end.
    pub fn write<R>(&self, f: impl FnOnce() -> R) -> R {
        let info = &self.shared.info;
        info.blocked_sends.fetch_add(1, Ordering::Relaxed);
        let out = {
            let _scope = enter_wait(State::Backpressured, Some(info.site(EndpointRole::Sender)));
            f()
        };
        account_record(&self.shared.info, EndpointRole::Sender);
        out
    }

    /// Runs `f`, a blocking read of one record from the link, with the calling subtask marked
    /// idle, and counts one record into the reader's end.
    pub fn read<R>(&self, f: impl FnOnce() -> R) -> R {
        let info = &self.shared.info;
        info.blocked_recvs.fetch_add(1, Ordering::Relaxed);
        let out = {
            let _scope = enter_wait(State::Idle, Some(info.site(EndpointRole::Receiver)));
            f()
        };
        account_record(&self.shared.info, EndpointRole::Receiver);
        out
    }

    /// Reports how many records the link's buffer holds now, when known (`None`: unknown, the
    /// default). At or above the capacity hint, the link counts as full.
    pub fn set_fill(&self, fill: Option<usize>) {
        let fill = fill.map_or(UNKNOWN_FILL, |n| (n as u64).min(UNKNOWN_FILL - 1));
        if fill != UNKNOWN_FILL && fill >= self.shared.info.capacity as u64 {
            self.shared.info.saw_full.store(true, Ordering::Relaxed);
        }
        self.shared.fill.store(fill, Ordering::Relaxed);
    }

    /// The link's name.
    pub fn name(&self) -> &str {
        &self.shared.info.name
    }

    /// The capacity hint given to [`link`] (at least 1).
    pub fn capacity(&self) -> usize {
        self.shared.info.capacity
    }
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("name", &self.shared.info.name)
            .finish()
    }
}
