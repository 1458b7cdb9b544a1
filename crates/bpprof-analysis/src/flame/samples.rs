//! The sample counts of some subtasks over a range, filtered by mode, state and operator: what
//! [`super::fold()`] folds and [`crate::export::pprof`] writes as a profile.

use std::collections::{HashMap, HashSet};

use bpprof_format::{FrameDecl, Recording, SampleCount, SampleState};

use super::resolve::resolve;
use super::{FlameError, FlameOptions, Mode, NoSamplesReason, Resolved, ALL_STATES};
use crate::graph::JobGraph;
use crate::range::AnalysisOptions;
use crate::window;

/// A logical subtask: (task position in the graph, subtask index).
pub(crate) type Key = (usize, u32);

/// The interned frames and stacks of a whole recording (they are declared once, possibly before
/// the range).
pub(crate) struct Interned<'r> {
    /// Frame id to its declaration.
    pub frames: HashMap<u32, &'r FrameDecl>,
    /// Stack id to its frame ids, outermost first.
    stacks: HashMap<u32, &'r [u32]>,
}

impl<'r> Interned<'r> {
    /// Collects the frames and stacks of every samples chunk of `recording`.
    pub fn new(recording: &'r Recording) -> Interned<'r> {
        let mut frames = HashMap::new();
        let mut stacks = HashMap::new();
        for chunk in &recording.samples {
            for frame in &chunk.frames {
                frames.entry(frame.id).or_insert(frame);
            }
            for stack in &chunk.stacks {
                stacks.entry(stack.id).or_insert(stack.frames.as_slice());
            }
        }
        Interned { frames, stacks }
    }

    /// The frame ids of stack `id`, outermost first; empty for an undeclared stack.
    pub fn stack(&self, id: u32) -> &'r [u32] {
        self.stacks.get(&id).copied().unwrap_or(&[])
    }
}

/// What the walk over the samples counted, per logical subtask.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    /// Samples of the subtask in the range (after the operator filter, before mode and states).
    pub seen: u64,
    /// Samples the mode keeps, before the state and operator filters (see
    /// [`super::Folded::mode_samples`]).
    pub mode_samples: u64,
}

/// The result of [`walk`]: tallies per subtask and the samples lost in the range.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Walked {
    /// Per logical subtask walked over.
    pub tallies: HashMap<Key, Tally>,
    /// Samples the sampler lost in the range, all subtasks together.
    pub lost: u64,
}

/// The subtasks to walk over, the intervals of the range and the operator filter, resolved
/// against one recording for one [`FlameOptions`].
pub(crate) struct Subtasks {
    /// The intervals of the range.
    pub range: window::Selection,
    /// The job graph of the recording.
    pub graph: JobGraph,
    /// The logical subtasks.
    pub keys: HashSet<Key>,
    /// What the error messages call them: `Enrich#3`, `Enrich`, `any subtask`.
    label: String,
    /// The sequence numbers of the intervals of the range.
    seqs: HashSet<u64>,
    /// With an operator filter: the (subtask id, operator id) pairs it keeps.
    operators: Option<HashSet<(u32, u32)>>,
}

impl Subtasks {
    /// The subtasks `options.selection` names, and what it resolved to.
    pub fn selected(
        recording: &Recording,
        options: &FlameOptions,
    ) -> Result<(Subtasks, Resolved), FlameError> {
        let (analysis, range) = range(recording, options)?;
        let graph = JobGraph::from_recording(recording);
        let resolved = resolve(recording, &graph, &options.selection, &analysis)?;
        let position = graph
            .position(&resolved.task)
            .expect("a resolved selection names a task of the graph");
        let keys = resolved.indices.iter().map(|&i| (position, i)).collect();
        let subtasks = Subtasks::new(recording, options, range, graph, keys, resolved.label())?;
        Ok((subtasks, resolved))
    }

    /// Every subtask of the recording.
    pub fn every(recording: &Recording, options: &FlameOptions) -> Result<Subtasks, FlameError> {
        let (_, range) = range(recording, options)?;
        let graph = JobGraph::from_recording(recording);
        let keys = graph
            .tasks
            .iter()
            .enumerate()
            .flat_map(|(p, t)| t.indices.iter().map(move |&i| (p, i)))
            .collect();
        Subtasks::new(
            recording,
            options,
            range,
            graph,
            keys,
            "any subtask".to_owned(),
        )
    }

    fn new(
        recording: &Recording,
        options: &FlameOptions,
        range: window::Selection,
        graph: JobGraph,
        keys: HashSet<Key>,
        label: String,
    ) -> Result<Subtasks, FlameError> {
        let operators = match &options.operator {
            None => None,
            Some(wanted) => Some(operator_ids(recording, &graph, &keys, wanted, &label)?),
        };
        let seqs = range
            .intervals
            .iter()
            .map(|&n| recording.intervals[n].seq)
            .collect();
        Ok(Subtasks {
            range,
            graph,
            keys,
            label,
            seqs,
            operators,
        })
    }

    /// Calls `keep` with every sample count of the subtasks in the chunks of the range that
    /// `options` keeps (its mode, its states, its operator); returns what it counted along the
    /// way.
    pub fn walk<'r>(
        &self,
        recording: &'r Recording,
        options: &FlameOptions,
        mut keep: impl FnMut(Key, &'r SampleCount),
    ) -> Walked {
        let mut walked = Walked::default();
        for chunk in recording
            .samples
            .iter()
            .filter(|c| self.seqs.contains(&c.seq))
        {
            walked.lost = walked.lost.saturating_add(chunk.lost);
            for count in &chunk.counts {
                let Some(&key) = self.graph.subtasks.get(&count.subtask) else {
                    continue;
                };
                if !self.keys.contains(&key) {
                    continue;
                }
                let tally = walked.tallies.entry(key).or_default();
                let samples = u64::from(count.count);
                // What the measured time is shared among: before the operator and state filters.
                if options.mode.keeps(count.on_cpu) {
                    tally.mode_samples = tally.mode_samples.saturating_add(samples);
                }
                if let Some(ids) = &self.operators {
                    if !count
                        .operator
                        .is_some_and(|op| ids.contains(&(count.subtask, op)))
                    {
                        continue;
                    }
                }
                tally.seen = tally.seen.saturating_add(samples);
                if options.mode.keeps(count.on_cpu) && options.states.contains(&count.state) {
                    keep(key, count);
                }
            }
        }
        walked
    }

    /// Why `walked` kept nothing: sampling was off, no sample of the subtasks was seen in the
    /// range, or the mode and states of `options` filtered every one out.
    pub fn no_samples(
        &self,
        recording: &Recording,
        walked: &Walked,
        options: &FlameOptions,
    ) -> FlameError {
        let seen: u64 = walked.tallies.values().map(|t| t.seen).sum();
        let reason = if recording.samples.is_empty() && recording.meta.sample_hz == 0 {
            NoSamplesReason::SamplingOff
        } else if seen == 0 {
            NoSamplesReason::NoneInRange
        } else {
            NoSamplesReason::Filtered {
                mode: options.mode,
                states: kept_states(options),
            }
        };
        FlameError::NoSamples {
            label: self.label.clone(),
            from_s: self.range.from_s,
            to_s: self.range.to_s,
            reason,
        }
    }
}

/// The range `options` selects, and the analysis options it was selected with.
fn range(
    recording: &Recording,
    options: &FlameOptions,
) -> Result<(AnalysisOptions, window::Selection), FlameError> {
    let analysis = AnalysisOptions {
        from_s: options.from_s,
        to_s: options.to_s,
        ..AnalysisOptions::default()
    };
    let range = crate::range::select(recording, &analysis)?;
    Ok((analysis, range))
}

/// The states `options` keeps, in the order busy, backpressured, idle.
pub(crate) fn kept_states(options: &FlameOptions) -> Vec<SampleState> {
    ALL_STATES
        .into_iter()
        .filter(|s| options.states.contains(s))
        .collect()
}

/// The (subtask id, operator id) pairs named `wanted` among the operators of the subtasks `keys`;
/// [`FlameError::UnknownOperator`] (naming the selection `label`) when there is none.
fn operator_ids(
    recording: &Recording,
    graph: &JobGraph,
    keys: &HashSet<Key>,
    wanted: &str,
    label: &str,
) -> Result<HashSet<(u32, u32)>, FlameError> {
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
        if decl.name == wanted {
            ids.insert((decl.subtask, decl.id));
        } else if !available.contains(&decl.name) {
            available.push(decl.name.clone());
        }
    }
    if ids.is_empty() {
        return Err(FlameError::UnknownOperator {
            wanted: wanted.to_owned(),
            label: label.to_owned(),
            available,
        });
    }
    Ok(ids)
}

/// The time a subtask measurably spent in `mode`, ns, from its wall and CPU time (see
/// [`super::Folded::measured_ns`]); `None` without wall time.
pub(crate) fn measured_ns(mode: Mode, wall: u64, cpu: u64) -> Option<u64> {
    // Each interval's CPU time is clamped to its wall time, so `cpu <= wall`.
    (wall > 0).then(|| match mode {
        Mode::OnCpu => cpu,
        Mode::OffCpu => wall.saturating_sub(cpu),
        Mode::Mixed => wall,
    })
}
