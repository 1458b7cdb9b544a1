//! Per-thread CPU-time timers: the kernel signals a subtask's thread each time it has used
//! another sampling period of CPU. A thread that is blocked (in a system call, on a lock, asleep)
//! uses no CPU, so it is never interrupted by them: no host system call fails with `EINTR`
//! because of sampling. The timer's signal carries a token (see `tokens`) and the count of
//! periods it stands for (the kernel checks timers at its tick, so above the tick rate one signal
//! stands for several periods: `si_overrun`).

use std::io;

/// A POSIX timer on one thread's CPU clock.
#[derive(Debug)]
pub(crate) struct CpuTimer(libc::timer_t);

// SAFETY: a timer id is a plain kernel handle; any thread may arm or delete it.
unsafe impl Send for CpuTimer {}

impl CpuTimer {
    /// Creates a timer on `cpu_clock` (the thread's CPU clock) that sends `signal` with `token`
    /// as its value to thread `tid` every `period_ns` of that thread's CPU time.
    pub fn start(
        cpu_clock: libc::clockid_t,
        tid: u32,
        signal: i32,
        token: u64,
        period_ns: u64,
    ) -> io::Result<CpuTimer> {
        // SAFETY: a zeroed sigevent is valid; the fields used by SIGEV_THREAD_ID are set below.
        let mut event: libc::sigevent = unsafe { std::mem::zeroed() };
        event.sigev_notify = libc::SIGEV_THREAD_ID;
        event.sigev_signo = signal;
        event.sigev_value = libc::sigval {
            sival_ptr: token as usize as *mut libc::c_void,
        };
        event.sigev_notify_thread_id = tid as libc::c_int;
        let mut id: libc::timer_t = std::ptr::null_mut();
        // SAFETY: `event` and `id` are valid for the call.
        if unsafe { libc::timer_create(cpu_clock, &mut event, &mut id) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let timer = CpuTimer(id);
        let period = libc::timespec {
            tv_sec: (period_ns / 1_000_000_000) as libc::time_t,
            tv_nsec: (period_ns % 1_000_000_000) as libc::c_long,
        };
        let spec = libc::itimerspec {
            it_interval: period,
            it_value: period,
        };
        // SAFETY: `timer.0` is the timer just created; `spec` is valid.
        if unsafe { libc::timer_settime(timer.0, 0, &spec, std::ptr::null_mut()) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(timer)
    }
}

impl Drop for CpuTimer {
    fn drop(&mut self) {
        // SAFETY: deletes the timer this value owns, once.
        unsafe { libc::timer_delete(self.0) };
    }
}

/// The kernel's `siginfo_t` for a POSIX timer signal (its `_timer` member) on 64-bit Linux.
#[repr(C)]
pub(crate) struct TimerSigInfo {
    pub signo: libc::c_int,
    pub errno: libc::c_int,
    pub code: libc::c_int,
    _pad: libc::c_int,
    pub timer_id: libc::c_int,
    /// Expirations beyond the one this signal reports.
    pub overrun: libc::c_int,
    /// The timer's `sigev_value`: our token.
    pub value: u64,
}

// The layout the handler relies on (include/uapi/asm-generic/siginfo.h, 64-bit).
#[cfg(target_pointer_width = "64")]
const _: () = {
    assert!(std::mem::offset_of!(TimerSigInfo, code) == 8);
    assert!(std::mem::offset_of!(TimerSigInfo, overrun) == 20);
    assert!(std::mem::offset_of!(TimerSigInfo, value) == 24);
    assert!(std::mem::size_of::<TimerSigInfo>() <= std::mem::size_of::<libc::siginfo_t>());
};
