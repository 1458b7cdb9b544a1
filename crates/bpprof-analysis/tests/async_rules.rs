//! The rules on async pipelines (`docs/locate.md`, rule `workers_held`, and the notes on tasks
//! that wait to be polled and on long polls), on synthetic recordings whose truth is known: the
//! async twin of `slow_operator`, Source(1) -> Parse(2) -> Enrich(4) -> Sink(1), every subtask a
//! task on a runtime with two workers.

use bpprof_analysis::report::NoteKind;
use bpprof_analysis::synth::{Load, Synth};
use bpprof_analysis::verdict::{HOLD_SHARE_MIN, LONG_POLL_MS, SCHEDULED_SHARE_MIN};
use bpprof_analysis::{locate, AnalysisOptions, LocateReport, Rule};

const INTERVALS: usize = 6;

/// What the subtasks of each task do in every interval: (busy, backpressured, polled,
/// scheduled, longest poll in ms).
#[derive(Clone, Copy)]
struct Shape {
    source: (f64, f64, f64, f64, f64),
    parse: (f64, f64, f64, f64, f64),
    enrich: (f64, f64, f64, f64, f64),
    sink: (f64, f64, f64, f64, f64),
}

/// As measured on `examples/async_slow_operator`: Enrich's polls hold 1.8 of the 2 workers with
/// polls of up to 20 ms; Parse and Sink wait to be polled nearly all of their busy time.
const HELD: Shape = Shape {
    source: (0.4, 0.6, 0.001, 0.39, 0.04),
    parse: (0.66, 0.14, 0.005, 0.65, 8.0),
    enrich: (0.7, 0.1, 0.46, 0.25, 20.0),
    sink: (0.97, 0.0, 0.007, 0.96, 4.0),
};

fn analyse(shape: Shape) -> LocateReport {
    let mut synth = Synth::new();
    let source = synth.async_subtask("Source", 0, 1);
    let parse: Vec<u32> = (0..2).map(|i| synth.async_subtask("Parse", i, 2)).collect();
    let enrich: Vec<u32> = (0..4)
        .map(|i| synth.async_subtask("Enrich", i, 4))
        .collect();
    let sink = synth.async_subtask("Sink", 0, 1);
    synth.channel("source->parse", 256, &[source], &parse);
    synth.channel("parse->enrich", 256, &parse, &enrich);
    synth.channel("enrich->sink", 256, &enrich, &[sink]);
    for _ in 0..INTERVALS {
        let mut loads = Vec::new();
        let all = [
            (vec![source], shape.source),
            (parse.clone(), shape.parse),
            (enrich.clone(), shape.enrich),
            (vec![sink], shape.sink),
        ];
        for (ids, (busy, backpressured, polled, scheduled, longest)) in all {
            for id in ids {
                synth.polled(id, polled, scheduled, longest);
                loads.push((id, Load::new(busy, backpressured).records(1_000, 1_000)));
            }
        }
        synth.interval(&loads);
    }
    locate(&synth.recording(), &AnalysisOptions::default()).expect("analysis succeeds")
}

fn note_subjects(report: &LocateReport, kind: NoteKind) -> Vec<String> {
    report
        .findings
        .iter()
        .filter(|n| n.kind == kind)
        .map(|n| n.subject.clone())
        .collect()
}

#[test]
fn the_task_whose_polls_hold_the_workers_is_the_bottleneck() {
    let report = analyse(HELD);
    assert_eq!(report.bottlenecks.len(), 1, "{}", report.verdict);
    let b = &report.bottlenecks[0];
    assert_eq!(b.task, "Enrich", "{}", report.verdict);
    assert_eq!(b.rule, Some(Rule::WorkersHeld));
    let enrich = report.tasks.iter().find(|t| t.name == "Enrich").unwrap();
    assert!(
        (enrich.polled_workers.unwrap() - 1.84).abs() < 0.01,
        "{enrich:?}"
    );
    assert_eq!(enrich.max_poll_ms, Some(20.0));
    let held = b
        .evidence
        .iter()
        .find(|e| e.metric == "held_share")
        .unwrap();
    assert!(
        held.value > 0.95 && held.threshold == HOLD_SHARE_MIN,
        "{held:?}"
    );
    assert!(
        report.verdict.starts_with(
            "Enrich is the bottleneck: its polls hold the async runtime's workers (1.8 workers on average, 99% of all polled time, polls up to 20.0 ms)"
        ),
        "{}",
        report.verdict
    );
    // Parse is not loaded (its busy time is scheduled time), Sink neither: neither is named.
    let parse = report.tasks.iter().find(|t| t.name == "Parse").unwrap();
    assert!(parse.load.unwrap() < 0.05, "{parse:?}");
    assert_eq!(note_subjects(&report, NoteKind::LongPolls), ["Enrich"]);
    let waiting = note_subjects(&report, NoteKind::WaitsForWorker);
    assert!(
        waiting.iter().any(|s| s.starts_with("Parse")) && waiting.iter().any(|s| s == "Sink"),
        "{waiting:?}"
    );
}

#[test]
fn a_task_starved_of_workers_that_others_hold_names_the_holder() {
    // Parse's and Enrich's queues are full: Source is backpressured on Parse, which waits to be
    // polled while Enrich holds the workers, but Enrich's own upstream edge is not pressured.
    let shape = Shape {
        parse: (0.9, 0.05, 0.005, 0.88, 1.0),
        ..HELD
    };
    let report = analyse(shape);
    let b = &report.bottlenecks[0];
    assert_eq!(
        (b.task.as_str(), b.rule),
        ("Enrich", Some(Rule::WorkersHeld))
    );
    assert_eq!(b.waited_by.as_deref(), Some("Parse"));
    let scheduled = b
        .evidence
        .iter()
        .find(|e| e.metric == "scheduled_share")
        .unwrap();
    assert!(scheduled.value > 0.95 && scheduled.threshold == SCHEDULED_SHARE_MIN);
    assert!(
        b.reason.contains("while Parse, below backpressured Source (60%), waits to be polled 98% of its busy time"),
        "{}",
        b.reason
    );
}

#[test]
fn polls_spread_over_the_tasks_name_no_holder() {
    // Every task polled as much as Enrich: no task holds the workers, and nothing is named for
    // holding them (Enrich, not loaded, is not the bottleneck either).
    let shape = Shape {
        source: (0.4, 0.6, 0.46, 0.0, 1.0),
        parse: (0.66, 0.14, 0.46, 0.2, 1.0),
        enrich: (0.7, 0.1, 0.1, 0.25, 1.0),
        sink: (0.97, 0.0, 0.46, 0.5, 1.0),
    };
    let report = analyse(shape);
    assert!(
        report
            .bottlenecks
            .iter()
            .all(|b| b.rule != Some(Rule::WorkersHeld)),
        "{}",
        report.verdict
    );
    assert!(note_subjects(&report, NoteKind::LongPolls).is_empty());
}

#[test]
fn long_polls_are_noted_from_the_threshold_on() {
    for (longest, noted) in [(LONG_POLL_MS - 0.5, false), (LONG_POLL_MS, true)] {
        let shape = Shape {
            enrich: (0.7, 0.1, 0.46, 0.25, longest),
            ..HELD
        };
        let report = analyse(shape);
        assert_eq!(
            !note_subjects(&report, NoteKind::LongPolls).is_empty(),
            noted,
            "longest poll {longest} ms: {:?}",
            report.notes
        );
    }
}

/// Seen on `examples/async_slow_operator` on a loaded machine: Enrich's polls held the workers
/// so long that Source was polled too rarely to fill its queue. No queue was full, no task
/// backpressured, yet Enrich held the job back: Source waited to be polled nearly all its time.
const STARVED_SOURCE: Shape = Shape {
    source: (0.97, 0.0, 0.002, 0.95, 1.0),
    parse: (0.3, 0.0, 0.005, 0.25, 2.0),
    enrich: (0.8, 0.0, 0.46, 0.3, 150.0),
    sink: (0.3, 0.0, 0.005, 0.25, 1.0),
};

#[test]
fn a_source_starved_of_workers_names_the_holder_without_backpressure() {
    let report = analyse(STARVED_SOURCE);
    assert_eq!(report.bottlenecks.len(), 1, "{}", report.verdict);
    let b = &report.bottlenecks[0];
    assert_eq!(b.task, "Enrich", "{}", report.verdict);
    assert_eq!(b.rule, Some(Rule::WorkersHeld));
    assert_eq!(b.edge, None);
    assert_eq!(b.waited_by.as_deref(), Some("Source"));
    assert!(
        report
            .verdict
            .contains("the source Source waits to be polled 98%"),
        "{}",
        report.verdict
    );

    // The same source, when no task holds the workers: the job is limited by its source.
    let spread = Shape {
        enrich: (0.8, 0.0, 0.1, 0.3, 5.0),
        ..STARVED_SOURCE
    };
    let report = analyse(spread);
    assert!(report.bottlenecks.is_empty(), "{}", report.verdict);
    assert!(
        report.verdict.starts_with("No backpressure"),
        "{}",
        report.verdict
    );
}
