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

/// Environment variable turning rotation on with a size limit per file of the series, e.g.
/// `64MiB` or `10MB` (see [`parse_size`]).
pub const ENV_OUT_MAX_FILE: &str = "BPPROF_OUT_MAX_FILE";
/// Environment variable turning rotation on with an age limit per file of the series, e.g.
/// `10m` or `1h 30m` (see [`parse_duration`]).
pub const ENV_OUT_MAX_AGE: &str = "BPPROF_OUT_MAX_AGE";
/// Environment variable turning rotation on with a limit on the series' total size on disk, the
/// oldest files removed to keep it, e.g. `10GiB` (see [`parse_size`]).
pub const ENV_OUT_MAX_TOTAL: &str = "BPPROF_OUT_MAX_TOTAL";

/// A setting that does not parse: what was given and what is expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{value}' is not {expected}")]
pub struct SettingError {
    /// The text given.
    pub value: String,
    /// What a valid value looks like.
    pub expected: &'static str,
}

/// A size in bytes: a whole number of bytes, or a number with a unit, decimal (`kB`, `MB`, `GB`:
/// powers of 1000) or binary (`KiB`, `MiB`, `GiB`: powers of 1024), as in `64MiB`, `10 MB`,
/// `1.5GiB`.
pub fn parse_size(text: &str) -> Result<u64, SettingError> {
    let error = || SettingError {
        value: text.to_owned(),
        expected: "a size such as 64MiB, 10MB or 1048576 (bytes)",
    };
    let trimmed = text.trim();
    // bytesize reads a lone unit or a negative number as something; neither is a size.
    if !trimmed.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(error());
    }
    trimmed
        .parse::<bytesize::ByteSize>()
        .map(|size| size.as_u64())
        .map_err(|_| error())
}

/// A duration: numbers with units (`s`, `m`, `h`, `d`, ...), as in `10m`, `1h 30m`, `90s`.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, SettingError> {
    humantime::parse_duration(text.trim()).map_err(|_| SettingError {
        value: text.to_owned(),
        expected: "a duration such as 10m, 1h 30m or 90s",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn sizes_take_decimal_and_binary_units_and_plain_bytes() {
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("10MB"), Ok(10_000_000));
        assert_eq!(parse_size(" 10 MB "), Ok(10_000_000));
        assert_eq!(parse_size("64KiB"), Ok(65_536));
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("1.5GiB"), Ok(3 << 29));
    }

    #[test]
    fn sizes_that_are_not_sizes_are_refused_with_an_example() {
        for bad in ["", "MiB", "-5MB", "ten MB", "10 parsecs"] {
            let error = parse_size(bad).unwrap_err();
            assert_eq!(error.value, bad);
            assert!(error.to_string().contains("64MiB"), "{error}");
        }
    }

    #[test]
    fn durations_take_units() {
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration(" 90s"), Ok(Duration::from_secs(90)));
    }

    #[test]
    fn durations_without_units_are_refused_with_an_example() {
        for bad in ["", "10", "ten minutes", "-1m"] {
            let error = parse_duration(bad).unwrap_err();
            assert!(error.to_string().contains("10m"), "{error}");
        }
    }
}
