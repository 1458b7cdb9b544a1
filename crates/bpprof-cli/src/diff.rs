//! `bpprof diff`: a differential flame graph of one subtask (or task) between two recordings,
//! normalised per record processed.

use std::io::Write;
use std::path::{Path, PathBuf};

use bpprof_analysis::diff::{
    fold_differential, render_diff_svg, DiffError, DiffOptions, Normalize, Side,
};
use bpprof_analysis::flame::FlameError;
use bpprof_analysis::units::join_lines;
use bpprof_format::Recording;

use crate::flame::{flame_failure, note_chosen, note_range, FoldArgs, GraphOutput};
use crate::outputs::Inputs;
use crate::Failure;

/// Arguments of `bpprof diff`.
#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The baseline recording ("before").
    #[arg(value_name = "BASE")]
    pub base: PathBuf,
    /// The recording compared with BASE ("after"). Without --subtask or --task, its bottleneck is
    /// drawn, and the same subtask in BASE.
    #[arg(value_name = "CURRENT")]
    pub current: PathBuf,
    /// What to draw, the same in both recordings.
    #[command(flatten)]
    pub fold: FoldArgs,
    /// How the two recordings are made comparable: `records` (time per record processed: each
    /// sample stands for an equal share of the measured time of its mode, divided by the records,
    /// so a run that processed more records is not a regression) or
    /// `samples` (BASE scaled to CURRENT's sample total, like `inferno-diff-folded --normalize`;
    /// for recordings without record counts).
    #[arg(long, value_enum, default_value_t = CliNormalize::Records)]
    pub normalize: CliNormalize,
    /// Draw BASE instead of CURRENT (widths from BASE, so code paths that vanished in CURRENT are
    /// visible); the colours keep their meaning (red: more in CURRENT, blue: less). With --folded,
    /// the two counts are swapped: draw them with `inferno-flamegraph --negate`.
    #[arg(long)]
    pub negate: bool,
    /// Where to write the graph; `-` for standard output. Default: `diff-TASK-INDEX.svg`
    /// (`diff-TASK.svg` with --task) in the current directory, or standard output with --folded.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Write folded stacks with two counts (`frame;frame BASE CURRENT`, in the unit of the graph)
    /// instead of an SVG: the input of `inferno-flamegraph` and `flamegraph.pl`.
    #[arg(long)]
    pub folded: bool,
    /// Width of the SVG in pixels (at least 100). Default: as wide as the browser window.
    #[arg(
        long,
        value_name = "PIXELS",
        value_parser = crate::flame::parse_width,
        allow_negative_numbers = true
    )]
    pub width: Option<usize>,
}

/// `--normalize`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CliNormalize {
    /// Cost per record processed (needs record counts: an instrumented channel).
    Records,
    /// By sample totals.
    Samples,
}

/// Runs `bpprof diff`.
pub fn run(args: &DiffArgs, out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<()> {
    let base = read(&args.base, &args.fold, "BASE", err)?;
    let current = read(&args.current, &args.fold, "CURRENT", err)?;
    let (base_name, current_name) = names(&args.base, &args.current);
    let options = DiffOptions {
        flame: args.fold.flame_options()?,
        normalize: match args.normalize {
            CliNormalize::Records => Normalize::Records,
            CliNormalize::Samples => Normalize::Samples,
        },
        negate: args.negate,
        base_name,
        current_name,
    };
    let diff = fold_differential(&base, &current, &options).map_err(diff_failure)?;
    let label = join_lines(&diff.current.selection.label());

    let graph = GraphOutput {
        output: args.output.as_deref(),
        folded: args.folded,
        width: args.width,
        inputs: Inputs::new([args.base.as_path(), args.current.as_path()]),
    };
    let written = graph.write(
        out,
        |bytes| diff.write_folded(bytes),
        |svg, bytes| render_diff_svg(&diff, svg, bytes),
        || diff.file_name("svg"),
    )?;
    // After the graph is written: a failure to write is then the only line on stderr.
    note_chosen(
        err,
        &diff.current.selection,
        "comparing",
        "found in CURRENT",
    );
    note_range(err, "BASE: ", &base, &args.fold);
    note_range(err, "CURRENT: ", &current, &args.fold);
    let Some(path) = written else {
        return Ok(());
    };
    let change = match diff.change() {
        Some(change) => format!("{:+.1}% per record", change * 100.0).replace("-0.0%", "+0.0%"),
        None => "normalised by sample totals".to_owned(),
    };
    // A status line, with the others on stderr: stdout carries only the graph itself.
    let _ = writeln!(
        err,
        "wrote differential {} of {label} ({change}) to {}",
        graph.kind(),
        path.display()
    );
    Ok(())
}

/// What the graph and the errors call the two recordings: their file names, or the paths as
/// given when the file names are the same (`before/run.bpprof`, `after/run.bpprof`).
fn names(base: &Path, current: &Path) -> (String, String) {
    let file_name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
    match (file_name(base), file_name(current)) {
        (Some(b), Some(c)) if b != c => (b, c),
        _ => (base.display().to_string(), current.display().to_string()),
    }
}

/// Reads one of the two recordings; its warnings go to `err`, prefixed with its role.
fn read(
    path: &Path,
    fold: &FoldArgs,
    role: &str,
    err: &mut dyn Write,
) -> Result<Recording, Failure> {
    let recording = crate::flame::read_for(path, fold)?;
    for warning in &recording.warnings {
        let _ = writeln!(err, "warning: {role}: {warning}");
    }
    Ok(recording)
}

fn diff_failure(error: DiffError) -> Failure {
    match error {
        DiffError::Fold { side, name, error } => {
            // Resolved in CURRENT but missing in BASE: the two job graphs differ.
            let only_current = match (&side, &error) {
                (Side::Base, FlameError::UnknownSubtask { wanted, .. }) => {
                    let task = wanted.rsplit_once('#').map_or(wanted.as_str(), |(t, _)| t);
                    Some(format!(
                        "{wanted} is in CURRENT only (the parallelism of {task} differs?): compare the whole task with --task {task}"
                    ))
                }
                (Side::Base, FlameError::UnknownTask { wanted, .. }) => Some(format!(
                    "task {wanted} is in CURRENT only: pass a task that both recordings have"
                )),
                _ => None,
            };
            let failure = flame_failure(error);
            Failure {
                what: format!("in {}: {}", side.with_name(&name), failure.what),
                fix: only_current.unwrap_or(failure.fix),
                ..failure
            }
        }
        DiffError::NoRecords { .. } => Failure::bad_input(
            error.to_string(),
            "pass --normalize samples to normalise by sample totals instead",
        ),
        DiffError::NoSampleRate { .. } => Failure::bad_input(
            error.to_string(),
            "pass --normalize samples to normalise by sample totals instead",
        ),
    }
}
