//! The output formats of `bpprof check`: text, Markdown (job summary), JUnit XML and GitHub
//! annotations, over hand-built reports; and the JSON round trip of the report types.

use bpprof_analysis::check::github::{
    escape_data, escape_property, github_annotations, MAX_ANNOTATIONS,
};
use bpprof_analysis::check::human::render_check_human;
use bpprof_analysis::check::junit::render_junit;
use bpprof_analysis::check::markdown::{
    render_check_markdown, OMITTED_NOTE_START, STEP_SUMMARY_LIMIT,
};
use bpprof_analysis::check::{
    BottleneckChange, BudgetResult, CheckReport, Comparison, ComparisonStatus, Finding,
    FunctionChange, FunctionDiff, FunctionStatus, Metric, RecordingInfo, Severity, Statistics,
    Status, TaskComparison, CHECK_SCHEMA, CHECK_SCHEMA_VERSION, TASK_METRICS,
};

/// A task name with Markdown and XML specials in it.
const ODD_TASK: &str = "Sink|<db>";
/// A finding title and message with everything that needs escaping somewhere.
const ODD_TITLE: &str = "Sink|<db> backpressured +0.12: \"50%\", 'q' & more";
const ODD_MESSAGE: &str =
    "line one\nline two\r\nrose 100% [+0.10, +0.14], limit 0.05: a|b <c> & \"d\"\u{7} end";

fn recording(path: &str, windows: usize) -> RecordingInfo {
    RecordingInfo {
        path: path.to_owned(),
        program: "slow_operator".to_owned(),
        host: "ci-1".to_owned(),
        cpus: 4,
        build: "abc123".to_owned(),
        duration_s: 60.5,
        windows,
        range: None,
    }
}

fn comparison(task: Option<&str>, metric: Metric, status: ComparisonStatus) -> Comparison {
    let relative = metric.relative();
    let (baseline, current, change, interval) = match metric {
        Metric::Throughput => (25_000.0, 21_900.0, -0.124, [-0.14, -0.109]),
        Metric::RecordsPerS => (25_000.0, 24_750.0, -0.01, [-0.03, 0.01]),
        Metric::CpuPerRecord => (38.5, 46.585, 0.21, [0.192, 0.228]),
        _ => (0.874, 0.934, 0.06, [0.04, 0.08]),
    };
    let gated = status != ComparisonStatus::NotGated;
    Comparison {
        task: task.map(str::to_owned),
        metric,
        baseline: Some(baseline),
        current: Some(current),
        change: Some(change),
        interval: Some(interval),
        relative,
        limit: gated.then_some(0.05),
        noise: gated.then_some(0.01),
        windows: [120, 118],
        status,
        reason: match status {
            ComparisonStatus::Inconclusive => {
                Some("the interval reaches into the noise band".into())
            }
            ComparisonStatus::NotGated => Some("no limit for this metric".into()),
            _ => None,
        },
    }
}

fn finding(severity: Severity, title: &str, message: &str, task: Option<&str>) -> Finding {
    Finding {
        severity,
        title: title.to_owned(),
        message: message.to_owned(),
        task: task.map(str::to_owned),
        metric: None,
        function: None,
    }
}

fn function_change(function: &str, i: usize, status: FunctionStatus) -> FunctionChange {
    // Short decimals: serde_json (without its `float_roundtrip` feature) parses floats of up to
    // 15 significant digits exactly, but may be off by one unit in the last place on longer ones
    // such as 1000/13 or 76.92 * 1.5.
    let cents = |x: f64| (x * 100.0).round() / 100.0;
    let base = cents(1000.0 / (i + 1) as f64);
    FunctionChange {
        function: function.to_owned(),
        self_baseline: if status == FunctionStatus::New {
            0.0
        } else {
            base
        },
        self_current: if status == FunctionStatus::Vanished {
            0.0
        } else {
            cents(base * 1.5)
        },
        total_baseline: cents(base * 2.0),
        total_current: cents(base * 3.0),
        status,
    }
}

/// Throughput and four tasks of five metrics, a CPU regression in Enrich with its functions, an
/// inconclusive Parse, an odd-named sink that regressed, and two budgets (one exceeded).
fn regression_report() -> CheckReport {
    use ComparisonStatus::*;
    let statuses: [(&str, [ComparisonStatus; 5]); 4] = [
        (
            "Source",
            [Unchanged, NotGated, NotGated, NotGated, NotGated],
        ),
        (
            "Parse",
            [Unchanged, Unchanged, Inconclusive, NotGated, NotGated],
        ),
        (
            "Enrich",
            [Unchanged, Regression, Unchanged, NotGated, NotGated],
        ),
        (
            ODD_TASK,
            [Unchanged, Improvement, NotGated, Regression, NotGated],
        ),
    ];
    let tasks = statuses
        .iter()
        .map(|(name, s)| TaskComparison {
            name: (*name).to_owned(),
            parallelism: 4,
            metrics: TASK_METRICS
                .iter()
                .zip(s)
                .map(|(&m, &st)| comparison(Some(name), m, st))
                .collect(),
        })
        .collect();

    let mut rows: Vec<FunctionChange> = (0..20)
        .map(|i| {
            function_change(
                &format!("bpprof_demo::stage_{i}"),
                i,
                FunctionStatus::Changed,
            )
        })
        .collect();
    rows[0].function = "bpprof_demo::score_record".to_owned();
    rows[1] = function_change("<Vec<T> as Extend>::extend|`x`", 1, FunctionStatus::New);
    rows[2] = function_change("bpprof_demo::old_path", 2, FunctionStatus::Vanished);

    let mut throughput_finding = finding(
        Severity::Error,
        "throughput -12.4%",
        "Job throughput fell 12.4% [-14.0%, -10.9%], limit 5%.",
        None,
    );
    throughput_finding.metric = Some(Metric::Throughput);
    let mut cpu_finding = finding(
        Severity::Error,
        "Enrich CPU/record +21.0%",
        "Enrich's CPU per record rose 21.0% [+19.2%, +22.8%], limit 5%.",
        Some("Enrich"),
    );
    cpu_finding.metric = Some(Metric::CpuPerRecord);
    cpu_finding.function = Some("bpprof_demo::score_record".to_owned());
    let mut odd_finding = finding(Severity::Error, ODD_TITLE, ODD_MESSAGE, Some(ODD_TASK));
    odd_finding.metric = Some(Metric::Backpressured);
    let mut busy_finding = finding(
        Severity::Warning,
        "Parse busy inconclusive",
        "Parse busy +0.06 [+0.04, +0.08]: the interval reaches into the noise band.",
        Some("Parse"),
    );
    busy_finding.metric = Some(Metric::Busy);

    CheckReport {
        schema: CHECK_SCHEMA.to_owned(),
        schema_version: CHECK_SCHEMA_VERSION,
        status: Status::Regression,
        summary: "REGRESSION: throughput -12.4% [-14.0, -10.9]; Enrich CPU/record +21.0% \
                  [+19.2, +22.8] in score_record; bottleneck unchanged: Enrich"
            .to_owned(),
        baseline: vec![
            recording("base-1.bpprof", 60),
            recording("base-2.bpprof", 60),
        ],
        current: vec![recording("cur-1.bpprof", 59), recording("cur-2.bpprof", 59)],
        warnings: vec!["baseline and current were recorded on different hosts: a, b".to_owned()],
        statistics: Some(Statistics {
            confidence: 0.95,
            tests: 9,
            interval_level: 0.9944,
            resamples: 5000,
            seed: 7,
            min_windows: 10,
            window_s: Some(1.0),
        }),
        throughput: Some(comparison(None, Metric::Throughput, Regression)),
        bottleneck: Some(BottleneckChange {
            baseline: vec!["Enrich".to_owned()],
            current: vec!["Enrich".to_owned()],
            moved: false,
        }),
        tasks,
        findings: vec![throughput_finding, cpu_finding, odd_finding, busy_finding],
        functions: vec![FunctionDiff {
            task: "Enrich".to_owned(),
            why: "bottleneck, regression".to_owned(),
            records: [1_500_000, 1_480_000],
            samples: [12_000, 14_500],
            unit: "ns/record".to_owned(),
            rows,
            hottest_path: vec![
                "main".to_owned(),
                "bpprof_demo::enrich".to_owned(),
                "bpprof_demo::score_record".to_owned(),
            ],
        }],
        budgets: vec![
            BudgetResult {
                expression: "Enrich.busy < 0.8".to_owned(),
                task: Some("Enrich".to_owned()),
                metric: Metric::Busy,
                operator: "<".to_owned(),
                bound: 0.8,
                value: Some(0.935),
                passed: false,
                inconclusive: None,
            },
            BudgetResult {
                expression: "throughput >= 1000".to_owned(),
                task: None,
                metric: Metric::Throughput,
                operator: ">=".to_owned(),
                bound: 1000.0,
                value: Some(21_900.0),
                passed: true,
                inconclusive: None,
            },
        ],
    }
}

fn pass_report() -> CheckReport {
    let mut report = regression_report();
    report.status = Status::Pass;
    report.summary = "PASS: throughput +0.4% [-1.0, +1.9]; bottleneck unchanged: Enrich".into();
    report.throughput = Some(comparison(
        None,
        Metric::Throughput,
        ComparisonStatus::Unchanged,
    ));
    for task in &mut report.tasks {
        for c in &mut task.metrics {
            if c.status != ComparisonStatus::NotGated {
                c.status = ComparisonStatus::Unchanged;
                c.reason = None;
            }
        }
    }
    report.findings.clear();
    report.functions.clear();
    report.budgets.retain(|b| b.passed);
    report.warnings.clear();
    report
}

fn budget_only_report() -> CheckReport {
    let mut report = regression_report();
    report.summary = "REGRESSION: budget Enrich.busy < 0.8 exceeded (0.935)".into();
    report.baseline.clear();
    report.statistics = None;
    report.throughput = None;
    report.bottleneck = None;
    report.tasks.clear();
    report.functions.clear();
    report.findings = vec![finding(
        Severity::Error,
        "budget Enrich.busy < 0.8",
        "Enrich.busy is 0.935.",
        Some("Enrich"),
    )];
    report
}

/// 5,000 tasks (one gated metric each, every tenth a regression), 2,000 function tables of 50
/// rows (100,000 function rows), with multi-byte characters in every name.
fn huge_report() -> CheckReport {
    let mut report = regression_report();
    report.tasks = (0..5000)
        .map(|i| {
            let name = format!("Étape→{i:04}|é");
            TaskComparison {
                metrics: TASK_METRICS
                    .iter()
                    .map(|&m| {
                        let status = match m {
                            Metric::CpuPerRecord if i % 10 == 0 => ComparisonStatus::Regression,
                            Metric::CpuPerRecord => ComparisonStatus::Unchanged,
                            _ => ComparisonStatus::NotGated,
                        };
                        comparison(Some(&name), m, status)
                    })
                    .collect(),
                name,
                parallelism: 2,
            }
        })
        .collect();
    report.functions = (0..2000)
        .map(|t| FunctionDiff {
            task: format!("Étape→{t:04}|é"),
            why: "regression".to_owned(),
            records: [1000, 1000],
            samples: [100, 120],
            unit: "ns/record".to_owned(),
            rows: (0..50)
                .map(|i| {
                    function_change(
                        &format!("crate::módulo::f_{t}_{i}"),
                        i,
                        FunctionStatus::Changed,
                    )
                })
                .collect(),
            hottest_path: vec!["main".to_owned(), format!("crate::módulo::f_{t}_0")],
        })
        .collect();
    report.findings = (0..500)
        .map(|i| {
            finding(
                Severity::Error,
                &format!("Étape→{:04}|é CPU/record +21.0%", i * 10),
                "CPU per record rose 21.0% [+19.2%, +22.8%], limit 5%.",
                None,
            )
        })
        .collect();
    report
}

fn human(report: &CheckReport) -> String {
    let mut out = Vec::new();
    render_check_human(report, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn all_comparisons(report: &CheckReport) -> impl Iterator<Item = &Comparison> {
    report
        .throughput
        .iter()
        .chain(report.tasks.iter().flat_map(|t| t.metrics.iter()))
}

// ---------------------------------------------------------------- JSON

#[test]
fn check_report_json_round_trips() {
    for report in [regression_report(), pass_report(), budget_only_report()] {
        let json = serde_json::to_string(&report).unwrap();
        let back: CheckReport = serde_json::from_str(&json).unwrap();
        assert_eq!(back, report);
    }
    let json = serde_json::to_value(regression_report()).unwrap();
    assert_eq!(json["status"], "regression");
    assert_eq!(json["tasks"][2]["metrics"][1]["metric"], "cpu_per_record");
    assert_eq!(json["functions"][0]["rows"][1]["status"], "new");
}

// ---------------------------------------------------------------- human

#[test]
fn human_output_starts_with_the_verdict_and_shows_every_task() {
    let report = regression_report();
    let text = human(&report);
    assert_eq!(text.lines().next(), Some(report.summary.as_str()));
    assert!(text.contains(
        "Compared 2 baseline recordings (120 windows) with 2 current recordings (118 windows): \
         99.4% intervals (95% family-wise over 9 gated comparisons, Bonferroni), \
         5,000 bootstrap resamples"
    ));
    assert!(text.contains("warning: baseline and current were recorded on different hosts"));
    let header = text
        .lines()
        .find(|l| l.trim_start().starts_with("TASK"))
        .expect("comparison table header");
    for column in [
        "METRIC", "BASELINE", "CURRENT", "CHANGE", "INTERVAL", "LIMIT", "STATUS",
    ] {
        assert!(header.contains(column), "{column} missing from {header:?}");
    }
    for task in report
        .tasks
        .iter()
        .map(|t| t.name.as_str())
        .chain(["(job)"])
    {
        assert!(
            text.lines().any(|l| l.trim_start().starts_with(task)),
            "no row of {task}"
        );
    }

    // Every comparison has a row; the ones without a limit say `info`.
    let rows = text
        .lines()
        .filter(|l| {
            ["REGRESSION", "improved", "ok", "inconclusive", "info"]
                .iter()
                .any(|s| l.trim_end().ends_with(&format!("  {s}")))
        })
        .count();
    assert_eq!(rows, all_comparisons(&report).count());
    // Each finding on one line (the message's line breaks are spaces).
    assert!(!text.contains('\r') && !text.contains('\u{7}'));
    // The function table: at most 15 rows.
    let functions = text
        .lines()
        .filter(|l| l.contains("bpprof_demo::stage_"))
        .count();
    assert_eq!(functions, 15 - 3, "15 rows, 3 of them renamed");

    // The whole output: values by unit, relative and absolute changes, limits, the findings,
    // the function table with new / vanished functions and the hottest path, the budgets.
    insta::assert_snapshot!(text);
}

#[test]
fn human_output_of_a_budget_only_check_has_the_verdict_warnings_and_budgets() {
    let report = budget_only_report();
    let text = human(&report);
    assert!(text.starts_with(&format!("{}\n", report.summary)));
    assert!(text.contains("warning: baseline and current"));
    assert!(text.contains("Budgets:"));
    assert!(text.contains("Enrich.busy < 0.8"));
    for absent in ["TASK", "Compared", "Findings:", "Functions of", "intervals"] {
        assert!(!text.contains(absent), "{absent} in a budget-only output");
    }
}

#[test]
fn human_output_of_a_pass_has_no_findings() {
    let report = pass_report();
    let text = human(&report);
    assert!(text.starts_with("PASS: "));
    assert!(!text.contains("Findings:") && !text.contains("REGRESSION"));
    assert!(text.contains("Bottleneck: Enrich (unchanged)"));
}

// ---------------------------------------------------------------- Markdown

/// The cells of a Markdown table row, split at the pipes without a backslash.
fn cells(row: &str) -> Vec<String> {
    let mut cells = vec![String::new()];
    let mut escaped = false;
    for c in row.chars() {
        if c == '|' && !escaped {
            cells.push(String::new());
        } else {
            cells.last_mut().unwrap().push(c);
        }
        escaped = c == '\\' && !escaped;
    }
    cells
}

/// Checks that every table row has as many cells as the header of its table.
fn assert_tables_well_formed(markdown: &str) {
    let mut columns = None;
    for line in markdown.lines() {
        if !line.starts_with('|') {
            columns = None;
            continue;
        }
        let n = cells(line).len();
        match columns {
            None => columns = Some(n),
            Some(c) => assert_eq!(n, c, "row {line:?} has {n} cells, the header {c}"),
        }
    }
}

#[test]
fn markdown_has_heading_tables_and_escaped_cells() {
    let report = regression_report();
    let md = render_check_markdown(&report, STEP_SUMMARY_LIMIT);
    assert!(md.starts_with("### bpprof check: REGRESSION\n"));
    assert!(md.contains("\nREGRESSION: throughput -12.4% \\[-14.0, -10.9\\]; Enrich"));
    assert!(
        md.contains("| task | metric | baseline | current | change | interval | limit | status |")
    );
    assert!(!md.contains(OMITTED_NOTE_START), "nothing to omit");
    assert_tables_well_formed(&md);

    // The whole document: the odd task name with `|` escaped in its cells and no raw `<`, the
    // finding's line breaks as spaces and its specials escaped, function names in code spans (a
    // longer fence around a backtick), the hottest path and the budgets.
    insta::assert_snapshot!(md);
}

#[test]
fn markdown_of_a_huge_report_fits_the_step_summary_limit() {
    let report = huge_report();
    let full = render_check_markdown(&report, usize::MAX);
    assert!(
        full.len() > STEP_SUMMARY_LIMIT,
        "the fixture must be too long"
    );
    assert!(!full.contains(OMITTED_NOTE_START));

    let md = render_check_markdown(&report, STEP_SUMMARY_LIMIT);
    assert!(md.len() <= STEP_SUMMARY_LIMIT);
    assert!(std::str::from_utf8(md.as_bytes()).is_ok());
    let last = md.trim_end().lines().last().unwrap();
    assert!(last.starts_with(OMITTED_NOTE_START), "{last}");
    assert!(
        last.contains("function rows") && last.contains("comparison rows"),
        "{last}"
    );
    // Function rows go first, then rows without a limit; the gated ones stay.
    assert!(!md.contains("#### Functions of"));
    let regressions = all_comparisons(&report)
        .filter(|c| c.status == ComparisonStatus::Regression)
        .count();
    assert_eq!(md.matches("| **REGRESSION** |").count(), regressions);
    assert_eq!(md.matches("| ok |").count(), 4500);
    assert!(
        md.matches("| info |").count() > 0,
        "some room left for the others"
    );
    assert!(md.contains("#### Budgets"));
    assert_tables_well_formed(&md);
    assert_lines_of(&md, &full);
}

/// Checks that `part` is `full` with whole lines left out, and the omission note.
fn assert_lines_of(part: &str, full: &str) {
    let mut full_lines = full.lines();
    for line in part.lines() {
        if line.is_empty() || line.starts_with(OMITTED_NOTE_START) {
            continue;
        }
        assert!(
            full_lines.any(|l| l == line),
            "{line:?} is not a line of the full document (or out of order)"
        );
    }
}

#[test]
fn markdown_is_cut_at_rows_for_any_limit() {
    let report = huge_report();
    let full = render_check_markdown(&report, usize::MAX);
    for max in [0, 100, 300, 1000, 65_536, 200_000] {
        let md = render_check_markdown(&report, max);
        assert!(md.len() <= max, "{} > {max}", md.len());
        if md.is_empty() {
            assert!(max < 300, "only a tiny limit leaves nothing, not {max}");
            continue;
        }
        assert!(md.starts_with("### bpprof check: REGRESSION"));
        assert!(md
            .trim_end()
            .lines()
            .last()
            .unwrap()
            .starts_with(OMITTED_NOTE_START));
        assert_tables_well_formed(&md);
        assert_lines_of(&md, &full);
    }
    // A limit the report fits in changes nothing.
    let small = regression_report();
    let whole = render_check_markdown(&small, usize::MAX);
    assert_eq!(render_check_markdown(&small, whole.len()), whole);
    let cut = render_check_markdown(&small, whole.len() - 1);
    assert!(cut.len() < whole.len() && cut.contains(OMITTED_NOTE_START));
    assert!(cut.contains("1 function row") || cut.contains(" function rows"));
}

#[test]
fn markdown_of_a_budget_only_check_and_a_pass() {
    let md = render_check_markdown(&budget_only_report(), STEP_SUMMARY_LIMIT);
    assert!(md.starts_with("### bpprof check: REGRESSION\n"));
    assert!(md.contains("#### Budgets") && !md.contains("#### Comparisons"));
    let md = render_check_markdown(&pass_report(), STEP_SUMMARY_LIMIT);
    assert!(md.starts_with("### bpprof check: PASS\n"));
    assert!(!md.contains("#### Findings") && !md.contains("**REGRESSION**"));
}

// ---------------------------------------------------------------- JUnit

struct JUnitCounts {
    tests: usize,
    failures: usize,
    skipped: usize,
}

fn expected_junit(report: &CheckReport) -> JUnitCounts {
    let gated: Vec<&Comparison> = all_comparisons(report)
        .filter(|c| c.status != ComparisonStatus::NotGated)
        .collect();
    JUnitCounts {
        tests: gated.len() + report.budgets.len() + usize::from(report.bottleneck.is_some()),
        failures: gated
            .iter()
            .filter(|c| c.status == ComparisonStatus::Regression)
            .count()
            + report.budgets.iter().filter(|b| !b.passed).count(),
        skipped: gated
            .iter()
            .filter(|c| c.status == ComparisonStatus::Inconclusive)
            .count(),
    }
}

fn check_junit(report: &CheckReport) -> String {
    let xml = render_junit(report);
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"));
    let doc = roxmltree::Document::parse(&xml).expect("valid XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let suites: Vec<_> = root
        .children()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    assert_eq!(suites.len(), 1);
    let suite = suites[0];
    assert_eq!(suite.attribute("name"), Some("bpprof check"));

    let expected = expected_junit(report);
    let cases: Vec<_> = suite
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    let with = |tag: &str| {
        cases
            .iter()
            .filter(|c| c.children().any(|n| n.has_tag_name(tag)))
            .count()
    };
    assert_eq!(cases.len(), expected.tests);
    assert_eq!(with("failure"), expected.failures);
    assert_eq!(with("skipped"), expected.skipped);
    for node in [root, suite] {
        assert_eq!(
            node.attribute("tests"),
            Some(expected.tests.to_string().as_str())
        );
        assert_eq!(
            node.attribute("failures"),
            Some(expected.failures.to_string().as_str())
        );
        assert_eq!(
            node.attribute("skipped"),
            Some(expected.skipped.to_string().as_str())
        );
    }
    xml
}

#[test]
fn junit_has_one_case_per_gated_comparison_budget_and_the_bottleneck() {
    let report = regression_report();
    let xml = check_junit(&report);
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let case = |class: &str, name: &str| {
        doc.descendants()
            .find(|n| {
                n.has_tag_name("testcase")
                    && n.attribute("classname") == Some(class)
                    && n.attribute("name") == Some(name)
            })
            .unwrap_or_else(|| panic!("no test case {class} {name}"))
    };

    let throughput = case("bpprof.job", "throughput");
    assert_eq!(
        child(throughput, "failure").unwrap().attribute("message"),
        Some("throughput -12.4%")
    );
    let cpu = child(case("bpprof.Enrich", "cpu_per_record"), "failure").unwrap();
    assert_eq!(cpu.attribute("message"), Some("Enrich CPU/record +21.0%"));
    assert!(cpu.text().unwrap().contains("rose 21.0% [+19.2%, +22.8%]"));

    // The odd finding round-trips through the escaping (the control character is left out; a
    // line break in text reads back as a line feed, as XML normalises it).
    let odd = child(case("bpprof.Sink|<db>", "backpressured"), "failure").unwrap();
    assert_eq!(odd.attribute("message"), Some(ODD_TITLE));
    assert!(odd
        .text()
        .unwrap()
        .starts_with(&ODD_MESSAGE.replace('\u{7}', "").replace("\r\n", "\n")));

    let parse = child(case("bpprof.Parse", "busy"), "skipped").unwrap();
    assert_eq!(
        parse.attribute("message"),
        Some("the interval reaches into the noise band")
    );
    assert!(child(case("bpprof.Sink|<db>", "cpu_per_record"), "failure").is_none());

    let budget = child(case("bpprof.budget", "Enrich.busy < 0.8"), "failure").unwrap();
    assert!(budget
        .attribute("message")
        .unwrap()
        .contains("Enrich.busy < 0.8"));
    assert!(child(case("bpprof.budget", "throughput >= 1000"), "failure").is_none());

    let bottleneck = case("bpprof.job", "bottleneck");
    assert!(child(bottleneck, "system-out").is_none(), "it did not move");

    // The whole document, as quick-junit lays it out.
    insta::assert_snapshot!(xml);
}

#[test]
fn junit_notes_a_moved_bottleneck_and_counts_every_report() {
    let mut report = pass_report();
    report.bottleneck = Some(BottleneckChange {
        baseline: vec!["Enrich".into()],
        current: vec!["Sink & <co>".into()],
        moved: true,
    });
    let xml = check_junit(&report);
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let note = doc
        .descendants()
        .find(|n| n.has_tag_name("testcase") && n.attribute("name") == Some("bottleneck"))
        .and_then(|n| n.children().find(|c| c.has_tag_name("system-out")))
        .and_then(|n| n.text())
        .unwrap();
    assert_eq!(note, "bottleneck moved: Enrich -> Sink & <co>");

    check_junit(&budget_only_report());
    check_junit(&regression_report());
    let huge = check_junit(&huge_report());
    assert!(huge.contains("failures=\"502\""));
}

fn child<'a, 'i>(node: roxmltree::Node<'a, 'i>, tag: &str) -> Option<roxmltree::Node<'a, 'i>> {
    node.children().find(|n| n.has_tag_name(tag))
}

// ---------------------------------------------------------------- GitHub annotations

/// Undoes GitHub's escaping in one pass: `%25`, `%0D`, `%0A`, and with `property`, `%3A`, `%2C`.
fn unescape(s: &str, property: bool) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let code = rest.get(i..i + 3).unwrap_or("");
        let c = match code {
            "%25" => '%',
            "%0D" => '\r',
            "%0A" => '\n',
            "%3A" if property => ':',
            "%2C" if property => ',',
            _ => panic!("unescaped % in {s:?}"),
        };
        out.push(c);
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    out
}

fn unescape_data(s: &str) -> String {
    unescape(s, false)
}

fn unescape_property(s: &str) -> String {
    unescape(s, true)
}

/// `(command, title, message)` of a workflow command line.
fn parse_annotation(line: &str) -> (String, String, String) {
    assert!(!line.contains('\n') && !line.contains('\r'), "{line:?}");
    let rest = line.strip_prefix("::").expect("starts with ::");
    let (head, message) = rest.split_once("::").expect("a second ::");
    let (command, title) = head.split_once(" title=").expect("a title");
    assert!(!title.contains(':') && !title.contains(','), "{title:?}");
    (
        command.to_owned(),
        unescape_property(title),
        unescape_data(message),
    )
}

#[test]
fn annotations_escape_and_round_trip_each_finding() {
    let report = regression_report();
    let lines = github_annotations(&report);
    assert_eq!(lines.len(), report.findings.len());
    let parsed: Vec<_> = lines.iter().map(|l| parse_annotation(l)).collect();
    assert_eq!(
        parsed.iter().map(|p| p.0.as_str()).collect::<Vec<_>>(),
        ["error", "error", "error", "warning"]
    );
    for (finding, (_, title, message)) in report.findings.iter().zip(&parsed) {
        assert_eq!(title, &finding.title);
        let expected = match &finding.function {
            Some(f) if !finding.message.contains(f.as_str()) => {
                format!("{} (in {f})", finding.message)
            }
            _ => finding.message.clone(),
        };
        assert_eq!(message, &expected);
    }
    let odd = lines.iter().find(|l| l.contains("line one")).unwrap();
    assert!(
        odd.starts_with("::error title=Sink|<db> backpressured +0.12%3A \"50%25\"%2C 'q' & more::")
    );
    assert!(odd.contains("line one%0Aline two%0D%0Arose 100%25 [+0.10, +0.14], limit 0.05: a|b"));
}

#[test]
fn annotations_are_at_most_ten_most_severe_first() {
    let mut report = regression_report();
    report.findings = (0..7)
        .map(|i| finding(Severity::Notice, &format!("notice {i}"), "better", None))
        .chain((0..5).map(|i| finding(Severity::Warning, &format!("warning {i}"), "hm", None)))
        .chain((0..4).map(|i| finding(Severity::Error, &format!("error {i}"), "worse", None)))
        .collect();
    let lines = github_annotations(&report);
    assert_eq!(lines.len(), MAX_ANNOTATIONS);
    let parsed: Vec<_> = lines.iter().map(|l| parse_annotation(l)).collect();
    let commands: Vec<&str> = parsed.iter().map(|p| p.0.as_str()).collect();
    assert_eq!(
        commands,
        [
            "error", "error", "error", "error", "warning", "warning", "warning", "warning",
            "warning", "notice"
        ]
    );
    assert_eq!(parsed[0].1, "error 0");
    assert_eq!(parsed[4].1, "warning 0");
    let last = &parsed[9];
    assert_eq!(last.1, "bpprof check");
    assert!(
        last.2.starts_with("7 more findings not shown"),
        "{}",
        last.2
    );
    assert!(last.2.contains("(7 notices)"));

    report.findings.truncate(MAX_ANNOTATIONS);
    assert_eq!(github_annotations(&report).len(), MAX_ANNOTATIONS);
    report.findings.clear();
    assert!(github_annotations(&report).is_empty());
}

#[test]
fn workflow_command_escapes_follow_github() {
    let text = "100%: a, b\r\nc%0A";
    assert_eq!(escape_data(text), "100%25: a, b%0D%0Ac%250A");
    assert_eq!(escape_property(text), "100%25%3A a%2C b%0D%0Ac%250A");
    assert_eq!(unescape_data(&escape_data(text)), text);
    assert_eq!(unescape_property(&escape_property(text)), text);
}

/// One report in the text, Markdown and JUnit outputs: every comparison's change, interval and
/// limit read the same in each (one formatter, `units`, behind all of them), and so does the
/// verdict line.
#[test]
fn every_output_writes_each_number_of_one_report_the_same_way() {
    use bpprof_analysis::units::{change, change_interval, limit};
    let report = regression_report();
    let text = human(&report);
    let markdown = render_check_markdown(&report, STEP_SUMMARY_LIMIT);
    let junit = check_junit(&report);
    let junit_text: String = roxmltree::Document::parse(&junit)
        .unwrap()
        .descendants()
        .filter_map(|n| n.text())
        .collect::<Vec<_>>()
        .join("\n");
    for c in all_comparisons(&report).filter(|c| c.status != ComparisonStatus::NotGated) {
        let numbers = [
            change(c.change.unwrap(), c.relative),
            change_interval(c.interval.unwrap(), c.relative),
            limit(c.limit.unwrap(), c.relative),
        ];
        for number in &numbers {
            for (format, output) in [
                ("text", &text),
                ("Markdown", &markdown),
                ("JUnit", &junit_text),
            ] {
                assert!(
                    output.contains(number.as_str()),
                    "{format} does not write {:?} {:?} as {number}:\n{output}",
                    c.task,
                    c.metric
                );
            }
        }
    }
    // The verdict line: the first line of the text, the JUnit summary property, the Markdown
    // line (with its escapes undone).
    let verdict = text.lines().next().unwrap();
    let summary = roxmltree::Document::parse(&junit)
        .unwrap()
        .descendants()
        .find(|n| n.has_tag_name("property") && n.attribute("name") == Some("summary"))
        .and_then(|n| n.attribute("value"))
        .unwrap()
        .to_owned();
    assert_eq!(summary, verdict);
    let unescaped: Vec<String> = markdown
        .lines()
        .map(|line| line.replace('\\', ""))
        .collect();
    assert!(
        unescaped.iter().any(|line| line.contains(verdict)),
        "the Markdown has no line with {verdict:?}:\n{markdown}"
    );
}
