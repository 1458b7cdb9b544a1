//! A pipeline that mixes async tasks and threads: an async Source(1) on tokio -> a CPU-heavy
//! Transform(2) on plain threads registered with `bpprof::register` -> an async Sink(1), joined
//! by `bpprof::tokio::channel`s (the threads use their blocking ends). Transform is the
//! bottleneck; the job graph is one graph, edges inferred from the channels' ends.
//!
//! ```sh
//! BPPROF_OUT=mixed.bpprof cargo run --release --example async_mixed
//! bpprof locate mixed.bpprof
//! ```
//!
//! `--seconds N` (or `BPPROF_EXAMPLE_SECONDS`) sets how long the source runs (default 8).

mod common;

use std::time::Instant;

use bpprof::tokio::{channel, spawn_subtask};
use common::async_stages::{channels_into, runtime, send_round_robin, CAPACITY};
use common::{add_record, before, burn, run_time, start_recording, stop_recording};

const TRANSFORM: u32 = 2;

/// The CPU-heavy step, on the Transform threads.
#[inline(never)]
fn transform_record(record: u64) -> u64 {
    std::hint::black_box(burn(record, 20_000))
}

fn main() {
    let run_for = run_time(8.0);
    let recording = start_recording();
    let runtime = runtime();
    let (to_transform, transform_in) = channels_into::<u64>("source", "transform", TRANSFORM);
    let (to_sink, mut sink_in) = channel::<u64>("transform->sink", CAPACITY);
    let threads: Vec<_> = transform_in
        .into_iter()
        .enumerate()
        .map(|(i, mut input)| {
            let output = to_sink.clone();
            std::thread::spawn(move || {
                let _subtask = bpprof::register("Transform", i as u32, TRANSFORM);
                while let Some(record) = input.blocking_recv() {
                    if output.blocking_send(transform_record(record)).is_err() {
                        break;
                    }
                }
            })
        })
        .collect();
    drop(to_sink);
    let checksum = runtime.block_on(async move {
        let source = spawn_subtask("Source", 0, 1, async move {
            let deadline = Instant::now() + run_for;
            let (mut line, mut next) = (0u64, 0usize);
            while before(deadline) {
                line += 1;
                if !send_round_robin(&to_transform, &mut next, line).await {
                    break;
                }
            }
        });
        let sink = spawn_subtask("Sink", 0, 1, async move {
            let mut checksum = 0u64;
            while let Some(record) = sink_in.recv().await {
                checksum = add_record(checksum, record);
            }
            checksum
        });
        source.await.expect("source panicked");
        sink.await.expect("sink panicked")
    });
    for thread in threads {
        thread.join().expect("transform thread panicked");
    }
    println!("async_mixed: done (checksum {checksum:x})");
    stop_recording(recording);
}
