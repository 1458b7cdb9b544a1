//! `merge` of two recordings cut from the input (the first two bytes say where), each read as
//! `read_recording` reads it, then the analysis of the merged recording.
#![no_main]

use bpprof_fuzz::{analyse, with_crcs};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [c0, c1, rest @ ..] = data else {
        return;
    };
    let (a, b) = rest.split_at(usize::from(u16::from_le_bytes([*c0, *c1])).min(rest.len()));
    let read = |bytes: &[u8]| bpprof_format::read_recording(&with_crcs(bytes)[..]).ok();
    let (Some(a), Some(b)) = (read(a), read(b)) else {
        return;
    };
    if let Ok(merged) = bpprof_analysis::merge::merge(&[a, b]) {
        analyse(&merged);
    }
});
