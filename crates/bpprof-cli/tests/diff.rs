//! `bpprof diff` as users run it: two synthetic recordings in a temporary directory.

mod common;

use std::path::PathBuf;
use std::process::Output;

use bpprof_analysis::synth::{Load, Synth};
use bpprof_format::SampleState::{Backpressured, Busy, Idle};
use common::{assert_help_names, assert_one_error_line, bpprof_in, source_task_sink, text};

/// Source -> Enrich (2 subtasks) -> Sink, Enrich the bottleneck and Enrich#1 the busiest. Per
/// 1-second interval, sampled at 100 Hz, Enrich#1 spends `hash` samples hashing (on CPU), `lookup`
/// looking up (busy, off CPU) and the rest of the 100 idle, and each Enrich subtask receives
/// `records`; the interval accounting says the same (busy and CPU time), so every sample stands
/// for 10 ms.
fn pipeline(hash: u32, lookup: u32, records: u64) -> Synth {
    let mut synth = Synth::new();
    synth.sample_hz(100);
    let (source, enrich, sink) =
        source_task_sink(&mut synth, "Enrich", 2, ["raw", "enriched"], 100);
    let fraction = |samples: u32| f64::from(samples) / 100.0;
    for _ in 0..6 {
        synth.sample(enrich[0], Busy, true, &["main", "enrich", "hash"], 60);
        synth.sample(enrich[0], Idle, false, &["main", "enrich", "recv"], 40);
        synth.sample(enrich[1], Busy, true, &["main", "enrich", "hash"], hash);
        synth.sample(
            enrich[1],
            Busy,
            false,
            &["main", "enrich", "lookup"],
            lookup,
        );
        synth.sample(
            enrich[1],
            Idle,
            false,
            &["main", "enrich", "recv"],
            100 - hash - lookup,
        );
        synth.sample(
            source,
            Backpressured,
            false,
            &["main", "source", "send"],
            90,
        );
        let enrich1 = Load::new(fraction(hash + lookup), 0.0).on_cpu(fraction(hash));
        synth.interval(&[
            (source, Load::new(0.1, 0.88).records(0, 2 * records)),
            (
                enrich[0],
                Load::new(0.6, 0.0).on_cpu(0.6).records(records, records),
            ),
            (enrich[1], enrich1.records(records, records)),
            (sink, Load::new(0.2, 0.0).records(2 * records, 0)),
        ]);
    }
    synth
}

/// BASE: Enrich#1 hashes 45 and looks up 45 samples (450 ms each) per second, for 3,000 records:
/// 0.15 ms of each per record.
fn base() -> Synth {
    pipeline(45, 45, 3000)
}

/// CURRENT: hashing costs twice as much per record (0.3 ms), so Enrich#1 processes only 2,000
/// records per second: 60 samples hashing, 30 looking up (still 0.15 ms per record). Its time per
/// record grows by 50%.
fn current() -> Synth {
    pipeline(60, 30, 2000)
}

/// A temporary directory with `base.bpprof` ([`base`]) and `current.bpprof` ([`current`]).
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture::with(&base(), &current())
    }

    fn with(base: &Synth, current: &Synth) -> Fixture {
        let dir = tempfile::tempdir().expect("temporary directory");
        base.write_file(dir.path().join("base.bpprof")).unwrap();
        current
            .write_file(dir.path().join("current.bpprof"))
            .unwrap();
        Fixture { dir }
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut all = vec!["diff", "base.bpprof", "current.bpprof"];
        all.extend_from_slice(args);
        bpprof_in(self.dir.path(), &all)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn assert_well_formed_svg(svg: &str) {
    let xml = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..roxmltree::ParsingOptions::default()
    };
    roxmltree::Document::parse_with_options(svg, xml).expect("well-formed SVG");
}

#[test]
fn diff_writes_the_default_file_with_the_title() {
    let fixture = Fixture::new();
    let output = fixture.run(&["--subtask", "Enrich#1"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    // The range drawn from each recording and the file written, as status lines.
    assert_eq!(
        text(&output.stderr),
        "BASE: analysed 1–6 s of 6 s (5 intervals)\nCURRENT: analysed 1–6 s of 6 s (5 intervals)\n\
         wrote differential flame graph of Enrich#1 (+50.0% per record) to diff-Enrich-1.svg\n"
    );
    assert_eq!(text(&output.stdout), "");
    let svg = std::fs::read_to_string(fixture.path("diff-Enrich-1.svg")).unwrap();
    assert_well_formed_svg(&svg);
    assert!(
        svg.contains("Enrich#1: current.bpprof vs base.bpprof, +50.0% time per record"),
        "title in the SVG"
    );
    assert!(svg.contains("widths: ps per record in current.bpprof"));
    assert!(svg.contains("ps per record"));
}

#[test]
fn diff_defaults_to_the_bottleneck_of_current_and_says_why() {
    let fixture = Fixture::new();
    let output = fixture.run(&["-o", "d.svg"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let stderr = text(&output.stderr);
    assert!(
        stderr.starts_with("no --subtask or --task given: comparing Enrich#1, the bottleneck"),
        "{stderr}"
    );
    assert!(stderr.ends_with("to d.svg\n"), "{stderr}");
    assert_eq!(text(&output.stdout), "");
    assert_well_formed_svg(&std::fs::read_to_string(fixture.path("d.svg")).unwrap());
}

#[test]
fn diff_folded_has_two_counts_per_line() {
    let fixture = Fixture::new();
    let output = fixture.run(&["--subtask", "Enrich#1", "--folded"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    // 5 intervals of 45 (BASE) and 60 (CURRENT) samples hashing, 10 ms each, over 15,000 and
    // 10,000 records: 0.15 and 0.3 ms per record, in picoseconds (the larger total, 0.5 ms, is
    // under a million ns).
    assert_eq!(
        stdout,
        "[busy];main;enrich;hash 150000000 300000000\n[busy];main;enrich;lookup 150000000 150000000\n[idle];main;enrich;recv 33333333 50000000\n"
    );
    for line in stdout.lines() {
        let fields: Vec<&str> = line.rsplitn(3, ' ').collect();
        assert_eq!(fields.len(), 3, "{line}");
        assert!(fields[0].parse::<u64>().is_ok() && fields[1].parse::<u64>().is_ok());
    }

    // --negate swaps the columns, for `inferno-flamegraph --negate`.
    let output = fixture.run(&["--subtask", "Enrich#1", "--folded", "--negate"]);
    assert_eq!(
        text(&output.stdout).lines().next(),
        Some("[busy];main;enrich;hash 300000000 150000000")
    );
}

#[test]
fn diff_shares_the_flame_options() {
    let fixture = Fixture::new();
    let output = fixture.run(&[
        "--task", "Enrich", "--mode", "on-cpu", "--state", "busy", "--from", "2", "--to", "5",
        "--folded",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    // Intervals 2 to 4, both subtasks: (60 + 45) and (60 + 60) samples of 10 ms of CPU per
    // second over 6,000 and 4,000 records.
    assert_eq!(
        text(&output.stdout).lines().collect::<Vec<_>>(),
        ["main;enrich;hash 175000000 300000000"],
    );

    let output = fixture.run(&["--task", "Enrich", "-o", "-", "--width", "800"]);
    let svg = text(&output.stdout);
    assert_well_formed_svg(&svg);
    assert!(svg.contains("Enrich (2 subtasks): current.bpprof vs base.bpprof"));
    assert!(svg.contains("width=\"800\""));
}

#[test]
fn diff_normalize_samples_works_without_records() {
    let fixture = Fixture::with(&pipeline(45, 45, 0), &pipeline(60, 30, 0));
    let output = fixture.run(&["--subtask", "Enrich#1"]);
    assert_one_error_line(&output, "needs record counts");
    assert!(text(&output.stderr).contains("--normalize samples"));

    let output = fixture.run(&[
        "--subtask",
        "Enrich#1",
        "--normalize",
        "samples",
        "--folded",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    // 500 samples on each side: nothing to scale.
    assert_eq!(
        text(&output.stdout),
        "[busy];main;enrich;hash 225 300\n[busy];main;enrich;lookup 225 150\n[idle];main;enrich;recv 50 50\n"
    );
}

#[test]
fn diff_unknown_subtask_is_one_error_line() {
    let fixture = Fixture::new();
    assert_one_error_line(
        &fixture.run(&["--subtask", "Enrich#5"]),
        "in CURRENT 'current.bpprof': unknown subtask 'Enrich#5'",
    );

    // Enrich#1 is missing in BASE only: the error lists BASE's subtasks.
    let mut base = Synth::new();
    let enrich = base.subtask("Enrich", 0, 1);
    for _ in 0..3 {
        base.sample(enrich, Busy, true, &["main", "hash"], 10);
        base.interval(&[(enrich, Load::new(0.9, 0.0).records(10, 10))]);
    }
    let fixture = Fixture::with(&base, &current());
    let output = fixture.run(&["--subtask", "Enrich#1"]);
    assert_one_error_line(
        &output,
        "in BASE 'base.bpprof': unknown subtask 'Enrich#1' (did you mean 'Enrich#0'?); available: Enrich#0",
    );
    // The same when Enrich#1 comes from CURRENT's bottleneck.
    assert_one_error_line(&fixture.run(&[]), "available: Enrich#0");
}

#[test]
fn diff_missing_file_is_one_error_line() {
    let fixture = Fixture::new();
    let output = bpprof_in(
        fixture.dir.path(),
        &["diff", "nope.bpprof", "current.bpprof"],
    );
    assert_one_error_line(&output, "cannot read recording 'nope.bpprof'");
    let output = bpprof_in(fixture.dir.path(), &["diff", "base.bpprof", "nope.bpprof"]);
    assert_one_error_line(&output, "cannot read recording 'nope.bpprof'");
}

#[test]
fn diff_without_samples_is_one_error_line() {
    let mut unsampled = Synth::new();
    let enrich = unsampled.subtask("Enrich", 1, 2);
    for _ in 0..3 {
        unsampled.interval(&[(enrich, Load::new(0.9, 0.0).records(10, 10))]);
    }
    let fixture = Fixture::with(&unsampled, &current());
    assert_one_error_line(
        &fixture.run(&["--subtask", "Enrich#1"]),
        "in BASE 'base.bpprof': no samples of Enrich#1",
    );
}

#[test]
fn diff_to_an_unwritable_path_is_one_error_line() {
    let fixture = Fixture::new();
    assert_one_error_line(
        &fixture.run(&["--subtask", "Enrich#1", "-o", "no-such-dir/d.svg"]),
        "cannot write 'no-such-dir/d.svg'",
    );
}

#[test]
fn diff_help_documents_the_options() {
    assert_help_names(
        "diff",
        &[
            "<BASE>",
            "<CURRENT>",
            "--subtask",
            "--task",
            "--mode",
            "--state",
            "--operator",
            "--from",
            "--to",
            "--normalize",
            "--negate",
            "--output",
            "--folded",
            "--width",
        ],
    );
}

#[test]
fn diff_names_recordings_by_file_name_or_by_path_when_those_are_equal() {
    let dir = tempfile::tempdir().unwrap();
    for (sub, synth) in [("before", base()), ("after", current())] {
        std::fs::create_dir(dir.path().join(sub)).unwrap();
        synth
            .write_file(dir.path().join(sub).join("run.bpprof"))
            .unwrap();
    }
    let output = bpprof_in(
        dir.path(),
        &[
            "diff",
            "before/run.bpprof",
            "after/run.bpprof",
            "--subtask",
            "Enrich#1",
            "-o",
            "-",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).contains("Enrich#1: after/run.bpprof vs before/run.bpprof, +50.0%")
    );
}

/// Before: `--width 0` (or anything up to 20) panicked inside inferno.
#[test]
fn diff_with_a_too_narrow_width_is_one_error_line() {
    let fixture = Fixture::new();
    for width in ["0", "20", "99", "-1"] {
        let output = fixture.run(&["--subtask", "Enrich#1", "--width", width, "-o", "d.svg"]);
        assert_one_error_line(&output, "give a number of pixels of at least 100");
        assert!(!fixture.path("d.svg").exists());
    }
    let output = fixture.run(&["--subtask", "Enrich#1", "--width", "100", "-o", "d.svg"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
}

/// Before: `-o current.bpprof` replaced the recording with the SVG.
#[test]
fn diff_never_writes_over_a_recording() {
    let fixture = Fixture::new();
    let before = std::fs::read(fixture.path("current.bpprof")).unwrap();
    assert_one_error_line(
        &fixture.run(&["--subtask", "Enrich#1", "-o", "current.bpprof"]),
        "-o 'current.bpprof' is an input of this command, which writing there would destroy; give -o another path",
    );
    assert_eq!(
        std::fs::read(fixture.path("current.bpprof")).unwrap(),
        before
    );
}

/// Before: the note on the bottleneck chosen came first, so an unwritable `-o` gave two lines.
#[test]
fn diff_of_the_bottleneck_to_an_unwritable_path_is_one_error_line() {
    let fixture = Fixture::new();
    assert_one_error_line(
        &fixture.run(&["-o", "no-such-dir/d.svg"]),
        "cannot write 'no-such-dir/d.svg'",
    );
    // Written: the note follows.
    let output = fixture.run(&["-o", "d.svg"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(text(&output.stderr).starts_with("no --subtask or --task given: comparing Enrich#1"));
}

/// A subtask of CURRENT that BASE does not have (another parallelism): the fix says so.
#[test]
fn diff_of_a_subtask_in_current_only_suggests_the_task() {
    let mut narrow = Synth::new();
    narrow.sample_hz(100);
    let enrich = narrow.subtask("Enrich", 0, 1);
    for _ in 0..3 {
        narrow.sample(enrich, Busy, true, &["main", "hash"], 10);
        narrow.interval(&[(enrich, Load::new(0.9, 0.0).records(10, 10))]);
    }
    let fixture = Fixture::with(&narrow, &current());
    assert_one_error_line(
        &fixture.run(&["--subtask", "Enrich#1"]),
        "Enrich#1 is in CURRENT only (the parallelism of Enrich differs?): compare the whole task with --task Enrich",
    );
    let output = fixture.run(&["--task", "Enrich", "-o", "d.svg"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
}

/// Task names with line breaks stay on their line in what `diff` prints.
#[test]
fn diff_output_lines_stay_whole_with_odd_task_names() {
    let renamed = |synth: Synth| {
        let mut recording = synth.recording();
        for interval in &mut recording.intervals {
            for s in &mut interval.declared_subtasks {
                if s.task == "Enrich" {
                    s.task = "En#rich%\n€".into();
                }
            }
        }
        recording
    };
    let dir = tempfile::tempdir().unwrap();
    for (name, synth) in [("base.bpprof", base()), ("current.bpprof", current())] {
        let recording = renamed(synth);
        let mut file = std::fs::File::create(dir.path().join(name)).unwrap();
        let mut writer = bpprof_format::RecordingWriter::new(&mut file, &recording.meta).unwrap();
        for interval in &recording.intervals {
            writer.write_interval(interval).unwrap();
        }
        for samples in &recording.samples {
            writer.write_samples(samples).unwrap();
        }
        writer.finish(recording.end.as_ref().unwrap()).unwrap();
    }
    let output = bpprof_in(
        dir.path(),
        &["diff", "base.bpprof", "current.bpprof", "-o", "d.svg"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    let stderr = text(&output.stderr);
    assert_eq!(stdout, "");
    // Which bottleneck, the range of each recording, then the file written.
    assert_eq!(stderr.lines().count(), 4, "{stderr}");
    assert!(
        stderr
            .lines()
            .last()
            .unwrap()
            .starts_with("wrote differential flame graph of En#rich% €#1"),
        "{stderr}"
    );
}
