//! `bpprof.toml`: the settings of `bpprof check` kept in the repository, so CI and developers use
//! the same limits. Command-line flags override it. Layout (every key optional):
//!
//! ```toml
//! [check]
//! confidence = 0.95        # family-wise confidence level
//! min_windows = 10         # fewer windows per side: inconclusive
//! window = 0.5             # window length in seconds (default: one recording interval)
//! strict = false           # exit 3 when inconclusive
//! assert = ["Enrich.busy < 0.8", "Sink.records_per_s > 50k"]
//!
//! [check.limits]           # every task
//! throughput = "5%"
//! cpu_per_record = "5%"
//! backpressured = 0.05
//!
//! [check.limits.Enrich]    # one task
//! cpu_per_record = "10%"
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use bpprof_analysis::check::{Budget, Limits};
use serde::Deserialize;

use crate::Failure;

/// The file `bpprof check` reads from the current directory when `--config` is not given.
pub const DEFAULT_CONFIG: &str = "bpprof.toml";

/// The `[check]` settings of a `bpprof.toml`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CheckConfig {
    /// `confidence`.
    pub confidence: Option<f64>,
    /// `min_windows`.
    pub min_windows: Option<usize>,
    /// `window`, seconds.
    pub window_s: Option<f64>,
    /// `strict`.
    pub strict: Option<bool>,
    /// `assert`.
    pub budgets: Vec<Budget>,
    /// `[check.limits]` entries as `[TASK.]METRIC=VALUE`, by key.
    pub limits: Vec<String>,
}

impl CheckConfig {
    /// Reads `path`; every problem is a one-line [`Failure`] naming the file and the key.
    pub fn read(path: &Path) -> Result<CheckConfig, Failure> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Failure::bad_input(
                format!("cannot read config '{}': {e}", path.display()),
                "check the --config path",
            )
        })?;
        Self::parse(&text).map_err(|what| {
            Failure::bad_input(
                format!("config '{}': {what}", path.display()),
                "see the bpprof.toml section of docs/ci.md",
            )
        })
    }

    /// Parses the text of a `bpprof.toml`.
    pub fn parse(text: &str) -> Result<CheckConfig, String> {
        // Syntax first, so that a file that is not TOML says so; then the layout, whose every
        // unknown key is an error.
        text.parse::<toml::Table>()
            .map_err(|e| format!("not valid TOML: {}", located(text, &e)))?;
        let file: File = toml::from_str(text).map_err(|e| located(text, &e))?;
        let Some(check) = file.check else {
            return Ok(CheckConfig::default());
        };
        check.validate()
    }
}

/// A toml error in one line: `line 3: MESSAGE` (toml's own rendering quotes the line over
/// several).
fn located(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim_end_matches('\n');
    match e.span() {
        Some(span) => {
            let before = &text.as_bytes()[..span.start.min(text.len())];
            let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
            format!("line {line}: {message}")
        }
        None => message.to_owned(),
    }
}

/// The layout of a `bpprof.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    check: Option<CheckSection>,
}

/// `[check]`, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckSection {
    confidence: Option<f64>,
    min_windows: Option<i64>,
    window: Option<f64>,
    strict: Option<bool>,
    #[serde(default)]
    assert: Vec<String>,
    #[serde(default)]
    limits: BTreeMap<String, LimitEntry>,
}

/// An entry of `[check.limits]`: a limit for every task, or a table of one task's limits.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum LimitEntry {
    Task(BTreeMap<String, LimitValue>),
    Value(LimitValue),
}

/// A limit as written: `"5%"`, `0.05`, `"off"`; anything else is kept to be refused with its key.
#[derive(Debug)]
enum LimitValue {
    Text(String),
    Number(f64),
    Other(String),
}

impl<'de> Deserialize<'de> for LimitValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'v> serde::de::Visitor<'v> for Visitor {
            type Value = LimitValue;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a limit: a number or a string such as \"5%\"")
            }
            fn visit_str<E>(self, v: &str) -> Result<LimitValue, E> {
                Ok(LimitValue::Text(v.to_owned()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<LimitValue, E> {
                Ok(LimitValue::Number(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<LimitValue, E> {
                Ok(LimitValue::Number(v as f64))
            }
            fn visit_bool<E>(self, v: bool) -> Result<LimitValue, E> {
                Ok(LimitValue::Other(v.to_string()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'v>>(self, _: A) -> Result<LimitValue, A::Error> {
                Ok(LimitValue::Other("a list".to_owned()))
            }
        }
        d.deserialize_any(Visitor)
    }
}

impl LimitValue {
    /// The limit as `--limit` writes it.
    fn text(&self) -> Result<String, String> {
        match self {
            LimitValue::Text(s) => Ok(s.clone()),
            LimitValue::Number(n) => Ok(n.to_string()),
            LimitValue::Other(v) => Err(format!(
                "a limit must be a number or a string such as \"5%\", got {v}"
            )),
        }
    }
}

impl CheckSection {
    /// The settings, each checked against its range; every problem names its key.
    fn validate(self) -> Result<CheckConfig, String> {
        let confidence = self
            .confidence
            .map(|c| {
                (c > 0.0 && c < 1.0).then_some(c).ok_or_else(|| {
                    format!(
                        "check.confidence must be a number between 0 and 1, such as 0.95, got {c}"
                    )
                })
            })
            .transpose()?;
        let min_windows = self
            .min_windows
            .map(|n| {
                usize::try_from(n).ok().filter(|&n| n >= 2).ok_or_else(|| {
                    format!("check.min_windows must be an integer of at least 2, got {n}")
                })
            })
            .transpose()?;
        let window_s = self
            .window
            .map(|w| {
                (w.is_finite() && w > 0.0).then_some(w).ok_or_else(|| {
                    format!("check.window must be a positive number of seconds, got {w}")
                })
            })
            .transpose()?;
        let budgets = self
            .assert
            .iter()
            .map(|text| Budget::parse(text).map_err(|e| format!("check.assert: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        let mut limits = Vec::new();
        for (key, entry) in &self.limits {
            match entry {
                LimitEntry::Task(task) => {
                    for (metric, value) in task {
                        let text = value
                            .text()
                            .map_err(|e| format!("check.limits.{key}.{metric}: {e}"))?;
                        limits.push(format!("{key}.{metric}={text}"));
                    }
                }
                LimitEntry::Value(value) => {
                    let text = value
                        .text()
                        .map_err(|e| format!("check.limits.{key}: {e}"))?;
                    limits.push(format!("{key}={text}"));
                }
            }
        }
        // Validate now, so the error names the file.
        let mut probe = Limits::default();
        for spec in &limits {
            probe
                .apply(spec)
                .map_err(|e| format!("check.limits: {e}"))?;
        }
        Ok(CheckConfig {
            confidence,
            min_windows,
            window_s,
            strict: self.strict,
            budgets,
            limits,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_key() {
        let config = CheckConfig::parse(
            r#"
            [check]
            confidence = 0.9
            min_windows = 12
            window = 0.5
            strict = true
            assert = ["Enrich.busy < 0.8"]
            [check.limits]
            throughput = "3%"
            backpressured = 0.1
            [check.limits.Enrich]
            cpu_per_record = "10%"
            "#,
        )
        .unwrap();
        assert_eq!(config.confidence, Some(0.9));
        assert_eq!(config.min_windows, Some(12));
        assert_eq!(config.window_s, Some(0.5));
        assert_eq!(config.strict, Some(true));
        assert_eq!(config.budgets.len(), 1);
        let mut limits = config.limits.clone();
        limits.sort();
        assert_eq!(
            limits,
            [
                "Enrich.cpu_per_record=10%",
                "backpressured=0.1",
                "throughput=3%"
            ]
        );
    }

    #[test]
    fn typos_are_errors() {
        let e = CheckConfig::parse("[check]\nconfidense = 0.9\n").unwrap_err();
        assert!(e.contains("line 2: unknown field `confidense`"), "{e}");
        let e = CheckConfig::parse("[check.limits]\ncpu = \"5%\"\n").unwrap_err();
        assert!(e.contains("unknown metric 'cpu'"), "{e}");
        let e = CheckConfig::parse("[chek]\n").unwrap_err();
        assert!(e.contains("unknown field `chek`, expected `check`"), "{e}");
        let e = CheckConfig::parse("[check]\nmin_windows = 1\n").unwrap_err();
        assert!(e.contains("at least 2"), "{e}");
    }

    #[test]
    fn bad_values_name_their_key_and_line() {
        let e = CheckConfig::parse("[check]\nstrict = true\nthis is not toml ]]\n").unwrap_err();
        assert!(e.starts_with("not valid TOML: line 3: "), "{e}");
        assert!(!e.contains('\n'), "{e}");
        let e = CheckConfig::parse("[check.limits.Enrich]\nbusy = true\n").unwrap_err();
        assert!(
            e.starts_with("check.limits.Enrich.busy: a limit must be"),
            "{e}"
        );
        let e = CheckConfig::parse("[check.limits]\nEnrich = true\n").unwrap_err();
        assert!(e.starts_with("check.limits.Enrich: a limit must be"), "{e}");
        for (text, expected) in [
            (
                "window = -1",
                "check.window must be a positive number of seconds",
            ),
            (
                "window = nan",
                "check.window must be a positive number of seconds",
            ),
            (
                "confidence = 1",
                "check.confidence must be a number between 0 and 1",
            ),
            (
                "confidence = 1.5",
                "check.confidence must be a number between 0 and 1",
            ),
        ] {
            let e = CheckConfig::parse(&format!("[check]\n{text}\n")).unwrap_err();
            assert!(e.starts_with(expected), "{text}: {e}");
        }
        let config = CheckConfig::parse("[check]\nwindow = 2\nconfidence = 0.9\n").unwrap();
        assert_eq!((config.window_s, config.confidence), (Some(2.0), Some(0.9)));
    }
}
