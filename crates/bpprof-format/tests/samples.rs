//! Samples chunks (kind 4): round trip, interning across chunks, truncation, and the size budget
//! of one hour of sampling.

use std::cell::Cell;
use std::collections::HashSet;
use std::io::{self, Write};
use std::rc::Rc;

mod common;

use bpprof_format::*;
use common::{meta, Rng};

const SECOND: u64 = 1_000_000_000;
const HZ: u32 = 99;

/// A workload: `tasks` tasks of `per_task` subtasks; each task's code has a set of 10–30
/// distinct stacks of depth 20–40 (sharing the thread start-up frames), each stack taken in one
/// state (its leaf is the hashing, the send or the receive).
struct Workload {
    tasks: u32,
    per_task: u32,
    /// Every frame, by id.
    frames: Vec<FrameDecl>,
    /// Every stack, by id: its frames and the state it is sampled in.
    stacks: Vec<(Vec<u32>, SampleState)>,
    /// Stack ids of each task.
    task_stacks: Vec<Vec<u32>>,
}

impl Workload {
    fn new(rng: &mut Rng, tasks: u32, per_task: u32) -> Workload {
        Workload::with_stacks(rng, tasks, per_task, 10..31)
    }

    /// A workload whose tasks have a number of stacks in `stacks` each.
    fn with_stacks(
        rng: &mut Rng,
        tasks: u32,
        per_task: u32,
        stacks_per_task: std::ops::Range<u64>,
    ) -> Workload {
        let mut frames = Vec::new();
        let frame = |function: String, frames: &mut Vec<FrameDecl>| {
            let id = frames.len() as u32;
            frames.push(FrameDecl {
                id,
                file: format!(
                    "/home/dev/.cargo/registry/src/index/crate-1.0.{}/src/lib.rs",
                    id % 17
                ),
                line: 10 + id * 7 % 900,
                function,
            });
            id
        };
        let startup: Vec<u32> = [
            "std::sys::pal::unix::thread::Thread::new::thread_start",
            "core::ops::function::FnOnce::call_once{{vtable.shim}}",
            "std::thread::Builder::spawn_unchecked_::{{closure}}",
            "std::panicking::try",
            "std::sys::backtrace::__rust_begin_short_backtrace",
            "bpprof::subtask::run_registered::{{closure}}",
        ]
        .iter()
        .map(|f| frame((*f).to_owned(), &mut frames))
        .collect();
        let mut stacks = Vec::new();
        let mut task_stacks = Vec::new();
        for t in 0..tasks {
            // A pool of the task's own functions.
            let pool: Vec<u32> = (0..60)
                .map(|i| {
                    frame(
                        format!(
                            "<wordcount::stage{t}::Operator{i} as wordcount::Process<alloc::vec::Vec<u8>>>::process_{i}"
                        ),
                        &mut frames,
                    )
                })
                .collect();
            let n = rng.range(stacks_per_task.start, stacks_per_task.end);
            let mut mine = Vec::new();
            for s in 0..n {
                let depth = rng.range(20, 41) as usize;
                let mut path = startup.clone();
                while path.len() < depth {
                    path.push(pool[rng.range(0, pool.len() as u64) as usize]);
                }
                let state = match s % 6 {
                    0 => SampleState::Idle,
                    1 => SampleState::Backpressured,
                    _ => SampleState::Busy,
                };
                mine.push(stacks.len() as u32);
                stacks.push((path, state));
            }
            task_stacks.push(mine);
        }
        Workload {
            tasks,
            per_task,
            frames,
            stacks,
            task_stacks,
        }
    }

    fn subtasks(&self) -> u32 {
        self.tasks * self.per_task
    }

    /// The samples chunk of interval `seq`: `HZ` samples per subtask, aggregated, with the frames
    /// and stacks not declared before (`declared_*` remember what was).
    fn chunk(
        &self,
        rng: &mut Rng,
        seq: u64,
        declared_frames: &mut HashSet<u32>,
        declared_stacks: &mut HashSet<u32>,
    ) -> SamplesChunk {
        let mut chunk = SamplesChunk {
            seq,
            start_ns: seq * SECOND,
            end_ns: (seq + 1) * SECOND,
            lost: u64::from(rng.range(0, 100) == 0),
            ..SamplesChunk::default()
        };
        for subtask in 0..self.subtasks() {
            let mine = &self.task_stacks[(subtask / self.per_task) as usize];
            // Counts by (position in `mine`, on CPU); a stack's state is fixed.
            let mut counts = vec![[0u32; 2]; mine.len()];
            for _ in 0..HZ {
                // Skewed towards the first stacks, as real profiles are.
                let a = rng.range(0, mine.len() as u64);
                let b = rng.range(0, mine.len() as u64);
                let at = a.min(b) as usize;
                let on_cpu = match self.stacks[mine[at] as usize].1 {
                    SampleState::Busy => rng.range(0, 10) != 0,
                    _ => rng.range(0, 20) == 0,
                };
                counts[at][usize::from(on_cpu)] += 1;
            }
            for (at, pair) in counts.iter().enumerate() {
                let stack = mine[at];
                let (frames, state) = &self.stacks[stack as usize];
                for (on_cpu, &count) in [false, true].into_iter().zip(pair) {
                    if count == 0 {
                        continue;
                    }
                    if declared_stacks.insert(stack) {
                        for &f in frames {
                            if declared_frames.insert(f) {
                                chunk.frames.push(self.frames[f as usize].clone());
                            }
                        }
                        chunk.stacks.push(StackDecl {
                            id: stack,
                            frames: frames.clone(),
                        });
                    }
                    chunk.counts.push(SampleCount {
                        subtask,
                        state: *state,
                        on_cpu,
                        stack,
                        count,
                        operator: None,
                    });
                }
            }
        }
        chunk
    }
}

/// A plausible interval chunk for the workload's subtasks (declarations in the first).
fn interval(rng: &mut Rng, seq: u64, workload: &Workload) -> IntervalChunk {
    let mut chunk = IntervalChunk {
        seq,
        start_ns: seq * SECOND,
        end_ns: (seq + 1) * SECOND,
        ..IntervalChunk::default()
    };
    if seq == 0 {
        chunk.declared_subtasks = (0..workload.subtasks())
            .map(|id| SubtaskDecl {
                id,
                task: format!("stage{}", id / workload.per_task),
                index: id % workload.per_task,
                parallelism: workload.per_task,
                tid: 41_300 + id,
                registered_ns: 0,
            })
            .collect();
    }
    chunk.subtasks = (0..workload.subtasks())
        .map(|id| {
            let idle_ns = rng.range(100_000_000, 600_000_000);
            let backpressured_ns = rng.range(100_000_000, 400_000_000);
            SubtaskInterval {
                id,
                wall_ns: SECOND,
                idle_ns,
                backpressured_ns,
                cpu_ns: rng.range(100_000_000, 900_000_000),
                runqueue_ns: Some(rng.range(0, 50_000_000)),
                max_idle_stall_ns: rng.range(1_000_000, 100_000_000),
                max_backpressure_stall_ns: rng.range(1_000_000, 100_000_000),
                records_in: rng.range(10_000, 1_000_000),
                records_out: rng.range(10_000, 1_000_000),
                ended: false,
            }
        })
        .collect();
    chunk
}

/// A `Vec` that counts the bytes written into it, readable while a writer owns it.
struct Counting {
    bytes: Vec<u8>,
    written: Rc<Cell<usize>>,
}

impl Write for Counting {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.bytes.extend_from_slice(buf);
        self.written.set(self.bytes.len());
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Writes `seconds` intervals, each followed by its samples chunk; returns the bytes, the bytes
/// of the samples chunks alone, and the chunks written.
fn record(
    seconds: u64,
    workload: &Workload,
    rng: &mut Rng,
) -> (Vec<u8>, usize, Vec<IntervalChunk>, Vec<SamplesChunk>) {
    let written = Rc::new(Cell::new(0));
    let out = Counting {
        bytes: Vec::new(),
        written: Rc::clone(&written),
    };
    let mut writer = RecordingWriter::new(out, &meta()).unwrap();
    let (mut frames, mut stacks) = (HashSet::new(), HashSet::new());
    let (mut intervals, mut samples) = (Vec::new(), Vec::new());
    let mut samples_bytes = 0;
    for seq in 0..seconds {
        let i = interval(rng, seq, workload);
        writer.write_interval(&i).unwrap();
        let s = workload.chunk(rng, seq, &mut frames, &mut stacks);
        let before = written.get();
        writer.write_samples(&s).unwrap();
        samples_bytes += written.get() - before;
        if seconds <= 60 {
            intervals.push(i);
            samples.push(s);
        }
    }
    let bytes = writer
        .finish(&EndChunk {
            end_ns: seconds * SECOND,
            chunks: seconds,
            coalesced_intervals: 0,
        })
        .unwrap()
        .bytes;
    (bytes, samples_bytes, intervals, samples)
}

#[test]
fn samples_round_trip_with_interning_across_chunks() {
    let mut rng = Rng::new(7);
    let workload = Workload::new(&mut rng, 2, 2);
    let (bytes, _, intervals, samples) = record(10, &workload, &mut rng);
    let recording = read_recording(&bytes[..]).unwrap();
    assert_eq!(recording.warnings, []);
    assert_eq!(recording.intervals, intervals);
    assert_eq!(recording.samples, samples);
    assert_eq!(recording.meta.sample_hz, HZ);
    // Every stack and frame is declared exactly once, before or in the first chunk using it.
    let (mut frames, mut stacks) = (HashSet::new(), HashSet::new());
    for chunk in &recording.samples {
        for f in &chunk.frames {
            assert!(frames.insert(f.id), "frame {} declared twice", f.id);
        }
        for s in &chunk.stacks {
            assert!(stacks.insert(s.id), "stack {} declared twice", s.id);
            assert!(s.frames.iter().all(|f| frames.contains(f)));
        }
        assert!(chunk.counts.iter().all(|c| stacks.contains(&c.stack)));
        let total: u64 = chunk.counts.iter().map(|c| u64::from(c.count)).sum();
        assert_eq!(total, u64::from(HZ) * 4);
    }
    assert!(recording.samples[0].stacks.len() > recording.samples[9].stacks.len());
}

#[test]
fn a_samples_chunk_cut_short_leaves_the_earlier_ones() {
    let mut rng = Rng::new(8);
    let workload = Workload::new(&mut rng, 1, 2);
    let (bytes, _, _, samples) = record(3, &workload, &mut rng);
    // Cut into the last samples chunk (before the index, its locator and the end chunk).
    let mut at = PREAMBLE_LEN;
    let mut last_samples_end = 0;
    while at < bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let next = at + CHUNK_HEADER_LEN + len + CHUNK_TRAILER_LEN;
        if bytes[at + 4] == 5 {
            last_samples_end = next;
        }
        at = next;
    }
    let cut = &bytes[..last_samples_end - 5];
    let recording = read_recording(cut).unwrap();
    assert_eq!(recording.samples, samples[..2]);
    assert_eq!(recording.intervals.len(), 3);
    assert!(matches!(
        recording.warnings[..],
        [ReadWarning::Truncated { .. }]
    ));
}

#[test]
fn semicolons_and_newlines_in_frame_names_survive_the_format() {
    let chunk = SamplesChunk {
        frames: vec![FrameDecl {
            id: 0,
            function: "<[u8; 8] as core::fmt::Debug>::fmt\n".into(),
            file: String::new(),
            line: 0,
        }],
        stacks: vec![StackDecl {
            id: 0,
            frames: vec![0],
        }],
        counts: vec![SampleCount {
            subtask: 0,
            state: SampleState::Backpressured,
            on_cpu: false,
            stack: 0,
            count: 3,
            operator: None,
        }],
        ..SamplesChunk::default()
    };
    let mut writer = RecordingWriter::new(Vec::new(), &meta()).unwrap();
    writer.write_samples(&chunk).unwrap();
    let bytes = writer.finish(&EndChunk::default()).unwrap();
    assert_eq!(read_recording(&bytes[..]).unwrap().samples, [chunk]);
}

/// One hour of 64 subtasks sampled at 99 Hz, counts aggregated per 1-second interval, 10–30
/// distinct stacks per task of depth 20–40: the whole recording must stay under 100 MB.
#[test]
fn one_hour_of_sampling_64_subtasks_at_99_hz_fits_the_size_budget() {
    const BUDGET: usize = 100_000_000;
    let mut rng = Rng::new(3600);
    let workload = Workload::new(&mut rng, 8, 8);
    let (bytes, samples_bytes, _, _) = record(3_600, &workload, &mut rng);
    println!(
        "one hour, 64 subtasks at {HZ} Hz, {} distinct stacks: {} bytes in all, {} bytes of samples \
         chunks ({:.1} bytes per subtask-second)",
        workload.stacks.len(),
        bytes.len(),
        samples_bytes,
        samples_bytes as f64 / (3_600.0 * 64.0)
    );
    assert!(
        bytes.len() < BUDGET,
        "{} bytes is over the budget of {BUDGET}",
        bytes.len()
    );
    let recording = read_recording(&bytes[..]).unwrap();
    assert_eq!(recording.samples.len(), 3_600);
    assert_eq!(recording.warnings, []);
}

/// A samples chunk holding every shape of count the packed encoding has to carry: several
/// subtasks out of order, counts of 0, 1 and beyond a byte, every state on and off CPU, stacks
/// far apart and the same stack in several states, with and without operators, duplicates.
fn awkward_samples() -> SamplesChunk {
    let count = |subtask, state, on_cpu, stack, count, operator| SampleCount {
        subtask,
        state,
        on_cpu,
        stack,
        count,
        operator,
    };
    use SampleState::*;
    SamplesChunk {
        seq: 7,
        start_ns: 7 * SECOND,
        end_ns: 8 * SECOND,
        frames: vec![FrameDecl {
            id: 3,
            function: "main".into(),
            file: "src/main.rs".into(),
            line: 4,
        }],
        stacks: vec![StackDecl {
            id: u32::MAX,
            frames: vec![3, 3],
        }],
        counts: vec![
            count(300, Busy, true, 5, 1, None),
            count(2, Idle, false, u32::MAX, u32::MAX, Some(0)),
            count(2, Busy, true, 0, 0, None),
            count(2, Backpressured, true, 0, 2, Some(63)),
            count(2, Busy, false, 0, 1, Some(u32::MAX - 1)),
            count(300, Busy, true, 5, 1, None),
            count(70_000, Idle, true, 1 << 20, 40_000, None),
        ],
        lost: 12,
        between_polls: 3,
    }
}

#[test]
fn packed_samples_give_back_every_count() {
    let chunk = awkward_samples();
    let mut writer = RecordingWriter::new(Vec::new(), &meta()).unwrap();
    writer.write_samples(&chunk).unwrap();
    let bytes = writer.finish(&EndChunk::default()).unwrap();
    // The chunk after the meta chunk is of kind 5, packed.
    let meta_len = u32::from_le_bytes(bytes[16..20].try_into().unwrap()) as usize;
    assert_eq!(bytes[16 + 13 + meta_len + 4], 5);
    let recording = read_recording(&bytes[..]).unwrap();
    assert_eq!(recording.warnings, []);
    let [read] = &recording.samples[..] else {
        panic!("{:?}", recording.samples);
    };
    // The same counts, sorted by subtask, stack, state, on/off CPU and operator.
    let mut expected = chunk.clone();
    expected
        .counts
        .sort_by_key(|c| (c.subtask, c.stack, c.state as u8, c.on_cpu, c.operator));
    assert_eq!(*read, expected);
    assert_ne!(
        chunk.counts, expected.counts,
        "the test's counts start unsorted"
    );
}

#[test]
fn a_reader_can_keep_the_samples_of_some_subtasks_only() {
    let mut rng = Rng::new(11);
    let workload = Workload::new(&mut rng, 2, 3);
    let (bytes, _, _, samples) = record(5, &workload, &mut rng);
    let keep = |d: &SubtaskDecl| d.task == "stage1" && d.index == 2;
    let options = ReadOptions {
        samples_of: Some(&keep),
        ..ReadOptions::default()
    };
    let recording = read_recording_with(&bytes[..], &options).unwrap();
    assert_eq!(recording.intervals.len(), 5);
    for (read, written) in recording.samples.iter().zip(&samples) {
        // Subtask 5 is stage1#2; the frames and stacks are all there.
        let mine: Vec<_> = written
            .counts
            .iter()
            .filter(|c| c.subtask == 5)
            .cloned()
            .collect();
        assert!(!mine.is_empty());
        assert_eq!(read.counts, mine);
        assert_eq!(
            (&read.frames, &read.stacks),
            (&written.frames, &written.stacks)
        );
    }
    // The same filter applies to samples chunks of format 1.3 (kind 4).
    let mut writer = RecordingWriter::new(Vec::new(), &meta()).unwrap();
    writer
        .write_interval(&interval(&mut rng, 0, &workload))
        .unwrap();
    writer.write_samples_unpacked(&samples[0]).unwrap();
    let bytes = writer.finish(&EndChunk::default()).unwrap();
    let recording = read_recording_with(&bytes[..], &options).unwrap();
    assert!(recording.samples[0].counts.iter().all(|c| c.subtask == 5));
    assert!(!recording.samples[0].counts.is_empty());
}

/// A packed samples chunk whose checksums match but whose content does not decode is corrupt,
/// with one clear reason, never a panic.
#[test]
fn a_packed_samples_chunk_that_does_not_decode_is_corrupt() {
    let mut rng = Rng::new(12);
    let mut corrupt = 0;
    for case in 0..300 {
        let mut payload = match case % 3 {
            // Random bytes.
            0 => {
                let len = rng.range(0, 64) as usize;
                rng.bytes(len)
            }
            // A real payload with bytes changed after its header, under recomputed checksums.
            _ => {
                let mut writer = RecordingWriter::new(Vec::new(), &meta()).unwrap();
                writer.write_samples(&awkward_samples()).unwrap();
                let bytes = writer.finish(&EndChunk::default()).unwrap();
                let meta_len = u32::from_le_bytes(bytes[16..20].try_into().unwrap()) as usize;
                let at = 16 + 13 + meta_len;
                let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
                bytes[at + 9..at + 9 + len].to_vec()
            }
        };
        if case % 3 != 0 {
            let i = rng.range(0, payload.len() as u64) as usize;
            payload[i] ^= 1 << rng.range(0, 8);
        }
        let mut bytes = RecordingWriter::new(Vec::new(), &meta())
            .unwrap()
            .finish(&EndChunk::default())
            .unwrap();
        // Before the end chunk.
        let end = bytes.split_off(bytes.len() - 16);
        bytes.extend_from_slice(&common::frame(5, &payload));
        bytes.extend_from_slice(&end);
        match read_recording(&bytes[..]) {
            Ok(_) => {}
            Err(ReadError::Corrupt { reason, .. }) => {
                assert!(reason.contains("packed samples"), "{reason}");
                assert!(!reason.contains('\n'));
                corrupt += 1;
            }
            Err(e) => panic!("case {case}: {e}"),
        }
    }
    assert!(corrupt > 150, "only {corrupt} of 300 were found corrupt");
}

/// One hour of 64 subtasks (8 tasks of 8) at 99 Hz over 2,000 distinct stacks of depth 20–40,
/// their ids assigned in order of first use as the runtime does: at most 40 MB in all. Written
/// for 40 s and extrapolated from the last 20 (the first declare the frames and stacks, which
/// are counted once, in full).
#[test]
fn one_hour_of_2000_stacks_at_99_hz_fits_40_mb() {
    const BUDGET: f64 = 40_000_000.0;
    let mut rng = Rng::new(2000);
    let workload = Workload::with_stacks(&mut rng, 8, 8, 250..251);
    assert_eq!(workload.stacks.len(), 2000);
    let written = Rc::new(Cell::new(0));
    let out = Counting {
        bytes: Vec::new(),
        written: Rc::clone(&written),
    };
    let mut writer = RecordingWriter::new(out, &meta()).unwrap();
    let (mut frames, mut stacks) = (HashSet::new(), HashSet::new());
    let mut ids = std::collections::HashMap::new();
    let (mut steady, mut samples_steady) = (0, 0);
    for seq in 0..40 {
        let before = written.get();
        writer
            .write_interval(&interval(&mut rng, seq, &workload))
            .unwrap();
        let mut chunk = workload.chunk(&mut rng, seq, &mut frames, &mut stacks);
        // Stack ids in order of first use.
        for s in &mut chunk.stacks {
            let next = ids.len() as u32;
            s.id = *ids.entry(s.id).or_insert(next);
        }
        for c in &mut chunk.counts {
            c.stack = ids[&c.stack];
        }
        let between = written.get();
        writer.write_samples(&chunk).unwrap();
        if seq >= 20 {
            steady += written.get() - before;
            samples_steady += written.get() - between;
        }
    }
    let declarations = written.get() - steady;
    let hour = declarations as f64 + steady as f64 / 20.0 * 3600.0;
    let per_subtask_second = samples_steady as f64 / 20.0 / 64.0;
    println!(
        "2,000 stacks: {hour:.0} bytes an hour, {per_subtask_second:.1} bytes of samples per subtask-second"
    );
    assert!(hour <= BUDGET, "{hour:.0} bytes an hour is over {BUDGET}");
    assert!(per_subtask_second < 85.0, "{per_subtask_second:.1} bytes");
    let recording =
        read_recording(&writer.finish(&EndChunk::default()).unwrap().bytes[..]).unwrap();
    assert_eq!(recording.samples.len(), 40);
    assert_eq!(recording.warnings, []);
}

/// A file of format 1.4, whose packed samples chunks hold every subtask's counts in one
/// compressed body, reads as it did: every count, the counts of one subtask alone, through the
/// index too. A 1.4 chunk in a 1.5 file is corrupt (its payload ends before the blocks 1.5
/// appends), and a 1.4 reader of a 1.5 file (here: the 1.5 chunks read as 1.4) gets the
/// declarations without the counts instead of failing.
#[test]
fn packed_samples_of_format_1_4_still_read() {
    let mut rng = Rng::new(14);
    let workload = Workload::new(&mut rng, 2, 3);
    let write = |packed_1_4: bool, minor: u16, rng: &mut Rng| {
        let mut writer = RecordingWriter::new(Vec::new(), &meta()).unwrap();
        let (mut frames, mut stacks) = (HashSet::new(), HashSet::new());
        let mut samples = Vec::new();
        for seq in 0..4 {
            writer
                .write_interval(&interval(rng, seq, &workload))
                .unwrap();
            let s = workload.chunk(rng, seq, &mut frames, &mut stacks);
            if packed_1_4 {
                writer.write_samples_packed_1_4(&s).unwrap();
            } else {
                writer.write_samples(&s).unwrap();
            }
            samples.push(s);
        }
        let mut bytes = writer
            .finish(&EndChunk {
                end_ns: 4 * SECOND,
                chunks: 4,
                coalesced_intervals: 0,
            })
            .unwrap();
        bytes[10..12].copy_from_slice(&minor.to_le_bytes());
        (bytes, samples)
    };
    let sorted = |mut s: SamplesChunk| {
        s.counts
            .sort_by_key(|c| (c.subtask, c.stack, c.state as u8, c.on_cpu, c.operator));
        s
    };
    let (bytes, written) = write(true, 4, &mut rng);
    let recording = read_recording(&bytes[..]).unwrap();
    assert_eq!(recording.version, (1, 4));
    assert_eq!(recording.warnings, []);
    let expected: Vec<SamplesChunk> = written.into_iter().map(sorted).collect();
    assert_eq!(recording.samples, expected);
    // One subtask's counts (subtask 4 is stage1#1), by scanning and through the index.
    let keep = |d: &SubtaskDecl| d.task == "stage1" && d.index == 1;
    let dir = std::env::temp_dir().join(format!("bpprof-1-4-{}.bpprof", std::process::id()));
    std::fs::write(&dir, &bytes).unwrap();
    for from_ns in [None, Some(0)] {
        let options = ReadOptions {
            samples_of: Some(&keep),
            from_ns,
            ..ReadOptions::default()
        };
        let read = read_file_with(&dir, &options).unwrap();
        assert_eq!(read.samples.len(), 4);
        for (read, written) in read.samples.iter().zip(&expected) {
            let mine: Vec<_> = written
                .counts
                .iter()
                .filter(|c| c.subtask == 4)
                .cloned()
                .collect();
            assert!(!mine.is_empty());
            assert_eq!(read.counts, mine);
        }
    }
    std::fs::remove_file(&dir).unwrap();
    // The same 1.4 chunks in a file that says 1.5.
    let (bytes, _) = write(true, 5, &mut rng);
    match read_recording(&bytes[..]) {
        Err(ReadError::Corrupt { reason, .. }) => {
            assert!(reason.contains("packed samples"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    // 1.5 chunks read with the layout of 1.4.
    let (bytes, written) = write(false, 4, &mut rng);
    let recording = read_recording(&bytes[..]).unwrap();
    for (read, written) in recording.samples.iter().zip(&written) {
        assert!(read.counts.is_empty());
        assert_eq!(
            (&read.frames, &read.stacks),
            (&written.frames, &written.stacks)
        );
    }
}
