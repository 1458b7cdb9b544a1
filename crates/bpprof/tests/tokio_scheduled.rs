//! Scheduled time of async subtasks (feature `tokio`): woken, not yet polled. A task woken by
//! something bpprof does not instrument (a `tokio::sync::Notify` fired by a plain thread) while
//! two other tasks hold both workers of a multi-thread runtime with long polls waits to be
//! polled; bpprof's scheduled time for it must match what the test measures from each wake to
//! the poll that follows.
#![cfg(feature = "tokio")]

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bpprof::tokio::spawn_subtask;

use common::{only_declaration, recorder_lock, start};

/// Keeps the calling worker busy for `d` of wall time.
fn spin_wall(d: Duration) {
    let end = Instant::now() + d;
    while Instant::now() < end {
        std::hint::black_box(0u64);
    }
}

#[test]
fn a_task_starved_of_workers_has_the_scheduled_time_it_waited() {
    let _lock = recorder_lock();
    let rec = start("tokio_scheduled");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("runtime");
    let run = Duration::from_secs(3);
    let notify = Arc::new(tokio::sync::Notify::new());
    let stop = Arc::new(AtomicBool::new(false));
    // When the waking thread fired each wake, and when the starved task resumed after it.
    let wakes: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let (wall, resumed) = runtime.block_on({
        let (notify, stop, wakes) = (Arc::clone(&notify), Arc::clone(&stop), Arc::clone(&wakes));
        async move {
            let hogs: Vec<_> = (0..2)
                .map(|i| {
                    let stop = Arc::clone(&stop);
                    spawn_subtask("Hog", i, 2, async move {
                        while !stop.load(Ordering::Relaxed) {
                            spin_wall(Duration::from_millis(8));
                            tokio::task::yield_now().await;
                        }
                    })
                })
                .collect();
            let starved = spawn_subtask("Starved", 0, 1, {
                let stop = Arc::clone(&stop);
                let notify = Arc::clone(&notify);
                async move {
                    let started = Instant::now();
                    let mut resumed = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        notify.notified().await;
                        resumed.push(Instant::now());
                    }
                    (started.elapsed(), resumed)
                }
            });
            let waker = std::thread::spawn({
                let (notify, stop) = (Arc::clone(&notify), Arc::clone(&stop));
                move || {
                    let end = Instant::now() + run;
                    while Instant::now() < end {
                        std::thread::sleep(Duration::from_millis(5));
                        wakes.lock().unwrap().push(Instant::now());
                        notify.notify_one();
                    }
                    stop.store(true, Ordering::Relaxed);
                    notify.notify_one();
                }
            });
            let out = starved.await.unwrap();
            waker.join().unwrap();
            for hog in hogs {
                hog.await.unwrap();
            }
            out
        }
    });
    drop(runtime);
    let recording = rec.finish();

    // The truth: from each wake to the first resumption after it (a wake that found the task
    // already woken adds nothing: it was scheduled already).
    let wakes = wakes.lock().unwrap().clone();
    let mut scheduled = Duration::ZERO;
    let mut next = 0;
    for &r in &resumed {
        let mut first = None;
        while next < wakes.len() && wakes[next] <= r {
            first.get_or_insert(wakes[next]);
            next += 1;
        }
        if let Some(w) = first {
            scheduled += r - w;
        }
    }
    let truth = scheduled.as_secs_f64() / wall.as_secs_f64();

    let decl = only_declaration(&recording, "Starved");
    let wake_ns: u64 = recording
        .intervals
        .iter()
        .flat_map(|i| &i.blocking)
        .filter(|b| b.id == decl.id)
        .map(|b| b.wake_ns)
        .sum();
    let wall_ns: u64 = common::total_of(&recording, decl.id).wall_ns;
    let measured = wake_ns as f64 / wall_ns as f64;
    eprintln!(
        "Starved: scheduled {measured:.3} (bpprof) vs {truth:.3} (measured by the test), {} resumptions",
        resumed.len()
    );
    assert!(truth > 0.2, "the task was not starved: {truth:.3}");
    assert!(
        (measured - truth).abs() <= 0.03,
        "scheduled {measured:.3}, expected {truth:.3} ± 0.03"
    );
}

#[test]
fn polls_are_counted_with_their_wall_time_and_the_longest() {
    let _lock = recorder_lock();
    let rec = start("tokio_polls");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        spawn_subtask("Blocker", 0, 1, async {
            for i in 0..10u64 {
                // A blocking call inside poll: it holds the thread for 5 to 50 ms.
                std::thread::sleep(Duration::from_millis(5 * (i + 1)));
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .unwrap();
    });
    drop(runtime);
    let recording = rec.finish();
    let decl = only_declaration(&recording, "Blocker");
    let polls: Vec<_> = recording
        .intervals
        .iter()
        .flat_map(|i| &i.polls)
        .filter(|p| p.id == decl.id)
        .collect();
    let count: u64 = polls.iter().map(|p| p.polls).sum();
    let polled_ms = polls.iter().map(|p| p.polled_ns).sum::<u64>() as f64 / 1e6;
    let longest_ms = polls.iter().map(|p| p.max_poll_ns).max().unwrap_or(0) as f64 / 1e6;
    eprintln!("Blocker: {count} polls, {polled_ms:.1} ms polled, longest {longest_ms:.1} ms");
    // One poll per sleep and a last one that completes: 11 (a timer may wake the task once
    // more than needed).
    assert!((11..=14).contains(&count), "{count} polls: {polls:?}");
    // 5 + 10 + ... + 50 = 275 ms of blocking inside polls.
    assert!((275.0..350.0).contains(&polled_ms), "{polled_ms} ms polled");
    assert!(
        (50.0..80.0).contains(&longest_ms),
        "longest poll {longest_ms} ms"
    );
    // Threads have no polls.
    assert!(recording
        .intervals
        .iter()
        .flat_map(|i| &i.polls)
        .all(|p| p.id == decl.id));
}
