//! What the CLI integration tests share: running the `bpprof` binary, reading what it wrote, a
//! recording in a temporary directory, and the documented way to fail (exit code 2, one `error:`
//! line on stderr).
//!
//! Each test binary includes this module (`mod common;`) and uses a part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Variables of the test's own environment that change what `bpprof` does, removed from every
/// command: the recorder's settings (`bpprof record` passes them on), GitHub's (`bpprof check`
/// writes a job summary and annotations under GitHub Actions) and the colour settings (`--color
/// auto` reads them).
const ENVIRONMENT: [&str; 8] = [
    "BPPROF_OUT",
    "BPPROF_INTERVAL_MS",
    "BPPROF_SAMPLE_HZ",
    "GITHUB_STEP_SUMMARY",
    "GITHUB_ACTIONS",
    "NO_COLOR",
    "CLICOLOR_FORCE",
    "CLICOLOR",
];

/// `bpprof ARGS`, to run: no standard input, none of the [`ENVIRONMENT`] variables.
pub fn command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bpprof"));
    command.args(args).stdin(Stdio::null());
    for name in ENVIRONMENT {
        command.env_remove(name);
    }
    command
}

/// [`command`], run in `dir`.
pub fn command_in(dir: &Path, args: &[&str]) -> Command {
    let mut command = command(args);
    command.current_dir(dir);
    command
}

/// Runs `bpprof ARGS` in the test's directory.
pub fn bpprof(args: &[&str]) -> Output {
    command(args).output().expect("bpprof runs")
}

/// Runs `bpprof ARGS` in `dir`.
pub fn bpprof_in(dir: &Path, args: &[&str]) -> Output {
    command_in(dir, args).output().expect("bpprof runs")
}

/// Standard output or error as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The exit code (`bpprof` is not expected to die of a signal).
pub fn code(output: &Output) -> i32 {
    output.status.code().expect("exited")
}

/// A recording in a file of its own, in a temporary directory removed when it is dropped.
pub struct Fixture {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Fixture {
    /// Writes `bytes` (a recording, or not) to a file called `name`.
    pub fn new(name: &str, bytes: &[u8]) -> Fixture {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).expect("write the recording");
        Fixture { _dir: dir, path }
    }

    /// The file's path, as a command-line argument.
    pub fn arg(&self) -> &str {
        self.path.to_str().expect("utf-8 temporary path")
    }
}

/// Asserts that stderr is exactly one line starting `error: ` and returns it.
pub fn error_line(output: &Output) -> String {
    let stderr = text(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "exactly one line on stderr: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    lines[0].to_owned()
}

/// Asserts exit code 2 and one `error:` line on stderr that mentions `mentions`.
pub fn assert_error(output: &Output, mentions: &str) {
    assert_eq!(code(output), 2, "stderr: {}", text(&output.stderr));
    let line = error_line(output);
    assert!(line.contains(mentions), "expected {mentions:?} in {line}");
}

/// The command failed the documented way: exit code 2, exactly one `error:` line that mentions
/// `mentions`, no panic, and nothing on stdout.
pub fn assert_one_error_line(output: &Output, mentions: &str) {
    let stderr = text(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_error(output, mentions);
    assert!(output.stdout.is_empty(), "nothing on stdout on failure");
}
