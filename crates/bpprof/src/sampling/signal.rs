//! Installing the sampling signal handler and queueing the signal to one thread.

use std::sync::atomic::{AtomicI32, Ordering};

use super::handler::on_sample_signal;

/// The signal number the handler is installed for (0 = not installed yet).
static INSTALLED_SIGNAL: AtomicI32 = AtomicI32::new(0);

/// The default sampling signal: `SIGRTMIN + 4` — a real-time signal, so that SIGPROF stays free
/// for pprof-rs and other profilers, and above the ones glibc reserves.
pub(crate) fn default_signal() -> i32 {
    libc::SIGRTMIN() + 4
}

/// Why sampling could not start.
#[derive(Debug, thiserror::Error)]
pub enum SamplingError {
    /// The signal is not a real-time signal.
    #[error("sampling signal {0} is not a real-time signal (SIGRTMIN..=SIGRTMAX); pick one in that range")]
    NotRealTime(i32),
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
    if !(libc::SIGRTMIN()..=libc::SIGRTMAX()).contains(&signal) {
        return Err(SamplingError::NotRealTime(signal));
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

/// The kernel's `siginfo_t` layout for a queued signal on 64-bit Linux (`_rt` member).
#[repr(C)]
struct QueuedSigInfo {
    signo: libc::c_int,
    errno: libc::c_int,
    code: libc::c_int,
    _pad: libc::c_int,
    pid: libc::pid_t,
    uid: libc::uid_t,
    value: *mut libc::c_void,
    _rest: [u8; 128 - 32],
}

/// Queues `signal` to thread `tid` of this process, carrying `value`. Returns false when the
/// kernel refused (the thread is gone, or the queue of pending signals is full).
pub(crate) fn queue_to_thread(signal: i32, tid: u32, value: *const libc::c_void) -> bool {
    // SAFETY: getpid/getuid are plain system calls.
    let (pid, uid) = unsafe { (libc::getpid(), libc::getuid()) };
    let info = QueuedSigInfo {
        signo: signal,
        errno: 0,
        code: libc::SI_QUEUE,
        _pad: 0,
        pid,
        uid,
        value: value as *mut libc::c_void,
        _rest: [0; 96],
    };
    // SAFETY: `info` is a fully initialised 128-byte siginfo as the system call expects.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_rt_tgsigqueueinfo,
            pid,
            tid as libc::pid_t,
            signal,
            &info as *const QueuedSigInfo,
        )
    };
    rc == 0
}
