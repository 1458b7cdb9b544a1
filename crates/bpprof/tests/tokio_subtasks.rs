//! Async subtasks on tokio (feature `tokio`): their wall time splits into busy, idle and
//! backpressured as designed, on the multi-thread runtime (tasks moving between workers), on a
//! `current_thread` runtime and in a `LocalSet`, and channels mix async tasks and threads.
#![cfg(feature = "tokio")]

mod common;

use std::time::{Duration, Instant};

use bpprof::tokio::{channel, spawn_local_subtask, spawn_subtask, SubtaskExt};
use bpprof_format::{EndpointRole, Recording};

use common::{only_declaration, recorder_lock, start, total_of};

/// Keeps the calling worker busy for `d` of wall time (busy time is wall time: on a loaded
/// machine a CPU-time spin would stretch).
fn spin_wall(d: Duration) {
    let end = Instant::now() + d;
    while Instant::now() < end {
        std::hint::black_box(0u64);
    }
}

/// (busy, idle, backpressured) shares of `task`#0's wall time over the recording.
fn split(recording: &Recording, task: &str) -> (f64, f64, f64) {
    let decl = only_declaration(recording, task);
    let total = total_of(recording, decl.id);
    let wall = total.wall_ns as f64;
    let idle = total.idle_ns as f64 / wall;
    let backpressured = total.backpressured_ns as f64 / wall;
    (1.0 - idle - backpressured, idle, backpressured)
}

fn multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("runtime")
}

/// Producer -> Worker -> Consumer. The producer sends a record every `every` (a tokio sleep
/// between sends), the worker works `work` per record, the consumer `consume`, through channels
/// of capacity 1. The work is a tokio sleep: pending on something that is not an instrumented
/// wait is busy time, and a sleep does not hold a worker thread, so the split does not depend on
/// how tokio places the tasks on its two workers.
fn pipeline(every: Duration, work: Duration, consume: Duration, records: u32) -> Run {
    let rec = start("tokio_pipeline");
    let measured = multi_thread().block_on(async move {
        let (tx, mut rx) = channel::<u32>("producer->worker", 1);
        let (out_tx, mut out_rx) = channel::<u32>("worker->consumer", 1);
        let producer = spawn_subtask("Producer", 0, 1, async move {
            for i in 0..records {
                if !every.is_zero() {
                    tokio::time::sleep(every).await;
                }
                tx.send(i).await.expect("worker alive");
            }
        });
        let worker = spawn_subtask("Worker", 0, 1, async move {
            // What the worker itself measures: time awaiting a record, time awaiting room.
            let mut measured = Measured::default();
            let started = Instant::now();
            loop {
                let at = Instant::now();
                let Some(i) = rx.recv().await else { break };
                measured.receiving += at.elapsed();
                tokio::time::sleep(work).await;
                let at = Instant::now();
                out_tx.send(i).await.expect("consumer alive");
                measured.sending += at.elapsed();
            }
            measured.wall = started.elapsed();
            measured
        });
        let consumer = spawn_subtask("Consumer", 0, 1, async move {
            let mut n = 0;
            while out_rx.recv().await.is_some() {
                if !consume.is_zero() {
                    tokio::time::sleep(consume).await;
                }
                n += 1;
            }
            n
        });
        producer.await.unwrap();
        let measured = worker.await.unwrap();
        assert_eq!(consumer.await.unwrap(), records);
        measured
    });
    Run {
        recording: rec.finish(),
        measured,
    }
}

/// What the worker measured around its awaits.
#[derive(Debug, Default)]
struct Measured {
    receiving: Duration,
    sending: Duration,
    wall: Duration,
}

struct Run {
    recording: Recording,
    measured: Measured,
}

impl Run {
    /// The worker's idle and backpressured shares as it measured them (its awaits, which also
    /// hold the few microseconds from a wake-up to the poll that bpprof counts as scheduled).
    fn measured_shares(&self) -> (f64, f64) {
        let wall = self.measured.wall.as_secs_f64();
        (
            self.measured.receiving.as_secs_f64() / wall,
            self.measured.sending.as_secs_f64() / wall,
        )
    }
}

/// Allowed difference, in share of the wall time, between bpprof's split and the worker's own
/// measurement (the accuracy target is 2 points).
const TOLERANCE: f64 = 0.02;

#[test]
fn an_async_task_waiting_for_input_is_idle_and_its_work_is_busy() {
    let _lock = recorder_lock();
    // About 100 records a second, 4 ms of work each: Worker busy about 40 %, idle 60 %.
    let run = pipeline(
        Duration::from_millis(10),
        Duration::from_millis(4),
        Duration::ZERO,
        150,
    );
    let (busy, idle, backpressured) = split(&run.recording, "Worker");
    let (want_idle, want_bp) = run.measured_shares();
    eprintln!(
        "Worker: busy {busy:.3} idle {idle:.3} backpressured {backpressured:.3}; measured idle {want_idle:.3} backpressured {want_bp:.3}"
    );
    assert!(
        (idle - want_idle).abs() < TOLERANCE,
        "idle {idle:.3}, measured {want_idle:.3}"
    );
    assert!(
        (backpressured - want_bp).abs() < TOLERANCE,
        "backpressured {backpressured:.3}"
    );
    assert!((0.25..0.6).contains(&busy), "busy {busy:.3}");
}

#[test]
fn an_async_task_waiting_for_room_downstream_is_backpressured() {
    let _lock = recorder_lock();
    // The consumer takes 6 ms a record, the worker 3 ms: the worker waits for room about half
    // the time, the consumer is busy all the time.
    let run = pipeline(
        Duration::ZERO,
        Duration::from_millis(3),
        Duration::from_millis(6),
        150,
    );
    let (busy, idle, backpressured) = split(&run.recording, "Worker");
    let (want_idle, want_bp) = run.measured_shares();
    eprintln!(
        "Worker: busy {busy:.3} idle {idle:.3} backpressured {backpressured:.3}; measured idle {want_idle:.3} backpressured {want_bp:.3}"
    );
    assert!(
        (backpressured - want_bp).abs() < TOLERANCE,
        "backpressured {backpressured:.3}, measured {want_bp:.3}"
    );
    assert!(
        (idle - want_idle).abs() < TOLERANCE,
        "idle {idle:.3}, measured {want_idle:.3}"
    );
    assert!(backpressured > 0.3, "backpressured {backpressured:.3}");
    let (consumer_busy, _, _) = split(&run.recording, "Consumer");
    assert!(consumer_busy > 0.85, "consumer busy {consumer_busy:.3}");
    let (_, _, producer_bp) = split(&run.recording, "Producer");
    assert!(producer_bp > 0.8, "producer backpressured {producer_bp:.3}");
}

#[test]
fn subtasks_on_a_current_thread_runtime_and_in_a_local_set_are_told_apart() {
    let _lock = recorder_lock();
    let rec = start("tokio_local");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async {
        let (tx, mut rx) = channel::<u32>("local", 4);
        // A !Send future (an Rc) as a subtask of the LocalSet.
        let source = spawn_local_subtask("LocalSource", 0, 1, async move {
            let shared = std::rc::Rc::new(0u32);
            for i in 0..40 {
                tokio::time::sleep(Duration::from_millis(5)).await;
                tx.send(i + *shared).await.unwrap();
            }
        });
        let sink = async move {
            let mut n = 0;
            while rx.recv().await.is_some() {
                spin_wall(Duration::from_millis(1));
                n += 1;
            }
            n
        }
        .subtask("LocalSink", 0, 1);
        // The sink, an unspawned future made a subtask, runs beside the spawned source.
        let (source, received) = tokio::join!(source, sink);
        source.unwrap();
        assert_eq!(received, 40);
    });
    let recording = rec.finish();
    let (_, sink_idle, _) = split(&recording, "LocalSink");
    assert!(sink_idle > 0.5, "LocalSink idle {sink_idle:.3}");
    // Both run on the one thread, each accounted on its own: the sink's records are its own.
    let sink = total_of(&recording, only_declaration(&recording, "LocalSink").id);
    let source = total_of(&recording, only_declaration(&recording, "LocalSource").id);
    assert_eq!(sink.records_in, 40);
    assert_eq!(sink.records_out, 0);
    assert_eq!(source.records_out, 40);
    assert_eq!(source.records_in, 0);
}

#[test]
fn a_thread_and_an_async_task_share_a_channel_and_an_edge() {
    let _lock = recorder_lock();
    let rec = start("tokio_mixed");
    let (tx, mut rx) = channel::<u32>("thread->task", 2);
    let thread = std::thread::spawn(move || {
        let _subtask = bpprof::register("ThreadSource", 0, 1);
        for i in 0..200 {
            tx.blocking_send(i).expect("receiver alive");
        }
    });
    multi_thread().block_on(async move {
        let sink = spawn_subtask("AsyncSink", 0, 1, async move {
            let mut n = 0;
            while rx.recv().await.is_some() {
                spin_wall(Duration::from_millis(1));
                n += 1;
            }
            n
        });
        assert_eq!(sink.await.unwrap(), 200);
    });
    thread.join().unwrap();
    let recording = rec.finish();
    // The thread waits for the slow async sink: backpressured most of the time.
    let (_, _, thread_bp) = split(&recording, "ThreadSource");
    assert!(thread_bp > 0.7, "ThreadSource backpressured {thread_bp:.3}");
    let (sink_busy, _, _) = split(&recording, "AsyncSink");
    assert!(sink_busy > 0.8, "AsyncSink busy {sink_busy:.3}");
    // One edge, inferred from the channel's two ends: the thread sends, the task receives.
    let channel = recording
        .intervals
        .iter()
        .flat_map(|i| &i.declared_channels)
        .find(|c| c.name == "thread->task")
        .expect("channel declared");
    let task_of = |subtask: u32| {
        common::declarations(&recording)
            .into_iter()
            .find(|d| d.id == subtask)
            .map(|d| d.task)
    };
    let mut ends: Vec<(String, EndpointRole)> = recording
        .intervals
        .iter()
        .flat_map(|i| &i.endpoints)
        .filter(|e| e.channel == channel.id)
        .map(|e| (task_of(e.subtask).expect("declared"), e.role))
        .collect();
    ends.sort_by_key(|e| e.0.clone());
    assert_eq!(
        ends,
        vec![
            ("AsyncSink".to_owned(), EndpointRole::Receiver),
            ("ThreadSource".to_owned(), EndpointRole::Sender)
        ]
    );
}

#[test]
fn a_sender_used_as_a_sink_is_backpressured_on_a_full_queue() {
    use futures_sink::Sink;
    use std::pin::Pin;

    let _lock = recorder_lock();
    let rec = start("tokio_sink");
    multi_thread().block_on(async {
        let (tx, mut rx) = channel::<u32>("sink->slow", 1);
        let producer = spawn_subtask("SinkProducer", 0, 1, async move {
            let mut sink = tx.into_sink();
            for i in 0..60 {
                std::future::poll_fn(|cx| Pin::new(&mut sink).poll_ready(cx))
                    .await
                    .expect("receiver alive");
                Pin::new(&mut sink).start_send(i).expect("receiver alive");
            }
            std::future::poll_fn(|cx| Pin::new(&mut sink).poll_close(cx))
                .await
                .unwrap();
        });
        let consumer = spawn_subtask("SlowConsumer", 0, 1, async move {
            let mut n = 0;
            while rx.recv().await.is_some() {
                tokio::time::sleep(Duration::from_millis(5)).await;
                n += 1;
            }
            n
        });
        producer.await.unwrap();
        assert_eq!(consumer.await.unwrap(), 60);
    });
    let recording = rec.finish();
    let (_, _, backpressured) = split(&recording, "SinkProducer");
    assert!(
        backpressured > 0.8,
        "SinkProducer backpressured {backpressured:.3}"
    );
    let producer = total_of(&recording, only_declaration(&recording, "SinkProducer").id);
    assert_eq!(producer.records_out, 60);
}

/// A task that sends into a queue with room never waits, but it still spends tokio's cooperative
/// budget, as tokio's own channels do: it yields now and then, so that the other tasks of its
/// worker run. On a `current_thread` runtime a sender that never yielded would send all its
/// records before the other task ran once.
#[test]
fn a_sender_that_never_waits_still_yields_to_the_other_tasks() {
    const RECORDS: u64 = 20_000;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let sent_before_other_ran = runtime.block_on(async {
        let (tx, _rx) = channel::<u64>("roomy", RECORDS as usize);
        let sent = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counter = std::sync::Arc::clone(&sent);
        let sender = tokio::spawn(async move {
            for i in 0..RECORDS {
                tx.send(i).await.expect("receiver alive");
                counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        });
        let observed = std::sync::Arc::clone(&sent);
        let other =
            tokio::spawn(async move { observed.load(std::sync::atomic::Ordering::Relaxed) });
        let seen = other.await.expect("other task");
        sender.await.expect("sender");
        seen
    });
    // tokio's budget is 128 operations per poll.
    assert!(
        sent_before_other_ran < RECORDS / 10,
        "the sender sent {sent_before_other_ran} of {RECORDS} records before the other task ran"
    );
}

#[test]
fn a_subtask_polled_inside_another_gives_the_registration_back_to_the_outer_one_and_the_thread() {
    let _lock = recorder_lock();
    let rec = start("tokio_nested");
    let (tx, mut rx) = channel::<u32>("nested", 64);
    let host = std::thread::spawn(move || {
        let _subtask = bpprof::register("Host", 0, 1);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let outer_tx = tx.clone();
        runtime.block_on(
            async move {
                let inner_tx = outer_tx.clone();
                // Polled by the outer subtask's poll, on the same thread.
                async move {
                    for i in 0..3 {
                        inner_tx.try_send(i).expect("room");
                    }
                }
                .subtask("Inner", 0, 1)
                .await;
                // After the inner subtask completed, records count to the outer one again.
                for i in 0..5 {
                    outer_tx.try_send(i).expect("room");
                }
                bpprof::count_records_in(11);
            }
            .subtask("Outer", 0, 1),
        );
        // After the poll, to the thread's own registration.
        for i in 0..7 {
            tx.try_send(i).expect("room");
        }
        bpprof::count_records_in(13);
    });
    host.join().unwrap();
    let mut received = 0;
    while rx.try_recv().is_ok() {
        received += 1;
    }
    assert_eq!(received, 15);
    let recording = rec.finish();
    let totals = |task: &str| total_of(&recording, only_declaration(&recording, task).id);
    let (inner, outer, host) = (totals("Inner"), totals("Outer"), totals("Host"));
    assert_eq!((inner.records_out, inner.records_in), (3, 0));
    assert_eq!((outer.records_out, outer.records_in), (5, 11));
    assert_eq!((host.records_out, host.records_in), (7, 13));
}
