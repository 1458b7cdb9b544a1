//! What per-subtask stack sampling costs: the throughput of a small CPU-bound pipeline with
//! sampling off, at 99 Hz and at 999 Hz, pprof-rs at the same rates on the same workload as the
//! reference, and the cost of one sample.
//!
//! - `pipeline_wall`: a pipeline of registered subtasks joined by `bpprof::bounded` channels
//!   (`Source` -> 2 x `Work` -> `Sink`, capacity 64; each `Work` call burns about 5 µs of CPU).
//!   Time from a start barrier to the sink receiving the last record; throughput in records/s.
//! - `pipeline_cpu`: the same pipeline, but the time reported is the CPU time the whole process
//!   used over the same span (`CLOCK_PROCESS_CPUTIME_ID`: every thread, including the recorder's
//!   and the sampler's, and the signal handlers). "Throughput" is then records per CPU-second.
//!   Sampling overhead shows up here as extra CPU, and this measure is far less sensitive than
//!   wall time to other processes competing for the 2 CPUs.
//!
//! Variants (a `bpprof::Recorder` runs in all of them): `off` (`sample_hz(0)`), `bpprof_99hz`,
//! `bpprof_999hz` (`sample_hz(99)` / `sample_hz(999)`, per subtask), `pprof_99hz`,
//! `pprof_999hz` (recorder with `sample_hz(0)` plus `pprof::ProfilerGuard` at that frequency).
//! After each variant the bench prints how many samples the profiler actually took per second.
//!
//! - `sample_cost` (printed, not a criterion group): one registered thread spins for a fixed wall
//!   time, reading `Instant::now()` between small pieces of work. Every interruption of
//!   0.5–200 µs during which the thread was not switched out (its context-switch count from
//!   `getrusage(RUSAGE_THREAD)` did not change) is time taken on its own CPU by interrupts, signal
//!   delivery and handlers. That time with the profiler on, minus the same per second with it
//!   off, divided by the samples taken, is the cost of a sample **on the sampled thread**; the
//!   CPU time of the `bpprof-sampler` thread (`/proc/self/task/*/schedstat`) per sample is added
//!   (waking, reading the thread's CPU clock, queueing the signal). pprof-rs has no sampler
//!   thread (the kernel's timer raises its signal). Three rounds of off / bpprof 999 Hz / pprof
//!   999 Hz; medians.
//!
//! Run: `cargo bench --bench sampling` (about 2 minutes). See `docs/performance.md`.

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, SamplingMode, Throughput};

/// Worker subtasks in the pipeline.
const WORKERS: usize = 2;
/// Records per criterion iteration.
const RECORDS_PER_ITER: u64 = 200;
/// Rounds of integer mixing per record in a worker (about 5 µs here).
const WORK_ROUNDS: u32 = 5_000;
/// Capacity of the pipeline's channels.
const CAPACITY: usize = 64;

/// Burns CPU for `rounds` rounds and returns a value that depends on all of them.
#[inline(never)]
fn burn(seed: u64, rounds: u32) -> u64 {
    let mut x = seed | 1;
    for _ in 0..rounds {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    black_box(x)
}

/// CPU time of a clock (`CLOCK_PROCESS_CPUTIME_ID` or `CLOCK_THREAD_CPUTIME_ID`).
fn cpu_time(clock: libc::clockid_t) -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock ids used are always supported.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime failed");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn process_cpu() -> Duration {
    cpu_time(libc::CLOCK_PROCESS_CPUTIME_ID)
}

fn thread_cpu() -> Duration {
    cpu_time(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// Which profiler runs during a measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Profiler {
    /// Recorder with sampling off.
    Off,
    /// Recorder sampling every subtask at this rate.
    Bpprof(u32),
    /// Recorder with sampling off, plus pprof-rs at this rate.
    Pprof(i32),
}

impl Profiler {
    fn name(self) -> String {
        match self {
            Profiler::Off => "off".to_string(),
            Profiler::Bpprof(hz) => format!("bpprof_{hz}hz"),
            Profiler::Pprof(hz) => format!("pprof_{hz}hz"),
        }
    }
}

/// A running recorder (and pprof guard).
struct Session {
    dir: tempfile::TempDir,
    recorder: bpprof::Recorder,
    pprof: Option<pprof::ProfilerGuard<'static>>,
    started: Instant,
}

/// What a session sampled.
#[derive(Debug, Clone, Copy, Default)]
struct Taken {
    /// Samples taken by a signal on a running thread (bpprof: on-CPU samples; pprof: all).
    samples: u64,
    /// Samples bpprof counted as lost.
    lost: u64,
    /// Wall time the session ran.
    elapsed: Duration,
}

fn start(profiler: Profiler) -> Session {
    let dir = tempfile::tempdir().expect("tempdir");
    let hz = match profiler {
        Profiler::Bpprof(hz) => hz,
        _ => 0,
    };
    let options = bpprof::RecorderOptions::new(dir.path().join("bench.bpprof")).sample_hz(hz);
    let recorder = bpprof::Recorder::start(options).expect("start recorder");
    let pprof = match profiler {
        Profiler::Pprof(hz) => Some(
            pprof::ProfilerGuardBuilder::default()
                .frequency(hz)
                .build()
                .expect("start pprof"),
        ),
        _ => None,
    };
    Session {
        dir,
        recorder,
        pprof,
        started: Instant::now(),
    }
}

fn finish(session: Session) -> Taken {
    let elapsed = session.started.elapsed();
    let mut taken = Taken {
        elapsed,
        ..Taken::default()
    };
    if let Some(guard) = session.pprof {
        let report = guard.report().build_unresolved().expect("pprof report");
        taken.samples = report.data.values().map(|&n| n.max(0) as u64).sum();
        drop(guard);
    }
    let summary = session.recorder.stop().expect("stop recorder");
    let recording = bpprof_format::read_file(&summary.path).expect("read the recording");
    for chunk in &recording.samples {
        taken.lost += chunk.lost;
        for count in chunk.counts.iter().filter(|c| c.on_cpu) {
            taken.samples += u64::from(count.count);
        }
    }
    drop(session.dir);
    taken
}

/// What a pipeline run measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Clock {
    /// Wall time from the start barrier to the sink receiving the last record.
    Wall,
    /// CPU time of the whole process over the same span (until every thread has finished).
    ProcessCpu,
}

/// Runs `records` records through `Source -> WORKERS x Work -> Sink` and returns the time taken
/// by `clock`. Threads are spawned and registered before the start barrier.
fn run_pipeline(records: u64, clock: Clock) -> Duration {
    let (src_tx, src_rx) = bpprof::bounded::<u64>(CAPACITY);
    let (out_tx, out_rx) = bpprof::bounded::<u64>(CAPACITY);
    let barrier = Arc::new(Barrier::new(WORKERS + 3));

    let source = {
        let barrier = Arc::clone(&barrier);
        thread::spawn(move || {
            let _subtask = bpprof::register("Source", 0, 1);
            barrier.wait();
            for i in 0..records {
                src_tx.send(black_box(i)).expect("workers alive");
            }
        })
    };
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let (rx, tx) = (src_rx.clone(), out_tx.clone());
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                let _subtask = bpprof::register("Work", w as u32, WORKERS as u32);
                barrier.wait();
                while let Ok(v) = rx.recv() {
                    tx.send(burn(v, WORK_ROUNDS)).expect("sink alive");
                }
            })
        })
        .collect();
    let sink = {
        let barrier = Arc::clone(&barrier);
        thread::spawn(move || {
            let _subtask = bpprof::register("Sink", 0, 1);
            barrier.wait();
            let mut n = 0u64;
            while let Ok(v) = out_rx.recv() {
                black_box(v);
                n += 1;
            }
            (Instant::now(), n)
        })
    };
    drop((src_rx, out_tx));

    barrier.wait();
    let (start, cpu_start) = (Instant::now(), process_cpu());
    source.join().expect("source panicked");
    for w in workers {
        w.join().expect("worker panicked");
    }
    let (end, received) = sink.join().expect("sink panicked");
    let cpu_end = process_cpu();
    assert_eq!(received, records);
    match clock {
        Clock::Wall => end - start,
        Clock::ProcessCpu => cpu_end - cpu_start,
    }
}

const VARIANTS: [Profiler; 5] = [
    Profiler::Off,
    Profiler::Bpprof(99),
    Profiler::Bpprof(999),
    Profiler::Pprof(99),
    Profiler::Pprof(999),
];

fn bench_pipeline(c: &mut Criterion, group_name: &str, clock: Clock) {
    let mut group: BenchmarkGroup<'_, WallTime> = c.benchmark_group(group_name);
    group
        .sample_size(15)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        // Every sample runs the same number of iterations, so the medians are comparable.
        .sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Elements(RECORDS_PER_ITER));
    for profiler in VARIANTS {
        let session = start(profiler);
        group.bench_function(profiler.name(), |b| {
            b.iter_custom(|iters| run_pipeline(iters * RECORDS_PER_ITER, clock))
        });
        let taken = finish(session);
        if taken.samples > 0 {
            println!(
                "{group_name}/{}: {} samples in {:.1} s ({:.0}/s over all threads), {} lost",
                profiler.name(),
                taken.samples,
                taken.elapsed.as_secs_f64(),
                taken.samples as f64 / taken.elapsed.as_secs_f64(),
                taken.lost
            );
        }
    }
    group.finish();
}

/// What one spinning run measured.
#[derive(Debug, Clone, Copy)]
struct Spin {
    /// Wall time of the run.
    wall: Duration,
    /// Interruptions of the spinning loop between `GAP_MIN` and `GAP_MAX` during which the thread
    /// was not switched out, and their total length (minus one normal loop turn each): time
    /// spent on the thread's CPU outside its loop (interrupts, signal delivery, signal handlers).
    gaps: u64,
    gap_time: Duration,
    /// CPU time of one normal loop turn.
    turn: Duration,
    /// CPU time of the spinning thread, of the sampler thread and of the whole process.
    thread_cpu: Duration,
    sampler_cpu: Duration,
    process_cpu: Duration,
    taken: Taken,
}

const GAP_MIN: Duration = Duration::from_nanos(500);
const GAP_MAX: Duration = Duration::from_micros(200);

/// CPU time used so far by the threads of this process named `bpprof-sampler`
/// (`/proc/self/task/*/schedstat`, nanoseconds on CPU).
fn sampler_cpu() -> Duration {
    let mut total = 0u64;
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Duration::ZERO;
    };
    for task in tasks.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim_end() == "bpprof-sampler" {
            let stat = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
            total += stat
                .split_whitespace()
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    Duration::from_nanos(total)
}

/// Voluntary plus involuntary context switches of the calling thread so far.
fn context_switches() -> i64 {
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable rusage; RUSAGE_THREAD is supported on Linux.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) };
    assert_eq!(rc, 0, "getrusage failed");
    usage.ru_nvcsw + usage.ru_nivcsw
}

/// One registered thread spins for `window` under `profiler`, reading the clock between small
/// pieces of work and adding up the interruptions that did not switch it out.
fn spin(profiler: Profiler, window: Duration) -> Spin {
    let session = start(profiler);
    let spinner = thread::spawn(move || {
        let _subtask = bpprof::register("Spin", 0, 1);
        // Let the sampler find the new subtask before measuring.
        let warm = Instant::now();
        while warm.elapsed() < Duration::from_millis(50) {
            black_box(burn(1, 1000));
        }
        let (scpu0, pcpu0, cpu0) = (sampler_cpu(), process_cpu(), thread_cpu());
        let start = Instant::now();
        let (mut last, mut switches, mut x) = (start, context_switches(), 1u64);
        let (mut gaps, mut gap_time, mut turns) = (0u64, Duration::ZERO, 0u64);
        loop {
            x = burn(x, 32);
            let now = Instant::now();
            let d = now - last;
            turns += 1;
            if d >= GAP_MIN {
                // Not a gap of this thread's own CPU when the thread was switched out meanwhile
                // (another process, or the sampler thread on this CPU).
                let now_switches = context_switches();
                if now_switches == switches && d < GAP_MAX {
                    gaps += 1;
                    gap_time += d;
                }
                switches = now_switches;
                // Do not count the `getrusage` call in the next turn.
                last = Instant::now();
                if last - start >= window {
                    break;
                }
            } else {
                last = now;
                if turns % 1024 == 0 && now - start >= window {
                    break;
                }
            }
        }
        black_box(x);
        let (cpu1, pcpu1, scpu1) = (thread_cpu(), process_cpu(), sampler_cpu());
        let wall = start.elapsed();
        // A gap also contains the loop turn it interrupted.
        let turn = (cpu1 - cpu0).saturating_sub(gap_time) / turns.max(1) as u32;
        let gap_time = gap_time.saturating_sub(turn * gaps as u32);
        (
            wall,
            gaps,
            gap_time,
            turn,
            cpu1 - cpu0,
            scpu1 - scpu0,
            pcpu1 - pcpu0,
        )
    });
    let (wall, gaps, gap_time, turn, thread_cpu, sampler_cpu, process_cpu) =
        spinner.join().expect("spinner");
    Spin {
        wall,
        gaps,
        gap_time,
        turn,
        thread_cpu,
        sampler_cpu,
        process_cpu,
        taken: finish(session),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Prints the cost of one sample at 999 Hz, bpprof and pprof-rs, from `rounds` rounds of
/// off / bpprof / pprof runs of `window` each.
fn sample_cost(rounds: usize, window: Duration) {
    let profilers = [Profiler::Off, Profiler::Bpprof(999), Profiler::Pprof(999)];
    let mut runs: Vec<Vec<Spin>> = vec![Vec::new(); profilers.len()];
    for _ in 0..rounds {
        for (i, &p) in profilers.iter().enumerate() {
            runs[i].push(spin(p, window));
        }
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!();
    println!(
        "sample_cost: one registered spinning thread, {rounds} rounds x {:.1} s per variant; \
         load average now: {}",
        window.as_secs_f64(),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "{:<13} {:>9} {:>6} {:>7} {:>8} {:>9} {:>10} {:>10} {:>10} {:>10}",
        "variant",
        "samples/s",
        "lost",
        "turn ns",
        "gaps/s",
        "spin CPU",
        "handler µs",
        "sampler µs",
        "total µs",
        "others µs"
    );
    // Per second of the run's wall time.
    let per_s = |d: Duration, s: &Spin| d.as_secs_f64() / s.wall.as_secs_f64();
    // Samples taken during the measured window (the session also covers start-up and stop).
    let samples = |s: &Spin| {
        s.taken.samples as f64 * s.wall.as_secs_f64() / s.taken.elapsed.as_secs_f64().max(1e-9)
    };
    let others = |s: &Spin| {
        s.process_cpu
            .saturating_sub(s.thread_cpu)
            .saturating_sub(s.sampler_cpu)
    };
    // The baseline with sampling off: gap time and other threads' CPU per second.
    let base_gap = median(runs[0].iter().map(|s| per_s(s.gap_time, s)).collect());
    let base_others = median(runs[0].iter().map(|s| per_s(others(s), s)).collect());
    // Extra CPU per sample, in µs, of `f(run)` over `base` per second.
    let per_sample = |spins: &[Spin], f: &dyn Fn(&Spin) -> Duration, base: f64| {
        median(
            spins
                .iter()
                .map(|s| {
                    let extra = (per_s(f(s), s) - base) * s.wall.as_secs_f64();
                    extra / samples(s).max(1.0) * 1e6
                })
                .collect(),
        )
    };
    for (p, spins) in profilers.iter().zip(&runs) {
        let rate = median(
            spins
                .iter()
                .map(|s| samples(s) / s.wall.as_secs_f64())
                .collect(),
        );
        let lost = median(spins.iter().map(|s| s.taken.lost as f64).collect());
        let gaps = median(
            spins
                .iter()
                .map(|s| s.gaps as f64 / s.wall.as_secs_f64())
                .collect(),
        );
        let spin_share = median(spins.iter().map(|s| per_s(s.thread_cpu, s)).collect());
        let (handler, sampler, others) = if *p == Profiler::Off {
            (f64::NAN, f64::NAN, f64::NAN)
        } else {
            (
                per_sample(spins, &|s| s.gap_time, base_gap),
                per_sample(spins, &|s| s.sampler_cpu, 0.0),
                per_sample(spins, &others, base_others),
            )
        };
        println!(
            "{:<13} {:>9.0} {:>6.0} {:>7.0} {:>8.0} {:>8.0}% {:>10.2} {:>10.2} {:>10.2} {:>10.2}",
            p.name(),
            rate,
            lost,
            median(spins.iter().map(|s| s.turn.as_nanos() as f64).collect()),
            gaps,
            spin_share * 100.0,
            handler,
            sampler,
            handler + sampler,
            others
        );
    }
    println!(
        "handler µs: extra time the sampled thread lost per sample to interruptions of {}–{} µs \
         that did not switch it out (minus the same with sampling off): signal delivery, handler, \
         return; sampler µs: CPU of the bpprof-sampler thread per sample; total = handler + \
         sampler; others µs: extra CPU of the remaining threads per sample (recorder writer: \
         symbolisation, pprof's handler on them); spin CPU: share of a CPU the spinning thread got",
        GAP_MIN.as_nanos() as f64 / 1e3,
        GAP_MAX.as_nanos() as f64 / 1e3
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo test --benches` runs each benchmark once: keep the printed part short then.
    let test_mode = args.iter().any(|a| a == "--test");
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();

    let mut c = Criterion::default().configure_from_args();
    bench_pipeline(&mut c, "pipeline_wall", Clock::Wall);
    bench_pipeline(&mut c, "pipeline_cpu", Clock::ProcessCpu);
    c.final_summary();

    if filters.is_empty() || filters.iter().any(|f| "sample_cost".contains(f.as_str())) {
        if test_mode {
            sample_cost(1, Duration::from_millis(200));
        } else {
            sample_cost(3, Duration::from_millis(1500));
        }
    }
}
