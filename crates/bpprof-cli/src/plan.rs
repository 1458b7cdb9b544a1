//! `bpprof plan`: the parallelism each task needs for a target rate, what a change buys, and
//! where the bottleneck goes next (see docs/plan.md).

use std::io::Write;
use std::path::PathBuf;

use bpprof_analysis::plan::{plan, render_plan, PlanError, PlanOptions};
use bpprof_analysis::AnalysisOptions;

use crate::locate::{analysis_failure, read_failure};
use crate::{Failure, Format};

/// Arguments of `bpprof plan`.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// The recording whose measured costs the plan starts from (a file, or a rotated series:
    /// its directory, a quoted glob pattern or its base name).
    #[arg(value_name = "REC")]
    pub recording: PathBuf,
    /// The target job throughput, records per second its sources send: a positive number,
    /// optionally with a `k` or `M` suffix (`50000`, `50k`, `1.5M`).
    #[arg(long, value_name = "RATE", value_parser = parse_rate, allow_negative_numbers = true)]
    pub target: Option<f64>,
    /// The CPUs the job may use. Default: the CPU count of the machine the recording came from.
    #[arg(long, value_name = "N", value_parser = parse_cpus, allow_negative_numbers = true)]
    pub cpus: Option<f64>,
    /// A parallelism to predict: `TASK.parallelism=N` (repeatable), e.g.
    /// `--set Enrich.parallelism=8`.
    #[arg(long = "set", value_name = "TASK.parallelism=N", value_parser = parse_set)]
    pub set: Vec<(String, u32)>,
    /// A function made faster: `FUNCTION=FACTORx` (repeatable), e.g.
    /// `--speedup 'slow_operator::score_record=2x'`; a factor below 1 makes it slower. It saves
    /// its share of each task's on-CPU busy samples (self + callees).
    #[arg(long = "speedup", value_name = "FUNCTION=FACTORx", value_parser = parse_speedup)]
    pub speedup: Vec<(String, f64)>,
    /// Start of the range whose costs are measured, seconds (as for `locate`).
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    pub from: Option<f64>,
    /// End of the range (exclusive), seconds.
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    pub to: Option<f64>,
    /// Output format (`json`: schema `bpprof.plan`, see docs/plan.md).
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

/// Runs `bpprof plan`.
pub fn run(args: &PlanArgs, out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<()> {
    let recording =
        bpprof_format::read_path(&args.recording).map_err(|e| read_failure(&args.recording, e))?;
    let options = PlanOptions {
        range: AnalysisOptions {
            from_s: args.from,
            to_s: args.to,
            window_s: None,
        },
        target_per_s: args.target,
        cpus: args.cpus,
        set: args.set.clone(),
        speedups: args.speedup.clone(),
    };
    let report = plan(&recording, &options).map_err(plan_failure)?;
    for warning in report
        .recording
        .warnings
        .iter()
        .chain(&report.recording.coverage_warning)
    {
        let _ = writeln!(err, "warning: {warning}");
    }
    match args.format {
        Format::Human => render_plan(&report, &mut *out)?,
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &report).map_err(std::io::Error::from)?;
            writeln!(out)?;
        }
    }
    out.flush()?;
    Ok(())
}

fn plan_failure(error: PlanError) -> Failure {
    let fix = match &error {
        PlanError::Analysis(e) => return analysis_failure(e.clone()),
        PlanError::Flame(_) => "record again with stack sampling on",
        PlanError::BadTarget(_) => "pass --target a positive rate, e.g. --target 50k",
        PlanError::BadCpus(_) | PlanError::NoCpus => "pass --cpus N",
        PlanError::BadFactor { .. } => "give a positive factor, e.g. FUNCTION=2x",
        PlanError::ZeroParallelism(_) => "give a parallelism of at least 1",
        PlanError::UnknownTask { .. } | PlanError::Unmodelled(_) => {
            "name a task of the recording in --set TASK.parallelism=N"
        }
        PlanError::NoThroughput => "record while records flow through the pipeline",
        PlanError::NoSamples => "record with stack sampling on (bpprof record samples by default)",
        PlanError::UnknownFunction { .. } => {
            "give the function as its frames read in `bpprof flame --folded`, e.g. module::function"
        }
    };
    Failure::bad_input(error.to_string(), fix)
}

/// `50000`, `50k`, `1.5M`, `50k/s`: a positive rate.
fn parse_rate(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let t = t.strip_suffix("/s").unwrap_or(t);
    let (number, scale) = match t.char_indices().last() {
        Some((i, 'k' | 'K')) => (&t[..i], 1e3),
        Some((i, 'M')) => (&t[..i], 1e6),
        _ => (t, 1.0),
    };
    match number.replace(',', "").parse::<f64>() {
        Ok(n) if n.is_finite() && n > 0.0 => Ok(n * scale),
        _ => Err("give a positive number of records per second, e.g. 50000 or 50k".to_owned()),
    }
}

/// A positive number of CPUs.
fn parse_cpus(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(n) if n.is_finite() && n > 0.0 => Ok(n),
        _ => Err("give a positive number of CPUs, e.g. 8".to_owned()),
    }
}

/// `TASK.parallelism=N`.
fn parse_set(text: &str) -> Result<(String, u32), String> {
    let bad = || {
        format!("expected TASK.parallelism=N with N at least 1, e.g. Enrich.parallelism=8, got '{text}'")
    };
    let (key, value) = text.split_once('=').ok_or_else(bad)?;
    let task = key.trim().strip_suffix(".parallelism").ok_or_else(bad)?;
    let n = value.trim().parse::<u32>().map_err(|_| bad())?;
    if task.is_empty() || n == 0 {
        return Err(bad());
    }
    Ok((task.to_owned(), n))
}

/// `FUNCTION=FACTORx` (the `x` optional): a function and a positive factor.
fn parse_speedup(text: &str) -> Result<(String, f64), String> {
    let bad = || {
        format!("expected FUNCTION=FACTORx with a positive factor, e.g. slow_operator::score_record=2x, got '{text}'")
    };
    let (function, factor) = text.rsplit_once('=').ok_or_else(bad)?;
    let factor = factor.trim();
    let factor = factor
        .strip_suffix(['x', 'X'])
        .unwrap_or(factor)
        .parse::<f64>()
        .map_err(|_| bad())?;
    if function.trim().is_empty() || !(factor.is_finite() && factor > 0.0) {
        return Err(bad());
    }
    Ok((function.trim().to_owned(), factor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_take_suffixes_and_refuse_non_positive_numbers() {
        assert_eq!(parse_rate("50000"), Ok(50_000.0));
        assert_eq!(parse_rate("50k"), Ok(50_000.0));
        assert_eq!(parse_rate("1.5M/s"), Ok(1_500_000.0));
        assert_eq!(parse_rate("12,500"), Ok(12_500.0));
        for bad in ["0", "-5", "fast", "k", "inf", ""] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn set_and_speedup_parse_their_forms() {
        assert_eq!(
            parse_set("Enrich.parallelism=8"),
            Ok(("Enrich".to_owned(), 8))
        );
        for bad in [
            "Enrich=8",
            "Enrich.parallelism=0",
            ".parallelism=2",
            "Enrich.parallelism=x",
        ] {
            assert!(parse_set(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_speedup("slow_operator::score_record=2x"),
            Ok(("slow_operator::score_record".to_owned(), 2.0))
        );
        assert_eq!(parse_speedup("f=0.5"), Ok(("f".to_owned(), 0.5)));
        for bad in ["f", "f=", "=2x", "f=0x", "f=-2x", "f=twox"] {
            assert!(parse_speedup(bad).is_err(), "{bad}");
        }
    }
}
