//! The sampling signal handler. Everything it does is listed here so it can be checked line by
//! line: it saves and restores errno; it handles only signals of our timers (`SI_TIMER`) whose
//! token names a live subtask of this very thread (the token table's two atomic loads, then a
//! `gettid` system call); it touches only its [`SampleTarget`] (a data-only type allocated before
//! the timer existed, which stays alive while its token is in the table), on a thread polling an
//! async subtask that subtask's operator slot (kept alive by the poll it interrupts), and
//! statics; it takes
//! no lock, allocates nothing and initialises nothing lazily. When its buffer is half full while
//! the sampler sleeps, it wakes the sampler (one `futex` system call, see `wake`).

use std::sync::atomic::Ordering;

use super::ring::RawSample;
use super::stack::{walk_frame_pointers, MAX_DEPTH};
use super::target::SampleTarget;
use super::timer::TimerSigInfo;
use super::tokens;
use super::wake;

/// The handler, installed with `SA_SIGINFO | SA_RESTART`. The kernel sends the signal when a
/// subtask's CPU-time timer expires, with the subtask's token as the signal value.
pub(crate) extern "C" fn on_sample_signal(
    _signal: libc::c_int,
    info: *mut libc::siginfo_t,
    context: *mut libc::c_void,
) {
    // SAFETY: __errno_location returns this thread's errno slot; always valid.
    let errno = unsafe { libc::__errno_location() };
    // SAFETY: as above.
    let saved_errno = unsafe { *errno };
    // SAFETY: the kernel passes a valid siginfo for an SA_SIGINFO handler; a timer signal has the
    // `_timer` layout that `TimerSigInfo` mirrors (checked at compile time), and any other
    // signal is at least as large, so reading these fields is in bounds.
    let info = unsafe { &*(info as *const TimerSigInfo) };
    if info.code == libc::SI_TIMER {
        if let Some(target) = tokens::lookup(info.value) {
            // SAFETY: gettid is a plain system call.
            if unsafe { libc::syscall(libc::SYS_gettid) } as u32 == target.tid {
                let weight = 1 + info.overrun.max(0) as u32;
                // SAFETY: we are the handler on the owning thread; `context` is the kernel's
                // ucontext.
                unsafe { take_sample(target, context, weight) };
            }
        }
    }
    // SAFETY: restores this thread's errno.
    unsafe { *errno = saved_errno };
}

/// Walks the interrupted stack into the subtask's buffer, as a sample standing for `weight`
/// periods, or counts them lost.
///
/// # Safety
/// Must run in the signal handler on `target`'s own thread, with the kernel's `context`.
unsafe fn take_sample(target: &SampleTarget, context: *mut libc::c_void, weight: u32) {
    let ring = &target.ring;
    // SAFETY: we are the owning thread's handler (the single producer).
    let Some(sample) = (unsafe { ring.next_cell() }) else {
        ring.lost.fetch_add(u64::from(weight), Ordering::Relaxed);
        return;
    };
    // SAFETY: `context` is the ucontext_t the kernel passed to this handler.
    let Some((pc, fp, sp)) = (unsafe { interrupted_registers(context) }) else {
        ring.lost.fetch_add(u64::from(weight), Ordering::Relaxed);
        return;
    };
    // SAFETY: `sample` is the producer's cell, not read by the consumer until published.
    let sample: &mut RawSample = unsafe { &mut *sample };
    sample.addrs[0] = pc;
    let lo = sp.max(target.bounds.lo);
    // SAFETY: memory between the interrupted stack pointer and the top of the thread's stack is
    // the live stack: mapped and readable.
    let depth =
        unsafe { walk_frame_pointers(fp, lo, target.bounds.hi, &mut sample.addrs[1..MAX_DEPTH]) };
    sample.depth = 1 + depth as u32;
    // Relaxed atomic loads of memory allocated at registration.
    sample.state = target.state.load(Ordering::Relaxed);
    sample.weight = weight;
    let (subtask, operator) = target.sampled_subtask_and_operator();
    sample.subtask = subtask;
    sample.operator = operator.unwrap_or(crate::operator_table::NO_OPERATOR);
    if ring.publish() {
        // Half full: wake the sampler if it sleeps (see `wake`).
        wake::wake_sampler();
    }
}

/// Program counter, frame pointer and stack pointer of the interrupted code.
///
/// # Safety
/// `context` must be the `ucontext_t` passed to a signal handler.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
unsafe fn interrupted_registers(context: *mut libc::c_void) -> Option<(usize, usize, usize)> {
    // SAFETY: guaranteed by the caller.
    let gregs = unsafe { &(*(context as *const libc::ucontext_t)).uc_mcontext.gregs };
    Some((
        gregs[libc::REG_RIP as usize] as usize,
        gregs[libc::REG_RBP as usize] as usize,
        gregs[libc::REG_RSP as usize] as usize,
    ))
}

/// Program counter, frame pointer and stack pointer of the interrupted code.
///
/// # Safety
/// `context` must be the `ucontext_t` passed to a signal handler.
#[cfg(all(target_os = "linux", target_arch = "aarch64"))]
unsafe fn interrupted_registers(context: *mut libc::c_void) -> Option<(usize, usize, usize)> {
    // SAFETY: guaranteed by the caller.
    let mcontext = unsafe { &(*(context as *const libc::ucontext_t)).uc_mcontext };
    Some((
        mcontext.pc as usize,
        mcontext.regs[29] as usize,
        mcontext.sp as usize,
    ))
}

/// Other targets: no sample (counted as lost).
///
/// # Safety
/// None needed.
#[cfg(not(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
unsafe fn interrupted_registers(_context: *mut libc::c_void) -> Option<(usize, usize, usize)> {
    None
}
