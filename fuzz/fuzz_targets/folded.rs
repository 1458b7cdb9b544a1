//! Folded stacks of any frame names: every line that `bpprof flame --folded` writes splits back
//! into the frames it was folded from (escaping keeps each name one frame and the count last), and
//! inferno's parser draws them.
//!
//! Folding is what this target tests, so every input is folded from a recording built in memory
//! (the stacks put into a samples chunk, interned as the writer does). Writing that recording to
//! the format and reading it back (a DEFLATE compressor set up per recording) and drawing the SVG
//! cost about two thirds of the time per input, so they run on one input in [`SLOW_EVERY`],
//! chosen by a hash of the input (deterministic: a replayed input takes the same path, and the
//! fuzzer keeps the inputs whose coverage the slow path adds): folding the recording read back must
//! give the same folded stacks, and inferno must draw them.
#![no_main]

use bpprof_analysis::flame::{fold, render_svg, FlameOptions, Folded, Selection, SvgOptions};
use bpprof_analysis::synth::{Load, Synth};
use bpprof_format::{FrameDecl, Recording, SampleCount, SampleState, StackDecl};
use bpprof_fuzz as _; // its allocator, which fails on an oversized allocation
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;
use std::sync::OnceLock;

/// One input in this many also takes the slow path (format round trip, SVG).
const SLOW_EVERY: u32 = 8;
/// At most this many stacks of at most this many frames.
const MAX_STACKS: usize = 64;
const MAX_DEPTH: usize = 32;

/// The subtask `Work`, two intervals (the first is skipped by `fold`) and the stacks, through
/// [`Synth`] (and so through the writer and the reader).
fn synth(stacks: &[(Vec<&str>, u32)]) -> Recording {
    let mut synth = Synth::new();
    let subtask = synth.subtask("Work", 0, 1);
    synth.interval(&[(subtask, Load::new(0.5, 0.0))]);
    for (frames, count) in stacks {
        synth.sample(subtask, SampleState::Busy, true, frames, *count);
    }
    synth.interval(&[(subtask, Load::new(0.5, 0.0))]);
    synth.recording()
}

/// [`synth`] without the stacks, read once: the recording every input's samples go into.
fn template() -> &'static Recording {
    static TEMPLATE: OnceLock<Recording> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let mut recording = synth(&[(vec!["placeholder"], 1)]);
        assert_eq!(
            recording.samples.len(),
            1,
            "one samples chunk, after the second interval"
        );
        let chunk = &mut recording.samples[0];
        assert_eq!(chunk.counts.len(), 1);
        chunk.frames.clear();
        chunk.stacks.clear();
        chunk.counts.clear();
        recording
    })
}

/// The template with `stacks` in its samples chunk, frames and stacks interned in order of first
/// use as `Synth::sample` (and the runtime) do.
fn in_memory(stacks: &[(Vec<&str>, u32)]) -> Recording {
    let mut recording = template().clone();
    let chunk = &mut recording.samples[0];
    let subtask = template().intervals[0].declared_subtasks[0].id;
    let mut frame_ids: HashMap<&str, u32> = HashMap::new();
    let mut stack_ids: HashMap<Vec<u32>, u32> = HashMap::new();
    for (frames, count) in stacks {
        let ids: Vec<u32> = frames
            .iter()
            .map(|&name| {
                let next = frame_ids.len() as u32;
                *frame_ids.entry(name).or_insert_with(|| {
                    chunk.frames.push(FrameDecl {
                        id: next,
                        function: name.to_owned(),
                        file: String::new(),
                        line: 0,
                    });
                    next
                })
            })
            .collect();
        let next = stack_ids.len() as u32;
        let stack = *stack_ids.entry(ids.clone()).or_insert_with(|| {
            chunk.stacks.push(StackDecl {
                id: next,
                frames: ids,
            });
            next
        });
        chunk.counts.push(SampleCount {
            subtask,
            state: SampleState::Busy,
            on_cpu: true,
            stack,
            count: *count,
            operator: None,
        });
    }
    recording
}

fn fold_work(recording: &Recording) -> Option<Folded> {
    let options = FlameOptions {
        selection: Selection::Task("Work".into()),
        ..FlameOptions::default()
    };
    fold(recording, &options).ok()
}

fuzz_target!(|input: Vec<(Vec<String>, u8)>| {
    let stacks: Vec<(Vec<&str>, u32)> = input
        .iter()
        .take(MAX_STACKS)
        .map(|(frames, count)| {
            let frames = frames.iter().take(MAX_DEPTH).map(String::as_str).collect();
            (frames, u32::from(*count) + 1)
        })
        .collect();
    let depths: Vec<usize> = stacks.iter().map(|(f, _)| f.len().max(1)).collect();
    let mut hash = crc32fast::Hasher::new();
    for (frames, count) in &stacks {
        hash.update(&count.to_le_bytes());
        for frame in frames {
            hash.update(frame.as_bytes());
            hash.update(&[0]);
        }
    }
    let slow = hash.finalize() % SLOW_EVERY == 0;

    let Some(folded) = fold_work(&in_memory(&stacks)) else {
        assert!(
            stacks.is_empty(),
            "samples were added, so there is something to fold"
        );
        if slow {
            assert!(
                fold_work(&synth(&stacks)).is_none(),
                "read back: nothing to fold either"
            );
        }
        return;
    };
    for line in folded.lines() {
        let (stack, count) = line.rsplit_once(' ').expect("a count after the last space");
        assert!(count.parse::<u64>().is_ok_and(|c| c > 0), "{line:?}");
        let frames: Vec<&str> = stack.split(';').collect();
        // The state, then at least one frame; no frame is empty or padded.
        assert_eq!(frames[0], "[busy]", "{line:?}");
        assert!(frames.len() >= 2, "{line:?}");
        for frame in &frames {
            assert!(!frame.is_empty() && frame.trim() == *frame, "{line:?}");
            assert!(!frame.chars().any(char::is_control), "{line:?}");
        }
        assert!(
            depths.contains(&(frames.len() - 1)),
            "{line:?} has a depth no stack has"
        );
    }
    if !slow {
        return;
    }
    let read_back = fold_work(&synth(&stacks)).expect("read back: something to fold");
    assert!(
        read_back.lines().eq(folded.lines()),
        "the recording written and read back folds as the one in memory"
    );
    let mut svg = Vec::new();
    render_svg(&folded, &SvgOptions::default(), &mut svg).expect("inferno draws the stacks");
    assert!(String::from_utf8(svg)
        .expect("UTF-8")
        .trim_end()
        .ends_with("</svg>"));
});
