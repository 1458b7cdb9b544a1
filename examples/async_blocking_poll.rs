//! Blocking inside async: Source(1) -> Lookup(1) -> Format(2) -> Sink(1), tokio tasks on a
//! runtime with two workers. Lookup calls a blocking function (`std::thread::sleep` of 1 ms, as
//! a synchronous database client would) for every record inside its poll: it holds a worker
//! while it sleeps, and each of its polls lasts as long as tokio's cooperative budget lets it
//! run. `bpprof locate` names Lookup for holding the workers, with its longest polls.
//!
//! ```sh
//! BPPROF_OUT=blocking.bpprof cargo run --release --example async_blocking_poll
//! bpprof locate blocking.bpprof
//! ```
//!
//! `--seconds N` (or `BPPROF_EXAMPLE_SECONDS`) sets how long the source runs (default 8).

mod common;

use std::time::{Duration, Instant};

use bpprof::tokio::{channel, spawn_subtask};
use common::async_stages::{channels_into, runtime, send_round_robin, CAPACITY};
use common::{add_record, before, burn, run_time, start_recording, stop_recording};

const FORMAT: u32 = 2;

/// A synchronous lookup: blocks the calling thread for 1 ms.
#[inline(never)]
fn blocking_lookup(record: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(1));
    record.rotate_left(7)
}

/// Formatting: a little CPU work per record.
#[inline(never)]
fn format_record(record: u64) -> u64 {
    std::hint::black_box(burn(record, 500))
}

fn main() {
    let run_for = run_time(8.0);
    let recording = start_recording();
    let checksum = runtime().block_on(async move {
        let (to_lookup, mut lookup_in) = channel::<u64>("source->lookup", CAPACITY);
        let (to_format, format_in) = channels_into::<u64>("lookup", "format", FORMAT);
        let (to_sink, mut sink_in) = channel::<u64>("format->sink", CAPACITY);
        let mut tasks = vec![spawn_subtask("Source", 0, 1, async move {
            let deadline = Instant::now() + run_for;
            let mut line = 0u64;
            while before(deadline) {
                line += 1;
                if to_lookup.send(line).await.is_err() {
                    break;
                }
            }
        })];
        tasks.push(spawn_subtask("Lookup", 0, 1, async move {
            let mut next = 0;
            while let Some(record) = lookup_in.recv().await {
                if !send_round_robin(&to_format, &mut next, blocking_lookup(record)).await {
                    break;
                }
            }
        }));
        for (i, mut input) in format_in.into_iter().enumerate() {
            let output = to_sink.clone();
            tasks.push(spawn_subtask("Format", i as u32, FORMAT, async move {
                while let Some(record) = input.recv().await {
                    if output.send(format_record(record)).await.is_err() {
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
    println!("async_blocking_poll: done (checksum {checksum:x})");
    stop_recording(recording);
}
