//! The live endpoint: the recorder's last minutes over HTTP, for Prometheus and for people.
//!
//! Off by default (cargo feature `http`, and then only when asked): [`serve`] starts it, or
//! `BPPROF_HTTP=127.0.0.1:9464` with [`crate::init_from_env`]. It serves
//!
//! - `GET /metrics`: the Prometheus text format: cumulative per-subtask counters, Flink's
//!   `busyTimeMsPerSecond` gauges over the last [`LiveOptions::window`], per-edge queue capacity
//!   and fill, and the current bottleneck;
//! - `GET /api/v1/locate`, `/api/v1/timeline`, `/api/v1/flame`, `/api/v1/graph`,
//!   `/api/v1/status`: JSON (and folded stacks or SVG) of the last seconds, computed by
//!   `bpprof-analysis` as `bpprof locate` and `bpprof flame` compute them from a file;
//! - `GET /`: a self-contained live page over those.
//!
//! The recorder hands every interval it writes to a bounded in-memory ring ([`LiveOptions::history`],
//! [`LiveOptions::history_bytes`]); the endpoint reads the ring, never the pipeline's state. It
//! runs on its own thread (`bpprof-http`) with its own current-thread tokio runtime, so the host
//! needs no runtime, and bounds what a client can make it do: connections, request size, the time
//! to send a request's headers and the lifetime of a connection (see `docs/live.md`).
//!
//! ```no_run
//! let _server = bpprof::live::serve(bpprof::live::LiveOptions::default())?; // 127.0.0.1:9464
//! let _recorder = bpprof::Recorder::start(bpprof::RecorderOptions::new("run.bpprof"))?;
//! // ... run the pipeline; `curl http://127.0.0.1:9464/metrics` meanwhile ...
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod address;
mod api;
mod exposition;
mod history;
mod metrics;
mod query;
mod server;
mod shared;
mod totals;

use std::net::SocketAddr;
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::Duration;

pub use address::{parse_address, DEFAULT_ADDRESS};
pub(crate) use shared::{begin, tee};

/// Environment variable that starts the endpoint from [`crate::init_from_env`]: an address
/// (`127.0.0.1:9464`, `[::1]:9464`, `0.0.0.0:9464`) or a port alone (`9464`, bound on
/// 127.0.0.1). Only an address given explicitly binds anything but loopback.
pub const ENV_HTTP: &str = "BPPROF_HTTP";

/// Environment variable giving the `job_name` label for [`ENV_HTTP`] (default: the program's
/// name).
pub const ENV_JOB: &str = "BPPROF_JOB";

/// Default of [`LiveOptions::history`]: five minutes.
pub const DEFAULT_HISTORY: Duration = Duration::from_secs(300);
/// Default of [`LiveOptions::history_bytes`]: 64 MiB.
pub const DEFAULT_HISTORY_BYTES: usize = 64 << 20;
/// Default of [`LiveOptions::window`]: ten seconds.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(10);

/// Settings of the endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveOptions {
    /// Where to listen. Default [`DEFAULT_ADDRESS`] (loopback); port 0 picks a free port
    /// ([`LiveServer::local_addr`] says which).
    pub address: SocketAddr,
    /// How much of the past the ring keeps, and the longest range a request may ask for.
    /// Default [`DEFAULT_HISTORY`].
    pub history: Duration,
    /// The most the ring's intervals and samples may take, estimated; the oldest are dropped
    /// first. Default [`DEFAULT_HISTORY_BYTES`].
    pub history_bytes: usize,
    /// The range of `/metrics`' gauges and bottleneck series (Flink averages over 60 s in 5 s
    /// steps; a shorter window shows a moving bottleneck). Default [`DEFAULT_WINDOW`].
    pub window: Duration,
    /// The `job_name` label of every series. Default (`None`): the program's name.
    pub job: Option<String>,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            address: DEFAULT_ADDRESS,
            history: DEFAULT_HISTORY,
            history_bytes: DEFAULT_HISTORY_BYTES,
            window: DEFAULT_WINDOW,
            job: None,
        }
    }
}

impl LiveOptions {
    /// Default options listening on `address`.
    pub fn new(address: SocketAddr) -> Self {
        LiveOptions {
            address,
            ..LiveOptions::default()
        }
    }
}

/// Why the endpoint could not start.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// The address is not an IP address and port, or a port.
    #[error("invalid address '{text}' for the bpprof endpoint: {reason}; give a port (9464, bound on 127.0.0.1) or an address (127.0.0.1:9464)")]
    Address {
        /// What was given.
        text: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An option is out of range.
    #[error("invalid option of the bpprof endpoint: {0}")]
    Option(String),
    /// The address could not be bound.
    #[error("cannot listen on {address} for the bpprof endpoint: {source}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The endpoint's thread or runtime could not be started.
    #[error("cannot start the bpprof endpoint's thread: {0}")]
    Thread(#[source] std::io::Error),
}

/// A running endpoint. Dropping it (or [`stop`](Self::stop)) closes the listener and every
/// connection.
#[derive(Debug)]
pub struct LiveServer {
    local_addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl LiveServer {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops it and waits for its thread (its connections are dropped, not finished).
    pub fn stop(mut self) {
        self.shut_down();
    }

    fn shut_down(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for LiveServer {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// Starts the endpoint: binds `options.address` now (an error if it cannot) and serves from a
/// thread of its own until the returned handle drops.
pub fn serve(options: LiveOptions) -> Result<LiveServer, LiveError> {
    if options.history < Duration::from_secs(1) || options.window < Duration::from_millis(100) {
        return Err(LiveError::Option(format!(
            "history {:?} and window {:?}: give a history of at least 1 s and a window of at least 100 ms",
            options.history, options.window
        )));
    }
    if options.window > options.history {
        return Err(LiveError::Option(format!(
            "the window {:?} is longer than the history {:?}",
            options.window, options.history
        )));
    }
    let (local_addr, shutdown, thread) = server::spawn(options)?;
    Ok(LiveServer {
        local_addr,
        shutdown: Some(shutdown),
        thread: Some(thread),
    })
}

/// The endpoint [`crate::init_from_env`] started, kept until the process exits.
static FROM_ENV: Mutex<Option<LiveServer>> = Mutex::new(None);

/// Starts the endpoint when [`ENV_HTTP`] asks for it (once per process). Never fails the host:
/// a bad value or an address in use is one line on stderr.
pub(crate) fn serve_from_env(recording: bool) {
    let Some(text) = std::env::var_os(ENV_HTTP).filter(|t| !t.is_empty()) else {
        return;
    };
    let mut running = FROM_ENV.lock().unwrap_or_else(|p| p.into_inner());
    if running.is_some() {
        return;
    }
    let started = parse_address(&text.to_string_lossy()).and_then(|address| {
        serve(LiveOptions {
            job: std::env::var(ENV_JOB).ok().filter(|j| !j.is_empty()),
            ..LiveOptions::new(address)
        })
    });
    match started {
        Ok(server) => {
            eprintln!(
                "bpprof: live metrics on http://{}/metrics{}",
                server.local_addr(),
                if recording {
                    ""
                } else {
                    " (no recording: set BPPROF_OUT too, the endpoint shows what the recorder writes)"
                }
            );
            *running = Some(server);
        }
        Err(e) => eprintln!("bpprof: {ENV_HTTP}: {e}; the endpoint is off"),
    }
}
