//! Renders a [`CheckReport`] for people, in a terminal or a CI log: the verdict first, then what
//! was compared, the warnings and findings, and aligned tables of the comparisons, of the
//! functions whose cost per record changed, and of the budgets (the style of `bpprof locate`).
//!
//! The text it shares with the other renderers is in the `cells` module of `check`, the numbers
//! in [`crate::units`].

use std::io::{self, Write};

pub use super::cells::MAX_FUNCTION_ROWS;
use super::cells::{
    bottleneck_line, budget_value, compared_line, comparison_cells, comparison_rows, finding_line,
    function_cells, function_heading, more_functions, range_lines, samples_line, severity_word,
    status_word,
};
use super::report::{CheckReport, Finding, Severity};
use crate::table::Align::{Left as L, Right as R};
use crate::table::{table, titled_table};
use crate::units::controls_to_spaces;

/// Writes `report` for people: the verdict line ([`CheckReport::summary`]), what was compared and
/// how the intervals were computed, the warnings (`warning: ...`), the findings, the table of
/// comparisons (job throughput first, then each task's metrics in graph order; rows without a
/// limit say `info`), for each [`FunctionDiff`](super::report::FunctionDiff) a table of at most [`MAX_FUNCTION_ROWS`] functions
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
            titled_table(
                out,
                "Comparisons (medians of the windows):",
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
        titled_table(
            out,
            "Budgets:",
            &[("BUDGET", L), ("VALUE", R), ("RESULT", L)],
            rows,
        )?;
    }
    Ok(())
}

/// `error: TITLE: MESSAGE (in FUNCTION)`, on one line.
fn finding_text(f: &Finding) -> String {
    format!(
        "{}: {}",
        severity_word(f.severity),
        finding_line(f, controls_to_spaces, controls_to_spaces)
    )
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
