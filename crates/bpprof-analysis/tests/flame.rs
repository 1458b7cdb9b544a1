//! `flame::fold` and `flame::render_svg` on synthetic recordings with stack samples.

use bpprof_analysis::flame::{
    fold, render_svg, FlameError, FlameOptions, Folded, Mode, NoSamplesReason, Selection,
    SvgOptions, BUSY_COLOR, IDLE_COLOR,
};
use bpprof_analysis::synth::{Load, Synth};
use bpprof_analysis::BottleneckKind;
use bpprof_format::{Recording, SampleState};

use SampleState::{Backpressured, Busy, Idle};

const INTERVALS: usize = 5;

/// Source -> Enrich (2 subtasks) -> Sink; Enrich is the bottleneck (Enrich#1 the busiest).
/// Per interval:
/// * Enrich#0: busy on CPU in `hash` 40 and `parse` 20, idle off CPU in `recv` 10;
/// * Enrich#1: busy on CPU in `hash` 30, busy off CPU in `lookup` 15, idle in `recv` 5;
/// * Source: backpressured off CPU in `send` 90, busy in `only_in_source` 9.
fn pipeline() -> Synth {
    let mut synth = Synth::new();
    let source = synth.subtask("Source", 0, 1);
    let enrich0 = synth.subtask("Enrich", 0, 2);
    let enrich1 = synth.subtask("Enrich", 1, 2);
    let sink = synth.subtask("Sink", 0, 1);
    synth.channel("raw", 100, &[source], &[enrich0, enrich1]);
    synth.channel("enriched", 100, &[enrich0, enrich1], &[sink]);
    for _ in 0..INTERVALS {
        synth.sample(enrich0, Busy, true, &["main", "enrich", "hash"], 40);
        synth.sample(enrich0, Busy, true, &["main", "enrich", "parse"], 20);
        synth.sample(enrich0, Idle, false, &["main", "enrich", "recv"], 10);
        synth.sample(enrich1, Busy, true, &["main", "enrich", "hash"], 30);
        synth.sample(enrich1, Busy, false, &["main", "enrich", "lookup"], 15);
        synth.sample(enrich1, Idle, false, &["main", "enrich", "recv"], 5);
        synth.sample(
            source,
            Backpressured,
            false,
            &["main", "source", "send"],
            90,
        );
        synth.sample(source, Busy, true, &["main", "only_in_source"], 9);
        synth.interval(&[
            (source, Load::new(0.09, 0.9)),
            (enrich0, Load::new(0.85, 0.0)),
            (enrich1, Load::new(0.9, 0.0)),
            (sink, Load::new(0.2, 0.0)),
        ]);
    }
    synth
}

fn subtask(name: &str) -> FlameOptions {
    FlameOptions {
        selection: Selection::parse_subtask(name).unwrap(),
        ..FlameOptions::default()
    }
}

fn svg(folded: &Folded) -> String {
    let mut out = Vec::new();
    render_svg(folded, &SvgOptions::default(), &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// The fill of the `<rect>` of the frame whose tooltip starts with `name (`.
fn fill_of(svg: &str, name: &str) -> Option<String> {
    let title = format!("<title>{name} (");
    let at = svg.find(&title)?;
    let rest = &svg[at..];
    let fill = rest.find("fill=\"")? + "fill=\"".len();
    let end = rest[fill..].find('"')?;
    Some(rest[fill..fill + end].to_owned())
}

fn rgb(c: inferno::flamegraph::color::Color) -> String {
    format!("rgb({},{},{})", c.r, c.g, c.b)
}

#[test]
fn attribution_two_to_one_gives_two_thirds_and_one_third() {
    let mut synth = Synth::new();
    let a = synth.subtask("Work", 0, 1);
    for _ in 0..4 {
        synth.sample(a, Busy, true, &["main", "work", "f"], 66);
        synth.sample(a, Busy, true, &["main", "work", "g"], 33);
        synth.interval(&[(a, Load::new(1.0, 0.0))]);
    }
    let folded = fold(&synth.recording(), &subtask("Work#0")).unwrap();
    let f = folded.stacks["[busy];main;work;f"] as f64;
    let g = folded.stacks["[busy];main;work;g"] as f64;
    let total = folded.samples as f64;
    assert_eq!(folded.samples, 3 * 99, "the first interval is skipped");
    assert!((f / total - 2.0 / 3.0).abs() < 1e-9, "{f}/{total}");
    assert!((g / total - 1.0 / 3.0).abs() < 1e-9, "{g}/{total}");
}

#[test]
fn a_function_of_another_subtask_never_appears() {
    let recording = pipeline().recording();
    let folded = fold(&recording, &subtask("Enrich#0")).unwrap();
    assert!(folded.stacks.keys().all(|s| !s.contains("only_in_source")));
    assert!(
        folded.stacks.keys().all(|s| !s.contains("lookup")),
        "lookup is Enrich#1's"
    );
    assert!(!svg(&folded).contains("only_in_source"));
    let source = fold(&recording, &subtask("Source#0")).unwrap();
    assert!(source.stacks.keys().any(|s| s.contains("only_in_source")));
}

#[test]
fn task_merges_its_subtasks() {
    let recording = pipeline().recording();
    let options = FlameOptions {
        selection: Selection::Task("Enrich".into()),
        ..FlameOptions::default()
    };
    let folded = fold(&recording, &options).unwrap();
    let n = (INTERVALS - 1) as u64;
    assert_eq!(folded.stacks["[busy];main;enrich;hash"], 70 * n);
    assert_eq!(folded.stacks["[busy];main;enrich;lookup"], 15 * n);
    assert_eq!(folded.stacks["[idle];main;enrich;recv"], 15 * n);
    assert_eq!(folded.samples, 120 * n);
    assert_eq!(folded.selection.subtask_names(), ["Enrich#0", "Enrich#1"]);
    assert_eq!(folded.selection.file_name("svg"), "flame-Enrich.svg");
    // Ratios of the two subtasks together: busy (0.85 + 0.9) / 2.
    assert!((folded.busy.unwrap() - 0.875).abs() < 1e-9);
    assert!(
        folded.title().starts_with("Enrich (2 subtasks): busy 88%"),
        "{}",
        folded.title()
    );
}

#[test]
fn registrations_of_the_same_subtask_are_merged() {
    let mut synth = Synth::new();
    let first = synth.subtask("Pool", 0, 1);
    synth.sample(first, Busy, true, &["a"], 1);
    synth.interval(&[(first, Load::new(1.0, 0.0))]);
    synth.sample(first, Busy, true, &["a"], 10);
    synth.interval(&[(first, Load::new(1.0, 0.0))]);
    let second = synth.subtask("Pool", 0, 1);
    synth.sample(second, Busy, true, &["a"], 20);
    synth.interval(&[(second, Load::new(1.0, 0.0))]);
    let folded = fold(&synth.recording(), &subtask("Pool#0")).unwrap();
    // Three intervals: skipping the first would leave less than 75% of the run, so all are drawn.
    assert_eq!(folded.stacks["[busy];a"], 31);
}

#[test]
fn mixed_mode_roots_are_the_states_with_fixed_colours() {
    let recording = pipeline().recording();
    let folded = fold(&recording, &subtask("Enrich#0")).unwrap();
    assert_eq!(folded.mode, Mode::Mixed);
    assert!(folded
        .stacks
        .keys()
        .all(|s| s.starts_with("[busy];") || s.starts_with("[idle];")));
    let text = svg(&folded);
    assert!(text.starts_with("<?xml") || text.starts_with("<svg"));
    assert!(text.trim_end().ends_with("</svg>"));
    assert!(text.contains(&folded.title()), "title in the SVG");
    assert!(folded
        .title()
        .starts_with("Enrich#0: busy 85%, backpressured 0%, idle 15%"));
    assert!(text.contains("samples at 99 Hz"), "subtitle in the SVG");
    assert_eq!(fill_of(&text, "[idle]"), Some(rgb(IDLE_COLOR)));
    assert_eq!(fill_of(&text, "[busy]"), Some(rgb(BUSY_COLOR)));

    let source = fold(&recording, &subtask("Source#0")).unwrap();
    let text = svg(&source);
    assert_eq!(
        fill_of(&text, "[backpressured]"),
        Some(rgb(bpprof_analysis::flame::BACKPRESSURED_COLOR))
    );
}

#[test]
fn on_and_off_cpu_modes_filter_and_drop_the_state_root() {
    let recording = pipeline().recording();
    let n = (INTERVALS - 1) as u64;
    let on = fold(
        &recording,
        &FlameOptions {
            mode: Mode::OnCpu,
            ..subtask("Enrich#1")
        },
    )
    .unwrap();
    assert_eq!(on.stacks.len(), 1);
    assert_eq!(on.stacks["main;enrich;hash"], 30 * n);
    let off = fold(
        &recording,
        &FlameOptions {
            mode: Mode::OffCpu,
            ..subtask("Enrich#1")
        },
    )
    .unwrap();
    assert_eq!(off.stacks.len(), 2);
    assert_eq!(off.stacks["main;enrich;lookup"], 15 * n);
    assert_eq!(off.stacks["main;enrich;recv"], 5 * n);
    assert!(svg(&off).contains("off-CPU only"));
}

#[test]
fn state_filter_keeps_only_the_chosen_states() {
    let recording = pipeline().recording();
    let folded = fold(
        &recording,
        &FlameOptions {
            states: [Idle].into_iter().collect(),
            ..subtask("Enrich#0")
        },
    )
    .unwrap();
    assert_eq!(folded.stacks.len(), 1);
    assert!(folded.stacks.contains_key("[idle];main;enrich;recv"));
    assert!(folded.subtitle().contains("states: idle"));
}

#[test]
fn semicolons_and_newlines_in_frame_names_stay_one_frame() {
    let mut synth = Synth::new();
    let a = synth.subtask("Fmt", 0, 1);
    for _ in 0..2 {
        synth.sample(
            a,
            Busy,
            true,
            &[
                "main",
                "<[u8; 8] as core::fmt::Debug>::fmt",
                "odd\nname",
                "worker 12",
            ],
            7,
        );
        synth.interval(&[(a, Load::new(1.0, 0.0))]);
    }
    let folded = fold(&synth.recording(), &subtask("Fmt#0")).unwrap();
    let (stack, &count) = folded.stacks.iter().next().unwrap();
    // Both intervals are drawn: skipping the first would leave half the run.
    assert_eq!(count, 14);
    let frames: Vec<&str> = stack.split(';').collect();
    assert_eq!(
        frames,
        [
            "[busy]",
            "main",
            "<[u8\u{37e} 8] as core::fmt::Debug>::fmt",
            "odd name",
            "worker\u{a0}12"
        ]
    );
    let mut lines = Vec::new();
    folded.write_folded(&mut lines).unwrap();
    let lines = String::from_utf8(lines).unwrap();
    assert_eq!(lines.lines().count(), 1);
    assert!(lines.ends_with(" 14\n"));
    // inferno draws it as the same five frames, with the whole count.
    let text = svg(&folded);
    assert!(
        text.contains(
            "<title>&lt;[u8\u{37e} 8] as core::fmt::Debug&gt;::fmt (14 samples, 100.00%)</title>"
        ),
        "{text}"
    );
    assert!(text.contains("<title>worker\u{a0}12 (14 samples, 100.00%)</title>"));
}

#[test]
fn unknown_subtask_lists_the_available_ones_and_the_nearest() {
    let recording = pipeline().recording();
    let err = fold(&recording, &subtask("Enrich#7")).unwrap_err();
    let FlameError::UnknownSubtask {
        wanted,
        available,
        nearest,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(wanted, "Enrich#7");
    assert_eq!(available, &["Source#0", "Enrich#0", "Enrich#1", "Sink#0"]);
    assert_eq!(nearest.as_deref(), Some("Enrich#1"));
    let message = err.to_string();
    assert!(message.contains("did you mean 'Enrich#1'"), "{message}");
    assert!(
        message.contains("Source#0, Enrich#0, Enrich#1, Sink#0"),
        "{message}"
    );

    let err = fold(&recording, &subtask("enrch#0")).unwrap_err();
    assert!(
        matches!(&err, FlameError::UnknownSubtask { nearest: Some(n), .. } if n == "Enrich#0"),
        "{err:?}"
    );
    let err = fold(
        &recording,
        &FlameOptions {
            selection: Selection::Task("Sinc".into()),
            ..FlameOptions::default()
        },
    )
    .unwrap_err();
    assert!(
        matches!(&err, FlameError::UnknownTask { nearest: Some(n), .. } if n == "Sink"),
        "{err:?}"
    );
}

#[test]
fn no_samples_says_why() {
    // Sampling off.
    let mut synth = Synth::new();
    let a = synth.subtask("A", 0, 1);
    for _ in 0..3 {
        synth.interval(&[(a, Load::new(1.0, 0.0))]);
    }
    let err = fold(&synth.recording(), &subtask("A#0")).unwrap_err();
    assert!(
        matches!(
            &err,
            FlameError::NoSamples {
                reason: NoSamplesReason::SamplingOff,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("sampling off"), "{err}");

    // Samples, but not of this subtask in the range.
    let recording = pipeline().recording();
    let err = fold(&recording, &subtask("Sink#0")).unwrap_err();
    assert!(
        matches!(
            &err,
            FlameError::NoSamples {
                reason: NoSamplesReason::NoneInRange,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "no samples of Sink#0 between 1 s and 5 s: the recording has samples, but none of this \
         selection in the range"
    );

    // Filtered out.
    let err = fold(
        &recording,
        &FlameOptions {
            mode: Mode::OnCpu,
            states: [Idle].into_iter().collect(),
            ..subtask("Enrich#0")
        },
    )
    .unwrap_err();
    assert!(
        matches!(
            &err,
            FlameError::NoSamples {
                reason: NoSamplesReason::Filtered { .. },
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn range_selects_intervals_by_midpoint_but_keeps_earlier_declarations() {
    let mut synth = Synth::new();
    let a = synth.subtask("A", 0, 1);
    for i in 0..4u32 {
        // The stack is declared in the first chunk only, and used again later.
        synth.sample(a, Busy, true, &["main", "f"], 10 + i);
        synth.interval(&[(a, Load::new(1.0, 0.0))]);
    }
    let recording: Recording = synth.recording();
    let folded = fold(
        &recording,
        &FlameOptions {
            from_s: Some(2.0),
            to_s: Some(3.0),
            ..subtask("A#0")
        },
    )
    .unwrap();
    assert_eq!(folded.stacks["[busy];main;f"], 12);
    assert_eq!((folded.from_s, folded.to_s), (2.0, 3.0));
    let all = fold(
        &recording,
        &FlameOptions {
            from_s: Some(0.0),
            ..subtask("A#0")
        },
    )
    .unwrap();
    assert_eq!(all.samples, 10 + 11 + 12 + 13);
}

#[test]
fn default_selection_is_the_bottleneck() {
    let recording = pipeline().recording();
    let folded = fold(&recording, &FlameOptions::default()).unwrap();
    assert_eq!(folded.selection.label(), "Enrich#1");
    assert_eq!(folded.selection.file_name("svg"), "flame-Enrich-1.svg");
    let chosen = folded.selection.bottleneck.as_ref().unwrap();
    assert_eq!(chosen.kind, BottleneckKind::Cpu);
    assert!(!chosen.reason.is_empty());
}

#[test]
fn file_names_are_sanitised() {
    let mut synth = Synth::new();
    let a = synth.subtask("../a b/c", 2, 3);
    for _ in 0..2 {
        synth.sample(a, Busy, true, &["f"], 1);
        synth.interval(&[(a, Load::new(1.0, 0.0))]);
    }
    let folded = fold(&synth.recording(), &subtask("../a b/c#2")).unwrap();
    assert_eq!(folded.selection.file_name("svg"), "flame-_a_b_c-2.svg");
}
