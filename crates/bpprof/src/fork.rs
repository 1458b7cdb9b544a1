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
//! So a `pthread_atfork` child handler resets the process-wide state. It runs in the child right
//! after `fork`, possibly while another thread of the parent held a bpprof lock at that instant,
//! and must be async-signal-safe: it takes no lock, allocates nothing, frees nothing, and only
//! stores to (lock-free) atomics:
//!
//! - the registry (behind a `std::sync::Mutex` that may be locked for ever in the child) is
//!   replaced by a spare one, allocated in the parent by the prepare handler (which runs in the
//!   forking thread before `fork`, where allocating is fine); the parent's registry is leaked in
//!   the child, never locked, read or dropped there (see [`crate::registry::reset_in_child`]);
//! - the active recorder is forgotten (its pointer is an atomic, see `recorder::ACTIVE`), and the
//!   "recording" and "sampling" flags are cleared;
//! - the fork generation is bumped, so that a [`crate::Recorder`] handle the child inherited knows
//!   its threads are not in this process and touches neither them nor their locks.
//!
//! The handlers are registered once, by the first use of the registry (a registration, a channel,
//! a declaration or a recorder start): before that, bpprof has no state a child could inherit.
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

/// Registers the fork handlers, once per process (children inherit them).
pub(crate) fn install() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        // Allocated now so that the first fork needs no allocation even in the prepare handler.
        crate::registry::prepare_fork();
        // SAFETY: both handlers are `extern "C" fn()` without arguments, as pthread_atfork
        // requires, and stay valid for the life of the process.
        let rc = unsafe { libc::pthread_atfork(Some(prepare), None, Some(child)) };
        if rc != 0 {
            // Without handlers the runtime works as before in the parent; a child is then not
            // reset (the only effect of this rare failure: ENOMEM).
            eprintln!("bpprof: cannot register fork handlers (error {rc}); a forked child inherits the parent's recorder state");
        }
    });
}

/// In the parent, in the forking thread, before `fork`: make sure a spare registry exists.
extern "C" fn prepare() {
    crate::registry::prepare_fork();
}

/// In the child, right after `fork`, with only the forking thread: async-signal-safe resets.
extern "C" fn child() {
    GENERATION.fetch_add(1, Ordering::AcqRel);
    crate::registry::reset_in_child();
    crate::recorder::reset_in_child();
    crate::sampling::set_active(false);
}
