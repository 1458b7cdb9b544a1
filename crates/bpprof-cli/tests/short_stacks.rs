//! `bpprof locate` and `bpprof flame` on recordings whose stacks were cut short by missing frame
//! pointers: a note and a warning that say what to set, and nothing when the stacks are whole.

mod common;

use bpprof_analysis::synth::{Load, Synth};
use bpprof_format::SampleState::{Backpressured, Busy};
use common::{bpprof, chain, text, Fixture};

const DEEP: &[&str] = &[
    "start_thread",
    "<std::sys::thread::unix::Thread>::new::thread_start",
    "std::sys::backtrace::__rust_begin_short_backtrace",
    "app::enrich",
    "app::hash",
];
const CUT: &[&str] = &["start_thread", "app::hash"];

/// Source -> Enrich with Enrich's on-CPU samples on `stack`, as a recording file.
fn recording(stack: &[&str]) -> Fixture {
    let mut synth = Synth::new();
    let [source, enrich] = chain(&mut synth, ["Source", "Enrich"], &["raw"], 100);
    for _ in 0..6 {
        synth.sample(enrich, Busy, true, stack, 90);
        synth.sample(source, Backpressured, false, &["main", "send"], 90);
        synth.interval(&[
            (source, Load::new(0.09, 0.9)),
            (enrich, Load::new(0.95, 0.0)),
        ]);
    }
    Fixture::new("run.bpprof", &synth.bytes())
}

const FIX: &str = "build with RUSTFLAGS=\"-C force-frame-pointers=yes\"";

#[test]
fn locate_notes_stacks_cut_short_and_the_fix() {
    let rec = recording(CUT);
    let output = bpprof(&["locate", rec.arg()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("stacks of Enrich end after at most 2 frames"),
        "{stdout}"
    );
    assert!(stdout.contains(FIX), "{stdout}");

    let output = bpprof(&["locate", rec.arg(), "--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let finding = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "short_stacks")
        .expect("a short_stacks finding");
    assert_eq!(finding["tasks"], serde_json::json!(["Enrich"]));
    assert_eq!(finding["max_frames"], 2);
    assert!(json["notes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n.as_str().unwrap().contains(FIX)));
}

#[test]
fn flame_warns_when_the_drawn_subtask_has_stacks_cut_short() {
    let rec = recording(CUT);
    let output = bpprof(&["flame", rec.arg(), "--subtask", "Enrich#0", "--folded"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let stderr = text(&output.stderr);
    let warning = stderr
        .lines()
        .find(|l| l.contains("frame pointers"))
        .unwrap_or_else(|| panic!("no warning: {stderr}"));
    assert!(
        warning.starts_with("warning: stacks of Enrich#0 end after at most 2 frames"),
        "{warning}"
    );
    assert!(warning.contains(FIX), "{warning}");
    // The graph is drawn all the same.
    assert!(text(&output.stdout).contains("start_thread;app::hash"));
}

#[test]
fn whole_stacks_get_neither_note_nor_warning() {
    let rec = recording(DEEP);
    let locate = bpprof(&["locate", rec.arg(), "--format", "json"]);
    assert_eq!(locate.status.code(), Some(0), "{}", text(&locate.stderr));
    let json: serde_json::Value = serde_json::from_slice(&locate.stdout).unwrap();
    assert!(!json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["kind"] == "short_stacks"));
    let flame = bpprof(&["flame", rec.arg(), "--subtask", "Enrich#0", "--folded"]);
    assert_eq!(flame.status.code(), Some(0), "{}", text(&flame.stderr));
    assert!(
        !text(&flame.stderr).contains("frame pointers"),
        "{}",
        text(&flame.stderr)
    );
}
