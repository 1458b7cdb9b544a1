//! The operators of one subtask as data: interned names, cumulative busy time and call counts
//! (written by the subtask's thread, read by the recorder), the owner thread's stack of open
//! scopes, and the current operator that samples are tagged with. The scopes that update them
//! are in `operator`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Distinct operator names counted per subtask; the time of further operators is counted under
/// [`OTHER_OPERATOR`].
pub const MAX_OPERATORS: usize = 64;
/// Name under which the operators beyond [`MAX_OPERATORS`] are counted.
pub const OTHER_OPERATOR: &str = "other";
/// Operator id of "other".
pub(crate) const OTHER_ID: u32 = MAX_OPERATORS as u32;
/// The current operator (see `sampling::CurrentOperator`) outside every operator scope.
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
    pub fn new() -> Self {
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
    /// Opens a scope of operator `name` at `now` (when the subtask's idle plus backpressured
    /// total was `blocked`): the enclosing operator is credited up to now, the call counted.
    /// Returns the operator's id, or `None` when scopes nest deeper than [`MAX_NESTING`] (the
    /// scope then counts nothing).
    pub fn open(&mut self, table: &Operators, name: &str, now: u64, blocked: u64) -> Option<u32> {
        if self.stack.len() >= MAX_NESTING {
            return None;
        }
        let id = self.id_of(table, name);
        table.count_call(id);
        self.credit_top(table, now, blocked);
        self.stack.push(Frame {
            id,
            since_ns: now,
            blocked_at: blocked,
        });
        Some(id)
    }

    /// Closes the innermost scope at `now`, crediting it; returns the operator that runs again
    /// (the enclosing one), if any.
    pub fn close(&mut self, table: &Operators, now: u64, blocked: u64) -> Option<u32> {
        self.credit_top(table, now, blocked);
        self.stack.pop();
        let parent = self.stack.last_mut()?;
        parent.since_ns = now;
        parent.blocked_at = blocked;
        Some(parent.id)
    }

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
