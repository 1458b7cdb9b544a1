//! A single registered CPU-bound subtask, `Split#0`, whose CPU time is split about 2/3 : 1/3
//! between two `#[inline(never)]` functions, [`heavy`] and [`light`]: the workload of
//! `scripts/perf-crosscheck.sh`, which profiles the same thread with bpprof and with
//! `perf record -t TID` at the same time and compares the two profiles.
//!
//! Prints `tid N` (the subtask's kernel thread id) on standard output as soon as the thread is
//! registered, then runs for `--seconds N` (default 5). Records when `BPPROF_OUT` is set.
//!
//! ```sh
//! BPPROF_OUT=split.bpprof BPPROF_SAMPLE_HZ=999 cargo run --release --example cpu_split -- --seconds 5
//! ```

mod common;

use std::hint::black_box;
use std::io::Write;
use std::thread;
use std::time::Instant;

/// Rounds of integer mixing per call of [`light`]; [`heavy`] does twice as many. About 100 µs.
const ROUNDS: u32 = 100_000;

/// Two thirds of the thread's CPU time: `2 * ROUNDS` rounds of mixing, inline in this function
/// (it calls nothing, so it is the leaf frame of every sample taken in it).
#[inline(never)]
fn heavy(seed: u64) -> u64 {
    let mut x = seed | 1;
    for _ in 0..2 * ROUNDS {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    // Returned, not passed through `black_box`: a leaf ending in `black_box` can lose its frame
    // pointer, which would hide its caller from the stack samples (docs/sampling.md).
    x
}

/// One third of the thread's CPU time: `ROUNDS` rounds of the same mixing.
#[inline(never)]
fn light(seed: u64) -> u64 {
    let mut x = seed | 1;
    for _ in 0..ROUNDS {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    // Returned, not passed through `black_box`: a leaf ending in `black_box` can lose its frame
    // pointer, which would hide its caller from the stack samples (docs/sampling.md).
    x
}

fn main() {
    let run_time = common::run_time(5.0);
    let recording = common::start_recording();

    let worker = thread::Builder::new()
        .name("split".into())
        .spawn(move || {
            let subtask = bpprof::register("Split", 0, 1);
            {
                let mut out = std::io::stdout().lock();
                writeln!(out, "tid {}", subtask.tid()).expect("write to stdout");
                out.flush().expect("flush stdout");
            }
            let deadline = Instant::now() + run_time;
            let (mut x, mut calls) = (1u64, 0u64);
            while common::before(deadline) {
                x = heavy(x);
                x = light(x);
                calls += 1;
            }
            black_box(x);
            calls
        })
        .expect("spawn the Split thread");
    let calls = worker.join().expect("the Split thread panicked");
    println!("done: {calls} calls of heavy + light");
    common::stop_recording(recording);
}
