//! Finds the bottleneck of a multi-threaded pipeline from a bpprof recording, after Apache Flink's
//! busy / idle / backpressured metrics.
//!
//! ```
//! use bpprof_analysis::synth::{Load, Synth};
//! use bpprof_analysis::{locate, render_human, AnalysisOptions, BottleneckKind};
//!
//! // A two-task pipeline: Source is blocked on a full queue, Sink computes all the time.
//! let mut synth = Synth::new();
//! let source = synth.subtask("Source", 0, 1);
//! let sink = synth.subtask("Sink", 0, 1);
//! synth.channel("events", 1024, &[source], &[sink]);
//! for _ in 0..5 {
//!     synth.interval(&[
//!         (source, Load::new(0.10, 0.90)),
//!         (sink, Load::new(0.97, 0.0)),
//!     ]);
//! }
//! let recording = synth.recording();
//!
//! let report = locate(&recording, &AnalysisOptions::default()).unwrap();
//! assert_eq!(report.bottlenecks[0].task, "Sink");
//! assert_eq!(report.bottlenecks[0].kind, BottleneckKind::Cpu);
//!
//! let mut text = Vec::new();
//! render_human(&report, &mut text).unwrap();
//! assert!(String::from_utf8(text).unwrap().starts_with("Sink is the bottleneck"));
//! ```
//!
//! # Map of the crate
//!
//! `locate`, the steps of one analysis, in the order a recording goes through them:
//!
//! - [`locate()`] (private `locate` module): the orchestration, from a recording to a
//!   [`LocateReport`], and the task reports of a selection (the whole range or one window).
//! - [`graph`]: the job graph (tasks and edges, topological order).
//! - [`range`]: what is asked for ([`AnalysisOptions`], [`AnalysisError`]), which intervals are
//!   analysed, and whether they are enough.
//! - `window` (private): each subtask's and channel's sums over the selected intervals.
//! - `evidence` (private): what each edge shows (queue fill, where its ends waited).
//! - [`capacity`]: what a task can process (rate per busy second, cost per record, CPUs used).
//! - [`verdict`]: the bottleneck rules, every threshold a named constant.
//! - `explain` (private): the sentences of the verdict, rendered from the findings.
//! - [`stacks`]: stacks cut short by missing frame pointers.
//! - [`timeline`]: the bottleneck of every window, and whether it moves.
//! - [`report`]: the public, serialisable result types (JSON schema in `docs/json.md`).
//!
//! Outputs of a [`LocateReport`]:
//!
//! - [`render_human`] (module `render`): the text for people.
//! - [`picture`]: the job graph as SVG and Graphviz DOT.
//! - [`units`]: how every number, duration, ratio and plural is written; `table` (private) the
//!   aligned text tables, `xml` (private) escaping for the SVG.
//!
//! The other commands:
//!
//! - [`check`]: `bpprof check`, a current recording against a baseline and against limits.
//! - [`plan`]: `bpprof plan`, capacity planning from a recording.
//! - [`flame`]: flame graphs of one subtask's stack samples (`bpprof flame`, `docs/flame.md`).
//! - [`diff`]: one subtask's flame graphs of two recordings compared per record (`bpprof diff`).
//! - [`merge`]: the recordings of one job's processes merged into one (`bpprof merge`).
//! - [`export`]: pprof profiles of the samples and Chrome traces of the states over time.
//! - `synth` (feature `synth`): synthetic recordings for tests, benchmarks, doc examples and
//!   fuzzing; not part of the analysis a user links.
//! - `median` (private): the one median every rule takes.
//!
//! # Feature flags
//!
//! None.
#![deny(missing_docs)]

pub mod capacity;
pub mod check;
pub mod diff;
mod evidence;
mod explain;
pub mod export;
pub mod flame;
pub mod graph;
mod locate;
mod median;
pub mod merge;
pub mod picture;
pub mod plan;
pub mod range;
mod render;
pub mod report;
pub mod stacks;
#[cfg(any(test, feature = "synth"))]
pub mod synth;
mod table;
pub mod timeline;
pub mod units;
pub mod verdict;
mod window;
mod xml;

pub use graph::JobGraph;
pub use locate::locate;
pub use range::{AnalysisError, AnalysisOptions};
pub use render::{render_human, render_human_with, RenderOptions};
pub use report::{
    Bottleneck, BottleneckKind, Capacity, CpuUse, EdgeRef, EdgeReport, Evidence, Level,
    LocateReport, OperatorShare, RecordingSummary, Rule, StripRow, SubtaskReport, TaskReport,
    TaskShare, Timeline, UpstreamPressure, WindowVerdict, SCHEMA, SCHEMA_MINOR, SCHEMA_VERSION,
};
