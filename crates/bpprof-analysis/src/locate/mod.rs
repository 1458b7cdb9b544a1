//! `locate`: the whole analysis of one range, in steps. The range is selected ([`crate::range`]),
//! each task is reported and the rules applied ([`tasks::analyse`]), the short-stack note added
//! once for the range ([`crate::stacks`]), the range cut into windows ([`crate::timeline`]), and
//! all of it gathered into one [`LocateReport`].

pub(crate) mod tasks;

use bpprof_format::Recording;

use crate::graph::JobGraph;
use crate::range::{check_window, AnalysisError, AnalysisOptions};
use crate::report::{
    LocateReport, Note, RecordingSummary, TaskReport, SCHEMA, SCHEMA_MINOR, SCHEMA_VERSION,
};
use crate::window::Selection;
use crate::{capacity, explain, range, stacks, timeline};
use tasks::analyse;

/// Analyses `recording` over the range chosen by `options` and locates its bottlenecks.
///
/// Errors only when the range selects no interval (or is malformed); a recording with warnings
/// (e.g. truncated) is analysed as far as it is complete, and its warnings are copied into
/// [`RecordingSummary::warnings`].
pub fn locate(
    recording: &Recording,
    options: &AnalysisOptions,
) -> Result<LocateReport, AnalysisError> {
    check_window(options)?;
    let selection = range::select(recording, options)?;
    let graph = JobGraph::from_recording(recording);
    let (tasks, edges, mut averaged) = analyse(recording, &graph, &selection);
    // Once for the whole range, not per window: it reads every sample.
    if let Some(note) = short_stacks(recording, &graph, &selection, &tasks) {
        averaged
            .notes
            .push(explain::note(&note, recording.meta.cpus));
        averaged.findings.push(note);
    }
    let mut timeline = timeline::build(recording, &graph, &selection, options.window_s);
    // A moving bottleneck replaces the averaged verdict, which may name a task that is never the
    // bottleneck; the notes stay those of the whole range.
    let (verdict, bottlenecks) = match timeline.moving.take() {
        Some(moving) => (moving.verdict, moving.bottlenecks),
        None => (averaged.verdict, averaged.bottlenecks),
    };

    let timeline::Built {
        windows,
        timeline,
        moving: _,
    } = timeline;
    let cpu_use = capacity::cpu_use(&tasks, recording.meta.cpus);
    Ok(LocateReport {
        schema: SCHEMA.to_owned(),
        schema_version: SCHEMA_VERSION,
        schema_minor: SCHEMA_MINOR,
        recording: recording_summary(recording, options, &selection),
        verdict,
        bottlenecks,
        tasks,
        edges,
        notes: averaged.notes,
        findings: averaged.findings,
        cpu_use,
        windows,
        timeline,
    })
}

/// The note on stacks cut short by missing frame pointers, over the whole `selection`.
fn short_stacks(
    recording: &Recording,
    graph: &JobGraph,
    selection: &Selection,
    tasks: &[TaskReport],
) -> Option<Note> {
    let seqs = selection
        .intervals
        .iter()
        .map(|&n| recording.intervals[n].seq)
        .collect();
    stacks::note(recording, graph, &seqs, tasks)
}

/// The recording and the range `selection` of it that `options` chose.
fn recording_summary(
    recording: &Recording,
    options: &AnalysisOptions,
    selection: &Selection,
) -> RecordingSummary {
    RecordingSummary {
        program: recording.meta.program.clone(),
        host: recording.meta.host.clone(),
        cpus: recording.meta.cpus,
        duration_s: range::duration_s(recording),
        from_s: selection.from_s,
        to_s: selection.to_s,
        intervals: selection.intervals.len(),
        warnings: recording.warnings.iter().map(|w| w.to_string()).collect(),
        coverage_warning: range::assess(recording, options, selection).warning(),
    }
}
