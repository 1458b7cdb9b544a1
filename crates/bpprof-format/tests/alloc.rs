//! The reader allocates no more than a small constant beyond what the input holds, whatever the
//! input declares. This test binary has a counting global allocator and a single test, so no other
//! test's allocations disturb the measurement.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

mod common;

use bpprof_format::*;
use common::{frame, header};

/// Records the largest single allocation request.
struct Counting;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only records sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which we pass on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout` (see `alloc` and `realloc`).
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract, which we pass on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Largest single allocation made while running `f`.
fn largest_allocation(f: impl FnOnce()) -> usize {
    LARGEST.store(0, Ordering::Relaxed);
    f();
    LARGEST.load(Ordering::Relaxed)
}

/// A valid preamble and meta chunk.
fn start() -> Vec<u8> {
    let mut bytes = Vec::new();
    RecordingWriter::new(&mut bytes, &RecordingMeta::default()).unwrap();
    bytes
}

#[test]
fn hostile_lengths_do_not_cause_large_allocations() {
    const SMALL: usize = 1 << 20;

    // A chunk declaring the largest payload the format allows, in a tiny file, as the meta chunk
    // and after it; from memory and from a file.
    let mut as_meta = start()[..PREAMBLE_LEN].to_vec();
    as_meta.extend_from_slice(&header(MAX_CHUNK_PAYLOAD, 1));
    as_meta.extend_from_slice(b"tiny");
    let mut as_interval = start();
    as_interval.extend_from_slice(&header(MAX_CHUNK_PAYLOAD, 2));
    as_interval.extend_from_slice(b"tiny");
    // The same after a damaged chunk: the scan for the next valid chunk meets the hostile header.
    let mut after_damage = start();
    after_damage.extend_from_slice(&[0xff; CHUNK_HEADER_LEN]);
    after_damage.extend_from_slice(&header(MAX_CHUNK_PAYLOAD, 2));
    after_damage.extend_from_slice(b"tiny");
    let path = std::env::temp_dir().join(format!("bpprof-alloc-test-{}", std::process::id()));
    std::fs::write(&path, &as_interval).unwrap();

    let largest = largest_allocation(|| {
        assert!(matches!(
            read_recording(&as_meta[..]),
            Err(ReadError::TruncatedHeader { .. })
        ));
        let recording = read_recording(&as_interval[..]).unwrap();
        assert!(matches!(
            recording.warnings[..],
            [ReadWarning::Truncated { .. }]
        ));
        let recording = read_recording(&after_damage[..]).unwrap();
        assert!(matches!(
            recording.warnings[..],
            [ReadWarning::Damaged { .. }, ReadWarning::Truncated { .. }]
        ));
        let recording = read_file(&path).unwrap();
        assert!(matches!(
            recording.warnings[..],
            [ReadWarning::Truncated { .. }]
        ));
    });
    std::fs::remove_file(&path).unwrap();
    assert!(largest <= SMALL, "largest allocation: {largest} bytes");

    // A checksummed interval payload whose first sequence claims u32::MAX elements.
    let mut payload = vec![0, 0, 0, 0];
    payload.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
    payload.extend_from_slice(b"few bytes");
    let mut hostile = start();
    hostile.extend_from_slice(&frame(2, &payload));
    let largest = largest_allocation(|| {
        let result = read_recording(&hostile[..]);
        assert!(
            matches!(result, Err(ReadError::Corrupt { .. })),
            "{result:?}"
        );
    });
    assert!(largest <= SMALL, "largest allocation: {largest} bytes");
}
