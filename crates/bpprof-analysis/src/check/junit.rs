//! Renders a [`CheckReport`] as JUnit XML, for CI systems that show test results (GitLab, Jenkins,
//! Azure Pipelines, GitHub test-report actions): one test case per gated comparison, one per
//! budget, and one for the bottleneck.

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use super::cells::{comparison_cells, finding_message, status_word, JOB};
use super::report::{BudgetResult, CheckReport, Comparison, ComparisonStatus, Metric, Severity};
use crate::units::{change, change_interval, limit};

/// Renders `report` as a JUnit XML document:
///
/// ```text
/// <?xml version="1.0" encoding="UTF-8"?>
/// <testsuites name="bpprof check" tests=".." skipped=".." failures=".." errors="0">
///     <testsuite name="bpprof check" tests=".." skipped=".." errors="0" failures="..">
///         <properties>...</properties>
///         <testcase name="throughput" classname="bpprof.job">
///             <failure message="FINDING TITLE" type="regression">details</failure>
///         </testcase>
///         <testcase name="METRIC" classname="bpprof.TASK">...</testcase>
///         <testcase name="EXPRESSION" classname="bpprof.budget">...</testcase>
///         <testcase name="bottleneck" classname="bpprof.job">...</testcase>
///     </testsuite>
/// </testsuites>
/// ```
///
/// There is one test case per gated comparison (status other than
/// [`ComparisonStatus::NotGated`]: job throughput first,
/// then the tasks in graph order; METRIC is [`Metric::name`]), failed for a regression, skipped
/// for an inconclusive result, passed otherwise, with the numbers in `<system-out>`; one per
/// budget, failed when exceeded; and one named `bottleneck` (when the report has one) that always
/// passes and says in `<system-out>` when the bottleneck moved. The document is written by
/// `quick-junit` (nextest's JUnit writer): text is escaped for XML, and characters XML 1.0 does
/// not allow (control characters other than tab, line feed and carriage return) are left out.
pub fn render_junit(report: &CheckReport) -> String {
    let mut suite = TestSuite::new(SUITE);
    suite.add_property(Property::new("status", report.status.label()));
    suite.add_property(Property::new("summary", xml_text(&report.summary)));

    let gated = report
        .throughput
        .iter()
        .chain(report.tasks.iter().flat_map(|t| t.metrics.iter()))
        .filter(|c| c.status != ComparisonStatus::NotGated);
    for c in gated {
        suite.add_test_case(comparison_case(report, c));
    }
    for b in &report.budgets {
        suite.add_test_case(budget_case(b));
    }
    if let Some(b) = &report.bottleneck {
        let mut case = TestCase::new("bottleneck", TestCaseStatus::success());
        case.set_classname("bpprof.job");
        if b.moved {
            case.set_system_out(xml_text(&format!(
                "bottleneck moved: {} -> {}",
                b.baseline.join(", "),
                b.current.join(", ")
            )));
        }
        suite.add_test_case(case);
    }

    let mut junit = Report::new(SUITE);
    junit.add_test_suite(suite);
    // Serialising to memory fails only on a writer error, which a `Vec` does not have.
    junit
        .to_string()
        .expect("a JUnit report serialises to a string")
}

/// The name of the report and of its one test suite.
const SUITE: &str = "bpprof check";

/// The test case of a gated comparison: failed for a regression (the finding's title as the
/// message, its message and the numbers as the text), skipped when inconclusive, passed
/// otherwise; the numbers in `<system-out>`.
fn comparison_case(report: &CheckReport, c: &Comparison) -> TestCase {
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
    let (status, system_out) = match c.status {
        ComparisonStatus::Regression => {
            let message = finding.map_or_else(|| short(c), |f| f.title.clone());
            let mut details = finding
                .map(|f| finding_message(f, str::to_owned, str::to_owned))
                .unwrap_or_default();
            if !details.is_empty() {
                details.push('\n');
            }
            details.push_str(&numbers);
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status
                .set_message(xml_text(&message))
                .set_type("regression")
                .set_description(xml_text(&details));
            (status, None)
        }
        ComparisonStatus::Inconclusive => {
            let message = c
                .reason
                .clone()
                .or_else(|| finding.map(|f| f.message.clone()))
                .unwrap_or_else(|| format!("inconclusive: {}", short(c)));
            let mut status = TestCaseStatus::skipped();
            status.set_message(xml_text(&message));
            (status, Some(numbers))
        }
        _ => (TestCaseStatus::success(), Some(numbers)),
    };
    let class = format!("bpprof.{}", c.task.as_deref().unwrap_or("job"));
    let mut case = TestCase::new(c.metric.name(), status);
    case.set_classname(xml_text(&class));
    if let Some(out) = system_out {
        case.set_system_out(xml_text(&out));
    }
    case
}

/// The test case of a budget: failed when exceeded, skipped when undecided; what was measured in
/// `<system-out>` (or the failure's text).
fn budget_case(b: &BudgetResult) -> TestCase {
    let value = b
        .value
        .map_or_else(|| "no value".to_owned(), |v| b.metric.format_as_bound(v));
    let measured = format!(
        "{}: measured {value} (bound {} {})",
        b.expression, b.operator, b.bound
    );
    let (status, system_out) = if let Some(reason) = &b.inconclusive {
        let mut status = TestCaseStatus::skipped();
        status.set_message(xml_text(reason));
        (status, Some(measured))
    } else if b.passed {
        (TestCaseStatus::success(), Some(measured))
    } else {
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
        status
            .set_message(xml_text(&format!("budget exceeded: {measured}")))
            .set_type("budget")
            .set_description(xml_text(&measured));
        (status, None)
    };
    let mut case = TestCase::new(xml_text(&b.expression), status);
    case.set_classname("bpprof.budget");
    if let Some(out) = system_out {
        case.set_system_out(xml_text(&out));
    }
    case
}

/// `s` without the two non-characters XML 1.0 does not allow, U+FFFE and U+FFFF; quick-junit
/// leaves out the rest (control characters other than tab, line feed and carriage return, and
/// ANSI escape sequences) and escapes the markup.
fn xml_text(s: &str) -> String {
    s.replace(['\u{FFFE}', '\u{FFFF}'], "")
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
