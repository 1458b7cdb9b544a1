//! `bpprof flame --format pprof`, read back by a real reader: `go tool pprof` (Debian's
//! `golang-go`, installed in CI by `.ci/deps.d/10-golang.sh`). Without `go` these tests fail in CI
//! (`CI=true`) and say loudly that they were skipped elsewhere.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use bpprof_analysis::synth::{Load, Synth};
use bpprof_format::SampleState;
use common::{assert_one_error_line, bpprof, source_task_sink, text, Fixture};

/// Source -> Enrich (2 subtasks) -> Sink. The two Enrich subtasks spend their time differently,
/// so a profile of both does not have the shares of either; Enrich#1 runs an operator chain.
fn pipeline() -> Synth {
    let mut synth = Synth::new();
    let (source, enrich, sink) = source_task_sink(&mut synth, "Enrich", 2, ["in", "out"], 64);
    let (enrich0, enrich1) = (enrich[0], enrich[1]);
    let lookup = synth.operator(enrich1, "Lookup");
    for i in 0..8u32 {
        synth.sample(
            source,
            SampleState::Backpressured,
            false,
            &["main", "source", "send"],
            80,
        );
        synth.sample(
            source,
            SampleState::Busy,
            true,
            &["main", "source", "read"],
            10 + i,
        );
        synth.sample(
            enrich0,
            SampleState::Busy,
            true,
            &["main", "enrich", "hash"],
            70,
        );
        synth.sample(
            enrich0,
            SampleState::Idle,
            false,
            &["main", "enrich", "recv"],
            20,
        );
        let lookup_frames = ["main", "enrich", "lookup", "probe"];
        synth.sample_in(
            enrich1,
            Some(lookup),
            SampleState::Busy,
            true,
            &lookup_frames,
            30 + i,
        );
        synth.sample(
            enrich1,
            SampleState::Busy,
            true,
            &["main", "enrich", "hash"],
            25,
        );
        synth.sample(
            enrich1,
            SampleState::Busy,
            false,
            &["main", "enrich", "io"],
            15,
        );
        synth.sample(
            enrich1,
            SampleState::Idle,
            false,
            &["main", "enrich", "recv"],
            9,
        );
        synth.sample(
            sink,
            SampleState::Idle,
            false,
            &["main", "sink", "recv"],
            95,
        );
        synth.interval(&[
            (source, Load::new(0.1, 0.85)),
            (enrich0, Load::new(0.8, 0.0)),
            (enrich1, Load::new(0.9, 0.0).on_cpu(0.7)),
            (sink, Load::new(0.05, 0.0)),
        ]);
    }
    synth
}

/// `go`, when it runs; `None` (after a loud line) when it does not, outside CI. In CI a missing
/// `go` is a failure: the dependency script should have installed it.
fn go() -> Option<&'static str> {
    let works = Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if works {
        return Some("go");
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("`go` is missing in CI: .ci/deps.d/10-golang.sh should have installed golang-go");
    }
    eprintln!(
        "\n!!!!!!!! SKIPPED: `go` is not installed, so `go tool pprof` cannot read the profile \
         (apt-get install golang-go); in CI this test fails instead !!!!!!!!\n"
    );
    None
}

/// `go tool pprof ARGS PROFILE`, its stdout.
fn pprof(go: &str, args: &[&str], profile: &Path) -> String {
    let dir = tempfile::tempdir().expect("temporary directory");
    let out = Command::new(go)
        .args(["tool", "pprof"])
        .args(args)
        .arg(profile)
        // pprof keeps fetched profiles and its settings there; nothing of the user's.
        .env("PPROF_TMPDIR", dir.path())
        .env("HOME", dir.path())
        .env("GOCACHE", dir.path().join("cache"))
        .output()
        .expect("go tool pprof runs");
    assert!(
        out.status.success(),
        "go tool pprof {args:?}: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// The flat share (percent) of every function with samples of its own in `go tool pprof -top`
/// output (callers only have a cumulative share).
fn top_shares(top: &str) -> BTreeMap<String, f64> {
    top.lines()
        .skip_while(|l| !l.trim_start().starts_with("flat"))
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let share: f64 = fields.get(1)?.strip_suffix('%')?.parse().ok()?;
            (share > 0.0).then(|| (fields[5..].join(" "), share))
        })
        .collect()
}

/// The flat share (percent) of every leaf function of folded stacks.
fn folded_shares(folded: &str) -> BTreeMap<String, f64> {
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for line in folded.lines() {
        let (stack, count) = line.rsplit_once(' ').expect("stack count");
        let leaf = stack.rsplit(';').next().expect("a frame");
        *counts.entry(leaf.to_owned()).or_default() += count.parse::<u64>().expect("count");
    }
    let total: u64 = counts.values().sum();
    counts
        .into_iter()
        .map(|(f, n)| (f, n as f64 * 100.0 / total as f64))
        .collect()
}

fn folded(rec: &str, args: &[&str]) -> String {
    let out = bpprof(&[&["flame", rec, "--folded"], args].concat());
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
}

fn export(rec: &str, args: &[&str], path: &Path) {
    let path = path.to_str().expect("utf-8 path");
    let out = bpprof(&[&["flame", rec, "--format", "pprof", "-o", path], args].concat());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("wrote pprof profile of"), "{stderr}");
}

/// Same functions, same shares within `go tool pprof`'s rounding (two decimals).
fn assert_same_shares(top: &BTreeMap<String, f64>, folded: &BTreeMap<String, f64>) {
    assert_eq!(
        top.keys().collect::<Vec<_>>(),
        folded.keys().collect::<Vec<_>>(),
        "functions of pprof -top and of --folded"
    );
    for (function, share) in folded {
        assert!(
            (top[function] - share).abs() <= 0.006,
            "{function}: pprof {}%, folded {share:.3}%",
            top[function]
        );
    }
}

#[test]
fn pprof_top_of_a_subtask_has_the_shares_of_folded_stacks() {
    let Some(go) = go() else { return };
    let rec = Fixture::new("run.bpprof", &pipeline().bytes());
    let dir = tempfile::tempdir().unwrap();
    let all = dir.path().join("all.pb.gz");
    export(rec.arg(), &[], &all);

    for subtask in ["Enrich#1", "Enrich#0", "Source#0"] {
        let focus = format!("-tagfocus=subtask={subtask}");
        let args = ["-top", "-nodecount=100", "-relative_percentages", &focus];
        let top = top_shares(&pprof(go, &args, &all));
        let expected = folded_shares(&folded(rec.arg(), &["--subtask", subtask]));
        assert_same_shares(&top, &expected);
    }

    // A profile of one subtask alone, filtered as the flame graph is.
    let one = dir.path().join("enrich1.pb.gz");
    let filters = [
        "--subtask",
        "Enrich#1",
        "--mode",
        "on-cpu",
        "--state",
        "busy",
    ];
    export(rec.arg(), &filters, &one);
    let top = top_shares(&pprof(go, &["-top"], &one));
    assert_same_shares(&top, &folded_shares(&folded(rec.arg(), &filters)));
}

#[test]
fn pprof_profile_has_labels_sample_types_and_period() {
    let Some(go) = go() else { return };
    let rec = Fixture::new("run.bpprof", &pipeline().bytes());
    let dir = tempfile::tempdir().unwrap();
    let all = dir.path().join("all.pb.gz");
    export(rec.arg(), &[], &all);

    let tags = pprof(go, &["-tags"], &all);
    for expected in [
        "task:",
        "Enrich",
        "subtask:",
        "Enrich#1",
        "Sink#0",
        "state:",
        "backpressured",
        "idle",
        "busy",
        "cpu:",
        "on",
        "off",
        "operator:",
        "Lookup",
    ] {
        assert!(tags.contains(expected), "{expected} in {tags}");
    }

    let raw = pprof(go, &["-raw"], &all);
    assert!(raw.contains("PeriodType: wall nanoseconds"), "{raw}");
    // 99 Hz, the synthetic recording's rate.
    assert!(raw.contains("Period: 10101010"), "{raw}");
    // Seven 1-second intervals after the first.
    assert!(raw.contains("Duration: 7s"), "{raw}");
    // Two sample types, samples the default (the shares of `bpprof flame`).
    assert!(
        raw.contains("samples/count[dflt] wall/nanoseconds"),
        "{raw}"
    );

    // The operator label picks the samples taken inside the operator: only `probe`.
    let top = top_shares(&pprof(go, &["-top", "-tagfocus=operator=Lookup"], &all));
    assert_eq!(top.keys().collect::<Vec<_>>(), ["probe"], "{top:?}");
    // Wall time: each of the four subtasks stands for the 7 s it was measured, Enrich#1 too.
    let wall = pprof(
        go,
        &[
            "-top",
            "-sample_index=wall",
            "-tagfocus=subtask=Enrich#1",
            "-unit=ms",
        ],
        &all,
    );
    assert!(wall.contains("Total samples = 28000ms"), "{wall}");
    assert!(wall.contains("accounting for 7000ms"), "{wall}");
}

#[test]
fn pprof_export_errors_are_one_line() {
    let rec = Fixture::new("run.bpprof", &pipeline().bytes());
    let out = bpprof(&[
        "flame",
        rec.arg(),
        "--format",
        "pprof",
        "--subtask",
        "Enrich#7",
    ]);
    assert_one_error_line(&out, "unknown subtask 'Enrich#7'");
    let out = bpprof(&["flame", rec.arg(), "--format", "pprof", "--folded"]);
    assert_one_error_line(&out, "--folded");
    let out = bpprof(&["flame", rec.arg(), "--format", "pprof", "-o", rec.arg()]);
    assert_one_error_line(&out, "is an input of this command");
}
