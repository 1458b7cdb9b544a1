//! Folded stacks of any frame names: every line that `bpprof flame --folded` writes splits back
//! into the frames it was folded from (escaping keeps each name one frame and the count last), and
//! inferno's parser draws them.
#![no_main]

use bpprof_analysis::flame::{fold, render_svg, FlameOptions, Selection, SvgOptions};
use bpprof_analysis::synth::{Load, Synth};
use bpprof_format::SampleState;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|stacks: Vec<(Vec<String>, u8)>| {
    let mut synth = Synth::new();
    let subtask = synth.subtask("Work", 0, 1);
    // The first interval is skipped by `fold`.
    synth.interval(&[(subtask, Load::new(0.5, 0.0))]);
    let mut depths = Vec::new();
    for (frames, count) in stacks.iter().take(64) {
        let frames: Vec<&str> = frames.iter().take(32).map(String::as_str).collect();
        let count = u32::from(*count) + 1;
        synth.sample(subtask, SampleState::Busy, true, &frames, count);
        depths.push(frames.len().max(1));
    }
    synth.interval(&[(subtask, Load::new(0.5, 0.0))]);
    let options = FlameOptions {
        selection: Selection::Task("Work".into()),
        ..FlameOptions::default()
    };
    let Ok(folded) = fold(&synth.recording(), &options) else {
        assert!(
            stacks.is_empty(),
            "samples were added, so there is something to fold"
        );
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
    let mut svg = Vec::new();
    render_svg(&folded, &SvgOptions::default(), &mut svg).expect("inferno draws the stacks");
    assert!(String::from_utf8(svg)
        .expect("UTF-8")
        .trim_end()
        .ends_with("</svg>"));
});
