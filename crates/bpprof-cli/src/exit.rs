//! Exit codes of `bpprof`, documented in `bpprof --help` and `docs/ci.md`.

/// Success (for `check`: no regression; improvements included).
pub const OK: u8 = 0;
/// `bpprof check`: a regression was found (or a budget was exceeded).
pub const REGRESSION: u8 = 1;
/// Usage error, unreadable or invalid input, incompatible recordings.
pub const BAD_INPUT: u8 = 2;
/// `bpprof check --strict`: the comparison was inconclusive (too few windows, or a change beyond
/// its limit whose interval still reaches into the noise).
pub const INCONCLUSIVE: u8 = 3;
