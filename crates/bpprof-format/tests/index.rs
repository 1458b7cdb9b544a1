//! The index (chunk kinds 6 and 7, format 1.4): a ranged read of a finished file seeks to the
//! chunks of the range and to those that declare something; a file whose index is missing or
//! does not check out is scanned instead, losing nothing.

mod common;

use std::path::PathBuf;

use bpprof_format::*;
use common::meta;

const SECOND: u64 = 1_000_000_000;

/// A file in the temporary directory, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, bytes: &[u8]) -> TempFile {
        let path = std::env::temp_dir().join(format!("bpprof-index-{}-{name}", std::process::id()));
        std::fs::write(&path, bytes).unwrap();
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// 100 one-second intervals of two subtasks (declared in interval 0, the second registering
/// again in interval 60), each with a samples chunk right after it; a new stack is first used in
/// interval 50.
fn recording() -> Vec<u8> {
    recording_with_samples_behind(0)
}

/// The same, with each samples chunk written `behind` intervals after its own (as a recorder
/// writes the intervals that come while it symbolises samples).
fn recording_with_samples_behind(behind: u64) -> Vec<u8> {
    let mut writer = RecordingWriter::new(Vec::new(), &meta()).unwrap();
    for seq in 0..100u64 {
        writer.write_interval(&interval(seq)).unwrap();
        if let Some(lagging) = seq.checked_sub(behind) {
            writer.write_samples(&samples(lagging)).unwrap();
        }
    }
    for seq in 100u64.saturating_sub(behind)..100 {
        writer.write_samples(&samples(seq)).unwrap();
    }
    writer
        .finish(&EndChunk {
            end_ns: 100 * SECOND,
            chunks: 100,
            coalesced_intervals: 0,
        })
        .unwrap()
}

/// The id of the second subtask in interval `seq`.
fn second_subtask(seq: u64) -> u32 {
    if seq >= 60 {
        3
    } else {
        1
    }
}

fn interval(seq: u64) -> IntervalChunk {
    let decl = |id: u32| SubtaskDecl {
        id,
        task: "Enrich".into(),
        index: id % 2,
        parallelism: 2,
        tid: 100 + id,
        registered_ns: seq * SECOND,
    };
    let declared_subtasks = match seq {
        0 => vec![decl(0), decl(1)],
        60 => vec![decl(3)],
        _ => vec![],
    };
    IntervalChunk {
        seq,
        start_ns: seq * SECOND,
        end_ns: (seq + 1) * SECOND,
        declared_subtasks,
        subtasks: [0, second_subtask(seq)]
            .map(|id| SubtaskInterval {
                id,
                wall_ns: SECOND,
                records_in: seq,
                ..SubtaskInterval::default()
            })
            .to_vec(),
        ..IntervalChunk::default()
    }
}

fn samples(seq: u64) -> SamplesChunk {
    let stack = if seq >= 50 { 1 } else { 0 };
    let (frames, stacks) = match seq {
        0 | 50 => (
            vec![FrameDecl {
                id: stack,
                function: format!("f{stack}"),
                ..FrameDecl::default()
            }],
            vec![StackDecl {
                id: stack,
                frames: vec![stack],
            }],
        ),
        _ => (vec![], vec![]),
    };
    SamplesChunk {
        seq,
        start_ns: seq * SECOND,
        end_ns: (seq + 1) * SECOND,
        frames,
        stacks,
        counts: [0, second_subtask(seq)]
            .map(|subtask| SampleCount {
                subtask,
                stack,
                count: 99,
                ..SampleCount::default()
            })
            .to_vec(),
        ..SamplesChunk::default()
    }
}

fn range(from_s: u64, to_s: u64) -> ReadOptions<'static> {
    ReadOptions {
        from_ns: Some(from_s * SECOND),
        to_ns: Some(to_s * SECOND),
        ..ReadOptions::default()
    }
}

fn seqs(recording: &Recording) -> Vec<u64> {
    recording.intervals.iter().map(|i| i.seq).collect()
}

#[test]
fn a_ranged_read_of_an_indexed_file_reads_the_range_and_the_declarations() {
    let bytes = recording();
    let file = TempFile::new("range", &bytes);
    let whole = read_recording(&bytes[..]).unwrap();
    let ranged = read_file_with(&file.0, &range(70, 75)).unwrap();
    assert_eq!(ranged.warnings, []);
    // Interval 0 and 60 declare subtasks; 69..=75 overlap [70 s, 75 s].
    assert_eq!(seqs(&ranged), [0, 60, 69, 70, 71, 72, 73, 74, 75]);
    for interval in &ranged.intervals {
        assert_eq!(*interval, whole.intervals[interval.seq as usize]);
    }
    assert_eq!(ranged.end, whole.end);
    assert_eq!(ranged.meta, whole.meta);
    // The samples chunks of the range in full; those of 0 and 50, which declare the frames and
    // stacks, without their counts.
    let samples: Vec<(u64, usize)> = ranged
        .samples
        .iter()
        .map(|s| (s.seq, s.counts.len()))
        .collect();
    assert_eq!(
        samples,
        [
            (0, 0),
            (50, 0),
            (69, 2),
            (70, 2),
            (71, 2),
            (72, 2),
            (73, 2),
            (74, 2),
            (75, 2)
        ]
    );
    for s in ranged.samples.iter().filter(|s| !s.counts.is_empty()) {
        assert_eq!(*s, whole.samples[s.seq as usize]);
    }
    assert_eq!(ranged.samples[1].stacks, whole.samples[50].stacks);
    // Only `from_ns` set: to the end.
    let from = ReadOptions {
        from_ns: Some(97 * SECOND),
        ..ReadOptions::default()
    };
    assert_eq!(
        seqs(&read_file_with(&file.0, &from).unwrap()),
        [0, 60, 96, 97, 98, 99]
    );
    // Without a range every chunk is read.
    let all = read_file_with(&file.0, &ReadOptions::default()).unwrap();
    assert_eq!(all, whole);
}

#[test]
fn a_ranged_read_keeps_the_samples_of_the_chosen_subtasks() {
    let file = TempFile::new("subtasks", &recording());
    let second = |d: &SubtaskDecl| d.index == 1;
    let options = ReadOptions {
        samples_of: Some(&second),
        ..range(62, 63)
    };
    let ranged = read_file_with(&file.0, &options).unwrap();
    let counts: Vec<(u64, Vec<u32>)> = ranged
        .samples
        .iter()
        .filter(|s| !s.counts.is_empty())
        .map(|s| (s.seq, s.counts.iter().map(|c| c.subtask).collect()))
        .collect();
    // Subtask 3 is the second registration of Enrich#1 (in interval 60).
    assert_eq!(counts, [(61, vec![3]), (62, vec![3]), (63, vec![3])]);
}

/// Whatever is wrong with the index or the chunks it points to, a ranged read returns what a
/// scan returns: every intact chunk, with the scan's warnings.
#[test]
fn an_index_that_does_not_check_out_falls_back_to_a_scan() {
    let bytes = recording();
    // Where the chunks of each kind start.
    let mut starts = Vec::new();
    let mut at = PREAMBLE_LEN;
    while at < bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        starts.push((bytes[at + 4], at, len));
        at += CHUNK_HEADER_LEN + len + CHUNK_TRAILER_LEN;
    }
    let of = |kind: u8| starts.iter().filter(move |s| s.0 == kind);
    let (_, index, index_len) = *of(6).next().expect("an index chunk");
    let (_, locator, _) = *of(7).next().expect("a locator chunk");
    let (_, end, _) = *of(3).next().unwrap();
    assert_eq!(starts.last().unwrap().1, end, "the end chunk is last");
    assert_eq!(locator + 21, end, "the locator is right before it");
    let (_, in_range, _) = *of(2).nth(72).unwrap();
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "cut inside the end chunk",
            bytes[..bytes.len() - 3].to_vec(),
        ),
        ("cut before the index", bytes[..index].to_vec()),
    ];
    for (name, at) in [
        ("a damaged index", index + CHUNK_HEADER_LEN + index_len / 2),
        ("a damaged locator", locator + CHUNK_HEADER_LEN + 3),
        ("a damaged end chunk", end + CHUNK_HEADER_LEN),
        (
            "a damaged interval in the range",
            in_range + CHUNK_HEADER_LEN + 2,
        ),
    ] {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x20;
        cases.push((name, damaged));
    }
    for (name, bytes) in cases {
        let file = TempFile::new("fallback", &bytes);
        let ranged = read_file_with(&file.0, &range(70, 75)).unwrap();
        let scanned = read_recording(&bytes[..]).unwrap();
        assert_eq!(ranged, scanned, "{name}");
        assert!(!ranged.warnings.is_empty(), "{name}: {:?}", ranged.warnings);
        assert!(ranged.intervals.len() >= 99, "{name}");
    }
}

#[test]
fn a_file_without_intervals_has_no_index() {
    let bytes = RecordingWriter::new(Vec::new(), &meta())
        .unwrap()
        .finish(&EndChunk::default())
        .unwrap();
    let meta_len = u32::from_le_bytes(bytes[16..20].try_into().unwrap()) as usize;
    // Preamble, meta chunk, end chunk.
    assert_eq!(bytes.len(), PREAMBLE_LEN + 13 + meta_len + 16);
    let file = TempFile::new("empty", &bytes);
    let read = read_file_with(&file.0, &range(0, 1)).unwrap();
    assert_eq!(read, read_recording(&bytes[..]).unwrap());
}

/// An index that lists a chunk twice, or out of order, is not trusted: the file is scanned.
#[test]
fn an_index_out_of_order_is_not_trusted() {
    let bytes = recording();
    let mut at = PREAMBLE_LEN;
    let (mut index, mut index_len) = (0, 0);
    while at < bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        if bytes[at + 4] == 6 {
            (index, index_len) = (at, len);
        }
        at += CHUNK_HEADER_LEN + len + CHUNK_TRAILER_LEN;
    }
    // The index's payload, postcard: the entry count, then per entry seq, start_ns, end_ns,
    // interval, samples (varints) and flags (a byte). Repeat the first entry in the second's
    // place, and fix the checksum.
    let payload = &bytes[index + CHUNK_HEADER_LEN..index + CHUNK_HEADER_LEN + index_len];
    let varint_end =
        |from: usize| from + payload[from..].iter().position(|b| b & 0x80 == 0).unwrap() + 1;
    let first = varint_end(0);
    let mut end = first;
    for _ in 0..5 {
        end = varint_end(end);
    }
    end += 1;
    let entry = payload[first..end].to_vec();
    let mut second_end = end;
    for _ in 0..5 {
        second_end = varint_end(second_end);
    }
    second_end += 1;
    let mut forged = payload[..end].to_vec();
    forged.extend_from_slice(&entry);
    forged.extend_from_slice(&payload[second_end..]);
    let mut bytes_forged = bytes[..index].to_vec();
    bytes_forged.extend_from_slice(&common::frame(6, &forged));
    let after_index = index + CHUNK_HEADER_LEN + index_len + CHUNK_TRAILER_LEN;
    // The locator still points at the index, which starts where it did.
    bytes_forged.extend_from_slice(&bytes[after_index..]);
    let file = TempFile::new("forged", &bytes_forged);
    let read = read_file_with(&file.0, &range(0, 2)).unwrap();
    // Scanned: every interval once.
    assert_eq!(seqs(&read), (0..100).collect::<Vec<_>>());
    assert_eq!(read, read_recording(&bytes_forged[..]).unwrap());
}

/// Samples chunks written a few intervals after their own (a recorder symbolising while the next
/// intervals come) are indexed too: a ranged read seeks to them, and reads what a scan reads.
#[test]
fn samples_written_behind_their_intervals_are_indexed() {
    let bytes = recording_with_samples_behind(3);
    let file = TempFile::new("behind", &bytes);
    let whole = read_recording(&bytes[..]).unwrap();
    assert_eq!(whole.intervals.len(), 100);
    assert_eq!(whole.samples.len(), 100);
    let ranged = read_file_with(&file.0, &range(70, 75)).unwrap();
    assert_eq!(ranged.warnings, []);
    // Through the index: only the range and the declaring intervals.
    assert_eq!(seqs(&ranged), [0, 60, 69, 70, 71, 72, 73, 74, 75]);
    let sample_seqs: Vec<u64> = ranged.samples.iter().map(|s| s.seq).collect();
    // Samples 0 and 50 declare the stacks; 69..=75 are in the range.
    assert_eq!(sample_seqs, [0, 50, 69, 70, 71, 72, 73, 74, 75]);
    for chunk in ranged.samples.iter().filter(|s| s.seq >= 69) {
        assert_eq!(*chunk, whole.samples[chunk.seq as usize]);
    }
}
