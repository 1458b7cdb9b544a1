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
//! for _ in 0..4 {
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
//! assert_eq!(folded.stacks["[busy];main;enrich;hash"], 198);
//! assert_eq!(folded.stacks["[idle];main;enrich;recv"], 99);
//! // What the samples stand for: in mixed mode, the wall time of the three intervals drawn.
//! assert_eq!(folded.measured_ns, Some(3_000_000_000));
//! assert_eq!(folded.mode_samples, 297);
//! assert_eq!(folded.ns_per_sample(), Some(3e9 / 297.0));
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

use std::collections::HashSet;

use bpprof_format::SampleState;
use inferno::flamegraph::color::Color;

// One job per file: what to fold (here), resolving a selection to subtasks (`resolve`), folding
// their samples (`fold`) after walking over them (`samples`, shared with the pprof export), escaping frame names (`escape`), drawing with inferno (`svg`), and why
// nothing could be folded (`error`).
mod error;
mod escape;
mod fold;
pub(crate) mod resolve;
pub(crate) mod samples;
mod svg;

pub use error::{FlameError, NoSamplesReason};
pub use escape::escape_frame;
pub use fold::{fold, Folded};
pub use resolve::{ChosenBottleneck, Resolved};
pub(crate) use svg::Graph;
pub use svg::{render_svg, SvgOptions, MIN_WIDTH};

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
    /// The first subtask of the first bottleneck that [`crate::locate()`] finds over the same range.
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

    pub(crate) fn keeps(self, on_cpu: bool) -> bool {
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
    /// first interval, as for [`crate::locate()`]. A samples chunk is used when its interval's
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

#[cfg(test)]
mod tests {
    use super::*;

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
