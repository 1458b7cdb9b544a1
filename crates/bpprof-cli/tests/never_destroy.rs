//! No command writes over a bpprof recording or over one of its own inputs, however the path is
//! spelled: as given, through a symbolic link, or as a hard link of the same file. Each refusal
//! exits with code 2 and one error line naming the option and the fix, and leaves every file's
//! bytes as they were.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use bpprof_analysis::synth::{Load, Synth};
use common::{assert_one_error_line, bpprof_in, code, command_in, source_task_sink, text};

/// Source -> Enrich (the bottleneck, two subtasks with stack samples) -> Sink.
fn pipeline() -> Synth {
    use bpprof_format::SampleState::{Backpressured, Busy};
    let mut synth = Synth::new();
    let (source, enrich, sink) =
        source_task_sink(&mut synth, "Enrich", 2, ["raw", "enriched"], 100);
    for _ in 0..12 {
        for &e in &enrich {
            synth.sample(e, Busy, true, &["main", "enrich", "hash"], 90);
        }
        synth.sample(source, Backpressured, false, &["main", "send"], 90);
        synth.interval(&[
            (source, Load::new(0.1, 0.85).records(0, 500)),
            (enrich[0], Load::new(0.96, 0.0).records(250, 250)),
            (enrich[1], Load::new(0.97, 0.0).records(250, 250)),
            (sink, Load::new(0.2, 0.0).records(500, 0)),
        ]);
    }
    synth
}

/// A directory holding `run.bpprof`, a recording of [`pipeline`].
struct Dir {
    dir: tempfile::TempDir,
}

impl Dir {
    fn new() -> Dir {
        let dir = Dir {
            dir: tempfile::tempdir().expect("temporary directory"),
        };
        pipeline()
            .write_file(dir.path("run.bpprof"))
            .expect("write the recording");
        dir
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn run(&self, args: &[&str]) -> Output {
        bpprof_in(self.dir.path(), args)
    }

    /// A symbolic link `link` to `target` (a name in the directory).
    fn symlink(&self, target: &str, link: &str) {
        std::os::unix::fs::symlink(self.path(target), self.path(link)).expect("symlink");
    }

    /// A hard link `link` of `target`.
    fn hard_link(&self, target: &str, link: &str) {
        std::fs::hard_link(self.path(target), self.path(link)).expect("hard link");
    }

    /// The bytes of every file in the directory, by name, to compare before and after.
    fn snapshot(&self) -> Vec<(String, Vec<u8>)> {
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(self.dir.path())
            .expect("read the directory")
            .map(|e| e.expect("directory entry").path())
            .filter(|p| p.is_file())
            .map(|p| (name(&p), std::fs::read(&p).expect("read a file")))
            .collect();
        files.sort();
        files
    }

    /// Runs `args`, asserts the documented refusal (exit code 2, one error line containing
    /// `message`, nothing on stdout) and that no file of the directory changed or appeared.
    fn assert_refused(&self, args: &[&str], message: &str) {
        let before = self.snapshot();
        let output = self.run(args);
        assert_one_error_line(&output, message);
        assert_eq!(self.snapshot(), before, "a file changed: {args:?}");
    }
}

fn name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

const DESTROY: &str = "which writing there would destroy";

#[test]
fn locate_svg_onto_its_recording_is_refused() {
    let dir = Dir::new();
    dir.assert_refused(
        &["locate", "run.bpprof", "--svg", "run.bpprof"],
        &format!(
            "--svg 'run.bpprof' is an input of this command, {DESTROY}; give --svg another path"
        ),
    );
}

#[test]
fn locate_dot_onto_its_recording_is_refused() {
    let dir = Dir::new();
    dir.assert_refused(
        &["locate", "run.bpprof", "--dot", "./run.bpprof"],
        &format!(
            "--dot './run.bpprof' is the same file as the input 'run.bpprof', {DESTROY}; give --dot another path"
        ),
    );
}

#[test]
fn locate_svg_through_a_symlink_to_its_recording_is_refused() {
    let dir = Dir::new();
    dir.symlink("run.bpprof", "graph.svg");
    dir.assert_refused(
        &["locate", "run.bpprof", "--svg", "graph.svg"],
        "--svg 'graph.svg' is the same file as the input 'run.bpprof'",
    );
}

#[test]
fn locate_svg_onto_a_hard_link_of_its_recording_is_refused() {
    let dir = Dir::new();
    dir.hard_link("run.bpprof", "graph.svg");
    dir.assert_refused(
        &["locate", "run.bpprof", "--svg", "graph.svg"],
        "--svg 'graph.svg' is the same file as the input 'run.bpprof'",
    );
}

#[test]
fn locate_dot_onto_another_recording_is_refused() {
    let dir = Dir::new();
    pipeline().write_file(dir.path("other.bpprof")).unwrap();
    dir.assert_refused(
        &[
            "locate",
            "run.bpprof",
            "--svg",
            "job.svg",
            "--dot",
            "other.bpprof",
        ],
        &format!("--dot 'other.bpprof' is a bpprof recording, {DESTROY}; give --dot another path"),
    );
}

#[test]
fn locate_svg_and_dot_onto_one_file_are_refused() {
    let dir = Dir::new();
    dir.assert_refused(
        &["locate", "run.bpprof", "--svg", "job.out", "--dot", "./job.out"],
        "--svg 'job.out' and --dot './job.out' are the same file, which the second would overwrite; give --svg and --dot different paths",
    );
}

#[test]
fn check_markdown_and_junit_onto_one_file_are_refused() {
    let dir = Dir::new();
    std::fs::write(dir.path("report"), "old").unwrap();
    dir.hard_link("report", "same-report");
    dir.assert_refused(
        &[
            "check",
            "run.bpprof",
            "--no-config",
            "--assert",
            "Enrich.busy < 2",
            "--markdown",
            "report",
            "--junit",
            "same-report",
        ],
        "--markdown 'report' and --junit 'same-report' are the same file",
    );
}

#[test]
fn locate_pictures_still_replace_ordinary_files() {
    let dir = Dir::new();
    std::fs::write(dir.path("job.svg"), "old picture").unwrap();
    let output = dir.run(&[
        "locate",
        "run.bpprof",
        "--svg",
        "job.svg",
        "--dot",
        "job.dot",
    ]);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    assert!(std::fs::read_to_string(dir.path("job.svg"))
        .unwrap()
        .contains("<svg"));
    assert!(std::fs::read_to_string(dir.path("job.dot"))
        .unwrap()
        .contains("digraph"));
}

#[test]
fn flame_output_onto_a_hard_link_of_its_recording_is_refused() {
    let dir = Dir::new();
    dir.hard_link("run.bpprof", "flame.svg");
    dir.assert_refused(
        &["flame", "run.bpprof", "--subtask", "Enrich#0", "-o", "flame.svg"],
        &format!("-o 'flame.svg' is the same file as the input 'run.bpprof', {DESTROY}; give -o another path"),
    );
}

#[test]
fn flame_folded_onto_its_recording_is_refused() {
    let dir = Dir::new();
    dir.assert_refused(
        &["flame", "run.bpprof", "--folded", "-o", "run.bpprof"],
        "-o 'run.bpprof' is an input of this command",
    );
}

#[test]
fn diff_output_onto_a_symlink_to_its_baseline_is_refused() {
    let dir = Dir::new();
    pipeline().write_file(dir.path("head.bpprof")).unwrap();
    dir.symlink("run.bpprof", "diff.svg");
    dir.assert_refused(
        &[
            "diff",
            "run.bpprof",
            "head.bpprof",
            "--subtask",
            "Enrich#0",
            "-o",
            "diff.svg",
        ],
        "-o 'diff.svg' is the same file as the input 'run.bpprof'",
    );
}

#[test]
fn merge_of_a_file_with_itself_is_refused() {
    let dir = Dir::new();
    dir.assert_refused(
        &["merge", "run.bpprof", "run.bpprof", "-o", "job.bpprof"],
        "'run.bpprof' is given twice, which merging would count twice; pass each recording once",
    );
}

#[test]
fn merge_of_a_file_with_a_hard_link_of_it_is_refused() {
    let dir = Dir::new();
    dir.hard_link("run.bpprof", "copy.bpprof");
    dir.assert_refused(
        &["merge", "run.bpprof", "copy.bpprof", "-o", "job.bpprof"],
        "'run.bpprof' and 'copy.bpprof' are the same file, which merging would count twice",
    );
}

#[test]
fn merge_of_a_file_with_a_symlink_to_it_is_refused() {
    let dir = Dir::new();
    dir.symlink("run.bpprof", "link.bpprof");
    dir.assert_refused(
        &["merge", "link.bpprof", "./run.bpprof", "-o", "job.bpprof"],
        "'link.bpprof' and './run.bpprof' are the same file",
    );
}

/// Two processes of one job, recorded separately (different tasks, so they merge).
fn two_ends(dir: &Dir) {
    for (name, task) in [("a.bpprof", "Producer"), ("b.bpprof", "Consumer")] {
        let mut synth = Synth::new();
        let subtask = synth.subtask(task, 0, 1);
        for _ in 0..4 {
            synth.interval(&[(subtask, Load::new(0.5, 0.0).records(10, 10))]);
        }
        synth.write_file(dir.path(name)).unwrap();
    }
}

#[test]
fn merge_output_onto_an_input_is_refused() {
    let dir = Dir::new();
    two_ends(&dir);
    dir.assert_refused(
        &["merge", "a.bpprof", "b.bpprof", "-o", "b.bpprof"],
        &format!("-o 'b.bpprof' is an input of this command, {DESTROY}; give -o another path"),
    );
    dir.hard_link("a.bpprof", "job.bpprof");
    dir.assert_refused(
        &["merge", "a.bpprof", "b.bpprof", "-o", "job.bpprof"],
        "-o 'job.bpprof' is the same file as the input 'a.bpprof'",
    );
}

#[test]
fn merge_output_onto_a_file_that_is_not_a_recording_is_refused() {
    let dir = Dir::new();
    two_ends(&dir);
    std::fs::write(dir.path("notes.txt"), "my notes\n").unwrap();
    dir.assert_refused(
        &["merge", "a.bpprof", "b.bpprof", "-o", "notes.txt"],
        &format!(
            "-o 'notes.txt' exists and is not a bpprof recording, {DESTROY}; give -o another path, or remove the file first"
        ),
    );
}

/// A device is never opened to look for a recording in it (reading `/dev/stdout` on a pipe
/// would wait forever); a graph may be written to it, a recording may not replace it.
#[test]
fn outputs_onto_devices_are_written_or_refused_without_reading_them() {
    let dir = Dir::new();
    let output = dir.run(&[
        "flame",
        "run.bpprof",
        "--subtask",
        "Enrich#0",
        "-o",
        "/dev/null",
    ]);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    two_ends(&dir);
    dir.assert_refused(
        &["merge", "a.bpprof", "b.bpprof", "-o", "/dev/null"],
        "-o '/dev/null' is not a regular file, which a recording cannot replace; give -o the path of a file",
    );
    assert!(Path::new("/dev/null").exists());
}

#[test]
fn merge_output_replaces_a_previous_merged_recording() {
    let dir = Dir::new();
    two_ends(&dir);
    for _ in 0..2 {
        let output = dir.run(&["merge", "a.bpprof", "b.bpprof", "-o", "job.bpprof"]);
        assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    }
    let merged = bpprof_format::read_file(dir.path("job.bpprof")).unwrap();
    assert_eq!(merged.intervals.len(), 4);
}

#[test]
fn check_markdown_onto_its_settings_file_is_refused() {
    let dir = Dir::new();
    std::fs::write(dir.path("bpprof.toml"), "[check]\nmin_windows = 3\n").unwrap();
    dir.assert_refused(
        &[
            "check",
            "run.bpprof",
            "--assert",
            "Enrich.busy < 2",
            "--markdown",
            "bpprof.toml",
        ],
        "--markdown 'bpprof.toml' is an input of this command",
    );
}

#[test]
fn check_junit_onto_a_symlink_to_its_recording_is_refused() {
    let dir = Dir::new();
    dir.symlink("run.bpprof", "junit.xml");
    dir.assert_refused(
        &[
            "check",
            "run.bpprof",
            "--assert",
            "Enrich.busy < 2",
            "--junit",
            "junit.xml",
        ],
        "--junit 'junit.xml' is the same file as the input 'run.bpprof'",
    );
}

#[test]
fn check_step_summary_onto_a_recording_is_not_appended() {
    let dir = Dir::new();
    let before = dir.snapshot();
    let output = command_in(
        dir.dir.path(),
        &["check", "run.bpprof", "--assert", "Enrich.busy < 2"],
    )
    .env("GITHUB_STEP_SUMMARY", dir.path("run.bpprof"))
    .output()
    .unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(code(&output), 0, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "warning: $GITHUB_STEP_SUMMARY '{}' is the same file as the input 'run.bpprof', {DESTROY}; not appending the summary",
            dir.path("run.bpprof").display()
        )),
        "{stderr}"
    );
    assert_eq!(dir.snapshot(), before);
}

#[test]
fn record_output_onto_its_program_is_refused() {
    let dir = Dir::new();
    let program = dir.path("bench.sh");
    std::fs::write(&program, "#!/bin/sh\nexit 0\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir.assert_refused(
        &["record", "-o", "./bench.sh", "--", "./bench.sh"],
        &format!("--output './bench.sh' is an input of this command, {DESTROY}"),
    );
}
