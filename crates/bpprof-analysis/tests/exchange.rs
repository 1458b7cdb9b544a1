//! The exchange rule and `merge`: a backpressured task above an idle one is blocked by the link
//! between them, also when the two ends were recorded by different processes.

use bpprof_analysis::merge::{merge, MergeError};
use bpprof_analysis::synth::{Load, Synth};
use bpprof_analysis::{locate, AnalysisOptions, BottleneckKind, LocateReport, Rule};

const INTERVALS: usize = 6;
const LINK: &str = "Producer->Consumer";

fn analyse(recording: &bpprof_format::Recording) -> LocateReport {
    locate(recording, &AnalysisOptions::default()).expect("analysis succeeds")
}

/// The Producer side (process A): two subtasks writing into the link, backpressured 95%.
fn producer(start_unix_ns: u64) -> Synth {
    let mut synth = Synth::new();
    synth.start_unix_ns(start_unix_ns);
    let p: Vec<u32> = (0..2).map(|i| synth.subtask("Producer", i, 2)).collect();
    let link = synth.link(LINK, 64, &p, &[]);
    for _ in 0..INTERVALS {
        synth.fill(link, 64, 64);
        synth.blocked(link, 200, 0);
        let loads: Vec<(u32, Load)> = p
            .iter()
            .map(|&s| (s, Load::new(0.03, 0.95).records(0, 100)))
            .collect();
        synth.interval(&loads);
    }
    synth
}

/// The Consumer side (process B): two subtasks reading from the link, idle 95%.
fn consumer(start_unix_ns: u64) -> Synth {
    let mut synth = Synth::new();
    synth.start_unix_ns(start_unix_ns);
    let c: Vec<u32> = (0..2).map(|i| synth.subtask("Consumer", i, 2)).collect();
    let link = synth.link(LINK, 64, &[], &c);
    for _ in 0..INTERVALS {
        synth.blocked(link, 0, 200);
        let loads: Vec<(u32, Load)> = c
            .iter()
            .map(|&s| (s, Load::new(0.05, 0.0).records(100, 0)))
            .collect();
        synth.interval(&loads);
    }
    synth
}

fn assert_exchange(report: &LocateReport) {
    let [b] = report.bottlenecks.as_slice() else {
        panic!("expected one bottleneck: {:#?}", report.bottlenecks);
    };
    assert_eq!(b.kind, BottleneckKind::Exchange, "{}", report.verdict);
    assert_eq!(b.task, "Producer");
    assert_eq!(b.downstream.as_deref(), Some("Consumer"));
    assert!(
        report
            .verdict
            .starts_with("The exchange Producer -> Consumer is the bottleneck"),
        "{}",
        report.verdict
    );
}

#[test]
fn idle_task_below_a_backpressured_one_makes_an_exchange_bottleneck() {
    let mut synth = Synth::new();
    let p = synth.subtask("Producer", 0, 1);
    let c = synth.subtask("Consumer", 0, 1);
    synth.link(LINK, 64, &[p], &[c]);
    for _ in 0..INTERVALS {
        synth.interval(&[(p, Load::new(0.05, 0.9)), (c, Load::new(0.1, 0.0))]);
    }
    let report = analyse(&synth.recording());
    assert_exchange(&report);
    assert!(
        report.verdict.contains("waits reading from it 90%"),
        "{}",
        report.verdict
    );
    let b = &report.bottlenecks[0];
    assert_eq!(b.rule, Some(Rule::Exchange));
    let waited = b
        .evidence
        .iter()
        .find(|e| e.metric == "downstream_blocked")
        .expect("the reader's wait is evidence");
    assert!((waited.value - 0.9).abs() < 1e-9, "{waited:?}");
}

/// The same figures through an in-process queue: a queue cannot be full for its writer and empty
/// for its reader at once, so this is no exchange bottleneck.
#[test]
fn an_idle_reader_of_an_in_process_queue_is_no_exchange_bottleneck() {
    let mut synth = Synth::new();
    let p = synth.subtask("Producer", 0, 1);
    let c = synth.subtask("Consumer", 0, 1);
    synth.channel("producer->consumer", 64, &[p], &[c]);
    for _ in 0..INTERVALS {
        synth.interval(&[(p, Load::new(0.05, 0.9)), (c, Load::new(0.1, 0.0))]);
    }
    let report = analyse(&synth.recording());
    assert!(
        report
            .bottlenecks
            .iter()
            .all(|b| b.kind != BottleneckKind::Exchange),
        "{:#?}",
        report.bottlenecks
    );
}

#[test]
fn a_full_queue_into_an_idle_task_is_not_an_exchange_bottleneck() {
    let mut synth = Synth::new();
    let p = synth.subtask("Producer", 0, 1);
    let c = synth.subtask("Consumer", 0, 1);
    let ch = synth.channel(LINK, 64, &[p], &[c]);
    for _ in 0..INTERVALS {
        synth.fill(ch, 60, 64);
        synth.interval(&[(p, Load::new(0.05, 0.9)), (c, Load::new(0.1, 0.0))]);
    }
    let report = analyse(&synth.recording());
    let [b] = report.bottlenecks.as_slice() else {
        panic!("expected one bottleneck: {:#?}", report.bottlenecks);
    };
    assert_eq!(
        (b.task.as_str(), b.kind),
        ("Producer", BottleneckKind::External)
    );
    assert_eq!(b.downstream, None);
}

#[test]
fn each_end_alone_shows_no_exchange() {
    let report = analyse(&producer(0).recording());
    assert_eq!(report.bottlenecks.len(), 1);
    assert_eq!(report.bottlenecks[0].kind, BottleneckKind::External);
    let report = analyse(&consumer(0).recording());
    assert!(report.bottlenecks.is_empty(), "{:#?}", report.bottlenecks);
}

#[test]
fn merged_ends_of_a_link_locate_the_exchange() {
    const START: u64 = 1_700_000_000_000_000_000;
    // B started 700 ms after A: its intervals straddle A's and are added to the one holding their
    // midpoint; its last one lies past A's end and stays an interval of its own.
    let a = producer(START).recording();
    let b = consumer(START + 700_000_000).recording();
    let merged = merge(&[b.clone(), a.clone()]).expect("merge succeeds");
    assert_eq!(merged.meta.start_unix_ns, START);
    assert_eq!(
        merged.intervals.len(),
        INTERVALS + 1,
        "B's last interval is past A's"
    );
    let channels: Vec<_> = merged
        .intervals
        .iter()
        .flat_map(|i| &i.declared_channels)
        .collect();
    assert_eq!(channels.len(), 1, "one link: {channels:?}");
    let subtasks: Vec<u32> = merged
        .intervals
        .iter()
        .flat_map(|i| i.declared_subtasks.iter().map(|s| s.id))
        .collect();
    assert_eq!(subtasks, [0, 1, 2, 3]);

    let report = analyse(&merged);
    assert_exchange(&report);
    let edges: Vec<(&str, &str)> = report
        .edges
        .iter()
        .map(|e| (e.from.as_str(), e.to.as_str()))
        .collect();
    assert_eq!(edges, [("Producer", "Consumer")]);
}

#[test]
fn merge_needs_recordings() {
    assert_eq!(merge(&[]).unwrap_err(), MergeError::Empty);
    let empty = Synth::new().recording();
    assert_eq!(
        merge(&[producer(0).recording(), empty]).unwrap_err(),
        MergeError::NoIntervals(1)
    );
}
