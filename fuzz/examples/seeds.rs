//! Writes the committed seed corpus, `fuzz/seeds/TARGET/NAME`:
//! `cargo +nightly run --example seeds` in `fuzz/` (the files are small and few on purpose).

use std::fs;
use std::path::Path;

use bpprof_analysis::synth::{Load, Pipeline, Synth};
use bpprof_format::SampleState;

/// A small pipeline with samples, an operator and channel fills.
fn small() -> Vec<u8> {
    let mut synth = Synth::new();
    let source = synth.subtask("Source", 0, 1);
    let work = synth.subtask("Work", 0, 1);
    let channel = synth.channel("in", 8, &[source], &[work]);
    let op = synth.operator(work, "Parse");
    for i in 0..3 {
        synth.fill(channel, 4 + i, 8);
        synth.sample(
            source,
            SampleState::Backpressured,
            false,
            &["main", "send"],
            5,
        );
        synth.sample_in(
            work,
            Some(op),
            SampleState::Busy,
            true,
            &["main", "parse"],
            9,
        );
        synth.interval(&[
            (source, Load::new(0.1, 0.8).records(0, 100)),
            (work, Load::new(0.9, 0.0).records(100, 0)),
        ]);
    }
    synth.bytes()
}

/// The same recording from another process, for `merge`.
fn other() -> Vec<u8> {
    let mut synth = Synth::new();
    synth.start_unix_ns(2_000_000_000);
    let work = synth.subtask("Work", 1, 2);
    let sink = synth.subtask("Sink", 0, 1);
    synth.channel("out", 4, &[work], &[sink]);
    for _ in 0..3 {
        synth.sample(sink, SampleState::Idle, false, &["main", "recv"], 3);
        synth.interval(&[(work, Load::new(0.7, 0.2)), (sink, Load::new(0.3, 0.0))]);
    }
    synth.bytes()
}

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("seeds")
        .join(target);
    fs::create_dir_all(&dir).expect("seed directory");
    fs::write(dir.join(name), bytes).expect("seed file");
}

fn main() {
    let small = small();
    let pipeline = Pipeline {
        intervals: 4,
        ..Pipeline::new(1)
    }
    .recording_bytes();
    // The first byte: even fixes the CRCs after mutation, odd keeps the bytes as they are.
    for (name, bytes) in [("small", &small), ("pipeline", &pipeline)] {
        write(
            "read_recording",
            &format!("{name}-crcs-fixed"),
            &[&[0], &bytes[..]].concat(),
        );
        write(
            "read_recording",
            &format!("{name}-raw"),
            &[&[1], &bytes[..]].concat(),
        );
    }
    let truncated = &small[..small.len() * 2 / 3];
    write(
        "read_recording",
        "small-truncated",
        &[&[1], truncated].concat(),
    );

    // The first two bytes say where the two recordings are cut apart, each with its own choice
    // byte.
    let a = [&[0], &small[..]].concat();
    let b = [&[0], &other()[..]].concat();
    let cut = u16::try_from(a.len()).expect("a small seed").to_le_bytes();
    let merge = [&cut[..], &a[..], &b[..]].concat();
    write("merge", "two-processes", &merge);

    let config = [
        ("full", "[check]\nconfidence = 0.95\nmin_windows = 10\nwindow = 0.5\nstrict = false\nassert = [\"Enrich.busy < 0.8\", \"Sink.records_per_s > 50k\"]\n\n[check.limits]\nthroughput = \"5%\"\ncpu_per_record = \"5%\"\nbackpressured = 0.05\n\n[check.limits.Enrich]\ncpu_per_record = \"10%\"\n"),
        ("empty", ""),
        ("bad-key", "[check]\nconfidense = 0.9\n"),
    ];
    for (name, text) in config {
        write("config", name, text.as_bytes());
    }

    // `arbitrary` reads a few stacks of short names out of any bytes.
    write(
        "folded",
        "names",
        b"\x03main\x04work\x05hash;\x07 12\x01\x02# x\x00\x10\x05",
    );
    write("folded", "empty", b"");
}
