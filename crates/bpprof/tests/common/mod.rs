//! Helpers shared by the integration tests of the runtime.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use std::collections::HashMap;

use bpprof_format::{IntervalChunk, Recording, SampleState, SubtaskDecl, SubtaskInterval};

/// One recorder per process: every test of a binary that starts one holds this lock.
static RECORDER_LOCK: Mutex<()> = Mutex::new(());

/// Serialises the tests of this binary that start a recorder (a failed test does not poison it).
pub fn recorder_lock() -> MutexGuard<'static, ()> {
    RECORDER_LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// A recording in progress in a temporary directory.
pub struct Rec {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
    pub recorder: bpprof::Recorder,
}

/// Starts a recorder writing `NAME.bpprof` in a new temporary directory, at the shortest interval.
pub fn start(name: &str) -> Rec {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(format!("{name}.bpprof"));
    let recorder = bpprof::Recorder::start(
        bpprof::RecorderOptions::new(&path).interval(Duration::from_millis(100)),
    )
    .expect("start recorder");
    Rec {
        dir,
        path,
        recorder,
    }
}

impl Rec {
    /// Stops the recorder and reads the file back, checking it is complete and well formed.
    pub fn finish(self) -> Recording {
        let summary = self.recorder.stop().expect("stop recorder");
        assert_eq!(summary.path, self.path);
        let recording = read(&self.path);
        assert_eq!(recording.intervals.len() as u64, summary.chunks);
        drop(self.dir);
        recording
    }
}

/// Reads a recording and checks its framing: no warnings, an end chunk, consecutive sequence
/// numbers and intervals that tile the run.
pub fn read(path: &Path) -> Recording {
    let recording = bpprof_format::read_file(path).expect("read recording");
    assert!(
        recording.warnings.is_empty(),
        "warnings: {:?}",
        recording.warnings
    );
    let end = recording.end.as_ref().expect("end chunk");
    assert_eq!(end.chunks, recording.intervals.len() as u64);
    assert_tiles(&recording.intervals);
    if let Some(last) = recording.intervals.last() {
        assert_eq!(
            last.end_ns, end.end_ns,
            "the last interval ends the recording"
        );
    }
    recording
}

/// Every chunk starts where the previous one ended, the first at 0, with consecutive seq.
pub fn assert_tiles(chunks: &[IntervalChunk]) {
    let mut expected_start = 0;
    for (i, chunk) in chunks.iter().enumerate() {
        assert_eq!(chunk.seq, i as u64, "chunk seq");
        assert_eq!(
            chunk.start_ns, expected_start,
            "chunk {i} does not start where the previous one ended"
        );
        assert!(
            chunk.end_ns >= chunk.start_ns,
            "chunk {i} ends before it starts"
        );
        expected_start = chunk.end_ns;
    }
}

/// All subtask declarations of a recording.
pub fn declarations(recording: &Recording) -> Vec<SubtaskDecl> {
    recording
        .intervals
        .iter()
        .flat_map(|c| c.declared_subtasks.iter().cloned())
        .collect()
}

/// The declarations of `task`'s subtasks.
pub fn declarations_of(recording: &Recording, task: &str) -> Vec<SubtaskDecl> {
    declarations(recording)
        .into_iter()
        .filter(|d| d.task == task)
        .collect()
}

/// The only declaration of `task`'s subtasks.
pub fn only_declaration(recording: &Recording, task: &str) -> SubtaskDecl {
    let decls = declarations_of(recording, task);
    assert_eq!(decls.len(), 1, "declarations of {task}: {decls:?}");
    decls.into_iter().next().unwrap()
}

/// Every interval entry of subtask `id`, in order.
pub fn intervals_of(recording: &Recording, id: u32) -> Vec<SubtaskInterval> {
    recording
        .intervals
        .iter()
        .flat_map(|c| c.subtasks.iter().filter(|s| s.id == id).cloned())
        .collect()
}

/// The sum of a subtask's intervals (max fields are maxima, `ended` is whether any entry ended).
pub fn total_of(recording: &Recording, id: u32) -> SubtaskInterval {
    let mut total = SubtaskInterval {
        id,
        ..SubtaskInterval::default()
    };
    for s in intervals_of(recording, id) {
        total.wall_ns += s.wall_ns;
        total.idle_ns += s.idle_ns;
        total.backpressured_ns += s.backpressured_ns;
        total.cpu_ns += s.cpu_ns;
        total.max_idle_stall_ns = total.max_idle_stall_ns.max(s.max_idle_stall_ns);
        total.max_backpressure_stall_ns = total
            .max_backpressure_stall_ns
            .max(s.max_backpressure_stall_ns);
        total.records_in += s.records_in;
        total.records_out += s.records_out;
        total.ended |= s.ended;
    }
    total
}

/// Checks the life cycle of a subtask in a recording: at most one entry per chunk, entries in
/// consecutive chunks, exactly one `ended` entry and it is the last one.
pub fn assert_lifecycle(recording: &Recording, id: u32) {
    let chunks: Vec<usize> = recording
        .intervals
        .iter()
        .enumerate()
        .flat_map(|(i, c)| c.subtasks.iter().filter(|s| s.id == id).map(move |_| i))
        .collect();
    assert!(!chunks.is_empty(), "subtask {id} has no interval");
    for pair in chunks.windows(2) {
        assert_eq!(
            pair[1],
            pair[0] + 1,
            "subtask {id} entries in chunks {chunks:?}"
        );
    }
    let entries = intervals_of(recording, id);
    let ended: Vec<bool> = entries.iter().map(|s| s.ended).collect();
    assert_eq!(
        ended.iter().filter(|e| **e).count(),
        1,
        "subtask {id} ended flags {ended:?}"
    );
    assert!(
        entries.last().unwrap().ended,
        "subtask {id} ended flags {ended:?}"
    );
}

/// The calling thread's CPU time, in nanoseconds.
pub fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Spins until the calling thread has used `cpu` of CPU time (however long that takes in wall
/// time on a loaded machine); returns the CPU time actually used.
pub fn spin_cpu(cpu: Duration) -> u64 {
    let start = thread_cpu_ns();
    let goal = cpu.as_nanos() as u64;
    let mut x = 0u64;
    loop {
        for _ in 0..1_000 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
        let used = thread_cpu_ns() - start;
        if used >= goal {
            return used;
        }
    }
}

/// Joins `handle`, failing the test instead of hanging if the thread does not finish in `limit`.
pub fn join_within<T: Send + 'static>(
    handle: std::thread::JoinHandle<T>,
    limit: Duration,
    what: &str,
) -> T {
    let deadline = std::time::Instant::now() + limit;
    while !handle.is_finished() {
        assert!(
            std::time::Instant::now() < deadline,
            "{what} did not finish within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    handle.join().expect("thread panicked")
}

/// Every sample of `task`'s subtasks: (state, on_cpu, function names outermost first, count).
pub fn samples_of(recording: &Recording, task: &str) -> Vec<(SampleState, bool, Vec<String>, u32)> {
    let ids: Vec<u32> = declarations_of(recording, task)
        .iter()
        .map(|d| d.id)
        .collect();
    let mut frames = HashMap::new();
    let mut stacks = HashMap::new();
    let mut out = Vec::new();
    for chunk in &recording.samples {
        for frame in &chunk.frames {
            frames.insert(frame.id, frame.function.clone());
        }
        for stack in &chunk.stacks {
            stacks.insert(stack.id, stack.frames.clone());
        }
        for count in chunk.counts.iter().filter(|c| ids.contains(&c.subtask)) {
            let names = stacks[&count.stack]
                .iter()
                .map(|f| frames[f].clone())
                .collect();
            out.push((count.state, count.on_cpu, names, count.count));
        }
    }
    out
}

/// Starts a recorder sampling stacks at `hz`, at a 200 ms interval, in a new temporary directory.
pub fn start_sampled(
    name: &str,
    hz: u32,
) -> (tempfile::TempDir, std::path::PathBuf, bpprof::Recorder) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(format!("{name}.bpprof"));
    let recorder = bpprof::Recorder::start(
        bpprof::RecorderOptions::new(&path)
            .interval(Duration::from_millis(200))
            .sample_hz(hz),
    )
    .expect("start recorder");
    (dir, path, recorder)
}
