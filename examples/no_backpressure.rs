//! Source(1, rate-limited) -> Map(2) -> Sink(1), running well below capacity: no task is a
//! bottleneck.
//!
//! The source emits a batch of 50 records every 10 ms (5,000 records per second) and waits for
//! the next batch in between, as a source reading from a slow feed would; that wait is marked
//! idle. Each Map record costs a few microseconds, so every subtask is mostly idle, no queue fills
//! up and nothing is backpressured. `bpprof locate` reports "No backpressure" and names the
//! busiest task: the job is limited by its source.
//!
//! ```sh
//! BPPROF_OUT=nobp.bpprof cargo run --release --example no_backpressure
//! bpprof locate nobp.bpprof
//! ```
//!
//! `--seconds N` (or `BPPROF_EXAMPLE_SECONDS`) sets how long the source runs (default 8).

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::{
    add_record, before, burn, finish, run_time, spawn_map_stage, spawn_sink, start_recording,
};

/// Parallelism of Map.
const MAP: u32 = 2;
/// Records per batch.
const BATCH: u64 = 50;
/// Time between two batches.
const PERIOD: Duration = Duration::from_millis(10);

/// The source's wait for its next batch: time blocked waiting for input, so accounted idle.
#[inline(never)]
fn wait_for_batch(due: Instant) {
    bpprof::idle(|| {
        let now = Instant::now();
        if due > now {
            thread::sleep(due - now);
        }
    });
}

/// The map step: a little CPU work per record.
#[inline(never)]
fn map_record(record: u64) -> u64 {
    std::hint::black_box(burn(record, 2_000))
}

fn main() {
    let run_for = run_time(8.0);
    let recording = start_recording();

    // Queues far larger than a batch: a burst never fills them.
    let (to_map, map_in) = bpprof::bounded_named::<u64>("source->map", 1024);
    let (to_sink, sink_in) = bpprof::bounded_named::<u64>("map->sink", 1024);

    let mut threads = Vec::new();
    threads.push(thread::spawn(move || {
        let _subtask = bpprof::register("Source", 0, 1);
        let start = Instant::now();
        let deadline = start + run_for;
        let mut due = start;
        let mut record = 0u64;
        'run: while before(deadline) {
            for _ in 0..BATCH {
                record += 1;
                if to_map.send(record).is_err() {
                    break 'run;
                }
            }
            // A source that fell behind (a descheduled thread) skips the batches it missed
            // instead of sending them in a burst: the rate never exceeds BATCH per PERIOD.
            due = (due + PERIOD).max(Instant::now());
            wait_for_batch(due);
        }
    }));
    spawn_map_stage("Map", MAP, &map_in, &to_sink, map_record, &mut threads);
    drop((map_in, to_sink));
    let sink = spawn_sink(sink_in, add_record);
    finish("no_backpressure", threads, sink, recording);
}
