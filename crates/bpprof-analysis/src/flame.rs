//! Flame graphs of one subtask (or of one task's subtasks) from the stack samples of a recording.
//!
//! [`fold`] turns the [`bpprof_format::SamplesChunk`]s of a recording into folded stacks
//! (`frame;frame;frame count`, the input format of inferno and of Brendan Gregg's
//! `flamegraph.pl`) for the selected subtasks over a range; [`render_svg`] draws them with inferno.
//!
//! ```
//! use bpprof_analysis::flame::{fold, render_svg, FlameOptions, Selection, SvgOptions};
//! use bpprof_analysis::synth::{Load, Synth};
//! use bpprof_format::SampleState;
//!
//! let mut synth = Synth::new();
//! let enrich = synth.subtask("Enrich", 0, 1);
//! for _ in 0..3 {
//!     synth.sample(enrich, SampleState::Busy, true, &["main", "enrich", "hash"], 66);
//!     synth.sample(enrich, SampleState::Idle, false, &["main", "enrich", "recv"], 33);
//!     synth.interval(&[(enrich, Load::new(0.67, 0.0))]);
//! }
//! let recording = synth.recording();
//!
//! let options = FlameOptions {
//!     selection: Selection::parse_subtask("Enrich#0").unwrap(),
//!     ..FlameOptions::default()
//! };
//! let folded = fold(&recording, &options).unwrap();
//! // Mixed mode (the default): the state is the root frame. The first interval is skipped.
//! assert_eq!(folded.stacks["[busy];main;enrich;hash"], 132);
//! assert_eq!(folded.stacks["[idle];main;enrich;recv"], 66);
//! // What the samples stand for: in mixed mode, the wall time of the two intervals drawn.
//! assert_eq!(folded.measured_ns, Some(2_000_000_000));
//! assert_eq!(folded.mode_samples, 198);
//! assert_eq!(folded.ns_per_sample(), Some(2e9 / 198.0));
//!
//! let mut svg = Vec::new();
//! render_svg(&folded, &SvgOptions::default(), &mut svg).unwrap();
//! assert!(String::from_utf8(svg).unwrap().trim_end().ends_with("</svg>"));
//! ```
//!
//! # Escaping
//!
//! The folded format has no escaping: inferno splits a line on every `;` and takes the token
//! after the last space as the count. [`escape_frame`] therefore rewrites frame names so that each
//! stays one frame: `;` becomes `;` (U+037E GREEK QUESTION MARK, which looks the same), control
//! characters (newlines, tabs) become spaces, a trailing number after a space is glued to the name
//! with a no-break space, and an empty name becomes `[unknown]`.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::io::{self, Write};

use bpprof_format::{Recording, SampleState};
use inferno::flamegraph::color::{BasicPalette, Color, Palette, PaletteMap};

use crate::graph::JobGraph;
use crate::report::BottleneckKind;
use crate::verdict::thousands;
use crate::{locate, window, AnalysisError, AnalysisOptions};

/// Root frame of busy samples in [`Mode::Mixed`].
pub const BUSY_FRAME: &str = "[busy]";
/// Root frame of backpressured samples in [`Mode::Mixed`].
pub const BACKPRESSURED_FRAME: &str = "[backpressured]";
/// Root frame of idle samples in [`Mode::Mixed`].
pub const IDLE_FRAME: &str = "[idle]";
/// Frame name that replaces an empty or undeclared frame.
pub const UNKNOWN_FRAME: &str = "[unknown]";

/// Fill colour of the [`BUSY_FRAME`] root frame: orange-red, like Flink's busy colour.
pub const BUSY_COLOR: Color = Color {
    r: 230,
    g: 85,
    b: 40,
};
/// Fill colour of the [`BACKPRESSURED_FRAME`] root frame: grey (Flink draws backpressure black;
/// grey keeps the black label readable).
pub const BACKPRESSURED_COLOR: Color = Color {
    r: 140,
    g: 140,
    b: 140,
};
/// Fill colour of the [`IDLE_FRAME`] root frame: blue, like Flink's idle colour.
pub const IDLE_COLOR: Color = Color {
    r: 90,
    g: 150,
    b: 230,
};

/// Which subtasks to draw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Selection {
    /// One subtask: every registration of this task and index, merged.
    Subtask {
        /// Task name.
        task: String,
        /// 0-based subtask index.
        index: u32,
    },
    /// Every subtask of one task, merged.
    Task(String),
    /// The first subtask of the first bottleneck that [`crate::locate`] finds over the same range.
    #[default]
    Bottleneck,
}

impl Selection {
    /// Parses `TASK#INDEX` (e.g. `Enrich#3`; the task name may itself contain `#`: the last one
    /// separates the index).
    pub fn parse_subtask(name: &str) -> Result<Selection, FlameError> {
        let bad = || FlameError::BadSubtaskName {
            name: name.to_owned(),
        };
        let (task, index) = name.rsplit_once('#').ok_or_else(bad)?;
        let index = index.trim().parse::<u32>().map_err(|_| bad())?;
        if task.is_empty() {
            return Err(bad());
        }
        Ok(Selection::Subtask {
            task: task.to_owned(),
            index,
        })
    }
}

/// Which samples to draw, after Flink's three flame-graph modes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Every sample, with the subtask's state as the root frame ([`BUSY_FRAME`],
    /// [`BACKPRESSURED_FRAME`], [`IDLE_FRAME`]).
    #[default]
    Mixed,
    /// Samples taken while the thread was using CPU.
    OnCpu,
    /// Samples taken while the thread was not using CPU (blocked, sleeping, waiting for a CPU).
    OffCpu,
}

impl Mode {
    /// `mixed`, `on-cpu` or `off-cpu`, as on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Mixed => "mixed",
            Mode::OnCpu => "on-cpu",
            Mode::OffCpu => "off-cpu",
        }
    }

    fn keeps(self, on_cpu: bool) -> bool {
        match self {
            Mode::Mixed => true,
            Mode::OnCpu => on_cpu,
            Mode::OffCpu => !on_cpu,
        }
    }
}

/// What to fold.
#[derive(Debug, Clone, PartialEq)]
pub struct FlameOptions {
    /// Which subtasks. Default: [`Selection::Bottleneck`].
    pub selection: Selection,
    /// Which samples, and whether the state is the root frame. Default: [`Mode::Mixed`].
    pub mode: Mode,
    /// Keep only samples taken in these states. Default: all three. An empty set keeps none.
    pub states: HashSet<SampleState>,
    /// Start of the range, seconds since the recording started. Default (`None`): the end of the
    /// first interval, as for [`crate::locate`]. A samples chunk is used when its interval's
    /// midpoint lies in `[from_s, to_s)`.
    pub from_s: Option<f64>,
    /// End of the range (exclusive), seconds. Default (`None`): the end of the recording.
    pub to_s: Option<f64>,
    /// Keep only samples taken inside this operator (an operator scope of the subtask's chain,
    /// see `bpprof::operator`); nested operators count as the innermost one. Default (`None`):
    /// every sample.
    pub operator: Option<String>,
}

impl Default for FlameOptions {
    fn default() -> Self {
        FlameOptions {
            selection: Selection::Bottleneck,
            mode: Mode::Mixed,
            states: ALL_STATES.into_iter().collect(),
            from_s: None,
            to_s: None,
            operator: None,
        }
    }
}

/// The three states, in the order they are shown.
pub const ALL_STATES: [SampleState; 3] = [
    SampleState::Busy,
    SampleState::Backpressured,
    SampleState::Idle,
];

/// `busy`, `backpressured` or `idle`.
pub fn state_name(state: SampleState) -> &'static str {
    match state {
        SampleState::Busy => "busy",
        SampleState::Backpressured => "backpressured",
        SampleState::Idle => "idle",
    }
}

/// The root frame of `state` in [`Mode::Mixed`].
pub fn state_frame(state: SampleState) -> &'static str {
    match state {
        SampleState::Busy => BUSY_FRAME,
        SampleState::Backpressured => BACKPRESSURED_FRAME,
        SampleState::Idle => IDLE_FRAME,
    }
}

/// The subtasks a [`Selection`] resolved to.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// Task name.
    pub task: String,
    /// Subtask indices, ascending.
    pub indices: Vec<u32>,
    /// True when the whole task was asked for ([`Selection::Task`]).
    pub whole_task: bool,
    /// The bottleneck this selection came from, for [`Selection::Bottleneck`].
    pub bottleneck: Option<ChosenBottleneck>,
}

impl Resolved {
    /// `Enrich#3` for one subtask, `Enrich` (all subtasks) for a task.
    pub fn label(&self) -> String {
        match (self.whole_task, self.indices.as_slice()) {
            (false, [index]) => format!("{}#{index}", self.task),
            _ => self.task.clone(),
        }
    }

    /// `TASK#INDEX` of every selected subtask.
    pub fn subtask_names(&self) -> Vec<String> {
        self.indices
            .iter()
            .map(|i| format!("{}#{i}", self.task))
            .collect()
    }

    /// A file name for the graph: `flame-Enrich-3.svg` (`flame-Enrich.svg` for a task), with
    /// every character other than ASCII letters, digits, `-`, `_` and `.` replaced by `_`.
    pub fn file_name(&self, extension: &str) -> String {
        self.file_name_with("flame", extension)
    }

    /// As [`Resolved::file_name`] with another prefix than `flame`: `diff-Enrich-3.svg` for
    /// `file_name_with("diff", "svg")`.
    pub fn file_name_with(&self, prefix: &str, extension: &str) -> String {
        let task: String = self
            .task
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let task = task.trim_start_matches('.');
        match (self.whole_task, self.indices.as_slice()) {
            (false, [index]) => format!("{prefix}-{task}-{index}.{extension}"),
            _ => format!("{prefix}-{task}.{extension}"),
        }
    }

    /// The explicit selection of the same subtasks: [`Selection::Subtask`] for one subtask,
    /// [`Selection::Task`] for a whole task. Folding another recording with it draws the same
    /// subtasks there (what `bpprof diff` does with the bottleneck it resolved in CURRENT).
    pub fn selection(&self) -> Selection {
        match (self.whole_task, self.indices.as_slice()) {
            (false, [index]) => Selection::Subtask {
                task: self.task.clone(),
                index: *index,
            },
            _ => Selection::Task(self.task.clone()),
        }
    }
}

/// The bottleneck that [`Selection::Bottleneck`] resolved to.
#[derive(Debug, Clone, PartialEq)]
pub struct ChosenBottleneck {
    /// Its kind.
    pub kind: BottleneckKind,
    /// Why `locate` took it for the bottleneck.
    pub reason: String,
}

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

/// Why no flame graph could be folded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FlameError {
    /// The range is invalid or selects no interval, or the recording has none.
    #[error(transparent)]
    Analysis(#[from] AnalysisError),
    /// A subtask name is not of the form `TASK#INDEX`.
    #[error("'{name}' is not a subtask name: expected TASK#INDEX, e.g. Enrich#0")]
    BadSubtaskName {
        /// What was given.
        name: String,
    },
    /// No subtask of that task and index was recorded.
    #[error(
        "unknown subtask '{wanted}'{}; available: {}",
        did_you_mean(nearest),
        list(available)
    )]
    UnknownSubtask {
        /// What was asked for.
        wanted: String,
        /// Every recorded subtask, `TASK#INDEX`, in graph order.
        available: Vec<String>,
        /// The closest available name: the same task's nearest index, else the closest name by
        /// edit distance (when close enough).
        nearest: Option<String>,
    },
    /// No task of that name was recorded.
    #[error(
        "unknown task '{wanted}'{}; available: {}",
        did_you_mean(nearest),
        list(available)
    )]
    UnknownTask {
        /// What was asked for.
        wanted: String,
        /// Every recorded task, in graph order.
        available: Vec<String>,
        /// The closest task name by edit distance, when close enough.
        nearest: Option<String>,
    },
    /// No operator of that name ran in the selected subtasks.
    #[error(
        "no operator '{wanted}' in {label}; its operators: {}",
        list(available)
    )]
    UnknownOperator {
        /// The operator asked for.
        wanted: String,
        /// The selection (`Enrich#3`, `Enrich`).
        label: String,
        /// The operators the selection ran, in order of declaration.
        available: Vec<String>,
    },
    /// No bottleneck was found to default to.
    #[error("no subtask chosen and `locate` found no bottleneck ({verdict})")]
    NoBottleneck {
        /// The verdict of `locate`.
        verdict: String,
    },
    /// Nothing to draw.
    #[error("no samples of {label} between {} s and {} s: {reason}", crate::seconds(*from_s), crate::seconds(*to_s))]
    NoSamples {
        /// The selection (`Enrich#3`, `Enrich`).
        label: String,
        /// Start of the range, seconds.
        from_s: f64,
        /// End of the range, seconds.
        to_s: f64,
        /// Why.
        reason: NoSamplesReason,
    },
}

/// Why [`FlameError::NoSamples`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoSamplesReason {
    /// The recording was made with stack sampling off (`sample_hz` 0, no samples chunk).
    SamplingOff,
    /// The recording has samples, but none of these subtasks in the range.
    NoneInRange,
    /// Samples of these subtasks exist in the range, but the mode or state filter removed them.
    Filtered {
        /// The mode.
        mode: Mode,
        /// The states kept.
        states: Vec<SampleState>,
    },
}

impl fmt::Display for NoSamplesReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoSamplesReason::SamplingOff => {
                f.write_str("the recording was made with stack sampling off (sample_hz = 0)")
            }
            NoSamplesReason::NoneInRange => {
                f.write_str("the recording has samples, but none of this selection in the range")
            }
            NoSamplesReason::Filtered { mode, states } => {
                let names: Vec<&str> = states.iter().map(|&s| state_name(s)).collect();
                write!(
                    f,
                    "every sample was filtered out by --mode {} --state {}",
                    mode.as_str(),
                    if names.is_empty() {
                        "(none)".to_owned()
                    } else {
                        names.join(",")
                    }
                )
            }
        }
    }
}

fn did_you_mean(nearest: &Option<String>) -> String {
    nearest
        .as_ref()
        .map_or_else(String::new, |n| format!(" (did you mean '{n}'?)"))
}

/// At most 20 names, then how many more.
fn list(names: &[String]) -> String {
    const SHOWN: usize = 20;
    if names.is_empty() {
        return "none".to_owned();
    }
    let mut text = names
        .iter()
        .take(SHOWN)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        text.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    text
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
    let range = window::select(recording, &analysis)?;
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

/// Resolves a selection against the job graph.
fn resolve(
    recording: &Recording,
    graph: &JobGraph,
    selection: &Selection,
    analysis: &AnalysisOptions,
) -> Result<Resolved, FlameError> {
    match selection {
        Selection::Subtask { task, index } => {
            let found = graph
                .position(task)
                .is_some_and(|p| graph.tasks[p].indices.contains(index));
            if found {
                return Ok(Resolved {
                    task: task.clone(),
                    indices: vec![*index],
                    whole_task: false,
                    bottleneck: None,
                });
            }
            let available: Vec<String> = graph
                .tasks
                .iter()
                .flat_map(|t| t.indices.iter().map(move |i| format!("{}#{i}", t.name)))
                .collect();
            let wanted = format!("{task}#{index}");
            let same_task = graph
                .position(task)
                .and_then(|p| {
                    let t = &graph.tasks[p];
                    t.indices.iter().min_by_key(|&&i| i.abs_diff(*index))
                })
                .map(|i| format!("{task}#{i}"));
            let nearest = same_task.or_else(|| nearest(&wanted, &available));
            Err(FlameError::UnknownSubtask {
                wanted,
                available,
                nearest,
            })
        }
        Selection::Task(name) => match graph.position(name) {
            Some(p) if !graph.tasks[p].indices.is_empty() => Ok(Resolved {
                task: name.clone(),
                indices: graph.tasks[p].indices.clone(),
                whole_task: true,
                bottleneck: None,
            }),
            _ => {
                // Only tasks with subtasks can be drawn.
                let available: Vec<String> = graph
                    .tasks
                    .iter()
                    .filter(|t| !t.indices.is_empty())
                    .map(|t| t.name.clone())
                    .collect();
                Err(FlameError::UnknownTask {
                    wanted: name.clone(),
                    nearest: nearest(name, &available),
                    available,
                })
            }
        },
        Selection::Bottleneck => {
            let report = locate(recording, analysis)?;
            let Some(b) = report.bottlenecks.first() else {
                return Err(FlameError::NoBottleneck {
                    verdict: report.verdict,
                });
            };
            let chosen = Some(ChosenBottleneck {
                kind: b.kind,
                reason: b.reason.clone(),
            });
            let indices = graph
                .position(&b.task)
                .map(|p| graph.tasks[p].indices.clone())
                .unwrap_or_default();
            if indices.is_empty() {
                return Err(FlameError::NoBottleneck {
                    verdict: format!("the bottleneck {} has no recorded subtask", b.task),
                });
            }
            Ok(match b.subtasks.first() {
                Some(&index) => Resolved {
                    task: b.task.clone(),
                    indices: vec![index],
                    whole_task: false,
                    bottleneck: chosen,
                },
                None => Resolved {
                    task: b.task.clone(),
                    indices,
                    whole_task: true,
                    bottleneck: chosen,
                },
            })
        }
    }
}

/// The name of `available` closest to `wanted` by edit distance (case-insensitive), when the
/// distance is at most a third of the longer name's length (at least 2).
fn nearest(wanted: &str, available: &[String]) -> Option<String> {
    let wanted_lower = wanted.to_lowercase();
    available
        .iter()
        .map(|name| (edit_distance(&wanted_lower, &name.to_lowercase()), name))
        .filter(|(d, name)| *d <= (wanted.chars().count().max(name.chars().count()) / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, name)| name.clone())
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

/// Makes a frame name safe for the folded format, so that it stays exactly one frame:
///
/// * `;` becomes `;` (U+037E GREEK QUESTION MARK), which looks the same in the graph;
/// * control characters (newline, carriage return, tab, ...) become spaces; leading and trailing
///   whitespace is removed;
/// * when the last space-separated word is a number (which inferno would read as a sample count),
///   or the name starts with `# ` (which inferno would read as a comment), that space becomes a
///   no-break space (U+00A0);
/// * an empty name becomes [`UNKNOWN_FRAME`].
///
/// ```
/// use bpprof_analysis::flame::escape_frame;
/// assert_eq!(escape_frame("<[u8; 8] as Debug>::fmt"), "<[u8\u{37e} 8] as Debug>::fmt");
/// assert_eq!(escape_frame("main"), "main");
/// ```
pub fn escape_frame(name: &str) -> Cow<'_, str> {
    let clean = |c: char| c != ';' && !c.is_control();
    let trimmed = name.trim();
    let numeric_tail = trimmed.rsplit_once(' ').is_some_and(|(_, tail)| {
        !tail.is_empty() && tail.chars().all(|c| c.is_ascii_digit() || c == '.')
    });
    if !trimmed.is_empty()
        && trimmed.len() == name.len()
        && name.chars().all(clean)
        && !numeric_tail
        && !name.starts_with("# ")
    {
        return Cow::Borrowed(name);
    }
    let mut out: String = name
        .chars()
        .map(|c| match c {
            ';' => '\u{37e}',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect::<String>()
        .trim()
        .to_owned();
    if out.is_empty() {
        return Cow::Borrowed(UNKNOWN_FRAME);
    }
    if let Some((head, tail)) = out.rsplit_once(' ') {
        if !tail.is_empty() && tail.chars().all(|c| c.is_ascii_digit() || c == '.') {
            out = format!("{head}\u{a0}{tail}");
        }
    }
    if let Some(rest) = out.strip_prefix("# ") {
        out = format!("#\u{a0}{rest}");
    }
    Cow::Owned(out)
}

/// How to draw the SVG.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SvgOptions {
    /// Title. Default (`None`): [`Folded::title`].
    pub title: Option<String>,
    /// Subtitle. Default (`None`): [`Folded::subtitle`].
    pub subtitle: Option<String>,
    /// Width in pixels. Default (`None`): fluid (the width of the browser window).
    pub width: Option<usize>,
}

/// Draws `folded` as an interactive SVG flame graph (inferno).
///
/// Frames are coloured with inferno's `hot` palette (`blue` in [`Mode::OffCpu`]), by a hash of
/// the function name, so a function has the same colour in every graph. In [`Mode::Mixed`] the
/// root frames have fixed colours: [`BUSY_COLOR`], [`BACKPRESSURED_COLOR`], [`IDLE_COLOR`].
pub fn render_svg(folded: &Folded, options: &SvgOptions, out: impl Write) -> io::Result<()> {
    let lines: Vec<String> = folded.lines().collect();
    let graph = Graph {
        title: options.title.clone().unwrap_or_else(|| folded.title()),
        subtitle: options
            .subtitle
            .clone()
            .unwrap_or_else(|| folded.subtitle()),
        count_name: "samples".to_owned(),
        width: options.width,
        mode: folded.mode,
        negate_differentials: false,
    };
    graph.render(lines.iter().map(String::as_str), out)
}

/// What the flame graphs of this crate (`bpprof flame` and `bpprof diff`) pass to inferno: the
/// one place where inferno's options are built.
pub(crate) struct Graph {
    /// Title.
    pub(crate) title: String,
    /// Subtitle.
    pub(crate) subtitle: String,
    /// What a count is, in the tooltips (`samples`, `ps per record`).
    pub(crate) count_name: String,
    /// Width in pixels; `None`: fluid.
    pub(crate) width: Option<usize>,
    /// The mode folded (chooses the palette).
    pub(crate) mode: Mode,
    /// inferno's `negate_differentials`, for lines with two counts.
    pub(crate) negate_differentials: bool,
}

impl Graph {
    /// Draws folded `lines` (one count each, or two for a differential graph) with inferno.
    ///
    /// The palette: inferno's `hot` (`blue` in [`Mode::OffCpu`]), deterministic by function name,
    /// with the state root frames in their fixed colours. In a differential graph inferno colours
    /// every frame by its change instead (red: more, blue: less; white: unchanged).
    pub(crate) fn render<'l>(
        &self,
        lines: impl IntoIterator<Item = &'l str>,
        out: impl Write,
    ) -> io::Result<()> {
        let mut palette = PaletteMap::default();
        palette.insert(BUSY_FRAME, BUSY_COLOR);
        palette.insert(BACKPRESSURED_FRAME, BACKPRESSURED_COLOR);
        palette.insert(IDLE_FRAME, IDLE_COLOR);
        let mut opts = inferno::flamegraph::Options::default();
        opts.title = self.title.clone();
        opts.subtitle = Some(self.subtitle.clone());
        opts.count_name = self.count_name.clone();
        opts.image_width = self.width;
        opts.deterministic = true;
        opts.negate_differentials = self.negate_differentials;
        opts.colors = Palette::Basic(match self.mode {
            Mode::OffCpu => BasicPalette::Blue,
            Mode::Mixed | Mode::OnCpu => BasicPalette::Hot,
        });
        opts.palette_map = Some(&mut palette);
        inferno::flamegraph::from_lines(&mut opts, lines, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_insertions_deletions_and_substitutions() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("enrich#3", "enrich#3"), 0);
        assert_eq!(edit_distance("enrch#3", "enrich#3"), 1);
    }

    #[test]
    fn nearest_ignores_far_names() {
        let names = vec!["Enrich#0".to_owned(), "Sink#0".to_owned()];
        assert_eq!(nearest("enrch#0", &names).as_deref(), Some("Enrich#0"));
        assert_eq!(nearest("Completely#9", &names), None);
    }

    #[test]
    fn escape_keeps_one_frame_per_name() {
        assert_eq!(escape_frame("a;b"), "a\u{37e}b");
        assert_eq!(escape_frame("line\nbreak\r\tx"), "line break  x");
        assert_eq!(escape_frame("  "), UNKNOWN_FRAME);
        assert_eq!(escape_frame("worker 12"), "worker\u{a0}12");
        assert_eq!(escape_frame("# note"), "#\u{a0}note");
        assert!(matches!(escape_frame("ok::fine"), Cow::Borrowed(_)));
    }

    #[test]
    fn subtask_names_parse() {
        assert_eq!(
            Selection::parse_subtask("Enrich#3").unwrap(),
            Selection::Subtask {
                task: "Enrich".into(),
                index: 3
            }
        );
        assert_eq!(
            Selection::parse_subtask("a#b#1").unwrap(),
            Selection::Subtask {
                task: "a#b".into(),
                index: 1
            }
        );
        for bad in ["Enrich", "#1", "Enrich#", "Enrich#x", "Enrich#-1"] {
            assert!(
                matches!(
                    Selection::parse_subtask(bad),
                    Err(FlameError::BadSubtaskName { .. })
                ),
                "{bad}"
            );
        }
    }
}
