//! The recorder's writer thread: appends each interval to the file as soon as the snapshot thread
//! hands it over, and its stack samples once they are symbolised, on a thread of their own. A
//! symbolisation can take a second or more (the first reads the binary's debug information);
//! intervals never wait for it, so a process killed meanwhile keeps every interval produced up to
//! its last moments, and loses at most the samples still being symbolised.

#[cfg(feature = "http")]
use std::collections::VecDeque;
use std::fs::File;
use std::io::BufWriter;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;

use bpprof_format::{EndChunk, IntervalChunk, RecordingWriter, SamplesChunk};
use crossbeam_channel::{bounded, never, select, unbounded, Receiver, Sender};

use super::{Control, SYMBOLIZER_LOST, SYMBOLIZING};
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
}

/// Writes the recording from what `chunk_rx` brings until the end chunk (or a stop that gave up
/// on this thread), then marks the outcome finished. With `sampling`, stack samples come with the
/// intervals and a symbolizer thread is started for them.
pub(super) fn write_loop(
    writer: RecordingWriter<BufWriter<File>>,
    chunk_rx: Receiver<ToWriter>,
    control: &Control,
    sampling: bool,
) {
    std::thread::scope(|scope| {
        let mut samples = if sampling {
            start_symbolizer(scope, control)
        } else {
            // Never used: no interval brings samples.
            Samples::Inline(Symbolizer::default())
        };
        let mut file = FileOutput {
            writer: Some(writer),
            control,
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
        Err(_) => Samples::Inline(Symbolizer::default()),
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
    Inline(Symbolizer),
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
                        let raw = raw.map(|samples| Unsymbolized::of(&chunk, samples));
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
    fn of(interval: &IntervalChunk, samples: RawSamples) -> Unsymbolized {
        Unsymbolized {
            seq: interval.seq,
            start_ns: interval.start_ns,
            end_ns: interval.end_ns,
            samples,
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
    let chunk = symbolizer.chunk(raw.seq, raw.start_ns, raw.end_ns, raw.samples);
    SYMBOLIZING.fetch_sub(1, Ordering::AcqRel);
    chunk
}

/// The recording file, and what is told about it: the outcome, the live endpoint's history.
struct FileOutput<'a> {
    /// `None` once finished, or after a write failed (the file then ends with its last complete
    /// chunk).
    writer: Option<RecordingWriter<BufWriter<File>>>,
    control: &'a Control,
    #[cfg(feature = "http")]
    tee: LiveTee,
}

impl FileOutput<'_> {
    fn interval(&mut self, chunk: Box<IntervalChunk>, awaits_samples: bool) {
        if let Some(writer) = &mut self.writer {
            match writer.write_interval(&chunk) {
                Ok(()) => {
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
            if let Err(e) = writer.write_samples(samples) {
                self.fail(&e);
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
