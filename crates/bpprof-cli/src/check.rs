//! `bpprof check`: compare recordings and fail on regressions; check budgets.

use std::io::Write;
use std::path::{Path, PathBuf};

use bpprof_analysis::check::github::github_annotations;
use bpprof_analysis::check::human::render_check_human;
use bpprof_analysis::check::junit::render_junit;
use bpprof_analysis::check::markdown::{render_check_markdown, STEP_SUMMARY_LIMIT};
use bpprof_analysis::check::{
    check, Budget, CheckError, CheckInput, CheckOptions, CheckReport, Limits, Status,
    DEFAULT_CONFIDENCE, DEFAULT_MIN_WINDOWS, DEFAULT_RESAMPLES, DEFAULT_SEED,
};
use bpprof_analysis::AnalysisOptions;
use bpprof_format::Recording;

use crate::color::Paint;
use crate::config::{CheckConfig, DEFAULT_CONFIG};
use crate::locate::{analysis_failure, read_failure};
use crate::numbers::whole_number;
use crate::outputs::{check_output, refuse_same_outputs, same_files, Inputs, Output};
use crate::{exit, Failure};

/// Arguments of `bpprof check`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = CHECK_HELP)]
pub struct CheckArgs {
    /// The current recording(s): several recordings of the same build are pooled, and their
    /// run-to-run variation widens the intervals.
    #[arg(value_name = "CURRENT", required = true)]
    pub current: Vec<PathBuf>,
    /// A baseline recording; repeat the flag for several (`--baseline a1 --baseline a2 b1`).
    /// Without a baseline, only the budgets (--assert) are checked.
    #[arg(long, value_name = "BASE")]
    pub baseline: Vec<PathBuf>,
    /// Override a limit: `[TASK.]METRIC=VALUE`, e.g. `cpu_per_record=10%`,
    /// `Enrich.backpressured=0.1`, `throughput=3%`, `busy=off`. Metrics: throughput (job),
    /// records_per_s, cpu_per_record, busy, backpressured, idle. Repeatable.
    #[arg(long, value_name = "SPEC")]
    pub limit: Vec<String>,
    /// A budget on the current recordings: `[TASK.]METRIC OP NUMBER`, e.g. 'Enrich.busy < 0.8',
    /// 'Sink.records_per_s > 50k'. OP is <, <=, > or >=. Repeatable.
    #[arg(long = "assert", value_name = "EXPR")]
    pub budgets: Vec<String>,
    /// Settings file (see docs/ci.md). Default: ./bpprof.toml when it exists.
    #[arg(long, value_name = "FILE", conflicts_with = "no_config")]
    pub config: Option<PathBuf>,
    /// Do not read ./bpprof.toml.
    #[arg(long)]
    pub no_config: bool,
    /// Exit with code 3 when the result is inconclusive (default: a warning, exit code 0).
    #[arg(long)]
    pub strict: bool,
    /// Output format on standard output.
    #[arg(long, value_enum, default_value_t = CheckFormat::Human)]
    pub format: CheckFormat,
    /// Also write the report as Markdown into FILE (a pull-request comment). It is also
    /// appended to the file named by $GITHUB_STEP_SUMMARY when that variable is set.
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Also write a JUnit XML report into FILE (one test case per gated comparison and budget).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Start of the range compared in every recording, seconds. Default: the end of the first
    /// interval (the warm-up is skipped) when the rest covers most of the run, else 0.
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    pub from: Option<f64>,
    /// End of the range compared (exclusive), seconds. Default: the end of each recording.
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    pub to: Option<f64>,
    /// Length of the windows whose values are compared, seconds. Default: the recording
    /// interval.
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    pub window: Option<f64>,
    /// Family-wise confidence level of the intervals (Bonferroni-corrected over the gated
    /// comparisons). Default: 0.95.
    #[arg(long, value_name = "LEVEL", allow_negative_numbers = true)]
    pub confidence: Option<f64>,
    /// Fewer windows than this on a side make a comparison inconclusive. Default: 10.
    #[arg(
        long,
        value_name = "N",
        value_parser = whole_number::<usize>,
        allow_negative_numbers = true
    )]
    pub min_windows: Option<usize>,
    /// Bootstrap resamples per interval.
    #[arg(
        long,
        value_name = "N",
        default_value_t = DEFAULT_RESAMPLES,
        value_parser = whole_number::<usize>,
        allow_negative_numbers = true
    )]
    pub resamples: usize,
    /// Seed of the bootstrap (the same recordings and seed give the same result).
    #[arg(
        long,
        value_name = "N",
        default_value_t = DEFAULT_SEED,
        value_parser = whole_number::<u64>,
        allow_negative_numbers = true
    )]
    pub seed: u64,
}

/// Output formats of `bpprof check` (those of `locate` describe its own report and schema).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum CheckFormat {
    /// Text for people: the result first, then the comparisons, budgets and findings.
    #[default]
    Human,
    /// One JSON document (schema `bpprof.check`, see docs/ci.md).
    Json,
}

const CHECK_HELP: &str = "\
Exit codes:
  0  pass: no regression beyond the limits (improvements included), budgets met
  1  regression: a gated metric got worse beyond its limit, or a budget was exceeded
  2  usage error, unreadable recording, recordings of different job graphs
  3  inconclusive, with --strict only (too few windows, a recording with too little data for
     a budget or a comparison, or a change beyond its limit whose interval reaches into the
     noise band)

A comparison is a regression when its median change is beyond the limit AND its whole
confidence interval lies beyond half the limit. Default limits: throughput -5%, CPU per record
+5% (tasks with at least 5% of the job's CPU), backpressured +0.05. See docs/ci.md.

Environment: $GITHUB_STEP_SUMMARY (Markdown appended), $GITHUB_ACTIONS=true (annotations).";

/// Runs `bpprof check`; returns the exit code.
pub fn run(
    args: &CheckArgs,
    paint: Paint,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<u8> {
    let config = load_config(args)?;
    let options = options(args, &config)?;
    let strict = args.strict || config.strict.unwrap_or(false);

    let baseline = read_all(&args.baseline)?;
    let current = read_all(&args.current)?;
    let report =
        check(&as_inputs(&baseline), &as_inputs(&current), &options).map_err(check_failure)?;

    // Files first: an unwritable path fails before anything is printed, and before either file
    // is written.
    let inputs = inputs(args);
    let files: Vec<(&Path, &str)> = [(&args.markdown, "--markdown"), (&args.junit, "--junit")]
        .into_iter()
        .filter_map(|(path, option)| path.as_deref().map(|p| (p, option)))
        .collect();
    refuse_same_outputs(&files)?;
    for &(path, option) in &files {
        check_output(path, option, Output::Report, &inputs)?;
    }
    if let Some(path) = &args.markdown {
        write_file(
            path,
            "Markdown report",
            render_check_markdown(&report, usize::MAX).as_bytes(),
        )?;
    }
    if let Some(path) = &args.junit {
        write_file(path, "JUnit report", render_junit(&report).as_bytes())?;
    }
    if let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|s| !s.is_empty()) {
        append_step_summary(Path::new(&summary), &report, &inputs, err);
    }

    match args.format {
        CheckFormat::Human => {
            let mut text = Vec::new();
            render_check_human(&report, &mut text)?;
            out.write_all(
                paint
                    .check_report(&String::from_utf8_lossy(&text))
                    .as_bytes(),
            )?;
        }
        CheckFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &report).map_err(std::io::Error::from)?;
            writeln!(out)?;
        }
    }
    out.flush()?;
    if std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true") {
        // Workflow commands are read from both streams; keep JSON on stdout parseable.
        let target: &mut dyn Write = match args.format {
            CheckFormat::Human => out,
            CheckFormat::Json => err,
        };
        for line in github_annotations(&report) {
            writeln!(target, "{line}")?;
        }
        target.flush()?;
    }
    Ok(match report.status {
        Status::Pass => exit::OK,
        Status::Regression => exit::REGRESSION,
        Status::Inconclusive if strict => exit::INCONCLUSIVE,
        Status::Inconclusive => {
            let _ = writeln!(
                err,
                "warning: the check is inconclusive (exit code 0; --strict makes it 3)"
            );
            exit::OK
        }
    })
}

fn as_inputs(files: &[(String, Recording)]) -> Vec<CheckInput<'_>> {
    files
        .iter()
        .map(|(path, recording)| CheckInput { path, recording })
        .collect()
}

/// The files `check` reads: the recordings and the settings file.
fn inputs(args: &CheckArgs) -> Inputs {
    let config = config_path(args);
    Inputs::new(
        args.baseline
            .iter()
            .chain(&args.current)
            .map(PathBuf::as_path)
            .chain(config.as_deref()),
    )
}

/// The settings file read: --config, else ./bpprof.toml when it exists; none with --no-config.
fn config_path(args: &CheckArgs) -> Option<PathBuf> {
    if args.no_config {
        return None;
    }
    match &args.config {
        Some(path) => Some(path.clone()),
        None if Path::new(DEFAULT_CONFIG).is_file() => Some(PathBuf::from(DEFAULT_CONFIG)),
        None => None,
    }
}

fn load_config(args: &CheckArgs) -> Result<CheckConfig, Failure> {
    match config_path(args) {
        Some(path) => CheckConfig::read(&path),
        None => Ok(CheckConfig::default()),
    }
}

/// The options: built-in defaults, then the config file, then the flags.
fn options(args: &CheckArgs, config: &CheckConfig) -> Result<CheckOptions, Failure> {
    let mut limits = Limits::default();
    for spec in config.limits.iter().chain(&args.limit) {
        limits.apply(spec).map_err(|e| {
            Failure::bad_input(e.to_string(), "see `bpprof check --help` for the form")
        })?;
    }
    let mut budgets = config.budgets.clone();
    for expression in &args.budgets {
        budgets.push(Budget::parse(expression).map_err(|e| {
            Failure::bad_input(e.to_string(), "see `bpprof check --help` for the form")
        })?);
    }
    Ok(CheckOptions {
        range: AnalysisOptions {
            from_s: args.from,
            to_s: args.to,
            window_s: args.window.or(config.window_s),
        },
        confidence: args
            .confidence
            .or(config.confidence)
            .unwrap_or(DEFAULT_CONFIDENCE),
        resamples: args.resamples,
        seed: args.seed,
        min_windows: args
            .min_windows
            .or(config.min_windows)
            .unwrap_or(DEFAULT_MIN_WINDOWS),
        limits,
        budgets,
        // By identity: `./base.bpprof` on one side and `base.bpprof` or a link on the other.
        same_files: same_files(&args.baseline, &args.current),
    })
}

/// Reads every recording. Their warnings (e.g. truncated) are the report's: `check` lists them
/// with the path, in every output format.
fn read_all(paths: &[PathBuf]) -> Result<Vec<(String, Recording)>, Failure> {
    paths
        .iter()
        .map(|path| {
            let recording = bpprof_format::read_path(path).map_err(|e| read_failure(path, e))?;
            Ok((path.display().to_string(), recording))
        })
        .collect()
}

fn check_failure(error: CheckError) -> anyhow::Error {
    let fix = match &error {
        CheckError::Analysis { source, .. } => {
            return Failure::bad_input(error.to_string(), analysis_failure(source.clone()).fix)
                .into()
        }
        CheckError::NoCurrent | CheckError::NothingToCheck => "see `bpprof check --help`",
        CheckError::Incompatible { .. } => {
            "compare recordings of the same pipeline with the same parallelism"
        }
        CheckError::UnknownTask { .. } => "use one of the task names listed",
        CheckError::InvalidOption { .. } => "see `bpprof check --help`",
    };
    Failure::bad_input(error.to_string(), fix).into()
}

fn write_file(path: &Path, what: &str, bytes: &[u8]) -> Result<(), Failure> {
    std::fs::write(path, bytes).map_err(|e| {
        Failure::bad_input(
            format!("cannot write {what} '{}': {e}", path.display()),
            "check that the directory exists and is writable",
        )
    })
}

/// Appends the Markdown report (at most [`STEP_SUMMARY_LIMIT`] bytes) to the job summary; a
/// failure there is a warning, not a failed check.
fn append_step_summary(path: &Path, report: &CheckReport, inputs: &Inputs, err: &mut dyn Write) {
    if let Err(refused) = check_output(path, "$GITHUB_STEP_SUMMARY", Output::Report, inputs) {
        let _ = writeln!(err, "warning: {}; not appending the summary", refused.what);
        return;
    }
    let text = render_check_markdown(report, STEP_SUMMARY_LIMIT);
    let result = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()));
    if let Err(e) = result {
        let _ = writeln!(
            err,
            "warning: cannot append to $GITHUB_STEP_SUMMARY '{}': {e}",
            path.display()
        );
    }
}
