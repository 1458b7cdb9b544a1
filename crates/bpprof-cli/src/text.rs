//! Wording the subcommands' status lines share.

use bpprof_analysis::units::thousands;

/// `1 interval`, `2,310 stack samples`: a count and a noun, plural unless the count is one.
pub(crate) fn plural(n: u64, what: &str) -> String {
    let s = if n == 1 { "" } else { "s" };
    format!("{} {what}{s}", thousands(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_is_singular_and_thousands_are_grouped() {
        assert_eq!(plural(1, "interval"), "1 interval");
        assert_eq!(plural(0, "interval"), "0 intervals");
        assert_eq!(plural(2310, "stack sample"), "2,310 stack samples");
    }
}
