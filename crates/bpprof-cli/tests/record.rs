//! `bpprof record -- CMD`: real processes, recordings in a temporary directory.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bpprof_analysis::synth::{Load, Synth};
use bpprof_analysis::LocateReport;
use common::{bpprof_in, chain, command_in, error_line, text};

/// Runs `bpprof ARGS` in `dir`, asserts that it exits with code 2 and writes exactly one
/// `error: what; fix` line on stderr, and returns that line.
fn error_in(dir: &Path, args: &[&str]) -> String {
    let output = bpprof_in(dir, args);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    let line = error_line(&output);
    assert!(line.contains("; "), "no fix after the error: {line}");
    line
}

/// A small valid recording (Source -> Enrich -> Sink, 5 intervals of 1 s, no samples).
fn tiny_recording() -> Vec<u8> {
    let mut synth = Synth::new();
    let [source, enrich, sink] = chain(
        &mut synth,
        ["Source", "Enrich", "Sink"],
        &["raw", "enriched"],
        100,
    );
    for _ in 0..5 {
        synth.interval(&[
            (source, Load::new(0.1, 0.9).records(0, 100)),
            (enrich, Load::new(1.0, 0.0).records(100, 100)),
            (sink, Load::new(0.1, 0.0).records(100, 0)),
        ]);
    }
    synth.bytes()
}

#[test]
fn exit_code_of_the_command_is_passed_through() {
    let dir = tempfile::tempdir().unwrap();
    let output = bpprof_in(dir.path(), &["record", "--", "sh", "-c", "exit 7"]);
    assert_eq!(output.status.code(), Some(7), "{}", text(&output.stderr));
    let stderr = text(&output.stderr);
    assert!(
        stderr.starts_with("warning: sh failed and wrote no recording to sh.bpprof"),
        "{stderr}"
    );
    // Without `--` too: everything from the command on is the command's.
    let output = bpprof_in(dir.path(), &["record", "sh", "-c", "exit 9"]);
    assert_eq!(output.status.code(), Some(9), "{}", text(&output.stderr));
}

#[test]
fn command_killed_by_a_signal_exits_with_128_plus_the_signal() {
    let dir = tempfile::tempdir().unwrap();
    let output = bpprof_in(dir.path(), &["record", "--", "sh", "-c", "kill -TERM $$"]);
    assert_eq!(output.status.code(), Some(128 + 15));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("killed by signal 15 (SIGTERM); exiting with 143"),
        "{stderr}"
    );
}

#[test]
fn missing_command_is_one_error_line() {
    let dir = tempfile::tempdir().unwrap();
    let line = error_in(dir.path(), &["record"]);
    assert!(line.contains("CMD"), "{line}");
}

#[test]
fn command_that_cannot_start_is_one_error_line() {
    let dir = tempfile::tempdir().unwrap();
    let line = error_in(dir.path(), &["record", "--", "no-such-command-bpprof-test"]);
    assert!(
        line.starts_with("error: cannot run 'no-such-command-bpprof-test': not found"),
        "{line}"
    );

    let not_executable = dir.path().join("script");
    std::fs::write(&not_executable, "#!/bin/sh\nexit 0\n").unwrap();
    let line = error_in(dir.path(), &["record", "--", "./script"]);
    assert!(
        line.starts_with("error: cannot run './script': permission denied; make it executable"),
        "{line}"
    );
}

/// Asserts that `bpprof record OPTIONS -- CMD` fails with one line (containing `expected`) and
/// exit code 2, and that CMD (which would create a marker file) did not run.
fn assert_refused_before_running(dir: &Path, options: &[&str], expected: &str) {
    let marker = dir.join("ran");
    let command = format!("touch '{}'", marker.display());
    let mut args = vec!["record"];
    args.extend(options);
    args.extend(["--", "sh", "-c", &command]);
    let line = error_in(dir, &args);
    assert!(line.contains(expected), "{line}");
    assert!(!marker.exists(), "the command ran");
}

/// [`assert_refused_before_running`] with `-o output`.
fn assert_output_refused(dir: &Path, output: &Path, expected: &str) {
    let output = output.to_str().unwrap();
    assert_refused_before_running(dir, &["-o", output], expected);
}

#[test]
fn unwritable_output_is_refused_before_the_command_runs() {
    let dir = tempfile::tempdir().unwrap();
    assert_output_refused(
        dir.path(),
        &dir.path().join("missing-dir").join("x.bpprof"),
        "does not exist",
    );

    // A read-only directory; root writes there anyway, so it then uses /proc, which nobody can
    // create files in.
    use std::os::unix::fs::PermissionsExt;
    let read_only = dir.path().join("read-only");
    std::fs::create_dir(&read_only).unwrap();
    std::fs::set_permissions(&read_only, std::fs::Permissions::from_mode(0o555)).unwrap();
    let probe = read_only.join("probe");
    let unwritable = if std::fs::write(&probe, b"").is_ok() {
        std::fs::remove_file(&probe).unwrap();
        PathBuf::from("/proc/bpprof-record-test.bpprof")
    } else {
        read_only.join("x.bpprof")
    };
    assert_output_refused(dir.path(), &unwritable, "cannot write the recording");
    std::fs::set_permissions(&read_only, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn output_that_is_not_a_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("x.bpprof")).unwrap();
    assert_output_refused(
        dir.path(),
        &dir.path().join("x.bpprof"),
        "is not a regular file, which a recording cannot replace",
    );
}

/// [`assert_refused_before_running`] for each setting (an option and its value) with the part of
/// the error line it expects.
fn assert_settings_refused(settings: &[([&str; 2], &str)]) {
    let dir = tempfile::tempdir().unwrap();
    for (setting, expected) in settings {
        assert_refused_before_running(dir.path(), setting, expected);
    }
}

#[test]
fn invalid_settings_are_refused_before_the_command_runs() {
    assert_settings_refused(&[
        (
            ["--interval-ms", "50"],
            "'50' for '--interval-ms <MS>': shorter than the recorder accepts (100 ms)",
        ),
        (["--sample-hz", "10001"], "--sample-hz 10001"),
    ]);
}

#[test]
fn command_that_writes_no_recording_gets_the_hint() {
    let dir = tempfile::tempdir().unwrap();
    let line = error_in(dir.path(), &["record", "-o", "x.bpprof", "--", "true"]);
    assert!(
        line.starts_with(
            "error: true wrote no recording to x.bpprof: does it call bpprof::init_from_env()?"
        ),
        "{line}"
    );
}

/// A recording left at the output path by an earlier run is not taken for the new one, and is
/// not lost when the command records nothing.
#[test]
fn previous_recording_is_not_mistaken_for_the_new_one_nor_lost() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("x.bpprof");
    std::fs::write(&rec, tiny_recording()).unwrap();
    let line = error_in(dir.path(), &["record", "-o", "x.bpprof", "--", "true"]);
    assert!(
        line.contains("wrote no recording to x.bpprof (the previous recording there is unchanged)"),
        "{line}"
    );
    assert_eq!(std::fs::read(&rec).unwrap(), tiny_recording());
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(left.len(), 1, "a temporary file was left behind: {left:?}");
}

/// `bpprof record -o x.bpprof -- COMMAND` in `dir`, to run.
fn record_x(dir: &Path, command: &[&str]) -> Command {
    let mut args = vec!["record", "-o", "x.bpprof", "--"];
    args.extend(command);
    command_in(dir, &args)
}

/// A new recording replaces the previous one.
#[test]
fn a_new_recording_replaces_the_previous_one() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("x.bpprof"), tiny_recording()).unwrap();
    let full = tiny_recording();
    let shorter = &full[..full.len() - 40];
    std::fs::write(dir.path().join("new"), shorter).unwrap();
    let output = record_x(dir.path(), &["sh", "-c", "cp new \"$BPPROF_OUT\""])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(std::fs::read(dir.path().join("x.bpprof")).unwrap(), shorter);
}

/// The command sees BPPROF_OUT (absolute, overriding an inherited value), BPPROF_INTERVAL_MS and
/// BPPROF_SAMPLE_HZ; what it writes there is summarised on stderr.
#[test]
fn command_gets_the_settings_and_its_recording_is_summarised() {
    let dir = tempfile::tempdir().unwrap();
    let tiny = dir.path().join("tiny");
    std::fs::write(&tiny, tiny_recording()).unwrap();
    std::fs::create_dir(dir.path().join("out")).unwrap();
    let script = format!(
        "echo \"$BPPROF_OUT $BPPROF_INTERVAL_MS $BPPROF_SAMPLE_HZ\" > env.txt && cp '{}' \"$BPPROF_OUT\"",
        tiny.display()
    );
    let output = command_in(
        dir.path(),
        &[
            "record",
            "-o",
            "out/x.bpprof",
            "--interval-ms",
            "250",
            "--sample-hz",
            "0",
            "--",
            "sh",
            "-c",
            &script,
        ],
    )
    .env("BPPROF_OUT", "/nonexistent/inherited.bpprof")
    .output()
    .unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let env = std::fs::read_to_string(dir.path().join("env.txt")).unwrap();
    // A temporary file next to the output, renamed when the command exits.
    let (out, settings) = env.trim().split_once(' ').unwrap();
    let out = Path::new(out);
    assert_eq!(
        out.parent(),
        Some(dir.path().join("out").as_path()),
        "{env}"
    );
    let temp = out.file_name().unwrap().to_string_lossy();
    assert!(
        temp.starts_with(".x.bpprof.") && temp.ends_with(".partial"),
        "{env}"
    );
    assert_eq!(settings, "250 0", "environment of the command");
    assert!(dir.path().join("out/x.bpprof").is_file());
    assert!(!out.exists(), "the temporary file was not renamed");
    // The summary describes the file (written by Synth with 1 s intervals), not the settings.
    assert_eq!(
        stderr.trim_end(),
        "bpprof: recording written to out/x.bpprof (5 intervals of 1,000 ms, 5.0 s, 3 subtasks, \
         stack sampling off)"
    );
}

/// Ctrl-C reaches both bpprof and the command (one process group); bpprof outlives the command
/// and reports its exit as 128 + SIGINT. The command plays the terminal: `kill -INT 0` signals
/// its whole process group, which `process_group(0)` separates from the test's.
#[test]
fn ctrl_c_stops_the_command_and_bpprof_reports_it() {
    if sigint_ignored() {
        eprintln!("skipped: SIGINT is ignored in this test process, as the command's would be");
        return;
    }
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let output = command_in(
        dir.path(),
        &["record", "--", "sh", "-c", "kill -INT 0; sleep 20; exit 3"],
    )
    .process_group(0)
    .output()
    .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the command was not interrupted"
    );
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(128 + 2), "{stderr}");
    assert!(stderr.contains("killed by signal 2 (SIGINT)"), "{stderr}");
}

/// A signal sent to bpprof alone does not end it while the command runs.
#[test]
fn bpprof_waits_for_the_command_when_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = command_in(
        dir.path(),
        &["record", "--", "sh", "-c", "touch started; sleep 1; exit 5"],
    )
    .spawn()
    .unwrap();
    wait_for(&dir.path().join("started"));
    for signal in ["INT", "TERM"] {
        let kill = format!("kill -{signal} {}", child.id());
        assert!(Command::new("sh")
            .args(["-c", &kill])
            .status()
            .unwrap()
            .success());
    }
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(5), "{status}");
}

/// True when this process ignores SIGINT (Linux: bit 1 of `SigIgn` in /proc/self/status).
fn sigint_ignored() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << (2 - 1)) != 0)
}

/// Waits (at most 30 s) until `path` exists.
fn wait_for(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Builds the `slow_operator` example once, with this test's profile and target directory (the
/// approach of the workspace's `tests/support`), and returns its path.
fn slow_operator() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        // The test binary is `<target>/<profile>/deps/record-<hash>`.
        let exe = std::env::current_exe().expect("path of the test binary");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("test binary lives in <target>/<profile>/deps");
        let target = profile_dir.parent().expect("profile dir has a parent");
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut cargo = Command::new(env!("CARGO"));
        cargo
            .current_dir(&workspace)
            .args(["build", "-q", "-p", "bpprof-scenarios"])
            .args(["--example", "slow_operator", "--target-dir"])
            .arg(target);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cargo.arg("--release");
        }
        let status = cargo.status().expect("run cargo build");
        assert!(
            status.success(),
            "cargo build of slow_operator failed: {status}"
        );
        profile_dir
            .join("examples")
            .join(format!("slow_operator{}", std::env::consts::EXE_SUFFIX))
    })
}

#[test]
fn records_a_real_pipeline() {
    let example = slow_operator();
    let dir = tempfile::tempdir().unwrap();
    let output = record_x(dir.path(), &[example.to_str().unwrap(), "--seconds", "1"])
        .env_remove("BPPROF_EXAMPLE_SECONDS")
        .env_remove("BPPROF_EXAMPLE_SLOWDOWN")
        .output()
        .unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let rec = dir.path().join("x.bpprof");
    assert!(rec.is_file(), "no recording at {}", rec.display());
    let summary = stderr
        .lines()
        .find(|l| l.starts_with("bpprof: recording written to x.bpprof ("))
        .unwrap_or_else(|| panic!("no summary line:\n{stderr}"));
    assert!(summary.contains(" intervals of 100 ms, "), "{summary}");
    assert!(summary.contains(" 8 subtasks, "), "{summary}");
    assert!(summary.contains(" stack samples)"), "{summary}");
    assert!(!stderr.contains("warning:"), "{stderr}");

    let located = bpprof_in(dir.path(), &["locate", "x.bpprof", "--format", "json"]);
    assert_eq!(located.status.code(), Some(0), "{}", text(&located.stderr));
    let report: LocateReport = serde_json::from_slice(&located.stdout).unwrap();
    assert_eq!(
        report.bottlenecks.first().map(|b| b.task.as_str()),
        Some("Enrich"),
        "{}",
        report.verdict
    );
}

/// Before: any file at the output path was deleted before the command ran, whatever it was.
#[test]
fn a_file_that_is_not_a_recording_is_never_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, "my notes\n").unwrap();
    assert_output_refused(dir.path(), &notes, "is not a bpprof recording");
    let line = error_in(dir.path(), &["record", "-o", "notes.txt", "--", "true"]);
    assert!(
        line.starts_with(
            "error: --output 'notes.txt' exists and is not a bpprof recording, which writing there would destroy; "
        ),
        "{line}"
    );
    assert_eq!(std::fs::read_to_string(&notes).unwrap(), "my notes\n");
    // An empty file, or a recording cut short in its first bytes, is replaced.
    for bytes in [&b""[..], &tiny_recording()[..4]] {
        std::fs::write(dir.path().join("x.bpprof"), bytes).unwrap();
        let line = error_in(dir.path(), &["record", "-o", "x.bpprof", "--", "true"]);
        assert!(line.contains("wrote no recording"), "{line}");
    }
}

/// Before: `--interval-ms -5` was "unexpected argument '-5' found".
#[test]
fn negative_settings_are_invalid_values() {
    assert_settings_refused(&[
        (
            ["--interval-ms", "-5"],
            "invalid value '-5' for '--interval-ms <MS>': shorter than the recorder accepts (100 ms)",
        ),
        (
            ["--sample-hz", "-1"],
            "invalid value '-1' for '--sample-hz <HZ>': must be at least 0",
        ),
        (
            ["--interval-ms", "99"],
            "invalid value '99' for '--interval-ms <MS>': shorter than the recorder accepts",
        ),
    ]);
}

/// A command killed by a signal after it wrote part of a recording: the exit code says so, and
/// the part is kept and summarised.
#[test]
fn a_partial_recording_of_a_killed_command_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let full = tiny_recording();
    std::fs::write(dir.path().join("partial"), &full[..full.len() * 2 / 3]).unwrap();
    let script = "cp partial \"$BPPROF_OUT\"; kill -KILL $$";
    let output = bpprof_in(
        dir.path(),
        &["record", "-o", "x.bpprof", "--", "sh", "-c", script],
    );
    assert_eq!(
        output.status.code(),
        Some(128 + 9),
        "{}",
        text(&output.stderr)
    );
    let stderr = text(&output.stderr);
    assert!(stderr.contains("killed by signal 9 (SIGKILL)"), "{stderr}");
    assert!(
        stderr.contains("x.bpprof: the recording is truncated"),
        "{stderr}"
    );
    assert!(
        stderr.contains("bpprof: recording written to x.bpprof ("),
        "{stderr}"
    );
    assert!(dir.path().join("x.bpprof").exists());
}
