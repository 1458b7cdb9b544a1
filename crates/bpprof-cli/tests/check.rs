//! `bpprof check` as CI runs it: real processes, synthetic recordings in a temporary directory,
//! every output parsed back.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

use bpprof_analysis::check::{CheckReport, Status};
use bpprof_analysis::synth::Pipeline;
use common::{assert_error, code, command_in, text};
use insta::assert_snapshot;

/// A directory with recordings: `base.bpprof` and `base2.bpprof` (two runs of the same build),
/// `same.bpprof` (a third one), `slow.bpprof` (`score` 40% slower: CPU per record +10%),
/// `short.bpprof` (too few windows), `wide.bpprof` (another parallelism).
struct Dir {
    dir: tempfile::TempDir,
}

impl Dir {
    fn new() -> Dir {
        let dir = tempfile::tempdir().expect("temporary directory");
        let runs = [
            ("base", Pipeline::new(1)),
            ("base2", Pipeline::new(2)),
            ("same", Pipeline::new(3)),
            (
                "slow",
                Pipeline {
                    score_us: 56.0,
                    rate: 9_100.0,
                    ..Pipeline::new(4)
                },
            ),
            (
                "short",
                Pipeline {
                    intervals: 6,
                    ..Pipeline::new(5)
                },
            ),
            (
                "wide",
                Pipeline {
                    work_parallelism: 3,
                    ..Pipeline::new(6)
                },
            ),
        ];
        for (name, run) in runs {
            std::fs::write(
                dir.path().join(format!("{name}.bpprof")),
                run.recording_bytes(),
            )
            .expect("write a recording");
        }
        Dir { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `bpprof check` in the directory with a `--baseline` for each of `baselines`, then `args`.
    fn check_command(&self, baselines: &[&str], args: &[&str]) -> Command {
        let mut all = vec!["check"];
        for baseline in baselines {
            all.extend(["--baseline", baseline]);
        }
        all.extend(args);
        command_in(self.dir.path(), &all)
    }

    /// Runs [`Dir::check_command`].
    fn check(&self, baselines: &[&str], args: &[&str]) -> Output {
        self.check_command(baselines, args)
            .output()
            .expect("bpprof runs")
    }
}

#[test]
fn a_a_passes_with_exit_code_0() {
    let dir = Dir::new();
    let output = dir.check(&["base.bpprof"], &["same.bpprof"]);
    let stdout = text(&output.stdout);
    assert_eq!(code(&output), 0, "{stdout}{}", text(&output.stderr));
    assert!(stdout.starts_with("PASS: throughput"), "{stdout}");
    assert_snapshot!(stdout);
}

#[test]
fn a_regression_exits_1_and_names_the_task_and_function() {
    let dir = Dir::new();
    let output = dir.check(&["base.bpprof", "base2.bpprof"], &["slow.bpprof"]);
    let stdout = text(&output.stdout);
    assert_eq!(code(&output), 1, "{stdout}{}", text(&output.stderr));
    let verdict = stdout.lines().next().unwrap();
    assert!(verdict.starts_with("REGRESSION: throughput -"), "{verdict}");
    assert!(verdict.contains("Work CPU/record +"), "{verdict}");
    assert!(verdict.contains("score"), "{verdict}");
    assert_snapshot!(stdout);
}

#[test]
fn json_output_deserialises_into_the_public_types() {
    let dir = Dir::new();
    let output = dir.check(&["base.bpprof"], &["slow.bpprof", "--format", "json"]);
    assert_eq!(code(&output), 1, "{}", text(&output.stderr));
    let report: CheckReport = serde_json::from_slice(&output.stdout).expect("valid JSON report");
    assert_eq!(report.schema, "bpprof.check");
    assert_eq!(report.schema_version, 1);
    assert_eq!(report.status, Status::Regression);
    assert_eq!(report.baseline[0].path, "base.bpprof");
    assert_eq!(report.current[0].windows, 39);
}

#[test]
fn inconclusive_is_a_warning_unless_strict() {
    let dir = Dir::new();
    let output = dir.check(&["base.bpprof"], &["short.bpprof"]);
    assert_eq!(code(&output), 0, "{}", text(&output.stdout));
    assert!(text(&output.stdout).starts_with("INCONCLUSIVE:"));
    assert!(text(&output.stderr).contains("--strict makes it 3"));
    assert_snapshot!("inconclusive_stdout", text(&output.stdout));
    assert_snapshot!("inconclusive_stderr", text(&output.stderr));
    let strict = dir.check(&["base.bpprof"], &["short.bpprof", "--strict"]);
    assert_eq!(code(&strict), 3, "{}", text(&strict.stdout));
}

#[test]
fn different_job_graphs_are_refused_with_exit_code_2() {
    let dir = Dir::new();
    let output = dir.check(&["base.bpprof"], &["wide.bpprof"]);
    assert_error(
        &output,
        "task Work has parallelism 2 in base.bpprof but 3 in wide.bpprof",
    );
}

#[test]
fn bad_input_is_one_line_and_exit_code_2() {
    let dir = Dir::new();
    let base: &[&str] = &["base.bpprof"];
    let cases: [(&[&str], &[&str], &str); 7] = [
        (
            base,
            &["missing.bpprof"],
            "cannot read recording 'missing.bpprof'",
        ),
        (&[], &["same.bpprof"], "nothing to check"),
        (
            base,
            &["same.bpprof", "--limit", "cpu=5%"],
            "unknown metric 'cpu'",
        ),
        (
            base,
            &["same.bpprof", "--limit", "Wrok.busy=0.1"],
            "task 'Wrok'",
        ),
        (
            &[],
            &["same.bpprof", "--assert", "Work.busy 0.5"],
            "invalid budget",
        ),
        (
            base,
            &["same.bpprof", "--confidence", "1.5"],
            "--confidence must be between 0 and 1",
        ),
        (
            base,
            &["same.bpprof", "--junit", "no/such/dir/j.xml"],
            "cannot write JUnit report",
        ),
    ];
    for (baselines, args, expected) in cases {
        assert_error(&dir.check(baselines, args), expected);
    }
}

#[test]
fn one_budget_met_is_said_in_the_singular() {
    let dir = Dir::new();
    let ok = dir.check(&[], &["same.bpprof", "--assert", "Work.busy < 0.99"]);
    assert_eq!(code(&ok), 0, "{}", text(&ok.stdout));
    assert!(
        text(&ok.stdout).starts_with("PASS: 1 budget met"),
        "{}",
        text(&ok.stdout)
    );
}

#[test]
fn budgets_pass_and_fail_on_a_single_recording() {
    let dir = Dir::new();
    let ok = dir.check(
        &[],
        &[
            "same.bpprof",
            "--assert",
            "Sink.records_per_s > 5k",
            "--assert",
            "Work.busy < 0.99",
        ],
    );
    assert_eq!(code(&ok), 0, "{}", text(&ok.stdout));
    assert!(
        text(&ok.stdout).starts_with("PASS: 2 budgets met"),
        "{}",
        text(&ok.stdout)
    );
    assert_snapshot!("budgets_met", text(&ok.stdout));
    let failed = dir.check(&[], &["same.bpprof", "--assert", "throughput > 50k"]);
    assert_eq!(code(&failed), 1, "{}", text(&failed.stdout));
    assert!(text(&failed.stdout).contains("1 of 1 budgets exceeded"));
    assert_snapshot!("budget_exceeded", text(&failed.stdout));
}

#[test]
fn junit_and_markdown_files_are_written_and_valid() {
    let dir = Dir::new();
    let output = dir.check(
        &["base.bpprof"],
        &[
            "slow.bpprof",
            "--junit",
            "junit.xml",
            "--markdown",
            "report.md",
        ],
    );
    assert_eq!(code(&output), 1, "{}", text(&output.stderr));
    let xml = std::fs::read_to_string(dir.path("junit.xml")).unwrap();
    let doc = roxmltree::Document::parse(&xml).expect("well-formed JUnit XML");
    let failures: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .collect();
    assert!(!failures.is_empty(), "{xml}");
    let failed_case = failures[0].parent().unwrap();
    assert!(
        doc.descendants()
            .filter(|n| n.has_tag_name("testcase"))
            .any(|n| n.attribute("classname") == Some("bpprof.Work")
                && n.attribute("name") == Some("cpu_per_record")
                && n.children().any(|c| c.has_tag_name("failure"))),
        "{xml}"
    );
    assert!(failed_case.has_tag_name("testcase"));
    assert_snapshot!("junit", xml);
    let markdown = std::fs::read_to_string(dir.path("report.md")).unwrap();
    assert!(
        markdown.starts_with("### bpprof check: REGRESSION"),
        "{markdown}"
    );
    assert_snapshot!("markdown", markdown);
}

#[test]
fn github_step_summary_and_annotations() {
    let dir = Dir::new();
    let summary = dir.path("summary.md");
    std::fs::write(&summary, "earlier step\n").unwrap();
    let output = dir
        .check_command(&["base.bpprof"], &["slow.bpprof"])
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("GITHUB_ACTIONS", "true")
        .output()
        .expect("bpprof runs");
    assert_eq!(code(&output), 1);
    let appended = std::fs::read_to_string(&summary).unwrap();
    assert!(
        appended.starts_with("earlier step\n### bpprof check: REGRESSION"),
        "{appended}"
    );
    assert!(appended.len() <= 1_048_576 + "earlier step\n".len());
    let stdout = text(&output.stdout);
    let annotations: Vec<&str> = stdout.lines().filter(|l| l.starts_with("::")).collect();
    assert!(
        !annotations.is_empty() && annotations.len() <= 10,
        "{stdout}"
    );
    assert!(
        annotations
            .iter()
            .any(|l| l.starts_with("::error ") && l.contains("Work")),
        "{stdout}"
    );
    // The whole output under GitHub Actions: the text report with the annotations after it.
    assert_snapshot!("github_stdout", stdout);
}

#[test]
fn bpprof_toml_sets_limits_and_flags_override_it() {
    let dir = Dir::new();
    std::fs::write(
        dir.path("bpprof.toml"),
        "[check]\nmin_windows = 5\n[check.limits]\nthroughput = \"off\"\n[check.limits.Work]\ncpu_per_record = \"20%\"\n",
    )
    .unwrap();
    let check = |args: &[&str]| dir.check(&["base.bpprof"], &[&["slow.bpprof"], args].concat());
    let relaxed = check(&[]);
    assert_eq!(code(&relaxed), 0, "{}", text(&relaxed.stdout));
    let ignored = check(&["--no-config"]);
    assert_eq!(code(&ignored), 1, "{}", text(&ignored.stdout));
    let overridden = check(&["--limit", "Work.cpu_per_record=5%"]);
    assert_eq!(code(&overridden), 1, "{}", text(&overridden.stdout));

    std::fs::write(dir.path("bpprof.toml"), "[check]\nconfidense = 0.9\n").unwrap();
    assert_error(
        &check(&[]),
        "line 2: unknown field `confidense`, expected one of `confidence`",
    );
}

/// Flags at their edges: one `error:` line and exit code 2 each, never a panic, never a check
/// that runs without what the flag asked for.
#[test]
fn edge_case_flags_are_one_error_line() {
    let dir = Dir::new();
    let base: &[&str] = &["base.bpprof"];
    let cases: [(&[&str], &[&str], &str); 12] = [
        // Negative numbers were taken for unknown flags ("unexpected argument '-1' found").
        (
            base,
            &["same.bpprof", "--window", "-1"],
            "--window must be a positive number of seconds, got -1",
        ),
        (
            base,
            &["same.bpprof", "--from", "-5"],
            "--from must be a non-negative number",
        ),
        (
            base,
            &["same.bpprof", "--min-windows", "-1"],
            "invalid value '-1' for '--min-windows",
        ),
        (
            base,
            &["same.bpprof", "--window", "nan"],
            "--window must be a positive number",
        ),
        // Before: no window fitted, and the check was "inconclusive: record longer" (exit 0).
        (
            base,
            &["same.bpprof", "--window", "100"],
            "--window 100 s is longer than the compared range of base.bpprof (39 s)",
        ),
        (
            base,
            &["same.bpprof", "--window", "0.5"],
            "--window 0.5 s is shorter than the recording interval of base.bpprof (1 s)",
        ),
        (
            base,
            &["same.bpprof", "--confidence", "nan"],
            "--confidence must be between 0 and 1",
        ),
        (
            base,
            &["same.bpprof", "--resamples", "0"],
            "--resamples must be at least 100",
        ),
        (
            base,
            &["same.bpprof", "--limit", ".busy=1"],
            "empty task name before '.'",
        ),
        // Before: a budget without a task on a task metric was always "exceeded" (exit 1).
        (
            &[],
            &["same.bpprof", "--assert", "busy < 1"],
            "busy is a metric of a task: name the task",
        ),
        (
            &[],
            &["same.bpprof", "--assert", "Work.busy <"],
            "no number after '<'",
        ),
        (
            &[],
            &["same.bpprof", "--assert", "Work.busy < 1e400"],
            "'1e400' is too large a bound",
        ),
    ];
    for (baselines, args, expected) in cases {
        let output = dir.check(baselines, args);
        assert!(!text(&output.stderr).contains("panicked"), "{args:?}");
        assert_error(&output, expected);
        assert!(
            output.stdout.is_empty(),
            "{args:?}: {}",
            text(&output.stdout)
        );
    }
}

#[test]
fn bpprof_toml_errors_name_the_key_and_the_line() {
    let dir = Dir::new();
    for (toml, expected) in [
        (
            "[check]\nstrict = true\nthis is not toml ]]\n",
            "config 'bpprof.toml': not valid TOML: line 3: ",
        ),
        // Before: "a limit must be a number ...", without the key.
        (
            "[check.limits.Work]\nbusy = true\n",
            "config 'bpprof.toml': check.limits.Work.busy: a limit must be a number",
        ),
        // Before: "--window: invalid window: --window must be ...", blaming a flag not given.
        (
            "[check]\nwindow = -1\n",
            "config 'bpprof.toml': check.window must be a positive number of seconds",
        ),
        (
            "[check]\nconfidence = 1.0\n",
            "config 'bpprof.toml': check.confidence must be a number between 0 and 1",
        ),
        (
            "[check]\nassert = [\"busy < 1\"]\n",
            "check.assert: invalid budget 'busy < 1'",
        ),
    ] {
        std::fs::write(dir.path("bpprof.toml"), toml).unwrap();
        assert_error(&dir.check(&["base.bpprof"], &["same.bpprof"]), expected);
    }
}

/// Before: `--junit base.bpprof` replaced the baseline recording with the JUnit report.
#[test]
fn reports_are_never_written_over_a_recording() {
    let dir = Dir::new();
    let before = std::fs::read(dir.path("base.bpprof")).unwrap();
    let output = dir.check(
        &["base.bpprof"],
        &[
            "same.bpprof",
            "--markdown",
            "report.md",
            "--junit",
            "base.bpprof",
        ],
    );
    assert_error(
        &output,
        "--junit 'base.bpprof' is an input of this command, which writing there would destroy",
    );
    assert_eq!(std::fs::read(dir.path("base.bpprof")).unwrap(), before);
    assert!(!dir.path("report.md").exists(), "no report is half written");
}

/// Before: a current run whose job processed nothing was "inconclusive" with exit code 0.
#[test]
fn a_job_that_stopped_fails_the_check() {
    let dir = Dir::new();
    let stopped = Pipeline {
        rate: 0.0,
        ..Pipeline::new(7)
    };
    std::fs::write(dir.path("stopped.bpprof"), stopped.recording_bytes()).unwrap();
    let output = dir.check(&["base.bpprof"], &["stopped.bpprof"]);
    let stdout = text(&output.stdout);
    assert_eq!(code(&output), 1, "{stdout}{}", text(&output.stderr));
    assert!(
        stdout.starts_with("REGRESSION: throughput -100.0%"),
        "{stdout}"
    );
}

/// A truncated recording is compared as far as it is complete, and the report (not only stderr)
/// says it was truncated; the same file on both sides is warned about.
#[test]
fn truncated_and_repeated_recordings_are_reported() {
    let dir = Dir::new();
    let bytes = std::fs::read(dir.path("base.bpprof")).unwrap();
    std::fs::write(dir.path("cut.bpprof"), &bytes[..bytes.len() / 2]).unwrap();
    for (baseline, current) in [("cut.bpprof", "same.bpprof"), ("same.bpprof", "cut.bpprof")] {
        let output = dir.check(&[baseline], &[current, "--format", "json"]);
        assert_eq!(code(&output), 0, "{}", text(&output.stderr));
        let report: CheckReport = serde_json::from_slice(&output.stdout).unwrap();
        assert!(
            report
                .warnings
                .iter()
                .any(|w| w.starts_with("cut.bpprof: the recording is truncated at byte")),
            "{:?}",
            report.warnings
        );
    }
    let output = dir.check(&["base.bpprof"], &["base.bpprof"]);
    assert_eq!(code(&output), 0);
    assert!(
        text(&output.stdout).contains(
            "warning: base.bpprof is both a baseline and a current recording: it is compared with itself"
        ),
        "{}",
        text(&output.stdout)
    );
}

/// The same file on both sides is found by identity, not by the path as written: `./base.bpprof`,
/// a symbolic link and a hard link to it are `base.bpprof`; a copy is another file.
#[test]
fn same_file_on_both_sides_is_found_by_file_identity() {
    let dir = Dir::new();
    std::os::unix::fs::symlink(dir.path("base.bpprof"), dir.path("link.bpprof")).unwrap();
    std::fs::hard_link(dir.path("base.bpprof"), dir.path("hard.bpprof")).unwrap();
    std::fs::copy(dir.path("base.bpprof"), dir.path("copy.bpprof")).unwrap();
    for current in [
        "./base.bpprof",
        "link.bpprof",
        "hard.bpprof",
        "sub/../base.bpprof",
    ] {
        std::fs::create_dir_all(dir.path("sub")).unwrap();
        let output = dir.check(&["base.bpprof"], &[current, "--format", "json"]);
        assert_eq!(code(&output), 0, "{}", text(&output.stderr));
        let report: CheckReport = serde_json::from_slice(&output.stdout).unwrap();
        let expected = format!(
            "{current} (current) and base.bpprof (baseline) are the same file: it is compared with itself"
        );
        assert!(report.warnings.contains(&expected), "{:?}", report.warnings);
    }
    let output = dir.check(&["base.bpprof"], &["copy.bpprof", "--format", "json"]);
    let report: CheckReport = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        !report
            .warnings
            .iter()
            .any(|w| w.contains("compared with itself")),
        "a copy is another file: {:?}",
        report.warnings
    );
}
