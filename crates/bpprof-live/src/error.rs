//! Why the endpoint could not start.

use std::net::SocketAddr;

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
