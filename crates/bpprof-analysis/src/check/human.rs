//! Renders a [`CheckReport`] for people, in a terminal or a CI log: the verdict first, then what
//! was compared, the warnings and findings, and aligned tables of the comparisons, of the
//! functions whose cost per record changed, and of the budgets (the style of `bpprof locate`).
//!
//! The number formats are shared with the Markdown renderer ([`super::markdown`]).

use std::io::{self, Write};

use super::report::{
    BudgetResult, CheckReport, Comparison, ComparisonStatus, FunctionChange, FunctionDiff,
    FunctionStatus, Severity, Statistics,
};
use super::verdict::names;
use crate::table::table;
use crate::table::Align::{Left as L, Right as R};
use crate::units::{
    change, change_interval, confidence_level, controls_to_spaces, limit, number, plural, seconds,
    signed_number, thousands, MISSING,
};

/// Function rows shown per task in the text and Markdown outputs (the largest changes; the JSON
/// report has them all).
pub const MAX_FUNCTION_ROWS: usize = 15;

/// Writes `report` for people: the verdict line ([`CheckReport::summary`]), what was compared and
/// how the intervals were computed, the warnings (`warning: ...`), the findings, the table of
/// comparisons (job throughput first, then each task's metrics in graph order; rows without a
/// limit say `info`), for each [`FunctionDiff`] a table of at most [`MAX_FUNCTION_ROWS`] functions
/// with the hottest path, and the budgets.
///
/// A budget-only report (no baseline, no statistics) gets the verdict, the warnings and the
/// budget table. Control characters in names and messages are written as spaces, so that every
/// item stays on its line.
pub fn render_check_human(report: &CheckReport, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "{}", controls_to_spaces(&report.summary))?;
    let budget_only = report.baseline.is_empty() && report.statistics.is_none();

    if !budget_only {
        if let Some(line) = compared_line(report) {
            writeln!(out)?;
            writeln!(out, "{}", controls_to_spaces(&line))?;
        }
        if let Some(line) = bottleneck_line(report) {
            writeln!(out, "{}", controls_to_spaces(&line))?;
        }
    }
    let ranges = range_lines(report);
    if !ranges.is_empty() {
        writeln!(out)?;
        writeln!(out, "Ranges:")?;
        for line in ranges {
            writeln!(out, "  {}", controls_to_spaces(&line))?;
        }
    }

    if !report.warnings.is_empty() {
        writeln!(out)?;
        for warning in &report.warnings {
            writeln!(out, "warning: {}", controls_to_spaces(warning))?;
        }
    }

    // A budget-only report shows its budgets in their table; its other findings (too little
    // data) are warnings.
    let findings: Vec<_> = report
        .findings
        .iter()
        .filter(|f| !budget_only || f.severity == Severity::Warning)
        .collect();
    if !findings.is_empty() {
        writeln!(out)?;
        writeln!(out, "Findings:")?;
        for finding in findings {
            writeln!(out, "  - {}", finding_text(finding))?;
        }
    }

    if !budget_only {
        let rows: Vec<Vec<String>> = comparison_rows(report)
            .map(|(task, c)| {
                let mut row = vec![controls_to_spaces(task)];
                row.extend(comparison_cells(c));
                row.push(status_word(c.status).to_owned());
                row
            })
            .collect();
        if !rows.is_empty() {
            writeln!(out)?;
            writeln!(out, "Comparisons (medians of the windows):")?;
            table(
                out,
                &[
                    ("TASK", L),
                    ("METRIC", L),
                    ("BASELINE", R),
                    ("CURRENT", R),
                    ("CHANGE", R),
                    ("INTERVAL", R),
                    ("LIMIT", R),
                    ("STATUS", L),
                ],
                blank_repeats(rows),
            )?;
        }

        for diff in &report.functions {
            writeln!(out)?;
            writeln!(out, "{}:", controls_to_spaces(&function_heading(diff)))?;
            writeln!(out, "  {}", samples_line(diff))?;
            let rows = diff
                .rows
                .iter()
                .take(MAX_FUNCTION_ROWS)
                .map(|f| {
                    let mut row = function_cells(f).to_vec();
                    row.push(controls_to_spaces(&f.function));
                    row
                })
                .collect();
            table(
                out,
                &[
                    ("SELF BASE", R),
                    ("SELF NOW", R),
                    ("ΔSELF", R),
                    ("TOTAL BASE", R),
                    ("TOTAL NOW", R),
                    ("STATUS", L),
                    ("FUNCTION", L),
                ],
                rows,
            )?;
            if let Some(more) = more_functions(diff) {
                writeln!(out, "  {more}")?;
            }
            if !diff.hottest_path.is_empty() {
                let path: Vec<String> = diff
                    .hottest_path
                    .iter()
                    .map(|f| controls_to_spaces(f))
                    .collect();
                writeln!(out, "  Hottest path: {}", path.join(" → "))?;
            }
        }
    }

    if !report.budgets.is_empty() {
        writeln!(out)?;
        writeln!(out, "Budgets:")?;
        let rows = report
            .budgets
            .iter()
            .map(|b| {
                vec![
                    controls_to_spaces(&b.expression),
                    budget_value(b),
                    b.result_word().to_owned(),
                ]
            })
            .collect();
        table(out, &[("BUDGET", L), ("VALUE", R), ("RESULT", L)], rows)?;
    }
    Ok(())
}

/// The compared range of every recording: `baseline base.bpprof: analysed 0.1–3 s of 3 s (29
/// intervals)`, and `(too little data)` after a short one.
pub(crate) fn range_lines(report: &CheckReport) -> Vec<String> {
    let sides = [("baseline", &report.baseline), ("current", &report.current)];
    sides
        .into_iter()
        .flat_map(|(side, recordings)| {
            recordings.iter().filter_map(move |r| {
                let range = r.range.as_ref()?;
                let short = if range.is_short() {
                    " (too little data)"
                } else {
                    ""
                };
                Some(format!("{side} {}: {}{short}", r.path, range.text()))
            })
        })
        .collect()
}

/// The comparisons in the order they are shown: the job throughput (task `(job)`), then each
/// task's metrics in graph order; with the task name to show.
pub(crate) fn comparison_rows(report: &CheckReport) -> impl Iterator<Item = (&str, &Comparison)> {
    report.throughput.iter().map(|c| (JOB, c)).chain(
        report
            .tasks
            .iter()
            .flat_map(|t| t.metrics.iter().map(move |c| (t.name.as_str(), c))),
    )
}

/// How the job-level throughput row names its task.
pub(crate) const JOB: &str = "(job)";

/// The cells metric, baseline, current, change, interval and limit of a comparison.
pub(crate) fn comparison_cells(c: &Comparison) -> [String; 6] {
    let gated_limit = if c.status == ComparisonStatus::NotGated {
        None
    } else {
        c.limit
    };
    [
        c.metric.label().to_owned(),
        c.baseline.map_or_else(dash, |v| c.metric.format(v)),
        c.current.map_or_else(dash, |v| c.metric.format(v)),
        c.change.map_or_else(dash, |v| change(v, c.relative)),
        c.interval
            .map_or_else(dash, |i| change_interval(i, c.relative)),
        gated_limit.map_or_else(dash, |v| limit(v, c.relative)),
    ]
}

/// The status of a comparison in one word: `REGRESSION`, `improved`, `ok`, `inconclusive`, or
/// `info` for a metric without a limit.
pub(crate) fn status_word(status: ComparisonStatus) -> &'static str {
    match status {
        ComparisonStatus::Regression => "REGRESSION",
        ComparisonStatus::Improvement => "improved",
        ComparisonStatus::Unchanged => "ok",
        ComparisonStatus::Inconclusive => "inconclusive",
        ComparisonStatus::NotGated => "info",
    }
}

/// `Compared 3 baseline recordings (360 windows) with ...: 99.4% intervals (...), 5,000
/// bootstrap resamples, seed 7.`; `None` without recordings or statistics.
pub(crate) fn compared_line(report: &CheckReport) -> Option<String> {
    if report.baseline.is_empty() && report.current.is_empty() {
        return None;
    }
    let side = |name: &str, recordings: &[super::report::RecordingInfo]| {
        let windows: usize = recordings.iter().map(|r| r.windows).sum();
        format!(
            "{} ({})",
            plural(recordings.len(), &format!("{name} recording")),
            plural(windows, "window"),
        )
    };
    let mut line = format!(
        "Compared {} with {}",
        side("baseline", &report.baseline),
        side("current", &report.current)
    );
    if let Some(stats) = &report.statistics {
        line.push_str(": ");
        line.push_str(&statistics_text(stats));
    }
    line.push('.');
    Some(line)
}

/// `99.4% intervals (95% family-wise over 9 gated comparisons, Bonferroni), 5,000 bootstrap
/// resamples, seed 7, windows of 1 s`.
fn statistics_text(s: &Statistics) -> String {
    let intervals = match s.tests {
        0 => format!(
            "{}% intervals (no gated comparisons)",
            confidence_level(s.confidence)
        ),
        1 => format!(
            "{}% intervals (1 gated comparison)",
            confidence_level(s.interval_level)
        ),
        n => format!(
            "{}% intervals ({}% family-wise over {} gated comparisons, Bonferroni)",
            confidence_level(s.interval_level),
            confidence_level(s.confidence),
            thousands(n as u64)
        ),
    };
    let mut text = format!(
        "{intervals}, {}, seed {}",
        plural(s.resamples, "bootstrap resample"),
        s.seed
    );
    if let Some(w) = s.window_s {
        text.push_str(&format!(", windows of {} s", seconds(w)));
    }
    text
}

/// `Bottleneck: Enrich (unchanged)` or `Bottleneck moved: Enrich → Sink`.
pub(crate) fn bottleneck_line(report: &CheckReport) -> Option<String> {
    let b = report.bottleneck.as_ref()?;
    Some(if b.moved {
        format!(
            "Bottleneck moved: {} → {}",
            names(&b.baseline),
            names(&b.current)
        )
    } else {
        format!("Bottleneck: {} (unchanged)", names(&b.current))
    })
}

/// `error: TITLE: MESSAGE (in FUNCTION)`, on one line.
fn finding_text(f: &super::report::Finding) -> String {
    let mut text = format!(
        "{}: {}",
        severity_word(f.severity),
        controls_to_spaces(&f.title)
    );
    if !f.message.is_empty() {
        text.push_str(": ");
        text.push_str(&controls_to_spaces(&f.message));
    }
    if let Some(function) = &f.function {
        if !f.message.contains(function.as_str()) {
            text.push_str(&format!(" (in {})", controls_to_spaces(function)));
        }
    }
    text
}

/// `error`, `warning` or `notice`.
pub(crate) fn severity_word(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Notice => "notice",
    }
}

/// `Functions of Enrich (bottleneck, regression), on-CPU cost per record (ns)`.
pub(crate) fn function_heading(diff: &FunctionDiff) -> String {
    format!(
        "Functions of {} ({}), on-CPU cost per record (ns)",
        diff.task, diff.why
    )
}

/// `baseline: 1,234 samples over 100,000 records; current: ...`.
pub(crate) fn samples_line(diff: &FunctionDiff) -> String {
    format!(
        "baseline: {} over {}; current: {} over {}",
        plural(diff.samples[0], "on-CPU sample"),
        plural(diff.records[0], "record"),
        plural(diff.samples[1], "sample"),
        plural(diff.records[1], "record"),
    )
}

/// `... and 35 more functions (the JSON report lists them all)` when rows were left out.
pub(crate) fn more_functions(diff: &FunctionDiff) -> Option<String> {
    let more = diff
        .rows
        .len()
        .checked_sub(MAX_FUNCTION_ROWS)
        .filter(|&n| n > 0)?;
    Some(format!(
        "... and {} (the JSON report lists them all)",
        plural(more, "more function")
    ))
}

/// The cells self base, self now, Δself, total base, total now and status of a function
/// (`-` for the side it is absent from).
pub(crate) fn function_cells(f: &FunctionChange) -> [String; 6] {
    let (base, now) = match f.status {
        FunctionStatus::Changed => (true, true),
        FunctionStatus::New => (false, true),
        FunctionStatus::Vanished => (true, false),
    };
    let side = |present: bool, v: f64| if present { number(v) } else { dash() };
    [
        side(base, f.self_baseline),
        side(now, f.self_current),
        signed_number(f.self_current - f.self_baseline),
        side(base, f.total_baseline),
        side(now, f.total_current),
        match f.status {
            FunctionStatus::Changed => "",
            FunctionStatus::New => "new",
            FunctionStatus::Vanished => "vanished",
        }
        .to_owned(),
    ]
}

/// The measured value of a budget, in the scale of its bound (ratios as `0.930`).
pub(crate) fn budget_value(b: &BudgetResult) -> String {
    match b.value {
        None => dash(),
        Some(v) => b.metric.format_as_bound(v),
    }
}

/// Leaves the task cell empty on the rows that repeat the one above.
fn blank_repeats(mut rows: Vec<Vec<String>>) -> Vec<Vec<String>> {
    let mut previous: Option<String> = None;
    for row in &mut rows {
        if previous.as_deref() == Some(row[0].as_str()) {
            row[0].clear();
        } else {
            previous = Some(row[0].clone());
        }
    }
    rows
}

fn dash() -> String {
    MISSING.to_owned()
}
