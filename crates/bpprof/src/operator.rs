//! Operator chains: several operators (Parse -> Filter -> Enrich) running in one subtask thread.
//!
//! An operator scope ([`operator`], [`enter_operator`]) marks which operator the calling subtask is
//! running. The subtask's busy time is split per operator: the time inside the scope minus the
//! idle and backpressured time inside it (blocking inside an operator stays idle or
//! backpressured). Nested scopes: the innermost operator gets the time.
//!
//! Each scope entry is also counted for its operator ("calls": for a per-record operator, the
//! records it processed).
//!
//! Cost: one monotonic clock read when a scope is entered and one when it exits, plus a few
//! relaxed atomic loads and stores on counters only the subtask's own thread writes (the call
//! count is one more load and store, no clock read). The first use
//! of each operator name by a subtask interns it (a short mutex taken at most
//! [`MAX_OPERATORS`] times per subtask); later uses compare the name with the at most 64 known
//! ones, without a lock.

use std::marker::PhantomData;
use std::sync::atomic::Ordering;

use crate::cell::SubtaskCell;
use crate::clock;
use crate::operator_table::{Operators, NO_OPERATOR};
pub use crate::operator_table::{MAX_OPERATORS, OTHER_OPERATOR};
use crate::subtask::with_current_cell;

/// Idle plus backpressured time of the subtask so far (a stall in progress counted up to `now`).
fn blocked_total(cell: &SubtaskCell, now: u64) -> u64 {
    let t = cell.account.totals(now);
    t.idle_ns.saturating_add(t.backpressured_ns)
}

/// An open operator scope: the calling subtask runs operator `name` until it drops.
///
/// Created by [`enter_operator`]; the closure form [`operator`] is usually simpler.
#[must_use = "the operator scope ends as soon as it is dropped"]
#[derive(Debug)]
pub struct OperatorScope {
    /// Registration id of the subtask whose scope this is; `None` when it accounts nothing.
    subtask: Option<u32>,
    _not_send: PhantomData<*const ()>,
}

/// Marks the calling subtask as running operator `name` (one operator of a chain of several
/// running in the same thread) until the returned scope drops.
///
/// The subtask's busy time inside the scope is credited to `name`; time blocked in an instrumented
/// channel or a blocking scope inside it stays idle or backpressured. Scopes nest: the innermost
/// operator gets the time. A subtask counts at most [`MAX_OPERATORS`] distinct names; the time of
/// further ones is counted under [`OTHER_OPERATOR`]. Each call is counted for `name` (nested
/// scopes for their own operator; scopes nested deeper than 8 levels are not counted), so the
/// recording says how many records (or batches) each operator processed. On a thread that is not
/// registered it does nothing.
///
/// Cost: two monotonic clock reads per scope (entry and exit).
pub fn enter_operator(name: &str) -> OperatorScope {
    let mut scope = OperatorScope {
        subtask: None,
        _not_send: PhantomData,
    };
    with_current_cell(|cell, owner| {
        let table = cell.operators.get_or_init(|| Box::new(Operators::new()));
        let now = clock::now_ns();
        if let Some(id) = owner.open(table, name, now, blocked_total(cell, now)) {
            cell.current_operator().store(id, Ordering::Relaxed);
            scope.subtask = Some(cell.id);
        }
    });
    scope
}

impl Drop for OperatorScope {
    fn drop(&mut self) {
        let Some(subtask) = self.subtask else { return };
        with_current_cell(|cell, owner| {
            if cell.id != subtask {
                return;
            }
            let Some(table) = cell.operators.get() else {
                return;
            };
            let now = clock::now_ns();
            let running = owner.close(table, now, blocked_total(cell, now));
            cell.current_operator()
                .store(running.unwrap_or(NO_OPERATOR), Ordering::Relaxed);
        });
    }
}

/// Runs `f` as operator `name` of the calling subtask (see [`enter_operator`]).
///
/// ```
/// let worker = std::thread::spawn(|| {
///     let _subtask = bpprof::register("Chain", 0, 1);
///     let parsed = bpprof::operator("Parse", || "42".parse::<u64>().unwrap());
///     bpprof::operator("Enrich", || parsed * 2)
/// });
/// assert_eq!(worker.join().unwrap(), 84);
/// ```
pub fn operator<R>(name: &str, f: impl FnOnce() -> R) -> R {
    let _scope = enter_operator(name);
    f()
}
