//! Before: one flipped byte in a chunk in the middle of a recording made every command fail, while
//! a truncated recording was analysed with a warning. Now the commands analyse the intact chunks,
//! exit with code 0 and say what was lost, as for a truncated recording; only a damaged meta chunk
//! (without which nothing can be read) is an error.

mod common;

use std::process::Output;

use bpprof_analysis::check::CheckReport;
use bpprof_analysis::synth::Synth;
use bpprof_analysis::LocateReport;
use common::{assert_one_error_line, bpprof, code, text, EnrichPipeline, Fixture};

/// Source -> Parse -> Enrich (the bottleneck, with stack samples) -> Sink, 12 one-second
/// intervals: chunk kinds meta, then interval and samples for each second, then end.
fn pipeline() -> Synth {
    use bpprof_format::SampleState::{Backpressured, Busy};
    let mut synth = Synth::new();
    let subtasks = EnrichPipeline::declare(&mut synth);
    for _ in 0..12 {
        for &e in &subtasks.enrich {
            synth.sample(e, Busy, true, &["main", "enrich", "hash"], 90);
        }
        synth.sample(
            subtasks.parse,
            Backpressured,
            false,
            &["main", "parse", "send"],
            80,
        );
        subtasks.interval(&mut synth);
    }
    synth
}

/// One chunk of a recording, found by walking the framing as `docs/format.md` specifies it.
#[derive(Debug, Clone, Copy)]
struct Chunk {
    offset: usize,
    len: usize,
    kind: u8,
}

impl Chunk {
    /// A byte in the middle of the payload.
    fn payload_middle(&self) -> usize {
        self.offset + 9 + self.len / 2
    }
}

/// The chunks of `bytes`, after the 16-byte preamble: `len` u32 LE, `kind`, 4 bytes of header
/// CRC, the payload, 4 bytes of CRC.
fn chunks(bytes: &[u8]) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    let mut offset = 16;
    while offset + 9 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[offset..offset + 4].try_into().unwrap()) as usize;
        chunks.push(Chunk {
            offset,
            len,
            kind: bytes[offset + 4],
        });
        offset += 13 + len;
    }
    assert_eq!(offset, bytes.len(), "the framing covers the file");
    chunks
}

/// The interval chunk of `seq` (kind 2, in file order).
fn interval(chunks: &[Chunk], seq: usize) -> Chunk {
    chunks
        .iter()
        .filter(|c| c.kind == 2)
        .nth(seq)
        .copied()
        .unwrap()
}

/// [`pipeline`] with one byte flipped at each of `at`.
fn damaged(at: &[usize]) -> Vec<u8> {
    let mut bytes = pipeline().bytes();
    for &i in at {
        bytes[i] ^= 0x10;
    }
    bytes
}

/// Runs `bpprof locate REC`, asserting that it succeeds; returns its output and stderr.
fn locate_succeeds(rec: &Fixture) -> (Output, String) {
    let output = bpprof(&["locate", rec.arg()]);
    let stderr = text(&output.stderr);
    assert_eq!(code(&output), 0, "{stderr}");
    (output, stderr)
}

/// The `warning:` lines of stderr.
fn warnings(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.starts_with("warning: "))
        .collect()
}

#[test]
fn locate_of_a_recording_with_a_damaged_middle_chunk_warns_and_exits_0() {
    let chunks = chunks(&pipeline().bytes());
    let bytes = damaged(&[interval(&chunks, 6).payload_middle()]);
    let rec = Fixture::new("damaged.bpprof", &bytes);

    let (output, stderr) = locate_succeeds(&rec);
    assert_eq!(
        warnings(&stderr),
        [format!(
            "warning: the recording is damaged at byte {} ({} bytes skipped, reading on from the next intact chunk): \
             interval 6 (6–7 s) is lost; analysing the intact chunks",
            interval(&chunks, 6).offset,
            interval(&chunks, 6).len + 13
        )]
    );
    let stdout = text(&output.stdout);
    assert!(stdout.starts_with("Enrich is the bottleneck"), "{stdout}");

    // The JSON report carries the warning, and one interval fewer is analysed.
    let json = bpprof(&["locate", rec.arg(), "--format", "json"]);
    assert_eq!(code(&json), 0, "{}", text(&json.stderr));
    let report: LocateReport = serde_json::from_slice(&json.stdout).unwrap();
    assert!(
        report.recording.warnings[0].contains("interval 6 (6–7 s) is lost"),
        "{:?}",
        report.recording.warnings
    );
    let intact = Fixture::new("intact.bpprof", &pipeline().bytes());
    let intact = bpprof(&["locate", intact.arg(), "--format", "json"]);
    let intact: LocateReport = serde_json::from_slice(&intact.stdout).unwrap();
    assert_eq!(report.recording.intervals + 1, intact.recording.intervals);
    assert_eq!(report.bottlenecks[0].task, "Enrich");
}

#[test]
fn locate_of_a_recording_with_two_damaged_chunks_names_both_ranges() {
    let chunks = chunks(&pipeline().bytes());
    // A payload, and a header (its length field).
    let bytes = damaged(&[
        interval(&chunks, 3).payload_middle(),
        interval(&chunks, 8).offset + 1,
    ]);
    let rec = Fixture::new("damaged.bpprof", &bytes);
    let (output, stderr) = locate_succeeds(&rec);
    let warnings = warnings(&stderr);
    assert_eq!(warnings.len(), 2, "{stderr}");
    assert!(
        warnings[0].contains("interval 3 (3–4 s) is lost"),
        "{stderr}"
    );
    assert!(
        warnings[1].contains("interval 8 (8–9 s) is lost"),
        "{stderr}"
    );
    assert!(text(&output.stdout).starts_with("Enrich is the bottleneck"));
}

#[test]
fn locate_of_a_recording_with_a_damaged_last_chunk_warns_and_exits_0() {
    let chunks = chunks(&pipeline().bytes());
    let end = *chunks.last().unwrap();
    assert_eq!(end.kind, 3, "the end chunk is last");
    let rec = Fixture::new("damaged.bpprof", &damaged(&[end.payload_middle()]));
    let (_, stderr) = locate_succeeds(&rec);
    assert_eq!(
        warnings(&stderr),
        [format!(
            "warning: the recording is damaged at byte {} ({} bytes skipped to the end of the file): \
             everything after 12 s (interval 12 on) is lost; analysing the intact chunks",
            end.offset,
            end.len + 13
        )]
    );
    assert!(!stderr.contains("not finalised"), "{stderr}");
}

#[test]
fn locate_of_a_recording_with_a_damaged_meta_chunk_is_one_error_line() {
    let chunks = chunks(&pipeline().bytes());
    let rec = Fixture::new("damaged.bpprof", &damaged(&[chunks[0].payload_middle()]));
    let output = bpprof(&["locate", rec.arg()]);
    assert_one_error_line(
        &output,
        "chunk 0 at byte 16: the meta chunk is damaged (chunk checksum mismatch), and nothing in a recording can be read without it; the file is damaged; record again",
    );
}

#[test]
fn locate_of_a_recording_whose_declarations_were_lost_says_so() {
    let chunks = chunks(&pipeline().bytes());
    // The first interval chunk declares every subtask and channel.
    let rec = Fixture::new(
        "damaged.bpprof",
        &damaged(&[interval(&chunks, 0).payload_middle()]),
    );
    let (_, stderr) = locate_succeeds(&rec);
    assert!(!stderr.contains("panicked"), "{stderr}");
    let warnings = warnings(&stderr);
    assert!(
        warnings[0].contains("interval 0 (0–1 s) is lost"),
        "{stderr}"
    );
    assert_eq!(
        warnings[1],
        "warning: the damaged chunks also held the declarations of 5 subtasks that intact chunks \
         refer to: their data cannot be attributed to a task or an edge"
    );
}

#[test]
fn check_of_a_damaged_recording_says_what_was_lost_in_every_report() {
    let chunks = chunks(&pipeline().bytes());
    let bytes = damaged(&[interval(&chunks, 5).payload_middle()]);
    let rec = Fixture::new("damaged.bpprof", &bytes);
    let lost = "interval 5 (5–6 s) is lost";

    let human = bpprof(&[
        "check",
        rec.arg(),
        "--no-config",
        "--assert",
        "Enrich.busy < 2",
    ]);
    let stdout = text(&human.stdout);
    assert_eq!(code(&human), 0, "{}", text(&human.stderr));
    let line = stdout
        .lines()
        .find(|l| l.contains(lost))
        .unwrap_or_else(|| panic!("no warning in:\n{stdout}"));
    assert!(
        line.starts_with(&format!("warning: {}: the recording is damaged", rec.arg())),
        "{line}"
    );

    let json = bpprof(&[
        "check",
        rec.arg(),
        "--no-config",
        "--assert",
        "Enrich.busy < 2",
        "--format",
        "json",
    ]);
    assert_eq!(code(&json), 0, "{}", text(&json.stderr));
    let report: CheckReport = serde_json::from_slice(&json.stdout).unwrap();
    assert!(
        report.warnings.iter().any(|w| w.contains(lost)),
        "{:?}",
        report.warnings
    );
}

#[test]
fn flame_of_a_recording_with_a_damaged_samples_chunk_draws_the_rest() {
    let chunks = chunks(&pipeline().bytes());
    let samples = chunks
        .iter()
        .filter(|c| c.kind == 5)
        .nth(4)
        .copied()
        .unwrap();
    let rec = Fixture::new("damaged.bpprof", &damaged(&[samples.payload_middle()]));
    let output = bpprof(&["flame", rec.arg(), "--subtask", "Enrich#0", "--folded"]);
    let stderr = text(&output.stderr);
    assert_eq!(code(&output), 0, "{stderr}");
    assert!(
        stderr.contains("no interval is lost, only data written after interval 4 (at 5 s), such as its stack samples"),
        "{stderr}"
    );
    // 90 samples a second of Enrich#0, 11 seconds analysed after the warm-up, one samples chunk lost.
    let folded = text(&output.stdout);
    let total: u64 = folded
        .lines()
        .map(|l| l.rsplit_once(' ').unwrap().1.parse::<u64>().unwrap())
        .sum();
    assert_eq!(total, 90 * 10, "{folded}");
}
