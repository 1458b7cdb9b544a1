//! Stack samples of async subtasks (feature `tokio`): a sample of a worker thread belongs to the
//! subtask being polled on it at that instant, so the flame graph of one async subtask shows its
//! own code only though eight tasks share two workers, with its CPU split as its code splits it;
//! a pending subtask's idle time appears at the await point where it waits.
#![cfg(feature = "tokio")]

mod common;

use std::time::{Duration, Instant};

use bpprof::tokio::{channel, spawn_subtask, Receiver};
use bpprof_format::SampleState;

use common::{recorder_lock, samples_of, spin_cpu, start_sampled as start};

/// Sampling rate: high, so that shares are measured on hundreds of samples.
const HZ: u32 = 999;

/// Most periods one signal stands for at [`HZ`] (999 Hz over a tick of at least 250 Hz).
const MAX_WEIGHT: f64 = 4.0;

type Samples = [(SampleState, bool, Vec<String>, u32)];

fn count_containing(samples: &Samples, function: &str) -> u64 {
    samples
        .iter()
        .filter(|(_, _, names, _)| names.iter().any(|n| n.contains(function)))
        .map(|s| u64::from(s.3))
        .sum()
}

fn multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("runtime")
}

/// CPU time of the split task's two functions together: about 750 draws at a 250 Hz tick, so
/// that 3 standard errors of a 2 : 1 share are about 5 points.
const SPLIT_CPU: Duration = Duration::from_secs(3);

#[inline(never)]
fn two_thirds_work() -> u64 {
    spin_cpu(Duration::from_micros(1_000))
}

#[inline(never)]
fn one_third_work() -> u64 {
    spin_cpu(Duration::from_micros(500))
}

#[inline(never)]
fn only_in_other_tasks() {
    spin_cpu(Duration::from_micros(200));
}

#[test]
fn an_async_subtask_sharing_its_workers_has_only_its_own_code_and_its_own_split() {
    let _lock = recorder_lock();
    let (_dir, path, recorder) = start("async_attribution", HZ);
    // Until the split task has used SPLIT_CPU, for at most 20 s on a loaded machine; the seven
    // other tasks poll on the same two workers meanwhile.
    let deadline = Instant::now() + Duration::from_secs(20);
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    multi_thread().block_on(async move {
        let split_done = std::sync::Arc::clone(&done);
        let split = spawn_subtask("Split", 0, 1, async move {
            let mut cpu = 0;
            while cpu < SPLIT_CPU.as_nanos() as u64 && Instant::now() < deadline {
                cpu += two_thirds_work();
                tokio::task::yield_now().await;
                cpu += one_third_work();
                tokio::task::yield_now().await;
            }
            split_done.store(true, std::sync::atomic::Ordering::Relaxed);
        });
        let others: Vec<_> = (0..7)
            .map(|i| {
                let done = std::sync::Arc::clone(&done);
                spawn_subtask("Other", i, 7, async move {
                    while !done.load(std::sync::atomic::Ordering::Relaxed) {
                        only_in_other_tasks();
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        split.await.unwrap();
        for other in others {
            other.await.unwrap();
        }
    });
    recorder.stop().unwrap();
    let recording = bpprof_format::read_file(&path).unwrap();

    let split = samples_of(&recording, "Split");
    let on_cpu: Vec<_> = split.iter().filter(|s| s.1).cloned().collect();
    let two = count_containing(&on_cpu, "two_thirds_work") as f64;
    let one = count_containing(&on_cpu, "one_third_work") as f64;
    let share = two / (two + one);
    let others = samples_of(&recording, "Other");
    eprintln!(
        "two_thirds_work share {share:.4} over {} samples; other tasks: {} of their own, {} two_thirds_work, {} one_third_work",
        two + one,
        count_containing(&others, "only_in_other_tasks"),
        count_containing(&others, "two_thirds_work"),
        count_containing(&others, "one_third_work"),
    );
    assert!(two + one > 1_000.0, "too few samples: {two} + {one}");
    let draws = (two + one) / MAX_WEIGHT;
    let tolerance = (3.0 * (2.0 / 9.0 / draws).sqrt()).max(0.03);
    assert!(
        (share - 2.0 / 3.0).abs() <= tolerance,
        "two_thirds_work share {share:.3} ({two} vs {one} samples), expected 0.667 ± {tolerance:.3}"
    );
    assert_eq!(count_containing(&split, "only_in_other_tasks"), 0);
    assert!(count_containing(&others, "only_in_other_tasks") > 0);
    assert_eq!(count_containing(&others, "two_thirds_work"), 0);
    assert_eq!(count_containing(&others, "one_third_work"), 0);
}

#[inline(never)]
async fn waits_for_input_async(rx: &mut Receiver<u32>) -> Option<u32> {
    rx.recv().await
}

#[test]
fn a_pending_async_subtask_is_idle_at_its_await_point() {
    let _lock = recorder_lock();
    let (_dir, path, recorder) = start("async_blocked", HZ);
    multi_thread().block_on(async move {
        let (tx, mut rx) = channel::<u32>("producer->consumer", 4);
        let producer = spawn_subtask("Producer", 0, 1, async move {
            for i in 0..20 {
                tokio::time::sleep(Duration::from_millis(50)).await;
                tx.send(i).await.unwrap();
            }
        });
        let consumer = spawn_subtask("Consumer", 0, 1, async move {
            while waits_for_input_async(&mut rx).await.is_some() {}
        });
        producer.await.unwrap();
        consumer.await.unwrap();
    });
    recorder.stop().unwrap();
    let recording = bpprof_format::read_file(&path).unwrap();
    let consumer = samples_of(&recording, "Consumer");
    let idle: Vec<_> = consumer
        .iter()
        .filter(|s| s.0 == SampleState::Idle && !s.1)
        .cloned()
        .collect();
    let at_await = count_containing(&idle, "waits_for_input_async");
    let all: u64 = idle.iter().map(|s| u64::from(s.3)).sum();
    eprintln!("idle samples {all}, at the await point {at_await}");
    // About 1 s idle at 999 Hz.
    assert!(all > 500, "too few idle samples: {all}");
    assert!(
        at_await as f64 >= 0.9 * all as f64,
        "{at_await} of {all} idle samples at the await point"
    );
}
