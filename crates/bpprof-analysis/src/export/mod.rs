//! Exports to the formats other tools read: [`pprof`] profiles of the stack samples (for
//! `go tool pprof`, Grafana Pyroscope, Parca) and a Chrome [`trace`] of the subtasks' states over
//! time (for ui.perfetto.dev and chrome://tracing).

pub mod pprof;
pub mod trace;
