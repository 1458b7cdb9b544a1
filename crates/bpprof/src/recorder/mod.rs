//! The recorder: a thread that takes one snapshot per interval and a thread that writes them.
//!
//! Pipeline threads never wait for either: they only update their own atomics. The snapshot
//! thread hands chunks to the writer through a bounded queue and never blocks on it: when the
//! writer falls behind, the interval is merged into the next one and the merge is counted.
//!
//! Stopping is bounded by [`RecorderOptions::stop_timeout`]: a writer that cannot finish the file
//! in time (an output nobody reads) is left behind, detached, and `stop` says so
//! ([`RecorderError::StopTimedOut`]). A forked child inherits no recorder (see [`crate::fork`]).
//!
//! With [`RecorderOptions::rotate`], the recording is a series of files (see [`Rotation`]).

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use std::sync::{Arc, Condvar, Mutex, Once};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bpprof_format::{env, EndChunk, RecordingMeta, RecordingWriter, RuntimeWarning};
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender, TrySendError};

use crate::clock;
use crate::fork;
use crate::registry;
use crate::sampler::{RawSamples, Sampler};
use crate::sampling::{self, SamplingError};
use crate::snapshot::Snapshotter;

mod declarations;
mod rotation;
mod shared;
mod writer;
pub use rotation::{Rotation, RotationError, MIN_FILE_BYTES};
use shared::{Control, Outcome, SYMBOLIZER_LOST, SYMBOLIZING};
use writer::{write_loop, ToWriter};

/// The default recording interval: the shortest accepted ([`MIN_INTERVAL`]), as `bpprof record`
/// uses, so that a run of a second gets about ten intervals.
pub const DEFAULT_INTERVAL: Duration = MIN_INTERVAL;
/// The shortest recording interval accepted.
pub const MIN_INTERVAL: Duration = Duration::from_millis(env::MIN_INTERVAL_MS);
/// How often channel fill levels are sampled.
const FILL_SAMPLE_PERIOD: Duration = Duration::from_millis(10);
/// Chunks waiting for the writer before new intervals are merged instead of queued.
const WRITER_QUEUE: usize = 8;
/// The default of [`RecorderOptions::stop_timeout`]: how long stopping (by `stop`, drop or process
/// exit) may block the caller while the writer finishes the file.
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(20);
/// How much earlier than the stop deadline the snapshot thread gives up handing its last chunks to
/// the writer, so that it has returned (and can be joined) by the deadline.
const SNAPSHOT_MARGIN: Duration = Duration::from_millis(20);

/// Environment variable naming the recording file for [`init_from_env`].
pub const ENV_OUT: &str = env::ENV_OUT;
/// Environment variable giving the stack-sampling rate per subtask in Hz for [`init_from_env`]
/// (0 turns sampling off).
pub const ENV_SAMPLE_HZ: &str = env::ENV_SAMPLE_HZ;
/// Environment variable giving the signal number used for sampling (SIGURG by default).
pub const ENV_SAMPLE_SIGNAL: &str = "BPPROF_SAMPLE_SIGNAL";
/// Default stack-sampling rate per subtask.
pub const DEFAULT_SAMPLE_HZ: u32 = env::DEFAULT_SAMPLE_HZ;
/// Highest stack-sampling rate accepted.
pub const MAX_SAMPLE_HZ: u32 = env::MAX_SAMPLE_HZ;
/// Environment variable giving the recording interval in milliseconds for [`init_from_env`].
pub const ENV_INTERVAL_MS: &str = env::ENV_INTERVAL_MS;

/// Settings of a recording.
#[derive(Debug, Clone)]
pub struct RecorderOptions {
    /// File to write (created or truncated).
    pub path: PathBuf,
    /// Length of one interval. Default [`DEFAULT_INTERVAL`]; at least [`MIN_INTERVAL`].
    pub interval: Duration,
    /// Stack samples per second per subtask; 0 turns sampling off. Default [`DEFAULT_SAMPLE_HZ`].
    pub sample_hz: u32,
    /// Signal used to sample (default `SIGURG`, ignored by default; SIGPROF is left to others).
    pub sample_signal: Option<i32>,
    /// The longest that stopping blocks the caller of [`Recorder::stop`], the thread dropping the
    /// recorder, or process exit. Default [`DEFAULT_STOP_TIMEOUT`]. When the writer has not
    /// finished the file by then (its output does not take data: a pipe nobody reads, a hung
    /// network file system), stopping returns [`RecorderError::StopTimedOut`] and leaves the
    /// writer thread behind, detached.
    pub stop_timeout: Duration,
    /// Writes the recording as a series of files `NAME.000000.bpprof`, `NAME.000001.bpprof`, ...
    /// (for a `path` of `NAME.bpprof`) within these limits. Default: none, one file at `path`.
    pub rotation: Option<Rotation>,
}

impl RecorderOptions {
    /// Options that write `path` with the default interval.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        RecorderOptions {
            path: path.into(),
            interval: DEFAULT_INTERVAL,
            sample_hz: DEFAULT_SAMPLE_HZ,
            sample_signal: None,
            stop_timeout: DEFAULT_STOP_TIMEOUT,
            rotation: None,
        }
    }

    /// Rotates the recording (see [`RecorderOptions::rotation`]).
    pub fn rotate(mut self, rotation: Rotation) -> Self {
        self.rotation = Some(rotation);
        self
    }

    /// Sets the longest time stopping may block (see [`RecorderOptions::stop_timeout`]).
    pub fn stop_timeout(mut self, timeout: Duration) -> Self {
        self.stop_timeout = timeout;
        self
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

    /// Sets the signal used for sampling: `SIGURG` (the default), `SIGWINCH` or a real-time signal.
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
    /// The rotation asked for cannot be used.
    #[error("invalid rotation of the recording{origin}: {source}")]
    Rotation {
        /// Where it came from (`" (from BPPROF_OUT_MAX_FILE, ...)"`, or `" (from
        /// RecorderOptions::rotate)"`).
        origin: &'static str,
        /// What is wrong.
        #[source]
        source: RotationError,
    },
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
    /// Stopping gave up after [`RecorderOptions::stop_timeout`]: the writer was still blocked
    /// writing to the output. The file is left as it is: the chunks written before are complete
    /// and readable, the end chunk is missing (readers warn that the recording was not
    /// finalised). The writer thread is detached: it stops at its next chunk if the output ever
    /// takes the pending data, and holds no lock the program or a later recorder needs.
    #[error("the recording '{path}' could not be finished within {timeout:?}: its output is not taking data (a pipe nobody reads, a stalled disk or network file system) or the writer is far behind; the {written} interval chunks written before stay readable, the end chunk is missing, and the writer thread was left behind")]
    StopTimedOut {
        /// The path.
        path: PathBuf,
        /// The stop timeout that expired.
        timeout: Duration,
        /// Interval chunks completely written before stopping gave up.
        written: u64,
    },
    /// The recorder was started by a parent process before it forked: its threads do not exist in
    /// this child, which records nothing into its file (the parent still does). Start a new
    /// recorder in the child.
    #[error("this bpprof recorder was started by process {parent_pid} before it forked; it does not record in the child, and its file '{path}' belongs to the parent; start a new recorder in the child")]
    Forked {
        /// The path the parent records to.
        path: PathBuf,
        /// The process that started the recorder.
        parent_pid: u32,
    },
}

/// What a finished recording holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingSummary {
    /// The file written (with rotation, the base name of the series).
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

/// The recorder that process exit must finalise: null, [`STARTING`], or an `Arc<Control>` made
/// into a pointer (owning one reference). An atomic, not a mutex, so that a forked child can reset
/// it without locking (see [`child_after_fork`]), and the exit hook can take it without waiting.
static ACTIVE: AtomicPtr<Control> = AtomicPtr::new(ptr::null_mut());

/// Marks [`ACTIVE`] while a recorder starts. Never a real `Arc` pointer (those point past the
/// reference counts of an allocation).
const STARTING: *mut Control = NonNull::dangling().as_ptr();

/// The recorder's fork handler (see [`crate::fork`]), registered by the first start: in a forked
/// child, right after `fork` (async-signal-safe: atomic loads and stores only), the parent's
/// recorder and its sampler are not running. Its `Arc` is leaked in the child rather than dropped.
extern "C" fn child_after_fork() {
    ACTIVE.store(ptr::null_mut(), Ordering::Release);
    if SYMBOLIZING.swap(0, Ordering::AcqRel) > 0 {
        SYMBOLIZER_LOST.store(true, Ordering::Release);
    }
    sampling::set_active(false);
}

/// Why the recordings of this process have no stack samples, if they cannot.
const SYMBOLIZER_LOST_WARNING: &str = "stack samples are not recorded in this process: it was forked while its parent was resolving symbols, and the symbol resolver's lock stays held in the child";

/// Clears [`ACTIVE`] if it still holds `control`, releasing its reference.
fn deactivate(control: &Arc<Control>) {
    let ours = Arc::as_ptr(control).cast_mut();
    if ACTIVE
        .compare_exchange(ours, ptr::null_mut(), Ordering::AcqRel, Ordering::Acquire)
        .is_ok()
    {
        // SAFETY: ACTIVE held the reference made by `Arc::into_raw` in `start`; the successful
        // exchange transfers it to us, once.
        drop(unsafe { Arc::from_raw(ours) });
    }
}

/// Frees [`ACTIVE`] from [`STARTING`] when a start fails (or returns).
struct StartClaim;

impl Drop for StartClaim {
    fn drop(&mut self) {
        let _ = ACTIVE.compare_exchange(
            STARTING,
            ptr::null_mut(),
            Ordering::AcqRel,
            Ordering::Acquire,
        );
    }
}

impl Recorder {
    /// Starts recording to `options.path`.
    pub fn start(options: RecorderOptions) -> Result<Recorder, RecorderError> {
        start(options, "")
    }

    /// Stops recording, writes the last interval and the end chunk, and says what was written.
    ///
    /// Returns within [`RecorderOptions::stop_timeout`], with [`RecorderError::StopTimedOut`]
    /// if the file could not be finished by then. In a forked child, a recorder inherited from the
    /// parent returns [`RecorderError::Forked`] at once and touches nothing.
    pub fn stop(mut self) -> Result<RecordingSummary, RecorderError> {
        self.finish()
    }

    fn finish(&mut self) -> Result<RecordingSummary, RecorderError> {
        if self.control.generation != fork::generation() {
            // A child of the process that started the recorder: its threads are not here, and
            // the parent's copy of their state (locks included) is not to be touched. Forgetting
            // the handles leaks them in the child instead of detaching threads that do not exist.
            std::mem::forget(self.snapshot_thread.take());
            std::mem::forget(self.writer_thread.take());
            return Err(RecorderError::Forked {
                path: self.control.path.clone(),
                parent_pid: self.control.pid,
            });
        }
        let deadline = Instant::now() + self.control.stop_timeout;
        let finished = self.control.stop_and_wait(deadline);
        // The snapshot thread gives up on the writer before the deadline, so it is normally done
        // by then; the writer has returned or is about to once it finished. A thread still running
        // at the deadline is detached: neither holds a lock while it waits.
        join_by(self.snapshot_thread.take(), deadline);
        join_by(self.writer_thread.take(), deadline);
        deactivate(&self.control);
        let outcome = self
            .control
            .outcome
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if !finished {
            return Err(RecorderError::StopTimedOut {
                path: self.control.path.clone(),
                timeout: self.control.stop_timeout,
                written: outcome.written,
            });
        }
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

    /// The file being written (with rotation, the base name of the series, `NAME.bpprof` for
    /// files `NAME.000000.bpprof`, ...).
    pub fn path(&self) -> &Path {
        &self.control.path
    }
}

impl Drop for Recorder {
    /// Stops the recording like [`Recorder::stop`] (bounded the same way), ignoring its outcome.
    fn drop(&mut self) {
        if self.snapshot_thread.is_some() {
            let _ = self.finish();
        }
    }
}

/// Joins `thread` if it ends by `deadline`; otherwise detaches it (drops the handle).
fn join_by(thread: Option<JoinHandle<()>>, deadline: Instant) {
    let Some(thread) = thread else { return };
    let mut pause = Duration::from_micros(50);
    while !thread.is_finished() {
        let now = Instant::now();
        if now >= deadline {
            return;
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(5));
    }
    let _ = thread.join();
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
/// `BPPROF_SAMPLE_SIGNAL` the signal it uses (SIGURG by default). `BPPROF_OUT_MAX_FILE`,
/// `BPPROF_OUT_MAX_AGE` and `BPPROF_OUT_MAX_TOTAL` rotate the recording (see [`Rotation`]).
pub fn init_from_env() -> Result<Option<Recorder>, RecorderError> {
    let path = std::env::var_os(ENV_OUT).filter(|p| !p.is_empty());
    #[cfg(feature = "http")]
    crate::live::serve_from_env(path.is_some());
    let Some(path) = path else {
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
    options.rotation = Rotation::from_env().map_err(|source| RecorderError::Rotation {
        origin: ENV_ROTATION_ORIGIN,
        source,
    })?;
    start(options, " (from BPPROF_OUT)").map(Some)
}

/// Where a rotation read by [`init_from_env`] comes from, for its errors.
const ENV_ROTATION_ORIGIN: &str =
    " (from BPPROF_OUT_MAX_FILE, BPPROF_OUT_MAX_AGE, BPPROF_OUT_MAX_TOTAL)";

fn start(options: RecorderOptions, origin: &'static str) -> Result<Recorder, RecorderError> {
    let limits = validated(&options, origin)?;
    static FORK_HANDLER: Once = Once::new();
    FORK_HANDLER.call_once(|| fork::on_fork(None, child_after_fork));
    if ACTIVE
        .compare_exchange(
            ptr::null_mut(),
            STARTING,
            Ordering::AcqRel,
            Ordering::Acquire,
        )
        .is_err()
    {
        return Err(RecorderError::AlreadyRunning);
    }
    let claim = StartClaim;
    let sample_signal = options
        .sample_signal
        .unwrap_or_else(sampling::default_signal);
    if options.sample_hz > 0 {
        sampling::install(sample_signal)?;
    }
    // With rotation, the first file of the series (an earlier series of the same name removed).
    let first_file = match limits {
        Some(_) => {
            rotation::remove_earlier(&options.path);
            bpprof_format::series_file(&options.path, 0)
        }
        None => options.path.clone(),
    };
    let create_error = |source| RecorderError::CreateFile {
        path: first_file.clone(),
        origin,
        source,
    };
    let file = File::create(&first_file).map_err(create_error)?;
    let meta = recording_meta(&options, sample_signal);
    let writer = RecordingWriter::new(BufWriter::new(file), &meta).map_err(create_error)?;
    let series = limits.map(|limits| {
        (
            rotation::Series::new(options.path.clone(), limits),
            meta.clone(),
        )
    });
    #[cfg(feature = "http")]
    crate::live::begin(&meta);

    let (stop_tx, stop_rx) = bounded(1);
    let (chunk_tx, chunk_rx) = bounded(WRITER_QUEUE);
    let control = Arc::new(Control {
        path: options.path.clone(),
        stop_timeout: options.stop_timeout,
        pid: std::process::id(),
        generation: fork::generation(),
        stop_tx,
        outcome: Mutex::new(Outcome::default()),
        done: Condvar::new(),
        abandoned: AtomicBool::new(false),
    });

    begin_recording(options.sample_hz > 0);
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
    let sampling = sampler.is_some();
    let writer_thread = std::thread::Builder::new()
        .name("bpprof-writer".into())
        .spawn(move || write_loop(writer, chunk_rx, &writer_control, sampling, series))
        .map_err(|e| {
            // The sampler (dropped on return) stops; the recording never began.
            sampling::set_active(false);
            registry::finish_recording();
            RecorderError::Thread(e)
        })?;
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
        .map_err(|e| {
            // The closure, with the sampler and the writer's queue, was dropped: the sampler
            // stopped and the writer ends on its own.
            sampling::set_active(false);
            registry::finish_recording();
            RecorderError::Thread(e)
        })?;

    ACTIVE.store(
        Arc::into_raw(Arc::clone(&control)).cast_mut(),
        Ordering::Release,
    );
    drop(claim);
    install_exit_hook();
    Ok(Recorder {
        control,
        snapshot_thread: Some(snapshot_thread),
        writer_thread: Some(writer_thread),
    })
}

/// The checks of `options` before anything starts: the interval, the sampling rate, and the
/// rotation's limits (`None` without rotation). `origin` says where the options came from.
fn validated(
    options: &RecorderOptions,
    origin: &'static str,
) -> Result<Option<rotation::Limits>, RecorderError> {
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
    options
        .rotation
        .as_ref()
        .map(Rotation::limits)
        .transpose()
        .map_err(|source| RecorderError::Rotation {
            origin: if origin.is_empty() {
                " (from RecorderOptions::rotate)"
            } else {
                ENV_ROTATION_ORIGIN
            },
            source,
        })
}

/// The recording's meta chunk: when, where and how it is recorded.
fn recording_meta(options: &RecorderOptions, sample_signal: i32) -> RecordingMeta {
    let start_unix_ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    RecordingMeta {
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
        sampler: if options.sample_hz > 0 {
            sampling::mechanism(sample_signal)
        } else {
            String::new()
        },
    }
}

/// Marks the registry recording (channels dropped before the start forgotten), with the warning
/// that stack samples cannot be recorded in this process when it was forked mid-symbolisation.
fn begin_recording(sampling: bool) {
    let mut registry = registry::lock();
    registry.prune_channels();
    registry.set_recording(true);
    if sampling && SYMBOLIZER_LOST.load(Ordering::Acquire) {
        registry.warn(RuntimeWarning {
            code: "samples_unavailable".to_owned(),
            message: SYMBOLIZER_LOST_WARNING.to_owned(),
        });
    }
}

fn snapshot_loop(
    mut snapshotter: Snapshotter,
    mut sampler: Option<Sampler>,
    start_ns: u64,
    interval: Duration,
    stop_rx: Receiver<Instant>,
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
        let stop = match stop_rx.recv_timeout(wait) {
            Ok(deadline) => Some(deadline),
            Err(RecvTimeoutError::Disconnected) => Some(Instant::now() + control.stop_timeout),
            Err(RecvTimeoutError::Timeout) => None,
        };
        snapshotter.sample_fills();
        let now = clock::now_ns();
        if let Some(deadline) = stop {
            if let Some(sampler) = sampler.as_mut() {
                sampler.stop();
                sampling::set_active(false);
            }
            let pending = snapshotter.tick(now);
            let chunk = pending.chunk.clone();
            let samples = take_samples(&sampler, &mut carried);
            // The process-wide state is released before anything that may wait for the writer:
            // once the stop deadline passes, a new recorder may start, and nothing this thread
            // does afterwards may touch what that one owns.
            registry::finish_recording();
            // The last interval must reach the file: wait for room, until shortly before the
            // deadline (the caller joins this thread by then).
            let give_up = deadline.checked_sub(SNAPSHOT_MARGIN).unwrap_or(deadline);
            let sent = chunk_tx
                .send_deadline(ToWriter::Interval(Box::new(chunk), samples), give_up)
                .is_ok();
            let chunks = snapshotter.chunks() + u64::from(sent);
            let end = EndChunk {
                end_ns: now.saturating_sub(start_ns),
                chunks,
                coalesced_intervals: coalesced_total,
            };
            {
                let mut outcome = control.outcome.lock().unwrap_or_else(|p| p.into_inner());
                outcome.chunks = chunks;
                outcome.coalesced = coalesced_total;
            }
            let _ = chunk_tx.send_deadline(ToWriter::End(end), give_up);
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

/// Finalises the active recording when the process exits normally (returning from `main` or
/// calling `std::process::exit`), so that programs that never drop their recorder still get a
/// complete file. Bounded like [`Recorder::stop`] by the recorder's stop timeout; a forked child
/// has no active recorder, so its exit does not wait.
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
    let current = ACTIVE.load(Ordering::Acquire);
    if current.is_null() || current == STARTING {
        return;
    }
    if ACTIVE
        .compare_exchange(
            current,
            ptr::null_mut(),
            Ordering::AcqRel,
            Ordering::Acquire,
        )
        .is_err()
    {
        return; // Stopped meanwhile by another thread.
    }
    // SAFETY: the exchange transferred ACTIVE's reference (from `Arc::into_raw` in `start`).
    let control = unsafe { Arc::from_raw(current) };
    if control.generation == fork::generation() {
        // The threads are left to the process exit; this only bounds how long it waits for them.
        control.stop_and_wait(Instant::now() + control.stop_timeout);
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
