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

use std::path::Path;

use bpprof_analysis::check::{Budget, Limits};

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
    /// `[check.limits]` entries as `[TASK.]METRIC=VALUE`, in file order.
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
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            // toml's own rendering quotes the line over several; one line names it instead.
            let message = e.message().trim_end_matches('\n').to_owned();
            match e.span() {
                Some(span) => {
                    let before = &text.as_bytes()[..span.start.min(text.len())];
                    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
                    format!("not valid TOML: line {line}: {message}")
                }
                None => format!("not valid TOML: {message}"),
            }
        })?;
        let mut config = CheckConfig::default();
        for (key, value) in &table {
            if key != "check" {
                return Err(format!(
                    "unknown section [{key}]; bpprof reads only [check]"
                ));
            }
            let check = value
                .as_table()
                .ok_or("'check' must be a table ([check])")?;
            config.read_check(check)?;
        }
        Ok(config)
    }

    fn read_check(&mut self, check: &toml::Table) -> Result<(), String> {
        for (key, value) in check {
            let wrong = |expected: &str| format!("check.{key} must be {expected}, got {value}");
            match key.as_str() {
                "confidence" => {
                    let c = number(value)
                        .filter(|&c| c > 0.0 && c < 1.0)
                        .ok_or_else(|| wrong("a number between 0 and 1, such as 0.95"))?;
                    self.confidence = Some(c);
                }
                "min_windows" => {
                    let n = value
                        .as_integer()
                        .filter(|&n| n >= 2)
                        .ok_or_else(|| wrong("an integer of at least 2"))?;
                    self.min_windows = Some(n as usize);
                }
                "window" => {
                    let w = number(value)
                        .filter(|&w| w.is_finite() && w > 0.0)
                        .ok_or_else(|| wrong("a positive number of seconds"))?;
                    self.window_s = Some(w);
                }
                "strict" => self.strict = Some(value.as_bool().ok_or_else(|| wrong("true or false"))?),
                "assert" => {
                    let list = value.as_array().ok_or_else(|| wrong("a list of strings"))?;
                    for item in list {
                        let text = item.as_str().ok_or_else(|| wrong("a list of strings"))?;
                        self.budgets
                            .push(Budget::parse(text).map_err(|e| format!("check.assert: {e}"))?);
                    }
                }
                "limits" => {
                    let limits = value.as_table().ok_or_else(|| wrong("a table ([check.limits])"))?;
                    self.read_limits(limits)?;
                }
                other => {
                    return Err(format!(
                        "unknown key check.{other}; known: confidence, min_windows, window, strict, assert, limits"
                    ))
                }
            }
        }
        Ok(())
    }

    fn read_limits(&mut self, limits: &toml::Table) -> Result<(), String> {
        for (key, value) in limits {
            if let Some(task) = value.as_table() {
                for (metric, value) in task {
                    let text = limit_text(value)
                        .map_err(|e| format!("check.limits.{key}.{metric}: {e}"))?;
                    self.limits.push(format!("{key}.{metric}={text}"));
                }
            } else {
                let text = limit_text(value).map_err(|e| format!("check.limits.{key}: {e}"))?;
                self.limits.push(format!("{key}={text}"));
            }
        }
        // Validate now, so the error names the file.
        let mut probe = Limits::default();
        for spec in &self.limits {
            probe
                .apply(spec)
                .map_err(|e| format!("check.limits: {e}"))?;
        }
        Ok(())
    }
}

fn number(value: &toml::Value) -> Option<f64> {
    value
        .as_float()
        .or_else(|| value.as_integer().map(|i| i as f64))
}

/// A limit value as `--limit` writes it: `"5%"`, `0.05`, `"off"`.
fn limit_text(value: &toml::Value) -> Result<String, String> {
    match value {
        toml::Value::String(s) => Ok(s.clone()),
        v => number(v)
            .map(|n| n.to_string())
            .ok_or_else(|| format!("a limit must be a number or a string such as \"5%\", got {v}")),
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
        assert!(e.contains("unknown key check.confidense"), "{e}");
        let e = CheckConfig::parse("[check.limits]\ncpu = \"5%\"\n").unwrap_err();
        assert!(e.contains("unknown metric 'cpu'"), "{e}");
        let e = CheckConfig::parse("[chek]\n").unwrap_err();
        assert!(e.contains("unknown section [chek]"), "{e}");
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
