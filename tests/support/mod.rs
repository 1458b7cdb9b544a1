//! Shared helpers of the workspace integration tests: building the example and CLI binaries once,
//! running them, and reading what `bpprof locate` says.

#![allow(dead_code)] // Each test binary uses a different subset.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};

use bpprof_analysis::{LocateReport, TaskReport};

/// Held while an example pipeline runs: on a 2-core machine, pipelines running side by side would
/// distort each other's figures (and so the verdicts the tests check).
static PIPELINE: Mutex<()> = Mutex::new(());

/// Serialises the tests that run a pipeline (a test that failed while holding it does not poison
/// the others).
pub fn exclusive() -> MutexGuard<'static, ()> {
    PIPELINE.lock().unwrap_or_else(|p| p.into_inner())
}

/// The directory of this test's build profile (`.../target/debug`): the test binary is
/// `.../target/debug/deps/<test>-<hash>`.
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("path of the test binary");
    exe.parent()
        .and_then(Path::parent)
        .expect("test binary lives in <target>/<profile>/deps")
        .to_path_buf()
}

/// Builds `bpprof` and the examples once per test process, with the tests' profile and target
/// directory, and returns the profile directory they are in.
fn built() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = profile_dir();
        let target = dir.parent().expect("profile dir has a parent");
        let mut cargo = Command::new(env!("CARGO"));
        cargo
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["build", "-q", "-p", "bpprof-cli", "-p", "bpprof-scenarios"])
            .args(["--bins", "--examples", "--target-dir"])
            .arg(target);
        if dir.file_name().is_some_and(|n| n == "release") {
            cargo.arg("--release");
        }
        let status = cargo.status().expect("run cargo build");
        assert!(
            status.success(),
            "cargo build of the examples failed: {status}"
        );
        dir
    })
}

/// Path of the `bpprof` binary (built on first use).
pub fn bpprof_bin() -> PathBuf {
    built().join(format!("bpprof{}", std::env::consts::EXE_SUFFIX))
}

/// Path of an example binary (built on first use).
pub fn example_bin(name: &str) -> PathBuf {
    built()
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

/// A command for example `name` recording to `out` every `interval_ms`, without inheriting any
/// bpprof setting from the environment of the test.
pub fn example(name: &str, out: &Path, interval_ms: u64) -> Command {
    let mut cmd = Command::new(example_bin(name));
    cmd.env_remove("BPPROF_EXAMPLE_SECONDS")
        .env("BPPROF_OUT", out)
        .env("BPPROF_INTERVAL_MS", interval_ms.to_string())
        .stdin(Stdio::null());
    cmd
}

/// Runs example `name` for `seconds`, recording to `out` every `interval_ms`; asserts it
/// succeeded and wrote the recording.
pub fn record(name: &str, out: &Path, seconds: f64, interval_ms: u64) {
    let output = example(name, out, interval_ms)
        .env("BPPROF_EXAMPLE_SECONDS", seconds.to_string())
        .output()
        .unwrap_or_else(|e| panic!("run example {name}: {e}"));
    assert!(
        output.status.success(),
        "example {name} failed ({}):\n{}",
        output.status,
        text(&output.stderr)
    );
    assert!(
        out.is_file(),
        "example {name} wrote no recording at {}",
        out.display()
    );
}

/// A recorded example run and what `bpprof locate` said about it; the recording lives as long as
/// the run.
pub struct Run {
    /// Holds the recording.
    pub dir: tempfile::TempDir,
    /// The recording.
    pub rec: PathBuf,
    pub located: Located,
}

/// Runs example `name` for `seconds` (intervals of `interval_ms`) while no other pipeline runs,
/// then locates its bottleneck; the verdict must come first in the output.
pub fn run_and_locate(name: &str, seconds: f64, interval_ms: u64) -> Run {
    let dir = tempfile::tempdir().expect("temp dir");
    let rec = dir.path().join(format!("{name}.bpprof"));
    {
        let _only_pipeline = exclusive();
        record(name, &rec, seconds, interval_ms);
    }
    let located = locate(&rec);
    located.assert_verdict_first();
    Run { dir, rec, located }
}

/// Starts example `name` without waiting for it.
pub fn spawn_example(name: &str, out: &Path, seconds: f64, interval_ms: u64) -> Child {
    example(name, out, interval_ms)
        .env("BPPROF_EXAMPLE_SECONDS", seconds.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start example {name}: {e}"))
}

/// Runs `bpprof` with `args`.
pub fn bpprof(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(bpprof_bin())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run bpprof")
}

/// What `bpprof locate` said about one recording, in both formats.
pub struct Located {
    /// The human output (stdout).
    pub text: String,
    /// Stderr of the human run (warnings).
    pub stderr: String,
    /// The JSON output, deserialized.
    pub report: LocateReport,
}

/// Runs `bpprof locate REC` and `bpprof locate REC --format json`; asserts both exit 0.
pub fn locate(rec: &Path) -> Located {
    let human = bpprof(&["locate".as_ref(), rec.as_os_str()]);
    assert!(
        human.status.success(),
        "bpprof locate failed ({}):\n{}",
        human.status,
        text(&human.stderr)
    );
    let json = bpprof(&[
        "locate".as_ref(),
        rec.as_os_str(),
        "--format".as_ref(),
        "json".as_ref(),
    ]);
    assert!(
        json.status.success(),
        "bpprof locate --format json failed ({}):\n{}",
        json.status,
        text(&json.stderr)
    );
    let report: LocateReport = serde_json::from_slice(&json.stdout).unwrap_or_else(|e| {
        panic!(
            "locate JSON does not deserialize into LocateReport: {e}\n{}",
            text(&json.stdout)
        )
    });
    assert_eq!(report.schema, bpprof_analysis::SCHEMA);
    assert_eq!(report.schema_version, bpprof_analysis::SCHEMA_VERSION);
    Located {
        text: text(&human.stdout),
        stderr: text(&human.stderr),
        report,
    }
}

impl Located {
    /// The task called `name`; panics with the whole output when there is none.
    pub fn task(&self, name: &str) -> &TaskReport {
        self.report
            .tasks
            .iter()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("no task {name} in the report:\n{}", self.text))
    }

    /// Asserts the human output starts with the verdict line, the same verdict as the JSON's.
    pub fn assert_verdict_first(&self) {
        let first = self.text.lines().next().unwrap_or_default();
        assert!(!self.report.verdict.is_empty(), "empty verdict");
        assert_eq!(
            first, self.report.verdict,
            "human output does not start with the verdict:\n{}",
            self.text
        );
    }

    /// The notes listed in the human output (the `  - ` lines after `Notes:`).
    pub fn text_notes(&self) -> Vec<&str> {
        self.text
            .lines()
            .skip_while(|l| *l != "Notes:")
            .skip(1)
            .map_while(|l| l.strip_prefix("  - "))
            .collect()
    }
}

/// Bytes as text, lossily.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
