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
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::clock;
use crate::subtask::{with_current_cell, SubtaskCell};

/// Distinct operator names counted per subtask; the time of further operators is counted under
/// [`OTHER_OPERATOR`].
pub const MAX_OPERATORS: usize = 64;
/// Name under which the operators beyond [`MAX_OPERATORS`] are counted.
pub const OTHER_OPERATOR: &str = "other";
/// Operator id of "other".
pub(crate) const OTHER_ID: u32 = MAX_OPERATORS as u32;
/// Value of [`Operators::current`] outside every operator scope.
pub(crate) const NO_OPERATOR: u32 = u32::MAX;
/// Nesting depth tracked; deeper scopes do nothing (their time stays with the enclosing one).
const MAX_NESTING: usize = 8;

/// The operators of one subtask: names, cumulative busy time and call counts. Allocated on the
/// first operator scope of the subtask; written only by its thread, read by the recorder.
#[derive(Debug)]
pub(crate) struct Operators {
    /// Interned names; index = operator id. The owner pushes, the recorder copies.
    pub names: Mutex<Vec<Arc<str>>>,
    /// Cumulative busy ns per operator id (index [`OTHER_ID`] = "other").
    busy_ns: Box<[AtomicU64]>,
    /// Cumulative scope entries per operator id (index [`OTHER_ID`] = "other").
    calls: Box<[AtomicU64]>,
}

/// The cumulative counters of one operator, as the recorder reads them.
#[derive(Debug, Clone)]
pub(crate) struct OperatorReading {
    /// Operator id within the subtask.
    pub id: u32,
    pub name: Arc<str>,
    /// Busy ns so far.
    pub busy_ns: u64,
    /// Scope entries so far.
    pub calls: u64,
}

impl Operators {
    fn new() -> Self {
        let counters = || (0..=MAX_OPERATORS).map(|_| AtomicU64::new(0)).collect();
        Operators {
            names: Mutex::new(Vec::new()),
            busy_ns: counters(),
            calls: counters(),
        }
    }

    /// Recorder: the cumulative busy ns and calls of every operator used so far ("other" last,
    /// when used).
    pub fn read(&self) -> Vec<OperatorReading> {
        let names = self.names.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let reading = |id: usize, name: Arc<str>| OperatorReading {
            id: id as u32,
            name,
            busy_ns: self.busy_ns[id].load(Ordering::Relaxed),
            calls: self.calls[id].load(Ordering::Relaxed),
        };
        let mut out: Vec<OperatorReading> = names
            .into_iter()
            .enumerate()
            .map(|(id, name)| reading(id, name))
            .collect();
        let other = reading(MAX_OPERATORS, Arc::from(OTHER_OPERATOR));
        if other.busy_ns > 0 || other.calls > 0 {
            out.push(other);
        }
        out
    }

    /// Owner: adds `ns` to operator `id`. A load and a store: only the owner writes.
    fn add(&self, id: u32, ns: u64) {
        if let Some(cell) = self.busy_ns.get(id as usize) {
            cell.store(
                cell.load(Ordering::Relaxed).saturating_add(ns),
                Ordering::Relaxed,
            );
        }
    }

    /// Owner: counts one entry into a scope of operator `id`. A load and a store: only the owner
    /// writes.
    fn count_call(&self, id: u32) {
        if let Some(cell) = self.calls.get(id as usize) {
            cell.store(
                cell.load(Ordering::Relaxed).wrapping_add(1),
                Ordering::Relaxed,
            );
        }
    }
}

/// One open operator scope on the owner's stack: its id, and when its current segment started
/// (time and blocked total then).
#[derive(Debug, Clone, Copy)]
struct Frame {
    id: u32,
    since_ns: u64,
    blocked_at: u64,
}

/// The owner thread's side of the operators of its registration.
#[derive(Debug, Default)]
pub(crate) struct OwnerOperators {
    /// Interned names (the owner's copy, for lookup without a lock).
    names: Vec<Arc<str>>,
    stack: Vec<Frame>,
}

impl OwnerOperators {
    fn id_of(&mut self, table: &Operators, name: &str) -> u32 {
        if let Some(id) = self.names.iter().position(|n| &**n == name) {
            return id as u32;
        }
        if self.names.len() >= MAX_OPERATORS {
            return OTHER_ID;
        }
        let name: Arc<str> = Arc::from(name);
        self.names.push(Arc::clone(&name));
        table
            .names
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(name);
        (self.names.len() - 1) as u32
    }

    /// Credits the innermost open operator with its current segment, up to `now`.
    fn credit_top(&mut self, table: &Operators, now: u64, blocked: u64) {
        if let Some(top) = self.stack.last() {
            let wall = now.saturating_sub(top.since_ns);
            let blocked = blocked.saturating_sub(top.blocked_at);
            table.add(top.id, wall.saturating_sub(blocked));
        }
    }
}

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
        if owner.stack.len() >= MAX_NESTING {
            return;
        }
        let table = cell.operators.get_or_init(|| Box::new(Operators::new()));
        let id = owner.id_of(table, name);
        table.count_call(id);
        let now = clock::now_ns();
        let blocked = blocked_total(cell, now);
        owner.credit_top(table, now, blocked);
        owner.stack.push(Frame {
            id,
            since_ns: now,
            blocked_at: blocked,
        });
        cell.current_operator.store(id, Ordering::Relaxed);
        scope.subtask = Some(cell.id);
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
            let blocked = blocked_total(cell, now);
            owner.credit_top(table, now, blocked);
            owner.stack.pop();
            match owner.stack.last_mut() {
                Some(parent) => {
                    parent.since_ns = now;
                    parent.blocked_at = blocked;
                    cell.current_operator.store(parent.id, Ordering::Relaxed);
                }
                None => cell.current_operator.store(NO_OPERATOR, Ordering::Relaxed),
            }
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

/// Current-operator slot of a subtask, read by the sampling signal handler.
#[derive(Debug)]
pub(crate) struct CurrentOperator(AtomicU32);

impl Default for CurrentOperator {
    fn default() -> Self {
        CurrentOperator(AtomicU32::new(NO_OPERATOR))
    }
}

impl CurrentOperator {
    pub fn store(&self, id: u32, order: Ordering) {
        self.0.store(id, order);
    }

    /// The operator the subtask runs now, `None` outside every operator scope. A relaxed atomic
    /// load: async-signal-safe.
    pub fn load(&self) -> Option<u32> {
        let id = self.0.load(Ordering::Relaxed);
        (id != NO_OPERATOR).then_some(id)
    }
}
