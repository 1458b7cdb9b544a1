//! `bpprof locate --svg` / `--dot`: the job-graph pictures written next to the normal output.

mod common;

use bpprof_analysis::synth::{Load, Synth};
use common::{assert_one_error_line, bpprof, bpprof_in, error_line, source_task_sink, text};

/// Source -> Work(2) -> Sink with Work the bottleneck.
fn recording(dir: &std::path::Path) -> String {
    let mut synth = Synth::new();
    let (source, work, sink) = source_task_sink(&mut synth, "Work", 2, ["in", "out"], 64);
    // Enough intervals that locate has no coverage warning for stderr.
    for _ in 0..6 {
        synth.interval(&[
            (source, Load::new(0.05, 0.9)),
            (work[0], Load::new(0.96, 0.0)),
            (work[1], Load::new(0.9, 0.0)),
            (sink, Load::new(0.2, 0.0)),
        ]);
    }
    let path = dir.join("job.bpprof");
    synth.write_file(&path).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn svg_and_dot_files_next_to_the_report() {
    let dir = tempfile::tempdir().unwrap();
    recording(dir.path());
    let out = bpprof_in(
        dir.path(),
        &[
            "locate",
            "job.bpprof",
            "--svg",
            "job.svg",
            "--dot",
            "job.dot",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("Work is the bottleneck"));
    assert_eq!(
        text(&out.stderr),
        "wrote job graph to job.svg\nwrote job graph to job.dot\n"
    );

    let svg = std::fs::read_to_string(dir.path().join("job.svg")).unwrap();
    assert!(svg.trim_end().ends_with("</svg>"));
    for task in ["Source", "Work", "Sink"] {
        assert!(svg.contains(&format!("data-task=\"{task}\"")), "{task}");
    }
    assert_eq!(svg.matches("class=\"subtask\"").count(), 4);
    assert_eq!(svg.matches("class=\"bottleneck-outline\"").count(), 1);
    insta::assert_snapshot!("job_svg", svg);

    // Source -> Work -> Sink, Work marked as the bottleneck.
    let dot = std::fs::read_to_string(dir.path().join("job.dot")).unwrap();
    insta::assert_snapshot!("job_dot", dot);
}

#[test]
fn dash_writes_the_picture_to_stdout_instead_of_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let rec = recording(dir.path());
    let out = bpprof(&["locate", &rec, "--svg", "-"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("<?xml"), "{stdout}");
    assert!(stdout.trim_end().ends_with("</svg>"));

    let out = bpprof(&["locate", &rec, "--dot", "-", "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("digraph job {"));

    let out = bpprof(&["locate", &rec, "--dot", "-", "--svg", "-"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stdout).is_empty());
}

#[test]
fn unwritable_path_is_one_error_line() {
    let dir = tempfile::tempdir().unwrap();
    let rec = recording(dir.path());
    let bad = dir.path().join("no-such-dir").join("job.svg");
    let out = bpprof(&["locate", &rec, "--svg", bad.to_str().unwrap()]);
    assert_one_error_line(&out, "check that the directory exists");
    let line = error_line(&out);
    assert!(
        line.starts_with("error: cannot write job graph '"),
        "{line}"
    );
}
