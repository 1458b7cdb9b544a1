//! `bpprof locate`: read a recording, locate the bottleneck, print the report.

use std::io::Write;
use std::path::{Path, PathBuf};

use bpprof_analysis::{locate, render_human_with, AnalysisError, AnalysisOptions, RenderOptions};
use bpprof_format::ReadError;

use crate::{Failure, Format};

/// Arguments of `bpprof locate`.
#[derive(Debug, clap::Args)]
pub struct LocateArgs {
    /// The recording to analyse (a `.bpprof` file written by the bpprof recorder).
    #[arg(value_name = "REC")]
    pub recording: PathBuf,
    /// Start of the range to analyse, in seconds since the recording started. An interval is
    /// analysed when its midpoint lies in [--from, --to). Default: the end of the first interval
    /// (the warm-up is skipped).
    #[arg(long, value_name = "SECONDS")]
    pub from: Option<f64>,
    /// End of the range to analyse (exclusive), in seconds since the recording started.
    /// Default: the end of the recording.
    #[arg(long, value_name = "SECONDS")]
    pub to: Option<f64>,
    /// Length of the timeline's windows, in seconds: the range is cut into groups of consecutive
    /// intervals this long and the bottleneck is found in each. Default: the recording interval
    /// (one interval per window).
    #[arg(long, value_name = "SECONDS")]
    pub window: Option<f64>,
    /// Also print the timeline strip: one row per task, one character per window (`*`
    /// bottleneck, `B` backpressured, `#` busy, `.` idle-ish, `-` no data). Human format only;
    /// the JSON always carries the windows.
    #[arg(long)]
    pub timeline: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

/// Runs `bpprof locate`.
pub fn run(args: &LocateArgs, out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<()> {
    let recording =
        bpprof_format::read_file(&args.recording).map_err(|e| read_failure(&args.recording, e))?;
    let options = AnalysisOptions {
        from_s: args.from,
        to_s: args.to,
        window_s: args.window,
    };
    let report = locate(&recording, &options).map_err(analysis_failure)?;
    for warning in &report.recording.warnings {
        // Warnings are advisory: a closed stderr must not stop the analysis.
        let _ = writeln!(err, "warning: {warning}");
    }
    match args.format {
        Format::Human => {
            let render = RenderOptions {
                timeline: args.timeline,
            };
            render_human_with(&report, &render, &mut *out)?
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
