//! Renders a [`CheckReport`] for people, in a terminal or a CI log: the verdict first, then what
//! was compared, the warnings and findings, and aligned tables of the comparisons, of the
//! functions whose cost per record changed, and of the budgets (the style of `bpprof locate`).
//!
//! The number formats are shared with the Markdown renderer ([`super::markdown`]).

use std::io::{self, Write};

use super::report::{
    change, interval, limit_text, BudgetResult, CheckReport, Comparison, ComparisonStatus,
    FunctionChange, FunctionDiff, FunctionStatus, Metric, Severity, Statistics,
};
use super::verdict::names;
use crate::table::table;
use crate::table::Align::{Left as L, Right as R};
use crate::units::{pct, thousands};

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
    writeln!(out, "{}", one_line(&report.summary))?;
    let budget_only = report.baseline.is_empty() && report.statistics.is_none();

    if !budget_only {
        if let Some(line) = compared_line(report) {
            writeln!(out)?;
            writeln!(out, "{}", one_line(&line))?;
        }
        if let Some(line) = bottleneck_line(report) {
            writeln!(out, "{}", one_line(&line))?;
        }
    }
    let ranges = range_lines(report);
    if !ranges.is_empty() {
        writeln!(out)?;
        writeln!(out, "Ranges:")?;
        for line in ranges {
            writeln!(out, "  {}", one_line(&line))?;
        }
    }

    if !report.warnings.is_empty() {
        writeln!(out)?;
        for warning in &report.warnings {
            writeln!(out, "warning: {}", one_line(warning))?;
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
                let mut row = vec![one_line(task)];
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
            writeln!(out, "{}:", one_line(&function_heading(diff)))?;
            writeln!(out, "  {}", samples_line(diff))?;
            let rows = diff
                .rows
                .iter()
                .take(MAX_FUNCTION_ROWS)
                .map(|f| {
                    let mut row = function_cells(f).to_vec();
                    row.push(one_line(&f.function));
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
                let path: Vec<String> = diff.hottest_path.iter().map(|f| one_line(f)).collect();
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
                    one_line(&b.expression),
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
    let limit = if c.status == ComparisonStatus::NotGated {
        None
    } else {
        c.limit
    };
    [
        c.metric.label().to_owned(),
        c.baseline.map_or_else(dash, |v| value(c.metric, v)),
        c.current.map_or_else(dash, |v| value(c.metric, v)),
        c.change.map_or_else(dash, |v| change(v, c.relative)),
        c.interval.map_or_else(dash, |i| interval(i, c.relative)),
        limit.map_or_else(dash, |v| limit_text(v, c.relative)),
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
            "{} {name} recording{} ({} window{})",
            thousands(recordings.len() as u64),
            plural(recordings.len()),
            thousands(windows as u64),
            plural(windows),
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
        0 => format!("{}% intervals (no gated comparisons)", level(s.confidence)),
        1 => format!(
            "{}% intervals (1 gated comparison)",
            level(s.interval_level)
        ),
        n => format!(
            "{}% intervals ({}% family-wise over {} gated comparisons, Bonferroni)",
            level(s.interval_level),
            level(s.confidence),
            thousands(n as u64)
        ),
    };
    let mut text = format!(
        "{intervals}, {} bootstrap resample{}, seed {}",
        thousands(s.resamples as u64),
        plural(s.resamples),
        s.seed
    );
    if let Some(w) = s.window_s {
        text.push_str(&format!(", windows of {} s", crate::seconds(w)));
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
    let mut text = format!("{}: {}", severity_word(f.severity), one_line(&f.title));
    if !f.message.is_empty() {
        text.push_str(": ");
        text.push_str(&one_line(&f.message));
    }
    if let Some(function) = &f.function {
        if !f.message.contains(function.as_str()) {
            text.push_str(&format!(" (in {})", one_line(function)));
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
        "baseline: {} on-CPU sample{} over {} record{}; current: {} sample{} over {} record{}",
        thousands(diff.samples[0]),
        plural(diff.samples[0] as usize),
        thousands(diff.records[0]),
        plural(diff.records[0] as usize),
        thousands(diff.samples[1]),
        plural(diff.samples[1] as usize),
        thousands(diff.records[1]),
        plural(diff.records[1] as usize),
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
        "... and {} more function{} (the JSON report lists them all)",
        thousands(more as u64),
        plural(more)
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
        Some(v) if b.metric.unit().is_empty() => format!("{v:.3}"),
        Some(v) => value(b.metric, v),
    }
}

/// A value in the unit of `metric`: records/s as `25,417` (3 significant digits below 100),
/// µs as `12.34 µs`, ratios as `93%`.
pub(crate) fn value(metric: Metric, v: f64) -> String {
    match metric.unit() {
        "" => pct(v),
        "µs" => format!("{v:.2} µs"),
        _ => number(v),
    }
}

/// A confidence level as a percentage with as many decimals as needed to stay below 100:
/// `0.95` -> `95`, `0.99444` -> `99.4`, `0.99994` -> `99.994`.
fn level(l: f64) -> String {
    let p = l * 100.0;
    for decimals in 1..=6 {
        let text = format!("{p:.decimals$}");
        if l >= 1.0 || text.parse::<f64>().is_ok_and(|r| r < 100.0) {
            return trim_decimals(&text).to_owned();
        }
    }
    format!("{p}")
}

/// A non-negative quantity: thousands separators from 100 up, 3 significant digits below.
pub(crate) fn number(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    let sign = if v < 0.0 { "-" } else { "" };
    let a = v.abs();
    if a >= 99.95 {
        return format!("{sign}{}", thousands(a.round() as u64));
    }
    if a == 0.0 {
        return "0".to_owned();
    }
    let decimals = (2 - a.log10().floor() as i32).max(0) as usize;
    format!("{sign}{a:.decimals$}")
}

/// [`number`] with a sign: `+1,234`, `-0.52`.
pub(crate) fn signed_number(v: f64) -> String {
    if v < 0.0 {
        number(v)
    } else {
        format!("+{}", number(v))
    }
}

/// `12.50` -> `12.5`, `5.00` -> `5`.
fn trim_decimals(text: &str) -> &str {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        text
    }
}

fn dash() -> String {
    "-".to_owned()
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// `text` with every control character (line breaks, tabs, escape sequences) as a space.
pub(crate) fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_formatted_by_unit() {
        assert_eq!(value(Metric::Throughput, 25417.4), "25,417");
        assert_eq!(value(Metric::RecordsPerS, 12.345), "12.3");
        assert_eq!(value(Metric::RecordsPerS, 0.5), "0.500");
        assert_eq!(value(Metric::CpuPerRecord, 12.345), "12.35 µs");
        assert_eq!(value(Metric::Busy, 0.934), "93%");
        assert_eq!(change(0.21, true), "+21.0%");
        assert_eq!(change(-0.124, true), "-12.4%");
        assert_eq!(change(0.06, false), "+0.06");
        assert_eq!(interval([0.192, 0.228], true), "[+19.2%, +22.8%]");
        assert_eq!(limit_text(0.05, true), "5%");
        assert_eq!(limit_text(0.025, true), "2.5%");
        assert_eq!(limit_text(0.05, false), "0.05");
        assert_eq!(level(1.0 - 0.05 / 9.0), "99.4");
        assert_eq!(level(0.95), "95");
        assert_eq!(level(1.0 - 0.05 / 1000.0), "99.995");
        assert_eq!(signed_number(-0.52), "-0.520");
        assert_eq!(signed_number(1234.0), "+1,234");
        assert_eq!(number(99.96), "100");
    }
}
