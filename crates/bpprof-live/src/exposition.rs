//! The Prometheus text exposition format (version 0.0.4): `# HELP` and `# TYPE` lines, then one
//! `name{label="value"} number` line per series, label values and help text escaped.
//!
//! A small encoder rather than a metrics crate: the series are rebuilt from the history at every
//! scrape (their label sets come and go with the subtasks), which registry-based crates model as
//! custom collectors around the same few lines.

use std::fmt::Write;

/// The `Content-Type` of the format.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The type of a metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Only goes up (name ends in `_total`).
    Counter,
    /// Any value.
    Gauge,
}

/// A document being written.
#[derive(Debug, Default)]
pub(crate) struct Exposition {
    out: String,
}

impl Exposition {
    /// Starts the family `name`: its help and type lines. Its samples follow.
    pub(crate) fn family(&mut self, name: &str, kind: Kind, help: &str) {
        debug_assert!(valid_name(name), "{name}");
        let kind = match kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        };
        let _ = writeln!(self.out, "# HELP {name} {}", escape(help, false));
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    /// One sample of the family started last.
    pub(crate) fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (n, (label, value)) in labels.iter().enumerate() {
                debug_assert!(valid_name(label) && !label.contains(':'), "{label}");
                if n > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{label}=\"{}\"", escape(value, true));
            }
            self.out.push('}');
        }
        self.out.push(' ');
        self.out.push_str(&number(value));
        self.out.push('\n');
    }

    /// The document.
    pub(crate) fn finish(self) -> String {
        self.out
    }
}

/// A sample value: `NaN`, `+Inf`, `-Inf` or the shortest decimal that reads back as `value`.
fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        value.to_string()
    }
}

/// Escapes `\` and newlines (and `"` in label values), as the format requires.
fn escape(text: &str, quote: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quote => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_and_help_are_escaped() {
        let mut doc = Exposition::default();
        doc.family("x_total", Kind::Counter, "a \\ help\nline \"quoted\"");
        doc.sample("x_total", &[("task", "a\"b\\c\nd"), ("i", "0")], 1.5);
        doc.sample("x_total", &[], f64::NAN);
        doc.family("y", Kind::Gauge, "inf");
        doc.sample("y", &[], f64::INFINITY);
        assert_eq!(
            doc.finish(),
            "# HELP x_total a \\\\ help\\nline \"quoted\"\n\
             # TYPE x_total counter\n\
             x_total{task=\"a\\\"b\\\\c\\nd\",i=\"0\"} 1.5\n\
             x_total NaN\n\
             # HELP y inf\n\
             # TYPE y gauge\n\
             y +Inf\n"
        );
    }

    #[test]
    fn values_read_back_exactly() {
        for v in [0.0, 1e-9, 123_456_789.123_456_79, 0.1 + 0.2, 1e21] {
            assert_eq!(number(v).parse::<f64>().unwrap(), v);
        }
    }

    #[test]
    fn names_are_checked() {
        assert!(valid_name("bpprof_subtask_busy_seconds_total"));
        assert!(valid_name("a:b_1"));
        assert!(!valid_name("1a"));
        assert!(!valid_name("a-b"));
        assert!(!valid_name(""));
    }
}
