//! The live history: the intervals the recorder wrote in the last minutes, in a bounded ring, with
//! the declarations they refer to, from which a [`Recording`] of any recent range is rebuilt for
//! the analysis. The runtime fills one interval by interval as its recorder writes them;
//! [`History::from_recording`] fills one with a whole recording file, for `bpprof serve`.
//!
//! Declarations (tasks, subtasks, channels, frames, stacks ...) are written once per recording, in
//! the first chunk after they were made, so the ring keeps them apart, accumulated, and hands all
//! of them to the first interval of every rebuilt range. Everything the endpoint reads is behind
//! an `Arc`: a reader holds the lock only to clone a few pointers.

use std::collections::{HashMap, VecDeque};
use std::mem::size_of;
use std::sync::Arc;

use bpprof_format::{
    IntervalChunk, ReadWarning, Recording, RecordingMeta, SampleCount, SamplesChunk,
    SubtaskInterval, FORMAT_MAJOR, FORMAT_MINOR,
};

use crate::totals::{Totals, MAX_DECLARATIONS};

/// How much of the past the ring keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Intervals ending longer ago than this (before the newest one's end) are dropped.
    pub age_ns: u64,
    /// Intervals and their samples take at most about this many bytes; the oldest go first.
    pub bytes: usize,
}

impl Limits {
    /// No limit: a recording loaded whole.
    pub const NONE: Limits = Limits {
        age_ns: u64::MAX,
        bytes: usize::MAX,
    };
}

/// One interval of the ring, with its declarations moved out.
#[derive(Debug, Clone)]
struct Entry {
    interval: Arc<IntervalChunk>,
    /// Its stack samples: one chunk from the runtime, one per process in a merged recording.
    samples: Vec<Arc<SamplesChunk>>,
    bytes: usize,
}

/// The ring and what it needs to be analysed.
#[derive(Debug)]
pub struct History {
    meta: Arc<RecordingMeta>,
    /// Format version and reader warnings of the recording file ([`History::from_recording`]);
    /// the current version and none for the runtime's.
    version: (u16, u16),
    warnings: Arc<Vec<ReadWarning>>,
    /// Every declaration of the current recording, in an otherwise empty interval chunk.
    declarations: Arc<IntervalChunk>,
    /// Every frame and stack declared by the current recording's samples so far.
    dictionary: Arc<SamplesChunk>,
    ring: VecDeque<Entry>,
    bytes: usize,
    limits: Limits,
    totals: Totals,
    dropped_declarations: u64,
}

/// A range of the ring, taken under the lock (pointers only) and rebuilt outside it.
#[derive(Debug, Clone)]
pub(crate) struct Range {
    meta: Arc<RecordingMeta>,
    version: (u16, u16),
    warnings: Arc<Vec<ReadWarning>>,
    declarations: Arc<IntervalChunk>,
    dictionary: Arc<SamplesChunk>,
    entries: Vec<Entry>,
    /// Start of the range, seconds since the recording started.
    pub(crate) from_s: f64,
}

impl History {
    /// An empty history of the recording described by `meta`.
    pub fn new(meta: RecordingMeta, limits: Limits) -> Self {
        History {
            meta: Arc::new(meta),
            version: (FORMAT_MAJOR, FORMAT_MINOR),
            warnings: Arc::default(),
            declarations: Arc::default(),
            dictionary: Arc::default(),
            ring: VecDeque::new(),
            bytes: 0,
            limits,
            totals: Totals::default(),
            dropped_declarations: 0,
        }
    }

    /// The recorded program's name.
    pub(crate) fn meta_program(&self) -> String {
        self.meta.program.clone()
    }

    /// A history holding every interval and stack sample of `recording`, without limits: what
    /// `bpprof serve` browses. Samples chunks go with the interval of their sequence number.
    pub fn from_recording(recording: Recording) -> Self {
        let mut history = History::new(recording.meta, Limits::NONE);
        history.version = recording.version;
        history.warnings = Arc::new(recording.warnings);
        let mut samples: HashMap<u64, Vec<SamplesChunk>> = HashMap::new();
        for chunk in recording.samples {
            samples.entry(chunk.seq).or_default().push(chunk);
        }
        for interval in &recording.intervals {
            let chunks = samples.remove(&interval.seq).unwrap_or_default();
            history.push(interval, &chunks, true);
        }
        history
    }

    /// Changes the limits; the ring shrinks at the next interval.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// The cumulative counters since the recording started.
    pub(crate) fn totals(&self) -> &Totals {
        &self.totals
    }

    /// Declarations not kept because [`MAX_DECLARATIONS`] was reached.
    pub(crate) fn dropped_declarations(&self) -> u64 {
        self.dropped_declarations
    }

    /// Sequence number of the newest interval, `None` before the first.
    pub(crate) fn newest_seq(&self) -> Option<u64> {
        self.ring.back().map(|e| e.interval.seq)
    }

    /// Adds one interval as the recorder wrote it, with its stack samples when sampling is on:
    /// its declarations and counters always (an endpoint started later needs them), the interval
    /// itself only when `keep` (an endpoint is running).
    pub fn push<'s>(
        &mut self,
        interval: &IntervalChunk,
        samples: impl IntoIterator<Item = &'s SamplesChunk>,
        keep: bool,
    ) {
        let mut interval = interval.clone();
        self.keep_declarations(&mut interval);
        self.totals.add(&self.declarations, &interval);
        let samples: Vec<Arc<SamplesChunk>> = samples
            .into_iter()
            .map(|s| {
                let mut s = s.clone();
                let dictionary = Arc::make_mut(&mut self.dictionary);
                let frames = std::mem::take(&mut s.frames);
                let stacks = std::mem::take(&mut s.stacks);
                self.dropped_declarations += append_capped(&mut dictionary.frames, frames)
                    + append_capped(&mut dictionary.stacks, stacks);
                Arc::new(s)
            })
            .collect();
        if !keep {
            return;
        }
        let bytes =
            interval_bytes(&interval) + samples.iter().map(|s| samples_bytes(s)).sum::<usize>();
        self.bytes += bytes;
        self.ring.push_back(Entry {
            interval: Arc::new(interval),
            samples,
            bytes,
        });
        self.evict();
    }

    /// Forgets the intervals (the last endpoint stopped); declarations and counters stay.
    pub fn clear_ring(&mut self) {
        self.ring.clear();
        self.bytes = 0;
    }

    /// Moves the declarations of `interval` into [`History::declarations`].
    fn keep_declarations(&mut self, interval: &mut IntervalChunk) {
        let all = Arc::make_mut(&mut self.declarations);
        let dropped = append_capped(
            &mut all.declared_tasks,
            std::mem::take(&mut interval.declared_tasks),
        ) + append_capped(
            &mut all.declared_subtasks,
            std::mem::take(&mut interval.declared_subtasks),
        ) + append_capped(
            &mut all.declared_channels,
            std::mem::take(&mut interval.declared_channels),
        ) + append_capped(
            &mut all.declared_edges,
            std::mem::take(&mut interval.declared_edges),
        ) + append_capped(
            &mut all.endpoints,
            std::mem::take(&mut interval.endpoints),
        ) + append_capped(
            &mut all.declared_operators,
            std::mem::take(&mut interval.declared_operators),
        ) + append_capped(
            &mut all.declared_links,
            std::mem::take(&mut interval.declared_links),
        );
        self.dropped_declarations += dropped;
    }

    fn evict(&mut self) {
        let newest_end = self.ring.back().map_or(0, |e| e.interval.end_ns);
        while let Some(oldest) = self.ring.front() {
            let too_old = newest_end.saturating_sub(oldest.interval.end_ns) > self.limits.age_ns;
            let too_big = self.bytes > self.limits.bytes && self.ring.len() > 1;
            if !(too_old || too_big) {
                break;
            }
            self.bytes -= oldest.bytes;
            self.ring.pop_front();
        }
    }

    /// The intervals that overlap the `seconds` before `to_s` (seconds since the recording
    /// started; default and at most the newest interval's end), or `None` when the ring is
    /// empty. The range starts where the first of them starts, so it covers at least `seconds`
    /// (more when the recorder merged intervals, which are then longer) and the analysis, which
    /// takes the intervals whose midpoints lie in the range, takes them all.
    pub(crate) fn last(&self, seconds: f64, to_s: Option<f64>) -> Option<Range> {
        let newest_end = self.ring.back()?.interval.end_ns;
        let end = to_s.map_or(newest_end, |to| ((to * 1e9) as u64).min(newest_end));
        let cut = end.saturating_sub((seconds * 1e9) as u64);
        let entries: Vec<Entry> = self
            .ring
            .iter()
            .filter(|e| e.interval.end_ns > cut && e.interval.start_ns < end)
            .cloned()
            .collect();
        let from_ns = entries.first().map_or(cut, |e| e.interval.start_ns);
        Some(Range {
            meta: Arc::clone(&self.meta),
            version: self.version,
            warnings: Arc::clone(&self.warnings),
            declarations: Arc::clone(&self.declarations),
            dictionary: Arc::clone(&self.dictionary),
            entries,
            from_s: from_ns as f64 / 1e9,
        })
    }

    /// Start of the oldest interval held, seconds since the recording started (0 before the
    /// first).
    pub(crate) fn oldest_start_s(&self) -> f64 {
        self.ring
            .front()
            .map_or(0.0, |e| e.interval.start_ns as f64 / 1e9)
    }

    /// End of the newest interval, seconds since the recording started (0 before the first).
    pub(crate) fn newest_end_s(&self) -> f64 {
        self.ring
            .back()
            .map_or(0.0, |e| e.interval.end_ns as f64 / 1e9)
    }

    /// Seconds the ring covers now, from the start of its oldest interval to the end of its newest.
    pub(crate) fn covered_s(&self) -> f64 {
        match (self.ring.front(), self.ring.back()) {
            (Some(first), Some(last)) => {
                last.interval.end_ns.saturating_sub(first.interval.start_ns) as f64 / 1e9
            }
            _ => 0.0,
        }
    }

    /// Estimated bytes held by the ring's intervals and samples.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }
}

impl Range {
    /// The range as a recording: every declaration in its first interval (and every frame and
    /// stack in its first samples chunk), as a reader of the recording file would have them.
    pub(crate) fn recording(&self) -> Recording {
        let mut intervals: Vec<IntervalChunk> = self
            .entries
            .iter()
            .map(|e| IntervalChunk::clone(&e.interval))
            .collect();
        if let Some(first) = intervals.first_mut() {
            let all = &*self.declarations;
            first.declared_tasks = all.declared_tasks.clone();
            first.declared_subtasks = all.declared_subtasks.clone();
            first.declared_channels = all.declared_channels.clone();
            first.declared_edges = all.declared_edges.clone();
            first.endpoints = all.endpoints.clone();
            first.declared_operators = all.declared_operators.clone();
            first.declared_links = all.declared_links.clone();
        }
        let mut samples: Vec<SamplesChunk> = self
            .entries
            .iter()
            .flat_map(|e| e.samples.iter().map(|s| SamplesChunk::clone(s)))
            .collect();
        if let Some(first) = samples.first_mut() {
            first.frames = self.dictionary.frames.clone();
            first.stacks = self.dictionary.stacks.clone();
        }
        Recording {
            version: self.version,
            meta: RecordingMeta::clone(&self.meta),
            intervals,
            samples,
            end: None,
            warnings: Vec::clone(&self.warnings),
        }
    }

    /// The range without its stack samples: what the metrics need (the bottleneck rules read no
    /// samples), cheaper to rebuild and analyse.
    pub(crate) fn without_samples(mut self) -> Range {
        for entry in &mut self.entries {
            entry.samples.clear();
        }
        self
    }

    /// True when the range holds no interval.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Appends `items` to `kept` up to [`MAX_DECLARATIONS`]; returns how many did not fit.
fn append_capped<T>(kept: &mut Vec<T>, items: Vec<T>) -> u64 {
    let room = MAX_DECLARATIONS.saturating_sub(kept.len());
    let dropped = items.len().saturating_sub(room);
    kept.extend(items.into_iter().take(room));
    dropped as u64
}

/// Estimated heap bytes of an interval without its declarations: its per-subtask and per-channel
/// records and its warnings.
fn interval_bytes(i: &IntervalChunk) -> usize {
    size_of::<IntervalChunk>()
        + i.subtasks.len() * size_of::<SubtaskInterval>()
        + i.channels.len() * size_of::<bpprof_format::ChannelInterval>()
        + i.operators.len() * size_of::<bpprof_format::OperatorInterval>()
        + i.operator_calls.len() * size_of::<bpprof_format::OperatorCalls>()
        + i.waits.len() * size_of::<bpprof_format::ChannelWait>()
        + i.blocking.len() * size_of::<bpprof_format::SubtaskBlocking>()
        + i.fills.len() * size_of::<bpprof_format::ChannelFill>()
        + i.warnings
            .iter()
            .map(|w| size_of::<bpprof_format::RuntimeWarning>() + w.code.len() + w.message.len())
            .sum::<usize>()
}

/// Estimated heap bytes of a samples chunk without its frames and stacks.
fn samples_bytes(s: &SamplesChunk) -> usize {
    size_of::<SamplesChunk>() + s.counts.len() * size_of::<SampleCount>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpprof_format::{SubtaskDecl, TaskDecl};

    fn interval(seq: u64, declared: Vec<SubtaskDecl>) -> IntervalChunk {
        IntervalChunk {
            seq,
            start_ns: seq * 100_000_000,
            end_ns: (seq + 1) * 100_000_000,
            declared_subtasks: declared,
            subtasks: vec![SubtaskInterval {
                id: 0,
                wall_ns: 100_000_000,
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn limits(age_s: u64, bytes: usize) -> Limits {
        Limits {
            age_ns: age_s * 1_000_000_000,
            bytes,
        }
    }

    fn decl() -> SubtaskDecl {
        SubtaskDecl {
            id: 0,
            task: "Sink".into(),
            index: 0,
            parallelism: 1,
            ..Default::default()
        }
    }

    #[test]
    fn the_ring_keeps_the_last_minutes_only_and_every_declaration() {
        let mut history = History::new(RecordingMeta::default(), limits(2, usize::MAX));
        history.push(&interval(0, vec![decl()]), [], true);
        for seq in 1..100 {
            history.push(&interval(seq, Vec::new()), [], true);
        }
        // 2 s of 100 ms intervals (plus the one ending exactly 2 s before the newest).
        assert_eq!(history.ring.len(), 21);
        assert!((history.covered_s() - 2.1).abs() < 1e-9);
        let recording = history.last(1.0, None).unwrap().recording();
        assert_eq!(recording.intervals.len(), 10);
        assert_eq!(recording.intervals[0].seq, 90);
        // The declaration made in the evicted first interval travels with the range.
        assert_eq!(recording.intervals[0].declared_subtasks, vec![decl()]);
        assert!(recording.intervals[1].declared_subtasks.is_empty());
    }

    #[test]
    fn a_range_takes_every_interval_that_overlaps_it() {
        let mut history = History::new(RecordingMeta::default(), limits(3600, usize::MAX));
        history.push(&interval(0, vec![decl()]), [], true);
        // A merged interval of 2 s, then one of 100 ms.
        let mut merged = interval(1, Vec::new());
        merged.end_ns = 2_100_000_000;
        history.push(&merged, [], true);
        let mut last = interval(2, Vec::new());
        last.start_ns = 2_100_000_000;
        last.end_ns = 2_200_000_000;
        history.push(&last, [], true);
        let range = history.last(0.5, None).unwrap();
        assert!((range.from_s - 0.1).abs() < 1e-9, "{}", range.from_s);
        assert_eq!(range.recording().intervals.len(), 2);
    }

    #[test]
    fn a_range_can_end_before_the_newest_interval() {
        let mut history = History::new(RecordingMeta::default(), limits(3600, usize::MAX));
        history.push(&interval(0, vec![decl()]), [], true);
        for seq in 1..50 {
            history.push(&interval(seq, Vec::new()), [], true);
        }
        // The second before 2.0 s: intervals 10..=19, declarations carried to the first.
        let range = history.last(1.0, Some(2.0)).unwrap();
        assert!((range.from_s - 1.0).abs() < 1e-9, "{}", range.from_s);
        let recording = range.recording();
        let seqs: Vec<u64> = recording.intervals.iter().map(|i| i.seq).collect();
        assert_eq!(seqs, (10..20).collect::<Vec<_>>());
        assert_eq!(recording.intervals[0].declared_subtasks, vec![decl()]);
        // Past the newest end: the newest intervals.
        let late = history.last(1.0, Some(99.0)).unwrap().recording();
        assert_eq!(late.intervals.last().unwrap().seq, 49);
    }

    #[test]
    fn a_recording_loaded_whole_keeps_every_interval_and_its_samples() {
        let mut recording = Recording {
            version: (1, 2),
            ..Recording::default()
        };
        recording.intervals = (0..30)
            .map(|seq| interval(seq, if seq == 0 { vec![decl()] } else { Vec::new() }))
            .collect();
        // Two processes' samples of interval 3 (a merged recording), one frame declared.
        recording.samples = vec![
            SamplesChunk {
                seq: 3,
                frames: vec![bpprof_format::FrameDecl::default()],
                counts: vec![SampleCount::default()],
                ..Default::default()
            },
            SamplesChunk {
                seq: 3,
                counts: vec![SampleCount::default()],
                ..Default::default()
            },
        ];
        let history = History::from_recording(recording);
        assert_eq!(history.ring.len(), 30);
        assert!((history.covered_s() - 3.0).abs() < 1e-9);
        let all = history.last(3.0, None).unwrap().recording();
        assert_eq!(all.version, (1, 2));
        assert_eq!(all.intervals.len(), 30);
        assert_eq!(all.samples.len(), 2);
        assert_eq!(all.samples[0].frames.len(), 1);
        assert_eq!(history.totals().subtasks().count(), 1);
    }

    #[test]
    fn without_an_endpoint_only_declarations_and_counters_are_kept() {
        let mut history = History::new(RecordingMeta::default(), limits(3600, usize::MAX));
        history.push(&interval(0, vec![decl()]), [], false);
        history.push(&interval(1, Vec::new()), [], false);
        assert!(history.ring.is_empty() && history.bytes() == 0);
        // An endpoint started now sees the subtask declared before it and its whole time.
        history.push(&interval(2, Vec::new()), [], true);
        let recording = history.last(60.0, None).unwrap().recording();
        assert_eq!(recording.intervals[0].declared_subtasks, vec![decl()]);
        let (_, _, totals) = history.totals().subtasks().next().unwrap();
        assert_eq!(totals.wall_ns, 300_000_000);
    }

    #[test]
    fn the_ring_stays_within_its_byte_budget() {
        let one = interval_bytes(&interval(0, Vec::new()));
        let mut history = History::new(RecordingMeta::default(), limits(3600, one * 5));
        for seq in 0..50 {
            history.push(&interval(seq, Vec::new()), [], true);
        }
        assert_eq!(history.ring.len(), 5);
        assert!(history.bytes() <= one * 5);
    }

    #[test]
    fn declarations_beyond_the_cap_are_counted_not_kept() {
        let mut history = History::new(RecordingMeta::default(), limits(3600, usize::MAX));
        let tasks = (0..MAX_DECLARATIONS + 3)
            .map(|i| TaskDecl {
                name: format!("T{i}"),
                parallelism: 1,
                unaccounted: false,
            })
            .collect();
        let mut first = interval(0, Vec::new());
        first.declared_tasks = tasks;
        history.push(&first, [], true);
        assert_eq!(history.declarations.declared_tasks.len(), MAX_DECLARATIONS);
        assert_eq!(history.dropped_declarations(), 3);
    }
}
