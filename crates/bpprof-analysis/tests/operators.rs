//! Operator chains and unaccounted work in the analysis: the slowest operator of a bottleneck
//! chain is named, an unaccounted task has no busy time and stays out of verdicts, and records
//! arriving from threads bpprof does not see are reported.

use bpprof_analysis::synth::{Load, Synth};
use bpprof_analysis::{
    locate, render_human, AnalysisOptions, BottleneckKind, LocateReport, TaskReport,
};

const INTERVALS: usize = 6;

fn analyse(synth: &Synth) -> LocateReport {
    locate(&synth.recording(), &AnalysisOptions::default()).unwrap()
}

fn task<'a>(report: &'a LocateReport, name: &str) -> &'a TaskReport {
    report.tasks.iter().find(|t| t.name == name).unwrap()
}

/// Source -> Chain [Parse -> Filter -> Enrich] -> Sink, Chain busy 98% of the time; each operator
/// busy the given fraction of the interval. No call counts, as in a format 1.0 recording.
fn chain(parse_busy: f64, filter_busy: f64, enrich: f64) -> Synth {
    chain_with_calls(parse_busy, filter_busy, enrich, None)
}

/// [`chain`], with the calls of Parse, Filter and Enrich per interval when given.
fn chain_with_calls(
    parse_busy: f64,
    filter_busy: f64,
    enrich: f64,
    calls: Option<[u64; 3]>,
) -> Synth {
    let mut synth = Synth::new();
    let src = synth.subtask("Source", 0, 1);
    let chain = synth.subtask("Chain", 0, 1);
    let sink = synth.subtask("Sink", 0, 1);
    synth.channel("in", 256, &[src], &[chain]);
    synth.channel("out", 256, &[chain], &[sink]);
    let parse = synth.operator(chain, "Parse");
    let filter = synth.operator(chain, "Filter");
    let enrich_op = synth.operator(chain, "Enrich");
    for _ in 0..INTERVALS {
        synth.operator_busy(chain, parse, parse_busy);
        synth.operator_busy(chain, filter, filter_busy);
        synth.operator_busy(chain, enrich_op, enrich);
        if let Some([p, f, e]) = calls {
            synth.operator_calls(chain, parse, p);
            synth.operator_calls(chain, filter, f);
            synth.operator_calls(chain, enrich_op, e);
        }
        synth.interval(&[
            (src, Load::new(0.05, 0.95)),
            (chain, Load::new(0.98, 0.0)),
            (sink, Load::new(0.05, 0.0)),
        ]);
    }
    synth
}

#[test]
fn slowest_operator_of_the_bottleneck_chain_is_named() {
    let report = analyse(&chain(0.1, 0.047, 0.85 * 0.98));
    let b = &report.bottlenecks[0];
    assert_eq!((b.task.as_str(), b.kind), ("Chain", BottleneckKind::Cpu));
    assert_eq!(b.operator.as_deref(), Some("Enrich"));
    assert!(
        b.reason
            .ends_with("Enrich (in chain Parse -> Filter -> Enrich) takes 85% of the busy time"),
        "{}",
        b.reason
    );
    assert_eq!(report.verdict, b.reason);
    let ops = &task(&report, "Chain").operators;
    let names: Vec<&str> = ops.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, ["Parse", "Filter", "Enrich"]);
    assert!((ops[2].busy_share - 0.85).abs() < 1e-6, "{ops:?}");
    // No call counts (a 1.0 recording): no records, no busy time per record.
    assert!(
        ops.iter()
            .all(|o| o.records == 0 && o.records_per_s == 0.0 && o.busy_per_record_us.is_none()),
        "{ops:?}"
    );
    assert!(task(&report, "Source").operators.is_empty());

    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["tasks"][1]["operators"][2]["name"], "Enrich");
    assert_eq!(json["bottlenecks"][0]["operator"], "Enrich");
    let back: LocateReport = serde_json::from_value(json).unwrap();
    assert_eq!(back, report);
}

#[test]
fn an_operator_with_a_small_share_is_not_named() {
    // Most busy time outside the operator scopes, none above a fifth of it: no culprit.
    let report = analyse(&chain(0.2, 0.1, 0.15));
    let b = &report.bottlenecks[0];
    assert_eq!(b.task, "Chain");
    assert_eq!(b.operator, None, "{}", b.reason);
    assert!(!b.reason.contains("in chain"), "{}", b.reason);
}

#[test]
fn documents_without_operators_still_deserialise() {
    let report = analyse(&chain(0.1, 0.08, 0.8));
    let mut json = serde_json::to_value(&report).unwrap();
    for t in json["tasks"].as_array_mut().unwrap() {
        t.as_object_mut().unwrap().remove("operators");
    }
    for b in json["bottlenecks"].as_array_mut().unwrap() {
        b.as_object_mut().unwrap().remove("operator");
    }
    let back: LocateReport = serde_json::from_value(json).unwrap();
    assert!(back.tasks.iter().all(|t| t.operators.is_empty()));
}

fn human(report: &LocateReport) -> String {
    let mut out = Vec::new();
    render_human(report, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn human_output_lists_the_operators_under_the_tasks() {
    let report = analyse(&chain(0.1, 0.047, 0.85 * 0.98));
    let text = human(&report);
    let section: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("Operators"))
        .take_while(|l| !l.is_empty())
        .collect();
    assert_eq!(
        section,
        [
            "Operators (share of the task's busy time, records per second, busy time per record):",
            "  TASK   OPERATOR  BUSY  REC/S  BUSY/REC",
            "  Chain  Parse      10%      -         -",
            "         Filter      5%      -         -",
            "         Enrich     85%      -         -",
        ],
        "{text}"
    );
    // Right after the task table, before the subtasks of the bottleneck.
    let at = |heading: &str| text.find(heading).unwrap_or_else(|| panic!("{text}"));
    assert!(at("Tasks:") < at("Operators (") && at("Operators (") < at("Subtasks of Chain:"));
    assert_eq!(text.matches("Operators (").count(), 1, "{text}");
}

/// Parse and Filter see every record, Enrich the 7 in 8 that Filter keeps.
const CALLS: [u64; 3] = [8_000, 8_000, 7_000];

#[test]
fn records_and_busy_per_record_come_from_the_calls() {
    let report = analyse(&chain_with_calls(0.1, 0.047, 0.85 * 0.98, Some(CALLS)));
    let ops = &task(&report, "Chain").operators;
    let records: Vec<u64> = ops.iter().map(|o| o.records).collect();
    // The first interval (warm-up) is left out by default.
    let seconds = INTERVALS as u64 - 1;
    assert_eq!(records, CALLS.map(|c| c * seconds), "{ops:?}");
    for (o, calls) in ops.iter().zip(CALLS) {
        assert!((o.records_per_s - calls as f64).abs() < 1e-6, "{o:?}");
    }
    // Busy per record: busy time / calls, both over the whole range.
    let per_record = |o: usize| ops[o].busy_per_record_us.unwrap();
    assert!((per_record(0) - 0.1e6 / 8_000.0).abs() < 1e-3, "{ops:?}");
    assert!((per_record(1) - 0.047e6 / 8_000.0).abs() < 1e-3, "{ops:?}");
    assert!(
        (per_record(2) - 0.85 * 0.98e6 / 7_000.0).abs() < 1e-3,
        "{ops:?}"
    );

    let json = serde_json::to_value(&report).unwrap();
    let enrich = &json["tasks"][1]["operators"][2];
    assert_eq!(enrich["records"], 7_000 * seconds);
    assert!((enrich["busy_per_record_us"].as_f64().unwrap() - 119.0).abs() < 1e-6);
    let back: LocateReport = serde_json::from_value(json).unwrap();
    assert_eq!(back, report);

    let text = human(&report);
    let section: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("Operators"))
        .take_while(|l| !l.is_empty())
        .skip(1)
        .collect();
    assert_eq!(
        section,
        [
            "  TASK   OPERATOR  BUSY  REC/S  BUSY/REC",
            "  Chain  Parse      10%  8,000   12.5 µs",
            "         Filter      5%  8,000   5.88 µs",
            "         Enrich     85%  7,000    119 µs",
        ],
        "{text}"
    );
}

/// Records and busy time of an operator are summed over the task's subtasks (and registrations)
/// before dividing; an operator entered but never busy has records and 0 µs per record; a range
/// counts only its own intervals.
#[test]
fn records_are_merged_across_subtasks_and_ranges() {
    let mut synth = Synth::new();
    let src = synth.subtask("Source", 0, 1);
    let work: Vec<u32> = (0..2).map(|i| synth.subtask("Work", i, 2)).collect();
    synth.channel("in", 256, &[src], &work);
    let ops: Vec<(u32, u32, u32)> = work
        .iter()
        .map(|&w| (w, synth.operator(w, "Decode"), synth.operator(w, "Route")))
        .collect();
    for n in 0..INTERVALS {
        for (i, &(w, decode, route)) in ops.iter().enumerate() {
            // Work#0: 1,000 records at 500 µs; Work#1: 3,000 at 100 µs; in the last interval,
            // twice as many records.
            let scale = if n == INTERVALS - 1 { 2 } else { 1 };
            let (calls, busy) = [(1_000, 0.5), (3_000, 0.3)][i];
            synth.operator_busy(w, decode, busy);
            synth.operator_calls(w, decode, calls * scale);
            synth.operator_calls(w, route, calls * scale);
        }
        synth.interval(&[
            (src, Load::new(0.05, 0.9)),
            (work[0], Load::new(0.6, 0.0)),
            (work[1], Load::new(0.4, 0.0)),
        ]);
    }
    let report = analyse(&synth);
    let [decode, route] = task(&report, "Work").operators.as_slice() else {
        panic!("{:?}", task(&report, "Work").operators);
    };
    // Intervals 1..INTERVALS (the warm-up left out), the last with twice the records.
    let n = INTERVALS as u64 - 1;
    assert_eq!(decode.records, 4_000 * (n + 1), "{decode:?}");
    let busy_us = 0.8e6 * n as f64;
    let expected = busy_us / (4_000 * (n + 1)) as f64;
    assert!(
        (decode.busy_per_record_us.unwrap() - expected).abs() < 1e-6,
        "{decode:?}"
    );
    assert_eq!(route.records, decode.records);
    assert_eq!(route.busy_per_record_us, Some(0.0));

    // Only the last interval: twice the records, half the busy time per record.
    let last = (INTERVALS - 1) as f64;
    let options = AnalysisOptions {
        from_s: Some(last),
        ..AnalysisOptions::default()
    };
    let report = locate(&synth.recording(), &options).unwrap();
    let decode = &task(&report, "Work").operators[0];
    assert_eq!(decode.records, 8_000, "{decode:?}");
    assert!((decode.records_per_s - 8_000.0).abs() < 1e-6, "{decode:?}");
    assert!((decode.busy_per_record_us.unwrap() - 100.0).abs() < 1e-6);
}

#[test]
fn human_output_has_no_operator_section_without_operators() {
    let report = analyse(&legacy(true));
    assert!(report.tasks.iter().all(|t| t.operators.is_empty()));
    let text = human(&report);
    assert!(text.contains("Tasks:"), "{text}");
    assert!(!text.contains("Operators"), "{text}");
    assert!(!text.contains("OPERATOR"), "{text}");
}

/// Source (declared unaccounted, its thread registered but idle-looking) feeds `source->parse`
/// from an unregistered thread; Parse is slow.
fn legacy(declared: bool) -> Synth {
    let mut synth = Synth::new();
    if declared {
        synth.task("Source", 1, true);
        synth.edge("Source", "Parse", None, "forward");
    }
    let src = synth.subtask("Source", 0, 1);
    let parse = synth.subtask("Parse", 0, 1);
    let sink = synth.subtask("Sink", 0, 1);
    let input = synth.channel("source->parse", 256, &[], &[parse]);
    synth.channel("parse->sink", 256, &[parse], &[sink]);
    for _ in 0..INTERVALS {
        synth.fill(input, 250, 256);
        synth.interval(&[
            (src, Load::new(1.0, 0.0).on_cpu(0.0)),
            (parse, Load::new(0.99, 0.0).records(1000, 1000)),
            (sink, Load::new(0.02, 0.0).records(1000, 0)),
        ]);
    }
    synth
}

#[test]
fn unaccounted_source_is_unknown_and_its_full_queue_names_the_downstream_bottleneck() {
    let report = analyse(&legacy(true));
    let source = task(&report, "Source");
    assert!(source.unaccounted);
    assert_eq!((source.busy, source.level), (None, None));
    assert!(source.subtasks.iter().all(|s| s.busy.is_none()));
    let [b] = report.bottlenecks.as_slice() else {
        panic!("{:?}", report.bottlenecks);
    };
    assert_eq!(b.task, "Parse");
    assert!(
        b.reason
            .contains("its unaccounted upstream Source keeps its input queue 98% full"),
        "{}",
        b.reason
    );
    assert!(
        report.notes.iter().any(|n| n
            == "Source is declared unaccounted: its work runs in threads bpprof does not see, so its busy time is unknown"),
        "{:?}",
        report.notes
    );
    assert!(
        report.notes.iter().any(|n| n
            == "records flow through 'source->parse' into Parse from threads bpprof does not see (Source is declared unaccounted)"),
        "{:?}",
        report.notes
    );
    let json = serde_json::to_value(&report).unwrap();
    assert!(json["tasks"][0]["busy"].is_null());
}

#[test]
fn records_from_unregistered_threads_are_reported_when_nothing_is_declared() {
    let report = analyse(&legacy(false));
    assert!(
        report.notes.iter().any(|n| n.starts_with(
            "records flow through 'source->parse' into Parse but no registered subtask sends into it"
        ) && n.contains("declare_task")),
        "{:?}",
        report.notes
    );
    // Nothing is backpressured as far as bpprof can tell: no bottleneck is invented.
    assert!(report.bottlenecks.is_empty(), "{:?}", report.bottlenecks);
}

mod flame {
    use bpprof_analysis::flame::{fold, FlameError, FlameOptions, Selection};
    use bpprof_analysis::synth::{Load, Synth};
    use bpprof_format::SampleState;

    fn sampled_chain() -> bpprof_format::Recording {
        let mut synth = Synth::new();
        let chain = synth.subtask("Chain", 0, 1);
        let parse = synth.operator(chain, "Parse");
        let enrich = synth.operator(chain, "Enrich");
        for _ in 0..4 {
            synth.sample_in(
                chain,
                Some(parse),
                SampleState::Busy,
                true,
                &["main", "chain", "parse"],
                5,
            );
            synth.sample_in(
                chain,
                Some(enrich),
                SampleState::Busy,
                true,
                &["main", "chain", "enrich", "hash"],
                40,
            );
            synth.sample_in(
                chain,
                None,
                SampleState::Idle,
                false,
                &["main", "chain", "recv"],
                7,
            );
            synth.interval(&[(chain, Load::new(0.9, 0.0))]);
        }
        synth.recording()
    }

    fn options(operator: Option<&str>) -> FlameOptions {
        FlameOptions {
            selection: Selection::parse_subtask("Chain#0").unwrap(),
            operator: operator.map(str::to_owned),
            ..FlameOptions::default()
        }
    }

    #[test]
    fn operator_restricts_the_graph_to_its_samples() {
        let recording = sampled_chain();
        let all = fold(&recording, &options(None)).unwrap();
        assert_eq!(all.stacks.len(), 3);
        let enrich = fold(&recording, &options(Some("Enrich"))).unwrap();
        let keys: Vec<&String> = enrich.stacks.keys().collect();
        assert_eq!(keys, ["[busy];main;chain;enrich;hash"]);
        assert_eq!(enrich.samples, 3 * 40);
        assert!(enrich.title().starts_with("Chain#0, operator Enrich:"));
    }

    #[test]
    fn unknown_operator_lists_the_known_ones() {
        let recording = sampled_chain();
        let err = fold(&recording, &options(Some("Enrch"))).unwrap_err();
        assert!(matches!(err, FlameError::UnknownOperator { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            "no operator 'Enrch' in Chain#0; its operators: Parse, Enrich"
        );
    }
}
