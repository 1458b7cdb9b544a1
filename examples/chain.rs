//! Source(1) -> [Parse -> Filter -> Enrich chained in one thread](1) -> Sink(1), where Enrich is
//! the slow operator of the chain: `bpprof locate` names the Chain task and, inside it, Enrich.
//!
//! ```sh
//! BPPROF_OUT=chain.bpprof cargo run --release --example chain
//! bpprof locate chain.bpprof
//! bpprof flame chain.bpprof --subtask Chain#0 --operator Enrich
//! ```
//!
//! `--seconds N` (or `BPPROF_EXAMPLE_SECONDS`) sets how long the source runs (default 8).
//!
//! `--parallelism Chain=N` (or `BPPROF_EXAMPLE_PARALLELISM`) runs N Chain subtasks (default 1),
//! to check what `bpprof plan` advises: Chain is CPU-bound, so on a machine of a few CPUs the
//! advice for a high target is "the CPUs are the limit", with the Chain subtasks that fill them:
//!
//! ```sh
//! bpprof record -o chain.bpprof -- target/release/examples/chain --seconds 4
//! bpprof plan chain.bpprof --target 1M
//! bpprof record -o advised.bpprof -- target/release/examples/chain --seconds 4 --parallelism Chain=2
//! ```

mod common;

use std::thread;
use std::time::Instant;

use common::{before, burn, parallelism, run_time, start_recording, stop_recording};

/// Parsing: a little work per record.
#[inline(never)]
fn parse_record(line: u64) -> u64 {
    std::hint::black_box(burn(line, 300))
}

/// Filtering: cheaper still; drops one record in eight.
#[inline(never)]
fn keep_record(record: u64) -> bool {
    std::hint::black_box(burn(record, 100)) % 8 != 0
}

/// Enrichment: the expensive operator of the chain.
#[inline(never)]
fn enrich_record(record: u64) -> u64 {
    std::hint::black_box(burn(record, 40_000))
}

fn main() {
    let run_for = run_time(8.0);
    let chains = parallelism("Chain", 1, &["Chain"]);
    let recording = start_recording();

    let (to_chain, chain_in) = bpprof::bounded_named::<u64>("source->chain", 256);
    let (to_sink, sink_in) = bpprof::bounded_named::<u64>("chain->sink", 256);

    let source = thread::spawn(move || {
        let _subtask = bpprof::register("Source", 0, 1);
        let deadline = Instant::now() + run_for;
        let mut line = 0u64;
        while before(deadline) {
            line += 1;
            if to_chain.send(line).is_err() {
                break;
            }
        }
    });
    let chain: Vec<_> = (0..chains)
        .map(|i| {
            let (chain_in, to_sink) = (chain_in.clone(), to_sink.clone());
            thread::spawn(move || {
                let _subtask = bpprof::register("Chain", i, chains);
                for line in chain_in.iter() {
                    let record = bpprof::operator("Parse", || parse_record(line));
                    if !bpprof::operator("Filter", || keep_record(record)) {
                        continue;
                    }
                    let enriched = bpprof::operator("Enrich", || enrich_record(record));
                    if to_sink.send(enriched).is_err() {
                        break;
                    }
                }
            })
        })
        .collect();
    // The Chain subtasks hold their own ends: the sink sees the end when the last one finishes.
    drop((chain_in, to_sink));
    let sink = thread::spawn(move || {
        let _subtask = bpprof::register("Sink", 0, 1);
        sink_in.iter().fold(0u64, |acc, r| acc.wrapping_add(r))
    });
    source.join().expect("source panicked");
    for c in chain {
        c.join().expect("chain panicked");
    }
    let checksum = sink.join().expect("sink panicked");
    println!("chain: done (checksum {checksum:x})");
    stop_recording(recording);
}
