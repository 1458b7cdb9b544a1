//! One synthetic scenario per bottleneck rule of `docs/locate.md` ("The rules"), each checking the
//! rule, its structured evidence and the figures of the tables beside it, so that a broken rule
//! fails the test named after it.

use bpprof_analysis::synth::{Load, Synth};
use bpprof_analysis::verdict::{
    BUSY_MIN, EXCHANGE_IDLE_MIN, INPUT_WAIT_MIN, LEVEL_OK_MAX, RUNNABLE_FLOOR, STARVED_ON_CPU_MIN,
    UNACCOUNTED_FULL_QUEUE_MIN,
};
use bpprof_analysis::{
    locate, render_human, AnalysisOptions, Bottleneck, BottleneckKind, EdgeRef, EdgeReport,
    Evidence, Level, LocateReport, Rule, SubtaskReport, TaskReport,
};
use bpprof_format::{EndpointRole, Recording, SubtaskBlocking};

/// Intervals of most scenarios: the first (warm-up) is skipped, five are analysed.
const INTERVALS: usize = 6;
const NS: f64 = 1e9;

fn analyse(recording: &Recording) -> LocateReport {
    locate(recording, &AnalysisOptions::default()).expect("analysis succeeds")
}

fn task<'a>(report: &'a LocateReport, name: &str) -> &'a TaskReport {
    report
        .tasks
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no task {name} in {:#?}", report.tasks))
}

fn subtask<'a>(report: &'a LocateReport, task_name: &str, index: u32) -> &'a SubtaskReport {
    task(report, task_name)
        .subtasks
        .iter()
        .find(|s| s.index == index)
        .unwrap_or_else(|| panic!("no subtask {task_name}#{index}"))
}

fn edge<'a>(report: &'a LocateReport, from: &str, to: &str) -> &'a EdgeReport {
    report
        .edges
        .iter()
        .find(|e| e.from == from && e.to == to)
        .unwrap_or_else(|| panic!("no edge {from} -> {to} in {:#?}", report.edges))
}

fn edge_ref(from: &str, to: &str) -> Option<EdgeRef> {
    Some(EdgeRef {
        from: from.to_owned(),
        to: to.to_owned(),
    })
}

/// The evidence of `b` about `metric` of `subject`.
fn evidence<'a>(b: &'a Bottleneck, metric: &str, subject: &str) -> &'a Evidence {
    b.evidence
        .iter()
        .find(|e| e.metric == metric && e.subject == subject)
        .unwrap_or_else(|| panic!("no evidence {metric} of {subject} in {:#?}", b.evidence))
}

/// Asserts that `e` is `value` (±1e-9), checked against `threshold` in direction `at_least`, and
/// on the side of the threshold the rule needed.
fn assert_evidence(e: &Evidence, value: f64, threshold: f64, at_least: bool) {
    assert!(close(e.value, value), "{e:?}: expected value {value}");
    assert_eq!(e.threshold, threshold, "{e:?}");
    assert_eq!(e.at_least, at_least, "{e:?}");
    if at_least {
        assert!(e.value >= e.threshold, "{e:?} is below its threshold");
    } else {
        assert!(e.value < e.threshold, "{e:?} is not below its threshold");
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

fn approx(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| close(a, b))
}

/// The report's only bottleneck.
fn only(report: &LocateReport) -> &Bottleneck {
    assert_eq!(
        report.bottlenecks.len(),
        1,
        "expected one bottleneck, verdict: {}\n{:#?}",
        report.verdict,
        report.bottlenecks
    );
    &report.bottlenecks[0]
}

fn human(report: &LocateReport) -> String {
    let mut out = Vec::new();
    render_human(report, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// No bottleneck of the report is an exchange, by kind or by rule.
fn assert_no_exchange(report: &LocateReport) {
    for b in &report.bottlenecks {
        assert_ne!(b.kind, BottleneckKind::Exchange, "{b:#?}");
        assert_ne!(b.rule, Some(Rule::Exchange), "{b:#?}");
    }
}

/// Adds `wake` (a fraction of the interval) of wake-up latency to `subtask` in every interval of
/// `recording`: the runtime measures it; `Synth` has no API for it.
fn add_wake(recording: &mut Recording, subtask: u32, wake: f64, blocked_cpu: f64) {
    for interval in &mut recording.intervals {
        if interval.subtasks.iter().any(|s| s.id == subtask) {
            interval.blocking.push(SubtaskBlocking {
                id: subtask,
                wake_ns: (wake * NS).round() as u64,
                blocked_cpu_ns: (blocked_cpu * NS).round() as u64,
            });
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Rule 1: loaded below backpressure.

#[test]
fn loaded_task_below_a_backpressured_edge_is_the_bottleneck() {
    let mut synth = Synth::new();
    let source = synth.subtask("Source", 0, 1);
    let enrich = synth.subtask("Enrich", 0, 1);
    let sink = synth.subtask("Sink", 0, 1);
    synth.channel("raw", 100, &[source], &[enrich]);
    synth.channel("enriched", 100, &[enrich], &[sink]);
    for _ in 0..INTERVALS {
        synth.interval(&[
            (source, Load::new(0.2, 0.75)),
            (enrich, Load::new(0.92, 0.0)),
            (sink, Load::new(0.3, 0.0)),
        ]);
    }
    let report = analyse(&synth.recording());
    let b = only(&report);
    assert_eq!(b.task, "Enrich");
    assert_eq!(b.kind, BottleneckKind::Cpu);
    assert_eq!(b.rule, Some(Rule::LoadedBelowBackpressure));
    assert_eq!(b.edge, edge_ref("Source", "Enrich"));
    assert_eq!(b.waited_by, None);
    assert_eq!(b.downstream, None);
    assert!(close(b.busy, 0.92), "{}", b.busy);

    // The evidence is the figures of the tables.
    let blocked = edge(&report, "Source", "Enrich").upstream_blocked;
    assert!(approx(blocked, 0.75), "{blocked:?}");
    assert_evidence(
        evidence(b, "upstream_blocked", "Source -> Enrich"),
        blocked.unwrap(),
        LEVEL_OK_MAX,
        true,
    );
    let enrich_task = task(&report, "Enrich");
    assert!(approx(enrich_task.load, 0.92), "{enrich_task:?}");
    assert_evidence(
        evidence(b, "load", "Enrich"),
        enrich_task.load.unwrap(),
        BUSY_MIN,
        true,
    );
    assert_eq!(task(&report, "Source").level, Some(Level::High));
    assert_eq!(enrich_task.level, Some(Level::Ok));
    assert_eq!(report.verdict, b.reason);
    assert!(
        b.reason.starts_with(
            "Enrich is the bottleneck: busy 92% while its upstream Source is backpressured 75%"
        ),
        "{}",
        b.reason
    );
    assert!(human(&report).starts_with(&report.verdict));
}

/// Source -> Transform -> Sink on a loaded machine: Transform computes (busy 88%) and is
/// backpressured now and then (11%, level LOW) because Sink, whose busy time (25%) is all wake-up
/// latency, is sometimes descheduled. Sink has no load, so nothing below explains Transform's
/// backpressure: Transform stays the (only) bottleneck.
fn loaded_machine(sink_wake: bool) -> LocateReport {
    let mut synth = Synth::new();
    let source = synth.subtask("Source", 0, 1);
    let transform = synth.subtask("Transform", 0, 1);
    let sink = synth.subtask("Sink", 0, 1);
    synth.channel("in", 100, &[source], &[transform]);
    synth.channel("out", 100, &[transform], &[sink]);
    for _ in 0..INTERVALS {
        synth.interval(&[
            (source, Load::new(0.15, 0.8)),
            (transform, Load::new(0.88, 0.11)),
            (sink, Load::new(0.25, 0.0)),
        ]);
    }
    let mut recording = synth.recording();
    if sink_wake {
        add_wake(&mut recording, sink, 0.25, 0.0);
    }
    analyse(&recording)
}

#[test]
fn loaded_task_at_level_low_whose_downstream_only_waits_for_a_cpu_stays_the_bottleneck() {
    assert_loaded_machine(true);
}

#[test]
fn loaded_task_at_level_low_whose_downstream_is_little_busy_stays_the_bottleneck() {
    assert_loaded_machine(false);
}

fn assert_loaded_machine(sink_wake: bool) {
    let report = loaded_machine(sink_wake);
    let what = if sink_wake {
        "Sink's busy time all wake-up latency"
    } else {
        "Sink busy 25% without wake-up data"
    };
    // The figures: load = busy - wake.
    let sink = task(&report, "Sink");
    assert!(approx(sink.busy, 0.25), "{what}: {sink:?}");
    let sink_load = if sink_wake { 0.0 } else { 0.25 };
    assert!(approx(sink.load, sink_load), "{what}: {sink:?}");
    assert!(
        approx(sink.subtasks[0].wake, if sink_wake { 0.25 } else { 0.0 }),
        "{what}: {sink:?}"
    );
    let transform = task(&report, "Transform");
    assert!(approx(transform.busy, 0.88), "{transform:?}");
    assert!(approx(transform.load, 0.88), "{transform:?}");
    assert_eq!(transform.level, Some(Level::Low));
    assert!(approx(
        edge(&report, "Transform", "Sink").upstream_blocked,
        0.11
    ));

    let b = only(&report);
    assert_eq!(b.task, "Transform", "{what}: {}", report.verdict);
    assert_eq!(b.rule, Some(Rule::LoadedBelowBackpressure), "{what}");
    assert_eq!(b.kind, BottleneckKind::Cpu, "{what}");
    assert_eq!(b.edge, edge_ref("Source", "Transform"), "{what}");
    assert_evidence(
        evidence(b, "upstream_blocked", "Source -> Transform"),
        0.8,
        LEVEL_OK_MAX,
        true,
    );
    assert_evidence(evidence(b, "load", "Transform"), 0.88, BUSY_MIN, true);
}

/// SourceA, SourceB -> Merge -> Sink on an oversubscribed machine, with the figures of a fan-in
/// recorded under contention: the sources wait for a CPU nearly all their busy time, so they are
/// blocked on their queues into Merge only 8% and 5% of their time, though those queues are on
/// average `fill` of their 64 slots full; Merge computes all the time.
fn contended_fan_in(fill: u64) -> LocateReport {
    let mut synth = Synth::new();
    let source_a = synth.subtask("SourceA", 0, 1);
    let source_b = synth.subtask("SourceB", 0, 1);
    let merge = synth.subtask("Merge", 0, 1);
    let sink = synth.subtask("Sink", 0, 1);
    let a = synth.channel("a", 64, &[source_a], &[merge]);
    let b = synth.channel("b", 64, &[source_b], &[merge]);
    let out = synth.channel("out", 64, &[merge], &[sink]);
    for _ in 0..INTERVALS {
        synth.fill(a, fill, 64);
        synth.fill(b, fill, 64);
        synth.fill(out, 2, 31);
        synth.interval(&[
            (source_a, Load::new(0.92, 0.08).on_cpu(0.01).runqueue(0.91)),
            (source_b, Load::new(0.95, 0.05).on_cpu(0.01).runqueue(0.94)),
            (merge, Load::new(1.0, 0.0).on_cpu(0.95).runqueue(0.05)),
            (sink, Load::new(0.3, 0.0)),
        ]);
    }
    analyse(&synth.recording())
}

#[test]
fn full_queues_of_senders_that_wait_for_a_cpu_are_backpressure() {
    let report = contended_fan_in(60);
    assert_eq!(task(&report, "SourceA").level, Some(Level::Ok));
    assert_eq!(task(&report, "SourceB").level, Some(Level::Ok));
    let b = only(&report);
    assert_eq!(b.task, "Merge", "{}", report.verdict);
    assert_eq!(b.rule, Some(Rule::LoadedBelowBackpressure));
    assert_eq!(b.kind, BottleneckKind::Cpu);
    // SourceA had 1 - 0.91 (0.09) of its time off the run queue, floored at a quarter: it
    // is backpressured when blocked more than 10% of that quarter.
    let on_a = evidence(b, "upstream_blocked", "SourceA -> Merge");
    assert_evidence(on_a, 0.08, LEVEL_OK_MAX * RUNNABLE_FLOOR, true);
    assert!(
        b.upstream.iter().any(|u| u.task == "SourceB"),
        "both sources are backpressured: {:?}",
        b.upstream
    );
}

#[test]
fn senders_that_wait_for_a_cpu_on_queues_not_half_full_are_not_backpressured() {
    // The same figures with the queues a quarter full: the senders' short blocks are bursts, not
    // a queue the merge cannot drain; Flink's threshold applies to all their time.
    let report = contended_fan_in(16);
    assert!(
        report.bottlenecks.is_empty(),
        "{}\n{:#?}",
        report.verdict,
        report.bottlenecks
    );
    assert!(
        report.verdict.starts_with("No backpressure"),
        "{}",
        report.verdict
    );
}

/// Source -> Sink on an oversubscribed machine: Sink does the slow work, but waits for a CPU
/// after its input arrives 35% of the time, so its load (45%) is below the threshold while its
/// busy time (80%) is well above it; nothing else explains Source's backpressure.
fn starved_sink(sink_busy: f64, sink_wake: f64, sink_on_cpu: f64) -> LocateReport {
    let mut synth = Synth::new();
    let source = synth.subtask("Source", 0, 1);
    let sink = synth.subtask("Sink", 0, 1);
    synth.channel("records", 100, &[source], &[sink]);
    for _ in 0..INTERVALS {
        synth.interval(&[
            (source, Load::new(0.55, 0.45)),
            (sink, Load::new(sink_busy, 0.0).on_cpu(sink_on_cpu)),
        ]);
    }
    let mut recording = synth.recording();
    add_wake(&mut recording, sink, sink_wake, 0.0);
    analyse(&recording)
}

#[test]
fn busy_task_below_backpressure_that_waits_for_a_cpu_is_the_bottleneck() {
    let report = starved_sink(0.8, 0.35, 0.4);
    let sink = task(&report, "Sink");
    assert!(approx(sink.load, 0.45), "{sink:?}");
    let b = only(&report);
    assert_eq!(b.task, "Sink", "{}", report.verdict);
    assert_eq!(b.rule, Some(Rule::StarvedBelowBackpressure));
    assert_eq!(b.kind, BottleneckKind::Cpu);
    assert_eq!(b.edge, edge_ref("Source", "Sink"));
    assert_evidence(
        evidence(b, "upstream_blocked", "Source -> Sink"),
        0.45,
        LEVEL_OK_MAX,
        true,
    );
    assert_evidence(evidence(b, "busy", "Sink"), 0.8, BUSY_MIN, true);
    assert_evidence(evidence(b, "load", "Sink"), 0.45, BUSY_MIN, false);
    assert_evidence(
        evidence(b, "on_cpu", "Sink"),
        0.4,
        STARVED_ON_CPU_MIN * 0.8,
        true,
    );
    assert!(
        b.reason.starts_with(
            "Sink is the bottleneck: busy 80% while its upstream Source is backpressured 45%, and 35% of the time it waited for a CPU after its input arrived (load 45%)"
        ),
        "{}",
        b.reason
    );
}

#[test]
fn a_task_waiting_for_a_cpu_below_a_loaded_task_does_not_displace_it() {
    // Source -> Transform -> Sink: Transform is loaded (88%) and backpressured now and then
    // (level LOW) by Sink, which is busy 60%, 40% of it waiting for a CPU (load 20%). Transform
    // is the bottleneck and Sink is not named: the CPU waits of a task explain backpressure only
    // when no loaded task above it does.
    let mut synth = Synth::new();
    let source = synth.subtask("Source", 0, 1);
    let transform = synth.subtask("Transform", 0, 1);
    let sink = synth.subtask("Sink", 0, 1);
    synth.channel("in", 100, &[source], &[transform]);
    synth.channel("out", 100, &[transform], &[sink]);
    for _ in 0..INTERVALS {
        synth.interval(&[
            (source, Load::new(0.15, 0.8)),
            (transform, Load::new(0.88, 0.11)),
            (sink, Load::new(0.6, 0.0)),
        ]);
    }
    let mut recording = synth.recording();
    add_wake(&mut recording, sink, 0.4, 0.0);
    let report = analyse(&recording);
    assert_eq!(task(&report, "Transform").level, Some(Level::Low));
    let b = only(&report);
    assert_eq!(b.task, "Transform", "{}", report.verdict);
    assert_eq!(b.rule, Some(Rule::LoadedBelowBackpressure));
}

#[test]
fn a_task_below_backpressure_busy_less_than_half_the_time_is_not_named_for_its_cpu_waits() {
    // Busy 45%, nearly all of it waiting for a CPU: not the bottleneck by either measure.
    let report = starved_sink(0.45, 0.4, 0.05);
    let b = only(&report);
    assert_eq!(b.task, "Source", "{}", report.verdict);
    assert_eq!(b.rule, Some(Rule::External));
}

#[test]
fn a_busy_task_that_hardly_runs_on_a_cpu_is_not_named_for_its_cpu_waits() {
    // Busy 80%, 75% of it waiting for a CPU after wake-ups, on a CPU 2% of the time: a join or
    // sink with little work of its own on an oversubscribed machine.
    let report = starved_sink(0.8, 0.75, 0.02);
    let b = only(&report);
    assert_eq!(b.task, "Source", "{}", report.verdict);
    assert_eq!(b.rule, Some(Rule::External));
}

#[test]
fn task_at_level_low_with_a_loaded_task_below_it_is_not_named() {
    let mut synth = Synth::new();
    let a = synth.subtask("A", 0, 1);
    let b = synth.subtask("B", 0, 1);
    let c = synth.subtask("C", 0, 1);
    synth.channel("a->b", 100, &[a], &[b]);
    synth.channel("b->c", 100, &[b], &[c]);
    for _ in 0..INTERVALS {
        synth.interval(&[
            (a, Load::new(0.2, 0.7)),
            (b, Load::new(0.6, 0.4)),
            (c, Load::new(0.95, 0.0)),
        ]);
    }
    let report = analyse(&synth.recording());
    assert_eq!(task(&report, "B").level, Some(Level::Low));
    assert!(approx(task(&report, "B").load, 0.6));
    let bottleneck = only(&report);
    assert_eq!(bottleneck.task, "C", "{}", report.verdict);
    assert_eq!(bottleneck.rule, Some(Rule::LoadedBelowBackpressure));
    assert_eq!(bottleneck.edge, edge_ref("B", "C"));
    assert_evidence(
        evidence(bottleneck, "upstream_blocked", "B -> C"),
        0.4,
        LEVEL_OK_MAX,
        true,
    );
    assert_evidence(evidence(bottleneck, "load", "C"), 0.95, BUSY_MIN, true);
    assert!(report.bottlenecks.iter().all(|x| x.task != "B"));
}

// ---------------------------------------------------------------------------------------------
// Rule 2: slowest input.

/// SourceA -> Join <- SourceB (or SourceB -> MapB -> Join with `via_map`): SourceA is
/// backpressured on its edge into Join, Join is not loaded and waits for its other input 64% of
/// the time, SourceB computes.
fn join(via_map: bool) -> LocateReport {
    let mut synth = Synth::new();
    let source_a = synth.subtask("SourceA", 0, 1);
    let source_b = synth.subtask("SourceB", 0, 1);
    let map = via_map.then(|| synth.subtask("MapB", 0, 1));
    let join = synth.subtask("Join", 0, 1);
    let a_in = synth.channel("a", 100, &[source_a], &[join]);
    let b_in = match map {
        Some(map) => {
            synth.channel("b", 100, &[source_b], &[map]);
            synth.channel("mapped", 100, &[map], &[join])
        }
        None => synth.channel("b", 100, &[source_b], &[join]),
    };
    for _ in 0..INTERVALS {
        synth.wait(join, a_in, EndpointRole::Receiver, 0.05);
        synth.wait(join, b_in, EndpointRole::Receiver, 0.64);
        let mut loads = vec![
            (source_a, Load::new(0.25, 0.73)),
            (source_b, Load::new(0.93, 0.0)),
            (join, Load::new(0.25, 0.0)),
        ];
        // MapB is idle, waiting on its input (its idle time spread over its one input).
        loads.extend(map.map(|m| (m, Load::new(0.1, 0.0))));
        synth.interval(&loads);
    }
    analyse(&synth.recording())
}

#[test]
fn a_join_that_mostly_waits_for_a_cpu_still_waits_for_its_slowest_input() {
    // On an oversubscribed machine the join's busy time (85%) is nearly all waiting for a CPU
    // after its inputs woke it (80%): it is blocked on SourceB's queue only 12% of its time, but
    // that is more than half of the 15-20% it had left. The threshold scales with that time.
    let mut synth = Synth::new();
    let source_a = synth.subtask("SourceA", 0, 1);
    let source_b = synth.subtask("SourceB", 0, 1);
    let join = synth.subtask("Join", 0, 1);
    let a_in = synth.channel("a", 100, &[source_a], &[join]);
    let b_in = synth.channel("b", 100, &[source_b], &[join]);
    for _ in 0..INTERVALS {
        synth.wait(join, a_in, EndpointRole::Receiver, 0.02);
        synth.wait(join, b_in, EndpointRole::Receiver, 0.12);
        synth.interval(&[
            (source_a, Load::new(0.25, 0.73)),
            (source_b, Load::new(0.93, 0.0)),
            (join, Load::new(0.85, 0.0).on_cpu(0.05).runqueue(0.8)),
        ]);
    }
    let mut recording = synth.recording();
    add_wake(&mut recording, join, 0.8, 0.0);
    let report = analyse(&recording);
    let b = only(&report);
    assert_eq!(b.task, "SourceB", "{}", report.verdict);
    assert_eq!(b.rule, Some(Rule::SlowestInput), "{}", report.verdict);
    // 0.2 of the time not spent waiting for a CPU (0.2 here), floored at a quarter: 0.05.
    assert_evidence(
        evidence(b, "downstream_blocked", "SourceB -> Join"),
        0.12,
        INPUT_WAIT_MIN * RUNNABLE_FLOOR,
        true,
    );
}

#[test]
fn slowest_input_of_a_join_is_the_bottleneck() {
    for via_map in [false, true] {
        let report = join(via_map);
        let what = if via_map { "through MapB" } else { "direct" };
        let waited_edge = if via_map { "MapB" } else { "SourceB" };
        let b = only(&report);
        assert_eq!(b.task, "SourceB", "{what}: {}", report.verdict);
        assert_eq!(b.rule, Some(Rule::SlowestInput), "{what}");
        assert_eq!(b.waited_by.as_deref(), Some("Join"), "{what}");
        assert_eq!(b.edge, edge_ref("SourceA", "Join"), "{what}");
        assert_eq!(b.kind, BottleneckKind::Cpu, "{what}");
        assert_no_exchange(&report);

        let a_edge = edge(&report, "SourceA", "Join");
        assert!(approx(a_edge.upstream_blocked, 0.73), "{a_edge:?}");
        assert!(approx(a_edge.downstream_blocked, 0.05), "{a_edge:?}");
        let b_edge = edge(&report, waited_edge, "Join");
        assert!(approx(b_edge.downstream_blocked, 0.64), "{b_edge:?}");
        if via_map {
            assert!(approx(
                edge(&report, "SourceB", "MapB").downstream_blocked,
                0.9
            ));
            assert!(approx(task(&report, "MapB").load, 0.1));
        }
        assert_evidence(
            evidence(b, "upstream_blocked", "SourceA -> Join"),
            0.73,
            LEVEL_OK_MAX,
            true,
        );
        assert_evidence(evidence(b, "load", "Join"), 0.25, BUSY_MIN, false);
        assert_evidence(
            evidence(b, "downstream_blocked", &format!("{waited_edge} -> Join")),
            0.64,
            INPUT_WAIT_MIN,
            true,
        );
        assert_evidence(evidence(b, "load", "SourceB"), 0.93, BUSY_MIN, true);
        assert!(
            b.reason
                .contains("Join waits for its records 64% of the time"),
            "{what}: {}",
            b.reason
        );
        assert!(
            b.reason.contains("SourceA is backpressured 73%"),
            "{}",
            b.reason
        );
        assert_eq!(report.verdict, b.reason);
    }
}

// ---------------------------------------------------------------------------------------------
// Rule 3: exchange, only on links.

/// Producer -> Consumer over a link or an in-process channel, with identical figures: Producer
/// backpressured 80%, Consumer busy 20% and waiting on its input `consumer_wait` of the time.
fn exchange_pair(link: bool, consumer_wait: f64) -> LocateReport {
    let mut synth = Synth::new();
    let producer = synth.subtask("Producer", 0, 1);
    let consumer = synth.subtask("Consumer", 0, 1);
    let c = if link {
        synth.link("socket", 64, &[producer], &[consumer])
    } else {
        synth.channel("socket", 64, &[producer], &[consumer])
    };
    for _ in 0..INTERVALS {
        synth.fill(c, 10, 64);
        synth.wait(consumer, c, EndpointRole::Receiver, consumer_wait);
        synth.interval(&[
            (producer, Load::new(0.15, 0.8)),
            (consumer, Load::new(0.2, 0.0)),
        ]);
    }
    analyse(&synth.recording())
}

#[test]
fn exchange_is_named_on_a_link_whose_reader_waits() {
    let report = exchange_pair(true, 0.8);
    let e = edge(&report, "Producer", "Consumer");
    assert!(e.link);
    let b = only(&report);
    assert_eq!(b.kind, BottleneckKind::Exchange, "{}", report.verdict);
    assert_eq!(b.rule, Some(Rule::Exchange));
    assert_eq!(b.task, "Producer");
    assert_eq!(b.downstream.as_deref(), Some("Consumer"));
    assert_eq!(b.edge, edge_ref("Producer", "Consumer"));
    assert_evidence(
        evidence(b, "upstream_blocked", "Producer -> Consumer"),
        e.upstream_blocked.unwrap(),
        LEVEL_OK_MAX,
        true,
    );
    assert!(approx(e.downstream_blocked, 0.8));
    assert_evidence(
        evidence(b, "downstream_blocked", "Producer -> Consumer"),
        0.8,
        EXCHANGE_IDLE_MIN,
        true,
    );
    assert_evidence(evidence(b, "load", "Consumer"), 0.2, BUSY_MIN, false);
    assert!(
        b.reason
            .starts_with("The exchange Producer -> Consumer is the bottleneck"),
        "{}",
        b.reason
    );
}

#[test]
fn the_same_figures_over_an_in_process_channel_are_never_an_exchange() {
    let report = exchange_pair(false, 0.8);
    let e = edge(&report, "Producer", "Consumer");
    assert!(!e.link);
    assert!(approx(e.downstream_blocked, 0.8));
    assert_no_exchange(&report);
    let b = only(&report);
    assert_eq!(b.task, "Producer", "{}", report.verdict);
    assert_eq!(b.kind, BottleneckKind::External);
    assert_eq!(b.rule, Some(Rule::External));
}

#[test]
fn a_link_whose_reader_waits_less_than_half_the_time_is_not_an_exchange() {
    let report = exchange_pair(true, 0.45);
    assert!(edge(&report, "Producer", "Consumer").link);
    assert!(approx(
        edge(&report, "Producer", "Consumer").downstream_blocked,
        0.45
    ));
    assert_no_exchange(&report);
    assert_eq!(
        only(&report).rule,
        Some(Rule::External),
        "{}",
        report.verdict
    );
}

// ---------------------------------------------------------------------------------------------
// Rule 5: external.

#[test]
fn backpressure_nothing_explains_is_external() {
    // Source -> Map -> Sink: Map is blocked on Sink 70% of the time, Sink is idle 90%.
    let mut synth = Synth::new();
    let source = synth.subtask("Source", 0, 1);
    let map = synth.subtask("Map", 0, 1);
    let sink = synth.subtask("Sink", 0, 1);
    synth.channel("in", 100, &[source], &[map]);
    synth.channel("out", 100, &[map], &[sink]);
    for _ in 0..INTERVALS {
        synth.interval(&[
            (source, Load::new(0.3, 0.3)),
            (map, Load::new(0.25, 0.7)),
            (sink, Load::new(0.1, 0.0)),
        ]);
    }
    let report = analyse(&synth.recording());
    let b = only(&report);
    assert_eq!(b.task, "Map", "{}", report.verdict);
    assert_eq!(b.kind, BottleneckKind::External);
    assert_eq!(b.rule, Some(Rule::External));
    assert_eq!(b.evidence.len(), 1, "{:?}", b.evidence);
    assert_evidence(evidence(b, "backpressured", "Map"), 0.7, LEVEL_OK_MAX, true);
    assert!(approx(task(&report, "Map").backpressured, 0.7));
    assert!(
        b.reason
            .starts_with("Map is backpressured 70% with no busy task downstream"),
        "{}",
        b.reason
    );
}

#[test]
fn a_task_backpressured_on_no_edge_is_external() {
    // Sink is blocked 60% of the time on something that is not a recorded channel.
    let mut synth = Synth::new();
    let source = synth.subtask("Source", 0, 1);
    let sink = synth.subtask("Sink", 0, 1);
    synth.channel("in", 100, &[source], &[sink]);
    for _ in 0..INTERVALS {
        synth.interval(&[(source, Load::new(0.3, 0.0)), (sink, Load::new(0.3, 0.6))]);
    }
    let report = analyse(&synth.recording());
    let b = only(&report);
    assert_eq!(b.task, "Sink", "{}", report.verdict);
    assert_eq!(b.rule, Some(Rule::External));
    assert_evidence(
        evidence(b, "backpressured", "Sink"),
        0.6,
        LEVEL_OK_MAX,
        true,
    );
}

// ---------------------------------------------------------------------------------------------
// Unaccounted upstream.

#[test]
fn evidence_below_an_unaccounted_task_is_on_the_side_of_its_threshold() {
    // Legacy (unaccounted) keeps its queue into Work 98% full; Work is loaded.
    let mut synth = Synth::new();
    synth.task("Legacy", 1, true);
    let work = synth.subtask("Work", 0, 1);
    let queue = synth.channel("legacy->work", 100, &[], &[work]);
    synth.edge("Legacy", "Work", Some(queue), "forward");
    for _ in 0..INTERVALS {
        synth.fill(queue, 98, 100);
        synth.interval(&[(work, Load::new(0.9, 0.0).records(1000, 0))]);
    }
    let report = analyse(&synth.recording());
    let b = only(&report);
    assert_eq!(b.task, "Work", "{}", report.verdict);
    assert_eq!(b.rule, Some(Rule::LoadedBelowBackpressure));
    assert!(
        b.reason.contains("keeps its input queue 98% full"),
        "{}",
        b.reason
    );
    const { assert!(UNACCOUNTED_FULL_QUEUE_MIN <= 0.98) };
    for e in &b.evidence {
        if e.at_least {
            assert!(e.value >= e.threshold, "{e:?} is below its threshold");
        } else {
            assert!(e.value < e.threshold, "{e:?} is not below its threshold");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Logical subtasks (pools).

/// Sets, for each `(registration, interval)` listed, the time the registration held the
/// subtask in that interval (`held`, a fraction of it, all of it busy) and whether it
/// deregistered at its end; the thread ids alternate between two threads.
fn hold(recording: &mut Recording, held: &[(u32, usize, f64, bool)]) {
    for &(id, n, fraction, ended) in held {
        let s = recording.intervals[n]
            .subtasks
            .iter_mut()
            .find(|s| s.id == id)
            .unwrap_or_else(|| panic!("registration {id} has no data in interval {n}"));
        let ns = (fraction * NS).round() as u64;
        s.wall_ns = ns;
        s.idle_ns = 0;
        s.backpressured_ns = 0;
        s.cpu_ns = ns;
        s.max_idle_stall_ns = 0;
        s.max_backpressure_stall_ns = 0;
        s.ended = ended;
    }
    let mut thread = 0;
    for interval in &mut recording.intervals {
        for d in &mut interval.declared_subtasks {
            if d.task == "Score" {
                d.tid = 7001 + thread % 2;
                thread += 1;
            }
        }
    }
}

#[test]
fn a_logical_subtask_uses_its_lifetime_as_time_base() {
    // 12 intervals, the first skipped: 1-12 s analysed. Score#2 is registered four times, by two
    // threads in turn: from 3 s to 3.5 s, 5-5.3 s, 7-7.3 s and 9-10 s. Its lifetime is 3-10 s
    // (7 s), of which a thread held it 2.1 s (30%), busy all that time.
    let mut synth = Synth::new();
    let other = synth.subtask("Other", 0, 1);
    let holds: [(usize, f64); 4] = [(3, 0.5), (5, 0.3), (7, 0.3), (9, 1.0)];
    let mut held = Vec::new();
    for n in 0..12 {
        let mut loads = vec![(other, Load::new(0.5, 0.0))];
        if let Some(&(_, fraction)) = holds.iter().find(|h| h.0 == n) {
            let id = synth.subtask("Score", 2, 4);
            loads.push((id, Load::new(1.0, 0.0).records(100, 100)));
            held.push((id, n, fraction, true));
        }
        synth.interval(&loads);
    }
    let mut recording = synth.recording();
    hold(&mut recording, &held);
    let report = analyse(&recording);
    assert!(
        close(report.recording.from_s, 1.0),
        "{:?}",
        report.recording
    );

    let score = subtask(&report, "Score", 2);
    assert_eq!(score.name, "Score#2");
    assert!(approx(score.busy, 0.3), "{score:#?}");
    assert!(approx(score.unregistered, 0.7), "{score:#?}");
    assert!(approx(score.idle, 0.7), "{score:#?}");
    assert!(approx(score.backpressured, 0.0), "{score:#?}");
    assert!(approx(score.load, 0.3), "{score:#?}");
    assert!(approx(score.on_cpu, 0.3), "{score:#?}");
    assert_eq!(score.records_in, 400);
    assert_eq!(task(&report, "Score").subtasks.len(), 1);
    assert!(approx(task(&report, "Score").busy, 0.3));
    // A subtask that existed all the time keeps the range as its time base.
    assert!(approx(subtask(&report, "Other", 0).busy, 0.5));
    assert!(approx(subtask(&report, "Other", 0).unregistered, 0.0));
}

#[test]
fn a_logical_subtask_of_a_pool_with_three_times_the_work_is_skew() {
    // Source -> Score (4 logical subtasks, served by registrations of a pool) -> Sink; 11
    // intervals, 1-11 s analysed. Every registration is busy all the time it holds its subtask:
    // only the lifetime time base tells the subtasks apart. Score#0, #1 and #3 are held 3 of the
    // 10 analysed seconds, Score#2 9 of them (and receives three times the records).
    let mut synth = Synth::new();
    let source = synth.subtask("Source", 0, 1);
    let sink = synth.subtask("Sink", 0, 1);
    // Per index: the registrations, each the run of intervals it holds.
    let plan = |index: u32| -> Vec<Vec<usize>> {
        if index == 2 {
            vec![vec![0, 1, 2], vec![3, 4, 5], vec![6, 7], vec![9, 10]]
        } else {
            vec![vec![0], vec![4], vec![7], vec![10]]
        }
    };
    let mut registrations: Vec<(u32, Vec<usize>)> = Vec::new();
    for index in 0..4 {
        for run in plan(index) {
            registrations.push((synth.subtask("Score", index, 4), run));
        }
    }
    let ids: Vec<u32> = registrations.iter().map(|r| r.0).collect();
    synth.channel("in", 256, &[source], &ids);
    synth.channel("out", 256, &ids, &[sink]);
    for n in 0..11 {
        let mut loads = vec![
            (source, Load::new(0.1, 0.8).records(0, 2000)),
            (sink, Load::new(0.2, 0.0).records(2000, 0)),
        ];
        for (id, run) in &registrations {
            if run.contains(&n) {
                loads.push((*id, Load::new(1.0, 0.0).records(1000, 1000)));
            }
        }
        synth.interval(&loads);
    }
    let mut recording = synth.recording();
    let held: Vec<(u32, usize, f64, bool)> = registrations
        .iter()
        .flat_map(|(id, run)| {
            let last = *run.last().unwrap();
            run.iter().map(move |&n| (*id, n, 1.0, n == last))
        })
        .collect();
    hold(&mut recording, &held);
    let report = analyse(&recording);

    let score = task(&report, "Score");
    assert_eq!(score.parallelism, 4);
    for s in &score.subtasks {
        let (busy, records) = if s.index == 2 {
            (0.9, 9000)
        } else {
            (0.3, 3000)
        };
        assert!(approx(s.busy, busy), "{s:#?}");
        assert!(approx(s.unregistered, 1.0 - busy), "{s:#?}");
        assert_eq!(s.records_in, records, "{s:#?}");
        assert_eq!(s.skewed, s.index == 2, "{s:#?}");
    }
    let b = only(&report);
    assert_eq!(b.task, "Score", "{}", report.verdict);
    assert_eq!(b.kind, BottleneckKind::Skew);
    assert_eq!(b.subtasks, [2]);
    assert_eq!(b.rule, Some(Rule::LoadedBelowBackpressure));
    assert!(close(b.busy, 0.9));
    assert!(
        b.reason
            .contains("Score#2 is hot: busy 90% vs a median of 30%"),
        "{}",
        b.reason
    );
    assert!(
        b.reason.contains("9,000 records vs a median of 3,000"),
        "{}",
        b.reason
    );
}

// ---------------------------------------------------------------------------------------------
// The busy split.

/// Asserts `on_cpu / busy + runqueue_share + off_cpu_share == 1` with every part in [0, 1].
fn assert_busy_split(s: &SubtaskReport) {
    let busy = s.busy.expect("busy");
    let on_cpu = s.on_cpu.expect("on_cpu");
    assert!(on_cpu <= busy + 1e-12, "{s:#?}");
    let parts = [
        on_cpu / busy,
        s.runqueue_share.unwrap_or(0.0),
        s.off_cpu_share.expect("off_cpu_share"),
    ];
    for p in parts {
        assert!((0.0..=1.0).contains(&p), "{p} in {s:#?}");
    }
    let sum: f64 = parts.iter().sum();
    assert!((sum - 1.0).abs() <= 1e-9, "parts add up to {sum}: {s:#?}");
}

#[test]
fn busy_time_splits_exactly_and_the_excess_is_kept_apart() {
    let mut synth = Synth::new();
    let loads = [
        // On CPU 50%, waiting for one 20%, off CPU 10%.
        Load::new(0.8, 0.0).on_cpu(0.5).runqueue(0.2),
        // Run-queue time (40%) beyond what busy leaves (20%): 20% outside busy time.
        Load::new(0.5, 0.0).on_cpu(0.3).runqueue(0.4),
        // CPU time (60%) beyond busy time (40%), no run-queue data: 20% CPU inside waits.
        Load::new(0.4, 0.2).on_cpu(0.6),
        // CPU inside waits measured (10% of 20%), wake-up latency 5%.
        Load::new(0.6, 0.1).on_cpu(0.2).runqueue(0.1),
        // Not busy at all: no shares, the CPU and run-queue time are outside busy time.
        Load::new(0.0, 0.0).on_cpu(0.05).runqueue(0.02),
    ];
    let ids: Vec<u32> = (0..5).map(|i| synth.subtask("Work", i, 5)).collect();
    for _ in 0..INTERVALS {
        let l: Vec<(u32, Load)> = ids.iter().copied().zip(loads).collect();
        synth.interval(&l);
    }
    let mut recording = synth.recording();
    add_wake(&mut recording, ids[3], 0.05, 0.1);
    let report = analyse(&recording);
    let s = |i: u32| subtask(&report, "Work", i);

    for i in 0..4 {
        assert_busy_split(s(i));
    }
    // 0: everything fits.
    assert!(approx(s(0).on_cpu, 0.5));
    assert!(approx(s(0).runqueue_share, 0.25));
    assert!(approx(s(0).off_cpu_share, 0.125));
    assert!(approx(s(0).cpu_wait_outside_busy, 0.0));
    assert!(approx(s(0).blocked_cpu, 0.0));
    // 1: run-queue excess.
    assert!(approx(s(1).on_cpu, 0.3));
    assert!(approx(s(1).runqueue_share, 0.4), "{:#?}", s(1));
    assert!(approx(s(1).off_cpu_share, 0.0));
    assert!(approx(s(1).cpu_wait_outside_busy, 0.2), "{:#?}", s(1));
    // 2: CPU excess.
    assert!(approx(s(2).on_cpu, 0.4), "{:#?}", s(2));
    assert!(approx(s(2).blocked_cpu, 0.2), "{:#?}", s(2));
    assert_eq!(s(2).runqueue_share, None);
    assert_eq!(s(2).cpu_wait_outside_busy, None);
    assert!(approx(s(2).off_cpu_share, 0.0));
    // 3: measured CPU inside waits is not on-CPU busy time; wake-up latency is not load.
    assert!(approx(s(3).on_cpu, 0.1), "{:#?}", s(3));
    assert!(approx(s(3).blocked_cpu, 0.1));
    assert!(approx(s(3).runqueue_share, 0.1 / 0.6));
    assert!(approx(s(3).off_cpu_share, 0.4 / 0.6));
    assert!(approx(s(3).wake, 0.05));
    assert!(approx(s(3).load, 0.55));
    assert!(approx(s(3).busy, 0.6));
    // 4: no busy time.
    assert!(approx(s(4).busy, 0.0));
    assert!(approx(s(4).on_cpu, 0.0));
    assert_eq!(s(4).off_cpu_share, None);
    assert_eq!(s(4).runqueue_share, None);
    assert!(approx(s(4).blocked_cpu, 0.05));
    assert!(approx(s(4).cpu_wait_outside_busy, 0.02));
}

// ---------------------------------------------------------------------------------------------
// Async subtasks (thread id 0): CPU time unknown, not 0.

#[test]
fn an_async_bottleneck_is_not_called_off_cpu_for_lack_of_a_cpu_clock() {
    let mut synth = Synth::new();
    let source = synth.async_subtask("Source", 0, 1);
    let enrich = synth.async_subtask("Enrich", 0, 1);
    synth.channel("raw", 100, &[source], &[enrich]);
    for _ in 0..INTERVALS {
        synth.interval(&[
            (source, Load::new(0.2, 0.75).on_cpu(0.0)),
            (enrich, Load::new(0.92, 0.0).on_cpu(0.0)),
        ]);
    }
    let report = analyse(&synth.recording());
    let b = only(&report);
    assert_eq!(b.task, "Enrich", "{}", report.verdict);
    assert_eq!(b.kind, BottleneckKind::Cpu, "{}", report.verdict);
    let s = subtask(&report, "Enrich", 0);
    assert_eq!(s.on_cpu, None, "{s:?}");
    assert_eq!(s.off_cpu_share, None, "{s:?}");
    assert_eq!(s.runqueue_share, None, "{s:?}");
    assert!(report.notes.is_empty(), "{:?}", report.notes);
}
