//! `bpprof check` as CI runs it: real processes, synthetic recordings in a temporary directory,
//! every output parsed back.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use bpprof_analysis::check::{CheckReport, Status};
use bpprof_analysis::synth::Pipeline;

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

    /// Runs `bpprof ARGS` in the directory, without GitHub's variables unless `env` sets them.
    fn bpprof(&self, args: &[&str], env: &[(&str, &Path)]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_bpprof"));
        command
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("GITHUB_STEP_SUMMARY")
            .env_remove("GITHUB_ACTIONS");
        for (key, value) in env {
            command.env(key, value);
        }
        command.output().expect("bpprof runs")
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn code(output: &Output) -> i32 {
    output.status.code().expect("exited")
}

/// One line on stderr starting `error: `, exit code 2.
fn assert_usage_error(output: &Output, expected: &str) {
    let stderr = text(&output.stderr);
    assert_eq!(code(output), 2, "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains(expected), "{stderr}");
}

#[test]
fn a_a_passes_with_exit_code_0() {
    let dir = Dir::new();
    let output = dir.bpprof(&["check", "--baseline", "base.bpprof", "same.bpprof"], &[]);
    let stdout = text(&output.stdout);
    assert_eq!(code(&output), 0, "{stdout}{}", text(&output.stderr));
    assert!(stdout.starts_with("PASS: throughput"), "{stdout}");
    assert!(stdout.contains("bottleneck unchanged: Work"), "{stdout}");
}

#[test]
fn a_regression_exits_1_and_names_the_task_and_function() {
    let dir = Dir::new();
    let output = dir.bpprof(
        &[
            "check",
            "--baseline",
            "base.bpprof",
            "--baseline",
            "base2.bpprof",
            "slow.bpprof",
        ],
        &[],
    );
    let stdout = text(&output.stdout);
    assert_eq!(code(&output), 1, "{stdout}{}", text(&output.stderr));
    let verdict = stdout.lines().next().unwrap();
    assert!(verdict.starts_with("REGRESSION: throughput -"), "{verdict}");
    assert!(verdict.contains("Work CPU/record +"), "{verdict}");
    assert!(verdict.contains("score"), "{verdict}");
}

#[test]
fn json_output_deserialises_into_the_public_types() {
    let dir = Dir::new();
    let output = dir.bpprof(
        &[
            "check",
            "--baseline",
            "base.bpprof",
            "slow.bpprof",
            "--format",
            "json",
        ],
        &[],
    );
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
    let args = ["check", "--baseline", "base.bpprof", "short.bpprof"];
    let output = dir.bpprof(&args, &[]);
    assert_eq!(code(&output), 0, "{}", text(&output.stdout));
    assert!(text(&output.stdout).starts_with("INCONCLUSIVE:"));
    assert!(text(&output.stderr).contains("--strict makes it 3"));
    let strict = dir.bpprof(&[&args[..], &["--strict"]].concat(), &[]);
    assert_eq!(code(&strict), 3, "{}", text(&strict.stdout));
}

#[test]
fn different_job_graphs_are_refused_with_exit_code_2() {
    let dir = Dir::new();
    let output = dir.bpprof(&["check", "--baseline", "base.bpprof", "wide.bpprof"], &[]);
    assert_usage_error(
        &output,
        "task Work has parallelism 2 in base.bpprof but 3 in wide.bpprof",
    );
}

#[test]
fn bad_input_is_one_line_and_exit_code_2() {
    let dir = Dir::new();
    let cases: [(&[&str], &str); 7] = [
        (
            &["check", "--baseline", "base.bpprof", "missing.bpprof"],
            "cannot read recording 'missing.bpprof'",
        ),
        (&["check", "same.bpprof"], "nothing to check"),
        (
            &[
                "check",
                "--baseline",
                "base.bpprof",
                "same.bpprof",
                "--limit",
                "cpu=5%",
            ],
            "unknown metric 'cpu'",
        ),
        (
            &[
                "check",
                "--baseline",
                "base.bpprof",
                "same.bpprof",
                "--limit",
                "Wrok.busy=0.1",
            ],
            "task 'Wrok'",
        ),
        (
            &["check", "same.bpprof", "--assert", "Work.busy 0.5"],
            "invalid budget",
        ),
        (
            &[
                "check",
                "--baseline",
                "base.bpprof",
                "same.bpprof",
                "--confidence",
                "1.5",
            ],
            "--confidence must be between 0 and 1",
        ),
        (
            &[
                "check",
                "--baseline",
                "base.bpprof",
                "same.bpprof",
                "--junit",
                "no/such/dir/j.xml",
            ],
            "cannot write JUnit report",
        ),
    ];
    for (args, expected) in cases {
        assert_usage_error(&dir.bpprof(args, &[]), expected);
    }
}

#[test]
fn budgets_pass_and_fail_on_a_single_recording() {
    let dir = Dir::new();
    let ok = dir.bpprof(
        &[
            "check",
            "same.bpprof",
            "--assert",
            "Sink.records_per_s > 5k",
            "--assert",
            "Work.busy < 0.99",
        ],
        &[],
    );
    assert_eq!(code(&ok), 0, "{}", text(&ok.stdout));
    assert!(
        text(&ok.stdout).starts_with("PASS: 2 budgets met"),
        "{}",
        text(&ok.stdout)
    );
    let failed = dir.bpprof(
        &["check", "same.bpprof", "--assert", "throughput > 50k"],
        &[],
    );
    assert_eq!(code(&failed), 1, "{}", text(&failed.stdout));
    assert!(text(&failed.stdout).contains("1 of 1 budgets exceeded"));
}

#[test]
fn junit_and_markdown_files_are_written_and_valid() {
    let dir = Dir::new();
    let output = dir.bpprof(
        &[
            "check",
            "--baseline",
            "base.bpprof",
            "slow.bpprof",
            "--junit",
            "junit.xml",
            "--markdown",
            "report.md",
        ],
        &[],
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
    let markdown = std::fs::read_to_string(dir.path("report.md")).unwrap();
    assert!(
        markdown.starts_with("### bpprof check: REGRESSION"),
        "{markdown}"
    );
    assert!(markdown.contains("| Work |"), "{markdown}");
}

#[test]
fn github_step_summary_and_annotations() {
    let dir = Dir::new();
    let summary = dir.path("summary.md");
    std::fs::write(&summary, "earlier step\n").unwrap();
    let output = dir.bpprof(
        &["check", "--baseline", "base.bpprof", "slow.bpprof"],
        &[
            ("GITHUB_STEP_SUMMARY", summary.as_path()),
            ("GITHUB_ACTIONS", Path::new("true")),
        ],
    );
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
}

#[test]
fn bpprof_toml_sets_limits_and_flags_override_it() {
    let dir = Dir::new();
    std::fs::write(
        dir.path("bpprof.toml"),
        "[check]\nmin_windows = 5\n[check.limits]\nthroughput = \"off\"\n[check.limits.Work]\ncpu_per_record = \"20%\"\n",
    )
    .unwrap();
    let args = ["check", "--baseline", "base.bpprof", "slow.bpprof"];
    let relaxed = dir.bpprof(&args, &[]);
    assert_eq!(code(&relaxed), 0, "{}", text(&relaxed.stdout));
    let ignored = dir.bpprof(&[&args[..], &["--no-config"]].concat(), &[]);
    assert_eq!(code(&ignored), 1, "{}", text(&ignored.stdout));
    let overridden = dir.bpprof(
        &[&args[..], &["--limit", "Work.cpu_per_record=5%"]].concat(),
        &[],
    );
    assert_eq!(code(&overridden), 1, "{}", text(&overridden.stdout));

    std::fs::write(dir.path("bpprof.toml"), "[check]\nconfidense = 0.9\n").unwrap();
    assert_usage_error(&dir.bpprof(&args, &[]), "unknown key check.confidense");
}
