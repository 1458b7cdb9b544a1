//! Source(1) -> Parse(1) -> Sink(1), where the source's work runs in a thread that bpprof does not
//! see: a third-party client library reads records in a thread of its own and hands them over
//! (Flink's "legacy source" case). The Source task is declared unaccounted: `bpprof locate` shows
//! its busy time as N/A, leaves it out of the verdict, says why, and still names Parse (slow) as
//! the bottleneck from the full queue the source keeps filling.
//!
//! ```sh
//! BPPROF_OUT=legacy.bpprof cargo run --release --example legacy_source
//! bpprof locate legacy.bpprof
//! ```
//!
//! `--seconds N` (or `BPPROF_EXAMPLE_SECONDS`) sets how long the source runs (default 8).

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::{before, burn, run_time, start_recording, stop_recording};

/// Parsing: the expensive step of this pipeline.
#[inline(never)]
fn parse_record(line: u64) -> u64 {
    std::hint::black_box(burn(line, 40_000))
}

/// Stands for a third-party client library: it reads in a thread of its own, which the
/// application cannot register, and pushes every record into `deliver`.
fn library_reader(run_for: Duration, deliver: bpprof::Sender<u64>) -> thread::JoinHandle<()> {
    thread::Builder::new()
        .name("library-reader".into())
        .spawn(move || {
            let deadline = Instant::now() + run_for;
            let mut line = 0u64;
            while before(deadline) {
                line += 1;
                if deliver.send(line).is_err() {
                    break;
                }
            }
        })
        .expect("spawn the library thread")
}

fn main() {
    let run_for = run_time(8.0);
    let recording = start_recording();
    // The source's work is invisible to bpprof: say so, and give the edge it cannot infer.
    bpprof::declare_task("Source", 1, true);
    bpprof::declare_edge("Source", "Parse", "forward");

    let (to_parse, parse_in) = bpprof::bounded_named::<u64>("source->parse", 256);
    let (to_sink, sink_in) = bpprof::bounded_named::<u64>("parse->sink", 256);

    let source = thread::spawn(move || {
        // The source task's own thread only starts the library and waits for it.
        let _subtask = bpprof::register("Source", 0, 1);
        library_reader(run_for, to_parse)
            .join()
            .expect("library thread panicked");
    });
    let parse = thread::spawn(move || {
        let _subtask = bpprof::register("Parse", 0, 1);
        for line in parse_in.iter() {
            if to_sink.send(parse_record(line)).is_err() {
                break;
            }
        }
    });
    let sink = thread::spawn(move || {
        let _subtask = bpprof::register("Sink", 0, 1);
        sink_in.iter().fold(0u64, |acc, r| acc.wrapping_add(r))
    });
    source.join().expect("source panicked");
    parse.join().expect("parse panicked");
    let checksum = sink.join().expect("sink panicked");
    println!("legacy_source: done (checksum {checksum:x})");
    stop_recording(recording);
}
