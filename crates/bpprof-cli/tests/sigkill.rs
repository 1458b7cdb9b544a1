//! A recording process killed with SIGKILL at 20 random moments (seeded; the seed is printed, and
//! `BPPROF_SIGKILL_SEED=N` repeats a run): every chunk that is complete on disk is read back, and
//! `bpprof locate` analyses the file with exit code 0 (with a truncation warning when the kill cut
//! a chunk).
//!
//! The recording process is this test binary itself (its own `main`, no test harness), re-run
//! with `BPPROF_SIGKILL_CHILD=1` and `BPPROF_OUT`: then it runs a small pipeline until it is
//! killed.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::{bpprof, code, text};

const KILLS: usize = 20;
/// Subtasks of Work in the recording process.
const WORKERS: u32 = 4;
const CHILD: &str = "BPPROF_SIGKILL_CHILD";
/// Chunk framing: `len: u32 | kind: u8 | header_crc: u32 | payload | crc: u32`, after a 16-byte
/// preamble (docs/format.md).
const PREAMBLE: usize = 16;
const HEADER: usize = 9;
const TRAILER: usize = 4;
const INTERVAL_KIND: u8 = 2;
/// Samples chunks: kind 4 up to format 1.3, packed (kind 5) since 1.4.
const SAMPLES_KINDS: [u8; 2] = [4, 5];

fn main() {
    if std::env::var_os(CHILD).is_some() {
        pipeline();
    }
    let seed = std::env::var("BPPROF_SIGKILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    intervals_reach_the_disk_while_their_samples_are_symbolised();
    println!("sigkill: seed {seed} (BPPROF_SIGKILL_SEED={seed} repeats this run)");
    let started = Instant::now();
    let mut rng = Rng(seed | 1);
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut truncated = 0;
    for run in 0..KILLS {
        let path = dir.path().join(format!("killed-{run}.bpprof"));
        let delay = Duration::from_millis(rng.below(400));
        // Stack samples in one run of four: the first samples chunk waits for the symbolizer to
        // read the test binary's debug information, about a second (the intervals do not).
        let sample_hz = if run % 4 == 0 { 999 } else { 0 };
        let cut = kill_recording(&path, delay, sample_hz);
        let chunks = complete_chunks(&std::fs::read(&path).expect("the recording exists"));
        let recording = bpprof_format::read_file(&path)
            .unwrap_or_else(|e| panic!("run {run}: the killed recording is unreadable: {e}"));
        assert_eq!(
            recording.intervals.len(),
            chunks.intervals,
            "run {run}: every complete interval chunk is read back"
        );
        assert_eq!(
            recording.samples.len(),
            chunks.samples,
            "run {run}: every complete samples chunk is read back"
        );
        let out = bpprof(&["locate", path.to_str().expect("utf-8 path")]);
        let stderr = text(&out.stderr);
        assert_eq!(code(&out), 0, "run {run}: locate fails: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        if chunks.cut {
            truncated += 1;
            assert!(
                stderr.contains("truncated"),
                "run {run}: no warning: {stderr}"
            );
        }
        println!(
            "sigkill: run {run}: killed {} ms after its first chunks reached the disk \
             ({cut} bytes); {} intervals and {} samples chunks read back{}",
            delay.as_millis(),
            chunks.intervals,
            chunks.samples,
            if chunks.cut {
                ", the last chunk cut"
            } else {
                ""
            }
        );
    }
    println!(
        "sigkill: {KILLS} kills ({truncated} in the middle of a chunk) in {:.1} s: ok",
        started.elapsed().as_secs_f64()
    );
}

/// The first symbolisation reads the test binary's debug information (about a second): the
/// intervals recorded meanwhile are on disk before their samples, so a kill then loses at most
/// samples, no interval. A writer that symbolised before writing the next interval never had more
/// than one interval on disk ahead of the samples.
fn intervals_reach_the_disk_while_their_samples_are_symbolised() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("symbolising.bpprof");
    let mut child = spawn_recording(&path, 999);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut ahead = 0;
    loop {
        let chunks = complete_chunks(&std::fs::read(&path).unwrap_or_default());
        ahead = ahead.max(chunks.intervals.saturating_sub(chunks.samples));
        if chunks.samples >= 3 || ahead >= 3 || Instant::now() > deadline {
            break;
        }
        thread::sleep(Duration::from_millis(5));
    }
    kill(&mut child);
    println!("sigkill: up to {ahead} intervals were on disk ahead of their samples");
    assert!(
        ahead >= 2,
        "intervals wait for the symbolisation of earlier samples ({ahead} ahead at most)"
    );
}

/// Starts the recording process, sampling stacks at `sample_hz`, recording 100 ms intervals.
fn spawn_recording(path: &Path, sample_hz: u32) -> Child {
    Command::new(std::env::current_exe().expect("the test binary"))
        .env(CHILD, "1")
        .env("BPPROF_OUT", path)
        .env("BPPROF_INTERVAL_MS", "100")
        .env("BPPROF_SAMPLE_HZ", sample_hz.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the recording process starts")
}

/// Starts the recording process (sampling stacks at `sample_hz`), waits until two interval chunks
/// (and a samples chunk, when sampling) of its recording are on disk, then `delay`, and kills it with SIGKILL; returns the size of the
/// file it left.
fn kill_recording(path: &Path, delay: Duration, sample_hz: u32) -> u64 {
    let mut child = spawn_recording(path, sample_hz);
    let deadline = Instant::now() + Duration::from_secs(20);
    // With sampling, also until the first samples chunk is: the kills then cut samples chunks too.
    let written = |chunks: Chunks| chunks.intervals >= 2 && (sample_hz == 0 || chunks.samples >= 1);
    while !written(complete_chunks(&std::fs::read(path).unwrap_or_default())) {
        if Instant::now() > deadline {
            kill(&mut child);
            panic!("the recording process wrote no two intervals in 20 s");
        }
        thread::sleep(Duration::from_millis(5));
    }
    thread::sleep(delay);
    kill(&mut child);
    std::fs::metadata(path).map_or(0, |m| m.len())
}

fn kill(child: &mut Child) {
    // SAFETY: kill(2) on the pid of a child that has not been waited for yet, so it is ours.
    let killed = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGKILL) };
    assert_eq!(killed, 0, "SIGKILL is delivered");
    let status = child.wait().expect("the killed process is reaped");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{status:?}");
}

/// What the file holds by its framing alone, independently of the reader.
struct Chunks {
    intervals: usize,
    samples: usize,
    /// Bytes after the last complete chunk (a chunk cut by the kill).
    cut: bool,
}

/// Walks the chunks of `bytes`, counting the complete ones whose CRCs match.
fn complete_chunks(bytes: &[u8]) -> Chunks {
    let mut chunks = Chunks {
        intervals: 0,
        samples: 0,
        cut: false,
    };
    let mut at = PREAMBLE;
    while at < bytes.len() {
        let Some(header) = bytes.get(at..at + HEADER) else {
            chunks.cut = true;
            break;
        };
        let len = u32::from_le_bytes(header[..4].try_into().unwrap()) as usize;
        let header_crc = u32::from_le_bytes(header[5..9].try_into().unwrap());
        assert_eq!(
            crc32fast::hash(&header[..5]),
            header_crc,
            "a header at {at}"
        );
        let end = at + HEADER + len + TRAILER;
        let Some(chunk) = bytes.get(at..end) else {
            chunks.cut = true;
            break;
        };
        let mut crc = crc32fast::Hasher::new();
        crc.update(&chunk[..5]);
        crc.update(&chunk[HEADER..HEADER + len]);
        let stored = u32::from_le_bytes(chunk[HEADER + len..].try_into().unwrap());
        assert_eq!(crc.finalize(), stored, "a complete chunk at {at} is intact");
        match header[4] {
            INTERVAL_KIND => chunks.intervals += 1,
            kind if SAMPLES_KINDS.contains(&kind) => chunks.samples += 1,
            _ => {}
        }
        at = end;
    }
    chunks
}

/// The recording process: Source -> Work ([`WORKERS`] subtasks) -> Sink, until it is killed: busy, idle
/// and backpressured threads, with stacks to sample.
fn pipeline() -> ! {
    let _recorder = bpprof::init_from_env()
        .expect("the recorder starts")
        .expect("BPPROF_OUT is set");
    let (to_work, work_in) = bpprof::bounded_named::<u64>("source->work", 64);
    let (to_sink, sink_in) = bpprof::bounded_named::<u64>("work->sink", 64);
    thread::spawn(move || {
        let _subtask = bpprof::register("Source", 0, 1);
        for record in 0u64.. {
            // Paced, so that the process leaves the CPUs to the test and the other tests.
            if record % 16 == 0 {
                thread::sleep(Duration::from_millis(1));
            }
            if to_work.send(record).is_err() {
                break;
            }
        }
    });
    for index in 0..WORKERS {
        let input = work_in.clone();
        let output = to_sink.clone();
        thread::spawn(move || {
            let _subtask = bpprof::register("Work", index, WORKERS);
            for record in input.iter() {
                if output.send(work(record)).is_err() {
                    break;
                }
            }
        });
    }
    thread::spawn(move || {
        let _subtask = bpprof::register("Sink", 0, 1);
        for record in sink_in.iter() {
            std::hint::black_box(record);
        }
    });
    loop {
        thread::park();
    }
}

/// CPU work of a fixed cost per record.
#[inline(never)]
fn work(record: u64) -> u64 {
    let mut x = record | 1;
    for _ in 0..2_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    x
}

/// xorshift64, for the kill moments.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}
