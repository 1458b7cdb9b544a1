//! Folding the stack samples of the resolved subtasks over a range ([`fold()`], [`Folded`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{self, Write};

use bpprof_format::{Recording, SampleState};

use super::samples::{kept_states, measured_ns, Interned, Key, Subtasks};
use super::{
    escape_frame, state_frame, state_name, FlameError, FlameOptions, Mode, Resolved, ALL_STATES,
    UNKNOWN_FRAME,
};
use crate::units::thousands;
use crate::window;

/// Folded stacks of the selection over the range, with what the title needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Folded {
    /// Folded stack (frames separated by `;`, outermost first, already escaped) to sample count.
    pub stacks: BTreeMap<String, u64>,
    /// The subtasks drawn.
    pub selection: Resolved,
    /// Busy ratio of the selection over the range (time-based, from the interval accounting, as
    /// `locate` computes it; summed over the selected subtasks). `None` without accounting data.
    pub busy: Option<f64>,
    /// Backpressured ratio, like `busy`.
    pub backpressured: Option<f64>,
    /// Idle ratio, like `busy`.
    pub idle: Option<f64>,
    /// Start of the range (start of its first interval), seconds since the recording started.
    pub from_s: f64,
    /// End of the range (end of its last interval), seconds.
    pub to_s: f64,
    /// Number of samples drawn (the sum of `stacks`).
    pub samples: u64,
    /// Samples the sampler lost in the range, all subtasks together.
    pub lost: u64,
    /// The mode folded.
    pub mode: Mode,
    /// The states kept, in the order busy, backpressured, idle.
    pub states: Vec<SampleState>,
    /// The operator the samples were restricted to, if any.
    pub operator: Option<String>,
    /// Sampling frequency of the recording, Hz.
    pub sample_hz: u32,
    /// Records the selected subtasks processed over the range: records received, or records sent
    /// by a subtask that received none (a source).
    pub records: u64,
    /// The time the selection measurably spent in the folded [`Mode`] over the range, ns, summed
    /// over the selected subtasks from the interval accounting (not from the samples):
    ///
    /// * [`Mode::OnCpu`]: its CPU time (each interval's CPU time, at most its wall time);
    /// * [`Mode::OffCpu`]: wall time minus CPU time (blocked, sleeping, or runnable but waiting
    ///   for a CPU);
    /// * [`Mode::Mixed`]: wall time.
    ///
    /// It is the time of the whole selection in that mode, whatever the state filter and the
    /// operator filter keep. `None` when the task is unaccounted (its threads are not registered
    /// subtasks) or the selection has no wall time in the range.
    pub measured_ns: Option<u64>,
    /// The samples of the selection in the range that the mode keeps (on-CPU samples for
    /// [`Mode::OnCpu`], off-CPU ones for [`Mode::OffCpu`], all of them for [`Mode::Mixed`]),
    /// counted *before* the state filter and the operator filter: the samples that together stand
    /// for [`Folded::measured_ns`]. At least [`Folded::samples`].
    pub mode_samples: u64,
}

impl Folded {
    /// The time one sample stands for, ns: [`Folded::measured_ns`] shared equally among the
    /// [`Folded::mode_samples`].
    ///
    /// This, not the sampling period, is what a sample is worth: the sampler is wall-clock per
    /// thread, and a runnable thread waiting for a CPU (more busy threads than CPUs) is sampled
    /// late, or its sample is taken again, so that samples × period is not the time they stand
    /// for. Because the share is taken before the state and operator filters, a filtered graph
    /// keeps its share of the measured time: with `--state busy` the busy samples stand for the
    /// part of the time the selection was busy, not for all of it. The sum of
    /// [`Folded::stacks`] times this is then the measured time of what was drawn; for
    /// [`Mode::OnCpu`] without filters, the selection's CPU time.
    ///
    /// `None` when the measured time is unknown ([`Folded::measured_ns`] is `None`) or 0 although
    /// the mode kept samples (the accounting missed the time they were taken in), or when the
    /// mode kept no sample; callers may then fall back to the sampling period,
    /// `1 / sample_hz`.
    pub fn ns_per_sample(&self) -> Option<f64> {
        match self.measured_ns {
            Some(ns) if ns > 0 && self.mode_samples > 0 => {
                Some(ns as f64 / self.mode_samples as f64)
            }
            _ => None,
        }
    }

    /// The folded lines, `stack count`, sorted.
    pub fn lines(&self) -> impl Iterator<Item = String> + '_ {
        self.stacks
            .iter()
            .map(|(stack, count)| format!("{stack} {count}"))
    }

    /// Writes the folded lines, one per line.
    pub fn write_folded(&self, mut out: impl Write) -> io::Result<()> {
        for line in self.lines() {
            writeln!(out, "{line}")?;
        }
        out.flush()
    }

    /// What the titles call the selection: `Enrich#3`, `Enrich (2 subtasks)` for a task, followed
    /// by `, operator NAME` with an operator filter.
    pub fn heading(&self) -> String {
        let what = if self.selection.whole_task {
            format!(
                "{} ({} subtasks)",
                self.selection.task,
                self.selection.indices.len()
            )
        } else {
            self.selection.label()
        };
        match &self.operator {
            Some(op) => format!("{what}, operator {op}"),
            None => what,
        }
    }

    /// Default title: the subtask and its busy / backpressured / idle ratios.
    pub fn title(&self) -> String {
        let pct =
            |r: Option<f64>| r.map_or_else(|| "?".to_owned(), |r| format!("{:.0}%", r * 100.0));
        format!(
            "{}: busy {}, backpressured {}, idle {}",
            self.heading(),
            pct(self.busy),
            pct(self.backpressured),
            pct(self.idle)
        )
    }

    /// Default subtitle: the range, the sample count, the mode and the state filter.
    pub fn subtitle(&self) -> String {
        let mut text = format!(
            "{}–{} s, {} samples at {} Hz, {}",
            crate::units::seconds(self.from_s),
            crate::units::seconds(self.to_s),
            thousands(self.samples),
            self.sample_hz,
            match self.mode {
                Mode::Mixed => "on- and off-CPU",
                Mode::OnCpu => "on-CPU only",
                Mode::OffCpu => "off-CPU only",
            }
        );
        if self.states.len() < ALL_STATES.len() {
            let names: Vec<&str> = self.states.iter().map(|&s| state_name(s)).collect();
            text.push_str(&format!(", states: {}", names.join(", ")));
        }
        if self.lost > 0 {
            text.push_str(&format!(", {} samples lost", thousands(self.lost)));
        }
        text
    }
}

/// Folds the samples of the selected subtasks over the range.
///
/// Frames and stacks are collected from every samples chunk (they are declared once, possibly
/// before the range); counts only from the chunks of the selected intervals. Registrations of the
/// same task and index (different subtask ids) are merged.
///
/// Besides the stacks, it sums what the samples stand for from the interval accounting of the
/// same intervals ([`Folded::measured_ns`], [`Folded::mode_samples`],
/// [`Folded::ns_per_sample`]).
pub fn fold(recording: &Recording, options: &FlameOptions) -> Result<Folded, FlameError> {
    let (subtasks, selection) = Subtasks::selected(recording, options)?;
    let (graph, range, keys) = (&subtasks.graph, &subtasks.range, &subtasks.keys);
    let position = graph
        .position(&selection.task)
        .expect("a resolved selection names a task of the graph");
    let accounted = Accounted::sum(
        &window::subtask_sums(recording, graph, range, Some(keys)),
        keys,
        graph.tasks[position].unaccounted,
    );

    // Samples counted per stack, under their state's root frame in mixed mode.
    let mut counts: HashMap<(Option<SampleState>, u32), u64> = HashMap::new();
    let walked = subtasks.walk(recording, options, |_, count| {
        let root = (options.mode == Mode::Mixed).then_some(count.state);
        *counts.entry((root, count.stack)).or_default() += u64::from(count.count);
    });
    let folded = folded_lines(&Interned::new(recording), counts);
    let samples: u64 = folded.values().sum();
    if samples == 0 {
        return Err(subtasks.no_samples(recording, &walked, options));
    }
    Ok(Folded {
        stacks: folded,
        busy: accounted.ratio(accounted.busy),
        backpressured: accounted.ratio(accounted.backpressured),
        idle: accounted.ratio(accounted.idle),
        selection,
        from_s: range.from_s,
        to_s: range.to_s,
        samples,
        lost: walked.lost,
        mode: options.mode,
        states: kept_states(options),
        operator: options.operator.clone(),
        sample_hz: recording.meta.sample_hz,
        records: accounted.records,
        measured_ns: measured_ns(options.mode, accounted.wall, accounted.cpu),
        mode_samples: walked.tallies.values().map(|t| t.mode_samples).sum(),
    })
}

/// The interval accounting of the selected subtasks over the range, summed (ns, and records
/// processed): what the samples stand for.
struct Accounted {
    /// Wall time; 0 for a task declared unaccounted, whose ratios are unknown.
    wall: u64,
    busy: u64,
    backpressured: u64,
    idle: u64,
    cpu: u64,
    records: u64,
}

impl Accounted {
    /// The sums of the subtasks `keys` of `sums`.
    fn sum(
        sums: &BTreeMap<Key, window::SubtaskSums>,
        keys: &HashSet<Key>,
        unaccounted: bool,
    ) -> Accounted {
        let mut a = Accounted {
            wall: 0,
            busy: 0,
            backpressured: 0,
            idle: 0,
            cpu: 0,
            records: 0,
        };
        for s in keys.iter().filter_map(|key| sums.get(key)) {
            a.wall = a.wall.saturating_add(s.wall);
            a.busy = a.busy.saturating_add(s.busy);
            a.backpressured = a.backpressured.saturating_add(s.backpressured);
            a.idle = a.idle.saturating_add(s.idle);
            a.cpu = a.cpu.saturating_add(s.cpu);
            a.records = a.records.saturating_add(s.records_processed());
        }
        if unaccounted {
            a.wall = 0;
        }
        a
    }

    /// `part` of the wall time; `None` without accounting data.
    fn ratio(&self, part: u64) -> Option<f64> {
        (self.wall > 0).then(|| part as f64 / self.wall as f64)
    }
}

/// The folded lines of the sample `counts` (per optional root state and stack id): frames
/// outermost first, separated by `;`, escaped; the counts of stacks that fold to the same line
/// added up.
fn folded_lines(
    interned: &Interned,
    counts: HashMap<(Option<SampleState>, u32), u64>,
) -> BTreeMap<String, u64> {
    let frames: HashMap<u32, String> = interned
        .frames
        .iter()
        .map(|(&id, frame)| (id, escape_frame(&frame.function).into_owned()))
        .collect();
    let mut folded: BTreeMap<String, u64> = BTreeMap::new();
    for ((root, stack), count) in counts {
        if count == 0 {
            continue;
        }
        let names = interned
            .stack(stack)
            .iter()
            .map(|id| frames.get(id).map_or(UNKNOWN_FRAME, String::as_str));
        *folded.entry(folded_line(root, names)).or_default() += count;
    }
    folded
}

/// One folded line: the state's root frame (mixed mode), then the stack's frames; an undeclared
/// or empty stack still counts, as one unknown frame.
fn folded_line<'a>(root: Option<SampleState>, names: impl Iterator<Item = &'a str>) -> String {
    let mut line = String::new();
    if let Some(state) = root {
        line.push_str(state_frame(state));
    }
    let mut empty = true;
    for name in names {
        if !line.is_empty() {
            line.push(';');
        }
        line.push_str(name);
        empty = false;
    }
    if empty {
        if !line.is_empty() {
            line.push(';');
        }
        line.push_str(UNKNOWN_FRAME);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::JobGraph;
    use crate::synth::{Load, Pipeline, Synth};

    /// The sums of each logical subtask summed alone (as `fold` sums the subtasks it draws) are
    /// those of the whole recording:
    /// registrations of one task and index merged (one ended, a gap, the next), an async subtask's
    /// polls, waits per channel end.
    #[test]
    fn the_sums_of_some_subtasks_are_those_of_the_whole_recording() {
        let mut synth = Synth::new();
        let source = synth.subtask("Source", 0, 1);
        let first = synth.subtask("Work", 0, 2);
        let other = synth.subtask("Work", 1, 2);
        let sink = synth.async_subtask("Sink", 0, 1);
        let channel = synth.channel("source->work", 64, &[source], &[first, other]);
        let mut recordings = vec![Pipeline::new(3).recording()];
        for n in 0..12 {
            synth.wait(first, channel, bpprof_format::EndpointRole::Receiver, 0.3);
            synth.polled(sink, 0.4, 0.1, 2.0);
            let mut loads = vec![
                (source, Load::new(0.2, 0.7)),
                (other, Load::new(0.9, 0.0)),
                (sink, Load::new(0.5, 0.0)),
            ];
            if n != 6 {
                loads.push((first, Load::new(0.6, 0.1)));
            }
            synth.interval(&loads);
        }
        recordings.push(synth.recording());
        for recording in &recordings {
            let graph = JobGraph::from_recording(recording);
            let selection = window::Selection {
                intervals: (1..recording.intervals.len()).collect(),
                from_s: 0.0,
                to_s: 0.0,
                seconds: 0.0,
            };
            let all = window::subtask_sums(recording, &graph, &selection, None);
            assert!(all.len() >= 3);
            for (key, sums) in &all {
                let keys = HashSet::from([*key]);
                let narrow = window::subtask_sums(recording, &graph, &selection, Some(&keys));
                assert_eq!(narrow.len(), 1);
                assert_eq!(narrow[key], *sums, "{key:?}");
            }
        }
    }
}
