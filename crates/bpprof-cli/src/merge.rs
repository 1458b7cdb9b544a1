//! `bpprof merge`: join recordings of the processes of one job into one recording.

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use bpprof_analysis::merge::merge;
use bpprof_format::{EndChunk, RecordingWriter};

use crate::locate::read_failure;
use crate::outputs::{check_output, Inputs, Output};
use crate::Failure;

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
pub fn run(args: &MergeArgs, out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<()> {
    // Before anything is read: one file given twice would be counted twice, and the merged
    // recording must not replace one of the recordings it is made of.
    let inputs = Inputs::new(args.recordings.iter().map(PathBuf::as_path));
    inputs.refuse_duplicates("merging would count twice")?;
    check_output(&args.output, "-o", Output::Recording, &inputs)?;
    let mut recordings = Vec::with_capacity(args.recordings.len());
    for path in &args.recordings {
        let recording = bpprof_format::read_file(path).map_err(|e| read_failure(path, e))?;
        for warning in &recording.warnings {
            writeln!(err, "warning: {}: {warning}", path.display())?;
        }
        recordings.push(recording);
    }
    let merged = merge(&recordings).map_err(|e| {
        Failure::bad_input(format!("cannot merge: {e}"), "pass complete recordings")
    })?;
    let cannot_write = |e: std::io::Error| {
        Failure::bad_input(
            format!("cannot write '{}': {e}", args.output.display()),
            "check that the directory exists and is writable",
        )
    };
    let file = std::fs::File::create(&args.output).map_err(cannot_write)?;
    let mut writer =
        RecordingWriter::new(BufWriter::new(file), &merged.meta).map_err(cannot_write)?;
    let mut samples = merged.samples.iter().peekable();
    for interval in &merged.intervals {
        writer.write_interval(interval).map_err(cannot_write)?;
        while let Some(s) = samples.next_if(|s| s.seq == interval.seq) {
            writer.write_samples(s).map_err(cannot_write)?;
        }
    }
    let end = merged.end.clone().unwrap_or(EndChunk {
        end_ns: merged.intervals.last().map_or(0, |i| i.end_ns),
        chunks: merged.intervals.len() as u64,
        coalesced_intervals: 0,
    });
    writer
        .finish(&end)
        .and_then(|mut w| w.flush())
        .map_err(cannot_write)?;
    writeln!(
        out,
        "merged {} recordings ({} intervals) into {}",
        recordings.len(),
        merged.intervals.len(),
        args.output.display()
    )?;
    Ok(())
}
