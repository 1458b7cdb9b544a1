//! A subtask thread that blocks the sampling signal is not sampled on CPU, with a warning naming
//! it, and nothing waits for a signal it cannot receive: its deregistration is immediate, the
//! other subtasks are sampled as usual, and unblocking the signal afterwards is harmless. Alone
//! in its binary: it changes a thread's signal mask.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bpprof_format::ReadWarning;

use common::{join_within, recorder_lock, samples_of, spin_cpu, start_sampled, thread_cpu_ns};

const HZ: u32 = 999;

/// Blocks (`libc::SIG_BLOCK`) or unblocks (`libc::SIG_UNBLOCK`) SIGURG in the calling thread.
fn mask_sigurg(how: libc::c_int) {
    // SAFETY: `set` is initialised by sigemptyset before use; a null old set is allowed.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGURG);
        let rc = libc::pthread_sigmask(how, &set, std::ptr::null_mut());
        assert_eq!(rc, 0, "pthread_sigmask");
    }
}

/// Whether SIGURG is pending for the calling thread (or the process).
fn sigurg_pending() -> bool {
    // SAFETY: `set` is a valid sigset to write into.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        assert_eq!(libc::sigpending(&mut set), 0, "sigpending");
        libc::sigismember(&set, libc::SIGURG) == 1
    }
}

/// What the blocking subtask measured.
#[derive(Debug)]
struct Blocker {
    cpu_ns: u64,
    pending_before_unblock: bool,
    deregister: Duration,
}

#[test]
fn a_subtask_that_blocks_the_sampling_signal_is_skipped_with_a_warning() {
    let _lock = recorder_lock();
    let started = Instant::now();
    let (_dir, path, recorder) = start_sampled("signal_blocked", HZ);
    let normal_done = Arc::new(AtomicBool::new(false));

    let blocker = {
        let normal_done = Arc::clone(&normal_done);
        std::thread::spawn(move || {
            mask_sigurg(libc::SIG_BLOCK);
            let guard = bpprof::register("Blocker", 0, 1);
            let cpu_start = thread_cpu_ns();
            spin_cpu(Duration::from_secs(1));
            let pending_before_unblock = sigurg_pending();
            // Unblocking delivers whatever is pending: it must find no subtask (or nothing).
            mask_sigurg(libc::SIG_UNBLOCK);
            spin_cpu(Duration::from_millis(200));
            // Deregistration is measured alone, after the other subtask is done (fewer threads
            // competing for the two CPUs).
            let deadline = Instant::now() + Duration::from_secs(5);
            while !normal_done.load(Ordering::Relaxed) && Instant::now() < deadline {
                spin_cpu(Duration::from_millis(1));
            }
            let cpu_ns = thread_cpu_ns() - cpu_start;
            let before = Instant::now();
            drop(guard);
            let deregister = before.elapsed();
            // A late signal after deregistration must be harmless too.
            spin_cpu(Duration::from_millis(50));
            Blocker {
                cpu_ns,
                pending_before_unblock,
                deregister,
            }
        })
    };
    let normal = {
        let normal_done = Arc::clone(&normal_done);
        std::thread::spawn(move || {
            let guard = bpprof::register("Normal", 0, 1);
            let cpu_start = thread_cpu_ns();
            spin_cpu(Duration::from_secs(1));
            let cpu_ns = thread_cpu_ns() - cpu_start;
            drop(guard);
            normal_done.store(true, Ordering::Relaxed);
            cpu_ns
        })
    };
    let normal_cpu = join_within(normal, Duration::from_secs(10), "normal subtask");
    let blocker = join_within(blocker, Duration::from_secs(10), "blocking subtask");
    recorder.stop().expect("stop recorder");
    let recording = bpprof_format::read_file(&path).expect("read recording");

    let on_cpu = |task: &str| -> u64 {
        samples_of(&recording, task)
            .iter()
            .filter(|s| s.1)
            .map(|s| u64::from(s.3))
            .sum()
    };
    let (normal_on_cpu, blocker_on_cpu) = (on_cpu("Normal"), on_cpu("Blocker"));
    let normal_rate = normal_on_cpu as f64 / (normal_cpu as f64 / 1e9);
    eprintln!(
        "ran {:.2?}; blocker {blocker:?}, {blocker_on_cpu} on-CPU samples; normal: {normal_on_cpu} on-CPU samples over {:.3} s of CPU ({normal_rate:.0}/s)",
        started.elapsed(),
        normal_cpu as f64 / 1e9
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
        sampling_warnings[0].contains("Blocker#0"),
        "the warning names the blocking subtask: {}",
        sampling_warnings[0]
    );
    assert!(
        !sampling_warnings[0].contains("Normal"),
        "the warning names only the blocking subtask: {}",
        sampling_warnings[0]
    );
    assert!(
        blocker.deregister < Duration::from_millis(5),
        "deregistering the blocking subtask took {:?}",
        blocker.deregister
    );
    // A signal left pending (there should be none: no timer was started) was delivered when the
    // thread unblocked it, found no subtask, and did nothing.
    if blocker.pending_before_unblock {
        eprintln!("note: SIGURG was pending in the blocking subtask before it unblocked it");
    }
    assert!(
        blocker.cpu_ns >= 1_000_000_000,
        "the blocking subtask used only {} ns of CPU while registered",
        blocker.cpu_ns
    );
    // It had no timer: no on-CPU sample, even after it unblocked the signal.
    assert_eq!(blocker_on_cpu, 0, "the blocking subtask was sampled on CPU");
    assert!(
        normal_rate >= 100.0,
        "the normal subtask: {normal_on_cpu} on-CPU samples over {normal_cpu} ns of CPU"
    );
}
