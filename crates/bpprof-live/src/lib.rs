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
mod error;
mod exposition;
mod history;
mod metrics;
mod query;
mod server;
mod source;
mod totals;

pub use address::{parse_address, DEFAULT_ADDRESS};
pub use api::{Endpoint, EndpointOptions, Mode};
pub use error::Error;
pub use history::{History, Limits};
pub use server::{
    serve, Server, CONNECTION_LIFETIME, HEADER_TIMEOUT, MAX_CONNECTIONS, MAX_REQUEST_BYTES,
};
pub use source::Source;
pub use totals::MAX_DECLARATIONS;
