//! Merging recordings of the processes of one job into one recording (`bpprof merge`).
//!
//! Ids (subtasks, channels, frames, stacks) are renumbered so that they do not collide; channels
//! with the same non-empty name in several recordings become one channel, so that the two ends of
//! a [`bpprof::Link`](https://docs.rs/bpprof) recorded by two processes form one edge; tasks are
//! matched by name. Times are aligned by [`RecordingMeta::start_unix_ns`]: the recording that
//! started first gives the time origin and the interval grid, and every interval of the others is
//! added to the grid interval that contains its midpoint (or kept as an interval of its own when
//! none does), so that every analysed interval holds the subtasks of every process.

use std::collections::{HashMap, HashSet};

use bpprof_format::{EndChunk, IntervalChunk, Recording, RecordingMeta};

/// Why recordings could not be merged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    /// No recording was given.
    #[error("nothing to merge: no recording given")]
    Empty,
    /// A recording has no complete interval.
    #[error("recording {0} has no complete interval")]
    NoIntervals(usize),
}

/// Merges `recordings` (in that order for the new ids) into one; see the [module](self) docs.
pub fn merge(recordings: &[Recording]) -> Result<Recording, MergeError> {
    if recordings.is_empty() {
        return Err(MergeError::Empty);
    }
    if let Some(n) = recordings.iter().position(|r| r.intervals.is_empty()) {
        return Err(MergeError::NoIntervals(n));
    }
    let origin = recordings
        .iter()
        .map(|r| r.meta.start_unix_ns)
        .min()
        .unwrap_or(0);
    let base = recordings
        .iter()
        .position(|r| r.meta.start_unix_ns == origin)
        .unwrap_or(0);

    let mut out = Recording {
        version: recordings[base].version,
        meta: merged_meta(recordings, base),
        ..Recording::default()
    };
    let shift = |r: &Recording| r.meta.start_unix_ns - origin;

    // The grid: the base recording's intervals, shifted (by zero) and with renumbered ids.
    let mut ids = IdMaps::default();
    let mut chunks: Vec<IntervalChunk> = Vec::new();
    let mut samples = Vec::new();
    for (n, recording) in std::iter::once(base)
        .chain((0..recordings.len()).filter(|&n| n != base))
        .map(|n| (n, &recordings[n]))
    {
        let offsets = ids.offsets(recording);
        let dt = shift(recording);
        let grid = if n == base {
            0
        } else {
            chunks.len().min(recordings[base].intervals.len())
        };
        let mut seq_of = HashMap::new();
        for interval in &recording.intervals {
            let mut chunk = offsets.remap_interval(interval, dt);
            let mid = chunk.start_ns / 2 + chunk.end_ns / 2;
            let after = chunks[..grid].partition_point(|c| c.start_ns <= mid);
            let into = after.checked_sub(1).filter(|&g| mid < chunks[g].end_ns);
            match into {
                Some(g) => {
                    seq_of.insert(interval.seq, g);
                    absorb(&mut chunks[g], chunk);
                }
                None => {
                    seq_of.insert(interval.seq, chunks.len());
                    chunk.seq = chunks.len() as u64;
                    chunks.push(chunk);
                }
            }
        }
        for s in &recording.samples {
            let mut s = offsets.remap_samples(s, dt);
            s.seq = seq_of.get(&s.seq).map_or(u64::MAX, |&g| g as u64);
            samples.push(s);
        }
        out.warnings.extend(recording.warnings.iter().cloned());
    }

    // Chunks of later recordings outside the grid go in time order; sequence numbers follow.
    let mut order: Vec<usize> = (0..chunks.len()).collect();
    order.sort_by_key(|&i| (chunks[i].start_ns, i));
    let mut new_seq = vec![0u64; chunks.len()];
    for (new, &old) in order.iter().enumerate() {
        new_seq[old] = new as u64;
    }
    let mut slots: Vec<Option<IntervalChunk>> = chunks.into_iter().map(Some).collect();
    out.intervals = order
        .iter()
        .enumerate()
        .filter_map(|(new, &old)| {
            let mut c = slots[old].take()?;
            c.seq = new as u64;
            Some(c)
        })
        .collect();
    for s in &mut samples {
        if let Some(&seq) = new_seq.get(s.seq as usize) {
            s.seq = seq;
        }
    }
    samples.sort_by_key(|s| (s.seq, s.start_ns));
    out.samples = samples;

    if recordings.iter().all(|r| r.end.is_some()) {
        out.end = Some(EndChunk {
            end_ns: recordings
                .iter()
                .map(|r| r.end.as_ref().map_or(0, |e| e.end_ns) + shift(r))
                .max()
                .unwrap_or(0),
            chunks: out.intervals.len() as u64,
            coalesced_intervals: recordings
                .iter()
                .filter_map(|r| r.end.as_ref())
                .map(|e| e.coalesced_intervals)
                .sum(),
        });
    }
    Ok(out)
}

/// The meta of the merged recording: the first-starting one's, with the programs and hosts of all.
fn merged_meta(recordings: &[Recording], base: usize) -> RecordingMeta {
    let distinct = |field: fn(&RecordingMeta) -> &str| {
        let mut names: Vec<&str> = Vec::new();
        for r in recordings {
            let name = field(&r.meta);
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names.join("+")
    };
    RecordingMeta {
        host: distinct(|m| &m.host),
        program: distinct(|m| &m.program),
        cpus: recordings.iter().map(|r| r.meta.cpus).max().unwrap_or(0),
        sample_hz: recordings
            .iter()
            .map(|r| r.meta.sample_hz)
            .max()
            .unwrap_or(0),
        ..recordings[base].meta.clone()
    }
}

/// Adds `from`'s declarations and data to `into` (a grid interval).
fn absorb(into: &mut IntervalChunk, from: IntervalChunk) {
    into.coalesced = into.coalesced.max(from.coalesced);
    into.declared_tasks.extend(from.declared_tasks);
    into.declared_subtasks.extend(from.declared_subtasks);
    into.declared_channels.extend(from.declared_channels);
    into.declared_edges.extend(from.declared_edges);
    into.endpoints.extend(from.endpoints);
    into.subtasks.extend(from.subtasks);
    into.channels.extend(from.channels);
    into.declared_operators.extend(from.declared_operators);
    into.operators.extend(from.operators);
    into.operator_calls.extend(from.operator_calls);
    into.waits.extend(from.waits);
    into.blocking.extend(from.blocking);
    into.fills.extend(from.fills);
    into.declared_links.extend(from.declared_links);
    for warning in from.warnings {
        if !into.warnings.contains(&warning) {
            into.warnings.push(warning);
        }
    }
}

/// Ids already used in the merged recording, and the channels by name.
#[derive(Default)]
struct IdMaps {
    next_subtask: u32,
    next_channel: u32,
    next_frame: u32,
    next_stack: u32,
    channels_by_name: HashMap<String, u32>,
}

/// How one input recording's ids map to the merged recording's.
struct Offsets {
    subtask: u32,
    frame: u32,
    stack: u32,
    /// Channel ids of this recording to merged ids.
    channels: HashMap<u32, u32>,
    /// Merged channel ids first declared by this recording.
    fresh_channels: HashSet<u32>,
}

impl IdMaps {
    /// Reserves the ids of `recording` and returns its mapping.
    fn offsets(&mut self, recording: &Recording) -> Offsets {
        let max = |ids: &mut dyn Iterator<Item = u32>| ids.max().map_or(0, |m| m + 1);
        let subtasks = max(&mut recording.intervals.iter().flat_map(|i| {
            i.declared_subtasks
                .iter()
                .map(|s| s.id)
                .chain(i.subtasks.iter().map(|s| s.id))
        }));
        let frames = max(&mut recording
            .samples
            .iter()
            .flat_map(|s| s.frames.iter().map(|f| f.id)));
        let stacks = max(&mut recording
            .samples
            .iter()
            .flat_map(|s| s.stacks.iter().map(|f| f.id)));
        let mut channels = HashMap::new();
        let mut fresh_channels = HashSet::new();
        for decl in recording
            .intervals
            .iter()
            .flat_map(|i| &i.declared_channels)
        {
            let id = match self.channels_by_name.get(&decl.name) {
                Some(&id) if !decl.name.is_empty() => id,
                _ => {
                    let id = self.next_channel;
                    self.next_channel += 1;
                    fresh_channels.insert(id);
                    if !decl.name.is_empty() {
                        self.channels_by_name.insert(decl.name.clone(), id);
                    }
                    id
                }
            };
            channels.insert(decl.id, id);
        }
        let offsets = Offsets {
            subtask: self.next_subtask,
            frame: self.next_frame,
            stack: self.next_stack,
            channels,
            fresh_channels,
        };
        self.next_subtask += subtasks;
        self.next_frame += frames;
        self.next_stack += stacks;
        offsets
    }
}

impl Offsets {
    fn channel(&self, id: u32) -> u32 {
        // Undeclared ids (never in a valid recording) map past every declared one.
        self.channels.get(&id).copied().unwrap_or(u32::MAX)
    }

    /// `interval` with ids renumbered and times shifted by `dt`; channels already declared by an
    /// earlier recording (same name) are not declared again.
    fn remap_interval(&self, interval: &IntervalChunk, dt: u64) -> IntervalChunk {
        let mut c = interval.clone();
        c.start_ns += dt;
        c.end_ns += dt;
        for s in &mut c.declared_subtasks {
            s.id += self.subtask;
            if s.registered_ns > 0 {
                s.registered_ns += dt;
            }
        }
        let mut declared = std::mem::take(&mut c.declared_channels);
        declared.retain_mut(|d| {
            d.id = self.channel(d.id);
            self.fresh_channels.contains(&d.id)
        });
        c.declared_channels = declared;
        for e in &mut c.declared_edges {
            e.channel = e.channel.map(|id| self.channel(id));
        }
        for e in &mut c.endpoints {
            e.channel = self.channel(e.channel);
            e.subtask += self.subtask;
        }
        for s in &mut c.subtasks {
            s.id += self.subtask;
        }
        for ch in &mut c.channels {
            ch.id = self.channel(ch.id);
        }
        for o in &mut c.declared_operators {
            o.subtask += self.subtask;
        }
        for o in &mut c.operators {
            o.subtask += self.subtask;
        }
        for o in &mut c.operator_calls {
            o.subtask += self.subtask;
        }
        for w in &mut c.waits {
            w.subtask += self.subtask;
            w.channel = self.channel(w.channel);
        }
        for b in &mut c.blocking {
            b.id += self.subtask;
        }
        for f in &mut c.fills {
            f.id = self.channel(f.id);
        }
        for id in &mut c.declared_links {
            *id = self.channel(*id);
        }
        c.declared_links
            .retain(|id| self.fresh_channels.contains(id));
        c
    }

    fn remap_samples(
        &self,
        samples: &bpprof_format::SamplesChunk,
        dt: u64,
    ) -> bpprof_format::SamplesChunk {
        let mut s = samples.clone();
        s.start_ns += dt;
        s.end_ns += dt;
        for f in &mut s.frames {
            f.id += self.frame;
        }
        for st in &mut s.stacks {
            st.id += self.stack;
            for f in &mut st.frames {
                *f += self.frame;
            }
        }
        for c in &mut s.counts {
            c.subtask += self.subtask;
            c.stack += self.stack;
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::{Load, Synth};

    /// One subtask `task#0` running operator `op`, entered `calls` times per interval.
    fn chain(task: &str, op: &str, calls: u64) -> Recording {
        let mut synth = Synth::new();
        let s = synth.subtask(task, 0, 1);
        let id = synth.operator(s, op);
        for _ in 0..3 {
            synth.operator_busy(s, id, 0.5);
            synth.operator_calls(s, id, calls);
            synth.interval(&[(s, Load::new(0.6, 0.0))]);
        }
        synth.recording()
    }

    #[test]
    fn operator_calls_follow_their_subtask() {
        let merged = merge(&[chain("A", "Parse", 10), chain("B", "Enrich", 20)]).unwrap();
        let task_of: HashMap<u32, String> = merged
            .intervals
            .iter()
            .flat_map(|i| &i.declared_subtasks)
            .map(|d| (d.id, d.task.clone()))
            .collect();
        let mut calls: HashMap<String, u64> = HashMap::new();
        for c in merged.intervals.iter().flat_map(|i| &i.operator_calls) {
            *calls.entry(task_of[&c.subtask].clone()).or_default() += c.calls;
        }
        assert_eq!(calls.get("A"), Some(&30), "{calls:?}");
        assert_eq!(calls.get("B"), Some(&60), "{calls:?}");
    }
}
