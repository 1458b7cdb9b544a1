//! Stack sampling: attribution, isolation and blocked stacks, read back from a recording.

mod common;

use std::time::{Duration, Instant};

use bpprof_format::SampleState;

use common::{recorder_lock, samples_of, spin_cpu, start_sampled as start};

/// Sampling rate for these tests: high, so that shares are measured on thousands of samples.
const HZ: u32 = 999;

/// CPU time of the share test's worker: about 2,500 signals at a 250 Hz tick, so that the
/// standard error of a 2 : 1 share is under 1 point and 3 of them fit in the 3 points required.
const CPU_TIME: Duration = Duration::from_secs(10);

/// Most periods one signal stands for at [`HZ`] (999 Hz over a tick of at least 250 Hz).
const MAX_WEIGHT: f64 = 4.0;

fn count_containing(samples: &[(SampleState, bool, Vec<String>, u32)], function: &str) -> u64 {
    samples
        .iter()
        .filter(|(_, _, names, _)| names.iter().any(|n| n.contains(function)))
        .map(|s| u64::from(s.3))
        .sum()
}

#[inline(never)]
fn two_thirds_work() {
    spin_cpu(Duration::from_millis(2));
}

#[inline(never)]
fn one_third_work() {
    spin_cpu(Duration::from_millis(1));
}

#[inline(never)]
fn only_in_other_subtask() {
    spin_cpu(Duration::from_millis(1));
}

#[inline(never)]
fn waits_for_input(rx: &bpprof::Receiver<u32>) -> Option<u32> {
    rx.recv().ok()
}

#[test]
fn cpu_shares_and_isolation_match_the_work_done() {
    let _lock = recorder_lock();
    let (_dir, path, recorder) = start("attribution", HZ);
    // Until the worker has used CPU_TIME of CPU (its samples are per CPU second), for at most
    // 30 s on a loaded machine.
    let run = Duration::from_secs(3);
    let worker = std::thread::spawn(move || {
        let _subtask = bpprof::register("Split", 0, 1);
        let cpu_start = common::thread_cpu_ns();
        let end = Instant::now() + Duration::from_secs(30);
        while common::thread_cpu_ns() - cpu_start < CPU_TIME.as_nanos() as u64
            && Instant::now() < end
        {
            two_thirds_work();
            one_third_work();
        }
    });
    let other = std::thread::spawn(move || {
        let _subtask = bpprof::register("Other", 0, 1);
        let end = Instant::now() + run;
        while Instant::now() < end {
            only_in_other_subtask();
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    worker.join().unwrap();
    other.join().unwrap();
    recorder.stop().unwrap();
    let recording = bpprof_format::read_file(&path).unwrap();
    assert_eq!(recording.meta.sample_hz, HZ);

    let split = samples_of(&recording, "Split");
    // CPU shares are compared on on-CPU samples (`bpprof flame --mode on-cpu`): while the thread
    // waits for a CPU on a loaded machine, the sampler re-counts its last stack as off-CPU, in
    // bursts that would add noise unrelated to where the CPU time went.
    let on_cpu: Vec<_> = split.iter().filter(|s| s.1).cloned().collect();
    let two = count_containing(&on_cpu, "two_thirds_work") as f64;
    let one = count_containing(&on_cpu, "one_third_work") as f64;
    let share = two / (two + one);
    eprintln!(
        "two_thirds_work share {share:.4} over {} samples",
        two + one
    );
    assert!(two + one > 500.0, "too few samples: {two} + {one}");
    // At 999 Hz a signal stands for up to MAX_WEIGHT periods (the kernel checks CPU timers at its
    // tick, 250 Hz at least), so the independent draws are about samples / MAX_WEIGHT: 3 points,
    // or 3 standard errors of that many draws when fewer samples came (a loaded machine).
    let draws = (two + one) / MAX_WEIGHT;
    let tolerance = (3.0 * (2.0 / 9.0 / draws).sqrt()).max(0.03);
    assert!(
        (share - 2.0 / 3.0).abs() <= tolerance,
        "two_thirds_work share {share:.3} ({two} vs {one} samples), expected 0.667 ± {tolerance:.3}"
    );
    assert_eq!(count_containing(&split, "only_in_other_subtask"), 0);
    let other = samples_of(&recording, "Other");
    assert!(count_containing(&other, "only_in_other_subtask") > 0);
    assert_eq!(count_containing(&other, "two_thirds_work"), 0);
}

#[test]
fn a_subtask_blocked_in_recv_has_idle_samples_with_its_caller() {
    let _lock = recorder_lock();
    let (_dir, path, recorder) = start("blocked", HZ);
    let (tx, rx) = bpprof::bounded::<u32>(4);
    let consumer = std::thread::spawn(move || {
        let _subtask = bpprof::register("Waiter", 0, 1);
        while waits_for_input(&rx).is_some() {}
    });
    for i in 0..20 {
        std::thread::sleep(Duration::from_millis(50));
        tx.send(i).unwrap();
    }
    drop(tx);
    consumer.join().unwrap();
    recorder.stop().unwrap();
    let recording = bpprof_format::read_file(&path).unwrap();

    let waiter = samples_of(&recording, "Waiter");
    let idle: Vec<_> = waiter
        .iter()
        .filter(|(state, ..)| *state == SampleState::Idle)
        .collect();
    let idle_total: u32 = idle.iter().map(|s| s.3).sum();
    assert!(idle_total > 100, "only {idle_total} idle samples");
    let with_caller: u32 = idle
        .iter()
        .filter(|(_, _, names, _)| names.iter().any(|n| n.contains("waits_for_input")))
        .map(|s| s.3)
        .sum();
    assert!(
        with_caller as f64 >= 0.95 * idle_total as f64,
        "{with_caller} of {idle_total} idle samples contain waits_for_input: {:?}",
        idle.first()
    );
}

#[test]
fn sampling_off_writes_no_samples() {
    let _lock = recorder_lock();
    let (_dir, path, recorder) = start("off", 0);
    let worker = std::thread::spawn(|| {
        let _subtask = bpprof::register("Quiet", 0, 1);
        spin_cpu(Duration::from_millis(300));
    });
    worker.join().unwrap();
    recorder.stop().unwrap();
    let recording = bpprof_format::read_file(&path).unwrap();
    assert_eq!(recording.meta.sample_hz, 0);
    assert!(recording.samples.is_empty());
}

#[inline(never)]
fn burst_work() {
    spin_cpu(Duration::from_millis(250));
}

#[test]
fn bursts_of_work_after_quiet_spells_lose_no_samples() {
    // While no subtask is busy the sampler visits ever more rarely (down to one visit every
    // 200 ms); a burst of work then fills a thread's 32-sample buffer faster than that at 999 Hz.
    // The handler wakes the sampler when its buffer is half full, so the burst loses nothing.
    let _lock = recorder_lock();
    let (_dir, path, recorder) = start("bursts", HZ);
    let (tx, rx) = bpprof::bounded::<u32>(1);
    let worker = std::thread::spawn(move || {
        let _subtask = bpprof::register("Bursty", 0, 1);
        for _ in 0..5 {
            // A quiet spell: blocked in an instrumented receive, long enough for the back-off.
            let _ = rx.recv_timeout(Duration::from_millis(900));
            burst_work();
        }
    });
    worker.join().unwrap();
    drop(tx);
    recorder.stop().unwrap();
    let recording = bpprof_format::read_file(&path).unwrap();
    let on_cpu: u64 = samples_of(&recording, "Bursty")
        .iter()
        .filter(|s| s.1)
        .map(|s| u64::from(s.3))
        .sum();
    let lost: u64 = recording.samples.iter().map(|c| c.lost).sum();
    eprintln!("bursts: {on_cpu} on-CPU samples, {lost} lost");
    // 5 x 250 ms of CPU at 999 Hz: about 1,250 samples if the thread got its CPU.
    assert!(on_cpu >= 300, "only {on_cpu} on-CPU samples");
    assert!(
        (lost as f64) <= 0.02 * on_cpu as f64,
        "{lost} samples lost against {on_cpu} taken"
    );
}
