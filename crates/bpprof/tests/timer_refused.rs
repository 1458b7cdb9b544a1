//! When the kernel refuses the CPU-time sampling timers (here: `RLIMIT_SIGPENDING` set to 0,
//! which makes `timer_create` fail with `EAGAIN`, as some seccomp filters make it fail with
//! `EPERM`), the recording says so, the process goes on, and the subtasks' accounting and
//! off-CPU samples are still recorded. Alone in its binary: it lowers a process-wide limit.

mod common;

use std::time::Duration;

use bpprof_format::{ReadWarning, SampleState};

use common::{recorder_lock, samples_of, spin_cpu, start_sampled};

#[test]
fn refused_sampling_timers_leave_a_warning_and_the_accounting() {
    let _lock = recorder_lock();
    let limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid rlimit; lowering a limit needs no privilege.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_SIGPENDING, &limit) };
    assert_eq!(rc, 0, "setrlimit");
    let (_dir, path, recorder) = start_sampled("timer_refused", 999);
    let (tx, rx) = bpprof::bounded::<u64>(1);
    let worker = std::thread::spawn(move || {
        let _subtask = bpprof::register("Worker", 0, 1);
        spin_cpu(Duration::from_millis(300));
        // Idle in an instrumented receive: sampled off CPU from its blocked stack.
        let _ = rx.recv_timeout(Duration::from_millis(500));
    });
    worker.join().expect("worker panicked");
    drop(tx);
    recorder.stop().expect("recorder stops");

    let recording = bpprof_format::read_file(&path).expect("recording reads");
    let refused: Vec<&String> = recording
        .warnings
        .iter()
        .filter_map(|w| match w {
            ReadWarning::Runtime { code, message } if code == "sampling" => Some(message),
            _ => None,
        })
        .filter(|m| m.contains("timer could not be created"))
        .collect();
    assert_eq!(refused.len(), 1, "warnings: {:?}", recording.warnings);
    let samples = samples_of(&recording, "Worker");
    assert!(
        samples.iter().all(|s| !s.1),
        "on-CPU samples without a timer: {samples:?}"
    );
    let idle: u32 = samples
        .iter()
        .filter(|s| s.0 == SampleState::Idle)
        .map(|s| s.3)
        .sum();
    assert!(idle > 100, "only {idle} idle samples: {samples:?}");
    let accounted: u64 = recording
        .intervals
        .iter()
        .flat_map(|i| &i.subtasks)
        .map(|s| s.idle_ns)
        .sum();
    assert!(accounted > 300_000_000, "idle accounted {accounted} ns");
}
