//! Throughput of an async pipeline on bpprof's instrumented async channel
//! (`bpprof::tokio::channel`, subtasks spawned with `bpprof::tokio::spawn_subtask`) against the
//! same pipeline on the plain `tokio::sync::mpsc` it wraps, side by side in one run.
//!
//! The pipeline: Source -> Map -> Sink on a 2-worker multi-thread runtime, `MESSAGES` u64
//! records per run, channels of capacity 256; Map does a little work per record. Variants:
//! `plain` (tokio's channel, `tokio::spawn`), `bpprof` (bpprof's channel and subtasks, no
//! recorder), `bpprof_recording` (the same with a recorder writing 100 ms intervals, sampling
//! off), and `tokio_metrics` (the plain pipeline with each task instrumented by a
//! `tokio_metrics::TaskMonitor`, which times every poll and every scheduling delay: what users
//! run today for per-task statistics on stable tokio). Rounds rotate the order; medians of the
//! per-round ratios to `plain`.
//!
//! Run: `cargo bench --bench async_channel` (about a minute). `ROUNDS=N` sets the rounds
//! (default 9). `scripts/async-instructions.sh` counts instructions per message with callgrind
//! (mode `ASYNC_CALLGRIND`). See `docs/performance.md` ("Async channels").

use std::hint::black_box;
use std::time::{Duration, Instant};

const MESSAGES: u64 = 300_000;
const CAPACITY: usize = 256;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Variant {
    Plain,
    Bpprof,
    BpprofRecording,
    TokioMetrics,
}

const VARIANTS: [Variant; 4] = [
    Variant::Plain,
    Variant::Bpprof,
    Variant::BpprofRecording,
    Variant::TokioMetrics,
];

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Plain => "plain",
            Variant::Bpprof => "bpprof",
            Variant::BpprofRecording => "bpprof_recording",
            Variant::TokioMetrics => "tokio_metrics",
        }
    }
}

/// A little work per record in Map.
#[inline(never)]
fn map(x: u64) -> u64 {
    let mut v = x | 1;
    for _ in 0..20 {
        v ^= v << 13;
        v ^= v >> 7;
        v ^= v << 17;
    }
    v
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime")
}

/// Spawns `future`, instrumented by `monitor` when there is one (one monitor per task, as
/// tokio-metrics is used).
fn spawn<F>(
    monitor: Option<&tokio_metrics::TaskMonitor>,
    future: F,
) -> tokio::task::JoinHandle<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    match monitor {
        Some(monitor) => tokio::spawn(monitor.instrument(future)),
        None => tokio::spawn(future),
    }
}

/// One run of the pipeline on tokio's own channel, each task instrumented by a tokio-metrics
/// `TaskMonitor` when `monitored`: its wall time.
fn plain(rt: &tokio::runtime::Runtime, monitored: bool) -> Duration {
    let monitors: Vec<tokio_metrics::TaskMonitor> = (0..3)
        .filter(|_| monitored)
        .map(|_| tokio_metrics::TaskMonitor::new())
        .collect();
    rt.block_on(async {
        let start = Instant::now();
        let (tx, mut rx) = tokio::sync::mpsc::channel::<u64>(CAPACITY);
        let (out, mut sink_rx) = tokio::sync::mpsc::channel::<u64>(CAPACITY);
        let source = spawn(monitors.first(), async move {
            for i in 0..MESSAGES {
                tx.send(i).await.unwrap();
            }
        });
        let mapper = spawn(monitors.get(1), async move {
            while let Some(v) = rx.recv().await {
                out.send(map(v)).await.unwrap();
            }
        });
        let sink = spawn(monitors.get(2), async move {
            let mut acc = 0u64;
            while let Some(v) = sink_rx.recv().await {
                acc = acc.wrapping_add(v);
            }
            acc
        });
        source.await.unwrap();
        mapper.await.unwrap();
        black_box(sink.await.unwrap());
        start.elapsed()
    })
}

/// One run of the pipeline on bpprof's channel and subtasks: its wall time.
fn bpprof_run(rt: &tokio::runtime::Runtime) -> Duration {
    use bpprof::tokio::{channel, spawn_subtask};
    rt.block_on(async {
        let start = Instant::now();
        let (tx, mut rx) = channel::<u64>("source->map", CAPACITY);
        let (out, mut sink_rx) = channel::<u64>("map->sink", CAPACITY);
        let source = spawn_subtask("Source", 0, 1, async move {
            for i in 0..MESSAGES {
                tx.send(i).await.unwrap();
            }
        });
        let mapper = spawn_subtask("Map", 0, 1, async move {
            while let Some(v) = rx.recv().await {
                out.send(map(v)).await.unwrap();
            }
        });
        let sink = spawn_subtask("Sink", 0, 1, async move {
            let mut acc = 0u64;
            while let Some(v) = sink_rx.recv().await {
                acc = acc.wrapping_add(v);
            }
            acc
        });
        source.await.unwrap();
        mapper.await.unwrap();
        black_box(sink.await.unwrap());
        start.elapsed()
    })
}

fn run(variant: Variant, rt: &tokio::runtime::Runtime) -> Duration {
    match variant {
        Variant::Plain => plain(rt, false),
        Variant::TokioMetrics => plain(rt, true),
        Variant::Bpprof => bpprof_run(rt),
        Variant::BpprofRecording => {
            let dir = tempfile::tempdir().expect("tempdir");
            let recorder = bpprof::Recorder::start(
                bpprof::RecorderOptions::new(dir.path().join("async.bpprof"))
                    .interval(Duration::from_millis(100))
                    .sample_hz(0),
            )
            .expect("recorder");
            let took = bpprof_run(rt);
            recorder.stop().expect("stop");
            took
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// `ASYNC_CALLGRIND=plain|bpprof|tokio_metrics` (see `scripts/async-instructions.sh`): one run of `MESSAGES`
/// records from a source to a sink task on a `current_thread` runtime, capacity `CAPACITY`
/// (environment, default 256: the non-blocking path; 1: every message waits), nothing else, so
/// that callgrind's instruction counts of the two variants differ only by bpprof.
///
/// With `POLLS=1` instead: one task polled `MESSAGES` times (it yields at each), plain, as a
/// subtask, as a subtask while a recorder runs (`bpprof_recording`; `bpprof_recording_sampled`
/// with the sampler at 99 Hz) or under a `TaskMonitor`, for the wrapper's instructions per poll.
fn callgrind_run(variant: &str) {
    if std::env::var_os("POLLS").is_some() {
        return callgrind_polls(variant);
    }
    let capacity: usize = std::env::var("CAPACITY")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(CAPACITY);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let monitors: Vec<tokio_metrics::TaskMonitor> = (0..2)
        .filter(|_| variant == "tokio_metrics")
        .map(|_| tokio_metrics::TaskMonitor::new())
        .collect();
    let sum = rt.block_on(async move {
        if variant != "bpprof" {
            let (tx, mut rx) = tokio::sync::mpsc::channel::<u64>(capacity);
            let source = spawn(monitors.first(), async move {
                for i in 0..MESSAGES {
                    tx.send(i).await.unwrap();
                }
            });
            let sink = spawn(monitors.get(1), async move {
                let mut acc = 0u64;
                while let Some(v) = rx.recv().await {
                    acc = acc.wrapping_add(v);
                }
                acc
            });
            source.await.unwrap();
            sink.await.unwrap()
        } else {
            use bpprof::tokio::{channel, spawn_subtask};
            let (tx, mut rx) = channel::<u64>("source->sink", capacity);
            let source = spawn_subtask("Source", 0, 1, async move {
                for i in 0..MESSAGES {
                    tx.send(i).await.unwrap();
                }
            });
            let sink = spawn_subtask("Sink", 0, 1, async move {
                let mut acc = 0u64;
                while let Some(v) = rx.recv().await {
                    acc = acc.wrapping_add(v);
                }
                acc
            });
            source.await.unwrap();
            sink.await.unwrap()
        }
    });
    println!("{variant}: {MESSAGES} messages, sum {sum}");
}

/// One task that yields `MESSAGES` times, so that it is polled `MESSAGES + 1` times.
fn callgrind_polls(variant: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let polls = async {
        for _ in 0..MESSAGES {
            tokio::task::yield_now().await;
        }
    };
    let monitor = tokio_metrics::TaskMonitor::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let recorder = variant.starts_with("bpprof_recording").then(|| {
        let sample_hz = if variant == "bpprof_recording_sampled" {
            99
        } else {
            0
        };
        bpprof::Recorder::start(
            bpprof::RecorderOptions::new(dir.path().join("polls.bpprof"))
                .interval(Duration::from_secs(1))
                .sample_hz(sample_hz),
        )
        .expect("recorder")
    });
    rt.block_on(async move {
        if variant == "plain" {
            tokio::spawn(polls).await.unwrap();
        } else if variant == "tokio_metrics" {
            tokio::spawn(monitor.instrument(polls)).await.unwrap();
        } else {
            bpprof::tokio::spawn_subtask("Task", 0, 1, polls)
                .await
                .unwrap();
        }
    });
    if let Some(recorder) = recorder {
        recorder.stop().expect("stop");
    }
    println!("{variant}: {MESSAGES} polls");
}

fn main() {
    if let Ok(variant) = std::env::var("ASYNC_CALLGRIND") {
        callgrind_run(&variant);
        return;
    }
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(9);
    let rt = runtime();
    // Warm-up.
    for v in VARIANTS {
        run(v, &rt);
    }
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); VARIANTS.len()];
    for round in 0..rounds {
        for k in 0..VARIANTS.len() {
            let i = (round + k) % VARIANTS.len();
            times[i].push(run(VARIANTS[i], &rt).as_secs_f64());
        }
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "async_channel: Source -> Map -> Sink, {MESSAGES} records, capacity {CAPACITY}, 2 workers, {rounds} rotated rounds; load average now: {}",
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    );
    println!(
        "{:<18} {:>14} {:>20} {:>34}",
        "variant", "records/s", "throughput vs plain", "per-round ratios"
    );
    for (i, v) in VARIANTS.iter().enumerate() {
        let ratios: Vec<f64> = times[0].iter().zip(&times[i]).map(|(p, t)| p / t).collect();
        let per_round: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
        println!(
            "{:<18} {:>14.0} {:>20.3} {:>34}",
            v.name(),
            MESSAGES as f64 / median(times[i].clone()),
            median(ratios),
            per_round.join(" ")
        );
    }
}
