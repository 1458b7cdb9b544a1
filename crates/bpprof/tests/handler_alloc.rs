//! The sampling paths allocate nothing on the sampled thread: a counting global allocator counts
//! the allocator calls made on each thread, and a registered subtask sampled at 1000 Hz must make
//! none while it spins (the signal handler runs on it hundreds of times) or while it is blocked in
//! an instrumented `recv` (the blocking path captures its stack).

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bpprof_format::{Recording, SampleState};

use common::{join_within, recorder_lock, samples_of, spin_cpu};

/// Counts every allocator call (alloc, alloc_zeroed, realloc, dealloc) of the calling thread.
struct CountingAllocator;

thread_local! {
    // `const` initialiser and no destructor: plain thread-local storage, no lazy initialisation,
    // so it is safe to touch from inside the allocator.
    static ALLOCATOR_CALLS: Cell<u64> = const { Cell::new(0) };
}

fn count_call() {
    let _ = ALLOCATOR_CALLS.try_with(|calls| calls.set(calls.get() + 1));
}

/// Allocator calls made so far by the calling thread.
fn allocator_calls() -> u64 {
    ALLOCATOR_CALLS.with(Cell::get)
}

// SAFETY: every method forwards to `System` with the arguments it was given; counting touches
// only a const-initialised thread-local `Cell`.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_call();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_call();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_call();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count_call();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

const HZ: u32 = 1000;
/// How long each measured phase lasts (CPU time for the spin, wall time for the blocked recv).
const PHASE: Duration = Duration::from_millis(1500);
/// Samples of the measured phase the recording must hold: the sampler visits each subtask about
/// `HZ` times a second, so 1.5 s gives well over a thousand on an idle machine.
const MIN_SAMPLES: u64 = 300;

fn start(name: &str) -> (tempfile::TempDir, std::path::PathBuf, bpprof::Recorder) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(format!("{name}.bpprof"));
    let recorder = bpprof::Recorder::start(
        bpprof::RecorderOptions::new(&path)
            .interval(Duration::from_millis(100))
            .sample_hz(HZ),
    )
    .expect("start recorder");
    (dir, path, recorder)
}

fn read(path: &std::path::Path) -> Recording {
    let recording = bpprof_format::read_file(path).expect("read recording");
    assert!(
        recording.warnings.is_empty(),
        "warnings: {:?}",
        recording.warnings
    );
    recording
}

/// The spin loop of the first test. It only does arithmetic and reads the thread's CPU clock.
#[inline(never)]
fn alloc_free_spin_marker(cpu: Duration) -> u64 {
    spin_cpu(cpu)
}

/// The blocking receive of the second test.
#[inline(never)]
fn alloc_free_recv_marker(rx: &bpprof::Receiver<u64>) -> Option<u64> {
    rx.recv().ok()
}

/// Checks that the counter sees this thread's allocations at all (so a zero is meaningful).
fn assert_counter_works() {
    let before = allocator_calls();
    let v = std::hint::black_box(vec![1u8; 64]);
    drop(v);
    assert!(
        allocator_calls() >= before + 2,
        "the counting allocator did not count an allocation on this thread"
    );
}

#[test]
fn the_signal_handler_does_not_allocate_on_a_spinning_subtask() {
    let _lock = recorder_lock();
    // The loop itself allocates nothing (checked without sampling), so any allocator call made
    // during the sampled run below comes from the sampling machinery on this thread.
    let before = allocator_calls();
    alloc_free_spin_marker(Duration::from_millis(20));
    assert_eq!(allocator_calls(), before, "the spin loop itself allocates");

    let (_dir, path, recorder) = start("handler-alloc-spin");
    let worker = std::thread::spawn(|| {
        assert_counter_works();
        let subtask = bpprof::register("AllocFreeSpinner", 0, 1);
        let start = Instant::now();
        let calls_before = allocator_calls();
        let cpu_ns = alloc_free_spin_marker(PHASE);
        let calls_after = allocator_calls();
        let wall = start.elapsed();
        drop(subtask);
        (calls_before, calls_after, cpu_ns, wall)
    });
    let (calls_before, calls_after, cpu_ns, wall) =
        join_within(worker, Duration::from_secs(60), "the spinning subtask");
    recorder.stop().expect("stop recorder");
    let recording = read(&path);

    let samples = samples_of(&recording, "AllocFreeSpinner");
    // Samples whose stack is inside the spin loop were captured by the handler while the loop
    // ran; those marked on-CPU are each a separate run of the handler (repeats of the previous
    // stack for a thread that did not run are marked off-CPU).
    let in_loop: u64 = samples
        .iter()
        .filter(|(_, _, names, _)| names.iter().any(|n| n.contains("alloc_free_spin_marker")))
        .map(|s| u64::from(s.3))
        .sum();
    let handler_runs: u64 = samples
        .iter()
        .filter(|(state, on_cpu, names, _)| {
            *state == SampleState::Busy
                && *on_cpu
                && names.iter().any(|n| n.contains("alloc_free_spin_marker"))
        })
        .map(|s| u64::from(s.3))
        .sum();
    let lost: u64 = recording.samples.iter().map(|c| c.lost).sum();
    eprintln!(
        "spinning subtask: {handler_runs} handler samples ({in_loop} in the loop), {lost} lost, \
         over {wall:?} wall / {:.3} s CPU; allocator calls {calls_before} -> {calls_after}",
        cpu_ns as f64 / 1e9
    );
    assert!(
        handler_runs >= MIN_SAMPLES,
        "only {handler_runs} on-CPU samples of the spin loop in {wall:?} at {HZ} Hz \
         (expected at least {MIN_SAMPLES}); the test proves nothing without them"
    );
    assert_eq!(
        calls_after,
        calls_before,
        "the sampled thread made {} allocator calls while it spun and the signal handler ran \
         {handler_runs} times on it: the sampling path allocates",
        calls_after - calls_before
    );
}

#[test]
fn a_subtask_blocked_in_recv_does_not_allocate_while_sampled() {
    let _lock = recorder_lock();
    let (_dir, path, recorder) = start("handler-alloc-recv");
    let (tx, rx) = bpprof::bounded::<u64>(4);
    let (result_tx, result_rx) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        assert_counter_works();
        let subtask = bpprof::register("AllocFreeWaiter", 0, 1);
        // Warm-up: a first blocking receive creates what the channel library and bpprof set up
        // once per thread or per channel endpoint (crossbeam's thread context and waker list
        // entry, bpprof's endpoint record).
        let warm_up_before = allocator_calls();
        let first = alloc_free_recv_marker(&rx);
        let warm_up_calls = allocator_calls() - warm_up_before;
        let calls_before = allocator_calls();
        let start = Instant::now();
        // Blocks for PHASE: the main thread sends the next value only then.
        let second = alloc_free_recv_marker(&rx);
        let blocked = start.elapsed();
        let calls_after = allocator_calls();
        drop(subtask);
        result_tx
            .send((
                first,
                second,
                warm_up_calls,
                calls_before,
                calls_after,
                blocked,
            ))
            .expect("report");
    });
    std::thread::sleep(Duration::from_millis(100));
    tx.send(1).expect("send warm-up value");
    // Give the receiver time to take the value and block again.
    std::thread::sleep(PHASE);
    tx.send(2).expect("send second value");
    let (first, second, warm_up_calls, calls_before, calls_after, blocked) = result_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the waiting subtask did not finish");
    join_within(worker, Duration::from_secs(10), "the waiting subtask");
    recorder.stop().expect("stop recorder");
    let recording = read(&path);
    assert_eq!((first, second), (Some(1), Some(2)));

    let samples = samples_of(&recording, "AllocFreeWaiter");
    let blocked_samples: u64 = samples
        .iter()
        .filter(|(state, _, names, _)| {
            *state == SampleState::Idle
                && names.iter().any(|n| n.contains("alloc_free_recv_marker"))
        })
        .map(|s| u64::from(s.3))
        .sum();
    let lost: u64 = recording.samples.iter().map(|c| c.lost).sum();
    eprintln!(
        "blocked subtask: {blocked_samples} idle samples in recv, {lost} lost, blocked {blocked:?}; \
         allocator calls {calls_before} -> {calls_after} ({warm_up_calls} in the first recv)"
    );
    assert!(
        blocked > PHASE / 2,
        "the second recv returned after {blocked:?}: it did not block"
    );
    assert!(
        blocked_samples >= MIN_SAMPLES,
        "only {blocked_samples} idle samples in the blocked recv over {blocked:?} at {HZ} Hz \
         (expected at least {MIN_SAMPLES})"
    );
    assert_eq!(
        calls_after,
        calls_before,
        "the subtask made {} allocator calls in one blocking recv while sampled: the blocking \
         path allocates",
        calls_after - calls_before
    );
}
