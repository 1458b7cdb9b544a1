//! The pieces of text every renderer of a [`CheckReport`] shows alike: the cells of the
//! comparison, function and budget tables, the status and severity words, and the lines that say
//! what was compared, over which ranges, and where the bottleneck is. The renderers ([`super::human`],
//! [`super::markdown`], [`super::junit`]) take these from here, never from one another; the
//! numbers in them come from [`crate::units`].

use super::report::{
    BudgetResult, CheckReport, Comparison, ComparisonStatus, Finding, FunctionChange, FunctionDiff,
    FunctionStatus, RecordingInfo, Severity, Statistics,
};
use crate::units::{
    change, change_interval, confidence_level, limit, number, plural, seconds, signed_number,
    thousands, MISSING,
};

/// Task names for messages: `Enrich, Sink`, or `none`.
pub(crate) fn names(tasks: &[String]) -> String {
    if tasks.is_empty() {
        "none".to_owned()
    } else {
        tasks.join(", ")
    }
}

/// Function rows shown per task in the text and Markdown outputs (the largest changes; the JSON
/// report has them all).
pub const MAX_FUNCTION_ROWS: usize = 15;

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
    let side = |name: &str, recordings: &[RecordingInfo]| {
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

/// A finding's message, followed by ` (in FUNCTION)` when the finding is attributed to a
/// function the message does not name; `text` formats the message and `function` the function's
/// name (each renderer's escaping; the identity for plain text).
pub(crate) fn finding_message(
    f: &Finding,
    text: impl Fn(&str) -> String,
    function: impl Fn(&str) -> String,
) -> String {
    let mut message = text(&f.message);
    if let Some(name) = &f.function {
        if !f.message.contains(name.as_str()) {
            message.push_str(&format!(" (in {})", function(name)));
        }
    }
    message
}

/// `TITLE: MESSAGE (in FUNCTION)`: the finding's title, then its [`finding_message`] after a
/// colon when there is a message; `text` formats the title and message, `function` the name.
pub(crate) fn finding_line(
    f: &Finding,
    text: impl Fn(&str) -> String,
    function: impl Fn(&str) -> String,
) -> String {
    let separator = if f.message.is_empty() { "" } else { ": " };
    format!(
        "{}{separator}{}",
        text(&f.title),
        finding_message(f, &text, function)
    )
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

fn dash() -> String {
    MISSING.to_owned()
}
