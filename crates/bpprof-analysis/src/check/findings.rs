//! What a check concludes: the findings it rests on, its status, and the verdict line.

use super::cells::names;
use super::options::TOO_SHORT_ADVICE;
use super::report::*;
use crate::units::{controls_to_spaces, plural, MISSING};

/// Title of the finding that the bottleneck moved.
const BOTTLENECK_MOVED: &str = "bottleneck moved";

/// Findings named in the verdict line before "and N more".
const SUMMARY_FINDINGS: usize = 3;

/// The finding of a decided comparison, if it is one.
fn comparison_finding(
    c: &Comparison,
    functions: &[FunctionDiff],
    bottleneck: &BottleneckChange,
) -> Option<Finding> {
    let severity = match c.status {
        ComparisonStatus::Regression => Severity::Error,
        ComparisonStatus::Inconclusive => Severity::Warning,
        ComparisonStatus::Improvement => Severity::Notice,
        // A change beyond the limit that the check explained away.
        ComparisonStatus::Unchanged if c.reason.is_some() => Severity::Notice,
        ComparisonStatus::Unchanged | ComparisonStatus::NotGated => return None,
    };
    // Where in the code: the task's own profile for its cost, the bottleneck's for throughput.
    let traced_task = match c.metric {
        Metric::CpuPerRecord => c.task.clone(),
        _ => bottleneck.current.first().cloned(),
    };
    let function = (severity == Severity::Error)
        .then(|| {
            functions
                .iter()
                .find(|f| Some(&f.task) == traced_task.as_ref() && !f.hottest_path.is_empty())
                .map(|f| f.hottest_path.join(" → "))
        })
        .flatten();
    let what = match c.status {
        ComparisonStatus::Regression => "regressed",
        ComparisonStatus::Improvement => "improved",
        ComparisonStatus::Unchanged => "changed, not a regression",
        _ if c.change.is_none() => "could not be compared",
        _ => "changed, inconclusively",
    };
    let value =
        |v: Option<f64>| v.map_or_else(|| MISSING.to_owned(), |v| c.metric.format_with_unit(v));
    let median = format!(
        "median {} → {} over {} → {} windows",
        value(c.baseline),
        value(c.current),
        c.windows[0],
        c.windows[1],
    );
    let mut message = match c.change {
        Some(_) => format!(
            "{} {} (limit {}); {median}",
            c.change_text(),
            c.interval_text(),
            c.limit_text(),
        ),
        None => format!("{median} (limit {})", c.limit_text()),
    };
    if let Some(path) = &function {
        message.push_str(&format!(
            "; the cost that grew most is in {path} ({} on-CPU samples)",
            traced_task.as_deref().unwrap_or("the bottleneck")
        ));
    }
    if let Some(reason) = &c.reason {
        message.push_str(&format!("; {reason}"));
    }
    Some(Finding {
        severity,
        title: format!("{} {what}", c.name()),
        message,
        task: c.task.clone(),
        metric: Some(c.metric),
        function,
    })
}

pub(super) fn budget_finding(b: &BudgetResult) -> Finding {
    let value = b.value.map_or_else(
        || "undefined in the recording".to_owned(),
        // In the scale of the bound the budget was written with (`busy < 0.9`: `0.930`).
        |v| match b.metric.unit() {
            "" => b.metric.format_as_bound(v),
            _ => b.metric.format_with_unit(v),
        },
    );
    Finding {
        severity: Severity::Error,
        title: format!("budget {} exceeded", b.expression),
        message: format!("budget '{}' not met: the value is {value}", b.expression),
        task: b.task.clone(),
        metric: Some(b.metric),
        function: None,
    }
}

/// The finding that a recording's range is too short: `warning` says why and what to do;
/// `budgets` budgets were left undecided because of it.
pub(super) fn coverage_finding(path: &str, warning: &str, budgets: usize) -> Finding {
    // The title names the recording; the message says what is wrong with it.
    let undecided = match budgets {
        0 => String::new(),
        1 => "; the budget is inconclusive".to_owned(),
        n => format!("; the {n} budgets are inconclusive"),
    };
    Finding {
        severity: Severity::Warning,
        title: format!("too little data in {path}"),
        message: format!("{warning}{undecided}"),
        task: None,
        metric: None,
        function: None,
    }
}

pub(super) fn overall_status(report: &CheckReport) -> Status {
    if report
        .findings
        .iter()
        .any(|f| f.severity == Severity::Error)
    {
        Status::Regression
    } else if report
        .throughput
        .iter()
        .chain(report.tasks.iter().flat_map(|t| &t.metrics))
        .any(|c| c.status == ComparisonStatus::Inconclusive)
        || report.budgets.iter().any(|b| b.inconclusive.is_some())
    {
        Status::Inconclusive
    } else {
        Status::Pass
    }
}

/// The verdict line: the status, the job throughput, the findings that decide it, the bottleneck.
pub(super) fn summary(report: &CheckReport) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(t) = &report.throughput {
        if t.change.is_some() {
            parts.push(format!(
                "throughput {} {}",
                t.change_text(),
                t.interval_text()
            ));
        }
    }
    let decisive = match report.status {
        Status::Regression => Severity::Error,
        Status::Inconclusive => Severity::Warning,
        Status::Pass => Severity::Notice,
    };
    let comparisons: Vec<&Comparison> = report.tasks.iter().flat_map(|t| &t.metrics).collect();
    let mut named = 0usize;
    let mut more = 0usize;
    let throughput_named = report
        .throughput
        .as_ref()
        .is_some_and(|t| t.change.is_some());
    for f in report.findings.iter().filter(|f| f.severity == decisive) {
        if f.metric == Some(Metric::Throughput) && throughput_named {
            continue;
        }
        if f.title == BOTTLENECK_MOVED {
            continue; // The bottleneck is named below.
        }
        if named == SUMMARY_FINDINGS {
            more += 1;
            continue;
        }
        named += 1;
        let comparison = comparisons
            .iter()
            .find(|c| c.task == f.task && Some(c.metric) == f.metric);
        let mut text = match comparison {
            Some(c) if c.change.is_some() => {
                format!("{} {} {}", c.name(), c.change_text(), c.interval_text())
            }
            _ => f.title.clone(),
        };
        if let Some(function) = &f.function {
            text.push_str(&format!(" in {function}"));
        }
        parts.push(text);
    }
    if more > 0 {
        parts.push(format!("and {more} more"));
    }
    if let Some(b) = &report.bottleneck {
        parts.push(if b.moved {
            format!(
                "bottleneck moved: {} → {}",
                names(&b.baseline),
                names(&b.current)
            )
        } else {
            format!("bottleneck unchanged: {}", names(&b.current))
        });
    }
    if !report.budgets.is_empty() {
        let total = report.budgets.len();
        let undecided = report
            .budgets
            .iter()
            .filter(|b| b.inconclusive.is_some())
            .count();
        let failed = report
            .budgets
            .iter()
            .filter(|b| !b.passed && b.inconclusive.is_none())
            .count();
        parts.push(if undecided > 0 {
            format!("{undecided} of {total} budgets inconclusive: too little data")
        } else if failed == 0 {
            format!("{} met", plural(total, "budget"))
        } else {
            format!("{failed} of {total} budgets exceeded")
        });
    }
    if parts.is_empty() {
        parts.push("nothing beyond the limits".to_owned());
    }
    // One line, whatever the task names hold.
    controls_to_spaces(&format!("{}: {}", report.status.label(), parts.join("; ")))
}

/// The findings of the decided comparisons (one for all those left undecided for want of
/// windows) and of a moved bottleneck.
pub(super) fn comparison_findings(
    report: &CheckReport,
    bottleneck: &BottleneckChange,
    min_windows: usize,
) -> Vec<Finding> {
    let comparisons = report
        .throughput
        .iter()
        .chain(report.tasks.iter().flat_map(|t| &t.metrics));
    // Comparisons left undecided because a side's recordings are too short make one finding, not
    // one each. (With recordings long enough, a comparison short of windows lacks values of its
    // metric: a finding of its own says which.)
    let recorded = |side: &[RecordingInfo]| side.iter().map(|r| r.windows).sum::<usize>();
    let [rb, rc] = [recorded(&report.baseline), recorded(&report.current)];
    let few_data = |side: &[RecordingInfo]| {
        side.iter()
            .any(|r| r.range.as_ref().is_some_and(|c| c.is_short()))
    };
    let little_data = few_data(&report.baseline) || few_data(&report.current);
    let short_side = rb < min_windows || rc < min_windows || little_data;
    let short = |c: &Comparison| {
        short_side
            && c.status == ComparisonStatus::Inconclusive
            && (little_data || c.windows.iter().any(|&n| n < min_windows))
    };
    let (short, decided): (Vec<&Comparison>, Vec<&Comparison>) =
        comparisons.partition(|c| short(c));
    let mut findings: Vec<Finding> = decided
        .into_iter()
        .filter_map(|c| comparison_finding(c, &report.functions, bottleneck))
        .collect();
    if !short.is_empty() {
        findings.push(Finding {
            severity: Severity::Warning,
            title: if rb < min_windows || rc < min_windows {
                format!(
                    "too few windows ({rb} baseline, {rc} current; at least {min_windows} each)"
                )
            } else {
                "too little data (a recording's range is too short)".to_owned()
            },
            message: format!(
                "{} gated comparison{} not decided: {}",
                short.len(),
                if short.len() == 1 { " was" } else { "s were" },
                TOO_SHORT_ADVICE
            ),
            task: None,
            metric: None,
            function: None,
        });
    }
    if bottleneck.moved {
        findings.push(Finding {
            severity: Severity::Warning,
            title: BOTTLENECK_MOVED.to_owned(),
            message: format!(
                "the bottleneck moved from {} to {}",
                names(&bottleneck.baseline),
                names(&bottleneck.current)
            ),
            task: bottleneck.current.first().cloned(),
            metric: None,
            function: None,
        });
    }
    findings
}
