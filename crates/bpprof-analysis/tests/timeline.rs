//! The timeline on synthetic recordings: a bottleneck that alternates between tasks is reported as
//! such, never as one averaged verdict; a steady one keeps the averaged verdict.

use bpprof_analysis::synth::{Load, Synth};
use bpprof_analysis::{
    locate, render_human_with, AnalysisError, AnalysisOptions, LocateReport, RenderOptions,
};

/// Source -> Window -> Check -> Sink. In each of `intervals` intervals, `check_turn(i)` says
/// whether Check is the bottleneck (Window backpressured) instead of Window (Source
/// backpressured).
fn alternating(intervals: usize, check_turn: impl Fn(usize) -> bool) -> Synth {
    let mut synth = Synth::new();
    let source = synth.subtask("Source", 0, 1);
    let window = synth.subtask("Window", 0, 1);
    let check = synth.subtask("Check", 0, 1);
    let sink = synth.subtask("Sink", 0, 1);
    synth.channel("sw", 100, &[source], &[window]);
    synth.channel("wc", 100, &[window], &[check]);
    synth.channel("cs", 100, &[check], &[sink]);
    for i in 0..intervals {
        if check_turn(i) {
            synth.interval(&[
                (source, Load::new(0.05, 0.9)),
                (window, Load::new(0.1, 0.85)),
                (check, Load::new(0.97, 0.0)),
                (sink, Load::new(0.2, 0.0)),
            ]);
        } else {
            synth.interval(&[
                (source, Load::new(0.1, 0.85)),
                (window, Load::new(0.96, 0.0)),
                (check, Load::new(0.05, 0.0)),
                (sink, Load::new(0.02, 0.0)),
            ]);
        }
    }
    synth
}

fn analyse(synth: &Synth, window_s: Option<f64>) -> LocateReport {
    let options = AnalysisOptions {
        window_s,
        ..AnalysisOptions::default()
    };
    locate(&synth.recording(), &options).expect("analysis succeeds")
}

fn share(report: &LocateReport, task: &str) -> f64 {
    report
        .timeline
        .shares
        .iter()
        .find(|s| s.task == task)
        .map_or(0.0, |s| s.share)
}

#[test]
fn fifty_fifty_alternation_names_both_and_no_averaged_verdict() {
    // Turns of 2 intervals each: W W C C W W C C ...
    let report = analyse(&alternating(41, |i| (i / 2) % 2 == 1), None);
    assert!(report.timeline.moving, "{report:#?}");
    assert!(
        report.verdict.starts_with("The bottleneck moves:"),
        "{}",
        report.verdict
    );
    assert!(report.verdict.contains("Window"), "{}", report.verdict);
    assert!(report.verdict.contains("Check"), "{}", report.verdict);
    for task in ["Window", "Check"] {
        let s = share(&report, task);
        assert!((s - 0.5).abs() <= 0.10, "{task} share {s}");
    }
    assert!(
        !report.verdict.contains(" is the bottleneck: busy"),
        "an averaged single verdict: {}",
        report.verdict
    );
    let mut named: Vec<&str> = report.bottlenecks.iter().map(|b| b.task.as_str()).collect();
    named.sort_unstable();
    assert_eq!(named, ["Check", "Window"]);
    // Every 4 s (2 intervals of each), for 2 s.
    assert_eq!(report.timeline.period_s, Some(4.0));
    assert_eq!(report.timeline.duration_s, Some(2.0));
    assert!(
        report.verdict.contains("every ~4 s for ~2 s"),
        "{}",
        report.verdict
    );
    assert_eq!(report.windows.len(), 40);
    assert_eq!(report.windows[0].bottlenecks, ["Window"]);
    assert_eq!(report.windows[1].bottlenecks, ["Check"]);
}

#[test]
fn windows_group_consecutive_intervals() {
    // Turns of 2 intervals, windows of 2 s aligned on them.
    let report = analyse(
        &alternating(41, |i| (i.saturating_sub(1) / 2) % 2 == 0),
        Some(2.0),
    );
    assert_eq!(report.windows.len(), 20);
    assert_eq!(
        (report.windows[0].from_s, report.windows[0].to_s),
        (1.0, 3.0)
    );
    assert!(report.timeline.moving);
    let bad = locate(
        &alternating(4, |_| false).recording(),
        &AnalysisOptions {
            window_s: Some(0.0),
            ..AnalysisOptions::default()
        },
    );
    assert!(
        matches!(bad, Err(AnalysisError::InvalidWindow { .. })),
        "{bad:?}"
    );
}

#[test]
fn periodic_minority_gets_a_period() {
    // Check takes over 1 interval in 5: 80% / 20%, every 5 s for 1 s.
    let report = analyse(&alternating(51, |i| i % 5 == 3), None);
    assert!(report.timeline.moving);
    assert_eq!(report.timeline.shares[0].task, "Window");
    assert!((share(&report, "Window") - 0.8).abs() < 0.03);
    assert_eq!(report.timeline.period_s, Some(5.0));
    assert_eq!(report.timeline.duration_s, Some(1.0));
    assert!(
        report
            .verdict
            .contains("Check takes over every ~5 s for ~1 s"),
        "{}",
        report.verdict
    );
}

#[test]
fn steady_bottleneck_keeps_the_averaged_verdict() {
    // Check is the bottleneck once in 20 intervals: below the share that counts as a turn.
    let report = analyse(&alternating(21, |i| i == 10), None);
    assert!(!report.timeline.moving);
    assert!(
        report.verdict.starts_with("Window is the bottleneck"),
        "{}",
        report.verdict
    );
    assert_eq!(report.timeline.period_s, None);
    assert_eq!(report.bottlenecks.len(), 1);
}

#[test]
fn strip_has_one_row_per_task_and_one_cell_per_window() {
    let report = analyse(&alternating(9, |i| i % 2 == 0), None);
    let strip = &report.timeline.strip;
    let rows: Vec<(&str, &str)> = strip
        .iter()
        .map(|r| (r.task.as_str(), r.cells.as_str()))
        .collect();
    assert_eq!(
        rows,
        [
            ("Source", "BBBBBBBB"),
            ("Window", "*B*B*B*B"),
            ("Check", ".*.*.*.*"),
            ("Sink", "........"),
        ]
    );
    let mut text = Vec::new();
    render_human_with(&report, &RenderOptions { timeline: true }, &mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(
        text.contains("  Window  *B*B*B*B  50% bottleneck"),
        "{text}"
    );
    assert!(text.contains("(* bottleneck, B backpressured"), "{text}");
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["timeline"]["moving"], true);
    assert_eq!(json["windows"][0]["bottlenecks"][0], "Window");
    assert_eq!(json["windows"][0]["kind"], "cpu");
}
