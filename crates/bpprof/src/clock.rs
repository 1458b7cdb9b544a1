//! Clocks and thread facts read from the kernel: the monotonic clock, per-thread CPU clocks,
//! kernel thread ids and the scheduler's run-queue delay.

use std::io::Read;

/// Nanoseconds on the monotonic clock (`CLOCK_MONOTONIC`). Comparable across threads.
pub(crate) fn now_ns() -> u64 {
    read_clock(libc::CLOCK_MONOTONIC).unwrap_or(0)
}

/// Reads a clock as nanoseconds, or `None` when the kernel refuses (for example the CPU clock of a
/// thread that has exited).
pub(crate) fn read_clock(clock: libc::clockid_t) -> Option<u64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; clock_gettime has no other preconditions.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    (rc == 0).then(|| (ts.tv_sec as u64).saturating_mul(1_000_000_000) + ts.tv_nsec as u64)
}

/// The CPU-time clock of the calling thread, readable from other threads while it lives.
pub(crate) fn current_thread_cpu_clock() -> Option<libc::clockid_t> {
    let mut clock: libc::clockid_t = 0;
    // SAFETY: pthread_self() is always a valid handle for the calling thread and `clock` is writable.
    let rc = unsafe { libc::pthread_getcpuclockid(libc::pthread_self(), &mut clock) };
    (rc == 0).then_some(clock)
}

/// The kernel thread id (`gettid`) of the calling thread: what `tgkill` and `/proc/self/task` use.
pub(crate) fn current_tid() -> u32 {
    // By system call: glibc's `gettid` wrapper needs glibc 2.30 (RHEL 8 has 2.28).
    // SAFETY: SYS_gettid has no preconditions and cannot fail.
    unsafe { libc::syscall(libc::SYS_gettid) as u32 }
}

/// Nanoseconds the thread `tid` of this process spent runnable but waiting for a CPU, from
/// `/proc/self/task/<tid>/schedstat` (second field). `None` when the kernel does not provide it.
pub(crate) fn runqueue_delay_ns(tid: u32) -> Option<u64> {
    let mut buf = [0u8; 96];
    let mut file = std::fs::File::open(format!("/proc/self/task/{tid}/schedstat")).ok()?;
    let n = file.read(&mut buf).ok()?;
    let text = std::str::from_utf8(&buf[..n]).ok()?;
    text.split_ascii_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_clock_advances_with_work_and_runqueue_is_readable() {
        // Spins until the thread's CPU clock shows 5 ms of work, for at most 10 s of wall time
        // (a loaded machine may give this thread little CPU, never none for that long).
        let clock = current_thread_cpu_clock().expect("cpu clock");
        let before = read_clock(clock).unwrap();
        let start = now_ns();
        let mut used = 0;
        while used < 5_000_000 && now_ns() - start < 10_000_000_000 {
            std::hint::black_box(0u64);
            used = read_clock(clock).unwrap() - before;
        }
        assert!(
            used >= 5_000_000,
            "cpu clock advanced only {used} ns in 10 s of spinning"
        );
        assert!(runqueue_delay_ns(current_tid()).is_some());
    }
}
