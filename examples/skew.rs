//! Source(1) -> Count(4, hash-partitioned by key) -> Sink(1), where one key dominates: a skewed
//! partitioning makes one Count subtask the bottleneck.
//!
//! The source emits key 2 for 70% of its records and a uniformly random key in `0..1024` for the
//! rest. Records go to Count subtask `key % 4`, so **Count#2** receives about 77.5% of them (the
//! hot key plus its share of the others) and the other three subtasks about 7.5% each. Counting is
//! CPU work per record: Count#2 is busy ~100%, its siblings are mostly idle, and the source is
//! backpressured on Count#2's full queue. `bpprof locate` reports Count as a `skew` bottleneck
//! with subtask 2.
//!
//! ```sh
//! BPPROF_OUT=skew.bpprof cargo run --release --example skew
//! bpprof locate skew.bpprof
//! ```
//!
//! `--seconds N` (or `BPPROF_EXAMPLE_SECONDS`) sets how long the source runs (default 8).

mod common;

use std::collections::HashMap;
use std::thread;
use std::time::Instant;

use common::{before, burn, finish, run_time, spawn_sink, start_recording, Rng};

/// Parallelism of Count.
const COUNT: u32 = 4;
/// The key that dominates; `HOT_KEY % COUNT` is the hot subtask.
const HOT_KEY: u64 = 2;
/// Share of the records that carry [`HOT_KEY`], percent.
const HOT_PERCENT: u64 = 70;
/// Number of distinct keys.
const KEYS: u64 = 1024;

/// The source's work per record: draws the next key.
#[inline(never)]
fn next_key(rng: &mut Rng) -> u64 {
    if rng.percent(HOT_PERCENT) {
        HOT_KEY
    } else {
        rng.next_u64() % KEYS
    }
}

/// Hash partitioning: the Count subtask that owns `key`.
fn partition(key: u64) -> usize {
    (key % u64::from(COUNT)) as usize
}

/// Counting: updates the key's count, with CPU work per record (think of a costly aggregate).
#[inline(never)]
fn count_record(counts: &mut HashMap<u64, u64>, key: u64) -> (u64, u64) {
    let count = counts.entry(key).or_insert(0);
    *count += 1;
    let digest = burn(key ^ *count, 20_000);
    (key, *count ^ (digest & 1))
}

/// The sink's work per record: folds it into a checksum.
#[inline(never)]
fn sink_record(acc: u64, (key, count): (u64, u64)) -> u64 {
    acc.wrapping_mul(31).wrapping_add(key ^ count)
}

fn main() {
    let run_for = run_time(8.0);
    let recording = start_recording();
    bpprof::declare_task("Count", COUNT, false);
    bpprof::declare_edge("Source", "Count", "hash");

    // One instrumented channel per Count subtask: the source holds all four senders.
    let (to_count, count_in): (Vec<_>, Vec<_>) = (0..COUNT)
        .map(|i| bpprof::bounded_named::<u64>(&format!("source->count#{i}"), 256))
        .unzip();
    let (to_sink, sink_in) = bpprof::bounded_named::<(u64, u64)>("count->sink", 256);

    let mut threads = Vec::new();
    threads.push(thread::spawn(move || {
        let _subtask = bpprof::register("Source", 0, 1);
        let deadline = Instant::now() + run_for;
        let mut rng = Rng::new(0x5eed);
        while before(deadline) {
            let key = next_key(&mut rng);
            if to_count[partition(key)].send(key).is_err() {
                break;
            }
        }
    }));
    for (i, input) in (0..COUNT).zip(count_in) {
        let output = to_sink.clone();
        threads.push(thread::spawn(move || {
            let _subtask = bpprof::register("Count", i, COUNT);
            let mut counts = HashMap::new();
            for key in input.iter() {
                if output.send(count_record(&mut counts, key)).is_err() {
                    break;
                }
            }
        }));
    }
    drop(to_sink);
    let sink = spawn_sink(sink_in, sink_record);
    finish("skew", threads, sink, recording);
}
