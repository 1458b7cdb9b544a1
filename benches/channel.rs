//! Throughput of the instrumented channel (`bpprof::bounded`) against the plain
//! `crossbeam_channel::bounded` it wraps, side by side in the same run.
//!
//! Cases (one criterion group each; `plain` and `instrumented` are always measured back to back):
//!
//! - `st_batch_cap1024`: one thread sends a batch of 256 messages then receives them, on a channel
//!   of capacity 1024. Never blocks: this is the pure non-blocking ("fast") path.
//! - `spsc_cap1024`, `mpmc4x4_cap1024`: 1 producer / 1 consumer and 4 producers / 4 consumers,
//!   capacity 1024 (rarely full or empty).
//! - `spsc_cap1`, `mpmc4x4_cap1`: the same with capacity 1, so senders and receivers block
//!   constantly (the blocking path: a clock read on entering and on leaving the blocked state).
//!
//! In the instrumented variants every producer and consumer thread is registered as a subtask
//! (`bpprof::register`), as a real pipeline would be. Some cases also run with a
//! `bpprof::Recorder` writing a 100 ms interval recording to a temporary directory.
//!
//! Threaded cases spawn the threads once per sample, outside the timed region: the time runs from
//! a barrier (all threads registered) to the last thread leaving its loop, and does not include
//! thread start, registration, deregistration or join.
//!
//! Run: `cargo bench --bench channel`. See `docs/performance.md` for results.

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{BenchmarkGroup, Criterion, SamplingMode, Throughput};

/// Messages per criterion iteration in the threaded cases with a large capacity (divisible by 4
/// producers).
const MSGS_PER_ITER: u64 = 10_000;
/// Messages per criterion iteration in the contended (capacity 1) cases, which are ~50x slower.
const MSGS_PER_ITER_CONTENDED: u64 = 2_000;
/// Messages per batch in the single-threaded case.
const BATCH: u64 = 256;

/// A channel implementation under test.
trait Flavor: 'static {
    /// Whether the worker threads register as bpprof subtasks.
    const REGISTER: bool;
    type Tx: Clone + Send + 'static;
    type Rx: Clone + Send + 'static;
    fn channel(capacity: usize) -> (Self::Tx, Self::Rx);
    fn send(tx: &Self::Tx, v: u64);
    fn recv(rx: &Self::Rx) -> Option<u64>;
}

/// `crossbeam_channel::bounded`, what `bpprof::bounded` wraps.
struct Plain;

impl Flavor for Plain {
    const REGISTER: bool = false;
    type Tx = crossbeam_channel::Sender<u64>;
    type Rx = crossbeam_channel::Receiver<u64>;
    fn channel(capacity: usize) -> (Self::Tx, Self::Rx) {
        crossbeam_channel::bounded(capacity)
    }
    #[inline]
    fn send(tx: &Self::Tx, v: u64) {
        tx.send(v).unwrap();
    }
    #[inline]
    fn recv(rx: &Self::Rx) -> Option<u64> {
        rx.recv().ok()
    }
}

/// `bpprof::bounded`, used by threads registered as subtasks (the real use).
struct Instrumented;

impl Flavor for Instrumented {
    const REGISTER: bool = true;
    type Tx = bpprof::Sender<u64>;
    type Rx = bpprof::Receiver<u64>;
    fn channel(capacity: usize) -> (Self::Tx, Self::Rx) {
        bpprof::bounded(capacity)
    }
    #[inline]
    fn send(tx: &Self::Tx, v: u64) {
        tx.send(v).unwrap();
    }
    #[inline]
    fn recv(rx: &Self::Rx) -> Option<u64> {
        rx.recv().ok()
    }
}

/// `bpprof::bounded` used by threads that are not registered (the thread-local lookup finds
/// nothing and no accounting happens).
struct InstrumentedUnregistered;

impl Flavor for InstrumentedUnregistered {
    const REGISTER: bool = false;
    type Tx = bpprof::Sender<u64>;
    type Rx = bpprof::Receiver<u64>;
    fn channel(capacity: usize) -> (Self::Tx, Self::Rx) {
        Instrumented::channel(capacity)
    }
    #[inline]
    fn send(tx: &Self::Tx, v: u64) {
        Instrumented::send(tx, v);
    }
    #[inline]
    fn recv(rx: &Self::Rx) -> Option<u64> {
        Instrumented::recv(rx)
    }
}

fn register_if<F: Flavor>(
    task: &str,
    index: usize,
    parallelism: usize,
) -> Option<bpprof::SubtaskGuard> {
    F::REGISTER.then(|| bpprof::register(task, index as u32, parallelism as u32))
}

/// Moves `total` messages from `producers` threads to `consumers` threads through one channel of
/// `capacity`, and returns the time from the start barrier to the last thread finishing.
fn run_threads<F: Flavor>(
    capacity: usize,
    producers: usize,
    consumers: usize,
    total: u64,
) -> Duration {
    let (tx, rx) = F::channel(capacity);
    let barrier = Arc::new(Barrier::new(producers + consumers + 1));
    let per_producer = total / producers as u64;

    let mut handles = Vec::with_capacity(producers + consumers);
    for p in 0..producers {
        let tx = tx.clone();
        let barrier = Arc::clone(&barrier);
        handles.push(thread::spawn(move || {
            let _subtask = register_if::<F>("Source", p, producers);
            barrier.wait();
            for i in 0..per_producer {
                F::send(&tx, black_box(i));
            }
            drop(tx);
            (Instant::now(), 0u64)
        }));
    }
    for c in 0..consumers {
        let rx = rx.clone();
        let barrier = Arc::clone(&barrier);
        handles.push(thread::spawn(move || {
            let _subtask = register_if::<F>("Sink", c, consumers);
            barrier.wait();
            let mut n = 0u64;
            while let Some(v) = F::recv(&rx) {
                black_box(v);
                n += 1;
            }
            (Instant::now(), n)
        }));
    }
    drop(tx);
    drop(rx);

    barrier.wait();
    let start = Instant::now();
    let mut end = start;
    let mut received = 0;
    for h in handles {
        let (t, n) = h.join().expect("worker panicked");
        end = end.max(t);
        received += n;
    }
    assert_eq!(received, per_producer * producers as u64);
    end - start
}

fn bench_threads<F: Flavor>(
    group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    capacity: usize,
    producers: usize,
    consumers: usize,
    msgs_per_iter: u64,
) {
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            run_threads::<F>(capacity, producers, consumers, iters * msgs_per_iter)
        })
    });
}

/// Single thread: send a batch, then receive it. Only the non-blocking path runs.
fn bench_batch<F: Flavor>(
    group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
) {
    let _subtask = register_if::<F>("Loop", 0, 1);
    let (tx, rx) = F::channel(1024);
    group.bench_function(name, |b| {
        b.iter(|| {
            for i in 0..BATCH {
                F::send(&tx, black_box(i));
            }
            for _ in 0..BATCH {
                black_box(F::recv(&rx));
            }
        })
    });
}

/// Runs `f` with a recorder writing a 100 ms interval recording to a temporary directory.
fn with_recorder(f: impl FnOnce()) {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = bpprof::RecorderOptions::new(dir.path().join("bench.bpprof"))
        .interval(Duration::from_millis(100));
    let recorder = bpprof::Recorder::start(options).expect("start recorder");
    f();
    let summary = recorder.stop().expect("stop recorder");
    assert!(summary.chunks >= 1);
}

/// Group settings that keep the whole run under ~3 minutes on 2 vCPUs.
fn configure(group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>, samples: usize) {
    group
        .sample_size(samples)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
}

fn main() {
    let mut c = Criterion::default().configure_from_args();

    {
        let mut g = c.benchmark_group("st_batch_cap1024");
        configure(&mut g, 40);
        g.throughput(Throughput::Elements(BATCH));
        bench_batch::<Plain>(&mut g, "plain");
        bench_batch::<Instrumented>(&mut g, "instrumented");
        bench_batch::<InstrumentedUnregistered>(&mut g, "instrumented_unregistered");
        with_recorder(|| bench_batch::<Instrumented>(&mut g, "instrumented+recorder"));
        g.finish();
    }

    for (group, capacity, producers, consumers, recorder) in [
        ("spsc_cap1024", 1024, 1, 1, true),
        ("mpmc4x4_cap1024", 1024, 4, 4, false),
        ("spsc_cap1", 1, 1, 1, false),
        ("mpmc4x4_cap1", 1, 4, 4, true),
    ] {
        let msgs = if capacity == 1 {
            MSGS_PER_ITER_CONTENDED
        } else {
            MSGS_PER_ITER
        };
        let mut g = c.benchmark_group(group);
        configure(&mut g, 15);
        // Every sample runs the same number of messages (threads are spawned once per sample), so
        // the per-sample medians are directly comparable.
        g.sampling_mode(SamplingMode::Flat);
        g.throughput(Throughput::Elements(msgs));
        let (p, q) = (producers, consumers);
        bench_threads::<Plain>(&mut g, "plain", capacity, p, q, msgs);
        bench_threads::<Instrumented>(&mut g, "instrumented", capacity, p, q, msgs);
        if recorder {
            with_recorder(|| {
                bench_threads::<Instrumented>(&mut g, "instrumented+recorder", capacity, p, q, msgs)
            });
        }
        g.finish();
    }

    c.final_summary();
}
