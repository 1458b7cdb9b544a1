//! Source(1) -> SlidingWindow(1) -> Check(2) -> Sink(1), after the sliding-window job of Flink's
//! backpressure article: while SlidingWindow accumulates records it is the bottleneck (Source is
//! backpressured); every [`FIRE_EVERY`] it fires its windows, and for a while the checks of the
//! fired results make Check the bottleneck (SlidingWindow is backpressured). Averaged over the
//! run, neither is the bottleneck all the time: `bpprof locate` reports a moving bottleneck.
//!
//! ```sh
//! BPPROF_OUT=sliding.bpprof cargo run --release --example sliding_window
//! bpprof locate sliding.bpprof --timeline
//! ```
//!
//! `--seconds N` (or `BPPROF_EXAMPLE_SECONDS`) sets how long the source runs (default 8).

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::{
    add_record, before, burn, finish, run_time, spawn_map_stage, spawn_sink, start_recording,
};

/// One SlidingWindow subtask: with two, Source and SlidingWindow would need three CPUs while it
/// accumulates, and on a 2-CPU machine Source would wait for a CPU rather than for room in its
/// queue (which `bpprof` reports as such, not as backpressure).
const WINDOWS: u32 = 1;
const CHECKS: u32 = 2;
/// How often the windows fire.
const FIRE_EVERY: Duration = Duration::from_millis(1750);
/// Results the SlidingWindow subtask emits when its window fires.
const RESULTS_PER_FIRE: u32 = 300;
/// CPU time Check spends on one result: 300 results over 2 subtasks, about 0.6 s per firing.
const CHECK_COST: Duration = Duration::from_millis(4);
/// CPU time SlidingWindow spends adding one record to its windows.
const ADD_COST: Duration = Duration::from_micros(20);

/// Burns CPU for `cost` of wall time, returning a value that depends on every round.
#[inline(never)]
fn spin(seed: u64, cost: Duration) -> u64 {
    let start = Instant::now();
    let mut x = seed;
    while start.elapsed() < cost {
        x = std::hint::black_box(burn(x, 200));
    }
    x
}

/// Adds a record to the open windows: a little work per record.
#[inline(never)]
fn add_to_windows(state: u64, record: u64) -> u64 {
    std::hint::black_box(spin(state ^ record, ADD_COST))
}

/// Computes one fired window's result.
#[inline(never)]
fn fire_result(state: u64, n: u32) -> u64 {
    std::hint::black_box(burn(state.wrapping_add(u64::from(n)), 50))
}

/// Checks one fired result: the expensive step, but only while windows fire.
#[inline(never)]
fn check_result(result: u64) -> u64 {
    std::hint::black_box(spin(result, CHECK_COST))
}

fn main() {
    let run_for = run_time(8.0);
    let recording = start_recording();
    let started = Instant::now();
    let deadline = started + run_for;

    let (to_window, window_in) = bpprof::bounded_named::<u64>("source->window", 256);
    let (to_check, check_in) = bpprof::bounded_named::<u64>("window->check", 32);
    let (to_sink, sink_in) = bpprof::bounded_named::<u64>("check->sink", 256);

    let mut threads = Vec::new();
    threads.push(thread::spawn(move || {
        let _subtask = bpprof::register("Source", 0, 1);
        let mut record = 0u64;
        while before(deadline) {
            record += 1;
            if to_window.send(record).is_err() {
                break;
            }
        }
    }));
    for i in 0..WINDOWS {
        let (input, output) = (window_in.clone(), to_check.clone());
        threads.push(thread::spawn(move || {
            let _subtask = bpprof::register("SlidingWindow", i, WINDOWS);
            let mut state = u64::from(i) + 1;
            let mut next_fire = started + FIRE_EVERY;
            for record in input.iter() {
                state = add_to_windows(state, record);
                if Instant::now() >= next_fire {
                    next_fire += FIRE_EVERY;
                    for n in 0..RESULTS_PER_FIRE {
                        if output.send(fire_result(state, n)).is_err() {
                            return;
                        }
                    }
                }
            }
        }));
    }
    spawn_map_stage(
        "Check",
        CHECKS,
        &check_in,
        &to_sink,
        check_result,
        &mut threads,
    );
    drop((window_in, to_check, check_in, to_sink));
    let sink = spawn_sink(sink_in, add_record);
    finish("sliding_window", threads, sink, recording);
}
