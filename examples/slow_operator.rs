//! Source(1) -> Parse(2) -> Enrich(4) -> Sink(1), where Enrich is CPU-heavy: the bottleneck.
//!
//! ```sh
//! BPPROF_OUT=slow.bpprof cargo run --release --example slow_operator
//! bpprof locate slow.bpprof
//! ```
//!
//! `--seconds N` (or `BPPROF_EXAMPLE_SECONDS`) sets how long the source runs (default 8).

mod common;

use std::thread;
use std::time::Instant;

use common::{
    add_record, before, burn, finish, run_time, spawn_map_stage, spawn_sink, start_recording,
};

const PARSE: u32 = 2;
const ENRICH: u32 = 4;

/// Parsing: a little work per record.
#[inline(never)]
fn parse_record(line: u64) -> u64 {
    std::hint::black_box(burn(line, 200))
}

/// Enrichment: the expensive step of this pipeline.
#[inline(never)]
fn enrich_record(record: u64) -> u64 {
    std::hint::black_box(burn(record, 40_000))
}

fn main() {
    let run_for = run_time(8.0);
    let recording = start_recording();

    let (to_parse, parse_in) = bpprof::bounded_named::<u64>("source->parse", 256);
    let (to_enrich, enrich_in) = bpprof::bounded_named::<u64>("parse->enrich", 256);
    let (to_sink, sink_in) = bpprof::bounded_named::<u64>("enrich->sink", 256);

    let mut threads = Vec::new();
    threads.push(thread::spawn(move || {
        let _subtask = bpprof::register("Source", 0, 1);
        let deadline = Instant::now() + run_for;
        let mut line = 0u64;
        while before(deadline) {
            line += 1;
            if to_parse.send(line).is_err() {
                break;
            }
        }
    }));
    spawn_map_stage(
        "Parse",
        PARSE,
        &parse_in,
        &to_enrich,
        parse_record,
        &mut threads,
    );
    spawn_map_stage(
        "Enrich",
        ENRICH,
        &enrich_in,
        &to_sink,
        enrich_record,
        &mut threads,
    );
    drop((parse_in, to_enrich, enrich_in, to_sink));
    let sink = spawn_sink(sink_in, add_record);
    finish("slow_operator", threads, sink, recording);
}
