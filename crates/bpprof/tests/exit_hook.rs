//! A recording is finalised when the process exits without dropping its recorder.

use std::process::Command;
use std::time::Duration;

/// Set in the child process: the path it records to.
const CHILD_ENV: &str = "BPPROF_EXIT_HOOK_CHILD_OUT";

/// In the child: records, forgets the recorder, and exits through `std::process::exit`.
#[test]
fn child_exits_without_dropping_the_recorder() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return; // Only meaningful when started by the test below.
    };
    let recorder = bpprof::Recorder::start(
        bpprof::RecorderOptions::new(path).interval(Duration::from_millis(100)),
    )
    .expect("start recorder");
    std::thread::spawn(|| {
        let _subtask = bpprof::register("Worker", 0, 1);
        std::thread::sleep(Duration::from_millis(250));
    })
    .join()
    .unwrap();
    std::mem::forget(recorder);
    std::process::exit(0);
}

#[test]
fn process_exit_finalises_the_recording() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("exit.bpprof");
    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_exits_without_dropping_the_recorder",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &path)
        .status()
        .unwrap();
    assert!(status.success());
    let recording = bpprof_format::read_file(&path).unwrap();
    assert!(
        recording.end.is_some(),
        "no end chunk: {:?}",
        recording.warnings
    );
    assert!(recording.warnings.is_empty(), "{:?}", recording.warnings);
    let worker_declared = recording
        .intervals
        .iter()
        .flat_map(|c| &c.declared_subtasks)
        .any(|d| d.task == "Worker");
    assert!(worker_declared);
}
