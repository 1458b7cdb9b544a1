//! Stacks cut short by missing frame pointers: whether the samples of a selection look like the
//! program was built without them (`docs/sampling.md`, "What your build must set").
//!
//! # The criterion, from real recordings
//!
//! `examples/slow_operator.rs` built as this workspace builds it (frame pointers forced) gives
//! on-CPU stacks of 4 to 9 frames that all reach the Rust thread entry:
//! `start_thread;<std::sys::thread::unix::Thread>::new::thread_start;`
//! `core::ops::function::FnOnce::call_once{{vtable.shim}};std::sys::backtrace::__rust_begin_short_backtrace;`
//! `slow_operator::enrich_record;slow_operator::lookup_customer;slow_operator::common::burn`.
//! The same example built with `RUSTFLAGS="-C force-frame-pointers=no"` gives, in every one of
//! Enrich's 751 on-CPU samples of a 2 s run, `start_thread;slow_operator::common::burn`: the leaf (always
//! right: it is the interrupted instruction), then a jump straight to glibc's `start_thread`,
//! whose frame the untouched frame pointer register still pointed to.
//!
//! So reaching a C-level entry (`start_thread`, `__clone`) proves nothing, and depth alone would
//! flag shallow but complete stacks. What does tell: the frames that start a Rust thread's own
//! code, `std::sys::backtrace::__rust_begin_short_backtrace` (every spawned thread, and the main
//! thread through `std::rt::lang_start`) and `main`, are generic or generated into the user's
//! crate, so they are built with the user's flags and have a frame only when the user's code
//! keeps frame pointers. A sample's stack is **cut short** when it has at most
//! [`SHORT_STACK_MAX_FRAMES`] frames and none of them is such an entry frame ([`is_entry_frame`]).
//! The depth bound keeps a deep stack that the sampler's 64-frame limit truncated (deep
//! recursion: its outermost frames, the entry among them, are dropped) from counting.
//!
//! Only on-CPU samples are judged: they were walked by the signal handler from the interrupted
//! instruction. A selection's stacks *look cut short* when at least [`SHORT_STACKS_SHARE_MIN`] of
//! at least [`SHORT_STACKS_MIN_SAMPLES`] on-CPU samples are cut short.
//!
//! Samples interrupted inside a C function ([`is_c_function`]: the C library, which is built
//! without frame pointers and may use the frame pointer register for data) are not judged: the
//! walk from there ends early whatever the user's build (seen on `examples/async_tcp_sink`, whose
//! sink's on-CPU samples are mostly `__libc_send` alone, under `[busy]`).

use std::collections::{HashMap, HashSet};

use bpprof_format::Recording;

use crate::graph::JobGraph;
use crate::range::{self, AnalysisError, AnalysisOptions};
use crate::report::{Evidence, Note, NoteKind, TaskReport};
use crate::units::{join_and, pct};

/// A stack of at most this many frames that reaches no entry frame ([`is_entry_frame`]) is cut
/// short. Complete stacks of a spawned thread have at least 4 frames below the thread's own code
/// (`start_thread`, `thread_start`, `call_once`, `__rust_begin_short_backtrace`); a cut one
/// observed is 2 (the leaf and `start_thread`). 8 leaves room for inlined frames of the leaf and
/// a few std frames, and stays far below the sampler's 64-frame limit.
pub const SHORT_STACK_MAX_FRAMES: usize = 8;

/// A selection's stacks look cut short when at least this share of its on-CPU samples is.
pub const SHORT_STACKS_SHARE_MIN: f64 = 0.5;

/// Fewer on-CPU samples than this are too few to judge (a subtask that is mostly blocked).
pub const SHORT_STACKS_MIN_SAMPLES: u64 = 20;

/// What names the entry of a Rust thread's own code: a frame whose function name contains one of
/// these, or whose last path segment is `main` (see [`is_entry_frame`]).
pub const ENTRY_FRAMES: [&str; 1] = ["__rust_begin_short_backtrace"];

/// What the fix says, after "the program was probably built without frame pointers".
pub const FIX: &str = "build with RUSTFLAGS=\"-C force-frame-pointers=yes\" (or [build] rustflags in .cargo/config.toml), see docs/sampling.md";

/// Whether `function` starts a Rust thread's own code: it contains one of [`ENTRY_FRAMES`], or it
/// is `main` or ends with `::main` (`slow_operator::main`; not `domain`).
pub fn is_entry_frame(function: &str) -> bool {
    ENTRY_FRAMES.iter().any(|e| function.contains(e))
        || function == "main"
        || function.ends_with("::main")
}

/// Whether `function` is a C function rather than Rust code: its name has no path (Rust
/// symbols are named by their path, `crate::module::function` or `<Type as Trait>::method`) and
/// it was resolved (an unresolved `0x...` address may be the user's code).
pub fn is_c_function(function: &str) -> bool {
    !function.contains("::") && !function.starts_with("0x")
}

/// The depth of the on-CPU samples of a selection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StackDepths {
    /// On-CPU samples of the selection in the range.
    pub samples: u64,
    /// Those whose stack is cut short.
    pub short: u64,
    /// The most frames a cut-short stack had (0 when none is).
    pub max_frames: usize,
}

impl StackDepths {
    /// The share of the on-CPU samples that are cut short (0 without samples).
    pub fn share(&self) -> f64 {
        if self.samples == 0 {
            0.0
        } else {
            self.short as f64 / self.samples as f64
        }
    }

    /// Whether the stacks look cut short: at least [`SHORT_STACKS_MIN_SAMPLES`] on-CPU samples,
    /// at least [`SHORT_STACKS_SHARE_MIN`] of them cut short.
    pub fn cut_short(&self) -> bool {
        self.samples >= SHORT_STACKS_MIN_SAMPLES && self.share() >= SHORT_STACKS_SHARE_MIN
    }

    fn add(&mut self, other: StackDepths) {
        self.samples += other.samples;
        self.short += other.short;
        self.max_frames = self.max_frames.max(other.max_frames);
    }
}

/// The sentence about `subjects` (`Enrich`, `Enrich#0`, `Parse and Enrich`) whose stacks look cut
/// short: "stacks of Enrich end after at most 2 frames, before the thread's entry, in 100% of
/// its on-CPU samples: the program was probably built without frame pointers; build with ...".
pub fn sentence(subjects: &[String], max_frames: usize, share: f64) -> String {
    let (its, frames) = (
        if subjects.len() == 1 { "its" } else { "their" },
        if max_frames == 1 { "frame" } else { "frames" },
    );
    format!(
        "stacks of {} end after at most {max_frames} {frames}, before the thread's entry (main or __rust_begin_short_backtrace), in {} of {its} on-CPU samples: the program was probably built without frame pointers; {FIX}",
        join_and(subjects),
        pct(share)
    )
}

/// The depths of the on-CPU samples of the subtasks for which `wanted(task position, index)`
/// holds, in the intervals of `seqs`.
fn depths(
    recording: &Recording,
    graph: &JobGraph,
    seqs: &HashSet<u64>,
    wanted: impl Fn(usize, u32) -> bool,
) -> HashMap<(usize, u32), StackDepths> {
    // Interned frames of the whole recording: (an entry frame, a C function).
    let mut kinds: HashMap<u32, (bool, bool)> = HashMap::new();
    for frame in recording.samples.iter().flat_map(|c| &c.frames) {
        kinds.entry(frame.id).or_insert_with(|| {
            (
                is_entry_frame(&frame.function),
                is_c_function(&frame.function),
            )
        });
    }
    let kind = |id: &u32| kinds.get(id).copied().unwrap_or((false, false));
    // Interned stacks: (frames, reaches an entry), or `None` when the sampled function is C.
    let mut stacks: HashMap<u32, Option<(usize, bool)>> = HashMap::new();
    for stack in recording.samples.iter().flat_map(|c| &c.stacks) {
        stacks.entry(stack.id).or_insert_with(|| {
            if stack.frames.last().is_some_and(|leaf| kind(leaf).1) {
                return None;
            }
            let reaches = stack.frames.iter().any(|id| kind(id).0);
            Some((stack.frames.len(), reaches))
        });
    }
    let mut out: HashMap<(usize, u32), StackDepths> = HashMap::new();
    for chunk in recording.samples.iter().filter(|c| seqs.contains(&c.seq)) {
        for count in chunk.counts.iter().filter(|c| c.on_cpu) {
            let Some(&key) = graph.subtasks.get(&count.subtask) else {
                continue;
            };
            if !wanted(key.0, key.1) {
                continue;
            }
            let n = u64::from(count.count);
            let Some((frames, reaches)) = stacks
                .get(&count.stack)
                .copied()
                .unwrap_or(Some((0, false)))
            else {
                continue;
            };
            let d = out.entry(key).or_default();
            d.samples += n;
            if !reaches && frames <= SHORT_STACK_MAX_FRAMES && n > 0 {
                d.short += n;
                d.max_frames = d.max_frames.max(frames);
            }
        }
    }
    out
}

/// The sequence numbers of the intervals `range::select` picks for `from_s`..`to_s`.
fn range_seqs(
    recording: &Recording,
    from_s: Option<f64>,
    to_s: Option<f64>,
) -> Result<HashSet<u64>, AnalysisError> {
    let selection = range::select(
        recording,
        &AnalysisOptions {
            from_s,
            to_s,
            window_s: None,
        },
    )?;
    Ok(selection
        .intervals
        .iter()
        .map(|&n| recording.intervals[n].seq)
        .collect())
}

/// The depths of the on-CPU samples of task `task`'s subtasks `indices` (all of them merged) over
/// the range `from_s`..`to_s` (as [`crate::locate()`] selects it). What `bpprof flame` checks for the
/// subtask or task it draws.
pub fn selection_depths(
    recording: &Recording,
    task: &str,
    indices: &[u32],
    from_s: Option<f64>,
    to_s: Option<f64>,
) -> Result<StackDepths, AnalysisError> {
    let seqs = range_seqs(recording, from_s, to_s)?;
    let graph = JobGraph::from_recording(recording);
    let Some(position) = graph.position(task) else {
        return Ok(StackDepths::default());
    };
    let mut total = StackDepths::default();
    for d in depths(recording, &graph, &seqs, |p, i| {
        p == position && indices.contains(&i)
    })
    .into_values()
    {
        total.add(d);
    }
    Ok(total)
}

/// The `short_stacks` note of `locate`: every task (all its subtasks merged) whose stacks look
/// cut short over the intervals `seqs`, in graph order; `None` when no task's do.
pub(crate) fn note(
    recording: &Recording,
    graph: &JobGraph,
    seqs: &HashSet<u64>,
    tasks: &[TaskReport],
) -> Option<Note> {
    let per_subtask = depths(recording, graph, seqs, |_, _| true);
    let mut per_task: Vec<StackDepths> = vec![StackDepths::default(); graph.tasks.len()];
    for ((position, _), d) in per_subtask {
        if let Some(t) = per_task.get_mut(position) {
            t.add(d);
        }
    }
    let mut names = Vec::new();
    let mut evidence = Vec::new();
    let mut max_frames = 0;
    for (position, d) in per_task.iter().enumerate() {
        if !d.cut_short() {
            continue;
        }
        let name = tasks
            .get(position)
            .map_or_else(|| graph.tasks[position].name.clone(), |t| t.name.clone());
        evidence.push(Evidence {
            metric: "short_stacks".to_owned(),
            subject: name.clone(),
            value: d.share(),
            threshold: SHORT_STACKS_SHARE_MIN,
            at_least: true,
        });
        max_frames = max_frames.max(d.max_frames);
        names.push(name);
    }
    if names.is_empty() {
        return None;
    }
    Some(Note {
        kind: NoteKind::ShortStacks,
        subject: join_and(&names),
        tasks: names,
        unaccounted_upstream: Vec::new(),
        evidence,
        max_frames: Some(max_frames as u32),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_frames_are_the_rust_thread_entries() {
        assert!(is_entry_frame("main"));
        assert!(is_entry_frame("slow_operator::main"));
        assert!(is_entry_frame(
            "std::sys::backtrace::__rust_begin_short_backtrace"
        ));
        assert!(!is_entry_frame("domain"));
        assert!(!is_entry_frame("start_thread"));
        assert!(!is_entry_frame("slow_operator::common::burn"));
    }

    #[test]
    fn sentence_names_the_fix() {
        let text = sentence(&["Enrich".to_owned()], 2, 0.93);
        assert!(
            text.starts_with("stacks of Enrich end after at most 2 frames"),
            "{text}"
        );
        assert!(text.contains("in 93% of its on-CPU samples"), "{text}");
        assert!(text.contains("force-frame-pointers=yes"), "{text}");
    }
}
