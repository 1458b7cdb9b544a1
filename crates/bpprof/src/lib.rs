//! bpprof runtime (in progress).
