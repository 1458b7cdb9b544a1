//! The recording reader on any bytes (CRCs fixed or not, see `with_crcs`), then the analysis of
//! what it read.
#![no_main]

use bpprof_fuzz::{analyse, with_crcs};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(recording) = bpprof_format::read_recording(&with_crcs(data)[..]) {
        analyse(&recording);
    }
});
