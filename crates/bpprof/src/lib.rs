//! bpprof's runtime: finds the source of backpressure in a multi-threaded pipeline.
//!
//! A pipeline runs each stage (*task*) as parallel *subtasks*: threads joined by bounded queues.
//! bpprof accounts every registered subtask's wall time the way Apache Flink does:
//!
//! - **idle**: blocked waiting for input (a [`Receiver::recv`] that found the queue empty, or an
//!   [`idle`] scope);
//! - **backpressured**: blocked waiting for output capacity (a [`Sender::send`] that found the
//!   queue full, or a [`backpressured`] scope);
//! - **busy**: the rest, split by the thread's CPU clock into on-CPU and off-CPU time.
//!
//! A [`Recorder`] writes one chunk per interval to a recording file, which `bpprof locate`
//! analyses to name the bottleneck.
//!
//! ```
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("run.bpprof");
//! let recorder = bpprof::Recorder::start(bpprof::RecorderOptions::new(&path)).unwrap();
//!
//! let (tx, rx) = bpprof::bounded::<u64>(64);
//! let source = std::thread::spawn(move || {
//!     let _subtask = bpprof::register("Source", 0, 1);
//!     for i in 0..1000 {
//!         tx.send(i).unwrap();
//!     }
//! });
//! let sink = std::thread::spawn(move || {
//!     let _subtask = bpprof::register("Sink", 0, 1);
//!     rx.iter().sum::<u64>()
//! });
//! source.join().unwrap();
//! assert_eq!(sink.join().unwrap(), 499_500);
//!
//! let summary = recorder.stop().unwrap();
//! assert!(summary.chunks >= 1);
//! ```
//!
//! Programs usually start recording with one line, [`init_from_env`], which records only when
//! `BPPROF_OUT` names a file.
//!
//! # Feature flags
//!
//! - `tokio`: async subtasks and instrumented async channels (`bpprof::tokio`).
//! - `http`: the live endpoint (`bpprof::live`): Prometheus metrics, a JSON API and a live page of
//!   the last minutes over HTTP, started by `BPPROF_HTTP` or `live::serve`.
#![deny(missing_docs)]

mod account;
mod cell;
mod channel;
mod clock;
mod fork;
mod link;
#[cfg(feature = "http")]
pub mod live;
mod operator;
mod operator_table;
#[cfg(feature = "tokio")]
mod poller;
mod probe;
mod recorder;
mod registry;
mod sampler;
mod sampling;
mod snapshot;
mod subtask;
#[cfg(feature = "tokio")]
pub mod tokio;

pub use account::State;
pub use channel::{
    bounded, bounded_named, Receiver, RecvError, RecvTimeoutError, SendError, Sender, TryRecvError,
    TrySendError,
};
pub use link::{link, Link};
pub use operator::{enter_operator, operator, OperatorScope, MAX_OPERATORS, OTHER_OPERATOR};
pub use recorder::{
    init_from_env, Recorder, RecorderError, RecorderOptions, RecordingSummary, Rotation,
    RotationError, DEFAULT_INTERVAL, DEFAULT_SAMPLE_HZ, DEFAULT_STOP_TIMEOUT, ENV_INTERVAL_MS,
    ENV_OUT, ENV_SAMPLE_HZ, ENV_SAMPLE_SIGNAL, MAX_SAMPLE_HZ, MIN_FILE_BYTES, MIN_INTERVAL,
};
pub use registry::{declare_edge, declare_task, RegisterError};
pub use sampling::SamplingError;
pub use subtask::{
    backpressured, count_records_in, count_records_out, current_state, enter, idle, register,
    try_register, BlockingScope, SubtaskGuard,
};
