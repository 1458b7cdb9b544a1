//! Placeholder replaced by the channel throughput benchmark.
fn main() {}
