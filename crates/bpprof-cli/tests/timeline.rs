//! `bpprof locate --timeline` and `--window` on a synthetic recording whose bottleneck alternates.

mod common;

use bpprof_analysis::synth::{Load, Synth};
use bpprof_analysis::LocateReport;
use common::{bpprof, chain, text, Fixture};

/// Source -> A -> B: A is the bottleneck in even intervals, B in odd ones. Averaged, B would look
/// like the only bottleneck (busy 52% below A backpressured 42%).
fn alternating() -> Synth {
    let mut synth = Synth::new();
    let [s, a, b] = chain(&mut synth, ["Source", "A", "B"], &["sa", "ab"], 10);
    for i in 0..13 {
        if i % 2 == 0 {
            synth.interval(&[
                (s, Load::new(0.1, 0.9)),
                (a, Load::new(0.95, 0.0)),
                (b, Load::new(0.1, 0.0)),
            ]);
        } else {
            synth.interval(&[
                (s, Load::new(0.1, 0.9)),
                (a, Load::new(0.1, 0.85)),
                (b, Load::new(0.95, 0.0)),
            ]);
        }
    }
    synth
}

#[test]
fn timeline_strip_and_json_windows() {
    let rec = Fixture::new("alt.bpprof", &alternating().bytes());
    let rec = rec.arg();

    let out = bpprof(&["locate", rec, "--timeline"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("The bottleneck moves:"), "{stdout}");
    // The strip: A a bottleneck (`*`) in every other window and backpressured (`B`) in the
    // others, where B is the bottleneck; each 50% of the time.
    insta::assert_snapshot!(stdout);

    let plain = text(&bpprof(&["locate", rec]).stdout);
    assert!(!plain.contains("Timeline:"), "{plain}");

    let json = bpprof(&["locate", rec, "--format", "json", "--window", "2"]);
    assert!(json.status.success(), "{}", text(&json.stderr));
    let report: LocateReport = serde_json::from_slice(&json.stdout).unwrap();
    // Windows of two intervals average A's and B's turns: no window is like another.
    assert_eq!(report.windows.len(), 6);
    assert_eq!(report.timeline.strip[1].cells.chars().count(), 6);
}

#[test]
fn non_positive_window_is_a_usage_error() {
    let rec = Fixture::new("alt.bpprof", &alternating().bytes());
    let out = bpprof(&["locate", rec.arg(), "--window", "0"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.starts_with("error: invalid window"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}
