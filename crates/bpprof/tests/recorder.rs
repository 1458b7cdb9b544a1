//! Starting and stopping the recorder, and what it leaves in the file.

mod common;

use std::time::Duration;

use bpprof::{Recorder, RecorderError, RecorderOptions};

#[test]
fn an_unwritable_path_is_a_create_file_error_naming_the_path() {
    let _lock = common::recorder_lock();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-dir").join("run.bpprof");
    let err = Recorder::start(RecorderOptions::new(&path)).unwrap_err();
    match &err {
        RecorderError::CreateFile {
            path: p, origin, ..
        } => {
            assert_eq!(p, &path);
            assert_eq!(*origin, "");
        }
        other => panic!("expected CreateFile, got {other:?}"),
    }
    let message = err.to_string();
    assert!(
        message.contains(&path.display().to_string()),
        "the message names the path: {message}"
    );
    assert!(std::error::Error::source(&err).is_some());
    // The failure left no recorder behind.
    common::start("after-failure").finish();
}

#[test]
fn an_interval_below_100_ms_is_rejected() {
    let _lock = common::recorder_lock();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.bpprof");
    for interval in [Duration::ZERO, Duration::from_millis(99)] {
        let err = Recorder::start(RecorderOptions::new(&path).interval(interval)).unwrap_err();
        assert!(
            matches!(err, RecorderError::InvalidInterval(_)),
            "{interval:?}: {err:?}"
        );
        assert!(err.to_string().contains("100 ms"), "{err}");
    }
    assert!(!path.exists(), "no file is created for a rejected interval");
    assert_eq!(bpprof::MIN_INTERVAL, Duration::from_millis(100));
    Recorder::start(RecorderOptions::new(&path).interval(bpprof::MIN_INTERVAL))
        .expect("100 ms is accepted")
        .stop()
        .unwrap();
}

#[test]
fn a_second_recorder_while_one_runs_is_refused() {
    let _lock = common::recorder_lock();
    let rec = common::start("first");
    let other = rec.dir.path().join("second.bpprof");
    let err = Recorder::start(RecorderOptions::new(&other)).unwrap_err();
    assert!(matches!(err, RecorderError::AlreadyRunning), "{err:?}");
    assert!(!other.exists(), "the refused recorder created no file");
    rec.finish();
    // Once the first stopped, another may start.
    common::start("third").finish();
}

#[test]
fn stop_returns_the_summary_and_the_file_is_complete() {
    let _lock = common::recorder_lock();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.bpprof");
    let recorder =
        Recorder::start(RecorderOptions::new(&path).interval(Duration::from_millis(100))).unwrap();
    assert_eq!(recorder.path(), path);
    let worker = std::thread::spawn(|| {
        let _guard = bpprof::register("Summarised", 0, 1);
        std::thread::sleep(Duration::from_millis(350));
    });
    worker.join().unwrap();
    let summary = recorder.stop().unwrap();
    assert_eq!(summary.path, path);
    assert!(summary.chunks >= 2, "{summary:?}");

    let recording = common::read(&path); // no warnings, an end chunk, intervals tile the run
    let end = recording.end.as_ref().unwrap();
    assert_eq!(end.chunks, summary.chunks);
    assert_eq!(end.coalesced_intervals, summary.coalesced_intervals);
    assert_eq!(recording.intervals.len() as u64, summary.chunks);
    assert_eq!(recording.meta.interval_ns, 100_000_000);
    assert_eq!(recording.meta.pid, std::process::id());
    assert!(!recording.meta.bpprof_version.is_empty());
    let decl = common::only_declaration(&recording, "Summarised");
    common::assert_lifecycle(&recording, decl.id);
}

#[test]
fn dropping_the_recorder_finalises_the_file() {
    let _lock = common::recorder_lock();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dropped.bpprof");
    let recorder = Recorder::start(RecorderOptions::new(&path)).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    drop(recorder);
    let recording = common::read(&path);
    assert!(recording.end.is_some());
    // The default interval was written, and the one short interval before the drop.
    assert_eq!(
        recording.meta.interval_ns,
        bpprof::DEFAULT_INTERVAL.as_nanos() as u64
    );
    assert_eq!(recording.meta.interval_ns, 100_000_000);
    assert_eq!(recording.intervals.len(), 1);
    // A new recorder can start after the drop.
    common::start("after-drop").finish();
}

/// The names of the process's threads.
fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|name| name.trim_end().to_owned())
        .collect()
}

#[test]
fn stack_samples_are_symbolised_on_a_thread_of_their_own_that_exists_only_while_sampling() {
    let _lock = common::recorder_lock();
    let dir = tempfile::tempdir().unwrap();
    for sample_hz in [0, 99] {
        let path = dir.path().join(format!("threads-{sample_hz}.bpprof"));
        let recorder = Recorder::start(RecorderOptions::new(&path).sample_hz(sample_hz)).unwrap();
        // A new thread names itself once it runs: wait for the symbolizer when it is expected,
        // and give it time to appear when it is not (it would live as long as the recording).
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let symbolizer = || thread_names().iter().any(|n| n == "bpprof-symbols");
        if sample_hz > 0 {
            while !symbolizer() {
                assert!(
                    std::time::Instant::now() < deadline,
                    "no symbolizer thread while sampling: {:?}",
                    thread_names()
                );
                std::thread::sleep(Duration::from_millis(5));
            }
        } else {
            std::thread::sleep(Duration::from_millis(300));
            assert!(
                !symbolizer(),
                "a symbolizer thread without sampling: {:?}",
                thread_names()
            );
        }
        recorder.stop().unwrap();
        // Its work is joined by the writer before the recording is finalised; the kernel may
        // list the exiting thread a moment longer.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while symbolizer() {
            assert!(
                std::time::Instant::now() < deadline,
                "the symbolizer thread outlives its recording: {:?}",
                thread_names()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
