//! What the fuzz targets share: turning fuzzer bytes into a recording the reader gets past the
//! CRCs of, and analysing a recording the way the commands do.

use bpprof_analysis::export::{pprof, trace};
use bpprof_analysis::flame::{fold, FlameOptions};
use bpprof_analysis::AnalysisOptions;
use bpprof_format::Recording;
use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;

/// Preamble: magic, major, minor, reserved.
const PREAMBLE_LEN: usize = 16;
/// `len: u32 | kind: u8 | header_crc: u32`.
const HEADER_LEN: usize = 9;

/// `data` with the CRCs of every chunk recomputed (after the 16-byte preamble, chunk after chunk
/// as the lengths say, the last one cut to what is left), so that mutations reach the payload
/// decoder and the analysis instead of stopping at a CRC. The first byte of `data` chooses: odd
/// leaves the bytes as they are (the damaged-chunk and truncation paths), even fixes them.
pub fn with_crcs(data: &[u8]) -> Vec<u8> {
    let Some((&choice, rest)) = data.split_first() else {
        return Vec::new();
    };
    let mut bytes = rest.to_vec();
    if choice % 2 == 1 {
        return bytes;
    }
    let mut at = PREAMBLE_LEN;
    while at + HEADER_LEN <= bytes.len() {
        let len_bytes = [bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]];
        let room = bytes.len() - at - HEADER_LEN;
        let len = (u32::from_le_bytes(len_bytes) as usize).min(room.saturating_sub(4));
        bytes[at..at + 4].copy_from_slice(&(len as u32).to_le_bytes());
        let header_crc = crc32fast::hash(&bytes[at..at + 5]);
        bytes[at + 5..at + HEADER_LEN].copy_from_slice(&header_crc.to_le_bytes());
        let end = at + HEADER_LEN + len;
        if end + 4 > bytes.len() {
            break;
        }
        let mut crc = crc32fast::Hasher::new();
        crc.update(&bytes[at..at + 5]);
        crc.update(&bytes[at + HEADER_LEN..end]);
        bytes[end..end + 4].copy_from_slice(&crc.finalize().to_le_bytes());
        at = end + 4;
    }
    bytes
}

/// Runs what `bpprof locate`, `flame` (folding, the pprof profile) and `locate --trace` compute
/// from a recording; every error is fine, a panic is not. Drawing (inferno's SVG) and gzip are
/// left to the `folded` target and the tests: they cost most of the time and see only what
/// folding produced.
pub fn analyse(recording: &Recording) {
    let options = AnalysisOptions::default();
    if bpprof_analysis::locate(recording, &options).is_err() {
        return;
    }
    let _ = trace::chrome_trace(recording, &options);
    let flame = FlameOptions::default();
    let _ = fold(recording, &flame);
    let _ = pprof::profile(recording, &flame, pprof::Scope::Recording);
}

/// The largest single allocation a target may ask for: what `-malloc_limit_mb=512` checks. libFuzzer
/// checks it only through the sanitizer's malloc hooks, so a build without a sanitizer
/// (`cargo fuzz run -s none`, `FUZZ_SANITIZER=none scripts/fuzz.sh`) silently ignores the flag;
/// this allocator checks it in every build.
pub const MALLOC_LIMIT: usize = 512 << 20;

/// The system allocator, aborting (which libFuzzer reports as a crash, saving the input) on an
/// allocation of [`MALLOC_LIMIT`] bytes or more.
pub struct LimitedAlloc;

impl LimitedAlloc {
    #[inline]
    fn check(size: usize) {
        if size >= MALLOC_LIMIT {
            // Formatting an integer into stderr (unbuffered) allocates nothing.
            let _ = writeln!(
                std::io::stderr(),
                "==bpprof-fuzz== allocation of {size} bytes (limit {MALLOC_LIMIT}): oversized"
            );
            std::process::abort();
        }
    }
}

// SAFETY: every method forwards to `System` with the arguments it was given, after a check that
// only reads `size` and either returns or aborts.
unsafe impl GlobalAlloc for LimitedAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        Self::check(layout.size());
        // SAFETY: the caller's contract for `GlobalAlloc::alloc` is `System`'s.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        Self::check(layout.size());
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` (through this allocator) with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        Self::check(new_size);
        // SAFETY: as for `dealloc`; `new_size` is the caller's, under `realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: LimitedAlloc = LimitedAlloc;
