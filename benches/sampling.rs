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
//!   (its visits: draining the handlers' buffers, reading the accounting and busy threads' CPU
//!   clocks; the signals themselves come from the threads' CPU-time timers, raised by the kernel
//!   at its tick). Five rounds of off / bpprof 99 Hz / bpprof 999 Hz / pprof 999 Hz, the order
//!   rotated every round; medians. Then `delivery`: weighted samples (a signal stands for
//!   1 + `si_overrun` periods) and distinct signals (the `signal:signal_deliver` tracepoint,
//!   counted on the thread with `perf_event_open`; n/a without the privilege) per second of the
//!   spinning thread's CPU, against the requested rate.
//!
//! Printed sections of paired runs (sampling off, 99 Hz, 999 Hz; the order rotated every round;
//! medians):
//!
//! - `overhead`: process CPU per record of one CPU-bound subtask (`Single`) and of a 2-subtask
//!   pipeline (`Pipeline2`: `Work -> bounded(64) -> Sink`, the sink often idle and woken), 7
//!   rounds of 200,000 records; also the median of each round's ratio to that round's `off`.
//! - `idle_sampler`: the `bpprof-sampler` thread's CPU (schedstat, and utime + stime from
//!   `/proc/self/task/TID/stat`) and the process's CPU with no subtask, then with 256 registered
//!   subtasks blocked in an instrumented `recv` (one channel each), 5 rounds of 2 s each.
//! - `rss`: VmRSS and VmHWM of a fresh process (this binary re-run with
//!   `BPPROF_BENCH_RSS_CHILD`) running the 2-subtask pipeline for 3 s, 5 rounds; `off+symbols`
//!   (sampling off, one standard-library backtrace resolved first) shows what loading the
//!   binary's debug info alone adds.
//!
//! Run: `cargo bench --bench sampling` (about 6 minutes); one section:
//! `cargo bench --bench sampling -- overhead` (or `sample_cost`, `idle_sampler`, `rss`,
//! `pipeline_cpu`). See `docs/performance.md`.

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
    /// Signals delivered to the spinning thread during the window (the kernel's
    /// `signal:signal_deliver` tracepoint, counted for that thread), if it could be counted.
    signals: Option<u64>,
    taken: Taken,
}

/// The leading fields of the kernel's `struct perf_event_attr` (the rest stays zero).
#[repr(C)]
struct PerfEventAttr {
    kind: u32,
    size: u32,
    config: u64,
    rest: [u64; 14],
}

/// A counter of the signals delivered to the calling thread (the `signal:signal_deliver`
/// tracepoint, `perf_event_open` in counting mode). `None` without tracefs or the privilege
/// (root, or `perf_event_paranoid` at -1).
struct SignalCounter(libc::c_int);

impl SignalCounter {
    fn open() -> Option<SignalCounter> {
        let id = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]
            .iter()
            .find_map(|root| {
                std::fs::read_to_string(format!("{root}/events/signal/signal_deliver/id")).ok()
            })?
            .trim()
            .parse::<u64>()
            .ok()?;
        let attr = PerfEventAttr {
            kind: 2, // PERF_TYPE_TRACEPOINT
            size: std::mem::size_of::<PerfEventAttr>() as u32,
            config: id,
            rest: [0; 14],
        };
        // SAFETY: `attr` is a valid perf_event_attr of the size given; pid 0 and cpu -1 count
        // the calling thread on any CPU; no group, no flags.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_perf_event_open,
                &attr as *const PerfEventAttr,
                0,
                -1,
                -1,
                0,
            )
        };
        (fd >= 0).then_some(SignalCounter(fd as libc::c_int))
    }

    fn read(&self) -> u64 {
        let mut count = 0u64;
        // SAFETY: reads 8 bytes into `count` from the counter's file descriptor.
        let n = unsafe { libc::read(self.0, (&mut count as *mut u64).cast(), 8) };
        if n == 8 {
            count
        } else {
            0
        }
    }
}

impl Drop for SignalCounter {
    fn drop(&mut self) {
        // SAFETY: closes the descriptor this value owns, once.
        unsafe { libc::close(self.0) };
    }
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
        let counter = SignalCounter::open();
        let signals0 = counter.as_ref().map(SignalCounter::read);
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
        let signals = counter
            .as_ref()
            .map(SignalCounter::read)
            .zip(signals0)
            .map(|(b, a)| b - a);
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
            signals,
        )
    });
    let (wall, gaps, gap_time, turn, thread_cpu, sampler_cpu, process_cpu, signals) =
        spinner.join().expect("spinner");
    Spin {
        wall,
        gaps,
        gap_time,
        turn,
        thread_cpu,
        sampler_cpu,
        process_cpu,
        signals,
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
    let profilers = [
        Profiler::Off,
        Profiler::Bpprof(99),
        Profiler::Bpprof(999),
        Profiler::Pprof(999),
    ];
    let mut runs: Vec<Vec<Spin>> = vec![Vec::new(); profilers.len()];
    // The order of the variants rotates from round to round.
    for round in 0..rounds {
        for k in 0..profilers.len() {
            let i = (round + k) % profilers.len();
            runs[i].push(spin(profilers[i], window));
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

    // What reached the running thread: weighted samples (bpprof: the recording's on-CPU counts,
    // each signal standing for 1 + si_overrun periods) and distinct signals (tracepoint), per
    // second of the thread's CPU time, against the requested rate.
    println!();
    println!("delivery: samples and signals per CPU-second of the running thread, medians of {rounds} rounds");
    println!(
        "{:<13} {:>9} {:>13} {:>13} {:>13} {:>12}",
        "variant", "requested", "samples/CPU-s", "of requested", "signals/CPU-s", "mean weight"
    );
    for (p, spins) in profilers.iter().zip(&runs) {
        let requested = match p {
            Profiler::Off => continue,
            Profiler::Bpprof(hz) => f64::from(*hz),
            Profiler::Pprof(hz) => f64::from(*hz),
        };
        let per_cpu_s = |n: f64, s: &Spin| n / s.thread_cpu.as_secs_f64().max(1e-9);
        let rate = median(spins.iter().map(|s| per_cpu_s(samples(s), s)).collect());
        let signals: Vec<f64> = spins
            .iter()
            .filter_map(|s| s.signals.map(|n| per_cpu_s(n as f64, s)))
            .collect();
        let (signals, weight) = if signals.len() == spins.len() {
            let weight = median(
                spins
                    .iter()
                    .map(|s| samples(s) / s.signals.unwrap_or(0).max(1) as f64)
                    .collect(),
            );
            (format!("{:.0}", median(signals)), format!("{weight:.2}"))
        } else {
            ("n/a".to_string(), "n/a".to_string())
        };
        println!(
            "{:<13} {:>9.0} {:>13.0} {:>12.1}% {:>13} {:>12}",
            p.name(),
            requested,
            rate,
            100.0 * rate / requested,
            signals,
            weight
        );
    }
    println!(
        "signals: the kernel's signal:signal_deliver tracepoint counted on the spinning thread \
         (n/a without tracefs or privilege); mean weight = samples / signals"
    );
}

/// The median of `v` over the runs of each variant, per variant.
fn medians<T>(runs: &[Vec<T>], f: impl Fn(&T) -> f64) -> Vec<f64> {
    runs.iter()
        .map(|r| median(r.iter().map(&f).collect()))
        .collect()
}

/// The 1-minute, 5-minute and 15-minute load averages.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The variants of the paired overhead measurements: sampling off, 99 Hz, 999 Hz.
const PAIRED: [Profiler; 3] = [Profiler::Off, Profiler::Bpprof(99), Profiler::Bpprof(999)];

/// Workloads of `overhead`: CPU per record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// One registered CPU-bound subtask: `WORK_ROUNDS` of mixing per record, no channel.
    Single,
    /// `Work -> Sink` through a `bpprof::bounded(64)` channel: `Work` burns `WORK_ROUNDS` per
    /// record and sends it; `Sink` receives it and burns a quarter of that, so it is often idle
    /// and woken by `Work`.
    Pipeline2,
}

/// One run of `overhead`: process CPU and wall time of `records` records.
#[derive(Debug, Clone, Copy)]
struct Overhead {
    cpu: Duration,
    wall: Duration,
    taken: Taken,
}

/// Runs `records` records of `shape` under `profiler`; threads register, then the measurement
/// starts 60 ms later (once the sampler has started their timers) and ends when they are done.
fn overhead_run(shape: Shape, profiler: Profiler, records: u64) -> Overhead {
    let session = start(profiler);
    let ready = Arc::new(Barrier::new(if shape == Shape::Single { 2 } else { 3 }));
    let go = Arc::new(Barrier::new(if shape == Shape::Single { 2 } else { 3 }));
    let mut threads = Vec::new();
    match shape {
        Shape::Single => {
            let (ready, go) = (Arc::clone(&ready), Arc::clone(&go));
            threads.push(thread::spawn(move || {
                let _subtask = bpprof::register("Work", 0, 1);
                ready.wait();
                go.wait();
                let mut x = 1u64;
                for _ in 0..records {
                    x = burn(x, WORK_ROUNDS);
                }
                black_box(x);
            }));
        }
        Shape::Pipeline2 => {
            let (tx, rx) = bpprof::bounded::<u64>(CAPACITY);
            let (r, g) = (Arc::clone(&ready), Arc::clone(&go));
            threads.push(thread::spawn(move || {
                let _subtask = bpprof::register("Work", 0, 1);
                r.wait();
                g.wait();
                let mut x = 1u64;
                for _ in 0..records {
                    x = burn(x, WORK_ROUNDS);
                    tx.send(x).expect("sink alive");
                }
            }));
            let (r, g) = (Arc::clone(&ready), Arc::clone(&go));
            threads.push(thread::spawn(move || {
                let _subtask = bpprof::register("Sink", 0, 1);
                r.wait();
                g.wait();
                let mut n = 0u64;
                while let Ok(v) = rx.recv() {
                    black_box(burn(v, WORK_ROUNDS / 4));
                    n += 1;
                }
                assert_eq!(n, records);
            }));
        }
    }
    ready.wait();
    thread::sleep(Duration::from_millis(60));
    let (wall0, cpu0) = (Instant::now(), process_cpu());
    go.wait();
    for t in threads {
        t.join().expect("worker panicked");
    }
    let (cpu, wall) = (process_cpu() - cpu0, wall0.elapsed());
    Overhead {
        cpu,
        wall,
        taken: finish(session),
    }
}

/// (a) CPU per record with sampling off, at 99 Hz and at 999 Hz, for one CPU-bound subtask and a
/// 2-subtask pipeline: `rounds` rounds, the order of the variants rotated every round; medians,
/// and the median of each round's ratio to that round's `off`.
fn overhead(rounds: usize, records: u64) {
    // Resolve the bench binary's debug info once (the symboliser's cache is process-wide), so
    // that no measured run pays for loading it.
    let _ = overhead_run(Shape::Single, Profiler::Bpprof(999), records / 4);
    let load_before = loadavg();
    for shape in [Shape::Single, Shape::Pipeline2] {
        let mut runs: Vec<Vec<Overhead>> = vec![Vec::new(); PAIRED.len()];
        for round in 0..rounds {
            for k in 0..PAIRED.len() {
                let i = (round + k) % PAIRED.len();
                runs[i].push(overhead_run(shape, PAIRED[i], records));
            }
        }
        let ns = |o: &Overhead| o.cpu.as_nanos() as f64 / records as f64;
        let cpu = medians(&runs, ns);
        let wall = medians(&runs, |o| o.wall.as_secs_f64());
        println!();
        println!(
            "overhead/{shape:?}: {records} records per run, {rounds} rotated rounds; load average before: {load_before}, now: {}",
            loadavg()
        );
        println!(
            "{:<13} {:>10} {:>14} {:>16} {:>18} {:>9} {:>6}",
            "variant",
            "ns/record",
            "vs off",
            "per-round ratios",
            "on-CPU samples/s",
            "wall s",
            "lost"
        );
        for (i, p) in PAIRED.iter().enumerate() {
            let ratios: Vec<f64> = (0..rounds)
                .map(|r| ns(&runs[i][r]) / ns(&runs[0][r]))
                .collect();
            let listed = ratios
                .iter()
                .map(|r| format!("{:+.1}", (r - 1.0) * 100.0))
                .collect::<Vec<_>>()
                .join(" ");
            let rate = median(
                runs[i]
                    .iter()
                    .map(|o| o.taken.samples as f64 / o.taken.elapsed.as_secs_f64())
                    .collect(),
            );
            let lost = median(runs[i].iter().map(|o| o.taken.lost as f64).collect());
            println!(
                "{:<13} {:>10.0} {:>+13.2}% {:>16} {:>18.0} {:>9.2} {:>6.0}",
                p.name(),
                cpu[i],
                (median(ratios.clone()) - 1.0) * 100.0,
                if i == 0 {
                    String::new()
                } else {
                    format!("[{listed}]")
                },
                rate,
                wall[i],
                lost
            );
        }
        println!(
            "ns/record: process CPU (every thread: workers, recorder, sampler, handlers) per record, \
             median; vs off: median of the per-round ratios to that round's off (per-round, in %)"
        );
    }
}

/// CPU time (schedstat, ns) and utime + stime (stat, clock ticks) of the `bpprof-sampler` thread.
fn sampler_stat() -> (Duration, u64) {
    let mut ticks = 0u64;
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
            if comm.trim_end() == "bpprof-sampler" {
                let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
                // Fields after the command's closing parenthesis: state is field 3, utime 14.
                if let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) {
                    let f: Vec<&str> = rest.split_whitespace().collect();
                    ticks += f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
                        + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
                }
            }
        }
    }
    (sampler_cpu(), ticks)
}

/// (c) The sampler thread's CPU with `threads` registered subtasks, all blocked in an
/// instrumented `recv` (one channel each), over `window`: off / 99 Hz / 999 Hz, `rounds` rotated
/// rounds, medians.
fn idle_sampler(rounds: usize, threads: usize, window: Duration) {
    let run = |profiler: Profiler| {
        let session = start(profiler);
        let mut senders = Vec::new();
        let mut handles = Vec::new();
        let registered = Arc::new(Barrier::new(threads + 1));
        for i in 0..threads {
            let (tx, rx) = bpprof::bounded::<u64>(4);
            senders.push(tx);
            let registered = Arc::clone(&registered);
            handles.push(thread::spawn(move || {
                let _subtask = bpprof::register("Idle", i as u32, threads as u32);
                registered.wait();
                while let Ok(v) = rx.recv() {
                    black_box(v);
                }
            }));
        }
        registered.wait();
        // Let the sampler start every timer and settle.
        thread::sleep(Duration::from_millis(300));
        let (s0, t0, p0, w0) = {
            let (s, t) = sampler_stat();
            (s, t, process_cpu(), Instant::now())
        };
        thread::sleep(window);
        let (s1, t1) = sampler_stat();
        let (p1, wall) = (process_cpu(), w0.elapsed());
        drop(senders);
        for h in handles {
            h.join().expect("idle thread panicked");
        }
        let _ = finish(session);
        let secs = wall.as_secs_f64();
        (
            (s1 - s0).as_secs_f64() / secs,
            (t1 - t0) as f64 / 100.0 / secs, // USER_HZ = 100
            (p1 - p0).as_secs_f64() / secs,
        )
    };
    let mut runs: Vec<Vec<(f64, f64, f64)>> = vec![Vec::new(); PAIRED.len()];
    let load_before = loadavg();
    for round in 0..rounds {
        for k in 0..PAIRED.len() {
            let i = (round + k) % PAIRED.len();
            runs[i].push(run(PAIRED[i]));
        }
    }
    println!();
    println!(
        "idle_sampler: {threads} registered subtasks blocked in recv, {rounds} rotated rounds x {:.1} s; load average before: {load_before}, now: {}",
        window.as_secs_f64(),
        loadavg()
    );
    println!(
        "{:<13} {:>22} {:>22} {:>20} {:>22}",
        "variant",
        "sampler CPU (schedstat)",
        "sampler CPU (stat)",
        "process CPU",
        "process CPU vs off"
    );
    let process = medians(&runs, |r| r.2);
    for (i, p) in PAIRED.iter().enumerate() {
        println!(
            "{:<13} {:>21.3}% {:>21.3}% {:>19.3}% {:>+21.3}%",
            p.name(),
            medians(&runs, |r| r.0)[i] * 100.0,
            medians(&runs, |r| r.1)[i] * 100.0,
            process[i] * 100.0,
            (process[i] - process[0]) * 100.0
        );
    }
    println!("% of one CPU, medians; stat = utime + stime in 10 ms ticks (coarse)");
}

/// The child side of `rss`: runs the 2-subtask pipeline for `seconds` under `hz`, then prints
/// `rss KIB HWM KIB` of this process (before stopping the recorder). `symbols`: first resolve
/// one backtrace with the standard library (which loads this binary's debug info much as the
/// recorder's symboliser does), to tell that part of the RSS from the rest of sampling's.
fn rss_child(hz: u32, seconds: f64, symbols: bool) {
    if symbols {
        black_box(std::backtrace::Backtrace::force_capture().to_string());
    }
    let profiler = if hz == 0 {
        Profiler::Off
    } else {
        Profiler::Bpprof(hz)
    };
    let session = start(profiler);
    let (tx, rx) = bpprof::bounded::<u64>(CAPACITY);
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let work = thread::spawn(move || {
        let _subtask = bpprof::register("Work", 0, 1);
        let mut x = 1u64;
        while Instant::now() < deadline {
            x = burn(x, WORK_ROUNDS);
            tx.send(x).expect("sink alive");
        }
    });
    let sink = thread::spawn(move || {
        let _subtask = bpprof::register("Sink", 0, 1);
        while let Ok(v) = rx.recv() {
            black_box(burn(v, WORK_ROUNDS / 4));
        }
    });
    work.join().expect("work");
    sink.join().expect("sink");
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or("0")
            .to_string()
    };
    println!("rss {} hwm {}", field("VmRSS:"), field("VmHWM:"));
    let _ = finish(session);
}

/// (d) Process RSS added by sampling: each run is a fresh child process (this binary, with
/// `BPPROF_BENCH_RSS_CHILD=hz`) that runs the 2-subtask pipeline for `seconds`; `rounds` rotated
/// rounds of off / 99 Hz / 999 Hz; medians.
fn rss(rounds: usize, seconds: f64) {
    let exe = std::env::current_exe().expect("the bench binary");
    let run = |(hz, symbols): (u32, bool)| -> (f64, f64) {
        let out = std::process::Command::new(&exe)
            .env(
                "BPPROF_BENCH_RSS_CHILD",
                format!("{hz} {seconds} {}", if symbols { "symbols" } else { "-" }),
            )
            .output()
            .expect("run the rss child");
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text
            .lines()
            .find(|l| l.starts_with("rss "))
            .unwrap_or_else(|| panic!("rss child printed no rss line: {text}"));
        let f: Vec<f64> = line
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect();
        (f[0], f[1])
    };
    let hzs = [(0u32, false), (0, true), (99, false), (999, false)];
    let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new(); hzs.len()];
    let load_before = loadavg();
    for round in 0..rounds {
        for k in 0..hzs.len() {
            let i = (round + k) % hzs.len();
            runs[i].push(run(hzs[i]));
        }
    }
    let rss = medians(&runs, |r| r.0);
    let hwm = medians(&runs, |r| r.1);
    println!();
    println!(
        "rss: 2-subtask pipeline for {seconds:.0} s in a fresh process per run, {rounds} rotated rounds; load average before: {load_before}, now: {}",
        loadavg()
    );
    println!(
        "{:<13} {:>10} {:>10} {:>10} {:>10}",
        "variant", "RSS KiB", "vs off", "peak KiB", "vs off"
    );
    for (i, (hz, symbols)) in hzs.iter().enumerate() {
        let name = match (hz, symbols) {
            (0, false) => "off".to_string(),
            (0, true) => "off+symbols".to_string(),
            _ => format!("bpprof_{hz}hz"),
        };
        println!(
            "{:<13} {:>10.0} {:>+10.0} {:>10.0} {:>+10.0}",
            name,
            rss[i],
            rss[i] - rss[0],
            hwm[i],
            hwm[i] - hwm[0]
        );
    }
    println!(
        "RSS: VmRSS before the recorder stops; peak: VmHWM; medians (KiB); off+symbols: sampling \
         off, one std backtrace resolved first (loads this binary's debug info)"
    );
}

fn main() {
    if let Ok(spec) = std::env::var("BPPROF_BENCH_RSS_CHILD") {
        let mut f = spec.split_whitespace();
        let hz = f.next().and_then(|v| v.parse().ok()).unwrap_or(0);
        let seconds = f.next().and_then(|v| v.parse().ok()).unwrap_or(3.0);
        rss_child(hz, seconds, f.next() == Some("symbols"));
        return;
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo test --benches` runs each benchmark once: keep the printed part short then.
    let test_mode = args.iter().any(|a| a == "--test");
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();

    // A printed section runs when no filter is given or a filter is part of its name.
    let selected =
        |name: &str| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()));

    if selected("pipeline_wall") || selected("pipeline_cpu") {
        let mut c = Criterion::default().configure_from_args();
        bench_pipeline(&mut c, "pipeline_wall", Clock::Wall);
        bench_pipeline(&mut c, "pipeline_cpu", Clock::ProcessCpu);
        c.final_summary();
    }
    if test_mode {
        sample_cost(1, Duration::from_millis(200));
        overhead(1, 2_000);
        idle_sampler(1, 0, Duration::from_millis(200));
        idle_sampler(1, 16, Duration::from_millis(200));
        rss(1, 0.3);
        return;
    }
    if selected("sample_cost") {
        sample_cost(5, Duration::from_millis(1500));
    }
    if selected("overhead") {
        overhead(7, 200_000);
    }
    if selected("idle_sampler") {
        // With no subtask at all: what the sampler's visits cost by themselves.
        idle_sampler(5, 0, Duration::from_secs(2));
        idle_sampler(5, 256, Duration::from_secs(2));
    }
    if selected("rss") {
        rss(5, 3.0);
    }
}
