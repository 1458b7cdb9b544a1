//! The operator-chain and unaccounted-source examples run, record, and `bpprof locate` names
//! what they were built to show.

mod support;

use std::path::PathBuf;

use support::{bpprof, text, Located, Run};

/// How long each example's source runs.
const SECONDS: f64 = 3.0;
/// Recording interval: about a dozen intervals in [`SECONDS`].
const INTERVAL_MS: u64 = 250;

/// Runs example `name` (stack sampling on, the default) and locates its bottleneck; returns the
/// directory holding the recording, its path and what `locate` said.
fn run_and_locate(name: &str) -> (tempfile::TempDir, PathBuf, Located) {
    let Run { dir, rec, located } = support::run_and_locate(name, SECONDS, INTERVAL_MS);
    assert!(
        located.report.recording.intervals >= 5,
        "expected about a dozen intervals:\n{}",
        located.text
    );
    (dir, rec, located)
}

#[test]
fn chain_names_enrich_inside_the_chain() {
    let (_dir, rec, located) = run_and_locate("chain");
    let report = &located.report;
    let [bottleneck] = report.bottlenecks.as_slice() else {
        panic!("expected one bottleneck:\n{}", located.text);
    };
    assert_eq!(bottleneck.task, "Chain", "{}", located.text);
    assert_eq!(
        bottleneck.operator.as_deref(),
        Some("Enrich"),
        "{}",
        located.text
    );
    assert!(
        bottleneck
            .reason
            .contains("Enrich (in chain Parse -> Filter -> Enrich) takes"),
        "{}",
        bottleneck.reason
    );
    assert!(
        located.text.contains("Enrich (in chain"),
        "{}",
        located.text
    );
    let chain = located.task("Chain");
    let names: Vec<&str> = chain.operators.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, ["Parse", "Filter", "Enrich"], "{}", located.text);
    let enrich = &chain.operators[2];
    assert!(
        enrich.busy_share > 0.8,
        "Enrich should take most of the busy time: {:?}",
        chain.operators
    );
    let total: f64 = chain.operators.iter().map(|o| o.busy_share).sum();
    assert!(total <= 1.0 + 1e-9, "{:?}", chain.operators);
    // Calls per operator: Parse and Filter see every record Chain receives, Enrich every record
    // Filter keeps, which Chain then sends. The channel counts a record when it is received or
    // sent, the operator when its scope is entered, so they may differ by a record or two at the
    // ends of the range.
    let close = |a: u64, b: u64| a.abs_diff(b) <= 2 + b / 100;
    let chain0 = &chain.subtasks[0];
    let [parse, filter, enrich] = chain.operators.as_slice() else {
        unreachable!()
    };
    assert!(chain0.records_in > 1_000, "{}", located.text);
    for op in [parse, filter] {
        assert!(
            close(op.records, chain0.records_in),
            "{} saw {} records, Chain received {}:\n{}",
            op.name,
            op.records,
            chain0.records_in,
            located.text
        );
    }
    assert!(
        close(enrich.records, chain0.records_out),
        "Enrich saw {} records, Chain sent {}:\n{}",
        enrich.records,
        chain0.records_out,
        located.text
    );
    // Filter drops about one record in eight.
    assert!(
        enrich.records < parse.records && enrich.records * 10 > parse.records * 8,
        "{:?}",
        chain.operators
    );
    let per_record = |o: &bpprof_analysis::OperatorShare| o.busy_per_record_us.unwrap_or(0.0);
    assert!(
        per_record(enrich) > 10.0 * per_record(parse),
        "Enrich costs most per record: {:?}",
        chain.operators
    );
    assert!(located.text.contains("BUSY/REC"), "{}", located.text);
    assert!(
        located.task("Source").operators.is_empty() && located.task("Sink").operators.is_empty()
    );

    // `flame --operator Enrich` keeps only the samples taken inside Enrich.
    let output = bpprof(&[
        "flame".as_ref(),
        rec.as_os_str(),
        "--subtask".as_ref(),
        "Chain#0".as_ref(),
        "--operator".as_ref(),
        "Enrich".as_ref(),
        "--folded".as_ref(),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let folded = text(&output.stdout);
    let (mut inside, mut total) = (0u64, 0u64);
    for line in folded.lines() {
        let (stack, count) = line.rsplit_once(' ').expect("folded line");
        let count: u64 = count.parse().expect("count");
        assert!(!stack.contains("parse_record"), "{line}");
        assert!(!stack.contains("keep_record"), "{line}");
        total += count;
        if stack.contains("enrich_record") {
            inside += count;
        }
    }
    assert!(
        total > 0 && inside * 10 >= total * 9,
        "{inside} of {total} samples in enrich_record:\n{folded}"
    );
    let output = bpprof(&[
        "flame".as_ref(),
        rec.as_os_str(),
        "--subtask".as_ref(),
        "Chain#0".as_ref(),
        "--operator".as_ref(),
        "Enrch".as_ref(),
        "--folded".as_ref(),
    ]);
    assert!(!output.status.success());
    assert!(
        text(&output.stderr)
            .contains("no operator 'Enrch' in Chain#0; its operators: Parse, Filter, Enrich"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn legacy_source_is_unaccounted_and_left_out_of_the_verdict() {
    let (_dir, _rec, located) = run_and_locate("legacy_source");
    let report = &located.report;
    let source = located.task("Source");
    assert!(source.unaccounted, "{}", located.text);
    assert_eq!(source.busy, None, "{}", located.text);
    assert!(
        source.subtasks.iter().all(|s| s.busy.is_none()),
        "{}",
        located.text
    );
    assert!(
        report.bottlenecks.iter().all(|b| b.task != "Source"),
        "{}",
        located.text
    );
    let [bottleneck] = report.bottlenecks.as_slice() else {
        panic!("expected one bottleneck:\n{}", located.text);
    };
    assert_eq!(bottleneck.task, "Parse", "{}", located.text);
    assert!(
        report.notes.iter().any(|n| n.contains("Source")
            && n.contains("threads bpprof does not see")
            && n.contains("unaccounted")),
        "{:?}",
        report.notes
    );
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("records flow through 'source->parse'")),
        "{:?}",
        report.notes
    );
    // The JSON document has `null` busy for it.
    let json = serde_json::to_value(report).expect("json");
    let source = json["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "Source")
        .unwrap();
    assert!(source["busy"].is_null(), "{source}");
}
