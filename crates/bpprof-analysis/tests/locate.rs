//! The bottleneck rules on synthetic recordings, one test per situation they must recognise.

use bpprof_analysis::synth::{Load, Synth};
use bpprof_analysis::{
    locate, render_human, AnalysisError, AnalysisOptions, BottleneckKind, Level, LocateReport,
    TaskReport,
};

const INTERVALS: usize = 6;

fn analyse(synth: &Synth) -> LocateReport {
    locate(&synth.recording(), &AnalysisOptions::default()).expect("analysis succeeds")
}

fn task<'a>(report: &'a LocateReport, name: &str) -> &'a TaskReport {
    report
        .tasks
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no task {name} in {:?}", report.tasks))
}

fn names(report: &LocateReport) -> Vec<&str> {
    report.tasks.iter().map(|t| t.name.as_str()).collect()
}

fn approx(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-6)
}

/// Source -> Parse -> Enrich (parallelism 4) -> Sink, with the given loads repeated every interval.
struct Chain {
    synth: Synth,
    source: u32,
    parse: u32,
    enrich: Vec<u32>,
    sink: u32,
}

fn chain() -> Chain {
    let mut synth = Synth::new();
    let source = synth.subtask("Source", 0, 1);
    let parse = synth.subtask("Parse", 0, 1);
    let enrich: Vec<u32> = (0..4).map(|i| synth.subtask("Enrich", i, 4)).collect();
    let sink = synth.subtask("Sink", 0, 1);
    synth.channel("raw", 100, &[source], &[parse]);
    let parsed = synth.channel("parsed", 100, &[parse], &enrich);
    synth.channel("enriched", 100, &enrich, &[sink]);
    synth.fill(parsed, 95, 100);
    Chain {
        synth,
        source,
        parse,
        enrich,
        sink,
    }
}

fn enrich_bottleneck() -> Synth {
    let mut c = chain();
    for _ in 0..INTERVALS {
        let mut loads = vec![
            (c.source, Load::new(0.3, 0.6).records(0, 1000)),
            (c.parse, Load::new(0.1, 0.88).records(1000, 1000)),
            (c.sink, Load::new(0.2, 0.0).records(1000, 0)),
        ];
        for (i, &e) in c.enrich.iter().enumerate() {
            let busy = if i == 3 { 0.97 } else { 0.90 };
            loads.push((e, Load::new(busy, 0.0).records(250, 250)));
        }
        c.synth.interval(&loads);
    }
    c.synth
}

#[test]
fn busy_task_below_backpressured_one_is_the_bottleneck() {
    let report = analyse(&enrich_bottleneck());
    assert_eq!(names(&report), ["Source", "Parse", "Enrich", "Sink"]);
    assert_eq!(report.bottlenecks.len(), 1, "{:?}", report.bottlenecks);
    let b = &report.bottlenecks[0];
    assert_eq!(b.task, "Enrich");
    assert_eq!(b.kind, BottleneckKind::Cpu);
    assert_eq!(b.subtasks, [3], "the busiest subtask");
    assert!((b.busy - 0.97).abs() < 1e-6);
    assert_eq!(b.upstream.len(), 1);
    assert_eq!(b.upstream[0].task, "Parse");
    assert!(
        b.reason.starts_with("Enrich is the bottleneck: busy 97%"),
        "{}",
        b.reason
    );
    assert!(
        b.reason.contains("Parse is backpressured 88%"),
        "{}",
        b.reason
    );
    assert!(
        b.reason.contains("Enrich#3 is the busiest subtask"),
        "{}",
        b.reason
    );
    assert_eq!(report.verdict, b.reason);
    assert_eq!(task(&report, "Parse").level, Some(Level::High));
    assert_eq!(task(&report, "Enrich").level, Some(Level::Ok));
    assert_eq!(task(&report, "Enrich").parallelism, 4);
    // Records per second: 4 subtasks x 250 per 1-second interval.
    assert!((task(&report, "Enrich").records_in_per_s - 1000.0).abs() < 1e-6);
    let edge = report
        .edges
        .iter()
        .find(|e| e.from == "Parse" && e.to == "Enrich")
        .expect("inferred edge");
    assert_eq!(edge.channel.as_deref(), Some("parsed"));
    assert_eq!(edge.capacity, Some(100));
    assert_eq!(report.edges.len(), 3);
}

#[test]
fn human_text_starts_with_the_verdict_and_aligns_columns() {
    let report = analyse(&enrich_bottleneck());
    let mut out = Vec::new();
    render_human(&report, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.lines().next(), Some(report.verdict.as_str()));
    assert!(text.contains("Subtasks of Enrich:"), "{text}");
    assert!(text.contains("Parse -> Enrich"), "{text}");
    // Every row of the task table has the same length up to its last (right-aligned) column.
    let table: Vec<&str> = text
        .lines()
        .skip_while(|l| *l != "Tasks:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .collect();
    assert_eq!(table.len(), 5, "{text}");
    assert!(table.iter().all(|l| l.len() == table[0].len()), "{text}");
}

#[test]
fn hot_subtask_makes_a_skew_bottleneck() {
    let mut synth = Synth::new();
    let split = synth.subtask("Split", 0, 1);
    let count: Vec<u32> = (0..4).map(|i| synth.subtask("Count", i, 4)).collect();
    synth.channel("words", 100, &[split], &count);
    for _ in 0..INTERVALS {
        let mut loads = vec![(split, Load::new(0.05, 0.9).records(0, 1_000))];
        for (i, &c) in count.iter().enumerate() {
            let (busy, records) = if i == 2 {
                (0.99, 812_000)
            } else {
                (0.12, 95_000)
            };
            loads.push((c, Load::new(busy, 0.0).records(records, 0)));
        }
        synth.interval(&loads);
    }
    let report = analyse(&synth);
    assert_eq!(report.bottlenecks.len(), 1);
    let b = &report.bottlenecks[0];
    assert_eq!(b.task, "Count");
    assert_eq!(b.kind, BottleneckKind::Skew);
    assert_eq!(b.subtasks, [2]);
    assert!(
        b.reason
            .contains("Count#2 is hot: busy 99% vs a median of 12% across Count"),
        "{}",
        b.reason
    );
    assert!(
        b.reason
            .contains("it received 4,060,000 records vs a median of 475,000"),
        "{}",
        b.reason
    );
    let skewed: Vec<u32> = task(&report, "Count")
        .subtasks
        .iter()
        .filter(|s| s.skewed)
        .map(|s| s.index)
        .collect();
    assert_eq!(skewed, [2]);
    let mut out = Vec::new();
    render_human(&report, &mut out).unwrap();
    assert!(String::from_utf8(out).unwrap().contains("Count#2 *"));
}

#[test]
fn no_backpressure_means_no_bottleneck_and_names_the_busiest_task() {
    let mut c = chain();
    for _ in 0..INTERVALS {
        let mut loads = vec![
            (c.source, Load::new(0.8, 0.0)),
            (c.parse, Load::new(0.3, 0.05)),
            (c.sink, Load::new(0.1, 0.0)),
        ];
        loads.extend(c.enrich.iter().map(|&e| (e, Load::new(0.4, 0.0))));
        c.synth.interval(&loads);
    }
    let report = analyse(&c.synth);
    assert!(report.bottlenecks.is_empty(), "{:?}", report.bottlenecks);
    assert!(
        report.verdict.starts_with("No backpressure"),
        "{}",
        report.verdict
    );
    assert!(
        report
            .verdict
            .contains("The busiest task is Source (busy 80%)"),
        "{}",
        report.verdict
    );
}

#[test]
fn busy_but_off_cpu_sink_is_an_off_cpu_bottleneck_with_a_note() {
    let mut c = chain();
    for _ in 0..INTERVALS {
        let mut loads = vec![
            (c.source, Load::new(0.1, 0.85)),
            (c.parse, Load::new(0.1, 0.85)),
            (c.sink, Load::new(0.95, 0.0).on_cpu(0.08).runqueue(0.01)),
        ];
        loads.extend(c.enrich.iter().map(|&e| (e, Load::new(0.1, 0.85))));
        c.synth.interval(&loads);
    }
    let report = analyse(&c.synth);
    assert_eq!(report.bottlenecks.len(), 1, "{:?}", report.bottlenecks);
    let b = &report.bottlenecks[0];
    assert_eq!((b.task.as_str(), b.kind), ("Sink", BottleneckKind::OffCpu));
    let note = "Sink is busy 95% but on CPU 8%: it waits on something outside the pipeline";
    assert!(
        report.notes.iter().any(|n| n.starts_with(note)),
        "{:?}",
        report.notes
    );
    let sink = &task(&report, "Sink").subtasks[0];
    assert!(approx(sink.off_cpu_share, (0.95 - 0.08 - 0.01) / 0.95));
}

#[test]
fn cpu_starved_task_gets_an_oversubscription_note() {
    let mut c = chain();
    for _ in 0..INTERVALS {
        let mut loads = vec![
            (c.source, Load::new(0.1, 0.85)),
            (c.parse, Load::new(0.1, 0.85)),
            (c.sink, Load::new(0.2, 0.0)),
        ];
        let starved = Load::new(0.9, 0.0).on_cpu(0.5).runqueue(0.4);
        loads.extend(c.enrich.iter().map(|&e| (e, starved)));
        c.synth.interval(&loads);
    }
    let report = analyse(&c.synth);
    assert_eq!(report.bottlenecks[0].kind, BottleneckKind::Cpu);
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.starts_with("Enrich#0 waits for a CPU 44% of its busy time")),
        "{:?}",
        report.notes
    );
}

#[test]
fn independent_branches_each_have_their_bottleneck() {
    let mut synth = Synth::new();
    let a1 = synth.subtask("A1", 0, 1);
    let a2 = synth.subtask("A2", 0, 1);
    let b1 = synth.subtask("B1", 0, 1);
    let b2 = synth.subtask("B2", 0, 1);
    synth.channel("a", 10, &[a1], &[a2]);
    synth.channel("b", 10, &[b1], &[b2]);
    for _ in 0..INTERVALS {
        synth.interval(&[
            (a1, Load::new(0.1, 0.9)),
            (a2, Load::new(0.9, 0.0)),
            (b1, Load::new(0.2, 0.4)),
            (b2, Load::new(0.95, 0.0)),
        ]);
    }
    let report = analyse(&synth);
    let found: Vec<&str> = report.bottlenecks.iter().map(|b| b.task.as_str()).collect();
    assert_eq!(found, ["B2", "A2"], "ordered by busy, descending");
    assert!(
        report.verdict.starts_with("2 bottlenecks"),
        "{}",
        report.verdict
    );
}

#[test]
fn diamond_orders_tasks_topologically_and_finds_the_join() {
    let mut synth = Synth::new();
    // Declared in an order that is not topological.
    let join = synth.subtask("Join", 0, 1);
    let right = synth.subtask("Right", 0, 1);
    let left = synth.subtask("Left", 0, 1);
    let src = synth.subtask("Src", 0, 1);
    synth.channel("l", 10, &[src], &[left]);
    synth.channel("r", 10, &[src], &[right]);
    synth.channel("lj", 10, &[left], &[join]);
    synth.channel("rj", 10, &[right], &[join]);
    synth.edge("Src", "Left", None, "hash");
    for _ in 0..INTERVALS {
        synth.interval(&[
            (src, Load::new(0.1, 0.8)),
            (left, Load::new(0.2, 0.7)),
            (right, Load::new(0.1, 0.3)),
            (join, Load::new(0.96, 0.0)),
        ]);
    }
    let report = analyse(&synth);
    assert_eq!(names(&report), ["Src", "Right", "Left", "Join"]);
    assert_eq!(report.bottlenecks.len(), 1, "{:?}", report.bottlenecks);
    let b = &report.bottlenecks[0];
    assert_eq!(b.task, "Join");
    let up: Vec<&str> = b.upstream.iter().map(|u| u.task.as_str()).collect();
    assert_eq!(up, ["Right", "Left"]);
    let declared = report.edges.iter().find(|e| e.to == "Left").unwrap();
    assert_eq!(
        declared.partitioning.as_deref(),
        Some("hash"),
        "declared edge merged"
    );
    assert_eq!(declared.channel.as_deref(), Some("l"));
    assert_eq!(report.edges.len(), 4);
}

#[test]
fn cycle_terminates_and_keeps_every_task() {
    let mut synth = Synth::new();
    let a = synth.subtask("A", 0, 1);
    let b = synth.subtask("B", 0, 1);
    let c = synth.subtask("C", 0, 1);
    synth.channel("ab", 10, &[a], &[b]);
    synth.channel("bc", 10, &[b], &[c]);
    synth.channel("cb", 10, &[c], &[b]);
    synth.channel("self", 10, &[c], &[c]);
    for _ in 0..INTERVALS {
        synth.interval(&[
            (a, Load::new(0.1, 0.9)),
            (b, Load::new(0.2, 0.7)),
            (c, Load::new(0.3, 0.6)),
        ]);
    }
    let report = analyse(&synth);
    assert_eq!(names(&report), ["A", "B", "C"]);
    assert_eq!(
        report.edges.len(),
        3,
        "a channel within one task is no edge"
    );
    // Everything is backpressured in a loop: still a verdict, no hang.
    assert!(!report.bottlenecks.is_empty());
    assert!(report
        .bottlenecks
        .iter()
        .all(|b| b.kind == BottleneckKind::External));
}

/// First half: A is the bottleneck (below S); second half: B is (below A).
fn shifting_bottleneck() -> Synth {
    let mut synth = Synth::new();
    let s = synth.subtask("S", 0, 1);
    let a = synth.subtask("A", 0, 1);
    let b = synth.subtask("B", 0, 1);
    synth.channel("sa", 10, &[s], &[a]);
    synth.channel("ab", 10, &[a], &[b]);
    for i in 0..10 {
        if i < 5 {
            synth.interval(&[
                (s, Load::new(0.1, 0.9)),
                (a, Load::new(0.95, 0.0)),
                (b, Load::new(0.2, 0.0)),
            ]);
        } else {
            synth.interval(&[
                (s, Load::new(0.1, 0.9)),
                (a, Load::new(0.1, 0.85)),
                (b, Load::new(0.92, 0.0)),
            ]);
        }
    }
    synth
}

#[test]
fn from_and_to_select_the_intervals_by_midpoint() {
    let recording = shifting_bottleneck().recording();
    let first = locate(
        &recording,
        &AnalysisOptions {
            from_s: Some(0.0),
            to_s: Some(5.0),
            window_s: None,
        },
    )
    .unwrap();
    assert_eq!(first.bottlenecks[0].task, "A");
    assert_eq!(first.recording.intervals, 5);
    assert_eq!((first.recording.from_s, first.recording.to_s), (0.0, 5.0));
    let second = locate(
        &recording,
        &AnalysisOptions {
            from_s: Some(5.0),
            to_s: None,
            window_s: None,
        },
    )
    .unwrap();
    assert_eq!(second.bottlenecks[0].task, "B");
    assert_eq!(second.recording.intervals, 5);
    // Midpoint rule: [4.6, 5.4) holds only the interval 4..5 (midpoint 4.5 is out) -> none... and
    // 5..6 (midpoint 5.5 is out too): empty, a typed error.
    let empty = locate(
        &recording,
        &AnalysisOptions {
            from_s: Some(4.6),
            to_s: Some(5.4),
            window_s: None,
        },
    );
    assert!(
        matches!(empty, Err(AnalysisError::EmptyRange { .. })),
        "{empty:?}"
    );
    let message = empty.unwrap_err().to_string();
    assert_eq!(
        message,
        "no complete interval between 4.6 s and 5.4 s; the recording covers 0–10 s"
    );
    let beyond = locate(
        &recording,
        &AnalysisOptions {
            from_s: Some(50.0),
            to_s: None,
            window_s: None,
        },
    );
    assert!(matches!(beyond, Err(AnalysisError::EmptyRange { .. })));
    let inverted = locate(
        &recording,
        &AnalysisOptions {
            from_s: Some(3.0),
            to_s: Some(2.0),
            window_s: None,
        },
    );
    assert!(matches!(inverted, Err(AnalysisError::InvalidRange { .. })));
}

#[test]
fn default_range_skips_the_first_interval() {
    let mut synth = Synth::new();
    let s = synth.subtask("S", 0, 1);
    let a = synth.subtask("A", 0, 1);
    synth.channel("sa", 10, &[s], &[a]);
    // Warm-up: A is the bottleneck only during the first interval.
    synth.interval(&[(s, Load::new(0.1, 0.9)), (a, Load::new(0.99, 0.0))]);
    for _ in 0..4 {
        synth.interval(&[(s, Load::new(0.3, 0.0)), (a, Load::new(0.2, 0.0))]);
    }
    let report = analyse(&synth);
    assert_eq!(report.recording.intervals, 4);
    assert_eq!(report.recording.from_s, 1.0);
    assert!(report.bottlenecks.is_empty(), "{:?}", report.bottlenecks);

    let mut single = Synth::new();
    let s = single.subtask("S", 0, 1);
    single.interval(&[(s, Load::new(0.5, 0.0))]);
    let report = analyse(&single);
    assert_eq!(
        report.recording.intervals, 1,
        "a single interval is analysed"
    );
}

#[test]
fn registrations_of_the_same_subtask_are_merged() {
    let mut synth = Synth::new();
    let src = synth.subtask("Src", 0, 1);
    let first = synth.subtask("Work", 1, 2);
    let other = synth.subtask("Work", 0, 2);
    synth.channel("w", 10, &[src], &[first, other]);
    synth.interval(&[(src, Load::new(0.1, 0.8))]);
    for _ in 0..3 {
        synth.interval(&[
            (src, Load::new(0.1, 0.8)),
            (first, Load::new(0.9, 0.0).records(10, 0)),
            (other, Load::new(0.9, 0.0)),
        ]);
    }
    // The thread of Work#1 re-registers under a new id, now less busy.
    let again = synth.subtask("Work", 1, 2);
    for _ in 0..3 {
        synth.interval(&[
            (src, Load::new(0.1, 0.8)),
            (again, Load::new(0.5, 0.0).records(10, 0)),
            (other, Load::new(0.9, 0.0)),
        ]);
    }
    let report = analyse(&synth);
    let work = task(&report, "Work");
    assert_eq!(work.parallelism, 2);
    let indices: Vec<u32> = work.subtasks.iter().map(|s| s.index).collect();
    assert_eq!(indices, [0, 1]);
    let merged = &work.subtasks[1];
    assert_eq!(merged.name, "Work#1");
    assert_eq!(merged.records_in, 60);
    assert!(approx(merged.busy, 0.7), "{:?}", merged.busy);
}

#[test]
fn task_figures_are_maxima_over_subtasks() {
    let mut synth = Synth::new();
    let src = synth.subtask("Src", 0, 1);
    let m0 = synth.subtask("Mid", 0, 2);
    let m1 = synth.subtask("Mid", 1, 2);
    let sink = synth.subtask("Sink", 0, 1);
    synth.channel("a", 10, &[src], &[m0, m1]);
    synth.channel("b", 10, &[m0, m1], &[sink]);
    for _ in 0..INTERVALS {
        synth.interval(&[
            (src, Load::new(0.2, 0.0)),
            (m0, Load::new(0.6, 0.1)),
            (m1, Load::new(0.3, 0.6)),
            (sink, Load::new(0.8, 0.0)),
        ]);
    }
    let report = analyse(&synth);
    let mid = task(&report, "Mid");
    assert!(approx(mid.busy, 0.6), "{:?}", mid.busy);
    assert!(approx(mid.backpressured, 0.6), "{:?}", mid.backpressured);
    assert_eq!(mid.level, Some(Level::High));
    assert_eq!(report.bottlenecks[0].task, "Sink");
}

#[test]
fn unaccounted_task_has_null_ratios_and_is_suspected_downstream_of_backpressure() {
    let mut synth = Synth::new();
    let src = synth.subtask("Src", 0, 1);
    synth.task("Legacy", 1, true);
    synth.edge("Src", "Legacy", None, "forward");
    for _ in 0..INTERVALS {
        synth.interval(&[(src, Load::new(0.1, 0.9))]);
    }
    let report = analyse(&synth);
    let legacy = task(&report, "Legacy");
    assert_eq!((legacy.busy, legacy.level), (None, None));
    let b = &report.bottlenecks[0];
    assert_eq!((b.task.as_str(), b.kind), ("Src", BottleneckKind::External));
    assert!(
        b.reason.contains("Legacy is probably the bottleneck"),
        "{}",
        b.reason
    );
    let json = serde_json::to_value(&report).unwrap();
    assert!(json["tasks"][1]["busy"].is_null());
}

#[test]
fn backpressure_without_a_busy_task_below_is_external() {
    let mut synth = Synth::new();
    let src = synth.subtask("Source", 0, 1);
    let sink = synth.subtask("Sink", 0, 1);
    synth.channel("out", 10, &[src], &[sink]);
    for _ in 0..INTERVALS {
        synth.interval(&[(src, Load::new(0.1, 0.3)), (sink, Load::new(0.05, 0.9))]);
    }
    let report = analyse(&synth);
    assert_eq!(report.bottlenecks.len(), 1, "{:?}", report.bottlenecks);
    let b = &report.bottlenecks[0];
    assert_eq!(
        (b.task.as_str(), b.kind),
        ("Sink", BottleneckKind::External)
    );
    assert_eq!(
        b.reason,
        "Sink is backpressured 90% with no busy task downstream: it is blocked by something outside the recorded pipeline"
    );
}

#[test]
fn report_round_trips_through_json() {
    let report = analyse(&enrich_bottleneck());
    let json = serde_json::to_string(&report).unwrap();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["schema"], "bpprof.locate");
    assert_eq!(value["schema_version"], 1);
    assert_eq!(value["bottlenecks"][0]["kind"], "cpu");
    assert_eq!(value["tasks"][1]["level"], "HIGH");
    let back: LocateReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back, report);
}
