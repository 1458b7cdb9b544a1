//! Renders a [`CheckReport`] as GitHub-flavoured Markdown, for a job summary
//! (`$GITHUB_STEP_SUMMARY`) or a pull-request comment: a heading with the status, the verdict
//! line, the findings, the comparisons as a table, the function tables and the budgets — within a
//! size limit.
//!
//! Text from the report (task and function names, messages) is escaped: Markdown punctuation gets
//! a backslash, line breaks become spaces, `|` in table cells becomes `\|`, and code spans use a
//! run of backticks longer than any inside them.

use super::cells::{
    bottleneck_line, budget_value, compared_line, comparison_cells, comparison_rows, finding_line,
    function_cells, function_heading, more_functions, samples_line, severity_word, status_word,
    MAX_FUNCTION_ROWS,
};
use super::report::{CheckReport, ComparisonStatus, Finding, Severity};
use crate::units::{controls_to_spaces, plural, thousands};

/// The size limit of a GitHub Actions job summary (`$GITHUB_STEP_SUMMARY`), bytes: 1 MiB.
pub const STEP_SUMMARY_LIMIT: usize = 1_048_576;

/// How the note that says what was left out to stay within the size limit starts.
pub const OMITTED_NOTE_START: &str = "_Omitted to stay within";

/// Longest text (verdict, warning, finding) written, bytes; longer ones are cut with `…`.
const MAX_TEXT: usize = 4096;

/// Renders `report` as Markdown of at most `max_bytes` bytes.
///
/// The document is `### bpprof check: STATUS`, the verdict line, what was compared, the
/// warnings, the findings, a table of the comparisons (job throughput first), a table of at most
/// [`MAX_FUNCTION_ROWS`] functions per [`super::report::FunctionDiff`] with its hottest path, and
/// the budgets.
///
/// When the whole document is longer than `max_bytes`, rows are left out, whole table rows and
/// list items only, in this order: function rows (the lowest-ranked of every table first), then
/// the rows of metrics without a limit, then (only if still too long) everything else from the
/// least severe up; the document then ends with a line starting with [`OMITTED_NOTE_START`] that
/// counts what was left out. A table whose rows were all left out is left out with its heading.
/// If not even that note fits, the result is empty.
pub fn render_check_markdown(report: &CheckReport, max_bytes: usize) -> String {
    let blocks = blocks(report);
    fit(&blocks, max_bytes)
}

/// What a droppable row is, for the omission note.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    FunctionRow,
    TaskRow,
    Finding,
    Warning,
    Budget,
    Other,
}

const KINDS: [(Kind, &str); 6] = [
    (Kind::FunctionRow, "function row"),
    (Kind::TaskRow, "comparison row"),
    (Kind::Finding, "finding"),
    (Kind::Warning, "warning"),
    (Kind::Budget, "budget row"),
    (Kind::Other, "other line"),
];

/// Drop levels: the highest is left out first.
const HEADING: u8 = 0;
const VERDICT: u8 = 1;
const CONTEXT: u8 = 2;
const SEVERE: u8 = 3;
const GATED: u8 = 4;
const NOT_GATED: u8 = 5;
const FUNCTION: u8 = 6;

/// One line (a table row, a list item, a paragraph), with its trailing line break.
struct Row {
    text: String,
    level: u8,
    /// Among rows of the same level, the higher is left out first.
    rank: usize,
    kind: Kind,
}

/// Rows with what surrounds them: `head` and `tail` are written only when at least one row is.
struct Block {
    head: String,
    rows: Vec<Row>,
    tail: String,
}

/// Numbers the rows in the order they are made, so that among rows of one level the later ones
/// are left out first.
#[derive(Default)]
struct Rows {
    made: usize,
}

impl Rows {
    fn row(&mut self, text: String, level: u8, kind: Kind) -> Row {
        self.made += 1;
        Row {
            text,
            level,
            rank: self.made,
            kind,
        }
    }
}

impl Block {
    /// Rows without a heading or a tail of their own.
    fn bare(rows: Vec<Row>) -> Block {
        Block {
            head: String::new(),
            rows,
            tail: String::new(),
        }
    }
}

/// The document in blocks, in order: the heading and verdict, what was compared, the warnings,
/// the findings, the comparisons, one block per function table, the budgets.
fn blocks(report: &CheckReport) -> Vec<Block> {
    let mut rows = Rows::default();
    let budget_only = report.baseline.is_empty() && report.statistics.is_none();
    let mut blocks = vec![
        verdict_block(report, &mut rows),
        Block::bare(if budget_only {
            Vec::new()
        } else {
            context_rows(report, &mut rows)
        }),
        warnings_block(report, &mut rows),
    ];
    if !budget_only {
        blocks.push(findings_block(report, &mut rows));
        blocks.push(comparisons_block(report, &mut rows));
        blocks.extend(function_blocks(report));
    }
    blocks.push(budgets_block(report, &mut rows));
    blocks
}

/// `### bpprof check: STATUS` and the verdict line.
fn verdict_block(report: &CheckReport, rows: &mut Rows) -> Block {
    Block::bare(vec![
        rows.row(
            format!("### bpprof check: {}\n", report.status.label()),
            HEADING,
            Kind::Other,
        ),
        rows.row(
            format!("\n{}\n", escape_text(&report.summary)),
            VERDICT,
            Kind::Other,
        ),
    ])
}

/// What was compared, and where the bottleneck is.
fn context_rows(report: &CheckReport, rows: &mut Rows) -> Vec<Row> {
    [compared_line(report), bottleneck_line(report)]
        .into_iter()
        .flatten()
        .map(|line| rows.row(format!("\n{}\n", escape_text(&line)), CONTEXT, Kind::Other))
        .collect()
}

fn warnings_block(report: &CheckReport, rows: &mut Rows) -> Block {
    Block {
        head: "\n".to_owned(),
        rows: report
            .warnings
            .iter()
            .map(|w| {
                rows.row(
                    format!("- **warning:** {}\n", escape_text(w)),
                    SEVERE,
                    Kind::Warning,
                )
            })
            .collect(),
        tail: String::new(),
    }
}

fn findings_block(report: &CheckReport, rows: &mut Rows) -> Block {
    Block {
        head: "\n#### Findings\n\n".to_owned(),
        rows: report
            .findings
            .iter()
            .map(|f| {
                let level = if f.severity == Severity::Error {
                    SEVERE
                } else {
                    GATED
                };
                rows.row(finding_item(f), level, Kind::Finding)
            })
            .collect(),
        tail: String::new(),
    }
}

fn comparisons_block(report: &CheckReport, rows: &mut Rows) -> Block {
    Block {
        head: "\n#### Comparisons\n\n\
               | task | metric | baseline | current | change | interval | limit | status |\n\
               |---|---|--:|--:|--:|--:|--:|---|\n"
            .to_owned(),
        rows: comparison_rows(report)
            .map(|(task, c)| {
                let level = match c.status {
                    ComparisonStatus::Regression => SEVERE,
                    ComparisonStatus::NotGated => NOT_GATED,
                    _ if c.limit.is_none() => NOT_GATED,
                    _ => GATED,
                };
                let status = match c.status {
                    ComparisonStatus::Regression => "**REGRESSION**".to_owned(),
                    s => status_word(s).to_owned(),
                };
                let mut cells = vec![escape_text(task)];
                cells.extend(comparison_cells(c));
                cells.push(status);
                rows.row(table_row(&cells), level, Kind::TaskRow)
            })
            .collect(),
        tail: String::new(),
    }
}

/// One block per function table; rows ranked by row index first, so every table keeps its top
/// rows longest.
fn function_blocks(report: &CheckReport) -> Vec<Block> {
    let tables = report.functions.len();
    report
        .functions
        .iter()
        .enumerate()
        .map(|(t, diff)| {
            let mut tail = String::new();
            if let Some(more) = more_functions(diff) {
                tail.push_str(&format!("\n_{}_\n", escape_text(&more)));
            }
            if !diff.hottest_path.is_empty() {
                let path: Vec<String> = diff
                    .hottest_path
                    .iter()
                    .map(|f| code_span(f, false))
                    .collect();
                tail.push_str(&format!("\nHottest path: {}\n", path.join(" → ")));
            }
            let rows = diff
                .rows
                .iter()
                .take(MAX_FUNCTION_ROWS)
                .enumerate()
                .map(|(i, f)| {
                    let mut cells: Vec<String> = function_cells(f).to_vec();
                    cells.push(code_span(&f.function, true));
                    Row {
                        text: table_row(&cells),
                        level: FUNCTION,
                        rank: i * tables + t,
                        kind: Kind::FunctionRow,
                    }
                })
                .collect();
            Block {
                head: format!(
                    "\n#### {}\n\n{}\n\n\
                     | self base | self now | Δself | total base | total now | status | function |\n\
                     |--:|--:|--:|--:|--:|---|---|\n",
                    escape_text(&function_heading(diff)),
                    escape_text(&samples_line(diff)),
                ),
                rows,
                tail,
            }
        })
        .collect()
}

fn budgets_block(report: &CheckReport, rows: &mut Rows) -> Block {
    Block {
        head: "\n#### Budgets\n\n| budget | value | result |\n|---|--:|---|\n".to_owned(),
        rows: report
            .budgets
            .iter()
            .map(|b| {
                let result = match b.result_word() {
                    "FAIL" => "**FAIL**",
                    word => word,
                };
                rows.row(
                    table_row(&[
                        code_span(&b.expression, true),
                        budget_value(b),
                        result.into(),
                    ]),
                    if b.passed { GATED } else { SEVERE },
                    Kind::Budget,
                )
            })
            .collect(),
        tail: String::new(),
    }
}

/// `- **error** TITLE: MESSAGE (in `FUNCTION`)` and a line break.
fn finding_item(f: &Finding) -> String {
    format!(
        "- **{}** {}\n",
        severity_word(f.severity),
        finding_line(f, escape_text, |function| code_span(function, false))
    )
}

/// Writes the blocks, leaving rows out until the document and the omission note fit in
/// `max_bytes`.
fn fit(blocks: &[Block], max_bytes: usize) -> String {
    let mut included: Vec<Vec<bool>> = blocks.iter().map(|b| vec![true; b.rows.len()]).collect();
    let mut counts: Vec<usize> = blocks.iter().map(|b| b.rows.len()).collect();
    let frame = |b: &Block| b.head.len() + b.tail.len();
    let mut total: usize = blocks
        .iter()
        .filter(|b| !b.rows.is_empty())
        .map(|b| frame(b) + b.rows.iter().map(|r| r.text.len()).sum::<usize>())
        .sum();

    let mut omitted = [0usize; KINDS.len()];
    if total > max_bytes {
        let mut order: Vec<(u8, usize, usize, usize)> = blocks
            .iter()
            .enumerate()
            .flat_map(|(b, block)| {
                block
                    .rows
                    .iter()
                    .enumerate()
                    .map(move |(r, row)| (row.level, row.rank, b, r))
            })
            .collect();
        order.sort_unstable_by_key(|x| std::cmp::Reverse((x.0, x.1)));
        let mut fits = false;
        for (_, _, b, r) in order {
            let row = &blocks[b].rows[r];
            included[b][r] = false;
            counts[b] -= 1;
            total -= row.text.len();
            if counts[b] == 0 {
                total -= frame(&blocks[b]);
            }
            omitted[KINDS.iter().position(|k| k.0 == row.kind).unwrap_or(0)] += 1;
            // (The note is only worth writing once the rest fits.)
            if total <= max_bytes && total + omitted_note(&omitted, max_bytes).len() <= max_bytes {
                fits = true;
                break;
            }
        }
        if !fits {
            return String::new();
        }
    }

    let mut out = String::with_capacity(total + 256);
    for (b, block) in blocks.iter().enumerate() {
        if counts[b] == 0 {
            continue;
        }
        out.push_str(&block.head);
        for (r, row) in block.rows.iter().enumerate() {
            if included[b][r] {
                out.push_str(&row.text);
            }
        }
        out.push_str(&block.tail);
    }
    if omitted.iter().any(|&n| n > 0) {
        out.push_str(&omitted_note(&omitted, max_bytes));
    }
    debug_assert!(out.len() <= max_bytes);
    out
}

/// `\n_Omitted to stay within 1,048,576 bytes: 12 function rows, 3 comparison rows. The JSON
/// report has everything._\n`.
fn omitted_note(omitted: &[usize; KINDS.len()], max_bytes: usize) -> String {
    let parts: Vec<String> = KINDS
        .iter()
        .zip(omitted)
        .filter(|(_, &n)| n > 0)
        .map(|((_, noun), &n)| plural(n, noun))
        .collect();
    format!(
        "\n{OMITTED_NOTE_START} {} bytes: {}. The JSON report has everything._\n",
        thousands(max_bytes as u64),
        parts.join(", ")
    )
}

/// A table row: `| a | b |` and a line break.
fn table_row(cells: &[String]) -> String {
    let mut row = String::from("|");
    for cell in cells {
        row.push(' ');
        row.push_str(cell);
        row.push_str(" |");
    }
    row.push('\n');
    row
}

/// `s` as Markdown text on one line: control characters (line breaks included) become spaces and
/// the punctuation that could start Markdown or HTML (`\ ` * _ [ ] < > | ~ & #`) gets a
/// backslash. Safe in a paragraph, a list item and a table cell. Cut at 4 KiB.
pub fn escape_text(s: &str) -> String {
    let s = cut(s, MAX_TEXT);
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '~' | '&' | '#' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// `s` as a Markdown code span on one line: fenced by more backticks than the longest run in it,
/// padded with a space when it starts or ends with a backtick or a space; in a table cell
/// (`in_table`), `|` becomes `\|` (GitHub's tables remove the backslash, code spans included).
/// Cut at 4 KiB; empty for an empty `s`.
pub fn code_span(s: &str, in_table: bool) -> String {
    let s = cut(s, MAX_TEXT);
    let mut content = controls_to_spaces(&s);
    if content.is_empty() {
        return String::new();
    }
    let mut longest = 0;
    let mut run = 0;
    for c in content.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    if in_table {
        content = content.replace('|', "\\|");
    }
    let fence = "`".repeat(longest + 1);
    let pad = if content.starts_with(['`', ' ']) || content.ends_with(['`', ' ']) {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{content}{pad}{fence}")
}

/// `s` cut to at most `max` bytes at a character boundary, with `…` when cut.
fn cut(s: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if s.len() <= max {
        return s.into();
    }
    let mut end = max - '…'.len_utf8();
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end]).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_spans_hold_backticks_and_pipes() {
        assert_eq!(code_span("a", false), "`a`");
        assert_eq!(code_span("a`b", false), "``a`b``");
        assert_eq!(code_span("`a``", false), "``` `a`` ```");
        assert_eq!(code_span("a|b\nc", true), "`a\\|b c`");
        assert_eq!(code_span("", true), "");
    }

    #[test]
    fn text_escapes_markdown_and_line_breaks() {
        assert_eq!(escape_text("a|b\nc*d<e>"), "a\\|b c\\*d\\<e\\>");
        let long = "é".repeat(MAX_TEXT);
        let cut = escape_text(&long);
        assert!(cut.len() <= MAX_TEXT && cut.ends_with('…'));
    }
}
