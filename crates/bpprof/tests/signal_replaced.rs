//! A host that takes the sampling signal back (resets it to `SIG_DFL`, then installs a handler
//! of its own) mid-recording: the process survives, sampling stops within about one sampler
//! visit, and the recording says why. Alone in its binary: it changes the process's signal
//! dispositions for good.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bpprof_format::ReadWarning;

use common::{join_within, recorder_lock, samples_of, spin_cpu, start_sampled, thread_cpu_ns};

const HZ: u32 = 999;

/// Signals the test's own handler received, and how many of them came from a POSIX timer.
static HOST_SIGNALS: AtomicU64 = AtomicU64::new(0);
static HOST_TIMER_SIGNALS: AtomicU64 = AtomicU64::new(0);

extern "C" fn host_handler(
    _signal: libc::c_int,
    info: *mut libc::siginfo_t,
    _context: *mut libc::c_void,
) {
    HOST_SIGNALS.fetch_add(1, Ordering::Relaxed);
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    if unsafe { (*info).si_code } == libc::SI_TIMER {
        HOST_TIMER_SIGNALS.fetch_add(1, Ordering::Relaxed);
    }
}

/// Sets SIGURG's action to `handler` (`SIG_DFL`, or an `SA_SIGINFO` handler).
fn set_sigurg(handler: usize, flags: libc::c_int) {
    // SAFETY: `action` is a valid sigaction with an initialised mask; `handler` is SIG_DFL or a
    // function with the SA_SIGINFO signature.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = handler;
        action.sa_flags = flags;
        libc::sigemptyset(&mut action.sa_mask);
        let rc = libc::sigaction(libc::SIGURG, &action, std::ptr::null_mut());
        assert_eq!(rc, 0, "sigaction: {}", std::io::Error::last_os_error());
    }
}

#[test]
fn a_host_that_resets_the_sampling_signal_survives_and_the_recording_says_so() {
    let _lock = recorder_lock();
    let started = Instant::now();
    let (_dir, path, recorder) = start_sampled("signal_replaced", HZ);
    let stop = Arc::new(AtomicBool::new(false));
    // The burner's CPU time since it registered, updated every millisecond of it.
    let burned = Arc::new(AtomicU64::new(0));
    let burner = {
        let (stop, burned) = (Arc::clone(&stop), Arc::clone(&burned));
        std::thread::spawn(move || {
            let guard = bpprof::register("Burner", 0, 1);
            let cpu_start = thread_cpu_ns();
            while !stop.load(Ordering::Relaxed) {
                spin_cpu(Duration::from_millis(1));
                burned.store(thread_cpu_ns() - cpu_start, Ordering::Relaxed);
            }
            drop(guard);
        })
    };

    // Sampled for a while first (200 ms of the burner's CPU, however loaded the machine is).
    let deadline = Instant::now() + Duration::from_secs(3);
    while burned.load(Ordering::Relaxed) < 200_000_000 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let cpu_at_reset = burned.load(Ordering::Relaxed);
    set_sigurg(libc::SIG_DFL, 0);
    std::thread::sleep(Duration::from_millis(500));
    let cpu_at_host_handler = burned.load(Ordering::Relaxed);
    set_sigurg(
        host_handler as *const () as usize,
        libc::SA_SIGINFO | libc::SA_RESTART,
    );
    std::thread::sleep(Duration::from_millis(500));
    let cpu_at_end = burned.load(Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    join_within(burner, Duration::from_secs(2), "burner");

    let summary = recorder
        .stop()
        .expect("stop recorder after the signal was replaced");
    assert!(summary.chunks > 0);
    let recording = bpprof_format::read_file(&path).expect("read recording");
    assert!(recording.end.is_some(), "the recording was finalised");
    let host_signals = HOST_SIGNALS.load(Ordering::Relaxed);
    let host_timer_signals = HOST_TIMER_SIGNALS.load(Ordering::Relaxed);
    let on_cpu: u64 = samples_of(&recording, "Burner")
        .iter()
        .filter(|s| s.1)
        .map(|s| u64::from(s.3))
        .sum();
    eprintln!(
        "ran {:.2?}; burner CPU {:.0} ms at the reset, {:.0} ms when the host handler was installed, {:.0} ms at the end; {on_cpu} on-CPU samples; the host handler got {host_signals} signals ({host_timer_signals} from timers)",
        started.elapsed(),
        cpu_at_reset as f64 / 1e6,
        cpu_at_host_handler as f64 / 1e6,
        cpu_at_end as f64 / 1e6,
    );
    eprintln!("warnings: {:?}", recording.warnings);

    let sampling_warnings: Vec<&String> = recording
        .warnings
        .iter()
        .filter_map(|w| match w {
            ReadWarning::Runtime { code, message } if code == "sampling" => Some(message),
            _ => None,
        })
        .collect();
    assert_eq!(
        sampling_warnings.len(),
        1,
        "one sampling warning expected: {:?}",
        recording.warnings
    );
    assert!(
        sampling_warnings[0].contains("replaced"),
        "the warning says the handler was replaced: {}",
        sampling_warnings[0]
    );
    // The timers were deleted within about a sampler visit of the reset: the host's handler,
    // installed 500 ms later while the burner kept running, gets (next to) nothing.
    assert!(
        host_signals <= 50,
        "the host handler received {host_signals} signals ({host_timer_signals} from timers)"
    );
    // Sampling worked until the reset, and nothing was sampled on CPU after it (the kernel
    // discards an ignored signal; no timer is left afterwards).
    let expected_before = cpu_at_reset as f64 * f64::from(HZ) / 1e9;
    assert!(
        cpu_at_reset >= 100_000_000,
        "the burner used only {cpu_at_reset} ns of CPU before the reset"
    );
    assert!(
        on_cpu as f64 >= 0.5 * expected_before,
        "{on_cpu} on-CPU samples, {expected_before:.0} expected before the reset"
    );
    assert!(
        on_cpu as f64 <= 1.2 * expected_before + 30.0,
        "{on_cpu} on-CPU samples, at most {expected_before:.0} expected (sampling continued after the reset?)"
    );
}
