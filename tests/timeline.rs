//! The sliding-window example: the bottleneck alternates between SlidingWindow (accumulating) and
//! Check (while the windows fire), and `bpprof locate` says so instead of averaging.

mod support;

use support::{bpprof, run_and_locate, text, Run};

/// Long enough for three firings (every 1.75 s).
const SECONDS: f64 = 6.0;
const INTERVAL_MS: u64 = 250;

#[test]
fn sliding_window_bottleneck_alternates_between_window_and_check() {
    let Run {
        dir: _dir,
        rec,
        located,
    } = run_and_locate("sliding_window", SECONDS, INTERVAL_MS);
    let report = &located.report;
    assert!(report.timeline.moving, "{}", located.text);
    for task in ["SlidingWindow", "Check"] {
        assert!(
            report.verdict.contains(task),
            "the verdict should name {task}:\n{}",
            located.text
        );
        let share = report
            .timeline
            .shares
            .iter()
            .find(|s| s.task == task)
            .map_or(0.0, |s| s.share);
        assert!(
            share >= 0.1,
            "{task} is the bottleneck {share:.2} of the time:\n{}",
            located.text
        );
        assert!(
            report.bottlenecks.iter().any(|b| b.task == task),
            "{task} should be among the bottlenecks:\n{}",
            located.text
        );
    }
    assert!(report.windows.len() >= 10, "{:?}", report.windows);

    let strip = bpprof(&["locate".as_ref(), rec.as_os_str(), "--timeline".as_ref()]);
    assert!(strip.status.success(), "{}", text(&strip.stderr));
    let strip = text(&strip.stdout);
    let row = strip
        .lines()
        .find(|l| l.trim_start().starts_with("Check "))
        .unwrap_or_else(|| panic!("no Check row in the strip:\n{strip}"));
    assert!(row.contains('*'), "{strip}");
}
