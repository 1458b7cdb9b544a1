//! Enough data, or say so: which range is analysed by default, the coverage warning of a short
//! one, and `check` calling a budget or a comparison on too little data inconclusive.

use bpprof_analysis::check::{
    check, Budget, CheckInput, CheckOptions, ComparisonStatus, Severity, Status,
};
use bpprof_analysis::range::{coverage, ShortReason, MIN_ANALYSED_SHARE, MIN_INTERVALS};
use bpprof_analysis::synth::{Load, Pipeline, Synth};
use bpprof_analysis::{locate, render_human, AnalysisOptions};
use bpprof_format::Recording;

/// Source -> Sink, Sink 98% busy and Source backpressured, over `intervals` intervals of 1 s.
fn busy_sink(intervals: usize) -> Recording {
    let mut synth = Synth::new();
    let source = synth.subtask("Source", 0, 1);
    let sink = synth.subtask("Sink", 0, 1);
    synth.channel("events", 64, &[source], &[sink]);
    for _ in 0..intervals {
        synth.interval(&[
            (source, Load::new(0.05, 0.9).records(0, 1000)),
            (sink, Load::new(0.98, 0.0).records(1000, 0)),
        ]);
    }
    synth.recording()
}

/// The run: one 1 s interval in which Sink was 98% busy, then the 8 ms tail before the
/// program stopped, in which it had nothing left to do.
fn long_interval_and_tiny_tail() -> Recording {
    let mut recording = busy_sink(2);
    let tail = &mut recording.intervals[1];
    tail.end_ns = tail.start_ns + 8_000_000;
    for s in &mut tail.subtasks {
        s.wall_ns = 8_000_000;
        s.idle_ns = 8_000_000;
        s.backpressured_ns = 0;
        s.cpu_ns = 0;
        s.records_in = 0;
        s.records_out = 0;
    }
    recording.end.as_mut().expect("finalised").end_ns = 1_008_000_000;
    recording
}

#[test]
fn long_interval_and_tiny_final_one_are_analysed_from_zero() {
    let recording = long_interval_and_tiny_tail();
    let report = locate(&recording, &AnalysisOptions::default()).unwrap();
    let r = &report.recording;
    assert_eq!(r.from_s, 0.0, "skipping the warm-up would leave 8 ms");
    assert_eq!(r.intervals, 2);
    assert!(r.to_s - r.from_s >= MIN_ANALYSED_SHARE * r.duration_s);
    let sink = report.tasks.iter().find(|t| t.name == "Sink").unwrap();
    assert!(
        sink.busy.unwrap() > 0.9,
        "Sink was 98% busy: {:?}",
        sink.busy
    );
    assert_eq!(report.bottlenecks[0].task, "Sink", "{}", report.verdict);
    // Two intervals are still too few: said, not hidden.
    let warning = r.coverage_warning.as_deref().expect("a coverage warning");
    assert!(
        warning.starts_with("only 2 intervals (1.008 s) analysed"),
        "{warning}"
    );
    assert!(warning.contains("BPPROF_INTERVAL_MS=100"), "{warning}");
}

#[test]
fn two_intervals_get_the_coverage_warning() {
    let recording = busy_sink(2);
    let c = coverage(&recording, &AnalysisOptions::default()).unwrap();
    assert_eq!(c.short, Some(ShortReason::TooFewIntervals));
    assert_eq!(
        (c.from_s, c.intervals),
        (0.0, 2),
        "1 of 2 would be half the run"
    );
    assert_eq!(c.text(), "analysed 0–2 s of 2 s (2 intervals)");

    let report = locate(&recording, &AnalysisOptions::default()).unwrap();
    let warning = report.recording.coverage_warning.clone().expect("warning");
    assert_eq!(
        warning,
        format!("only 2 intervals (2 s) analysed: too few for a reliable verdict (at least {MIN_INTERVALS} are needed); record longer, or with a shorter interval (BPPROF_INTERVAL_MS=100)")
    );
    let mut text = Vec::new();
    render_human(&report, &mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(
        text.contains(&format!(
            "Recording of synthetic on test: analysed 0–2 s of 2 s (2 intervals)\nwarning: {warning}\n"
        )),
        "{text}"
    );
}

#[test]
fn explicit_range_of_few_intervals_is_short_and_says_how_to_widen_it() {
    let recording = busy_sink(30);
    let options = AnalysisOptions {
        from_s: Some(10.0),
        to_s: Some(12.0),
        ..AnalysisOptions::default()
    };
    let c = coverage(&recording, &options).unwrap();
    assert!(c.explicit);
    assert_eq!(c.short, Some(ShortReason::TooFewIntervals));
    assert!(c.warning().unwrap().ends_with("or widen --from / --to"));
    // A long explicit range is enough, however small a part of the run.
    let options = AnalysisOptions {
        from_s: Some(10.0),
        to_s: Some(16.0),
        ..AnalysisOptions::default()
    };
    assert_eq!(coverage(&recording, &options).unwrap().short, None);
}

#[test]
fn thirty_intervals_skip_the_warm_up_without_a_warning() {
    let recording = busy_sink(30);
    let report = locate(&recording, &AnalysisOptions::default()).unwrap();
    let r = &report.recording;
    assert_eq!((r.from_s, r.to_s, r.intervals), (1.0, 30.0, 29));
    assert_eq!(r.coverage_warning, None);
    let c = coverage(&recording, &AnalysisOptions::default()).unwrap();
    assert_eq!(c.short, None);
    assert!((c.share - 29.0 / 30.0).abs() < 1e-9);
}

fn budget_check(recording: &Recording, expression: &str) -> bpprof_analysis::check::CheckReport {
    let input = CheckInput {
        path: "run.bpprof",
        recording,
    };
    let options = CheckOptions {
        budgets: vec![Budget::parse(expression).unwrap()],
        ..CheckOptions::default()
    };
    check(&[], &[input], &options).unwrap()
}

#[test]
fn budget_on_too_little_data_is_inconclusive_not_a_pass() {
    // The recording: without the fix, 8 ms were analysed and Sink.busy was 0.
    let recording = long_interval_and_tiny_tail();
    for expression in ["Sink.busy < 0.5", "Sink.busy > 0.5"] {
        let report = budget_check(&recording, expression);
        assert_eq!(report.status, Status::Inconclusive, "{}", report.summary);
        let budget = &report.budgets[0];
        assert!(!budget.passed);
        assert!(budget
            .inconclusive
            .as_deref()
            .unwrap()
            .contains("too little data"));
        let finding = report
            .findings
            .iter()
            .find(|f| f.title == "too little data in run.bpprof")
            .expect("a finding saying why");
        assert_eq!(finding.severity, Severity::Warning);
        assert!(
            finding.message.contains("only 2 intervals"),
            "{}",
            finding.message
        );
        assert!(
            report
                .summary
                .starts_with("INCONCLUSIVE: too little data in run.bpprof"),
            "{}",
            report.summary
        );
        // The range each side was measured over is in the report.
        let range = report.current[0].range.as_ref().unwrap();
        assert_eq!((range.from_s, range.intervals), (0.0, 2));
    }
}

#[test]
fn budget_on_enough_data_still_passes_or_fails() {
    let recording = busy_sink(12);
    let failed = budget_check(&recording, "Sink.busy < 0.5");
    assert_eq!(failed.status, Status::Regression, "{}", failed.summary);
    assert_eq!(failed.budgets[0].inconclusive, None);
    let passed = budget_check(&recording, "Sink.busy > 0.5");
    assert_eq!(passed.status, Status::Pass, "{}", passed.summary);
    assert!(passed.budgets[0].passed);
    assert!(passed.findings.is_empty(), "{:?}", passed.findings);
}

#[test]
fn comparison_with_a_short_side_is_inconclusive_even_with_few_min_windows() {
    let base = Pipeline::new(1).recording();
    let mut short = Pipeline::new(2).recording();
    short.intervals.truncate(3);
    short.samples.retain(|s| s.seq < 3);
    short.end.as_mut().unwrap().end_ns = short.intervals[2].end_ns;
    let options = CheckOptions {
        min_windows: 2,
        ..CheckOptions::default()
    };
    let report = check(
        &[CheckInput {
            path: "base.bpprof",
            recording: &base,
        }],
        &[CheckInput {
            path: "short.bpprof",
            recording: &short,
        }],
        &options,
    )
    .unwrap();
    assert_eq!(report.status, Status::Inconclusive, "{}", report.summary);
    let throughput = report.throughput.as_ref().unwrap();
    assert_eq!(throughput.status, ComparisonStatus::Inconclusive);
    assert!(throughput
        .reason
        .as_deref()
        .unwrap()
        .contains("too little data"));
    assert!(report
        .findings
        .iter()
        .any(|f| f.title.starts_with("too little data (")));
    assert!(report
        .findings
        .iter()
        .any(|f| f.title == "too little data in short.bpprof"));
}
