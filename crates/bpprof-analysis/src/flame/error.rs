//! Why no flame graph could be folded ([`FlameError`], [`NoSamplesReason`]).

use std::fmt;

use bpprof_format::SampleState;

use super::{state_name, Mode};
use crate::range::AnalysisError;

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
    #[error("no samples of {label} between {} s and {} s: {reason}", crate::units::seconds(*from_s), crate::units::seconds(*to_s))]
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
