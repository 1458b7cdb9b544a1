//! Life cycle of the recorder in hostile conditions: an output that stops taking data (stopping
//! and process exit are bounded), and `fork` (the child starts afresh).
//!
//! Every scenario runs in a process of its own: the test re-runs this binary for that one test
//! (`BPPROF_LIFECYCLE_INNER` names it), so that a forked child copies no thread of another test and
//! a writer thread left behind on a stalled pipe dies with its process.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bpprof::{Recorder, RecorderError, RecorderOptions};

/// Names the test that a re-run of this binary performs.
const INNER: &str = "BPPROF_LIFECYCLE_INNER";
/// Printed by an inner run right before it calls `std::process::exit`.
const EXITING: &str = "lifecycle: exiting now";

/// Runs `body` in a process of its own: in the outer run, re-runs this binary for test `name` and
/// checks it passed; in that re-run, runs `body`. Returns the re-run's stdout lines in the outer
/// run, with the instant each was read.
fn in_own_process(name: &str, body: impl FnOnce()) -> Vec<(Instant, String)> {
    match std::env::var(INNER) {
        Ok(inner) if inner == name => {
            let _lock = common::recorder_lock();
            body();
            Vec::new()
        }
        Ok(_) => Vec::new(),
        Err(_) => {
            // One inner run at a time: the machine may have few cores.
            let _lock = common::recorder_lock();
            let mut child = Command::new(std::env::current_exe().unwrap())
                .args(["--exact", name, "--test-threads=1", "--nocapture"])
                .env(INNER, name)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let stdout = child.stdout.take().unwrap();
            let mut stderr = child.stderr.take().unwrap();
            let err_thread = std::thread::spawn(move || {
                let mut text = String::new();
                let _ = stderr.read_to_string(&mut text);
                text
            });
            let lines: Vec<(Instant, String)> = BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .map(|line| (Instant::now(), line))
                .collect();
            let status = child.wait().unwrap();
            let stderr = err_thread.join().unwrap();
            let stdout: Vec<&str> = lines.iter().map(|(_, l)| l.as_str()).collect();
            assert!(
                status.success(),
                "{name} failed in its own process ({status}):\nstdout:\n{}\nstderr:\n{stderr}",
                stdout.join("\n")
            );
            for (_, line) in &lines {
                if let Some(at) = line.find("lifecycle: ") {
                    println!("{}", &line[at..]);
                }
            }
            lines
        }
    }
}

/// Whether this is the outer run (which only starts inner runs).
fn outer() -> bool {
    std::env::var_os(INNER).is_none()
}

/// Pipeline threads that pass records through an instrumented channel until stopped.
struct Workload {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Workload {
    /// `pairs` source / sink pairs of task `prefix`Source / `prefix`Sink.
    fn start(prefix: &str, pairs: u32) -> Workload {
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for i in 0..pairs {
            let (tx, rx) = bpprof::bounded::<u64>(16);
            let (source, sink) = (format!("{prefix}Source"), format!("{prefix}Sink"));
            let flag = Arc::clone(&stop);
            threads.push(std::thread::spawn(move || {
                let _subtask = bpprof::register(&source, i, pairs);
                let mut n = 0;
                while !flag.load(Ordering::Relaxed) {
                    if tx.send(n).is_err() {
                        break;
                    }
                    n += 1;
                    if n % 16 == 0 {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
            }));
            threads.push(std::thread::spawn(move || {
                let _subtask = bpprof::register(&sink, i, pairs);
                while rx.recv().is_ok() {}
            }));
        }
        Workload { stop, threads }
    }

    fn finish(self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads {
            common::join_within(thread, Duration::from_secs(10), "workload thread");
        }
    }
}

/// A FIFO at `path` that this process holds open for reading and writing, so that the recorder
/// can open it for writing without blocking, and nobody reads it: once its (shrunk) buffer is
/// full, every write blocks.
fn stalled_fifo(path: &Path) -> OwnedFd {
    let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: `c_path` is a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0, "mkfifo");
    // SAFETY: as above; O_RDWR on a FIFO does not wait for a peer on Linux.
    let fd = unsafe { libc::open(c_path.as_ptr(), libc::O_RDWR | libc::O_NONBLOCK) };
    assert!(fd >= 0, "open fifo");
    // SAFETY: `fd` was just opened and is owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: F_SETPIPE_SZ on a pipe fd; the kernel rounds up to one page.
    unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETPIPE_SZ, 4096) };
    fd
}

/// Bytes waiting in the pipe.
fn pipe_fill(fd: &OwnedFd) -> usize {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::FIONREAD, &mut n) };
    assert_eq!(rc, 0);
    n as usize
}

/// Waits until the writer is blocked: the pipe is nearly full (a write that does not fit in the
/// room left waits for all of it) and takes no more data for 500 ms (5 intervals).
fn wait_until_full(fd: &OwnedFd) {
    // SAFETY: F_GETPIPE_SZ on a pipe fd.
    let capacity = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETPIPE_SZ) } as usize;
    let deadline = Instant::now() + Duration::from_secs(30);
    let (mut last, mut since) = (0, Instant::now());
    loop {
        let fill = pipe_fill(fd);
        if fill != last {
            (last, since) = (fill, Instant::now());
        } else if fill > capacity / 2 && since.elapsed() > Duration::from_millis(500) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the pipe did not fill: {fill} of {capacity} bytes"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Reads what the pipe holds until the writer has nothing more to give.
fn drain(fd: &OwnedFd) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    let mut quiet_since = Instant::now();
    while quiet_since.elapsed() < Duration::from_millis(500) {
        // SAFETY: `buf` is writable for its length; the fd is non-blocking.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n > 0 {
            out.extend_from_slice(&buf[..n as usize]);
            quiet_since = Instant::now();
        } else {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    out
}

/// The stop timeout of the stalled recordings (which sample no stacks: symbolizing, slow in a
/// debug build, would make the time the pipe takes to fill vary).
const STALL_TIMEOUT: Duration = Duration::from_secs(1);

#[test]
fn stop_with_a_stalled_output_returns_within_the_timeout() {
    in_own_process(
        "stop_with_a_stalled_output_returns_within_the_timeout",
        || {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("stalled.bpprof");
            let fifo = stalled_fifo(&path);
            let recorder = Recorder::start(
                RecorderOptions::new(&path)
                    .interval(Duration::from_millis(100))
                    .stop_timeout(STALL_TIMEOUT)
                    .sample_hz(0),
            )
            .unwrap();
            let workload = Workload::start("Stalled", 3);
            wait_until_full(&fifo);

            let started = Instant::now();
            let result = recorder.stop();
            let took = started.elapsed();
            println!("lifecycle: stop() with a stalled output returned after {took:?}");
            let err = result.expect_err("stop cannot finish a file nobody reads");
            match &err {
                RecorderError::StopTimedOut {
                    path: p, timeout, ..
                } => {
                    assert_eq!(p, &path);
                    assert_eq!(*timeout, STALL_TIMEOUT);
                }
                other => panic!("expected StopTimedOut, got {other:?}"),
            }
            let message = err.to_string();
            assert!(
                message.contains("could not be finished within 1s"),
                "{message}"
            );
            assert!(message.contains("stay readable"), "{message}");
            assert!(
                took >= STALL_TIMEOUT - Duration::from_millis(50),
                "stop gave up early: {took:?}"
            );
            assert!(
                took < STALL_TIMEOUT + Duration::from_secs(1),
                "stop took {took:?}"
            );

            // Nothing left behind blocks the program: the pipeline goes on and ends, and a new
            // recorder starts, records and stops normally.
            workload.finish();
            let rec = common::start("after-stall");
            let workload = Workload::start("After", 1);
            std::thread::sleep(Duration::from_millis(250));
            workload.finish();
            let recording = rec.finish();
            assert!(!common::declarations_of(&recording, "AfterSource").is_empty());
            assert!(common::declarations_of(&recording, "StalledSource").is_empty());

            // What the stalled recorder wrote is a readable recording without its end chunk
            // (the abandoned writer finishes its blocked chunk once the pipe is read, no more).
            let bytes = drain(&fifo);
            let recording = bpprof_format::read_recording(&bytes[..]).expect("readable");
            assert!(recording.end.is_none());
            assert!(!recording.intervals.is_empty());
            assert_eq!(
                recording.warnings.len(),
                1,
                "only the missing end: {:?}",
                recording.warnings
            );
            assert!(
                recording.warnings[0].to_string().contains("not finalised"),
                "{:?}",
                recording.warnings
            );
            common::assert_tiles(&recording.intervals);
        },
    );
}

#[test]
fn drop_with_a_stalled_output_is_bounded_too() {
    in_own_process("drop_with_a_stalled_output_is_bounded_too", || {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stalled.bpprof");
        let fifo = stalled_fifo(&path);
        let recorder = Recorder::start(
            RecorderOptions::new(&path)
                .stop_timeout(STALL_TIMEOUT)
                .sample_hz(0),
        )
        .unwrap();
        let workload = Workload::start("Dropped", 2);
        wait_until_full(&fifo);
        let started = Instant::now();
        drop(recorder);
        let took = started.elapsed();
        println!("lifecycle: dropping the recorder with a stalled output took {took:?}");
        assert!(
            took < STALL_TIMEOUT + Duration::from_secs(1),
            "drop took {took:?}"
        );
        workload.finish();
        drop(fifo);
    });
}

#[test]
fn exit_with_a_stalled_output_is_bounded() {
    let lines = in_own_process("exit_with_a_stalled_output_is_bounded", || {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stalled.bpprof");
        let fifo = stalled_fifo(&path);
        let recorder = Recorder::start(
            RecorderOptions::new(&path)
                .stop_timeout(STALL_TIMEOUT)
                .sample_hz(0),
        )
        .unwrap();
        let _workload = Workload::start("Exiting", 2);
        wait_until_full(&fifo);
        std::mem::forget(recorder);
        std::mem::forget(fifo);
        println!("{EXITING}");
        std::process::exit(0);
    });
    if outer() {
        let (at, _) = lines
            .iter()
            .find(|(_, line)| line.ends_with(EXITING))
            .expect("the inner run reached exit");
        // The inner process exited when its stdout closed, which ended `lines`; `at` is when it
        // announced its exit, so the difference to now bounds how long the exit hook waited.
        let took = at.elapsed();
        println!("lifecycle: process exit with a stalled output took {took:?}");
        assert!(
            took < STALL_TIMEOUT + Duration::from_secs(1),
            "exit took {took:?}"
        );
    }
}

/// Forks; in the child, runs `child` and leaves with `_exit(code)` (101 if it panicked).
/// Returns the child's pid in the parent.
fn fork(child: impl FnOnce() -> i32) -> libc::pid_t {
    // SAFETY: the child only runs `child` (which the tests keep to what a forked child of this
    // process may do) and `_exit`s.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(child)).unwrap_or(101);
        // SAFETY: ends the child without running the parent's exit hooks or destructors.
        unsafe { libc::_exit(code) };
    }
    pid
}

/// Waits for `pid` (at most `limit`, then kills it and fails); returns its exit code and when it
/// was seen to exit.
fn wait_child(pid: libc::pid_t, limit: Duration) -> (i32, Instant) {
    let deadline = Instant::now() + limit;
    loop {
        let mut status = 0;
        // SAFETY: waits for our own child without blocking.
        let rc = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        let now = Instant::now();
        if rc == pid {
            assert!(
                libc::WIFEXITED(status),
                "child ended by signal: {status:#x}"
            );
            return (libc::WEXITSTATUS(status), now);
        }
        assert_eq!(rc, 0, "waitpid");
        if now > deadline {
            // SAFETY: kills our own child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("the child did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

#[test]
fn a_forked_child_exits_at_once() {
    in_own_process("a_forked_child_exits_at_once", || {
        let rec = common::start("parent");
        let workload = Workload::start("Parent", 3);
        std::thread::sleep(Duration::from_millis(300));
        let forked = Instant::now();
        let pid = fork(|| {
            // Runs the at-exit hooks, bpprof's included.
            std::process::exit(0);
        });
        let (code, exited) = wait_child(pid, Duration::from_secs(20));
        let took = exited - forked;
        println!("lifecycle: the forked child's exit took {took:?}");
        assert_eq!(code, 0);
        assert!(
            took < Duration::from_millis(100),
            "the child took {took:?} to exit"
        );
        workload.finish();
        let recording = rec.finish();
        assert!(!common::declarations_of(&recording, "ParentSink").is_empty());
    });
}

/// Resident memory of this process, in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn a_forked_child_does_not_keep_ended_subtasks() {
    in_own_process("a_forked_child_does_not_keep_ended_subtasks", || {
        let rec = common::start("parent");
        let workload = Workload::start("Parent", 2);
        std::thread::sleep(Duration::from_millis(250));
        let pid = fork(|| {
            // The parent was recording; the child is not: nothing keeps ended subtasks (each
            // holds its ~17 KiB sampling ring), however many come and go.
            let before = rss_kib();
            for i in 0..5_000 {
                drop(bpprof::register("Churn", i % 4, 4));
            }
            let grown = rss_kib().saturating_sub(before);
            println!("lifecycle: 5000 registrations in the child grew it by {grown} KiB");
            i32::from(grown > 20 * 1024)
        });
        let (code, _) = wait_child(pid, Duration::from_secs(60));
        assert_eq!(code, 0, "the child kept ended subtasks (or failed)");
        workload.finish();
        rec.finish();
    });
}

#[test]
fn a_forked_child_records_its_own_subtasks_only() {
    in_own_process("a_forked_child_records_its_own_subtasks_only", || {
        let rec = common::start("parent");
        let workload = Workload::start("Parent", 2);
        // The forking thread is registered too: the child does not inherit that registration.
        let forker = bpprof::register("Forker", 0, 1);
        std::thread::sleep(Duration::from_millis(250));
        let child_path = rec.dir.path().join("child.bpprof");
        let parent_pid = std::process::id();
        let child_out = child_path.clone();
        let inherited = &rec;
        let pid = fork(move || {
            // The parent's recorder handle came along: it only says it belongs to the parent.
            // SAFETY: this is the child's own copy of the parent's memory, and the child never
            // returns to the code that owns `rec`: taking it here makes the only owner in this
            // process. Its directory is the parent's: never delete it from here.
            let common::Rec { dir, recorder, .. } = unsafe { std::ptr::read(inherited) };
            std::mem::forget(dir);
            let started = Instant::now();
            match recorder.stop() {
                Err(RecorderError::Forked { parent_pid: p, .. }) => assert_eq!(p, parent_pid),
                other => panic!("expected Forked, got {other:?}"),
            }
            assert!(started.elapsed() < Duration::from_millis(50));

            let recorder = Recorder::start(
                RecorderOptions::new(&child_out).interval(Duration::from_millis(100)),
            )
            .expect("a recorder starts in the child");
            let workload = Workload::start("Child", 1);
            std::thread::sleep(Duration::from_millis(350));
            workload.finish();
            let summary = recorder.stop().expect("the child's recording finishes");
            assert!(summary.chunks >= 2, "{summary:?}");
            0
        });
        let (code, _) = wait_child(pid, Duration::from_secs(60));
        assert_eq!(code, 0, "the child failed (its panic message is above)");

        let child = bpprof_format::read_file(&child_path).expect("the child's recording reads");
        assert!(child.end.is_some(), "the child's recording is finalised");
        common::assert_tiles(&child.intervals);
        // A child forked while the parent's writer was resolving symbols (likely in a debug
        // build, whose first resolution is slow) records no stack samples, and says so.
        for warning in &child.warnings {
            assert!(
                warning
                    .to_string()
                    .contains("stack samples are not recorded"),
                "{warning:?}"
            );
        }
        println!(
            "lifecycle: the child's recording: {} intervals, {} samples chunks, warnings {:?}",
            child.intervals.len(),
            child.samples.len(),
            child.warnings
        );
        let tasks: std::collections::BTreeSet<String> = common::declarations(&child)
            .into_iter()
            .map(|d| d.task)
            .collect();
        assert_eq!(
            tasks.into_iter().collect::<Vec<_>>(),
            ["ChildSink", "ChildSource"],
            "the child's recording holds the child's subtasks only"
        );
        assert_eq!(child.meta.pid, pid as u32);
        let sink = common::only_declaration(&child, "ChildSink");
        assert!(common::total_of(&child, sink.id).records_in > 0);

        // The parent's recording goes on unaffected.
        std::thread::sleep(Duration::from_millis(200));
        drop(forker);
        workload.finish();
        let recording = rec.finish();
        assert!(common::declarations_of(&recording, "ChildSource").is_empty());
        for task in ["ParentSource", "ParentSink", "Forker"] {
            assert!(
                !common::declarations_of(&recording, task).is_empty(),
                "{task} missing from the parent's recording"
            );
        }
        let forker = common::only_declaration(&recording, "Forker");
        common::assert_lifecycle(&recording, forker.id);
    });
}
