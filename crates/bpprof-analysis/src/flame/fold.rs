//! Folding the stack samples of the resolved subtasks over a range ([`fold()`], [`Folded`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{self, Write};

use bpprof_format::{Recording, SampleState};

use super::resolve::resolve;
use super::{
    escape_frame, state_frame, state_name, FlameError, FlameOptions, Mode, NoSamplesReason,
    Resolved, ALL_STATES, UNKNOWN_FRAME,
};
use crate::graph::JobGraph;
use crate::units::thousands;
use crate::{window, AnalysisOptions};

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
            crate::seconds(self.from_s),
            crate::seconds(self.to_s),
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
    let analysis = AnalysisOptions {
        from_s: options.from_s,
        to_s: options.to_s,
        ..AnalysisOptions::default()
    };
    let range = crate::range::select(recording, &analysis)?;
    let graph = JobGraph::from_recording(recording);
    let selection = resolve(recording, &graph, &options.selection, &analysis)?;
    let position = graph
        .position(&selection.task)
        .expect("a resolved selection names a task of the graph");
    let keys: HashSet<(usize, u32)> = selection.indices.iter().map(|&i| (position, i)).collect();

    // Ratios and measured time from the interval accounting, summed over the selected subtasks.
    let sums = window::subtask_sums(recording, &graph, &range);
    let (mut wall, mut busy, mut bp, mut idle, mut records) = (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut cpu = 0u64;
    for key in &keys {
        if let Some(s) = sums.get(key) {
            wall = wall.saturating_add(s.wall);
            busy = busy.saturating_add(s.busy);
            bp = bp.saturating_add(s.backpressured);
            idle = idle.saturating_add(s.idle);
            cpu = cpu.saturating_add(s.cpu);
            records = records.saturating_add(s.records_processed());
        }
    }
    if graph.tasks[position].unaccounted {
        wall = 0;
    }
    // Each interval's CPU time is clamped to its wall time, so `cpu <= wall`.
    let measured_ns = (wall > 0).then(|| match options.mode {
        Mode::OnCpu => cpu,
        Mode::OffCpu => wall.saturating_sub(cpu),
        Mode::Mixed => wall,
    });

    // Interned frames and stacks of the whole recording.
    let mut frames: HashMap<u32, String> = HashMap::new();
    let mut stacks: HashMap<u32, &[u32]> = HashMap::new();
    for chunk in &recording.samples {
        for frame in &chunk.frames {
            frames
                .entry(frame.id)
                .or_insert_with(|| escape_frame(&frame.function).into_owned());
        }
        for stack in &chunk.stacks {
            stacks.entry(stack.id).or_insert(&stack.frames);
        }
    }

    // With --operator: the (subtask id, operator id) pairs of that name in the selection.
    let operator_ids: Option<HashSet<(u32, u32)>> = match &options.operator {
        None => None,
        Some(wanted) => {
            let mut ids = HashSet::new();
            let mut available: Vec<String> = Vec::new();
            for decl in recording
                .intervals
                .iter()
                .flat_map(|c| &c.declared_operators)
            {
                if !graph
                    .subtasks
                    .get(&decl.subtask)
                    .is_some_and(|key| keys.contains(key))
                {
                    continue;
                }
                if &decl.name == wanted {
                    ids.insert((decl.subtask, decl.id));
                } else if !available.contains(&decl.name) {
                    available.push(decl.name.clone());
                }
            }
            if ids.is_empty() {
                return Err(FlameError::UnknownOperator {
                    wanted: wanted.clone(),
                    label: selection.label(),
                    available,
                });
            }
            Some(ids)
        }
    };

    let seqs: HashSet<u64> = range
        .intervals
        .iter()
        .map(|&n| recording.intervals[n].seq)
        .collect();
    let mut counts: HashMap<(Option<SampleState>, u32), u64> = HashMap::new();
    let (mut seen, mut lost, mut mode_samples) = (0u64, 0u64, 0u64);
    for chunk in recording.samples.iter().filter(|c| seqs.contains(&c.seq)) {
        lost = lost.saturating_add(chunk.lost);
        for count in &chunk.counts {
            let Some(key) = graph.subtasks.get(&count.subtask) else {
                continue;
            };
            if !keys.contains(key) {
                continue;
            }
            // What the measured time is shared among: before the operator and state filters.
            if options.mode.keeps(count.on_cpu) {
                mode_samples = mode_samples.saturating_add(u64::from(count.count));
            }
            if let Some(ids) = &operator_ids {
                if !count
                    .operator
                    .is_some_and(|op| ids.contains(&(count.subtask, op)))
                {
                    continue;
                }
            }
            seen = seen.saturating_add(u64::from(count.count));
            if !options.mode.keeps(count.on_cpu) || !options.states.contains(&count.state) {
                continue;
            }
            let root = (options.mode == Mode::Mixed).then_some(count.state);
            *counts.entry((root, count.stack)).or_default() += u64::from(count.count);
        }
    }

    let mut folded: BTreeMap<String, u64> = BTreeMap::new();
    for ((root, stack), count) in counts {
        if count == 0 {
            continue;
        }
        let mut line = String::new();
        if let Some(state) = root {
            line.push_str(state_frame(state));
        }
        let ids: &[u32] = stacks.get(&stack).copied().unwrap_or(&[]);
        let names = ids
            .iter()
            .map(|id| frames.get(id).map_or(UNKNOWN_FRAME, String::as_str));
        let mut empty = true;
        for name in names {
            if !line.is_empty() {
                line.push(';');
            }
            line.push_str(name);
            empty = false;
        }
        if empty {
            // An undeclared or empty stack still counts, as one unknown frame.
            if !line.is_empty() {
                line.push(';');
            }
            line.push_str(UNKNOWN_FRAME);
        }
        *folded.entry(line).or_default() += count;
    }
    let samples: u64 = folded.values().sum();
    let states: Vec<SampleState> = ALL_STATES
        .into_iter()
        .filter(|s| options.states.contains(s))
        .collect();
    if samples == 0 {
        let reason = if recording.samples.is_empty() && recording.meta.sample_hz == 0 {
            NoSamplesReason::SamplingOff
        } else if seen == 0 {
            NoSamplesReason::NoneInRange
        } else {
            NoSamplesReason::Filtered {
                mode: options.mode,
                states,
            }
        };
        return Err(FlameError::NoSamples {
            label: selection.label(),
            from_s: range.from_s,
            to_s: range.to_s,
            reason,
        });
    }
    let ratio = |part: u64| (wall > 0).then(|| part as f64 / wall as f64);
    Ok(Folded {
        stacks: folded,
        busy: ratio(busy),
        backpressured: ratio(bp),
        idle: ratio(idle),
        selection,
        from_s: range.from_s,
        to_s: range.to_s,
        samples,
        lost,
        mode: options.mode,
        states,
        operator: options.operator.clone(),
        sample_hz: recording.meta.sample_hz,
        records,
        measured_ns,
        mode_samples,
    })
}
