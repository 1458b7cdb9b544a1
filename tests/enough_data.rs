//! Enough data, or say so, on real runs of `slow_operator` recorded with only `BPPROF_OUT` set
//! (the runtime's default interval): a 1 s run is analysed over most of its second and its
//! budget check fails as it should; a run of a few milliseconds is inconclusive, and says why.

mod support;

use std::ffi::OsStr;
use std::path::Path;
use std::process::Output;

use support::{bpprof, example, exclusive, locate, text};

/// Runs `slow_operator --seconds SECONDS` with only `BPPROF_OUT` set, recording to `out`.
fn record_with_defaults(out: &Path, seconds: &str) {
    let output = {
        let _only_pipeline = exclusive();
        example("slow_operator", out, 0)
            .env_remove("BPPROF_INTERVAL_MS")
            .env_remove("BPPROF_SAMPLE_HZ")
            .args(["--seconds", seconds])
            .output()
            .expect("run slow_operator")
    };
    assert!(
        output.status.success() && out.is_file(),
        "slow_operator failed ({}):\n{}",
        output.status,
        text(&output.stderr)
    );
}

fn budget_check(rec: &Path) -> Output {
    bpprof(&[
        OsStr::new("check"),
        rec.as_os_str(),
        OsStr::new("--assert"),
        OsStr::new("Enrich.busy < 0.5"),
        OsStr::new("--strict"),
        OsStr::new("--no-config"),
    ])
}

#[test]
fn one_second_run_with_the_default_interval_is_analysed_and_its_budget_fails() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("one-second.bpprof");
    record_with_defaults(&rec, "1");

    let located = locate(&rec);
    let r = &located.report.recording;
    assert!(
        r.to_s - r.from_s >= 0.75,
        "most of the second is analysed: {} – {} s of {} s\n{}",
        r.from_s,
        r.to_s,
        r.duration_s,
        located.text
    );
    assert!(r.intervals >= 5, "{}", located.text);
    assert_eq!(r.coverage_warning, None, "{}", located.text);
    assert_eq!(
        located.report.bottlenecks.first().map(|b| b.task.as_str()),
        Some("Enrich"),
        "{}",
        located.text
    );

    let output = budget_check(&rec);
    assert_eq!(
        output.status.code(),
        Some(1),
        "Enrich is busy all the time: the budget is exceeded\n{}{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    let stdout = text(&output.stdout);
    assert!(
        stdout.starts_with("REGRESSION: budget Enrich.busy < 0.5 exceeded"),
        "{stdout}"
    );
    assert!(
        stdout.contains("current "),
        "the range of the recording: {stdout}"
    );
}

#[test]
fn few_millisecond_run_is_inconclusive_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("blink.bpprof");
    record_with_defaults(&rec, "0.005");

    let output = budget_check(&rec);
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(3),
        "too little data: inconclusive with --strict, never a pass\n{stdout}{}",
        text(&output.stderr)
    );
    assert!(
        stdout.starts_with("INCONCLUSIVE: too little data in"),
        "{stdout}"
    );
    assert!(
        stdout.contains("too few for a reliable verdict"),
        "{stdout}"
    );
    assert!(stdout.contains("record longer"), "{stdout}");

    let located = locate(&rec);
    let warning = located
        .report
        .recording
        .coverage_warning
        .as_deref()
        .expect("locate warns");
    assert!(
        warning.contains("too few for a reliable verdict"),
        "{warning}"
    );
    assert!(
        located.stderr.contains(&format!("warning: {warning}")),
        "{}",
        located.stderr
    );
    assert!(
        located.text.contains(&format!("warning: {warning}")),
        "{}",
        located.text
    );
}
