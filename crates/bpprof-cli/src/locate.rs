//! `bpprof locate`: read a recording, locate the bottleneck, print the report.

use std::io::Write;
use std::path::{Path, PathBuf};

use bpprof_analysis::export::trace::{chrome_trace, write_trace};
use bpprof_analysis::picture::{render_job_dot, render_job_svg};
use bpprof_analysis::{
    locate, render_human_with, AnalysisError, AnalysisOptions, LocateReport, RenderOptions,
};
use bpprof_format::{ReadError, SeriesError};

use crate::color::Paint;
use crate::outputs::{check_output, refuse_same_outputs, Inputs, Output};
use crate::{Failure, Format};

/// Arguments of `bpprof locate`.
#[derive(Debug, clap::Args)]
pub struct LocateArgs {
    /// The recording to analyse (a `.bpprof` file written by the bpprof recorder; a rotated recording's series of files is named by its directory, a quoted glob pattern
    /// (`'out.*.bpprof'`) or its base name (`out.bpprof`)).
    #[arg(value_name = "REC")]
    pub recording: PathBuf,
    /// Start of the range to analyse, in seconds since the recording started. An interval is
    /// analysed when its midpoint lies in [--from, --to). Default: the end of the first interval
    /// (the warm-up is skipped) when the rest covers most of the run, else 0.
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    pub from: Option<f64>,
    /// End of the range to analyse (exclusive), in seconds since the recording started.
    /// Default: the end of the recording.
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    pub to: Option<f64>,
    /// Length of the timeline's windows, in seconds: the range is cut into groups of consecutive
    /// intervals this long and the bottleneck is found in each. Default: the recording interval
    /// (one interval per window).
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    pub window: Option<f64>,
    /// Also print the timeline strip: one row per task, one character per window (`*`
    /// bottleneck, `B` backpressured, `#` busy, `.` idle-ish, `-` no data). Human format only;
    /// the JSON always carries the windows.
    #[arg(long)]
    pub timeline: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Also draw the job graph as a standalone SVG into FILE (see docs/graph.md): tasks coloured
    /// as Flink colours them, one bar per subtask, bottlenecks outlined. `-` writes it to stdout
    /// instead of the report.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// Also write the job graph as a Graphviz DOT graph into FILE (`dot -Tpng FILE`). `-` writes
    /// it to stdout instead of the report.
    #[arg(long, value_name = "FILE")]
    pub dot: Option<PathBuf>,
    /// Also write the states of every subtask over time (one value per window) as a Chrome trace
    /// (JSON) into FILE, to open in ui.perfetto.dev or chrome://tracing (see docs/cli.md): one
    /// track per subtask, queue fills as counters. `-` writes it to stdout instead of the report.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
}

/// Runs `bpprof locate`.
pub fn run(
    args: &LocateArgs,
    paint: Paint,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<()> {
    let to_stdout = |p: &Option<PathBuf>| p.as_deref() == Some(Path::new("-"));
    let on_stdout: Vec<&str> = [
        (&args.svg, "--svg -"),
        (&args.dot, "--dot -"),
        (&args.trace, "--trace -"),
    ]
    .into_iter()
    .filter(|(path, _)| to_stdout(path))
    .map(|(_, option)| option)
    .collect();
    if on_stdout.len() > 1 {
        return Err(Failure::bad_input(
            format!(
                "{} {} write to stdout",
                on_stdout.join(" and "),
                if on_stdout.len() == 2 { "both" } else { "all" }
            ),
            "write all but one of them to a file",
        )
        .into());
    }
    // Before anything is read or written: neither picture may replace the recording.
    let inputs = Inputs::new([args.recording.as_path()]);
    let files: Vec<(&Path, &str)> = [
        (&args.svg, "--svg"),
        (&args.dot, "--dot"),
        (&args.trace, "--trace"),
    ]
    .into_iter()
    .filter_map(|(path, option)| path.as_deref().map(|p| (p, option)))
    .filter(|(path, _)| *path != Path::new("-"))
    .collect();
    refuse_same_outputs(&files)?;
    for &(path, option) in &files {
        check_output(path, option, Output::Report, &inputs)?;
    }
    let (from_ns, to_ns) = range_ns(args.from, args.to);
    let read = bpprof_format::ReadOptions {
        from_ns,
        to_ns,
        ..bpprof_format::ReadOptions::default()
    };
    let recording = bpprof_format::read_path_with(&args.recording, &read)
        .map_err(|e| read_failure(&args.recording, e))?;
    let options = AnalysisOptions {
        from_s: args.from,
        to_s: args.to,
        window_s: args.window,
    };
    let report = locate(&recording, &options).map_err(analysis_failure)?;
    let recording_warnings = &report.recording.warnings;
    for warning in recording_warnings
        .iter()
        .chain(&report.recording.coverage_warning)
    {
        // Warnings are advisory: a closed stderr must not stop the analysis.
        let _ = writeln!(err, "warning: {warning}");
    }
    // The pictures first: an unwritable path fails before the report is printed.
    let mut picture_on_stdout = false;
    let pictures = [
        (&args.svg, (|r, w| render_job_svg(r, w)) as Picture),
        (&args.dot, (|r, w| render_job_dot(r, w)) as Picture),
    ];
    for (path, render) in pictures {
        if let Some(path) = path {
            picture_on_stdout |= write_extra(path, "job graph", out, err, |w| render(&report, w))?;
        }
    }
    if let Some(path) = &args.trace {
        let trace = chrome_trace(&recording, &options).map_err(analysis_failure)?;
        picture_on_stdout |= write_extra(path, "trace", out, err, |w| write_trace(&trace, w))?;
    }
    if picture_on_stdout {
        out.flush()?;
        return Ok(());
    }
    match args.format {
        Format::Human => {
            let render = RenderOptions {
                timeline: args.timeline,
            };
            let mut text = Vec::new();
            render_human_with(&report, &render, &mut text)?;
            out.write_all(
                paint
                    .locate_report(&String::from_utf8_lossy(&text))
                    .as_bytes(),
            )?;
        }
        Format::Json => {
            // Through io::Error, so that a closed pipe is recognised as such.
            serde_json::to_writer_pretty(&mut *out, &report).map_err(std::io::Error::from)?;
            writeln!(out)?;
        }
    }
    out.flush()?;
    Ok(())
}

/// A job-graph renderer of `bpprof_analysis::picture`.
type Picture = fn(&LocateReport, &mut dyn Write) -> std::io::Result<()>;

/// Writes one of the extra outputs (`what`: a job graph, a trace) with `write`: to `out` for `-`
/// (returns true), else to the file at `path`, saying so on `err`.
fn write_extra(
    path: &Path,
    what: &str,
    out: &mut dyn Write,
    err: &mut dyn Write,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> anyhow::Result<bool> {
    if path == Path::new("-") {
        write(out)?;
        return Ok(true);
    }
    write_file(path, what, write)?;
    let _ = writeln!(err, "wrote {what} to {}", path.display());
    Ok(false)
}

/// Writes the file at `path` with `write` (`what` it holds names it in the error); an unwritable
/// path is a [`Failure`].
fn write_file(
    path: &Path,
    what: &str,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    let failure = |e: std::io::Error| {
        Failure::bad_input(
            format!("cannot write {what} '{}': {e}", path.display()),
            "check that the directory exists and is writable",
        )
    };
    let file = std::fs::File::create(path).map_err(failure)?;
    let mut file = std::io::BufWriter::new(file);
    write(&mut file).map_err(failure)?;
    file.flush().map_err(failure)?;
    Ok(())
}

pub(crate) fn read_failure(path: &Path, error: ReadError) -> Failure {
    let name = path.display();
    match error {
        ReadError::Io(e) => {
            Failure::bad_input(format!("cannot read recording '{name}': {e}"), "check the path")
        }
        ReadError::Empty => Failure::bad_input(
            format!("recording '{name}' is empty"),
            "check that the recorded program started its recorder",
        ),
        ReadError::NotARecording => Failure::bad_input(
            format!("'{name}' is not a bpprof recording (it does not start with the bpprof magic bytes)"),
            "pass a file written by the bpprof recorder",
        ),
        ReadError::UnsupportedVersion { major, minor } => Failure::bad_input(
            format!(
                "recording '{name}' uses format {major}.{minor}, which this bpprof (format {}.{}) cannot read",
                bpprof_format::FORMAT_MAJOR,
                bpprof_format::FORMAT_MINOR
            ),
            "use a bpprof of the same major version as the recorder",
        ),
        ReadError::TruncatedHeader { .. } => Failure::bad_input(
            format!("recording '{name}': {error}"),
            "record again and let the program run for at least one interval",
        ),
        ReadError::Corrupt { .. } => Failure::bad_input(
            format!("recording '{name}': {error}"),
            "the file is damaged; record again",
        ),
        ReadError::Series(error) => series_failure(error),
    }
}

/// A path that names no recording files, or files that are not one recording (a series read
/// by `read_path`); a file of the series that cannot be read is told as that file.
fn series_failure(error: SeriesError) -> Failure {
    match error {
        SeriesError::File { file, error } => read_failure(Path::new(&file), *error),
        other => Failure::bad_input(other.problem(), other.fix()),
    }
}

pub(crate) fn analysis_failure(error: AnalysisError) -> Failure {
    let fix = match error {
        AnalysisError::NoIntervals => "record for longer than one interval",
        AnalysisError::EmptyRange { .. } | AnalysisError::InvalidRange { .. } => {
            "choose --from and --to within the recording"
        }
        AnalysisError::InvalidWindow { .. } => "pass --window a positive number of seconds",
    };
    Failure::bad_input(error.to_string(), fix)
}

/// `--from` / `--to` as the range a reader may limit itself to (`ReadOptions::from_ns`), ns:
/// `None` for a value the analysis rejects (it then says why) and without `--from`.
pub(crate) fn range_ns(from_s: Option<f64>, to_s: Option<f64>) -> (Option<u64>, Option<u64>) {
    let ns = |s: f64| (s.is_finite() && s >= 0.0).then_some((s * 1e9) as u64);
    match from_s.and_then(ns) {
        Some(from) => (Some(from), to_s.and_then(ns)),
        None => (None, None),
    }
}
