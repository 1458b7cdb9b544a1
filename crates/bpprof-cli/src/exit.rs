//! Exit codes of `bpprof`, documented in `bpprof --help`.

/// Success.
pub const OK: u8 = 0;
/// Reserved for `bpprof check`: a regression was found.
#[allow(dead_code)]
pub const REGRESSION: u8 = 1;
/// Usage error, unreadable or invalid input.
pub const BAD_INPUT: u8 = 2;
/// Reserved.
#[allow(dead_code)]
pub const RESERVED: u8 = 3;
