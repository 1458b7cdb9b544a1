//! Commands read a rotated recording (a series of files) as one: named by its base name, its
//! directory or a glob pattern, `bpprof locate` gives the verdict it gives on the joined
//! recording; a bad pattern or an empty directory is one line and exit code 2. And a recording
//! process killed with SIGKILL around its rotations loses no complete chunk: every complete
//! chunk of every file reads back, the series reads, and `locate` analyses it.
//!
//! The recording process is this test binary, re-run on its test [`recording_process`] with
//! `BPPROF_SERIES_CHILD` set: a pipeline recorded through `BPPROF_OUT` with rotation settings,
//! for `BPPROF_SERIES_SECONDS` or until killed.

mod common;

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use bpprof_format::{series_files, Recording, RecordingWriter};
use common::{assert_one_error_line, bpprof, code, text};

const CHILD: &str = "BPPROF_SERIES_CHILD";
const SECONDS: &str = "BPPROF_SERIES_SECONDS";
/// Subtasks that wait on channels of their own: the recording grows fast enough to fill files of
/// the smallest size within a second.
const WAITERS: u32 = 150;
const WORKERS: u32 = 3;
/// Chunk framing (docs/format.md): a 16-byte preamble, then `len: u32 | kind: u8 |
/// header_crc: u32 | payload | crc: u32`.
const PREAMBLE: usize = 16;
const HEADER: usize = 9;
const TRAILER: usize = 4;
const INTERVAL_KIND: u8 = 2;
const SAMPLES_KINDS: [u8; 2] = [4, 5];

/// The recording process, when this binary is re-run as one (else nothing).
#[test]
fn recording_process() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let seconds: Option<u64> = std::env::var(SECONDS).ok().and_then(|s| s.parse().ok());
    let recorder = bpprof::init_from_env()
        .expect("the recorder starts")
        .expect("BPPROF_OUT is set");
    let mut wakers = Vec::new();
    for index in 0..WAITERS {
        let (tx, rx) = bpprof::bounded_named::<()>(&format!("wait-{index}"), 1);
        wakers.push(tx);
        thread::spawn(move || {
            let _subtask = bpprof::register("Wait", index, WAITERS);
            while rx.recv().is_ok() {}
        });
    }
    let (to_work, work_in) = bpprof::bounded_named::<u64>("source->work", 64);
    let (to_sink, sink_in) = bpprof::bounded_named::<u64>("work->sink", 64);
    thread::spawn(move || {
        let _subtask = bpprof::register("Source", 0, 1);
        for record in 0u64.. {
            if record % 16 == 0 {
                thread::sleep(Duration::from_millis(1));
            }
            if to_work.send(record).is_err() {
                break;
            }
        }
    });
    for index in 0..WORKERS {
        let (input, output) = (work_in.clone(), to_sink.clone());
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
    match seconds {
        Some(s) => thread::sleep(Duration::from_secs(s)),
        None => loop {
            thread::park();
        },
    }
    recorder.stop().expect("the recording stops");
    drop(wakers);
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

/// Starts the recording process writing the series of `base` in files of 64 KiB, sampling
/// stacks; it stops by itself after `seconds`, or runs until killed.
fn spawn_recording(base: &Path, seconds: Option<u64>) -> Child {
    let mut command = Command::new(std::env::current_exe().expect("the test binary"));
    command
        .args([
            "--exact",
            "recording_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .env("BPPROF_OUT", base)
        .env("BPPROF_INTERVAL_MS", "100")
        .env("BPPROF_SAMPLE_HZ", "999")
        .env(bpprof_format::env::ENV_OUT_MAX_FILE, "64KiB")
        .env(bpprof_format::env::ENV_OUT_MAX_TOTAL, "4MiB")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(s) = seconds {
        command.env(SECONDS, s.to_string());
    }
    command.spawn().expect("the recording process starts")
}

fn arg(path: &Path) -> &str {
    path.to_str().expect("utf-8 temporary path")
}

/// Writes `recording` as one file, as a recorder that did not rotate would have.
fn write_joined(recording: &Recording, path: &Path) {
    let out = BufWriter::new(File::create(path).unwrap());
    let mut writer = RecordingWriter::new(out, &recording.meta).unwrap();
    let mut samples = recording.samples.iter().peekable();
    for interval in &recording.intervals {
        writer.write_interval(interval).unwrap();
        while let Some(s) = samples.next_if(|s| s.seq == interval.seq) {
            writer.write_samples(s).unwrap();
        }
    }
    let end = recording.end.clone().unwrap_or_default();
    writer.finish(&end).unwrap();
}

#[test]
fn locate_gives_one_verdict_for_a_series_by_base_name_directory_glob_and_joined() {
    if std::env::var_os(CHILD).is_some() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let series_dir = dir.path().join("series");
    std::fs::create_dir(&series_dir).unwrap();
    let base = series_dir.join("run.bpprof");
    let status = spawn_recording(&base, Some(4)).wait().unwrap();
    assert!(status.success(), "{status:?}");
    let files = series_files(&base).unwrap();
    assert!(files.len() >= 3, "the recording rotated: {files:?}");

    let series = bpprof_format::read_path(&base).unwrap();
    let joined = dir.path().join("joined.bpprof");
    write_joined(&series, &joined);
    let pattern = series_dir.join("run.*.bpprof");
    let mut verdicts = Vec::new();
    for named in [&base, &series_dir, &pattern, &joined] {
        let out = bpprof(&["locate", arg(named)]);
        assert_eq!(code(&out), 0, "{}: {}", named.display(), text(&out.stderr));
        let stderr = text(&out.stderr);
        assert!(
            !stderr.contains("series") && !stderr.contains("missing"),
            "{stderr}"
        );
        verdicts.push(text(&out.stdout));
    }
    assert!(!verdicts[0].is_empty());
    assert_eq!(verdicts[1], verdicts[0], "the directory");
    assert_eq!(verdicts[2], verdicts[0], "the glob");
    assert_eq!(verdicts[3], verdicts[0], "the joined recording");

    // A file of another recording in the directory: refused, naming both files.
    let other = dir.path().join("other.bpprof");
    let mut meta_changed = series.clone();
    meta_changed.meta.pid += 1;
    write_joined(&meta_changed, &other);
    std::fs::copy(&other, series_dir.join("other.bpprof")).unwrap();
    let out = bpprof(&["locate", arg(&series_dir)]);
    assert_one_error_line(&out, "not files of one recording");
    assert!(text(&out.stderr).contains("other.bpprof"));

    // No output over a file of a series given as input (a recording may replace another
    // recording, but not one it is made of), and a series is not read twice.
    std::fs::remove_file(series_dir.join("other.bpprof")).unwrap();
    let first = &files[0].1;
    let before = std::fs::read(first).unwrap();
    let out = bpprof(&["merge", arg(&base), arg(&other), "-o", arg(first)]);
    assert_one_error_line(&out, "run.000000.bpprof");
    assert_eq!(
        std::fs::read(first).unwrap(),
        before,
        "the input is untouched"
    );
    let out = bpprof(&["merge", arg(&base), arg(&series_dir), "-o", arg(&joined)]);
    assert_one_error_line(&out, "given twice");
}

#[test]
fn a_bad_pattern_an_unmatched_one_and_an_empty_directory_exit_2_with_one_line() {
    if std::env::var_os(CHILD).is_some() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = bpprof(&["locate", arg(dir.path())]);
    assert_one_error_line(&out, "holds no .bpprof file");
    let unmatched = dir.path().join("run.*.bpprof");
    let out = bpprof(&["flame", arg(&unmatched)]);
    assert_one_error_line(&out, "no file matches");
    let bad = dir.path().join("run.[.bpprof");
    let out = bpprof(&["check", arg(&bad)]);
    assert_one_error_line(&out, "not a valid pattern");
}

/// What a file holds by its framing alone, independently of the reader.
#[derive(Debug, Default, Clone, Copy)]
struct Chunks {
    intervals: usize,
    samples: usize,
}

/// Counts the complete chunks of `bytes` whose CRCs match; stops at the first cut one.
fn complete_chunks(bytes: &[u8]) -> Chunks {
    let mut chunks = Chunks::default();
    let mut at = PREAMBLE;
    while let Some(header) = bytes.get(at..at + HEADER) {
        let len = u32::from_le_bytes(header[..4].try_into().unwrap()) as usize;
        assert_eq!(
            crc32fast::hash(&header[..5]),
            u32::from_le_bytes(header[5..9].try_into().unwrap()),
            "a header at {at}"
        );
        let end = at + HEADER + len + TRAILER;
        let Some(chunk) = bytes.get(at..end) else {
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

/// Kills the recording process `delay` after its file `part` appears (a rotation), with
/// SIGKILL; returns the series' files.
fn kill_after_rotation(base: &Path, part: u64, delay: Duration) -> Vec<PathBuf> {
    let mut child = spawn_recording(base, None);
    let deadline = Instant::now() + Duration::from_secs(60);
    let next = bpprof_format::series_file(base, part);
    while !next.exists() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no rotation to part {part} in 60 s");
        }
        thread::sleep(Duration::from_millis(1));
    }
    thread::sleep(delay);
    // SAFETY: kill(2) on the pid of a child not waited for yet, so it is ours.
    let killed = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGKILL) };
    assert_eq!(killed, 0);
    child.wait().unwrap();
    series_files(base)
        .unwrap()
        .into_iter()
        .map(|(_, p)| p)
        .collect()
}

#[test]
fn sigkill_around_rotations_loses_no_complete_chunk() {
    if std::env::var_os(CHILD).is_some() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // Right after a new file appears (its preamble, meta and first interval being written),
    // and later, up to the next rotation (the old file's last samples, index and end chunk).
    let delays = [0, 1, 3, 8, 20, 60, 150, 400];
    for (run, &ms) in delays.iter().enumerate() {
        let base = dir.path().join(format!("killed-{run}.bpprof"));
        let files = kill_after_rotation(&base, 1 + (run % 2) as u64, Duration::from_millis(ms));
        let mut expected = Chunks::default();
        for file in &files {
            let bytes = std::fs::read(file).unwrap();
            let chunks = complete_chunks(&bytes);
            expected.intervals += chunks.intervals;
            expected.samples += chunks.samples;
            match bpprof_format::read_file(file) {
                Ok(alone) => {
                    assert_eq!(
                        alone.intervals.len(),
                        chunks.intervals,
                        "run {run}: {file:?}"
                    );
                    assert_eq!(alone.samples.len(), chunks.samples, "run {run}: {file:?}");
                }
                // The recorder was killed before the file's meta chunk was complete.
                Err(e) => assert_eq!(chunks.intervals, 0, "run {run}: {file:?}: {e}"),
            }
        }
        let series = bpprof_format::read_path(&base)
            .unwrap_or_else(|e| panic!("run {run}: the series does not read: {e}"));
        assert_eq!(series.intervals.len(), expected.intervals, "run {run}");
        assert_eq!(series.samples.len(), expected.samples, "run {run}");
        let seqs: Vec<u64> = series.intervals.iter().map(|i| i.seq).collect();
        assert!(
            seqs.windows(2).all(|w| w[1] == w[0] + 1),
            "run {run}: contiguous: {seqs:?}"
        );
        let out = bpprof(&["locate", arg(&base)]);
        let stderr = text(&out.stderr);
        assert_eq!(code(&out), 0, "run {run}: locate fails: {stderr}");
        assert!(
            !stderr.contains("panicked") && !stderr.contains("is missing"),
            "{stderr}"
        );
        println!(
            "series: run {run}: killed {ms} ms after a rotation: {} files, {} intervals, {} samples chunks read back",
            files.len(),
            expected.intervals,
            expected.samples
        );
    }
}
