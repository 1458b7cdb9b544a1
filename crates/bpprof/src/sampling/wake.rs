//! How a signal handler wakes the sampler thread early: the sampler sleeps longer than a running
//! thread may need to fill half its sample buffer (at high rates, and while it backs off because
//! no subtask is busy), and the first handler that finds its buffer half full wakes it, so that
//! no sample is lost to a full buffer, and the sampler wakes no more often than the buffers need.
//!
//! The sampler sleeps on a futex word; the handler side is one relaxed load when the sampler is
//! not sleeping, else one swap and one `futex` wake system call (async-signal-safe: a plain
//! system call on memory that lives for the whole process), once per sleep.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

/// The futex word the sampler sleeps on; changed by every wake.
static WORD: AtomicU32 = AtomicU32::new(0);

/// Set while the sampler sleeps, until a handler cuts the sleep short.
static SLEEPING: AtomicBool = AtomicBool::new(false);

/// Sampler thread: sleeps for `duration`, or until a handler wakes it.
pub(crate) fn sleep(duration: Duration) {
    let word = WORD.load(Ordering::Acquire);
    SLEEPING.store(true, Ordering::SeqCst);
    let timeout = libc::timespec {
        tv_sec: duration.as_secs() as libc::time_t,
        tv_nsec: libc::c_long::from(duration.subsec_nanos() as i32),
    };
    // SAFETY: FUTEX_WAIT on a static word with a valid relative timeout; it returns at once
    // when the word changed since it was read (a wake came in between), on a wake, on the
    // timeout or on a signal, all of which end the sleep.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            WORD.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            word,
            &timeout as *const libc::timespec,
        );
    }
    SLEEPING.store(false, Ordering::SeqCst);
}

/// Signal handler: wakes the sampler if it sleeps (once per sleep).
#[inline]
pub(crate) fn wake_sampler() {
    if SLEEPING.load(Ordering::Relaxed) && SLEEPING.swap(false, Ordering::SeqCst) {
        WORD.fetch_add(1, Ordering::Release);
        // SAFETY: FUTEX_WAKE on a static word: a plain system call, async-signal-safe.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                WORD.as_ptr(),
                libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
                1,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn a_wake_ends_a_sleep_and_an_unwoken_sleep_runs_its_time() {
        let start = Instant::now();
        sleep(Duration::from_millis(30));
        assert!(
            start.elapsed() >= Duration::from_millis(25),
            "{:?}",
            start.elapsed()
        );

        let sleeper = std::thread::spawn(|| {
            let start = Instant::now();
            sleep(Duration::from_secs(20));
            start.elapsed()
        });
        // Wake it once it sleeps (a wake before the sleep began is not lost either: the word
        // changed, so the wait returns at once; but the flag is only set by the sleeper).
        let deadline = Instant::now() + Duration::from_secs(10);
        while !SLEEPING.load(Ordering::SeqCst) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        wake_sampler();
        let slept = sleeper.join().expect("sleeper panicked");
        assert!(slept < Duration::from_secs(10), "woken after {slept:?}");
    }
}
