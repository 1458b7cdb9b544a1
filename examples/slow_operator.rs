//! Source(1) -> Parse(2) -> Enrich(4) -> Sink(1), where Enrich is CPU-heavy: the bottleneck.
//!
//! ```sh
//! BPPROF_OUT=slow.bpprof cargo run --release --example slow_operator
//! bpprof locate slow.bpprof
//! ```
//!
//! `--seconds N` (or `BPPROF_EXAMPLE_SECONDS`) sets how long the source runs (default 8).
//!
//! Enrich's per-record work (`enrich_record`) is `lookup_customer` (3/4 of it) then
//! `score_record` (1/4). `--slowdown FACTOR` (or `BPPROF_EXAMPLE_SLOWDOWN`, a number of at least
//! 1, default 1) injects a regression: Enrich costs FACTOR times as much per record, all of the
//! extra work in `score_record`. Compared with a run without it, `bpprof check` should report the
//! regression (lower throughput, more CPU per record in Enrich) and `bpprof diff` should show it
//! in `score_record`:
//!
//! ```sh
//! bpprof record -o base.bpprof -- target/release/examples/slow_operator --seconds 5
//! bpprof record -o slow.bpprof -- target/release/examples/slow_operator --seconds 5 --slowdown 1.25
//! bpprof check --baseline base.bpprof slow.bpprof
//! ```
//!
//! `--parallelism TASK=N[,TASK=N]` (or `BPPROF_EXAMPLE_PARALLELISM`) sets the parallelism of
//! Parse (default 2) and Enrich (default 4), to check what `bpprof plan` predicts for them:
//!
//! ```sh
//! bpprof record -o one.bpprof -- target/release/examples/slow_operator --parallelism Enrich=1
//! bpprof plan one.bpprof --set Enrich.parallelism=2
//! ```

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::Instant;

use common::{
    add_record, before, burn, finish, parallelism, run_time, slowdown, spawn_map_stage, spawn_sink,
    start_recording,
};

/// Default parallelism of Parse.
const PARSE: u32 = 2;
/// Default parallelism of Enrich.
const ENRICH: u32 = 4;

/// Parsing: a little work per record.
#[inline(never)]
fn parse_record(line: u64) -> u64 {
    std::hint::black_box(burn(line, 200))
}

/// Burn rounds of Enrich per record without slowdown: `LOOKUP_ROUNDS + SCORE_ROUNDS`.
const ENRICH_ROUNDS: u32 = LOOKUP_ROUNDS + SCORE_ROUNDS;
/// Burn rounds of [`lookup_customer`].
const LOOKUP_ROUNDS: u32 = 30_000;
/// Burn rounds of [`score_record`] without slowdown.
const SCORE_ROUNDS: u32 = 10_000;
/// Rounds that `--slowdown` adds to [`score_record`]: `ENRICH_ROUNDS * (FACTOR - 1)`. Set once in
/// `main` before the pipeline starts (the map stages take plain `fn` pointers, hence a static).
static EXTRA_SCORE_ROUNDS: AtomicU32 = AtomicU32::new(0);

/// Enrichment: the expensive step of this pipeline.
#[inline(never)]
fn enrich_record(record: u64) -> u64 {
    let customer = lookup_customer(record);
    std::hint::black_box(score_record(customer))
}

/// The larger part of enrichment (3/4 of it without slowdown).
#[inline(never)]
fn lookup_customer(record: u64) -> u64 {
    std::hint::black_box(burn(record, LOOKUP_ROUNDS))
}

/// The smaller part of enrichment, and where `--slowdown` adds its work.
#[inline(never)]
fn score_record(record: u64) -> u64 {
    let rounds = SCORE_ROUNDS.saturating_add(EXTRA_SCORE_ROUNDS.load(Ordering::Relaxed));
    std::hint::black_box(burn(record, rounds))
}

fn main() {
    let run_for = run_time(8.0);
    // Saturates at u32::MAX rounds for absurd factors (`as` from f64 saturates).
    let extra = (f64::from(ENRICH_ROUNDS) * (slowdown() - 1.0)).round() as u32;
    EXTRA_SCORE_ROUNDS.store(extra, Ordering::Relaxed);
    let tasks = ["Parse", "Enrich"];
    let (parse, enrich) = (
        parallelism("Parse", PARSE, &tasks),
        parallelism("Enrich", ENRICH, &tasks),
    );
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
        parse,
        &parse_in,
        &to_enrich,
        parse_record,
        &mut threads,
    );
    spawn_map_stage(
        "Enrich",
        enrich,
        &enrich_in,
        &to_sink,
        enrich_record,
        &mut threads,
    );
    drop((parse_in, to_enrich, enrich_in, to_sink));
    let sink = spawn_sink(sink_in, add_record);
    finish("slow_operator", threads, sink, recording);
}
