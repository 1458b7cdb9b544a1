//! Renders a [`CheckReport`] as JUnit XML, for CI systems that show test results (GitLab, Jenkins,
//! Azure Pipelines, GitHub test-report actions): one test case per gated comparison, one per
//! budget, and one for the bottleneck.

use std::fmt::Write as _;

use super::cells::{comparison_cells, status_word, JOB};
use super::report::{CheckReport, Comparison, ComparisonStatus, Metric, Severity};
use crate::units::{change, change_interval, limit};

/// Renders `report` as a JUnit XML document:
///
/// ```text
/// <?xml version="1.0" encoding="UTF-8"?>
/// <testsuites name="bpprof check" tests=".." failures=".." errors="0" skipped="..">
///   <testsuite name="bpprof check" tests=".." failures=".." errors="0" skipped="..">
///     <testcase classname="bpprof.job" name="throughput">
///       <failure message="FINDING TITLE">details</failure>
///     </testcase>
///     <testcase classname="bpprof.TASK" name="METRIC">...</testcase>
///     <testcase classname="bpprof.budget" name="EXPRESSION">...</testcase>
///     <testcase classname="bpprof.job" name="bottleneck">...</testcase>
///   </testsuite>
/// </testsuites>
/// ```
///
/// There is one test case per gated comparison (status other than
/// [`ComparisonStatus::NotGated`]: job throughput first,
/// then the tasks in graph order; METRIC is [`Metric::name`]), failed for a regression, skipped
/// for an inconclusive result, passed otherwise, with the numbers in `<system-out>`; one per
/// budget, failed when exceeded; and one named `bottleneck` (when the report has one) that always
/// passes and says in `<system-out>` when the bottleneck moved. Text is escaped for XML, and
/// characters XML 1.0 does not allow (control characters other than tab, line feed and carriage
/// return) are left out.
pub fn render_junit(report: &CheckReport) -> String {
    let mut cases = String::new();
    let (mut tests, mut failures, mut skipped) = (0usize, 0usize, 0usize);

    let gated = report
        .throughput
        .iter()
        .chain(report.tasks.iter().flat_map(|t| t.metrics.iter()))
        .filter(|c| c.status != ComparisonStatus::NotGated);
    for c in gated {
        tests += 1;
        let class = format!("bpprof.{}", c.task.as_deref().unwrap_or("job"));
        let numbers = numbers(c);
        let finding = report.findings.iter().find(|f| {
            f.task == c.task
                && f.metric == Some(c.metric)
                && f.severity
                    == match c.status {
                        ComparisonStatus::Regression => Severity::Error,
                        ComparisonStatus::Inconclusive => Severity::Warning,
                        _ => Severity::Notice,
                    }
        });
        let body = match c.status {
            ComparisonStatus::Regression => {
                failures += 1;
                let message = finding.map_or_else(|| short(c), |f| f.title.clone());
                let mut details = finding.map(|f| f.message.clone()).unwrap_or_default();
                if let Some(function) = finding.and_then(|f| f.function.as_deref()) {
                    if !details.contains(function) {
                        details.push_str(&format!(" (in {function})"));
                    }
                }
                if !details.is_empty() {
                    details.push('\n');
                }
                details.push_str(&numbers);
                format!(
                    "      <failure message=\"{}\" type=\"regression\">{}</failure>\n",
                    escape_xml(&message),
                    escape_xml(&details)
                )
            }
            ComparisonStatus::Inconclusive => {
                skipped += 1;
                let message = c
                    .reason
                    .clone()
                    .or_else(|| finding.map(|f| f.message.clone()))
                    .unwrap_or_else(|| format!("inconclusive: {}", short(c)));
                format!(
                    "      <skipped message=\"{}\"/>\n      <system-out>{}</system-out>\n",
                    escape_xml(&message),
                    escape_xml(&numbers)
                )
            }
            _ => format!("      <system-out>{}</system-out>\n", escape_xml(&numbers)),
        };
        testcase(&mut cases, &class, c.metric.name(), &body);
    }

    for b in &report.budgets {
        tests += 1;
        let value = b
            .value
            .map_or_else(|| "no value".to_owned(), |v| b.metric.format_as_bound(v));
        let measured = format!(
            "{}: measured {value} (bound {} {})",
            b.expression, b.operator, b.bound
        );
        let body = if let Some(reason) = &b.inconclusive {
            skipped += 1;
            format!(
                "      <skipped message=\"{}\"/>\n      <system-out>{}</system-out>\n",
                escape_xml(reason),
                escape_xml(&measured)
            )
        } else if b.passed {
            format!("      <system-out>{}</system-out>\n", escape_xml(&measured))
        } else {
            failures += 1;
            format!(
                "      <failure message=\"{}\" type=\"budget\">{}</failure>\n",
                escape_xml(&format!("budget exceeded: {measured}")),
                escape_xml(&measured)
            )
        };
        testcase(&mut cases, "bpprof.budget", &b.expression, &body);
    }

    if let Some(b) = &report.bottleneck {
        tests += 1;
        let body = if b.moved {
            format!(
                "      <system-out>{}</system-out>\n",
                escape_xml(&format!(
                    "bottleneck moved: {} -> {}",
                    b.baseline.join(", "),
                    b.current.join(", ")
                ))
            )
        } else {
            String::new()
        };
        testcase(&mut cases, "bpprof.job", "bottleneck", &body);
    }

    let counts =
        format!("tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\"");
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(xml, "<testsuites name=\"bpprof check\" {counts}>");
    let _ = writeln!(xml, "  <testsuite name=\"bpprof check\" {counts}>");
    let _ = writeln!(xml, "    <properties>");
    let _ = writeln!(
        xml,
        "      <property name=\"status\" value=\"{}\"/>",
        report.status.label()
    );
    let _ = writeln!(
        xml,
        "      <property name=\"summary\" value=\"{}\"/>",
        escape_xml(&report.summary)
    );
    let _ = writeln!(xml, "    </properties>");
    xml.push_str(&cases);
    let _ = writeln!(xml, "  </testsuite>");
    let _ = writeln!(xml, "</testsuites>");
    xml
}

/// Appends `<testcase classname=".." name="..">body</testcase>` (self-closed when `body` is
/// empty).
fn testcase(out: &mut String, class: &str, name: &str, body: &str) {
    let _ = write!(
        out,
        "    <testcase classname=\"{}\" name=\"{}\"",
        escape_xml(class),
        escape_xml(name)
    );
    if body.is_empty() {
        out.push_str("/>\n");
    } else {
        let _ = write!(out, ">\n{body}    </testcase>\n");
    }
}

/// `Enrich CPU/record +21.0% [+19.2%, +22.8%], limit 5%` (without a finding to quote).
fn short(c: &Comparison) -> String {
    let task = c.task.as_deref().unwrap_or(JOB);
    let mut text = format!("{task} {}", c.metric.label());
    if let Some(v) = c.change {
        text.push(' ');
        text.push_str(&change(v, c.relative));
    }
    if let Some(i) = c.interval {
        text.push(' ');
        text.push_str(&change_interval(i, c.relative));
    }
    if let Some(l) = c.limit {
        text.push_str(&format!(", limit {}", limit(l, c.relative)));
    }
    text
}

/// `baseline 25,000 records/s, current 21,900 records/s, change -12.4% [-14.0%, -10.9%], limit
/// 5%, 120 / 118 windows: REGRESSION`.
fn numbers(c: &Comparison) -> String {
    let [_, baseline, current, change, interval, limit] = comparison_cells(c);
    let unit = match c.metric {
        Metric::Throughput | Metric::RecordsPerS => " records/s",
        _ => "",
    };
    let mut text = format!(
        "baseline {baseline}{unit}, current {current}{unit}, change {change} {interval}, \
         limit {limit}, {} / {} windows: {}",
        c.windows[0],
        c.windows[1],
        status_word(c.status)
    );
    if let Some(reason) = &c.reason {
        text.push_str(&format!(" ({reason})"));
    }
    text
}

/// XML escaping as the report uses it (also for callers that embed report text in XML).
pub use crate::xml::escape as escape_xml;
