//! Source(1) -> Map(2) -> Sink(1), where the Sink waits on (simulated) blocking I/O: an off-CPU
//! bottleneck.
//!
//! The sink "writes" each record with a 200 µs blocking call (a `thread::sleep`, outside any
//! bpprof scope, as an unmarked write to a slow database would be). It is busy ~100% of the time
//! but hardly ever on a CPU, while Map and Source wait on full queues (backpressured).
//! `bpprof locate` reports Sink as an `off_cpu` bottleneck and notes that it waits on something
//! outside the pipeline.
//!
//! ```sh
//! BPPROF_OUT=sink.bpprof cargo run --release --example slow_sink
//! bpprof locate sink.bpprof
//! ```
//!
//! `--seconds N` (or `BPPROF_EXAMPLE_SECONDS`) sets how long the source runs (default 8).
//! `--parallelism Sink=N,Map=N` (or `BPPROF_EXAMPLE_PARALLELISM`) sets the parallelism of Sink
//! (default 1) and Map (default 2), to check what `bpprof plan` predicts for them.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::{
    before, burn, finish, parallelism, run_time, spawn_map_stage, spawn_sink, start_recording,
};

/// Parallelism of Map.
const MAP: u32 = 2;
/// How long the sink's simulated write of one record blocks.
const WRITE_LATENCY: Duration = Duration::from_micros(200);

/// The map step: a little CPU work per record.
#[inline(never)]
fn map_record(record: u64) -> u64 {
    std::hint::black_box(burn(record, 1_000))
}

/// The sink's blocking write of one record (simulated I/O: the thread sleeps, off-CPU).
#[inline(never)]
fn write_record(acc: u64, record: u64) -> u64 {
    thread::sleep(WRITE_LATENCY);
    acc.wrapping_add(record)
}

fn main() {
    let run_for = run_time(8.0);
    let tasks = ["Map", "Sink"];
    let (map, sinks) = (
        parallelism("Map", MAP, &tasks),
        parallelism("Sink", 1, &tasks),
    );
    let recording = start_recording();

    let (to_map, map_in) = bpprof::bounded_named::<u64>("source->map", 256);
    let (to_sink, sink_in) = bpprof::bounded_named::<u64>("map->sink", 256);

    let mut threads = Vec::new();
    threads.push(thread::spawn(move || {
        let _subtask = bpprof::register("Source", 0, 1);
        let deadline = Instant::now() + run_for;
        let mut record = 0u64;
        while before(deadline) {
            record += 1;
            if to_map.send(record).is_err() {
                break;
            }
        }
    }));
    spawn_map_stage("Map", map, &map_in, &to_sink, map_record, &mut threads);
    drop((map_in, to_sink));
    let sink = if sinks == 1 {
        spawn_sink(sink_in, write_record)
    } else {
        spawn_sinks(sinks, sink_in)
    };
    finish("slow_sink", threads, sink, recording);
}

/// `n` subtasks of Sink writing the records of `input`; the handle sums their checksums.
fn spawn_sinks(n: u32, input: bpprof::Receiver<u64>) -> thread::JoinHandle<u64> {
    let sinks: Vec<thread::JoinHandle<u64>> = (0..n)
        .map(|i| {
            let input = input.clone();
            thread::spawn(move || {
                let _subtask = bpprof::register("Sink", i, n);
                input.iter().fold(0u64, write_record)
            })
        })
        .collect();
    thread::spawn(move || {
        sinks
            .into_iter()
            .map(|s| s.join().expect("sink panicked"))
            .fold(0u64, u64::wrapping_add)
    })
}
