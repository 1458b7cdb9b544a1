//! `bpprof flame`: a flame graph of one subtask (or task) from the recording's stack samples.

use std::io::Write;
use std::path::{Path, PathBuf};

use bpprof_analysis::flame::{
    fold, render_svg, state_name, FlameError, FlameOptions, Mode, NoSamplesReason, Selection,
    SvgOptions,
};
use bpprof_analysis::verdict::thousands;
use bpprof_format::SampleState;

use crate::locate::{analysis_failure, read_failure};
use crate::Failure;

/// Arguments of `bpprof flame`.
#[derive(Debug, clap::Args)]
pub struct FlameArgs {
    /// The recording (a `.bpprof` file written by the bpprof recorder with stack sampling on).
    #[arg(value_name = "REC")]
    pub recording: PathBuf,
    /// What to draw.
    #[command(flatten)]
    pub fold: FoldArgs,
    /// Where to write the graph; `-` for standard output. Default: `flame-TASK-INDEX.svg`
    /// (`flame-TASK.svg` with --task) in the current directory, or standard output with --folded.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Write folded stacks (`frame;frame;frame count`, the input of inferno and flamegraph.pl)
    /// instead of an SVG.
    #[arg(long)]
    pub folded: bool,
    /// Width of the SVG in pixels. Default: as wide as the browser window.
    #[arg(long, value_name = "PIXELS")]
    pub width: Option<usize>,
}

/// What to fold into a flame graph: the options `bpprof flame` and `bpprof diff` share.
#[derive(Debug, clap::Args)]
pub struct FoldArgs {
    /// The subtask to draw, as TASK#INDEX (e.g. `Enrich#3`). Without --subtask or --task, the
    /// bottleneck that `bpprof locate` finds is drawn (for `diff`: CURRENT's bottleneck).
    #[arg(long, value_name = "TASK#INDEX", conflicts_with = "task")]
    pub subtask: Option<String>,
    /// Draw every subtask of this task, merged.
    #[arg(long, value_name = "TASK")]
    pub task: Option<String>,
    /// Keep only the samples taken inside this operator of the subtask's operator chain (a
    /// `bpprof::operator` scope; nested operators count as the innermost one).
    #[arg(long, value_name = "NAME")]
    pub operator: Option<String>,
    /// Which samples: `mixed` (all, with the subtask's state as the root frame), `on-cpu` (only
    /// samples taken while the thread used CPU) or `off-cpu` (only the others).
    #[arg(long, value_enum, default_value_t = CliMode::Mixed)]
    pub mode: CliMode,
    /// Keep only samples taken in these states (comma-separated). Default: all three.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        value_name = "STATES",
        default_values_t = [CliState::Busy, CliState::Backpressured, CliState::Idle]
    )]
    pub state: Vec<CliState>,
    /// Start of the range, in seconds since the recording started. An interval's samples are
    /// drawn when its midpoint lies in [--from, --to). Default: the end of the first interval (the
    /// warm-up is skipped), as for `locate`.
    #[arg(long, value_name = "SECONDS")]
    pub from: Option<f64>,
    /// End of the range (exclusive), in seconds since the recording started. Default: the end of
    /// the recording.
    #[arg(long, value_name = "SECONDS")]
    pub to: Option<f64>,
}

impl FoldArgs {
    /// The library's options for these arguments.
    pub fn flame_options(&self) -> Result<FlameOptions, Failure> {
        let selection = match (&self.subtask, &self.task) {
            (Some(name), _) => Selection::parse_subtask(name).map_err(flame_failure)?,
            (None, Some(task)) => Selection::Task(task.clone()),
            (None, None) => Selection::Bottleneck,
        };
        Ok(FlameOptions {
            selection,
            mode: match self.mode {
                CliMode::Mixed => Mode::Mixed,
                CliMode::OnCpu => Mode::OnCpu,
                CliMode::OffCpu => Mode::OffCpu,
            },
            states: self.state.iter().map(|s| s.into_state()).collect(),
            from_s: self.from,
            to_s: self.to,
            operator: self.operator.clone(),
        })
    }
}

/// `--mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CliMode {
    /// Every sample; the state (`[busy]`, `[backpressured]`, `[idle]`) is the root frame.
    Mixed,
    /// Only samples taken while the thread was using CPU.
    OnCpu,
    /// Only samples taken while the thread was not using CPU.
    OffCpu,
}

/// `--state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CliState {
    /// Neither waiting for input nor for output capacity.
    Busy,
    /// Blocked waiting for output capacity.
    Backpressured,
    /// Blocked waiting for input.
    Idle,
}

impl std::fmt::Display for CliState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(state_name(self.into_state()))
    }
}

impl CliState {
    fn into_state(self) -> SampleState {
        match self {
            CliState::Busy => SampleState::Busy,
            CliState::Backpressured => SampleState::Backpressured,
            CliState::Idle => SampleState::Idle,
        }
    }
}

/// Runs `bpprof flame`.
pub fn run(args: &FlameArgs, out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<()> {
    let recording =
        bpprof_format::read_file(&args.recording).map_err(|e| read_failure(&args.recording, e))?;
    for warning in &recording.warnings {
        let _ = writeln!(err, "warning: {warning}");
    }
    let options = args.fold.flame_options()?;
    let folded = fold(&recording, &options).map_err(flame_failure)?;
    let label = folded.selection.label();
    if let Some(chosen) = &folded.selection.bottleneck {
        // Advisory: a closed stderr must not stop the command.
        let _ = writeln!(
            err,
            "no --subtask or --task given: drawing {label}, the bottleneck `bpprof locate` found: {}",
            chosen.reason
        );
    }

    let mut bytes = Vec::new();
    if args.folded {
        folded.write_folded(&mut bytes)?;
    } else {
        let svg = SvgOptions {
            width: args.width,
            ..SvgOptions::default()
        };
        render_svg(&folded, &svg, &mut bytes)?;
    }
    let default = || folded.selection.file_name("svg");
    let Some(path) = output_path(args.output.as_deref(), args.folded, default) else {
        out.write_all(&bytes)?;
        out.flush()?;
        return Ok(());
    };
    write_output(&path, &bytes)?;
    writeln!(
        out,
        "wrote {} of {label} ({} samples) to {}",
        if args.folded {
            "folded stacks"
        } else {
            "flame graph"
        },
        thousands(folded.samples),
        path.display()
    )?;
    out.flush()?;
    Ok(())
}

/// Where `-o` says to write: `None` for standard output (`-o -`, or no `-o` with `--folded`),
/// else the file (`default()` without `-o`).
pub(crate) fn output_path(
    output: Option<&Path>,
    folded: bool,
    default: impl FnOnce() -> String,
) -> Option<PathBuf> {
    match output {
        Some(path) if path.as_os_str() == "-" => None,
        Some(path) => Some(path.to_owned()),
        None if folded => None,
        None => Some(PathBuf::from(default())),
    }
}

/// Writes the graph to `path`, as one error line when it cannot.
pub(crate) fn write_output(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    std::fs::write(path, bytes).map_err(|e| {
        Failure::bad_input(
            format!("cannot write '{}': {e}", path.display()),
            "choose a writable path with -o",
        )
    })
}

/// A flame error as one line: what is wrong and how to fix it.
pub(crate) fn flame_failure(error: FlameError) -> Failure {
    let fix = match &error {
        FlameError::Analysis(e) => return analysis_failure(e.clone()),
        FlameError::BadSubtaskName { .. } => {
            "write the subtask as TASK#INDEX, e.g. --subtask Enrich#0"
        }
        FlameError::UnknownSubtask { .. } => "pass one of the available subtasks to --subtask",
        FlameError::UnknownTask { .. } => "pass one of the available tasks to --task",
        FlameError::UnknownOperator { .. } => "pass one of its operators to --operator",
        FlameError::NoBottleneck { .. } => {
            "choose what to draw with --subtask TASK#INDEX or --task TASK"
        }
        FlameError::NoSamples { reason, .. } => match reason {
            NoSamplesReason::SamplingOff => "record again with stack sampling on",
            NoSamplesReason::NoneInRange => "choose another subtask, or widen --from / --to",
            NoSamplesReason::Filtered { .. } => "widen --mode or --state",
        },
    };
    Failure::bad_input(error.to_string(), fix)
}
