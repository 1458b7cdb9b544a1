//! Installing the sampling signal handler, and checking that it is still installed.

use std::sync::atomic::{AtomicI32, Ordering};

use super::handler::on_sample_signal;

/// The signal number the handler is installed for (0 = not installed yet).
static INSTALLED_SIGNAL: AtomicI32 = AtomicI32::new(0);

/// The default sampling signal: `SIGURG`. Its default action is to be ignored, so a host that
/// resets it to `SIG_DFL` (or a signal that arrives after sampling stopped) cannot kill the
/// process; SIGPROF stays free for pprof-rs and other profilers. Programs do not use SIGURG
/// except for out-of-band socket data; choose another with `BPPROF_SAMPLE_SIGNAL` if yours does.
pub(crate) fn default_signal() -> i32 {
    libc::SIGURG
}

/// Whether `signal` may carry samples: one whose default action is to be ignored (`SIGURG`,
/// `SIGWINCH`), or a real-time signal.
fn is_allowed(signal: i32) -> bool {
    signal == libc::SIGURG
        || signal == libc::SIGWINCH
        || (libc::SIGRTMIN()..=libc::SIGRTMAX()).contains(&signal)
}

/// Why sampling could not start.
#[derive(Debug, thiserror::Error)]
pub enum SamplingError {
    /// The signal cannot carry samples.
    #[error("sampling signal {0} is neither SIGURG, SIGWINCH nor a real-time signal (SIGRTMIN..=SIGRTMAX); pick one of those")]
    NotAllowed(i32),
    /// This target has no CPU-time timers bpprof can use.
    #[error("stack sampling needs 64-bit Linux; set BPPROF_SAMPLE_HZ=0 to record without it")]
    Unsupported,
    /// The handler was already installed for another signal in this process.
    #[error("the sampling handler is already installed for signal {installed}; use the same signal ({requested} was asked for)")]
    OtherSignal {
        /// The signal already in use.
        installed: i32,
        /// The signal requested now.
        requested: i32,
    },
    /// The signal already has a handler that is not bpprof's.
    #[error("signal {0} already has a handler in this process; choose another sampling signal (BPPROF_SAMPLE_SIGNAL)")]
    InUse(i32),
    /// sigaction failed.
    #[error("cannot install the sampling signal handler: {0}")]
    Install(#[source] std::io::Error),
}

/// Installs the handler for `signal`, once per process. It is never uninstalled: restoring the
/// default action while a signal may still be in flight would kill the process.
pub(crate) fn install(signal: i32) -> Result<(), SamplingError> {
    if cfg!(not(all(target_os = "linux", target_pointer_width = "64"))) {
        return Err(SamplingError::Unsupported);
    }
    if !is_allowed(signal) {
        return Err(SamplingError::NotAllowed(signal));
    }
    let installed = INSTALLED_SIGNAL.load(Ordering::Acquire);
    if installed == signal {
        return Ok(());
    }
    if installed != 0 {
        return Err(SamplingError::OtherSignal {
            installed,
            requested: signal,
        });
    }
    // SAFETY: `old` and `action` are valid sigaction structs; the handler has the SA_SIGINFO
    // signature; the mask is initialised by sigemptyset.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(signal, std::ptr::null(), &mut old) != 0 {
            return Err(SamplingError::Install(std::io::Error::last_os_error()));
        }
        if old.sa_sigaction != libc::SIG_DFL && old.sa_sigaction != libc::SIG_IGN {
            return Err(SamplingError::InUse(signal));
        }
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sample_signal as *const () as usize;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        if libc::sigaction(signal, &action, std::ptr::null_mut()) != 0 {
            return Err(SamplingError::Install(std::io::Error::last_os_error()));
        }
    }
    INSTALLED_SIGNAL.store(signal, Ordering::Release);
    Ok(())
}

/// Whether bpprof's handler is still the one installed for `signal` (a host may replace it or
/// reset it to `SIG_DFL` at any time).
pub(crate) fn handler_is_ours(signal: i32) -> bool {
    // SAFETY: `old` is a valid sigaction to write into; a null new action only queries.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(signal, std::ptr::null(), &mut old) == 0
            && old.sa_sigaction == on_sample_signal as *const () as usize
    }
}

/// Whether thread `tid` of this process blocks `signal` now (its `SigBlk` in
/// `/proc/self/task/TID/status`); `false` when that cannot be read.
pub(crate) fn thread_blocks(tid: u32, signal: i32) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/self/task/{tid}/status")) else {
        return false;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigBlk:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .is_some_and(|mask| (1..=64).contains(&signal) && mask & (1 << (signal - 1)) != 0)
}
