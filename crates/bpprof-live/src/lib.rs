//! The HTTP side of bpprof's live view: `/metrics` (Prometheus), `/api/v1/…` (JSON, folded stacks,
//! SVG) and the page `/`, over a [`History`] of intervals, served on a thread of its own with
//! bounded connections, request sizes and work.
//!
//! Two programs serve it, each with its own [`Source`] of intervals:
//!
//! - the runtime (`bpprof` with its `http` feature): the recorder's last minutes, kept in memory
//!   while the pipeline runs (`bpprof::live`);
//! - `bpprof serve REC` (`bpprof-cli`): a whole recording file, browsed with the page's time
//!   slider ([`History::from_recording`]).
//!
//! This crate depends on the format and the analysis, never on the runtime, so the CLI does not
//! link the instrumentation and the runtime does not depend on the CLI.
//!
//! ```no_run
//! use std::sync::Arc;
//! use bpprof_live::{serve, Endpoint, EndpointOptions, History};
//!
//! let recording = bpprof_format::read_file("run.bpprof")?;
//! let history = History::from_recording(recording);
//! let options = EndpointOptions::recording(&history, "run.bpprof");
//! let server = serve(
//!     bpprof_live::DEFAULT_ADDRESS,
//!     Endpoint::new(options, Arc::new(history)),
//!     Box::new(|| ()),
//! )?;
//! println!("http://{}/", server.local_addr());
//! server.wait();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Feature flags
//!
//! None.
#![deny(missing_docs)]

mod address;
mod api;
mod exposition;
mod history;
mod metrics;
mod query;
mod server;
mod totals;

use std::net::SocketAddr;

pub use address::{parse_address, DEFAULT_ADDRESS};
pub use api::{Endpoint, EndpointOptions, Mode};
pub use history::{History, Limits, MAX_DECLARATIONS};
pub use server::{
    serve, Server, CONNECTION_LIFETIME, HEADER_TIMEOUT, MAX_CONNECTIONS, MAX_REQUEST_BYTES,
};

/// Where an [`Endpoint`] reads its intervals: the runtime's process-wide history, or a recording
/// loaded whole.
pub trait Source: Send + Sync {
    /// Calls `read` with the history, if there is one yet (the runtime has none before its
    /// recorder started); holds whatever lock guards it only while `read` runs.
    fn read(&self, read: &mut dyn FnMut(&History));
}

/// A fixed history (a recording loaded whole) is its own source.
impl Source for History {
    fn read(&self, read: &mut dyn FnMut(&History)) {
        read(self);
    }
}

/// Runs `read` on the history of `source`, `None` when it has none.
pub(crate) fn with_history<T>(source: &dyn Source, read: impl FnOnce(&History) -> T) -> Option<T> {
    let mut read = Some(read);
    let mut out = None;
    source.read(&mut |history| {
        if let Some(read) = read.take() {
            out = Some(read(history));
        }
    });
    out
}

/// Why the endpoint could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
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
