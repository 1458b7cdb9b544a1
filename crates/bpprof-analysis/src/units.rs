//! How numbers are written for people: ratios as percentages, counts with thousands separators,
//! lists in prose. Every renderer of the analysis uses these, so one number reads the same
//! everywhere.

/// A ratio as a whole percentage: `0.974` -> `"97%"`.
pub fn pct(ratio: f64) -> String {
    format!("{:.0}%", ratio * 100.0)
}

/// `812000` -> `"812,000"`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A duration in microseconds with three significant digits or more: `0.712 µs`, `84.7 µs`,
/// `1,250 µs`.
pub fn micros(us: f64) -> String {
    if us >= 999.5 {
        format!("{} µs", thousands(us.round() as u64))
    } else if us >= 99.95 {
        format!("{us:.0} µs")
    } else if us >= 9.995 {
        format!("{us:.1} µs")
    } else if us >= 0.9995 {
        format!("{us:.2} µs")
    } else {
        format!("{us:.3} µs")
    }
}

/// "A", "A and B", "A, B and C".
pub(crate) fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// `1 interval`, `9 intervals`: a count with its noun in the number it needs.
pub(crate) fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(812_000), "812,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn percentages_round_to_whole_points_and_lists_read_as_prose() {
        assert_eq!(pct(0.974), "97%");
        assert_eq!(pct(0.006), "1%");
        assert_eq!(
            join_and(&["A".into(), "B".into(), "C".into()]),
            "A, B and C"
        );
        assert_eq!(join_and(&["A".into()]), "A");
    }
}
