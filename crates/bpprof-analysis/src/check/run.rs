//! [`check()`], the comparison itself: gate, measure, compare every (task, metric), find the bottleneck and the
//! functions behind a change, evaluate budgets, and compose the verdict.

use std::collections::BTreeMap;

use bpprof_format::Recording;

use super::compat::{differences, environment_warnings, Shape};
use super::decide::{self, Planned};
use super::findings;
use super::options::{CheckError, CheckInput, CheckOptions};
use super::profile::function_diff;
use super::report::*;
use super::stats::Rng;
use super::values::{measure, Key, RecordingValues};
use crate::graph::JobGraph;
use crate::locate::locate;
use crate::range::AnalysisOptions;

/// Compares `current` against `baseline` (each one or more recordings of the same pipeline) and
/// evaluates the budgets of `options` on `current`. `baseline` may be empty when budgets are
/// given.
pub fn check(
    baseline: &[CheckInput<'_>],
    current: &[CheckInput<'_>],
    options: &CheckOptions,
) -> Result<CheckReport, CheckError> {
    validate(baseline, current, options)?;
    let reference = baseline.first().unwrap_or(&current[0]);
    let graph = JobGraph::from_recording(reference.recording);
    let mut warnings = gate(reference, baseline.iter().chain(current), &graph)?;
    check_task_names(&graph, options)?;
    warnings.extend(input_warnings(baseline, current, options));

    let measure_all = |inputs: &[CheckInput<'_>]| {
        inputs
            .iter()
            .map(|i| {
                measure(i.recording, &graph_of(i), &options.range).map_err(|source| {
                    CheckError::Analysis {
                        path: i.path.to_owned(),
                        source,
                    }
                })
            })
            .collect::<Result<Vec<RecordingValues>, CheckError>>()
    };
    let base_values = measure_all(baseline)?;
    let cur_values = measure_all(current)?;
    if let Some(window_s) = options.range.window_s {
        let measured = baseline
            .iter()
            .chain(current)
            .zip(base_values.iter().chain(&cur_values));
        for (input, values) in measured {
            check_window(window_s, input, values)?;
        }
    }
    let info = |inputs: &[CheckInput<'_>], values: &[RecordingValues]| -> Vec<RecordingInfo> {
        inputs
            .iter()
            .zip(values)
            .map(|(i, v)| recording_info(i, v))
            .collect()
    };

    let mut report = CheckReport {
        schema: CHECK_SCHEMA.to_owned(),
        schema_version: CHECK_SCHEMA_VERSION,
        status: Status::Pass,
        summary: String::new(),
        baseline: info(baseline, &base_values),
        current: info(current, &cur_values),
        warnings: Vec::new(),
        statistics: None,
        throughput: None,
        bottleneck: None,
        tasks: Vec::new(),
        findings: Vec::new(),
        functions: Vec::new(),
        budgets: Vec::new(),
    };
    if !baseline.is_empty() {
        compare_sides(
            &mut report,
            &graph,
            (baseline, &base_values),
            (current, &cur_values),
            options,
        );
        if baseline
            .iter()
            .chain(current)
            .any(|i| i.recording.meta.sample_hz == 0)
        {
            warnings.push(
                "a recording was made with stack sampling off: changes cannot be traced to functions"
                    .to_owned(),
            );
        }
    }
    report.budgets = budgets(options, current, &cur_values);
    report.findings.extend(coverage_findings(
        (baseline, &base_values),
        (current, &cur_values),
        report.budgets.len(),
    ));
    for budget in report
        .budgets
        .iter()
        .filter(|b| !b.passed && b.inconclusive.is_none())
    {
        report.findings.push(findings::budget_finding(budget));
    }
    report.findings.sort_by_key(|f| f.severity);
    warnings.dedup();
    report.warnings = warnings;
    report.status = findings::overall_status(&report);
    report.summary = findings::summary(&report);
    Ok(report)
}

/// What the inputs themselves warrant a warning for: what the reader had to skip, and a current
/// recording that is also a baseline (by path, or the same file by identity: `same_files`).
fn input_warnings(
    baseline: &[CheckInput<'_>],
    current: &[CheckInput<'_>],
    options: &CheckOptions,
) -> Vec<String> {
    let mut out = Vec::new();
    // What the reader had to skip (a truncated tail, ...) belongs in the report CI keeps.
    for input in baseline.iter().chain(current) {
        for warning in &input.recording.warnings {
            out.push(format!("{}: {warning}", input.path));
        }
    }
    for (j, input) in current.iter().enumerate() {
        let same = baseline
            .iter()
            .enumerate()
            .find(|&(i, b)| b.path == input.path || options.same_files.contains(&(i, j)));
        match same {
            Some((_, b)) if b.path == input.path => out.push(format!(
                "{} is both a baseline and a current recording: it is compared with itself",
                input.path
            )),
            Some((_, b)) => out.push(format!(
                "{} (current) and {} (baseline) are the same file: it is compared with itself",
                input.path, b.path
            )),
            None => {}
        }
    }
    out
}

/// The budgets of `options` evaluated on the median of the `current` recordings; inconclusive
/// when a current recording has too little data.
fn budgets(
    options: &CheckOptions,
    current: &[CheckInput<'_>],
    cur_values: &[RecordingValues],
) -> Vec<BudgetResult> {
    let mut budgets: Vec<_> = options
        .budgets
        .iter()
        .map(|b| {
            let key: Key = (b.task.clone(), b.metric);
            let mut values: Vec<f64> = cur_values
                .iter()
                .filter_map(|v| v.whole.get(&key).copied())
                .collect();
            b.evaluate(crate::median::median(&mut values))
        })
        .collect();
    // Too little data decides nothing: a budget on it is inconclusive, never a pass.
    let short_current: Vec<&str> = current
        .iter()
        .zip(cur_values)
        .filter(|(_, v)| v.coverage.as_ref().is_some_and(|c| c.is_short()))
        .map(|(i, _)| i.path)
        .collect();
    if !short_current.is_empty() {
        let reason = format!(
            "too little data in {}: a budget on it is not decided",
            short_current.join(", ")
        );
        for budget in &mut budgets {
            budget.passed = false;
            budget.inconclusive = Some(reason.clone());
        }
    }
    budgets
}

/// A finding for each recording whose compared range is short of data (on a current recording
/// it names the `budget_count` budgets it leaves undecided).
fn coverage_findings(
    baseline: (&[CheckInput<'_>], &[RecordingValues]),
    current: (&[CheckInput<'_>], &[RecordingValues]),
    budget_count: usize,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let sides = [
        (baseline.0, baseline.1, false),
        (current.0, current.1, true),
    ];
    for (inputs, values, is_current) in sides {
        for (input, v) in inputs.iter().zip(values.iter()) {
            let Some(warning) = v.coverage.as_ref().and_then(|c| c.warning()) else {
                continue;
            };
            let budgets = if is_current { budget_count } else { 0 };
            out.push(findings::coverage_finding(input.path, &warning, budgets));
        }
    }
    out
}

fn validate(
    baseline: &[CheckInput<'_>],
    current: &[CheckInput<'_>],
    options: &CheckOptions,
) -> Result<(), CheckError> {
    if current.is_empty() {
        return Err(CheckError::NoCurrent);
    }
    if baseline.is_empty() && options.budgets.is_empty() {
        return Err(CheckError::NothingToCheck);
    }
    let invalid = |reason: String| Err(CheckError::InvalidOption { reason });
    if !(options.confidence > 0.0 && options.confidence < 1.0) {
        return invalid(format!(
            "--confidence must be between 0 and 1 (e.g. 0.95), got {}",
            options.confidence
        ));
    }
    if options.resamples < 100 {
        return invalid(format!(
            "--resamples must be at least 100, got {}",
            options.resamples
        ));
    }
    if options.min_windows < 2 {
        return invalid(format!(
            "--min-windows must be at least 2, got {}",
            options.min_windows
        ));
    }
    if let Some(w) = options.range.window_s {
        if !(w.is_finite() && w > 0.0) {
            return invalid(format!(
                "--window must be a positive number of seconds, got {w}"
            ));
        }
    }
    Ok(())
}

/// A window length that `input` cannot be cut into is an error, not a check without windows:
/// windows are made of whole recording intervals, and must fit in the compared range.
fn check_window(
    window_s: f64,
    input: &CheckInput<'_>,
    values: &RecordingValues,
) -> Result<(), CheckError> {
    // Seconds as `0.5`, or `1e-12` / `1e300` when three decimals would not show them.
    let seconds = |s: f64| {
        if s == 0.0 || (1e-3..1e9).contains(&s) {
            crate::units::seconds(s)
        } else {
            format!("{s:e}")
        }
    };
    let interval_s = input.recording.meta.interval_ns as f64 / 1e9;
    let reason = if window_s < interval_s * (1.0 - 1e-9) {
        format!(
            "--window {} s is shorter than the recording interval of {} ({} s): a window is made of whole intervals; give at least {} s, or no --window (one interval per window)",
            seconds(window_s),
            input.path,
            seconds(interval_s),
            seconds(interval_s)
        )
    } else if values.windows == 0 {
        format!(
            "--window {} s is longer than the compared range of {} ({} s): not one window fits; give a shorter --window",
            seconds(window_s),
            input.path,
            seconds(values.range_s)
        )
    } else {
        return Ok(());
    };
    Err(CheckError::InvalidOption { reason })
}

fn graph_of(input: &CheckInput<'_>) -> JobGraph {
    JobGraph::from_recording(input.recording)
}

/// The compatibility gate: every recording must run the reference's job graph. Returns the
/// environment warnings.
fn gate<'a>(
    reference: &CheckInput<'_>,
    inputs: impl Iterator<Item = &'a CheckInput<'a>>,
    graph: &JobGraph,
) -> Result<Vec<String>, CheckError> {
    let shape = Shape::of(graph);
    let mut diffs = Vec::new();
    let mut warnings = Vec::new();
    for input in inputs {
        diffs.extend(differences(
            reference.path,
            &shape,
            input.path,
            &Shape::of(&graph_of(input)),
        ));
        for w in environment_warnings(
            reference.path,
            &reference.recording.meta,
            input.path,
            &input.recording.meta,
        ) {
            if !warnings.contains(&w) {
                warnings.push(w);
            }
        }
    }
    if diffs.is_empty() {
        Ok(warnings)
    } else {
        Err(CheckError::Incompatible { differences: diffs })
    }
}

fn check_task_names(graph: &JobGraph, options: &CheckOptions) -> Result<(), CheckError> {
    let known = |t: &str| graph.position(t).is_some();
    let available = || graph.tasks.iter().map(|t| t.name.clone()).collect();
    for task in options.limits.tasks() {
        if !known(task) {
            return Err(CheckError::UnknownTask {
                wanted: task.to_owned(),
                used_in: format!("a limit for {task}"),
                available: available(),
            });
        }
    }
    for budget in &options.budgets {
        if let Some(task) = &budget.task {
            if !known(task) {
                return Err(CheckError::UnknownTask {
                    wanted: task.clone(),
                    used_in: format!("--assert '{}'", budget.expression),
                    available: available(),
                });
            }
        }
    }
    Ok(())
}

fn recording_info(input: &CheckInput<'_>, values: &RecordingValues) -> RecordingInfo {
    let meta = &input.recording.meta;
    RecordingInfo {
        path: input.path.to_owned(),
        program: meta.program.clone(),
        host: meta.host.clone(),
        cpus: meta.cpus,
        build: meta.build.clone(),
        duration_s: crate::range::duration_s(input.recording),
        windows: values.windows,
        range: values.coverage.clone(),
    }
}

/// One side: its inputs and their measured values.
type Side<'s, 'a> = (&'s [CheckInput<'a>], &'s [RecordingValues]);

/// Fills the comparisons, the bottleneck, the function diffs and their findings.
fn compare_sides(
    report: &mut CheckReport,
    graph: &JobGraph,
    (base_inputs, base): Side<'_, '_>,
    (cur_inputs, cur): Side<'_, '_>,
    options: &CheckOptions,
) {
    // The keys and their limits first: the number of gated comparisons sets the interval level.
    let mut keys: Vec<Key> = vec![(None, Metric::Throughput)];
    for task in &graph.tasks {
        keys.extend(TASK_METRICS.iter().map(|&m| (Some(task.name.clone()), m)));
    }
    let groups = |side: &[RecordingValues], key: &Key| -> Vec<Vec<f64>> {
        side.iter()
            .map(|v| v.per_window.get(key).cloned().unwrap_or_default())
            .collect()
    };
    let recorded = [base, cur].map(|side| side.iter().map(|v| v.windows).sum());
    let short = [base, cur].map(|side| {
        side.iter()
            .any(|v| v.coverage.as_ref().is_some_and(|c| c.is_short()))
    });
    let planned: Vec<Planned> = keys
        .into_iter()
        .map(|key| {
            let (b, c) = (groups(base, &key), groups(cur, &key));
            let windows = [b.iter().map(Vec::len).sum(), c.iter().map(Vec::len).sum()];
            let task = key.0.as_deref().and_then(|name| graph.position(name));
            let unaccounted = task.is_some_and(|t| graph.tasks[t].unaccounted);
            let (limit, reason) = decide::limit_for(&key, base, &options.limits, unaccounted);
            Planned {
                key,
                base: b,
                current: c,
                windows,
                recorded,
                short,
                limit,
                reason,
            }
        })
        .collect();
    let tests = planned
        .iter()
        .filter(|p| {
            p.limit.is_some()
                && p.windows.iter().all(|&n| n >= options.min_windows)
                && !p.short.iter().any(|&s| s)
        })
        .count();
    let level = 1.0 - (1.0 - options.confidence) / tests.max(1) as f64;
    report.statistics = Some(Statistics {
        confidence: options.confidence,
        tests,
        interval_level: level,
        resamples: options.resamples,
        seed: options.seed,
        min_windows: options.min_windows,
        window_s: options.range.window_s,
    });

    let mut rng = Rng::new(options.seed);
    let mut by_task: BTreeMap<String, Vec<Comparison>> = BTreeMap::new();
    for p in planned {
        let comparison = decide::decide(p, level, options, &mut rng);
        match &comparison.task {
            None => report.throughput = Some(comparison),
            Some(task) => by_task.entry(task.clone()).or_default().push(comparison),
        }
    }
    report.tasks = graph
        .tasks
        .iter()
        .map(|t| TaskComparison {
            name: t.name.clone(),
            parallelism: t.parallelism,
            metrics: by_task.remove(&t.name).unwrap_or_default(),
        })
        .collect();

    let bottleneck = BottleneckChange {
        baseline: side_bottleneck(base_inputs, &options.range),
        current: side_bottleneck(cur_inputs, &options.range),
        moved: false,
    };
    let bottleneck = BottleneckChange {
        moved: bottleneck.baseline != bottleneck.current,
        ..bottleneck
    };
    if let Some(explanation) = decide::machine_explanation(&report.tasks, &bottleneck, base, cur) {
        let rates = report
            .throughput
            .iter_mut()
            .chain(report.tasks.iter_mut().flat_map(|t| &mut t.metrics))
            .filter(|c| matches!(c.metric, Metric::Throughput | Metric::RecordsPerS));
        for c in rates.filter(|c| c.status == ComparisonStatus::Regression) {
            c.status = ComparisonStatus::Inconclusive;
            c.reason = Some(explanation.clone());
        }
    }
    decide::explain_backpressure_rise(
        &mut report.tasks,
        report.throughput.as_ref(),
        &bottleneck,
        base,
        cur,
    );

    // Functions: the tasks whose CPU per record regressed, then the current bottleneck.
    let mut wanted: Vec<(String, Vec<&str>)> = Vec::new();
    let mut want = |task: &str, why: &'static str| match wanted.iter_mut().find(|(t, _)| t == task)
    {
        Some((_, whys)) => whys.push(why),
        None => wanted.push((task.to_owned(), vec![why])),
    };
    for c in report.tasks.iter().flat_map(|t| &t.metrics) {
        if c.metric == Metric::CpuPerRecord && c.status == ComparisonStatus::Regression {
            want(c.task.as_deref().unwrap_or_default(), "regression");
        }
    }
    for task in &bottleneck.current {
        want(task, "bottleneck");
    }
    report.functions = wanted
        .iter()
        .filter_map(|(task, whys)| {
            function_diff(
                task,
                &whys.join(", "),
                &recordings(base_inputs),
                &recordings(cur_inputs),
                &options.range,
            )
        })
        .collect();

    let findings = findings::comparison_findings(report, &bottleneck, options.min_windows);
    report.findings.extend(findings);
    report.bottleneck = Some(bottleneck);
}

/// The recordings of a side, for [`function_diff`].
fn recordings<'a>(inputs: &[CheckInput<'a>]) -> Vec<&'a Recording> {
    inputs.iter().map(|i| i.recording).collect()
}

/// The bottleneck tasks of a side: the most frequent answer of `locate` over its recordings.
fn side_bottleneck(inputs: &[CheckInput<'_>], range: &AnalysisOptions) -> Vec<String> {
    let mut votes: Vec<(Vec<String>, usize)> = Vec::new();
    for input in inputs {
        let Ok(report) = locate(input.recording, range) else {
            continue;
        };
        let tasks: Vec<String> = report.bottlenecks.iter().map(|b| b.task.clone()).collect();
        match votes.iter_mut().find(|(t, _)| *t == tasks) {
            Some((_, n)) => *n += 1,
            None => votes.push((tasks, 1)),
        }
    }
    // The first of the most frequent (max_by_key keeps the last maximum, hence the reversal).
    votes
        .into_iter()
        .rev()
        .max_by_key(|(_, n)| *n)
        .map(|(t, _)| t)
        .unwrap_or_default()
}
