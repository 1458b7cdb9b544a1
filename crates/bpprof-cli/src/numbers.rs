//! Numbers on the command line: options whose values are counts refuse a negative number by
//! saying so, not as an unknown flag (`--min-windows -1`) or an "invalid digit".
//!
//! Every numeric option is declared with `allow_negative_numbers`, so that `-1` reaches its
//! parser: a count is refused here, a time or a level by the analysis (`--from must be a
//! non-negative number of seconds, got -1`), each with the real reason and exit code 2.

use std::fmt::Display;
use std::str::FromStr;

/// The value parser of an option that takes a whole number of 0 or more (`--min-windows`,
/// `--seed`, `--interval-ms`, ...).
pub(crate) fn whole_number<T>(text: &str) -> Result<T, String>
where
    T: FromStr,
    T::Err: Display,
{
    if text.trim().parse::<f64>().is_ok_and(|n| n < 0.0) {
        return Err("must be at least 0".to_owned());
    }
    text.trim()
        .parse()
        .map_err(|e| format!("give a whole number of 0 or more ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_numbers_are_refused_as_negative() {
        assert_eq!(
            whole_number::<u64>("-1"),
            Err("must be at least 0".to_owned())
        );
        assert_eq!(
            whole_number::<usize>("-2.5"),
            Err("must be at least 0".to_owned())
        );
        assert_eq!(whole_number::<u32>(" 7 "), Ok(7));
        let err = whole_number::<u32>("5000000000").unwrap_err();
        assert!(err.starts_with("give a whole number of 0 or more"), "{err}");
        assert!(whole_number::<u64>("ten").is_err());
    }
}
