//! The async twin of `skew`: Source(1) -> Count(4, hash-partitioned by key) -> Sink(1), every
//! subtask a tokio task on a runtime with two workers. One key takes 70% of the records, so
//! **Count#2** (key % 4 == 2) gets about 77% of them and burns CPU for each inside its polls:
//! Count holds the workers, Count#2 is its skewed subtask.
//!
//! ```sh
//! BPPROF_OUT=async_skew.bpprof cargo run --release --example async_skew
//! bpprof locate async_skew.bpprof
//! ```
//!
//! `--seconds N` (or `BPPROF_EXAMPLE_SECONDS`) sets how long the source runs (default 8).

mod common;

use std::collections::HashMap;
use std::time::Instant;

use bpprof::tokio::{channel, spawn_subtask};
use common::async_stages::{channels_into, runtime, CAPACITY};
use common::{before, burn, run_time, start_recording, stop_recording, Rng};

const COUNT: u32 = 4;
const HOT_KEY: u64 = 2;
const HOT_PERCENT: u64 = 70;
const KEYS: u64 = 1024;

/// Counting: updates the key's count, with CPU work per record.
#[inline(never)]
fn count_record(counts: &mut HashMap<u64, u64>, key: u64) -> u64 {
    let count = counts.entry(key).or_insert(0);
    *count += 1;
    burn(key ^ *count, 20_000)
}

fn main() {
    let run_for = run_time(8.0);
    let recording = start_recording();
    bpprof::declare_edge("Source", "Count", "hash");
    let checksum = runtime().block_on(async move {
        let (to_count, count_in) = channels_into::<u64>("source", "count", COUNT);
        let (to_sink, mut sink_in) = channel::<u64>("count->sink", CAPACITY);
        let mut tasks = vec![spawn_subtask("Source", 0, 1, async move {
            let deadline = Instant::now() + run_for;
            let mut rng = Rng::new(7);
            while before(deadline) {
                let key = if rng.percent(HOT_PERCENT) {
                    HOT_KEY
                } else {
                    rng.next_u64() % KEYS
                };
                if to_count[(key % u64::from(COUNT)) as usize]
                    .send(key)
                    .await
                    .is_err()
                {
                    break;
                }
            }
        })];
        for (i, mut input) in count_in.into_iter().enumerate() {
            let output = to_sink.clone();
            tasks.push(spawn_subtask("Count", i as u32, COUNT, async move {
                let mut counts = HashMap::new();
                while let Some(key) = input.recv().await {
                    if output.send(count_record(&mut counts, key)).await.is_err() {
                        break;
                    }
                }
            }));
        }
        drop(to_sink);
        let sink = spawn_subtask("Sink", 0, 1, async move {
            let mut checksum = 0u64;
            while let Some(digest) = sink_in.recv().await {
                checksum = checksum.wrapping_mul(31).wrapping_add(digest);
            }
            checksum
        });
        for task in tasks {
            task.await.expect("pipeline task panicked");
        }
        sink.await.expect("sink panicked")
    });
    println!("async_skew: done (checksum {checksum:x})");
    stop_recording(recording);
}
