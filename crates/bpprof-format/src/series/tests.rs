use std::fs::File;
use std::io::BufWriter;

use super::*;
use crate::{
    read_file, ChannelDecl, ChannelInterval, EndChunk, EndpointRole, FrameDecl, RecordingMeta,
    RecordingWriter, SampleCount, StackDecl, SubtaskDecl, SubtaskInterval,
};

fn meta() -> RecordingMeta {
    RecordingMeta {
        start_unix_ns: 1_717_171_717_000_000_000,
        interval_ns: 1_000_000_000,
        host: "build-07".into(),
        pid: 4242,
        program: "wordcount".into(),
        sample_hz: 99,
        ..RecordingMeta::default()
    }
}

/// Interval `seq`, declaring the job when `declares` (the first of a file).
fn interval(seq: u64, declares: bool) -> IntervalChunk {
    let mut chunk = IntervalChunk {
        seq,
        start_ns: seq * 1_000_000_000,
        end_ns: (seq + 1) * 1_000_000_000,
        subtasks: vec![SubtaskInterval {
            id: 7,
            wall_ns: 1_000_000_000,
            idle_ns: seq * 1000,
            ..SubtaskInterval::default()
        }],
        channels: vec![ChannelInterval {
            id: 3,
            fill_samples: 100,
            ..ChannelInterval::default()
        }],
        ..IntervalChunk::default()
    };
    if declares {
        chunk.declared_tasks = vec![TaskDecl {
            name: "map".into(),
            parallelism: 1,
            unaccounted: false,
        }];
        chunk.declared_subtasks = vec![SubtaskDecl {
            id: 7,
            task: "map".into(),
            parallelism: 1,
            ..SubtaskDecl::default()
        }];
        chunk.declared_channels = vec![ChannelDecl {
            id: 3,
            name: "in".into(),
            capacity: 64,
        }];
        chunk.endpoints = vec![ChannelEndpoint {
            channel: 3,
            subtask: 7,
            role: EndpointRole::Receiver,
        }];
        chunk.warnings = vec![RuntimeWarning {
            code: "registration".into(),
            message: "registered twice".into(),
        }];
    }
    chunk
}

/// The samples of interval `seq`, declaring the frames and stack when `declares`.
fn samples(seq: u64, declares: bool) -> SamplesChunk {
    SamplesChunk {
        seq,
        start_ns: seq * 1_000_000_000,
        end_ns: (seq + 1) * 1_000_000_000,
        frames: if declares {
            vec![
                FrameDecl {
                    id: 0,
                    function: "main".into(),
                    ..FrameDecl::default()
                },
                FrameDecl {
                    id: 1,
                    function: "work".into(),
                    ..FrameDecl::default()
                },
            ]
        } else {
            Vec::new()
        },
        stacks: if declares {
            vec![StackDecl {
                id: 0,
                frames: vec![0, 1],
            }]
        } else {
            Vec::new()
        },
        counts: vec![SampleCount {
            subtask: 7,
            stack: 0,
            count: 5,
            on_cpu: true,
            ..SampleCount::default()
        }],
        ..SamplesChunk::default()
    }
}

/// Writes intervals `seqs` to `path` as a file of a series (declaring everything in its first
/// interval); finished with an end chunk when `finish`.
fn write(path: &Path, meta: &RecordingMeta, seqs: std::ops::Range<u64>, finish: bool) {
    let out = BufWriter::new(File::create(path).unwrap());
    let mut writer = RecordingWriter::new(out, meta).unwrap();
    let first = seqs.start;
    for seq in seqs.clone() {
        writer.write_interval(&interval(seq, seq == first)).unwrap();
        writer.write_samples(&samples(seq, seq == first)).unwrap();
    }
    if finish {
        writer
            .finish(&EndChunk {
                end_ns: seqs.end * 1_000_000_000,
                chunks: seqs.end,
                coalesced_intervals: 0,
            })
            .unwrap();
    }
}

fn has_gap(recording: &Recording) -> bool {
    recording
        .warnings
        .iter()
        .any(|w| matches!(w, ReadWarning::SeriesGap { .. }))
}

#[test]
fn series_files_are_named_after_the_base_with_six_digits() {
    let base = Path::new("/tmp/runs/out.bpprof");
    assert_eq!(
        series_file(base, 0),
        Path::new("/tmp/runs/out.000000.bpprof")
    );
    assert_eq!(
        series_file(base, 42),
        Path::new("/tmp/runs/out.000042.bpprof")
    );
    assert_eq!(
        series_file(Path::new("out"), 1_234_567),
        Path::new("out.1234567.bpprof")
    );
    assert_eq!(series_part(base, &series_file(base, 42)), Some(42));
    assert_eq!(series_part(base, Path::new("out.42.bpprof")), None);
    assert_eq!(series_part(base, Path::new("other.000001.bpprof")), None);
    assert_eq!(series_part(base, Path::new("out.00000x.bpprof")), None);
    assert_eq!(series_part(base, Path::new("out.bpprof")), None);
}

#[test]
fn a_series_is_named_by_its_directory_a_glob_or_its_base_name() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("out.bpprof");
    for part in 0..3 {
        write(
            &series_file(&base, part),
            &meta(),
            part * 4..part * 4 + 4,
            true,
        );
    }
    std::fs::write(dir.path().join("notes.txt"), "not a recording").unwrap();
    let expected: Vec<PathBuf> = (0..3).map(|p| series_file(&base, p)).collect();
    assert_eq!(recording_files(dir.path()).unwrap(), expected);
    assert_eq!(recording_files(&base).unwrap(), expected);
    let pattern = dir.path().join("out.*.bpprof");
    assert_eq!(recording_files(&pattern).unwrap(), expected);
    // One file is itself, and so is a path that names nothing (reading it then fails).
    assert_eq!(
        recording_files(&expected[1]).unwrap(),
        vec![expected[1].clone()]
    );
    let missing = dir.path().join("missing.bpprof");
    assert_eq!(recording_files(&missing).unwrap(), vec![missing.clone()]);
    assert!(matches!(read_path(&missing), Err(ReadError::Io(_))));
}

#[test]
fn a_bad_pattern_an_unmatched_one_and_an_empty_directory_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let empty = recording_files(dir.path()).unwrap_err();
    assert!(
        matches!(empty, SeriesError::EmptyDirectory { .. }),
        "{empty}"
    );
    let unmatched = recording_files(&dir.path().join("*.bpprof")).unwrap_err();
    assert!(
        matches!(unmatched, SeriesError::NoMatch { .. }),
        "{unmatched}"
    );
    let bad = recording_files(&dir.path().join("out.[.bpprof")).unwrap_err();
    assert!(matches!(bad, SeriesError::BadPattern { .. }), "{bad}");
    for error in [empty, unmatched, bad] {
        assert!(!error.to_string().contains('\n'), "one line: {error}");
    }
    assert!(matches!(
        read_path(dir.path()),
        Err(ReadError::Series(SeriesError::EmptyDirectory { .. }))
    ));
}

#[test]
fn a_series_reads_as_the_recording_it_was_cut_from() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("out.bpprof");
    // Given out of order on purpose: the files are joined in the order of their intervals.
    write(&series_file(&base, 1), &meta(), 4..8, true);
    write(&series_file(&base, 0), &meta(), 0..4, true);
    write(&series_file(&base, 2), &meta(), 8..10, false);
    let whole = dir.path().join("whole.bpprof");
    write(&whole, &meta(), 0..10, false);
    let whole = read_file(&whole).unwrap();

    let joined = read_path(&base).unwrap();
    assert_eq!(joined.meta, whole.meta);
    assert_eq!(joined.intervals, whole.intervals, "declarations kept once");
    assert_eq!(joined.samples, whole.samples, "frames and stacks kept once");
    assert_eq!(
        joined.warnings, whole.warnings,
        "the runtime warning once, the newest file's NotFinalised plain"
    );
    assert!(!has_gap(&joined));
}

#[test]
fn files_of_two_recordings_are_refused_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("out.bpprof");
    write(&series_file(&base, 0), &meta(), 0..4, true);
    let other = RecordingMeta { pid: 999, ..meta() };
    write(&series_file(&base, 1), &other, 4..8, true);
    match read_path(&base) {
        Err(ReadError::Series(SeriesError::NotOneRecording { first, other })) => {
            assert!(first.ends_with("out.000000.bpprof"), "{first}");
            assert!(other.ends_with("out.000001.bpprof"), "{other}");
        }
        other => panic!("expected NotOneRecording, got {other:?}"),
    }
}

#[test]
fn a_missing_file_in_the_middle_is_a_gap_but_not_in_a_ranged_read() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("out.bpprof");
    write(&series_file(&base, 0), &meta(), 0..4, true);
    write(&series_file(&base, 2), &meta(), 8..10, true);
    let joined = read_path(&base).unwrap();
    let gaps: Vec<&ReadWarning> = joined
        .warnings
        .iter()
        .filter(|w| matches!(w, ReadWarning::SeriesGap { .. }))
        .collect();
    match gaps[..] {
        [ReadWarning::SeriesGap { lost }] => {
            assert_eq!(lost.intervals(), Some((4, Some(7))));
            assert_eq!(lost.time_range(), (4_000_000_000, Some(8_000_000_000)));
        }
        _ => panic!("expected one gap: {:?}", joined.warnings),
    }
    let ranged = read_path_with(
        &base,
        &ReadOptions {
            from_ns: Some(8_500_000_000),
            ..ReadOptions::default()
        },
    )
    .unwrap();
    assert!(!has_gap(&ranged), "{:?}", ranged.warnings);
    assert!(ranged.intervals.iter().any(|i| i.seq == 9));
}

#[test]
fn warnings_of_a_file_name_it_and_an_empty_newest_file_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("out.bpprof");
    // An older file that was not finalised, and a newest file the recorder was killed creating.
    write(&series_file(&base, 0), &meta(), 0..4, false);
    write(&series_file(&base, 1), &meta(), 4..8, true);
    std::fs::write(series_file(&base, 2), b"").unwrap();
    let joined = read_path(dir.path()).unwrap();
    assert_eq!(joined.intervals.len(), 8);
    let in_file = |w: &ReadWarning, file: &str, inner: fn(&ReadWarning) -> bool| match w {
        ReadWarning::InFile { file: f, warning } => f.ends_with(file) && inner(warning),
        _ => false,
    };
    assert!(joined
        .warnings
        .iter()
        .any(|w| in_file(w, "out.000000.bpprof", |w| {
            *w == ReadWarning::NotFinalised
        })));
    assert!(joined
        .warnings
        .iter()
        .any(|w| in_file(w, "out.000002.bpprof", |w| {
            matches!(
                w,
                ReadWarning::Truncated {
                    complete_chunks: 0,
                    ..
                }
            )
        })));
    assert!(!joined.warnings.contains(&ReadWarning::NotFinalised));
}

#[test]
fn one_plain_file_reads_as_read_file_does() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plain.bpprof");
    write(&path, &meta(), 0..5, false);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 7]).unwrap();
    let alone = read_file(&path).unwrap();
    assert!(!alone.warnings.is_empty());
    assert_eq!(read_path(&path).unwrap(), alone);
}
