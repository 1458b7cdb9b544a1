//! Properties of the recording format: round trip, truncation, corruption, hostile input,
//! compatibility and the size budget.

use std::cell::RefCell;
use std::io::{self, Write};
use std::rc::Rc;

mod common;

use bpprof_format::*;
use common::{frame, header, meta, Rng};

const SECOND: u64 = 1_000_000_000;

/// One realistic interval of `subtasks` subtasks (ids `0..subtasks`) and `channels` channels;
/// declarations only when `seq == 0`.
fn interval(rng: &mut Rng, seq: u64, subtasks: u32, channels: u32) -> IntervalChunk {
    let mut chunk = IntervalChunk {
        seq,
        start_ns: seq * SECOND,
        end_ns: (seq + 1) * SECOND + rng.range(0, 2_000_000),
        coalesced: u32::from(rng.range(0, 50) == 0),
        ..Default::default()
    };
    if seq == 0 {
        let tasks = ["source", "parse", "count", "sink"];
        let per_task = subtasks / tasks.len() as u32;
        chunk.declared_tasks = tasks
            .iter()
            .map(|t| TaskDecl {
                name: (*t).into(),
                parallelism: per_task,
                unaccounted: *t == "sink",
            })
            .collect();
        chunk.declared_subtasks = (0..subtasks)
            .map(|id| SubtaskDecl {
                id,
                task: tasks[(id / per_task.max(1)) as usize % tasks.len()].into(),
                index: id % per_task.max(1),
                parallelism: per_task,
                tid: 41_300 + id,
                registered_ns: rng.range(0, 5_000_000),
            })
            .collect();
        chunk.declared_channels = (0..channels)
            .map(|id| ChannelDecl {
                id,
                name: format!("{}->{}", tasks[id as usize % 3], tasks[id as usize % 3 + 1]),
                capacity: 1024,
            })
            .collect();
        chunk.declared_edges = vec![EdgeDecl {
            from: "count".into(),
            to: "sink".into(),
            channel: None,
            partitioning: "forward".into(),
        }];
        chunk.endpoints = (0..channels)
            .flat_map(|c| {
                [
                    ChannelEndpoint {
                        channel: c,
                        subtask: c,
                        role: EndpointRole::Sender,
                    },
                    ChannelEndpoint {
                        channel: c,
                        subtask: c + 1,
                        role: EndpointRole::Receiver,
                    },
                ]
            })
            .collect();
    }
    chunk.subtasks = (0..subtasks)
        .map(|id| {
            let wall_ns = SECOND - rng.range(0, 1_000);
            let idle_ns = rng.range(100_000_000, 600_000_000);
            let backpressured_ns = rng.range(100_000_000, 400_000_000);
            SubtaskInterval {
                id,
                wall_ns,
                idle_ns,
                backpressured_ns,
                cpu_ns: rng.range(100_000_000, 900_000_000),
                runqueue_ns: Some(rng.range(1_000_000, 50_000_000)),
                max_idle_stall_ns: rng.range(1_000_000, idle_ns),
                max_backpressure_stall_ns: rng.range(1_000_000, backpressured_ns),
                records_in: rng.range(10_000, 1_000_000),
                records_out: rng.range(10_000, 1_000_000),
                ended: false,
            }
        })
        .collect();
    chunk.channels = (0..channels)
        .map(|id| ChannelInterval {
            id,
            fill_samples: 1_000,
            fill_sum: rng.range(0, 1_024_000),
            max_fill: rng.range(0, 1_025),
            blocked_sends: rng.range(0, 10_000),
            blocked_recvs: rng.range(0, 10_000),
        })
        .collect();
    chunk
}

fn intervals(n: u64, subtasks: u32, channels: u32) -> Vec<IntervalChunk> {
    let mut rng = Rng::new(7);
    (0..n)
        .map(|seq| interval(&mut rng, seq, subtasks, channels))
        .collect()
}

fn end_chunk(n: u64) -> EndChunk {
    EndChunk {
        end_ns: n * SECOND,
        chunks: n,
        coalesced_intervals: 3,
    }
}

/// A `Write` whose bytes stay visible while a `RecordingWriter` owns it.
#[derive(Clone, Default)]
struct Shared(Rc<RefCell<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Writes a recording and returns its bytes and the offset where each chunk ends (meta first).
fn write(intervals: &[IntervalChunk], end: Option<&EndChunk>) -> (Vec<u8>, Vec<usize>) {
    let out = Shared::default();
    let len = || out.0.borrow().len();
    let mut writer = RecordingWriter::new(out.clone(), &meta()).unwrap();
    let mut ends = vec![len()];
    for chunk in intervals {
        writer.write_interval(chunk).unwrap();
        ends.push(len());
    }
    match end {
        Some(end) => {
            writer.finish(end).unwrap();
            ends.push(len());
        }
        None => drop(writer),
    }
    let mut bytes = out.0.borrow().clone();
    // `finish` writes the index and its locator (kinds 6 and 7) before the end chunk; these
    // tests are about the chunks a scan reads, so they are taken out (a file as a writer killed
    // before finishing leaves it, plus the end chunk). `tests/index.rs` tests them.
    if let Some(&last) = ends.last().filter(|_| end.is_some()) {
        let mut at = ends[ends.len() - 2];
        while at < bytes.len() {
            let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
            let next = at + CHUNK_HEADER_LEN + len + CHUNK_TRAILER_LEN;
            if matches!(bytes[at + 4], 6 | 7) {
                bytes.drain(at..next);
            } else {
                at = next;
            }
        }
        *ends.last_mut().unwrap() = bytes.len();
        assert!(bytes.len() <= last);
    }
    (bytes, ends)
}

fn preamble(major: u16, minor: u16) -> Vec<u8> {
    let mut bytes = b"\x89BPPROF\n".to_vec();
    bytes.extend_from_slice(&major.to_le_bytes());
    bytes.extend_from_slice(&minor.to_le_bytes());
    bytes.extend_from_slice(&[0; 4]);
    bytes
}

fn meta_chunk() -> Vec<u8> {
    frame(1, &postcard::to_stdvec(&meta()).unwrap())
}

fn read(bytes: &[u8]) -> Result<Recording, ReadError> {
    read_recording(bytes)
}

fn is_corrupt(result: &Result<Recording, ReadError>) -> bool {
    matches!(result, Err(ReadError::Corrupt { .. }))
}

#[test]
fn round_trip_keeps_every_chunk() {
    let written = intervals(20, 16, 4);
    let end = end_chunk(20);
    let (bytes, _) = write(&written, Some(&end));

    let recording = read(&bytes).unwrap();
    assert_eq!(recording.version, (FORMAT_MAJOR, FORMAT_MINOR));
    assert_eq!(recording.meta, meta());
    assert_eq!(recording.intervals, written);
    assert_eq!(recording.end, Some(end));
    assert_eq!(recording.warnings, []);
}

#[test]
fn recording_without_end_chunk_is_not_finalised() {
    let written = intervals(3, 4, 1);
    let (bytes, _) = write(&written, None);
    let recording = read(&bytes).unwrap();
    assert_eq!(recording.intervals, written);
    assert_eq!(recording.end, None);
    assert_eq!(recording.warnings, [ReadWarning::NotFinalised]);
}

#[test]
fn truncation_at_every_offset_keeps_the_complete_chunks() {
    let written = intervals(6, 8, 2);
    let end = end_chunk(6);
    let (bytes, ends) = write(&written, Some(&end));
    let meta_end = ends[0];

    for cut in 0..=bytes.len() {
        let result = read(&bytes[..cut]);
        if cut == 0 {
            assert!(
                matches!(result, Err(ReadError::Empty)),
                "cut {cut}: {result:?}"
            );
            continue;
        }
        if cut < meta_end {
            assert!(
                matches!(result, Err(ReadError::TruncatedHeader { offset }) if offset == cut as u64),
                "cut {cut}: {result:?}"
            );
            continue;
        }
        let recording = result.unwrap_or_else(|e| panic!("cut {cut}: {e}"));
        let complete = ends.iter().filter(|&&e| e <= cut).count();
        let complete_intervals = (complete - 1).min(written.len());
        assert_eq!(recording.meta, meta(), "cut {cut}");
        assert_eq!(
            recording.intervals,
            written[..complete_intervals],
            "cut {cut}"
        );
        let expected = if cut == bytes.len() {
            vec![]
        } else if ends.contains(&cut) {
            vec![ReadWarning::NotFinalised]
        } else {
            vec![ReadWarning::Truncated {
                offset: ends[complete - 1] as u64,
                complete_chunks: complete as u64,
            }]
        };
        assert_eq!(recording.warnings, expected, "cut {cut}");
        assert_eq!(recording.end.is_some(), cut == bytes.len(), "cut {cut}");
    }
}

/// Before: one flipped bit anywhere made the whole file unreadable (`Corrupt`). Now only the
/// meta chunk is needed whole; a flip in any other chunk skips exactly that chunk, with a warning
/// naming the intervals around it, and every other chunk is read unchanged.
#[test]
fn every_single_bit_flip_skips_exactly_its_chunk_or_fails_in_the_meta_chunk() {
    let written = intervals(3, 4, 2);
    let end = end_chunk(3);
    let (bytes, ends) = write(&written, Some(&end));
    for byte in PREAMBLE_LEN..bytes.len() {
        // The chunk the byte is in: 0 = meta, 1..=3 the intervals, 4 the end chunk.
        let chunk = ends.iter().position(|&e| byte < e).unwrap();
        let start = if chunk == 0 {
            PREAMBLE_LEN
        } else {
            ends[chunk - 1]
        };
        for bit in 0..8 {
            let mut flipped = bytes.clone();
            flipped[byte] ^= 1 << bit;
            let result = read(&flipped);
            if chunk == 0 {
                assert!(
                    matches!(&result, Err(ReadError::Corrupt { offset: 16, index: 0, reason }) if reason.contains("meta chunk is damaged")),
                    "byte {byte} bit {bit}: {result:?}"
                );
                continue;
            }
            let recording = result.unwrap_or_else(|e| panic!("byte {byte} bit {bit}: {e}"));
            let mark = |i: usize, ns: u64| IntervalMark { seq: i as u64, ns };
            let (kept, lost, undeclared, end_read) = if chunk <= written.len() {
                let i = chunk - 1;
                let kept: Vec<IntervalChunk> = written
                    .iter()
                    .enumerate()
                    .filter(|&(j, _)| j != i)
                    .map(|(_, c)| c.clone())
                    .collect();
                let after = i.checked_sub(1).map(|p| mark(p, written[p].end_ns));
                let before = match written.get(i + 1) {
                    Some(next) => mark(i + 1, next.start_ns),
                    None => mark(written.len(), end.end_ns),
                };
                let lost = Lost {
                    after,
                    before: Some(before),
                };
                // Every interval accounts for every subtask and channel, so those declared in
                // the lost chunk are referred to by the others.
                let (subtasks, channels) = (
                    written[i].declared_subtasks.len() as u64,
                    written[i].declared_channels.len() as u64,
                );
                let undeclared = (subtasks + channels > 0)
                    .then_some(ReadWarning::LostDeclarations { subtasks, channels });
                (kept, lost, undeclared, Some(end.clone()))
            } else {
                let last = written.len() - 1;
                let lost = Lost {
                    after: Some(mark(last, written[last].end_ns)),
                    before: None,
                };
                (written.clone(), lost, None, None)
            };
            assert_eq!(recording.intervals, kept, "byte {byte} bit {bit}");
            assert_eq!(recording.end, end_read, "byte {byte} bit {bit}");
            let damaged = ReadWarning::Damaged {
                offset: start as u64,
                skipped: (ends[chunk] - start) as u64,
                lost,
            };
            let expected: Vec<ReadWarning> = std::iter::once(damaged).chain(undeclared).collect();
            assert_eq!(recording.warnings, expected, "byte {byte} bit {bit}");
        }
    }
}

#[test]
fn bit_flips_in_magic_or_major_are_rejected() {
    let (bytes, _) = write(&intervals(1, 2, 1), Some(&end_chunk(1)));
    for byte in 0..10 {
        for bit in 0..8 {
            let mut flipped = bytes.clone();
            flipped[byte] ^= 1 << bit;
            let result = read(&flipped);
            let expected = if byte < 8 {
                matches!(result, Err(ReadError::NotARecording))
            } else {
                matches!(result, Err(ReadError::UnsupportedVersion { .. }))
            };
            assert!(expected, "byte {byte} bit {bit}: {result:?}");
        }
    }
}

#[test]
fn random_bytes_never_panic() {
    for seed in 0..4_000 {
        let mut rng = Rng::new(seed);
        let len = match seed % 4 {
            0 => rng.range(0, 16),
            1 => rng.range(0, 200),
            2 => rng.range(0, 2_000),
            _ => rng.range(0, 20_000),
        } as usize;
        let bytes = rng.bytes(len);
        let result = read(&bytes);
        if !bytes.is_empty() && bytes[0] != 0x89 {
            assert!(
                matches!(result, Err(ReadError::NotARecording)),
                "seed {seed}: {result:?}"
            );
        }

        // The same bytes after a valid preamble, and after a valid preamble and meta chunk.
        let mut after_preamble = preamble(1, 0);
        after_preamble.extend_from_slice(&bytes);
        let _ = read(&after_preamble);
        let mut after_meta = preamble(1, 0);
        after_meta.extend_from_slice(&meta_chunk());
        after_meta.extend_from_slice(&bytes);
        let result = read(&after_meta);
        assert!(
            result.is_ok() || is_corrupt(&result),
            "seed {seed}: {result:?}"
        );
    }
}

/// Hostile input can carry valid checksums: random payloads in correctly framed chunks reach the
/// payload decoder, which must fail cleanly.
#[test]
fn random_payloads_with_valid_checksums_never_panic() {
    for seed in 0..4_000 {
        let mut rng = Rng::new(seed);
        let mut bytes = preamble(1, rng.range(0, 3) as u16);
        if seed % 8 == 0 {
            let len = rng.range(0, 100) as usize;
            bytes.extend_from_slice(&frame(1, &rng.bytes(len)));
        } else {
            bytes.extend_from_slice(&meta_chunk());
        }
        for _ in 0..rng.range(1, 5) {
            let kind = rng.range(0, 6) as u8;
            let len = rng.range(0, if seed % 2 == 0 { 40 } else { 3_000 }) as usize;
            let mut payload = rng.bytes(len);
            // Often start from a valid payload, so decoding gets deep before it fails.
            if seed % 3 == 0 && kind == 2 {
                payload = postcard::to_stdvec(&interval(&mut rng, 0, 4, 2)).unwrap();
                let at = rng.range(0, payload.len() as u64) as usize;
                payload[at] = rng.next() as u8;
                payload.truncate(rng.range(at as u64, payload.len() as u64 + 1) as usize);
            }
            bytes.extend_from_slice(&frame(kind, &payload));
        }
        let _ = read(&bytes);
    }
}

#[test]
fn declared_lengths_beyond_the_limit_are_corrupt() {
    for len in [MAX_CHUNK_PAYLOAD + 1, u32::MAX] {
        let mut bytes = preamble(1, 0);
        bytes.extend_from_slice(&meta_chunk());
        bytes.extend_from_slice(&header(len, 2));
        bytes.extend_from_slice(b"tiny");
        let result = read(&bytes);
        assert!(is_corrupt(&result), "length {len}: {result:?}");
    }
}

#[test]
fn declared_length_at_the_limit_in_a_tiny_file_is_truncation() {
    let mut bytes = preamble(1, 0);
    let meta = meta_chunk();
    bytes.extend_from_slice(&meta);
    bytes.extend_from_slice(&header(MAX_CHUNK_PAYLOAD, 2));
    bytes.extend_from_slice(b"tiny");
    let recording = read(&bytes).unwrap();
    assert_eq!(
        recording.warnings,
        [ReadWarning::Truncated {
            offset: (PREAMBLE_LEN + meta.len()) as u64,
            complete_chunks: 1
        }]
    );

    let mut bytes = preamble(1, 0);
    bytes.extend_from_slice(&header(MAX_CHUNK_PAYLOAD - 1, 1));
    bytes.extend_from_slice(b"tiny");
    let result = read(&bytes);
    assert!(
        matches!(result, Err(ReadError::TruncatedHeader { offset: 29 })),
        "{result:?}"
    );
}

#[test]
fn newer_major_is_unsupported() {
    let mut bytes = preamble(2, 0);
    bytes.extend_from_slice(&meta_chunk());
    let result = read(&bytes);
    assert!(
        matches!(
            result,
            Err(ReadError::UnsupportedVersion { major: 2, minor: 0 })
        ),
        "{result:?}"
    );
}

#[test]
fn older_major_is_unsupported() {
    let mut bytes = preamble(0, 9);
    bytes.extend_from_slice(&meta_chunk());
    let result = read(&bytes);
    assert!(
        matches!(
            result,
            Err(ReadError::UnsupportedVersion { major: 0, minor: 9 })
        ),
        "{result:?}"
    );
}

#[test]
fn newer_minor_with_unknown_kinds_and_trailing_fields_reads() {
    let written = intervals(2, 4, 2);
    let end = end_chunk(2);
    let with_trailing = |bytes: Vec<u8>| [bytes, vec![0xde, 0xad, 0xbe, 0xef]].concat();

    let mut bytes = preamble(1, 3);
    bytes.extend_from_slice(&frame(
        1,
        &with_trailing(postcard::to_stdvec(&meta()).unwrap()),
    ));
    bytes.extend_from_slice(&frame(
        2,
        &with_trailing(postcard::to_stdvec(&written[0]).unwrap()),
    ));
    bytes.extend_from_slice(&frame(200, b"a chunk kind from the future"));
    bytes.extend_from_slice(&frame(
        2,
        &with_trailing(postcard::to_stdvec(&written[1]).unwrap()),
    ));
    bytes.extend_from_slice(&frame(250, &[]));
    bytes.extend_from_slice(&frame(
        3,
        &with_trailing(postcard::to_stdvec(&end).unwrap()),
    ));

    let recording = read(&bytes).unwrap();
    assert_eq!(recording.version, (1, 3));
    assert_eq!(recording.meta, meta());
    assert_eq!(recording.intervals, written);
    assert_eq!(recording.end, Some(end));
    assert_eq!(
        recording.warnings,
        [ReadWarning::UnknownChunks {
            count: 2,
            major: 1,
            minor: 3
        }]
    );
}

/// An interval chunk with operators, their busy time and their calls.
fn interval_with_operators(seq: u64) -> IntervalChunk {
    let mut chunk = intervals(seq + 1, 4, 2).pop().unwrap();
    chunk.declared_operators = vec![
        OperatorDecl {
            subtask: 1,
            id: 0,
            name: "Parse".into(),
        },
        OperatorDecl {
            subtask: 1,
            id: 1,
            name: "Enrich".into(),
        },
    ];
    chunk.operators = vec![
        OperatorInterval {
            subtask: 1,
            id: 0,
            busy_ns: 20_000_000,
        },
        OperatorInterval {
            subtask: 1,
            id: 1,
            busy_ns: 900_000_000,
        },
    ];
    chunk.operator_calls = vec![
        OperatorCalls {
            subtask: 1,
            id: 0,
            calls: 12_000,
        },
        OperatorCalls {
            subtask: 1,
            id: 1,
            calls: 10_500,
        },
    ];
    chunk
}

/// The payload of `chunk` as format 1.2 wrote it: without the field 1.3 appended (`polls`),
/// which must be empty in `chunk`.
fn payload_1_2(chunk: &IntervalChunk) -> Vec<u8> {
    let mut payload = postcard::to_stdvec(chunk).unwrap();
    // An empty sequence is its element count, a single zero byte.
    assert_eq!(payload.pop(), Some(0));
    payload
}

/// The payload of `chunk` as format 1.1 wrote it: also without the five fields 1.2 appended
/// (`waits`, `blocking`, `fills`, `warnings`, `declared_links`), which must be empty in `chunk`.
fn payload_1_1(chunk: &IntervalChunk) -> Vec<u8> {
    let mut payload = payload_1_2(chunk);
    for _ in 0..5 {
        assert_eq!(payload.pop(), Some(0));
    }
    payload
}

/// The payload of `chunk` as format 1.0 wrote it: also without `operator_calls`.
fn payload_1_0(chunk: &IntervalChunk) -> Vec<u8> {
    let without_calls = IntervalChunk {
        operator_calls: Vec::new(),
        ..chunk.clone()
    };
    let mut payload = payload_1_1(&without_calls);
    assert_eq!(payload.pop(), Some(0));
    payload
}

#[test]
fn operator_calls_round_trip() {
    let written = [interval_with_operators(0), interval_with_operators(1)];
    let (bytes, _) = write(&written, Some(&end_chunk(2)));
    let recording = read(&bytes).unwrap();
    assert_eq!(recording.version, (FORMAT_MAJOR, FORMAT_MINOR));
    assert_eq!(recording.intervals, written);
    assert_eq!(recording.warnings, []);
}

/// An interval with every field format 1.2 added.
fn interval_with_waits(seq: u64) -> IntervalChunk {
    let mut chunk = interval_with_operators(seq);
    chunk.waits = vec![ChannelWait {
        subtask: 1,
        channel: 0,
        role: EndpointRole::Receiver,
        wait_ns: 300_000_000,
        waits: 1_200,
    }];
    chunk.blocking = vec![SubtaskBlocking {
        id: 1,
        wake_ns: 40_000_000,
        blocked_cpu_ns: 2_000_000,
    }];
    chunk.fills = vec![ChannelFill {
        id: 0,
        empty_samples: 61,
        full_samples: 3,
    }];
    chunk.warnings = vec![RuntimeWarning {
        code: "registration".to_owned(),
        message: "bpprof::register(\"Enrich\", 5, 4): index 5 is not below the parallelism 4"
            .to_owned(),
    }];
    chunk
}

#[test]
fn waits_blocking_fills_and_warnings_round_trip() {
    let written = [interval_with_waits(0), interval_with_waits(1)];
    let (bytes, _) = write(&written, Some(&end_chunk(2)));
    let recording = read(&bytes).unwrap();
    assert_eq!(recording.intervals, written);
    // The runtime's warning is the recording's, once.
    assert_eq!(
        recording.warnings,
        [ReadWarning::Runtime {
            code: "registration".to_owned(),
            message: written[0].warnings[0].message.clone(),
        }]
    );
}

/// An interval with the field format 1.3 added.
fn interval_with_polls(seq: u64) -> IntervalChunk {
    let mut chunk = interval_with_waits(seq);
    chunk.polls = vec![SubtaskPolls {
        id: 1,
        polls: 1_200,
        polled_ns: 700_000_000,
        max_poll_ns: 9_000_000,
    }];
    chunk
}

#[test]
fn polls_and_samples_between_polls_round_trip() {
    let written = [interval_with_polls(0), interval_with_polls(1)];
    let mut samples = Vec::new();
    let mut writer = RecordingWriter::new(&mut samples, &meta()).unwrap();
    writer.write_interval(&written[0]).unwrap();
    writer
        .write_samples(&SamplesChunk {
            between_polls: 17,
            ..SamplesChunk::default()
        })
        .unwrap();
    writer.write_interval(&written[1]).unwrap();
    writer.finish(&end_chunk(2)).unwrap();
    let recording = read(&samples).unwrap();
    assert_eq!(recording.intervals, written);
    assert_eq!(recording.samples[0].between_polls, 17);
}

/// A recording written by format 1.2 reads with the fields added in 1.3 empty, and a 1.3
/// payload without them is corrupt.
#[test]
fn recording_of_format_1_2_reads_without_polls() {
    let written = [interval_with_waits(0), interval_with_waits(1)];
    let mut bytes = preamble(1, 2);
    bytes.extend_from_slice(&meta_chunk());
    for chunk in &written {
        bytes.extend_from_slice(&frame(2, &payload_1_2(chunk)));
    }
    let mut samples = postcard::to_stdvec(&SamplesChunk::default()).unwrap();
    assert_eq!(samples.pop(), Some(0), "between_polls is the last field");
    bytes.extend_from_slice(&frame(4, &samples));
    let recording = read(&bytes).unwrap();
    assert_eq!(recording.version, (1, 2));
    assert_eq!(recording.intervals, written);
    assert_eq!(recording.samples, [SamplesChunk::default()]);
    let mut newer = preamble(1, 3);
    newer.extend_from_slice(&meta_chunk());
    newer.extend_from_slice(&frame(2, &payload_1_2(&written[0])));
    assert!(is_corrupt(&read(&newer)), "{:?}", read(&newer));
}

/// A recording written by format 1.1 reads with the fields added in 1.2 empty.
#[test]
fn recording_of_format_1_1_reads_without_waits() {
    let written = [interval_with_operators(0), interval_with_operators(1)];
    let mut bytes = preamble(1, 1);
    bytes.extend_from_slice(&meta_chunk());
    for chunk in &written {
        bytes.extend_from_slice(&frame(2, &payload_1_1(chunk)));
    }
    let recording = read(&bytes).unwrap();
    assert_eq!(recording.version, (1, 1));
    assert_eq!(recording.intervals, written);
    // From 1.2 on, the payload must hold the new fields: the same bytes are corrupt there.
    let mut newer = preamble(1, 2);
    newer.extend_from_slice(&meta_chunk());
    newer.extend_from_slice(&frame(2, &payload_1_1(&written[0])));
    assert!(is_corrupt(&read(&newer)), "{:?}", read(&newer));
}

/// A recording written by format 1.0, whose interval payloads end after `operators`, reads with
/// empty `operator_calls` and everything else intact.
#[test]
fn recording_of_format_1_0_reads_without_operator_calls() {
    let written = [interval_with_operators(0), interval_with_operators(1)];
    let end = end_chunk(2);
    let mut bytes = preamble(1, 0);
    bytes.extend_from_slice(&meta_chunk());
    for chunk in &written {
        bytes.extend_from_slice(&frame(2, &payload_1_0(chunk)));
    }
    bytes.extend_from_slice(&frame(3, &postcard::to_stdvec(&end).unwrap()));

    let recording = read(&bytes).unwrap();
    assert_eq!(recording.version, (1, 0));
    assert_eq!(recording.meta, meta());
    assert_eq!(recording.end, Some(end));
    assert_eq!(recording.warnings, []);
    let expected: Vec<IntervalChunk> = written
        .iter()
        .map(|c| IntervalChunk {
            operator_calls: Vec::new(),
            ..c.clone()
        })
        .collect();
    assert_eq!(recording.intervals, expected);
    // A 1.0 interval cut inside its operators is still corrupt, not padded into something else.
    let mut cut = preamble(1, 0);
    cut.extend_from_slice(&meta_chunk());
    let payload = payload_1_0(&written[0]);
    cut.extend_from_slice(&frame(2, &payload[..payload.len() - 3]));
    assert!(is_corrupt(&read(&cut)), "{:?}", read(&cut));
}

/// From 1.1 on, an interval payload must hold `operator_calls`: a shorter one is corrupt.
#[test]
fn recording_of_format_1_1_needs_operator_calls() {
    let mut bytes = preamble(1, 1);
    bytes.extend_from_slice(&meta_chunk());
    bytes.extend_from_slice(&frame(2, &payload_1_0(&interval_with_operators(0))));
    let result = read(&bytes);
    assert!(is_corrupt(&result), "{result:?}");
}

#[test]
fn first_chunk_not_meta_is_corrupt() {
    for kind in [2, 3, 9] {
        let mut bytes = preamble(1, 0);
        bytes.extend_from_slice(&frame(
            kind,
            &postcard::to_stdvec(&intervals(1, 1, 1)[0]).unwrap(),
        ));
        bytes.extend_from_slice(&meta_chunk());
        let result = read(&bytes);
        assert!(
            matches!(
                result,
                Err(ReadError::Corrupt {
                    offset: 16,
                    index: 0,
                    ..
                })
            ),
            "kind {kind}: {result:?}"
        );
    }
}

#[test]
fn duplicate_meta_is_corrupt() {
    let mut bytes = preamble(1, 0);
    bytes.extend_from_slice(&meta_chunk());
    bytes.extend_from_slice(&frame(
        2,
        &postcard::to_stdvec(&intervals(1, 1, 1)[0]).unwrap(),
    ));
    bytes.extend_from_slice(&meta_chunk());
    let result = read(&bytes);
    assert!(
        matches!(result, Err(ReadError::Corrupt { index: 2, .. })),
        "{result:?}"
    );
}

#[test]
fn chunk_after_end_chunk_is_corrupt() {
    let (mut bytes, _) = write(&intervals(1, 1, 1), Some(&end_chunk(1)));
    for kind in [2, 3] {
        let payload = match kind {
            2 => postcard::to_stdvec(&intervals(2, 1, 1)[1]).unwrap(),
            _ => postcard::to_stdvec(&end_chunk(1)).unwrap(),
        };
        let mut bytes = bytes.clone();
        bytes.extend_from_slice(&frame(kind, &payload));
        let result = read(&bytes);
        assert!(is_corrupt(&result), "kind {kind}: {result:?}");
    }
    // A newer minor may put chunks of new kinds after the end chunk.
    bytes.extend_from_slice(&frame(50, b"future"));
    let recording = read(&bytes).unwrap();
    assert_eq!(
        recording.warnings,
        [ReadWarning::UnknownChunks {
            count: 1,
            major: 1,
            minor: FORMAT_MINOR
        }]
    );
}

#[test]
fn empty_file_is_empty() {
    assert!(matches!(read(b""), Err(ReadError::Empty)));
}

#[test]
fn text_file_is_not_a_recording() {
    for text in [
        &b"h"[..],
        b"hello",
        b"[package]\nname = \"bpprof\"\nversion = \"0.1.0\"\n",
    ] {
        let result = read(text);
        assert!(
            matches!(result, Err(ReadError::NotARecording)),
            "{result:?}"
        );
    }
}

#[test]
fn read_file_reads_what_the_writer_wrote() {
    let written = intervals(3, 4, 2);
    let (bytes, _) = write(&written, Some(&end_chunk(3)));
    let path =
        std::env::temp_dir().join(format!("bpprof-format-test-{}.bpprof", std::process::id()));
    std::fs::write(&path, &bytes).unwrap();
    let recording = read_file(&path);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(recording.unwrap().intervals, written);
    assert!(matches!(read_file(&path), Err(ReadError::Io(_))));
}

/// A writer that fails once, after `fail_after` bytes, leaving a torn chunk behind.
struct FailingOnce {
    bytes: Shared,
    fail_after: usize,
    failed: bool,
}

impl Write for FailingOnce {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let len = self.bytes.0.borrow().len();
        if !self.failed && len + buf.len() > self.fail_after {
            self.failed = true;
            self.bytes.write_all(&buf[..self.fail_after - len])?;
            return Err(io::Error::other("disk full"));
        }
        self.bytes.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// After a failed write the file ends in a torn chunk; appending more chunks after it would turn
/// a truncated recording into a corrupt one.
#[test]
fn writer_refuses_to_write_after_a_failed_write() {
    let written = intervals(3, 4, 1);
    let (_, ends) = write(&written, None);
    let bytes = Shared::default();
    let out = FailingOnce {
        bytes: bytes.clone(),
        fail_after: ends[1] + 10,
        failed: false,
    };
    let mut writer = RecordingWriter::new(out, &meta()).unwrap();
    writer.write_interval(&written[0]).unwrap();
    assert!(writer.write_interval(&written[1]).is_err());
    assert!(writer.write_interval(&written[2]).is_err());
    assert!(writer.finish(&end_chunk(3)).is_err());

    let recording = read(&bytes.0.borrow()).unwrap();
    assert_eq!(recording.intervals, written[..1]);
    assert_eq!(
        recording.warnings,
        [ReadWarning::Truncated {
            offset: ends[1] as u64,
            complete_chunks: 2
        }]
    );
}

/// One hour of 64 subtasks at 1-second intervals must stay well within a size a user can keep.
#[test]
fn one_hour_of_64_subtasks_fits_the_size_budget() {
    const BUDGET: usize = 20_000_000;
    let mut rng = Rng::new(3600);
    let mut writer = RecordingWriter::new(Vec::new(), &meta()).unwrap();
    for seq in 0..3_600 {
        writer
            .write_interval(&interval(&mut rng, seq, 64, 4))
            .unwrap();
    }
    let bytes = writer.finish(&end_chunk(3_600)).unwrap();
    println!(
        "one hour, 64 subtasks, 4 channels, 1 s intervals: {} bytes ({:.1} bytes per subtask interval)",
        bytes.len(),
        bytes.len() as f64 / (3_600.0 * 64.0)
    );
    assert!(
        bytes.len() < BUDGET,
        "{} bytes is over the budget of {BUDGET}",
        bytes.len()
    );
    let recording = read(&bytes).unwrap();
    assert_eq!(recording.intervals.len(), 3_600);
    assert_eq!(recording.warnings, []);
}

/// The worked example in `docs/format.md`: the spec and the writer agree byte for byte.
#[test]
fn end_chunk_bytes_match_the_specification_example() {
    let mut bytes = Vec::new();
    let writer = RecordingWriter::new(&mut bytes, &RecordingMeta::default()).unwrap();
    writer
        .finish(&EndChunk {
            end_ns: 1_000_000_000,
            chunks: 1,
            coalesced_intervals: 0,
        })
        .unwrap();
    assert_eq!(bytes[..12], *b"\x89BPPROF\n\x01\x00\x05\x00");
    let spec = [
        0x07, 0x00, 0x00, 0x00, 0x03, 0xb7, 0x7a, 0x0b, 0xed, 0x80, 0x94, 0xeb, 0xdc, 0x03, 0x01,
        0x00, 0x53, 0xe9, 0xf8, 0xa7,
    ];
    assert_eq!(bytes[bytes.len() - spec.len()..], spec);
}

/// Format 1.2 records how stacks were sampled; a 1.1 meta chunk, which ends after `sample_hz`,
/// still reads, with the sampler empty.
#[test]
fn the_meta_chunk_records_the_sampler_and_older_ones_still_read() {
    let with_sampler = RecordingMeta {
        sampler: "cpu-timer signal 23".into(),
        ..meta()
    };
    let mut bytes = Vec::new();
    let writer = RecordingWriter::new(&mut bytes, &with_sampler).unwrap();
    writer.finish(&end_chunk(0)).unwrap();
    assert_eq!(read(&bytes).unwrap().meta, with_sampler);

    let mut payload = postcard::to_stdvec(&meta()).unwrap();
    assert_eq!(
        payload.pop(),
        Some(0),
        "an empty sampler is one zero byte, at the end"
    );
    let mut old = preamble(1, 1);
    old.extend_from_slice(&frame(1, &payload));
    let recording = read(&old).unwrap();
    assert_eq!(recording.meta, meta());
}

/// Before: postcard's own text reached the user ("payload does not decode: Found a bool that
/// wasn't 0 or 1").
#[test]
fn undecodable_payloads_are_described_in_the_terms_of_the_format() {
    // An end chunk whose payload ends early, and a samples chunk whose `on_cpu` is 07.
    let mut samples = postcard::to_stdvec(&SamplesChunk {
        counts: vec![SampleCount {
            subtask: 1,
            state: SampleState::Busy,
            on_cpu: true,
            stack: 2,
            count: 3,
            operator: None,
        }],
        ..SamplesChunk::default()
    })
    .unwrap();
    // seq, start_ns, end_ns, no frames, no stacks, one count: subtask, state, then on_cpu.
    assert_eq!(samples[..9], [0, 0, 0, 0, 0, 1, 1, 0, 1]);
    samples[8] = 7;
    for (kind, payload, problem) in [
        (3, vec![0x80], "the end payload passes its checksums but does not decode (it ends before its last field)"),
        (4, samples, "the samples payload passes its checksums but does not decode (a true/false field holds a byte other than 00 or 01)"),
    ] {
        let mut bytes = preamble(1, 2);
        bytes.extend_from_slice(&meta_chunk());
        bytes.extend_from_slice(&frame(kind, &payload));
        let error = read(&bytes).unwrap_err();
        let text = error.to_string();
        assert!(text.contains(problem), "{text}");
        assert!(text.ends_with("it was written by a faulty or incompatible writer"), "{text}");
        assert!(!text.contains("Found a"), "{text}");
    }
}
