//! `bpprof check` on recordings and options at the edges: empty, degenerate and odd inputs must
//! give a clear error or an honest report, never a panic, a NaN or a misleading verdict.

mod common;

use bpprof_analysis::check::github::github_annotations;
use bpprof_analysis::check::human::render_check_human;
use bpprof_analysis::check::junit::render_junit;
use bpprof_analysis::check::markdown::render_check_markdown;
use bpprof_analysis::check::{
    check, Budget, CheckError, CheckInput, CheckOptions, CheckReport, Comparison, ComparisonStatus,
    Limits, Metric, Severity, Status,
};
use bpprof_analysis::synth::{Load, Pipeline, Synth};
use bpprof_analysis::AnalysisOptions;
use bpprof_format::{Recording, SampleState};
use common::Rng;

/// The job graph of a random pair: task names and parallelism, and which tasks are unaccounted.
struct Shape {
    tasks: Vec<(String, u32, bool)>,
}

const NAMES: [&str; 8] = [
    "Source",
    "Parse",
    "En rich.v2",
    "Sink#1",
    "50%",
    "naïve→λ",
    "multi\nline",
    "a|b`c*",
];

fn random_shape(rng: &mut Rng) -> Shape {
    let n = 1 + rng.below(5) as usize;
    let tasks = (0..n)
        .map(|i| {
            let name = format!("{}{i}", NAMES[rng.below(NAMES.len() as u64) as usize]);
            let parallelism = 1 + rng.below(4) as u32;
            (name, parallelism, rng.chance(0.1))
        })
        .collect();
    Shape { tasks }
}

/// One random recording of `shape`: a chain of channels, random loads and records (sometimes
/// none), subtasks missing from some intervals, sampling sometimes off, run-queue data
/// sometimes missing, and sometimes odd interval lengths.
fn random_recording(rng: &mut Rng, shape: &Shape) -> Recording {
    let mut synth = Synth::new();
    let sampling = rng.chance(0.7);
    if sampling {
        synth.sample_hz(99);
    }
    let mut ids: Vec<Vec<u32>> = Vec::new();
    for (name, parallelism, unaccounted) in &shape.tasks {
        if *unaccounted {
            synth.task(name, *parallelism, true);
        }
        ids.push(
            (0..*parallelism)
                .map(|i| synth.subtask(name, i, *parallelism))
                .collect(),
        );
    }
    if rng.chance(0.9) {
        for pair in ids.windows(2) {
            synth.channel("c", 16, &pair[0], &pair[1]);
        }
    }
    let intervals = rng.below(30) as usize;
    let rate = match rng.below(4) {
        0 => 0,
        1 => 1 + rng.below(10),
        _ => 100 + rng.below(100_000),
    };
    let runqueue = rng.chance(0.6);
    let level = rng.unit();
    for _ in 0..intervals {
        let mut loads = Vec::new();
        for (t, subtasks) in ids.iter().enumerate() {
            for &s in subtasks {
                if rng.chance(0.1) {
                    continue; // this subtask is missing from the interval
                }
                let busy = if rng.chance(0.1) {
                    [0.0, 1.0][rng.below(2) as usize]
                } else {
                    (level + 0.2 * rng.unit()).min(1.0)
                };
                let backpressured = (1.0 - busy) * rng.unit();
                let records = if rate == 0 {
                    0
                } else {
                    rate + rng.below(rate / 10 + 1)
                };
                let (records_in, records_out) = match t {
                    0 => (0, records),
                    t if t + 1 == ids.len() => (records, 0),
                    _ => (records, records),
                };
                let mut load = Load::new(busy, backpressured)
                    .on_cpu(busy * rng.unit())
                    .records(records_in, records_out);
                if runqueue {
                    load = load.runqueue(busy * 0.3 * rng.unit());
                }
                if sampling && rng.chance(0.8) {
                    let frames: &[&str] = match rng.below(3) {
                        0 => &["main", "work", "parse"],
                        1 => &["main", "work", "score"],
                        _ => &["main"],
                    };
                    synth.sample(s, SampleState::Busy, true, frames, rng.below(50) as u32);
                }
                loads.push((s, load));
            }
        }
        synth.interval(&loads);
    }
    let mut recording = synth.recording();
    // Odd interval lengths: zero-length intervals, or an interval length of 0 in the meta chunk.
    match rng.below(10) {
        0 => {
            for interval in recording.intervals.iter_mut().filter(|_| rng.chance(0.5)) {
                interval.end_ns = interval.start_ns;
            }
        }
        1 => recording.meta.interval_ns = 0,
        _ => {}
    }
    recording
}

fn random_options(rng: &mut Rng, shape: &Shape) -> CheckOptions {
    let mut options = CheckOptions {
        resamples: 100 + rng.below(200) as usize,
        seed: rng.next(),
        min_windows: 2 + rng.below(12) as usize,
        ..CheckOptions::default()
    };
    if rng.chance(0.2) {
        options.range = AnalysisOptions {
            from_s: rng.chance(0.5).then(|| rng.below(10) as f64),
            to_s: rng.chance(0.5).then(|| 10.0 + rng.below(30) as f64),
            window_s: rng.chance(0.5).then(|| 1.0 + rng.below(5) as f64),
        };
    }
    let task = &shape.tasks[rng.below(shape.tasks.len() as u64) as usize].0;
    if rng.chance(0.3) {
        let mut limits = Limits::default();
        limits.set(Some(task), Metric::CpuPerRecord, Some(0.01));
        limits.set(None, Metric::Busy, Some(0.02));
        options.limits = limits;
    }
    if rng.chance(0.3) {
        for metric in ["busy < 0.5", "records_per_s > 10", "cpu_per_record <= 100"] {
            let budget = Budget::parse(&format!("{task}.{metric}")).unwrap();
            assert_eq!(budget.task.as_ref(), Some(task));
            options.budgets.push(budget);
        }
        options
            .budgets
            .push(Budget::parse("throughput > 1k").unwrap());
    }
    options
}

fn inputs<'a>(names: &'a [String], recordings: &'a [Recording]) -> Vec<CheckInput<'a>> {
    names
        .iter()
        .zip(recordings)
        .map(|(path, recording)| CheckInput { path, recording })
        .collect()
}

/// Every f64 of the report, with where it is.
fn floats(report: &CheckReport) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    let mut push = |what: String, v: f64| out.push((what, v));
    for r in report.baseline.iter().chain(&report.current) {
        push(format!("{} duration_s", r.path), r.duration_s);
    }
    if let Some(s) = &report.statistics {
        push("confidence".into(), s.confidence);
        push("interval_level".into(), s.interval_level);
        if let Some(w) = s.window_s {
            push("window_s".into(), w);
        }
    }
    for c in report
        .throughput
        .iter()
        .chain(report.tasks.iter().flat_map(|t| &t.metrics))
    {
        let name = c.name();
        let values = [c.baseline, c.current, c.change, c.limit, c.noise]
            .into_iter()
            .flatten()
            .chain(c.interval.into_iter().flatten());
        for v in values {
            push(name.clone(), v);
        }
    }
    for f in &report.functions {
        for r in &f.rows {
            for v in [
                r.self_baseline,
                r.self_current,
                r.total_baseline,
                r.total_current,
            ] {
                push(format!("{} {}", f.task, r.function), v);
            }
        }
    }
    for b in &report.budgets {
        push(b.expression.clone(), b.bound);
        if let Some(v) = b.value {
            push(b.expression.clone(), v);
        }
    }
    out
}

/// Every number in a JSON document.
fn json_numbers(value: &serde_json::Value, out: &mut Vec<serde_json::Number>) {
    match value {
        serde_json::Value::Number(n) => out.push(n.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|v| json_numbers(v, out)),
        serde_json::Value::Object(map) => map.values().for_each(|v| json_numbers(v, out)),
        _ => {}
    }
}

#[test]
fn random_recording_pairs_never_panic_and_give_finite_numbers() {
    let mut rng = Rng(0x6368_6563_6b21);
    let (mut reports, mut errors) = (0, 0);
    for case in 0..200 {
        let shape = random_shape(&mut rng);
        let bases = 1 + rng.below(2) as usize;
        let currents = 1 + rng.below(2) as usize;
        let recordings: Vec<Recording> = (0..bases + currents)
            .map(|_| random_recording(&mut rng, &shape))
            .collect();
        let names: Vec<String> = (0..recordings.len())
            .map(|i| format!("case{case}-{i}.bpprof"))
            .collect();
        let options = random_options(&mut rng, &shape);
        let all = inputs(&names, &recordings);
        let (base, current) = all.split_at(bases);
        let base = if rng.chance(0.1) { &[][..] } else { base };
        let report = match check(base, current, &options) {
            Ok(report) => report,
            Err(e) => {
                let text = e.to_string();
                assert!(
                    !text.is_empty() && !text.contains("NaN"),
                    "case {case}: {text}"
                );
                errors += 1;
                continue;
            }
        };
        reports += 1;
        for (what, v) in floats(&report) {
            assert!(v.is_finite(), "case {case}: {what} is {v}");
        }
        let json = serde_json::to_string(&report).unwrap();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        let mut numbers = Vec::new();
        json_numbers(&value, &mut numbers);
        for n in numbers {
            assert!(n.as_f64().is_some_and(f64::is_finite), "case {case}: {n}");
        }
        let back: CheckReport = serde_json::from_str(&json)
            .unwrap_or_else(|e| panic!("case {case}: the JSON does not read back: {e}\n{json}"));
        assert_eq!(back, report, "case {case}");

        // Every renderer copes.
        let mut human = Vec::new();
        render_check_human(&report, &mut human).unwrap();
        let human = String::from_utf8(human).unwrap();
        let words = human.split(|c: char| !c.is_alphanumeric());
        assert!(
            !words.into_iter().any(|w| w == "NaN" || w == "inf"),
            "case {case}: {human}"
        );
        assert!(
            !report.summary.contains('\n') && human.starts_with(report.status.label()),
            "case {case}: {human}"
        );
        let markdown = render_check_markdown(&report, usize::MAX);
        assert!(markdown.starts_with("### bpprof check"), "case {case}");
        let junit = render_junit(&report);
        roxmltree::Document::parse(&junit)
            .unwrap_or_else(|e| panic!("case {case}: JUnit XML: {e}\n{junit}"));
        for line in github_annotations(&report) {
            assert!(!line.contains('\n'), "case {case}: {line}");
        }
    }
    // The generator makes both outcomes: reports, and errors (empty recordings, bad ranges).
    assert!(
        reports > 100 && errors > 0,
        "{reports} reports, {errors} errors"
    );
}

fn run_check(
    baseline: &[&Recording],
    current: &[&Recording],
    options: &CheckOptions,
) -> Result<CheckReport, CheckError> {
    let names: Vec<String> = (0..baseline.len() + current.len())
        .map(|i| format!("rec{i}.bpprof"))
        .collect();
    let all: Vec<CheckInput<'_>> = baseline
        .iter()
        .chain(current)
        .zip(&names)
        .map(|(&recording, path)| CheckInput { path, recording })
        .collect();
    let (b, c) = all.split_at(baseline.len());
    check(b, c, options)
}

fn options() -> CheckOptions {
    CheckOptions {
        resamples: 500,
        ..CheckOptions::default()
    }
}

fn metric<'r>(report: &'r CheckReport, task: &str, metric: Metric) -> &'r Comparison {
    report
        .tasks
        .iter()
        .find(|t| t.name == task)
        .and_then(|t| t.metrics.iter().find(|c| c.metric == metric))
        .unwrap_or_else(|| panic!("no {task} {metric:?} in {report:#?}"))
}

fn throughput(report: &CheckReport) -> &Comparison {
    report.throughput.as_ref().expect("a throughput comparison")
}

/// Source -> `task` -> Sink through instrumented channels, 30 intervals of 1 s with `records`
/// per interval, `task` busy 80% (±3%) on the CPU.
fn chain(task: &str, records: u64) -> Synth {
    let mut synth = Synth::new();
    synth.sample_hz(99);
    let source = synth.subtask("Source", 0, 1);
    let work = synth.subtask(task, 0, 1);
    let sink = synth.subtask("Sink", 0, 1);
    synth.channel("in", 16, &[source], &[work]);
    synth.channel("out", 16, &[work], &[sink]);
    for i in 0..30 {
        let busy = 0.8 + f64::from(i % 3) * 0.01;
        synth.sample(work, SampleState::Busy, true, &["main", "work"], 80);
        synth.interval(&[
            (source, Load::new(0.1, 0.8).records(0, records)),
            (work, Load::new(busy, 0.0).records(records, records)),
            (sink, Load::new(0.1, 0.0).records(records, 0)),
        ]);
    }
    synth
}

/// Before: a job that stopped processing (its sinks received nothing) was "inconclusive: too
/// few windows" with exit code 0, and the advice to record longer.
#[test]
fn a_job_that_processed_nothing_is_a_throughput_regression() {
    let base = Pipeline::new(1).recording();
    let stopped = Pipeline {
        rate: 0.0,
        ..Pipeline::new(2)
    }
    .recording();
    let report = run_check(&[&base], &[&stopped], &options()).unwrap();
    assert_eq!(report.status, Status::Regression, "{}", report.summary);
    let t = throughput(&report);
    assert_eq!(t.status, ComparisonStatus::Regression, "{t:?}");
    assert_eq!(t.change, Some(-1.0));
    assert_eq!(t.windows, [39, 39]);
    assert!(
        report.summary.starts_with("REGRESSION: throughput -100.0%"),
        "{}",
        report.summary
    );
    assert!(
        report
            .findings
            .iter()
            .all(|f| !f.title.contains("too few windows")),
        "{:#?}",
        report.findings
    );
    // Work processed no records: its CPU per record is undefined, and the finding says why.
    let cpu = metric(&report, "Work", Metric::CpuPerRecord);
    assert_eq!(cpu.status, ComparisonStatus::Inconclusive);
    let reason = cpu.reason.as_deref().unwrap();
    assert!(
        reason.contains("has a value in only 39 of 39 baseline and 0 of 39 current windows")
            && reason.contains("the task processed no records"),
        "{reason}"
    );
}

/// Before: "no value to compare on one side", although both sides had values.
#[test]
fn a_baseline_without_throughput_says_why_there_is_no_change() {
    let stopped = Pipeline {
        rate: 0.0,
        ..Pipeline::new(1)
    }
    .recording();
    let running = Pipeline::new(2).recording();
    let report = run_check(&[&stopped], &[&running], &options()).unwrap();
    let t = throughput(&report);
    assert_eq!(t.status, ComparisonStatus::Inconclusive, "{t:?}");
    assert_eq!((t.baseline, t.change), (Some(0.0), None));
    let reason = t.reason.as_deref().unwrap();
    assert!(
        reason.starts_with("the baseline median is 0 records/s, so a relative change is undefined"),
        "{reason}"
    );
    // From nothing to nothing is no change.
    let report = run_check(&[&stopped], &[&stopped], &options()).unwrap();
    let t = throughput(&report);
    assert_eq!(
        (t.change, t.status),
        (Some(0.0), ComparisonStatus::Unchanged)
    );
}

/// Before: recordings of 19 windows each, without instrumented channels, were "too few windows
/// (0 baseline, 0 current)" with the advice to record longer.
#[test]
fn metrics_missing_from_long_recordings_are_not_blamed_on_their_length() {
    let mut synth = Synth::new();
    let a = synth.subtask("A", 0, 1);
    let b = synth.subtask("B", 0, 1);
    for _ in 0..20 {
        synth.interval(&[(a, Load::new(0.5, 0.0)), (b, Load::new(0.9, 0.0))]);
    }
    let uncounted = synth.recording();
    let report = run_check(&[&uncounted], &[&uncounted], &options()).unwrap();
    assert_eq!(report.status, Status::Inconclusive);
    assert!(
        report
            .findings
            .iter()
            .all(|f| !f.title.contains("too few windows")),
        "{:#?}",
        report.findings
    );
    let finding = report
        .findings
        .iter()
        .find(|f| f.metric == Some(Metric::Throughput))
        .expect("a throughput finding");
    assert_eq!(finding.title, "throughput could not be compared");
    assert!(
        finding
            .message
            .contains("has a value in only 0 of 19 baseline and 0 of 19 current windows"),
        "{}",
        finding.message
    );
    assert!(
        report.summary.contains("throughput could not be compared"),
        "{}",
        report.summary
    );
    // Short recordings still get the one finding that says to record longer.
    let short = Pipeline {
        intervals: 6,
        ..Pipeline::new(1)
    }
    .recording();
    let report = run_check(&[&short], &[&short], &options()).unwrap();
    let short: Vec<_> = report
        .findings
        .iter()
        .filter(|f| {
            f.title
                .starts_with("too few windows (5 baseline, 5 current")
        })
        .collect();
    assert_eq!(short.len(), 1, "{:#?}", report.findings);
    assert!(short[0].message.contains("record longer"), "{:?}", short[0]);
}

/// Before: a task declared unaccounted has no ratios, yet its backpressure was gated by default,
/// so every check of such a pipeline was inconclusive (exit code 3 with --strict).
#[test]
fn unaccounted_tasks_are_not_gated_unless_named() {
    let run = |seed: u64| {
        let mut synth = chain("Enrich", 100);
        synth.task("Pool", 1, true);
        let pool = synth.subtask("Pool", 0, 1);
        for _ in 0..30 {
            let records = 100 + seed;
            synth.interval(&[(pool, Load::new(0.5, 0.0).records(records, records))]);
        }
        synth.recording()
    };
    let (base, current) = (run(1), run(2));
    let report = run_check(&[&base], &[&current], &options()).unwrap();
    assert_eq!(report.status, Status::Pass, "{}", report.summary);
    for m in [Metric::CpuPerRecord, Metric::Backpressured] {
        let c = metric(&report, "Pool", m);
        assert_eq!(c.status, ComparisonStatus::NotGated, "{c:?}");
        assert!(
            c.reason
                .as_deref()
                .unwrap_or_default()
                .contains("declared unaccounted"),
            "{c:?}"
        );
    }
    // A limit set for it by name still applies.
    let mut limits = Limits::default();
    limits.apply("Pool.backpressured=0.1").unwrap();
    let options = CheckOptions {
        limits,
        ..options()
    };
    let report = run_check(&[&base], &[&current], &options).unwrap();
    let c = metric(&report, "Pool", Metric::Backpressured);
    assert_eq!(c.status, ComparisonStatus::Inconclusive, "{c:?}");
}

/// Before: `--window 100` on 40 s recordings compared no window at all and said "record longer";
/// `--window 0.001` on 1 s intervals reported "windows of 0.001 s" while comparing 1 s windows.
#[test]
fn a_window_that_does_not_fit_the_recordings_is_an_error() {
    let (a, b) = (Pipeline::new(1).recording(), Pipeline::new(2).recording());
    let with_window = |window_s: f64| CheckOptions {
        range: AnalysisOptions {
            window_s: Some(window_s),
            ..AnalysisOptions::default()
        },
        ..options()
    };
    let reason = |window_s: f64| match run_check(&[&a], &[&b], &with_window(window_s)) {
        Err(CheckError::InvalidOption { reason }) => reason,
        other => panic!("--window {window_s}: {other:?}"),
    };
    assert_eq!(
        reason(100.0),
        "--window 100 s is longer than the compared range of rec0.bpprof (39 s): not one window fits; give a shorter --window"
    );
    assert!(
        reason(0.001).starts_with(
            "--window 0.001 s is shorter than the recording interval of rec0.bpprof (1 s)"
        ),
        "{}",
        reason(0.001)
    );
    assert!(reason(1e300).starts_with("--window 1e300 s is longer"));
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(
            reason(bad).starts_with("--window must be a positive number of seconds"),
            "{bad}: {}",
            reason(bad)
        );
    }
    let report = run_check(&[&a], &[&b], &with_window(2.0)).unwrap();
    assert_eq!(report.current[0].windows, 20);
}

/// Before: the human output's "Bottleneck:" line and the JSON summary broke over two lines when a
/// task name held a line break.
#[test]
fn task_names_with_line_breaks_keep_every_line_whole() {
    let (base, current) = (
        chain("En#rich%\n€", 100).recording(),
        chain("En#rich%\n€", 80).recording(),
    );
    let report = run_check(&[&base], &[&current], &options()).unwrap();
    assert_eq!(report.status, Status::Regression, "{}", report.summary);
    assert!(!report.summary.contains('\n'), "{}", report.summary);
    assert!(
        report.summary.contains("bottleneck unchanged: En#rich% €"),
        "{}",
        report.summary
    );
    let mut human = Vec::new();
    render_check_human(&report, &mut human).unwrap();
    let human = String::from_utf8(human).unwrap();
    assert!(
        human
            .lines()
            .any(|l| l == "Bottleneck: En#rich% € (unchanged)"),
        "{human}"
    );
    assert!(human.lines().all(|l| !l.starts_with('€')), "{human}");
}

#[test]
fn suspicious_inputs_are_warned_about() {
    let base = Pipeline::new(1).recording();
    let mut other = Pipeline::new(2).recording();
    other.meta.program = "other_benchmark".into();
    let bytes = Pipeline::new(3).recording_bytes();
    let truncated = bpprof_format::read_recording(&bytes[..bytes.len() / 2]).unwrap();
    assert!(!truncated.warnings.is_empty());

    let report = run_check(&[&base], &[&other, &truncated], &options()).unwrap();
    let warnings = report.warnings.join("\n");
    assert!(
        warnings.contains(
            "rec1.bpprof is a recording of 'other_benchmark', rec0.bpprof of 'synthetic'"
        ),
        "{warnings}"
    );
    assert!(
        warnings.contains("rec2.bpprof: the recording is truncated at byte"),
        "{warnings}"
    );

    // The same file on both sides.
    let names = ["same.bpprof".to_owned()];
    let input = [CheckInput {
        path: &names[0],
        recording: &base,
    }];
    let report = check(&input, &input, &options()).unwrap();
    assert!(
        report.warnings.contains(
            &"same.bpprof is both a baseline and a current recording: it is compared with itself"
                .to_owned()
        ),
        "{:?}",
        report.warnings
    );
}

#[test]
fn identical_windows_give_zero_width_intervals_and_a_clear_decision() {
    let flat = |seed: u64, score_us: f64| {
        Pipeline {
            noise: 0.0,
            score_us,
            ..Pipeline::new(seed)
        }
        .recording()
    };
    let report = run_check(&[&flat(1, 40.0)], &[&flat(2, 40.0)], &options()).unwrap();
    assert_eq!(report.status, Status::Pass, "{}", report.summary);
    let cpu = metric(&report, "Work", Metric::CpuPerRecord);
    assert_eq!((cpu.change, cpu.interval), (Some(0.0), Some([0.0, 0.0])));

    let report = run_check(&[&flat(1, 40.0)], &[&flat(2, 60.0)], &options()).unwrap();
    let cpu = metric(&report, "Work", Metric::CpuPerRecord);
    assert_eq!(cpu.status, ComparisonStatus::Regression, "{cpu:?}");
    let [low, high] = cpu.interval.unwrap();
    assert!(
        (low - 0.125).abs() < 1e-3 && (high - low).abs() < 1e-9,
        "{cpu:?}"
    );
}

#[test]
fn recordings_without_samples_or_run_queue_data_are_compared_without_them() {
    let mut base = Pipeline::new(1).recording();
    let mut current = Pipeline {
        score_us: 56.0,
        ..Pipeline::new(2)
    }
    .recording();
    for recording in [&mut base, &mut current] {
        recording.samples.clear();
        recording.meta.sample_hz = 0;
        for interval in &mut recording.intervals {
            for subtask in &mut interval.subtasks {
                subtask.runqueue_ns = None;
            }
        }
    }
    let report = run_check(&[&base], &[&current], &options()).unwrap();
    assert_eq!(report.status, Status::Regression, "{}", report.summary);
    assert!(report.functions.is_empty(), "{:#?}", report.functions);
    assert!(
        report
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .all(|f| f.function.is_none()),
        "{:#?}",
        report.findings
    );
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("stack sampling off")),
        "{:?}",
        report.warnings
    );
}

#[test]
fn one_interval_recordings_are_inconclusive_not_an_error() {
    let one = Pipeline {
        intervals: 1,
        ..Pipeline::new(1)
    }
    .recording();
    let report = run_check(&[&one], &[&one], &options()).unwrap();
    assert_eq!(report.status, Status::Inconclusive, "{}", report.summary);
    assert!(
        report
            .summary
            .contains("too few windows (1 baseline, 1 current; at least 10 each)"),
        "{}",
        report.summary
    );
    let empty = Synth::new().recording();
    let error = run_check(&[&one], &[&empty], &options()).unwrap_err();
    assert!(error.to_string().contains("rec1.bpprof"), "{error}");
}

/// Before: a width of 20 pixels or less panicked inside inferno (`bpprof diff --width 0`).
#[test]
fn a_too_narrow_flame_graph_is_an_error_not_a_panic() {
    use bpprof_analysis::diff::{fold_differential, render_diff_svg, DiffOptions};
    use bpprof_analysis::flame::{SvgOptions, MIN_WIDTH};
    let (base, current) = (
        chain("Work", 100).recording(),
        chain("Work", 80).recording(),
    );
    let diff = fold_differential(&base, &current, &DiffOptions::default()).unwrap();
    for width in [0, 20, MIN_WIDTH - 1] {
        let options = SvgOptions {
            width: Some(width),
            ..SvgOptions::default()
        };
        let error = render_diff_svg(&diff, &options, Vec::new()).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
        assert!(error.to_string().contains("too narrow"), "{error}");
    }
    let options = SvgOptions {
        width: Some(MIN_WIDTH),
        ..SvgOptions::default()
    };
    render_diff_svg(&diff, &options, Vec::new()).unwrap();
}
