//! How numbers are written for people: ratios as percentages, counts with thousands separators,
//! durations, changes and limits, plurals and lists in prose. Every renderer of the analysis
//! (the text of `locate`, `check` and `plan`, Markdown, JUnit, GitHub annotations, the SVG
//! pictures) and the CLI's status lines use these, so one number reads the same everywhere.
//!
//! Nothing here knows a report type: the unit of a check metric is chosen by
//! [`crate::check::Metric`], which calls these.

/// Nanoseconds in a second: the recording's times are nanoseconds, every figure shown is seconds.
pub(crate) const NS_PER_S: f64 = 1e9;

/// What a cell shows for a value that is not known.
pub const MISSING: &str = "-";

/// A ratio as a whole percentage: `0.974` -> `"97%"`.
pub fn pct(ratio: f64) -> String {
    format!("{:.0}%", ratio * 100.0)
}

/// [`pct`] of a known, non-NaN ratio, else `or`: `Some(0.5)` -> `"50%"`, `None` -> `or`.
pub fn pct_or(ratio: Option<f64>, or: &str) -> String {
    match ratio {
        Some(r) if !r.is_nan() => pct(r),
        _ => or.to_owned(),
    }
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

/// A quantity: thousands separators from 100 up (`1,234`), 3 significant digits below (`12.3`,
/// `0.520`); a sign for negative values.
pub fn number(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    let sign = if v < 0.0 { "-" } else { "" };
    let a = v.abs();
    if a >= 99.95 {
        return format!("{sign}{}", thousands(a.round() as u64));
    }
    if a == 0.0 {
        return "0".to_owned();
    }
    let decimals = (2 - a.log10().floor() as i32).max(0) as usize;
    format!("{sign}{a:.decimals$}")
}

/// [`number`] with a sign: `+1,234`, `-0.520`.
pub fn signed_number(v: f64) -> String {
    if v < 0.0 {
        number(v)
    } else {
        format!("+{}", number(v))
    }
}

/// At most `decimals` decimals, no trailing zeros: `decimal(2.5, 3)` -> `2.5`, `decimal(10.0, 3)`
/// -> `10`, `decimal(0.125, 3)` -> `0.125`.
pub fn decimal(v: f64, decimals: usize) -> String {
    trim_decimals(&format!("{v:.decimals$}")).to_owned()
}

/// [`decimal`] with thousands separators: `grouped_decimal(1250.0, 1)` -> `1,250`,
/// `grouped_decimal(12.5, 1)` -> `12.5`.
pub fn grouped_decimal(v: f64, decimals: usize) -> String {
    let text = decimal(v.abs(), decimals);
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let sign = if v < 0.0 && text != "0" { "-" } else { "" };
    let grouped = whole
        .parse::<u64>()
        .map_or_else(|_| whole.to_owned(), thousands);
    match fraction {
        "" => format!("{sign}{grouped}"),
        f => format!("{sign}{grouped}.{f}"),
    }
}

/// Seconds for messages: at most three decimals, no trailing zeros (`2.5`, `10`, `0.125`).
pub fn seconds(s: f64) -> String {
    decimal(s, 3)
}

/// Milliseconds, from 1 s up as seconds: `12.3` -> `"12 ms"`, `2500` -> `"2.5 s"`.
pub fn millis(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else {
        format!("{ms:.0} ms")
    }
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

/// A CPU cost per record, µs with two decimals: `12.345` -> `"12.35 µs"`.
pub fn micros_2(us: f64) -> String {
    format!("{us:.2} µs")
}

/// A ratio with three decimals, as `bpprof.toml` and `--assert` write bounds: `0.93` ->
/// `"0.930"`.
pub fn ratio(r: f64) -> String {
    format!("{r:.3}")
}

/// A change: relative ones as a signed percentage with one decimal (`+21.0%`), absolute ones
/// (changes of a ratio) with two decimals (`+0.06`).
pub fn change(v: f64, relative: bool) -> String {
    if relative {
        format!("{:+.1}%", v * 100.0)
    } else {
        format!("{v:+.2}")
    }
}

/// An interval of changes for tables: `[+19.2%, +22.8%]` or `[+0.04, +0.08]`.
pub fn change_interval(i: [f64; 2], relative: bool) -> String {
    format!("[{}, {}]", change(i[0], relative), change(i[1], relative))
}

/// An interval of changes for the verdict line, the percent sign left to the change before it:
/// `[+19.2, +22.8]` or `[+0.04, +0.08]`.
pub fn change_interval_short(i: [f64; 2], relative: bool) -> String {
    let end = |v: f64| change(v, relative).trim_end_matches('%').to_owned();
    format!("[{}, {}]", end(i[0]), end(i[1]))
}

/// A limit: `5%`, `2.5%` (relative) or `0.05` (absolute).
pub fn limit(v: f64, relative: bool) -> String {
    if relative {
        format!("{}%", decimal(v * 100.0, 2))
    } else {
        decimal(v, 3)
    }
}

/// A confidence level as a percentage with as many decimals as needed to stay below 100:
/// `0.95` -> `95`, `0.99444` -> `99.4`, `0.99994` -> `99.994`.
pub fn confidence_level(l: f64) -> String {
    let p = l * 100.0;
    for decimals in 1..=6 {
        let text = format!("{p:.decimals$}");
        if l >= 1.0 || text.parse::<f64>().is_ok_and(|r| r < 100.0) {
            return trim_decimals(&text).to_owned();
        }
    }
    format!("{p}")
}

/// `12.50` -> `12.5`, `5.00` -> `5`.
fn trim_decimals(text: &str) -> &str {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        text
    }
}

/// A count of things: [`plural`] takes any of the integer types counts come in.
pub trait Count: Copy {
    /// The count as a `u64`.
    fn get(self) -> u64;
}

impl Count for u64 {
    fn get(self) -> u64 {
        self
    }
}

impl Count for usize {
    fn get(self) -> u64 {
        self as u64
    }
}

impl Count for u32 {
    fn get(self) -> u64 {
        u64::from(self)
    }
}

/// `1 interval`, `2,310 stack samples`: a count with its noun in the number it needs, the count
/// with thousands separators.
pub fn plural(n: impl Count, noun: &str) -> String {
    let n = n.get();
    let s = if n == 1 { "" } else { "s" };
    format!("{} {noun}{s}", thousands(n))
}

/// The analysed range as every command writes it: `analysed 0.1–1 s of 1 s (9 intervals)`.
pub fn analysed_text(from_s: f64, to_s: f64, duration_s: f64, intervals: usize) -> String {
    format!(
        "analysed {}–{} s of {} s ({})",
        seconds(from_s),
        seconds(to_s),
        seconds(duration_s),
        plural(intervals, "interval")
    )
}

/// "A", "A and B", "A, B and C".
pub fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// `text` with every control character (line breaks, tabs, escape sequences) as a space, so that
/// a name or a message stays on its line of a table or a list.
pub fn controls_to_spaces(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The lines of `text` trimmed and joined by a space, empty ones left out, so that a multi-line
/// error message takes exactly one line.
pub fn join_lines(text: &str) -> String {
    text.split('\n')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
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
        assert_eq!(pct_or(None, "N/A"), "N/A");
        assert_eq!(pct_or(Some(f64::NAN), "-"), "-");
        assert_eq!(
            join_and(&["A".into(), "B".into(), "C".into()]),
            "A, B and C"
        );
        assert_eq!(join_and(&["A".into()]), "A");
    }

    #[test]
    fn quantities_keep_three_significant_digits() {
        assert_eq!(number(25417.4), "25,417");
        assert_eq!(number(12.345), "12.3");
        assert_eq!(number(0.5), "0.500");
        assert_eq!(number(99.96), "100");
        assert_eq!(signed_number(-0.52), "-0.520");
        assert_eq!(signed_number(1234.0), "+1,234");
    }

    #[test]
    fn durations_drop_trailing_zeros() {
        assert_eq!(seconds(2.5), "2.5");
        assert_eq!(seconds(10.0), "10");
        assert_eq!(seconds(0.125), "0.125");
        assert_eq!(decimal(12.5, 1), "12.5");
        assert_eq!(decimal(100.0, 1), "100");
        assert_eq!(grouped_decimal(1250.0, 1), "1,250");
        assert_eq!(grouped_decimal(12.5, 1), "12.5");
        assert_eq!(grouped_decimal(-1234.5, 1), "-1,234.5");
        assert_eq!(millis(12.3), "12 ms");
        assert_eq!(millis(2500.0), "2.5 s");
        assert_eq!(micros_2(12.345), "12.35 µs");
    }

    #[test]
    fn changes_limits_and_levels() {
        assert_eq!(change(0.21, true), "+21.0%");
        assert_eq!(change(-0.124, true), "-12.4%");
        assert_eq!(change(0.06, false), "+0.06");
        assert_eq!(change_interval([0.192, 0.228], true), "[+19.2%, +22.8%]");
        assert_eq!(
            change_interval_short([0.192, 0.228], true),
            "[+19.2, +22.8]"
        );
        assert_eq!(limit(0.05, true), "5%");
        assert_eq!(limit(0.025, true), "2.5%");
        assert_eq!(limit(0.05, false), "0.05");
        assert_eq!(confidence_level(1.0 - 0.05 / 9.0), "99.4");
        assert_eq!(confidence_level(0.95), "95");
        assert_eq!(confidence_level(1.0 - 0.05 / 1000.0), "99.995");
    }

    #[test]
    fn plurals_count_with_separators() {
        assert_eq!(plural(1u64, "interval"), "1 interval");
        assert_eq!(plural(0usize, "interval"), "0 intervals");
        assert_eq!(plural(2310u64, "stack sample"), "2,310 stack samples");
    }

    #[test]
    fn control_characters_become_spaces() {
        assert_eq!(controls_to_spaces("a\nb\tc\u{1b}"), "a b c ");
        assert_eq!(join_lines("a\n  b \n\nc"), "a b c");
    }
}
