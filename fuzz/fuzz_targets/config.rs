//! The `bpprof.toml` parser of `bpprof check` on any text: an error message, never a panic.
#![no_main]

use bpprof_fuzz as _; // its allocator, which fails on an oversized allocation
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err(message) = bpprof_cli::config::CheckConfig::parse(text) {
            assert!(!message.trim().is_empty(), "an error says what is wrong");
        }
    }
});
