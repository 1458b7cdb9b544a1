//! `bpprof merge`: join recordings of the processes of one job into one recording.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use bpprof_analysis::merge::merge;
use bpprof_format::{EndChunk, Recording, RecordingWriter};

use crate::locate::read_failure;
use crate::outputs::{check_output, partial_path, Inputs, Output};
use crate::Failure;
use bpprof_analysis::units::plural;

/// Arguments of `bpprof merge`.
#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// The recordings to merge (one per process); tasks are matched by name, and channels or
    /// links with the same name become one edge.
    #[arg(value_name = "REC", required = true, num_args = 2..)]
    pub recordings: Vec<PathBuf>,
    /// The merged recording to write.
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    pub output: PathBuf,
}

/// Runs `bpprof merge`.
pub fn run(args: &MergeArgs, _out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<()> {
    // Before anything is read: one file given twice would be counted twice, and the merged
    // recording must not replace one of the recordings it is made of.
    let inputs = Inputs::new(args.recordings.iter().map(PathBuf::as_path));
    inputs.refuse_duplicates("merging would count twice")?;
    check_output(&args.output, "-o", Output::Recording, &inputs)?;
    let mut recordings = Vec::with_capacity(args.recordings.len());
    for path in &args.recordings {
        let recording = bpprof_format::read_path(path).map_err(|e| read_failure(path, e))?;
        for warning in &recording.warnings {
            writeln!(err, "warning: {}: {warning}", path.display())?;
        }
        recordings.push(recording);
    }
    let merged = merge(&recordings).map_err(|e| {
        Failure::bad_input(format!("cannot merge: {e}"), "pass complete recordings")
    })?;
    write_recording(&args.output, &merged).map_err(|e| {
        Failure::bad_input(
            format!("cannot write '{}': {e}", args.output.display()),
            "check that the directory exists and is writable",
        )
    })?;
    // A status line, on stderr like those of every other command.
    let _ = writeln!(
        err,
        "merged {} recordings ({}) into {}",
        recordings.len(),
        plural(merged.intervals.len(), "interval"),
        args.output.display()
    );
    Ok(())
}

/// Writes `recording` to `path` through a temporary file next to it, renamed to `path` once it
/// is complete: a recording already there (a previous merge) is replaced only by a whole new
/// one, and a write that fails half-way leaves it untouched.
fn write_recording(path: &Path, recording: &Recording) -> std::io::Result<()> {
    let partial = partial_path(path);
    let written = write_chunks(&partial, recording).and_then(|()| std::fs::rename(&partial, path));
    if written.is_err() {
        // What is left of the temporary file is of no use; the error is the one to report.
        let _ = std::fs::remove_file(&partial);
    }
    written
}

/// Writes every chunk of `recording` into a new file at `path`, an end chunk last.
fn write_chunks(path: &Path, recording: &Recording) -> std::io::Result<()> {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    let mut writer = RecordingWriter::new(BufWriter::new(file), &recording.meta)?;
    let mut samples = recording.samples.iter().peekable();
    for interval in &recording.intervals {
        writer.write_interval(interval)?;
        while let Some(s) = samples.next_if(|s| s.seq == interval.seq) {
            writer.write_samples(s)?;
        }
    }
    let end = recording.end.clone().unwrap_or(EndChunk {
        end_ns: recording.intervals.last().map_or(0, |i| i.end_ns),
        chunks: recording.intervals.len() as u64,
        coalesced_intervals: 0,
    });
    writer.finish(&end)?.flush()
}
