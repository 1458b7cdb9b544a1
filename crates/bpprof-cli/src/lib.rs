//! The parts of the `bpprof` command that stand on their own: the `bpprof.toml` parser
//! ([`config`], which `fuzz/` fuzzes), the error for the user ([`Failure`]) and the exit codes
//! ([`exit`]). The subcommands themselves are in the binary.

pub mod config;
pub mod exit;
mod failure;

pub use failure::Failure;
