//! The regression limits of `bpprof check`: built-in defaults, overridden per metric and per task
//! (`--limit`, `bpprof.toml`).
//!
//! A limit is a positive magnitude in the metric's worse direction: `cpu_per_record=5%` fails on
//! +5% CPU per record, `throughput=5%` on -5% throughput (the sign may be written for
//! readability; it is ignored), `backpressured=0.05` on +0.05 backpressured. Relative metrics
//! accept `5%` or `0.05`; ratios accept `0.05` or `5%` (five points). `off` removes a limit.

use std::collections::BTreeMap;

use super::report::{Metric, ALL_METRICS};

/// Built-in limit of job throughput: -5%.
pub const DEFAULT_THROUGHPUT: f64 = 0.05;
/// Built-in limit of CPU per record: +5%.
pub const DEFAULT_CPU_PER_RECORD: f64 = 0.05;
/// Built-in limit of the backpressured ratio: +0.05.
pub const DEFAULT_BACKPRESSURED: f64 = 0.05;
/// The noise band as a share of the limit: a change is a regression only when its whole interval
/// lies beyond `NOISE_SHARE × limit` (and its estimate beyond the limit).
pub const NOISE_SHARE: f64 = 0.5;
/// Built-in CPU-per-record limits apply only to tasks that used at least this share of the job's
/// CPU time in the baseline: the cost per record of a task that does almost nothing (a sink
/// that only counts) is dominated by wake-ups and is too noisy to gate. A limit set for the task
/// by name always applies.
pub const MIN_CPU_SHARE: f64 = 0.05;

/// The limits in force.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Limit per metric for every task (`None`: not gated).
    defaults: BTreeMap<Metric, Option<f64>>,
    /// Limits set for one task by name.
    per_task: BTreeMap<(String, Metric), Option<f64>>,
}

/// A `--limit` (or `bpprof.toml`) entry that could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid limit '{spec}': {reason}")]
pub struct LimitError {
    /// The entry as given.
    pub spec: String,
    /// What is wrong with it, and the expected form.
    pub reason: String,
}

/// Where a limit came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitSource {
    /// Built in, or set for every task.
    Default,
    /// Set for this task by name.
    Task,
}

impl Default for Limits {
    fn default() -> Self {
        let defaults = ALL_METRICS
            .into_iter()
            .map(|m| {
                let limit = match m {
                    Metric::Throughput => Some(DEFAULT_THROUGHPUT),
                    Metric::CpuPerRecord => Some(DEFAULT_CPU_PER_RECORD),
                    Metric::Backpressured => Some(DEFAULT_BACKPRESSURED),
                    Metric::RecordsPerS | Metric::Busy | Metric::Idle => None,
                };
                (m, limit)
            })
            .collect();
        Limits {
            defaults,
            per_task: BTreeMap::new(),
        }
    }
}

impl Limits {
    /// Sets the limit of `metric` for `task` (every task when `None`); `None` removes it.
    pub fn set(&mut self, task: Option<&str>, metric: Metric, limit: Option<f64>) {
        match task {
            None => {
                self.defaults.insert(metric, limit);
            }
            Some(task) => {
                self.per_task.insert((task.to_owned(), metric), limit);
            }
        }
    }

    /// The limit of `metric` for `task` (`None` for the job), and where it came from.
    pub fn get(&self, task: Option<&str>, metric: Metric) -> (Option<f64>, LimitSource) {
        if let Some(task) = task {
            if let Some(&limit) = self.per_task.get(&(task.to_owned(), metric)) {
                return (limit, LimitSource::Task);
            }
        }
        (
            self.defaults.get(&metric).copied().flatten(),
            LimitSource::Default,
        )
    }

    /// The task names limits were set for.
    pub fn tasks(&self) -> impl Iterator<Item = &str> {
        self.per_task.keys().map(|(t, _)| t.as_str())
    }

    /// Applies one `[TASK.]METRIC=VALUE` entry (`--limit`).
    pub fn apply(&mut self, spec: &str) -> Result<(), LimitError> {
        let (key, value) = spec.split_once('=').ok_or_else(|| LimitError {
            spec: spec.to_owned(),
            reason:
                "expected [TASK.]METRIC=VALUE, e.g. cpu_per_record=5% or Enrich.backpressured=0.1"
                    .to_owned(),
        })?;
        let (task, metric) = parse_key(key.trim()).map_err(|reason| LimitError {
            spec: spec.to_owned(),
            reason,
        })?;
        let limit = parse_value(value.trim()).map_err(|reason| LimitError {
            spec: spec.to_owned(),
            reason,
        })?;
        self.set(task.as_deref(), metric, limit);
        Ok(())
    }
}

/// Parses `METRIC` or `TASK.METRIC` (the task name may contain dots: the last one separates).
pub(crate) fn parse_key(key: &str) -> Result<(Option<String>, Metric), String> {
    let (task, metric_name) = match key.rsplit_once('.') {
        Some((task, metric)) => (Some(task.trim().to_owned()), metric.trim()),
        None => (None, key),
    };
    let metric = Metric::from_name(metric_name).ok_or_else(|| {
        let names: Vec<&str> = ALL_METRICS.iter().map(|m| m.name()).collect();
        format!(
            "unknown metric '{metric_name}'; metrics: {}",
            names.join(", ")
        )
    })?;
    match &task {
        Some(t) if t.is_empty() => Err("empty task name before '.'".to_owned()),
        Some(t) if metric == Metric::Throughput => Err(format!(
            "throughput is the job's (records/s into the sinks); for one task use {t}.records_per_s"
        )),
        _ => Ok((task, metric)),
    }
}

/// Parses a limit value: `off`, or a positive number, optionally signed and with `%`.
pub(crate) fn parse_value(value: &str) -> Result<Option<f64>, String> {
    if value.eq_ignore_ascii_case("off") || value.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    let magnitude = value.trim_start_matches(['+', '-']);
    let (number, scale) = match magnitude.strip_suffix('%') {
        Some(n) => (n.trim(), 0.01),
        None => (magnitude, 1.0),
    };
    match number.parse::<f64>() {
        Ok(n) if n.is_finite() && n > 0.0 => Ok(Some(n * scale)),
        _ => Err(format!(
            "'{value}' is not a limit: give a positive number (5%, 0.05) or 'off'"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_defaults() {
        let limits = Limits::default();
        assert_eq!(limits.get(None, Metric::Throughput).0, Some(0.05));
        assert_eq!(
            limits.get(Some("Enrich"), Metric::CpuPerRecord).0,
            Some(0.05)
        );
        assert_eq!(limits.get(Some("Enrich"), Metric::Busy).0, None);
    }

    #[test]
    fn task_limits_override_defaults() {
        let mut limits = Limits::default();
        limits.apply("Enrich.cpu_per_record=10%").unwrap();
        limits.apply("backpressured=off").unwrap();
        limits.apply("my.task.busy=0.1").unwrap();
        assert_eq!(
            limits.get(Some("Enrich"), Metric::CpuPerRecord),
            (Some(0.10), LimitSource::Task)
        );
        assert_eq!(
            limits.get(Some("Parse"), Metric::CpuPerRecord),
            (Some(0.05), LimitSource::Default)
        );
        assert_eq!(limits.get(Some("Parse"), Metric::Backpressured).0, None);
        assert_eq!(limits.get(Some("my.task"), Metric::Busy).0, Some(0.1));
    }

    #[test]
    fn values_accept_signs_and_percent() {
        assert_eq!(parse_value("-5%"), Ok(Some(0.05)));
        assert_eq!(parse_value("+0.05"), Ok(Some(0.05)));
        assert_eq!(parse_value("off"), Ok(None));
        assert!(parse_value("0").is_err());
        assert!(parse_value("five").is_err());
        assert!(parse_value("NaN").is_err());
    }

    #[test]
    fn bad_entries_say_what_is_expected() {
        let mut limits = Limits::default();
        let e = limits.apply("cpu=5%").unwrap_err();
        assert!(e.to_string().contains("unknown metric 'cpu'"), "{e}");
        let e = limits.apply("cpu_per_record").unwrap_err();
        assert!(e.to_string().contains("[TASK.]METRIC=VALUE"), "{e}");
        let e = limits.apply("Sink.throughput=5%").unwrap_err();
        assert!(e.to_string().contains("Sink.records_per_s"), "{e}");
    }
}
