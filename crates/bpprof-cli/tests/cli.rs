//! `bpprof` as users run it: real processes, recordings in a temporary directory.

mod common;

use std::io::Read;
use std::process::{Output, Stdio};

use bpprof_analysis::synth::{Load, Synth};
use bpprof_analysis::{locate, AnalysisOptions, BottleneckKind, LocateReport};
use common::{
    assert_help_names, assert_one_error_line, bpprof, bpprof_in, command, text, EnrichPipeline,
    Fixture,
};

/// Source -> Parse -> Enrich -> Sink with Enrich the bottleneck.
fn pipeline() -> Synth {
    let mut synth = Synth::new();
    let subtasks = EnrichPipeline::declare(&mut synth);
    for _ in 0..8 {
        subtasks.interval(&mut synth);
    }
    synth
}

#[test]
fn human_output_starts_with_the_verdict() {
    let synth = pipeline();
    let rec = Fixture::new("run.bpprof", &synth.bytes());
    let output = bpprof(&["locate", rec.arg()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(output.stderr.is_empty(), "{}", text(&output.stderr));
    let expected = locate(&synth.recording(), &AnalysisOptions::default()).unwrap();
    let stdout = text(&output.stdout);
    assert_eq!(stdout.lines().next(), Some(expected.verdict.as_str()));
    assert!(stdout.starts_with("Enrich is the bottleneck"), "{stdout}");
    // The whole report: verdict, notes, the task, subtask and edge tables.
    insta::assert_snapshot!(stdout);
}

#[test]
fn json_output_deserializes_into_the_report_types() {
    let rec = Fixture::new("run.bpprof", &pipeline().bytes());
    let output = bpprof(&["locate", rec.arg(), "--format", "json"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let report: LocateReport = serde_json::from_slice(&output.stdout).expect("valid report JSON");
    assert_eq!(report.schema, bpprof_analysis::SCHEMA);
    assert_eq!(report.schema_version, bpprof_analysis::SCHEMA_VERSION);
    assert_eq!(report.bottlenecks.len(), 1);
    assert_eq!(report.bottlenecks[0].task, "Enrich");
    assert_eq!(report.bottlenecks[0].kind, BottleneckKind::Cpu);
    assert_eq!(report.bottlenecks[0].subtasks, [1]);
}

#[test]
fn from_and_to_are_passed_to_the_analysis() {
    let rec = Fixture::new("run.bpprof", &pipeline().bytes());
    let output = bpprof(&[
        "locate",
        rec.arg(),
        "--from",
        "2",
        "--to",
        "4",
        "--format",
        "json",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let report: LocateReport = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report.recording.intervals, 2);
    assert_eq!((report.recording.from_s, report.recording.to_s), (2.0, 4.0));
}

#[test]
fn missing_file_is_one_error_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.bpprof");
    let output = bpprof(&["locate", path.to_str().unwrap()]);
    assert_one_error_line(&output, "cannot read recording");
    assert!(text(&output.stderr).trim_end().ends_with("check the path"));
}

#[test]
fn empty_file_is_one_error_line() {
    let rec = Fixture::new("empty.bpprof", b"");
    assert_one_error_line(&bpprof(&["locate", rec.arg()]), "is empty");
}

#[test]
fn random_bytes_are_one_error_line() {
    // Fixed pseudo-random bytes (xorshift), so a failure reproduces.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let bytes: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let rec = Fixture::new("random.bpprof", &bytes);
    assert_one_error_line(&bpprof(&["locate", rec.arg()]), "not a bpprof recording");
}

#[test]
fn recording_truncated_mid_chunk_warns_and_analyses_the_complete_part() {
    let bytes = pipeline().bytes();
    // Cut inside the last interval chunk (format 1.4 ends a finished file with its index, the
    // index's locator and the end chunk, which go with it).
    let mut offset = 16;
    let mut last_interval = (0, 0);
    while offset < bytes.len() {
        let len = u32::from_le_bytes(bytes[offset..offset + 4].try_into().unwrap()) as usize;
        if bytes[offset + 4] == 2 {
            last_interval = (offset, len);
        }
        offset += 13 + len;
    }
    let cut = &bytes[..last_interval.0 + 9 + last_interval.1 / 2];
    let rec = Fixture::new("cut.bpprof", cut);
    let output = bpprof(&["locate", rec.arg(), "--format", "json"]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("warning: ") && l.contains("truncated")),
        "{stderr}"
    );
    assert!(!stderr.contains("error:"), "{stderr}");
    let report: LocateReport = serde_json::from_slice(&output.stdout).unwrap();
    assert!(!report.recording.warnings.is_empty());
    assert!(
        report.recording.intervals < 7,
        "the torn interval is not analysed"
    );
    assert_eq!(report.bottlenecks[0].task, "Enrich");
}

#[test]
fn newer_major_version_is_one_error_line() {
    let mut bytes = pipeline().bytes();
    let newer = bpprof_format::FORMAT_MAJOR + 1;
    bytes[8..10].copy_from_slice(&newer.to_le_bytes());
    let rec = Fixture::new("newer.bpprof", &bytes);
    let output = bpprof(&["locate", rec.arg()]);
    assert_one_error_line(&output, &format!("uses format {newer}."));
}

#[test]
fn bad_flag_is_one_error_line() {
    let rec = Fixture::new("run.bpprof", &pipeline().bytes());
    assert_one_error_line(
        &bpprof(&["locate", rec.arg(), "--frobnicate"]),
        "--frobnicate",
    );
    assert_one_error_line(&bpprof(&["locate", rec.arg(), "--format", "xml"]), "xml");
    assert_one_error_line(&bpprof(&["locate", rec.arg(), "--from", "soon"]), "soon");
    assert_one_error_line(&bpprof(&["locate"]), "<REC>");
}

#[test]
fn from_beyond_the_end_is_one_error_line() {
    let rec = Fixture::new("run.bpprof", &pipeline().bytes());
    let output = bpprof(&["locate", rec.arg(), "--from", "100"]);
    assert_one_error_line(&output, "no complete interval between 100 s and 8 s");
    assert_one_error_line(
        &bpprof(&["locate", rec.arg(), "--from", "3", "--to", "2"]),
        "--from",
    );
}

#[test]
fn closed_stdout_is_not_an_error() {
    // Enough tasks that the report overflows any pipe buffer.
    let mut synth = Synth::new();
    let mut previous = None;
    let mut ids = Vec::new();
    for t in 0..300 {
        let id = synth.subtask(&format!("Task{t}"), 0, 1);
        if let Some(p) = previous {
            synth.channel(&format!("c{t}"), 10, &[p], &[id]);
        }
        previous = Some(id);
        ids.push(id);
    }
    // Enough intervals for a reliable verdict: no coverage warning on stderr.
    for _ in 0..6 {
        let loads: Vec<(u32, Load)> = ids.iter().map(|&id| (id, Load::new(0.5, 0.2))).collect();
        synth.interval(&loads);
    }
    let rec = Fixture::new("big.bpprof", &synth.bytes());
    let mut child = command(&["locate", rec.arg(), "--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn help_lists_exit_codes() {
    let output = bpprof(&["--help"]);
    assert_eq!(output.status.code(), Some(0));
    let help = text(&output.stdout);
    assert!(
        help.contains("Exit codes:") && help.contains("locate"),
        "{help}"
    );
    let output = bpprof(&["locate", "--help"]);
    assert!(text(&output.stdout).contains("--from <SECONDS>"));
}

// ---------------------------------------------------------------------------------------------
// bpprof flame

/// `pipeline()` with stack samples: Enrich#0 and #1 hash on CPU, Enrich#1 also waits for a
/// lookup off CPU, both sometimes wait for input; Source is backpressured in `send`.
fn sampled_pipeline() -> Synth {
    let mut synth = Synth::new();
    let subtasks = EnrichPipeline::declare(&mut synth);
    let (source, enrich) = (subtasks.source, &subtasks.enrich);
    use bpprof_format::SampleState::{Backpressured, Busy, Idle};
    for _ in 0..8 {
        synth.sample(enrich[0], Busy, true, &["main", "enrich", "hash"], 90);
        synth.sample(enrich[0], Idle, false, &["main", "enrich", "recv"], 9);
        synth.sample(enrich[1], Busy, true, &["main", "enrich", "hash"], 60);
        synth.sample(enrich[1], Busy, false, &["main", "enrich", "lookup"], 36);
        synth.sample(enrich[1], Idle, false, &["main", "enrich", "recv"], 3);
        synth.sample(
            source,
            Backpressured,
            false,
            &["main", "source", "send"],
            70,
        );
        synth.sample(
            source,
            Busy,
            true,
            &["main", "source", "only_in_source"],
            20,
        );
        subtasks.interval(&mut synth);
    }
    synth
}

fn assert_well_formed_svg(svg: &str, title: &str) {
    assert!(
        svg.starts_with("<?xml") || svg.starts_with("<svg"),
        "{}",
        &svg[..svg.len().min(200)]
    );
    assert!(svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains(title), "title {title:?} in the SVG");
}

/// A recording of [`sampled_pipeline`] and a directory of its own to run `bpprof flame` in.
struct Flame {
    rec: Fixture,
    out: tempfile::TempDir,
}

impl Flame {
    fn new() -> Flame {
        Flame {
            rec: Fixture::new("run.bpprof", &sampled_pipeline().bytes()),
            out: tempfile::tempdir().unwrap(),
        }
    }

    /// Runs `bpprof flame RECORDING OPTIONS` in the directory, asserting that it succeeds.
    fn run(&self, options: &[&str]) -> Output {
        let mut args = vec!["flame", self.rec.arg()];
        args.extend(options);
        let output = bpprof_in(self.out.path(), &args);
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        output
    }
}

#[test]
fn flame_of_a_subtask_writes_the_default_file_and_says_so() {
    let flame = Flame::new();
    let output = flame.run(&["--subtask", "Enrich#1"]);
    // The range drawn and the file written, as status lines: 7 intervals (the first is
    // skipped) of 99 samples.
    assert_eq!(
        text(&output.stderr),
        "analysed 1–8 s of 8 s (7 intervals)\n\
         wrote flame graph of Enrich#1 (693 samples) to flame-Enrich-1.svg\n"
    );
    assert_eq!(text(&output.stdout), "");
    let svg = std::fs::read_to_string(flame.out.path().join("flame-Enrich-1.svg")).unwrap();
    assert_well_formed_svg(&svg, "Enrich#1: busy 97%, backpressured 0%, idle 3%");
    assert!(svg.contains("1–8 s, 693 samples at 99 Hz"), "subtitle");
    assert!(svg.contains("[busy]") && svg.contains("lookup"));
    assert!(!svg.contains("only_in_source"));
}

#[test]
fn flame_folded_prints_the_folded_stacks() {
    let flame = Flame::new();
    // `bpprof flame REC --subtask Enrich#1 --folded OPTIONS`: its stdout.
    let folded = |options: &[&str]| {
        let mut args = vec!["--subtask", "Enrich#1", "--folded"];
        args.extend(options);
        text(&flame.run(&args).stdout)
    };
    assert_eq!(
        folded(&[]),
        "[busy];main;enrich;hash 420\n[busy];main;enrich;lookup 252\n[idle];main;enrich;recv 21\n"
    );
    assert_eq!(
        folded(&["--mode", "off-cpu", "--state", "busy"]),
        "main;enrich;lookup 252\n"
    );
    assert_eq!(folded(&["--mode", "on-cpu"]), "main;enrich;hash 420\n");
}

#[test]
fn flame_of_a_task_merges_its_subtasks() {
    let flame = Flame::new();
    let output = flame.run(&["--task", "Enrich", "--folded"]);
    assert_eq!(
        text(&output.stdout),
        "[busy];main;enrich;hash 1050\n[busy];main;enrich;lookup 252\n[idle];main;enrich;recv 84\n"
    );
    let output = flame.run(&["--task", "Enrich"]);
    assert!(text(&output.stderr).ends_with("to flame-Enrich.svg\n"));
    let svg = std::fs::read_to_string(flame.out.path().join("flame-Enrich.svg")).unwrap();
    assert_well_formed_svg(&svg, "Enrich (2 subtasks): busy 96%");
}

#[test]
fn flame_without_a_selector_draws_the_bottleneck_and_says_why() {
    let flame = Flame::new();
    let output = flame.run(&["-o", "x.svg"]);
    let stderr = text(&output.stderr);
    assert_eq!(stderr.lines().count(), 3, "{stderr}");
    assert!(
        stderr.starts_with("no --subtask or --task given: drawing Enrich#1, the bottleneck"),
        "{stderr}"
    );
    assert_eq!(
        stderr.lines().nth(1),
        Some("analysed 1–8 s of 8 s (7 intervals)"),
        "{stderr}"
    );
    assert!(stderr.contains("Enrich"), "{stderr}");
    assert_eq!(
        stderr.lines().last(),
        Some("wrote flame graph of Enrich#1 (693 samples) to x.svg")
    );
    assert_eq!(text(&output.stdout), "");
    assert!(flame.out.path().join("x.svg").exists());
}

#[test]
fn flame_svg_to_stdout_with_dash() {
    let output = Flame::new().run(&["--subtask", "Source#0", "-o", "-"]);
    let svg = text(&output.stdout);
    assert_well_formed_svg(&svg, "Source#0: busy 20%, backpressured 70%, idle 10%");
    assert!(svg.contains("[backpressured]"));
}

#[test]
fn flame_unknown_subtask_is_one_error_line_with_the_available_ones() {
    let rec = Fixture::new("run.bpprof", &sampled_pipeline().bytes());
    let output = bpprof(&["flame", rec.arg(), "--subtask", "Enrich#5"]);
    assert_one_error_line(
        &output,
        "unknown subtask 'Enrich#5' (did you mean 'Enrich#1'?)",
    );
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("available: Source#0, Parse#0, Enrich#0, Enrich#1, Sink#0"),
        "{stderr}"
    );
    assert_one_error_line(
        &bpprof(&["flame", rec.arg(), "--subtask", "Enrih#0"]),
        "did you mean 'Enrich#0'?",
    );
    assert_one_error_line(
        &bpprof(&["flame", rec.arg(), "--task", "Snk"]),
        "unknown task 'Snk' (did you mean 'Sink'?)",
    );
    assert_one_error_line(
        &bpprof(&["flame", rec.arg(), "--subtask", "Enrich"]),
        "expected TASK#INDEX",
    );
    assert_one_error_line(
        &bpprof(&[
            "flame",
            rec.arg(),
            "--subtask",
            "Enrich#0",
            "--task",
            "Enrich",
        ]),
        "--task",
    );
    assert_one_error_line(&bpprof(&["flame", rec.arg(), "--mode", "wall"]), "wall");
}

#[test]
fn flame_without_samples_is_one_error_line() {
    // Sampling was off.
    let rec = Fixture::new("run.bpprof", &pipeline().bytes());
    let output = bpprof(&["flame", rec.arg(), "--subtask", "Enrich#0"]);
    assert_one_error_line(&output, "no samples of Enrich#0 between 1 s and 8 s");
    assert!(text(&output.stderr).contains("sampling off"));
    // Samples, but none of this subtask.
    let rec = Fixture::new("run.bpprof", &sampled_pipeline().bytes());
    assert_one_error_line(
        &bpprof(&["flame", rec.arg(), "--subtask", "Sink#0"]),
        "no samples of Sink#0",
    );
    // Everything filtered out.
    assert_one_error_line(
        &bpprof(&[
            "flame",
            rec.arg(),
            "--subtask",
            "Source#0",
            "--state",
            "idle",
        ]),
        "filtered out",
    );
    // A range without intervals.
    assert_one_error_line(
        &bpprof(&["flame", rec.arg(), "--subtask", "Enrich#0", "--from", "100"]),
        "no complete interval between 100 s",
    );
}

#[test]
fn flame_to_an_unwritable_path_is_one_error_line() {
    let rec = Fixture::new("run.bpprof", &sampled_pipeline().bytes());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-dir").join("flame.svg");
    let output = bpprof(&[
        "flame",
        rec.arg(),
        "--subtask",
        "Enrich#0",
        "-o",
        path.to_str().unwrap(),
    ]);
    assert_one_error_line(&output, "cannot write");
    assert!(text(&output.stderr)
        .trim_end()
        .ends_with("choose a writable path with -o"));

    // Without --subtask the bottleneck is drawn; the note saying so comes only after a
    // successful write, so the error is still the only line.
    let output = bpprof(&["flame", rec.arg(), "-o", path.to_str().unwrap()]);
    assert_one_error_line(&output, "cannot write");
}

#[test]
fn flame_help_documents_the_options() {
    assert_help_names(
        "flame",
        &[
            "--subtask",
            "--task",
            "--mode",
            "--state",
            "--from",
            "--to",
            "--output",
            "--folded",
        ],
    );
}

/// `--from`/`--to` read a finished recording through its index (format 1.4): only the chunks of
/// the range and those that declare something. What the commands print must be exactly what they
/// print when the whole file is scanned (the same file with its index taken out).
#[test]
fn a_range_read_through_the_index_gives_what_a_scan_gives() {
    let bytes = bpprof_analysis::synth::Pipeline {
        intervals: 30,
        ..bpprof_analysis::synth::Pipeline::new(3)
    }
    .recording_bytes();
    // The same recording without its index and locator (kinds 6 and 7).
    let mut scanned = bytes[..16].to_vec();
    let mut offset = 16;
    let mut kinds = Vec::new();
    while offset < bytes.len() {
        let len = u32::from_le_bytes(bytes[offset..offset + 4].try_into().unwrap()) as usize;
        kinds.push(bytes[offset + 4]);
        if !matches!(bytes[offset + 4], 6 | 7) {
            scanned.extend_from_slice(&bytes[offset..offset + 13 + len]);
        }
        offset += 13 + len;
    }
    assert!(kinds.contains(&5), "the recording has packed samples");
    assert!(scanned.len() < bytes.len(), "the recording has an index");
    let indexed = Fixture::new("indexed.bpprof", &bytes);
    let plain = Fixture::new("scanned.bpprof", &scanned);
    for args in [
        &["locate", "--format", "json", "--from", "10", "--to", "16.5"][..],
        &["locate", "--from", "20"],
        &[
            "flame",
            "--subtask",
            "Work#0",
            "--from",
            "10",
            "--to",
            "16.5",
            "--folded",
        ],
        &["flame", "--from", "3", "--folded"],
    ] {
        let run = |rec: &Fixture| {
            let output = bpprof(&[&[args[0], rec.arg()], &args[1..]].concat());
            assert_eq!(
                output.status.code(),
                Some(0),
                "{args:?}: {}",
                text(&output.stderr)
            );
            (text(&output.stdout), text(&output.stderr))
        };
        let (a, b) = (run(&indexed), run(&plain));
        assert_eq!(a, b, "{args:?}");
        assert!(!a.0.is_empty(), "{args:?}");
    }
}
