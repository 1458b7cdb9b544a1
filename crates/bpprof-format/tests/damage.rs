//! Damaged chunks are skipped and the intact ones around them read: the reader resynchronises on
//! the next chunk whose checksums match, and warns with what was lost, told by the interval
//! chunks read around the damage.

mod common;

use std::time::Instant;

use bpprof_format::*;
use common::{header, meta, Rng};

const SECOND: u64 = 1_000_000_000;

/// A recording of `n` one-second intervals (one subtask), each followed by a samples chunk when
/// `samples`, and an end chunk. Returns the bytes and the offset where each chunk starts, with
/// the file's length last (so chunk `c` is `starts[c]..starts[c + 1]`; 0 is the meta chunk).
fn recording(n: u64, samples: bool) -> (Vec<u8>, Vec<usize>) {
    let mut bytes = Vec::new();
    let mut starts = vec![PREAMBLE_LEN];
    let mut writer = RecordingWriter::new(&mut bytes, &meta()).unwrap();
    for seq in 0..n {
        let interval = IntervalChunk {
            seq,
            start_ns: seq * SECOND,
            end_ns: (seq + 1) * SECOND,
            declared_subtasks: if seq == 0 {
                vec![SubtaskDecl {
                    id: 0,
                    task: "Enrich".into(),
                    index: 0,
                    parallelism: 1,
                    tid: 7,
                    registered_ns: 0,
                }]
            } else {
                vec![]
            },
            subtasks: vec![SubtaskInterval {
                id: 0,
                wall_ns: SECOND,
                cpu_ns: SECOND / 2,
                records_in: 100 + seq,
                ..SubtaskInterval::default()
            }],
            ..IntervalChunk::default()
        };
        writer.write_interval(&interval).unwrap();
        if samples {
            let chunk = SamplesChunk {
                seq,
                start_ns: seq * SECOND,
                end_ns: (seq + 1) * SECOND,
                lost: seq,
                ..SamplesChunk::default()
            };
            writer.write_samples(&chunk).unwrap();
        }
    }
    let end = EndChunk {
        end_ns: n * SECOND,
        chunks: n,
        coalesced_intervals: 0,
    };
    writer.finish(&end).unwrap();
    // Where each chunk starts, from the lengths in the headers (the samples chunks are packed,
    // so their length is not that of their postcard encoding). The index and its locator
    // (kinds 6 and 7) are taken out: these tests are about scanning, as of a file whose writer
    // was killed before writing them; `an_index_that_does_not_check_out_falls_back_to_a_scan`
    // damages them.
    let mut at = PREAMBLE_LEN;
    while at < bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let next = at + CHUNK_HEADER_LEN + len + CHUNK_TRAILER_LEN;
        if matches!(bytes[at + 4], 6 | 7) {
            bytes.drain(at..next);
        } else {
            starts.push(next);
            at = next;
        }
    }
    assert_eq!(starts.len(), 3 + n as usize * (1 + usize::from(samples)));
    assert_eq!(*starts.last().unwrap(), bytes.len());
    (bytes, starts)
}

fn seqs(recording: &Recording) -> Vec<u64> {
    recording.intervals.iter().map(|i| i.seq).collect()
}

fn mark(seq: u64, ns: u64) -> Option<IntervalMark> {
    Some(IntervalMark { seq, ns })
}

/// The middle of chunk `c`'s payload.
fn in_payload(starts: &[usize], c: usize) -> usize {
    (starts[c] + CHUNK_HEADER_LEN + starts[c + 1] - CHUNK_TRAILER_LEN) / 2
}

#[test]
fn a_flipped_byte_in_a_middle_chunk_loses_only_that_interval() {
    let (mut bytes, starts) = recording(8, false);
    // Chunk 4 is the interval of seq 3.
    bytes[in_payload(&starts, 4)] ^= 0x10;
    let recording = read_recording(&bytes[..]).unwrap();
    assert_eq!(seqs(&recording), [0, 1, 2, 4, 5, 6, 7]);
    assert!(recording.end.is_some());
    let [warning] = &recording.warnings[..] else {
        panic!("{:?}", recording.warnings);
    };
    assert_eq!(
        *warning,
        ReadWarning::Damaged {
            offset: starts[4] as u64,
            skipped: (starts[5] - starts[4]) as u64,
            lost: Lost {
                after: mark(2, 3 * SECOND),
                before: mark(4, 4 * SECOND),
            },
        }
    );
    let text = warning.to_string();
    assert!(text.contains("interval 3 (3–4 s) is lost"), "{text}");
    assert!(
        text.contains(&format!("damaged at byte {}", starts[4])),
        "{text}"
    );
}

#[test]
fn two_damaged_chunks_apart_each_get_a_warning() {
    let (mut bytes, starts) = recording(8, false);
    // The payload of seq 1's chunk, and the header (its length) of seq 5's.
    bytes[in_payload(&starts, 2)] ^= 0x01;
    bytes[starts[6] + 1] ^= 0x80;
    let recording = read_recording(&bytes[..]).unwrap();
    assert_eq!(seqs(&recording), [0, 2, 3, 4, 6, 7]);
    let lost: Vec<String> = recording.warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(lost.len(), 2, "{lost:?}");
    assert!(lost[0].contains("interval 1 (1–2 s) is lost"), "{lost:?}");
    assert!(lost[1].contains("interval 5 (5–6 s) is lost"), "{lost:?}");
}

#[test]
fn adjacent_damaged_chunks_are_one_stretch() {
    let (mut bytes, starts) = recording(8, false);
    // Seqs 3 and 4: a header, then a payload.
    bytes[starts[4] + 4] ^= 0x02;
    bytes[in_payload(&starts, 5)] ^= 0x02;
    let recording = read_recording(&bytes[..]).unwrap();
    assert_eq!(seqs(&recording), [0, 1, 2, 5, 6, 7]);
    assert_eq!(
        recording.warnings,
        [ReadWarning::Damaged {
            offset: starts[4] as u64,
            skipped: (starts[6] - starts[4]) as u64,
            lost: Lost {
                after: mark(2, 3 * SECOND),
                before: mark(5, 5 * SECOND),
            },
        }]
    );
    assert!(recording.warnings[0]
        .to_string()
        .contains("intervals 3–4 (3–5 s) are lost"));
}

#[test]
fn a_damaged_samples_chunk_loses_no_interval() {
    let (mut bytes, starts) = recording(4, true);
    // Chunks: meta, then (interval, samples) per seq; chunk 4 is the samples of seq 1.
    bytes[in_payload(&starts, 4)] ^= 0x04;
    let recording = read_recording(&bytes[..]).unwrap();
    assert_eq!(seqs(&recording), [0, 1, 2, 3]);
    let samples: Vec<u64> = recording.samples.iter().map(|s| s.seq).collect();
    assert_eq!(samples, [0, 2, 3]);
    let [warning] = &recording.warnings[..] else {
        panic!("{:?}", recording.warnings);
    };
    let text = warning.to_string();
    assert!(
        text.contains("no interval is lost, only data written after interval 1 (at 2 s)"),
        "{text}"
    );
}

#[test]
fn a_damaged_first_interval_chunk_is_skipped() {
    let (mut bytes, starts) = recording(4, false);
    bytes[in_payload(&starts, 1)] ^= 0x40;
    let recording = read_recording(&bytes[..]).unwrap();
    assert_eq!(seqs(&recording), [1, 2, 3]);
    assert!(recording.warnings[0]
        .to_string()
        .contains("interval 0 (0–1 s) is lost"));
    // The subtask was declared in the lost chunk, and the others account for it.
    assert_eq!(
        recording.warnings[1..],
        [ReadWarning::LostDeclarations {
            subtasks: 1,
            channels: 0
        }]
    );
}

#[test]
fn a_damaged_last_chunk_loses_the_end_without_claiming_the_recorder_was_not_stopped() {
    let (bytes, starts) = recording(4, false);
    let end_chunk = starts.len() - 2;
    for at in [starts[end_chunk] + 2, in_payload(&starts, end_chunk)] {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x08;
        let recording = read_recording(&damaged[..]).unwrap();
        assert_eq!(seqs(&recording), [0, 1, 2, 3]);
        assert_eq!(recording.end, None);
        assert_eq!(
            recording.warnings,
            [ReadWarning::Damaged {
                offset: starts[end_chunk] as u64,
                skipped: (bytes.len() - starts[end_chunk]) as u64,
                lost: Lost {
                    after: mark(3, 4 * SECOND),
                    before: None,
                },
            }],
            "byte {at}"
        );
        let text = recording.warnings[0].to_string();
        assert!(text.contains("skipped to the end of the file"), "{text}");
        assert!(
            text.contains("everything after 4 s (interval 4 on) is lost"),
            "{text}"
        );
    }
}

#[test]
fn a_damaged_meta_chunk_is_an_error() {
    let (mut bytes, starts) = recording(4, false);
    bytes[in_payload(&starts, 0)] ^= 0x01;
    let error = read_recording(&bytes[..]).unwrap_err();
    assert!(
        matches!(&error, ReadError::Corrupt { offset: 16, index: 0, reason } if reason.contains("meta chunk is damaged")),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(
        text.contains("nothing in a recording can be read without it"),
        "{text}"
    );
}

#[test]
fn garbage_between_chunks_is_skipped() {
    let (bytes, starts) = recording(6, false);
    let mut rng = Rng::new(3);
    let at = starts[3];
    let garbage = rng.bytes(1_000);
    let spliced = [&bytes[..at], &garbage[..], &bytes[at..]].concat();
    let recording = read_recording(&spliced[..]).unwrap();
    assert_eq!(seqs(&recording), [0, 1, 2, 3, 4, 5]);
    assert_eq!(
        recording.warnings,
        [ReadWarning::Damaged {
            offset: at as u64,
            skipped: 1_000,
            lost: Lost {
                after: mark(1, 2 * SECOND),
                before: mark(2, 2 * SECOND),
            },
        }]
    );
}

#[test]
fn a_damaged_chunk_before_a_truncated_tail_is_reported_with_it() {
    let (mut bytes, starts) = recording(6, false);
    bytes[in_payload(&starts, 2)] ^= 0x20;
    // Cut inside seq 4's chunk (chunk 5).
    let cut = in_payload(&starts, 5);
    let recording = read_recording(&bytes[..cut]).unwrap();
    assert_eq!(seqs(&recording), [0, 2, 3]);
    assert!(
        matches!(
            recording.warnings[..],
            [
                ReadWarning::Damaged { .. },
                ReadWarning::Truncated { offset, complete_chunks: 4 }
            ] if offset == starts[5] as u64
        ),
        "{:?}",
        recording.warnings
    );
}

/// Garbage full of headers whose checksums match, each declaring a length that fits in the file,
/// would make the scan for the next chunk quadratic: the reader gives the rest up as damaged
/// after a bounded amount of checking.
#[test]
fn plausible_headers_in_garbage_cannot_make_resynchronisation_quadratic() {
    let (bytes, starts) = recording(2, false);
    let mut hostile = bytes[..starts[2]].to_vec();
    // A damaged chunk (header checksum wrong), then 8 MiB of back-to-back headers declaring
    // 4 MiB each: some 900 000 candidates of 4 MiB, about 3.5 TiB to checksum without a bound.
    hostile.extend_from_slice(&[0xff; CHUNK_HEADER_LEN]);
    let fake = header(4 << 20, 2);
    while hostile.len() < starts[2] + (8 << 20) {
        hostile.extend_from_slice(&fake);
    }
    let started = Instant::now();
    let recording = read_recording(&hostile[..]).unwrap();
    let took = started.elapsed();
    assert_eq!(seqs(&recording), [0]);
    assert!(
        matches!(
            recording.warnings[..],
            [ReadWarning::Damaged { offset, skipped, lost: Lost { before: None, .. } }]
                if offset == starts[2] as u64 && skipped == (hostile.len() - starts[2]) as u64
        ),
        "{:?}",
        recording.warnings
    );
    eprintln!("read the hostile input in {took:?}");
}

/// Damage after the end chunk costs nothing: it is not reported as lost intervals.
#[test]
fn garbage_after_the_end_chunk_loses_nothing() {
    let (bytes, _) = recording(3, false);
    let mut appended = bytes.clone();
    appended.extend_from_slice(&Rng::new(5).bytes(100));
    let recording = read_recording(&appended[..]).unwrap();
    assert_eq!(seqs(&recording), [0, 1, 2]);
    assert!(recording.end.is_some());
    assert_eq!(
        recording.warnings,
        [ReadWarning::TrailingBytes {
            offset: bytes.len() as u64,
            count: 100
        }]
    );
    assert!(recording.warnings[0]
        .to_string()
        .contains("100 bytes of unreadable data after its end chunk"));
}

/// Whatever chunks are damaged, and however many, exactly the intact ones are read: every
/// interval and samples chunk without a damaged byte, and the end chunk if it has none.
#[test]
fn random_damage_loses_exactly_the_damaged_chunks() {
    let (bytes, starts) = recording(20, true);
    // Chunk c (1-based after the meta chunk) is an interval for odd c, samples for even c, and
    // the last one is the end chunk.
    let end_chunk = starts.len() - 2;
    for seed in 0..300 {
        let mut rng = Rng::new(seed);
        let mut damaged = bytes.clone();
        let mut hit = vec![false; end_chunk + 1];
        for _ in 0..rng.range(1, 6) {
            let at = rng.range(starts[1] as u64, bytes.len() as u64) as usize;
            let chunk = starts.iter().rposition(|&s| s <= at).unwrap();
            damaged[at] ^= rng.range(1, 256) as u8;
            hit[chunk] = true;
        }
        let recording = read_recording(&damaged[..]).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        let intact = |kind: usize| -> Vec<u64> {
            (1..end_chunk)
                .filter(|&c| (c - 1) % 2 == kind && !hit[c])
                .map(|c| ((c - 1) / 2) as u64)
                .collect()
        };
        assert_eq!(seqs(&recording), intact(0), "seed {seed}: intervals");
        let samples: Vec<u64> = recording.samples.iter().map(|s| s.seq).collect();
        assert_eq!(samples, intact(1), "seed {seed}: samples");
        assert_eq!(recording.end.is_some(), !hit[end_chunk], "seed {seed}: end");
        assert!(
            recording
                .warnings
                .iter()
                .any(|w| matches!(w, ReadWarning::Damaged { .. })),
            "seed {seed}: {:?}",
            recording.warnings
        );
    }
}
