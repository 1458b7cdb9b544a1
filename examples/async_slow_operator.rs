//! The async twin of `slow_operator`: Source(1) -> Parse(2) -> Enrich(4) -> Sink(1), every
//! subtask a tokio task on a multi-thread runtime with two workers, joined by
//! `bpprof::tokio::channel`s. Enrich burns about as much CPU per record as in `slow_operator`,
//! inside its polls: it is the bottleneck, and its eight tasks' polls share the two workers
//! with everyone else's.
//!
//! ```sh
//! BPPROF_OUT=async.bpprof cargo run --release --example async_slow_operator
//! bpprof locate async.bpprof
//! bpprof flame async.bpprof --subtask Enrich#2 -o enrich.svg
//! ```
//!
//! `--seconds N` (or `BPPROF_EXAMPLE_SECONDS`) sets how long the source runs (default 8).
//! Each stage fans out round-robin over one channel per downstream subtask.

mod common;

use std::time::Instant;

use bpprof::tokio::{channel, spawn_subtask};
use common::async_stages::{channels_into, runtime, send_round_robin, CAPACITY};
use common::{add_record, before, burn, run_time, start_recording, stop_recording};

const PARSE: u32 = 2;
const ENRICH: u32 = 4;

/// Parsing: a little work per record.
#[inline(never)]
fn parse_record(line: u64) -> u64 {
    std::hint::black_box(burn(line, 200))
}

/// Enrichment: the expensive step, `lookup_customer` (3/4) then `score_record` (1/4).
#[inline(never)]
fn enrich_record(record: u64) -> u64 {
    let customer = lookup_customer(record);
    std::hint::black_box(score_record(customer))
}

#[inline(never)]
fn lookup_customer(record: u64) -> u64 {
    std::hint::black_box(burn(record, 30_000))
}

#[inline(never)]
fn score_record(record: u64) -> u64 {
    std::hint::black_box(burn(record, 10_000))
}

fn main() {
    let run_for = run_time(8.0);
    let recording = start_recording();
    let checksum = runtime().block_on(async move {
        let (to_parse, parse_in) = channels_into::<u64>("source", "parse", PARSE);
        let (to_enrich, enrich_in) = channels_into::<u64>("parse", "enrich", ENRICH);
        let (to_sink, mut sink_in) = channel::<u64>("enrich->sink", CAPACITY);
        let mut tasks = Vec::new();
        tasks.push(spawn_subtask("Source", 0, 1, async move {
            let deadline = Instant::now() + run_for;
            let (mut line, mut next) = (0u64, 0usize);
            while before(deadline) {
                line += 1;
                if !send_round_robin(&to_parse, &mut next, line).await {
                    break;
                }
            }
        }));
        for (i, mut input) in parse_in.into_iter().enumerate() {
            let outputs = to_enrich.clone();
            tasks.push(spawn_subtask("Parse", i as u32, PARSE, async move {
                let mut next = i;
                while let Some(line) = input.recv().await {
                    if !send_round_robin(&outputs, &mut next, parse_record(line)).await {
                        break;
                    }
                }
            }));
        }
        drop(to_enrich);
        for (i, mut input) in enrich_in.into_iter().enumerate() {
            let output = to_sink.clone();
            tasks.push(spawn_subtask("Enrich", i as u32, ENRICH, async move {
                while let Some(record) = input.recv().await {
                    if output.send(enrich_record(record)).await.is_err() {
                        break;
                    }
                }
            }));
        }
        drop(to_sink);
        let sink = spawn_subtask("Sink", 0, 1, async move {
            let mut checksum = 0u64;
            while let Some(record) = sink_in.recv().await {
                checksum = add_record(checksum, record);
            }
            checksum
        });
        for task in tasks {
            task.await.expect("pipeline task panicked");
        }
        sink.await.expect("sink panicked")
    });
    println!("async_slow_operator: done (checksum {checksum:x})");
    stop_recording(recording);
}
