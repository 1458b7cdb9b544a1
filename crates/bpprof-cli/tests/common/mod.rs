//! What the CLI integration tests share: running the `bpprof` binary, reading what it wrote, a
//! recording in a temporary directory, the synthetic pipelines several tests record, and the
//! documented way to fail (exit code 2, one `error:` line on stderr).
//!
//! Each test binary includes this module (`mod common;`) and uses a part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use bpprof_analysis::synth::{Load, Synth};

/// Variables of the test's own environment that change what `bpprof` does, removed from every
/// command: the recorder's settings (`bpprof record` passes them on), GitHub's (`bpprof check`
/// writes a job summary and annotations under GitHub Actions) and the colour settings (`--color
/// auto` reads them).
const ENVIRONMENT: [&str; 11] = [
    "BPPROF_OUT",
    "BPPROF_OUT_MAX_FILE",
    "BPPROF_OUT_MAX_AGE",
    "BPPROF_OUT_MAX_TOTAL",
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

/// Asserts that `bpprof COMMAND --help` succeeds and names each of `options`.
pub fn assert_help_names(command: &str, options: &[&str]) {
    let output = bpprof(&[command, "--help"]);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    let help = text(&output.stdout);
    for option in options {
        assert!(help.contains(option), "{option} in {help}");
    }
}

/// Declares Source -> `task` (`parallelism` subtasks) -> Sink in `synth`, joined by the channels
/// named `channels` (upstream first) of `capacity` records each; returns the subtask ids of
/// Source, of `task` (by index) and of Sink.
pub fn source_task_sink(
    synth: &mut Synth,
    task: &str,
    parallelism: u32,
    channels: [&str; 2],
    capacity: u64,
) -> (u32, Vec<u32>, u32) {
    let source = synth.subtask("Source", 0, 1);
    let middle: Vec<u32> = (0..parallelism)
        .map(|i| synth.subtask(task, i, parallelism))
        .collect();
    let sink = synth.subtask("Sink", 0, 1);
    synth.channel(channels[0], capacity, &[source], &middle);
    synth.channel(channels[1], capacity, &middle, &[sink]);
    (source, middle, sink)
}

/// Declares `tasks` (one subtask each) in a line, each joined to the next by a channel of
/// `capacity` records, the channels named by `channels` in order; returns the subtask ids of
/// `tasks`, in order.
pub fn chain<const N: usize>(
    synth: &mut Synth,
    tasks: [&str; N],
    channels: &[&str],
    capacity: u64,
) -> [u32; N] {
    assert_eq!(channels.len() + 1, N, "one channel between each two tasks");
    let ids = tasks.map(|task| synth.subtask(task, 0, 1));
    for (i, name) in channels.iter().enumerate() {
        synth.channel(name, capacity, &[ids[i]], &[ids[i + 1]]);
    }
    ids
}

/// The subtasks of Source -> Parse -> Enrich (2 subtasks) -> Sink, joined by the channels `raw`,
/// `parsed` and `enriched` of 100 records each.
pub struct EnrichPipeline {
    /// Source's subtask.
    pub source: u32,
    /// Parse's subtask.
    pub parse: u32,
    /// Enrich's two subtasks, by index.
    pub enrich: Vec<u32>,
    /// Sink's subtask.
    pub sink: u32,
}

impl EnrichPipeline {
    /// Declares the subtasks and channels in `synth`.
    pub fn declare(synth: &mut Synth) -> EnrichPipeline {
        let source = synth.subtask("Source", 0, 1);
        let parse = synth.subtask("Parse", 0, 1);
        let enrich: Vec<u32> = (0..2).map(|i| synth.subtask("Enrich", i, 2)).collect();
        let sink = synth.subtask("Sink", 0, 1);
        synth.channel("raw", 100, &[source], &[parse]);
        synth.channel("parsed", 100, &[parse], &enrich);
        synth.channel("enriched", 100, &enrich, &[sink]);
        EnrichPipeline {
            source,
            parse,
            enrich,
            sink,
        }
    }

    /// One interval with Enrich the bottleneck: 500 records a second through the pipeline.
    pub fn interval(&self, synth: &mut Synth) {
        synth.interval(&[
            (self.source, Load::new(0.2, 0.7).records(0, 500)),
            (self.parse, Load::new(0.1, 0.88).records(500, 500)),
            (self.enrich[0], Load::new(0.95, 0.0).records(250, 250)),
            (self.enrich[1], Load::new(0.97, 0.0).records(250, 250)),
            (self.sink, Load::new(0.3, 0.0).records(500, 0)),
        ]);
    }
}
