//! Rough edges of the output, each fixed and guarded by a test named after it: status lines on
//! stderr for every command, counts in the singular when there is one, `check --help` naming
//! its own schema, and no raw decoder text in errors.

mod common;

use bpprof_analysis::synth::{Load, Synth};
use common::{assert_one_error_line, bpprof, bpprof_in, chain, code, text};

/// Source -> Enrich (sampled, the bottleneck) over `intervals` one-second intervals.
fn pipeline(intervals: usize, task: &str) -> Synth {
    use bpprof_format::SampleState::Busy;
    let mut synth = Synth::new();
    let [source, enrich] = chain(&mut synth, ["Source", task], &["raw"], 100);
    for _ in 0..intervals {
        synth.sample(enrich, Busy, true, &["main", "enrich"], 50);
        synth.interval(&[
            (source, Load::new(0.1, 0.85).records(0, 100)),
            (enrich, Load::new(0.97, 0.0).records(100, 100)),
        ]);
    }
    synth
}

/// A directory with `a.bpprof` and `b.bpprof`, recordings of [`pipeline`] of 6 intervals.
fn dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in ["a.bpprof", "b.bpprof"] {
        pipeline(6, "Enrich")
            .write_file(dir.path().join(name))
            .unwrap();
    }
    dir
}

/// Before: `wrote flame graph of ... to FILE` went to stdout, while `locate --svg` said `wrote
/// job graph to FILE` on stderr.
#[test]
fn flame_status_line_goes_to_stderr() {
    let dir = dir();
    let output = bpprof_in(
        dir.path(),
        &["flame", "a.bpprof", "--subtask", "Enrich#0", "-o", "f.svg"],
    );
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "");
    let stderr = text(&output.stderr);
    assert!(
        stderr.ends_with("wrote flame graph of Enrich#0 (250 samples) to f.svg\n"),
        "{stderr}"
    );
}

/// Before: `wrote differential flame graph of ... to FILE` went to stdout.
#[test]
fn diff_status_line_goes_to_stderr() {
    let dir = dir();
    let output = bpprof_in(
        dir.path(),
        &[
            "diff",
            "a.bpprof",
            "b.bpprof",
            "--subtask",
            "Enrich#0",
            "-o",
            "d.svg",
        ],
    );
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "");
    let stderr = text(&output.stderr);
    assert!(
        stderr
            .ends_with("wrote differential flame graph of Enrich#0 (+0.0% per record) to d.svg\n"),
        "{stderr}"
    );
}

/// Merges a recording of Left with one of Right, each of `intervals` intervals: what `merge`
/// prints.
fn merge(intervals: usize) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    for (task, file) in [("Left", "l.bpprof"), ("Right", "r.bpprof")] {
        pipeline(intervals, task)
            .write_file(dir.path().join(file))
            .unwrap();
    }
    let output = bpprof_in(
        dir.path(),
        &["merge", "l.bpprof", "r.bpprof", "-o", "job.bpprof"],
    );
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    output
}

/// Before: `merged 2 recordings (6 intervals) into FILE` went to stdout.
#[test]
fn merge_status_line_goes_to_stderr() {
    let output = merge(6);
    assert_eq!(text(&output.stdout), "");
    assert_eq!(
        text(&output.stderr),
        "merged 2 recordings (6 intervals) into job.bpprof\n"
    );
}

/// Before: `merged 2 recordings (1 intervals)`.
#[test]
fn merge_of_one_interval_says_1_interval() {
    assert_eq!(
        text(&merge(1).stderr),
        "merged 2 recordings (1 interval) into job.bpprof\n"
    );
}

/// Before: `check --help` said its JSON was "schema `bpprof.locate`".
#[test]
fn check_help_names_the_check_schema() {
    let check = text(&bpprof(&["check", "--help"]).stdout);
    assert!(
        check.contains("schema `bpprof.check`, see docs/ci.md"),
        "{check}"
    );
    assert!(!check.contains("bpprof.locate"), "{check}");
    let locate = text(&bpprof(&["locate", "--help"]).stdout);
    assert!(
        locate.contains("schema `bpprof.locate`, see docs/json.md"),
        "{locate}"
    );
}

/// Before: `payload does not decode: Found a bool that wasn't 0 or 1` (postcard's own words).
#[test]
fn an_undecodable_payload_is_described_without_decoder_text() {
    let mut bytes = pipeline(6, "Enrich").bytes();
    // The meta chunk's payload: start_unix_ns (0), interval_ns (1 s), host ("test"), then cpus,
    // pid, program, ... Cut it after `host` and fix the checksums, so that it passes them but
    // ends early.
    let len = u32::from_le_bytes(bytes[16..20].try_into().unwrap()) as usize;
    let short = bytes[25..25 + 11].to_vec();
    assert_eq!(
        short, b"\x00\x80\x94\xeb\xdc\x03\x04test",
        "the meta payload starts as documented"
    );
    let mut chunk = (short.len() as u32).to_le_bytes().to_vec();
    chunk.push(1);
    chunk.extend_from_slice(&crc32fast::hash(&chunk).to_le_bytes());
    let mut crc = crc32fast::Hasher::new();
    crc.update(&chunk[..5]);
    crc.update(&short);
    chunk.extend_from_slice(&short);
    chunk.extend_from_slice(&crc.finalize().to_le_bytes());
    bytes.splice(16..16 + 13 + len, chunk);
    let rec = common::Fixture::new("odd.bpprof", &bytes);
    let output = bpprof(&["locate", rec.arg()]);
    assert_one_error_line(
        &output,
        "chunk 0 at byte 16: the meta payload passes its checksums but does not decode (it ends before its last field)",
    );
    assert!(!text(&output.stderr).contains("Found"));
}
