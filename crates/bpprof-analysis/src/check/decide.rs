//! Deciding one comparison: its limit, its interval, and its status; and when a lower throughput
//! is the machine's doing rather than the code's.

use super::limits::{LimitSource, Limits, MIN_CPU_SHARE, NOISE_SHARE};
use super::options::{CheckOptions, INFO_RESAMPLES, TOO_SHORT_ADVICE};
use super::report::*;
use super::stats::{change_interval, pooled_median, Rng};
use super::values::{BusyPart, Key, RecordingValues};

/// A lower throughput is put down to a busier machine when at least this share of the extra busy
/// time per record of the bottleneck was spent waiting for a CPU (runnable, not running).
pub const MACHINE_SHARE: f64 = 0.5;

/// Why a lower throughput is the machine's doing, when it is: the bottleneck's CPU per record did
/// not regress, it was busy longer per record, and most of the extra time it was runnable but
/// waiting for a CPU, rather than running more code or blocking. (With more busy threads than
/// CPUs, extra CPU work per record brings extra waiting for a CPU too: a regressed CPU per record
/// is the code's doing, whatever the waiting.)
pub(super) fn machine_explanation(
    tasks: &[TaskComparison],
    bottleneck: &BottleneckChange,
    base: &[RecordingValues],
    cur: &[RecordingValues],
) -> Option<String> {
    if bottleneck.moved {
        return None;
    }
    let task = bottleneck.current.first()?;
    let cost_regressed = tasks
        .iter()
        .filter(|t| &t.name == task)
        .flat_map(|t| &t.metrics)
        .any(|c| c.metric == Metric::CpuPerRecord && c.status == ComparisonStatus::Regression);
    if cost_regressed {
        return None;
    }
    let median = |side: &[RecordingValues], part: BusyPart| {
        median_of(side, |v| v.busy_parts.get(&(task.clone(), part)))
    };
    let busy = median(cur, BusyPart::Busy)? - median(base, BusyPart::Busy)?;
    let runqueue = median(cur, BusyPart::RunQueue)? - median(base, BusyPart::RunQueue)?;
    (busy > 0.0 && runqueue >= MACHINE_SHARE * busy).then(|| {
        format!(
            "the machine was busier: the bottleneck {task} was busy {busy:.1} µs longer per record, and {:.0}% of that it was waiting for a CPU, not running or blocked; record both sides in the same job, interleaved, on an otherwise idle runner",
            (runqueue / busy).min(1.0) * 100.0
        )
    })
}

/// Explains a backpressured regression of a task that is not the (unchanged) bottleneck, when
/// the task itself, not its downstream, changed. Such a task waits on its full output queue for
/// the rest of its time once busy and idle are counted, so its backpressured share rises when its
/// own busy share falls:
/// - the job's throughput held (unchanged or improved) and the task's busy share fell by at least
///   [`MACHINE_SHARE`] of the rise: it did the same work in less time (less code, or its CPU
///   sooner) and waits longer on the same bottleneck; not a regression (unchanged, with the
///   reason). A slower bottleneck raises the backpressure upstream too, but by lowering the
///   throughput: within the throughput limit (5%) it moves a busy share by at most that limit;
/// - otherwise, its share of time waiting for a CPU fell by at least [`MACHINE_SHARE`] of the
///   rise: the machine was quieter, it got its CPU sooner; inconclusive.
pub(super) fn explain_backpressure_rise(
    tasks: &mut [TaskComparison],
    throughput: Option<&Comparison>,
    bottleneck: &BottleneckChange,
    base: &[RecordingValues],
    cur: &[RecordingValues],
) {
    if bottleneck.moved {
        return;
    }
    let throughput_held = throughput.filter(|t| {
        matches!(
            t.status,
            ComparisonStatus::Unchanged | ComparisonStatus::Improvement
        )
    });
    for task in tasks.iter_mut() {
        if bottleneck.current.contains(&task.name) {
            continue;
        }
        let busy = task
            .metrics
            .iter()
            .find(|c| c.metric == Metric::Busy)
            .and_then(|c| c.baseline.zip(c.current));
        let runqueue_share =
            |side: &[RecordingValues]| median_of(side, |v| v.runqueue_share.get(&task.name));
        let quieter = runqueue_share(base).zip(runqueue_share(cur));
        for c in task.metrics.iter_mut().filter(|c| {
            c.metric == Metric::Backpressured && c.status == ComparisonStatus::Regression
        }) {
            let Some(rise) = c.change.filter(|&r| r > 0.0) else {
                continue;
            };
            let faster = busy.filter(|(b, c)| b - c >= MACHINE_SHARE * rise);
            if let (Some(t), Some((base_busy, cur_busy))) = (throughput_held, faster) {
                c.status = ComparisonStatus::Unchanged;
                c.reason = Some(format!(
                    "explained: the job's throughput held ({}) and {} was busy {:.0}% of its time instead of {:.0}%, so it waited longer on its full output queue: the task did the same work in less time, its downstream did not get slower",
                    t.change_text(),
                    task.name,
                    cur_busy * 100.0,
                    base_busy * 100.0
                ));
            } else if let Some((base_rq, cur_rq)) =
                quieter.filter(|(b, c)| b - c >= MACHINE_SHARE * rise)
            {
                c.status = ComparisonStatus::Inconclusive;
                c.reason = Some(format!(
                    "the machine was quieter: {} waited for a CPU {:.0}% of its time instead of {:.0}%, so it filled its output queue sooner and waited on it longer, upstream of the unchanged bottleneck; record both sides in the same job, interleaved, on an otherwise idle runner",
                    task.name,
                    cur_rq * 100.0,
                    base_rq * 100.0
                ));
            }
        }
    }
}

/// The median over a side's recordings of the per-window values that `values` picks from each.
fn median_of(
    side: &[RecordingValues],
    values: impl Fn(&RecordingValues) -> Option<&Vec<f64>>,
) -> Option<f64> {
    let groups: Vec<Vec<f64>> = side
        .iter()
        .map(|v| values(v).cloned().unwrap_or_default())
        .collect();
    pooled_median(&groups)
}

/// A comparison before it is decided.
pub(super) struct Planned {
    /// The task (or the job) and the metric.
    pub key: Key,
    /// The baseline's per-window values, one list per recording.
    pub base: Vec<Vec<f64>>,
    /// The current per-window values, one list per recording.
    pub current: Vec<Vec<f64>>,
    /// Windows with a value: baseline, current.
    pub windows: [usize; 2],
    /// Windows of the recordings, with a value or not: baseline, current.
    pub recorded: [usize; 2],
    /// A recording of the side has too little data (its range is short, see
    /// [`crate::range::Coverage`]): baseline, current.
    pub short: [bool; 2],
    /// The limit; `None` when not gated.
    pub limit: Option<f64>,
    /// Why there is no limit, when that needs saying.
    pub reason: Option<String>,
}

/// The limit of `key`, with the reason when a default limit is waived. `unaccounted`: the task
/// is declared unaccounted (its ratios and CPU time are unknown).
pub(super) fn limit_for(
    key: &Key,
    base: &[RecordingValues],
    limits: &Limits,
    unaccounted: bool,
) -> (Option<f64>, Option<String>) {
    let (task, metric) = (key.0.as_deref(), key.1);
    let (limit, source) = limits.get(task, metric);
    let measured = matches!(metric, Metric::Throughput | Metric::RecordsPerS);
    if let (Some(task), true, false, LimitSource::Default, Some(_)) =
        (task, unaccounted, measured, source, limit)
    {
        return (
            None,
            Some(format!(
                "{task} is declared unaccounted: its work runs in threads bpprof does not see, so its {} is unknown",
                metric.label()
            )),
        );
    }
    if let (Some(task), Metric::CpuPerRecord, LimitSource::Default, Some(_)) =
        (task, metric, source, limit)
    {
        let shares: Vec<f64> = base
            .iter()
            .filter_map(|v| v.cpu_share.get(task).copied())
            .collect();
        let share = shares.iter().sum::<f64>() / shares.len().max(1) as f64;
        if share < MIN_CPU_SHARE {
            return (
                None,
                Some(format!(
                    "{task} used {:.1}% of the job's CPU (below {:.0}%): its cost per record is too noisy to gate; set a limit for {task}.cpu_per_record to gate it",
                    share * 100.0,
                    MIN_CPU_SHARE * 100.0
                )),
            );
        }
    }
    (limit, None)
}

/// Decides one comparison.
pub(super) fn decide(p: Planned, level: f64, options: &CheckOptions, rng: &mut Rng) -> Comparison {
    let (task, metric) = p.key;
    let relative = metric.relative();
    // Comparisons without a limit are shown, never decided: fewer resamples do for them.
    let resamples = match p.limit {
        Some(_) => options.resamples,
        None => options.resamples.min(INFO_RESAMPLES),
    };
    let interval = change_interval(&p.base, &p.current, relative, level, resamples, rng);
    let mut comparison = Comparison {
        task,
        metric,
        baseline: pooled_median(&p.base),
        current: pooled_median(&p.current),
        change: interval.map(|i| i.estimate),
        interval: interval.map(|i| [i.low, i.high]),
        relative,
        limit: p.limit,
        noise: p.limit.map(|l| l * NOISE_SHARE),
        windows: p.windows,
        status: ComparisonStatus::NotGated,
        reason: p.reason,
    };
    let (Some(limit), Some(noise)) = (comparison.limit, comparison.noise) else {
        return comparison;
    };
    let [nb, nc] = p.windows;
    let [rb, rc] = p.recorded;
    let min = options.min_windows;
    if p.short.iter().any(|&s| s) {
        let sides: Vec<&str> = ["baseline", "current"]
            .into_iter()
            .zip(p.short)
            .filter_map(|(side, short)| short.then_some(side))
            .collect();
        comparison.status = ComparisonStatus::Inconclusive;
        comparison.reason = Some(format!(
            "too little data: the range of a {} recording is too short (at least {} intervals are needed): {TOO_SHORT_ADVICE}",
            sides.join(" and a "),
            crate::range::MIN_INTERVALS
        ));
        return comparison;
    }
    if nb < min || nc < min {
        comparison.status = ComparisonStatus::Inconclusive;
        comparison.reason = Some(if rb >= min && rc >= min {
            // The recordings are long enough: the metric itself is missing from their windows.
            let (when, fix) = undefined_when(metric);
            format!(
                "{} has a value in only {nb} of {rb} baseline and {nc} of {rc} current windows (none in a window where {when}): {fix}",
                comparison.name(),
            )
        } else {
            format!(
                "only {nb} baseline and {nc} current windows (at least {min} each are needed): {TOO_SHORT_ADVICE}"
            )
        });
        return comparison;
    }
    let Some(i) = interval else {
        comparison.status = ComparisonStatus::Inconclusive;
        comparison.reason = Some(match comparison.baseline {
            Some(b) if relative && b <= 0.0 => format!(
                "the baseline median is 0 {}, so a relative change is undefined: check that the baseline recordings processed records",
                metric.unit()
            ),
            _ => "the change of the medians could not be computed".to_owned(),
        });
        return comparison;
    };
    // Everything in the worse direction: positive is worse.
    let (bad, bad_low, bad_high) = match metric.worse() {
        Worse::Up => (i.estimate, i.low, i.high),
        Worse::Down => (-i.estimate, -i.high, -i.low),
    };
    comparison.status = if bad >= limit && bad_low >= noise {
        ComparisonStatus::Regression
    } else if -bad >= limit && bad_high <= -noise {
        ComparisonStatus::Improvement
    } else if bad.abs() >= limit {
        comparison.reason = Some(format!(
            "the change is beyond the limit but its interval {} reaches into the noise band (±{}): repeat the recordings (several per side) to decide",
            comparison.interval_text(),
            comparison_noise_text(&comparison, noise)
        ));
        ComparisonStatus::Inconclusive
    } else {
        ComparisonStatus::Unchanged
    };
    comparison
}

fn comparison_noise_text(c: &Comparison, noise: f64) -> String {
    if c.relative {
        format!("{:.1}%", noise * 100.0)
    } else {
        format!("{noise:.3}")
    }
}

/// When a metric has no value in a window, and what to check.
fn undefined_when(metric: Metric) -> (&'static str, &'static str) {
    match metric {
        Metric::Throughput => (
            "the sinks received no records",
            "check that both sides processed records",
        ),
        Metric::RecordsPerS | Metric::CpuPerRecord => (
            "the task processed no records",
            "check that both sides processed records",
        ),
        Metric::Busy | Metric::Backpressured | Metric::Idle => (
            "the task's threads reported no time",
            "check that the task's threads ran on both sides",
        ),
    }
}
