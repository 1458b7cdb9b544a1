//! The accounting of one subtask: cumulative idle and backpressured time, written only by the
//! subtask's own thread and read by the recorder through a sequence lock.
//!
//! Only transitions into and out of a blocking state read the clock (Flink's rule: the
//! non-blocking path costs no clock read). Busy time is never stored: it is the wall time minus
//! idle and backpressured, derived when the recorder reads.

use std::sync::atomic::{fence, AtomicU32, AtomicU64, AtomicU8, Ordering};

use bpprof_format::EndpointRole;

/// What a subtask is doing at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Working: neither waiting for input nor for output capacity.
    Busy = 0,
    /// Blocked waiting for input.
    Idle = 1,
    /// Blocked waiting for output capacity.
    Backpressured = 2,
}

impl State {
    fn from_u8(v: u8) -> State {
        match v {
            1 => State::Idle,
            2 => State::Backpressured,
            _ => State::Busy,
        }
    }
}

/// How many distinct channel ends one registration's waits are told apart on. Waits on further
/// channels still count as idle or backpressured time, but are not attributed to a channel.
pub(crate) const MAX_WAIT_CHANNELS: usize = 16;

/// Where a blocking wait happens: one end of one instrumented channel or link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WaitSite {
    pub channel: u32,
    pub role: EndpointRole,
}

/// Cumulative blocked time of one registration on one channel end, at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SiteTotals {
    pub site: WaitSite,
    pub wait_ns: u64,
    pub waits: u64,
}

/// Cumulative totals of one subtask at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Totals {
    pub idle_ns: u64,
    pub backpressured_ns: u64,
    /// Wake-up latency of completed waits: ready to proceed, not yet running (busy time).
    pub wake_ns: u64,
    /// CPU used inside completed waits.
    pub blocked_cpu_ns: u64,
    /// Length so far of the stall in progress, and its kind, at the instant of the reading.
    pub ongoing_idle_ns: u64,
    pub ongoing_backpressured_ns: u64,
    /// Blocked time per channel end (a wait in progress counted up to the reading), in the order
    /// the sites were first used; `sites_len` of them are valid.
    pub sites: [Option<SiteTotals>; MAX_WAIT_CHANNELS],
}

/// One channel end's cells. `channel` and `role` are written once, before `Account::sites_len`
/// publishes the slot.
#[derive(Debug, Default)]
struct SiteCells {
    channel: AtomicU32,
    role: AtomicU8,
    wait_ns: AtomicU64,
    waits: AtomicU64,
}

/// No site: a wait outside any channel (an `idle` or `backpressured` scope).
const NO_SITE: u8 = u8::MAX;

/// Single-writer accounting cells. All fields are atomics so a concurrent reader is never UB; the
/// sequence number makes a reader's view of (state, since, totals) consistent.
#[derive(Debug)]
pub(crate) struct Account {
    seq: AtomicU64,
    state: AtomicU8,
    since_ns: AtomicU64,
    idle_ns: AtomicU64,
    backpressured_ns: AtomicU64,
    wake_ns: AtomicU64,
    blocked_cpu_ns: AtomicU64,
    /// Slot of the wait in progress, or [`NO_SITE`].
    current_site: AtomicU8,
    sites: [SiteCells; MAX_WAIT_CHANNELS],
    sites_len: AtomicU8,
    /// Longest completed stalls since the recorder last took them.
    max_idle_stall_ns: AtomicU64,
    max_backpressured_stall_ns: AtomicU64,
    records_in: AtomicU64,
    records_out: AtomicU64,
    /// Polls of an async subtask that ended, their wall time, and the longest since the
    /// recorder last took it.
    polls: AtomicU64,
    polled_ns: AtomicU64,
    max_poll_ns: AtomicU64,
    /// When the poll in progress began (0: none), so that a long poll counts in every interval
    /// it spans.
    poll_since_ns: AtomicU64,
}

impl Default for Account {
    fn default() -> Self {
        Account {
            seq: AtomicU64::new(0),
            state: AtomicU8::new(State::Busy as u8),
            since_ns: AtomicU64::new(0),
            idle_ns: AtomicU64::new(0),
            backpressured_ns: AtomicU64::new(0),
            wake_ns: AtomicU64::new(0),
            blocked_cpu_ns: AtomicU64::new(0),
            current_site: AtomicU8::new(NO_SITE),
            sites: Default::default(),
            sites_len: AtomicU8::new(0),
            max_idle_stall_ns: AtomicU64::new(0),
            max_backpressured_stall_ns: AtomicU64::new(0),
            records_in: AtomicU64::new(0),
            records_out: AtomicU64::new(0),
            polls: AtomicU64::new(0),
            polled_ns: AtomicU64::new(0),
            max_poll_ns: AtomicU64::new(0),
            poll_since_ns: AtomicU64::new(0),
        }
    }
}

/// How a blocking wait ended, as the waiting thread saw it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct WaitEnd {
    /// When the thread runs again.
    pub now: u64,
    /// When the operation became able to proceed (a record arrived, room was freed), if known;
    /// the time from then to `now` is wake-up latency.
    pub ready_ns: Option<u64>,
    /// CPU the thread used during the wait.
    pub cpu_ns: u64,
}

impl Account {
    /// Owner thread: enters a blocking state at `now`, waiting on `site` when it is a channel end.
    pub fn enter(&self, state: State, now: u64, site: Option<WaitSite>) {
        let slot = site.and_then(|s| self.slot_of(s)).unwrap_or(NO_SITE);
        self.write(|a| {
            a.state.store(state as u8, Ordering::Relaxed);
            a.since_ns.store(now, Ordering::Relaxed);
            a.current_site.store(slot, Ordering::Relaxed);
        });
    }

    /// Owner thread: leaves the blocking state. The stall up to the instant the operation could
    /// proceed is added to the state's total (and its site's); the rest, the wake-up latency, is
    /// busy time spent waiting for a CPU.
    pub fn exit(&self, end: WaitEnd) {
        let state = State::from_u8(self.state.load(Ordering::Relaxed));
        let since = self.since_ns.load(Ordering::Relaxed);
        let stall = end.now.saturating_sub(since);
        let wake = match end.ready_ns {
            Some(ready) if ready > since => end.now.saturating_sub(ready).min(stall),
            _ => 0,
        };
        let blocked = stall - wake;
        let (total, max) = match state {
            State::Busy => return,
            State::Idle => (&self.idle_ns, &self.max_idle_stall_ns),
            State::Backpressured => (&self.backpressured_ns, &self.max_backpressured_stall_ns),
        };
        let slot = self.current_site.load(Ordering::Relaxed);
        self.write(|a| {
            add(total, blocked);
            add(&a.wake_ns, wake);
            add(&a.blocked_cpu_ns, end.cpu_ns);
            if let Some(site) = a.sites.get(usize::from(slot)) {
                add(&site.wait_ns, blocked);
                add(&site.waits, 1);
            }
            a.current_site.store(NO_SITE, Ordering::Relaxed);
            a.state.store(State::Busy as u8, Ordering::Relaxed);
            a.since_ns.store(end.now, Ordering::Relaxed);
        });
        max.fetch_max(blocked, Ordering::Relaxed);
    }

    #[cfg(feature = "tokio")]
    /// Owner thread: adds `ns` of wake-up latency outside any wait (an async subtask woken by
    /// something that is not an instrumented wait, then waiting to be polled).
    pub fn add_wake(&self, ns: u64) {
        self.write(|a| add(&a.wake_ns, ns));
    }

    /// Owner thread: the slot of `site`, claimed on first use; `None` when every slot is taken.
    fn slot_of(&self, site: WaitSite) -> Option<u8> {
        let len = self.sites_len.load(Ordering::Relaxed);
        let role = role_code(site.role);
        let used = &self.sites[..usize::from(len)];
        if let Some(at) = used.iter().position(|s| {
            s.channel.load(Ordering::Relaxed) == site.channel
                && s.role.load(Ordering::Relaxed) == role
        }) {
            return Some(at as u8);
        }
        let cells = self.sites.get(usize::from(len))?;
        cells.channel.store(site.channel, Ordering::Relaxed);
        cells.role.store(role, Ordering::Relaxed);
        // Publishes the slot's identity to readers (Acquire in `totals`).
        self.sites_len.store(len + 1, Ordering::Release);
        Some(len)
    }

    /// Owner thread: counts records received. A load and a store, no read-modify-write: only the
    /// owner writes.
    #[inline]
    pub fn add_records_in(&self, n: u64) {
        let v = self.records_in.load(Ordering::Relaxed);
        self.records_in.store(v.wrapping_add(n), Ordering::Relaxed);
    }

    #[cfg(feature = "tokio")]
    /// The polling thread: a poll of an async subtask begins at `now`.
    #[inline]
    pub fn begin_poll(&self, now: u64) {
        self.poll_since_ns.store(now, Ordering::Relaxed);
    }

    #[cfg(feature = "tokio")]
    /// The polling thread: the poll begun at `since` ends at `now`. Two loads and three
    /// stores, and a read-modify-write only for a new longest poll.
    #[inline]
    pub fn end_poll(&self, since: u64, now: u64) {
        let ns = now.saturating_sub(since);
        let polls = self.polls.load(Ordering::Relaxed);
        self.polls.store(polls.wrapping_add(1), Ordering::Relaxed);
        let polled = self.polled_ns.load(Ordering::Relaxed);
        self.polled_ns
            .store(polled.wrapping_add(ns), Ordering::Relaxed);
        if ns > self.max_poll_ns.load(Ordering::Relaxed) {
            self.max_poll_ns.fetch_max(ns, Ordering::Relaxed);
        }
        self.poll_since_ns.store(0, Ordering::Relaxed);
    }

    /// Polls ended so far, their wall time with the poll in progress up to `now`, and how long
    /// that one has lasted, ns (any thread). The total is read before the poll in progress: a
    /// poll ending in between is counted at the next reading, never twice.
    pub fn polls(&self, now: u64) -> (u64, u64, u64) {
        let polls = self.polls.load(Ordering::Relaxed);
        let polled = self.polled_ns.load(Ordering::Relaxed);
        let ongoing = match self.poll_since_ns.load(Ordering::Relaxed) {
            0 => 0,
            since => now.saturating_sub(since),
        };
        (polls, polled.saturating_add(ongoing), ongoing)
    }

    /// The longest poll since the last call, ns (the recorder, once per interval).
    pub fn take_max_poll(&self) -> u64 {
        self.max_poll_ns.swap(0, Ordering::Relaxed)
    }

    /// Owner thread: counts records sent.
    #[inline]
    pub fn add_records_out(&self, n: u64) {
        let v = self.records_out.load(Ordering::Relaxed);
        self.records_out.store(v.wrapping_add(n), Ordering::Relaxed);
    }

    /// The state right now (any thread).
    pub fn state(&self) -> State {
        State::from_u8(self.state.load(Ordering::Relaxed))
    }

    /// Any thread: the totals as of `now`, counting a stall in progress up to `now`.
    pub fn totals(&self, now: u64) -> Totals {
        self.totals_with(now, |_| None)
    }

    /// [`Account::totals`], where `ready(site)` tells when the operation of a wait in progress
    /// on `site` became able to proceed, if it did (the channel's pending ready note): the stall
    /// in progress is then blocked time up to that instant and wake-up latency after it, as it
    /// will be counted when the wait ends.
    pub fn totals_with(&self, now: u64, ready: impl Fn(WaitSite) -> Option<u64>) -> Totals {
        loop {
            let before = self.seq.load(Ordering::Acquire);
            if before & 1 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let state = State::from_u8(self.state.load(Ordering::Relaxed));
            let since = self.since_ns.load(Ordering::Relaxed);
            let current = self.current_site.load(Ordering::Relaxed);
            let mut totals = Totals {
                idle_ns: self.idle_ns.load(Ordering::Relaxed),
                backpressured_ns: self.backpressured_ns.load(Ordering::Relaxed),
                wake_ns: self.wake_ns.load(Ordering::Relaxed),
                blocked_cpu_ns: self.blocked_cpu_ns.load(Ordering::Relaxed),
                ..Totals::default()
            };
            let len = usize::from(self.sites_len.load(Ordering::Acquire));
            for (slot, cells) in self.sites[..len].iter().enumerate() {
                totals.sites[slot] = Some(SiteTotals {
                    site: WaitSite {
                        channel: cells.channel.load(Ordering::Relaxed),
                        role: role_of(cells.role.load(Ordering::Relaxed)),
                    },
                    wait_ns: cells.wait_ns.load(Ordering::Relaxed),
                    waits: cells.waits.load(Ordering::Relaxed),
                });
            }
            fence(Ordering::Acquire);
            if self.seq.load(Ordering::Relaxed) != before {
                continue;
            }
            let site = totals
                .sites
                .get(usize::from(current))
                .copied()
                .flatten()
                .map(|s| s.site);
            let mut ongoing = now.saturating_sub(since);
            if state != State::Busy {
                if let Some(at) = site.and_then(&ready).filter(|&at| at > since && at < now) {
                    totals.wake_ns += now - at;
                    ongoing = at - since;
                }
            }
            match state {
                State::Busy => {}
                State::Idle => {
                    totals.idle_ns += ongoing;
                    totals.ongoing_idle_ns = ongoing;
                }
                State::Backpressured => {
                    totals.backpressured_ns += ongoing;
                    totals.ongoing_backpressured_ns = ongoing;
                }
            }
            if state != State::Busy {
                if let Some(Some(site)) = totals.sites.get_mut(usize::from(current)) {
                    site.wait_ns += ongoing;
                }
            }
            return totals;
        }
    }

    /// Any thread: records counted so far (in, out).
    pub fn records(&self) -> (u64, u64) {
        (
            self.records_in.load(Ordering::Relaxed),
            self.records_out.load(Ordering::Relaxed),
        )
    }

    /// Recorder: takes the longest completed (idle, backpressured) stalls since the last call.
    pub fn take_max_stalls(&self) -> (u64, u64) {
        (
            self.max_idle_stall_ns.swap(0, Ordering::Relaxed),
            self.max_backpressured_stall_ns.swap(0, Ordering::Relaxed),
        )
    }

    /// Sequence-lock write section. Only the owner thread calls it, so no two writers race.
    fn write(&self, update: impl FnOnce(&Self)) {
        let seq = self.seq.load(Ordering::Relaxed);
        self.seq.store(seq.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        update(self);
        self.seq.store(seq.wrapping_add(2), Ordering::Release);
    }
}

/// Owner thread: adds `n` to a single-writer counter (a load and a store, saturating).
fn add(cell: &AtomicU64, n: u64) {
    let v = cell.load(Ordering::Relaxed);
    cell.store(v.saturating_add(n), Ordering::Relaxed);
}

fn role_code(role: EndpointRole) -> u8 {
    match role {
        EndpointRole::Sender => 0,
        EndpointRole::Receiver => 1,
    }
}

fn role_of(code: u8) -> EndpointRole {
    if code == 1 {
        EndpointRole::Receiver
    } else {
        EndpointRole::Sender
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stalls_add_up_and_ongoing_stall_counts_until_now() {
        let a = Account::default();
        a.enter(State::Idle, 100, None);
        a.exit(at(250));
        a.enter(State::Backpressured, 300, None);
        let t = a.totals(400);
        assert_eq!(t.idle_ns, 150);
        assert_eq!(t.backpressured_ns, 100);
        assert_eq!(t.ongoing_backpressured_ns, 100);
        a.exit(at(500));
        let t = a.totals(900);
        assert_eq!((t.idle_ns, t.backpressured_ns), (150, 200));
        assert_eq!(a.take_max_stalls(), (150, 200));
        assert_eq!(a.take_max_stalls(), (0, 0));
    }

    #[test]
    fn exit_without_enter_changes_nothing() {
        let a = Account::default();
        a.exit(at(1_000));
        assert_eq!(a.totals(2_000), Totals::default());
    }

    fn at(now: u64) -> WaitEnd {
        WaitEnd {
            now,
            ..WaitEnd::default()
        }
    }

    #[test]
    fn wake_latency_is_busy_and_sites_add_up() {
        let a = Account::default();
        let input = WaitSite {
            channel: 7,
            role: EndpointRole::Receiver,
        };
        a.enter(State::Idle, 1_000, Some(input));
        // Ready at 1_600, running again at 2_000: 400 ns waiting for a CPU.
        a.exit(WaitEnd {
            now: 2_000,
            ready_ns: Some(1_600),
            cpu_ns: 50,
        });
        let t = a.totals(2_000);
        assert_eq!((t.idle_ns, t.wake_ns, t.blocked_cpu_ns), (600, 400, 50));
        let site = t.sites[0].expect("site recorded");
        assert_eq!((site.site, site.wait_ns, site.waits), (input, 600, 1));
        // A ready time from before the wait started is stale: no wake-up latency.
        a.enter(State::Idle, 3_000, Some(input));
        a.exit(WaitEnd {
            now: 3_500,
            ready_ns: Some(2_900),
            cpu_ns: 0,
        });
        // A wait in progress counts for its site up to the reading.
        a.enter(State::Idle, 4_000, Some(input));
        let t = a.totals(4_100);
        assert_eq!((t.idle_ns, t.wake_ns), (600 + 500 + 100, 400));
        assert_eq!(t.sites[0].unwrap().wait_ns, 1_200);
        assert!(t.sites[1].is_none());
    }

    #[test]
    fn sites_beyond_the_table_still_count_as_idle() {
        let a = Account::default();
        for channel in 0..(MAX_WAIT_CHANNELS as u32 + 3) {
            let site = WaitSite {
                channel,
                role: EndpointRole::Sender,
            };
            a.enter(State::Backpressured, u64::from(channel) * 10, Some(site));
            a.exit(at(u64::from(channel) * 10 + 5));
        }
        let t = a.totals(1_000);
        assert_eq!(t.backpressured_ns, 5 * (MAX_WAIT_CHANNELS as u64 + 3));
        let attributed: u64 = t.sites.iter().flatten().map(|s| s.wait_ns).sum();
        assert_eq!(attributed, 5 * MAX_WAIT_CHANNELS as u64);
    }
}
