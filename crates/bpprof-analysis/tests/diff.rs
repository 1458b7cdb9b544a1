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

/// One subtask `Work#0` that spends, per 1-second interval, `stacks[i].1` samples in
/// `main;stacks[i].0` (busy, on CPU), sampled at `hz`, and receives `records` records. Its CPU
/// time is what the samples say (one period each: an idle machine), and it is busy exactly
/// then; the rest of the interval it is idle, off CPU (`main;recv`), so that mixed mode's wall
/// time is sampled consistently too.
fn run(hz: u32, records: u64, stacks: &[(&str, u32)]) -> Recording {
    let on_cpu: u32 = stacks.iter().map(|&(_, count)| count).sum();
    assert!(
        on_cpu <= hz,
        "{on_cpu} samples at {hz} Hz are more than 1 s"
    );
    let busy = f64::from(on_cpu) / f64::from(hz);
    let mut synth = Synth::new();
    synth.sample_hz(hz);
    let work = synth.subtask("Work", 0, 1);
    for _ in 0..INTERVALS {
        for &(name, count) in stacks {
            synth.sample(work, Busy, true, &["main", name], count);
        }
        if on_cpu < hz {
            synth.sample(work, Idle, false, &["main", "recv"], hz - on_cpu);
        }
        let load = Load::new(busy, 0.0).on_cpu(busy);
        synth.interval(&[(work, load.records(records, records))]);
    }
    synth.recording()
}

/// `Work#0`, on CPU.
fn work0() -> DiffOptions {
    DiffOptions {
        flame: FlameOptions {
            selection: Selection::parse_subtask("Work#0").unwrap(),
            mode: Mode::OnCpu,
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
    let base = run(1000, 100, &[("a", 100), ("b", 100)]);
    let current = run(1000, 100, &[("a", 100), ("b", 200)]);
    let diff = fold_differential(&base, &current, &work0()).unwrap();
    // 4 intervals of 100 samples of 1 ms of CPU over 400 records: 1 ms = 1,000,000 ns per record.
    assert_eq!(diff.unit, DiffUnit::PerRecord { exponent: 9 });
    assert_eq!(diff.stacks["main;a"], (1_000_000, 1_000_000));
    assert_eq!(diff.stacks["main;b"], (1_000_000, 2_000_000));
    assert_eq!(diff.totals(), (2_000_000, 3_000_000));
    assert!((diff.change().unwrap() - 0.5).abs() < 1e-12);
    assert_eq!(diff.base.records, 400);
    assert_eq!(diff.current.records, 400);
    let title = diff.title();
    assert_eq!(title, "Work#0: CURRENT vs BASE, +50.0% CPU per record");
    assert!(
        diff.subtitle()
            .starts_with("widths: ns of CPU per record in CURRENT"),
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
    let base = run(1000, 100, &[("a", 100), ("b", 100)]);
    let current = run(1000, 100, &[("a", 100), ("b", 200)]);
    let options = DiffOptions {
        normalize: Normalize::Samples,
        ..work0()
    };
    let diff = fold_differential(&base, &current, &options).unwrap();
    assert_eq!(diff.unit, DiffUnit::Samples);
    assert_eq!(diff.stacks["main;a"], (600, 400));
    assert_eq!(diff.stacks["main;b"], (600, 800));
    assert_eq!(diff.change(), None);
    assert!(diff.title().ends_with("normalised by sample totals"));
    let text = svg(&diff);
    assert!(is_blue(&fill_of(&text, "a").unwrap()), "a looks smaller");
}

#[test]
fn twice_the_records_with_twice_the_samples_is_no_change_per_record() {
    let base = run(1000, 1000, &[("a", 100), ("b", 50)]);
    let current = run(1000, 2000, &[("a", 200), ("b", 100)]);
    let diff = fold_differential(&base, &current, &work0()).unwrap();
    for (stack, (before, after)) in &diff.stacks {
        assert_eq!(before, after, "{stack}");
    }
    assert_eq!(diff.change(), Some(0.0));
    assert!(diff.title().ends_with("+0.0% CPU per record"));
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
    let (before, after) = diff.stacks["main;a"];
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
    let base = run(1000, 1000, &[("kept", 100), ("vanished", 40)]);
    let current = run(1000, 1000, &[("kept", 100), ("new", 60)]);
    let diff = fold_differential(&base, &current, &work0()).unwrap();
    let (gone_before, gone_after) = diff.stacks["main;vanished"];
    assert!(gone_before > 0);
    assert_eq!(gone_after, 0);
    let (new_before, new_after) = diff.stacks["main;new"];
    assert_eq!(new_before, 0);
    assert!(new_after > 0);
    let lines: Vec<String> = diff.lines().collect();
    assert!(lines.contains(&format!("main;vanished {gone_before} 0")));
    assert!(lines.contains(&format!("main;new 0 {new_after}")));

    // Widths from CURRENT: the vanished frame has no width, the new one is red.
    let text = svg(&diff);
    assert!(is_red(&fill_of(&text, "new").unwrap()));
    assert_eq!(fill_of(&text, "vanished"), None);
}

#[test]
fn negate_draws_base_with_the_same_colour_meaning() {
    let base = run(1000, 1000, &[("kept", 100), ("vanished", 40)]);
    let current = run(1000, 1000, &[("kept", 100), ("new", 60), ("grown", 10)]);
    let options = DiffOptions {
        negate: true,
        ..work0()
    };
    let diff = fold_differential(&base, &current, &options).unwrap();
    assert!(diff.negate);
    // The lines list CURRENT first, so that inferno takes the widths from BASE.
    let (gone_before, _) = diff.stacks["main;vanished"];
    let lines: Vec<String> = diff.lines().collect();
    assert!(lines.contains(&format!("main;vanished 0 {gone_before}")));
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
    assert_eq!(diff.stacks["main;a"], (400, 400));
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
    let (before, after) = diff.stacks["main;a"];
    assert_eq!((before, after), (100_000_000, 100_000_000));
    assert_eq!(diff.stacks["main;rare"], (0, 10_000_000));
}

#[test]
fn modes_and_titles_name_what_is_measured() {
    let base = run(1000, 100, &[("a", 100)]);
    let current = run(1000, 100, &[("a", 125)]);
    let mut options = work0();
    options.base_name = "before.bpprof".into();
    options.current_name = "after.bpprof".into();
    let diff = fold_differential(&base, &current, &options).unwrap();
    assert_eq!(
        diff.title(),
        "Work#0: after.bpprof vs before.bpprof, +25.0% CPU per record"
    );
    assert!(diff
        .subtitle()
        .starts_with("widths: ns of CPU per record in after.bpprof; red: more than in before.bpprof, blue: less · after.bpprof: 500 samples, 400 records · before.bpprof: 400 samples, 400 records"));
    assert!(diff.stacks.contains_key("main;a"), "no state root on CPU");
    let text = svg(&diff);
    assert!(text.contains("after.bpprof vs before.bpprof"));
}

/// `Work#0` spending all of every 1-second interval on CPU (1 s of CPU time, as its CPU clock
/// measures it) in `main;a` and `main;b`, processing 1,000 records, but sampled `samples` times
/// per interval at 100 Hz and state `Busy`.
fn saturated(samples: u32) -> Recording {
    let mut synth = Synth::new();
    synth.sample_hz(100);
    let work = synth.subtask("Work", 0, 1);
    for _ in 0..INTERVALS {
        synth.sample(work, Busy, true, &["main", "a"], samples / 2);
        synth.sample(work, Busy, true, &["main", "b"], samples - samples / 2);
        let load = Load::new(1.0, 0.0).on_cpu(1.0).records(1000, 1000);
        synth.interval(&[(work, load)]);
    }
    synth.recording()
}

#[test]
fn samples_stand_for_the_measured_time_not_for_the_sampling_period() {
    // The same CPU time per record on both sides, but CURRENT's sampler took three times the
    // samples for it, as a wall-clock sampler does for threads waiting for a CPU on an
    // oversubscribed machine. Each sample stands for its share of the measured CPU time: no
    // change. One sampling period per sample would have said +200%.
    let base = saturated(100);
    let current = saturated(300);
    let diff = fold_differential(&base, &current, &work0()).unwrap();
    assert_eq!(diff.current.samples, 3 * diff.base.samples);
    assert_eq!(diff.base.measured_ns, Some(4_000_000_000));
    assert_eq!(diff.current.measured_ns, Some(4_000_000_000));
    assert_eq!(diff.base.ns_per_sample(), Some(1e7));
    assert_eq!(diff.current.ns_per_sample(), Some(4e9 / 1200.0));
    let change = diff.change().unwrap();
    assert!(change.abs() < 1e-9, "{change}");
    assert_eq!(
        diff.title(),
        "Work#0: CURRENT vs BASE, +0.0% CPU per record"
    );
    // 1 s of CPU over 1,000 records: 1 ms per record, half of it in each function.
    assert_eq!(diff.unit, DiffUnit::PerRecord { exponent: 9 });
    assert_eq!(diff.stacks["main;a"], (500_000, 500_000));
    assert_eq!(diff.stacks["main;b"], (500_000, 500_000));
    assert_eq!(diff.totals(), (1_000_000, 1_000_000));
    assert!(!diff.subtitle().contains("no measured time"));

    // What the per-period normalisation said.
    let per_hz = |f: &bpprof_analysis::flame::Folded| {
        f.samples as f64 / f64::from(f.sample_hz) / f.records as f64
    };
    let old_change = per_hz(&diff.current) / per_hz(&diff.base) - 1.0;
    assert!((old_change - 2.0).abs() < 1e-9, "{old_change}");
}

#[test]
fn state_filters_keep_their_share_of_the_measured_time() {
    // Mixed mode: the samples share the wall time. BASE is busy half of every second, CURRENT
    // three quarters, for the same records: its busy time per record grew by half, its total
    // (wall) time per record did not. Both were sampled at twice the rate they should have been.
    let pipeline = |busy: u32| {
        let mut synth = Synth::new();
        synth.sample_hz(100);
        let work = synth.subtask("Work", 0, 1);
        for _ in 0..INTERVALS {
            synth.sample(work, Busy, true, &["main", "a"], 2 * busy);
            synth.sample(work, Idle, false, &["main", "recv"], 2 * (100 - busy));
            let fraction = f64::from(busy) / 100.0;
            let load = Load::new(fraction, 0.0)
                .on_cpu(fraction)
                .records(1000, 1000);
            synth.interval(&[(work, load)]);
        }
        synth.recording()
    };
    let (base, current) = (pipeline(50), pipeline(75));
    let mut options = work0();
    options.flame.mode = Mode::Mixed;
    let diff = fold_differential(&base, &current, &options).unwrap();
    assert_eq!(
        diff.title(),
        "Work#0: CURRENT vs BASE, +0.0% time per record"
    );
    // 4 s of wall time over 4,000 records, at 5 ms per sample.
    assert_eq!(diff.stacks["[busy];main;a"], (500_000, 750_000));
    assert_eq!(diff.stacks["[idle];main;recv"], (500_000, 250_000));

    options.flame.states = [Busy].into_iter().collect();
    let busy = fold_differential(&base, &current, &options).unwrap();
    assert_eq!(
        busy.current.mode_samples, 800,
        "counted before the state filter"
    );
    assert_eq!(busy.current.samples, 600);
    // Under 1 ms per record: in ps.
    assert_eq!(busy.unit, DiffUnit::PerRecord { exponent: 12 });
    assert_eq!(busy.stacks["[busy];main;a"], (500_000_000, 750_000_000));
    assert!((busy.change().unwrap() - 0.5).abs() < 1e-9);
    assert_eq!(
        busy.title(),
        "Work#0: CURRENT vs BASE, +50.0% busy time per record"
    );

    // Off CPU: wall minus CPU time, shared among the off-CPU samples.
    options.flame.mode = Mode::OffCpu;
    options.flame.states = FlameOptions::default().states;
    let off = fold_differential(&base, &current, &options).unwrap();
    assert_eq!(off.base.measured_ns, Some(2_000_000_000));
    assert_eq!(off.current.measured_ns, Some(1_000_000_000));
    assert_eq!(off.stacks["main;recv"], (500_000_000, 250_000_000));
}

#[test]
fn an_operator_keeps_its_share_of_the_measured_time() {
    // A chain of two operators in one thread, 1 s of CPU per interval; `enrich` has 3 of every 4
    // on-CPU samples in CURRENT (1 of 2 in BASE), which was sampled three times too often.
    let chain = |parse: u32, enrich: u32| {
        let mut synth = Synth::new();
        synth.sample_hz(100);
        let work = synth.subtask("Work", 0, 1);
        let parse_op = synth.operator(work, "Parse");
        let enrich_op = synth.operator(work, "Enrich");
        for _ in 0..INTERVALS {
            synth.sample_in(work, Some(parse_op), Busy, true, &["main", "parse"], parse);
            synth.sample_in(
                work,
                Some(enrich_op),
                Busy,
                true,
                &["main", "enrich"],
                enrich,
            );
            let load = Load::new(1.0, 0.0).on_cpu(1.0).records(1000, 1000);
            synth.interval(&[(work, load)]);
        }
        synth.recording()
    };
    let (base, current) = (chain(50, 50), chain(75, 225));
    let mut options = work0();
    options.flame.operator = Some("Enrich".into());
    let diff = fold_differential(&base, &current, &options).unwrap();
    assert_eq!(
        diff.current.mode_samples, 1200,
        "counted before the operator filter"
    );
    assert_eq!(diff.stacks["main;enrich"], (500_000_000, 750_000_000)); // ps
    assert!((diff.change().unwrap() - 0.5).abs() < 1e-9);
}

#[test]
fn without_measured_time_a_sample_is_one_sampling_period() {
    // An unaccounted task (its threads are not registered subtasks) has no measured time: each
    // side falls back to its sampling rate, and the subtitle says so.
    let unaccounted = |samples: u32| {
        let mut synth = Synth::new();
        synth.sample_hz(100);
        synth.task("Work", 1, true);
        let work = synth.subtask("Work", 0, 1);
        for _ in 0..INTERVALS {
            synth.sample(work, Busy, true, &["main", "a"], samples);
            synth.interval(&[(work, Load::new(1.0, 0.0).records(1000, 1000))]);
        }
        synth.recording()
    };
    let (base, current) = (unaccounted(50), unaccounted(75));
    let diff = fold_differential(&base, &current, &work0()).unwrap();
    assert_eq!(diff.base.measured_ns, None);
    assert_eq!(diff.base.ns_per_sample(), None);
    // 50 and 75 samples of 10 ms per second over 1,000 records, in ps.
    assert_eq!(diff.stacks["main;a"], (500_000_000, 750_000_000));
    assert!((diff.change().unwrap() - 0.5).abs() < 1e-9);
    assert!(
        diff.subtitle().ends_with(
            "CURRENT: 300 samples, 4,000 records, no measured time: 1/100 s per sample · BASE: 200 samples, 4,000 records, no measured time: 1/100 s per sample"
        ),
        "{}",
        diff.subtitle()
    );
}
