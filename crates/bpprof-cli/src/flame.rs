//! `bpprof flame`: a flame graph of one subtask (or task) from the recording's stack samples.

use std::io::Write;
use std::path::{Path, PathBuf};

use bpprof_analysis::flame::{
    fold, render_svg, state_name, FlameError, FlameOptions, Mode, NoSamplesReason, Resolved,
    Selection, SvgOptions, MIN_WIDTH,
};
use bpprof_analysis::range::coverage;
use bpprof_analysis::stacks;
use bpprof_analysis::units::{join_lines, thousands};
use bpprof_analysis::AnalysisOptions;
use bpprof_format::{Recording, SampleState};

use crate::locate::{analysis_failure, read_failure};
use crate::outputs::{check_output, Inputs, Output};
use crate::Failure;

mod pprof;

/// Arguments of `bpprof flame`.
#[derive(Debug, clap::Args)]
pub struct FlameArgs {
    /// The recording (a `.bpprof` file written by the bpprof recorder with stack sampling on;
    /// a rotated recording's series of files is named by its directory, a quoted glob pattern
    /// (`'out.*.bpprof'`) or its base name (`out.bpprof`)).
    #[arg(value_name = "REC")]
    pub recording: PathBuf,
    /// What to draw.
    #[command(flatten)]
    pub fold: FoldArgs,
    /// Where to write the graph; `-` for standard output. Default: `flame-TASK-INDEX.svg`
    /// (`flame-TASK.svg` with --task) in the current directory, or standard output with --folded;
    /// with --format pprof `flame-TASK-INDEX.pb.gz`, or `flame.pb.gz` for every subtask.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Write folded stacks (`frame;frame;frame count`, the input of inferno and flamegraph.pl)
    /// instead of an SVG (the same as --format folded).
    #[arg(long, conflicts_with = "format")]
    pub folded: bool,
    /// What to write: `svg`, `folded` (as --folded) or `pprof`: a gzipped pprof profile (for `go
    /// tool pprof`, Pyroscope, Parca), with task, subtask, state, cpu and operator labels on every
    /// sample; without --subtask or --task it holds every subtask of the recording.
    #[arg(long, value_enum, default_value_t = GraphFormat::Svg)]
    pub format: GraphFormat,
    /// Width of the SVG in pixels (at least 100). Default: as wide as the browser window.
    #[arg(
        long,
        value_name = "PIXELS",
        value_parser = parse_width,
        allow_negative_numbers = true
    )]
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
    /// warm-up is skipped when the rest covers most of the run), as for `locate`.
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    pub from: Option<f64>,
    /// End of the range (exclusive), in seconds since the recording started. Default: the end of
    /// the recording.
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
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

/// `--format` of `bpprof flame`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphFormat {
    /// An interactive SVG flame graph.
    Svg,
    /// Folded stacks, one line per stack.
    Folded,
    /// A pprof profile (protobuf, gzip-compressed).
    Pprof,
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
    let recording = read_for(&args.recording, &args.fold)?;
    for warning in &recording.warnings {
        let _ = writeln!(err, "warning: {warning}");
    }
    let options = args.fold.flame_options()?;
    if args.format == GraphFormat::Pprof {
        return pprof::run(args, &recording, &options, out, err);
    }
    let folded = fold(&recording, &options).map_err(flame_failure)?;
    let label = folded.selection.label();

    let graph = GraphOutput {
        output: args.output.as_deref(),
        folded: args.folded || args.format == GraphFormat::Folded,
        width: args.width,
        inputs: Inputs::new([args.recording.as_path()]),
    };
    let written = graph.write(
        out,
        |bytes| folded.write_folded(bytes),
        |svg, bytes| render_svg(&folded, svg, bytes),
        || folded.selection.file_name("svg"),
    )?;
    // After the graph is written: a failure to write is then the only line on stderr.
    note_chosen(err, &folded.selection, "drawing", "found");
    note_range(err, "", &recording, &args.fold);
    note_short_stacks(err, &recording, &folded.selection, &args.fold);
    let Some(path) = written else {
        return Ok(());
    };
    // A status line, with the others on stderr: stdout carries only the graph itself.
    let _ = writeln!(
        err,
        "wrote {} of {label} ({} samples) to {}",
        graph.kind(),
        thousands(folded.samples),
        path.display()
    );
    Ok(())
}

/// Reads the recording at `path` for a graph of `fold`'s selection: with --subtask or --task,
/// only the stack samples of the subtasks drawn are kept (the reader skips the others' counts,
/// which are most of a wide recording's memory); without, every subtask's (the bottleneck is
/// chosen after reading). With --from, the reader may read only that range's chunks (through
/// the file's index).
pub(crate) fn read_for(path: &Path, fold: &FoldArgs) -> Result<Recording, Failure> {
    let wanted = match (&fold.subtask, &fold.task) {
        (Some(name), _) => match Selection::parse_subtask(name).map_err(flame_failure)? {
            Selection::Subtask { task, index } => Some((task, Some(index))),
            _ => None,
        },
        (None, Some(task)) => Some((task.clone(), None)),
        (None, None) => None,
    };
    let keep = |d: &bpprof_format::SubtaskDecl| {
        wanted
            .as_ref()
            .is_some_and(|(task, index)| d.task == *task && index.is_none_or(|i| i == d.index))
    };
    let (from_ns, to_ns) = crate::locate::range_ns(fold.from, fold.to);
    let options = bpprof_format::ReadOptions {
        samples_of: wanted.is_some().then_some(&keep as &dyn Fn(&_) -> bool),
        from_ns,
        to_ns,
    };
    bpprof_format::read_path_with(path, &options).map_err(|e| read_failure(path, e))
}

/// Says on `err` which range of `recording` the graph was drawn from (`analysed 0.1–1 s of 1 s
/// (9 intervals)`), and warns when it is too short; each line starts with `role`.
pub(crate) fn note_range(err: &mut dyn Write, role: &str, recording: &Recording, fold: &FoldArgs) {
    let options = AnalysisOptions {
        from_s: fold.from,
        to_s: fold.to,
        window_s: None,
    };
    // The graph was drawn from this range, so it can be selected; advisory all the same.
    let Ok(coverage) = coverage(recording, &options) else {
        return;
    };
    let _ = writeln!(err, "{role}{}", coverage.text());
    if let Some(warning) = coverage.warning() {
        let _ = writeln!(err, "warning: {role}{warning}");
    }
}

/// Warns on `err` when the stacks of the drawn selection look cut short (the program was probably
/// built without frame pointers, see `bpprof_analysis::stacks`). Nothing otherwise.
pub(crate) fn note_short_stacks(
    err: &mut dyn Write,
    recording: &Recording,
    selection: &Resolved,
    fold: &FoldArgs,
) {
    let Ok(depths) = stacks::selection_depths(
        recording,
        &selection.task,
        &selection.indices,
        fold.from,
        fold.to,
    ) else {
        return;
    };
    if depths.cut_short() {
        let line = stacks::sentence(&[selection.label()], depths.max_frames, depths.share());
        // Advisory: a closed stderr must not stop the command.
        let _ = writeln!(err, "warning: {line}");
    }
}

/// Says on `err` which bottleneck was chosen when no --subtask or --task was given: `no --subtask
/// or --task given: VERB LABEL, the bottleneck `bpprof locate` FOUND: REASON`. Nothing otherwise.
pub(crate) fn note_chosen(err: &mut dyn Write, selection: &Resolved, verb: &str, found: &str) {
    if let Some(chosen) = &selection.bottleneck {
        // Advisory: a closed stderr must not stop the command.
        let line = format!(
            "no --subtask or --task given: {verb} {}, the bottleneck `bpprof locate` {found}: {}",
            selection.label(),
            chosen.reason
        );
        let _ = writeln!(err, "{}", join_lines(&line));
    }
}

/// How `bpprof flame` and `bpprof diff` write their graph: the options they share.
pub(crate) struct GraphOutput<'a> {
    /// `-o`.
    pub output: Option<&'a Path>,
    /// `--folded`.
    pub folded: bool,
    /// `--width`.
    pub width: Option<usize>,
    /// The recordings the graph is drawn from, which it may not replace.
    pub inputs: Inputs,
}

impl GraphOutput<'_> {
    /// Renders the graph, as folded stacks with `write_folded` (`--folded`) or as an SVG of
    /// `--width` with `render_svg`, and writes it where `-o` says ([`output_path`];
    /// `default_name()` without `-o`). Returns the file written, `None` when it went to `out`.
    pub(crate) fn write(
        &self,
        out: &mut dyn Write,
        write_folded: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>,
        render_svg: impl FnOnce(&SvgOptions, &mut Vec<u8>) -> std::io::Result<()>,
        default_name: impl FnOnce() -> String,
    ) -> anyhow::Result<Option<PathBuf>> {
        let mut bytes = Vec::new();
        if self.folded {
            write_folded(&mut bytes)?;
        } else {
            let svg = SvgOptions {
                width: self.width,
                ..SvgOptions::default()
            };
            render_svg(&svg, &mut bytes)?;
        }
        let Some(path) = output_path(self.output, self.folded, default_name) else {
            out.write_all(&bytes)?;
            out.flush()?;
            return Ok(None);
        };
        write_output(&path, &bytes, &self.inputs)?;
        Ok(Some(path))
    }

    /// What was written, for the closing line: `folded stacks` or `flame graph`.
    pub(crate) fn kind(&self) -> &'static str {
        if self.folded {
            "folded stacks"
        } else {
            "flame graph"
        }
    }
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

/// `--width`: a number of pixels, at least [`MIN_WIDTH`].
pub(crate) fn parse_width(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(width) if width >= MIN_WIDTH => Ok(width),
        _ => Err(format!("give a number of pixels of at least {MIN_WIDTH}")),
    }
}

/// Writes the graph to `path`, as one error line when it cannot (or when that would destroy a
/// recording or an input, see [`check_output`]).
pub(crate) fn write_output(path: &Path, bytes: &[u8], inputs: &Inputs) -> Result<(), Failure> {
    check_output(path, "-o", Output::Report, inputs)?;
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
