//! What a child created by `fork` inherits of bpprof, and how it starts afresh.
//!
//! A child of a multi-threaded process has only the thread that called `fork`. Whatever the
//! parent's other threads were doing is frozen mid-way in the child's copy of memory: a mutex one
//! of them held stays locked for ever (its owner does not exist to unlock it), a list one of them
//! was changing stays half-changed, and the recorder's threads (snapshot, writer, sampler) are not
//! there. Left alone, the child's `exit` would wait the whole stop timeout for a writer that does
//! not exist, ended subtasks would pile up in a registry that believes it is recording, the
//! parent's subtasks (threads of the parent) would be reported by a recorder started in the child,
//! and starting one would fail (`AlreadyRunning`) or hang on a mutex held by a parent thread.
//!
//! So `pthread_atfork` child handlers reset the process-wide state, each module its own (this
//! module is a leaf: the registry and the recorder register their handlers with [`on_fork`]). It runs in the child right
//! after `fork`, possibly while another thread of the parent held a bpprof lock at that instant,
//! and must be async-signal-safe: it takes no lock, allocates nothing, frees nothing, and only
//! stores to (lock-free) atomics:
//!
//! - the registry (behind a `std::sync::Mutex` that may be locked for ever in the child) is
//!   replaced by a spare one, allocated in the parent by the prepare handler (which runs in the
//!   forking thread before `fork`, where allocating is fine); the parent's registry is leaked in
//!   the child, never locked, read or dropped there (see `registry::reset_in_child`);
//! - the active recorder is forgotten (its pointer is an atomic, see `recorder::ACTIVE`), and the
//!   "recording" and "sampling" flags are cleared;
//! - the fork generation is bumped, so that a [`crate::Recorder`] handle the child inherited knows
//!   its threads are not in this process and touches neither them nor their locks.
//!
//! The registry's handlers are registered by its first use (a registration, a channel, a
//! declaration or a recorder start), the recorder's by the first recorder start: before that, the
//! module has no state a child could inherit. The first registration also registers the bump of
//! the fork generation.
//! `posix_spawn` and `vfork` run no atfork handlers, and need none (the child execs). A `fork`
//! made from a signal handler that interrupted bpprof on the forking thread itself is not covered.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;

/// How many `fork`s separate this process from the one bpprof was first used in.
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// The fork generation of this process: a value taken in a parent differs in its children.
pub(crate) fn generation() -> u64 {
    GENERATION.load(Ordering::Acquire)
}

/// Registers `prepare` (run in the parent, in the forking thread, before `fork`) and `child` (run
/// in the child right after `fork`, with only the forking thread: it must be async-signal-safe)
/// with `pthread_atfork`. Each caller calls it once per process (children inherit the handlers).
pub(crate) fn on_fork(prepare: Option<extern "C" fn()>, child: extern "C" fn()) {
    static GENERATION_HANDLER: Once = Once::new();
    GENERATION_HANDLER.call_once(|| register(None, bump_generation));
    register(prepare, child);
}

fn register(prepare: Option<extern "C" fn()>, child: extern "C" fn()) {
    let prepare = prepare.map(|f| f as unsafe extern "C" fn());
    // SAFETY: the handlers are `extern "C" fn()` without arguments, as pthread_atfork requires,
    // and stay valid for the life of the process.
    let rc = unsafe { libc::pthread_atfork(prepare, None, Some(child)) };
    if rc != 0 {
        // Without handlers the runtime works as before in the parent; a child is then not reset
        // (the only effect of this rare failure: ENOMEM).
        eprintln!("bpprof: cannot register fork handlers (error {rc}); a forked child inherits the parent's recorder state");
    }
}

/// In the child, right after `fork`: async-signal-safe (one atomic add).
extern "C" fn bump_generation() {
    GENERATION.fetch_add(1, Ordering::AcqRel);
}
