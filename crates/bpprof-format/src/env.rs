//! The settings a recorded program reads from its environment: the runtime's
//! `bpprof::init_from_env` reads them, `bpprof record` sets them. One definition for both sides.

/// Environment variable naming the recording file.
pub const ENV_OUT: &str = "BPPROF_OUT";
/// Environment variable giving the recording interval in milliseconds.
pub const ENV_INTERVAL_MS: &str = "BPPROF_INTERVAL_MS";
/// Environment variable giving the stack-sampling rate per subtask in Hz (0 turns sampling off).
pub const ENV_SAMPLE_HZ: &str = "BPPROF_SAMPLE_HZ";
/// The shortest recording interval accepted, in milliseconds; also the default.
pub const MIN_INTERVAL_MS: u64 = 100;
/// Default stack-sampling rate per subtask, in Hz.
pub const DEFAULT_SAMPLE_HZ: u32 = 99;
/// Highest stack-sampling rate accepted, in Hz.
pub const MAX_SAMPLE_HZ: u32 = 10_000;
