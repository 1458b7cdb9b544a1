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
use crate::snapshot::Snapshotter;

/// The default recording interval.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);
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
/// Environment variable giving the recording interval in milliseconds for [`init_from_env`].
pub const ENV_INTERVAL_MS: &str = "BPPROF_INTERVAL_MS";

/// Settings of a recording.
#[derive(Debug, Clone)]
pub struct RecorderOptions {
    /// File to write (created or truncated).
    pub path: PathBuf,
    /// Length of one interval. Default [`DEFAULT_INTERVAL`]; at least [`MIN_INTERVAL`].
    pub interval: Duration,
}

impl RecorderOptions {
    /// Options that write `path` with the default interval.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        RecorderOptions {
            path: path.into(),
            interval: DEFAULT_INTERVAL,
        }
    }

    /// Sets the interval.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
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
/// fn main() {
///     let _recording = match bpprof::init_from_env() {
///         Ok(recorder) => recorder,
///         Err(e) => {
///             eprintln!("error: {e}");
///             std::process::exit(2);
///         }
///     };
///     // ... run the pipeline; the recording is finalised when `_recording` drops ...
/// }
/// ```
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
    start(options, " (from BPPROF_OUT)").map(Some)
}

fn start(options: RecorderOptions, origin: &'static str) -> Result<Recorder, RecorderError> {
    if options.interval < MIN_INTERVAL {
        return Err(RecorderError::InvalidInterval(format!(
            "{:?}",
            options.interval
        )));
    }
    let mut active = ACTIVE.lock().unwrap_or_else(|p| p.into_inner());
    if active.is_some() {
        return Err(RecorderError::AlreadyRunning);
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
        sample_hz: 0,
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

    registry::lock().recording = true;
    let start_ns = clock::now_ns();
    let writer_control = Arc::clone(&control);
    let writer_thread = std::thread::Builder::new()
        .name("bpprof-writer".into())
        .spawn(move || write_loop(writer, chunk_rx, done_tx, &writer_control))
        .map_err(RecorderError::Thread)?;
    let snapshot_control = Arc::clone(&control);
    let interval = options.interval;
    let snapshot_thread = std::thread::Builder::new()
        .name("bpprof-recorder".into())
        .spawn(move || snapshot_loop(start_ns, interval, stop_rx, chunk_tx, &snapshot_control))
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
    Interval(IntervalChunk),
    End(EndChunk),
}

fn snapshot_loop(
    start_ns: u64,
    interval: Duration,
    stop_rx: Receiver<()>,
    chunk_tx: Sender<ToWriter>,
    control: &Control,
) {
    let mut snapshotter = Snapshotter::new(start_ns);
    let interval_ns = interval.as_nanos() as u64;
    let mut next_tick = start_ns + interval_ns;
    let mut coalesced_total = 0u64;
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
            let pending = snapshotter.tick(now);
            let chunk = pending.chunk.clone();
            // The last interval must reach the file: wait for room, within reason.
            if chunk_tx
                .send_timeout(ToWriter::Interval(chunk), STOP_TIMEOUT)
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
        match chunk_tx.try_send(ToWriter::Interval(pending.chunk.clone())) {
            Ok(()) => snapshotter.commit(pending, now),
            Err(TrySendError::Full(_)) => {
                coalesced_total += 1;
                snapshotter.discard(pending);
            }
            Err(TrySendError::Disconnected(_)) => {
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
            ToWriter::Interval(_) if failed => {}
            ToWriter::Interval(chunk) => {
                if let Err(e) = writer.write_interval(&chunk) {
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
