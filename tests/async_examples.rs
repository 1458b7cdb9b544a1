//! Every async example runs, records, and `bpprof locate` names the bottleneck it was built to
//! show (see `docs/async.md`). Built and run as `tests/examples.rs` runs the thread examples:
//! debug builds, one pipeline at a time.

mod support;

use bpprof_analysis::{BottleneckKind, Rule};
use support::Located;

/// How long each example's source runs.
const SECONDS: f64 = 3.0;
/// Recording interval: about a dozen intervals in [`SECONDS`].
const INTERVAL_MS: u64 = 250;

fn run_and_locate(name: &str) -> Located {
    support::run_and_locate(name, SECONDS, INTERVAL_MS).located
}

/// The one bottleneck, which must be `task` named by `rule`.
fn assert_only_bottleneck(located: &Located, task: &str, rule: Rule) {
    let [b] = located.report.bottlenecks.as_slice() else {
        panic!("expected one bottleneck:\n{}", located.text);
    };
    assert_eq!(
        (b.task.as_str(), b.rule),
        (task, Some(rule)),
        "{}",
        located.text
    );
}

fn has_note(located: &Located, starts: &str) -> bool {
    located.text_notes().iter().any(|n| n.starts_with(starts))
}

#[test]
fn async_slow_operator_names_enrich_for_holding_the_workers() {
    let located = run_and_locate("async_slow_operator");
    assert_only_bottleneck(&located, "Enrich", Rule::WorkersHeld);
    let enrich = located.task("Enrich");
    assert!(
        enrich.polled_workers.unwrap_or(0.0) > 1.0,
        "Enrich's polls should hold most of the two workers:\n{}",
        located.text
    );
    // Parse and Sink are busy only waiting to be polled: not loaded.
    for task in ["Parse", "Sink"] {
        assert!(
            located.task(task).load.unwrap_or(1.0) < 0.5,
            "{task}:\n{}",
            located.text
        );
    }
    assert!(
        has_note(&located, "Enrich's polls last up to"),
        "{}",
        located.text
    );
}

#[test]
fn async_skew_names_the_hot_count_subtask() {
    let located = run_and_locate("async_skew");
    assert_only_bottleneck(&located, "Count", Rule::WorkersHeld);
    let b = &located.report.bottlenecks[0];
    assert_eq!(b.kind, BottleneckKind::Skew, "{}", located.text);
    assert_eq!(b.subtasks, [2], "{}", located.text);
}

#[test]
fn async_blocking_poll_names_the_task_that_blocks_its_worker() {
    let located = run_and_locate("async_blocking_poll");
    assert_only_bottleneck(&located, "Lookup", Rule::WorkersHeld);
    let lookup = located.task("Lookup");
    // It sleeps 1 ms per record inside its polls: several records per poll.
    assert!(
        lookup.max_poll_ms.unwrap_or(0.0) >= 10.0,
        "Lookup's polls should be long:\n{}",
        located.text
    );
    assert!(
        has_note(&located, "Lookup's polls last up to"),
        "{}",
        located.text
    );
}

#[test]
fn async_tcp_sink_is_an_off_cpu_bottleneck() {
    let located = run_and_locate("async_tcp_sink");
    assert_only_bottleneck(&located, "Sink", Rule::LoadedBelowBackpressure);
    let b = &located.report.bottlenecks[0];
    assert_eq!(b.kind, BottleneckKind::OffCpu, "{}", located.text);
    let sink = &located.task("Sink").subtasks[0];
    assert!(sink.polled.unwrap_or(1.0) < 0.5, "{}", located.text);
}

#[test]
fn async_mixed_names_the_thread_stage_between_async_tasks() {
    let located = run_and_locate("async_mixed");
    assert_only_bottleneck(&located, "Transform", Rule::LoadedBelowBackpressure);
    let report = &located.report;
    for (from, to) in [("Source", "Transform"), ("Transform", "Sink")] {
        assert!(
            report.edges.iter().any(|e| e.from == from && e.to == to),
            "no edge {from} -> {to}:\n{}",
            located.text
        );
    }
    // The threads have CPU time, the async tasks polls.
    assert!(
        located.task("Transform").on_cpu.is_some(),
        "{}",
        located.text
    );
    assert!(
        located.task("Source").polled_workers.is_some(),
        "{}",
        located.text
    );
}
