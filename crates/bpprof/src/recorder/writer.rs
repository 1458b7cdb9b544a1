//! The recorder's writer thread: appends each interval to the file as soon as the snapshot thread
//! hands it over, and its stack samples once they are symbolised, on a thread of their own. A
//! symbolisation can take a second or more (the first reads the binary's debug information);
//! intervals never wait for it, so a process killed meanwhile keeps every interval produced up to
//! its last moments, and loses at most the samples still being symbolised.
//!
//! With rotation, a file that is full is finished (its samples written first: a file's samples
//! follow its intervals) before the next interval, which goes to the next file of the series,
//! declaring again all that is in force (`rotation.rs`, `declarations.rs`).

use std::borrow::Cow;
#[cfg(feature = "http")]
use std::collections::VecDeque;
use std::fs::File;
use std::io::BufWriter;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;

use bpprof_format::{
    EndChunk, IntervalChunk, RecordingMeta, RecordingWriter, RuntimeWarning, SamplesChunk,
};
use crossbeam_channel::{bounded, never, select, unbounded, Receiver, Sender};

use super::declarations::Declarations;
use super::rotation::Series;
use super::shared::{Control, SYMBOLIZER_LOST, SYMBOLIZING};
use crate::sampler::{RawSamples, Symbolizer};

/// Messages from the snapshot thread to the writer.
pub(super) enum ToWriter {
    /// An interval, with its stack samples when sampling is on.
    Interval(Box<IntervalChunk>, Option<RawSamples>),
    End(EndChunk),
}

/// Intervals whose samples are being symbolised before the writer waits for one of them to be
/// written (bounds the raw samples held in memory; the writer then waits as it would if it
/// symbolised them itself).
const SYMBOLIZER_BACKLOG: usize = 32;

/// The samples of one interval, waiting to be symbolised.
struct Unsymbolized {
    seq: u64,
    start_ns: u64,
    end_ns: u64,
    samples: RawSamples,
    /// The file of the series its chunk goes to.
    file: u64,
}

/// Writes the recording from what `chunk_rx` brings until the end chunk (or a stop that gave up
/// on this thread), then marks the outcome finished. With `sampling`, stack samples come with the
/// intervals and a symbolizer thread is started for them. With `series`, the recording is
/// rotated: `writer` writes its first file, and each file starts with `meta`.
pub(super) fn write_loop(
    writer: RecordingWriter<BufWriter<File>>,
    chunk_rx: Receiver<ToWriter>,
    control: &Control,
    sampling: bool,
    series: Option<(Series, RecordingMeta)>,
) {
    std::thread::scope(|scope| {
        let mut samples = if sampling {
            start_symbolizer(scope, control)
        } else {
            // Never used: no interval brings samples.
            Samples::Inline(Box::default())
        };
        let mut file = FileOutput {
            writer: Some(writer),
            control,
            series: series.map(|(series, meta)| Rotating {
                series,
                meta,
                declarations: Declarations::default(),
                fresh: false,
            }),
            file_number: 0,
            in_file: InFile::default(),
            #[cfg(feature = "http")]
            tee: LiveTee::default(),
        };
        run(&mut file, &mut samples, &chunk_rx);
        // Dropping `samples` here ends the symbolizer, which the scope then joins.
    });
    control
        .outcome
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .finished = true;
    control.done.notify_all();
}

/// Starts the symbolizer thread; without one (the thread could not be created), the writer
/// symbolises (intervals then wait for it, as they did before).
fn start_symbolizer<'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    control: &'scope Control,
) -> Samples {
    let (raw_tx, raw_rx) = bounded::<Unsymbolized>(SYMBOLIZER_BACKLOG);
    // Unbounded, but never holding more than the backlog: the writer submits no more.
    let (done_tx, done_rx) = unbounded::<SamplesChunk>();
    let spawned = std::thread::Builder::new()
        .name("bpprof-symbols".into())
        .spawn_scoped(scope, move || {
            // A bug in symbolisation ends the samples, not the recording.
            let _ = std::panic::catch_unwind(AssertUnwindSafe(|| {
                symbolize_loop(&raw_rx, &done_tx, control);
            }));
        });
    match spawned {
        Ok(_) => Samples::Threaded {
            raw_tx: Some(raw_tx),
            done_rx,
            outstanding: 0,
        },
        Err(_) => Samples::Inline(Box::default()),
    }
}

/// Where the samples of an interval are symbolised.
enum Samples {
    /// On the symbolizer thread: submitted through `raw_tx` (`None` once the end came), written
    /// when they come back through `done_rx`; `outstanding` submitted and not yet back.
    Threaded {
        raw_tx: Option<Sender<Unsymbolized>>,
        done_rx: Receiver<SamplesChunk>,
        outstanding: usize,
    },
    /// On the writer thread, right after their interval.
    Inline(Box<Symbolizer>),
    /// Nowhere: the symbolizer thread failed; intervals are still written.
    Off,
}

/// The writer's loop: intervals as they come, samples as they are symbolised, the end chunk once
/// every submitted interval's samples are written.
fn run(file: &mut FileOutput<'_>, samples: &mut Samples, chunk_rx: &Receiver<ToWriter>) {
    let no_messages = never::<ToWriter>();
    let no_samples = never::<SamplesChunk>();
    let mut end: Option<EndChunk> = None;
    loop {
        let incoming = if end.is_none() {
            chunk_rx
        } else {
            &no_messages
        };
        let symbolized = match samples {
            Samples::Threaded { done_rx, .. } => done_rx.clone(),
            Samples::Inline(_) | Samples::Off => no_samples.clone(),
        };
        select! {
            recv(incoming) -> message => {
                // Disconnected: the snapshot thread ended without an end chunk.
                let Ok(message) = message else { return };
                if file.control.abandoned.load(Ordering::Acquire) {
                    // A stop gave up on this thread: the file stays as it is (complete chunks).
                    return;
                }
                match message {
                    ToWriter::Interval(chunk, raw) => {
                        let raw = raw.filter(|_| !SYMBOLIZER_LOST.load(Ordering::Acquire));
                        if file.full(samples.pending(raw.is_some())) {
                            drain(file, samples);
                            if file.control.abandoned.load(Ordering::Acquire) {
                                return;
                            }
                            file.rotate();
                        }
                        let to = file.file_number;
                        let raw = raw.map(|samples| Unsymbolized::of(&chunk, samples, to));
                        let awaits_samples = raw.is_some() && !matches!(samples, Samples::Off);
                        file.interval(chunk, awaits_samples);
                        if let Some(raw) = raw {
                            submit(file, samples, raw);
                        }
                    }
                    ToWriter::End(last) => match samples {
                        Samples::Threaded { raw_tx, outstanding, .. } if *outstanding > 0 => {
                            // The symbolizer ends once it has symbolised what it was given.
                            *raw_tx = None;
                            end = Some(last);
                        }
                        _ => return file.finish(&last),
                    },
                }
            }
            recv(symbolized) -> chunk => match chunk {
                Ok(_) if file.control.abandoned.load(Ordering::Acquire) => return,
                Ok(chunk) => {
                    if let Samples::Threaded { outstanding, .. } = samples {
                        *outstanding = outstanding.saturating_sub(1);
                        file.samples(&chunk);
                        if *outstanding == 0 {
                            if let Some(last) = end.take() {
                                return file.finish(&last);
                            }
                        }
                    }
                }
                // The symbolizer thread failed: the rest of the recording has no samples.
                Err(_) => {
                    *samples = Samples::Off;
                    file.no_more_samples();
                    if let Some(last) = end.take() {
                        return file.finish(&last);
                    }
                }
            },
        }
    }
}

impl Samples {
    /// The samples chunks still to be written to the file: those being symbolised, and the
    /// next interval's when `next` (it has samples to symbolise).
    fn pending(&self, next: bool) -> u64 {
        let outstanding = match self {
            Samples::Threaded { outstanding, .. } => *outstanding as u64,
            Samples::Inline(_) | Samples::Off => 0,
        };
        outstanding + u64::from(next && !matches!(self, Samples::Off))
    }
}

/// Writes the samples of every interval written so far (waiting for the symbolizer), before the
/// file is finished.
fn drain(file: &mut FileOutput<'_>, samples: &mut Samples) {
    let mut failed = false;
    if let Samples::Threaded {
        done_rx,
        outstanding,
        ..
    } = samples
    {
        // A stop that gave up on this thread: the file stays as it is (complete chunks).
        while *outstanding > 0 && !file.control.abandoned.load(Ordering::Acquire) {
            match done_rx.recv() {
                Ok(chunk) => {
                    *outstanding -= 1;
                    file.samples(&chunk);
                }
                Err(_) => {
                    failed = true;
                    break;
                }
            }
        }
    }
    if failed {
        *samples = Samples::Off;
        file.no_more_samples();
    }
}

/// Symbolises `raw` (inline) or hands it to the symbolizer thread, waiting for the oldest
/// outstanding samples to be written when the backlog is full.
fn submit(file: &mut FileOutput<'_>, samples: &mut Samples, raw: Unsymbolized) {
    match samples {
        Samples::Threaded {
            raw_tx: Some(raw_tx),
            done_rx,
            outstanding,
        } => {
            while *outstanding >= SYMBOLIZER_BACKLOG {
                let Ok(chunk) = done_rx.recv() else { return };
                *outstanding -= 1;
                file.samples(&chunk);
            }
            if raw_tx.send(raw).is_ok() {
                *outstanding += 1;
            }
        }
        Samples::Inline(symbolizer) => {
            let chunk = symbolize(symbolizer, raw);
            file.samples(&chunk);
        }
        Samples::Threaded { raw_tx: None, .. } | Samples::Off => {}
    }
}

impl Unsymbolized {
    fn of(interval: &IntervalChunk, samples: RawSamples, file: u64) -> Unsymbolized {
        Unsymbolized {
            seq: interval.seq,
            start_ns: interval.start_ns,
            end_ns: interval.end_ns,
            samples,
            file,
        }
    }
}

/// The symbolizer thread: symbolises the samples it is given, in order, and hands them back.
fn symbolize_loop(
    raw_rx: &Receiver<Unsymbolized>,
    done_tx: &Sender<SamplesChunk>,
    control: &Control,
) {
    let mut symbolizer = Symbolizer::default();
    for raw in raw_rx.iter() {
        if control.abandoned.load(Ordering::Acquire) {
            return;
        }
        if done_tx.send(symbolize(&mut symbolizer, raw)).is_err() {
            return;
        }
    }
}

/// Symbolises one interval's samples, counted in [`SYMBOLIZING`] meanwhile (a fork then knows
/// the symbol resolver's lock may be held).
fn symbolize(symbolizer: &mut Symbolizer, raw: Unsymbolized) -> SamplesChunk {
    SYMBOLIZING.fetch_add(1, Ordering::AcqRel);
    let chunk = symbolizer.chunk(raw.seq, raw.start_ns, raw.end_ns, raw.samples, raw.file);
    SYMBOLIZING.fetch_sub(1, Ordering::AcqRel);
    chunk
}

/// The recording file, and what is told about it: the outcome, the live endpoint's history.
struct FileOutput<'a> {
    /// `None` once finished, or after a write failed (the file then ends with its last complete
    /// chunk).
    writer: Option<RecordingWriter<BufWriter<File>>>,
    control: &'a Control,
    /// The series, when the recording is rotated.
    series: Option<Rotating>,
    /// The file of the series being written (0 without rotation).
    file_number: u64,
    /// What the file being written holds.
    in_file: InFile,
    #[cfg(feature = "http")]
    tee: LiveTee,
}

/// A rotated recording, on the writer thread.
struct Rotating {
    series: Series,
    /// The meta chunk every file starts with.
    meta: RecordingMeta,
    /// What the next file must declare again.
    declarations: Declarations,
    /// The file being written has no interval yet: its first declares everything in force.
    fresh: bool,
}

/// The intervals in the file being written, for its end chunk and its size limit.
#[derive(Default)]
struct InFile {
    intervals: u64,
    /// The last one's sequence number and end.
    last: Option<(u64, u64)>,
    /// Intervals merged into others, in this file and those before it.
    coalesced: u64,
}

impl FileOutput<'_> {
    fn interval(&mut self, chunk: Box<IntervalChunk>, awaits_samples: bool) {
        if let Some(writer) = &mut self.writer {
            // The first interval of a file of a series declares everything again (the live
            // endpoint gets the chunk as it came).
            let mut written = Cow::Borrowed(&*chunk);
            let first = self.in_file.intervals == 0;
            if let Some(rotating) = &mut self.series {
                if std::mem::take(&mut rotating.fresh) {
                    rotating.declarations.declare_all(written.to_mut());
                }
                rotating.declarations.note(&written);
            }
            let before = writer.bytes_written();
            match writer.write_interval(&written) {
                Ok(()) => {
                    if let Some(rotating) = &mut self.series {
                        rotating
                            .series
                            .wrote_interval(writer.bytes_written() - before, first);
                    }
                    self.in_file.intervals += 1;
                    self.in_file.last = Some((chunk.seq, chunk.end_ns));
                    self.in_file.coalesced += u64::from(chunk.coalesced);
                    self.control
                        .outcome
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .written += 1;
                }
                Err(e) => self.fail(&e),
            }
        }
        #[cfg(feature = "http")]
        self.tee.interval(chunk, awaits_samples);
        #[cfg(not(feature = "http"))]
        let _ = (chunk, awaits_samples);
    }

    fn samples(&mut self, samples: &SamplesChunk) {
        if let Some(writer) = &mut self.writer {
            let before = writer.bytes_written();
            match writer.write_samples(samples) {
                Ok(()) => {
                    if let Some(rotating) = &mut self.series {
                        rotating
                            .series
                            .wrote_samples(writer.bytes_written() - before);
                    }
                }
                Err(e) => self.fail(&e),
            }
        }
        #[cfg(feature = "http")]
        self.tee.samples(samples);
    }

    /// No samples will come for the intervals that await them.
    fn no_more_samples(&mut self) {
        #[cfg(feature = "http")]
        self.tee.no_more_samples();
    }

    fn finish(&mut self, end: &EndChunk) {
        if let Some(writer) = self.writer.take() {
            if let Err(e) = writer.finish(end) {
                self.fail(&e);
            }
        }
    }

    /// Whether the file being written is full (rotation): it must be finished before the next
    /// interval, with `pending_samples` samples chunks still to come.
    fn full(&self, pending_samples: u64) -> bool {
        match (&self.series, &self.writer) {
            (Some(rotating), Some(writer)) => rotating.series.full(
                writer.bytes_written(),
                self.in_file.intervals,
                pending_samples,
                writer.finish_bound(),
            ),
            _ => false,
        }
    }

    /// Finishes the file being written (its index and end chunk: it reads alone) and starts the
    /// next file of the series, after removing the oldest files the total asks for.
    fn rotate(&mut self) {
        let (Some(rotating), Some(writer)) = (&mut self.series, self.writer.take()) else {
            return;
        };
        let (seq, end_ns) = self.in_file.last.unwrap_or_default();
        let end = EndChunk {
            end_ns,
            // The number of intervals of the recording up to here, as the last end chunk says.
            chunks: seq + 1,
            coalesced_intervals: self.in_file.coalesced,
        };
        let size = writer.bytes_written() + writer.finish_bound();
        let size = match writer.finish(&end) {
            Ok(out) => out.get_ref().metadata().map_or(size, |m| m.len()),
            Err(e) => return self.fail(&e),
        };
        let abandoned = self.control.abandoned.load(Ordering::Acquire);
        let next = rotating.series.next_file(size, |message| {
            if !abandoned {
                eprintln!("bpprof: {message}");
            }
            crate::registry::lock().warn(RuntimeWarning {
                code: "rotation".to_owned(),
                message,
            });
        });
        let created = File::create(&next)
            .and_then(|file| RecordingWriter::new(BufWriter::new(file), &rotating.meta));
        match created {
            Ok(writer) => {
                self.writer = Some(writer);
                rotating.fresh = true;
                self.file_number += 1;
                self.in_file.intervals = 0;
            }
            Err(e) => self.fail(&std::io::Error::new(
                e.kind(),
                format!(
                    "cannot create the next file of the series '{}': {e}",
                    next.display()
                ),
            )),
        }
    }

    /// A write failed: the recording stops here, and the stop says why.
    fn fail(&mut self, e: &std::io::Error) {
        self.writer = None;
        if self.control.abandoned.load(Ordering::Acquire) {
            // Nobody waits for this recording any more, and stderr may be the stalled output.
            return;
        }
        eprintln!(
            "bpprof: writing the recording '{}' failed: {e}; recording stopped",
            self.control.path.display()
        );
        self.control
            .outcome
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .error = Some(e.to_string());
    }
}

/// The live endpoint's history gets each interval as it was handed to the file, with its
/// samples: an interval whose samples are being symbolised waits for them, and the intervals
/// after it wait in order.
#[cfg(feature = "http")]
#[derive(Default)]
struct LiveTee {
    /// Intervals not yet handed over, oldest first, each with whether it awaits samples.
    waiting: VecDeque<(Box<IntervalChunk>, bool)>,
}

#[cfg(feature = "http")]
impl LiveTee {
    fn interval(&mut self, chunk: Box<IntervalChunk>, awaits_samples: bool) {
        self.waiting.push_back((chunk, awaits_samples));
        self.hand_over_ready();
    }

    /// The samples of the oldest interval that awaits samples.
    fn samples(&mut self, samples: &SamplesChunk) {
        self.hand_over_ready();
        if let Some((chunk, _)) = self.waiting.pop_front() {
            crate::live::tee(&chunk, Some(samples));
        }
        self.hand_over_ready();
    }

    fn no_more_samples(&mut self) {
        for (chunk, _) in self.waiting.drain(..) {
            crate::live::tee(&chunk, None);
        }
    }

    /// Hands over the oldest intervals that await nothing.
    fn hand_over_ready(&mut self) {
        while let Some((chunk, false)) = self.waiting.front() {
            crate::live::tee(chunk, None);
            self.waiting.pop_front();
        }
    }
}
