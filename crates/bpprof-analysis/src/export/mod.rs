//! Exports to the formats other tools read: [`pprof`] profiles of the stack samples (for
//! `go tool pprof`, Grafana Pyroscope, Parca).

pub mod pprof;
