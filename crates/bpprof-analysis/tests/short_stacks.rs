//! Stacks cut short by missing frame pointers (`bpprof_analysis::stacks`): the `short_stacks` note
//! of `locate`, on synthetic recordings shaped like real ones.

use bpprof_analysis::report::NoteKind;
use bpprof_analysis::stacks::{selection_depths, SHORT_STACKS_MIN_SAMPLES};
use bpprof_analysis::synth::{Load, Synth};
use bpprof_analysis::{locate, AnalysisOptions};
use bpprof_format::{Recording, SampleState};

use SampleState::{Backpressured, Busy};

/// What a spawned thread's stack looks like with frame pointers (from `examples/slow_operator`).
const DEEP: &[&str] = &[
    "start_thread",
    "<std::sys::thread::unix::Thread>::new::thread_start",
    "core::ops::function::FnOnce::call_once{{vtable.shim}}",
    "std::sys::backtrace::__rust_begin_short_backtrace",
    "slow_operator::enrich_record",
    "slow_operator::lookup_customer",
    "slow_operator::common::burn",
];

/// ... and without: the leaf, then glibc's thread start.
const CUT: &[&str] = &["start_thread", "slow_operator::common::burn"];

/// Source -> Enrich, Enrich the bottleneck; Enrich's on-CPU samples have `stack`.
fn pipeline(stack: &[&str], per_interval: u32) -> Recording {
    let mut synth = Synth::new();
    let source = synth.subtask("Source", 0, 1);
    let enrich = synth.subtask("Enrich", 0, 1);
    synth.channel("raw", 100, &[source], &[enrich]);
    for _ in 0..5 {
        synth.sample(enrich, Busy, true, stack, per_interval);
        synth.sample(
            source,
            Backpressured,
            false,
            &["main", "source", "send"],
            90,
        );
        synth.interval(&[
            (source, Load::new(0.09, 0.9)),
            (enrich, Load::new(0.95, 0.0)),
        ]);
    }
    synth.recording()
}

fn short_stacks_notes(recording: &Recording) -> Vec<bpprof_analysis::report::Note> {
    let report = locate(recording, &AnalysisOptions::default()).unwrap();
    let notes: Vec<_> = report
        .findings
        .iter()
        .filter(|n| n.kind == NoteKind::ShortStacks)
        .cloned()
        .collect();
    assert_eq!(
        notes.len(),
        report
            .notes
            .iter()
            .filter(|n| n.contains("frame pointers"))
            .count(),
        "every finding has its sentence: {:?}",
        report.notes
    );
    notes
}

#[test]
fn deep_stacks_get_no_short_stacks_note() {
    assert!(short_stacks_notes(&pipeline(DEEP, 90)).is_empty());
}

#[test]
fn two_frame_stacks_get_the_short_stacks_note_with_the_fix() {
    let recording = pipeline(CUT, 90);
    let notes = short_stacks_notes(&recording);
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].tasks, vec!["Enrich".to_owned()]);
    assert_eq!(notes[0].max_frames, Some(2));
    assert_eq!(notes[0].evidence[0].value, 1.0);
    let report = locate(&recording, &AnalysisOptions::default()).unwrap();
    let sentence = report.notes.last().unwrap();
    assert!(
        sentence.starts_with("stacks of Enrich end after at most 2 frames"),
        "{sentence}"
    );
    assert!(
        sentence.contains("in 100% of its on-CPU samples"),
        "{sentence}"
    );
    assert!(
        sentence.contains("RUSTFLAGS=\"-C force-frame-pointers=yes\""),
        "{sentence}"
    );
    // The bottleneck is still found.
    assert_eq!(report.bottlenecks[0].task, "Enrich");
}

#[test]
fn shallow_stacks_that_reach_main_are_not_cut_short() {
    assert!(short_stacks_notes(&pipeline(&["main", "app::burn"], 90)).is_empty());
}

/// Seen on `examples/async_tcp_sink`: a task that writes to a socket is sampled mostly inside the
/// C library's `send`, whose frame ends the walk at once, in a build with frame pointers.
#[test]
fn samples_inside_the_c_library_are_not_judged() {
    assert!(short_stacks_notes(&pipeline(&["__libc_send"], 90)).is_empty());
    assert!(short_stacks_notes(&pipeline(&["start_thread", "heap_trim"], 90)).is_empty());
    // An unresolved leaf may be the user's code: still judged.
    assert_eq!(
        short_stacks_notes(&pipeline(&["start_thread", "0x5612ab"], 90)).len(),
        1
    );
}

#[test]
fn deep_stacks_truncated_by_the_frame_limit_are_not_cut_short() {
    let deep: Vec<String> = (0..64).map(|i| format!("app::recurse_{i}")).collect();
    let deep: Vec<&str> = deep.iter().map(String::as_str).collect();
    assert!(short_stacks_notes(&pipeline(&deep, 90)).is_empty());
}

#[test]
fn too_few_samples_are_not_judged() {
    // 4 intervals analysed (the first is the warm-up): just below the minimum.
    let per_interval = (SHORT_STACKS_MIN_SAMPLES / 4 - 1) as u32;
    assert!(short_stacks_notes(&pipeline(CUT, per_interval)).is_empty());
}

#[test]
fn selection_depths_count_on_cpu_samples_of_the_selection() {
    let recording = pipeline(CUT, 90);
    let enrich = selection_depths(&recording, "Enrich", &[0], None, None).unwrap();
    assert_eq!(
        (enrich.samples, enrich.short, enrich.max_frames),
        (360, 360, 2)
    );
    assert!(enrich.cut_short());
    // Source's samples are all off-CPU: nothing to judge.
    let source = selection_depths(&recording, "Source", &[0], None, None).unwrap();
    assert_eq!(source.samples, 0);
    assert!(!source.cut_short());
}
