//! The recorder: a thread that takes one snapshot per interval and a thread that writes them.
//!
//! Pipeline threads never wait for either: they only update their own atomics. The snapshot
//! thread hands chunks to the writer through a bounded queue and never blocks on it: when the
//! writer falls behind, the interval is merged into the next one and the merge is counted.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bpprof_format::{EndChunk, IntervalChunk, RecordingMeta, RecordingWriter};
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender, TrySendError};

use crate::clock;
use crate::registry;
use crate::sampling::{self, RawSamples, Sampler, SamplingError, Symbolizer};
use crate::snapshot::Snapshotter;

/// The default recording interval: the shortest accepted ([`MIN_INTERVAL`]), as `bpprof record`
/// uses, so that a run of a second gets about ten intervals.
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(100);
/// The shortest recording interval accepted.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);
/// How often channel fill levels are sampled.
const FILL_SAMPLE_PERIOD: Duration = Duration::from_millis(10);
/// Chunks waiting for the writer before new intervals are merged instead of queued.
const WRITER_QUEUE: usize = 8;
/// How long stopping waits for the writer to finish the file.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// Environment variable naming the recording file for [`init_from_env`].
pub const ENV_OUT: &str = "BPPROF_OUT";
/// Environment variable giving the stack-sampling rate per subtask in Hz for [`init_from_env`]
/// (0 turns sampling off).
pub const ENV_SAMPLE_HZ: &str = "BPPROF_SAMPLE_HZ";
/// Environment variable giving the real-time signal number used for sampling.
pub const ENV_SAMPLE_SIGNAL: &str = "BPPROF_SAMPLE_SIGNAL";
/// Default stack-sampling rate per subtask.
pub const DEFAULT_SAMPLE_HZ: u32 = 99;
/// Highest stack-sampling rate accepted.
pub const MAX_SAMPLE_HZ: u32 = 10_000;
/// Environment variable giving the recording interval in milliseconds for [`init_from_env`].
pub const ENV_INTERVAL_MS: &str = "BPPROF_INTERVAL_MS";

/// Settings of a recording.
#[derive(Debug, Clone)]
pub struct RecorderOptions {
    /// File to write (created or truncated).
    pub path: PathBuf,
    /// Length of one interval. Default [`DEFAULT_INTERVAL`]; at least [`MIN_INTERVAL`].
    pub interval: Duration,
    /// Stack samples per second per subtask; 0 turns sampling off. Default [`DEFAULT_SAMPLE_HZ`].
    pub sample_hz: u32,
    /// Real-time signal used to sample (default `SIGRTMIN + 4`; SIGPROF is left to others).
    pub sample_signal: Option<i32>,
}

impl RecorderOptions {
    /// Options that write `path` with the default interval.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        RecorderOptions {
            path: path.into(),
            interval: DEFAULT_INTERVAL,
            sample_hz: DEFAULT_SAMPLE_HZ,
            sample_signal: None,
        }
    }

    /// Sets the interval.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Sets the stack-sampling rate per subtask (0 = off).
    pub fn sample_hz(mut self, hz: u32) -> Self {
        self.sample_hz = hz;
        self
    }

    /// Sets the real-time signal used for sampling.
    pub fn sample_signal(mut self, signal: i32) -> Self {
        self.sample_signal = Some(signal);
        self
    }
}

/// Why a recording could not start or finish.
#[derive(Debug, thiserror::Error)]
pub enum RecorderError {
    /// The recording file could not be created or its header written.
    #[error("cannot create recording file '{path}'{origin}: {source}; choose a writable path")]
    CreateFile {
        /// The path.
        path: PathBuf,
        /// Where the path came from (`" (from BPPROF_OUT)"`), or empty.
        origin: &'static str,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The interval is shorter than [`MIN_INTERVAL`] or not a number.
    #[error(
        "invalid recording interval {0}: give at least 100 ms (for example {ENV_INTERVAL_MS}=1000)"
    )]
    InvalidInterval(String),
    /// Another recorder is already running in this process.
    #[error(
        "a bpprof recorder is already running in this process; stop it before starting another"
    )]
    AlreadyRunning,
    /// Writing the recording failed part-way; the chunks before the failure are in the file.
    #[error("writing the recording '{path}' failed: {message}; the intervals before the failure are in the file")]
    Write {
        /// The path.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// A recorder thread could not be started.
    #[error("cannot start the bpprof recorder thread: {0}")]
    Thread(#[source] std::io::Error),
    /// The sampling rate is out of range or not a number.
    #[error(
        "invalid sampling rate {0}: give 0 (off) to 10000 Hz (for example {ENV_SAMPLE_HZ}=99)"
    )]
    InvalidSampleRate(String),
    /// The sampling signal handler could not be installed.
    #[error(transparent)]
    Sampling(#[from] SamplingError),
}

/// What a finished recording holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingSummary {
    /// The file written.
    pub path: PathBuf,
    /// Interval chunks written.
    pub chunks: u64,
    /// Intervals merged into the next one because the writer fell behind.
    pub coalesced_intervals: u64,
}

/// A running recording. Dropping it (or calling [`stop`](Self::stop)) finalises the file; so does
/// normal process exit.
#[derive(Debug)]
pub struct Recorder {
    control: Arc<Control>,
    snapshot_thread: Option<JoinHandle<()>>,
    writer_thread: Option<JoinHandle<()>>,
}

/// Shared between the recorder handle, its threads and the process-exit hook.
#[derive(Debug)]
struct Control {
    path: PathBuf,
    stop_tx: Sender<()>,
    done_rx: Receiver<()>,
    outcome: Mutex<Outcome>,
}

#[derive(Debug, Default)]
struct Outcome {
    chunks: u64,
    coalesced: u64,
    error: Option<String>,
    finished: bool,
}

/// The recorder that process exit must finalise, if any.
static ACTIVE: Mutex<Option<Arc<Control>>> = Mutex::new(None);

impl Recorder {
    /// Starts recording to `options.path`.
    pub fn start(options: RecorderOptions) -> Result<Recorder, RecorderError> {
        start(options, "")
    }

    /// Stops recording, writes the last interval and the end chunk, and says what was written.
    pub fn stop(mut self) -> Result<RecordingSummary, RecorderError> {
        self.finish()
    }

    fn finish(&mut self) -> Result<RecordingSummary, RecorderError> {
        self.control.stop_and_wait();
        if let Some(thread) = self.snapshot_thread.take() {
            let _ = thread.join();
        }
        if let Some(thread) = self.writer_thread.take() {
            let _ = thread.join();
        }
        let mut active = ACTIVE.lock().unwrap_or_else(|p| p.into_inner());
        if active
            .as_ref()
            .is_some_and(|c| Arc::ptr_eq(c, &self.control))
        {
            *active = None;
        }
        drop(active);
        let outcome = self
            .control
            .outcome
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        match &outcome.error {
            Some(message) => Err(RecorderError::Write {
                path: self.control.path.clone(),
                message: message.clone(),
            }),
            None => Ok(RecordingSummary {
                path: self.control.path.clone(),
                chunks: outcome.chunks,
                coalesced_intervals: outcome.coalesced,
            }),
        }
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.control.path
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if self.snapshot_thread.is_some() {
            let _ = self.finish();
        }
    }
}

/// Starts a recording if the environment asks for one: `BPPROF_OUT=path` names the file and
/// `BPPROF_INTERVAL_MS` optionally sets the interval. Returns `Ok(None)` when `BPPROF_OUT` is unset
/// or empty, so that programs can call it unconditionally:
///
/// ```no_run
/// let _recording = match bpprof::init_from_env() {
///     Ok(recorder) => recorder,
///     Err(e) => {
///         eprintln!("error: {e}");
///         std::process::exit(2);
///     }
/// };
/// // ... run the pipeline; the recording is finalised when `_recording` drops ...
/// ```
///
/// `BPPROF_SAMPLE_HZ` sets the stack-sampling rate (default 99, 0 = off) and
/// `BPPROF_SAMPLE_SIGNAL` the real-time signal it uses.
pub fn init_from_env() -> Result<Option<Recorder>, RecorderError> {
    let Some(path) = std::env::var_os(ENV_OUT).filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let mut options = RecorderOptions::new(path);
    if let Some(ms) = std::env::var_os(ENV_INTERVAL_MS) {
        let text = ms.to_string_lossy().into_owned();
        let ms: u64 = text
            .trim()
            .parse()
            .map_err(|_| RecorderError::InvalidInterval(format!("'{text}' ms")))?;
        options.interval = Duration::from_millis(ms);
    }
    if let Some(hz) = std::env::var_os(ENV_SAMPLE_HZ) {
        let text = hz.to_string_lossy().into_owned();
        options.sample_hz = text
            .trim()
            .parse()
            .map_err(|_| RecorderError::InvalidSampleRate(format!("'{text}'")))?;
    }
    if let Some(signal) = std::env::var_os(ENV_SAMPLE_SIGNAL) {
        let text = signal.to_string_lossy().into_owned();
        let signal = text
            .trim()
            .parse()
            .map_err(|_| SamplingError::NotAllowed(-1))?;
        options.sample_signal = Some(signal);
    }
    start(options, " (from BPPROF_OUT)").map(Some)
}

fn start(options: RecorderOptions, origin: &'static str) -> Result<Recorder, RecorderError> {
    if options.interval < MIN_INTERVAL {
        return Err(RecorderError::InvalidInterval(format!(
            "{:?}",
            options.interval
        )));
    }
    if options.sample_hz > MAX_SAMPLE_HZ {
        return Err(RecorderError::InvalidSampleRate(format!(
            "{} Hz",
            options.sample_hz
        )));
    }
    let mut active = ACTIVE.lock().unwrap_or_else(|p| p.into_inner());
    if active.is_some() {
        return Err(RecorderError::AlreadyRunning);
    }
    let sample_signal = options
        .sample_signal
        .unwrap_or_else(sampling::default_signal);
    if options.sample_hz > 0 {
        sampling::install(sample_signal)?;
    }
    let create_error = |source| RecorderError::CreateFile {
        path: options.path.clone(),
        origin,
        source,
    };
    let file = File::create(&options.path).map_err(create_error)?;
    let start_unix_ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let meta = RecordingMeta {
        start_unix_ns,
        interval_ns: options.interval.as_nanos() as u64,
        host: host_name(),
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
        pid: std::process::id(),
        program: program_name(),
        bpprof_version: env!("CARGO_PKG_VERSION").to_string(),
        build: format!(
            "{} {}-{}",
            if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            },
            std::env::consts::ARCH,
            std::env::consts::OS
        ),
        sample_hz: options.sample_hz,
    };
    let writer = RecordingWriter::new(BufWriter::new(file), &meta).map_err(create_error)?;

    let (stop_tx, stop_rx) = bounded(1);
    let (done_tx, done_rx) = bounded(1);
    let (chunk_tx, chunk_rx) = bounded(WRITER_QUEUE);
    let control = Arc::new(Control {
        path: options.path.clone(),
        stop_tx,
        done_rx,
        outcome: Mutex::new(Outcome::default()),
    });

    {
        let mut registry = registry::lock();
        registry.prune_channels();
        registry.set_recording(true);
    }
    let start_ns = clock::now_ns();
    // Baselines of the subtasks registered so far are taken now, not when the snapshot thread
    // gets to run: a subtask registering in between is then accounted from its registration.
    let snapshotter = Snapshotter::new(start_ns);
    let sampler = if options.sample_hz > 0 {
        sampling::set_active(true);
        match Sampler::start(options.sample_hz, sample_signal) {
            Ok(sampler) => Some(sampler),
            Err(e) => {
                sampling::set_active(false);
                registry::finish_recording();
                return Err(RecorderError::Thread(e));
            }
        }
    } else {
        None
    };
    let writer_control = Arc::clone(&control);
    let writer_thread = std::thread::Builder::new()
        .name("bpprof-writer".into())
        .spawn(move || write_loop(writer, chunk_rx, done_tx, &writer_control))
        .map_err(RecorderError::Thread)?;
    let snapshot_control = Arc::clone(&control);
    let interval = options.interval;
    let snapshot_thread = std::thread::Builder::new()
        .name("bpprof-recorder".into())
        .spawn(move || {
            snapshot_loop(
                snapshotter,
                sampler,
                start_ns,
                interval,
                stop_rx,
                chunk_tx,
                &snapshot_control,
            )
        })
        .map_err(RecorderError::Thread)?;

    *active = Some(Arc::clone(&control));
    drop(active);
    install_exit_hook();
    Ok(Recorder {
        control,
        snapshot_thread: Some(snapshot_thread),
        writer_thread: Some(writer_thread),
    })
}

impl Control {
    /// Asks the recorder to stop and waits (bounded) until the file is finalised.
    fn stop_and_wait(&self) {
        let _ = self.stop_tx.try_send(());
        let finished = self
            .outcome
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .finished;
        if !finished {
            let _ = self.done_rx.recv_timeout(STOP_TIMEOUT);
        }
    }
}

/// Messages from the snapshot thread to the writer.
enum ToWriter {
    /// An interval, with its stack samples when sampling is on.
    Interval(Box<IntervalChunk>, Option<RawSamples>),
    End(EndChunk),
}

fn snapshot_loop(
    mut snapshotter: Snapshotter,
    mut sampler: Option<Sampler>,
    start_ns: u64,
    interval: Duration,
    stop_rx: Receiver<()>,
    chunk_tx: Sender<ToWriter>,
    control: &Control,
) {
    let interval_ns = interval.as_nanos() as u64;
    let mut next_tick = start_ns + interval_ns;
    let mut coalesced_total = 0u64;
    // Samples of intervals that could not be handed to the writer, merged into the next one.
    let mut carried: Option<RawSamples> = None;
    let take_samples = |sampler: &Option<Sampler>, carried: &mut Option<RawSamples>| {
        sampler.as_ref().map(|sampler| {
            let mut samples = carried.take().unwrap_or_default();
            samples.merge(sampler.take());
            samples
        })
    };
    loop {
        let now = clock::now_ns();
        let wait = Duration::from_nanos(next_tick.saturating_sub(now)).min(FILL_SAMPLE_PERIOD);
        let stopping = match stop_rx.recv_timeout(wait) {
            Ok(()) | Err(RecvTimeoutError::Disconnected) => true,
            Err(RecvTimeoutError::Timeout) => false,
        };
        snapshotter.sample_fills();
        let now = clock::now_ns();
        if stopping {
            if let Some(sampler) = sampler.as_mut() {
                sampler.stop();
                sampling::set_active(false);
            }
            let pending = snapshotter.tick(now);
            let chunk = pending.chunk.clone();
            let samples = take_samples(&sampler, &mut carried);
            // The last interval must reach the file: wait for room, within reason.
            if chunk_tx
                .send_timeout(ToWriter::Interval(Box::new(chunk), samples), STOP_TIMEOUT)
                .is_ok()
            {
                snapshotter.commit(pending, now);
            }
            registry::finish_recording();
            let end = EndChunk {
                end_ns: now.saturating_sub(start_ns),
                chunks: snapshotter.chunks(),
                coalesced_intervals: coalesced_total,
            };
            {
                let mut outcome = control.outcome.lock().unwrap_or_else(|p| p.into_inner());
                outcome.chunks = snapshotter.chunks();
                outcome.coalesced = coalesced_total;
            }
            let _ = chunk_tx.send_timeout(ToWriter::End(end), STOP_TIMEOUT);
            return;
        }
        if now < next_tick {
            continue;
        }
        // Skip ticks missed while this thread was not scheduled instead of bursting.
        while next_tick <= now {
            next_tick += interval_ns;
        }
        let pending = snapshotter.tick(now);
        let samples = take_samples(&sampler, &mut carried);
        match chunk_tx.try_send(ToWriter::Interval(Box::new(pending.chunk.clone()), samples)) {
            Ok(()) => snapshotter.commit(pending, now),
            Err(TrySendError::Full(message)) => {
                coalesced_total += 1;
                snapshotter.discard(pending);
                if let ToWriter::Interval(_, samples) = message {
                    carried = samples;
                }
            }
            Err(TrySendError::Disconnected(_)) => {
                sampling::set_active(false);
                registry::finish_recording();
                return;
            }
        }
    }
}

fn write_loop(
    mut writer: RecordingWriter<BufWriter<File>>,
    chunk_rx: Receiver<ToWriter>,
    done_tx: Sender<()>,
    control: &Control,
) {
    let mut failed = false;
    let mut symbolizer = Symbolizer::default();
    let fail = |message: String| {
        eprintln!(
            "bpprof: writing the recording '{}' failed: {message}; recording stopped",
            control.path.display()
        );
        control
            .outcome
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .error = Some(message);
    };
    for message in chunk_rx.iter() {
        match message {
            ToWriter::Interval(..) if failed => {}
            ToWriter::Interval(chunk, samples) => {
                let mut result = writer.write_interval(&chunk);
                if let (Ok(()), Some(samples)) = (&result, samples) {
                    let samples =
                        symbolizer.chunk(chunk.seq, chunk.start_ns, chunk.end_ns, samples);
                    result = writer.write_samples(&samples);
                }
                if let Err(e) = result {
                    fail(e.to_string());
                    failed = true;
                }
            }
            ToWriter::End(end) => {
                if !failed {
                    if let Err(e) = writer.finish(&end) {
                        fail(e.to_string());
                    }
                }
                break;
            }
        }
    }
    control
        .outcome
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .finished = true;
    let _ = done_tx.try_send(());
}

/// Finalises the active recording when the process exits normally (returning from `main` or
/// calling `std::process::exit`), so that programs that never drop their recorder still get a
/// complete file.
fn install_exit_hook() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        // SAFETY: `finalise_at_exit` is an `extern "C" fn()` with no arguments, as atexit requires.
        unsafe {
            libc::atexit(finalise_at_exit);
        }
    });
}

extern "C" fn finalise_at_exit() {
    let control = ACTIVE.try_lock().ok().and_then(|mut active| active.take());
    if let Some(control) = control {
        control.stop_and_wait();
    }
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

fn program_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default()
}
