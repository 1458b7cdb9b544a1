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
//! The HTTP server, the routes and the page are the crate `bpprof-live`, which `bpprof serve REC`
//! uses too; this module is the runtime's side: the process-wide history the recorder fills, the
//! options and `BPPROF_HTTP`.
//!
//! ```no_run
//! let _server = bpprof::live::serve(bpprof::live::LiveOptions::default())?; // 127.0.0.1:9464
//! let _recorder = bpprof::Recorder::start(bpprof::RecorderOptions::new("run.bpprof"))?;
//! // ... run the pipeline; `curl http://127.0.0.1:9464/metrics` meanwhile ...
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod shared;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bpprof_live::{Endpoint, EndpointOptions, Limits, Mode};

pub use bpprof_live::{parse_address, Error as LiveError, Server as LiveServer, DEFAULT_ADDRESS};
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
    shared::server_started(Limits {
        age_ns: options.history.as_nanos() as u64,
        bytes: options.history_bytes,
    });
    let endpoint = Endpoint::new(
        EndpointOptions {
            history: options.history,
            history_bytes: Some(options.history_bytes),
            window: options.window,
            job: options.job,
            mode: Mode::Live,
        },
        Arc::new(shared::Process),
    );
    bpprof_live::serve(options.address, endpoint, Box::new(shared::server_stopped))
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
