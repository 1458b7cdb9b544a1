//! Frame-pointer stack walking, bounded by the thread's stack, with no allocation and no lock, so
//! that the signal handler can use it.

use std::sync::atomic::{fence, AtomicU32, AtomicU64, AtomicUsize, Ordering};

/// Deepest stack kept; deeper stacks keep their innermost `MAX_DEPTH` frames.
pub(crate) const MAX_DEPTH: usize = 64;

/// The address range of a thread's stack, captured when it registers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct StackBounds {
    /// Lowest address of the stack.
    pub lo: usize,
    /// One past the highest address of the stack.
    pub hi: usize,
}

impl StackBounds {
    /// The calling thread's stack, or empty bounds (no walk) when the kernel does not say.
    pub fn of_current_thread() -> StackBounds {
        // SAFETY: `attr` is initialised by pthread_getattr_np before use and destroyed after; the
        // out-pointers are valid locals.
        unsafe {
            let mut attr: libc::pthread_attr_t = std::mem::zeroed();
            if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
                return StackBounds::default();
            }
            let mut addr: *mut libc::c_void = std::ptr::null_mut();
            let mut size: libc::size_t = 0;
            let rc = libc::pthread_attr_getstack(&attr, &mut addr, &mut size);
            libc::pthread_attr_destroy(&mut attr);
            if rc != 0 {
                return StackBounds::default();
            }
            StackBounds {
                lo: addr as usize,
                hi: (addr as usize).saturating_add(size),
            }
        }
    }
}

/// Walks the frame-pointer chain starting at frame pointer `fp`, writing return addresses into
/// `out` (innermost first) and returning how many were written.
///
/// Every frame pointer must lie in `[lo, hi)` of the stack, be 8-byte aligned (16 on the ABI, 8
/// is enough to read safely) and strictly increase; the walk stops at the first that does not.
/// `lo` should be the interrupted stack pointer: everything between it and the top of the stack
/// is mapped.
///
/// # Safety
/// `[lo, hi)` must be readable memory (a live thread's stack between its stack pointer and its
/// top).
pub(crate) unsafe fn walk_frame_pointers(
    mut fp: usize,
    lo: usize,
    hi: usize,
    out: &mut [usize],
) -> usize {
    let mut depth = 0;
    while depth < out.len() {
        if fp < lo || fp % 8 != 0 || fp.checked_add(16).is_none_or(|end| end > hi) {
            break;
        }
        // SAFETY: `fp..fp + 16` lies within the readable range `[lo, hi)` (checked above).
        let (next, ret) = unsafe {
            (
                std::ptr::read_volatile(fp as *const usize),
                std::ptr::read_volatile((fp + 8) as *const usize),
            )
        };
        if ret == 0 {
            break;
        }
        out[depth] = ret;
        depth += 1;
        if next <= fp {
            break;
        }
        fp = next;
    }
    depth
}

/// The frame pointer of the caller of this function's caller chain, read from the register.
#[inline(always)]
pub(crate) fn current_frame_pointer() -> usize {
    let fp: usize;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: reads a register into a local; no memory access, no side effects.
    unsafe {
        std::arch::asm!("mov {}, rbp", out(reg) fp, options(nomem, nostack, preserves_flags));
    }
    #[cfg(target_arch = "aarch64")]
    // SAFETY: reads a register into a local; no memory access, no side effects.
    unsafe {
        std::arch::asm!("mov {}, x29", out(reg) fp, options(nomem, nostack, preserves_flags));
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        fp = 0;
    }
    fp
}

/// The current stack pointer (approximately: the address of a local).
#[inline(always)]
pub(crate) fn current_stack_pointer() -> usize {
    let marker = 0u8;
    std::ptr::addr_of!(marker) as usize
}

/// The stack a subtask had when it last started to block, written by its own thread and read by
/// the sampler through a sequence lock (all fields atomic).
#[derive(Debug)]
pub(crate) struct BlockedStack {
    seq: AtomicU64,
    depth: AtomicU32,
    addrs: [AtomicUsize; MAX_DEPTH],
}

impl Default for BlockedStack {
    fn default() -> Self {
        BlockedStack {
            seq: AtomicU64::new(0),
            depth: AtomicU32::new(0),
            addrs: std::array::from_fn(|_| AtomicUsize::new(0)),
        }
    }
}

impl BlockedStack {
    /// Owner thread: stores `addrs` (return addresses, innermost first).
    pub fn store(&self, addrs: &[usize]) {
        let seq = self.seq.load(Ordering::Relaxed);
        self.seq.store(seq.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        for (slot, &addr) in self.addrs.iter().zip(addrs) {
            slot.store(addr, Ordering::Relaxed);
        }
        self.depth.store(addrs.len() as u32, Ordering::Relaxed);
        self.seq.store(seq.wrapping_add(2), Ordering::Release);
    }

    /// The stack's version: it changes with every store (odd while one is in progress).
    pub fn version(&self) -> u64 {
        self.seq.load(Ordering::Acquire)
    }

    /// Sampler: copies the stack into `out`, returning the version it had and its depth (0 when
    /// none was stored); `None` when the owner was writing it (the sampler then skips this
    /// sample).
    pub fn load(&self, out: &mut [usize; MAX_DEPTH]) -> Option<(u64, usize)> {
        let before = self.seq.load(Ordering::Acquire);
        if before & 1 == 1 {
            return None;
        }
        let depth = (self.depth.load(Ordering::Relaxed) as usize).min(MAX_DEPTH);
        for (dst, src) in out.iter_mut().zip(&self.addrs[..depth]) {
            *dst = src.load(Ordering::Relaxed);
        }
        fence(Ordering::Acquire);
        if self.seq.load(Ordering::Relaxed) != before {
            return None;
        }
        Some((before, depth))
    }
}

/// Captures the calling thread's stack (the callers of this function) into `blocked`.
#[inline(never)]
pub(crate) fn capture_blocked_stack(blocked: &BlockedStack, bounds: StackBounds) {
    let mut addrs = [0usize; MAX_DEPTH];
    let lo = current_stack_pointer().max(bounds.lo);
    // SAFETY: between the current stack pointer and the top of this thread's stack all memory
    // is mapped and readable.
    let depth = unsafe { walk_frame_pointers(current_frame_pointer(), lo, bounds.hi, &mut addrs) };
    blocked.store(&addrs[..depth]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[inline(never)]
    fn outer(blocked: &BlockedStack, bounds: StackBounds) {
        inner(blocked, bounds);
        std::hint::black_box(());
    }

    #[inline(never)]
    fn inner(blocked: &BlockedStack, bounds: StackBounds) {
        capture_blocked_stack(blocked, bounds);
        std::hint::black_box(());
    }

    #[test]
    fn walk_finds_the_callers() {
        let bounds = StackBounds::of_current_thread();
        assert!(bounds.lo < bounds.hi, "no stack bounds");
        let blocked = BlockedStack::default();
        outer(&blocked, bounds);
        let mut out = [0usize; MAX_DEPTH];
        let (_, depth) = blocked.load(&mut out).expect("not being written");
        assert!(depth >= 3, "only {depth} frames");
        let inner_addr = inner as *const () as usize;
        let outer_addr = outer as *const () as usize;
        // The first return address lies inside `inner`, the second inside `outer`.
        assert!(out[0] > inner_addr && out[0] < inner_addr + 4096);
        assert!(out[1] > outer_addr && out[1] < outer_addr + 4096);
    }
}
