//! `diff::fold_differential` and `diff::render_diff_svg` on synthetic recordings.

use bpprof_analysis::diff::{
    fold_differential, render_diff_svg, DiffError, DiffFolded, DiffOptions, DiffUnit, Normalize,
    Side,
};
use bpprof_analysis::flame::{FlameError, FlameOptions, Mode, Selection, SvgOptions};
use bpprof_analysis::synth::{Load, Synth};
use bpprof_format::{Recording, SampleState};

use SampleState::{Busy, Idle};

/// Intervals per recording; the first one is skipped by the default range.
const INTERVALS: usize = 5;

/// One subtask `Work#0` that spends, per interval, `stacks[i].1` samples in `main;stacks[i].0`
/// (busy, on CPU), and receives `records` records, sampled at `hz`.
fn run(hz: u32, records: u64, stacks: &[(&str, u32)]) -> Recording {
    let mut synth = Synth::new();
    synth.sample_hz(hz);
    let work = synth.subtask("Work", 0, 1);
    for _ in 0..INTERVALS {
        for &(name, count) in stacks {
            synth.sample(work, Busy, true, &["main", name], count);
        }
        synth.interval(&[(work, Load::new(0.9, 0.0).records(records, records))]);
    }
    synth.recording()
}

fn work0() -> DiffOptions {
    DiffOptions {
        flame: FlameOptions {
            selection: Selection::parse_subtask("Work#0").unwrap(),
            ..FlameOptions::default()
        },
        ..DiffOptions::default()
    }
}

fn svg(diff: &DiffFolded) -> String {
    let mut out = Vec::new();
    render_diff_svg(diff, &SvgOptions::default(), &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let xml = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..roxmltree::ParsingOptions::default()
    };
    roxmltree::Document::parse_with_options(&text, xml).expect("well-formed SVG");
    text
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

/// `rgb(r,g,b)` as numbers.
fn rgb(fill: &str) -> (u8, u8, u8) {
    let inner = fill
        .strip_prefix("rgb(")
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or_else(|| panic!("not rgb(): {fill}"));
    let parts: Vec<u8> = inner
        .split(',')
        .map(|p| p.trim().parse().unwrap())
        .collect();
    (parts[0], parts[1], parts[2])
}

fn is_red(fill: &str) -> bool {
    let (r, g, b) = rgb(fill);
    r == 255 && g < 250 && g == b
}

fn is_blue(fill: &str) -> bool {
    let (r, g, b) = rgb(fill);
    b == 255 && r < 250 && r == g
}

#[test]
fn per_record_a_stack_that_doubles_doubles_and_the_others_stay() {
    let base = run(100, 1000, &[("a", 100), ("b", 100)]);
    let current = run(100, 1000, &[("a", 100), ("b", 200)]);
    let diff = fold_differential(&base, &current, &work0()).unwrap();
    // 4 intervals of 100 samples at 100 Hz over 4,000 records: 1 ms = 1,000,000 ns per record.
    assert_eq!(diff.unit, DiffUnit::PerRecord { exponent: 9 });
    assert_eq!(diff.stacks["[busy];main;a"], (1_000_000, 1_000_000));
    assert_eq!(diff.stacks["[busy];main;b"], (1_000_000, 2_000_000));
    assert_eq!(diff.totals(), (2_000_000, 3_000_000));
    assert!((diff.change().unwrap() - 0.5).abs() < 1e-12);
    assert_eq!(diff.base.records, 4000);
    assert_eq!(diff.current.records, 4000);
    let title = diff.title();
    assert_eq!(title, "Work#0: CURRENT vs BASE, +50.0% time per record");
    assert!(
        diff.subtitle()
            .starts_with("widths: ns per record in CURRENT"),
        "{}",
        diff.subtitle()
    );

    let text = svg(&diff);
    assert!(text.contains(&title), "title in the SVG");
    assert!(text.contains("ns per record"), "unit in the tooltips");
    assert!(is_red(&fill_of(&text, "b").unwrap()), "b grew: red");
    assert_eq!(fill_of(&text, "a").as_deref(), Some("rgb(250,250,250)"));
}

#[test]
fn sample_totals_would_blame_the_unchanged_stack() {
    // The same two runs, normalised by sample totals as inferno-diff-folded does: BASE (200
    // samples per interval) is scaled to CURRENT's 300, so `a` seems to shrink by a third.
    let base = run(100, 1000, &[("a", 100), ("b", 100)]);
    let current = run(100, 1000, &[("a", 100), ("b", 200)]);
    let options = DiffOptions {
        normalize: Normalize::Samples,
        ..work0()
    };
    let diff = fold_differential(&base, &current, &options).unwrap();
    assert_eq!(diff.unit, DiffUnit::Samples);
    assert_eq!(diff.stacks["[busy];main;a"], (600, 400));
    assert_eq!(diff.stacks["[busy];main;b"], (600, 800));
    assert_eq!(diff.change(), None);
    assert!(diff.title().ends_with("normalised by sample totals"));
    let text = svg(&diff);
    assert!(is_blue(&fill_of(&text, "a").unwrap()), "a looks smaller");
}

#[test]
fn twice_the_records_with_twice_the_samples_is_no_change_per_record() {
    let base = run(100, 1000, &[("a", 100), ("b", 50)]);
    let current = run(100, 2000, &[("a", 200), ("b", 100)]);
    let diff = fold_differential(&base, &current, &work0()).unwrap();
    for (stack, (before, after)) in &diff.stacks {
        assert_eq!(before, after, "{stack}");
    }
    assert_eq!(diff.change(), Some(0.0));
    assert!(diff.title().ends_with("+0.0% time per record"));
    // The raw sample counts differ by 2x: only the record counts make them comparable.
    assert_eq!(diff.current.samples, 2 * diff.base.samples);
    let text = svg(&diff);
    assert_eq!(fill_of(&text, "a").as_deref(), Some("rgb(250,250,250)"));
    assert_eq!(fill_of(&text, "b").as_deref(), Some("rgb(250,250,250)"));
}

#[test]
fn different_sampling_rates_are_normalised_away() {
    let base = run(100, 1000, &[("a", 100)]);
    let current = run(200, 1000, &[("a", 200)]);
    let diff = fold_differential(&base, &current, &work0()).unwrap();
    let (before, after) = diff.stacks["[busy];main;a"];
    assert_eq!(before, after);
    assert!(
        diff.subtitle()
            .ends_with("CURRENT: 800 samples at 200 Hz, 4,000 records · BASE: 400 samples at 100 Hz, 4,000 records"),
        "{}",
        diff.subtitle()
    );
}

#[test]
fn new_and_vanished_frames_are_kept_with_zero_on_the_other_side() {
    let base = run(100, 1000, &[("kept", 100), ("vanished", 40)]);
    let current = run(100, 1000, &[("kept", 100), ("new", 60)]);
    let diff = fold_differential(&base, &current, &work0()).unwrap();
    let (gone_before, gone_after) = diff.stacks["[busy];main;vanished"];
    assert!(gone_before > 0);
    assert_eq!(gone_after, 0);
    let (new_before, new_after) = diff.stacks["[busy];main;new"];
    assert_eq!(new_before, 0);
    assert!(new_after > 0);
    let lines: Vec<String> = diff.lines().collect();
    assert!(lines.contains(&format!("[busy];main;vanished {gone_before} 0")));
    assert!(lines.contains(&format!("[busy];main;new 0 {new_after}")));

    // Widths from CURRENT: the vanished frame has no width, the new one is red.
    let text = svg(&diff);
    assert!(is_red(&fill_of(&text, "new").unwrap()));
    assert_eq!(fill_of(&text, "vanished"), None);
}

#[test]
fn negate_draws_base_with_the_same_colour_meaning() {
    let base = run(100, 1000, &[("kept", 100), ("vanished", 40)]);
    let current = run(100, 1000, &[("kept", 100), ("new", 60), ("grown", 10)]);
    let options = DiffOptions {
        negate: true,
        ..work0()
    };
    let diff = fold_differential(&base, &current, &options).unwrap();
    assert!(diff.negate);
    // The lines list CURRENT first, so that inferno takes the widths from BASE.
    let (gone_before, _) = diff.stacks["[busy];main;vanished"];
    let lines: Vec<String> = diff.lines().collect();
    assert!(lines.contains(&format!("[busy];main;vanished 0 {gone_before}")));
    assert!(diff.subtitle().contains("per record in BASE"));

    let text = svg(&diff);
    assert!(
        is_blue(&fill_of(&text, "vanished").unwrap()),
        "less in CURRENT: blue"
    );
    assert_eq!(fill_of(&text, "new"), None, "no width in BASE");

    // Without --negate the same data colours the same way where both are drawn.
    let plain = fold_differential(&base, &current, &work0()).unwrap();
    let plain_text = svg(&plain);
    assert!(is_red(&fill_of(&plain_text, "new").unwrap()));
    assert_ne!(text, plain_text);
}

#[test]
fn default_selection_is_the_bottleneck_of_current_in_both() {
    // Source -> Sink. In CURRENT, Sink is the bottleneck (busy, Source backpressured); in BASE
    // nothing is, but Sink#0 is still what is compared.
    let pipeline = |sink_busy: f64, source_bp: f64, sink_samples: u32| {
        let mut synth = Synth::new();
        let source = synth.subtask("Source", 0, 1);
        let sink = synth.subtask("Sink", 0, 1);
        synth.channel("events", 100, &[source], &[sink]);
        for _ in 0..INTERVALS {
            synth.sample(sink, Busy, true, &["main", "sink", "write"], sink_samples);
            synth.sample(
                sink,
                Idle,
                false,
                &["main", "sink", "recv"],
                99 - sink_samples,
            );
            synth.sample(source, Busy, true, &["main", "source", "read"], 50);
            synth.interval(&[
                (source, Load::new(0.1, source_bp).records(0, 1000)),
                (sink, Load::new(sink_busy, 0.0).records(1000, 0)),
            ]);
        }
        synth.recording()
    };
    let base = pipeline(0.3, 0.0, 30);
    let current = pipeline(0.98, 0.88, 97);
    let diff = fold_differential(&base, &current, &DiffOptions::default()).unwrap();
    assert_eq!(diff.current.selection.label(), "Sink#0");
    assert!(diff.current.selection.bottleneck.is_some());
    assert_eq!(diff.base.selection.label(), "Sink#0");
    assert_eq!(diff.base.selection.bottleneck, None, "explicit in BASE");
    assert_eq!(diff.file_name("svg"), "diff-Sink-0.svg");
    assert!(diff.stacks.keys().all(|s| !s.contains("source")));
    assert!(diff.title().starts_with("Sink#0: CURRENT vs BASE, "));
}

#[test]
fn a_subtask_missing_in_base_lists_base_subtasks() {
    let base = run(100, 1000, &[("a", 100)]);
    let mut synth = Synth::new();
    let work = synth.subtask("Work", 0, 2);
    let other = synth.subtask("Work", 1, 2);
    for _ in 0..INTERVALS {
        synth.sample(other, Busy, true, &["main", "a"], 10);
        synth.interval(&[
            (work, Load::new(0.5, 0.0).records(10, 10)),
            (other, Load::new(0.5, 0.0).records(10, 10)),
        ]);
    }
    let current = synth.recording();
    let options = DiffOptions {
        flame: FlameOptions {
            selection: Selection::parse_subtask("Work#1").unwrap(),
            ..FlameOptions::default()
        },
        ..DiffOptions::default()
    };
    let error = fold_differential(&base, &current, &options).unwrap_err();
    match &error {
        DiffError::Fold {
            side: Side::Base,
            error: FlameError::UnknownSubtask { available, .. },
            ..
        } => assert_eq!(available, &["Work#0"]),
        other => panic!("{other:?}"),
    }
    assert!(error
        .to_string()
        .starts_with("in BASE: unknown subtask 'Work#1'"));

    // Missing in CURRENT: reported for CURRENT.
    let error = fold_differential(&current, &base, &options).unwrap_err();
    assert!(matches!(
        error,
        DiffError::Fold {
            side: Side::Current,
            ..
        }
    ));
}

#[test]
fn no_records_needs_sample_normalisation() {
    let base = run(100, 0, &[("a", 100)]);
    let current = run(100, 1000, &[("a", 100)]);
    let error = fold_differential(&base, &current, &work0()).unwrap_err();
    assert!(
        matches!(&error, DiffError::NoRecords { side: Side::Base, label, .. } if label == "Work#0"),
        "{error:?}"
    );
    assert!(error.to_string().contains("needs record counts"));
    let options = DiffOptions {
        normalize: Normalize::Samples,
        ..work0()
    };
    let diff = fold_differential(&base, &current, &options).unwrap();
    assert_eq!(diff.stacks["[busy];main;a"], (400, 400));
}

#[test]
fn no_samples_in_one_side_is_a_fold_error() {
    let mut synth = Synth::new();
    let work = synth.subtask("Work", 0, 1);
    for _ in 0..INTERVALS {
        synth.interval(&[(work, Load::new(0.5, 0.0).records(10, 10))]);
    }
    let unsampled = synth.recording();
    let sampled = run(100, 1000, &[("a", 100)]);
    let error = fold_differential(&unsampled, &sampled, &work0()).unwrap_err();
    assert!(
        matches!(
            error,
            DiffError::Fold {
                side: Side::Base,
                error: FlameError::NoSamples { .. },
                ..
            }
        ),
        "{error:?}"
    );
}

#[test]
fn the_unit_keeps_six_digits_for_cheap_records() {
    // 10 samples at 100 Hz over a million records per interval: 100 ns per record.
    let base = run(100, 1_000_000, &[("a", 10)]);
    let current = run(100, 1_000_000, &[("a", 10), ("rare", 1)]);
    let diff = fold_differential(&base, &current, &work0()).unwrap();
    assert_eq!(diff.unit, DiffUnit::PerRecord { exponent: 15 });
    let (before, after) = diff.stacks["[busy];main;a"];
    assert_eq!((before, after), (100_000_000, 100_000_000));
    assert_eq!(diff.stacks["[busy];main;rare"], (0, 10_000_000));
}

#[test]
fn modes_and_titles_name_what_is_measured() {
    let base = run(100, 1000, &[("a", 100)]);
    let current = run(100, 1000, &[("a", 125)]);
    let mut options = work0();
    options.flame.mode = Mode::OnCpu;
    options.base_name = "before.bpprof".into();
    options.current_name = "after.bpprof".into();
    let diff = fold_differential(&base, &current, &options).unwrap();
    assert_eq!(
        diff.title(),
        "Work#0: after.bpprof vs before.bpprof, +25.0% CPU per record"
    );
    assert!(diff
        .subtitle()
        .starts_with("widths: ns of CPU per record in after.bpprof; red: more than in before.bpprof, blue: less · after.bpprof: 500 samples, 4,000 records · before.bpprof: 400 samples, 4,000 records"));
    assert!(diff.stacks.contains_key("main;a"), "no state root on CPU");
    let text = svg(&diff);
    assert!(text.contains("after.bpprof vs before.bpprof"));
}
