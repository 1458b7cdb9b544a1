//! One check report rendered in every output format (text, Markdown, JUnit XML, GitHub
//! annotations; JSON carries the values) writes each of its numbers the same way: the changes, the medians of the
//! comparisons that decide the verdict, and the measured values of the budgets.

use bpprof_analysis::check::github::github_annotations;
use bpprof_analysis::check::human::render_check_human;
use bpprof_analysis::check::junit::render_junit;
use bpprof_analysis::check::markdown::{render_check_markdown, STEP_SUMMARY_LIMIT};
use bpprof_analysis::check::{
    check, Budget, CheckInput, CheckOptions, CheckReport, ComparisonStatus, Status,
};
use bpprof_analysis::synth::Pipeline as Run;

/// A regression of Work's cost per record (and so of the throughput), with two budgets on the
/// current recording, one of a ratio.
fn regression() -> CheckReport {
    let base = Run::new(1);
    let slow = Run {
        seed: 2,
        score_us: 56.0,
        rate: 8_000.0,
        runqueue: 0.26,
        ..base
    };
    let (base, slow) = (base.recording(), slow.recording());
    let options = CheckOptions {
        resamples: 1_000,
        budgets: ["Work.busy < 0.5", "Sink.records_per_s > 5k"]
            .map(|b| Budget::parse(b).unwrap())
            .to_vec(),
        ..CheckOptions::default()
    };
    let baseline = [CheckInput {
        path: "base.bpprof",
        recording: &base,
    }];
    let current = [CheckInput {
        path: "slow.bpprof",
        recording: &slow,
    }];
    check(&baseline, &current, &options).unwrap()
}

/// Every output of `report`, by name.
fn outputs(report: &CheckReport) -> Vec<(&'static str, String)> {
    let mut human = Vec::new();
    render_check_human(report, &mut human).unwrap();
    vec![
        ("text", String::from_utf8(human).unwrap()),
        (
            "markdown",
            render_check_markdown(report, STEP_SUMMARY_LIMIT),
        ),
        ("junit", render_junit(report)),
        ("github", github_annotations(report).join("\n")),
    ]
}

#[test]
fn every_format_writes_a_number_the_same_way() {
    let report = regression();
    assert_eq!(report.status, Status::Regression, "{}", report.summary);
    let rendered = outputs(&report);

    let regressions: Vec<_> = report
        .throughput
        .iter()
        .chain(report.tasks.iter().flat_map(|t| &t.metrics))
        .filter(|c| c.status == ComparisonStatus::Regression)
        .collect();
    assert!(regressions.len() >= 2, "{regressions:#?}");
    for c in regressions {
        let numbers = [
            c.change_text(),
            c.metric.format(c.baseline.unwrap()),
            c.metric.format(c.current.unwrap()),
        ];
        for (format, text) in &rendered {
            for number in &numbers {
                assert!(
                    text.contains(number.as_str()),
                    "{} {number} missing from the {format} output:\n{text}",
                    c.name()
                );
            }
        }
    }

    let failed: Vec<_> = report.budgets.iter().filter(|b| !b.passed).collect();
    assert!(
        failed.iter().any(|b| b.metric.unit().is_empty()),
        "{failed:#?}"
    );
    for b in failed {
        let value = b.metric.format_as_bound(b.value.unwrap());
        for (format, text) in &rendered {
            assert!(
                text.contains(value.as_str()),
                "budget {} value {value} missing from the {format} output:\n{text}",
                b.expression
            );
        }
    }

    // The JSON report carries the numbers themselves: read back, they format to the same text.
    let json = serde_json::to_string(&report).unwrap();
    let back: CheckReport = serde_json::from_str(&json).unwrap();
    assert_eq!(outputs(&back), rendered);
}
