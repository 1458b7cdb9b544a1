//! Every example runs, records, and `bpprof locate` names the bottleneck it was built to show.
//!
//! The examples are built once (debug, like these tests) and run one at a time: on a 2-core
//! machine two pipelines side by side would distort each other's figures.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use bpprof_analysis::{BottleneckKind, Level};
use support::{exclusive, locate, spawn_example, Located};

/// How long each example's source runs.
const SECONDS: f64 = 3.0;
/// Recording interval: about a dozen intervals in [`SECONDS`].
const INTERVAL_MS: u64 = 250;

/// Runs example `name` for [`SECONDS`] while no other pipeline runs, then locates its bottleneck;
/// checks what every well-formed, complete recording shows.
fn run_and_locate(name: &str) -> Located {
    let located = support::run_and_locate(name, SECONDS, INTERVAL_MS).located;
    let recording = &located.report.recording;
    assert!(
        recording.warnings.is_empty() && located.stderr.is_empty(),
        "a complete recording has no warnings: {:?} / {}",
        recording.warnings,
        located.stderr
    );
    assert!(
        recording.intervals >= 5,
        "{SECONDS} s at {INTERVAL_MS} ms should give about a dozen intervals, got {}",
        recording.intervals
    );
    located
}

fn level(located: &Located, task: &str) -> Option<Level> {
    located.task(task).level
}

fn is_backpressured(level: Option<Level>) -> bool {
    matches!(level, Some(Level::Low | Level::High))
}

#[test]
fn slow_operator_names_enrich() {
    let located = run_and_locate("slow_operator");
    let report = &located.report;
    let [bottleneck] = report.bottlenecks.as_slice() else {
        panic!("expected one bottleneck:\n{}", located.text);
    };
    assert_eq!(bottleneck.task, "Enrich", "{}", located.text);
    let enrich = located.task("Enrich");
    assert!(!bottleneck.subtasks.is_empty(), "{}", located.text);
    for index in &bottleneck.subtasks {
        assert!(
            enrich.subtasks.iter().any(|s| s.index == *index),
            "Enrich#{index} is not a subtask of Enrich:\n{}",
            located.text
        );
    }
    assert!(
        bottleneck.upstream.iter().any(|u| u.task == "Parse"),
        "Parse should be the backpressured upstream: {:?}",
        bottleneck.upstream
    );
    assert!(located.text.lines().next().unwrap().contains("Enrich"));
}

#[test]
fn skew_names_the_hot_count_subtask() {
    let located = run_and_locate("skew");
    let report = &located.report;
    let [bottleneck] = report.bottlenecks.as_slice() else {
        panic!("expected one bottleneck:\n{}", located.text);
    };
    assert_eq!(bottleneck.task, "Count", "{}", located.text);
    assert_eq!(bottleneck.kind, BottleneckKind::Skew, "{}", located.text);
    assert_eq!(bottleneck.subtasks, [2], "{}", located.text);
    assert!(
        bottleneck.upstream.iter().any(|u| u.task == "Source"),
        "Source should be the backpressured upstream: {:?}",
        bottleneck.upstream
    );
    let count = located.task("Count");
    assert_eq!(count.subtasks.len(), 4, "{}", located.text);
    let hot = &count.subtasks[2];
    assert!(hot.skewed, "{}", located.text);
    for cold in count.subtasks.iter().filter(|s| s.index != 2) {
        assert!(!cold.skewed, "{} is not hot:\n{}", cold.name, located.text);
        assert!(
            hot.records_in > 3 * cold.records_in,
            "the hot key's subtask receives most records:\n{}",
            located.text
        );
    }
    assert!(located.text.lines().next().unwrap().contains("Count#2"));
    // The source holds one instrumented channel per Count subtask: one hash-partitioned edge.
    let edge = report
        .edges
        .iter()
        .find(|e| e.from == "Source" && e.to == "Count")
        .unwrap_or_else(|| panic!("no Source -> Count edge:\n{}", located.text));
    assert_eq!(edge.channels.len(), 4, "{edge:?}");
    assert_eq!(edge.partitioning.as_deref(), Some("hash"), "{edge:?}");
}

#[test]
fn no_backpressure_finds_no_bottleneck() {
    let located = run_and_locate("no_backpressure");
    let report = &located.report;
    assert!(
        report.bottlenecks.is_empty(),
        "nothing is a bottleneck:\n{}",
        located.text
    );
    assert!(
        report.verdict.to_lowercase().contains("no backpressure"),
        "verdict: {}",
        report.verdict
    );
    for task in ["Source", "Map", "Sink"] {
        assert_eq!(level(&located, task), Some(Level::Ok), "{}", located.text);
    }
}

#[test]
fn slow_sink_is_an_off_cpu_bottleneck() {
    let located = run_and_locate("slow_sink");
    let report = &located.report;
    let [bottleneck] = report.bottlenecks.as_slice() else {
        panic!("expected one bottleneck:\n{}", located.text);
    };
    assert_eq!(bottleneck.task, "Sink", "{}", located.text);
    assert_eq!(bottleneck.kind, BottleneckKind::OffCpu, "{}", located.text);
    for task in ["Source", "Map"] {
        assert!(
            is_backpressured(level(&located, task)),
            "{task} should be backpressured:\n{}",
            located.text
        );
    }
    // The note that the sink waits off-CPU, in the JSON and in the text.
    let sink_notes: Vec<&String> = report
        .notes
        .iter()
        .filter(|n| n.starts_with("Sink") && n.contains("on CPU"))
        .collect();
    assert_eq!(sink_notes.len(), 1, "{:?}", report.notes);
    assert!(
        located.text_notes().contains(&sink_notes[0].as_str()),
        "the off-CPU note is missing from the text:\n{}",
        located.text
    );
}

/// A program killed while recording leaves a recording whose complete part is still analysed.
#[test]
fn killed_recording_is_analysed_with_a_warning() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rec = dir.path().join("killed.bpprof");
    {
        let _only_pipeline = exclusive();
        let mut child = spawn_example("slow_operator", &rec, 120.0, 100);
        std::thread::sleep(Duration::from_millis(1500));
        assert!(
            child.try_wait().expect("poll example").is_none(),
            "slow_operator ended before it was killed"
        );
        child.kill().expect("SIGKILL the example");
        child.wait().expect("reap the example");
    }
    let located = locate(&rec);
    let warnings: Vec<&str> = located
        .stderr
        .lines()
        .filter(|l| l.starts_with("warning:"))
        .collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("truncated") || w.contains("not finalised")),
        "expected a truncated / not finalised warning, stderr:\n{}",
        located.stderr
    );
    assert!(!located.report.recording.warnings.is_empty());
    located.assert_verdict_first();
    assert_eq!(
        located.report.bottlenecks.first().map(|b| b.task.as_str()),
        Some("Enrich"),
        "{}",
        located.text
    );
}

/// An output path that cannot be created is one `error:` line and exit code 2, before any work.
#[test]
fn unwritable_output_is_one_error_line() {
    let rec = Path::new("/nonexistent-dir/x.bpprof");
    let started = Instant::now();
    let output = support::example("slow_operator", rec, INTERVAL_MS)
        .env("BPPROF_EXAMPLE_SECONDS", "30")
        .output()
        .expect("run slow_operator");
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the example ran its pipeline instead of stopping at once"
    );
    let stderr = support::text(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "exactly one line on stderr:\n{stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    assert!(lines[0].contains(&*rec.to_string_lossy()), "{stderr}");
    assert!(!rec.exists());
}
