//! Helpers shared by the example pipelines: how long to run, starting the recording, and CPU work
//! of a known cost.

#![allow(dead_code)] // Each example uses a different subset.

pub mod async_stages;

use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// The value of `--FLAG VALUE` on the example's command line (the last one wins), else of the
/// environment variable `env`. A flag without a value gives an empty string, which no caller
/// accepts, so the mistake is reported instead of ignored.
pub fn flag_or_env(flag: &str, env: &str) -> Option<String> {
    let mut args = std::env::args().skip(1);
    let mut value = None;
    while let Some(arg) = args.next() {
        if arg == flag {
            value = Some(args.next().unwrap_or_default());
        }
    }
    value.or_else(|| std::env::var(env).ok())
}

/// How long the example's source produces records: `--seconds N` or `BPPROF_EXAMPLE_SECONDS`,
/// default `default_s`.
pub fn run_time(default_s: f64) -> Duration {
    let seconds = match flag_or_env("--seconds", "BPPROF_EXAMPLE_SECONDS").map(|s| s.parse::<f64>())
    {
        None => default_s,
        Some(Ok(s)) if s > 0.0 && s.is_finite() => s,
        Some(_) => {
            eprintln!(
                "error: --seconds / BPPROF_EXAMPLE_SECONDS takes a positive number of seconds"
            );
            std::process::exit(2);
        }
    };
    Duration::from_secs_f64(seconds)
}

/// An injected slowdown, to prove that `bpprof check` catches a regression: `--slowdown FACTOR`
/// or `BPPROF_EXAMPLE_SLOWDOWN`, a finite number of at least 1 (the default, no slowdown) by
/// which the example multiplies the cost of its slowed-down step.
pub fn slowdown() -> f64 {
    match flag_or_env("--slowdown", "BPPROF_EXAMPLE_SLOWDOWN").map(|s| s.parse::<f64>()) {
        None => 1.0,
        Some(Ok(f)) if f >= 1.0 && f.is_finite() => f,
        Some(_) => {
            eprintln!(
                "error: --slowdown / BPPROF_EXAMPLE_SLOWDOWN takes a factor of at least 1 (for example 1.25)"
            );
            std::process::exit(2);
        }
    }
}

/// The parallelism of `task` from `--parallelism TASK=N[,TASK=N]` (or
/// `BPPROF_EXAMPLE_PARALLELISM`), else `default`; exits with code 2 and one line when the value
/// is malformed or names a task not in `tasks` (the tasks whose parallelism the example lets
/// choose).
pub fn parallelism(task: &str, default: u32, tasks: &[&str]) -> u32 {
    let Some(spec) = flag_or_env("--parallelism", "BPPROF_EXAMPLE_PARALLELISM") else {
        return default;
    };
    let mut found = default;
    for item in spec.split(',') {
        let parsed = item
            .split_once('=')
            .and_then(|(name, n)| Some((name.trim(), n.trim().parse::<u32>().ok()?)));
        match parsed {
            Some((name, n)) if n > 0 && tasks.contains(&name) => {
                if name == task {
                    found = n;
                }
            }
            _ => {
                eprintln!(
                    "error: --parallelism / BPPROF_EXAMPLE_PARALLELISM takes TASK=N[,TASK=N] with TASK one of {} and N at least 1, got '{item}'",
                    tasks.join(", ")
                );
                std::process::exit(2);
            }
        }
    }
    found
}

/// Starts recording when `BPPROF_OUT` is set; exits with code 2 and one line when it cannot.
pub fn start_recording() -> Option<bpprof::Recorder> {
    match bpprof::init_from_env() {
        Ok(recorder) => recorder,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
}

/// Burns CPU for `rounds` rounds of integer mixing and returns a value that depends on all of them.
#[inline(never)]
pub fn burn(seed: u64, rounds: u32) -> u64 {
    let mut x = seed | 1;
    for _ in 0..rounds {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    // Returned, not passed through `black_box` here: a leaf whose body ends in `black_box` can
    // lose its frame pointer, which would hide its caller from stack samples.
    x
}

/// True while `deadline` has not passed.
pub fn before(deadline: Instant) -> bool {
    Instant::now() < deadline
}

/// Stops the recording started by [`start_recording`] (if any) and says where it was written;
/// exits with code 2 and one line when it cannot be finished.
pub fn stop_recording(recording: Option<bpprof::Recorder>) {
    if let Some(recording) = recording {
        match recording.stop() {
            Ok(summary) => println!("recording written to {}", summary.path.display()),
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(2);
            }
        }
    }
}

/// A small deterministic pseudo-random generator (xorshift64*), so examples need no dependency.
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed` (any value).
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    /// The next pseudo-random value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// True with probability `percent` / 100.
    pub fn percent(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }
}

/// Spawns the `parallelism` subtasks of `task`: each receives from `input`, applies `f` and sends
/// the result to `output`, until the input ends or the output is gone.
pub fn spawn_map_stage<I: Send + 'static, O: Send + 'static>(
    task: &'static str,
    parallelism: u32,
    input: &bpprof::Receiver<I>,
    output: &bpprof::Sender<O>,
    f: fn(I) -> O,
    threads: &mut Vec<JoinHandle<()>>,
) {
    for i in 0..parallelism {
        let (input, output) = (input.clone(), output.clone());
        threads.push(thread::spawn(move || {
            let _subtask = bpprof::register(task, i, parallelism);
            for record in input.iter() {
                if output.send(f(record)).is_err() {
                    break;
                }
            }
        }));
    }
}

/// Spawns the subtask `Sink#0`, which folds every record it receives into a checksum.
pub fn spawn_sink<T: Send + 'static>(
    input: bpprof::Receiver<T>,
    fold: fn(u64, T) -> u64,
) -> JoinHandle<u64> {
    thread::spawn(move || {
        let _subtask = bpprof::register("Sink", 0, 1);
        input.iter().fold(0u64, fold)
    })
}

/// Waits for the pipeline's threads and its sink, prints the checksum and finalises the recording.
pub fn finish(
    example: &str,
    threads: Vec<JoinHandle<()>>,
    sink: JoinHandle<u64>,
    recording: Option<bpprof::Recorder>,
) {
    for t in threads {
        t.join().expect("pipeline thread panicked");
    }
    let checksum = sink.join().expect("sink panicked");
    println!("{example}: done (checksum {checksum:x})");
    stop_recording(recording);
}

/// Adds up records (a sink's fold).
pub fn add_record(acc: u64, record: u64) -> u64 {
    acc.wrapping_add(record)
}
