//! A single registered CPU-bound subtask, `Split#0`, whose CPU time is split about 2/3 : 1/3
//! between two `#[inline(never)]` functions, [`heavy`] and [`light`]: the workload of
//! `scripts/perf-crosscheck.sh`, which profiles the same thread with bpprof and with
//! `perf record -t TID` at the same time and compares the two profiles.
//!
//! Prints `tid N` (the subtask's kernel thread id) on standard output as soon as the thread is
//! registered, then runs for `--seconds N` (default 5). Records when `BPPROF_OUT` is set.
//!
//! `--wake`: after each record (one call of `heavy` and one of `light`), `Split#0` sends it
//! through an instrumented channel (`bpprof::bounded_named("split->sink", 4)`) to a second
//! registered subtask, `Sink#0`, which receives and discards it. `Split#0` then wakes another
//! thread after almost every record (the sink is usually blocked in `recv` by then): the case in
//! which a sampler that signals threads from outside undercounts the code that runs right after
//! the wake-up. Its CPU split between `heavy` and `light` stays 2/3 : 1/3.
//!
//! ```sh
//! BPPROF_OUT=split.bpprof BPPROF_SAMPLE_HZ=999 cargo run --release --example cpu_split -- --seconds 5
//! BPPROF_OUT=split.bpprof BPPROF_SAMPLE_HZ=999 cargo run --release --example cpu_split -- --seconds 5 --wake
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

/// Capacity of the `--wake` channel: small, so that the sink is blocked in `recv` (and must be
/// woken) whenever a record arrives.
const WAKE_CAPACITY: usize = 4;

fn main() {
    let run_time = common::run_time(5.0);
    let wake = std::env::args().skip(1).any(|a| a == "--wake");
    let recording = common::start_recording();

    // `--wake`: Split#0 -> Sink#0, which receives every record and discards it.
    let (records_tx, sink) = if wake {
        let (tx, rx) = bpprof::bounded_named::<u64>("split->sink", WAKE_CAPACITY);
        let sink = thread::Builder::new()
            .name("sink".into())
            .spawn(move || {
                let _subtask = bpprof::register("Sink", 0, 1);
                let mut received = 0u64;
                for record in rx.iter() {
                    black_box(record);
                    received += 1;
                }
                received
            })
            .expect("spawn the Sink thread");
        (Some(tx), Some(sink))
    } else {
        (None, None)
    };

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
                if let Some(tx) = &records_tx {
                    tx.send(x).expect("the Sink thread is alive");
                }
            }
            black_box(x);
            calls
        })
        .expect("spawn the Split thread");
    let calls = worker.join().expect("the Split thread panicked");
    println!("done: {calls} calls of heavy + light");
    if let Some(sink) = sink {
        let received = sink.join().expect("the Sink thread panicked");
        println!("Sink#0 received {received} records");
    }
    common::stop_recording(recording);
}
