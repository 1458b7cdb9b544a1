//! The `topologies` example's seven job graphs, each recorded with and without contended CPUs:
//! `bpprof locate` names the bottleneck each was built to show, and never a slow exchange (no
//! shape has a slow link).
//!
//! The expected verdicts are in one table, [`EXPECTED`] (`scripts/verdict-rates.sh` keeps a copy:
//! change both). Each run records [`SECONDS`] at [`INTERVAL_MS`] while no other pipeline runs.

mod support;

use std::path::Path;

use bpprof_analysis::BottleneckKind;
use support::{exclusive, locate, Located};

/// How long each shape's sources run.
const SECONDS: f64 = 3.0;
/// Recording interval: about 30 intervals in [`SECONDS`].
const INTERVAL_MS: u64 = 100;

/// The verdict a shape is designed to give.
struct Expected {
    /// `--shape` of the example.
    shape: &'static str,
    /// The first bottleneck's task.
    task: &'static str,
    /// Its kind.
    kind: BottleneckKind,
    /// The subtask it names first, when the design fixes one.
    subtask: Option<u32>,
}

/// The designed verdict of every shape (see the module doc of `examples/topologies.rs`).
const EXPECTED: [Expected; 7] = [
    Expected {
        shape: "three-stage",
        task: "Transform",
        kind: BottleneckKind::Cpu,
        subtask: Some(0),
    },
    Expected {
        shape: "fan-out",
        task: "SinkSlow",
        kind: BottleneckKind::Cpu,
        subtask: None,
    },
    Expected {
        shape: "fan-in",
        task: "Merge",
        kind: BottleneckKind::Cpu,
        subtask: None,
    },
    Expected {
        shape: "join-alternating",
        task: "SourceB",
        kind: BottleneckKind::Cpu,
        subtask: None,
    },
    Expected {
        shape: "union",
        task: "Sink",
        kind: BottleneckKind::Cpu,
        subtask: None,
    },
    Expected {
        shape: "diamond",
        task: "Right",
        kind: BottleneckKind::Cpu,
        subtask: None,
    },
    Expected {
        shape: "pool-skew",
        task: "Score",
        kind: BottleneckKind::Skew,
        subtask: Some(2),
    },
];

/// Records `shape` (with `--contention` when `contended`) to `rec`, alone on the machine.
fn record(shape: &str, contended: bool, rec: &Path) {
    let _only_pipeline = exclusive();
    let mut cmd = support::example("topologies", rec, INTERVAL_MS);
    cmd.env("BPPROF_EXAMPLE_SECONDS", SECONDS.to_string())
        .env_remove("BPPROF_EXAMPLE_CONTENTION")
        .env_remove("BPPROF_EXAMPLE_SHAPE")
        .args(["--shape", shape]);
    if contended {
        cmd.arg("--contention");
    }
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("run topologies --shape {shape}: {e}"));
    assert!(
        output.status.success(),
        "topologies --shape {shape} failed ({}):\n{}",
        output.status,
        support::text(&output.stderr)
    );
    assert!(rec.is_file(), "no recording at {}", rec.display());
}

/// Records `shape` and checks the verdict against its row of [`EXPECTED`].
fn check(shape: &str, contended: bool) {
    let expected = EXPECTED
        .iter()
        .find(|e| e.shape == shape)
        .unwrap_or_else(|| panic!("no expected verdict for shape {shape}"));
    let dir = tempfile::tempdir().expect("temp dir");
    let rec = dir.path().join(format!("{shape}.bpprof"));
    record(shape, contended, &rec);
    let located = locate(&rec);
    assert_verdict(expected, contended, &located);
}

/// Asserts what `located` says about the shape of `expected`; every failure prints the whole
/// human output of `bpprof locate`.
fn assert_verdict(expected: &Expected, contended: bool, located: &Located) {
    let run = format!(
        "shape {}{}",
        expected.shape,
        if contended { " under contention" } else { "" }
    );
    let text = &located.text;
    let bottlenecks = &located.report.bottlenecks;
    let Some(first) = bottlenecks.first() else {
        panic!(
            "{run}: expected {} as the bottleneck, got none:\n{text}",
            expected.task
        );
    };
    assert_eq!(
        (first.task.as_str(), first.kind),
        (expected.task, expected.kind),
        "{run}: the first bottleneck (task, kind):\n{text}"
    );
    if let Some(index) = expected.subtask {
        assert_eq!(
            first.subtasks.first(),
            Some(&index),
            "{run}: the subtask of {} named first:\n{text}",
            expected.task
        );
    }
    let exchanges: Vec<String> = bottlenecks
        .iter()
        .filter(|b| b.kind == BottleneckKind::Exchange)
        .map(|b| format!("{} -> {}", b.task, b.downstream.as_deref().unwrap_or("?")))
        .collect();
    assert!(
        exchanges.is_empty(),
        "{run}: no shape has a slow exchange, got {exchanges:?}:\n{text}"
    );
}

/// Two tests per shape: `$plain` without contention, `$contended` with `--contention`.
macro_rules! shape_tests {
    ($($shape:literal: $plain:ident, $contended:ident;)*) => {
        $(
            #[test]
            fn $plain() {
                check($shape, false);
            }

            #[test]
            fn $contended() {
                check($shape, true);
            }
        )*

        /// Every row of [`EXPECTED`] has its tests.
        #[test]
        fn every_shape_is_tested() {
            let tested = [$($shape),*];
            for expected in &EXPECTED {
                assert!(tested.contains(&expected.shape), "{} has no test", expected.shape);
            }
            assert_eq!(tested.len(), EXPECTED.len());
        }
    };
}

shape_tests! {
    "three-stage": three_stage_names_transform, three_stage_under_contention_names_transform;
    "fan-out": fan_out_names_sink_slow, fan_out_under_contention_names_sink_slow;
    "fan-in": fan_in_names_merge, fan_in_under_contention_names_merge;
    "join-alternating": join_alternating_names_source_b, join_alternating_under_contention_names_source_b;
    "union": union_names_sink, union_under_contention_names_sink;
    "diamond": diamond_names_right, diamond_under_contention_names_right;
    "pool-skew": pool_skew_names_score, pool_skew_under_contention_names_score;
}
