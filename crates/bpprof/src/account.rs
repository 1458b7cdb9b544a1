//! The accounting of one subtask: cumulative idle and backpressured time, written only by the
//! subtask's own thread and read by the recorder through a sequence lock.
//!
//! Only transitions into and out of a blocking state read the clock (Flink's rule: the
//! non-blocking path costs no clock read). Busy time is never stored: it is the wall time minus
//! idle and backpressured, derived when the recorder reads.

use std::sync::atomic::{fence, AtomicU64, AtomicU8, Ordering};

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

/// Cumulative totals of one subtask at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Totals {
    pub idle_ns: u64,
    pub backpressured_ns: u64,
    /// Length so far of the stall in progress, and its kind, at the instant of the reading.
    pub ongoing_idle_ns: u64,
    pub ongoing_backpressured_ns: u64,
}

/// Single-writer accounting cells. All fields are atomics so a concurrent reader is never UB; the
/// sequence number makes a reader's view of (state, since, totals) consistent.
#[derive(Debug, Default)]
pub(crate) struct Account {
    seq: AtomicU64,
    state: AtomicU8,
    since_ns: AtomicU64,
    idle_ns: AtomicU64,
    backpressured_ns: AtomicU64,
    /// Longest completed stalls since the recorder last took them.
    max_idle_stall_ns: AtomicU64,
    max_backpressured_stall_ns: AtomicU64,
    records_in: AtomicU64,
    records_out: AtomicU64,
}

impl Account {
    /// Owner thread: enters a blocking state at `now`.
    pub fn enter(&self, state: State, now: u64) {
        self.write(|a| {
            a.state.store(state as u8, Ordering::Relaxed);
            a.since_ns.store(now, Ordering::Relaxed);
        });
    }

    /// Owner thread: leaves the blocking state at `now`, adding the stall to its total.
    pub fn exit(&self, now: u64) {
        let state = State::from_u8(self.state.load(Ordering::Relaxed));
        let stall = now.saturating_sub(self.since_ns.load(Ordering::Relaxed));
        let (total, max) = match state {
            State::Busy => return,
            State::Idle => (&self.idle_ns, &self.max_idle_stall_ns),
            State::Backpressured => (&self.backpressured_ns, &self.max_backpressured_stall_ns),
        };
        self.write(|a| {
            let sum = total.load(Ordering::Relaxed).saturating_add(stall);
            total.store(sum, Ordering::Relaxed);
            a.state.store(State::Busy as u8, Ordering::Relaxed);
            a.since_ns.store(now, Ordering::Relaxed);
        });
        max.fetch_max(stall, Ordering::Relaxed);
    }

    /// Owner thread: counts records received. A load and a store, no read-modify-write: only the
    /// owner writes.
    #[inline]
    pub fn add_records_in(&self, n: u64) {
        let v = self.records_in.load(Ordering::Relaxed);
        self.records_in.store(v.wrapping_add(n), Ordering::Relaxed);
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
        loop {
            let before = self.seq.load(Ordering::Acquire);
            if before & 1 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let state = State::from_u8(self.state.load(Ordering::Relaxed));
            let since = self.since_ns.load(Ordering::Relaxed);
            let mut totals = Totals {
                idle_ns: self.idle_ns.load(Ordering::Relaxed),
                backpressured_ns: self.backpressured_ns.load(Ordering::Relaxed),
                ..Totals::default()
            };
            fence(Ordering::Acquire);
            if self.seq.load(Ordering::Relaxed) != before {
                continue;
            }
            let ongoing = now.saturating_sub(since);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stalls_add_up_and_ongoing_stall_counts_until_now() {
        let a = Account::default();
        a.enter(State::Idle, 100);
        a.exit(250);
        a.enter(State::Backpressured, 300);
        let t = a.totals(400);
        assert_eq!(t.idle_ns, 150);
        assert_eq!(t.backpressured_ns, 100);
        assert_eq!(t.ongoing_backpressured_ns, 100);
        a.exit(500);
        let t = a.totals(900);
        assert_eq!((t.idle_ns, t.backpressured_ns), (150, 200));
        assert_eq!(a.take_max_stalls(), (150, 200));
        assert_eq!(a.take_max_stalls(), (0, 0));
    }

    #[test]
    fn exit_without_enter_changes_nothing() {
        let a = Account::default();
        a.exit(1_000);
        assert_eq!(a.totals(2_000), Totals::default());
    }
}
