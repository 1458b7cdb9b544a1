//! `bpprof flame --format pprof`: the samples as a pprof profile.

use std::io::Write;

use bpprof_analysis::export::pprof::{profile, write_gzip, Scope};
use bpprof_analysis::flame::{FlameOptions, Selection};
use bpprof_analysis::units::thousands;
use bpprof_format::Recording;

use super::{flame_failure, note_chosen, note_range, output_path, write_output, FlameArgs};
use crate::outputs::Inputs;
use bpprof_analysis::units::plural;

/// Writes the profile of the selection (of every subtask without --subtask or --task) where `-o`
/// says: `flame-TASK-INDEX.pb.gz` (`flame.pb.gz` for every subtask) by default.
pub(super) fn run(
    args: &FlameArgs,
    recording: &Recording,
    options: &FlameOptions,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<()> {
    let scope = match options.selection {
        Selection::Bottleneck => Scope::Recording,
        _ => Scope::Selection,
    };
    let exported = profile(recording, options, scope).map_err(flame_failure)?;
    let mut bytes = Vec::new();
    write_gzip(&exported.profile, &mut bytes)?;
    let default_name = || match &exported.selection {
        Some(selection) => selection.file_name("pb.gz"),
        None => "flame.pb.gz".to_owned(),
    };
    let written = match output_path(args.output.as_deref(), false, default_name) {
        None => {
            out.write_all(&bytes)?;
            out.flush()?;
            None
        }
        Some(path) => {
            write_output(&path, &bytes, &Inputs::new([args.recording.as_path()]))?;
            Some(path)
        }
    };
    if let Some(selection) = &exported.selection {
        note_chosen(err, selection, "exporting", "found");
    }
    note_range(err, "", recording, &args.fold);
    if let Some(path) = written {
        let _ = writeln!(
            err,
            "wrote pprof profile of {} ({} samples of {}) to {}",
            exported.label(),
            thousands(exported.samples),
            plural(exported.subtasks.len(), "subtask"),
            path.display()
        );
    }
    Ok(())
}
